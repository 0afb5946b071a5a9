//! A store that keeps everything in memory: for tests, examples and hosts that persist
//! nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{ConfigStore, IssueRecord, StoreError, TestContext};
use crate::connection::Connection;
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
    async fn load_test_context(&self, test_id: &str) -> Result<TestContext, StoreError> {
        self.with(|s| TestContext {
            connection: s.connection.clone(),
            settings: s.settings.clone(),
            test_override: s.overrides.get(test_id).cloned(),
            record: s.records.get(test_id).cloned(),
        })
    }
}
