//! Index lag beyond seconds (issue 9): "Search and reconcile" says the lag "might vary from
//! a few seconds to minutes". After a create that got no clear answer, no second create is
//! sent until a search made at least the bound (default 2 minutes) after it found nothing;
//! meanwhile the report answers a retryable `Error::CreateUnconfirmed`, and other replicas
//! wait on the claim. The simulated Jira lags by minutes here, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    ConfigStore, Error, JiraNotifier, MemoryStore, Method, Outcome, DEFAULT_CREATE_LEASE,
};
use jira_notifier_sim::{Fault, SimJira};

use crate::support::*;

/// Slower than any in-place look (8 s), within the default bound (2 minutes).
const LAG: Duration = Duration::from_secs(100);

/// A notifier with the default lease and bound.
async fn ready(jira: &SimJira, store: Arc<dyn ConfigStore>) -> JiraNotifier {
    let n = notifier(store, jira, DEFAULT_CREATE_LEASE);
    setup(&n).await;
    n
}

/// Creates the simulated Jira received.
fn creates(jira: &SimJira) -> usize {
    jira.requests()
        .iter()
        .filter(|r| r.method == Method::Post && r.path.ends_with("/rest/api/3/issue"))
        .count()
}

/// Reports as a host that queues retryable failures would: again after `retry_after`,
/// until an outcome. The errors seen on the way come back too.
async fn report_until_done(n: &JiraNotifier, id: &str) -> (Outcome, Vec<Error>) {
    let mut errors = Vec::new();
    loop {
        match n.on_test_error(&test(id), &failed()).await {
            Ok(o) => return (o, errors),
            Err(e) => {
                assert!(e.is_retryable(), "{e:?}");
                let wait = e.retry_after().expect("a retry_after");
                errors.push(e);
                assert!(errors.len() < 10, "{errors:?}");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_create_that_landed_under_minutes_of_lag_is_confirmed_not_repeated() {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let n = ready(&jira, Arc::new(MemoryStore::new())).await;
    jira.inject(Fault::timeout_after_commit(
        Method::Post,
        "/rest/api/3/issue",
    ));

    let (o, errors) = report_until_done(&n, "login").await;

    let Error::CreateUnconfirmed { retry_after, cause } = &errors[0] else {
        panic!("expected CreateUnconfirmed, got {:?}", errors[0]);
    };
    // The default bound is the lease, two minutes; eight seconds were spent looking.
    assert!(*retry_after > Duration::from_secs(100), "{retry_after:?}");
    assert!(
        cause.contains("timeout") || cause.contains("answer"),
        "{cause}"
    );
    assert!(errors[0].to_string().contains("no clear answer"));
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(creates(&jira), 1);
    assert_eq!(open_keys(&jira, "login"), vec![key_of(&o).to_owned()]);
    // Recorded: the next failure is a duplicate of it, on current data.
    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(again, Outcome::Duplicate(o.issue().unwrap().clone()));
}

#[tokio::test(start_paused = true)]
async fn a_create_that_never_landed_is_sent_again_only_after_the_bound() {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let n = ready(&jira, Arc::new(MemoryStore::new())).await;
    jira.inject(Fault::timeout(Method::Post, "/rest/api/3/issue"));

    let e = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CreateUnconfirmed { .. }), "{e:?}");
    // The host reports again early: still unconfirmed, and no create is sent.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let e = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    let left = e.retry_after().unwrap();
    assert!(
        left > Duration::from_secs(60) && left < Duration::from_secs(90),
        "{left:?}"
    );
    assert_eq!(creates(&jira), 1);

    tokio::time::sleep(left).await;
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();

    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(creates(&jira), 2);
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn another_replica_waits_for_an_unconfirmed_create_instead_of_creating() {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let a = ready(&jira, store.clone()).await;
    let b = notifier(store, &jira, DEFAULT_CREATE_LEASE);
    jira.inject(Fault::timeout_after_commit(
        Method::Post,
        "/rest/api/3/issue",
    ));

    let e = a
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CreateUnconfirmed { .. }), "{e:?}");
    // Replica B's report of the same test: its search cannot see A's issue yet; it finds
    // the claim held and waits, then searches again once the lag is past.
    let o = b.on_test_error(&test("login"), &failed()).await.unwrap();

    assert!(matches!(o, Outcome::Duplicate(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(creates(&jira), 1);
    // A learns of it too, and answers with the same issue.
    let (mine, _) = report_until_done(&a, "login").await;
    assert_eq!(mine.issue(), o.issue());
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_shorter_bound_can_be_configured() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(2));
    let n = JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(1)))
        .search_lag_bound(Duration::from_secs(5))
        .build()
        .unwrap();
    setup(&n).await;
    jira.inject(Fault::timeout_after_commit(
        Method::Post,
        "/rest/api/3/issue",
    ));

    let (o, errors) = report_until_done(&n, "login").await;

    assert!(errors[0].retry_after().unwrap() <= Duration::from_secs(5));
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_landed_create_is_confirmed_at_once_by_reading_the_next_key() {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let n = ready(&jira, Arc::new(MemoryStore::new())).await;
    // A first issue in QA tells the notifier where QA's keys stand.
    let first = n.on_test_error(&test("first"), &failed()).await.unwrap();
    assert_eq!(key_of(&first), "QA-1");
    jira.inject(Fault::timeout_after_commit(
        Method::Post,
        "/rest/api/3/issue",
    ));

    // Keys within a project are given in order and `GET /issue/{key}` is current: QA-2
    // is read, carries the test's label, and is the create that got no answer.
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();

    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(key_of(&o), "QA-2");
    assert_eq!(open_keys(&jira, "login"), vec!["QA-2".to_owned()]);
    assert_eq!(creates(&jira), 2);
}

#[tokio::test(start_paused = true)]
async fn reading_the_next_keys_never_rules_a_create_out() {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let n = ready(&jira, Arc::new(MemoryStore::new())).await;
    n.on_test_error(&test("first"), &failed()).await.unwrap();
    jira.inject(Fault::timeout(Method::Post, "/rest/api/3/issue"));

    // QA-2 does not exist: the create did not land, but only a search made long enough
    // after it may say so.
    let e = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();

    assert!(matches!(e, Error::CreateUnconfirmed { .. }), "{e:?}");
    assert_eq!(creates(&jira), 2);
    let (o, _) = report_until_done(&n, "login").await;
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(jira.issues().len(), 2);
}
