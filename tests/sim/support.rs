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

/// `n` PostgreSQL stores, each its own connection, on tables of their own (prefix `jn_{tag}_…`,
/// so that runs and other tests never meet); `None`, after saying so, when PostgreSQL is not
/// available (`JIRA_NOTIFIER_PG` unset), unless `JIRA_NOTIFIER_PG_REQUIRED` says it must be.
pub async fn postgres_stores(tag: &str, n: usize) -> Option<Vec<Arc<dyn ConfigStore>>> {
    let Ok(config) = std::env::var("JIRA_NOTIFIER_PG") else {
        assert!(
            std::env::var("JIRA_NOTIFIER_PG_REQUIRED").is_err(),
            "JIRA_NOTIFIER_PG_REQUIRED is set but JIRA_NOTIFIER_PG is not"
        );
        eprintln!("skipped: PostgreSQL not available (set JIRA_NOTIFIER_PG, see README)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let prefix = format!("jn_{tag}_{:x}_", nanos ^ std::process::id());
    let mut stores: Vec<Arc<dyn ConfigStore>> = Vec::new();
    for _ in 0..n {
        let store = jira_notifier_postgres::PostgresStore::connect(&config)
            .await
            .expect("PostgreSQL")
            .with_table_prefix(&prefix);
        stores.push(Arc::new(store));
    }
    Some(stores)
}
