//! A store kept in one JSON file: for the `sandbox` example and small hosts.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    Claim, ClaimOwner, ConfigStore, IssueRecord, StoreError, TestContext, TestId, WorkspaceId,
};
use crate::connection::Connection;
use crate::health::{Health, HealthEvent};
use crate::lifecycle::{TestState, Versioned};
use crate::noise::WorkspaceState;
use crate::settings::{SavedOverride, SavedSettings};

/// The only layout this build reads and writes.
/// The file format this build writes when the file holds the default workspace only: the
/// same as before workspaces, so an older build can still read it.
const FORMAT_VERSION: u64 = 1;
/// The format written once the file holds another workspace: older builds refuse it
/// rather than show one workspace's data as if it were the only one.
const FORMAT_VERSION_WORKSPACES: u64 = 2;

/// A [`ConfigStore`] kept in one JSON file.
///
/// # The client secret is stored in clear
///
/// The file holds the service account's **client secret as plain text**: keeping it is
/// what this store is for. On Unix the file is always written with mode `0600` (readable
/// and writable by its owner only), including when it replaces an older file that had
/// wider permissions; elsewhere it gets the platform's default permissions. Anyone who
/// can read the file can act as the service account. Hosts that need the secret
/// encrypted at rest, or kept in a secret manager, implement their own [`ConfigStore`].
///
/// # Layout
///
/// One JSON object:
///
/// ```json
/// {
///   "version": 1,
///   "connection": { "client_id": "…", "client_secret": "…", "site": { "cloud_id": "…", "name": "…", "url": "…" } },
///   // … and "credential_kind": "service_account_token" | "personal_token" | "token_source"
///   // for a credential other than client credentials (an API token's email is "client_id",
///   // the token "client_secret").
///   "settings": { … },
///   "overrides": { "<test id>": { … } },
///   "records": { "<test id>": { "issue_id": "…", "issue_key": "…", "label": "…" } },
///   "health": { "last_success": 1700000000000, "last_refusal": { … } },
///   "states": { "<test id>": { "version": 3, "state": { … } } },
///   "workspace_state": { "version": 12, "state": { … } }
/// }
/// ```
///
/// `states` (each test's life between reports, written only when a
/// [`Lifecycle`](crate::Lifecycle) policy needs it) and `health` are left out while empty;
/// `workspace_state` (what the storm guard counts, written only while
/// [`Noise::storm_limit`](crate::Noise::storm_limit) is on) is left out until its first
/// swap. A file without them is read as before (no test state, the workspace state at
/// version 0), and a file holding neither is the layout older builds read and write; an
/// older build refuses a file holding one it does not know (as it refuses any unknown
/// member), so downgrade only a store whose policies never wrote them.
/// `health` is left out until a health event is recorded (each event is applied under
/// the exclusive lock, so replicas never lose one).
///
/// `connection` and `settings` are `null` when absent. Nothing is created until the first
/// write; a missing file reads as an empty store.
///
/// # Writes
///
/// Every write reads the file, changes one value and writes the whole file again: to a
/// temporary file next to it (`<path>.tmp-…`, mode `0600` on Unix), flushed to disk, then
/// renamed over the file. A crash leaves either the old file or the new one, never a mix
/// (at worst a stray temporary file). Because the file is replaced, a symbolic link at
/// `path` is replaced by a regular file rather than followed.
///
/// # Several processes
///
/// Several `FileStore`s, in one process or in several, may share a file without losing
/// each other's updates: each write holds an exclusive OS advisory lock on a lock file
/// next to the data file (`<path>.lock`, created on the first write and never removed)
/// and re-reads the data file inside the lock; reads hold the shared lock (reads before
/// any write, with no lock file yet, take none and create nothing). The lock is
/// advisory: other programs editing the file by hand or without the lock are not kept
/// out. A process stuck while holding the lock blocks the others' writes.
///
/// # Corrupt files
///
/// A file that is not JSON, does not have the layout above or has another `version` is
/// reported as a [`StoreErrorKind::Corrupt`](super::StoreErrorKind::Corrupt) error, by
/// reads and writes alike: the file is never reset or overwritten, so that a person can
/// look at it. Errors never quote the file's content.
///
/// # Blocking
///
/// The file I/O runs on Tokio's blocking thread pool when called inside a Tokio runtime,
/// and on the calling thread otherwise.
pub struct FileStore {
    paths: Arc<Paths>,
    /// The workspace this handle reads and writes (`None`: the default one).
    workspace: Option<Arc<str>>,
}

/// Where a store's files are.
struct Paths {
    /// The data file.
    file: PathBuf,
    /// The lock file next to it.
    lock: PathBuf,
    /// The directory holding both.
    dir: PathBuf,
}

impl FileStore {
    /// A store in the JSON file at `path`. A relative path is made absolute against the
    /// current directory now, so a later change of directory does not move the store.
    ///
    /// Touches nothing on disk: the file is read at each load and created by the first
    /// write. Fails (as [`Unavailable`](super::StoreErrorKind::Unavailable)) if `path`
    /// does not name a file or the current directory cannot be found.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let given = path.into();
        let file = std::path::absolute(&given).map_err(|e| {
            StoreError::unavailable(format!(
                "cannot resolve the store file path {}",
                given.display()
            ))
            .with_source(e)
        })?;
        let (Some(name), Some(dir)) = (file.file_name(), file.parent()) else {
            return Err(StoreError::unavailable(format!(
                "the store file path {} does not name a file",
                given.display()
            )));
        };
        let mut lock_name = name.to_owned();
        lock_name.push(".lock");
        let paths = Paths {
            lock: dir.join(lock_name),
            dir: dir.to_owned(),
            file,
        };
        Ok(FileStore {
            paths: Arc::new(paths),
            workspace: None,
        })
    }

    /// A handle on the same file for another workspace: every read and write of the
    /// handle belongs to `workspace` alone. Cheap: handles share the file and its lock.
    /// The store from [`open`](FileStore::open) is the default workspace
    /// ([`WorkspaceId::DEFAULT`]), which the file keeps at its top level, as files did
    /// before workspaces.
    pub fn workspace(&self, workspace: &WorkspaceId) -> FileStore {
        FileStore {
            paths: Arc::clone(&self.paths),
            workspace: (!workspace.is_default()).then(|| Arc::from(workspace.as_str())),
        }
    }

    /// The data file's (absolute) path.
    pub fn path(&self) -> &Path {
        &self.paths.file
    }

    /// Runs `job` off the async runtime's worker threads when there is a runtime.
    async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Paths) -> Result<T, StoreError> + Send + 'static,
    {
        let paths = Arc::clone(&self.paths);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return job(&paths);
        };
        match handle.spawn_blocking(move || job(&paths)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::unavailable(format!(
                "the store file {} was not reached: the runtime is shutting down",
                self.paths.file.display()
            ))
            .with_source(e)),
        }
    }

    /// Reads the file under the shared lock and picks a value out of it.
    async fn read<T, F>(&self, pick: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(WorkspaceData) -> T + Send + 'static,
    {
        let workspace = self.workspace.clone();
        self.run(move |paths| {
            let data = read_locked(paths)?.unwrap_or_else(FileData::empty);
            Ok(pick(data.take_workspace(workspace.as_deref())))
        })
        .await
    }

    /// Changes the file under the exclusive lock, returning what `change` returns.
    async fn update<T, F>(&self, change: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WorkspaceData) -> T + Send + 'static,
    {
        let workspace = self.workspace.clone();
        self.run(move |paths| {
            update_locked(paths, |data| {
                change(data.workspace_mut(workspace.as_deref()))
            })
        })
        .await
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.paths.file)
            .field(
                "workspace",
                &self.workspace.as_deref().unwrap_or(WorkspaceId::DEFAULT),
            )
            .finish()
    }
}

#[async_trait]
impl ConfigStore for FileStore {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        self.read(|d| d.connection).await
    }
    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let connection = connection.clone();
        self.update(move |d| d.connection = Some(connection)).await
    }
    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.update(|d| d.connection = None).await
    }
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        self.read(|d| d.settings).await
    }
    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        let settings = settings.clone();
        self.update(move |d| d.settings = Some(settings)).await
    }
    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.update(|d| d.settings = None).await
    }
    async fn load_override(&self, test_id: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        let test_id = test_id.as_str().to_owned();
        self.read(move |mut d| d.overrides.remove(&test_id)).await
    }
    async fn save_override(
        &self,
        test_id: &TestId,
        value: &SavedOverride,
    ) -> Result<(), StoreError> {
        let (test_id, value) = (test_id.as_str().to_owned(), value.clone());
        self.update(move |d| {
            d.overrides.insert(test_id, value);
        })
        .await
    }
    async fn delete_override(&self, test_id: &TestId) -> Result<(), StoreError> {
        let test_id = test_id.as_str().to_owned();
        self.update(move |d| {
            d.overrides.remove(&test_id);
        })
        .await
    }
    async fn load_record(&self, test_id: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        let test_id = test_id.as_str().to_owned();
        self.read(move |mut d| d.records.remove(&test_id)).await
    }
    async fn save_record(&self, test_id: &TestId, record: &IssueRecord) -> Result<(), StoreError> {
        let (test_id, record) = (test_id.as_str().to_owned(), record.clone());
        self.update(move |d| {
            d.records.insert(test_id, record);
        })
        .await
    }
    async fn load_health(&self) -> Result<Health, StoreError> {
        self.read(|d| d.health).await
    }
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.update(move |d| d.health.apply(&event)).await
    }
    async fn claim_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let test_id = test_id.as_str().to_owned();
        let owner = owner.as_str().to_owned();
        self.update(move |d| {
            let now = unix_ms();
            // Expired claims are dropped as they are met, so the file holds only live ones.
            d.claims.retain(|_, c| c.expires_at_ms > now);
            let record = d.records.get(&test_id).cloned();
            match d.claims.get(&test_id) {
                Some(c) if c.owner != owner => Claim::Busy {
                    record,
                    expires_in: Duration::from_millis(c.expires_at_ms - now),
                },
                _ => {
                    let expires_at_ms = now.saturating_add(lease.as_millis() as u64);
                    d.claims.insert(
                        test_id,
                        StoredClaim {
                            owner,
                            expires_at_ms,
                        },
                    );
                    Claim::Granted { record }
                }
            }
        })
        .await
    }

    async fn release_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        let test_id = test_id.as_str().to_owned();
        let owner = owner.as_str().to_owned();
        let record = record.cloned();
        self.update(move |d| {
            if let Some(r) = record {
                d.records.insert(test_id.clone(), r);
            }
            if d.claims.get(&test_id).is_some_and(|c| c.owner == owner) {
                d.claims.remove(&test_id);
            }
        })
        .await
    }

    async fn load_test_context(&self, test_id: &TestId) -> Result<TestContext, StoreError> {
        let test_id = test_id.as_str().to_owned();
        self.read(move |mut d| TestContext {
            connection: d.connection,
            settings: d.settings,
            test_override: d.overrides.remove(&test_id),
            record: d.records.remove(&test_id),
            state: d
                .states
                .remove(&test_id)
                .map(Into::into)
                .unwrap_or_default(),
        })
        .await
    }

    async fn load_test_state(&self, test_id: &TestId) -> Result<Versioned<TestState>, StoreError> {
        let test_id = test_id.as_str().to_owned();
        self.read(move |mut d| {
            d.states
                .remove(&test_id)
                .map(Into::into)
                .unwrap_or_default()
        })
        .await
    }

    async fn swap_test_state(
        &self,
        test_id: &TestId,
        expected: u64,
        state: &TestState,
    ) -> Result<bool, StoreError> {
        let (test_id, state) = (test_id.as_str().to_owned(), state.clone());
        // Compared and written under the exclusive lock: one swap per version wins.
        self.update(move |d| {
            let current = d.states.get(&test_id).map_or(0, |s| s.version);
            if current != expected {
                return false;
            }
            d.states.insert(
                test_id,
                StoredState {
                    version: expected + 1,
                    state,
                },
            );
            true
        })
        .await
    }

    async fn load_workspace_state(&self) -> Result<Versioned<WorkspaceState>, StoreError> {
        self.read(|d| d.workspace_state.map(Into::into).unwrap_or_default())
            .await
    }

    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &WorkspaceState,
    ) -> Result<bool, StoreError> {
        let state = state.clone();
        // Compared and written under the exclusive lock, as a test's state: one swap per
        // version wins, whichever process sharing the file makes it.
        self.update(move |d| {
            let current = d.workspace_state.as_ref().map_or(0, |s| s.version);
            if current != expected {
                return false;
            }
            d.workspace_state = Some(StoredState {
                version: expected + 1,
                state,
            });
            true
        })
        .await
    }
}

/// A state (a test's, or the workspace's) with its version, as the file keeps it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredState<T> {
    version: u64,
    #[serde(default)]
    state: T,
}

impl<T> From<StoredState<T>> for Versioned<T> {
    fn from(s: StoredState<T>) -> Self {
        Versioned::new(s.version, s.state)
    }
}

/// The file's content: every workspace's data. Written as [`FileRepr`].
#[derive(Deserialize)]
#[serde(from = "FileRepr")]
struct FileData {
    /// The default workspace, kept at the file's top level.
    default: WorkspaceData,
    /// Every other workspace, by id.
    others: BTreeMap<String, WorkspaceData>,
}

/// One workspace's data.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceData {
    #[serde(default, with = "stored_connection")]
    connection: Option<Connection>,
    #[serde(default)]
    settings: Option<SavedSettings>,
    #[serde(default)]
    overrides: BTreeMap<String, SavedOverride>,
    #[serde(default)]
    records: BTreeMap<String, IssueRecord>,
    #[serde(default, skip_serializing_if = "is_default")]
    health: Health,
    /// Create claims by test id. Leases are wall-clock times: every process sharing the
    /// file runs on one machine, so on one clock.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    claims: BTreeMap<String, StoredClaim>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    states: BTreeMap<String, StoredState<TestState>>,
    /// Left out until its first swap (version 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workspace_state: Option<StoredState<WorkspaceState>>,
}

/// The file as written: the default workspace's members at the top level (the layout of
/// files from before workspaces), other workspaces under `workspaces`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    version: u64,
    #[serde(default, with = "stored_connection")]
    connection: Option<Connection>,
    #[serde(default)]
    settings: Option<SavedSettings>,
    #[serde(default)]
    overrides: BTreeMap<String, SavedOverride>,
    #[serde(default)]
    records: BTreeMap<String, IssueRecord>,
    #[serde(default, skip_serializing_if = "is_default")]
    health: Health,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    claims: BTreeMap<String, StoredClaim>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    states: BTreeMap<String, StoredState<TestState>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workspace_state: Option<StoredState<WorkspaceState>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    workspaces: BTreeMap<String, WorkspaceData>,
}

impl From<FileRepr> for FileData {
    fn from(r: FileRepr) -> Self {
        FileData {
            default: WorkspaceData {
                connection: r.connection,
                settings: r.settings,
                overrides: r.overrides,
                records: r.records,
                health: r.health,
                claims: r.claims,
                states: r.states,
                workspace_state: r.workspace_state,
            },
            others: r.workspaces,
        }
    }
}

impl From<FileData> for FileRepr {
    fn from(d: FileData) -> Self {
        let mut others = d.others;
        others.retain(|_, w| !w.is_empty());
        FileRepr {
            version: if others.is_empty() {
                FORMAT_VERSION
            } else {
                FORMAT_VERSION_WORKSPACES
            },
            connection: d.default.connection,
            settings: d.default.settings,
            overrides: d.default.overrides,
            records: d.default.records,
            health: d.default.health,
            claims: d.default.claims,
            states: d.default.states,
            workspace_state: d.default.workspace_state,
            workspaces: others,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredClaim {
    owner: String,
    expires_at_ms: u64,
}

fn is_default(health: &Health) -> bool {
    *health == Health::default()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl FileData {
    fn empty() -> Self {
        FileData {
            default: WorkspaceData::default(),
            others: BTreeMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.default.is_empty() && self.others.values().all(WorkspaceData::is_empty)
    }

    fn workspace_mut(&mut self, id: Option<&str>) -> &mut WorkspaceData {
        match id {
            None => &mut self.default,
            Some(id) => self.others.entry(id.to_owned()).or_default(),
        }
    }

    fn take_workspace(mut self, id: Option<&str>) -> WorkspaceData {
        match id {
            None => self.default,
            Some(id) => self.others.remove(id).unwrap_or_default(),
        }
    }
}

impl WorkspaceData {
    fn is_empty(&self) -> bool {
        self.connection.is_none()
            && self.settings.is_none()
            && self.overrides.is_empty()
            && self.records.is_empty()
            && is_default(&self.health)
            && self.claims.is_empty()
            && self.states.is_empty()
            && self.workspace_state.is_none()
    }
}

/// The connection as the file keeps it, secret included. The only place the secret is
/// exposed for storage.
mod stored_connection {
    use secrecy::ExposeSecret;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::connection::{Connection, CredentialKind, Credentials, Site};

    /// Client credentials are written without `credential_kind`, as before kinds existed,
    /// so that older builds still read the file.
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(skip_serializing_if = "is_client_credentials")]
        credential_kind: CredentialKind,
        client_id: &'a str,
        client_secret: &'a str,
        site: &'a Site,
    }

    fn is_client_credentials(kind: &CredentialKind) -> bool {
        *kind == CredentialKind::ClientCredentials
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
        #[serde(default)]
        credential_kind: CredentialKind,
        client_id: String,
        client_secret: String,
        site: Site,
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Connection>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .as_ref()
            .map(|c| Out {
                credential_kind: c.credentials.kind(),
                client_id: c.credentials.client_id(),
                client_secret: c.credentials.client_secret().expose_secret(),
                site: &c.site,
            })
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Connection>, D::Error> {
        Ok(
            Option::<In>::deserialize(deserializer)?.map(|c| Connection {
                credentials: Credentials::from_parts(
                    c.credential_kind,
                    c.client_id,
                    c.client_secret,
                ),
                site: c.site,
            }),
        )
    }
}

/// An I/O failure on one of the store's files.
fn io_error(what: &str, path: &Path, error: io::Error) -> StoreError {
    StoreError::unavailable(format!("cannot {what} {}", path.display())).with_source(error)
}

/// A corrupt data file. Never carries serde's error, whose message may quote the file.
fn corrupt(path: &Path, what: impl fmt::Display) -> StoreError {
    StoreError::corrupt(format!(
        "the store file {} is corrupt: {what}; it was left as it is",
        path.display()
    ))
}

/// Where in the file serde stopped, without serde's message.
fn position(error: &serde_json::Error) -> String {
    format!("line {}, column {}", error.line(), error.column())
}

/// Parses the data file's bytes.
fn parse(path: &Path, bytes: &[u8]) -> Result<FileData, StoreError> {
    /// Only the version; every other member is skipped.
    #[derive(Deserialize)]
    struct Probe {
        version: Option<serde_json::Value>,
    }

    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(corrupt(path, "it is empty")),
        // serde would also read a struct from an array: `[1]` must not pass for an
        // empty store.
        Some(b'{') => {}
        Some(b'[') => return Err(corrupt(path, "it is not a JSON object")),
        Some(_) => {}
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "it is not a JSON object",
            _ => "it is not valid JSON",
        };
        corrupt(path, format_args!("{what} ({})", position(&e)))
    })?;
    match probe.version.as_ref().map(serde_json::Value::as_u64) {
        Some(Some(FORMAT_VERSION | FORMAT_VERSION_WORKSPACES)) => {}
        Some(Some(other)) => {
            return Err(corrupt(
                path,
                format_args!(
                    "it has version {other}, and this build reads versions {FORMAT_VERSION} \
                     and {FORMAT_VERSION_WORKSPACES} only"
                ),
            ))
        }
        Some(None) => return Err(corrupt(path, "its \"version\" is not a whole number")),
        None => return Err(corrupt(path, "it has no \"version\"")),
    }
    serde_json::from_slice(bytes).map_err(|e| {
        corrupt(
            path,
            format_args!("it does not have the expected layout ({})", position(&e)),
        )
    })
}

/// The data file's content, or `None` if there is no file. Call with the lock held, or
/// without a lock file (renames are atomic: a reader sees a whole file either way).
fn read_file(paths: &Paths) -> Result<Option<FileData>, StoreError> {
    match fs::read(&paths.file) {
        Ok(bytes) => parse(&paths.file, &bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("read the store file", &paths.file, e)),
    }
}

/// Reads the data file under the shared lock. Creates nothing: with no lock file yet,
/// nobody has written, and any writer that starts now renames a whole file in place.
fn read_locked(paths: &Paths) -> Result<Option<FileData>, StoreError> {
    let lock = match File::open(&paths.lock) {
        Ok(lock) => Some(lock),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("open the store lock file", &paths.lock, e)),
    };
    if let Some(lock) = &lock {
        lock.lock_shared()
            .map_err(|e| io_error("lock the store lock file", &paths.lock, e))?;
    }
    // Dropping `lock` (closing the file) releases the lock.
    read_file(paths)
}

/// Read-modify-write of the data file under the exclusive lock.
fn update_locked<T>(
    paths: &Paths,
    change: impl FnOnce(&mut FileData) -> T,
) -> Result<T, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let lock = options
        .open(&paths.lock)
        .map_err(|e| io_error("create the store lock file", &paths.lock, e))?;
    lock.lock()
        .map_err(|e| io_error("lock the store lock file", &paths.lock, e))?;

    let existing = read_file(paths)?;
    let existed = existing.is_some();
    let mut data = existing.unwrap_or_else(FileData::empty);
    let out = change(&mut data);
    if !existed && data.is_empty() {
        // Removing something from a store that was never written: nothing to keep.
        return Ok(out);
    }
    write_atomically(paths, data)?;
    Ok(out)
    // `lock` is dropped (and released) only once the new file is in place.
}

/// Writes the whole file next to the data file, flushes it and renames it over.
fn write_atomically(paths: &Paths, data: FileData) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(&FileRepr::from(data)).map_err(|_| {
        StoreError::unavailable(format!(
            "cannot encode the content of the store file {}",
            paths.file.display()
        ))
    })?;
    bytes.push(b'\n');

    let (temp_path, mut temp) = create_temp(paths)?;
    let written = temp
        .write_all(&bytes)
        .and_then(|()| temp.sync_all())
        .map_err(|e| io_error("write the temporary store file", &temp_path, e))
        .and_then(|()| {
            drop(temp);
            fs::rename(&temp_path, &paths.file).map_err(|e| {
                io_error(
                    &format!("rename {} over", temp_path.display()),
                    &paths.file,
                    e,
                )
            })
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&temp_path);
        return Err(e);
    }
    sync_dir(&paths.dir);
    Ok(())
}

/// A new, empty temporary file in the data file's directory, owner-only on Unix.
fn create_temp(paths: &Paths) -> Result<(PathBuf, File), StoreError> {
    let mut attempt = 0;
    loop {
        let mut name = paths.file.as_os_str().to_owned();
        name.push(format!(".tmp-{:016x}", fastrand::u64(..)));
        let temp_path = PathBuf::from(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temp_path) {
            Ok(file) => {
                // The mode above is filtered by the umask: make it exactly 0600.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    if let Err(e) = file.set_permissions(fs::Permissions::from_mode(0o600)) {
                        drop(file);
                        let _ = fs::remove_file(&temp_path);
                        return Err(io_error(
                            "set the permissions of the temporary store file",
                            &temp_path,
                            e,
                        ));
                    }
                }
                return Ok((temp_path, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(io_error("create the temporary store file", &temp_path, e)),
        }
    }
}

/// Flushes the directory entry of the rename, where the platform allows it. Best effort:
/// the new file is already complete, only its durability across a power cut is at stake.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    fn tid(id: impl AsRef<str>) -> TestId {
        TestId::new(id.as_ref())
    }

    use std::error::Error as _;
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::connection::{Credentials, Site};
    use crate::settings::{Assignee, ResolvedTarget, Settings, TestOverride};
    use crate::store::StoreErrorKind;

    const SECRET: &str = "s3cr3t-hunter2-value";

    fn connection() -> Connection {
        Connection {
            credentials: Credentials::new("client-id-1", SECRET),
            site: Site {
                cloud_id: "cloud-1".into(),
                name: "acme".into(),
                url: "https://acme.atlassian.net".into(),
            },
        }
    }

    fn target(project: &str) -> ResolvedTarget {
        ResolvedTarget {
            project_key: project.into(),
            project_id: "10001".into(),
            issue_type_name: "Bug".into(),
            issue_type_id: "10004".into(),
        }
    }

    fn settings() -> SavedSettings {
        SavedSettings {
            settings: Settings::new("QA")
                .with_issue_type("Task")
                .with_label_prefix("ci-")
                .with_assignee(Assignee::user("acct-9"))
                .with_labels(["flaky", "nightly"]),
            target: target("QA"),
            cloud_id: "cloud-1".into(),
            fields: None,
            warnings: Vec::new(),
        }
    }

    fn test_override() -> SavedOverride {
        SavedOverride {
            test_override: TestOverride::default()
                .with_project("OPS")
                .with_assignee(Assignee::Auto)
                .with_labels(["db"]),
            target: Some(target("OPS")),
            cloud_id: "cloud-1".into(),
            fields: None,
            warnings: Vec::new(),
        }
    }

    fn record(n: usize) -> IssueRecord {
        IssueRecord {
            issue_id: format!("{}", 20000 + n),
            issue_key: format!("QA-{n}"),
            label: format!("testclix-test-{n}"),
        }
    }

    fn assert_same_connection(got: &Connection, want: &Connection) {
        assert_eq!(got.credentials.kind(), want.credentials.kind());
        assert_eq!(got.credentials.client_id(), want.credentials.client_id());
        assert_eq!(
            got.credentials.client_secret().expose_secret(),
            want.credentials.client_secret().expose_secret()
        );
        assert_eq!(got.site, want.site);
    }

    /// The error's message and every source's, as a host would print the chain.
    fn full_message(error: &StoreError) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text.push_str(&format!(" / {error:?}"));
        text
    }

    fn store_in(dir: &tempfile::TempDir) -> (FileStore, PathBuf) {
        let path = dir.path().join("store.json");
        (FileStore::open(&path).unwrap(), path)
    }

    fn lock_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    #[tokio::test]
    async fn every_value_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        store.save_connection(&connection()).await.unwrap();
        store.save_settings(&settings()).await.unwrap();
        store
            .save_override(&tid("t1"), &test_override())
            .await
            .unwrap();
        let disabled = SavedOverride {
            test_override: TestOverride::disabled(),
            target: None,
            cloud_id: "cloud-1".into(),
            fields: None,
            warnings: Vec::new(),
        };
        store.save_override(&tid("t2"), &disabled).await.unwrap();
        store.save_record(&tid("t1"), &record(1)).await.unwrap();
        store.save_record(&tid("t2"), &record(2)).await.unwrap();
        store.save_record(&tid("t2"), &record(3)).await.unwrap();

        // A fresh store on the same file sees everything.
        let reopened = FileStore::open(&path).unwrap();
        let got = reopened.load_connection().await.unwrap().unwrap();
        assert_same_connection(&got, &connection());
        assert_eq!(reopened.load_settings().await.unwrap(), Some(settings()));
        assert_eq!(
            reopened.load_override(&tid("t1")).await.unwrap(),
            Some(test_override())
        );
        assert_eq!(
            reopened.load_override(&tid("t2")).await.unwrap(),
            Some(disabled)
        );
        assert_eq!(reopened.load_override(&tid("t3")).await.unwrap(), None);
        assert_eq!(
            reopened.load_record(&tid("t1")).await.unwrap(),
            Some(record(1))
        );
        assert_eq!(
            reopened.load_record(&tid("t2")).await.unwrap(),
            Some(record(3))
        );
        assert_eq!(reopened.load_record(&tid("t3")).await.unwrap(), None);

        let context = reopened.load_test_context(&tid("t1")).await.unwrap();
        assert_same_connection(&context.connection.unwrap(), &connection());
        assert_eq!(context.settings, Some(settings()));
        assert_eq!(context.test_override, Some(test_override()));
        assert_eq!(context.record, Some(record(1)));
        let context = reopened.load_test_context(&tid("t3")).await.unwrap();
        assert!(context.connection.is_some());
        assert_eq!((context.test_override, context.record), (None, None));

        // The documented layout, secret in clear.
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["connection"]["client_id"], "client-id-1");
        assert_eq!(json["connection"]["client_secret"], SECRET);
        assert_eq!(json["connection"]["site"]["cloud_id"], "cloud-1");
        assert_eq!(json["settings"]["settings"]["project_key"], "QA");
        assert_eq!(
            json["overrides"]["t1"]["test_override"]["project_key"],
            "OPS"
        );
        assert_eq!(json["records"]["t2"]["issue_key"], "QA-3");

        // Deletes remove one value and keep the rest.
        reopened.delete_override(&tid("t1")).await.unwrap();
        reopened.delete_settings().await.unwrap();
        reopened.delete_connection().await.unwrap();
        assert!(store.load_connection().await.unwrap().is_none());
        assert_eq!(store.load_settings().await.unwrap(), None);
        assert_eq!(store.load_override(&tid("t1")).await.unwrap(), None);
        assert!(store.load_override(&tid("t2")).await.unwrap().is_some());
        assert_eq!(
            store.load_record(&tid("t1")).await.unwrap(),
            Some(record(1))
        );
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert!(json["connection"].is_null());
        assert!(json["settings"].is_null());
    }

    #[tokio::test]
    async fn a_missing_file_reads_as_empty_and_is_not_created_by_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        assert_eq!(store.path(), path);
        assert!(store.load_connection().await.unwrap().is_none());
        assert_eq!(store.load_settings().await.unwrap(), None);
        assert_eq!(store.load_override(&tid("t")).await.unwrap(), None);
        assert_eq!(store.load_record(&tid("t")).await.unwrap(), None);
        let context = store.load_test_context(&tid("t")).await.unwrap();
        assert!(context.connection.is_none() && context.settings.is_none());
        assert!(context.test_override.is_none() && context.record.is_none());
        // Deleting from a store never written keeps it unwritten.
        store.delete_connection().await.unwrap();
        store.delete_override(&tid("t")).await.unwrap();
        assert!(!path.exists());
        assert!(fs::read_dir(dir.path())
            .unwrap()
            .all(|e| e.unwrap().path() == lock_path(&path)));
    }

    #[tokio::test]
    async fn health_events_are_kept_in_the_file_and_lost_by_no_one() {
        use crate::health::{Health, HealthEvent, Refusal};
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        store.save_settings(&settings()).await.unwrap();
        // A file with no health member reads as healthy, and is written without one.
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert!(json.get("health").is_none());
        assert_eq!(store.load_health().await.unwrap(), Health::default());

        // Two stores on one file record at once: every event lands.
        let other = FileStore::open(&path).unwrap();
        let refusal = Refusal::now(Some("t1"), "QA", "Bug", 400, Default::default(), vec![]);
        let at = crate::health::truncate_ms(SystemTime::now());
        let (created, refused) = (
            HealthEvent::Created { at },
            HealthEvent::Refused(refusal.clone()),
        );
        let (a, b) = tokio::join!(store.record_health(&created), other.record_health(&refused),);
        a.unwrap();
        b.unwrap();
        let health = FileStore::open(&path).unwrap().load_health().await.unwrap();
        assert_eq!(health.last_success, Some(at));
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["health"]["last_success"], crate::health::tests_ms(at));
        // The order decides whether the refusal stands: either way nothing was lost.
        if let Some(r) = &health.last_refusal {
            assert_eq!(r, &refusal);
        }
        store
            .record_health(&HealthEvent::Refused(refusal.clone()))
            .await
            .unwrap();
        assert_eq!(
            other.load_health().await.unwrap().last_refusal,
            Some(refusal)
        );
        other
            .record_health(&HealthEvent::SettingsSaved)
            .await
            .unwrap();
        assert!(store.load_health().await.unwrap().is_ok());
        assert_eq!(store.load_settings().await.unwrap(), Some(settings()));
    }

    #[test]
    fn open_makes_the_path_absolute_and_needs_a_file_name() {
        let store = FileStore::open("relative/store.json").unwrap();
        assert!(store.path().is_absolute());
        assert!(store.path().ends_with("relative/store.json"));
        let error = FileStore::open("/").unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    }

    #[test]
    fn debug_shows_the_path_only() {
        let store = FileStore::open("/srv/notifier/store.json").unwrap();
        assert_eq!(
            format!("{store:?}"),
            r#"FileStore { path: "/srv/notifier/store.json", workspace: "default" }"#
        );
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _path) = store_in(&dir);
        store.save_connection(&connection()).await.unwrap();
        assert!(!format!("{store:?}").contains(SECRET));
        let loaded = store.load_connection().await.unwrap().unwrap();
        assert!(!format!("{loaded:?}").contains(SECRET));
        let context = store.load_test_context(&tid("t")).await.unwrap();
        assert!(!format!("{context:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn every_kind_of_credential_is_kept_and_old_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        for credentials in [
            Credentials::service_account_token("bot@serviceaccount.atlassian.com", SECRET),
            Credentials::personal_token("me@example.com", SECRET),
            Credentials::token_source("install-42"),
            Credentials::new("client-id-1", SECRET),
        ] {
            let want = Connection {
                credentials,
                ..connection()
            };
            store.save_connection(&want).await.unwrap();
            let reopened = FileStore::open(&path).unwrap();
            assert_same_connection(&reopened.load_connection().await.unwrap().unwrap(), &want);
        }
        // Client credentials are written as before kinds existed.
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            json["connection"].get("credential_kind").is_none(),
            "{json}"
        );
        // A file of an earlier version: client credentials.
        let old = dir.path().join("old.json");
        std::fs::write(
            &old,
            format!(
                r#"{{"version":1,"connection":{{"client_id":"id-0","client_secret":"{SECRET}","site":{{"cloud_id":"c","name":"n","url":"https://n.atlassian.net"}}}}}}"#
            ),
        )
        .unwrap();
        let loaded = FileStore::open(&old)
            .unwrap()
            .load_connection()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            loaded.credentials.kind(),
            crate::connection::CredentialKind::ClientCredentials
        );
        assert_eq!(loaded.credentials.client_id(), "id-0");
        assert_eq!(loaded.credentials.client_secret().expose_secret(), SECRET);
    }

    /// Files that must be refused, each holding the secret where serde would quote it.
    fn corrupt_files() -> Vec<(&'static str, String)> {
        let conn = format!(
            r#""connection":{{"client_id":"id","client_secret":"{SECRET}","site":{{"cloud_id":"c","name":"n","url":"u"}}}}"#
        );
        vec![
            ("empty", "  \n".into()),
            ("not JSON", format!("{{{conn}, oops")),
            ("truncated", format!(r#"{{"version":1,{conn}"#)),
            ("not an object", format!(r#"["{SECRET}"]"#)),
            ("a string", format!(r#""{SECRET}""#)),
            ("no version", format!("{{{conn}}}")),
            ("unknown version", format!(r#"{{"version":3,{conn}}}"#)),
            (
                "version as text",
                format!(r#"{{"version":"{SECRET}",{conn}}}"#),
            ),
            (
                "wrong shape",
                format!(r#"{{"version":1,{conn},"records":"{SECRET}"}}"#),
            ),
            (
                "secret where the site goes",
                format!(
                    r#"{{"version":1,"connection":{{"client_id":"id","client_secret":"x","site":"{SECRET}"}}}}"#
                ),
            ),
            (
                "unknown member",
                format!(r#"{{"version":1,"{SECRET}":{{}}}}"#),
            ),
            (
                "unknown workspace state member",
                format!(r#"{{"version":1,"workspace_state":{{"version":1,"{SECRET}":1}}}}"#),
            ),
            (
                "workspace state version as text",
                format!(r#"{{"version":1,"workspace_state":{{"version":"{SECRET}"}}}}"#),
            ),
            (
                "unknown connection member",
                format!(
                    r#"{{"version":1,"connection":{{"client_id":"id","client_secret":"x","{SECRET}":1,"site":{{"cloud_id":"c","name":"n","url":"u"}}}}}}"#
                ),
            ),
        ]
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_for_reads_and_writes_and_is_left_unchanged() {
        for (case, content) in corrupt_files() {
            let dir = tempfile::tempdir().unwrap();
            let (store, path) = store_in(&dir);
            fs::write(&path, &content).unwrap();

            let mut errors = vec![
                store.load_connection().await.unwrap_err(),
                store.load_record(&tid("t")).await.unwrap_err(),
                store.load_test_context(&tid("t")).await.unwrap_err(),
                store.save_record(&tid("t"), &record(1)).await.unwrap_err(),
                store.save_connection(&connection()).await.unwrap_err(),
                store.delete_settings().await.unwrap_err(),
                store.delete_override(&tid("t")).await.unwrap_err(),
                store.load_workspace_state().await.unwrap_err(),
                store
                    .swap_workspace_state(0, &WorkspaceState::default())
                    .await
                    .unwrap_err(),
            ];
            errors.push(store.save_settings(&settings()).await.unwrap_err());
            for error in &errors {
                assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{case}: {error}");
                let text = full_message(error);
                assert!(text.contains(&path.display().to_string()), "{case}: {text}");
                assert!(!text.contains(SECRET), "{case} leaks the secret: {text}");
            }
            assert_eq!(fs::read_to_string(&path).unwrap(), content, "{case}");
            // Nothing else was left next to it but the lock file.
            let mut names: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            assert_eq!(names, ["store.json", "store.json.lock"], "{case}");
        }
    }

    #[tokio::test]
    async fn corrupt_errors_say_what_is_wrong() {
        let cases = [
            ("{", "not valid JSON (line 1, column 1)"),
            ("[1]", "not a JSON object"),
            (r#"{"version":7}"#, "version 7"),
            (r#"{"records":{}}"#, "no \"version\""),
            ("{\"version\":1,\n\"records\":5}", "expected layout (line 2"),
        ];
        for (content, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let (store, path) = store_in(&dir);
            fs::write(&path, content).unwrap();
            let error = store.load_settings().await.unwrap_err();
            assert!(error.to_string().contains(want), "{content}: {error}");
        }
    }

    #[tokio::test]
    async fn a_minimal_file_with_only_the_version_reads_as_empty_and_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        fs::write(&path, r#"{"version":1}"#).unwrap();
        assert!(store.load_connection().await.unwrap().is_none());
        store.save_record(&tid("t"), &record(1)).await.unwrap();
        assert_eq!(store.load_record(&tid("t")).await.unwrap(), Some(record(1)));
    }

    #[tokio::test]
    async fn io_failures_are_unavailable_with_the_os_error_as_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("store.json");
        let store = FileStore::open(&path).unwrap();
        let error = store.save_connection(&connection()).await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        let source = error.source().expect("the OS error");
        let io = source.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("no-such-dir"), "{error}");
        assert!(!full_message(&error).contains(SECRET));

        // A directory where the file should be cannot be read.
        let (store, path) = store_in(&dir);
        fs::create_dir(&path).unwrap();
        let error = store.load_settings().await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(error.source().unwrap().is::<io::Error>());
        assert!(error.to_string().contains(&path.display().to_string()));
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_file_is_owner_only_when_created_and_when_rewritten() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        store.save_connection(&connection()).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&lock_path(&path)), 0o600);

        // An older, world-readable file (a hand copy, an older tool) is tightened on write.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(mode(&path), 0o644);
        store.save_record(&tid("t"), &record(1)).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        // ...and its content was kept, not replaced.
        assert!(store.load_connection().await.unwrap().is_some());

        // Same for a file this store did not write.
        let other = dir.path().join("other.json");
        fs::write(&other, r#"{"version":1}"#).unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o666)).unwrap();
        let store = FileStore::open(&other).unwrap();
        store.save_settings(&settings()).await.unwrap();
        assert_eq!(mode(&other), 0o600);
    }

    #[tokio::test]
    async fn writes_leave_no_temporary_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _path) = store_in(&dir);
        for n in 0..5 {
            store
                .save_record(&tid(format!("t{n}")), &record(n))
                .await
                .unwrap();
        }
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["store.json", "store.json.lock"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claims_are_exclusive_across_stores_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (a, path) = store_in(&dir);
        let b = FileStore::open(&path).unwrap();
        // Long enough that a busy machine cannot let it run out between two calls.
        let lease = Duration::from_secs(3);
        assert_eq!(
            a.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
                .await
                .unwrap(),
            Claim::Granted { record: None }
        );
        assert!(matches!(
            b.claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Busy { record: None, .. }
        ));
        // Releasing with a record writes it before freeing the claim.
        a.release_create(&tid("t"), &ClaimOwner::new("a"), Some(&record(1)))
            .await
            .unwrap();
        assert_eq!(
            b.claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Granted {
                record: Some(record(1))
            }
        );
        // b never releases (it "died"): a waits out the lease, then gets the claim.
        assert!(matches!(
            a.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
                .await
                .unwrap(),
            Claim::Busy { .. }
        ));
        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        assert!(matches!(
            a.claim_create(&tid("t"), &ClaimOwner::new("a"), lease)
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        // A release by someone who no longer holds the claim leaves it alone.
        b.release_create(&tid("t"), &ClaimOwner::new("b"), None)
            .await
            .unwrap();
        assert!(matches!(
            b.claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Busy { .. }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_stores_on_one_file_lose_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let (first, path) = store_in(&dir);
        let first = Arc::new(first);
        let second = Arc::new(FileStore::open(&path).unwrap());
        first.save_connection(&connection()).await.unwrap();

        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..50 {
            for (name, store) in [("a", &first), ("b", &second)] {
                let store = Arc::clone(store);
                tasks.spawn(async move {
                    store
                        .save_record(&tid(format!("{name}-{n}")), &record(n))
                        .await
                        .unwrap();
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }

        let check = FileStore::open(&path).unwrap();
        for n in 0..50 {
            for name in ["a", "b"] {
                let got = check
                    .load_record(&tid(format!("{name}-{n}")))
                    .await
                    .unwrap();
                assert_eq!(got, Some(record(n)), "{name}-{n}");
            }
        }
        assert!(check.load_connection().await.unwrap().is_some());
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["records"].as_object().unwrap().len(), 100);
    }

    /// Holds `<path>.lock` the way another process would.
    fn hold_lock(path: &Path, exclusive: bool) -> File {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(path))
            .unwrap();
        if exclusive {
            lock.lock().unwrap();
        } else {
            lock.lock_shared().unwrap();
        }
        lock
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_wait_for_any_lock_and_reads_for_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        let store = Arc::new(store);

        // A writer waits while another process reads.
        let reader = hold_lock(&path, false);
        let writing = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.save_record(&tid("t"), &record(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writing.is_finished());
        assert!(!path.exists());
        drop(reader);
        writing.await.unwrap().unwrap();
        assert!(path.exists());

        // A reader waits while another process writes...
        let writer = hold_lock(&path, true);
        let reading = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.load_record(&tid("t")).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!reading.is_finished());
        drop(writer);
        assert_eq!(reading.await.unwrap().unwrap(), Some(record(1)));

        // ...but not while another reads.
        let _reader = hold_lock(&path, false);
        let read =
            tokio::time::timeout(Duration::from_secs(10), store.load_record(&tid("t"))).await;
        assert_eq!(
            read.expect("reads share the lock").unwrap(),
            Some(record(1))
        );
    }

    #[test]
    fn works_without_a_tokio_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _path) = store_in(&dir);
        // A minimal executor with no Tokio context: spawning a blocking task would panic.
        poll_to_end(store.save_record(&tid("t"), &record(1))).unwrap();
        let got = poll_to_end(store.load_record(&tid("t"))).unwrap();
        assert_eq!(got, Some(record(1)));
    }

    /// Polls a future that never waits (as the store's do without a runtime).
    fn poll_to_end<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the store waited without a runtime"),
        }
    }

    #[tokio::test]
    async fn workspaces_share_the_file_and_never_each_others_data() {
        let dir = tempfile::tempdir().unwrap();
        let (default, path) = store_in(&dir);
        let acme = default.workspace(&WorkspaceId::new("acme"));
        default.save_record(&tid("t"), &record(1)).await.unwrap();
        // Only the default workspace: the file keeps the layout older builds read.
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""version": 1"#), "{text}");

        acme.save_connection(&connection()).await.unwrap();
        acme.save_record(&tid("t"), &record(7)).await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""version": 2"#), "{text}");

        let reopened = FileStore::open(&path).unwrap();
        assert_eq!(
            reopened.load_record(&tid("t")).await.unwrap(),
            Some(record(1))
        );
        assert!(reopened.load_connection().await.unwrap().is_none());
        let acme = reopened.workspace(&WorkspaceId::new("acme"));
        assert_eq!(acme.load_record(&tid("t")).await.unwrap(), Some(record(7)));
        assert!(acme.load_connection().await.unwrap().is_some());
        let ctx = acme.load_test_context(&tid("t")).await.unwrap();
        assert_eq!(ctx.record, Some(record(7)));
        assert!(reopened
            .workspace(&WorkspaceId::new("other"))
            .load_record(&tid("t"))
            .await
            .unwrap()
            .is_none());

        // A claim in one workspace leaves the same test free in another.
        let lease = Duration::from_secs(60);
        let a = ClaimOwner::new("a");
        assert!(matches!(
            acme.claim_create(&tid("t"), &a, lease).await.unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            reopened
                .claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Granted { .. }
        ));
        assert!(matches!(
            acme.claim_create(&tid("t"), &ClaimOwner::new("b"), lease)
                .await
                .unwrap(),
            Claim::Busy { .. }
        ));
    }

    /// A workspace state told apart by `n` (its content is the storm guard's; serde reads
    /// it), checked to write back as it was read.
    fn workspace_state(n: u64) -> WorkspaceState {
        let json = serde_json::json!({ "storm": { "created": [n] } });
        let state: WorkspaceState = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&state).unwrap(),
            json,
            "layout changed"
        );
        state
    }

    #[tokio::test]
    async fn the_workspace_state_swaps_only_from_the_version_read_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::default()
        );
        // Nothing is stored: a swap from any version but 0 is refused and writes nothing.
        assert!(!store
            .swap_workspace_state(1, &workspace_state(9))
            .await
            .unwrap());
        assert!(!store
            .swap_workspace_state(u64::MAX, &workspace_state(9))
            .await
            .unwrap());
        assert!(!path.exists());
        // From 0, once.
        assert!(store
            .swap_workspace_state(0, &workspace_state(1))
            .await
            .unwrap());
        assert!(!store
            .swap_workspace_state(0, &workspace_state(9))
            .await
            .unwrap());
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(1, workspace_state(1))
        );
        // Then only from the stored version, which each swap moves on by one.
        assert!(!store
            .swap_workspace_state(2, &workspace_state(9))
            .await
            .unwrap());
        assert!(store
            .swap_workspace_state(1, &workspace_state(2))
            .await
            .unwrap());
        assert!(!store
            .swap_workspace_state(1, &workspace_state(9))
            .await
            .unwrap());
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(2, workspace_state(2))
        );

        // A fresh store on the file reads it and swaps on from it; the first one sees that.
        let reopened = FileStore::open(&path).unwrap();
        assert_eq!(
            reopened.load_workspace_state().await.unwrap(),
            Versioned::new(2, workspace_state(2))
        );
        assert!(reopened
            .swap_workspace_state(2, &workspace_state(3))
            .await
            .unwrap());
        assert!(!store
            .swap_workspace_state(2, &workspace_state(9))
            .await
            .unwrap());
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(3, workspace_state(3))
        );
        // The documented layout: one member next to the others, the file still version 1.
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["workspace_state"]["version"], 3);
        assert_eq!(
            json["workspace_state"]["state"],
            serde_json::to_value(workspace_state(3)).unwrap()
        );

        // Another workspace counts from 0 on its own, and leaves the default's alone.
        let acme = reopened.workspace(&WorkspaceId::new("acme"));
        assert_eq!(
            acme.load_workspace_state().await.unwrap(),
            Versioned::default()
        );
        assert!(!acme
            .swap_workspace_state(3, &workspace_state(9))
            .await
            .unwrap());
        assert!(acme
            .swap_workspace_state(0, &workspace_state(7))
            .await
            .unwrap());
        assert_eq!(
            FileStore::open(&path)
                .unwrap()
                .workspace(&WorkspaceId::new("acme"))
                .load_workspace_state()
                .await
                .unwrap(),
            Versioned::new(1, workspace_state(7))
        );
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(3, workspace_state(3))
        );
        // A workspace holding only its state is kept, under `workspaces`.
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 2);
        assert_eq!(json["workspaces"]["acme"]["workspace_state"]["version"], 1);
        assert_eq!(json["workspace_state"]["version"], 3);
    }

    #[tokio::test]
    async fn a_file_without_a_workspace_state_reads_as_version_0_and_keeps_the_old_layout() {
        // A file as builds before the workspace state wrote it.
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_in(&dir);
        fs::write(
            &path,
            r#"{"version":1,"connection":null,"settings":null,"overrides":{},
                "records":{"t":{"issue_id":"20001","issue_key":"QA-1","label":"testclix-test-1"}},
                "states":{"t":{"version":2,"state":{}}}}"#,
        )
        .unwrap();
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::default()
        );
        assert!(!store
            .swap_workspace_state(1, &workspace_state(9))
            .await
            .unwrap());
        // Neither the read nor the refused swap added a member: the file keeps the layout
        // those builds read.
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let mut members: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        members.sort();
        assert_eq!(
            members,
            [
                "connection",
                "overrides",
                "records",
                "settings",
                "states",
                "version"
            ]
        );
        assert_eq!(json["version"], 1);

        // The same writes on a copy, without the workspace state's read and refused swap,
        // give the same bytes: until the storm guard swaps, nothing of it is in the file.
        let plain = dir.path().join("plain.json");
        fs::copy(&path, &plain).unwrap();
        let plain_store = FileStore::open(&plain).unwrap();
        store.load_workspace_state().await.unwrap();
        assert!(!store
            .swap_workspace_state(5, &workspace_state(9))
            .await
            .unwrap());
        for s in [&store, &plain_store] {
            s.save_connection(&connection()).await.unwrap();
            s.save_record(&tid("u"), &record(2)).await.unwrap();
        }
        assert_eq!(fs::read(&path).unwrap(), fs::read(&plain).unwrap());

        // The first swap is from 0, and keeps everything else.
        assert!(store
            .swap_workspace_state(0, &workspace_state(1))
            .await
            .unwrap());
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(1, workspace_state(1))
        );
        assert_eq!(store.load_record(&tid("t")).await.unwrap(), Some(record(1)));
        assert_eq!(store.load_test_state(&tid("t")).await.unwrap().version, 2);
        assert!(store.load_connection().await.unwrap().is_some());
    }

    /// Two stores on one file (as two processes), two tasks each, each moving the workspace
    /// state on by compare-and-swap: every version is won by exactly one swap, and every
    /// read sees the state of the swap that made its version.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_stores_swapping_the_workspace_state_at_once_win_each_version_once() {
        const TASKS_PER_STORE: usize = 2;
        const EACH: u64 = 20;
        let dir = tempfile::tempdir().unwrap();
        let (first, path) = store_in(&dir);
        let stores = [Arc::new(first), Arc::new(FileStore::open(&path).unwrap())];
        let mut tasks = tokio::task::JoinSet::new();
        for store in &stores {
            for _ in 0..TASKS_PER_STORE {
                let store = Arc::clone(store);
                tasks.spawn(async move {
                    let mut won = Vec::new();
                    for _ in 0..EACH {
                        loop {
                            let read = store.load_workspace_state().await.unwrap();
                            let want = if read.version == 0 {
                                WorkspaceState::default()
                            } else {
                                workspace_state(read.version)
                            };
                            assert_eq!(read.value, want, "version {}", read.version);
                            let next = workspace_state(read.version + 1);
                            if store
                                .swap_workspace_state(read.version, &next)
                                .await
                                .unwrap()
                            {
                                won.push(read.version + 1);
                                break;
                            }
                        }
                    }
                    won
                });
            }
        }
        let mut versions = Vec::new();
        while let Some(done) = tasks.join_next().await {
            versions.extend(done.unwrap());
        }
        versions.sort_unstable();
        let total = (stores.len() * TASKS_PER_STORE) as u64 * EACH;
        assert_eq!(versions, (1..=total).collect::<Vec<_>>());
        assert_eq!(
            FileStore::open(&path)
                .unwrap()
                .load_workspace_state()
                .await
                .unwrap(),
            Versioned::new(total, workspace_state(total))
        );
    }
}
