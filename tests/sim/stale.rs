//! Stale records (issue 9): the recorded issue of a test was deleted, or moved to another
//! project, and Jira refuses a search that reconciles it (JRACLOUD-93328).

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{ConfigStore, MemoryStore, Outcome};
use jira_notifier_sim::{SimJira, StatusCategory};

use crate::support::*;

async fn ready(jira: &SimJira) -> (jira_notifier::JiraNotifier, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let n = notifier(store.clone(), jira, Duration::from_secs(60));
    setup(&n).await;
    (n, store)
}

#[tokio::test(start_paused = true)]
async fn a_deleted_recorded_issue_does_not_block_the_test_for_ever() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(5));
    let (n, store) = ready(&jira).await;
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(jira.delete_issue(key_of(&first)));

    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();

    assert!(matches!(again, Outcome::Created(_)), "{again:?}");
    assert_ne!(key_of(&again), key_of(&first));
    // The stale record was replaced: the next report is a duplicate of the new issue,
    // found on current data though search lags.
    let record = store.load_record(&tid("login")).await.unwrap().unwrap();
    assert_eq!(record.issue_key, key_of(&again));
    let third = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(third, Outcome::Duplicate(again.issue().unwrap().clone()));
    assert_eq!(open_keys(&jira, "login"), vec![key_of(&again).to_owned()]);
}

#[tokio::test(start_paused = true)]
async fn a_recorded_issue_moved_to_another_project_is_followed_by_id() {
    let jira = SimJira::new();
    // Search lags far behind: only a read by id sees where the issue is now.
    jira.set_search_lag(Duration::from_secs(600));
    let (n, store) = ready(&jira).await;
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let moved = jira.move_issue(key_of(&first), "OPS").unwrap();

    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();

    let Outcome::Duplicate(issue) = &again else {
        panic!("expected a duplicate of the moved issue, got {again:?}");
    };
    assert_eq!(issue.key, moved);
    assert_eq!(issue.id, first.issue().unwrap().id);
    assert!(
        issue.url.ends_with(&format!("/browse/{moved}")),
        "{}",
        issue.url
    );
    let record = store.load_record(&tid("login")).await.unwrap().unwrap();
    assert_eq!(record.issue_key, moved);
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_moved_issue_that_was_closed_makes_way_for_a_new_one() {
    let jira = SimJira::new();
    let (n, _) = ready(&jira).await;
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let moved = jira.move_issue(key_of(&first), "OPS").unwrap();
    jira.set_status(&moved, StatusCategory::Done);

    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();

    assert!(matches!(again, Outcome::Created(_)), "{again:?}");
    assert_eq!(open_keys(&jira, "login"), vec![key_of(&again).to_owned()]);
}
