//! A store that keeps everything in memory: for tests, examples and hosts that persist
//! nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;

use super::{Claim, ConfigStore, IssueRecord, StoreError, TestContext};
use crate::connection::Connection;
use crate::health::{Health, HealthEvent};
use crate::settings::{SavedOverride, SavedSettings};

/// A [`ConfigStore`] in memory. Cheap to create; share it with `Arc` between notifiers
/// to model several workers on one database.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Connection>,
    settings: Option<SavedSettings>,
    overrides: HashMap<String, SavedOverride>,
    records: HashMap<String, IssueRecord>,
    health: Health,
    /// Create claims by test id: owner and when the lease runs out.
    claims: HashMap<String, (String, Instant)>,
    /// When the claims map grows past this, expired claims (of holders that died) are
    /// swept out. Doubling it keeps sweeping rare: a claim costs O(1), not O(claims).
    sweep_at: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, StoreError> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep serving it.
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
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
    async fn load_override(&self, test_id: &str) -> Result<Option<SavedOverride>, StoreError> {
        self.with(|s| s.overrides.get(test_id).cloned())
    }
    async fn save_override(&self, test_id: &str, value: &SavedOverride) -> Result<(), StoreError> {
        self.with(|s| {
            s.overrides.insert(test_id.to_owned(), value.clone());
        })
    }
    async fn delete_override(&self, test_id: &str) -> Result<(), StoreError> {
        self.with(|s| {
            s.overrides.remove(test_id);
        })
    }
    async fn load_record(&self, test_id: &str) -> Result<Option<IssueRecord>, StoreError> {
        self.with(|s| s.records.get(test_id).cloned())
    }
    async fn save_record(&self, test_id: &str, record: &IssueRecord) -> Result<(), StoreError> {
        self.with(|s| {
            s.records.insert(test_id.to_owned(), record.clone());
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
        test_id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        self.with(|s| {
            let now = Instant::now();
            let record = s.records.get(test_id).cloned();
            if s.claims.len() >= s.sweep_at.max(1024) {
                s.claims.retain(|_, (_, until)| *until > now);
                s.sweep_at = s.claims.len() * 2;
            }
            match s.claims.get(test_id) {
                Some((holder, until)) if holder != owner && *until > now => Claim::Busy {
                    record,
                    expires_in: *until - now,
                },
                _ => {
                    // A lease too long for the clock is as good as for ever.
                    let until = now
                        .checked_add(lease)
                        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
                    s.claims
                        .insert(test_id.to_owned(), (owner.to_owned(), until));
                    Claim::Granted { record }
                }
            }
        })
    }
    async fn release_create(
        &self,
        test_id: &str,
        owner: &str,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(r) = record {
                s.records.insert(test_id.to_owned(), r.clone());
            }
            if s.claims
                .get(test_id)
                .is_some_and(|(holder, _)| holder == owner)
            {
                s.claims.remove(test_id);
            }
        })
    }
    async fn load_test_context(&self, test_id: &str) -> Result<TestContext, StoreError> {
        self.with(|s| TestContext {
            connection: s.connection.clone(),
            settings: s.settings.clone(),
            test_override: s.overrides.get(test_id).cloned(),
            record: s.records.get(test_id).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
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
            s.claim_create("t", "a", lease).await.unwrap(),
            Claim::Granted { record: None }
        );
        match s.claim_create("t", "b", lease).await.unwrap() {
            Claim::Busy {
                record: None,
                expires_in,
            } => assert_eq!(expires_in, lease),
            other => panic!("b got {other:?}"),
        }
        // The holder renews; another test is free.
        assert!(matches!(
            s.claim_create("t", "a", lease).await.unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            s.claim_create("u", "b", lease).await.unwrap(),
            Claim::Granted { .. }
        ));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(matches!(
            s.claim_create("t", "b", lease).await.unwrap(),
            Claim::Granted { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn claims_of_holders_that_died_are_swept_out() {
        let s = MemoryStore::new();
        for i in 0..5_000 {
            s.claim_create(&format!("t{i}"), "dead", Duration::from_secs(1))
                .await
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        // The map may grow to twice its size at the last sweep; then the dead go.
        for i in 0..4_000 {
            s.claim_create(&format!("u{i}"), "alive", Duration::MAX)
                .await
                .unwrap();
        }
        let kept = s.state.lock().unwrap().claims.len();
        assert_eq!(kept, 4_000, "only the live claims are kept");
    }

    #[tokio::test]
    async fn release_records_first_and_only_frees_the_own_claim() {
        let s = MemoryStore::new();
        let lease = Duration::from_secs(30);
        s.claim_create("t", "a", lease).await.unwrap();
        s.release_create("t", "b", Some(&record("QA-1")))
            .await
            .unwrap();
        // b's release saved its record but did not free a's claim.
        match s.claim_create("t", "c", lease).await.unwrap() {
            Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
            other => panic!("c got {other:?}"),
        }
        s.release_create("t", "a", None).await.unwrap();
        assert_eq!(
            s.claim_create("t", "c", lease).await.unwrap(),
            Claim::Granted {
                record: Some(record("QA-1"))
            }
        );
    }
}
