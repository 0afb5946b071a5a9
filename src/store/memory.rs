//! A store that keeps everything in memory: for tests, examples and hosts that persist
//! nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    Claim, ClaimOwner, ConfigStore, IssueRecord, LocalClaims, StoreError, TestContext, TestId,
    WorkspaceId,
};
use crate::connection::Connection;
use crate::health::{Health, HealthEvent};
use crate::lifecycle::{TestState, Versioned};
use crate::noise::WorkspaceState;
use crate::settings::{SavedOverride, SavedSettings};

/// A [`ConfigStore`] in memory. Cheap to create; share it with `Arc` between notifiers
/// to model several workers on one database.
///
/// It serves many workspaces: [`MemoryStore::workspace`] hands out a handle on another
/// workspace of the same memory. Each workspace has its own lock, so workspaces never wait
/// for each other.
pub struct MemoryStore {
    /// Every workspace of this memory, by id.
    spaces: Arc<Mutex<HashMap<WorkspaceId, Arc<Space>>>>,
    /// This handle's workspace.
    space: Arc<Space>,
    id: WorkspaceId,
}

#[derive(Debug, Default)]
struct Space {
    state: Mutex<State>,
    claims: LocalClaims,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("workspace", &self.id)
            .field("state", &self.space.state)
            .field("claims", &self.space.claims)
            .finish()
    }
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Connection>,
    settings: Option<SavedSettings>,
    overrides: HashMap<TestId, SavedOverride>,
    records: HashMap<TestId, IssueRecord>,
    states: HashMap<TestId, Versioned<TestState>>,
    workspace_state: Versioned<WorkspaceState>,
    health: Health,
}

impl MemoryStore {
    /// An empty store, on the default workspace.
    pub fn new() -> Self {
        let space = Arc::new(Space::default());
        let spaces = HashMap::from([(WorkspaceId::default(), Arc::clone(&space))]);
        MemoryStore {
            spaces: Arc::new(Mutex::new(spaces)),
            space,
            id: WorkspaceId::default(),
        }
    }

    /// A handle on another workspace of the same memory: every read and write of the
    /// handle belongs to `workspace` alone. Handles on one workspace share its data.
    pub fn workspace(&self, workspace: &WorkspaceId) -> MemoryStore {
        let space = {
            let mut spaces = self.spaces.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(spaces.entry(workspace.clone()).or_default())
        };
        MemoryStore {
            spaces: Arc::clone(&self.spaces),
            space,
            id: workspace.clone(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, StoreError> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep serving it.
        let mut guard = self.space.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut guard))
    }
}

#[async_trait]
impl ConfigStore for MemoryStore {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        self.with(|s| s.connection.clone())
    }
    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.with(|s| s.connection = Some(connection.clone()))
    }
    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.with(|s| s.connection = None)
    }
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        self.with(|s| s.settings.clone())
    }
    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        self.with(|s| s.settings = Some(settings.clone()))
    }
    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.with(|s| s.settings = None)
    }
    async fn load_override(&self, test_id: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        self.with(|s| s.overrides.get(test_id).cloned())
    }
    async fn save_override(
        &self,
        test_id: &TestId,
        value: &SavedOverride,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            s.overrides.insert(test_id.clone(), value.clone());
        })
    }
    async fn delete_override(&self, test_id: &TestId) -> Result<(), StoreError> {
        self.with(|s| {
            s.overrides.remove(test_id);
        })
    }
    async fn load_record(&self, test_id: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        self.with(|s| s.records.get(test_id).cloned())
    }
    async fn save_record(&self, test_id: &TestId, record: &IssueRecord) -> Result<(), StoreError> {
        self.with(|s| {
            s.records.insert(test_id.clone(), record.clone());
        })
    }
    async fn load_health(&self) -> Result<Health, StoreError> {
        self.with(|s| s.health.clone())
    }
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        self.with(|s| s.health.apply(event))
    }
    async fn claim_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        // Claim first, then read the record: a release writes the record before it frees
        // the claim, so whoever is granted the claim next reads the holder's record.
        let busy = self.space.claims.claim(test_id, owner, lease);
        let record = self.with(|s| s.records.get(test_id).cloned())?;
        Ok(match busy {
            None => Claim::Granted { record },
            Some(expires_in) => Claim::Busy { record, expires_in },
        })
    }
    async fn release_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        if let Some(r) = record {
            self.with(|s| s.records.insert(test_id.clone(), r.clone()))?;
        }
        self.space.claims.release(test_id, owner);
        Ok(())
    }
    async fn load_test_context(&self, test_id: &TestId) -> Result<TestContext, StoreError> {
        self.with(|s| TestContext {
            connection: s.connection.clone(),
            settings: s.settings.clone(),
            test_override: s.overrides.get(test_id).cloned(),
            record: s.records.get(test_id).cloned(),
            state: s.states.get(test_id).cloned().unwrap_or_default(),
        })
    }
    async fn load_test_state(&self, test_id: &TestId) -> Result<Versioned<TestState>, StoreError> {
        self.with(|s| s.states.get(test_id).cloned().unwrap_or_default())
    }
    async fn swap_test_state(
        &self,
        test_id: &TestId,
        expected: u64,
        state: &TestState,
    ) -> Result<bool, StoreError> {
        self.with(|s| {
            let current = s.states.get(test_id).map_or(0, |v| v.version);
            if current != expected {
                return false;
            }
            s.states
                .insert(test_id.clone(), Versioned::new(expected + 1, state.clone()));
            true
        })
    }
    async fn load_workspace_state(&self) -> Result<Versioned<WorkspaceState>, StoreError> {
        self.with(|s| s.workspace_state.clone())
    }
    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &WorkspaceState,
    ) -> Result<bool, StoreError> {
        self.with(|s| {
            if s.workspace_state.version != expected {
                return false;
            }
            s.workspace_state = Versioned::new(expected + 1, state.clone());
            true
        })
    }
}

#[cfg(test)]
mod tests {
    fn tid(id: impl AsRef<str>) -> TestId {
        TestId::new(id.as_ref())
    }

    use super::*;

    fn record(key: &str) -> IssueRecord {
        IssueRecord {
            issue_id: "10001".into(),
            issue_key: key.into(),
            label: "l".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_holder_at_a_time_until_the_lease_runs_out() {
        let s = MemoryStore::new();
        let lease = Duration::from_secs(30);
        assert_eq!(
            s.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
                .await
                .unwrap(),
            Claim::Granted { record: None }
        );
        match s
            .claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
            .await
            .unwrap()
        {
            Claim::Busy {
                record: None,
                expires_in,
            } => assert_eq!(expires_in, lease),
            other => panic!("b got {other:?}"),
        }
        // The holder renews; another test is free.
        assert!(matches!(
            s.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            s.claim_create(&tid("u"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(matches!(
            s.claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn claims_of_holders_that_died_are_swept_out() {
        let s = MemoryStore::new();
        for i in 0..5_000 {
            s.claim_create(
                &tid(format!("t{i}")),
                &ClaimOwner::new("dead"),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        // The map may grow to twice its size at the last sweep; then the dead go.
        for i in 0..4_000 {
            s.claim_create(
                &tid(format!("u{i}")),
                &ClaimOwner::new("alive"),
                Duration::MAX,
            )
            .await
            .unwrap();
        }
        let kept = s.space.claims.len();
        assert_eq!(kept, 4_000, "only the live claims are kept");
    }

    #[tokio::test]
    async fn release_records_first_and_only_frees_the_own_claim() {
        let s = MemoryStore::new();
        let lease = Duration::from_secs(30);
        s.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
            .await
            .unwrap();
        s.release_create(&tid("t"), &ClaimOwner::new("b"), Some(&record("QA-1")))
            .await
            .unwrap();
        // b's release saved its record but did not free a's claim.
        match s
            .claim_create(&tid("t"), &ClaimOwner::new("c"), lease)
            .await
            .unwrap()
        {
            Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
            other => panic!("c got {other:?}"),
        }
        s.release_create(&tid("t"), &ClaimOwner::new("a"), None)
            .await
            .unwrap();
        assert_eq!(
            s.claim_create(&tid("t"), &ClaimOwner::new("c"), lease)
                .await
                .unwrap(),
            Claim::Granted {
                record: Some(record("QA-1"))
            }
        );
    }

    #[tokio::test]
    async fn workspaces_of_one_memory_never_see_each_other() {
        let default = MemoryStore::new();
        let acme = default.workspace(&WorkspaceId::new("acme"));
        let again = default.workspace(&WorkspaceId::new("acme"));
        acme.save_record(&tid("t"), &record("ACME-1"))
            .await
            .unwrap();
        assert_eq!(
            again.load_record(&tid("t")).await.unwrap(),
            Some(record("ACME-1"))
        );
        assert_eq!(default.load_record(&tid("t")).await.unwrap(), None);
        assert_eq!(
            default
                .workspace(&WorkspaceId::default())
                .load_record(&tid("t"))
                .await
                .unwrap(),
            None
        );
        // A claim in one workspace leaves the same test free in another.
        let owner = ClaimOwner::new("a");
        assert!(matches!(
            acme.claim_create(&tid("t"), &owner, Duration::from_secs(60))
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            default
                .claim_create(&tid("t"), &ClaimOwner::new("b"), Duration::from_secs(60))
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            again
                .claim_create(&tid("t"), &ClaimOwner::new("b"), Duration::from_secs(60))
                .await
                .unwrap(),
            Claim::Busy { .. }
        ));
    }
}
