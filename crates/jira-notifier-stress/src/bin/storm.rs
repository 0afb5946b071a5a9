//! A storm of failure reports against the simulated Jira, in real time.
//!
//! By default 10,000 error reports over 1,000 tests arrive at once (every report is
//! spawned before the first answer comes back), against `SimJira` with a 50 ms round
//! trip per request. It prints what the storm cost: issues created (one per test),
//! requests sent, requests per report, how long each report took from its arrival to its
//! outcome (in round trips), wall time, CPU time and memory.
//!
//! ```sh
//! cargo run --release --bin storm
//! cargo run --release --bin storm -- --tests 100000 --reports 100000
//! cargo run --release --bin storm -- --rate-limit 100/1 --max-in-flight 16 --lag-ms 2000
//! cargo run --release --bin storm -- --on-repeat comment
//! cargo run --release --bin storm -- --storm-guard
//! cargo run --release --bin storm -- --storm-guard --storm-limit none
//! ```
//!
//! Options (flags, or the environment variables in brackets):
//!
//! | flag | env | default | meaning |
//! |---|---|---|---|
//! | `--reports N` | `STORM_REPORTS` | 10000 | error reports in the storm |
//! | `--tests N` | `STORM_TESTS` | 1000 | distinct tests they are spread over |
//! | `--rtt-ms N` | `STORM_RTT_MS` | 50 | round-trip time of every request |
//! | `--rate-limit N/SECS` | `STORM_RATE_LIMIT` | none | Jira answers `429` past N requests per SECS over the site, and sends its `X-RateLimit-*` headers |
//! | `--max-in-flight N` | `STORM_MAX_IN_FLIGHT` | 8 (the crate's default) | the notifier's cap on requests in flight |
//! | `--lag-ms N` | `STORM_LAG_MS` | 0 | how far Jira's search index lags writes |
//! | `--seed N` | `STORM_SEED` | 1 | the order reports arrive in |
//! | `--message-bytes N` | `STORM_MESSAGE_BYTES` | 0 | pad each error message to at least N bytes |
//! | `--no-host-retry` | `STORM_NO_HOST_RETRY=1` | off | report a retryable error instead of re-reporting it |
//! | `--no-verify` | `STORM_NO_VERIFY=1` | off | skip the check after the storm |
//! | `--on-repeat comment` | `STORM_ON_REPEAT` | `nothing` | save settings with `on_repeat: comment` (`comment_every` 1 h) and run a second round past the interval (below) |
//! | `--storm-guard` | `STORM_STORM_GUARD=1` | off | the storm guard's run (below): `--tests` defaults to 400 and `--reports` to two per test |
//! | `--storm-limit N/SECS` | `STORM_STORM_LIMIT` | `10/600` | the storm limit that run saves; `none` turns the guard off (same run, for comparison); implies `--storm-guard` |
//! | `--replicas R` | `STORM_REPLICAS` | 8 | notifiers sharing one `MemoryStore` in that run |
//!
//! Among its lines are `issues created: N` and `total requests: N`, for scripts.
//!
//! How it measures:
//!
//! - Time is real (tokio's clock is not paused): the round trip is a real sleep in the
//!   simulator, and wall time is what a host would see. Reports run on a multi-threaded
//!   runtime with one worker per core.
//! - Reports are spawned behind a start gate, which opens once all are: they arrive at
//!   once, however long spawning takes on a loaded machine. Wall time runs from the gate.
//! - A report's latency runs from its arrival (the gate opening) to its outcome, retries
//!   by the host included.
//! - A retryable error (`Error::is_retryable`) is reported again after its `Retry-After`
//!   (1 s when none), as a host that queues failed reports would; `--no-host-retry`
//!   counts it as an error instead.
//! - Memory: `VmRSS` and `VmHWM` (peak RSS) from `/proc/self/status`, plus a counting
//!   global allocator that tracks live heap bytes and blocks. After the storm the
//!   notifier, then the store, then the simulator are dropped one by one: what each drop
//!   frees is what that part retained. The notifier's share is compared with a freshly
//!   built notifier's.
//! - The notifier's map of reports in flight is private. After the storm every test is
//!   reported once more (no latency, no rate limit): a test whose entry had stayed behind
//!   would be answered from it without a request, so "requests = tests, all duplicates"
//!   shows that no entry stayed; the notifier's retained heap (bytes and blocks) shows
//!   what is left of the map itself.
//! - `--on-repeat comment`: round 1 is the storm above, within the comment interval that
//!   starts at each create, so its repeats must add no comment. The notifiers' clock (a
//!   `Clock` reading `SystemTime::now()` plus an offset the driver moves) is then moved
//!   `comment_every` + 1 s ahead, and round 2 sends the same reports again (same order,
//!   same latency and limit): each test's repeats must add exactly one comment to its
//!   issue, however many reports it holds, and create nothing. Requests by kind (search,
//!   create, comment) are printed per round; the check after the storm then runs after
//!   round 2, and what each part retains covers both rounds. The run fails (exit 1) if
//!   round 1 commented, or round 2 left any issue with other than one comment.
//! - `--storm-guard`: settings saved with a storm limit (`Noise::with_storm_limit`);
//!   R replicas, each its own `JiraNotifier` (its own transport queue of
//!   `--max-in-flight`, token cache and in-flight map) on one `MemoryStore` and one
//!   movable clock. Report r is of test `r % tests`, on replica `(test + r / tests) % R`,
//!   so each test's two reports reach two replicas; all arrive at once. Phase 1 prints
//!   issues created one by one, umbrellas created, outcomes by kind (created, grouped,
//!   duplicate), requests by kind (token, search, create, comment, issue GET) in all and
//!   per report, latency and wall time. Phase 2 moves the notifiers' clock 61 s ahead and
//!   sends the same reports again: the umbrella's coalesced comment is due, and is posted
//!   once. The umbrella's Done check (at most once a minute per notifier) runs on tokio's
//!   clock, which is not moved, so it is not due again in phase 2; a real minute's wait
//!   would add at most one issue GET per replica. The run prints the umbrella's comments
//!   and whether each grouped test is named on it, and fails (exit 1) unless phase 1
//!   created exactly the limit's issues one by one and one umbrella (with the guard off:
//!   one issue per test, no umbrella), every test was filed on its own or grouped, its
//!   reports all naming that one issue, and no report failed; and unless phase 2 created
//!   nothing, named the same issues, and posted at most one comment. No check of the
//!   in-flight map and no memory breakdown in this run.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use jira_notifier::{
    Clock, Credentials, HttpRequest, HttpResponse, HttpTransport, JiraNotifier, Lifecycle,
    MemoryStore, Method, Noise, OnRepeat, Outcome, Settings, StormLimit, TestInfo, TestStatus,
    TransportError, DEFAULT_MAX_IN_FLIGHT,
};
use jira_notifier_sim::{RateLimit, SimJira};

#[path = "../measure.rs"]
mod measure;
use measure::{
    cpu_time, freed, heap, in_rtts, kib_to_mib, message, mib, percentile, proc_kib, rate_limit,
    Flags, PEAK_BYTES,
};

// ----- options -----

struct Options {
    reports: usize,
    tests: usize,
    rtt: Duration,
    rate_limit: Option<RateLimit>,
    max_in_flight: usize,
    lag: Duration,
    seed: u64,
    message_bytes: usize,
    host_retry: bool,
    verify: bool,
    /// `--on-repeat comment`: settings with `on_repeat: comment`, and a second round.
    on_repeat_comment: bool,
    /// `--storm-guard`: replicas under the storm guard (or without it, for comparison).
    guard: Option<Guard>,
}

/// The storm-guard run's own options.
struct Guard {
    /// `--storm-limit N/SECS`; `None`: the guard is off (`--storm-limit none`).
    limit: Option<StormLimit>,
    /// `--replicas R`: notifiers sharing one store.
    replicas: usize,
}

/// The storm limit `--storm-guard` saves unless `--storm-limit` says otherwise.
const STORM_LIMIT: StormLimit = StormLimit::new(10, Duration::from_secs(600));

/// `comment_every` under `--on-repeat comment`.
const COMMENT_EVERY: Duration = Duration::from_secs(3600);

const USAGE: &str = "usage: storm [--reports N] [--tests N] [--rtt-ms N] [--rate-limit N/SECS] [--max-in-flight N] [--lag-ms N] [--seed N] [--message-bytes N] [--no-host-retry] [--no-verify] [--on-repeat nothing|comment] [--storm-guard [--storm-limit N/SECS|none] [--replicas R]]";

/// `--storm-limit N/SECS` (at most N issues filed one by one per SECS seconds), or `none`.
fn storm_limit(v: &str) -> Result<Option<StormLimit>, String> {
    if v == "none" || v == "off" {
        return Ok(None);
    }
    let bad = || format!("--storm-limit: expected N/SECS or none, got {v:?}");
    let (n, secs) = v.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let secs: u64 = secs.trim().parse().map_err(|_| bad())?;
    if n == 0 || secs == 0 {
        return Err(bad());
    }
    Ok(Some(StormLimit::new(n, Duration::from_secs(secs))))
}

fn options() -> Result<Options, String> {
    let flags = Flags::parse(
        "STORM",
        &["no-host-retry", "no-verify", "storm-guard"],
        USAGE,
    )?;
    let get = |name: &str| flags.get(name);
    let num = |name: &str, default: u64| flags.num(name, default);
    let rate_limit = get("rate-limit")
        .map(|v| rate_limit(&v))
        .transpose()?
        .flatten();
    let on_repeat_comment = match get("on-repeat").as_deref() {
        None | Some("nothing") => false,
        Some("comment") => true,
        Some(v) => {
            return Err(format!(
                "--on-repeat: expected nothing or comment, got {v:?}"
            ))
        }
    };
    let guard = if flags.on("storm-guard") || get("storm-limit").is_some() {
        let limit = match get("storm-limit") {
            Some(v) => storm_limit(&v)?,
            None => Some(STORM_LIMIT),
        };
        let replicas = num("replicas", 8)? as usize;
        if replicas == 0 {
            return Err("--replicas: need at least one".into());
        }
        if on_repeat_comment {
            return Err("--storm-guard and --on-repeat comment are separate runs".into());
        }
        Some(Guard { limit, replicas })
    } else {
        if get("replicas").is_some() {
            return Err("--replicas is for the --storm-guard run".into());
        }
        None
    };
    let tests = num("tests", if guard.is_some() { 400 } else { 1_000 })? as usize;
    let reports_default = match &guard {
        // Each test reported by two replicas (one when there is only one).
        Some(g) => tests.saturating_mul(g.replicas.min(2)) as u64,
        None => 10_000,
    };
    let o = Options {
        reports: num("reports", reports_default)? as usize,
        tests,
        rtt: Duration::from_millis(num("rtt-ms", 50)?),
        rate_limit,
        max_in_flight: num("max-in-flight", DEFAULT_MAX_IN_FLIGHT as u64)? as usize,
        lag: Duration::from_millis(num("lag-ms", 0)?),
        seed: num("seed", 1)?,
        message_bytes: num("message-bytes", 0)? as usize,
        host_retry: !flags.on("no-host-retry"),
        verify: !flags.on("no-verify"),
        on_repeat_comment,
        guard,
    };
    if o.tests == 0 || o.reports < o.tests {
        return Err("need at least one test, and at least one report per test".into());
    }
    Ok(o)
}

// ----- a transport that counts what reaches the simulator -----

#[derive(Debug, Default)]
struct Counters {
    token: AtomicU64,
    search: AtomicU64,
    create: AtomicU64,
    /// Comments (`POST .../issue/{id}/comment`), also counted in `other`.
    comment: AtomicU64,
    /// Reads of one issue (`GET .../issue/{id}`), also counted in `other`.
    issue_get: AtomicU64,
    other: AtomicU64,
    throttled: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

#[derive(Debug)]
struct Counted {
    sim: SimJira,
    counters: Arc<Counters>,
}

#[async_trait]
impl HttpTransport for Counted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let c = &self.counters;
        let path = request.url.path();
        let kind = if path.ends_with("/oauth/token") {
            &c.token
        } else if path.ends_with("/search/jql") {
            &c.search
        } else if path.ends_with("/rest/api/3/issue") {
            &c.create
        } else {
            &c.other
        };
        kind.fetch_add(1, Relaxed);
        if path.ends_with("/comment") {
            c.comment.fetch_add(1, Relaxed);
        } else if request.method == Method::Get && path.contains("/rest/api/3/issue/") {
            c.issue_get.fetch_add(1, Relaxed);
        }
        let now = c.in_flight.fetch_add(1, Relaxed) + 1;
        c.peak_in_flight.fetch_max(now, Relaxed);
        let answer = self.sim.send(request).await;
        c.in_flight.fetch_sub(1, Relaxed);
        if matches!(&answer, Ok(r) if r.status == 429) {
            c.throttled.fetch_add(1, Relaxed);
        }
        answer
    }
}

impl Counters {
    /// Search, create and comment requests so far.
    fn kinds(&self) -> [u64; 3] {
        [
            self.search.load(Relaxed),
            self.create.load(Relaxed),
            self.comment.load(Relaxed),
        ]
    }
}

fn kinds_since(now: [u64; 3], before: [u64; 3]) -> String {
    format!(
        "search {}, create {}, comment {}",
        now[0] - before[0],
        now[1] - before[1],
        now[2] - before[2]
    )
}

// ----- a clock the driver moves -----

/// The system's clock plus an offset the driver moves (ms), for every notifier.
#[derive(Debug, Clone, Default)]
struct MovableClock {
    ahead_ms: Arc<AtomicU64>,
}

impl MovableClock {
    fn advance(&self, by: Duration) {
        self.ahead_ms.fetch_add(by.as_millis() as u64, Relaxed);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_millis(self.ahead_ms.load(Relaxed))
    }
}

/// Comments on the simulated Jira's issues: total, and issues with exactly one.
fn comments_on(sim: &SimJira) -> (usize, usize) {
    let issues = sim.issues();
    (
        issues.iter().map(|i| i.comments.len()).sum(),
        issues.iter().filter(|i| i.comments.len() == 1).count(),
    )
}

// ----- the storm -----

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Created,
    Grouped,
    Duplicate,
    Other,
    Error,
}

struct Report {
    /// The test's index.
    test: usize,
    latency: Duration,
    kind: Kind,
    /// The key of the issue it named, when the round keeps keys.
    key: Option<String>,
    attempts: u32,
    error: Option<String>,
    /// The retryable errors it was re-reported after.
    retried: Vec<String>,
}

fn test_info(i: usize) -> TestInfo {
    TestInfo::new(
        format!("storm-{i:06}"),
        format!("Storm test number {i}"),
        format!("https://testclix.example/tests/storm-{i:06}"),
    )
}

/// How a report is made: re-reporting retryable errors or not, keeping the issue's key
/// or not.
#[derive(Clone, Copy)]
struct Mode {
    host_retry: bool,
    keys: bool,
}

/// Reports one failure of test `t` until it has an outcome, re-reporting retryable errors
/// as a host that queues them would.
async fn report(
    notifier: JiraNotifier,
    t: usize,
    test: Arc<TestInfo>,
    status: Arc<TestStatus>,
    arrived: Instant,
    mode: Mode,
) -> Report {
    let mut attempts = 0;
    let mut retried = Vec::new();
    loop {
        attempts += 1;
        let outcome = notifier.on_test_error(&test, &status).await;
        let key = match &outcome {
            Ok(o) if mode.keys => o.issue().map(|i| i.key.clone()),
            _ => None,
        };
        let (kind, error) = match outcome {
            Ok(Outcome::Created(_)) => (Kind::Created, None),
            Ok(Outcome::Grouped(_)) => (Kind::Grouped, None),
            Ok(Outcome::Duplicate(_)) => (Kind::Duplicate, None),
            Ok(other) => (Kind::Other, Some(format!("{other:?}"))),
            Err(e) if mode.host_retry && e.is_retryable() && attempts < 50 => {
                let wait = e.retry_after().unwrap_or(Duration::from_secs(1));
                retried.push(e.to_string());
                tokio::time::sleep(wait).await;
                continue;
            }
            Err(e) => (Kind::Error, Some(e.to_string())),
        };
        return Report {
            test: t,
            latency: arrived.elapsed(),
            kind,
            key,
            attempts,
            error,
            retried,
        };
    }
}

/// Sends every report in `order` (a test, and the notifier it reaches) at once: each waits
/// at a start gate until all are spawned. Returns the reports, how long spawning took and
/// the wall time from the gate.
async fn round(
    notifiers: &[JiraNotifier],
    tests: &[Arc<TestInfo>],
    statuses: &[Arc<TestStatus>],
    order: &[(usize, usize)],
    mode: Mode,
) -> (Vec<Report>, Duration, Duration) {
    let (go, gate) = tokio::sync::watch::channel(false);
    let spawning = Instant::now();
    let mut handles = Vec::with_capacity(order.len());
    for &(t, n) in order {
        let (notifier, test, status) =
            (notifiers[n].clone(), tests[t].clone(), statuses[t].clone());
        let mut gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let _ = gate.wait_for(|open| *open).await;
            report(notifier, t, test, status, Instant::now(), mode).await
        }));
    }
    let spawned_in = spawning.elapsed();
    let start = Instant::now();
    go.send_replace(true);
    let mut reports = Vec::with_capacity(order.len());
    for h in handles {
        reports.push(h.await.expect("a report task panicked"));
    }
    (reports, spawned_in, start.elapsed())
}

fn per_test(bytes: i64, tests: usize) -> String {
    format!("{:.1} B/test", bytes as f64 / tests as f64)
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("storm: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ok = match &o.guard {
        Some(g) => runtime.block_on(guard_storm(&o, g)),
        None => runtime.block_on(storm(&o)),
    };
    drop(runtime);
    if !ok {
        std::process::exit(1);
    }
}

async fn storm(o: &Options) -> bool {
    let rss_start = proc_kib("VmRSS");
    let heap_start = heap();
    println!(
        "storm: {} reports over {} tests, rtt {} ms, rate limit {}, max in flight {}, search lag {} ms, seed {}, host retry {}",
        o.reports,
        o.tests,
        o.rtt.as_millis(),
        o.rate_limit.map_or("none".to_owned(), |l| format!(
            "{}/{}s",
            l.max_requests,
            l.per.as_secs_f64()
        )),
        o.max_in_flight,
        o.lag.as_millis(),
        o.seed,
        if o.host_retry { "on" } else { "off" },
    );
    println!(
        "machine: {} cores available, pid {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::process::id()
    );

    // Jira, connected and configured by a first notifier, as the settings screen would.
    let sim = SimJira::new();
    sim.set_record_requests(false);
    sim.set_search_lag(o.lag);
    let store = Arc::new(MemoryStore::new());
    {
        let setup = JiraNotifier::builder(store.clone())
            .transport(sim.clone())
            .build()
            .expect("a notifier");
        setup
            .connect(Credentials::new(
                SimJira::CLIENT_ID,
                SimJira::CLIENT_SECRET.to_owned(),
            ))
            .await
            .expect("connect");
        let mut settings = Settings::new("QA").with_labels(["automated-test"]);
        if o.on_repeat_comment {
            settings = settings.with_lifecycle(
                Lifecycle::default()
                    .with_on_repeat(OnRepeat::Comment)
                    .with_comment_every(COMMENT_EVERY),
            );
        }
        setup.save_settings(settings).await.expect("save settings");
    }
    sim.set_latency(o.rtt);
    sim.set_rate_limit(o.rate_limit);
    sim.clear_requests();

    // The notifier under test, fresh: no token yet (the storm fetches it).
    let counters = Arc::new(Counters::default());
    let clock = MovableClock::default();
    let before_build = heap();
    let notifier = JiraNotifier::builder(store.clone())
        .transport(Counted {
            sim: sim.clone(),
            counters: counters.clone(),
        })
        .max_concurrent_requests(o.max_in_flight)
        .clock(clock.clone())
        .build()
        .expect("a notifier");
    let notifier_fresh = freed(heap(), before_build);

    // The host's side: the tests, their statuses, and the order reports arrive in.
    let tests: Vec<Arc<TestInfo>> = (0..o.tests).map(|i| Arc::new(test_info(i))).collect();
    let statuses: Vec<Arc<TestStatus>> = (0..o.tests)
        .map(|i| Arc::new(TestStatus::error(message(i, o.message_bytes))))
        .collect();
    let mut order: Vec<(usize, usize)> = (0..o.reports).map(|r| (r % o.tests, 0)).collect();
    fastrand::Rng::with_seed(o.seed).shuffle(&mut order);
    let notifiers = [notifier.clone()];
    let mode = Mode {
        host_retry: o.host_retry,
        keys: false,
    };

    // What one report in flight holds, before its first await: the future's own size.
    let one_report = std::mem::size_of_val(&notifier.on_test_error(&tests[0], &statuses[0]));
    println!("one on_test_error future: {one_report} bytes (held by every report in flight)");

    let rss_before = proc_kib("VmRSS");
    let heap_before = heap();
    let cpu_before = cpu_time();
    // Every report waits at a start gate until all are spawned, so that they arrive at
    // once however long spawning takes on a loaded machine (a report spawned after its
    // test's issue was made would rightly cost a search of its own).
    let (reports, spawned_in, wall) = round(&notifiers, &tests, &statuses, &order, mode).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    let rss_after = proc_kib("VmRSS");
    let hwm = proc_kib("VmHWM");
    let heap_after = heap();
    let heap_peak = PEAK_BYTES.load(Relaxed);

    // What Jira holds.
    let issues = sim.issues();
    let labels: HashSet<&str> = issues
        .iter()
        .flat_map(|i| i.labels.iter())
        .map(String::as_str)
        .filter(|l| l.starts_with("testclix-"))
        .collect();
    let total_requests = sim.request_count();

    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut host_retries = 0u64;
    for r in &reports {
        *kinds.entry(r.kind).or_default() += 1;
        host_retries += u64::from(r.attempts - 1);
        if let Some(e) = &r.error {
            *errors.entry(e.clone()).or_default() += 1;
        }
    }
    let mut latencies: Vec<Duration> = reports.iter().map(|r| r.latency).collect();
    latencies.sort_unstable();
    drop(reports);

    println!();
    println!("issues created: {}", issues.len());
    println!(
        "tests with an issue: {} of {} (issues beyond one per test: {})",
        labels.len(),
        o.tests,
        issues.len().saturating_sub(labels.len())
    );
    let k = |kind| kinds.get(&kind).copied().unwrap_or(0);
    println!(
        "outcomes: created {}, duplicate {}, other {}, errors {}; host re-reports {}",
        k(Kind::Created),
        k(Kind::Duplicate),
        k(Kind::Other),
        k(Kind::Error),
        host_retries
    );
    for (e, n) in errors.iter().take(5) {
        println!("  {n} x {e}");
    }
    println!("total requests: {total_requests}");
    println!(
        "requests by kind: token {}, search {}, create {}, other {}; 429 answers {}; peak in flight at the transport {}",
        counters.token.load(Relaxed),
        counters.search.load(Relaxed),
        counters.create.load(Relaxed),
        counters.other.load(Relaxed),
        counters.throttled.load(Relaxed),
        counters.peak_in_flight.load(Relaxed),
    );
    let throttled = counters.throttled.load(Relaxed);
    println!(
        "429 answers: {throttled} of {total_requests} requests ({:.2}%)",
        throttled as f64 * 100.0 / total_requests.max(1) as f64
    );
    println!(
        "requests per report: {:.4} ({:.4} per test)",
        total_requests as f64 / o.reports as f64,
        total_requests as f64 / o.tests as f64
    );
    println!(
        "latency (arrival to outcome): p50 {}, p99 {}, max {}",
        in_rtts(percentile(&latencies, 50.0), o.rtt),
        in_rtts(percentile(&latencies, 99.0), o.rtt),
        in_rtts(latencies.last().copied().unwrap_or_default(), o.rtt),
    );
    let floor = if let Some(limit) = o.rate_limit {
        // The limit counts Jira requests (searches and creates), not the token request.
        let jira_requests = 2 * o.tests;
        let windows = (jira_requests as f64 / f64::from(limit.max_requests)).ceil();
        let ideal = windows * limit.per.as_secs_f64();
        format!(
            " (floor for {jira_requests} Jira requests at {} per {} s: {ideal:.2} s; {:.3}x the floor)",
            limit.max_requests,
            limit.per.as_secs_f64(),
            wall.as_secs_f64() / ideal
        )
    } else if o.rtt.is_zero() {
        String::new()
    } else {
        let min_requests = 2 * o.tests + 1;
        let ideal = o.rtt.as_secs_f64() * (min_requests as f64 / o.max_in_flight as f64).ceil();
        format!(
            " (floor for {min_requests} requests, {} at a time: {ideal:.2} s)",
            o.max_in_flight
        )
    };
    println!("wall time: {:.3} s{floor}", wall.as_secs_f64());
    println!(
        "spawning the reports took {:.1} ms",
        spawned_in.as_secs_f64() * 1e3
    );
    println!(
        "cpu time (process, user+sys, simulator included): {:.2} s, {:.1} us per report, {:.1} us per request",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / o.reports as f64,
        cpu.as_secs_f64() * 1e6 / total_requests.max(1) as f64
    );
    println!(
        "peak memory: VmHWM {}; VmRSS at start {}, before the storm {}, after {}",
        kib_to_mib(hwm),
        kib_to_mib(rss_start),
        kib_to_mib(rss_before),
        kib_to_mib(rss_after)
    );
    println!(
        "heap (counting allocator): before the storm {}, peak {}, after {} ({} blocks; {} at start)",
        mib(heap_before.bytes as f64),
        mib(heap_peak as f64),
        mib(heap_after.bytes as f64),
        heap_after.blocks,
        mib(heap_start.bytes as f64),
    );

    let mut ok = issues.len() == o.tests && labels.len() == o.tests && k(Kind::Error) == 0;
    let round1_kinds = counters.kinds();

    // `--on-repeat comment`: round 1 was inside the interval that each create started; move
    // the clock past it and send the same reports again.
    if o.on_repeat_comment {
        let created = issues.len();
        let (comments1, _) = comments_on(&sim);
        println!(
            "on_repeat comment, comment_every {} s: issues created {created}; comments after round 1: {comments1} (want 0)",
            COMMENT_EVERY.as_secs()
        );
        println!(
            "round 1 requests by kind: {}",
            kinds_since(round1_kinds, [0; 3])
        );
        let ahead = COMMENT_EVERY + Duration::from_secs(1);
        clock.advance(ahead);
        let (reports2, _, wall2) = round(&notifiers, &tests, &statuses, &order, mode).await;
        let round2_kinds = counters.kinds();
        let mut kinds2: BTreeMap<Kind, usize> = BTreeMap::new();
        for r in &reports2 {
            *kinds2.entry(r.kind).or_default() += 1;
        }
        let k2 = |kind| kinds2.get(&kind).copied().unwrap_or(0);
        let issues2 = sim.issues().len();
        let (comments2, with_one) = comments_on(&sim);
        println!(
            "round 2 (clock moved {} s ahead): {} reports over {} tests; outcomes: created {}, duplicate {}, other {}, errors {}; wall time {:.3} s",
            ahead.as_secs(),
            reports2.len(),
            o.tests,
            k2(Kind::Created),
            k2(Kind::Duplicate),
            k2(Kind::Other),
            k2(Kind::Error),
            wall2.as_secs_f64()
        );
        println!(
            "round 2 requests by kind: {}",
            kinds_since(round2_kinds, round1_kinds)
        );
        let fine = comments1 == 0
            && issues2 == created
            && comments2 == created
            && with_one == created
            && k2(Kind::Error) == 0;
        println!(
            "comments after round 2: {comments2} on {issues2} issues, {with_one} with exactly one (want one per issue): {}",
            if fine {
                "ok"
            } else {
                "MISMATCH: round 1 commented, or round 2 created an issue or left one without exactly one comment"
            }
        );
        ok &= fine;
    }

    // Every test once more: one search each, unless an entry of the in-flight map stayed.
    drop(latencies);
    drop(issues);
    if o.verify {
        sim.set_latency(Duration::ZERO);
        sim.set_rate_limit(None);
        sim.clear_requests();
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(o.tests);
        for i in 0..o.tests {
            handles.push(tokio::spawn(report(
                notifier.clone(),
                i,
                tests[i].clone(),
                statuses[i].clone(),
                Instant::now(),
                mode,
            )));
        }
        let mut dup = 0;
        for h in handles {
            if h.await.expect("a report task panicked").kind == Kind::Duplicate {
                dup += 1;
            }
        }
        let requests = sim.request_count();
        let verdict = if requests == o.tests && dup == o.tests {
            "no report left in the in-flight map"
        } else {
            ok = false;
            "MISMATCH: some test was answered without a search (a stale in-flight entry) or not as a duplicate"
        };
        println!(
            "after the storm, every test reported once more: {requests} requests for {} tests, {dup} duplicates ({:.2} s): {verdict}",
            o.tests,
            t0.elapsed().as_secs_f64()
        );
    }

    // What each part retains: drop them one by one.
    let h0 = heap();
    drop(notifiers);
    drop(notifier);
    let h1 = heap();
    drop(store);
    let h2 = heap();
    drop(sim);
    let h3 = heap();
    let (n_bytes, n_blocks) = freed(h0, h1);
    let (s_bytes, s_blocks) = freed(h1, h2);
    let (j_bytes, j_blocks) = freed(h2, h3);
    println!(
        "retained by the notifier: {n_bytes} B in {n_blocks} blocks (fresh: {} B in {} blocks; growth {} B = {})",
        notifier_fresh.0,
        notifier_fresh.1,
        n_bytes - notifier_fresh.0,
        per_test(n_bytes - notifier_fresh.0, o.tests),
    );
    println!(
        "retained by the store (MemoryStore: a record per test): {} in {s_blocks} blocks = {}",
        mib(s_bytes as f64),
        per_test(s_bytes, o.tests)
    );
    println!(
        "retained by the simulated Jira (its issues): {} in {j_blocks} blocks = {}",
        mib(j_bytes as f64),
        per_test(j_bytes, o.tests)
    );
    println!(
        "RSS after dropping all three: {}, VmHWM over the whole run (check included): {} (the allocator keeps freed pages)",
        kib_to_mib(proc_kib("VmRSS")),
        kib_to_mib(proc_kib("VmHWM"))
    );
    drop(tests);
    drop(statuses);
    if !ok {
        println!("FAILED: expected exactly one issue per test and no errors");
    }
    ok
}

// ----- the storm guard's run -----

/// Requests so far: token, search, create, comment, issue GET, and other requests that are
/// neither comments nor issue GETs.
fn tally(c: &Counters) -> [u64; 6] {
    let (comment, issue_get) = (c.comment.load(Relaxed), c.issue_get.load(Relaxed));
    [
        c.token.load(Relaxed),
        c.search.load(Relaxed),
        c.create.load(Relaxed),
        comment,
        issue_get,
        c.other.load(Relaxed) - comment - issue_get,
    ]
}

/// Prints the requests made since `before`, in all and per report; returns them.
fn print_requests(now: [u64; 6], before: [u64; 6], reports: usize) -> [u64; 6] {
    let mut d = [0; 6];
    for (i, v) in d.iter_mut().enumerate() {
        *v = now[i] - before[i];
    }
    let total: u64 = d.iter().sum();
    let per = |n: u64| n as f64 / reports.max(1) as f64;
    println!(
        "  requests by kind: token {}, search {}, create {}, comment {}, issue GET {}, other {}; {total} in all",
        d[0], d[1], d[2], d[3], d[4], d[5]
    );
    println!(
        "  requests per report: {:.4} (token {:.4}, search {:.4}, create {:.4}, comment {:.4}, issue GET {:.4})",
        per(total),
        per(d[0]),
        per(d[1]),
        per(d[2]),
        per(d[3]),
        per(d[4])
    );
    d
}

/// What a round's reports came to.
struct Outcomes {
    kinds: BTreeMap<Kind, usize>,
    re_reports: u64,
    /// Retryable errors that were re-reported, by message.
    retried: BTreeMap<String, usize>,
    /// Errors (and unexpected outcomes), by message.
    errors: BTreeMap<String, usize>,
    /// Per test: the keys its reports named, its `Created` and its `Grouped` outcomes.
    keys: Vec<BTreeSet<String>>,
    created: Vec<usize>,
    grouped: Vec<usize>,
    latencies: Vec<Duration>,
}

impl Outcomes {
    fn of(reports: &[Report], tests: usize) -> Outcomes {
        let mut o = Outcomes {
            kinds: BTreeMap::new(),
            re_reports: 0,
            retried: BTreeMap::new(),
            errors: BTreeMap::new(),
            keys: vec![BTreeSet::new(); tests],
            created: vec![0; tests],
            grouped: vec![0; tests],
            latencies: reports.iter().map(|r| r.latency).collect(),
        };
        o.latencies.sort_unstable();
        for r in reports {
            *o.kinds.entry(r.kind).or_default() += 1;
            o.re_reports += u64::from(r.attempts - 1);
            for e in &r.retried {
                *o.retried.entry(e.clone()).or_default() += 1;
            }
            if let Some(e) = &r.error {
                *o.errors.entry(e.clone()).or_default() += 1;
            }
            if let Some(k) = &r.key {
                o.keys[r.test].insert(k.clone());
            }
            match r.kind {
                Kind::Created => o.created[r.test] += 1,
                Kind::Grouped => o.grouped[r.test] += 1,
                _ => {}
            }
        }
        o
    }

    fn k(&self, kind: Kind) -> usize {
        self.kinds.get(&kind).copied().unwrap_or(0)
    }

    fn print(&self, rtt: Duration, wall: Duration) {
        println!(
            "  outcomes: created {}, grouped {}, duplicate {}, other {}, errors {}; host re-reports {}",
            self.k(Kind::Created),
            self.k(Kind::Grouped),
            self.k(Kind::Duplicate),
            self.k(Kind::Other),
            self.k(Kind::Error),
            self.re_reports
        );
        for (e, n) in self.errors.iter().take(5) {
            println!("    failed: {n} x {e}");
        }
        for (e, n) in self.retried.iter().take(5) {
            println!("    re-reported after: {n} x {e}");
        }
        println!(
            "  latency (arrival to outcome): p50 {}, p99 {}, max {}",
            in_rtts(percentile(&self.latencies, 50.0), rtt),
            in_rtts(percentile(&self.latencies, 99.0), rtt),
            in_rtts(self.latencies.last().copied().unwrap_or_default(), rtt),
        );
        println!("  wall time: {:.3} s", wall.as_secs_f64());
    }
}

/// The plain text of an ADF document.
fn adf_text(v: &serde_json::Value) -> String {
    fn walk(v: &serde_json::Value, out: &mut String) {
        if let Some(t) = v.get("text").and_then(serde_json::Value::as_str) {
            out.push_str(t);
            out.push(' ');
        }
        if let Some(c) = v.get("content").and_then(serde_json::Value::as_array) {
            c.iter().for_each(|x| walk(x, out));
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    out.trim_end().to_owned()
}

/// Whether `hay` names test `t`: its id, or its name not followed by another digit.
fn names(hay: &str, t: usize) -> bool {
    let name = test_info(t).name;
    hay.contains(&format!("storm-{t:06}"))
        || hay.match_indices(&name).any(|(at, _)| {
            !hay[at + name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
}

/// `--storm-guard`: R replicas (notifiers sharing one `MemoryStore`) under a storm limit,
/// every test reported by two of them at once; then, with the clock moved past a minute,
/// every report again, which posts the umbrella's coalesced comment.
async fn guard_storm(o: &Options, g: &Guard) -> bool {
    let limit_text = g.limit.map_or("none (the guard is off)".to_owned(), |l| {
        format!("{} issues per {} s", l.issues, l.window.as_secs())
    });
    println!(
        "storm guard: {} reports over {} tests on {} replicas sharing one MemoryStore, storm limit {limit_text}, rtt {} ms, rate limit {}, max in flight {} per replica, search lag {} ms, seed {}, host retry {}",
        o.reports,
        o.tests,
        g.replicas,
        o.rtt.as_millis(),
        o.rate_limit.map_or("none".to_owned(), |l| format!(
            "{}/{}s",
            l.max_requests,
            l.per.as_secs_f64()
        )),
        o.max_in_flight,
        o.lag.as_millis(),
        o.seed,
        if o.host_retry { "on" } else { "off" },
    );
    println!(
        "machine: {} cores available, pid {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::process::id()
    );

    let sim = SimJira::new();
    sim.set_record_requests(false);
    sim.set_search_lag(o.lag);
    let store = Arc::new(MemoryStore::new());
    {
        let setup = JiraNotifier::builder(store.clone())
            .transport(sim.clone())
            .build()
            .expect("a notifier");
        setup
            .connect(Credentials::new(
                SimJira::CLIENT_ID,
                SimJira::CLIENT_SECRET.to_owned(),
            ))
            .await
            .expect("connect");
        let settings = Settings::new("QA")
            .with_labels(["automated-test"])
            .with_noise(Noise::default().with_storm_limit(g.limit));
        setup.save_settings(settings).await.expect("save settings");
    }
    sim.set_latency(o.rtt);
    sim.set_rate_limit(o.rate_limit);

    // The replicas: each its own notifier (transport queue, token cache, in-flight map),
    // all on one store and one clock the driver moves.
    let counters = Arc::new(Counters::default());
    let clock = MovableClock::default();
    let replicas: Vec<JiraNotifier> = (0..g.replicas)
        .map(|_| {
            JiraNotifier::builder(store.clone())
                .transport(Counted {
                    sim: sim.clone(),
                    counters: counters.clone(),
                })
                .max_concurrent_requests(o.max_in_flight)
                .clock(clock.clone())
                .build()
                .expect("a notifier")
        })
        .collect();

    // Report r is of test r % tests, on replica (test + r / tests) % R: a test's reports
    // reach different replicas.
    let tests: Vec<Arc<TestInfo>> = (0..o.tests).map(|i| Arc::new(test_info(i))).collect();
    let statuses: Vec<Arc<TestStatus>> = (0..o.tests)
        .map(|i| Arc::new(TestStatus::error(message(i, o.message_bytes))))
        .collect();
    let mut order: Vec<(usize, usize)> = (0..o.reports)
        .map(|r| {
            let t = r % o.tests;
            (t, (t + r / o.tests) % g.replicas)
        })
        .collect();
    fastrand::Rng::with_seed(o.seed).shuffle(&mut order);
    let mode = Mode {
        host_retry: o.host_retry,
        keys: true,
    };

    // Phase 1: the storm.
    let cpu_before = cpu_time();
    let (reports, _, wall) = round(&replicas, &tests, &statuses, &order, mode).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    let phase1 = Outcomes::of(&reports, o.tests);
    drop(reports);
    let after1 = tally(&counters);
    let own: BTreeSet<&String> = (0..o.tests)
        .filter(|&t| phase1.created[t] > 0)
        .flat_map(|t| &phase1.keys[t])
        .collect();
    let umbrellas: BTreeSet<&String> = (0..o.tests)
        .filter(|&t| phase1.grouped[t] > 0)
        .flat_map(|t| &phase1.keys[t])
        .collect();
    let one_key = |t: usize| phase1.keys[t].len() == 1;
    let filed = (0..o.tests)
        .filter(|&t| phase1.created[t] == 1 && phase1.grouped[t] == 0 && one_key(t))
        .count();
    let grouped = (0..o.tests)
        .filter(|&t| phase1.grouped[t] == 1 && phase1.created[t] == 0 && one_key(t))
        .filter(|&t| phase1.keys[t].iter().all(|k| umbrellas.contains(k)))
        .count();
    let lost = o.tests - filed - grouped;
    let issues1 = sim.issues();
    let umbrella = (umbrellas.len() == 1)
        .then(|| umbrellas.iter().next().map(|k| k.to_string()))
        .flatten();
    let comments_on_umbrella = |issues: &[jira_notifier_sim::SimIssue]| {
        umbrella.as_ref().map_or(0, |u| {
            issues
                .iter()
                .find(|i| &i.key == u)
                .map_or(0, |i| i.comments.len())
        })
    };
    let comments1 = comments_on_umbrella(&issues1);

    println!();
    println!("phase 1, the storm: every report at once");
    println!("  issues created: {}", issues1.len());
    println!(
        "  issues created one by one: {}; umbrellas created: {}",
        own.len(),
        umbrellas.len()
    );
    println!(
        "  tests filed on their own: {filed}, grouped into the umbrella: {grouped}, lost (neither, or both, or named two issues): {lost}"
    );
    phase1.print(o.rtt, wall);
    let d1 = print_requests(after1, [0; 6], o.reports);
    println!(
        "  cpu time (process, user+sys, simulator included): {:.2} s",
        cpu.as_secs_f64()
    );
    println!("  comments on the umbrella: {comments1}");

    let (want_own, want_umbrellas) = match g.limit {
        Some(l) if o.tests > l.issues as usize => (l.issues as usize, 1),
        _ => (o.tests, 0),
    };
    let ok1 = own.len() == want_own
        && umbrellas.len() == want_umbrellas
        && issues1.len() == want_own + want_umbrellas
        && d1[2] as usize == want_own + want_umbrellas
        && lost == 0
        && phase1.k(Kind::Error) + phase1.k(Kind::Other) == 0;
    println!(
        "  check: {want_own} issues one by one + {want_umbrellas} umbrella, every test filed or grouped, no report failed: {}",
        if ok1 { "ok" } else { "MISMATCH" }
    );

    // Phase 2: a minute later by the notifiers' clock, every report again. The umbrella's
    // Done check runs at most once a minute on tokio's clock, which is not moved: it is not
    // due again here.
    let ahead = Duration::from_secs(61);
    clock.advance(ahead);
    let (reports2, _, wall2) = round(&replicas, &tests, &statuses, &order, mode).await;
    let phase2 = Outcomes::of(&reports2, o.tests);
    drop(reports2);
    let after2 = tally(&counters);
    let issues2 = sim.issues();
    let comments2 = comments_on_umbrella(&issues2);
    println!();
    println!(
        "phase 2, the notifiers' clock moved {} s ahead: every report again",
        ahead.as_secs()
    );
    phase2.print(o.rtt, wall2);
    let d2 = print_requests(after2, after1, o.reports);
    let same_issue = (0..o.tests)
        .filter(|&t| phase2.keys[t] == phase1.keys[t])
        .count();
    println!(
        "  issues created: {}; tests naming the same issue as in phase 1: {same_issue} of {}",
        issues2.len() - issues1.len(),
        o.tests
    );
    println!(
        "  comments on the umbrella: {comments2} ({} posted in this phase)",
        comments2 - comments1
    );
    if let Some(u) = issues2.iter().find(|i| Some(&i.key) == umbrella.as_ref()) {
        println!("  umbrella {}: {:?}", u.key, u.summary);
        for (n, c) in u.comments.iter().enumerate() {
            let text = adf_text(c);
            println!("    comment {}: {:?}", n + 1, cut_to(&text, 160));
        }
        // Is each grouped test named on the umbrella, by its id or name?
        let mut shown = serde_json::to_string(&u.description).unwrap_or_default();
        for c in &u.comments {
            shown.push_str(&serde_json::to_string(c).unwrap_or_default());
        }
        let group: Vec<usize> = (0..o.tests).filter(|&t| phase1.grouped[t] > 0).collect();
        let named = group.iter().filter(|&&t| names(&shown, t)).count();
        println!(
            "  grouped tests named on the umbrella (description or comments): {named} of {}{}",
            group.len(),
            if named == group.len() {
                ""
            } else {
                " (not checked by the exit status)"
            }
        );
    }
    let ok2 = phase2.k(Kind::Duplicate) == o.reports
        && d2[2] == 0
        && issues2.len() == issues1.len()
        && same_issue == o.tests
        && comments2 - comments1 <= 1;
    println!(
        "  check: no create, every report a duplicate of its phase-1 issue, at most one comment: {}",
        if ok2 { "ok" } else { "MISMATCH" }
    );

    println!();
    let total = tally(&counters);
    println!("both phases:");
    print_requests(total, [0; 6], 2 * o.reports);
    println!(
        "  peak in flight at the transport (all replicas): {}; 429 answers {}; VmHWM {}",
        counters.peak_in_flight.load(Relaxed),
        counters.throttled.load(Relaxed),
        kib_to_mib(proc_kib("VmHWM"))
    );
    let ok = ok1 && ok2;
    if !ok {
        println!("FAILED: expected the limit's issues and one umbrella, every test filed or grouped, and no failed report");
    }
    ok
}

/// At most `n` characters of `s`.
fn cut_to(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
