//! Unclear creates, expiring tokens, rate limits and hostile input against the strict
//! simulated Jira: one issue per failure, never two and never none.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{Error, MemoryStore, Method, Outcome, TestInfo};
use jira_notifier_sim::{Fault, RateLimit, SimJira};

use crate::support::*;

async fn ready(jira: &SimJira) -> jira_notifier::JiraNotifier {
    let n = notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60));
    setup(&n).await;
    n
}

#[tokio::test(start_paused = true)]
async fn a_create_that_timed_out_after_landing_is_found_not_repeated() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(3));
    let n = ready(&jira).await;
    jira.inject(Fault::timeout_after_commit(
        Method::Post,
        "/rest/api/3/issue",
    ));
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(open_keys(&jira, "login"), vec![key_of(&o).to_owned()]);
    assert_eq!(jira.issues().len(), 1);
    // And it was remembered: the next failure is a duplicate of it.
    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(again, Outcome::Duplicate(o.issue().unwrap().clone()));
}

#[tokio::test(start_paused = true)]
async fn a_create_answered_502_after_landing_is_found_not_repeated() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(2));
    let n = ready(&jira).await;
    jira.inject(Fault::status_after_commit(
        Method::Post,
        "/rest/api/3/issue",
        502,
    ));
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_create_that_never_landed_is_sent_again_once_after_the_bound() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    jira.inject(Fault::timeout(Method::Post, "/rest/api/3/issue"));
    // Not seen in eight seconds of looking: search may lag longer (up to the bound, here
    // the 60 s lease), so the host hears that the create is unconfirmed.
    let e = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CreateUnconfirmed { .. }), "{e:?}");
    assert!(e.is_retryable());
    tokio::time::sleep(e.retry_after().unwrap()).await;
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_create_waits_out_retry_after_and_creates_once() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    jira.inject(Fault::rate_limited(Method::Post, "/rest/api/3/issue", 7));
    let start = tokio::time::Instant::now();
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert!(start.elapsed() >= Duration::from_secs(7));
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn expired_tokens_are_renewed_once_per_notifier() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    n.on_test_error(&test("a"), &failed()).await.unwrap();
    let fetched = n.token_fetches();
    jira.expire_tokens();
    n.on_test_error(&test("b"), &failed()).await.unwrap();
    n.on_test_error(&test("c"), &failed()).await.unwrap();
    assert_eq!(n.token_fetches(), fetched + 1);
    assert_eq!(jira.issues().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn tokens_are_renewed_before_they_expire() {
    let jira = SimJira::new();
    jira.set_token_lifetime(Duration::from_secs(600));
    let n = ready(&jira).await;
    n.on_test_error(&test("a"), &failed()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(590)).await;
    n.on_test_error(&test("b"), &failed()).await.unwrap();
    let unauthorised = jira
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/search/jql") || r.path.ends_with("/issue"))
        .count();
    assert_eq!(unauthorised, 4, "no request was refused and repeated");
    assert_eq!(n.token_fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_burst_under_a_rate_limit_creates_every_issue_once() {
    let jira = SimJira::new();
    jira.set_latency(Duration::from_millis(30));
    jira.set_rate_limit(Some(RateLimit::new(20, Duration::from_secs(1))));
    let n = ready(&jira).await;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..60 {
        for _ in 0..3 {
            let n = n.clone();
            tasks.spawn(async move { n.on_test_error(&test(&format!("t{t}")), &failed()).await });
        }
    }
    while let Some(r) = tasks.join_next().await {
        let o = r.unwrap().expect("every report ends in an issue");
        assert!(o.issue().is_some());
    }
    for t in 0..60 {
        assert_eq!(open_keys(&jira, &format!("t{t}")).len(), 1, "t{t}");
    }
    assert_eq!(jira.issues().len(), 60);
}

#[tokio::test(start_paused = true)]
async fn hostile_test_ids_and_names_reach_jira_intact_and_dedupe() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(5));
    let n = ready(&jira).await;
    let ids = [
        r#"quote"d"#,
        r"back\slash",
        "with space",
        "Ünïcödé-テスト-😀",
        "UPPER",
        "upper",
        "a_5f",
        "a_",
        "\"\\\" OR labels is not EMPTY",
    ];
    let long_name = "N".repeat(1000);
    let mut keys = Vec::new();
    for id in ids {
        let t = TestInfo::new(
            id,
            format!("{long_name} {id}\nsecond line"),
            "https://x.example/t?id=\"1\"",
        );
        let msg = jira_notifier::TestStatus::error("x".repeat(40_000));
        let o = n
            .on_test_error(&t, &msg)
            .await
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert!(matches!(o, Outcome::Created(_)), "{id:?}: {o:?}");
        let again = n.on_test_error(&t, &msg).await.unwrap();
        assert_eq!(
            again,
            Outcome::Duplicate(o.issue().unwrap().clone()),
            "{id:?}"
        );
        keys.push(key_of(&o).to_owned());
    }
    keys.dedup();
    assert_eq!(keys.len(), ids.len(), "every id got its own issue");
    assert_eq!(jira.issues().len(), ids.len());
    for issue in jira.issues() {
        assert!(issue.summary.encode_utf16().count() <= 255);
        assert!(!issue.summary.contains('\n'));
    }
}

#[tokio::test]
async fn an_empty_test_id_is_refused_before_any_request() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    let before = jira.request_count();
    let e = n
        .on_test_error(&TestInfo::new("", "x", ""), &failed())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidInput {
                field: "test.id",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(jira.request_count(), before);
}
