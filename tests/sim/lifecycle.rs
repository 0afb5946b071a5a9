//! Issue lifecycle policies (issue 12) against the simulated Jira: repeat comments
//! coalesced per interval (also across replicas), recovery comments, resolving after
//! passes in a row, reopening, muting, and the history line of a new issue. Time is
//! tokio's paused clock; the notifier reads the simulator's wall clock, which follows it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jira_notifier::{
    Clock, ConfigStore, Credentials, Error, JiraNotifier, Lifecycle, LifecycleOverride,
    MemoryStore, OnPass, OnRepeat, Outcome, Settings, TestOverride,
};
use jira_notifier_sim::{SimJira, StatusCategory, Workflow};
use serde_json::Value;

use crate::support::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The simulator's wall clock, for the notifier: both move with tokio's clock.
#[derive(Debug, Clone)]
struct SimClock(SimJira);

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

/// A Jira whose tokens outlive the test, so that request counts hold only the calls the
/// lifecycle makes.
fn sim() -> SimJira {
    let jira = SimJira::new();
    jira.set_token_lifetime(30 * DAY);
    jira
}

/// A notifier on `store`, timed by the simulator's clock.
fn notifier_on(store: Arc<dyn ConfigStore>, jira: &SimJira) -> JiraNotifier {
    JiraNotifier::builder(store)
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(8)))
        .create_lease(Duration::from_secs(60))
        .clock(SimClock(jira.clone()))
        .build()
        .expect("notifier")
}

/// A notifier on its own store, connected, with settings for QA under `lifecycle`.
async fn set_up(jira: &SimJira, lifecycle: Lifecycle) -> JiraNotifier {
    let n = notifier_on(Arc::new(MemoryStore::new()), jira);
    configure(&n, lifecycle).await;
    n
}

async fn configure(n: &JiraNotifier, lifecycle: Lifecycle) {
    n.connect(Credentials::new(
        SimJira::CLIENT_ID,
        SimJira::CLIENT_SECRET.to_owned(),
    ))
    .await
    .expect("connect");
    n.save_settings(Settings::new("QA").with_lifecycle(lifecycle))
        .await
        .expect("settings");
}

/// The requests since the last clear, as `METHOD path` (the part after `/rest/api/3/`,
/// an issue's id or key as `*`), counted.
fn calls(jira: &SimJira) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in jira.requests() {
        let tail = r
            .path
            .split_once("/rest/api/3/")
            .map_or(r.path.trim_start_matches('/'), |(_, t)| t);
        let mut parts: Vec<&str> = tail.split('/').collect();
        if parts.len() > 1 && parts[0] == "issue" && parts[1] != "createmeta" {
            parts[1] = "*";
        }
        *out.entry(format!("{} {}", r.method.as_str(), parts.join("/")))
            .or_insert(0) += 1;
    }
    out
}

/// Asserts the requests since the last clear, then clears them.
#[track_caller]
fn expect_calls(jira: &SimJira, want: &[(&str, usize)], what: &str) {
    let want: BTreeMap<String, usize> = want.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    let got = calls(jira);
    eprintln!("{what}: {got:?}");
    assert_eq!(got, want, "{what}");
    jira.clear_requests();
}

/// The text of an ADF document (or node), concatenated.
fn text_of(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push_str(t);
        }
        if let Some(c) = v.get("content").and_then(Value::as_array) {
            c.iter().for_each(|x| walk(x, out));
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    out
}

fn comment_texts(jira: &SimJira, key: &str) -> Vec<String> {
    jira.comments(key)
        .expect("the issue")
        .iter()
        .map(|c| text_of(&c.body))
        .collect()
}

fn fail(msg: &str) -> jira_notifier::TestStatus {
    jira_notifier::TestStatus::error(msg)
}

const SEARCH: &str = "POST search/jql";
const COMMENT: &str = "POST issue/*/comment";
const CREATE: &str = "POST issue";
const GET_ISSUE: &str = "GET issue/*";
const TRANSITION: &str = "POST issue/*/transitions";

// 1.
#[tokio::test(start_paused = true)]
async fn lifecycle_repeats_inside_the_interval_are_coalesced_into_one_comment() {
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(HOUR),
    )
    .await;
    let t = test("login");
    let created = n.on_test_error(&t, &fail("first")).await.unwrap();
    assert!(matches!(created, Outcome::Created(_)), "{created:?}");
    let key = key_of(&created).to_owned();
    jira.clear_requests();

    // At 60 s, 600 s and 3000 s after the create.
    for (i, step) in [60u64, 540, 2400].into_iter().enumerate() {
        tokio::time::advance(Duration::from_secs(step)).await;
        let o = n
            .on_test_error(&t, &fail(&format!("repeat {i}")))
            .await
            .unwrap();
        assert_eq!(o, Outcome::Duplicate(created.issue().unwrap().clone()));
        expect_calls(&jira, &[(SEARCH, 1)], "a repeat inside the hour");
    }
    assert!(comment_texts(&jira, &key).is_empty());

    // 3000 s so far: the hour ends at 3600.
    tokio::time::advance(Duration::from_secs(601)).await;
    let o = n.on_test_error(&t, &fail("the last boom")).await.unwrap();
    assert!(matches!(o, Outcome::Duplicate(_)), "{o:?}");
    expect_calls(
        &jira,
        &[(SEARCH, 1), (COMMENT, 1)],
        "the repeat after the hour",
    );
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].starts_with("Failed 4 more times since "),
        "{}",
        comments[0]
    );
    assert!(comments[0].contains("The last error:"), "{}", comments[0]);
    assert!(comments[0].contains("the last boom"), "{}", comments[0]);
    assert!(!comments[0].contains("repeat 2"), "{}", comments[0]);

    // The next interval counts from that comment.
    tokio::time::advance(Duration::from_secs(1800)).await;
    n.on_test_error(&t, &fail("again")).await.unwrap();
    expect_calls(&jira, &[(SEARCH, 1)], "a repeat inside the new interval");
    assert_eq!(comment_texts(&jira, &key).len(), 1);
    tokio::time::advance(Duration::from_secs(1801)).await;
    n.on_test_error(&t, &fail("and again")).await.unwrap();
    expect_calls(
        &jira,
        &[(SEARCH, 1), (COMMENT, 1)],
        "the second interval's end",
    );
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 2);
    assert!(
        comments[1].starts_with("Failed 2 more times since "),
        "{}",
        comments[1]
    );
}

// 2.
#[tokio::test(start_paused = true)]
async fn lifecycle_an_interval_crossed_by_four_replicas_at_once_is_commented_once() {
    let jira = sim();
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let ns: Vec<JiraNotifier> = (0..4).map(|_| notifier_on(store.clone(), &jira)).collect();
    configure(
        &ns[0],
        Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(HOUR),
    )
    .await;
    let created = ns[0]
        .on_test_error(&test("login"), &fail("first"))
        .await
        .unwrap();
    let key = key_of(&created).to_owned();

    for round in 1..=3 {
        tokio::time::advance(HOUR + Duration::from_secs(1)).await;
        jira.clear_requests();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, n) in ns.iter().enumerate() {
            for j in 0..2 {
                let n = n.clone();
                tasks.spawn(async move {
                    n.on_test_error(&test("login"), &fail(&format!("replica {i} report {j}")))
                        .await
                });
            }
        }
        while let Some(r) = tasks.join_next().await {
            let o = r.unwrap().unwrap();
            assert_eq!(key_of(&o), key, "round {round}: {o:?}");
        }
        let got = calls(&jira);
        eprintln!("round {round}: {got:?}");
        assert_eq!(got.get(COMMENT), Some(&1), "round {round}: {got:?}");
        assert_eq!(got.get(CREATE), None, "round {round}: {got:?}");
        let comments = comment_texts(&jira, &key);
        assert_eq!(comments.len(), round, "round {round}: {comments:?}");
        // The first report past the interval takes the count so far; the other seven
        // of its round fall into the next interval, so nothing is lost.
        let want = if round == 1 {
            "Failed 1 more time since "
        } else {
            "Failed 8 more times since "
        };
        assert!(
            comments[round - 1].starts_with(want),
            "round {round}: {}",
            comments[round - 1]
        );
    }
    assert_eq!(open_keys(&jira, "login"), vec![key]);
}

// 3.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_recovery_comment_once_per_failing_streak() {
    let jira = sim();
    let n = set_up(&jira, Lifecycle::default().with_on_pass(OnPass::Comment)).await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    n.on_test_error(&t, &failed()).await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
    jira.clear_requests();

    let o = n.on_test_pass(&t).await.unwrap();
    assert_eq!(o, Outcome::Commented(created.issue().unwrap().clone()));
    expect_calls(&jira, &[(GET_ISSUE, 1), (COMMENT, 1)], "the first pass");
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].starts_with("Test Test login is passing again since "),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].ends_with(", after 2 failures."),
        "{}",
        comments[0]
    );

    let o = n.on_test_pass(&t).await.unwrap();
    assert_eq!(o, Outcome::Ignored);
    expect_calls(&jira, &[], "a second pass");

    // A new streak.
    let o = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Duplicate(_)), "{o:?}");
    jira.clear_requests();
    let o = n.on_test_pass(&t).await.unwrap();
    assert!(matches!(o, Outcome::Commented(_)), "{o:?}");
    expect_calls(
        &jira,
        &[(GET_ISSUE, 1), (COMMENT, 1)],
        "the pass after a new failure",
    );
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 2);
    assert!(
        comments[1].ends_with(", after 1 failure."),
        "{}",
        comments[1]
    );
    assert_eq!(jira.status(&key).as_deref(), Some("To Do"));
}

// 4.
#[tokio::test(start_paused = true)]
async fn lifecycle_passes_in_a_row_resolve_the_issue() {
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_pass(OnPass::Resolve)
            .with_passes_to_resolve(2),
    )
    .await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let issue = created.issue().unwrap().clone();
    jira.clear_requests();

    let o = n.on_test_pass(&t).await.unwrap();
    assert_eq!(
        o,
        Outcome::Passing {
            passes: 1,
            needed: 2,
            issue: issue.clone()
        }
    );
    expect_calls(&jira, &[], "a counting pass");
    let o = n.on_test_pass(&t).await.unwrap();
    assert_eq!(o, Outcome::Resolved(issue.clone()));
    expect_calls(
        &jira,
        &[(GET_ISSUE, 1), (TRANSITION, 1), (COMMENT, 1)],
        "the resolving pass",
    );
    assert_eq!(jira.status(&issue.key).as_deref(), Some("Done"));
    let comments = comment_texts(&jira, &issue.key);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("is passing again since"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].ends_with(", after 1 failure."),
        "{}",
        comments[0]
    );
    assert_eq!(n.on_test_pass(&t).await.unwrap(), Outcome::Ignored);
    expect_calls(&jira, &[], "a pass after the resolve");
    assert!(n.health().await.unwrap().is_ok());

    // A failure in between starts the count over.
    let again = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(again, Outcome::Created(_)), "{again:?}");
    assert!(matches!(
        n.on_test_pass(&t).await.unwrap(),
        Outcome::Passing { passes: 1, .. }
    ));
    n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(
        n.on_test_pass(&t).await.unwrap(),
        Outcome::Passing { passes: 1, .. }
    ));
}

// 4, with a resolve screen.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_resolve_screen_gets_the_configured_resolution_or_the_first_allowed() {
    let jira = sim();
    jira.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let n = set_up(&jira, Lifecycle::default().with_on_pass(OnPass::Resolve)).await;
    n.set_override(
        "chosen",
        TestOverride::default()
            .with_lifecycle(LifecycleOverride::default().with_resolution("Cannot Reproduce")),
    )
    .await
    .unwrap();

    for (id, want) in [("plain", "Done"), ("chosen", "Cannot Reproduce")] {
        let created = n.on_test_error(&test(id), &failed()).await.unwrap();
        let key = key_of(&created).to_owned();
        jira.clear_requests();
        let o = n.on_test_pass(&test(id)).await.unwrap();
        assert!(matches!(o, Outcome::Resolved(_)), "{id}: {o:?}");
        // The screen's fields are read to fill the required resolution: one more.
        expect_calls(
            &jira,
            &[
                (GET_ISSUE, 1),
                ("GET issue/*/transitions", 1),
                (TRANSITION, 1),
                (COMMENT, 1),
            ],
            &format!("{id}: resolve with a screen"),
        );
        assert_eq!(jira.status(&key).as_deref(), Some("Done"), "{id}");
        assert_eq!(jira.resolution(&key).as_deref(), Some(want), "{id}");
    }
}

// 4, without a way into Done.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_workflow_without_a_done_transition_is_an_error_shown_in_health() {
    let jira = sim();
    jira.set_workflow("QA", Workflow::without_done_transition())
        .unwrap();
    let n = set_up(&jira, Lifecycle::default().with_on_pass(OnPass::Resolve)).await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    jira.clear_requests();

    let err = n.on_test_pass(&t).await.unwrap_err();
    match &err {
        Error::TransitionMissing {
            issue, available, ..
        } => {
            assert_eq!(issue.key, key);
            assert!(!available.iter().any(|a| a == "Done"), "{available:?}");
        }
        other => panic!("expected TransitionMissing, got {other:?}"),
    }
    expect_calls(&jira, &[(GET_ISSUE, 1)], "a pass finding no way into Done");
    assert!(!n.health().await.unwrap().is_ok());
    assert_ne!(jira.status(&key).as_deref(), Some("Done"));
    assert!(comment_texts(&jira, &key).is_empty());
    // The pass did not take effect: reporting it again tries again.
    let err = n.on_test_pass(&t).await.unwrap_err();
    assert!(matches!(err, Error::TransitionMissing { .. }), "{err:?}");
}

// 5.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_pass_with_nothing_to_act_on_costs_no_request() {
    let jira = sim();
    let n = set_up(&jira, Lifecycle::default()).await;
    jira.clear_requests();
    assert_eq!(
        n.on_test_pass(&test("never-failed")).await.unwrap(),
        Outcome::Ignored
    );
    expect_calls(&jira, &[], "default policy, no issue");
    n.on_test_error(&test("failed"), &failed()).await.unwrap();
    jira.clear_requests();
    assert_eq!(
        n.on_test_pass(&test("failed")).await.unwrap(),
        Outcome::Ignored
    );
    expect_calls(&jira, &[], "default policy, an open issue");

    let jira = sim();
    let n = set_up(&jira, Lifecycle::default().with_on_pass(OnPass::Resolve)).await;
    jira.clear_requests();
    assert_eq!(
        n.on_test_pass(&test("never-failed")).await.unwrap(),
        Outcome::Ignored
    );
    expect_calls(&jira, &[], "resolve policy, no issue");
}

// 6.
#[tokio::test(start_paused = true)]
async fn lifecycle_an_issue_closed_by_a_person_between_passes_is_left_alone() {
    for on_pass in [OnPass::Resolve, OnPass::Comment] {
        let jira = sim();
        let n = set_up(
            &jira,
            Lifecycle::default()
                .with_on_pass(on_pass)
                .with_passes_to_resolve(2),
        )
        .await;
        let t = test("login");
        let created = n.on_test_error(&t, &failed()).await.unwrap();
        let key = key_of(&created).to_owned();
        if on_pass == OnPass::Resolve {
            assert!(matches!(
                n.on_test_pass(&t).await.unwrap(),
                Outcome::Passing { .. }
            ));
        }
        jira.transition(&key, "Done", None).unwrap();
        jira.clear_requests();
        let o = n.on_test_pass(&t).await.unwrap();
        assert_eq!(o, Outcome::Ignored, "{on_pass:?}");
        expect_calls(
            &jira,
            &[(GET_ISSUE, 1)],
            &format!("{on_pass:?}: a pass finding it closed"),
        );
        assert!(comment_texts(&jira, &key).is_empty(), "{on_pass:?}");
        assert_eq!(n.on_test_pass(&t).await.unwrap(), Outcome::Ignored);
        expect_calls(&jira, &[], &format!("{on_pass:?}: the pass after"));
    }
}

// 7.
#[tokio::test(start_paused = true)]
async fn lifecycle_passes_racing_failures_never_leave_two_open_issues() {
    race_passes_and_failures(Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn lifecycle_passes_racing_failures_never_leave_two_open_issues_while_search_lags() {
    race_passes_and_failures(Duration::from_secs(2)).await;
}

/// Two replicas each report the test's pass and failure at once, round after round
/// (policy: resolve at the first pass).
async fn race_passes_and_failures(lag: Duration) {
    let jira = sim();
    jira.set_search_lag(lag);
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let ns: Vec<JiraNotifier> = (0..2).map(|_| notifier_on(store.clone(), &jira)).collect();
    configure(&ns[0], Lifecycle::default().with_on_pass(OnPass::Resolve)).await;
    jira.set_latency(Duration::from_millis(5));
    let mut errors = Vec::new();
    for round in 0..30 {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, n) in ns.iter().enumerate() {
            for k in 0..2 {
                let n = n.clone();
                let pass = (i + k + round) % 2 == 0;
                tasks.spawn(async move {
                    if pass {
                        n.on_test_pass(&test("flaky")).await
                    } else {
                        n.on_test_error(&test("flaky"), &failed()).await
                    }
                });
            }
        }
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r.unwrap() {
                errors.push(format!("round {round}: {e}"));
            }
        }
        let open = open_keys(&jira, "flaky");
        assert!(open.len() <= 1, "round {round}: open {open:?}");
        tokio::time::advance(Duration::from_millis(300)).await;
    }
    let o = ns[1]
        .on_test_error(&test("flaky"), &failed())
        .await
        .unwrap();
    assert_eq!(open_keys(&jira, "flaky"), vec![key_of(&o).to_owned()]);
    eprintln!("issues made: {}, errors: {errors:?}", jira.issues().len());
    assert!(errors.is_empty(), "{errors:?}");
}

// 8.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_failure_reopens_an_issue_done_inside_the_window() {
    let jira = sim();
    let n = set_up(&jira, Lifecycle::default().with_reopen_within(DAY)).await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    jira.transition(&key, "Done", None).unwrap();
    tokio::time::advance(HOUR).await;
    jira.clear_requests();

    let o = n.on_test_error(&t, &fail("broken again")).await.unwrap();
    assert_eq!(o, Outcome::Reopened(created.issue().unwrap().clone()));
    expect_calls(
        &jira,
        &[(SEARCH, 1), (GET_ISSUE, 1), (TRANSITION, 1), (COMMENT, 1)],
        "a reopening failure",
    );
    assert_eq!(
        jira.issue(&key).unwrap().status_category,
        StatusCategory::ToDo
    );
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].starts_with("Reopened: the test failed again."),
        "{}",
        comments[0]
    );
    assert!(comments[0].contains("broken again"), "{}", comments[0]);
    assert_eq!(jira.issues().len(), 1);
    // Open again: a repeat is a duplicate.
    let o = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Duplicate(_)), "{o:?}");

    // Done longer ago than the window: a new issue naming the old one.
    jira.transition(&key, "Done", None).unwrap();
    tokio::time::advance(DAY + HOUR).await;
    let o = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    let new = key_of(&o).to_owned();
    assert_ne!(new, key);
    let description = text_of(&jira.issue(&new).unwrap().description);
    let want = format!("This test failed before: {key}, done ");
    assert!(description.starts_with(&want), "{description}");
    assert_eq!(jira.status(&key).as_deref(), Some("Done"));
}

// 9.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_muting_resolution_creates_nothing_until_the_policy_is_dropped() {
    let jira = sim();
    jira.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let n = set_up(
        &jira,
        Lifecycle::default().with_mute_resolutions(["Won't Do"]),
    )
    .await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    jira.transition(&key, "Done", Some("Won't Do")).unwrap();
    assert_eq!(jira.resolution(&key).as_deref(), Some("Won't Do"));
    tokio::time::advance(Duration::from_secs(60)).await;
    jira.clear_requests();

    for _ in 0..2 {
        let o = n.on_test_error(&t, &failed()).await.unwrap();
        assert_eq!(o, Outcome::Muted(created.issue().unwrap().clone()));
        expect_calls(&jira, &[(SEARCH, 1)], "a muted failure");
    }
    assert_eq!(jira.issues().len(), 1);

    // Another resolution does not mute.
    let other = n.on_test_error(&test("other"), &failed()).await.unwrap();
    jira.transition(key_of(&other), "Done", Some("Done"))
        .unwrap();
    let o = n.on_test_error(&test("other"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");

    // The policy dropped for the test: a new issue.
    n.set_override(
        "login",
        TestOverride::default().with_lifecycle(
            LifecycleOverride::default().with_mute_resolutions(Vec::<String>::new()),
        ),
    )
    .await
    .unwrap();
    let o = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_ne!(key_of(&o), key);
}

// 10.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_new_issue_after_a_done_one_names_it_by_default() {
    let jira = sim();
    let n = set_up(&jira, Lifecycle::default()).await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    assert!(jira.set_status(&key, StatusCategory::Done));
    tokio::time::advance(Duration::from_secs(5)).await;
    jira.clear_requests();
    let o = n.on_test_error(&t, &fail("broken again")).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    expect_calls(
        &jira,
        &[(SEARCH, 1), (CREATE, 1)],
        "a failure after a done issue",
    );
    let new = key_of(&o).to_owned();
    assert_ne!(new, key);
    let description = jira.issue(&new).unwrap().description;
    let first = text_of(&description["content"][0]);
    assert!(
        first.starts_with(&format!("This test failed before: {key}")),
        "{first}"
    );
    let link = &description["content"][0]["content"][1];
    assert_eq!(link["text"], key.as_str());
    assert!(
        link["marks"][0]["attrs"]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with(&format!("/browse/{key}"))),
        "{link}"
    );
    assert!(text_of(&description).contains("broken again"));
    assert_eq!(open_keys(&jira, "login"), vec![new]);
}

// Repeats that wait behind a report in flight in the same notifier still count.
#[tokio::test(start_paused = true)]
async fn lifecycle_concurrent_repeats_in_one_notifier_are_all_counted() {
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(HOUR),
    )
    .await;
    jira.set_latency(Duration::from_millis(10));
    let created = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    tokio::time::advance(Duration::from_secs(60)).await;
    jira.clear_requests();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..5 {
        let n = n.clone();
        tasks.spawn(async move {
            n.on_test_error(&test("login"), &fail(&format!("c{i}")))
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(matches!(r.unwrap().unwrap(), Outcome::Duplicate(_)));
    }
    let got = calls(&jira);
    eprintln!("five concurrent repeats in one notifier: {got:?}");
    assert_eq!(got.get(COMMENT), None, "{got:?}");
    assert!(got.get(SEARCH).is_some_and(|s| *s <= 5), "{got:?}");
    tokio::time::advance(HOUR).await;
    n.on_test_error(&test("login"), &fail("late"))
        .await
        .unwrap();
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].starts_with("Failed 6 more times since "),
        "{}",
        comments[0]
    );
}

// A repeat comment Jira refuses is posted, with its count, at the next failure.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_refused_repeat_comment_is_posted_at_the_next_failure() {
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(HOUR),
    )
    .await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    tokio::time::advance(Duration::from_secs(60)).await;
    n.on_test_error(&t, &fail("one")).await.unwrap();
    tokio::time::advance(HOUR).await;
    jira.inject(jira_notifier_sim::Fault::status(
        jira_notifier::Method::Post,
        "/comment",
        400,
    ));
    let err = n.on_test_error(&t, &fail("two")).await.unwrap_err();
    assert!(matches!(err, Error::CommentNotAdded { .. }), "{err:?}");
    assert!(comment_texts(&jira, &key).is_empty());
    jira.clear_requests();
    // The host reports the failed one again.
    let o = n.on_test_error(&t, &fail("two")).await.unwrap();
    assert!(matches!(o, Outcome::Duplicate(_)), "{o:?}");
    expect_calls(&jira, &[(SEARCH, 1), (COMMENT, 1)], "the report again");
    let comments = comment_texts(&jira, &key);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].starts_with("Failed 2 more times since "),
        "{}",
        comments[0]
    );
    assert!(comments[0].contains("two"), "{}", comments[0]);
}

// Replicas all failing right after a person closed the issue: one reopens it.
#[tokio::test(start_paused = true)]
async fn lifecycle_replicas_failing_at_once_reopen_the_issue_once() {
    let jira = sim();
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let ns: Vec<JiraNotifier> = (0..4).map(|_| notifier_on(store.clone(), &jira)).collect();
    configure(
        &ns[0],
        Lifecycle::default()
            .with_reopen_within(DAY)
            .with_on_repeat(OnRepeat::Comment),
    )
    .await;
    jira.set_latency(Duration::from_millis(5));
    let created = ns[0]
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap();
    let key = key_of(&created).to_owned();
    for round in 0..3 {
        jira.transition(&key, "Done", None).unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        jira.clear_requests();
        let mut tasks = tokio::task::JoinSet::new();
        for n in &ns {
            let n = n.clone();
            tasks.spawn(async move { n.on_test_error(&test("login"), &failed()).await });
        }
        let mut reopened = 0;
        while let Some(r) = tasks.join_next().await {
            let o = r.unwrap().unwrap();
            assert_eq!(key_of(&o), key, "round {round}: {o:?}");
            reopened += matches!(o, Outcome::Reopened(_)) as usize;
        }
        let got = calls(&jira);
        eprintln!("round {round}, four replicas after a close: {got:?}");
        assert_eq!(reopened, 1, "round {round}");
        assert_eq!(got.get(TRANSITION), Some(&1), "round {round}: {got:?}");
        assert_eq!(got.get(CREATE), None, "round {round}: {got:?}");
        assert_eq!(
            got.get(COMMENT),
            Some(&1),
            "round {round}: only the reopen comment"
        );
        assert_eq!(open_keys(&jira, "login"), vec![key.clone()]);
    }
}

// Mute names are compared without case, and a muted test stays muted across replicas.
#[tokio::test(start_paused = true)]
async fn lifecycle_mute_resolutions_ignore_case() {
    let jira = sim();
    jira.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let n = set_up(
        &jira,
        Lifecycle::default().with_mute_resolutions(["  won't do "]),
    )
    .await;
    let created = n.on_test_error(&test("login"), &failed()).await.unwrap();
    jira.transition(key_of(&created), "Done", Some("Won't Do"))
        .unwrap();
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Muted(_)), "{o:?}");
}

// Resolve and reopen together: a flapping test keeps one issue, resolved and reopened.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_flapping_test_is_resolved_and_reopened_on_one_issue() {
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_pass(OnPass::Resolve)
            .with_reopen_within(DAY),
    )
    .await;
    let t = test("flaky");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let issue = created.issue().unwrap().clone();
    for cycle in 0..3 {
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            n.on_test_pass(&t).await.unwrap(),
            Outcome::Resolved(issue.clone()),
            "cycle {cycle}"
        );
        assert_eq!(jira.status(&issue.key).as_deref(), Some("Done"));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            n.on_test_error(&t, &failed()).await.unwrap(),
            Outcome::Reopened(issue.clone()),
            "cycle {cycle}"
        );
        assert_ne!(jira.status(&issue.key).as_deref(), Some("Done"));
    }
    assert_eq!(jira.issues().len(), 1);
    // Three recovery comments and three reopen comments.
    assert_eq!(comment_texts(&jira, &issue.key).len(), 6);
}

// A pass whose issue a person deleted: nothing to act on.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_pass_whose_issue_was_deleted_is_ignored() {
    for on_pass in [OnPass::Resolve, OnPass::Comment] {
        let jira = sim();
        let n = set_up(&jira, Lifecycle::default().with_on_pass(on_pass)).await;
        let t = test("login");
        let created = n.on_test_error(&t, &failed()).await.unwrap();
        assert!(jira.delete_issue(key_of(&created)));
        jira.clear_requests();
        let o = n.on_test_pass(&t).await;
        assert!(matches!(o, Ok(Outcome::Ignored)), "{on_pass:?}: {o:?}");
        expect_calls(
            &jira,
            &[(GET_ISSUE, 1)],
            &format!("{on_pass:?}: a deleted issue"),
        );
        let o = n.on_test_error(&t, &failed()).await.unwrap();
        assert!(matches!(o, Outcome::Created(_)), "{on_pass:?}: {o:?}");
    }
}

// A configured resolution the screen does not offer: an error naming those it does,
// shown in health; the pass did not take effect, and without a screen it is not sent.
#[tokio::test(start_paused = true)]
async fn lifecycle_a_resolution_the_screen_does_not_offer_is_refused_before_the_move() {
    let jira = sim();
    jira.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_pass(OnPass::Resolve)
            .with_resolution("Fixed"),
    )
    .await;
    let t = test("login");
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    let key = key_of(&created).to_owned();
    jira.clear_requests();
    for attempt in 0..2 {
        let err = n.on_test_pass(&t).await.unwrap_err();
        match &err {
            Error::ResolutionNotAllowed { allowed, .. } => {
                assert!(allowed.iter().any(|a| a == "Done"), "{allowed:?}")
            }
            other => panic!("attempt {attempt}: expected ResolutionNotAllowed, got {other:?}"),
        }
        let got = calls(&jira);
        eprintln!("attempt {attempt}, a resolution not offered: {got:?}");
        assert_eq!(got.get(TRANSITION), None, "{got:?}");
        assert_eq!(got.get(COMMENT), None, "{got:?}");
        jira.clear_requests();
    }
    assert!(!n.health().await.unwrap().is_ok());
    assert_eq!(jira.status(&key).as_deref(), Some("To Do"));

    // The simplified workflow has no screen: the resolution is not sent, the move works.
    let jira = sim();
    let n = set_up(
        &jira,
        Lifecycle::default()
            .with_on_pass(OnPass::Resolve)
            .with_resolution("Fixed"),
    )
    .await;
    let created = n.on_test_error(&t, &failed()).await.unwrap();
    assert!(matches!(
        n.on_test_pass(&t).await.unwrap(),
        Outcome::Resolved(_)
    ));
    assert_eq!(jira.status(key_of(&created)).as_deref(), Some("Done"));
    assert_eq!(jira.resolution(key_of(&created)), None);
}
