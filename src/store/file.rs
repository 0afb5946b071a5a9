//! A store kept in one JSON file: for the `sandbox` example and small hosts.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{ConfigStore, IssueRecord, StoreError, TestContext};
use crate::connection::Connection;
use crate::settings::{SavedOverride, SavedSettings};

/// The only layout this build reads and writes.
const FORMAT_VERSION: u64 = 1;

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
///   "settings": { … },
///   "overrides": { "<test id>": { … } },
///   "records": { "<test id>": { "issue_id": "…", "issue_key": "…", "label": "…" } }
/// }
/// ```
///
/// `connection` and `settings` are `null` when absent. Nothing is created until the first
/// write; a missing file reads as an empty store.
///
/// # Writes
///
/// Every write reads the file, changes one value and writes the whole file again: to a
/// temporary file next to it (`<path>.tmp-…`, mode `0600` on Unix), flushed to disk, then
/// renamed over the file. A crash leaves either the old file or the new one, never a mix
/// (at worst a stray temporary file).
///
/// # Several processes
///
/// Several `FileStore`s, in one process or in several, may share a file without losing
/// each other's updates: each write holds an exclusive OS advisory lock on a lock file
/// next to the data file (`<path>.lock`, created on the first write and never removed)
/// and re-reads the data file inside the lock; reads hold the shared lock. The lock is
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
        })
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
        F: FnOnce(FileData) -> T + Send + 'static,
    {
        self.run(move |paths| {
            let data = read_locked(paths)?.unwrap_or_else(FileData::empty);
            Ok(pick(data))
        })
        .await
    }

    /// Changes the file under the exclusive lock.
    async fn update<F>(&self, change: F) -> Result<(), StoreError>
    where
        F: FnOnce(&mut FileData) + Send + 'static,
    {
        self.run(move |paths| update_locked(paths, change)).await
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.paths.file)
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
    async fn load_override(&self, test_id: &str) -> Result<Option<SavedOverride>, StoreError> {
        let test_id = test_id.to_owned();
        self.read(move |mut d| d.overrides.remove(&test_id)).await
    }
    async fn save_override(&self, test_id: &str, value: &SavedOverride) -> Result<(), StoreError> {
        let (test_id, value) = (test_id.to_owned(), value.clone());
        self.update(move |d| {
            d.overrides.insert(test_id, value);
        })
        .await
    }
    async fn delete_override(&self, test_id: &str) -> Result<(), StoreError> {
        let test_id = test_id.to_owned();
        self.update(move |d| {
            d.overrides.remove(&test_id);
        })
        .await
    }
    async fn load_record(&self, test_id: &str) -> Result<Option<IssueRecord>, StoreError> {
        let test_id = test_id.to_owned();
        self.read(move |mut d| d.records.remove(&test_id)).await
    }
    async fn save_record(&self, test_id: &str, record: &IssueRecord) -> Result<(), StoreError> {
        let (test_id, record) = (test_id.to_owned(), record.clone());
        self.update(move |d| {
            d.records.insert(test_id, record);
        })
        .await
    }
    async fn load_test_context(&self, test_id: &str) -> Result<TestContext, StoreError> {
        let test_id = test_id.to_owned();
        self.read(move |mut d| TestContext {
            connection: d.connection,
            settings: d.settings,
            test_override: d.overrides.remove(&test_id),
            record: d.records.remove(&test_id),
        })
        .await
    }
}

/// The file's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    version: u64,
    #[serde(default, with = "stored_connection")]
    connection: Option<Connection>,
    #[serde(default)]
    settings: Option<SavedSettings>,
    #[serde(default)]
    overrides: BTreeMap<String, SavedOverride>,
    #[serde(default)]
    records: BTreeMap<String, IssueRecord>,
}

impl FileData {
    fn empty() -> Self {
        FileData {
            version: FORMAT_VERSION,
            connection: None,
            settings: None,
            overrides: BTreeMap::new(),
            records: BTreeMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.connection.is_none()
            && self.settings.is_none()
            && self.overrides.is_empty()
            && self.records.is_empty()
    }
}

/// The connection as the file keeps it, secret included. The only place the secret is
/// exposed for storage.
mod stored_connection {
    use secrecy::ExposeSecret;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::connection::{Connection, Credentials, Site};

    #[derive(Serialize)]
    struct Out<'a> {
        client_id: &'a str,
        client_secret: &'a str,
        site: &'a Site,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
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
                client_id: c.credentials.client_id(),
                client_secret: c.credentials.client_secret().expose_secret(),
                site: &c.site,
            })
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Connection>, D::Error> {
        Ok(Option::<In>::deserialize(deserializer)?.map(|c| Connection {
            credentials: Credentials::new(c.client_id, c.client_secret),
            site: c.site,
        }))
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

    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(corrupt(path, "it is empty"));
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "it is not a JSON object",
            _ => "it is not valid JSON",
        };
        corrupt(path, format_args!("{what} ({})", position(&e)))
    })?;
    match probe.version.as_ref().map(serde_json::Value::as_u64) {
        Some(Some(FORMAT_VERSION)) => {}
        Some(Some(other)) => {
            return Err(corrupt(
                path,
                format_args!(
                    "it has version {other}, and this build reads version {FORMAT_VERSION} only"
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
fn update_locked(paths: &Paths, change: impl FnOnce(&mut FileData)) -> Result<(), StoreError> {
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
    change(&mut data);
    if !existed && data.is_empty() {
        // Removing something from a store that was never written: nothing to keep.
        return Ok(());
    }
    data.version = FORMAT_VERSION;
    write_atomically(paths, &data)
    // `lock` is dropped (and released) only once the new file is in place.
}

/// Writes the whole file next to the data file, flushes it and renames it over.
fn write_atomically(paths: &Paths, data: &FileData) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(data).map_err(|_| {
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
            Err(e) => {
                return Err(io_error(
                    "create the temporary store file",
                    &temp_path,
                    e,
                ))
            }
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
