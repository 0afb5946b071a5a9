//! What a report costs on the PostgreSQL store: store round trips per first failure and
//! per repeat, and reports per second one process sustains at pool sizes 1, 4 and 16.
//!
//! ```sh
//! export JIRA_NOTIFIER_PG="$(scripts/start-postgres.sh)"
//! cargo run --release -p jira-notifier-stress --bin pg_reports
//! cargo run --release -p jira-notifier-stress --bin pg_reports -- --tests 4000 --workspaces 8 --concurrency 128 --pools 1,2,4,8,16
//! ```
//!
//! Jira is `SimJira` in the same process with no latency, so the store (and the CPU) is
//! the limit. Each pool size gets a `PostgresStore` of its own (a pool of that many
//! connections) with `--workspaces` workspace handles on it, one `JiraNotifier` per
//! workspace, and runs two phases over `--tests` tests spread over the workspaces, with
//! `--concurrency` reports in flight at once: every test's first failure (an issue
//! created), then every test once more (a repeat: a duplicate). It prints reports per
//! second for each phase and the store round trips each report took.
//!
//! Round trips are counted by a wrapper around the store that counts its calls: each
//! call of `PostgresStore` is one round trip (one statement, or for `claim_create` two
//! statements pipelined in one message; a claim that meets a holder releasing between
//! its two statements sends them again, which the wrapper cannot see and which needs
//! two claimers of one test at once, never the case here). The tables' setup (one
//! message per store) is done before counting starts. Figures only: nothing is asserted
//! but the outcomes (created, then duplicate), and timings vary with the machine and
//! whatever else runs on it, the PostgreSQL server included.
//!
//! | flag | default | meaning |
//! |---|---|---|
//! | `--tests N` | 2000 | tests per phase (each reported once per phase) |
//! | `--workspaces N` | 4 | workspaces sharing each store's pool |
//! | `--concurrency N` | 64 | reports in flight at once |
//! | `--pools LIST` | 1,4,16 | pool sizes, comma-separated |
//!
//! The tables get a prefix of their own and are dropped at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jira_notifier::{
    Claim, ClaimOwner, ConfigStore, Connection, Credentials, Health, HealthEvent, IssueRecord,
    JiraNotifier, Outcome, SavedOverride, SavedSettings, Settings, StoreError, TestContext, TestId,
    TestInfo, TestStatus,
};
use jira_notifier_postgres::{tokio_postgres, PostgresStore};
use jira_notifier_sim::SimJira;
use tokio::sync::Semaphore;

// ----- a store that counts its calls (each one round trip to PostgreSQL) -----

const METHODS: [&str; 19] = [
    "load_connection",
    "save_connection",
    "delete_connection",
    "load_settings",
    "save_settings",
    "delete_settings",
    "load_override",
    "save_override",
    "delete_override",
    "load_record",
    "save_record",
    "claim_create",
    "release_create",
    "load_health",
    "record_health",
    "load_test_state",
    "swap_test_state",
    "load_workspace_state",
    "swap_workspace_state",
];
const CONTEXT: usize = METHODS.len();

#[derive(Debug, Default)]
struct Calls([AtomicU64; METHODS.len() + 1]);

impl Calls {
    fn count(&self, method: usize) {
        self.0[method].fetch_add(1, Relaxed);
    }

    /// The calls so far, by method, and resets the counts.
    fn take(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for (i, n) in self.0.iter().enumerate() {
            let n = n.swap(0, Relaxed);
            if n > 0 {
                out.insert(METHODS.get(i).copied().unwrap_or("load_test_context"), n);
            }
        }
        out
    }
}

#[derive(Debug)]
struct Counted {
    inner: PostgresStore,
    calls: Arc<Calls>,
}

fn index(method: &str) -> usize {
    METHODS
        .iter()
        .position(|m| *m == method)
        .expect("a store method")
}

#[async_trait]
impl ConfigStore for Counted {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        self.calls.count(index("load_connection"));
        self.inner.load_connection().await
    }
    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.calls.count(index("save_connection"));
        self.inner.save_connection(connection).await
    }
    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.calls.count(index("delete_connection"));
        self.inner.delete_connection().await
    }
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        self.calls.count(index("load_settings"));
        self.inner.load_settings().await
    }
    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        self.calls.count(index("save_settings"));
        self.inner.save_settings(settings).await
    }
    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.calls.count(index("delete_settings"));
        self.inner.delete_settings().await
    }
    async fn load_override(&self, test: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        self.calls.count(index("load_override"));
        self.inner.load_override(test).await
    }
    async fn save_override(&self, test: &TestId, value: &SavedOverride) -> Result<(), StoreError> {
        self.calls.count(index("save_override"));
        self.inner.save_override(test, value).await
    }
    async fn delete_override(&self, test: &TestId) -> Result<(), StoreError> {
        self.calls.count(index("delete_override"));
        self.inner.delete_override(test).await
    }
    async fn load_record(&self, test: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        self.calls.count(index("load_record"));
        self.inner.load_record(test).await
    }
    async fn save_record(&self, test: &TestId, record: &IssueRecord) -> Result<(), StoreError> {
        self.calls.count(index("save_record"));
        self.inner.save_record(test, record).await
    }
    async fn claim_create(
        &self,
        test: &TestId,
        owner: &ClaimOwner,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        self.calls.count(index("claim_create"));
        self.inner.claim_create(test, owner, lease).await
    }
    async fn release_create(
        &self,
        test: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        self.calls.count(index("release_create"));
        self.inner.release_create(test, owner, record).await
    }
    async fn load_test_state(
        &self,
        test: &TestId,
    ) -> Result<jira_notifier::Versioned<jira_notifier::TestState>, StoreError> {
        self.calls.count(index("load_test_state"));
        self.inner.load_test_state(test).await
    }
    async fn load_workspace_state(
        &self,
    ) -> Result<jira_notifier::Versioned<jira_notifier::WorkspaceState>, StoreError> {
        self.calls.count(index("load_workspace_state"));
        self.inner.load_workspace_state().await
    }
    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &jira_notifier::WorkspaceState,
    ) -> Result<bool, StoreError> {
        self.calls.count(index("swap_workspace_state"));
        self.inner.swap_workspace_state(expected, state).await
    }
    async fn swap_test_state(
        &self,
        test: &TestId,
        expected: u64,
        state: &jira_notifier::TestState,
    ) -> Result<bool, StoreError> {
        self.calls.count(index("swap_test_state"));
        self.inner.swap_test_state(test, expected, state).await
    }
    async fn load_test_context(&self, test: &TestId) -> Result<TestContext, StoreError> {
        self.calls.count(CONTEXT);
        self.inner.load_test_context(test).await
    }
    async fn load_health(&self) -> Result<Health, StoreError> {
        self.calls.count(index("load_health"));
        self.inner.load_health().await
    }
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        self.calls.count(index("record_health"));
        self.inner.record_health(event).await
    }
}

// ----- options -----

struct Options {
    tests: usize,
    workspaces: usize,
    concurrency: usize,
    pools: Vec<usize>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        tests: 2000,
        workspaces: 4,
        concurrency: 64,
        pools: vec![1, 4, 16],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "usage: pg_reports [--tests N] [--workspaces N] [--concurrency N] [--pools 1,4,16]"
            );
            std::process::exit(0);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| -> Result<usize, String> {
            match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag}: not a positive number: {v:?}")),
            }
        };
        match flag.as_str() {
            "--tests" => o.tests = num(&value)?,
            "--workspaces" => o.workspaces = num(&value)?,
            "--concurrency" => o.concurrency = num(&value)?,
            "--pools" => {
                o.pools = value.split(',').map(num).collect::<Result<_, _>>()?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(o)
}

// ----- the measurement -----

fn test_info(i: usize) -> TestInfo {
    TestInfo::new(
        format!("pg-{i:06}"),
        format!("PostgreSQL report test {i}"),
        format!("https://testclix.example/tests/pg-{i:06}"),
    )
}

/// A connected, configured notifier per workspace of `store`, all on one simulated Jira.
async fn notifiers(
    store: &PostgresStore,
    workspaces: usize,
    tag: &str,
    sim: &SimJira,
    calls: &Arc<Calls>,
    in_flight: usize,
) -> Vec<JiraNotifier> {
    let mut out = Vec::new();
    for w in 0..workspaces {
        let handle = store
            .workspace(&format!("{tag}-ws-{w}"))
            .expect("a workspace id");
        let counted = Arc::new(Counted {
            inner: handle,
            calls: Arc::clone(calls),
        });
        let notifier = JiraNotifier::builder(counted)
            .transport(sim.clone())
            .max_concurrent_requests(in_flight)
            .build()
            .expect("a notifier");
        notifier
            .connect(Credentials::new(
                SimJira::CLIENT_ID,
                SimJira::CLIENT_SECRET.to_owned(),
            ))
            .await
            .expect("connect");
        notifier
            .save_settings(Settings::new("QA").with_labels(["automated-test"]))
            .await
            .expect("save settings");
        out.push(notifier);
    }
    out
}

/// Reports every test once, `concurrency` at a time; every outcome must be `want`.
/// Returns the wall time and the reports' latencies, sorted.
async fn phase(
    notifiers: &[JiraNotifier],
    tests: &[Arc<TestInfo>],
    concurrency: usize,
    want: fn(&Outcome) -> bool,
) -> (Duration, Vec<Duration>) {
    let status = Arc::new(TestStatus::error("assertion failed: expected 200, got 500"));
    let gate = Arc::new(Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(tests.len());
    for (i, test) in tests.iter().enumerate() {
        let notifier = notifiers[i % notifiers.len()].clone();
        let (test, status, gate) = (Arc::clone(test), Arc::clone(&status), Arc::clone(&gate));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate");
            let t0 = Instant::now();
            let outcome = notifier.on_test_error(&test, &status).await;
            (t0.elapsed(), outcome)
        }));
    }
    let mut latencies = Vec::with_capacity(tests.len());
    for task in tasks {
        let (latency, outcome) = task.await.expect("a report task panicked");
        match outcome {
            Ok(o) if want(&o) => {}
            other => panic!("unexpected outcome: {other:?}"),
        }
        latencies.push(latency);
    }
    let wall = start.elapsed();
    latencies.sort_unstable();
    (wall, latencies)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn describe(calls: &BTreeMap<&'static str, u64>, reports: u64) -> String {
    let total: u64 = calls.values().sum();
    let parts: Vec<String> = calls
        .iter()
        .map(|(m, n)| format!("{m} {}", per(*n, reports)))
        .collect();
    format!("{} ({})", per(total, reports), parts.join(", "))
}

fn per(n: u64, reports: u64) -> String {
    let x = n as f64 / reports.max(1) as f64;
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round())
    } else {
        format!("{x:.3}")
    }
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pg_reports: {e}");
            std::process::exit(2);
        }
    };
    let Ok(config) = std::env::var("JIRA_NOTIFIER_PG") else {
        eprintln!(
            "pg_reports: set JIRA_NOTIFIER_PG to a PostgreSQL connection string, e.g. \
             export JIRA_NOTIFIER_PG=\"$(scripts/start-postgres.sh)\""
        );
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(&o, &config));
}

async fn run(o: &Options, config: &str) {
    let prefix = format!("jn_pgreports_{:08x}_", fastrand::u32(..));
    let config: tokio_postgres::Config = config.parse().expect("JIRA_NOTIFIER_PG");
    let admin = PostgresStore::builder(config.clone())
        .pool_size(1)
        .connect()
        .await
        .expect("PostgreSQL")
        .with_table_prefix(&prefix);
    admin.ensure_schema().await.expect("the tables");
    let server: String = {
        let client = admin.pool().get().await.expect("a connection");
        client
            .query_one("SELECT current_setting('server_version')", &[])
            .await
            .expect("the server's version")
            .get(0)
    };
    println!(
        "pg_reports: PostgreSQL {server}, {} tests per phase over {} workspaces per store, {} reports in flight, SimJira with no latency",
        o.tests, o.workspaces, o.concurrency
    );
    println!(
        "machine: {} cores available (shared with the PostgreSQL server)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Round trips of one report, alone: a first failure, then its repeat.
    let sim = SimJira::new();
    sim.set_record_requests(false);
    sim.set_latency(Duration::ZERO);
    let calls = Arc::new(Calls::default());
    let single = notifiers(&admin, 1, "single", &sim, &calls, 8).await;
    let test = test_info(999_999);
    let status = TestStatus::error("assertion failed");
    calls.take();
    let first = single[0]
        .on_test_error(&test, &status)
        .await
        .expect("a report");
    assert!(matches!(first, Outcome::Created(_)), "{first:?}");
    let first_calls = calls.take();
    let repeat = single[0]
        .on_test_error(&test, &status)
        .await
        .expect("a report");
    assert!(matches!(repeat, Outcome::Duplicate(_)), "{repeat:?}");
    let repeat_calls = calls.take();
    println!();
    println!(
        "store round trips per first failure: {}",
        describe(&first_calls, 1)
    );
    println!(
        "store round trips per repeat:        {}",
        describe(&repeat_calls, 1)
    );
    drop(single);

    println!();
    println!(
        "| pool | first failures/s | p50 ms | p99 ms | round trips each | repeats/s | p50 ms | p99 ms | round trips each |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let tests: Vec<Arc<TestInfo>> = (0..o.tests).map(|i| Arc::new(test_info(i))).collect();
    for &size in &o.pools {
        let store = PostgresStore::builder(config.clone())
            .pool_size(size)
            .connect()
            .await
            .expect("PostgreSQL")
            .with_table_prefix(&prefix);
        store.ensure_schema().await.expect("the tables");
        let sim = SimJira::new();
        sim.set_record_requests(false);
        sim.set_latency(Duration::ZERO);
        let calls = Arc::new(Calls::default());
        let tag = format!("pool{size}");
        let notifiers = notifiers(&store, o.workspaces, &tag, &sim, &calls, o.concurrency).await;
        calls.take();
        let (wall_first, lat_first) = phase(&notifiers, &tests, o.concurrency, |o| {
            matches!(o, Outcome::Created(_))
        })
        .await;
        let first_calls: u64 = calls.take().values().sum();
        let (wall_repeat, lat_repeat) = phase(&notifiers, &tests, o.concurrency, |o| {
            matches!(o, Outcome::Duplicate(_))
        })
        .await;
        let repeat_calls: u64 = calls.take().values().sum();
        let n = o.tests as f64;
        println!(
            "| {size} | {:.0} | {} | {} | {} | {:.0} | {} | {} | {} |",
            n / wall_first.as_secs_f64(),
            ms(pct(&lat_first, 50.0)),
            ms(pct(&lat_first, 99.0)),
            per(first_calls, o.tests as u64),
            n / wall_repeat.as_secs_f64(),
            ms(pct(&lat_repeat, 50.0)),
            ms(pct(&lat_repeat, 99.0)),
            per(repeat_calls, o.tests as u64),
        );
        let status = store.pool().status();
        eprintln!(
            "  (pool {size}: {} connections opened, issues in Jira {})",
            status.size,
            sim.issues().len()
        );
    }

    let client = admin.pool().get().await.expect("a connection");
    let tables: Vec<String> = [
        "connection",
        "settings",
        "overrides",
        "records",
        "claims",
        "schema_version",
    ]
    .iter()
    .map(|t| format!("{prefix}{t}"))
    .collect();
    client
        .batch_execute(&format!("DROP TABLE {}", tables.join(", ")))
        .await
        .expect("drop the tables");
}
