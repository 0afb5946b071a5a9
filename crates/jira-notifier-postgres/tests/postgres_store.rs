//! `PostgresStore` against a real PostgreSQL server.
//!
//! The server is named by `JIRA_NOTIFIER_PG` (a connection string, e.g.
//! `host=/var/run/postgresql user=postgres dbname=postgres`; `scripts/start-postgres.sh`
//! starts one and prints it). Without it, or when the server cannot be reached, every test
//! says it is skipped and passes, unless `JIRA_NOTIFIER_PG_REQUIRED=1` (as in CI), which
//! makes them fail instead. Each test uses tables of its own (a random table prefix) and
//! drops them at the end, so the tests run in parallel on one database.
//!
//! With the `rustls` feature, the TLS tests also need `JIRA_NOTIFIER_PG_TLS` (a connection
//! string to a server that requires TLS) and `JIRA_NOTIFIER_PG_TLS_CA` (the PEM file of the
//! CA that signed its certificate): `scripts/start-postgres.sh --tls` starts one and says
//! both.

use jira_notifier::ClaimOwner;
use std::collections::{HashMap, HashSet};
use std::env;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jira_notifier::{
    Assignee, Claim, ConfigStore, Connection, Credentials, FieldValue, Health, HealthEvent,
    IssueRecord, Refusal, ResolvedFields, ResolvedTarget, SavedOverride, SavedSettings, Settings,
    Site, StoreError, StoreErrorKind, TestOverride, TestState, Versioned, WorkspaceState,
};
use jira_notifier_postgres::PostgresStore;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

const SERVER: &str = "JIRA_NOTIFIER_PG";
const REQUIRED: &str = "JIRA_NOTIFIER_PG_REQUIRED";
const TABLES: [&str; 9] = [
    "connection",
    "settings",
    "overrides",
    "records",
    "claims",
    "health",
    "test_states",
    "workspace_states",
    "schema_version",
];
const LONG: Duration = Duration::from_secs(60);

/// A test's database: the connection string, a table prefix of its own and a client
/// for looking at the tables directly.
struct Db {
    config: String,
    prefix: String,
    admin: Client,
}

/// Skips the test (or fails it when PostgreSQL is required).
fn unavailable(why: &str) -> Option<Db> {
    if env::var(REQUIRED).is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required ({REQUIRED}=1) but not available: {why}");
    }
    eprintln!(
        "skipped: PostgreSQL not available (set {SERVER}, e.g. \
         \"host=/var/run/postgresql user=postgres dbname=postgres\", or run \
         scripts/start-postgres.sh): {why}"
    );
    None
}

async fn connect(config: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn db() -> Option<Db> {
    let Ok(config) = env::var(SERVER) else {
        return unavailable(&format!("{SERVER} is not set"));
    };
    let admin = match tokio::time::timeout(Duration::from_secs(10), connect(&config)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return unavailable(&format!("cannot connect: {e}")),
        Err(_) => return unavailable("cannot connect: no answer within 10 s"),
    };
    Some(Db {
        config,
        prefix: format!("jn_test_{:08x}_", fastrand::u32(..)),
        admin,
    })
}

impl Db {
    async fn store(&self) -> PostgresStore {
        PostgresStore::connect(&self.config)
            .await
            .unwrap()
            .with_table_prefix(&self.prefix)
    }

    async fn stores(&self, n: usize) -> Vec<Arc<PostgresStore>> {
        let mut stores = Vec::new();
        for _ in 0..n {
            stores.push(Arc::new(self.store().await));
        }
        stores
    }

    fn table(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    async fn tables(&self) -> Vec<String> {
        let rows = self
            .admin
            .query(
                "SELECT tablename::text FROM pg_tables WHERE starts_with(tablename, $1) \
                 ORDER BY 1",
                &[&self.prefix],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    async fn version(&self) -> i32 {
        self.admin
            .query_one(
                &format!("SELECT version FROM {}", self.table("schema_version")),
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// The columns of a table's primary key, in order.
    async fn primary_key(&self, table: &str) -> Vec<String> {
        let rows = self
            .admin
            .query(
                "SELECT a.attname::text FROM pg_index i \
                 JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, n) ON true \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY k.n",
                &[&self.table(table)],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// The claim rows, as (workspace, test id, owner).
    async fn claim_rows(&self) -> Vec<(String, String, String)> {
        let rows = self
            .admin
            .query(
                &format!(
                    "SELECT workspace, test_id, owner FROM {} ORDER BY 1, 2",
                    self.table("claims")
                ),
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    async fn drop_tables(self) {
        let names: Vec<_> = TABLES.iter().map(|t| self.table(t)).collect();
        self.admin
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", names.join(", ")))
            .await
            .unwrap();
    }
}

/// Runs the test body with a database, or skips it.
macro_rules! with_db {
    ($db:ident) => {
        let Some($db) = db().await else {
            return;
        };
    };
}

fn connection(secret: &str) -> Connection {
    Connection::new(
        Credentials::new("client-1", secret.to_owned()),
        Site::new("cloud-1", "acme", "https://acme.atlassian.net"),
    )
}

fn target(project: &str) -> ResolvedTarget {
    ResolvedTarget::new(project, "10000", "Bug", "10004")
}

/// Field values resolved against a screen, as a save makes them.
fn resolved() -> ResolvedFields {
    serde_json::from_value(serde_json::json!({
        "project_id": "10000",
        "issue_type_id": "10004",
        "configured": {"components": ["Backend"], "priority": "High"},
        "values": {"components": [{"id": "10100"}], "priority": {"id": "2"}},
        "description_on_screen": false,
    }))
    .unwrap()
}

fn settings() -> SavedSettings {
    let mut saved = SavedSettings::new(
        Settings::new("QA")
            .with_labels(["ci", "ünïcödé \"quoted\""])
            .with_assignee(Assignee::user("acc-1"))
            .with_field("priority", FieldValue::one("High"))
            .with_field("components", FieldValue::many(["Backend"])),
        target("QA"),
        "cloud-1",
    );
    saved.fields = Some(resolved());
    saved
}

fn test_override() -> SavedOverride {
    SavedOverride::new(
        TestOverride::default()
            .with_project("OPS")
            .with_labels(["flaky"]),
        Some(target("OPS")),
        "cloud-1",
    )
}

fn record(key: &str) -> IssueRecord {
    IssueRecord::new(format!("id-{key}"), key, format!("testclix-{key}"))
}

fn assert_same_connection(got: &Connection, want: &Connection) {
    assert_eq!(got.site, want.site);
    assert_eq!(got.credentials.kind(), want.credentials.kind());
    assert_eq!(got.credentials.client_id(), want.credentials.client_id());
    assert_eq!(
        got.credentials.client_secret().expose_secret(),
        want.credentials.client_secret().expose_secret()
    );
}

fn full_message(error: &StoreError) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(&format!(" / {s} / {s:?}"));
        source = s.source();
    }
    text
}

fn granted(claim: &Claim) -> bool {
    matches!(claim, Claim::Granted { .. })
}

fn busy_for(claim: Claim) -> Duration {
    match claim {
        Claim::Busy { expires_in, .. } => expires_in,
        other => panic!("expected busy, got {other:?}"),
    }
}

/// A test state counting `failures` (its fields are the crate's; serde reads them).
fn state(failures: u64) -> TestState {
    serde_json::from_value(serde_json::json!({ "failures": failures })).unwrap()
}

/// The failures a test state counts.
fn failures(state: &TestState) -> u64 {
    serde_json::to_value(state).unwrap()["failures"]
        .as_u64()
        .unwrap_or(0)
}

/// A workspace state told apart by `n`, the default one at 0 (its fields are the crate's;
/// serde reads them), checked to write back as it was read.
fn ws_state(n: u64) -> WorkspaceState {
    if n == 0 {
        return WorkspaceState::default();
    }
    let json = serde_json::json!({ "storm": { "created": [n] } });
    let state: WorkspaceState = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        json,
        "layout changed"
    );
    state
}

/// The `n` of a state made by [`ws_state`].
fn ws_count(state: &WorkspaceState) -> u64 {
    serde_json::to_value(state).unwrap()["storm"]["created"][0]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn every_value_round_trips() {
    with_db!(db);
    let store = db.store().await;
    assert!(store.load_connection().await.unwrap().is_none());
    assert!(store.load_settings().await.unwrap().is_none());
    assert!(store.load_override(&tid("t")).await.unwrap().is_none());
    assert!(store.load_record(&tid("t")).await.unwrap().is_none());
    let empty = store.load_test_context(&tid("t")).await.unwrap();
    assert!(empty.connection.is_none() && empty.settings.is_none());
    assert!(empty.test_override.is_none() && empty.record.is_none());
    assert_eq!(empty.state, Versioned::default());

    let conn = connection("s3cret 'with' \"quotes\" ünï");
    store.save_connection(&conn).await.unwrap();
    store.save_settings(&settings()).await.unwrap();
    store
        .save_override(&tid("t"), &test_override())
        .await
        .unwrap();
    store.save_record(&tid("t"), &record("QA-1")).await.unwrap();
    // Saving again replaces.
    store.save_record(&tid("t"), &record("QA-2")).await.unwrap();
    assert!(store
        .swap_test_state(&tid("t"), 0, &state(3))
        .await
        .unwrap());
    store
        .save_record(&tid("other"), &record("QA-9"))
        .await
        .unwrap();

    // A new store (another connection) reads what the first wrote.
    let other = db.store().await;
    assert_same_connection(&other.load_connection().await.unwrap().unwrap(), &conn);
    assert_eq!(other.load_settings().await.unwrap(), Some(settings()));
    assert_eq!(
        other.load_override(&tid("t")).await.unwrap(),
        Some(test_override())
    );
    assert_eq!(
        other.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-2"))
    );
    let ctx = other.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &conn);
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-2")));
    assert_eq!(ctx.state, Versioned::new(1, state(3)));
    let ctx = other.load_test_context(&tid("unknown")).await.unwrap();
    assert!(ctx.connection.is_some() && ctx.settings.is_some());
    assert!(ctx.test_override.is_none() && ctx.record.is_none());
    assert_eq!(ctx.state, Versioned::default());

    // By default the secret is kept in clear, in its own column.
    let row = db
        .admin
        .query_one(
            &format!(
                "SELECT client_id, client_secret FROM {}",
                db.table("connection")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "client-1");
    assert_eq!(row.get::<_, String>(1), "s3cret 'with' \"quotes\" ünï");

    // Saving the connection again replaces it.
    let newer = connection("rotated");
    store.save_connection(&newer).await.unwrap();
    assert_same_connection(&other.load_connection().await.unwrap().unwrap(), &newer);

    store.delete_override(&tid("t")).await.unwrap();
    store.delete_settings().await.unwrap();
    store.delete_connection().await.unwrap();
    assert!(other.load_connection().await.unwrap().is_none());
    assert!(other.load_settings().await.unwrap().is_none());
    assert!(other.load_override(&tid("t")).await.unwrap().is_none());
    let ctx = other.load_test_context(&tid("t")).await.unwrap();
    assert!(ctx.connection.is_none() && ctx.settings.is_none() && ctx.test_override.is_none());
    assert_eq!(ctx.record, Some(record("QA-2")));
    // Deleting what is not there is fine.
    store.delete_connection().await.unwrap();
    store.delete_override(&tid("never")).await.unwrap();
    assert!(!format!("{store:?}").contains("rotated"));
    db.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_stores_creating_the_tables_at_once_all_succeed() {
    with_db!(db);
    let stores = db.stores(8).await;
    assert!(
        db.tables().await.is_empty(),
        "tables exist before first use"
    );
    let barrier = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                // Half start with a read, half with a write.
                if i % 2 == 0 {
                    store.load_test_context(&tid("t")).await.map(drop)
                } else {
                    store
                        .save_record(&tid(format!("t{i}")), &record("QA-1"))
                        .await
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut want: Vec<_> = TABLES.iter().map(|t| db.table(t)).collect();
    want.sort();
    assert_eq!(db.tables().await, want);
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);

    // Again, on existing tables: nothing changes, nothing is lost.
    let again = db.store().await;
    again.ensure_schema().await.unwrap();
    again.ensure_schema().await.unwrap();
    assert_eq!(
        again.load_record(&tid("t1")).await.unwrap(),
        Some(record("QA-1"))
    );
    assert_eq!(db.tables().await, want);

    // Tables made by a newer version are left alone.
    let newer = PostgresStore::SCHEMA_VERSION + 1;
    db.admin
        .batch_execute(&format!(
            "UPDATE {} SET version = {newer}",
            db.table("schema_version")
        ))
        .await
        .unwrap();
    let error = db.store().await.load_record(&tid("t1")).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);
    assert!(
        error.to_string().contains(&format!("version {newer}")),
        "{error}"
    );
    assert_eq!(db.tables().await, want);
    assert_eq!(db.version().await, newer);
    let rows: i64 = db
        .admin
        .query_one(
            &format!("SELECT count(*) FROM {}", db.table("records")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 4, "a newer version's rows were changed");
    db.drop_tables().await;
}

fn refusal(test_id: &str) -> Refusal {
    serde_json::from_value(serde_json::json!({
        "at": 1_700_000_000_123u64,
        "test_id": test_id,
        "project_key": "QA",
        "issue_type": "Bug",
        "status": 400,
        "field_errors": {"components": "Component/s is required."},
        "messages": [],
    }))
    .unwrap()
}

#[tokio::test]
async fn health_events_apply_in_one_statement_each_and_stay_in_their_workspace() {
    with_db!(db);
    let store = db.store().await;
    let other = db.store().await;
    let elsewhere = store.workspace("elsewhere").unwrap();
    assert_eq!(store.load_health().await.unwrap(), Health::default());
    // Clearing what is not there is fine.
    store
        .record_health(&HealthEvent::SettingsSaved)
        .await
        .unwrap();
    store
        .record_health(&HealthEvent::Refused(refusal("t1")))
        .await
        .unwrap();
    assert_eq!(elsewhere.load_health().await.unwrap(), Health::default());
    let seen = other.load_health().await.unwrap();
    assert_eq!(seen.last_refusal, Some(refusal("t1")));
    assert_eq!(seen.last_success, None);
    // Another test's override leaves the refusal; the test's own clears it.
    other
        .record_health(&HealthEvent::OverrideSaved {
            test_id: "t2".into(),
        })
        .await
        .unwrap();
    assert!(!store.load_health().await.unwrap().is_ok());
    other
        .record_health(&HealthEvent::OverrideSaved {
            test_id: "t1".into(),
        })
        .await
        .unwrap();
    assert!(store.load_health().await.unwrap().is_ok());
    let at = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_999_000);
    store
        .record_health(&HealthEvent::Refused(refusal("t1")))
        .await
        .unwrap();
    store
        .record_health(&HealthEvent::Created { at })
        .await
        .unwrap();
    let mut want = Health::default();
    want.last_success = Some(at);
    assert_eq!(other.load_health().await.unwrap(), want);
    store
        .record_health(&HealthEvent::Refused(refusal("t3")))
        .await
        .unwrap();
    store
        .record_health(&HealthEvent::SettingsSaved)
        .await
        .unwrap();
    assert_eq!(other.load_health().await.unwrap(), want);
    db.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_are_exclusive_among_eight_connections() {
    with_db!(db);
    let stores = db.stores(8).await;
    stores[0].ensure_schema().await.unwrap();
    let ids = ["a", "b", "c"];
    let mut last: [Option<IssueRecord>; 3] = Default::default();
    for round in 0..30 {
        let slot = round % ids.len();
        let test_id = ids[slot];
        let barrier = Arc::new(Barrier::new(stores.len()));
        let tasks: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let owner = ClaimOwner::new(format!("owner-{i}"));
                    (
                        i,
                        store
                            .claim_create(&tid(test_id), &owner, LONG)
                            .await
                            .unwrap(),
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (i, claim) = task.await.unwrap();
            let record = match &claim {
                Claim::Granted { record } => {
                    winners.push(i);
                    record
                }
                Claim::Busy { record, expires_in } => {
                    assert!(
                        *expires_in > LONG - Duration::from_secs(10),
                        "{expires_in:?}"
                    );
                    record
                }
                other => panic!("an unknown claim: {other:?}"),
            };
            assert_eq!(*record, last[slot], "round {round}: a stale record");
        }
        assert_eq!(winners.len(), 1, "round {round}: granted to {winners:?}");
        let rec = record(&format!("QA-{round}"));
        stores[winners[0]]
            .release_create(
                &tid(test_id),
                &ClaimOwner::new(format!("owner-{}", winners[0])),
                Some(&rec),
            )
            .await
            .unwrap();
        last[slot] = Some(rec);
    }
    db.drop_tables().await;
}

/// Eight notifiers hand one test's claim to each other as fast as they can: never two
/// holders at once, and whoever is granted the claim after a release sees the record that
/// release wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_granted_after_a_release_sees_the_released_record() {
    const HANDOVERS: usize = 60;

    #[derive(Default)]
    struct Shared {
        released: Option<IssueRecord>,
        held: bool,
        grants: usize,
        owners: HashSet<usize>,
    }

    with_db!(db);
    let stores = db.stores(8).await;
    stores[0].ensure_schema().await.unwrap();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let started = Instant::now();
    let tasks: Vec<JoinHandle<()>> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, shared) = (Arc::clone(store), Arc::clone(&shared));
            tokio::spawn(async move {
                let owner = ClaimOwner::new(format!("owner-{i}"));
                loop {
                    if shared.lock().unwrap().grants >= HANDOVERS {
                        return;
                    }
                    match store.claim_create(&tid("t"), &owner, LONG).await.unwrap() {
                        Claim::Granted { record } => {
                            let n = {
                                let mut s = shared.lock().unwrap();
                                assert!(!s.held, "two holders at once");
                                assert_eq!(record, s.released, "granted without the record");
                                s.held = true;
                                s.grants += 1;
                                s.owners.insert(i);
                                s.grants
                            };
                            tokio::time::sleep(Duration::from_micros(fastrand::u64(0..2000))).await;
                            let rec = record_n(n);
                            {
                                let mut s = shared.lock().unwrap();
                                s.held = false;
                                s.released = Some(rec.clone());
                            }
                            store
                                .release_create(&tid("t"), &owner, Some(&rec))
                                .await
                                .unwrap();
                        }
                        Claim::Busy { .. } => {
                            tokio::time::sleep(Duration::from_micros(fastrand::u64(0..1000))).await;
                        }
                        other => panic!("an unknown claim: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    {
        let s = shared.lock().unwrap();
        assert!(s.grants >= HANDOVERS);
        assert!(s.owners.len() > 1, "the claim never changed hands");
        eprintln!(
            "{} handovers among {} owners in {:?}",
            s.grants,
            s.owners.len(),
            started.elapsed()
        );
    }
    db.drop_tables().await;
}

fn record_n(n: usize) -> IssueRecord {
    record(&format!("QA-{n}"))
}

#[tokio::test]
async fn the_holder_renews_and_leases_run_on_the_database_clock() {
    with_db!(db);
    let (a, b) = (db.store().await, db.store().await);
    assert!(granted(
        &a.claim_create(&tid("t"), &ClaimOwner::new("a"), Duration::from_secs(2))
            .await
            .unwrap()
    ));
    let left = busy_for(
        b.claim_create(&tid("t"), &ClaimOwner::new("b"), LONG)
            .await
            .unwrap(),
    );
    assert!(
        left <= Duration::from_secs(2) && left > Duration::from_secs(1),
        "{left:?}"
    );
    // The holder claims again: granted, with the new lease.
    assert!(granted(
        &a.claim_create(&tid("t"), &ClaimOwner::new("a"), LONG)
            .await
            .unwrap()
    ));
    let left = busy_for(
        b.claim_create(&tid("t"), &ClaimOwner::new("b"), LONG)
            .await
            .unwrap(),
    );
    assert!(
        left <= LONG && left > LONG - Duration::from_secs(5),
        "{left:?}"
    );
    // The lease's end is the database's now() plus the lease: no replica's clock is used.
    let seconds: f64 = db
        .admin
        .query_one(
            &format!(
                "SELECT extract(epoch FROM expires_at - now())::float8 FROM {} \
                 WHERE test_id = 't' AND owner = 'a'",
                db.table("claims")
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(seconds > 55.0 && seconds <= 60.0, "{seconds}");
    // Other tests are free.
    assert!(granted(
        &b.claim_create(&tid("u"), &ClaimOwner::new("b"), LONG)
            .await
            .unwrap()
    ));
    db.drop_tables().await;
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_its_late_release_leaves_the_new_one() {
    with_db!(db);
    let (a, b, c) = (db.store().await, db.store().await, db.store().await);
    let short = Duration::from_millis(300);
    assert!(granted(
        &a.claim_create(&tid("t"), &ClaimOwner::new("a"), short)
            .await
            .unwrap()
    ));
    let left = busy_for(
        b.claim_create(&tid("t"), &ClaimOwner::new("b"), short)
            .await
            .unwrap(),
    );
    assert!(left <= short, "{left:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        b.claim_create(&tid("t"), &ClaimOwner::new("b"), LONG)
            .await
            .unwrap(),
        Claim::Granted { record: None }
    );
    // a comes back late: its claim is gone, b holds the test.
    busy_for(
        a.claim_create(&tid("t"), &ClaimOwner::new("a"), short)
            .await
            .unwrap(),
    );
    // a's release saves its record but leaves b's claim.
    a.release_create(&tid("t"), &ClaimOwner::new("a"), Some(&record("QA-1")))
        .await
        .unwrap();
    match c
        .claim_create(&tid("t"), &ClaimOwner::new("c"), LONG)
        .await
        .unwrap()
    {
        Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
        other => panic!("c got {other:?}"),
    }
    // b releases without a record: the record stays, and c gets the claim with it.
    b.release_create(&tid("t"), &ClaimOwner::new("b"), None)
        .await
        .unwrap();
    assert_eq!(
        c.claim_create(&tid("t"), &ClaimOwner::new("c"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("QA-1"))
        }
    );
    // Releasing a claim nobody holds is fine.
    a.release_create(&tid("free"), &ClaimOwner::new("a"), None)
        .await
        .unwrap();
    db.drop_tables().await;
}

#[tokio::test]
async fn release_writes_the_record_before_freeing_and_only_frees_the_own_claim() {
    with_db!(db);
    let (a, b) = (db.store().await, db.store().await);
    assert!(granted(
        &a.claim_create(&tid("t"), &ClaimOwner::new("a"), LONG)
            .await
            .unwrap()
    ));
    // b does not hold the claim: its release writes its record and frees nothing.
    b.release_create(&tid("t"), &ClaimOwner::new("b"), Some(&record("QA-1")))
        .await
        .unwrap();
    match b
        .claim_create(&tid("t"), &ClaimOwner::new("b"), LONG)
        .await
        .unwrap()
    {
        Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
        other => panic!("b got {other:?}"),
    }
    // a's release writes and frees in one statement: whoever claims next sees the record.
    a.release_create(&tid("t"), &ClaimOwner::new("a"), Some(&record("QA-2")))
        .await
        .unwrap();
    assert_eq!(
        b.claim_create(&tid("t"), &ClaimOwner::new("b"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("QA-2"))
        }
    );
    assert_eq!(
        a.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-2"))
    );
    db.drop_tables().await;
}

#[tokio::test]
async fn the_secret_codec_encodes_the_secret_column() {
    with_db!(db);
    fn encode(secret: &SecretString) -> Result<String, StoreError> {
        Ok(format!(
            "rev:{}",
            secret.expose_secret().chars().rev().collect::<String>()
        ))
    }
    fn decode(stored: &str) -> Result<SecretString, StoreError> {
        match stored.strip_prefix("rev:") {
            Some(s) => Ok(SecretString::from(s.chars().rev().collect::<String>())),
            None => Err(StoreError::corrupt("not encoded")),
        }
    }
    let store = db.store().await.with_secret_codec(encode, decode);
    let conn = connection("plain-secret");
    store.save_connection(&conn).await.unwrap();
    let stored: String = db
        .admin
        .query_one(
            &format!("SELECT client_secret FROM {}", db.table("connection")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "rev:terces-nialp");
    assert_same_connection(&store.load_connection().await.unwrap().unwrap(), &conn);
    let ctx = store.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(&ctx.connection.unwrap(), &conn);
    // A value the decoder refuses is its error.
    db.admin
        .batch_execute(&format!(
            "UPDATE {} SET client_secret = 'clear'",
            db.table("connection")
        ))
        .await
        .unwrap();
    let error = store.load_connection().await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);
    assert_eq!(error.to_string(), "not encoded");
    db.drop_tables().await;
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_and_not_quoted() {
    with_db!(db);
    let store = db.store().await;
    store.save_settings(&settings()).await.unwrap();
    store
        .save_override(&tid("t"), &test_override())
        .await
        .unwrap();
    db.admin
        .batch_execute(&format!(
            "UPDATE {} SET value = '{{\"settings\": \"do-not-quote\"}}'; \
             UPDATE {} SET value = '[\"do-not-quote\"]'",
            db.table("settings"),
            db.table("overrides")
        ))
        .await
        .unwrap();
    let errors = [
        store.load_settings().await.unwrap_err(),
        store.load_override(&tid("t")).await.unwrap_err(),
        store.load_test_context(&tid("t")).await.unwrap_err(),
    ];
    for error in &errors {
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
        assert!(!full_message(error).contains("do-not-quote"), "{error:?}");
    }
    assert!(errors[0].to_string().contains(&db.table("settings")));

    // A test state that cannot be read, in a workspace whose other values are fine: its
    // own read and the context's one statement say which table, and never quote it.
    let w = store.workspace("w").unwrap();
    assert!(w.swap_test_state(&tid("t"), 0, &state(1)).await.unwrap());
    let states = db.table("test_states");
    for (set, what) in [
        ("state = '{\"failures\": \"do-not-quote\"}'", "state"),
        ("state = '\"do-not-quote\"'", "state"),
        // Version 0 means "nothing stored": a row at 0 could never be swapped again.
        ("state = '{}', version = 0", "version"),
        ("state = '{}', version = -1", "version"),
    ] {
        db.admin
            .batch_execute(&format!("UPDATE {states} SET {set}"))
            .await
            .unwrap();
        let errors = [
            w.load_test_state(&tid("t")).await.unwrap_err(),
            w.load_test_context(&tid("t")).await.unwrap_err(),
        ];
        for error in &errors {
            assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{set}: {error}");
            let text = error.to_string();
            assert!(
                text.contains(&states) && text.contains(what),
                "{set}: {text}"
            );
            assert!(!full_message(error).contains("do-not-quote"), "{error:?}");
        }
    }
    // Another test's state is still read.
    assert_eq!(
        w.load_test_state(&tid("u")).await.unwrap(),
        Versioned::default()
    );
    // A table whose columns are not the expected ones is corrupt too.
    db.admin
        .batch_execute(&format!(
            "ALTER TABLE {} DROP COLUMN label",
            db.table("records")
        ))
        .await
        .unwrap();
    let error = store.load_record(&tid("t")).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    db.drop_tables().await;
}

/// A TCP proxy to the test server that can drop every connection and refuse new ones,
/// like a server that went away.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &Config) -> Proxy {
        let host = upstream.get_hosts().first().cloned().expect("a host");
        let port = upstream.get_ports().first().copied().unwrap_or(5432);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (down, links) = (Arc::clone(&down), Arc::clone(&links));
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if down.load(Ordering::SeqCst) {
                        inbound.shutdown().await.ok();
                        continue;
                    }
                    let host = host.clone();
                    links.lock().unwrap().push(tokio::spawn(async move {
                        match &host {
                            Host::Tcp(name) => {
                                let Ok(mut up) = TcpStream::connect((name.as_str(), port)).await
                                else {
                                    return;
                                };
                                tokio::io::copy_bidirectional(&mut inbound, &mut up)
                                    .await
                                    .ok();
                            }
                            Host::Unix(dir) => {
                                let path = dir.join(format!(".s.PGSQL.{port}"));
                                let Ok(mut up) = UnixStream::connect(path).await else {
                                    return;
                                };
                                tokio::io::copy_bidirectional(&mut inbound, &mut up)
                                    .await
                                    .ok();
                            }
                        }
                    }));
                }
            })
        };
        Proxy {
            port: local,
            down,
            links,
            accept,
        }
    }

    /// The test server's configuration, through the proxy, with a password the server
    /// does not ask for (so that errors can be checked for it).
    fn config(&self, upstream: &Config) -> Config {
        let mut config = Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .password("pg-password-never-shown")
            .connect_timeout(Duration::from_secs(5));
        if let Some(user) = upstream.get_user() {
            config.user(user);
        }
        if let Some(dbname) = upstream.get_dbname() {
            config.dbname(dbname);
        }
        config
    }

    /// Drops every connection and refuses new ones.
    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.go_down();
        self.accept.abort();
    }
}

fn assert_unavailable(result: Result<impl std::fmt::Debug, StoreError>) -> StoreError {
    let error = result.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    let text = full_message(&error);
    assert!(!text.contains("pg-password-never-shown"), "{text}");
    error
}

#[tokio::test]
async fn a_store_whose_server_goes_away_is_unavailable_then_reconnects() {
    with_db!(db);
    let upstream: Config = db.config.parse().unwrap();
    let proxy = Proxy::start(&upstream).await;
    let store = PostgresStore::connect_with_config(proxy.config(&upstream))
        .await
        .unwrap()
        .with_table_prefix(&db.prefix);
    store.save_record(&tid("t"), &record("QA-1")).await.unwrap();
    assert!(store
        .swap_test_state(&tid("t"), 0, &state(1))
        .await
        .unwrap());
    // Several calls at once: the pool holds more than one connection when they are lost.
    for read in concurrent_reads(&store, 4).await {
        assert_eq!(read.unwrap(), Some(record("QA-1")));
    }
    assert!(
        store.pool().status().size > 1,
        "{:?}",
        store.pool().status()
    );

    proxy.go_down();
    // Every kind of call fails as retryable while the server is away.
    assert_unavailable(store.load_record(&tid("t")).await);
    assert_unavailable(
        store
            .claim_create(&tid("t"), &ClaimOwner::new("a"), LONG)
            .await,
    );
    assert_unavailable(
        store
            .release_create(&tid("t"), &ClaimOwner::new("a"), None)
            .await,
    );
    assert_unavailable(store.load_test_context(&tid("t")).await);
    assert_unavailable(store.load_test_state(&tid("t")).await);
    assert_unavailable(store.swap_test_state(&tid("t"), 1, &state(2)).await);
    let error = assert_unavailable(store.save_record(&tid("t"), &record("QA-2")).await);
    assert!(error.to_string().contains("PostgreSQL"), "{error}");

    // Back again: the next calls reconnect.
    proxy.come_back();
    assert_eq!(
        store.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );
    for read in concurrent_reads(&store, 4).await {
        assert_eq!(read.unwrap(), Some(record("QA-1")));
    }
    // The state survived (the failed swap wrote nothing) and swaps on from its version.
    assert_eq!(
        store.load_test_state(&tid("t")).await.unwrap(),
        Versioned::new(1, state(1))
    );
    assert!(store
        .swap_test_state(&tid("t"), 1, &state(2))
        .await
        .unwrap());
    assert_eq!(
        store.load_test_context(&tid("t")).await.unwrap().state,
        Versioned::new(2, state(2))
    );
    assert!(granted(
        &store
            .claim_create(&tid("t"), &ClaimOwner::new("a"), LONG)
            .await
            .unwrap()
    ));
    db.drop_tables().await;
}

#[tokio::test]
async fn a_store_on_the_hosts_pool_works_and_reconnects() {
    with_db!(db);
    let upstream: Config = db.config.parse().unwrap();
    let proxy = Proxy::start(&upstream).await;
    let manager = deadpool_postgres::Manager::new(proxy.config(&upstream), NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .build()
        .unwrap();
    // Made without a connection: the first call opens one.
    let store = PostgresStore::from_pool(pool.clone()).with_table_prefix(&db.prefix);
    assert_eq!(pool.status().size, 0);
    store.save_record(&tid("t"), &record("QA-1")).await.unwrap();
    assert_eq!(
        store.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );
    assert_eq!(store.pool().status().max_size, 2);
    let debug = format!("{store:?}");
    assert!(debug.contains(&db.prefix), "{debug}");
    assert!(!debug.contains("pg-password-never-shown"), "{debug}");

    proxy.go_down();
    assert_unavailable(store.load_record(&tid("t")).await);
    proxy.come_back();
    // The pool drops the lost connection and opens another.
    assert_eq!(
        store.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );
    db.drop_tables().await;
}

fn other_connection() -> Connection {
    Connection::new(
        Credentials::new("client-2", "globex-secret".to_owned()),
        Site::new("cloud-2", "globex", "https://globex.atlassian.net"),
    )
}

fn other_settings() -> SavedSettings {
    SavedSettings::new(Settings::new("OPS"), target("OPS"), "cloud-2")
}

#[tokio::test]
async fn two_workspaces_never_see_each_others_values() {
    with_db!(db);
    let store = db.store().await;
    assert_eq!(store.workspace_id(), PostgresStore::DEFAULT_WORKSPACE);
    let a = store.workspace("acme").unwrap();
    let b = store.workspace("globex").unwrap();

    a.save_connection(&connection("acme-secret")).await.unwrap();
    a.save_settings(&settings()).await.unwrap();
    a.save_override(&tid("t"), &test_override()).await.unwrap();
    a.save_record(&tid("t"), &record("QA-1")).await.unwrap();
    // Neither b nor the default workspace sees any of it.
    for other in [&b, &store] {
        assert!(other.load_connection().await.unwrap().is_none());
        assert!(other.load_settings().await.unwrap().is_none());
        assert!(other.load_override(&tid("t")).await.unwrap().is_none());
        assert!(other.load_record(&tid("t")).await.unwrap().is_none());
        let ctx = other.load_test_context(&tid("t")).await.unwrap();
        assert!(ctx.connection.is_none() && ctx.settings.is_none());
        assert!(ctx.test_override.is_none() && ctx.record.is_none());
    }

    // b keeps values of its own; each reads its own.
    b.save_connection(&other_connection()).await.unwrap();
    b.save_settings(&other_settings()).await.unwrap();
    b.save_record(&tid("t"), &record("OPS-1")).await.unwrap();
    let ctx = a.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &connection("acme-secret"));
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-1")));
    let ctx = b.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &other_connection());
    assert_eq!(ctx.settings, Some(other_settings()));
    assert_eq!(ctx.test_override, None);
    assert_eq!(ctx.record, Some(record("OPS-1")));

    // A claim on t in a leaves t free in b, and b's release leaves a's claim alone.
    assert_eq!(
        a.claim_create(&tid("t"), &ClaimOwner::new("a-1"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("QA-1"))
        }
    );
    assert_eq!(
        b.claim_create(&tid("t"), &ClaimOwner::new("b-1"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("OPS-1"))
        }
    );
    b.release_create(&tid("t"), &ClaimOwner::new("a-1"), None)
        .await
        .unwrap();
    b.release_create(&tid("t"), &ClaimOwner::new("b-1"), Some(&record("OPS-2")))
        .await
        .unwrap();
    match a
        .claim_create(&tid("t"), &ClaimOwner::new("a-2"), LONG)
        .await
        .unwrap()
    {
        Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
        other => panic!("a-2 got {other:?}"),
    }
    assert_eq!(
        db.claim_rows().await,
        [("acme".to_owned(), "t".to_owned(), "a-1".to_owned())]
    );

    // Deleting in a leaves b's values.
    a.delete_connection().await.unwrap();
    a.delete_settings().await.unwrap();
    a.delete_override(&tid("t")).await.unwrap();
    assert_same_connection(
        &b.load_connection().await.unwrap().unwrap(),
        &other_connection(),
    );
    assert_eq!(b.load_settings().await.unwrap(), Some(other_settings()));
    assert_eq!(
        b.load_record(&tid("t")).await.unwrap(),
        Some(record("OPS-2"))
    );
    assert_eq!(
        a.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );

    // A workspace id is data, whatever it holds.
    let odd = store.workspace("x'); DROP TABLE y; -- ü \"").unwrap();
    odd.save_record(&tid("t"), &record("ODD-1")).await.unwrap();
    assert_eq!(
        odd.load_record(&tid("t")).await.unwrap(),
        Some(record("ODD-1"))
    );
    assert_eq!(
        a.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );
    // The default workspace is the one named so.
    let named = b.workspace(PostgresStore::DEFAULT_WORKSPACE).unwrap();
    store.save_record(&tid("d"), &record("D-1")).await.unwrap();
    assert_eq!(
        named.load_record(&tid("d")).await.unwrap(),
        Some(record("D-1"))
    );
    assert!(store.workspace("").is_err());
    assert!(store.workspace("a\0b").is_err());
    let debug = format!("{a:?}");
    assert!(
        debug.contains("acme") && !debug.contains("acme-secret"),
        "{debug}"
    );
    db.drop_tables().await;
}

#[tokio::test]
async fn test_states_swap_only_from_the_version_read_and_stay_in_their_workspace() {
    with_db!(db);
    let store = db.store().await;
    let a = store.workspace("acme").unwrap();
    let b = store.workspace("globex").unwrap();
    let t = tid("t");
    assert_eq!(a.load_test_state(&t).await.unwrap(), Versioned::default());

    // Nothing is stored: a swap from any version but 0 writes nothing.
    assert!(!a.swap_test_state(&t, 1, &state(9)).await.unwrap());
    assert!(!a.swap_test_state(&t, u64::MAX, &state(9)).await.unwrap());
    assert_eq!(a.load_test_state(&t).await.unwrap(), Versioned::default());
    // From 0, once: a second insert meets the row.
    assert!(a.swap_test_state(&t, 0, &state(1)).await.unwrap());
    assert!(!a.swap_test_state(&t, 0, &state(9)).await.unwrap());
    assert_eq!(
        a.load_test_state(&t).await.unwrap(),
        Versioned::new(1, state(1))
    );
    // Then only from the stored version.
    assert!(!a.swap_test_state(&t, 2, &state(9)).await.unwrap());
    assert!(a.swap_test_state(&t, 1, &state(2)).await.unwrap());
    assert!(!a.swap_test_state(&t, 1, &state(9)).await.unwrap());
    assert_eq!(
        a.load_test_state(&t).await.unwrap(),
        Versioned::new(2, state(2))
    );
    // The context reads it in its one statement, with or without a connection.
    assert_eq!(
        a.load_test_context(&t).await.unwrap().state,
        Versioned::new(2, state(2))
    );
    a.save_connection(&connection("acme-secret")).await.unwrap();
    let ctx = a.load_test_context(&t).await.unwrap();
    assert!(ctx.connection.is_some());
    assert_eq!(ctx.state, Versioned::new(2, state(2)));

    // Neither another workspace nor another test sees it.
    for other in [&b, &store] {
        assert_eq!(
            other.load_test_state(&t).await.unwrap(),
            Versioned::default()
        );
        assert_eq!(
            other.load_test_context(&t).await.unwrap().state,
            Versioned::default()
        );
        // Its version 2 is a's, not theirs.
        assert!(!other.swap_test_state(&t, 2, &state(9)).await.unwrap());
    }
    assert_eq!(
        a.load_test_state(&tid("u")).await.unwrap(),
        Versioned::default()
    );
    // b counts from 0 on its own, and a's state stays.
    assert!(b.swap_test_state(&t, 0, &state(7)).await.unwrap());
    assert_eq!(
        b.load_test_state(&t).await.unwrap(),
        Versioned::new(1, state(7))
    );
    assert!(!a.swap_test_state(&t, 1, &state(9)).await.unwrap());
    assert_eq!(
        a.load_test_state(&t).await.unwrap(),
        Versioned::new(2, state(2))
    );

    // Every field of a state round trips (the state is the crate's; the store keeps its JSON).
    let full: TestState = serde_json::from_value(serde_json::json!({
        "issue": "10001",
        "since": 1_700_000_000_000u64,
        "unsent": 2,
        "first_unsent": 1_700_000_000_100u64,
        "last_unsent": 1_700_000_000_200u64,
        "message": "boom: ünïcödé 'quoted' \"twice\" \\ back",
        "failures": 3,
        "passes": 1,
        "passing_since": 1_700_000_000_300u64,
        "recovered": true,
    }))
    .unwrap();
    assert_ne!(full, TestState::default());
    assert!(a.swap_test_state(&tid("full"), 0, &full).await.unwrap());

    // A new store (a new pool, new connections) reads the states and swaps on from them.
    drop((store, a, b));
    let again = db.store().await;
    let a = again.workspace("acme").unwrap();
    assert_eq!(
        a.load_test_state(&tid("full")).await.unwrap(),
        Versioned::new(1, full)
    );
    assert!(a.swap_test_state(&t, 2, &state(3)).await.unwrap());
    // Kept as jsonb next to a bigint version, one row per workspace and test.
    let rows: Vec<(String, String, i64, Option<String>)> = db
        .admin
        .query(
            &format!(
                "SELECT workspace, test_id, version, state ->> 'failures' FROM {} ORDER BY 1, 2",
                db.table("test_states")
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let want = [
        ("acme", "full", 1, Some("3")),
        ("acme", "t", 3, Some("3")),
        ("globex", "t", 1, Some("7")),
    ]
    .map(|(w, t, v, f)| (w.to_owned(), t.to_owned(), v, f.map(str::to_owned)));
    assert_eq!(rows, want);
    assert_eq!(
        db.primary_key("test_states").await,
        ["workspace", "test_id"]
    );
    db.drop_tables().await;
}

/// Eight stores, each with a pool of its own (as eight processes would have), each adding
/// one to a counter in one test's state 50 times by compare-and-swap, all at once: no
/// increment is lost and none counted twice, so the count and the version end at 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_pools_counting_in_one_test_state_lose_no_increment() {
    const STORES: usize = 8;
    const EACH: u64 = 50;
    with_db!(db);
    let mut stores = Vec::new();
    for _ in 0..STORES {
        let store = PostgresStore::builder(db.config.parse().unwrap())
            .pool_size(2)
            .connect()
            .await
            .unwrap()
            .with_table_prefix(&db.prefix)
            .workspace("race")
            .unwrap();
        stores.push(store);
    }
    stores[0].ensure_schema().await.unwrap();
    let barrier = Arc::new(Barrier::new(STORES));
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let (mut won, mut lost) = (Vec::new(), 0u64);
                for _ in 0..EACH {
                    loop {
                        // Half read through the context, as a report does.
                        let read = if i % 2 == 0 {
                            store.load_test_context(&tid("t")).await.unwrap().state
                        } else {
                            store.load_test_state(&tid("t")).await.unwrap()
                        };
                        // Every swap adds one to both: a read never mixes two swaps.
                        assert_eq!(failures(&read.value), read.version);
                        let next = state(failures(&read.value) + 1);
                        if store
                            .swap_test_state(&tid("t"), read.version, &next)
                            .await
                            .unwrap()
                        {
                            won.push(read.version + 1);
                            break;
                        }
                        lost += 1;
                    }
                }
                (won, lost)
            })
        })
        .collect();
    let (mut versions, mut lost) = (Vec::new(), 0);
    for task in tasks {
        let (won, l) = task.await.unwrap();
        versions.extend(won);
        lost += l;
    }
    // Each version was won by exactly one swap.
    versions.sort_unstable();
    let total = STORES as u64 * EACH;
    assert_eq!(total, 400);
    assert_eq!(versions, (1..=total).collect::<Vec<_>>());
    let end = stores[0].load_test_state(&tid("t")).await.unwrap();
    assert_eq!(end, Versioned::new(total, state(total)));
    // Another store, not in the race, reads the same.
    let other = db.store().await.workspace("race").unwrap();
    assert_eq!(
        other.load_test_context(&tid("t")).await.unwrap().state,
        Versioned::new(total, state(total))
    );
    eprintln!("{total} swaps won, {lost} lost to a concurrent swap and retried");
    db.drop_tables().await;
}

#[tokio::test]
async fn the_workspace_state_swaps_only_from_the_version_read_and_stays_in_its_workspace() {
    with_db!(db);
    let store = db.store().await;
    let a = store.workspace("acme").unwrap();
    let b = store.workspace("globex").unwrap();
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::default()
    );

    // Nothing is stored: a swap from any version but 0 writes nothing.
    assert!(!a.swap_workspace_state(1, &ws_state(9)).await.unwrap());
    assert!(!a
        .swap_workspace_state(u64::MAX, &ws_state(9))
        .await
        .unwrap());
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::default()
    );
    // From 0, once: a second insert meets the row.
    assert!(a.swap_workspace_state(0, &ws_state(1)).await.unwrap());
    assert!(!a.swap_workspace_state(0, &ws_state(9)).await.unwrap());
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(1))
    );
    // Then only from the stored version, which each swap moves on by one.
    assert!(!a.swap_workspace_state(2, &ws_state(9)).await.unwrap());
    assert!(a.swap_workspace_state(1, &ws_state(2)).await.unwrap());
    assert!(!a.swap_workspace_state(1, &ws_state(9)).await.unwrap());
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::new(2, ws_state(2))
    );

    // Neither another workspace nor a test's state sees it.
    for other in [&b, &store] {
        assert_eq!(
            other.load_workspace_state().await.unwrap(),
            Versioned::default()
        );
        // Its version 2 is a's, not theirs.
        assert!(!other.swap_workspace_state(2, &ws_state(9)).await.unwrap());
    }
    assert_eq!(
        a.load_test_state(&tid("t")).await.unwrap(),
        Versioned::default()
    );
    assert_eq!(
        a.load_test_context(&tid("t")).await.unwrap().state,
        Versioned::default()
    );
    // b counts from 0 on its own, and a's state stays.
    assert!(b.swap_workspace_state(0, &ws_state(7)).await.unwrap());
    assert_eq!(
        b.load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(7))
    );
    assert!(!a.swap_workspace_state(1, &ws_state(9)).await.unwrap());
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::new(2, ws_state(2))
    );

    // A new store (a new pool, new connections) reads it and swaps on from it.
    drop((store, a, b));
    let again = db.store().await;
    let a = again.workspace("acme").unwrap();
    assert_eq!(
        a.load_workspace_state().await.unwrap(),
        Versioned::new(2, ws_state(2))
    );
    assert!(a.swap_workspace_state(2, &ws_state(3)).await.unwrap());
    // Kept as jsonb next to a bigint version, one row per workspace.
    let rows: Vec<(String, i64, serde_json::Value)> = db
        .admin
        .query(
            &format!(
                "SELECT workspace, version, state::text FROM {} ORDER BY 1",
                db.table("workspace_states")
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let state: String = r.get(2);
            (r.get(0), r.get(1), serde_json::from_str(&state).unwrap())
        })
        .collect();
    let want = [("acme", 3, 3), ("globex", 1, 7)]
        .map(|(w, v, n)| (w.to_owned(), v, serde_json::to_value(ws_state(n)).unwrap()));
    assert_eq!(rows, want);
    assert_eq!(db.primary_key("workspace_states").await, ["workspace"]);
    db.drop_tables().await;
}

/// Eight stores, each with a pool of its own (as eight processes would have), all swapping
/// the workspace state from the version they read together, round after round: exactly
/// one swap wins each round, and the state is the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_pools_swapping_from_one_version_let_exactly_one_win_each_round() {
    const STORES: usize = 8;
    const ROUNDS: u64 = 20;
    with_db!(db);
    let mut stores = Vec::new();
    for _ in 0..STORES {
        let store = PostgresStore::builder(db.config.parse().unwrap())
            .pool_size(2)
            .connect()
            .await
            .unwrap()
            .with_table_prefix(&db.prefix)
            .workspace("storm")
            .unwrap();
        stores.push(store);
    }
    stores[0].ensure_schema().await.unwrap();
    // Round 0 races the insert (nothing stored), the others the update.
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(STORES));
        let tasks: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, barrier) = (store.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    let read = store.load_workspace_state().await.unwrap();
                    barrier.wait().await;
                    // Each store writes a state of its own, to tell who won.
                    let mine = ws_state(1000 * (round + 1) + i as u64);
                    let won = store
                        .swap_workspace_state(read.version, &mine)
                        .await
                        .unwrap();
                    (i, read.version, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (i, version, won) = task.await.unwrap();
            // Every store read between the rounds, so all read the same version.
            assert_eq!(version, round, "store {i}, round {round}");
            if won {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: won by {winners:?}");
        let now = stores[0].load_workspace_state().await.unwrap();
        assert_eq!(now.version, round + 1);
        assert_eq!(ws_count(&now.value), 1000 * (round + 1) + winners[0] as u64);
    }
    db.drop_tables().await;
}

/// Eight stores, each with a pool of its own, each adding one to a counter in the
/// workspace state 50 times by compare-and-swap (reading and swapping until a swap wins),
/// all at once: no increment is lost and none counted twice, so the count and the version
/// end at 400, and every version was won once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_pools_counting_in_the_workspace_state_lose_no_increment() {
    const STORES: usize = 8;
    const EACH: u64 = 50;
    with_db!(db);
    let mut stores = Vec::new();
    for _ in 0..STORES {
        let store = PostgresStore::builder(db.config.parse().unwrap())
            .pool_size(2)
            .connect()
            .await
            .unwrap()
            .with_table_prefix(&db.prefix)
            .workspace("count")
            .unwrap();
        stores.push(store);
    }
    stores[0].ensure_schema().await.unwrap();
    let barrier = Arc::new(Barrier::new(STORES));
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let (mut won, mut lost) = (Vec::new(), 0u64);
                for _ in 0..EACH {
                    loop {
                        let read = store.load_workspace_state().await.unwrap();
                        // Every swap adds one to both: a read never mixes two swaps.
                        assert_eq!(ws_count(&read.value), read.version);
                        let next = ws_state(ws_count(&read.value) + 1);
                        if store
                            .swap_workspace_state(read.version, &next)
                            .await
                            .unwrap()
                        {
                            won.push(read.version + 1);
                            break;
                        }
                        lost += 1;
                    }
                }
                (won, lost)
            })
        })
        .collect();
    let (mut versions, mut lost) = (Vec::new(), 0);
    for task in tasks {
        let (won, l) = task.await.unwrap();
        versions.extend(won);
        lost += l;
    }
    versions.sort_unstable();
    let total = STORES as u64 * EACH;
    assert_eq!(total, 400);
    assert_eq!(versions, (1..=total).collect::<Vec<_>>());
    // Another store, not in the race, reads the same; another workspace nothing.
    let other = db.store().await;
    assert_eq!(
        other
            .workspace("count")
            .unwrap()
            .load_workspace_state()
            .await
            .unwrap(),
        Versioned::new(total, ws_state(total))
    );
    assert_eq!(
        other.load_workspace_state().await.unwrap(),
        Versioned::default()
    );
    eprintln!("{total} swaps won, {lost} lost to a concurrent swap and retried");
    db.drop_tables().await;
}

/// Eight stores, each with a pool of its own (as eight processes would have), each with
/// handles on three workspaces: 24 claimers of the same test id at once, every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_pools_times_three_workspaces_grant_one_claim_per_workspace_and_test() {
    const WORKSPACES: [&str; 3] = ["ws-a", "ws-b", "ws-c"];
    with_db!(db);
    let mut stores = Vec::new();
    for _ in 0..8 {
        let store = PostgresStore::builder(db.config.parse().unwrap())
            .pool_size(3)
            .connect()
            .await
            .unwrap()
            .with_table_prefix(&db.prefix);
        stores.push(store);
    }
    stores[0].ensure_schema().await.unwrap();
    let ids = ["a", "b"];
    let mut last: HashMap<(usize, &str), IssueRecord> = HashMap::new();
    for round in 0..12 {
        let test_id = ids[round % ids.len()];
        let barrier = Arc::new(Barrier::new(stores.len() * WORKSPACES.len()));
        let mut tasks = Vec::new();
        for (i, store) in stores.iter().enumerate() {
            for (w, ws) in WORKSPACES.iter().enumerate() {
                let handle = store.workspace(ws).unwrap();
                let barrier = Arc::clone(&barrier);
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let owner = ClaimOwner::new(format!("owner-{i}"));
                    let claim = handle
                        .claim_create(&tid(test_id), &owner, LONG)
                        .await
                        .unwrap();
                    (w, i, handle, claim)
                }));
            }
        }
        let mut winners: Vec<Vec<(usize, PostgresStore)>> = vec![Vec::new(); WORKSPACES.len()];
        for task in tasks {
            let (w, i, handle, claim) = task.await.unwrap();
            let want = last.get(&(w, test_id)).cloned();
            match claim {
                Claim::Granted { record } => {
                    assert_eq!(record, want, "round {round}, {}", WORKSPACES[w]);
                    winners[w].push((i, handle));
                }
                Claim::Busy { record, .. } => {
                    assert_eq!(record, want, "round {round}, {}", WORKSPACES[w]);
                }
                other => panic!("an unknown claim: {other:?}"),
            }
        }
        for (w, won) in winners.iter().enumerate() {
            let who: Vec<usize> = won.iter().map(|(i, _)| *i).collect();
            assert_eq!(
                who.len(),
                1,
                "round {round}, {}: granted to {who:?}",
                WORKSPACES[w]
            );
            let (i, handle) = &won[0];
            let rec = record(&format!("{}-{round}", WORKSPACES[w]));
            handle
                .release_create(
                    &tid(test_id),
                    &ClaimOwner::new(format!("owner-{i}")),
                    Some(&rec),
                )
                .await
                .unwrap();
            last.insert((w, test_id), rec);
        }
    }
    db.drop_tables().await;
}

/// Version 1's tables, exactly as version 1 of this crate created them.
fn v1_tables(p: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {p}schema_version (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version integer NOT NULL
        );
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
        INSERT INTO {p}schema_version (version) VALUES (1);"
    )
}

impl Db {
    /// A database of version 1 with a row in every table: the connection, the settings,
    /// two overrides, two records, a live claim (an hour left) and an expired one, written
    /// with version 1's statements.
    async fn version_1(&self) {
        let p = &self.prefix;
        self.admin.batch_execute(&v1_tables(p)).await.unwrap();
        let conn = connection("v1 s3cret 'quoted'");
        let site = serde_json::to_string(&conn.site).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}connection (singleton, client_id, client_secret, site) \
                     VALUES (true, $1, $2, $3::text::jsonb)"
                ),
                &[
                    &conn.credentials.client_id(),
                    &conn.credentials.client_secret().expose_secret(),
                    &site,
                ],
            )
            .await
            .unwrap();
        let value = serde_json::to_string(&settings()).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}settings (singleton, value) VALUES (true, $1::text::jsonb)"
                ),
                &[&value],
            )
            .await
            .unwrap();
        let value = serde_json::to_string(&test_override()).unwrap();
        for test in ["t", "u"] {
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}overrides (test_id, value) VALUES ($1, $2::text::jsonb)"
                    ),
                    &[&test, &value],
                )
                .await
                .unwrap();
        }
        for (test, key) in [("t", "QA-1"), ("v", "QA-7")] {
            let r = record(key);
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}records (test_id, issue_id, issue_key, label) \
                         VALUES ($1, $2, $3, $4)"
                    ),
                    &[&test, &r.issue_id, &r.issue_key, &r.label],
                )
                .await
                .unwrap();
        }
        self.admin
            .batch_execute(&format!(
                "INSERT INTO {p}claims (test_id, owner, expires_at) VALUES \
                 ('t', 'v1-owner', now() + interval '1 hour'), \
                 ('w', 'v1-gone', now() - interval '1 minute')"
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_1_database_becomes_the_default_workspace_with_nothing_lost() {
    with_db!(db);
    db.version_1().await;
    assert_eq!(db.version().await, 1);
    // Eight stores open it at once: one migrates, the others find version 2.
    let stores = db.stores(8).await;
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.ensure_schema().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    let mut want: Vec<_> = TABLES.iter().map(|t| db.table(t)).collect();
    want.sort();
    assert_eq!(db.tables().await, want);
    assert_eq!(db.primary_key("connection").await, ["workspace"]);
    assert_eq!(db.primary_key("settings").await, ["workspace"]);
    for table in ["overrides", "records", "claims"] {
        assert_eq!(
            db.primary_key(table).await,
            ["workspace", "test_id"],
            "{table}"
        );
    }
    let index: i64 = db
        .admin
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = $1",
            &[&db.table("claims_expires_at")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(index, 1, "no index for sweeping claims");

    // Everything is the default workspace's.
    let store = &stores[0];
    let conn = connection("v1 s3cret 'quoted'");
    assert_same_connection(&store.load_connection().await.unwrap().unwrap(), &conn);
    assert_eq!(store.load_settings().await.unwrap(), Some(settings()));
    for test in ["t", "u"] {
        assert_eq!(
            store.load_override(&tid(test)).await.unwrap(),
            Some(test_override())
        );
    }
    assert_eq!(
        store.load_record(&tid("v")).await.unwrap(),
        Some(record("QA-7"))
    );
    let ctx = store.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &conn);
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-1")));
    // Every step ran (1 to 2 to 3 to 4): test states and the workspace state are kept too.
    assert_eq!(ctx.state, Versioned::default());
    assert!(store
        .swap_test_state(&tid("t"), 0, &state(1))
        .await
        .unwrap());
    assert!(store.swap_workspace_state(0, &ws_state(1)).await.unwrap());
    assert_eq!(
        stores[1].load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(1))
    );
    // The live claim is still live; its holder renews it; the expired one is free.
    let left = busy_for(
        store
            .claim_create(&tid("t"), &ClaimOwner::new("v2-owner"), LONG)
            .await
            .unwrap(),
    );
    assert!(left > Duration::from_secs(3500), "{left:?}");
    assert_eq!(
        store
            .claim_create(&tid("t"), &ClaimOwner::new("v1-owner"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("QA-1"))
        }
    );
    assert!(granted(
        &store
            .claim_create(&tid("w"), &ClaimOwner::new("v2-owner"), LONG)
            .await
            .unwrap()
    ));

    // Another workspace sees none of it, and its claims are its own.
    let other = store.workspace("acme").unwrap();
    assert!(other.load_connection().await.unwrap().is_none());
    assert!(other.load_settings().await.unwrap().is_none());
    assert!(other.load_override(&tid("t")).await.unwrap().is_none());
    assert!(other.load_record(&tid("t")).await.unwrap().is_none());
    let ctx = other.load_test_context(&tid("t")).await.unwrap();
    assert!(ctx.connection.is_none() && ctx.settings.is_none());
    assert!(ctx.test_override.is_none() && ctx.record.is_none());
    assert_eq!(
        other
            .claim_create(&tid("t"), &ClaimOwner::new("v2-owner"), LONG)
            .await
            .unwrap(),
        Claim::Granted { record: None }
    );
    let rows = db.claim_rows().await;
    let owners: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(w, t, o)| (w.as_str(), t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        owners,
        [
            ("acme", "t", "v2-owner"),
            ("default", "t", "v1-owner"),
            ("default", "w", "v2-owner"),
        ]
    );
    db.drop_tables().await;
}

/// Version 2's tables, exactly as version 2 of this crate (the release before test
/// states) created them.
fn v2_tables(p: &str) -> String {
    format!(
        "CREATE TABLE {p}schema_version (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version integer NOT NULL
        );
        CREATE TABLE {p}connection (
            workspace text PRIMARY KEY,
            client_id text NOT NULL,
            client_secret text NOT NULL,
            site jsonb NOT NULL
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
        CREATE TABLE {p}health (
            workspace text PRIMARY KEY,
            last_success_ms bigint,
            last_refusal jsonb
        );
        INSERT INTO {p}schema_version (version) VALUES (2);"
    )
}

impl Db {
    /// A database of version 2 with rows in two workspaces, written with version 2's
    /// statements: `default` has a connection, settings, an override, a record, a live
    /// claim and its health; `acme` a record and settings.
    async fn version_2(&self) {
        let p = &self.prefix;
        self.admin.batch_execute(&v2_tables(p)).await.unwrap();
        let conn = connection("v2 s3cret");
        let site = serde_json::to_string(&conn.site).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}connection (workspace, client_id, client_secret, site) \
                     VALUES ('default', $1, $2, $3::text::jsonb)"
                ),
                &[
                    &conn.credentials.client_id(),
                    &conn.credentials.client_secret().expose_secret(),
                    &site,
                ],
            )
            .await
            .unwrap();
        for (ws, value) in [("default", settings()), ("acme", other_settings())] {
            let value = serde_json::to_string(&value).unwrap();
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}settings (workspace, value) VALUES ($1, $2::text::jsonb)"
                    ),
                    &[&ws, &value],
                )
                .await
                .unwrap();
        }
        let value = serde_json::to_string(&test_override()).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}overrides (workspace, test_id, value) \
                     VALUES ('default', 't', $1::text::jsonb)"
                ),
                &[&value],
            )
            .await
            .unwrap();
        for (ws, key) in [("default", "QA-1"), ("acme", "AC-1")] {
            let r = record(key);
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}records (workspace, test_id, issue_id, issue_key, label) \
                         VALUES ($1, 't', $2, $3, $4)"
                    ),
                    &[&ws, &r.issue_id, &r.issue_key, &r.label],
                )
                .await
                .unwrap();
        }
        self.admin
            .batch_execute(&format!(
                "INSERT INTO {p}claims (workspace, test_id, owner, expires_at) VALUES \
                 ('default', 't', 'v2-owner', now() + interval '1 hour'); \
                 INSERT INTO {p}health (workspace, last_success_ms, last_refusal) VALUES \
                 ('default', 1700000000123, NULL)"
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_2_database_gains_test_states_with_nothing_lost() {
    with_db!(db);
    db.version_2().await;
    assert_eq!(db.version().await, 2);

    // A table of the host's in the way: the step fails as a whole, nothing changes.
    let states = db.table("test_states");
    db.admin
        .batch_execute(&format!("CREATE TABLE {states} (x int)"))
        .await
        .unwrap();
    let error = db.store().await.ensure_schema().await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    assert!(error.to_string().contains("nothing was changed"), "{error}");
    assert_eq!(db.version().await, 2);
    db.admin
        .batch_execute(&format!("DROP TABLE {states}"))
        .await
        .unwrap();

    // Eight stores open it at once: one migrates, the others find the current version.
    let stores = db.stores(8).await;
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.ensure_schema().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    let mut want: Vec<_> = TABLES.iter().map(|t| db.table(t)).collect();
    want.sort();
    assert_eq!(db.tables().await, want);
    assert_eq!(
        db.primary_key("test_states").await,
        ["workspace", "test_id"]
    );

    // Every value of version 2 reads as before, in its workspace.
    let store = &stores[0];
    let conn = connection("v2 s3cret");
    let ctx = store.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &conn);
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-1")));
    assert_eq!(ctx.state, Versioned::default());
    let health = store.load_health().await.unwrap();
    assert_eq!(
        health.last_success,
        Some(std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
    );
    let left = busy_for(
        store
            .claim_create(&tid("t"), &ClaimOwner::new("v3-owner"), LONG)
            .await
            .unwrap(),
    );
    assert!(left > Duration::from_secs(3500), "{left:?}");
    let acme = store.workspace("acme").unwrap();
    assert_eq!(acme.load_settings().await.unwrap(), Some(other_settings()));
    assert_eq!(
        acme.load_record(&tid("t")).await.unwrap(),
        Some(record("AC-1"))
    );

    // And the states are kept, per workspace.
    assert!(store
        .swap_test_state(&tid("t"), 0, &state(1))
        .await
        .unwrap());
    assert!(acme.swap_test_state(&tid("t"), 0, &state(5)).await.unwrap());
    assert_eq!(
        stores[1].load_test_context(&tid("t")).await.unwrap().state,
        Versioned::new(1, state(1))
    );
    assert_eq!(
        acme.load_test_state(&tid("t")).await.unwrap(),
        Versioned::new(1, state(5))
    );
    // The step from version 3 ran too: the workspace state is kept, per workspace.
    assert_eq!(db.primary_key("workspace_states").await, ["workspace"]);
    assert!(acme.swap_workspace_state(0, &ws_state(4)).await.unwrap());
    assert_eq!(
        store.load_workspace_state().await.unwrap(),
        Versioned::default()
    );
    // Opening it again changes nothing.
    db.store().await.ensure_schema().await.unwrap();
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    assert_eq!(
        store.load_test_state(&tid("t")).await.unwrap(),
        Versioned::new(1, state(1))
    );
    db.drop_tables().await;
}

/// Version 3's tables, exactly as version 3 of this crate (the release before workspace
/// states) created them.
fn v3_tables(p: &str) -> String {
    format!(
        "CREATE TABLE {p}schema_version (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version integer NOT NULL
        );
        CREATE TABLE {p}connection (
            workspace text PRIMARY KEY,
            client_id text NOT NULL,
            client_secret text NOT NULL,
            site jsonb NOT NULL,
            credential_kind text NOT NULL DEFAULT 'client_credentials'
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
        CREATE TABLE {p}health (
            workspace text PRIMARY KEY,
            last_success_ms bigint,
            last_refusal jsonb
        );
        CREATE TABLE {p}test_states (
            workspace text NOT NULL,
            test_id text NOT NULL,
            version bigint NOT NULL,
            state jsonb NOT NULL,
            PRIMARY KEY (workspace, test_id)
        );
        INSERT INTO {p}schema_version (version) VALUES (3);"
    )
}

impl Db {
    /// A database of version 3 with rows in two workspaces, written with version 3's
    /// statements: `default` has a connection (an API token), settings, an override, a
    /// record, a live claim, its health and a test state at version 4; `acme` a record,
    /// settings and a test state.
    async fn version_3(&self) {
        let p = &self.prefix;
        self.admin.batch_execute(&v3_tables(p)).await.unwrap();
        let conn = v3_connection();
        let site = serde_json::to_string(&conn.site).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}connection \
                     (workspace, client_id, client_secret, site, credential_kind) \
                     VALUES ('default', $1, $2, $3::text::jsonb, $4)"
                ),
                &[
                    &conn.credentials.client_id(),
                    &conn.credentials.client_secret().expose_secret(),
                    &site,
                    &conn.credentials.kind().as_str(),
                ],
            )
            .await
            .unwrap();
        for (ws, value) in [("default", settings()), ("acme", other_settings())] {
            let value = serde_json::to_string(&value).unwrap();
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}settings (workspace, value) VALUES ($1, $2::text::jsonb)"
                    ),
                    &[&ws, &value],
                )
                .await
                .unwrap();
        }
        let value = serde_json::to_string(&test_override()).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO {p}overrides (workspace, test_id, value) \
                     VALUES ('default', 't', $1::text::jsonb)"
                ),
                &[&value],
            )
            .await
            .unwrap();
        for (ws, key, version, failures) in [("default", "QA-1", 4i64, 4), ("acme", "AC-1", 1, 9)] {
            let r = record(key);
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}records (workspace, test_id, issue_id, issue_key, label) \
                         VALUES ($1, 't', $2, $3, $4)"
                    ),
                    &[&ws, &r.issue_id, &r.issue_key, &r.label],
                )
                .await
                .unwrap();
            let value = serde_json::to_string(&state(failures)).unwrap();
            self.admin
                .execute(
                    &format!(
                        "INSERT INTO {p}test_states (workspace, test_id, version, state) \
                         VALUES ($1, 't', $2, $3::text::jsonb)"
                    ),
                    &[&ws, &version, &value],
                )
                .await
                .unwrap();
        }
        self.admin
            .batch_execute(&format!(
                "INSERT INTO {p}claims (workspace, test_id, owner, expires_at) VALUES \
                 ('default', 't', 'v3-owner', now() + interval '1 hour'); \
                 INSERT INTO {p}health (workspace, last_success_ms, last_refusal) VALUES \
                 ('default', 1700000000123, NULL)"
            ))
            .await
            .unwrap();
    }
}

/// The connection of the version 3 database: an API token, as version 3 kept it.
fn v3_connection() -> Connection {
    Connection::new(
        Credentials::personal_token("me@example.com", "v3 t0ken".to_owned()),
        Site::new("cloud-1", "acme", "https://acme.atlassian.net"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_3_database_gains_workspace_states_with_nothing_lost() {
    with_db!(db);
    db.version_3().await;
    assert_eq!(db.version().await, 3);

    // A table of the host's in the way: the step fails as a whole, nothing changes.
    let states = db.table("workspace_states");
    db.admin
        .batch_execute(&format!("CREATE TABLE {states} (x int)"))
        .await
        .unwrap();
    let error = db.store().await.ensure_schema().await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    assert!(error.to_string().contains("nothing was changed"), "{error}");
    assert!(!full_message(&error).contains("t0ken"), "{error:?}");
    assert_eq!(db.version().await, 3);
    db.admin
        .batch_execute(&format!("DROP TABLE {states}"))
        .await
        .unwrap();

    // Eight stores open it at once: one migrates, the others find the current version.
    let stores = db.stores(8).await;
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.ensure_schema().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    assert_eq!(PostgresStore::SCHEMA_VERSION, 4);
    let mut want: Vec<_> = TABLES.iter().map(|t| db.table(t)).collect();
    want.sort();
    assert_eq!(db.tables().await, want);
    assert_eq!(db.primary_key("workspace_states").await, ["workspace"]);

    // Every value of version 3 reads as before, in its workspace, in one context read.
    let store = &stores[0];
    let ctx = store.load_test_context(&tid("t")).await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &v3_connection());
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-1")));
    assert_eq!(ctx.state, Versioned::new(4, state(4)));
    let health = store.load_health().await.unwrap();
    assert_eq!(
        health.last_success,
        Some(std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
    );
    let left = busy_for(
        store
            .claim_create(&tid("t"), &ClaimOwner::new("v4-owner"), LONG)
            .await
            .unwrap(),
    );
    assert!(left > Duration::from_secs(3500), "{left:?}");
    let acme = store.workspace("acme").unwrap();
    assert_eq!(acme.load_settings().await.unwrap(), Some(other_settings()));
    assert_eq!(
        acme.load_test_context(&tid("t")).await.unwrap().record,
        Some(record("AC-1"))
    );
    assert_eq!(
        acme.load_test_state(&tid("t")).await.unwrap(),
        Versioned::new(1, state(9))
    );
    // The test states swap on from their version 3 versions.
    assert!(!store
        .swap_test_state(&tid("t"), 3, &state(5))
        .await
        .unwrap());
    assert!(store
        .swap_test_state(&tid("t"), 4, &state(5))
        .await
        .unwrap());

    // And the workspace states start at 0, per workspace.
    assert_eq!(
        store.load_workspace_state().await.unwrap(),
        Versioned::default()
    );
    assert!(store.swap_workspace_state(0, &ws_state(1)).await.unwrap());
    assert!(acme.swap_workspace_state(0, &ws_state(2)).await.unwrap());
    assert_eq!(
        stores[1].load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(1))
    );
    assert_eq!(
        acme.load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(2))
    );
    // Opening it again changes nothing.
    db.store().await.ensure_schema().await.unwrap();
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    assert_eq!(
        store.load_workspace_state().await.unwrap(),
        Versioned::new(1, ws_state(1))
    );
    assert_eq!(
        store.load_test_state(&tid("t")).await.unwrap(),
        Versioned::new(5, state(5))
    );
    db.drop_tables().await;
}

#[tokio::test]
async fn a_migration_that_cannot_be_done_changes_nothing_and_is_corrupt() {
    with_db!(db);
    db.version_1().await;
    // A host's view on a column that version 2 drops.
    let view = db.table("host_view");
    db.admin
        .batch_execute(&format!(
            "CREATE VIEW {view} AS SELECT singleton, client_id FROM {}",
            db.table("connection")
        ))
        .await
        .unwrap();
    let store = db.store().await;
    let error = store.ensure_schema().await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    assert!(error.to_string().contains("nothing was changed"), "{error}");
    assert!(!full_message(&error).contains("s3cret"), "{error:?}");
    let error = store.load_record(&tid("t")).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    // Still version 1, every table as it was.
    assert_eq!(db.version().await, 1);
    assert_eq!(db.primary_key("connection").await, ["singleton"]);
    for table in ["overrides", "records", "claims"] {
        assert_eq!(db.primary_key(table).await, ["test_id"], "{table}");
    }
    let rows: i64 = db
        .admin
        .query_one(&format!("SELECT count(*) FROM {}", db.table("claims")), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
    // Once the view is gone, the same store migrates.
    db.admin
        .batch_execute(&format!("DROP VIEW {view}"))
        .await
        .unwrap();
    assert_eq!(
        store.load_record(&tid("t")).await.unwrap(),
        Some(record("QA-1"))
    );
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    db.drop_tables().await;
}

#[tokio::test]
async fn expired_claims_are_swept_in_every_workspace_and_live_ones_stay() {
    with_db!(db);
    let store = db.store().await.with_claim_sweep_interval(None);
    let (a, b) = (store.workspace("a").unwrap(), store.workspace("b").unwrap());
    let short = Duration::from_millis(200);
    for ws in [&a, &b] {
        assert!(granted(
            &ws.claim_create(&tid("t"), &ClaimOwner::new("x"), short)
                .await
                .unwrap()
        ));
        assert!(granted(
            &ws.claim_create(&tid("live"), &ClaimOwner::new("x"), LONG)
                .await
                .unwrap()
        ));
    }
    a.save_record(&tid("t"), &record("QA-1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The store never swept by itself: the expired rows are still there.
    assert_eq!(db.claim_rows().await.len(), 4);

    assert_eq!(store.sweep_expired_claims().await.unwrap(), 2);
    let x = || "x".to_owned();
    assert_eq!(
        db.claim_rows().await,
        [
            ("a".to_owned(), "live".to_owned(), x()),
            ("b".to_owned(), "live".to_owned(), x()),
        ]
    );
    assert_eq!(store.sweep_expired_claims().await.unwrap(), 0);
    // As after a takeover: the next claim is granted, with the record; the former
    // holder's late release frees nothing of the new holder's.
    assert_eq!(
        a.claim_create(&tid("t"), &ClaimOwner::new("y"), LONG)
            .await
            .unwrap(),
        Claim::Granted {
            record: Some(record("QA-1"))
        }
    );
    a.release_create(&tid("t"), &ClaimOwner::new("x"), None)
        .await
        .unwrap();
    busy_for(
        a.claim_create(&tid("t"), &ClaimOwner::new("z"), LONG)
            .await
            .unwrap(),
    );
    // Live claims were never swept.
    busy_for(
        b.claim_create(&tid("live"), &ClaimOwner::new("z"), LONG)
            .await
            .unwrap(),
    );
    db.drop_tables().await;
}

/// Waits (10 s at most) until no claim row of `test` is left.
async fn until_swept(db: &Db, test: &str) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = db.claim_rows().await;
        if !rows.iter().any(|(_, t, _)| t == test) || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn claims_start_a_sweep_at_most_once_per_interval_per_store() {
    with_db!(db);
    let quiet = db.store().await.with_claim_sweep_interval(None);
    let short = Duration::from_millis(100);
    let expire = |test: &'static str| {
        let quiet = quiet.clone();
        async move {
            assert!(granted(
                &quiet
                    .claim_create(&tid(test), &ClaimOwner::new("gone"), short)
                    .await
                    .unwrap()
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };

    // A store's first claim sweeps, whatever the workspace.
    expire("old-1").await;
    let periodic = db.store().await.workspace("p").unwrap();
    assert!(granted(
        &periodic
            .claim_create(&tid("p1"), &ClaimOwner::new("p"), LONG)
            .await
            .unwrap()
    ));
    let rows = until_swept(&db, "old-1").await;
    assert_eq!(
        rows,
        [("p".to_owned(), "p1".to_owned(), "p".to_owned())],
        "the first claim did not sweep"
    );

    // Its next claims within the interval do not, from any of its handles.
    expire("old-2").await;
    let sibling = periodic.workspace("q").unwrap();
    assert!(granted(
        &sibling
            .claim_create(&tid("q1"), &ClaimOwner::new("q"), LONG)
            .await
            .unwrap()
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        db.claim_rows().await.iter().any(|(_, t, _)| t == "old-2"),
        "swept again within the interval"
    );

    // A store set to sweep at every claim does.
    let eager = db
        .store()
        .await
        .with_claim_sweep_interval(Some(Duration::ZERO));
    assert!(granted(
        &eager
            .claim_create(&tid("e1"), &ClaimOwner::new("e"), LONG)
            .await
            .unwrap()
    ));
    let rows = until_swept(&db, "old-2").await;
    assert!(!rows.iter().any(|(_, t, _)| t == "old-2"), "{rows:?}");
    assert_eq!(rows.len(), 3, "{rows:?}");
    db.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pool_of_one_connection_serves_many_calls_at_once() {
    with_db!(db);
    let store = PostgresStore::builder(db.config.parse().unwrap())
        .pool_size(1)
        .connect()
        .await
        .unwrap()
        .with_table_prefix(&db.prefix);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let ws = store.workspace(&format!("ws-{}", i % 4)).unwrap();
            tokio::spawn(async move {
                let test = tid(format!("t{i}"));
                let owner = ClaimOwner::new(format!("o{i}"));
                assert!(granted(
                    &ws.claim_create(&test, &owner, LONG).await.unwrap()
                ));
                let rec = record(&format!("QA-{i}"));
                ws.release_create(&test, &owner, Some(&rec)).await.unwrap();
                assert_eq!(ws.load_test_context(&test).await.unwrap().record, Some(rec));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let status = store.pool().status();
    assert_eq!(status.max_size, 1);
    assert!(status.size <= 1, "{status:?}");
    db.drop_tables().await;
}

#[cfg(feature = "rustls")]
mod tls {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    const TLS_SERVER: &str = "JIRA_NOTIFIER_PG_TLS";
    const TLS_CA: &str = "JIRA_NOTIFIER_PG_TLS_CA";

    /// A rustls configuration trusting the CA in the PEM file `ca`, or nothing.
    fn tls_config(ca: Option<&str>) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = ca {
            for cert in CertificateDer::pem_file_iter(path).expect("the CA file") {
                roots.add(cert.expect("a PEM certificate")).unwrap();
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// The TLS server's connection string and CA file, or a skip.
    fn tls_server() -> Option<(Config, String)> {
        match (env::var(TLS_SERVER), env::var(TLS_CA)) {
            (Ok(config), Ok(ca)) => Some((config.parse().expect(TLS_SERVER), ca)),
            _ => {
                unavailable(&format!(
                    "{TLS_SERVER} and {TLS_CA} are not set (scripts/start-postgres.sh --tls)"
                ));
                None
            }
        }
    }

    #[tokio::test]
    async fn a_tls_store_works_on_a_tls_server_and_checks_its_certificate() {
        let Some((config, ca)) = tls_server() else {
            return;
        };
        let prefix = format!("jn_tls_{:08x}_", fastrand::u32(..));
        let store = PostgresStore::builder(config.clone())
            .tls(tls_config(Some(&ca)))
            .pool_size(2)
            .connect()
            .await
            .unwrap()
            .with_table_prefix(&prefix);
        store.save_record(&tid("t"), &record("QA-1")).await.unwrap();
        assert_eq!(
            store
                .workspace("acme")
                .unwrap()
                .claim_create(&tid("t"), &ClaimOwner::new("a"), LONG)
                .await
                .unwrap(),
            Claim::Granted { record: None }
        );
        assert_eq!(
            store.load_record(&tid("t")).await.unwrap(),
            Some(record("QA-1"))
        );
        {
            let client = store.pool().get().await.unwrap();
            let ssl: bool = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert!(ssl, "the store's connection is not encrypted");
            let names: Vec<_> = TABLES.iter().map(|t| format!("{prefix}{t}")).collect();
            client
                .batch_execute(&format!("DROP TABLE {}", names.join(", ")))
                .await
                .unwrap();
        }

        // A certificate signed by a CA the store does not trust is refused.
        let error = PostgresStore::builder(config.clone())
            .tls(tls_config(None))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(error.to_string().contains("TLS"), "{error}");
        // And without TLS, the server refuses the store.
        let mut plain = config;
        plain.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let error = PostgresStore::connect_with_config(plain).await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn a_tls_store_refuses_a_server_without_tls() {
        with_db!(db);
        // The plain test server (a Unix socket: PostgreSQL never offers TLS there), with
        // the connection string's default `sslmode=prefer`.
        let config: Config = db.config.parse().unwrap();
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
        let error = PostgresStore::builder(config)
            .tls(tls_config(None))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(
            error.to_string().contains("does not support TLS"),
            "{error}"
        );
    }
}

/// `n` reads of test `t`'s record at once, each in a task of its own.
async fn concurrent_reads(
    store: &PostgresStore,
    n: usize,
) -> Vec<Result<Option<IssueRecord>, StoreError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.load_record(&tid("t")).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// A test id, as the notifier hands it to a store.
fn tid(id: impl AsRef<str>) -> jira_notifier::TestId {
    jira_notifier::TestId::new(id.as_ref())
}

/// A connection of version 2 (before kinds of credential) still loads, as client
/// credentials; every kind is then kept, by `load_connection` and the test context.
#[tokio::test]
async fn a_version_2_connection_loads_and_every_kind_of_credential_is_kept() {
    with_db!(db);
    let store = db.store().await;
    store.ensure_schema().await.unwrap();
    // Version 2's connection table, with a row written by version 2's statement.
    let p = &db.prefix;
    db.admin
        .batch_execute(&format!(
            "DELETE FROM {p}schema_version; INSERT INTO {p}schema_version (version) VALUES (2);
             ALTER TABLE {p}connection DROP COLUMN credential_kind;
             DROP TABLE {p}test_states;
             DROP TABLE {p}workspace_states;
             INSERT INTO {p}connection (workspace, client_id, client_secret, site) VALUES
             ('default', 'client-1', 'v2-s3cret',               '{{\"cloud_id\":\"cloud-1\",\"name\":\"acme\",\"url\":\"https://acme.atlassian.net\"}}');"
        ))
        .await
        .unwrap();
    let store = db.store().await;
    assert_same_connection(
        &store.load_connection().await.unwrap().unwrap(),
        &connection("v2-s3cret"),
    );
    assert_eq!(db.version().await, PostgresStore::SCHEMA_VERSION);
    let site = Site::new("cloud-1", "acme", "https://acme.atlassian.net");
    for credentials in [
        Credentials::service_account_token("bot@serviceaccount.atlassian.com", "t-1".to_owned()),
        Credentials::personal_token("me@example.com", "t-2".to_owned()),
        Credentials::token_source("install-42"),
        Credentials::new("client-2", "s-2".to_owned()),
    ] {
        let want = Connection::new(credentials, site.clone());
        store.save_connection(&want).await.unwrap();
        assert_same_connection(&store.load_connection().await.unwrap().unwrap(), &want);
        let ctx = store.load_test_context(&tid("t")).await.unwrap();
        assert_same_connection(ctx.connection.as_ref().unwrap(), &want);
    }
}
