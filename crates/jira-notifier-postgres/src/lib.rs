//! A [`ConfigStore`] on PostgreSQL for `jira-notifier`: [`PostgresStore`].
//!
//! One database serves many workspaces (a hosted product's customers, each with its own
//! Jira site and settings) and many replicas: every row is keyed by workspace, a
//! [`PostgresStore`] is a cheap handle on one workspace over a connection pool shared by
//! all of them, and the store's create claim makes exactly one replica create a failing
//! test's issue. The layout of the tables, how versions 1 to 3 are migrated, the exact
//! statements of the claim and of the test and workspace states' compare-and-swap, and how
//! to carry the claim over to another database are documented on [`PostgresStore`].
//!
//! With the `rustls` feature, [`PostgresStoreBuilder::tls`] connects with TLS (hosted
//! databases require it).
//!
//! This crate is apart from `jira-notifier` because its public API holds `tokio-postgres`
//! and `deadpool-postgres` types ([`tokio_postgres::Config`], [`deadpool_postgres::Pool`]):
//! a new major version of those is a new major version of this crate only. It re-exports
//! them as [`tokio_postgres`] and [`deadpool_postgres`] (and, with `rustls`, [`rustls`] and
//! [`tokio_postgres_rustls`]) so that a host builds its configuration and pool with the
//! very versions used here.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use deadpool_postgres;
#[cfg(feature = "rustls")]
pub use rustls;
pub use tokio_postgres;
#[cfg(feature = "rustls")]
pub use tokio_postgres_rustls;

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    TimeoutType,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
#[cfg(feature = "rustls")]
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Config, NoTls, Row, SimpleQueryMessage};

use jira_notifier::{
    Claim, ClaimOwner, ConfigStore, Connection, CredentialKind, Credentials, Health, HealthEvent,
    IssueRecord, Refusal, SavedOverride, SavedSettings, Site, StoreError, TestContext, TestId,
    TestState, Versioned, WorkspaceState,
};

/// How long opening a connection may take when the connection string sets no
/// `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a call waits for a pooled connection to become free before it fails as
/// `Unavailable` (pools made by this crate; a host's own pool keeps its own settings).
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Leases longer than this are cut to it (a century: "until released").
const MAX_LEASE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The longest table prefix: the longest name made from it
/// (`<prefix>workspace_states_pkey`, the primary key's index) must fit PostgreSQL's 63-byte
/// identifiers.
const MAX_PREFIX_LEN: usize = 40;

/// How often `claim_create` tries again when the holder it met released in between its
/// two statements (each retry means another notifier made progress).
const CLAIM_ATTEMPTS: usize = 8;

/// Encodes the client secret for its column.
type EncodeSecret = dyn Fn(&SecretString) -> Result<String, StoreError> + Send + Sync;
/// Decodes the client secret's column.
type DecodeSecret = dyn Fn(&str) -> Result<SecretString, StoreError> + Send + Sync;

/// A [`ConfigStore`] on PostgreSQL (9.5 or later) for one workspace, shared safely by any
/// number of notifiers in any number of processes.
///
/// A `PostgresStore` is a handle: an [`Arc`] of the part shared by every workspace (the
/// connection pool, the table names, the secret codec) plus the id of the workspace that
/// every read and write of the handle belongs to. Cloning it, or making the handle of
/// another workspace with [`workspace`](PostgresStore::workspace), is cheap and opens no
/// connection.
///
/// # The host's side: one pool, one handle per workspace
///
/// ```no_run
/// # async fn example(tenants: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use jira_notifier::ConfigStore;
/// use jira_notifier_postgres::PostgresStore;
///
/// // Once per process: the pool, sized by the host.
/// let config = "host=db.internal user=notifier dbname=app".parse()?;
/// let shared = PostgresStore::builder(config).pool_size(16).connect().await?;
///
/// // Per workspace, whenever one is needed: no connection, no query, a few bytes.
/// for tenant in &tenants {
///     let store: Arc<dyn ConfigStore> = Arc::new(shared.workspace(tenant)?);
///     // … hand `store` to that workspace's notifier.
/// }
/// # Ok(()) }
/// ```
///
/// A host with one workspace keeps today's one line:
/// `PostgresStore::connect("host=… user=… dbname=…").await?` is the workspace `default`
/// ([`DEFAULT_WORKSPACE`](PostgresStore::DEFAULT_WORKSPACE)) on a pool of
/// [`DEFAULT_POOL_SIZE`](PostgresStore::DEFAULT_POOL_SIZE) connections.
///
/// Two workspaces never see each other's connection, settings, overrides, records, test
/// states, workspace state or claims: a claim on test `t` in workspace A leaves `t` free in
/// workspace B. A workspace id is any text of 1 to
/// [`MAX_WORKSPACE_ID_LEN`](PostgresStore::MAX_WORKSPACE_ID_LEN) bytes without the NUL
/// character; it is only ever sent as a bound parameter, never spliced into SQL.
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
/// # Connecting: the pool
///
/// Every call takes a connection from a [`deadpool_postgres::Pool`] shared by all the
/// workspace handles made from one store, runs its one statement (or, for the claim, its
/// two pipelined statements) and gives the connection back. Each call is one round trip
/// (the first call of a store also sends the setup message, and a call that finds no idle
/// connection waits for the pool to open one).
///
/// - [`connect`](PostgresStore::connect) takes a libpq-style connection string
///   (`host=… user=… dbname=…` or `postgresql://…`);
///   [`connect_with_config`](PostgresStore::connect_with_config) a
///   [`tokio_postgres::Config`]. Both connect **without TLS** on a pool of
///   [`DEFAULT_POOL_SIZE`](PostgresStore::DEFAULT_POOL_SIZE) connections.
/// - [`builder`](PostgresStore::builder) sizes the pool
///   ([`pool_size`](PostgresStoreBuilder::pool_size)) and, with the `rustls` feature, sets
///   TLS ([`tls`](PostgresStoreBuilder::tls)).
/// - [`from_pool`](PostgresStore::from_pool) takes the host's own pool, for any other
///   connection setup (another TLS stack, a `post_create` hook, other timeouts).
///
/// The pool is [deadpool-postgres] rather than [bb8]: it is small (a semaphore and a queue
/// of idle connections), runs no background task (bb8 spawns a reaper per pool), checks a
/// connection when it is taken (a lost one is dropped and replaced, with no extra round
/// trip under the default `RecyclingMethod::Fast`), and its `Pool` type does not carry the
/// TLS connector's type (bb8's `Pool<PostgresConnectionManager<Tls>>` does), so
/// `from_pool` takes one type whatever TLS the host uses.
///
/// The default size, 8, matches the engine's default cap of 8 Jira requests in flight per
/// notifier: a report holds a connection for one round trip at a time (one read, plus a
/// claim and a release when it creates an issue) and spends the rest of its time on Jira,
/// so 8 connections keep up with more reports than the cap lets through, and a dozen
/// replicas with 8 each stay under PostgreSQL's default `max_connections` of 100. A pool
/// lends each connection to one call at a time, so a pool of 1 runs the process's calls
/// one after the other. A host serving many workspaces from one process sizes the pool to
/// its report rate: the `pg_reports` binary of the repository's `jira-notifier-stress`
/// crate measures reports per second at several sizes (figures in the README).
///
/// Connections are opened on demand, up to the pool's size; `connect` opens the first one
/// to fail early. Unless the connection string sets `connect_timeout`, opening a
/// connection gives up after 10 seconds; with a pool made by `connect` or the builder, a
/// call waits at most 30 seconds for a pooled connection to become free. When the server
/// goes away, calls fail with
/// [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable) errors; once it is back, the
/// next calls open new connections and work again.
///
/// The store never leaves a transaction open: every call is one statement (or one
/// multi-statement message), so dropping a call's future half-way changes nothing beyond
/// what the statement itself does, and the connection goes back to the pool clean. A
/// host sharing its pool with its own code must not give a connection back inside an
/// open transaction.
///
/// [deadpool-postgres]: https://docs.rs/deadpool-postgres
/// [bb8]: https://docs.rs/bb8
///
/// # TLS (feature `rustls`)
///
/// [`PostgresStoreBuilder::tls`] takes a [`rustls::ClientConfig`] (built with the host's
/// crypto provider and root certificates: the cloud provider's CA bundle, or the system's
/// roots with `rustls-native-certs`, or `webpki-roots`) and connects through
/// [`tokio_postgres_rustls`]. The server's certificate is always verified against those
/// roots and the host name (like libpq's `sslmode=verify-full`), and a connection string
/// that leaves `sslmode` at its default (`prefer`) is made `require`, so that a server (or
/// a man in the middle) that declines TLS is refused rather than used in clear:
///
/// ```no_run
/// # #[cfg(feature = "rustls")]
/// # async fn example(ca_pem: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// use jira_notifier_postgres::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};
/// use jira_notifier_postgres::PostgresStore;
///
/// let mut roots = rustls::RootCertStore::empty();
/// for cert in CertificateDer::pem_slice_iter(ca_pem) {
///     roots.add(cert?)?;
/// }
/// let tls = rustls::ClientConfig::builder() // the process's default crypto provider
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let config = "host=db.example.com user=notifier dbname=app sslmode=require".parse()?;
/// let store = PostgresStore::builder(config).tls(tls).pool_size(16).connect().await?;
/// # Ok(()) }
/// ```
///
/// # Tables
///
/// The store creates its tables on first use (or at
/// [`ensure_schema`](PostgresStore::ensure_schema)), with names starting with the table
/// prefix ([`DEFAULT_TABLE_PREFIX`](PostgresStore::DEFAULT_TABLE_PREFIX), `jira_notifier_`,
/// unless set with [`with_table_prefix`](PostgresStore::with_table_prefix)), in the first
/// schema of the connection's `search_path` (to use another schema, add
/// `options='-c search_path=my_schema'` to the connection string). With the default
/// prefix, schema version 4 is:
///
/// ```sql
/// CREATE TABLE jira_notifier_schema_version (
///     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
///     version integer NOT NULL                -- 3
/// );
/// CREATE TABLE jira_notifier_connection (    -- at most one row per workspace
///     workspace text PRIMARY KEY,
///     client_id text NOT NULL,                -- or an API token's email, a token source's name
///     client_secret text NOT NULL,            -- in clear, unless a secret codec is set
///     site jsonb NOT NULL,                    -- {"cloud_id": …, "name": …, "url": …}
///     credential_kind text NOT NULL DEFAULT 'client_credentials'  -- CredentialKind::as_str
/// );
/// CREATE TABLE jira_notifier_settings (      -- at most one row per workspace
///     workspace text PRIMARY KEY,
///     value jsonb NOT NULL                    -- SavedSettings, as serde writes it
/// );
/// CREATE TABLE jira_notifier_overrides (
///     workspace text NOT NULL,
///     test_id text NOT NULL,
///     value jsonb NOT NULL,                   -- SavedOverride, as serde writes it
///     PRIMARY KEY (workspace, test_id)
/// );
/// CREATE TABLE jira_notifier_records (
///     workspace text NOT NULL,
///     test_id text NOT NULL,
///     issue_id text NOT NULL,
///     issue_key text NOT NULL,
///     label text NOT NULL,
///     PRIMARY KEY (workspace, test_id)
/// );
/// CREATE TABLE jira_notifier_claims (
///     workspace text NOT NULL,
///     test_id text NOT NULL,
///     owner text NOT NULL,
///     expires_at timestamptz NOT NULL,        -- on the database's clock
///     PRIMARY KEY (workspace, test_id)
/// );
/// CREATE INDEX jira_notifier_claims_expires_at ON jira_notifier_claims (expires_at);
/// CREATE TABLE jira_notifier_health (        -- at most one row per workspace
///     workspace text PRIMARY KEY,
///     last_success_ms bigint,                 -- ms since the Unix epoch
///     last_refusal jsonb                      -- Refusal, as serde writes it
/// );
/// CREATE TABLE jira_notifier_test_states (   -- new in version 3
///     workspace text NOT NULL,
///     test_id text NOT NULL,
///     version bigint NOT NULL,                -- 1 at the first swap; no row is version 0
///     state jsonb NOT NULL,                   -- TestState, as serde writes it
///     PRIMARY KEY (workspace, test_id)
/// );
/// CREATE TABLE jira_notifier_workspace_states (  -- new in version 4
///     workspace text PRIMARY KEY,             -- at most one row per workspace
///     version bigint NOT NULL,                -- 1 at the first swap; no row is version 0
///     state jsonb NOT NULL                    -- WorkspaceState, as serde writes it
/// );
/// ```
///
/// Tables are created (or migrated) in one message holding the transaction-level advisory
/// lock `pg_advisory_xact_lock(k)`, `k` a number derived from the table prefix (the same
/// in every version): replicas starting together create or migrate them once, one after
/// the other. A store meeting a version it does not know (made by a newer build) fails
/// with [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt) errors and changes nothing.
///
/// Workspace ids, test ids, values and the secret are `text`, which cannot hold the NUL
/// character.
///
/// # Migrating version 1
///
/// Version 1 (this crate before workspaces) had the first six tables, with one row each in
/// `connection` and `settings` (keyed by `singleton boolean`) and overrides, records and
/// claims keyed by `test_id` alone. A store that finds version 1 migrates it in place to
/// version 2, then 3 and 4 (below), in one transaction under the advisory lock: every row
/// becomes the workspace `default`'s, nothing is copied or lost, and the tables keep their
/// names, owners and grants. If any step fails, nothing changes (the error is
/// [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt) when the tables are not as version 1
/// left them, e.g. a view depends on a column). With the default prefix:
///
/// ```sql
/// ALTER TABLE jira_notifier_connection ADD COLUMN workspace text NOT NULL DEFAULT 'default';
/// ALTER TABLE jira_notifier_connection ALTER COLUMN workspace DROP DEFAULT;
/// ALTER TABLE jira_notifier_connection DROP COLUMN singleton;   -- its key and check go too
/// ALTER TABLE jira_notifier_connection ADD PRIMARY KEY (workspace);
/// -- jira_notifier_settings: the same four statements.
/// ALTER TABLE jira_notifier_overrides ADD COLUMN workspace text NOT NULL DEFAULT 'default';
/// ALTER TABLE jira_notifier_overrides ALTER COLUMN workspace DROP DEFAULT;
/// ALTER TABLE jira_notifier_overrides DROP CONSTRAINT jira_notifier_overrides_pkey;
/// ALTER TABLE jira_notifier_overrides ADD PRIMARY KEY (workspace, test_id);
/// -- jira_notifier_records and jira_notifier_claims: the same four statements.
/// CREATE INDEX jira_notifier_claims_expires_at ON jira_notifier_claims (expires_at);
/// CREATE TABLE jira_notifier_health (…);      -- as above
/// -- then the steps from versions 2 and 3 (below), and the version is set once:
/// UPDATE jira_notifier_schema_version SET version = 4;
/// ```
///
/// (In a migrated table `workspace` is the last column; statements name their columns, so
/// the order plays no part.) A live claim of version 1 stays live, now in `default`.
/// Stop the replicas of version 1 before starting those of a later version: once the
/// tables are migrated, their statements fail.
///
/// # Migrating version 2
///
/// Version 3 stores the kind of credential (client credentials, an API token, the host's
/// token source) with the connection, and adds the test states table. A store that finds
/// version 2 adds both, in the same way (one transaction under the advisory lock; if the
/// table name is taken, nothing changes and the error is
/// [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt)), then takes the step from version 3
/// (below); a stored connection is then client credentials, as it was:
///
/// ```sql
/// ALTER TABLE jira_notifier_connection
///     ADD COLUMN credential_kind text NOT NULL DEFAULT 'client_credentials';
/// CREATE TABLE jira_notifier_test_states (…);  -- as above
/// -- then the step from version 3 (below), and the version is set once:
/// UPDATE jira_notifier_schema_version SET version = 4;
/// ```
///
/// # Migrating version 3
///
/// Version 4 only adds the workspace states table, in the same way (one transaction under
/// the advisory lock; if the table name is taken, nothing changes and the error is
/// [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt)):
///
/// ```sql
/// CREATE TABLE jira_notifier_workspace_states (…);  -- as above
/// UPDATE jira_notifier_schema_version SET version = 4;
/// ```
///
/// Both steps only add (a column with a default, a table), so replicas of version 2 or 3
/// that are already running keep working next to those of version 4 (none of their
/// statements changed); a replica of version 2 or 3 started after the migration refuses
/// the tables (version 4 is newer than it knows), as for any newer version.
///
/// # The create claim
///
/// [`claim_create`](ConfigStore::claim_create) sends two statements together on one
/// pooled connection (one round trip; PostgreSQL runs them one after the other). First
/// the claim, one atomic statement on the database's clock (`clock_timestamp()`), so the
/// replicas' clocks play no part:
///
/// ```sql
/// INSERT INTO jira_notifier_claims AS c (workspace, test_id, owner, expires_at)
/// VALUES ($1, $2, $3, clock_timestamp() + $4::float8 * interval '1 microsecond')
/// ON CONFLICT (workspace, test_id) DO UPDATE
///     SET owner = EXCLUDED.owner,
///         expires_at = clock_timestamp() + $4::float8 * interval '1 microsecond'
///     WHERE c.owner = EXCLUDED.owner OR c.expires_at <= clock_timestamp()
/// RETURNING true
/// ```
///
/// (`$1` the workspace, `$2` the test id, `$3` the owner, `$4` the lease in microseconds).
/// A row back means granted (a new claim, a takeover of an expired one, or the holder
/// renewing); no row means another owner holds a live lease. Then, in a statement of its
/// own, the record and the claim as they are once the first statement is done:
///
/// ```sql
/// SELECT c.owner,
///        (extract(epoch FROM c.expires_at - clock_timestamp()) * 1000000)::int8,
///        r.issue_id, r.issue_key, r.label
/// FROM (VALUES (1)) AS one (x)
/// LEFT JOIN jira_notifier_claims c ON c.workspace = $1 AND c.test_id = $2
/// LEFT JOIN jira_notifier_records r ON r.workspace = $1 AND r.test_id = $2
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
///     INSERT INTO jira_notifier_records (workspace, test_id, issue_id, issue_key, label)
///     SELECT $1, $2, $4, $5, $6 WHERE $4 IS NOT NULL
///     ON CONFLICT (workspace, test_id) DO UPDATE
///         SET issue_id = EXCLUDED.issue_id, issue_key = EXCLUDED.issue_key,
///             label = EXCLUDED.label
/// )
/// DELETE FROM jira_notifier_claims WHERE workspace = $1 AND test_id = $2 AND owner = $3
/// ```
///
/// [`load_test_context`](ConfigStore::load_test_context) is one statement with
/// subselects and left joins (the test states' among them). A failure report thus costs
/// this store one round trip to read, plus one to claim and one to release when it creates
/// an issue.
///
/// # Test states
///
/// [`swap_test_state`](ConfigStore::swap_test_state) is one statement, so one round trip,
/// atomic across replicas; how many rows it wrote (1 or 0) says whether it swapped. With
/// nothing stored (`expected` 0), an insert that a concurrent insert makes a no-op:
///
/// ```sql
/// INSERT INTO jira_notifier_test_states (workspace, test_id, version, state)
/// VALUES ($1, $2, 1, $3::jsonb)
/// ON CONFLICT (workspace, test_id) DO NOTHING
/// ```
///
/// and otherwise an update of the version read only (`$3` the expected version, `$4` the
/// state), which PostgreSQL re-checks on the newest row after waiting for a concurrent
/// swap, so of the replicas swapping from one version exactly one writes:
///
/// ```sql
/// UPDATE jira_notifier_test_states SET version = $3 + 1, state = $4::jsonb
/// WHERE workspace = $1 AND test_id = $2 AND version = $3
/// ```
///
/// [`load_test_state`](ConfigStore::load_test_state) reads `version, state` by key (one
/// round trip); no row is version 0 and the default state.
///
/// # The workspace state
///
/// The storm guard's state is one row per workspace, kept exactly as a test's state, and
/// read and swapped only while the policy
/// [`Noise::storm_limit`](jira_notifier::Noise::storm_limit) is on. Every replica of a
/// workspace contends for that one row, and each
/// [`swap_workspace_state`](ConfigStore::swap_workspace_state) is still one statement (one
/// round trip) whose count of rows written (1 or 0) says whether it swapped. From
/// `expected` 0:
///
/// ```sql
/// INSERT INTO jira_notifier_workspace_states (workspace, version, state)
/// VALUES ($1, 1, $2::jsonb)
/// ON CONFLICT (workspace) DO NOTHING
/// ```
///
/// and otherwise (`$2` the expected version, `$3` the state):
///
/// ```sql
/// UPDATE jira_notifier_workspace_states SET version = $2 + 1, state = $3::jsonb
/// WHERE workspace = $1 AND version = $2
/// ```
///
/// [`load_workspace_state`](ConfigStore::load_workspace_state) is one query,
/// `SELECT version, state::text … WHERE workspace = $1`; no row is version 0 and the
/// default state. [`load_test_context`](ConfigStore::load_test_context) does not read it:
/// a report's one round trip stays as it was.
///
/// # Expired claims are swept
///
/// A claim row stays after its lease ends until it is taken over or released, so a
/// replica that died mid-create would leave one row per test behind. The first
/// `claim_create` of a store, and then at most one every
/// [`DEFAULT_CLAIM_SWEEP_INTERVAL`](PostgresStore::DEFAULT_CLAIM_SWEEP_INTERVAL) (5
/// minutes; see [`with_claim_sweep_interval`](PostgresStore::with_claim_sweep_interval)),
/// starts a sweep of every workspace's expired claims in a task of its own, on another
/// pooled connection, so the claim itself does not wait for it:
///
/// ```sql
/// DELETE FROM jira_notifier_claims WHERE expires_at <= clock_timestamp()
/// ```
///
/// Deleting an expired claim changes nothing anyone can observe, since the claim
/// statement already lets any owner take an expired row over: a claim on an absent row
/// inserts and is granted, as it would take the expired row over; the former holder's
/// renewal is granted either way; its late release deletes nothing either way (it only
/// ever deletes its own row, and its record is written either way); and a claim that is
/// not granted met a live lease, which the sweep never deletes. A sweep racing a takeover
/// of the same row is safe too: PostgreSQL re-checks `expires_at <= clock_timestamp()` on
/// the row's newest version before deleting it, so a freshly renewed lease stays. A host
/// may also sweep on its own schedule with
/// [`sweep_expired_claims`](PostgresStore::sweep_expired_claims).
///
/// # Carrying the claim to another database
///
/// A host writing its own [`ConfigStore`] on another database can follow the same plan:
///
/// 1. A claims table keyed by workspace and test id, with the owner and the lease's end,
///    written on the database's clock (`NOW()`-like functions), never on the replicas'
///    clocks.
/// 2. Claim with one atomic conditional write: insert, or on a key conflict update only
///    when the row's owner is the caller or its lease has ended, and learn whether a row
///    was written (`RETURNING`, the affected-row count, or a compare-and-set). Without an
///    upsert: `UPDATE … WHERE workspace = ? AND test_id = ? AND (owner = ? OR expires_at
///    <= now)`, and if no row changed, `INSERT`, taking a unique-key violation as "busy".
/// 3. Read the record, and the holder's lease when busy, in a later statement (or with
///    locking reads that see the latest committed rows), never from a snapshot taken
///    before the claim was won.
/// 4. Release in one transaction: write the record, then delete the claim row only if
///    its owner is the caller.
///
/// # Errors
///
/// A lost or refused connection, a pool with no free connection in time and any error
/// reported by the server are [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable)
/// (worth retrying), except those that say the tables do not have the expected layout (a
/// missing table, column or constraint, a column of another type, no key matching the
/// statement), which are [`Corrupt`](jira_notifier::StoreErrorKind::Corrupt), as are rows
/// that cannot be decoded, tables made by a newer version and a migration that cannot be
/// done. Messages carry the server's message and SQLSTATE code but never its detail line
/// (which may quote a row, and so the secret), nor the stored values.
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
    workspace: Arc<str>,
}

/// What every workspace handle of a store shares.
struct Shared {
    pool: Pool,
    options: Options,
    sql: Sql,
    /// Set once the tables are known to be in place.
    schema: OnceCell<()>,
    sweep: SweepClock,
}

/// The settings a store is made with; changing one makes a new [`Shared`] on the same pool.
#[derive(Clone)]
struct Options {
    prefix: String,
    codec: Option<Arc<SecretCodec>>,
    sweep_every: Option<Duration>,
}

struct SecretCodec {
    encode: Box<EncodeSecret>,
    decode: Box<DecodeSecret>,
}

/// A workspace id that [`PostgresStore::workspace`] refuses: empty, longer than
/// [`PostgresStore::MAX_WORKSPACE_ID_LEN`] bytes, or holding the NUL character (which
/// PostgreSQL's `text` cannot hold). The message never repeats the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidWorkspaceId {
    reason: &'static str,
}

impl fmt::Display for InvalidWorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid workspace id: {}", self.reason)
    }
}

impl std::error::Error for InvalidWorkspaceId {}

/// Makes a [`PostgresStore`] with a pool of the host's size and, with the `rustls`
/// feature, TLS. From [`PostgresStore::builder`].
pub struct PostgresStoreBuilder {
    config: Config,
    pool_size: usize,
    #[cfg(feature = "rustls")]
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PostgresStoreBuilder {
    /// The most connections the pool opens (at least 1; default
    /// [`PostgresStore::DEFAULT_POOL_SIZE`]). They are opened on demand and shared by
    /// every workspace handle made from the store.
    pub fn pool_size(mut self, connections: usize) -> PostgresStoreBuilder {
        self.pool_size = connections.max(1);
        self
    }

    /// Connects with TLS, through rustls with this configuration (its root certificates
    /// and crypto provider). The server's certificate is checked against the roots and
    /// the connection string's host name; `sslmode=prefer` (the default) becomes
    /// `require`, so a server that declines TLS is refused. See "TLS" on
    /// [`PostgresStore`].
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn tls(mut self, config: rustls::ClientConfig) -> PostgresStoreBuilder {
        self.tls = Some(tokio_postgres_rustls::MakeRustlsConnect::new(config));
        self
    }

    /// Makes the pool and opens its first connection (to fail early when the server
    /// cannot be reached, refuses the connection or the TLS handshake). The connections'
    /// tasks are spawned on the current Tokio runtime, so call this inside one. The tables
    /// are created on first use, not here.
    ///
    /// Fails as [`Unavailable`](jira_notifier::StoreErrorKind::Unavailable); the error never
    /// shows the password.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        let mut config = self.config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let manager_config = ManagerConfig {
            // Only `is_closed()` when a connection is taken: no extra round trip per call;
            // a connection lost unnoticed fails its one statement as Unavailable.
            recycling_method: RecyclingMethod::Fast,
        };
        #[cfg(feature = "rustls")]
        let manager = match self.tls {
            Some(tls) => {
                if config.get_ssl_mode() == SslMode::Prefer {
                    config.ssl_mode(SslMode::Require);
                }
                Manager::from_config(config, tls, manager_config)
            }
            None => Manager::from_config(config, NoTls, manager_config),
        };
        #[cfg(not(feature = "rustls"))]
        let manager = Manager::from_config(config, NoTls, manager_config);
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .build()
            .map_err(|e| {
                StoreError::unavailable(format!("PostgreSQL: cannot make the pool: {e}"))
            })?;
        // The first connection, returned to the pool at once.
        drop(pool.get().await.map_err(pool_error)?);
        Ok(PostgresStore::from_pool(pool))
    }
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("PostgresStoreBuilder");
        s.field("pool_size", &self.pool_size);
        #[cfg(feature = "rustls")]
        s.field("tls", &self.tls.is_some());
        // The configuration is left out: it may hold a password.
        s.finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The prefix of the table names unless
    /// [`with_table_prefix`](PostgresStore::with_table_prefix) sets another.
    pub const DEFAULT_TABLE_PREFIX: &'static str = "jira_notifier_";

    /// The workspace of a store made by [`connect`](PostgresStore::connect),
    /// [`connect_with_config`](PostgresStore::connect_with_config), the builder or
    /// [`from_pool`](PostgresStore::from_pool); a database of version 1 becomes this
    /// workspace's when migrated.
    pub const DEFAULT_WORKSPACE: &'static str = "default";

    /// The longest workspace id, in bytes.
    pub const MAX_WORKSPACE_ID_LEN: usize = 256;

    /// The pool size of [`connect`](PostgresStore::connect) and of the builder unless
    /// [`pool_size`](PostgresStoreBuilder::pool_size) sets another (why 8: see "Connecting:
    /// the pool" above).
    pub const DEFAULT_POOL_SIZE: usize = 8;

    /// How often a store sweeps expired claims at most, unless
    /// [`with_claim_sweep_interval`](PostgresStore::with_claim_sweep_interval) sets another.
    pub const DEFAULT_CLAIM_SWEEP_INTERVAL: Duration = Duration::from_secs(5 * 60);

    /// The version of the tables this build creates and reads (kept in the
    /// `<prefix>schema_version` table). Versions 1, 2 and 3 are migrated to it in place.
    pub const SCHEMA_VERSION: i32 = 4;

    /// Connects, without TLS, with a libpq-style connection string such as
    /// `host=/var/run/postgresql user=notifier dbname=app` or
    /// `postgresql://notifier@db.internal/app`, on a pool of
    /// [`DEFAULT_POOL_SIZE`](PostgresStore::DEFAULT_POOL_SIZE) connections; the store is
    /// the workspace [`DEFAULT_WORKSPACE`](PostgresStore::DEFAULT_WORKSPACE).
    ///
    /// Opens the pool's first connection (see [`PostgresStoreBuilder::connect`]).
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
    /// [`connect`](PostgresStore::connect).
    pub async fn connect_with_config(config: Config) -> Result<PostgresStore, StoreError> {
        PostgresStore::builder(config).connect().await
    }

    /// A builder, to size the pool ([`pool_size`](PostgresStoreBuilder::pool_size)) and
    /// set TLS ([`tls`](PostgresStoreBuilder::tls), feature `rustls`).
    pub fn builder(config: Config) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            config,
            pool_size: PostgresStore::DEFAULT_POOL_SIZE,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// A store on the host's own pool: the way to any connection setup the builder does
    /// not offer (another TLS stack, hooks, timeouts). Opens no connection. The store is
    /// the workspace [`DEFAULT_WORKSPACE`](PostgresStore::DEFAULT_WORKSPACE).
    ///
    /// The store only ever runs single statements (never a transaction across calls) and
    /// gives every connection back clean, so the host may share the pool with its own
    /// code. With `RecyclingMethod::Fast` (deadpool's default) each call is one round trip.
    pub fn from_pool(pool: Pool) -> PostgresStore {
        PostgresStore {
            shared: Arc::new(Shared::new(
                pool,
                Options {
                    prefix: PostgresStore::DEFAULT_TABLE_PREFIX.to_owned(),
                    codec: None,
                    sweep_every: Some(PostgresStore::DEFAULT_CLAIM_SWEEP_INTERVAL),
                },
            )),
            workspace: Arc::from(PostgresStore::DEFAULT_WORKSPACE),
        }
    }

    /// The handle of another workspace, on the same pool and tables: every read and
    /// write it makes belongs to the workspace `id`. Cheap (two reference counts and the
    /// id); makes no connection and no query.
    ///
    /// Fails if `id` is empty, longer than
    /// [`MAX_WORKSPACE_ID_LEN`](PostgresStore::MAX_WORKSPACE_ID_LEN) bytes or holds the
    /// NUL character; any other text is fine (it is always a bound parameter).
    pub fn workspace(&self, id: &str) -> Result<PostgresStore, InvalidWorkspaceId> {
        check_workspace_id(id)?;
        Ok(PostgresStore {
            shared: Arc::clone(&self.shared),
            workspace: Arc::from(id),
        })
    }

    /// The workspace this handle reads and writes.
    pub fn workspace_id(&self) -> &str {
        &self.workspace
    }

    /// Uses tables whose names start with `prefix` instead of `jira_notifier_`, e.g. to
    /// keep several independent sets of tables in one database. Call it before the store
    /// is used and before making other workspaces' handles from it: handles made before
    /// keep the old tables. The pool stays the same.
    ///
    /// # Panics
    ///
    /// If `prefix` is not made of lowercase ASCII letters, digits and `_` only, starts
    /// with a digit, or is longer than 40 bytes (so that every name stays a plain
    /// PostgreSQL identifier). It may be empty.
    pub fn with_table_prefix(self, prefix: &str) -> PostgresStore {
        assert!(
            valid_prefix(prefix),
            "invalid table prefix {prefix:?}: use at most {MAX_PREFIX_LEN} lowercase ASCII \
             letters, digits and underscores, not starting with a digit"
        );
        self.reconfigure(|o| o.prefix = prefix.to_owned())
    }

    /// Encodes the client secret before it is written and decodes it when it is read, e.g.
    /// to encrypt it at rest with the host's key. `encode` gets the secret and returns
    /// the text stored in the `client_secret` column; `decode` gets that text back.
    /// Errors they return are passed on as they are. Like
    /// [`with_table_prefix`](PostgresStore::with_table_prefix), call it before making
    /// other workspaces' handles: they share the codec.
    ///
    /// A store with a codec reads back only what a store with the same codec wrote.
    pub fn with_secret_codec<E, D>(self, encode: E, decode: D) -> PostgresStore
    where
        E: Fn(&SecretString) -> Result<String, StoreError> + Send + Sync + 'static,
        D: Fn(&str) -> Result<SecretString, StoreError> + Send + Sync + 'static,
    {
        let codec = Arc::new(SecretCodec {
            encode: Box::new(encode),
            decode: Box::new(decode),
        });
        self.reconfigure(|o| o.codec = Some(codec))
    }

    /// How often, at most, this store starts a sweep of expired claims from
    /// `claim_create` (default
    /// [`DEFAULT_CLAIM_SWEEP_INTERVAL`](PostgresStore::DEFAULT_CLAIM_SWEEP_INTERVAL));
    /// `None` never sweeps by itself (the host calls
    /// [`sweep_expired_claims`](PostgresStore::sweep_expired_claims) on its own schedule).
    /// The interval is counted per store, shared by its workspace handles; a sweep covers
    /// every workspace. Call it before making other workspaces' handles.
    pub fn with_claim_sweep_interval(self, every: Option<Duration>) -> PostgresStore {
        self.reconfigure(|o| o.sweep_every = every)
    }

    /// The prefix of the store's table names.
    pub fn table_prefix(&self) -> &str {
        &self.shared.options.prefix
    }

    /// The pool shared by this store's workspace handles, e.g. for its
    /// [`status`](deadpool_postgres::Pool::status) in the host's metrics.
    pub fn pool(&self) -> &Pool {
        &self.shared.pool
    }

    /// Creates the tables if they are missing, migrates them from version 1, 2 or 3 and checks
    /// their version, as the first use does anyway: call it at start-up to fail early.
    /// Does nothing once it has succeeded (for any workspace handle of the store).
    pub async fn ensure_schema(&self) -> Result<(), StoreError> {
        self.shared.client().await.map(drop)
    }

    /// Deletes every workspace's expired claims now, in one statement, and returns how
    /// many it deleted. Harmless at any time (see "Expired claims are swept" above);
    /// `claim_create` does it by itself every few minutes unless
    /// [`with_claim_sweep_interval`](PostgresStore::with_claim_sweep_interval)`(None)`.
    pub async fn sweep_expired_claims(&self) -> Result<u64, StoreError> {
        self.shared.sweep_expired_claims().await
    }

    fn reconfigure(self, change: impl FnOnce(&mut Options)) -> PostgresStore {
        let mut options = self.shared.options.clone();
        change(&mut options);
        PostgresStore {
            shared: Arc::new(Shared::new(self.shared.pool.clone(), options)),
            workspace: self.workspace,
        }
    }

    fn ws(&self) -> &str {
        &self.workspace
    }

    async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.shared.client().await?;
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
        self.execute_counted(what, sql, params).await.map(drop)
    }

    /// Runs one statement and answers how many rows it wrote.
    async fn execute_counted(
        &self,
        what: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, StoreError> {
        let client = self.shared.client().await?;
        client
            .execute_typed(sql, params)
            .await
            .map_err(|e| server_error(what, e))
    }

    /// The connection from its three columns (and the kind's, at `kind_at`), all null
    /// when there is none.
    fn connection_from(
        &self,
        row: &Row,
        first: usize,
        kind_at: usize,
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
        let kind: Option<String> = column(row, kind_at, table)?;
        let kind = match kind.as_deref() {
            None => CredentialKind::ClientCredentials,
            Some(name) => CredentialKind::from_name(name).ok_or_else(|| {
                corrupt_row(
                    table,
                    "credential_kind names no kind of credential this build knows",
                )
            })?,
        };
        let secret = match &self.shared.options.codec {
            Some(codec) => (codec.decode)(&secret)?,
            None => SecretString::from(secret),
        };
        Ok(Some(Connection::new(
            Credentials::from_parts(kind, client_id, secret),
            site,
        )))
    }

    fn table(&self, name: &str) -> String {
        self.shared.table(name)
    }

    /// Starts a sweep of expired claims in a task of its own when one is due.
    fn sweep_if_due(&self) {
        if !self.shared.sweep.due(self.shared.options.sweep_every) {
            return;
        }
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            match shared.sweep_expired_claims().await {
                Ok(swept) => tracing::debug!(swept, "swept expired create claims"),
                Err(error) => {
                    tracing::warn!(%error, "cannot sweep expired create claims (harmless: retried later)")
                }
            }
        });
    }
}

impl Shared {
    fn new(pool: Pool, options: Options) -> Shared {
        Shared {
            sql: Sql::new(&options.prefix),
            pool,
            options,
            schema: OnceCell::new(),
            sweep: SweepClock::new(),
        }
    }

    fn table(&self, name: &str) -> String {
        format!("{}{name}", self.options.prefix)
    }

    /// A pooled connection, with the tables in place.
    async fn client(&self) -> Result<Object, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        self.schema
            .get_or_try_init(|| self.create_schema(&client))
            .await?;
        Ok(client)
    }

    /// Creates, migrates or checks the tables in one message, so one transaction, under
    /// the advisory lock.
    async fn create_schema(&self, client: &Object) -> Result<(), StoreError> {
        let messages = client
            .simple_query(&self.sql.setup)
            .await
            .map_err(schema_error)?;
        let found = messages
            .iter()
            .rev()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::parse::<i32>)),
                _ => None,
            })
            .flatten();
        let table = self.table("schema_version");
        match found {
            Some(Ok(PostgresStore::SCHEMA_VERSION)) => Ok(()),
            Some(Ok(version)) if version > PostgresStore::SCHEMA_VERSION => {
                Err(StoreError::corrupt(format!(
                    "the table {table} says the store's tables have version {version}, made by a \
                     newer jira-notifier; this build knows versions up to {} only and changed \
                     nothing",
                    PostgresStore::SCHEMA_VERSION
                )))
            }
            _ => Err(StoreError::corrupt(format!(
                "the table {table} does not hold a version this build knows"
            ))),
        }
    }

    async fn sweep_expired_claims(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute_typed(&self.sql.sweep, &[])
            .await
            .map_err(|e| server_error("sweep expired create claims", e))
    }
}

/// When a store's next automatic sweep is due: at its first claim, then at most once per
/// interval. Shared by the store's workspace handles, so a host with many workspaces
/// sweeps no more often than one with one.
struct SweepClock {
    start: Instant,
    /// Milliseconds since `start` before which no sweep starts.
    next: AtomicU64,
}

impl SweepClock {
    fn new() -> SweepClock {
        SweepClock {
            start: Instant::now(),
            next: AtomicU64::new(0),
        }
    }

    fn due(&self, every: Option<Duration>) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.due_at(now, every)
    }

    /// Whether a sweep is due at `now` (milliseconds since `start`); if so, the caller
    /// starts it and the next one is due an interval later. Of concurrent callers, one
    /// wins.
    fn due_at(&self, now: u64, every: Option<Duration>) -> bool {
        let Some(every) = every else {
            return false;
        };
        let next = self.next.load(Ordering::Relaxed);
        if now < next {
            return false;
        }
        let every = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.next
            .compare_exchange(
                next,
                now.saturating_add(every),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.pool.status();
        f.debug_struct("PostgresStore")
            .field("workspace", &self.workspace)
            .field("table_prefix", &self.shared.options.prefix)
            .field("pool_max_size", &status.max_size)
            .field("pool_size", &status.size)
            .field("secret_codec", &self.shared.options.codec.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ConfigStore for PostgresStore {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        let ws = self.ws();
        let rows = self
            .query(
                "read the connection",
                &self.shared.sql.load_connection,
                &[(&ws, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => self.connection_from(row, 0, 3, &self.table("connection")),
            None => Ok(None),
        }
    }

    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let ws = self.ws();
        let credentials = &connection.credentials;
        let secret = match &self.shared.options.codec {
            Some(codec) => (codec.encode)(credentials.client_secret())?,
            None => credentials.client_secret().expose_secret().to_owned(),
        };
        let site = to_json(&connection.site, "site")?;
        self.execute(
            "save the connection",
            &self.shared.sql.save_connection,
            &[
                (&ws, Type::TEXT),
                (&credentials.client_id(), Type::TEXT),
                (&secret, Type::TEXT),
                (&site, Type::TEXT),
                (&credentials.kind().as_str(), Type::TEXT),
            ],
        )
        .await
    }

    async fn delete_connection(&self) -> Result<(), StoreError> {
        let ws = self.ws();
        self.execute(
            "delete the connection",
            &self.shared.sql.delete_connection,
            &[(&ws, Type::TEXT)],
        )
        .await
    }

    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        let ws = self.ws();
        let table = self.table("settings");
        let rows = self
            .query(
                "read the settings",
                &self.shared.sql.load_settings,
                &[(&ws, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => from_json(&column::<String>(row, 0, &table)?, &table, "value").map(Some),
            None => Ok(None),
        }
    }

    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        let ws = self.ws();
        let value = to_json(settings, "settings")?;
        self.execute(
            "save the settings",
            &self.shared.sql.save_settings,
            &[(&ws, Type::TEXT), (&value, Type::TEXT)],
        )
        .await
    }

    async fn delete_settings(&self) -> Result<(), StoreError> {
        let ws = self.ws();
        self.execute(
            "delete the settings",
            &self.shared.sql.delete_settings,
            &[(&ws, Type::TEXT)],
        )
        .await
    }

    async fn load_override(&self, test_id: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let table = self.table("overrides");
        let rows = self
            .query(
                "read a test's override",
                &self.shared.sql.load_override,
                &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => from_json(&column::<String>(row, 0, &table)?, &table, "value").map(Some),
            None => Ok(None),
        }
    }

    async fn save_override(
        &self,
        test_id: &TestId,
        value: &SavedOverride,
    ) -> Result<(), StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let value = to_json(value, "override")?;
        self.execute(
            "save a test's override",
            &self.shared.sql.save_override,
            &[
                (&ws, Type::TEXT),
                (&test_id, Type::TEXT),
                (&value, Type::TEXT),
            ],
        )
        .await
    }

    async fn delete_override(&self, test_id: &TestId) -> Result<(), StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        self.execute(
            "delete a test's override",
            &self.shared.sql.delete_override,
            &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
        )
        .await
    }

    async fn load_record(&self, test_id: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let rows = self
            .query(
                "read a test's issue record",
                &self.shared.sql.load_record,
                &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => record_from(row, 0, &self.table("records")),
            None => Ok(None),
        }
    }

    async fn save_record(&self, test_id: &TestId, record: &IssueRecord) -> Result<(), StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        self.execute(
            "save a test's issue record",
            &self.shared.sql.save_record,
            &[
                (&ws, Type::TEXT),
                (&test_id, Type::TEXT),
                (&record.issue_id, Type::TEXT),
                (&record.issue_key, Type::TEXT),
                (&record.label, Type::TEXT),
            ],
        )
        .await
    }

    async fn load_health(&self) -> Result<Health, StoreError> {
        let ws = self.ws();
        let table = self.table("health");
        let rows = self
            .query(
                "read the health",
                &self.shared.sql.load_health,
                &[(&ws, Type::TEXT)],
            )
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
        let ws = self.ws();
        let sql = &self.shared.sql;
        match event {
            HealthEvent::Created { at } => {
                let ms = unix_ms(*at);
                self.execute(
                    WHAT,
                    &sql.health_created,
                    &[(&ws, Type::TEXT), (&ms, Type::INT8)],
                )
                .await
            }
            HealthEvent::Refused(refusal) => {
                let value = to_json(refusal, "refusal")?;
                self.execute(
                    WHAT,
                    &sql.health_refused,
                    &[(&ws, Type::TEXT), (&value, Type::TEXT)],
                )
                .await
            }
            HealthEvent::SettingsSaved => {
                self.execute(WHAT, &sql.health_cleared, &[(&ws, Type::TEXT)])
                    .await
            }
            HealthEvent::OverrideSaved { test_id } => {
                self.execute(
                    WHAT,
                    &sql.health_cleared_for,
                    &[(&ws, Type::TEXT), (&test_id.as_str(), Type::TEXT)],
                )
                .await
            }
            // An event of a newer jira-notifier than this store knows: applied as the
            // crate says, by reading and writing the whole row (not atomic; cannot happen
            // with the jira-notifier this crate is built against).
            other => {
                let mut health = self.load_health().await?;
                health.apply(other);
                let ms = health.last_success.map(unix_ms);
                let refusal = health
                    .last_refusal
                    .as_ref()
                    .map(|r| to_json(r, "refusal"))
                    .transpose()?;
                self.execute(
                    WHAT,
                    &sql.health_replace,
                    &[(&ws, Type::TEXT), (&ms, Type::INT8), (&refusal, Type::TEXT)],
                )
                .await
            }
        }
    }

    async fn claim_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        const WHAT: &str = "claim a test's issue creation";
        let ws = self.ws();
        let test_id = test_id.as_str();
        let owner = owner.as_str();
        let lease = lease_micros(lease);
        let claims = self.table("claims");
        let sql = &self.shared.sql;
        self.sweep_if_due();
        let mut record = None;
        for _ in 0..CLAIM_ATTEMPTS {
            let client = self.shared.client().await?;
            // One round trip on one connection: the state is read by a statement of its
            // own, which the server runs once the claim is done.
            let (claimed, state) = both(
                client.query_typed(
                    &sql.claim,
                    &[
                        (&ws, Type::TEXT),
                        (&test_id, Type::TEXT),
                        (&owner, Type::TEXT),
                        (&lease, Type::INT8),
                    ],
                ),
                client.query_typed(
                    &sql.claim_state,
                    &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
                ),
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
        test_id: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let owner = owner.as_str();
        let issue_id = record.map(|r| r.issue_id.as_str());
        let issue_key = record.map(|r| r.issue_key.as_str());
        let label = record.map(|r| r.label.as_str());
        self.execute(
            "release a test's issue creation",
            &self.shared.sql.release,
            &[
                (&ws, Type::TEXT),
                (&test_id, Type::TEXT),
                (&owner, Type::TEXT),
                (&issue_id, Type::TEXT),
                (&issue_key, Type::TEXT),
                (&label, Type::TEXT),
            ],
        )
        .await
    }

    async fn load_test_state(&self, test_id: &TestId) -> Result<Versioned<TestState>, StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let rows = self
            .query(
                "read a test's state",
                &self.shared.sql.load_test_state,
                &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => state_from(row, 0, &self.table("test_states")),
            None => Ok(Versioned::default()),
        }
    }

    async fn swap_test_state(
        &self,
        test_id: &TestId,
        expected: u64,
        state: &TestState,
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "swap a test's state";
        let ws = self.ws();
        let test_id = test_id.as_str();
        let value = to_json(state, "test state")?;
        let sql = &self.shared.sql;
        let written = if expected == 0 {
            // Nothing stored yet: the insert wins, or meets the row another replica
            // inserted first and writes nothing.
            self.execute_counted(
                WHAT,
                &sql.insert_test_state,
                &[
                    (&ws, Type::TEXT),
                    (&test_id, Type::TEXT),
                    (&value, Type::TEXT),
                ],
            )
            .await?
        } else {
            // Stored versions are positive `bigint`s: a larger `expected` matches none.
            let Ok(expected) = i64::try_from(expected) else {
                return Ok(false);
            };
            // One conditional update: of replicas swapping from the same version, the
            // row lock lets one write, and the others re-check `version` on the new row
            // and write nothing.
            self.execute_counted(
                WHAT,
                &sql.update_test_state,
                &[
                    (&ws, Type::TEXT),
                    (&test_id, Type::TEXT),
                    (&expected, Type::INT8),
                    (&value, Type::TEXT),
                ],
            )
            .await?
        };
        Ok(written == 1)
    }

    async fn load_workspace_state(&self) -> Result<Versioned<WorkspaceState>, StoreError> {
        let ws = self.ws();
        let rows = self
            .query(
                "read the workspace's state",
                &self.shared.sql.load_workspace_state,
                &[(&ws, Type::TEXT)],
            )
            .await?;
        match rows.first() {
            Some(row) => state_from(row, 0, &self.table("workspace_states")),
            None => Ok(Versioned::default()),
        }
    }

    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &WorkspaceState,
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "swap the workspace's state";
        let ws = self.ws();
        let value = to_json(state, "workspace state")?;
        let sql = &self.shared.sql;
        // As a test's state: one conditional statement either way, so of the replicas
        // swapping from one version exactly one writes.
        let written = if expected == 0 {
            self.execute_counted(
                WHAT,
                &sql.insert_workspace_state,
                &[(&ws, Type::TEXT), (&value, Type::TEXT)],
            )
            .await?
        } else {
            let Ok(expected) = i64::try_from(expected) else {
                return Ok(false);
            };
            self.execute_counted(
                WHAT,
                &sql.update_workspace_state,
                &[
                    (&ws, Type::TEXT),
                    (&expected, Type::INT8),
                    (&value, Type::TEXT),
                ],
            )
            .await?
        };
        Ok(written == 1)
    }

    async fn load_test_context(&self, test_id: &TestId) -> Result<TestContext, StoreError> {
        let ws = self.ws();
        let test_id = test_id.as_str();
        let rows = self
            .query(
                "read a test's context",
                &self.shared.sql.context,
                &[(&ws, Type::TEXT), (&test_id, Type::TEXT)],
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
        Ok(TestContext::new(
            self.connection_from(row, 0, 8, &self.table("connection"))?,
            settings
                .map(|s| from_json(&s, &settings_table, "value"))
                .transpose()?,
            test_override
                .map(|o| from_json(&o, &overrides_table, "value"))
                .transpose()?,
            record_from(row, 5, &self.table("records"))?,
        )
        .with_state(state_from(row, 9, &self.table("test_states"))?))
    }
}

fn check_workspace_id(id: &str) -> Result<(), InvalidWorkspaceId> {
    let reason = if id.is_empty() {
        "it is empty"
    } else if id.len() > PostgresStore::MAX_WORKSPACE_ID_LEN {
        "it is longer than 256 bytes"
    } else if id.contains('\0') {
        "it holds the NUL character"
    } else {
        return Ok(());
    };
    Err(InvalidWorkspaceId { reason })
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

/// A time as milliseconds since the Unix epoch, as the health table keeps it.
fn unix_ms(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

/// A failure to get a pooled connection. Never shows the password: tokio-postgres'
/// connection errors do not carry the configuration.
fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(e) => server_error("connect", e),
        PoolError::Timeout(TimeoutType::Wait) => StoreError::unavailable(
            "PostgreSQL: no pooled connection became free in time (every connection of the \
             pool is busy)",
        ),
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::unavailable("PostgreSQL: cannot connect: timed out")
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            StoreError::unavailable("PostgreSQL: cannot check a pooled connection: timed out")
        }
        PoolError::Closed => StoreError::unavailable("PostgreSQL: the connection pool is closed"),
        PoolError::NoRuntimeSpecified => StoreError::unavailable(
            "PostgreSQL: the connection pool has timeouts but no runtime to run them",
        ),
        PoolError::PostCreateHook(HookError::Backend(e)) => {
            server_error("set up a new connection", e)
        }
        PoolError::PostCreateHook(HookError::Message(m)) => StoreError::unavailable(format!(
            "PostgreSQL: the pool's post-create hook refused a new connection: {m}"
        )),
    }
}

/// The SQLSTATE codes that say a statement met tables without the expected layout.
const LAYOUT_ERRORS: [SqlState; 5] = [
    SqlState::UNDEFINED_TABLE,
    SqlState::UNDEFINED_COLUMN,
    SqlState::UNDEFINED_OBJECT,
    SqlState::DATATYPE_MISMATCH,
    // ON CONFLICT without the key it names: the table has another primary key.
    SqlState::INVALID_COLUMN_REFERENCE,
];

/// A failure reported by tokio-postgres, with the server's message and code but never
/// its detail (which may quote a row).
fn server_error(what: &str, error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        // A lost connection, an I/O or TLS failure: its causes say why ("error performing
        // TLS handshake" alone does not), and hold no row nor the configuration.
        let mut message = format!("PostgreSQL: cannot {what}: {error}");
        let mut cause = std::error::Error::source(&error);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        return StoreError::unavailable(message).with_source(error);
    };
    let code = db.code();
    let message = format!(
        "PostgreSQL: cannot {what}: {} (SQLSTATE {})",
        db.message(),
        code.code()
    );
    if LAYOUT_ERRORS.contains(code) {
        StoreError::corrupt(format!(
            "{message}; the store's tables do not have the layout of version {}",
            PostgresStore::SCHEMA_VERSION
        ))
    } else {
        StoreError::unavailable(message)
    }
}

/// A failure of the setup message (create, migrate or check the tables). The message runs
/// in one transaction, so a failure changed nothing. A syntax-or-access error (class 42:
/// an object missing or already there, no privilege to alter a table) or a dependent
/// object (class 2B: a host's view on a column the migration drops) will fail again the
/// same way, so it is `Corrupt`: a person must look.
fn schema_error(error: tokio_postgres::Error) -> StoreError {
    const WHAT: &str = "create or migrate the store's tables";
    let Some(db) = error.as_db_error() else {
        return server_error(WHAT, error);
    };
    let code = db.code().code();
    if code.starts_with("42") || code.starts_with("2B") {
        StoreError::corrupt(format!(
            "PostgreSQL: cannot {WHAT}: {} (SQLSTATE {code}); nothing was changed",
            db.message()
        ))
    } else {
        server_error(WHAT, error)
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
        (Some(issue_id), Some(issue_key), Some(label)) => {
            Ok(Some(IssueRecord::new(issue_id, issue_key, label)))
        }
        (None, None, None) => Ok(None),
        _ => Err(corrupt_row(table, "a column is unexpectedly null")),
    }
}

/// A state (a test's or the workspace's) from its two columns (version, state), both null
/// when none is stored.
fn state_from<T: DeserializeOwned + Default>(
    row: &Row,
    first: usize,
    table: &str,
) -> Result<Versioned<T>, StoreError> {
    let version: Option<i64> = column(row, first, table)?;
    let state: Option<String> = column(row, first + 1, table)?;
    match (version, state) {
        (Some(version), Some(state)) => {
            // Version 0 means "nothing stored": a row at 0 (or below) would never be
            // swapped again, since the swap from 0 inserts.
            let version = u64::try_from(version)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| corrupt_row(table, "its column version is not positive"))?;
            Ok(Versioned::new(version, from_json(&state, table, "state")?))
        }
        (None, None) => Ok(Versioned::default()),
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

// ----- the schema: the current version's tables and the steps from older versions -----

/// The tables of the current version, as a fresh database gets them (statements of the
/// setup's PL/pgSQL block). Plain `CREATE TABLE`: tables already there without a version
/// row are not ours to adopt, and the setup fails without changing anything.
fn create_tables(p: &str) -> String {
    format!(
        "CREATE TABLE {p}connection (
            workspace text PRIMARY KEY,
            client_id text NOT NULL,
            client_secret text NOT NULL,
            site jsonb NOT NULL,
            {kind}
        );
        CREATE TABLE {p}settings (
            workspace text PRIMARY KEY,
            value jsonb NOT NULL
        );
        CREATE TABLE {p}overrides (
            workspace text NOT NULL,
            test_id text NOT NULL,
            value jsonb NOT NULL,
            PRIMARY KEY (workspace, test_id)
        );
        CREATE TABLE {p}records (
            workspace text NOT NULL,
            test_id text NOT NULL,
            issue_id text NOT NULL,
            issue_key text NOT NULL,
            label text NOT NULL,
            PRIMARY KEY (workspace, test_id)
        );
        CREATE TABLE {p}claims (
            workspace text NOT NULL,
            test_id text NOT NULL,
            owner text NOT NULL,
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (workspace, test_id)
        );
        CREATE INDEX {p}claims_expires_at ON {p}claims (expires_at);
        {health}
        {test_states}
        {workspace_states}",
        health = create_health(p),
        test_states = create_test_states(p),
        workspace_states = create_workspace_states(p),
        kind = CREDENTIAL_KIND_COLUMN,
    )
}

/// The health table (new in version 2, so made by both the fresh setup and the step from
/// version 1): one row per workspace, each event applied by one statement.
fn create_health(p: &str) -> String {
    format!(
        "CREATE TABLE {p}health (
            workspace text PRIMARY KEY,
            last_success_ms bigint,
            last_refusal jsonb
        );"
    )
}

/// The test states table (new in version 3, so made by both the fresh setup and the step
/// from version 2): one row per workspace and test once a lifecycle policy keeps one,
/// swapped by one conditional statement. `version` starts at 1 (0 means "no row").
fn create_test_states(p: &str) -> String {
    format!(
        "CREATE TABLE {p}test_states (
            workspace text NOT NULL,
            test_id text NOT NULL,
            version bigint NOT NULL,
            state jsonb NOT NULL,
            PRIMARY KEY (workspace, test_id)
        );"
    )
}

/// The workspace states table (new in version 4, so made by both the fresh setup and the
/// step from version 3): one row per workspace once the storm guard keeps one, swapped by
/// one conditional statement. `version` starts at 1 (0 means "no row").
fn create_workspace_states(p: &str) -> String {
    format!(
        "CREATE TABLE {p}workspace_states (
            workspace text PRIMARY KEY,
            version bigint NOT NULL,
            state jsonb NOT NULL
        );"
    )
}

/// The steps that take older tables to the current version, in place: `(from, sql)` takes
/// version `from` to `from + 1`, and they run in order inside the setup's transaction, so
/// a database of any older version reaches the current one, or stays as it was.
///
/// A version 5 bumps [`PostgresStore::SCHEMA_VERSION`], changes [`create_tables`] and adds
/// its step here (`(4, migrate_4_to_5(p))`); the setup and its checks need nothing else.
fn migrations(p: &str) -> Vec<(i32, String)> {
    vec![
        (1, migrate_1_to_2(p)),
        (2, migrate_2_to_3(p)),
        (3, migrate_3_to_4(p)),
    ]
}

/// Version 3 to 4: the workspace states table. It only adds a table, so replicas of
/// version 3 already running keep working on the migrated tables (none of their statements
/// changed); a version 3 build started afterwards refuses them, as it refuses any newer
/// version.
fn migrate_3_to_4(p: &str) -> String {
    create_workspace_states(p)
}

/// The kind of credential, new in version 3: a row without one is client credentials.
const CREDENTIAL_KIND_COLUMN: &str = "credential_kind text NOT NULL DEFAULT 'client_credentials'";

/// Version 2 to 3: the connection says the kind of its credential, and the test states
/// table. Both only add (a column with a default, a table), so replicas of version 2 already
/// running keep working on the migrated tables (none of their statements changed); a
/// version 2 build started afterwards refuses them, as it refuses any newer version.
fn migrate_2_to_3(p: &str) -> String {
    format!(
        "ALTER TABLE {p}connection ADD COLUMN {CREDENTIAL_KIND_COLUMN};\n{}",
        create_test_states(p)
    )
}

/// Version 1 to 2: every table keyed by workspace, the existing rows the default
/// workspace's; an index for sweeping claims.
fn migrate_1_to_2(p: &str) -> String {
    let default = PostgresStore::DEFAULT_WORKSPACE;
    let mut sql = String::new();
    // One row per table before: the singleton key makes way for the workspace.
    for table in ["connection", "settings"] {
        sql.push_str(&format!(
            "ALTER TABLE {p}{table} ADD COLUMN workspace text NOT NULL DEFAULT '{default}';
            ALTER TABLE {p}{table} ALTER COLUMN workspace DROP DEFAULT;
            ALTER TABLE {p}{table} DROP COLUMN singleton;
            ALTER TABLE {p}{table} ADD PRIMARY KEY (workspace);
            "
        ));
    }
    // Keyed by test before: the workspace joins the key.
    for table in ["overrides", "records", "claims"] {
        sql.push_str(&format!(
            "ALTER TABLE {p}{table} ADD COLUMN workspace text NOT NULL DEFAULT '{default}';
            ALTER TABLE {p}{table} ALTER COLUMN workspace DROP DEFAULT;
            ALTER TABLE {p}{table} DROP CONSTRAINT {p}{table}_pkey;
            ALTER TABLE {p}{table} ADD PRIMARY KEY (workspace, test_id);
            "
        ));
    }
    sql.push_str(&format!(
        "CREATE INDEX {p}claims_expires_at ON {p}claims (expires_at);"
    ));
    sql.push_str(&create_health(p));
    sql
}

/// The setup message: one transaction holding the advisory lock, which creates the tables
/// of a fresh database, migrates older ones step by step, leaves newer ones alone, and
/// ends with the version found, for the caller to check.
fn setup_sql(p: &str) -> String {
    let key = lock_key(p);
    let latest = PostgresStore::SCHEMA_VERSION;
    let create = create_tables(p);
    let mut steps = String::new();
    for (from, sql) in migrations(p) {
        let to = from + 1;
        steps.push_str(&format!(
            "IF found_version = {from} THEN
            {sql}
            found_version := {to};
        END IF;
        "
        ));
    }
    format!(
        "DO $jira_notifier$
DECLARE
    found_version integer;
BEGIN
    SET LOCAL client_min_messages = warning;
    PERFORM pg_advisory_xact_lock({key});
    CREATE TABLE IF NOT EXISTS {p}schema_version (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version integer NOT NULL
    );
    SELECT version INTO found_version FROM {p}schema_version;
    IF found_version IS NULL THEN
        {create}
        INSERT INTO {p}schema_version (version) VALUES ({latest});
    ELSIF found_version >= 1 AND found_version < {latest} THEN
        {steps}
        UPDATE {p}schema_version SET version = found_version;
    END IF;
END
$jira_notifier$;
SELECT version FROM {p}schema_version"
    )
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
    load_test_state: String,
    insert_test_state: String,
    update_test_state: String,
    load_workspace_state: String,
    insert_workspace_state: String,
    update_workspace_state: String,
    context: String,
    sweep: String,
    load_health: String,
    health_created: String,
    health_refused: String,
    health_cleared: String,
    health_cleared_for: String,
    health_replace: String,
}

impl Sql {
    /// `$1` is the workspace in every statement but the setup and the sweep.
    fn new(p: &str) -> Sql {
        let lease = "clock_timestamp() + $4::float8 * interval '1 microsecond'";
        Sql {
            setup: setup_sql(p),
            load_connection: format!(
                "SELECT client_id, client_secret, site::text, credential_kind FROM {p}connection \
                 WHERE workspace = $1"
            ),
            save_connection: format!(
                "INSERT INTO {p}connection (workspace, client_id, client_secret, site, \
                 credential_kind) VALUES ($1, $2, $3, $4::jsonb, $5) \
                 ON CONFLICT (workspace) DO UPDATE SET client_id = EXCLUDED.client_id, \
                 client_secret = EXCLUDED.client_secret, site = EXCLUDED.site, \
                 credential_kind = EXCLUDED.credential_kind"
            ),
            delete_connection: format!("DELETE FROM {p}connection WHERE workspace = $1"),
            load_settings: format!("SELECT value::text FROM {p}settings WHERE workspace = $1"),
            save_settings: format!(
                "INSERT INTO {p}settings (workspace, value) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (workspace) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete_settings: format!("DELETE FROM {p}settings WHERE workspace = $1"),
            load_override: format!(
                "SELECT value::text FROM {p}overrides WHERE workspace = $1 AND test_id = $2"
            ),
            save_override: format!(
                "INSERT INTO {p}overrides (workspace, test_id, value) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (workspace, test_id) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete_override: format!(
                "DELETE FROM {p}overrides WHERE workspace = $1 AND test_id = $2"
            ),
            load_record: format!(
                "SELECT issue_id, issue_key, label FROM {p}records \
                 WHERE workspace = $1 AND test_id = $2"
            ),
            save_record: format!(
                "INSERT INTO {p}records (workspace, test_id, issue_id, issue_key, label) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workspace, test_id) DO UPDATE SET issue_id = EXCLUDED.issue_id, \
                 issue_key = EXCLUDED.issue_key, label = EXCLUDED.label"
            ),
            claim: format!(
                "INSERT INTO {p}claims AS c (workspace, test_id, owner, expires_at) \
                 VALUES ($1, $2, $3, {lease}) \
                 ON CONFLICT (workspace, test_id) DO UPDATE \
                 SET owner = EXCLUDED.owner, expires_at = {lease} \
                 WHERE c.owner = EXCLUDED.owner OR c.expires_at <= clock_timestamp() \
                 RETURNING true"
            ),
            claim_state: format!(
                "SELECT c.owner, \
                 (extract(epoch FROM c.expires_at - clock_timestamp()) * 1000000)::int8, \
                 r.issue_id, r.issue_key, r.label \
                 FROM (VALUES (1)) AS one (x) \
                 LEFT JOIN {p}claims c ON c.workspace = $1 AND c.test_id = $2 \
                 LEFT JOIN {p}records r ON r.workspace = $1 AND r.test_id = $2"
            ),
            release: format!(
                "WITH saved AS ( \
                 INSERT INTO {p}records (workspace, test_id, issue_id, issue_key, label) \
                 SELECT $1, $2, $4, $5, $6 WHERE $4 IS NOT NULL \
                 ON CONFLICT (workspace, test_id) DO UPDATE SET issue_id = EXCLUDED.issue_id, \
                 issue_key = EXCLUDED.issue_key, label = EXCLUDED.label) \
                 DELETE FROM {p}claims WHERE workspace = $1 AND test_id = $2 AND owner = $3"
            ),
            load_test_state: format!(
                "SELECT version, state::text FROM {p}test_states \
                 WHERE workspace = $1 AND test_id = $2"
            ),
            insert_test_state: format!(
                "INSERT INTO {p}test_states (workspace, test_id, version, state) \
                 VALUES ($1, $2, 1, $3::jsonb) \
                 ON CONFLICT (workspace, test_id) DO NOTHING"
            ),
            update_test_state: format!(
                "UPDATE {p}test_states SET version = $3 + 1, state = $4::jsonb \
                 WHERE workspace = $1 AND test_id = $2 AND version = $3"
            ),
            load_workspace_state: format!(
                "SELECT version, state::text FROM {p}workspace_states WHERE workspace = $1"
            ),
            insert_workspace_state: format!(
                "INSERT INTO {p}workspace_states (workspace, version, state) \
                 VALUES ($1, 1, $2::jsonb) \
                 ON CONFLICT (workspace) DO NOTHING"
            ),
            update_workspace_state: format!(
                "UPDATE {p}workspace_states SET version = $2 + 1, state = $3::jsonb \
                 WHERE workspace = $1 AND version = $2"
            ),
            context: format!(
                "SELECT c.client_id, c.client_secret, c.site::text, \
                 (SELECT s.value::text FROM {p}settings s WHERE s.workspace = $1), \
                 (SELECT o.value::text FROM {p}overrides o \
                  WHERE o.workspace = $1 AND o.test_id = $2), \
                 r.issue_id, r.issue_key, r.label, c.credential_kind, \
                 t.version, t.state::text \
                 FROM (VALUES (1)) AS one (x) \
                 LEFT JOIN {p}connection c ON c.workspace = $1 \
                 LEFT JOIN {p}records r ON r.workspace = $1 AND r.test_id = $2 \
                 LEFT JOIN {p}test_states t ON t.workspace = $1 AND t.test_id = $2"
            ),
            sweep: format!("DELETE FROM {p}claims WHERE expires_at <= clock_timestamp()"),
            load_health: format!(
                "SELECT last_success_ms, last_refusal::text FROM {p}health WHERE workspace = $1"
            ),
            health_created: format!(
                "INSERT INTO {p}health (workspace, last_success_ms, last_refusal) \
                 VALUES ($1, $2, NULL) \
                 ON CONFLICT (workspace) DO UPDATE \
                 SET last_success_ms = EXCLUDED.last_success_ms, last_refusal = NULL"
            ),
            health_refused: format!(
                "INSERT INTO {p}health (workspace, last_refusal) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (workspace) DO UPDATE SET last_refusal = EXCLUDED.last_refusal"
            ),
            health_cleared: format!(
                "UPDATE {p}health SET last_refusal = NULL WHERE workspace = $1"
            ),
            health_cleared_for: format!(
                "UPDATE {p}health SET last_refusal = NULL \
                 WHERE workspace = $1 AND last_refusal ->> 'test_id' = $2"
            ),
            health_replace: format!(
                "INSERT INTO {p}health (workspace, last_success_ms, last_refusal) \
                 VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (workspace) DO UPDATE \
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
    fn the_longest_names_fit_postgresql_identifiers() {
        let p = "a".repeat(MAX_PREFIX_LEN);
        for name in [
            "schema_version_pkey",
            "claims_expires_at",
            "connection_pkey",
            "overrides_pkey",
            "test_states_pkey",
            "workspace_states_pkey",
        ] {
            assert!(format!("{p}{name}").len() <= 63, "{name}");
        }
    }

    #[test]
    fn workspace_ids_are_bounded_non_empty_text_without_nul() {
        for good in [
            "default",
            "acme",
            "ünïcödé \"quoted\" 'x'; drop table y; --",
            " ",
            &"w".repeat(PostgresStore::MAX_WORKSPACE_ID_LEN),
        ] {
            assert_eq!(check_workspace_id(good), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            "a\0b",
            &"w".repeat(PostgresStore::MAX_WORKSPACE_ID_LEN + 1),
        ] {
            let error = check_workspace_id(bad).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid workspace id"),
                "{error}"
            );
        }
        assert!(check_workspace_id(PostgresStore::DEFAULT_WORKSPACE).is_ok());
    }

    #[test]
    fn statements_use_the_prefix_and_the_workspace() {
        let sql = Sql::new("qa_");
        assert!(sql.claim.contains("INSERT INTO qa_claims AS c"));
        assert!(sql.claim.contains("ON CONFLICT (workspace, test_id)"));
        assert!(sql
            .release
            .contains("DELETE FROM qa_claims WHERE workspace = $1"));
        assert!(sql
            .setup
            .contains("CREATE TABLE IF NOT EXISTS qa_schema_version"));
        assert!(sql
            .setup
            .contains(&format!("pg_advisory_xact_lock({})", lock_key("qa_"))));
        assert!(!sql.context.contains("jira_notifier_"));
        // Every statement of a workspace says which one; only the sweep spans them all.
        for statement in [
            &sql.load_connection,
            &sql.save_connection,
            &sql.delete_connection,
            &sql.load_settings,
            &sql.save_settings,
            &sql.delete_settings,
            &sql.load_override,
            &sql.save_override,
            &sql.delete_override,
            &sql.load_record,
            &sql.save_record,
            &sql.claim,
            &sql.claim_state,
            &sql.release,
            &sql.load_test_state,
            &sql.insert_test_state,
            &sql.update_test_state,
            &sql.load_workspace_state,
            &sql.insert_workspace_state,
            &sql.update_workspace_state,
            &sql.context,
        ] {
            assert!(statement.contains("workspace"), "{statement}");
            assert!(statement.contains("$1"), "{statement}");
        }
        // The swap is one conditional statement either way, keyed like every test's row.
        assert!(sql
            .insert_test_state
            .contains("ON CONFLICT (workspace, test_id) DO NOTHING"));
        assert!(sql
            .update_test_state
            .contains("SET version = $3 + 1, state = $4::jsonb"));
        assert!(sql
            .update_test_state
            .contains("WHERE workspace = $1 AND test_id = $2 AND version = $3"));
        assert!(sql.context.contains("LEFT JOIN qa_test_states t"));
        // The workspace state's swap likewise, keyed by the workspace alone.
        assert!(sql
            .insert_workspace_state
            .contains("VALUES ($1, 1, $2::jsonb) ON CONFLICT (workspace) DO NOTHING"));
        assert!(sql.update_workspace_state.contains(
            "SET version = $2 + 1, state = $3::jsonb WHERE workspace = $1 AND version = $2"
        ));
        assert!(sql
            .load_workspace_state
            .contains("FROM qa_workspace_states"));
        assert!(!sql.sweep.contains("workspace"));
        assert!(sql.sweep.contains("expires_at <= clock_timestamp()"));
    }

    #[test]
    fn migrations_lead_from_version_1_to_the_current_one_step_by_step() {
        let steps = migrations("qa_");
        let from: Vec<i32> = steps.iter().map(|(from, _)| *from).collect();
        let want: Vec<i32> = (1..PostgresStore::SCHEMA_VERSION).collect();
        assert_eq!(from, want);
        let setup = setup_sql("qa_");
        for (from, sql) in &steps {
            assert!(
                setup.contains(sql.as_str()),
                "step from {from} is not in the setup"
            );
            assert!(setup.contains(&format!("IF found_version = {from} THEN")));
        }
        assert!(setup.contains(&create_tables("qa_")));
        assert!(setup.contains(&format!("VALUES ({})", PostgresStore::SCHEMA_VERSION)));
        // Version 1 to 2 keys every table by workspace, the old rows the default one's.
        let step = migrate_1_to_2("qa_");
        for table in ["connection", "settings", "overrides", "records", "claims"] {
            assert!(step.contains(&format!(
                "ALTER TABLE qa_{table} ADD COLUMN workspace text NOT NULL DEFAULT 'default'"
            )));
        }
        assert!(step.contains("CREATE INDEX qa_claims_expires_at ON qa_claims (expires_at)"));
        // Version 2 to 3 adds the credential kind and the test states table, as a fresh
        // database gets them.
        let step = migrate_2_to_3("qa_");
        assert!(step.contains("CREATE TABLE qa_test_states ("));
        assert!(create_tables("qa_").contains(&create_test_states("qa_")));
        assert!(step.contains(&format!(
            "ALTER TABLE qa_connection ADD COLUMN {CREDENTIAL_KIND_COLUMN}"
        )));
        assert!(create_tables("qa_").contains(CREDENTIAL_KIND_COLUMN));
        // Version 3 to 4 adds the workspace states table, as a fresh database gets it.
        let step = migrate_3_to_4("qa_");
        assert!(step.contains("CREATE TABLE qa_workspace_states ("));
        assert!(create_tables("qa_").contains(&step));
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

    #[test]
    fn sweeps_are_due_at_the_first_claim_then_once_per_interval() {
        let every = Some(Duration::from_secs(300));
        let clock = SweepClock::new();
        assert!(clock.due_at(5, every));
        assert!(!clock.due_at(6, every));
        assert!(!clock.due_at(300_004, every));
        assert!(clock.due_at(300_005, every));
        assert!(!clock.due_at(300_005, every));
        // Never, when the host sweeps by itself.
        let clock = SweepClock::new();
        assert!(!clock.due_at(0, None));
        assert!(!clock.due_at(u64::MAX, None));
        // A zero interval sweeps at every claim.
        let clock = SweepClock::new();
        assert!(clock.due_at(1, Some(Duration::ZERO)));
        assert!(clock.due_at(1, Some(Duration::ZERO)));
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
        let config =
            format!("host=127.0.0.1 port={port} user=u password=hunter2-secret connect_timeout=5");
        let builder = PostgresStore::builder(config.parse().unwrap()).pool_size(3);
        assert!(!format!("{builder:?}").contains("hunter2"));
        let error = builder.connect().await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        let text = full_message(&error);
        assert!(text.contains("cannot connect"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    async fn workspace_handles_share_the_pool_and_settings() {
        // A pool that is never used: nothing here connects.
        let config: Config = "host=127.0.0.1 port=1 user=u password=hunter2-secret"
            .parse()
            .unwrap();
        let pool = Pool::builder(Manager::new(config, NoTls))
            .max_size(2)
            .build()
            .unwrap();
        let store = PostgresStore::from_pool(pool).with_table_prefix("qa_");
        assert_eq!(store.workspace_id(), PostgresStore::DEFAULT_WORKSPACE);
        let acme = store.workspace("acme").unwrap();
        assert_eq!(acme.workspace_id(), "acme");
        assert_eq!(acme.table_prefix(), "qa_");
        assert!(Arc::ptr_eq(&store.shared, &acme.shared));
        assert_eq!(acme.pool().status().max_size, 2);
        let debug = format!("{acme:?}");
        assert!(debug.contains("acme") && debug.contains("qa_"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(store.workspace("").is_err());
    }
}
