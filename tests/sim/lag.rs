//! Jira's search lags writes by seconds: the notifier must not be fooled either way.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{MemoryStore, Outcome};
use jira_notifier_sim::{SimJira, StatusCategory};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn a_failure_a_second_after_the_first_is_a_duplicate_despite_the_lag() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(10));
    let n = notifier(Arc::new(MemoryStore::new()), &jira, Duration::from_secs(60));
    setup(&n).await;

    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(first, Outcome::Created(_)), "{first:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = jira.request_count();
    let second = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(second, Outcome::Duplicate(first.issue().unwrap().clone()));
    assert_eq!(
        jira.request_count() - before,
        1,
        "a repeat costs one search"
    );
    assert_eq!(open_keys(&jira, "login").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_just_closed_issue_is_seen_as_closed() {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(10));
    let n = notifier(Arc::new(MemoryStore::new()), &jira, Duration::from_secs(60));
    setup(&n).await;

    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await; // the index has caught up
    assert!(jira.set_status(key_of(&first), StatusCategory::Done));
    tokio::time::sleep(Duration::from_secs(1)).await; // the index still shows it open
    let next = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(next, Outcome::Created(_)), "{next:?}");
    assert_ne!(key_of(&next), key_of(&first));
    assert_eq!(open_keys(&jira, "login"), vec![key_of(&next).to_owned()]);
}

#[tokio::test(start_paused = true)]
async fn an_issue_found_by_label_alone_is_remembered_and_reconciled_next_time() {
    let jira = SimJira::new();
    let n = notifier(Arc::new(MemoryStore::new()), &jira, Duration::from_secs(60));
    setup(&n).await;
    // Made by someone else (another tool, an earlier install) with the test's label.
    let theirs = jira
        .add_issue("QA", "Bug", "Login broken", &[&label("login")])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(key_of(&o), theirs.key);
    let search = jira
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/search/jql"))
        .unwrap();
    assert!(search.body.unwrap().get("reconcileIssues").is_none());
    n.on_test_error(&test("login"), &failed()).await.unwrap();
    let search = jira
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/search/jql"))
        .unwrap();
    assert_eq!(
        search.body.unwrap()["reconcileIssues"],
        serde_json::json!([theirs.id.parse::<u64>().unwrap()])
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_reports_in_one_process_share_one_trip() {
    let jira = SimJira::new();
    jira.set_latency(Duration::from_millis(50));
    let n = notifier(Arc::new(MemoryStore::new()), &jira, Duration::from_secs(60));
    setup(&n).await;
    let before = jira.request_count();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let n = n.clone();
        tasks.spawn(async move { n.on_test_error(&test("login"), &failed()).await.unwrap() });
    }
    let mut created = 0;
    let mut keys = std::collections::BTreeSet::new();
    while let Some(o) = tasks.join_next().await {
        let o = o.unwrap();
        created += matches!(o, Outcome::Created(_)) as usize;
        keys.insert(key_of(&o).to_owned());
    }
    assert_eq!(created, 1);
    assert_eq!(keys.len(), 1);
    assert_eq!(
        jira.request_count() - before,
        2,
        "one search and one create for all 20"
    );
}
