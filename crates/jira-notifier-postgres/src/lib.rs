//! A [`ConfigStore`] on PostgreSQL for `jira-notifier`: [`PostgresStore`].
//!
//! Several replicas of a host share one database, and the store's create claim makes
//! exactly one of them create a failing test's issue. The layout of the tables, the exact
//! statements of the claim and how to carry the claim over to another database are
//! documented on [`PostgresStore`].
//!
//! This crate is apart from `jira-notifier` because its public API holds `tokio-postgres`
//! types ([`tokio_postgres::Config`], [`tokio_postgres::Client`]): a new major version of
//! that driver is a new major version of this crate only. It re-exports the driver as
//! [`tokio_postgres`] so that a host builds its `Config` with the very version used here.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use tokio_postgres;

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row, SimpleQueryMessage};

use jira_notifier::{
    Claim, ConfigStore, Connection, Credentials, Health, HealthEvent, IssueRecord, Refusal,
    SavedOverride, SavedSettings, Site, StoreError, TestContext,
};

/// How long opening a connection may take when the connection string sets no
/// `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Leases longer than this are cut to it (a century: "until released").
const MAX_LEASE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The longest table prefix: the longest name made from it (`<prefix>schema_version_pkey`,
/// the primary key's index) must fit PostgreSQL's 63-byte identifiers.
const MAX_PREFIX_LEN: usize = 40;

/// How often `claim_create` tries again when the holder it met released in between its
/// two statements (each retry means another notifier made progress).
const CLAIM_ATTEMPTS: usize = 8;

/// Encodes the client secret for its column.
type EncodeSecret = dyn Fn(&SecretString) -> Result<String, StoreError> + Send + Sync;
/// Decodes the client secret's column.
type DecodeSecret = dyn Fn(&str) -> Result<SecretString, StoreError> + Send + Sync;

/// A [`ConfigStore`] on PostgreSQL (9.5 or later), shared safely by any number of
/// notifiers in any number of processes.
///
/// ```no_run
/// # async fn example() -> Result<(), jira_notifier::StoreError> {
/// use jira_notifier_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("host=db.internal user=notifier dbname=app")
///     .await?
///     .with_table_prefix("qa_jira_");
/// # Ok(()) }
/// ```
///
/// # The client secret is stored in clear by default
///
/// The service account's **client secret is stored as plain text** in its own column,
/// `client_secret` of the `connection` table: anyone who can read that table (or a backup
/// of it) can act as the service account. How the secret is kept is the host's decision:
/// to encrypt it at rest, pass an encoder and a decoder to
/// [`with_secret_codec`](PostgresStore::with_secret_codec) (calling the host's KMS or
/// cipher), encrypt the column with `pgcrypto`, or wrap the store in the host's own
/// [`ConfigStore`] that keeps the secret elsewhere. Errors and `Debug` output never show
/// the secret, nor the connection string's password.
///
/// # Connecting
///
/// [`connect`](PostgresStore::connect) takes a libpq-style connection string
/// (`host=… user=… dbname=…` or `postgresql://…`) and connects **without TLS**
/// ([`tokio_postgres::NoTls`]): use it for a local socket or a trusted network. A host that
/// needs TLS (or any other connection setup) connects itself and hands the client over
/// with [`from_client`](PostgresStore::from_client). The store runs every statement on that
/// one connection; statements from concurrent calls are pipelined on it.
///
/// A store made by `connect` reconnects by itself: once the connection is lost, calls fail
/// with [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable) errors until the server can be
/// reached again, and the next call after that opens a new connection. A store made with
/// `from_client` cannot reconnect: when its connection is lost, every call fails with
/// `Unavailable`, and the host makes a new store.
///
/// The store never leaves a transaction open: every call is one statement (or one
/// multi-statement message), so dropping a call's future half-way changes nothing
/// beyond what the statement itself does.
///
/// # Tables
///
/// The store creates its tables on first use (or at
/// [`ensure_schema`](PostgresStore::ensure_schema)), with names starting with the table
/// prefix ([`DEFAULT_TABLE_PREFIX`](PostgresStore::DEFAULT_TABLE_PREFIX), `jira_notifier_`,
/// unless set with [`with_table_prefix`](PostgresStore::with_table_prefix)), in the first
/// schema of the connection's `search_path` (to use another schema, add
/// `options='-c search_path=my_schema'` to the connection string). With the default
/// prefix, schema version 2 is:
///
/// ```sql
/// CREATE TABLE jira_notifier_schema_version (
///     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
///     version integer NOT NULL                -- 2
/// );
/// CREATE TABLE jira_notifier_connection (    -- at most one row
///     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
///     client_id text NOT NULL,
///     client_secret text NOT NULL,            -- in clear, unless a secret codec is set
///     site jsonb NOT NULL                     -- {"cloud_id": …, "name": …, "url": …}
/// );
/// CREATE TABLE jira_notifier_settings (      -- at most one row
///     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
///     value jsonb NOT NULL                    -- SavedSettings, as serde writes it
/// );
/// CREATE TABLE jira_notifier_overrides (
///     test_id text PRIMARY KEY,
///     value jsonb NOT NULL                    -- SavedOverride, as serde writes it
/// );
/// CREATE TABLE jira_notifier_records (
///     test_id text PRIMARY KEY,
///     issue_id text NOT NULL,
///     issue_key text NOT NULL,
///     label text NOT NULL
/// );
/// CREATE TABLE jira_notifier_claims (
///     test_id text PRIMARY KEY,
///     owner text NOT NULL,
///     expires_at timestamptz NOT NULL         -- on the database's clock
/// );
/// CREATE TABLE jira_notifier_health (        -- at most one row; since version 2
///     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
///     last_success_ms bigint,                 -- milliseconds since the Unix epoch
///     last_refusal jsonb                      -- Refusal, as serde writes it
/// );
/// ```
///
/// Version 1 (before the health table) is migrated to version 2 on first use, in the
/// same locked message that creates tables: the health table is added and the version
/// row updated.
///
/// # Health
///
/// [`record_health`](ConfigStore::record_health) applies each event in one statement on
/// the health row, so replicas recording at once never lose one another's events:
///
/// ```sql
/// -- Created { at }: the success, and no refusal
/// INSERT INTO jira_notifier_health (singleton, last_success_ms, last_refusal) VALUES (true, $1, NULL)
/// ON CONFLICT (singleton) DO UPDATE SET last_success_ms = EXCLUDED.last_success_ms, last_refusal = NULL
/// -- Refused(refusal): the refusal, the success kept
/// INSERT INTO jira_notifier_health (singleton, last_refusal) VALUES (true, $1::jsonb)
/// ON CONFLICT (singleton) DO UPDATE SET last_refusal = EXCLUDED.last_refusal
/// -- SettingsSaved
/// UPDATE jira_notifier_health SET last_refusal = NULL
/// -- OverrideSaved { test_id }
/// UPDATE jira_notifier_health SET last_refusal = NULL WHERE last_refusal ->> 'test_id' = $1
/// ```
///
/// Tables are created in one message holding the transaction-level advisory lock
/// `pg_advisory_xact_lock(k)`, `k` a number derived from the table prefix: replicas
/// starting together create them once, one after the other. The version row lets later
/// versions of this crate migrate the tables in the same way. A store meeting a version it
/// does not know (made by a newer build) fails with
/// [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt) errors and changes nothing. Expired claims
/// are not swept: a test's claim row stays until it is taken over or released (one row
/// per test at most).
///
/// Test ids, values and the secret are `text`, which cannot hold the NUL character.
///
/// # The create claim
///
/// [`claim_create`](ConfigStore::claim_create) sends two statements together (one round
/// trip; PostgreSQL runs them one after the other). First the claim, one atomic statement
/// on the database's clock (`clock_timestamp()`), so the replicas' clocks play no part:
///
/// ```sql
/// INSERT INTO jira_notifier_claims AS c (test_id, owner, expires_at)
/// VALUES ($1, $2, clock_timestamp() + $3::float8 * interval '1 microsecond')
/// ON CONFLICT (test_id) DO UPDATE
///     SET owner = EXCLUDED.owner,
///         expires_at = clock_timestamp() + $3::float8 * interval '1 microsecond'
///     WHERE c.owner = EXCLUDED.owner OR c.expires_at <= clock_timestamp()
/// RETURNING true
/// ```
///
/// (`$1` the test id, `$2` the owner, `$3` the lease in microseconds). A row back means
/// granted (a new claim, a takeover of an expired one, or the holder renewing); no row
/// means another owner holds a live lease. Then, in a statement of its own, the record and
/// the claim as they are once the first statement is done:
///
/// ```sql
/// SELECT c.owner,
///        (extract(epoch FROM c.expires_at - clock_timestamp()) * 1000000)::int8,
///        r.issue_id, r.issue_key, r.label
/// FROM (VALUES (1)) AS one (x)
/// LEFT JOIN jira_notifier_claims c ON c.test_id = $1
/// LEFT JOIN jira_notifier_records r ON r.test_id = $1
/// ```
///
/// The record cannot be read in the claim's own statement (a CTE): a statement reads
/// from a snapshot taken when it starts, and a claim that waited for the holder's
/// release, then took over, would return the record as it was *before* that release,
/// so the new holder would not see the issue just made. If the holder met by the first
/// statement has released before the second one ran, the two are sent again. If the
/// connection is lost after the claim was granted but before the answer arrives, the call
/// fails and the claim stays until its lease runs out (as with any store whose reply can
/// be lost): whoever takes it over then searches Jira before creating.
///
/// [`release_create`](ConfigStore::release_create) is one statement, so one transaction:
/// the record (when given) and the removal of the caller's own claim become visible
/// together, and another owner's claim is left alone:
///
/// ```sql
/// WITH saved AS (
///     INSERT INTO jira_notifier_records (test_id, issue_id, issue_key, label)
///     SELECT $1, $3, $4, $5 WHERE $3 IS NOT NULL
///     ON CONFLICT (test_id) DO UPDATE
///         SET issue_id = EXCLUDED.issue_id, issue_key = EXCLUDED.issue_key,
///             label = EXCLUDED.label
/// )
/// DELETE FROM jira_notifier_claims WHERE test_id = $1 AND owner = $2
/// ```
///
/// [`load_test_context`](ConfigStore::load_test_context) is one statement with
/// subselects. A failure report thus costs this store one round trip to read, plus one to
/// claim and one to release when it creates an issue.
///
/// # Carrying the claim to another database
///
/// A host writing its own [`ConfigStore`] on another database can follow the same plan:
///
/// 1. A claims table keyed by test id, with the owner and the lease's end, written on the
///    database's clock (`NOW()`-like functions), never on the replicas' clocks.
/// 2. Claim with one atomic conditional write: insert, or on a key conflict update only
///    when the row's owner is the caller or its lease has ended, and learn whether a row
///    was written (`RETURNING`, the affected-row count, or a compare-and-set). Without an
///    upsert: `UPDATE … WHERE test_id = ? AND (owner = ? OR expires_at <= now)`, and if no
///    row changed, `INSERT`, taking a unique-key violation as "busy".
/// 3. Read the record, and the holder's lease when busy, in a later statement (or with
///    locking reads that see the latest committed rows), never from a snapshot taken
///    before the claim was won.
/// 4. Release in one transaction: write the record, then delete the claim row only if
///    its owner is the caller.
///
/// # Errors
///
/// A lost or refused connection and any error reported by the server are
/// [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable) (worth retrying), except those that
/// say the tables do not have the expected layout (a missing table or column, a column
/// of another type), which are [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt), as are rows
/// that cannot be decoded and tables made by a newer version. Messages carry the server's
/// message and SQLSTATE code but never its detail line (which may quote a row, and so the
/// secret), nor the stored values.
pub struct PostgresStore {
    prefix: String,
    sql: Sql,
    /// Set when the store was opened from a connection string: it then reconnects.
    config: Option<Box<Config>>,
    client: Mutex<Arc<Client>>,
    /// Set once the tables are known to be in place.
    schema: OnceCell<()>,
    codec: Option<SecretCodec>,
}

struct SecretCodec {
    encode: Box<EncodeSecret>,
    decode: Box<DecodeSecret>,
}

impl PostgresStore {
    /// The prefix of the table names unless
    /// [`with_table_prefix`](PostgresStore::with_table_prefix) sets another.
    pub const DEFAULT_TABLE_PREFIX: &'static str = "jira_notifier_";

    /// The version of the tables this build creates and reads (kept in the
    /// `<prefix>schema_version` table).
    pub const SCHEMA_VERSION: i32 = 2;

    /// Connects, without TLS, with a libpq-style connection string such as
    /// `host=/var/run/postgresql user=notifier dbname=app` or
    /// `postgresql://notifier@db.internal/app`.
    ///
    /// Unless the string sets `connect_timeout`, connecting gives up after 10 seconds. The
    /// connection is driven by a task spawned on the current Tokio runtime, so call this
    /// inside one. The tables are created on first use, not here.
    ///
    /// Fails as [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable) if the string cannot
    /// be parsed (the message does not repeat it: it may hold a password; parse it with
    /// [`tokio_postgres::Config`] and use
    /// [`connect_with_config`](PostgresStore::connect_with_config) for the parser's reason)
    /// or the server cannot be reached or refuses the connection.
    pub async fn connect(config: &str) -> Result<PostgresStore, StoreError> {
        let config: Config = config.parse().map_err(|_| {
            StoreError::unavailable(
                "the PostgreSQL connection string is invalid (it is not repeated here, since it \
                 may hold a password)",
            )
        })?;
        PostgresStore::connect_with_config(config).await
    }

    /// Connects, without TLS, with a [`tokio_postgres::Config`]; otherwise like
    /// [`connect`](PostgresStore::connect). The store keeps the configuration to reconnect.
    pub async fn connect_with_config(mut config: Config) -> Result<PostgresStore, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let client = open(&config).await?;
        let mut store = PostgresStore::from_client(client);
        store.config = Some(Box::new(config));
        Ok(store)
    }

    /// A store on a client the host connected itself: the way to use TLS, or any
    /// connection setting the connection string cannot express. The host spawns the
    /// client's connection task, as tokio-postgres requires, and must give the store a
    /// client of its own (the store pipelines its statements on it and never opens a
    /// transaction, but another user's open transaction would take them in).
    ///
    /// Such a store cannot reconnect: once the connection is lost, every call fails as
    /// [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable).
    pub fn from_client(client: Client) -> PostgresStore {
        PostgresStore {
            prefix: PostgresStore::DEFAULT_TABLE_PREFIX.to_owned(),
            sql: Sql::new(PostgresStore::DEFAULT_TABLE_PREFIX),
            config: None,
            client: Mutex::new(Arc::new(client)),
            schema: OnceCell::new(),
            codec: None,
        }
    }

    /// Uses tables whose names start with `prefix` instead of `jira_notifier_`, e.g. to
    /// keep several independent stores in one database. Call it before the store is used.
    ///
    /// # Panics
    ///
    /// If `prefix` is not made of lowercase ASCII letters, digits and `_` only, starts
    /// with a digit, or is longer than 40 bytes (so that every name stays a plain
    /// PostgreSQL identifier). It may be empty.
    pub fn with_table_prefix(mut self, prefix: &str) -> PostgresStore {
        assert!(
            valid_prefix(prefix),
            "invalid table prefix {prefix:?}: use at most {MAX_PREFIX_LEN} lowercase ASCII \
             letters, digits and underscores, not starting with a digit"
        );
        self.prefix = prefix.to_owned();
        self.sql = Sql::new(prefix);
        self.schema = OnceCell::new();
        self
    }

    /// Encodes the client secret before it is written and decodes it when it is read, e.g.
    /// to encrypt it at rest with the host's key. `encode` gets the secret and returns
    /// the text stored in the `client_secret` column; `decode` gets that text back.
    /// Errors they return are passed on as they are.
    ///
    /// A store with a codec reads back only what a store with the same codec wrote.
    pub fn with_secret_codec<E, D>(mut self, encode: E, decode: D) -> PostgresStore
    where
        E: Fn(&SecretString) -> Result<String, StoreError> + Send + Sync + 'static,
        D: Fn(&str) -> Result<SecretString, StoreError> + Send + Sync + 'static,
    {
        self.codec = Some(SecretCodec {
            encode: Box::new(encode),
            decode: Box::new(decode),
        });
        self
    }

    /// The prefix of the store's table names.
    pub fn table_prefix(&self) -> &str {
        &self.prefix
    }

    /// Creates the tables if they are missing and checks their version, as the first use
    /// does anyway: call it at start-up to fail early. Does nothing once it has succeeded.
    pub async fn ensure_schema(&self) -> Result<(), StoreError> {
        self.client().await.map(drop)
    }

    /// The connection, reopened if it was lost (and the store can), with the tables in
    /// place.
    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let client = {
            let mut slot = self.client.lock().await;
            if slot.is_closed() {
                let Some(config) = &self.config else {
                    return Err(StoreError::unavailable(
                        "the connection to PostgreSQL was lost, and this store, made from a \
                         client, cannot reconnect: make a new one",
                    ));
                };
                *slot = Arc::new(open(config).await?);
            }
            Arc::clone(&slot)
        };
        self.schema
            .get_or_try_init(|| self.create_schema(&client))
            .await?;
        Ok(client)
    }

    /// Creates or checks the tables in one message, so one transaction, under the
    /// advisory lock.
    async fn create_schema(&self, client: &Client) -> Result<(), StoreError> {
        let messages = client
            .simple_query(&self.sql.setup)
            .await
            .map_err(|e| server_error("create or check the store's tables", e))?;
        let found = messages
            .iter()
            .rev()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::parse::<i32>)),
                _ => None,
            })
            .flatten();
        let table = format!("{}schema_version", self.prefix);
        match found {
            Some(Ok(PostgresStore::SCHEMA_VERSION)) => Ok(()),
            Some(Ok(version)) if version > PostgresStore::SCHEMA_VERSION => {
                Err(StoreError::corrupt(format!(
                    "the table {table} says the store's tables have version {version}, made by a \
                     newer jira-notifier; this build knows version {} only and changed nothing",
                    PostgresStore::SCHEMA_VERSION
                )))
            }
            _ => Err(StoreError::corrupt(format!(
                "the table {table} does not hold a version this build knows"
            ))),
        }
    }

    async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        client
            .query_typed(sql, params)
            .await
            .map_err(|e| server_error(what, e))
    }

    async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_typed(sql, params)
            .await
            .map(drop)
            .map_err(|e| server_error(what, e))
    }

    /// The connection from its three columns, all null when there is none.
    fn connection_from(
        &self,
        row: &Row,
        first: usize,
        table: &str,
    ) -> Result<Option<Connection>, StoreError> {
        let client_id: Option<String> = column(row, first, table)?;
        let secret: Option<String> = column(row, first + 1, table)?;
        let site: Option<String> = column(row, first + 2, table)?;
        let (client_id, secret, site) = match (client_id, secret, site) {
            (Some(id), Some(secret), Some(site)) => (id, secret, site),
            (None, None, None) => return Ok(None),
            _ => return Err(corrupt_row(table, "a column is unexpectedly null")),
        };
        let site: Site = from_json(&site, table, "site")?;
        let secret = match &self.codec {
            Some(codec) => (codec.decode)(&secret)?,
            None => SecretString::from(secret),
        };
        Ok(Some(Connection {
            credentials: Credentials::new(client_id, secret),
            site,
        }))
    }

    fn table(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table_prefix", &self.prefix)
            .field("reconnects", &self.config.is_some())
            .field("secret_codec", &self.codec.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ConfigStore for PostgresStore {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        let rows = self
            .query("read the connection", &self.sql.load_connection, &[])
            .await?;
        match rows.first() {
            Some(row) => self.connection_from(row, 0, &self.table("connection")),
            None => Ok(None),
        }
    }

    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let credentials = &connection.credentials;
        let secret = match &self.codec {
            Some(codec) => (codec.encode)(credentials.client_secret())?,
            None => credentials.client_secret().expose_secret().to_owned(),
        };
        let site = to_json(&connection.site, "site")?;
        self.execute(
            "save the connection",
            &self.sql.save_connection,
            &[
                (&credentials.client_id(), Type::TEXT),
                (&secret, Type::TEXT),
                (&site, Type::TEXT),
            ],
        )
        .await
    }

    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.execute("delete the connection", &self.sql.delete_connection, &[])
            .await
    }

    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        let table = self.table("settings");
        let rows = self
            .query("read the settings", &self.sql.load_settings, &[])
            .await?;
        match rows.first() {
            Some(row) => from_json(&column::<String>(row, 0, &table)?, &table, "value").map(Some),
            None => Ok(None),
        }
    }

    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        let value = to_json(settings, "settings")?;
        self.execute(
            "save the settings",
            &self.sql.save_settings,
            &[(&value, Type::TEXT)],
        )
        .await
    }

    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.execute("delete the settings", &self.sql.delete_settings, &[])
            .await
    }

    async fn load_override(&self, test_id: &str) -> Result<Option<SavedOverride>, StoreError> {
        let table = self.table("overrides");
        let rows = self
            .query(
                "read a test's override",
                &self.sql.load_override,
                &[(&test_id, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => from_json(&column::<String>(row, 0, &table)?, &table, "value").map(Some),
            None => Ok(None),
        }
    }

    async fn save_override(&self, test_id: &str, value: &SavedOverride) -> Result<(), StoreError> {
        let value = to_json(value, "override")?;
        self.execute(
            "save a test's override",
            &self.sql.save_override,
            &[(&test_id, Type::TEXT), (&value, Type::TEXT)],
        )
        .await
    }

    async fn delete_override(&self, test_id: &str) -> Result<(), StoreError> {
        self.execute(
            "delete a test's override",
            &self.sql.delete_override,
            &[(&test_id, Type::TEXT)],
        )
        .await
    }

    async fn load_record(&self, test_id: &str) -> Result<Option<IssueRecord>, StoreError> {
        let rows = self
            .query(
                "read a test's issue record",
                &self.sql.load_record,
                &[(&test_id, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => record_from(row, 0, &self.table("records")),
            None => Ok(None),
        }
    }

    async fn save_record(&self, test_id: &str, record: &IssueRecord) -> Result<(), StoreError> {
        self.execute(
            "save a test's issue record",
            &self.sql.save_record,
            &[
                (&test_id, Type::TEXT),
                (&record.issue_id, Type::TEXT),
                (&record.issue_key, Type::TEXT),
                (&record.label, Type::TEXT),
            ],
        )
        .await
    }

    async fn load_health(&self) -> Result<Health, StoreError> {
        let table = self.table("health");
        let rows = self
            .query("read the health", &self.sql.load_health, &[])
            .await?;
        let mut health = Health::default();
        if let Some(row) = rows.first() {
            let success: Option<i64> = column(row, 0, &table)?;
            let refusal: Option<String> = column(row, 1, &table)?;
            health.last_success = success.map(|ms| {
                std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            });
            health.last_refusal = refusal
                .map(|r| from_json::<Refusal>(&r, &table, "last_refusal"))
                .transpose()?;
        }
        Ok(health)
    }

    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        const WHAT: &str = "record the health";
        match event {
            HealthEvent::Created { at } => {
                let ms = at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                self.execute(WHAT, &self.sql.health_created, &[(&ms, Type::INT8)])
                    .await
            }
            HealthEvent::Refused(refusal) => {
                let value = to_json(refusal, "refusal")?;
                self.execute(WHAT, &self.sql.health_refused, &[(&value, Type::TEXT)])
                    .await
            }
            HealthEvent::SettingsSaved => self.execute(WHAT, &self.sql.health_cleared, &[]).await,
            HealthEvent::OverrideSaved { test_id } => {
                self.execute(
                    WHAT,
                    &self.sql.health_cleared_for,
                    &[(&test_id.as_str(), Type::TEXT)],
                )
                .await
            }
            // An event of a newer jira-notifier than this store knows: applied as the
            // crate says, by reading and writing the whole row (not atomic; cannot happen
            // with the jira-notifier this crate is built against).
            other => {
                let mut health = self.load_health().await?;
                health.apply(other);
                let ms = health.last_success.map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                });
                let refusal = health
                    .last_refusal
                    .as_ref()
                    .map(|r| to_json(r, "refusal"))
                    .transpose()?;
                self.execute(
                    WHAT,
                    &self.sql.health_replace,
                    &[(&ms, Type::INT8), (&refusal, Type::TEXT)],
                )
                .await
            }
        }
    }

    async fn claim_create(
        &self,
        test_id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        const WHAT: &str = "claim a test's issue creation";
        let lease = lease_micros(lease);
        let claims = self.table("claims");
        let mut record = None;
        for _ in 0..CLAIM_ATTEMPTS {
            let client = self.client().await?;
            // One round trip: the state is read by a statement of its own, which the
            // server runs once the claim is done.
            let (claimed, state) = both(
                client.query_typed(
                    &self.sql.claim,
                    &[
                        (&test_id, Type::TEXT),
                        (&owner, Type::TEXT),
                        (&lease, Type::INT8),
                    ],
                ),
                client.query_typed(&self.sql.claim_state, &[(&test_id, Type::TEXT)]),
            )
            .await;
            let granted = !claimed.map_err(|e| server_error(WHAT, e))?.is_empty();
            let state = state.map_err(|e| server_error(WHAT, e))?;
            let row = state
                .first()
                .ok_or_else(|| corrupt_row(&claims, "the claim's state query returned no row"))?;
            record = record_from(row, 2, &self.table("records"))?;
            if granted {
                return Ok(Claim::Granted { record });
            }
            let holder: Option<String> = column(row, 0, &claims)?;
            let left: Option<i64> = column(row, 1, &claims)?;
            match (holder, left) {
                // Only another call of the same owner can have claimed in between.
                (Some(holder), _) if holder == owner => return Ok(Claim::Granted { record }),
                (Some(_), Some(left)) => {
                    return Ok(Claim::Busy {
                        record,
                        expires_in: Duration::from_micros(u64::try_from(left).unwrap_or(0)),
                    })
                }
                // The holder released between the two statements: claim again.
                _ => {}
            }
        }
        Ok(Claim::Busy {
            record,
            expires_in: Duration::ZERO,
        })
    }

    async fn release_create(
        &self,
        test_id: &str,
        owner: &str,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        let issue_id = record.map(|r| r.issue_id.as_str());
        let issue_key = record.map(|r| r.issue_key.as_str());
        let label = record.map(|r| r.label.as_str());
        self.execute(
            "release a test's issue creation",
            &self.sql.release,
            &[
                (&test_id, Type::TEXT),
                (&owner, Type::TEXT),
                (&issue_id, Type::TEXT),
                (&issue_key, Type::TEXT),
                (&label, Type::TEXT),
            ],
        )
        .await
    }

    async fn load_test_context(&self, test_id: &str) -> Result<TestContext, StoreError> {
        let rows = self
            .query(
                "read a test's context",
                &self.sql.context,
                &[(&test_id, Type::TEXT)],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Err(corrupt_row(
                &self.table("connection"),
                "the context query returned no row",
            ));
        };
        let settings_table = self.table("settings");
        let overrides_table = self.table("overrides");
        let settings: Option<String> = column(row, 3, &settings_table)?;
        let test_override: Option<String> = column(row, 4, &overrides_table)?;
        Ok(TestContext {
            connection: self.connection_from(row, 0, &self.table("connection"))?,
            settings: settings
                .map(|s| from_json(&s, &settings_table, "value"))
                .transpose()?,
            test_override: test_override
                .map(|o| from_json(&o, &overrides_table, "value"))
                .transpose()?,
            record: record_from(row, 5, &self.table("records"))?,
        })
    }
}

/// Opens a connection without TLS and spawns its task.
async fn open(config: &Config) -> Result<Client, StoreError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| server_error("connect", e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            let e = server_error("keep the connection", e);
            tracing::warn!(error = %e, "the PostgreSQL store's connection ended");
        }
    });
    Ok(client)
}

/// Runs two futures together, polling `first` before `second` each time: the request
/// `first` sends goes out (and runs on the server) before the one `second` sends.
async fn both<A: Future, B: Future>(first: A, second: B) -> (A::Output, B::Output) {
    let mut first = pin!(first);
    let mut second = pin!(second);
    let (mut a, mut b) = (None, None);
    std::future::poll_fn(move |cx| {
        if a.is_none() {
            if let Poll::Ready(out) = first.as_mut().poll(cx) {
                a = Some(out);
            }
        }
        if b.is_none() {
            if let Poll::Ready(out) = second.as_mut().poll(cx) {
                b = Some(out);
            }
        }
        match (a.take(), b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (x, y) => {
                (a, b) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

/// The lease in microseconds, cut to [`MAX_LEASE`].
fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_micros()).unwrap_or(i64::MAX)
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX_LEN
        && !prefix.starts_with(|c: char| c.is_ascii_digit())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The advisory lock key of a table prefix: the same in every process and version.
fn lock_key(prefix: &str) -> i64 {
    let digest = Sha256::digest(format!("jira-notifier tables {prefix}").as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(key)
}

/// A failure reported by tokio-postgres, with the server's message and code but never
/// its detail (which may quote a row).
fn server_error(what: &str, error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        return StoreError::unavailable(format!("PostgreSQL: cannot {what}: {error}"))
            .with_source(error);
    };
    let code = db.code();
    let message = format!(
        "PostgreSQL: cannot {what}: {} (SQLSTATE {})",
        db.message(),
        code.code()
    );
    if [
        SqlState::UNDEFINED_TABLE,
        SqlState::UNDEFINED_COLUMN,
        SqlState::DATATYPE_MISMATCH,
    ]
    .contains(code)
    {
        StoreError::corrupt(format!(
            "{message}; the store's tables do not have the layout of version {}",
            PostgresStore::SCHEMA_VERSION
        ))
    } else {
        StoreError::unavailable(message)
    }
}

fn corrupt_row(table: &str, what: &str) -> StoreError {
    StoreError::corrupt(format!("a row of the table {table} cannot be read: {what}"))
}

/// A column's value; a value of an unexpected type is corrupt. Never quotes the value.
fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize, table: &str) -> Result<T, StoreError> {
    row.try_get(index).map_err(|_| {
        let name = row.columns().get(index).map_or("?", |c| c.name());
        corrupt_row(
            table,
            &format!("its column {name} does not have the expected type"),
        )
    })
}

/// A record from its three columns, all null when there is none.
fn record_from(row: &Row, first: usize, table: &str) -> Result<Option<IssueRecord>, StoreError> {
    let issue_id: Option<String> = column(row, first, table)?;
    let issue_key: Option<String> = column(row, first + 1, table)?;
    let label: Option<String> = column(row, first + 2, table)?;
    match (issue_id, issue_key, label) {
        (Some(issue_id), Some(issue_key), Some(label)) => Ok(Some(IssueRecord {
            issue_id,
            issue_key,
            label,
        })),
        (None, None, None) => Ok(None),
        _ => Err(corrupt_row(table, "a column is unexpectedly null")),
    }
}

/// Decodes a JSON column. Never carries serde's message, which may quote the value.
fn from_json<T: DeserializeOwned>(text: &str, table: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        corrupt_row(
            table,
            &format!(
                "its column {column} does not have the expected layout (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::corrupt(format!("the {what} cannot be written as JSON")))
}

/// Every statement, with the table names filled in.
struct Sql {
    setup: String,
    load_connection: String,
    save_connection: String,
    delete_connection: String,
    load_settings: String,
    save_settings: String,
    delete_settings: String,
    load_override: String,
    save_override: String,
    delete_override: String,
    load_record: String,
    save_record: String,
    claim: String,
    claim_state: String,
    release: String,
    context: String,
    load_health: String,
    health_created: String,
    health_refused: String,
    health_cleared: String,
    health_cleared_for: String,
    health_replace: String,
}

impl Sql {
    fn new(p: &str) -> Sql {
        let key = lock_key(p);
        let version = PostgresStore::SCHEMA_VERSION;
        let lease = "clock_timestamp() + $3::float8 * interval '1 microsecond'";
        Sql {
            // One message: one transaction, holding the advisory lock to its end.
            setup: format!(
                "DO $jira_notifier$
BEGIN
    SET LOCAL client_min_messages = warning;
    PERFORM pg_advisory_xact_lock({key});
    CREATE TABLE IF NOT EXISTS {p}schema_version (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version integer NOT NULL
    );
    IF NOT EXISTS (SELECT FROM {p}schema_version) THEN
        CREATE TABLE IF NOT EXISTS {p}connection (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            client_id text NOT NULL,
            client_secret text NOT NULL,
            site jsonb NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {p}settings (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            value jsonb NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {p}overrides (
            test_id text PRIMARY KEY,
            value jsonb NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {p}records (
            test_id text PRIMARY KEY,
            issue_id text NOT NULL,
            issue_key text NOT NULL,
            label text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {p}claims (
            test_id text PRIMARY KEY,
            owner text NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {p}health (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            last_success_ms bigint,
            last_refusal jsonb
        );
        INSERT INTO {p}schema_version (version) VALUES ({version});
    ELSIF (SELECT version FROM {p}schema_version) = 1 THEN
        CREATE TABLE IF NOT EXISTS {p}health (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            last_success_ms bigint,
            last_refusal jsonb
        );
        UPDATE {p}schema_version SET version = {version};
    END IF;
END
$jira_notifier$;
SELECT version FROM {p}schema_version"
            ),
            load_connection: format!(
                "SELECT client_id, client_secret, site::text FROM {p}connection"
            ),
            save_connection: format!(
                "INSERT INTO {p}connection (singleton, client_id, client_secret, site) \
                 VALUES (true, $1, $2, $3::jsonb) \
                 ON CONFLICT (singleton) DO UPDATE SET client_id = EXCLUDED.client_id, \
                 client_secret = EXCLUDED.client_secret, site = EXCLUDED.site"
            ),
            delete_connection: format!("DELETE FROM {p}connection"),
            load_settings: format!("SELECT value::text FROM {p}settings"),
            save_settings: format!(
                "INSERT INTO {p}settings (singleton, value) VALUES (true, $1::jsonb) \
                 ON CONFLICT (singleton) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete_settings: format!("DELETE FROM {p}settings"),
            load_override: format!("SELECT value::text FROM {p}overrides WHERE test_id = $1"),
            save_override: format!(
                "INSERT INTO {p}overrides (test_id, value) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (test_id) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete_override: format!("DELETE FROM {p}overrides WHERE test_id = $1"),
            load_record: format!(
                "SELECT issue_id, issue_key, label FROM {p}records WHERE test_id = $1"
            ),
            save_record: format!(
                "INSERT INTO {p}records (test_id, issue_id, issue_key, label) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (test_id) DO UPDATE SET issue_id = EXCLUDED.issue_id, \
                 issue_key = EXCLUDED.issue_key, label = EXCLUDED.label"
            ),
            claim: format!(
                "INSERT INTO {p}claims AS c (test_id, owner, expires_at) \
                 VALUES ($1, $2, {lease}) \
                 ON CONFLICT (test_id) DO UPDATE \
                 SET owner = EXCLUDED.owner, expires_at = {lease} \
                 WHERE c.owner = EXCLUDED.owner OR c.expires_at <= clock_timestamp() \
                 RETURNING true"
            ),
            claim_state: format!(
                "SELECT c.owner, \
                 (extract(epoch FROM c.expires_at - clock_timestamp()) * 1000000)::int8, \
                 r.issue_id, r.issue_key, r.label \
                 FROM (VALUES (1)) AS one (x) \
                 LEFT JOIN {p}claims c ON c.test_id = $1 \
                 LEFT JOIN {p}records r ON r.test_id = $1"
            ),
            release: format!(
                "WITH saved AS ( \
                 INSERT INTO {p}records (test_id, issue_id, issue_key, label) \
                 SELECT $1, $3, $4, $5 WHERE $3 IS NOT NULL \
                 ON CONFLICT (test_id) DO UPDATE SET issue_id = EXCLUDED.issue_id, \
                 issue_key = EXCLUDED.issue_key, label = EXCLUDED.label) \
                 DELETE FROM {p}claims WHERE test_id = $1 AND owner = $2"
            ),
            context: format!(
                "SELECT c.client_id, c.client_secret, c.site::text, \
                 (SELECT s.value::text FROM {p}settings s), \
                 (SELECT o.value::text FROM {p}overrides o WHERE o.test_id = $1), \
                 r.issue_id, r.issue_key, r.label \
                 FROM (VALUES (1)) AS one (x) \
                 LEFT JOIN {p}connection c ON true \
                 LEFT JOIN {p}records r ON r.test_id = $1"
            ),
            load_health: format!("SELECT last_success_ms, last_refusal::text FROM {p}health"),
            health_created: format!(
                "INSERT INTO {p}health (singleton, last_success_ms, last_refusal) \
                 VALUES (true, $1, NULL) \
                 ON CONFLICT (singleton) DO UPDATE \
                 SET last_success_ms = EXCLUDED.last_success_ms, last_refusal = NULL"
            ),
            health_refused: format!(
                "INSERT INTO {p}health (singleton, last_refusal) VALUES (true, $1::jsonb) \
                 ON CONFLICT (singleton) DO UPDATE SET last_refusal = EXCLUDED.last_refusal"
            ),
            health_cleared: format!("UPDATE {p}health SET last_refusal = NULL"),
            health_cleared_for: format!(
                "UPDATE {p}health SET last_refusal = NULL WHERE last_refusal ->> 'test_id' = $1"
            ),
            health_replace: format!(
                "INSERT INTO {p}health (singleton, last_success_ms, last_refusal) \
                 VALUES (true, $1, $2::jsonb) \
                 ON CONFLICT (singleton) DO UPDATE \
                 SET last_success_ms = EXCLUDED.last_success_ms, \
                 last_refusal = EXCLUDED.last_refusal"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jira_notifier::StoreErrorKind;

    fn full_message(error: &StoreError) -> String {
        let mut text = format!("{error} / {error:?}");
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            text.push_str(&format!(" / {s} / {s:?}"));
            source = s.source();
        }
        text
    }

    #[test]
    fn table_prefixes_must_be_plain_identifiers() {
        for good in [
            "",
            "jira_notifier_",
            "qa_",
            "_x9",
            &"a".repeat(MAX_PREFIX_LEN),
        ] {
            assert!(valid_prefix(good), "{good:?}");
        }
        for bad in [
            "Jira_",
            "9a_",
            "a-b",
            "a b",
            "a\"; drop table x; --",
            "é_",
            &"a".repeat(MAX_PREFIX_LEN + 1),
        ] {
            assert!(!valid_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn statements_use_the_prefix() {
        let sql = Sql::new("qa_");
        assert!(sql.claim.contains("INSERT INTO qa_claims AS c"));
        assert!(sql.release.contains("DELETE FROM qa_claims"));
        assert!(sql
            .setup
            .contains("CREATE TABLE IF NOT EXISTS qa_schema_version"));
        assert!(sql
            .setup
            .contains(&format!("pg_advisory_xact_lock({})", lock_key("qa_"))));
        assert!(!sql.context.contains("jira_notifier_"));
    }

    #[test]
    fn lock_keys_are_stable_and_differ_by_prefix() {
        assert_eq!(lock_key("qa_"), lock_key("qa_"));
        assert_ne!(lock_key("qa_"), lock_key("qb_"));
        assert_ne!(lock_key(""), lock_key(PostgresStore::DEFAULT_TABLE_PREFIX));
    }

    #[test]
    fn leases_are_cut_to_a_century() {
        assert_eq!(lease_micros(Duration::from_millis(300)), 300_000);
        assert_eq!(lease_micros(Duration::MAX), lease_micros(MAX_LEASE));
        assert!(lease_micros(Duration::MAX) > 0);
    }

    #[tokio::test]
    async fn both_runs_the_two_futures_to_the_end() {
        let slow = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            1
        };
        assert_eq!(both(slow, async { 2 }).await, (1, 2));
        assert_eq!(both(async { 3 }, tokio::task::yield_now()).await, (3, ()));
    }

    #[tokio::test]
    async fn a_bad_connection_string_is_unavailable_and_not_repeated() {
        let error = PostgresStore::connect("host=x password='hunter2-secret")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(!full_message(&error).contains("hunter2"), "{error:?}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_and_the_password_is_not_shown() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = PostgresStore::connect(&format!(
            "host=127.0.0.1 port={port} user=u password=hunter2-secret connect_timeout=5"
        ))
        .await
        .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        let text = full_message(&error);
        assert!(text.contains("cannot connect"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
