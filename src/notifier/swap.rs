//! The compare-and-swap loop both kinds of state go through: a test's state (its repeat
//! comments, passes, threshold) and the workspace's (the storm guard). The store only
//! compares versions; the change itself is the crate's, applied again to what the store
//! holds after each lost swap.

use async_trait::async_trait;

use crate::lifecycle::Versioned;
use crate::store::{ConfigStore, StoreError, TestId};

/// One versioned value in the store.
#[async_trait]
pub(super) trait Cell: Sync {
    type Value: Clone + PartialEq + Send + Sync;
    /// How many lost swaps are borne before giving up (as a passing store failure).
    const MAX_SWAPS: usize;
    async fn load(&self) -> Result<Versioned<Self::Value>, StoreError>;
    async fn swap(&self, expected: u64, value: &Self::Value) -> Result<bool, StoreError>;
}

/// A test's state.
pub(super) struct TestCell<'a> {
    pub store: &'a dyn ConfigStore,
    pub test: &'a TestId,
}

#[async_trait]
impl Cell for TestCell<'_> {
    type Value = crate::lifecycle::TestState;
    // Far more than replicas can collide on one test.
    const MAX_SWAPS: usize = 64;
    async fn load(&self) -> Result<Versioned<Self::Value>, StoreError> {
        self.store.load_test_state(self.test).await
    }
    async fn swap(&self, expected: u64, value: &Self::Value) -> Result<bool, StoreError> {
        self.store.swap_test_state(self.test, expected, value).await
    }
}

/// The workspace's state.
pub(super) struct WorkspaceCell<'a> {
    pub store: &'a dyn ConfigStore,
}

#[async_trait]
impl Cell for WorkspaceCell<'_> {
    type Value = crate::noise::WorkspaceState;
    // Every replica of the workspace swaps this one value in a storm (a process's own
    // reports take turns before they get here).
    const MAX_SWAPS: usize = 256;
    async fn load(&self) -> Result<Versioned<Self::Value>, StoreError> {
        self.store.load_workspace_state().await
    }
    async fn swap(&self, expected: u64, value: &Self::Value) -> Result<bool, StoreError> {
        self.store.swap_workspace_state(expected, value).await
    }
}

/// Applies `change` to the value by compare-and-swap, starting from `state` as read (and
/// reading again after each lost swap). Returns what `change` said on the swap that won,
/// and the value as it now stands. A change that changes nothing writes nothing.
pub(super) async fn swap_until<C: Cell, T>(
    cell: &C,
    mut state: Versioned<C::Value>,
    mut change: impl FnMut(&mut C::Value) -> T,
) -> Result<(T, Versioned<C::Value>), StoreError> {
    for _ in 0..C::MAX_SWAPS {
        let mut next = state.value.clone();
        let out = change(&mut next);
        if next == state.value {
            return Ok((out, state));
        }
        if cell.swap(state.version, &next).await? {
            return Ok((out, Versioned::new(state.version + 1, next)));
        }
        state = cell.load().await?;
    }
    Err(StoreError::unavailable(
        "the stored state kept changing under this notifier; try again",
    ))
}
