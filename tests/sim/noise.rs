//! Noise control and evidence (issue 13) against the simulated Jira: the failure
//! threshold across replicas, the storm guard with eight replicas and its umbrella issue,
//! environments told apart, run evidence in the description, and attachments. Time is
//! tokio's paused clock; the notifier reads the simulator's wall clock, which follows it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jira_notifier::{
    Attachment, AttachmentLimits, Clock, ConfigStore, Credentials, Evidence, JiraNotifier,
    Lifecycle, MemoryStore, Noise, NoiseOverride, Outcome, Settings, SkipReason, StormLimit,
    TestInfo, TestOverride, TestStatus,
};
use jira_notifier_sim::{SimJira, StatusCategory};
use serde_json::Value;

use crate::support::*;

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone)]
struct SimClock(SimJira);

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

fn sim() -> SimJira {
    let jira = SimJira::new();
    jira.set_token_lifetime(30 * DAY);
    jira
}

fn notifier_on(store: Arc<dyn ConfigStore>, jira: &SimJira) -> JiraNotifier {
    JiraNotifier::builder(store)
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(8)))
        .create_lease(Duration::from_secs(60))
        .clock(SimClock(jira.clone()))
        .attachment_limits(AttachmentLimits::new(1024, 1536))
        .build()
        .expect("notifier")
}

/// Runs the reports at once (each on its own task), in order of the input.
async fn join_all<F>(reports: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = reports.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("the report task"));
    }
    out
}

/// `replicas` notifiers sharing one store, the first connected and configured.
async fn replicas(jira: &SimJira, replicas: usize, settings: Settings) -> Vec<JiraNotifier> {
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let all: Vec<JiraNotifier> = (0..replicas)
        .map(|_| notifier_on(Arc::clone(&store), jira))
        .collect();
    all[0]
        .connect(Credentials::new(
            SimJira::CLIENT_ID,
            SimJira::CLIENT_SECRET.to_owned(),
        ))
        .await
        .expect("connect");
    all[0].save_settings(settings).await.expect("settings");
    jira.clear_requests();
    all
}

fn count(jira: &SimJira, method: &str, tail: &str) -> usize {
    jira.requests()
        .iter()
        .filter(|r| r.method.as_str() == method && r.path.ends_with(tail))
        .count()
}

fn creates(jira: &SimJira) -> usize {
    count(jira, "POST", "/rest/api/3/issue")
}

fn text_of(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push_str(t);
            out.push(' ');
        }
        if let Some(c) = v.get("content").and_then(Value::as_array) {
            c.iter().for_each(|x| walk(x, out));
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    out
}

fn issue(jira: &SimJira, key: &str) -> jira_notifier_sim::SimIssue {
    jira.issues()
        .into_iter()
        .find(|i| i.key == key)
        .expect("the issue")
}

#[tokio::test(start_paused = true)]
async fn the_threshold_is_counted_exactly_across_replicas_and_a_pass_starts_it_again() {
    let jira = sim();
    let settings = Settings::new("QA").with_noise(Noise::default().with_min_failures(3));
    let ns = replicas(&jira, 4, settings).await;
    let t = test("login");

    // Two failures, on two replicas: counted, no Jira request.
    let a = ns[1].on_test_error(&t, &failed()).await.unwrap();
    let b = ns[2].on_test_error(&t, &failed()).await.unwrap();
    assert_eq!(
        a,
        Outcome::Counted {
            failures: 1,
            needed: 3
        }
    );
    assert_eq!(
        b,
        Outcome::Counted {
            failures: 2,
            needed: 3
        }
    );
    assert!(jira.requests().is_empty(), "{:?}", jira.requests());

    // A pass starts the count again.
    assert_eq!(ns[3].on_test_pass(&t).await.unwrap(), Outcome::Ignored);
    let c = ns[0].on_test_error(&t, &failed()).await.unwrap();
    assert_eq!(
        c,
        Outcome::Counted {
            failures: 1,
            needed: 3
        }
    );

    // The next three failures arrive at once on three replicas: exactly one is the
    // third in a row, and files the only issue.
    let outcomes = join_all((1..4).map(|i| {
        let (n, t) = (ns[i].clone(), t.clone());
        async move { n.on_test_error(&t, &failed()).await }
    }))
    .await;
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(Result::unwrap).collect();
    let counted: BTreeSet<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Counted { failures, .. } => Some(*failures),
            _ => None,
        })
        .collect();
    assert_eq!(counted, BTreeSet::from([2]), "{outcomes:?}");
    let filed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Counted { .. }))
        .collect();
    assert!(matches!(filed[0], Outcome::Created(_)), "{outcomes:?}");
    assert!(filed.len() == 2 && matches!(filed[1], Outcome::Duplicate(_)) || filed.len() == 1);
    assert_eq!(creates(&jira), 1);
    assert_eq!(open_keys(&jira, "login").len(), 1);

    // While the issue is open every failure is a duplicate, whatever the count.
    let d = ns[2].on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(d, Outcome::Duplicate(_)), "{d:?}");

    // An override lowers the threshold for one test.
    ns[0]
        .set_override(
            "smoke",
            TestOverride::default().with_noise(NoiseOverride::default().with_min_failures(1)),
        )
        .await
        .unwrap();
    let s = ns[1]
        .on_test_error(&test("smoke"), &failed())
        .await
        .unwrap();
    assert!(matches!(s, Outcome::Created(_)), "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn a_400_test_storm_on_8_replicas_files_10_issues_and_one_umbrella() {
    let jira = sim();
    let limit = StormLimit::new(10, Duration::from_secs(600));
    let settings = Settings::new("QA").with_noise(Noise::default().with_storm_limit(Some(limit)));
    let ns = replicas(&jira, 8, settings).await;
    let tests: Vec<TestInfo> = (0..400).map(|i| test(&format!("t{i:03}"))).collect();

    // Every test reported by two replicas at once.
    let reports = tests.iter().enumerate().flat_map(|(i, t)| {
        [ns[i % 8].clone(), ns[(i * 3 + 1) % 8].clone()].map(|n| {
            let t = t.clone();
            async move { n.on_test_error(&t, &failed()).await }
        })
    });
    let outcomes: Vec<Outcome> = join_all(reports)
        .await
        .into_iter()
        .map(|r| r.expect("no report fails"))
        .collect();

    let own: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Created(i) => Some(i.key.as_str()),
            _ => None,
        })
        .collect();
    let umbrellas: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Grouped(i) => Some(i.key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(own.len(), 10, "no individual issue past the limit");
    assert_eq!(umbrellas.len(), 1, "{umbrellas:?}");
    let umbrella = *umbrellas.iter().next().unwrap();
    let grouped = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Grouped(_)))
        .count();
    assert_eq!(grouped, 390, "each grouped test joins once");
    assert_eq!(creates(&jira), 11, "10 issues and the umbrella");
    assert_eq!(jira.issues().len(), 11);
    let u = issue(&jira, umbrella);
    assert!(u.summary.contains(" failing since "), "{}", u.summary);

    // A repeat of a grouped test is a duplicate of the umbrella; of a filed test, of its
    // own issue.
    let again = ns[5].on_test_error(&tests[399], &failed()).await.unwrap();
    assert_eq!(again.issue().unwrap().key, umbrella);
    assert!(matches!(again, Outcome::Duplicate(_)), "{again:?}");

    // Each minute on, a report posts the members the umbrella does not show yet, as many as
    // one comment holds: at most one comment a minute, and in a few minutes every grouped
    // test is named on the umbrella.
    let filed: BTreeSet<String> = jira
        .issues()
        .iter()
        .filter(|i| i.key != umbrella)
        .map(|i| i.summary.trim_start_matches("Test Failed: ").to_owned())
        .collect();
    let mut minutes = 0;
    let shown = loop {
        let u = issue(&jira, umbrella);
        assert!(
            u.comments.len() <= minutes,
            "coalesced: {} comments in {minutes} minutes",
            u.comments.len()
        );
        let mut shown = text_of(&u.description);
        u.comments.iter().for_each(|c| shown.push_str(&text_of(c)));
        let missing: Vec<&str> = tests
            .iter()
            .filter(|t| !shown.contains(&t.name) && !filed.contains(&t.name))
            .map(|t| t.name.as_str())
            .collect();
        eprintln!(
            "after {minutes} minutes: {} comments, {} tests not named {:?}",
            u.comments.len(),
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        if missing.is_empty() || minutes == 10 {
            break shown;
        }
        tokio::time::advance(Duration::from_secs(61)).await;
        minutes += 1;
        ns[minutes % 8]
            .on_test_error(&tests[398], &failed())
            .await
            .unwrap();
    };
    eprintln!("every grouped test named after {minutes} minutes");
    assert!(minutes <= 5, "{minutes}");
    // The summary follows the storm with each comment: its 10 own issues and 390 grouped.
    let summary = issue(&jira, umbrella).summary;
    assert!(summary.starts_with("400 tests failing since "), "{summary}");
    assert_eq!(
        count(
            &jira,
            "PUT",
            &format!("/issue/{}", issue(&jira, umbrella).id)
        ),
        issue(&jira, umbrella).comments.len(),
        "one summary edit with each comment"
    );
    for t in &tests {
        let named = shown.contains(&format!("{} ", t.name));
        assert!(
            named != filed.contains(&t.name),
            "{} must be on the umbrella or have its own issue, not both or neither",
            t.name
        );
    }
    let searches = count(&jira, "POST", "/search/jql");
    eprintln!(
        "storm: {} searches, {} creates, {} comments",
        searches,
        creates(&jira),
        count(&jira, "POST", "/comment")
    );
}

#[tokio::test(start_paused = true)]
async fn once_the_umbrella_is_done_tests_file_their_own_issues_again() {
    let jira = sim();
    let limit = StormLimit::new(2, Duration::from_secs(600));
    let settings = Settings::new("QA").with_noise(Noise::default().with_storm_limit(Some(limit)));
    let ns = replicas(&jira, 2, settings).await;
    for id in ["a", "b"] {
        let o = ns[0].on_test_error(&test(id), &failed()).await.unwrap();
        assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    }
    let c = ns[1].on_test_error(&test("c"), &failed()).await.unwrap();
    let Outcome::Grouped(umbrella) = c else {
        panic!("past the limit: {c:?}")
    };
    let d = ns[0].on_test_error(&test("d"), &failed()).await.unwrap();
    assert_eq!(d, Outcome::Grouped(umbrella.clone()));

    // A test exempt from the guard files its own issue even in the storm.
    ns[0]
        .set_override(
            "critical",
            TestOverride::default().with_noise(NoiseOverride::default().with_storm_limit(None)),
        )
        .await
        .unwrap();
    let e = ns[1]
        .on_test_error(&test("critical"), &failed())
        .await
        .unwrap();
    assert!(matches!(e, Outcome::Created(_)), "{e:?}");

    // Someone closes the umbrella: a while later, its tests file their own issues, and the
    // window counts from that moment.
    jira.transition(&umbrella.key, "Done", None).unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    let c2 = ns[1].on_test_error(&test("c"), &failed()).await.unwrap();
    assert!(matches!(c2, Outcome::Created(_)), "{c2:?}");
    let d2 = ns[0].on_test_error(&test("d"), &failed()).await.unwrap();
    assert!(matches!(d2, Outcome::Created(_)), "{d2:?}");
    let f = ns[0].on_test_error(&test("f"), &failed()).await.unwrap();
    let Outcome::Grouped(second) = f else {
        panic!("the new window is full: {f:?}")
    };
    assert_ne!(second.key, umbrella.key, "a new storm, a new umbrella");
    assert_eq!(
        jira.issues()
            .iter()
            .filter(|i| i.status_category != StatusCategory::Done)
            .count(),
        // a, b, critical, c, d, and the second umbrella
        6
    );
}

#[tokio::test(start_paused = true)]
async fn two_environments_get_two_issues_only_when_told_apart() {
    let jira = sim();
    let ns = replicas(&jira, 1, Settings::new("QA")).await;
    let n = &ns[0];
    let staging = test("login").with_environment("staging");
    let prod = test("login").with_environment("prod");

    // Not split (the default): one issue, the environment shown.
    let a = n.on_test_error(&staging, &failed()).await.unwrap();
    let b = n.on_test_error(&prod, &failed()).await.unwrap();
    assert!(matches!(a, Outcome::Created(_)));
    assert_eq!(b, Outcome::Duplicate(a.issue().unwrap().clone()));
    let first = issue(&jira, key_of(&a));
    assert_eq!(first.summary, "Test Failed: Test login [staging]");
    assert!(text_of(&first.description).contains("staging"));

    // Split: each environment has its issue, label and duplicate check.
    n.save_settings(
        Settings::new("QA").with_noise(Noise::default().with_split_by_environment(true)),
    )
    .await
    .unwrap();
    jira.transition(key_of(&a), "Done", None).unwrap();
    let s = n.on_test_error(&staging, &failed()).await.unwrap();
    let p = n.on_test_error(&prod, &failed()).await.unwrap();
    let (Outcome::Created(s), Outcome::Created(p)) = (&s, &p) else {
        panic!("two issues: {s:?} {p:?}")
    };
    assert_ne!(s.key, p.key);
    assert_eq!(
        issue(&jira, &s.key).summary,
        "Test Failed: Test login [staging]"
    );
    assert_eq!(
        issue(&jira, &p.key).summary,
        "Test Failed: Test login [prod]"
    );
    let again = n.on_test_error(&prod, &failed()).await.unwrap();
    assert_eq!(again, Outcome::Duplicate(p.clone()));
    let labels: BTreeSet<String> = [&s.key, &p.key]
        .iter()
        .flat_map(|k| issue(&jira, k).labels)
        .collect();
    assert_eq!(labels.len(), 2, "one label per environment: {labels:?}");
}

#[tokio::test(start_paused = true)]
async fn the_run_evidence_is_in_the_description_and_the_repeat_comment() {
    let jira = sim();
    let settings = Settings::new("QA").with_lifecycle(
        Lifecycle::default()
            .with_on_repeat(jira_notifier::OnRepeat::Comment)
            .with_comment_every(Duration::from_secs(60)),
    );
    let ns = replicas(&jira, 1, settings).await;
    let n = &ns[0];
    let t = test("checkout").with_environment("staging");
    let evidence = Evidence::new()
        .with_run_url("https://ci.example/runs/812")
        .with_commit("4f2a9c1e")
        .with_branch("release/2.1")
        .with_duration(Duration::from_millis(1500));
    let o = n
        .on_test_error(&t, &TestStatus::error_with("boom", evidence.clone()))
        .await
        .unwrap();
    let created = issue(&jira, key_of(&o));
    let text = text_of(&created.description);
    for want in ["4f2a9c1e", "release/2.1", "staging", "boom"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let links = created.description.to_string();
    assert!(links.contains("https://ci.example/runs/812"), "{links}");

    tokio::time::advance(Duration::from_secs(61)).await;
    let later = Evidence::new().with_commit("77aa00bb");
    n.on_test_error(&t, &TestStatus::error_with("again", later))
        .await
        .unwrap();
    let comments = issue(&jira, key_of(&o)).comments;
    assert_eq!(comments.len(), 1);
    assert!(
        text_of(&comments[0]).contains("77aa00bb"),
        "{}",
        text_of(&comments[0])
    );
}

fn file(name: &str, len: usize) -> Attachment {
    Attachment::bytes(name, "text/plain", vec![b'x'; len])
}

#[tokio::test(start_paused = true)]
async fn the_first_failure_attaches_its_files_within_the_caps_and_repeats_only_when_asked() {
    let jira = sim();
    let ns = replicas(&jira, 1, Settings::new("QA")).await;
    let n = &ns[0];
    let t = test("upload");
    // Caps: 1024 bytes a file, 1536 a failure.
    let r = n
        .on_test_error_with_attachments(
            &t,
            &failed(),
            vec![
                file("a.log", 1000),
                file("big.log", 2000),
                file("b.log", 600),
                file("c.log", 500),
            ],
        )
        .await
        .unwrap();
    let key = key_of(&r.outcome).to_owned();
    assert!(matches!(r.outcome, Outcome::Created(_)));
    let uploaded: Vec<&str> = r
        .attachments
        .uploaded
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(uploaded, ["a.log", "c.log"]);
    let skipped: BTreeMap<&str, &SkipReason> = r
        .attachments
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), &s.reason))
        .collect();
    assert!(matches!(skipped["big.log"], SkipReason::TooLarge { .. }));
    assert!(matches!(
        skipped["b.log"],
        SkipReason::OverFailureBudget { .. }
    ));
    let stored: Vec<String> = jira
        .attachments(&key)
        .into_iter()
        .map(|a| a.filename)
        .collect();
    assert_eq!(stored, ["a.log", "c.log"]);

    // A repeat attaches nothing by default, without a request for it.
    jira.clear_requests();
    let r = n
        .on_test_error_with_attachments(&t, &failed(), vec![file("d.log", 10)])
        .await
        .unwrap();
    assert!(matches!(r.outcome, Outcome::Duplicate(_)));
    assert_eq!(r.attachments.skipped[0].reason, SkipReason::Repeat);
    assert_eq!(count(&jira, "POST", "/attachments"), 0);

    // Under `attach_on_repeat` it does.
    n.save_settings(
        Settings::new("QA").with_lifecycle(Lifecycle::default().with_attach_on_repeat(true)),
    )
    .await
    .unwrap();
    let r = n
        .on_test_error_with_attachments(&t, &failed(), vec![file("e.log", 10)])
        .await
        .unwrap();
    assert_eq!(r.attachments.uploaded.len(), 1, "{:?}", r.attachments);
    assert_eq!(jira.attachments(&key).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_upload_jira_refuses_is_reported_and_the_issue_stands() {
    let jira = sim();
    let ns = replicas(&jira, 1, Settings::new("QA")).await;
    jira.set_attachments_enabled(false);
    let r = ns[0]
        .on_test_error_with_attachments(&test("x"), &failed(), vec![file("run.log", 100)])
        .await
        .expect("the report stands");
    assert!(matches!(r.outcome, Outcome::Created(_)), "{:?}", r.outcome);
    assert_eq!(r.attachments.failed.len(), 1);
    assert_eq!(r.attachments.failed[0].name, "run.log");
    assert!(!r.attachments.failed[0].error.is_retryable());
    assert_eq!(open_keys(&jira, "x").len(), 1);
    // Below the threshold a report has no issue to attach to.
    ns[0]
        .save_settings(Settings::new("QA").with_noise(Noise::default().with_min_failures(2)))
        .await
        .unwrap();
    let r = ns[0]
        .on_test_error_with_attachments(&test("y"), &failed(), vec![file("y.log", 1)])
        .await
        .unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Counted {
            failures: 1,
            needed: 2
        }
    );
    assert_eq!(r.attachments.skipped[0].reason, SkipReason::NoIssue);
}

/// A storm of `tests` tests, each reported by two of the replicas on `stores` (each store
/// a replica's own handle) at once, in real time: `limit` issues filed one by one, one
/// umbrella, and every other test grouped into it exactly once.
async fn guarded_storm(stores: Vec<Arc<dyn ConfigStore>>, tests: usize, limit: u32) {
    let jira = sim();
    let ns: Vec<JiraNotifier> = stores
        .iter()
        .map(|s| notifier_on(Arc::clone(s), &jira))
        .collect();
    ns[0]
        .connect(Credentials::new(
            SimJira::CLIENT_ID,
            SimJira::CLIENT_SECRET.to_owned(),
        ))
        .await
        .expect("connect");
    let limit = StormLimit::new(limit, Duration::from_secs(600));
    ns[0]
        .save_settings(
            Settings::new("QA").with_noise(Noise::default().with_storm_limit(Some(limit))),
        )
        .await
        .expect("settings");
    let r = ns.len();
    let reports = (0..tests).flat_map(|i| {
        let t = test(&format!("s{i:03}"));
        [ns[i % r].clone(), ns[(i * 3 + 1) % r].clone()].map(|n| {
            let t = t.clone();
            async move { n.on_test_error(&t, &failed()).await }
        })
    });
    let outcomes: Vec<Outcome> = join_all(reports)
        .await
        .into_iter()
        .map(|r| r.expect("no report fails"))
        .collect();
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Created(_)))
        .count();
    let grouped = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Grouped(_)))
        .count();
    let umbrellas: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Grouped(i) => Some(i.key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(created, limit.issues as usize);
    assert_eq!(grouped, tests - limit.issues as usize);
    assert_eq!(umbrellas.len(), 1, "{umbrellas:?}");
    assert_eq!(jira.issues().len(), limit.issues as usize + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_replicas_agree_on_the_storm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let stores = (0..8)
        .map(|_| Arc::new(jira_notifier::FileStore::open(&path).unwrap()) as Arc<dyn ConfigStore>)
        .collect();
    guarded_storm(stores, 60, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_agree_on_the_storm() {
    let Some(stores) = postgres_stores("storm", 8).await else {
        return;
    };
    guarded_storm(stores, 100, 10).await;
}

#[tokio::test(start_paused = true)]
async fn with_environments_told_apart_each_counts_towards_its_own_threshold() {
    let jira = sim();
    let settings = Settings::new("QA").with_noise(
        Noise::default()
            .with_min_failures(2)
            .with_split_by_environment(true),
    );
    let ns = replicas(&jira, 1, settings).await;
    let n = &ns[0];
    let staging = test("login").with_environment("staging");
    let prod = test("login").with_environment("prod");
    let counted = |failures| Outcome::Counted {
        failures,
        needed: 2,
    };
    assert_eq!(
        n.on_test_error(&staging, &failed()).await.unwrap(),
        counted(1)
    );
    assert_eq!(n.on_test_error(&prod, &failed()).await.unwrap(), counted(1));
    // A pass in prod starts prod's count again, not staging's.
    assert_eq!(n.on_test_pass(&prod).await.unwrap(), Outcome::Ignored);
    assert_eq!(n.on_test_error(&prod, &failed()).await.unwrap(), counted(1));
    let s = n.on_test_error(&staging, &failed()).await.unwrap();
    assert!(matches!(s, Outcome::Created(_)), "{s:?}");
    assert_eq!(
        issue(&jira, key_of(&s)).summary,
        "Test Failed: Test login [staging]"
    );
    assert!(creates(&jira) == 1 && jira.issues().len() == 1);
}
