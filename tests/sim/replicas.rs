//! Several notifiers (replicas: each its own transport and token cache) sharing one store,
//! against a Jira whose search lags by seconds, all reporting the same tests at once:
//! exactly one open issue per test, for every store. Real time: the file and PostgreSQL
//! stores do real I/O, which tokio's paused clock would skip over.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jira_notifier::{
    Claim, ClaimOwner, ConfigStore, Connection, Error, FileStore, Health, HealthEvent, IssueRecord,
    MemoryStore, Outcome, SavedOverride, SavedSettings, StoreError, TestContext, TestId,
};
use jira_notifier_sim::{SimJira, StatusCategory};

use crate::support::*;

const LAG: Duration = Duration::from_millis(1500);
const LEASE: Duration = Duration::from_secs(4);

/// A Jira whose search lags and whose answers take a round trip.
fn lagging_jira() -> SimJira {
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    jira.set_latency(Duration::from_millis(20));
    jira
}

/// Every notifier reports every test twice, all at once, for a few rounds; between rounds
/// someone closes every issue. Each round must end with exactly one open issue per test,
/// named by every report of it.
async fn storm(jira: &SimJira, stores: Vec<Arc<dyn ConfigStore>>, tests: usize, rounds: usize) {
    let notifiers: Vec<_> = stores
        .into_iter()
        .map(|store| notifier(store, jira, LEASE))
        .collect();
    setup(&notifiers[0]).await;

    for round in 0..rounds {
        let mut tasks = tokio::task::JoinSet::new();
        for n in &notifiers {
            for t in 0..tests {
                for _ in 0..2 {
                    let n = n.clone();
                    tasks.spawn(async move {
                        let id = format!("t{t}");
                        (id.clone(), n.on_test_error(&test(&id), &failed()).await)
                    });
                }
            }
        }
        let mut seen: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        let mut created = 0;
        while let Some(done) = tasks.join_next().await {
            let (id, result) = done.unwrap();
            let o = result.unwrap_or_else(|e| panic!("round {round}, {id}: {e}"));
            created += matches!(o, Outcome::Created(_)) as usize;
            seen.entry(id).or_default().insert(key_of(&o).to_owned());
        }
        assert_eq!(created, tests, "round {round}: one create per test");
        for t in 0..tests {
            let id = format!("t{t}");
            let open = open_keys(jira, &id);
            assert_eq!(open.len(), 1, "round {round}, {id}: open issues {open:?}");
            assert_eq!(
                seen[&id],
                open.into_iter().collect(),
                "round {round}, {id}: every report names the one issue"
            );
        }
        for issue in jira.issues() {
            jira.set_status(&issue.key, StatusCategory::Done);
        }
    }
    assert_eq!(jira.issues().len(), tests * rounds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_eight_replicas() {
    let store: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    storm(&lagging_jira(), vec![store; 8], 6, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_eight_replicas_each_with_its_own_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // One FileStore per replica, as separate processes would have: they meet only in the
    // file and its OS lock.
    let stores = (0..8)
        .map(|_| Arc::new(FileStore::open(&path).unwrap()) as Arc<dyn ConfigStore>)
        .collect();
    storm(&lagging_jira(), stores, 4, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_eight_replicas_each_with_its_own_connection() {
    let Some(stores) = postgres_stores("replicas", 8).await else {
        return;
    };
    storm(&lagging_jira(), stores, 4, 2).await;
}

/// A store whose next release with a record "crashes": the issue was created, but its
/// record is never written and the claim never released, as when a replica dies there.
#[derive(Debug)]
struct DiesAfterCreate {
    inner: Arc<dyn ConfigStore>,
    armed: AtomicBool,
}

#[async_trait]
impl ConfigStore for DiesAfterCreate {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        self.inner.load_connection().await
    }
    async fn save_connection(&self, c: &Connection) -> Result<(), StoreError> {
        self.inner.save_connection(c).await
    }
    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.inner.delete_connection().await
    }
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        self.inner.load_settings().await
    }
    async fn save_settings(&self, s: &SavedSettings) -> Result<(), StoreError> {
        self.inner.save_settings(s).await
    }
    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.inner.delete_settings().await
    }
    async fn load_override(&self, id: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        self.inner.load_override(id).await
    }
    async fn save_override(&self, id: &TestId, o: &SavedOverride) -> Result<(), StoreError> {
        self.inner.save_override(id, o).await
    }
    async fn delete_override(&self, id: &TestId) -> Result<(), StoreError> {
        self.inner.delete_override(id).await
    }
    async fn load_record(&self, id: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        self.inner.load_record(id).await
    }
    async fn save_record(&self, id: &TestId, r: &IssueRecord) -> Result<(), StoreError> {
        self.inner.save_record(id, r).await
    }
    async fn load_test_context(&self, id: &TestId) -> Result<TestContext, StoreError> {
        self.inner.load_test_context(id).await
    }
    async fn load_health(&self) -> Result<Health, StoreError> {
        self.inner.load_health().await
    }
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        self.inner.record_health(event).await
    }
    async fn claim_create(
        &self,
        id: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        self.inner.claim_create(id, owner, lease).await
    }
    async fn load_test_state(
        &self,
        id: &TestId,
    ) -> Result<jira_notifier::Versioned<jira_notifier::TestState>, StoreError> {
        self.inner.load_test_state(id).await
    }
    async fn load_workspace_state(
        &self,
    ) -> Result<jira_notifier::Versioned<jira_notifier::WorkspaceState>, StoreError> {
        self.inner.load_workspace_state().await
    }
    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &jira_notifier::WorkspaceState,
    ) -> Result<bool, StoreError> {
        self.inner.swap_workspace_state(expected, state).await
    }
    async fn swap_test_state(
        &self,
        id: &TestId,
        expected: u64,
        state: &jira_notifier::TestState,
    ) -> Result<bool, StoreError> {
        self.inner.swap_test_state(id, expected, state).await
    }
    async fn release_create(
        &self,
        id: &TestId,
        owner: &ClaimOwner,
        r: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        if r.is_some() && self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::corrupt(
                "simulated crash before the record was written",
            ));
        }
        self.inner.release_create(id, owner, r).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_dies_mid_create_loses_no_test_and_causes_no_duplicate() {
    let shared: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let jira = SimJira::new();
    jira.set_search_lag(LAG);
    let dying = notifier(
        Arc::new(DiesAfterCreate {
            inner: shared.clone(),
            armed: AtomicBool::new(true),
        }),
        &jira,
        LEASE,
    );
    let survivor = notifier(shared.clone(), &jira, LEASE);
    setup(&survivor).await;

    // The create lands; the record never does; the claim stays until its lease runs out.
    let e = dying
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    let Error::RecordNotSaved { issue, .. } = &e else {
        panic!("expected RecordNotSaved, got {e:?}");
    };
    assert_eq!(open_keys(&jira, "login"), vec![issue.key.clone()]);

    // The survivor, at once: search lags, so it cannot see the issue; the claim is held,
    // so it waits; when the lease runs out it takes over and searches again (the lag has
    // passed by then) before creating: it finds the issue.
    let started = std::time::Instant::now();
    let o = survivor
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap();
    assert_eq!(o, Outcome::Duplicate(issue.clone()));
    assert!(
        started.elapsed() >= LEASE - Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(jira.issues().len(), 1);
    // The survivor recorded it: the next report is one reconciled search.
    assert_eq!(
        shared
            .load_record(&tid("login"))
            .await
            .unwrap()
            .unwrap()
            .issue_key,
        issue.key
    );
    let before = jira.request_count();
    assert_eq!(
        survivor
            .on_test_error(&test("login"), &failed())
            .await
            .unwrap(),
        Outcome::Duplicate(issue.clone())
    );
    assert_eq!(jira.request_count() - before, 1);
}
