//! The host's persistence: [`ConfigStore`], and the two stores the crate ships.

mod claims;
mod file;
mod ids;
mod memory;

pub use self::claims::LocalClaims;
pub use self::file::FileStore;
pub use self::ids::{ClaimOwner, TestId, WorkspaceId};
pub use self::memory::MemoryStore;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::health::{Health, HealthEvent};
use crate::lifecycle::{TestState, Versioned};
use crate::noise::WorkspaceState;
use crate::settings::{SavedOverride, SavedSettings};

/// The last issue the notifier made (or found) for a test, remembered so that a repeat
/// failure is checked on current data even while Jira's search still lags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IssueRecord {
    /// The issue's numeric id (what `reconcileIssues` takes).
    pub issue_id: String,
    /// The issue's key, e.g. `QA-12`.
    pub issue_key: String,
    /// The test label the issue carries.
    pub label: String,
}

impl IssueRecord {
    /// A record from the issue's id and key and the test label it carries.
    pub fn new(
        issue_id: impl Into<String>,
        issue_key: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        IssueRecord {
            issue_id: issue_id.into(),
            issue_key: issue_key.into(),
            label: label.into(),
        }
    }
}

/// The answer to [`ConfigStore::claim_create`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller holds the claim until it releases it or the lease runs out. `record` is
    /// the test's record as it stands now (another replica may have just written it).
    Granted {
        /// The test's current record.
        record: Option<IssueRecord>,
    },
    /// Another notifier holds the claim.
    Busy {
        /// The test's current record.
        record: Option<IssueRecord>,
        /// How long the holder's lease still runs, by the store's clock.
        expires_in: Duration,
    },
}

/// Everything one failure report reads from the store.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TestContext {
    /// The connection, if connected.
    pub connection: Option<Connection>,
    /// The saved settings, if any.
    pub settings: Option<SavedSettings>,
    /// The test's override, if any.
    pub test_override: Option<SavedOverride>,
    /// The last issue made for the test, if any.
    pub record: Option<IssueRecord>,
    /// The test's life between reports (see [`ConfigStore::load_test_state`]).
    pub state: Versioned<TestState>,
}

impl TestContext {
    /// What a store read for a report: the connection, the settings, the test's override
    /// and its record.
    pub fn new(
        connection: Option<Connection>,
        settings: Option<SavedSettings>,
        test_override: Option<SavedOverride>,
        record: Option<IssueRecord>,
    ) -> Self {
        TestContext {
            connection,
            settings,
            test_override,
            record,
            state: Versioned::default(),
        }
    }

    /// The test's state as read with the rest.
    pub fn with_state(mut self, state: Versioned<TestState>) -> Self {
        self.state = state;
        self
    }
}

/// What kind of store failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or written (I/O, a lost database connection):
    /// worth retrying.
    Unavailable,
    /// What the store holds cannot be read back (a corrupt file): a person must look.
    Corrupt,
}

/// A failure of the host's store.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// A store error of a kind, with a description (never put a secret in it).
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The store could not be reached: worth retrying.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Unavailable, message)
    }

    /// The stored data cannot be read back.
    pub fn corrupt(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Corrupt, message)
    }

    /// Keeps the underlying error as the source.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

/// The host's persistence for the notifier: the connection (with the client secret),
/// the settings, per-test overrides and the last issue made per test.
///
/// Implement it on the host's own database; every method is a single read or write of
/// one value, so a table with a key column and a JSON column does. The secret is in
/// [`Connection::credentials`]: how it is kept (encrypted column, secret manager) is the
/// host's choice. Methods with a default body may be overridden to save round trips.
#[async_trait]
pub trait ConfigStore: Send + Sync + fmt::Debug {
    /// The saved connection, if any.
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError>;
    /// Saves the connection, replacing any other.
    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    /// Removes the connection and its credentials.
    async fn delete_connection(&self) -> Result<(), StoreError>;

    /// The saved settings, if any.
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError>;
    /// Saves the settings, replacing any others.
    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError>;
    /// Removes the settings.
    async fn delete_settings(&self) -> Result<(), StoreError>;

    /// A test's override, if any.
    async fn load_override(&self, test: &TestId) -> Result<Option<SavedOverride>, StoreError>;
    /// Saves a test's override.
    async fn save_override(&self, test: &TestId, value: &SavedOverride) -> Result<(), StoreError>;
    /// Removes a test's override.
    async fn delete_override(&self, test: &TestId) -> Result<(), StoreError>;

    /// The last issue made for a test, if any.
    async fn load_record(&self, test: &TestId) -> Result<Option<IssueRecord>, StoreError>;
    /// Remembers the last issue made for a test.
    async fn save_record(&self, test: &TestId, record: &IssueRecord) -> Result<(), StoreError>;

    /// The integration's health as recorded ([`Health::default`] when nothing is).
    ///
    /// Kept apart from the settings (its own key, row or member), so that a failure
    /// report never rewrites the settings a person may be saving at that moment. See
    /// [`JiraNotifier::health`](crate::JiraNotifier::health).
    async fn load_health(&self) -> Result<Health, StoreError>;

    /// Applies a health event to the stored health, as [`Health::apply`] does, in one
    /// atomic step: replicas sharing the store record events concurrently, and none may
    /// be lost to another's read-modify-write (a lock, a transaction, or one conditional
    /// statement per event kind).
    ///
    /// Required rather than defaulted on purpose: a default that kept nothing would make
    /// every host's settings screen say "ok" while Jira refuses every issue.
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError>;

    /// Claims the right to create the test's issue, for `lease` at most, as `owner`.
    ///
    /// Must be atomic across every process sharing the store: granted to one caller while
    /// its lease runs, whatever others ask. Measure the lease with the store's own clock
    /// (the database's `now()`), so clocks that differ between replicas cannot shorten
    /// it. Granting to the holder again renews its lease. Read the test's record *after*
    /// taking the claim (in a later statement), and return it in the answer.
    ///
    /// There is no default body: a store used by one process only can delegate to
    /// [`LocalClaims`]; a store shared by several processes must take the claim in the
    /// shared database (see the README's "Running several replicas" for the SQL).
    async fn claim_create(
        &self,
        test: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError>;

    /// Saves the record of the issue just made (if any) and then releases `owner`'s claim,
    /// ideally in one transaction: the record must be in place before another notifier
    /// can claim. Releasing a claim that `owner` no longer holds must leave it alone.
    async fn release_create(
        &self,
        test: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError>;

    /// The test's life between reports, with its version (version 0 and the default state
    /// when none is stored). Written only when a [`Lifecycle`](crate::Lifecycle) policy
    /// needs it (repeat comments, pass policies): the defaults never write it.
    async fn load_test_state(&self, test: &TestId) -> Result<Versioned<TestState>, StoreError>;

    /// Replaces the test's state with `state` at version `expected + 1`, if and only if the
    /// stored version is still `expected` (0: nothing stored); answers whether it did.
    ///
    /// Must be atomic across every process sharing the store (one conditional statement,
    /// `UPDATE … WHERE version = $expected`, or an insert that fails on conflict when
    /// `expected` is 0): it is how replicas agree on who posts a repeat comment, as
    /// [`claim_create`](Self::claim_create) is for creates. Keep `state` as it serialises
    /// (JSON); its content is the crate's.
    ///
    /// Required rather than defaulted: a default that swapped without checking would let
    /// two replicas both post the comment of one interval.
    async fn swap_test_state(
        &self,
        test: &TestId,
        expected: u64,
        state: &TestState,
    ) -> Result<bool, StoreError>;

    /// The workspace's state between reports (what the storm guard counts), with its
    /// version (version 0 and the default state when none is stored). Read and written
    /// only while the policy [`Noise::storm_limit`](crate::Noise::storm_limit) is on.
    async fn load_workspace_state(&self) -> Result<Versioned<WorkspaceState>, StoreError>;

    /// Replaces the workspace's state with `state` at version `expected + 1`, if and only
    /// if the stored version is still `expected` (0: nothing stored); answers whether it
    /// did. Atomic across every process sharing the store, as
    /// [`swap_test_state`](Self::swap_test_state): it is how replicas agree on which
    /// failures still file their own issue in a storm and which join its umbrella.
    ///
    /// Required rather than defaulted, for the same reason as `swap_test_state`.
    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &WorkspaceState,
    ) -> Result<bool, StoreError>;

    /// Everything a failure report needs, in one call. The default makes five reads; a
    /// store that can answer in one round trip should override it.
    async fn load_test_context(&self, test: &TestId) -> Result<TestContext, StoreError> {
        let Some(connection) = self.load_connection().await? else {
            return Ok(TestContext::default());
        };
        Ok(TestContext {
            connection: Some(connection),
            settings: self.load_settings().await?,
            test_override: self.load_override(test).await?,
            record: self.load_record(test).await?,
            state: self.load_test_state(test).await?,
        })
    }
}
