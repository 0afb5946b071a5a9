//! Building notifiers on the simulated Jira.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    ConfigStore, Credentials, JiraNotifier, Outcome, RetryPolicy, Settings, TestInfo, TestStatus,
};
use jira_notifier_sim::{SimJira, StatusCategory};

/// Short retry delays; a write lookback that outlasts the simulated search lag.
pub fn policy(lookback: Duration) -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(200))
        .with_write_lookback(lookback)
}

/// A notifier on `store`, with its own token cache, talking to `jira`.
pub fn notifier(store: Arc<dyn ConfigStore>, jira: &SimJira, lease: Duration) -> JiraNotifier {
    JiraNotifier::builder(store)
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(8)))
        .create_lease(lease)
        .build()
        .expect("notifier")
}

/// Connects through `notifier` and saves settings for project QA.
pub async fn setup(notifier: &JiraNotifier) {
    notifier
        .connect(Credentials::new(
            SimJira::CLIENT_ID,
            SimJira::CLIENT_SECRET.to_owned(),
        ))
        .await
        .expect("connect");
    notifier
        .save_settings(Settings::new("QA"))
        .await
        .expect("settings");
}

pub fn test(id: &str) -> TestInfo {
    TestInfo::new(
        id,
        format!("Test {id}"),
        format!("https://testclix.example/tests/{id}"),
    )
}

pub fn failed() -> TestStatus {
    TestStatus::error("expected 200, got 500")
}

/// The label the notifier gives a plain lower-case test id with the default prefix.
pub fn label(id: &str) -> String {
    format!("testclix-{id}")
}

/// The open issues Jira holds for a test, on current data.
pub fn open_keys(jira: &SimJira, id: &str) -> Vec<String> {
    let mut keys: Vec<String> = jira
        .issues()
        .into_iter()
        .filter(|i| i.status_category != StatusCategory::Done && i.labels.contains(&label(id)))
        .map(|i| i.key)
        .collect();
    keys.sort();
    keys
}

pub fn key_of(o: &Outcome) -> &str {
    &o.issue().expect("an issue").key
}

/// A test id, as the notifier hands it to a store.
pub fn tid(id: impl AsRef<str>) -> jira_notifier::TestId {
    jira_notifier::TestId::new(id.as_ref())
}
