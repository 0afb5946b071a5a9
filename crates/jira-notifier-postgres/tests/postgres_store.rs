//! `PostgresStore` against a real PostgreSQL server.
//!
//! The server is named by `JIRA_NOTIFIER_PG` (a connection string, e.g.
//! `host=/var/run/postgresql user=postgres dbname=postgres`; `scripts/start-postgres.sh`
//! starts one and prints it). Without it, or when the server cannot be reached, every test
//! says it is skipped and passes, unless `JIRA_NOTIFIER_PG_REQUIRED=1` (as in CI), which
//! makes them fail instead. Each test uses tables of its own (a random table prefix) and
//! drops them at the end, so the tests run in parallel on one database.

use std::collections::HashSet;
use std::env;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jira_notifier::{
    Assignee, Claim, ConfigStore, Connection, Credentials, FieldValue, Health, HealthEvent,
    IssueRecord, Refusal, ResolvedFields, ResolvedTarget, SavedOverride, SavedSettings, Settings,
    Site, StoreError, StoreErrorKind, TestOverride,
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
const TABLES: [&str; 7] = [
    "connection",
    "settings",
    "overrides",
    "records",
    "claims",
    "health",
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
    Connection {
        credentials: Credentials::new("client-1", secret.to_owned()),
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
        project_id: "10000".into(),
        issue_type_name: "Bug".into(),
        issue_type_id: "10004".into(),
    }
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
    SavedSettings {
        settings: Settings::new("QA")
            .with_labels(["ci", "ünïcödé \"quoted\""])
            .with_assignee(Assignee::user("acc-1"))
            .with_field("priority", FieldValue::one("High"))
            .with_field("components", FieldValue::many(["Backend"])),
        target: target("QA"),
        cloud_id: "cloud-1".into(),
        fields: Some(resolved()),
        warnings: Vec::new(),
    }
}

fn test_override() -> SavedOverride {
    SavedOverride {
        test_override: TestOverride::default()
            .with_project("OPS")
            .with_labels(["flaky"]),
        target: Some(target("OPS")),
        cloud_id: "cloud-1".into(),
        fields: None,
        warnings: Vec::new(),
    }
}

fn record(key: &str) -> IssueRecord {
    IssueRecord {
        issue_id: format!("id-{key}"),
        issue_key: key.into(),
        label: format!("testclix-{key}"),
    }
}

fn assert_same_connection(got: &Connection, want: &Connection) {
    assert_eq!(got.site, want.site);
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

#[tokio::test]
async fn every_value_round_trips() {
    with_db!(db);
    let store = db.store().await;
    assert!(store.load_connection().await.unwrap().is_none());
    assert!(store.load_settings().await.unwrap().is_none());
    assert!(store.load_override("t").await.unwrap().is_none());
    assert!(store.load_record("t").await.unwrap().is_none());
    let empty = store.load_test_context("t").await.unwrap();
    assert!(empty.connection.is_none() && empty.settings.is_none());
    assert!(empty.test_override.is_none() && empty.record.is_none());

    let conn = connection("s3cret 'with' \"quotes\" ünï");
    store.save_connection(&conn).await.unwrap();
    store.save_settings(&settings()).await.unwrap();
    store.save_override("t", &test_override()).await.unwrap();
    store.save_record("t", &record("QA-1")).await.unwrap();
    // Saving again replaces.
    store.save_record("t", &record("QA-2")).await.unwrap();
    store.save_record("other", &record("QA-9")).await.unwrap();

    // A new store (another connection) reads what the first wrote.
    let other = db.store().await;
    assert_same_connection(&other.load_connection().await.unwrap().unwrap(), &conn);
    assert_eq!(other.load_settings().await.unwrap(), Some(settings()));
    assert_eq!(
        other.load_override("t").await.unwrap(),
        Some(test_override())
    );
    assert_eq!(other.load_record("t").await.unwrap(), Some(record("QA-2")));
    let ctx = other.load_test_context("t").await.unwrap();
    assert_same_connection(ctx.connection.as_ref().unwrap(), &conn);
    assert_eq!(ctx.settings, Some(settings()));
    assert_eq!(ctx.test_override, Some(test_override()));
    assert_eq!(ctx.record, Some(record("QA-2")));
    let ctx = other.load_test_context("unknown").await.unwrap();
    assert!(ctx.connection.is_some() && ctx.settings.is_some());
    assert!(ctx.test_override.is_none() && ctx.record.is_none());

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

    store.delete_override("t").await.unwrap();
    store.delete_settings().await.unwrap();
    store.delete_connection().await.unwrap();
    assert!(other.load_connection().await.unwrap().is_none());
    assert!(other.load_settings().await.unwrap().is_none());
    assert!(other.load_override("t").await.unwrap().is_none());
    let ctx = other.load_test_context("t").await.unwrap();
    assert!(ctx.connection.is_none() && ctx.settings.is_none() && ctx.test_override.is_none());
    assert_eq!(ctx.record, Some(record("QA-2")));
    // Deleting what is not there is fine.
    store.delete_connection().await.unwrap();
    store.delete_override("never").await.unwrap();
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
                    store.load_test_context("t").await.map(drop)
                } else {
                    store.save_record(&format!("t{i}"), &record("QA-1")).await
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
    let version: i32 = db
        .admin
        .query_one(
            &format!("SELECT version FROM {}", db.table("schema_version")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, PostgresStore::SCHEMA_VERSION);

    // Again, on existing tables: nothing changes, nothing is lost.
    let again = db.store().await;
    again.ensure_schema().await.unwrap();
    again.ensure_schema().await.unwrap();
    assert_eq!(again.load_record("t1").await.unwrap(), Some(record("QA-1")));
    assert_eq!(db.tables().await, want);

    // Tables made by a newer version are left alone.
    db.admin
        .batch_execute(&format!(
            "UPDATE {} SET version = 3",
            db.table("schema_version")
        ))
        .await
        .unwrap();
    let error = db.store().await.load_record("t1").await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);
    assert!(error.to_string().contains("version 3"), "{error}");
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
async fn health_events_apply_in_one_statement_each() {
    with_db!(db);
    let store = db.store().await;
    let other = db.store().await;
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

#[tokio::test]
async fn version_1_tables_are_migrated_and_keep_their_rows() {
    with_db!(db);
    let p = &db.prefix;
    // The tables as version 1 of this crate made them, with a row.
    db.admin
        .batch_execute(&format!(
            "CREATE TABLE {p}schema_version (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), version integer NOT NULL);
             CREATE TABLE {p}connection (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), client_id text NOT NULL, client_secret text NOT NULL, site jsonb NOT NULL);
             CREATE TABLE {p}settings (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), value jsonb NOT NULL);
             CREATE TABLE {p}overrides (test_id text PRIMARY KEY, value jsonb NOT NULL);
             CREATE TABLE {p}records (test_id text PRIMARY KEY, issue_id text NOT NULL, issue_key text NOT NULL, label text NOT NULL);
             CREATE TABLE {p}claims (test_id text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL);
             INSERT INTO {p}schema_version (version) VALUES (1);
             INSERT INTO {p}records VALUES ('t', '10001', 'QA-1', 'testclix-t');
             INSERT INTO {p}settings (value) VALUES ('{{\"settings\": {{\"project_key\": \"QA\", \"issue_type\": \"Bug\", \"label_prefix\": \"testclix-\", \"assignee\": {{\"mode\": \"auto\"}}, \"labels\": []}}, \"target\": {{\"project_key\": \"QA\", \"project_id\": \"10000\", \"issue_type_name\": \"Bug\", \"issue_type_id\": \"10004\"}}, \"cloud_id\": \"c\"}}');"
        ))
        .await
        .unwrap();
    let store = db.store().await;
    assert_eq!(
        store.load_record("t").await.unwrap().unwrap().issue_key,
        "QA-1"
    );
    // Settings saved before field values existed read back without them.
    let settings = store.load_settings().await.unwrap().unwrap();
    assert!(settings.settings.fields.is_empty());
    assert_eq!(settings.fields, None);
    store
        .record_health(&HealthEvent::Refused(refusal("t")))
        .await
        .unwrap();
    assert!(!store.load_health().await.unwrap().is_ok());
    let version: i32 = db
        .admin
        .query_one(&format!("SELECT version FROM {p}schema_version"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, PostgresStore::SCHEMA_VERSION);
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
                    let owner = format!("owner-{i}");
                    (i, store.claim_create(test_id, &owner, LONG).await.unwrap())
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
            };
            assert_eq!(*record, last[slot], "round {round}: a stale record");
        }
        assert_eq!(winners.len(), 1, "round {round}: granted to {winners:?}");
        let rec = record(&format!("QA-{round}"));
        stores[winners[0]]
            .release_create(test_id, &format!("owner-{}", winners[0]), Some(&rec))
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
                let owner = format!("owner-{i}");
                loop {
                    if shared.lock().unwrap().grants >= HANDOVERS {
                        return;
                    }
                    match store.claim_create("t", &owner, LONG).await.unwrap() {
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
                            store.release_create("t", &owner, Some(&rec)).await.unwrap();
                        }
                        Claim::Busy { .. } => {
                            tokio::time::sleep(Duration::from_micros(fastrand::u64(0..1000))).await;
                        }
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
        &a.claim_create("t", "a", Duration::from_secs(2))
            .await
            .unwrap()
    ));
    let left = busy_for(b.claim_create("t", "b", LONG).await.unwrap());
    assert!(
        left <= Duration::from_secs(2) && left > Duration::from_secs(1),
        "{left:?}"
    );
    // The holder claims again: granted, with the new lease.
    assert!(granted(&a.claim_create("t", "a", LONG).await.unwrap()));
    let left = busy_for(b.claim_create("t", "b", LONG).await.unwrap());
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
    assert!(granted(&b.claim_create("u", "b", LONG).await.unwrap()));
    db.drop_tables().await;
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_its_late_release_leaves_the_new_one() {
    with_db!(db);
    let (a, b, c) = (db.store().await, db.store().await, db.store().await);
    let short = Duration::from_millis(300);
    assert!(granted(&a.claim_create("t", "a", short).await.unwrap()));
    let left = busy_for(b.claim_create("t", "b", short).await.unwrap());
    assert!(left <= short, "{left:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        b.claim_create("t", "b", LONG).await.unwrap(),
        Claim::Granted { record: None }
    );
    // a comes back late: its claim is gone, b holds the test.
    busy_for(a.claim_create("t", "a", short).await.unwrap());
    // a's release saves its record but leaves b's claim.
    a.release_create("t", "a", Some(&record("QA-1")))
        .await
        .unwrap();
    match c.claim_create("t", "c", LONG).await.unwrap() {
        Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
        other => panic!("c got {other:?}"),
    }
    // b releases without a record: the record stays, and c gets the claim with it.
    b.release_create("t", "b", None).await.unwrap();
    assert_eq!(
        c.claim_create("t", "c", LONG).await.unwrap(),
        Claim::Granted {
            record: Some(record("QA-1"))
        }
    );
    // Releasing a claim nobody holds is fine.
    a.release_create("free", "a", None).await.unwrap();
    db.drop_tables().await;
}

#[tokio::test]
async fn release_writes_the_record_before_freeing_and_only_frees_the_own_claim() {
    with_db!(db);
    let (a, b) = (db.store().await, db.store().await);
    assert!(granted(&a.claim_create("t", "a", LONG).await.unwrap()));
    // b does not hold the claim: its release writes its record and frees nothing.
    b.release_create("t", "b", Some(&record("QA-1")))
        .await
        .unwrap();
    match b.claim_create("t", "b", LONG).await.unwrap() {
        Claim::Busy { record: r, .. } => assert_eq!(r, Some(record("QA-1"))),
        other => panic!("b got {other:?}"),
    }
    // a's release writes and frees in one statement: whoever claims next sees the record.
    a.release_create("t", "a", Some(&record("QA-2")))
        .await
        .unwrap();
    assert_eq!(
        b.claim_create("t", "b", LONG).await.unwrap(),
        Claim::Granted {
            record: Some(record("QA-2"))
        }
    );
    assert_eq!(a.load_record("t").await.unwrap(), Some(record("QA-2")));
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
    let ctx = store.load_test_context("t").await.unwrap();
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
    store.save_override("t", &test_override()).await.unwrap();
    db.admin
        .batch_execute(&format!(
            "UPDATE {} SET value = '{{\"private\": \"do-not-quote\"}}'; \
             UPDATE {} SET value = '[\"do-not-quote\"]'",
            db.table("settings"),
            db.table("overrides")
        ))
        .await
        .unwrap();
    let errors = [
        store.load_settings().await.unwrap_err(),
        store.load_override("t").await.unwrap_err(),
        store.load_test_context("t").await.unwrap_err(),
    ];
    for error in &errors {
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
        assert!(!full_message(error).contains("do-not-quote"), "{error:?}");
    }
    assert!(errors[0].to_string().contains(&db.table("settings")));
    // A table whose columns are not the expected ones is corrupt too.
    db.admin
        .batch_execute(&format!(
            "ALTER TABLE {} DROP COLUMN label",
            db.table("records")
        ))
        .await
        .unwrap();
    let error = store.load_record("t").await.unwrap_err();
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
    store.save_record("t", &record("QA-1")).await.unwrap();

    proxy.go_down();
    // Every kind of call fails as retryable while the server is away.
    assert_unavailable(store.load_record("t").await);
    assert_unavailable(store.claim_create("t", "a", LONG).await);
    assert_unavailable(store.release_create("t", "a", None).await);
    assert_unavailable(store.load_test_context("t").await);
    let error = assert_unavailable(store.save_record("t", &record("QA-2")).await);
    assert!(error.to_string().contains("PostgreSQL"), "{error}");

    // Back again: the next call reconnects.
    proxy.come_back();
    assert_eq!(store.load_record("t").await.unwrap(), Some(record("QA-1")));
    assert!(granted(&store.claim_create("t", "a", LONG).await.unwrap()));
    db.drop_tables().await;
}

#[tokio::test]
async fn a_store_from_a_client_works_and_cannot_reconnect() {
    with_db!(db);
    let upstream: Config = db.config.parse().unwrap();
    let proxy = Proxy::start(&upstream).await;
    let (client, connection) = proxy.config(&upstream).connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let store = PostgresStore::from_client(client).with_table_prefix(&db.prefix);
    store.save_record("t", &record("QA-1")).await.unwrap();
    assert_eq!(store.load_record("t").await.unwrap(), Some(record("QA-1")));
    assert!(format!("{store:?}").contains(&db.prefix));

    proxy.go_down();
    assert_unavailable(store.load_record("t").await);
    proxy.come_back();
    // The lost connection stays lost; the error says so.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = assert_unavailable(store.load_record("t").await);
    assert!(error.to_string().contains("cannot reconnect"), "{error}");
    db.drop_tables().await;
}
