//! Many workspaces in one process: one `NotifierEngine`, a `JiraNotifier` handle per
//! workspace, each workspace on a Jira site of its own with a credential of its own.
//!
//! ```sh
//! cargo run --release -p jira-notifier-stress --bin workspaces
//! cargo run --release -p jira-notifier-stress --bin workspaces -- --part isolation --runs 10
//! cargo run --release -p jira-notifier-stress --bin workspaces -- --part storm --max-in-flight 64
//! ```
//!
//! It prints three parts (`--part` picks one) and exits non-zero if an invariant is broken:
//! a (workspace, test) without exactly one issue, a credential whose token was fetched more
//! than once, a token sent to another workspace's site, or a request the harness could not
//! route. Timing figures never fail it.
//!
//! 1. **memory**: 10,000 workspaces on one engine. The heap (a counting global allocator:
//!    bytes requested minus bytes freed, so malloc's rounding and headers are left out) is
//!    read around making the handles, then around connecting every workspace (its own
//!    credential, site discovery, settings saved); the parts are then dropped one by one
//!    (handles, engine, store, simulated Jiras) and what each drop frees is its share. A
//!    workspace's store data (scoped `MemoryStore` handle, connection, settings) is shown
//!    apart and is not in the engine-side figures.
//! 2. **storm**: 1,000 workspaces × 10 tests × 10 reports each on a fresh engine (the
//!    workspaces were connected beforehand by another engine, so the storm fetches every
//!    token itself), 50 ms round trip on every request. Every workspace uses the same ten
//!    test ids, so a single-flight map keyed by test alone would show up as missing issues.
//!    "At once" is made exact: spawning 100,000 reports takes seconds on two cores, so the
//!    simulated Jiras answer nothing until every report has reached the engine (counted in
//!    the poll that boards the test's flight), and the storm's clock starts then
//!    (`--no-hold`: answers flow while reports are still arriving, and a report arriving
//!    after its test's issue exists costs a search of its own, as it would in a host).
//!    Prints issues per (workspace, test), requests by kind against their floor (1 token
//!    per credential, 1 search + 1 create per new failure), wall and CPU time, when the
//!    tokens came back, and latency to outcome, in round trips.
//! 3. **isolation**: one engine, two workspaces on two sites. Site B answers `429` past
//!    its rate limit. The reports of site A (200 tests × 10 reports) are timed alone (B
//!    idle), and while B is under a load of its own and answering 429s (A starts once B has
//!    had its first 429; B's load is cancelled when A is done). The sides alternate, each
//!    run on a fresh engine and fresh sites; every run is printed, then the medians and
//!    their ratio (the goal: within 5%).
//!
//! Options (flags, or the environment variables in brackets):
//!
//! | flag | env | default | meaning |
//! |---|---|---|---|
//! | `--part P` | `WORKSPACES_PART` | all | `memory`, `storm`, `isolation` or `all` |
//! | `--memory-workspaces N` | `WORKSPACES_MEMORY_WORKSPACES` | 10000 | workspaces in part 1 |
//! | `--workspaces N` | `WORKSPACES_WORKSPACES` | 1000 | workspaces in the storm |
//! | `--tests N` | `WORKSPACES_TESTS` | 10 | tests per workspace in the storm |
//! | `--reports N` | `WORKSPACES_REPORTS` | 10 | reports per test in the storm |
//! | `--rtt-ms N` | `WORKSPACES_RTT_MS` | 50 | round trip of every request (parts 2 and 3) |
//! | `--max-in-flight N` | `WORKSPACES_MAX_IN_FLIGHT` | 8 (the crate's default) | the engine's cap per site (the auth host counts as one) |
//! | `--seed N` | `WORKSPACES_SEED` | 1 | the order reports arrive in |
//! | `--iso-tests N` | `WORKSPACES_ISO_TESTS` | 200 | tests of site A (part 3) |
//! | `--iso-reports N` | `WORKSPACES_ISO_REPORTS` | 10 | reports per test, sites A and B |
//! | `--iso-load-tests N` | `WORKSPACES_ISO_LOAD_TESTS` | 200 | tests of site B's load |
//! | `--iso-rate-limit N/SECS` | `WORKSPACES_ISO_RATE_LIMIT` | 10/1 | site B's rate limit |
//! | `--runs N` | `WORKSPACES_RUNS` | 5 | runs of each side in part 3 |
//! | `--no-hold` | `WORKSPACES_NO_HOLD=1` | off | storm: let Jira answer while reports arrive |
//!
//! How the sites are simulated: one `SimJira` per workspace, each built with
//! `SimJira::empty()`, `set_credentials` (client `ws-client-00017`, its own secret) and
//! `add_site` (cloud id `00000000-0000-4000-8000-000000000017`), with a project `QA`. The
//! engine gets one transport, a router in front of them: token requests go by the
//! `client_id` of their JSON body, gateway calls by the cloud id in `/ex/jira/{cloudId}/`,
//! and site discovery (`accessible-resources`, which names no site) by the bearer token.
//! For that last one the router prefixes each access token it hands back with its site's
//! number (`17.` + the simulator's token) and takes the prefix off again on the way in;
//! that also checks that no token ever goes to another workspace's site. Each simulator
//! has its own round trip and rate limit, so a 429 of one site is that site's alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jira_notifier::{
    ConfigStore, Credentials, HttpRequest, HttpResponse, HttpTransport, JiraNotifier, MemoryStore,
    NotifierEngine, Outcome, Settings, TestInfo, TestStatus, TransportError, WorkspaceId,
    DEFAULT_MAX_IN_FLIGHT,
};
use jira_notifier_sim::{RateLimit, SimJira};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[path = "../measure.rs"]
mod measure;
use measure::{
    cpu_time, freed, heap, in_rtts, kib_to_mib, message, mib, percentile, proc_kib, rate_limit,
    Flags,
};

// ----- options -----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Memory,
    Storm,
    Isolation,
}

struct Options {
    part: Part,
    memory_workspaces: usize,
    workspaces: usize,
    tests: usize,
    reports: usize,
    rtt: Duration,
    max_in_flight: usize,
    seed: u64,
    iso_tests: usize,
    iso_reports: usize,
    iso_load_tests: usize,
    iso_rate_limit: RateLimit,
    runs: usize,
    hold: bool,
}

const USAGE: &str = "usage: workspaces [--part all|memory|storm|isolation] \
    [--memory-workspaces N] [--workspaces N] [--tests N] [--reports N] [--rtt-ms N] \
    [--max-in-flight N] [--seed N] [--iso-tests N] [--iso-reports N] [--iso-load-tests N] \
    [--iso-rate-limit N/SECS] [--runs N] [--no-hold]";

fn options() -> Result<Options, String> {
    let flags = Flags::parse("WORKSPACES", &["no-hold"], USAGE)?;
    let get = |name: &str| flags.get(name);
    let num = |name: &str, default: u64| flags.num(name, default);
    let known = [
        "part",
        "memory-workspaces",
        "workspaces",
        "tests",
        "reports",
        "rtt-ms",
        "max-in-flight",
        "seed",
        "iso-tests",
        "iso-reports",
        "iso-load-tests",
        "iso-rate-limit",
        "runs",
        "no-hold",
    ];
    if let Some(unknown) = flags.names().find(|k| !known.contains(k)) {
        return Err(format!("unknown option --{unknown}\n{USAGE}"));
    }
    let part = match get("part").as_deref().unwrap_or("all") {
        "all" => Part::All,
        "memory" => Part::Memory,
        "storm" => Part::Storm,
        "isolation" => Part::Isolation,
        other => {
            return Err(format!(
                "--part: {other:?} is not all, memory, storm or isolation"
            ))
        }
    };
    let iso_rate_limit = rate_limit(&get("iso-rate-limit").unwrap_or_else(|| "10/1".into()))?
        .ok_or("--iso-rate-limit: site B needs a rate limit")?;
    let o = Options {
        part,
        memory_workspaces: num("memory-workspaces", 10_000)? as usize,
        workspaces: num("workspaces", 1_000)? as usize,
        tests: num("tests", 10)? as usize,
        reports: num("reports", 10)? as usize,
        rtt: Duration::from_millis(num("rtt-ms", 50)?),
        max_in_flight: num("max-in-flight", DEFAULT_MAX_IN_FLIGHT as u64)? as usize,
        seed: num("seed", 1)?,
        iso_tests: num("iso-tests", 200)? as usize,
        iso_reports: num("iso-reports", 10)? as usize,
        iso_load_tests: num("iso-load-tests", 200)? as usize,
        iso_rate_limit,
        runs: num("runs", 5)? as usize,
        hold: !flags.on("no-hold"),
    };
    if [
        o.memory_workspaces,
        o.workspaces,
        o.tests,
        o.reports,
        o.iso_tests,
        o.iso_reports,
        o.iso_load_tests,
        o.runs,
    ]
    .contains(&0)
    {
        return Err("every count must be at least 1".into());
    }
    Ok(o)
}

// ----- one simulated Jira per workspace, behind a router -----

fn client_id(site: usize) -> String {
    format!("ws-client-{site:05}")
}

fn client_secret(site: usize) -> String {
    format!(
        "ws-secret-{site:05}-{}",
        site.wrapping_mul(2_654_435_761) % 1_000_003
    )
}

fn credentials(site: usize) -> Credentials {
    Credentials::new(client_id(site), client_secret(site))
}

const CLOUD_ID_PREFIX: &str = "00000000-0000-4000-8000-";

fn cloud_id(site: usize) -> String {
    format!("{CLOUD_ID_PREFIX}{site:012}")
}

/// A Jira of its own: its credential, one site, project `QA` (Bug, Task).
fn new_site(site: usize) -> SimJira {
    let sim = SimJira::empty();
    sim.set_credentials(&client_id(site), &client_secret(site));
    sim.add_site(cloud_id(site), format!("site{site:05}"));
    sim.add_project("QA", "Quality Assurance", &["Bug", "Task"]);
    sim.set_record_requests(false);
    sim
}

/// What reached one site, by kind.
#[derive(Debug, Default)]
struct Counters {
    token: AtomicU64,
    discovery: AtomicU64,
    search: AtomicU64,
    create: AtomicU64,
    other: AtomicU64,
    throttled: AtomicU64,
    /// When the site's last token answer came back, in microseconds since `Sites::started`.
    token_at_us: AtomicU64,
}

/// A reading of counters, to subtract.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    token: u64,
    discovery: u64,
    search: u64,
    create: u64,
    other: u64,
    throttled: u64,
}

impl Tally {
    fn of(c: &Counters) -> Self {
        Tally {
            token: c.token.load(Relaxed),
            discovery: c.discovery.load(Relaxed),
            search: c.search.load(Relaxed),
            create: c.create.load(Relaxed),
            other: c.other.load(Relaxed),
            throttled: c.throttled.load(Relaxed),
        }
    }

    fn minus(self, o: Tally) -> Tally {
        Tally {
            token: self.token - o.token,
            discovery: self.discovery - o.discovery,
            search: self.search - o.search,
            create: self.create - o.create,
            other: self.other - o.other,
            throttled: self.throttled - o.throttled,
        }
    }

    fn plus(self, o: Tally) -> Tally {
        Tally {
            token: self.token + o.token,
            discovery: self.discovery + o.discovery,
            search: self.search + o.search,
            create: self.create + o.create,
            other: self.other + o.other,
            throttled: self.throttled + o.throttled,
        }
    }

    fn total(self) -> u64 {
        self.token + self.discovery + self.search + self.create + self.other
    }
}

/// Every workspace's Jira, and what the router saw.
struct Sites {
    sims: Vec<SimJira>,
    counters: Vec<Counters>,
    /// Requests whose site could not be told (a harness failure).
    unroutable: AtomicU64,
    /// Gateway calls carrying another site's token.
    misrouted: AtomicU64,
    started: Instant,
    /// When the last token answer came back, in microseconds since `started`.
    last_token_us: AtomicU64,
    /// While true, requests wait before reaching their Jira (see `hold`).
    held: AtomicBool,
    opened: watch::Sender<bool>,
    /// Requests that waited for the hold to end.
    waited: AtomicU64,
}

impl Sites {
    fn new(n: usize) -> Arc<Sites> {
        Arc::new(Sites {
            sims: (0..n).map(new_site).collect(),
            counters: (0..n).map(|_| Counters::default()).collect(),
            unroutable: AtomicU64::new(0),
            misrouted: AtomicU64::new(0),
            started: Instant::now(),
            last_token_us: AtomicU64::new(0),
            held: AtomicBool::new(false),
            opened: watch::channel(false).0,
            waited: AtomicU64::new(0),
        })
    }

    /// Holds every request before it reaches its Jira until `release`: no answer comes
    /// back before a storm has fully arrived.
    fn hold(&self) {
        self.opened.send_replace(false);
        self.held.store(true, SeqCst);
    }

    fn release(&self) {
        self.held.store(false, SeqCst);
        self.opened.send_replace(true);
    }

    fn tally(&self, site: usize) -> Tally {
        Tally::of(&self.counters[site])
    }

    fn tallies(&self) -> Vec<Tally> {
        self.counters.iter().map(Tally::of).collect()
    }

    fn set_latency(&self, rtt: Duration) {
        for sim in &self.sims {
            sim.set_latency(rtt);
        }
    }

    /// The site a cloud id, a client id or a token prefix names.
    fn index(&self, s: &str, prefix: &str) -> Option<usize> {
        let i: usize = s.strip_prefix(prefix)?.parse().ok()?;
        (i < self.sims.len()).then_some(i)
    }
}

#[derive(Clone)]
struct Router(Arc<Sites>);

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Router({} sites)", self.0.sims.len())
    }
}

impl Router {
    /// Takes the site prefix off the bearer token: the site it was issued for.
    fn untag(&self, request: &mut HttpRequest) -> Option<usize> {
        let (_, value) = request
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?;
        let token = value.strip_prefix("Bearer ")?;
        let (site, rest) = token.split_once('.')?;
        let site = self.0.index(site, "")?;
        *value = format!("Bearer {rest}");
        Some(site)
    }

    fn site_of_token_request(&self, request: &HttpRequest) -> Option<usize> {
        let body: Value = serde_json::from_slice(request.body.as_deref()?).ok()?;
        self.0.index(body.get("client_id")?.as_str()?, "ws-client-")
    }

    /// Prefixes the access token of a token answer with its site's number.
    fn tag(site: usize, response: &mut HttpResponse) {
        let Ok(mut body) = serde_json::from_slice::<Value>(&response.body) else {
            return;
        };
        if let Some(Value::String(token)) = body.get_mut("access_token") {
            *token = format!("{site}.{token}");
            response.body = serde_json::to_vec(&body).expect("JSON serializes");
        }
    }
}

fn unroutable() -> HttpResponse {
    HttpResponse::json(
        401,
        r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
    )
}

#[async_trait]
impl HttpTransport for Router {
    async fn send(&self, mut request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let sites = &self.0;
        if sites.held.load(SeqCst) {
            let mut opened = sites.opened.subscribe();
            if !*opened.borrow_and_update() {
                sites.waited.fetch_add(1, Relaxed);
                let _ = opened.wait_for(|open| *open).await;
            }
        }
        let tagged = self.untag(&mut request);
        let path = request.url.path().to_owned();
        let is_token = path.ends_with("/oauth/token");
        let mut segments = request.url.path_segments().into_iter().flatten();
        let cloud = match (segments.next(), segments.next(), segments.next()) {
            (Some("ex"), Some("jira"), Some(cloud)) => Some(cloud.to_owned()),
            _ => None,
        };
        let site = if is_token {
            self.site_of_token_request(&request)
        } else if let Some(cloud) = &cloud {
            let site = sites.index(cloud, CLOUD_ID_PREFIX);
            if site.is_some() && tagged.is_some() && site != tagged {
                sites.misrouted.fetch_add(1, Relaxed);
            }
            site
        } else {
            tagged
        };
        let Some(site) = site else {
            sites.unroutable.fetch_add(1, Relaxed);
            return Ok(unroutable());
        };
        let c = &sites.counters[site];
        let kind = if is_token {
            &c.token
        } else if path.ends_with("/accessible-resources") {
            &c.discovery
        } else if path.ends_with("/search/jql") {
            &c.search
        } else if path.ends_with("/rest/api/3/issue") {
            &c.create
        } else {
            &c.other
        };
        kind.fetch_add(1, Relaxed);
        let mut answer = sites.sims[site].send(request).await;
        if let Ok(response) = &mut answer {
            if response.status == 429 {
                c.throttled.fetch_add(1, Relaxed);
            }
            if is_token && response.status == 200 {
                Self::tag(site, response);
                let us = sites.started.elapsed().as_micros() as u64;
                sites.last_token_us.fetch_max(us, Relaxed);
                c.token_at_us.store(us, Relaxed);
            }
        }
        answer
    }
}

// ----- workspaces -----

fn workspace_id(site: usize) -> WorkspaceId {
    WorkspaceId::new(format!("w{site:05}"))
}

fn engine(sites: &Arc<Sites>, max_in_flight: usize) -> NotifierEngine {
    NotifierEngine::builder()
        .transport(Router(Arc::clone(sites)))
        .max_concurrent_requests(max_in_flight)
        .build()
        .expect("an engine")
}

/// Connects every handle to its own site with its own credential and saves its settings,
/// all at once. Returns the failures.
async fn connect_all(handles: &[JiraNotifier]) -> Vec<String> {
    let mut set = JoinSet::new();
    for (i, h) in handles.iter().enumerate() {
        let h = h.clone();
        set.spawn(async move {
            h.connect(credentials(i))
                .await
                .map_err(|e| format!("w{i:05} connect: {e}"))?;
            h.save_settings(Settings::new("QA").with_labels(["automated-test"]))
                .await
                .map_err(|e| format!("w{i:05} settings: {e}"))?;
            Ok::<(), String>(())
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.expect("a connect task panicked") {
            failures.push(e);
        }
    }
    failures
}

fn test_info(t: usize) -> TestInfo {
    TestInfo::new(
        format!("suite-test-{t:04}"),
        format!("Suite test number {t}"),
        format!("https://testclix.example/tests/suite-test-{t:04}"),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Created,
    Duplicate,
    Other,
    Error,
}

struct Report {
    /// From the report's arrival (its spawn) to its outcome.
    latency: Duration,
    done: Instant,
    kind: Kind,
    attempts: u32,
    error: Option<String>,
}

/// Counts the reports of a held storm as they reach the engine, and ends the hold when
/// the last one has.
struct Arrivals {
    count: AtomicUsize,
    total: usize,
    sites: Arc<Sites>,
    all_in: OnceLock<Instant>,
}

impl Arrivals {
    fn arrived(&self) {
        if self.count.fetch_add(1, SeqCst) + 1 == self.total {
            let _ = self.all_in.set(Instant::now());
            self.sites.release();
        }
    }
}

/// Reports one failure until it has an outcome, re-reporting retryable errors after
/// their `Retry-After` (1 s when none), as a host that queues them would.
async fn report(
    notifier: JiraNotifier,
    test: Arc<TestInfo>,
    status: Arc<TestStatus>,
    arrived: Instant,
    arrivals: Option<Arc<Arrivals>>,
) -> Report {
    // Counted in the same poll as the call's first step (boarding the test's flight), so
    // that once every report is counted, every report is on board or waiting behind one.
    if let Some(a) = &arrivals {
        a.arrived();
    }
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (kind, error) = match notifier.on_test_error(&test, &status).await {
            Ok(Outcome::Created(_)) => (Kind::Created, None),
            Ok(Outcome::Duplicate(_)) => (Kind::Duplicate, None),
            Ok(other) => (Kind::Other, Some(format!("{other:?}"))),
            Err(e) if e.is_retryable() && attempts < 50 => {
                tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
                continue;
            }
            Err(e) => (Kind::Error, Some(e.to_string())),
        };
        return Report {
            latency: arrived.elapsed(),
            done: Instant::now(),
            kind,
            attempts,
            error,
        };
    }
}

/// The issues of one site: how many, and how many distinct tests they are for.
fn issues_of(sim: &SimJira) -> (usize, usize) {
    let issues = sim.issues();
    let tests: HashSet<String> = issues
        .iter()
        .flat_map(|i| i.labels.iter())
        .filter(|l| l.starts_with("testclix-"))
        .cloned()
        .collect();
    (issues.len(), tests.len())
}

/// The reports of one (workspace, test) list, spawned at once in the given order.
struct Batch {
    tests: Vec<Arc<TestInfo>>,
    statuses: Vec<Arc<TestStatus>>,
}

impl Batch {
    fn new(tests: usize) -> Self {
        Batch {
            tests: (0..tests).map(|t| Arc::new(test_info(t))).collect(),
            statuses: (0..tests)
                .map(|t| Arc::new(TestStatus::error(message(t, 0))))
                .collect(),
        }
    }

    fn spawn(
        &self,
        handles: &[JiraNotifier],
        order: &[(usize, usize)],
        arrivals: Option<&Arc<Arrivals>>,
    ) -> Vec<tokio::task::JoinHandle<Report>> {
        order
            .iter()
            .map(|&(w, t)| {
                tokio::spawn(report(
                    handles[w].clone(),
                    Arc::clone(&self.tests[t]),
                    Arc::clone(&self.statuses[t]),
                    Instant::now(),
                    arrivals.cloned(),
                ))
            })
            .collect()
    }
}

async fn collect(handles: Vec<tokio::task::JoinHandle<Report>>) -> Vec<Report> {
    let mut reports = Vec::with_capacity(handles.len());
    for h in handles {
        reports.push(h.await.expect("a report task panicked"));
    }
    reports
}

struct Summary {
    kinds: BTreeMap<Kind, usize>,
    errors: BTreeMap<String, usize>,
    host_retries: u64,
    latencies: Vec<Duration>,
}

fn summarize(reports: &[Report]) -> Summary {
    let mut s = Summary {
        kinds: BTreeMap::new(),
        errors: BTreeMap::new(),
        host_retries: 0,
        latencies: reports.iter().map(|r| r.latency).collect(),
    };
    s.latencies.sort_unstable();
    for r in reports {
        *s.kinds.entry(r.kind).or_default() += 1;
        s.host_retries += u64::from(r.attempts - 1);
        if let Some(e) = &r.error {
            *s.errors.entry(e.clone()).or_default() += 1;
        }
    }
    s
}

impl Summary {
    fn count(&self, kind: Kind) -> usize {
        self.kinds.get(&kind).copied().unwrap_or(0)
    }

    fn print_outcomes(&self) {
        println!(
            "  outcomes: created {}, duplicate {}, other {}, errors {}; host re-reports {}",
            self.count(Kind::Created),
            self.count(Kind::Duplicate),
            self.count(Kind::Other),
            self.count(Kind::Error),
            self.host_retries
        );
        for (e, n) in self.errors.iter().take(5) {
            println!("    {n} x {e}");
        }
    }
}

fn per(bytes: i64, n: usize) -> String {
    format!("{:.1} B", bytes as f64 / n as f64)
}

fn blocks_per(blocks: i64, n: usize) -> String {
    format!("{:.2} blocks", blocks as f64 / n as f64)
}

/// A broken invariant: printed at once, and the exit status.
fn broken(ok: &mut bool, what: String) {
    println!("  INVARIANT BROKEN: {what}");
    *ok = false;
}

fn check_routing(sites: &Sites, ok: &mut bool) {
    let unroutable = sites.unroutable.load(Relaxed);
    let misrouted = sites.misrouted.load(Relaxed);
    if unroutable > 0 {
        broken(ok, format!("{unroutable} requests named no known site"));
    }
    if misrouted > 0 {
        broken(
            ok,
            format!("{misrouted} gateway calls carried another site's token"),
        );
    }
}

// ----- 1. memory -----

async fn memory(o: &Options) -> bool {
    let n = o.memory_workspaces;
    let mut ok = true;
    println!("== 1. memory: {n} workspaces, one engine, one site and credential each");
    let t0 = Instant::now();
    // The harness first, outside every reading: the Jiras, the ids the host keeps, and
    // room for the host's lists of stores and handles.
    let sites = Sites::new(n);
    let ids: Vec<WorkspaceId> = (0..n).map(workspace_id).collect();
    let mut stores: Vec<Arc<dyn ConfigStore>> = Vec::with_capacity(n);
    let mut handles: Vec<JiraNotifier> = Vec::with_capacity(n);
    println!(
        "  (harness: {n} simulated Jiras built in {:.2} s, heap {})",
        t0.elapsed().as_secs_f64(),
        mib(heap().bytes as f64)
    );

    let before_engine = heap();
    let engine = engine(&sites, o.max_in_flight);
    let after_engine = heap();
    let root = MemoryStore::new();
    let (engine_fresh, engine_fresh_blocks) = freed(after_engine, before_engine);
    let (root_fresh, _) = freed(heap(), after_engine);

    let h0 = heap();
    for id in &ids {
        stores.push(Arc::new(root.workspace(id)));
    }
    let h1 = heap();
    for (id, store) in ids.iter().zip(&stores) {
        handles.push(engine.notifier(id.clone(), Arc::clone(store)));
    }
    let h2 = heap();
    let (store_idle, store_idle_blocks) = freed(h1, h0);
    let (handle_idle, handle_idle_blocks) = freed(h2, h1);
    println!(
        "  a fresh engine (router transport, empty maps): {engine_fresh} B in {engine_fresh_blocks} blocks; an empty MemoryStore: {root_fresh} B"
    );
    println!(
        "  per idle workspace handle (engine.notifier, made, not used): {} in {}",
        per(handle_idle, n),
        blocks_per(handle_idle_blocks, n)
    );
    println!(
        "  per scoped store handle (Arc<MemoryStore::workspace>, the store's, shown apart): {} in {}",
        per(store_idle, n),
        blocks_per(store_idle_blocks, n)
    );

    let t = Instant::now();
    let failures = connect_all(&handles).await;
    let connect_time = t.elapsed();
    let h3 = heap();
    for f in failures.iter().take(5) {
        println!("  connect failed: {f}");
    }
    if !failures.is_empty() {
        broken(
            &mut ok,
            format!("{} workspaces failed to connect", failures.len()),
        );
    }
    let tokens: u64 = sites.tallies().iter().map(|t| t.token).sum();
    let engine_tokens = handles[0].token_fetches();
    println!(
        "  connected + settings saved, all {n} at once, no latency: {:.2} s; token requests {tokens} (engine's count {engine_tokens})",
        connect_time.as_secs_f64()
    );
    if let Some((site, t)) = sites
        .tallies()
        .iter()
        .enumerate()
        .find(|(_, t)| t.token != 1)
    {
        broken(
            &mut ok,
            format!("site {site}'s credential fetched {} tokens, not 1", t.token),
        );
    }
    check_routing(&sites, &mut ok);
    let (grown, grown_blocks) = freed(h3, h2);

    // What each part retains: drop them one by one (the host's lists are emptied in
    // place: their buffers were there before the first reading).
    let d0 = heap();
    handles.clear();
    let d1 = heap();
    drop(engine);
    let d2 = heap();
    stores.clear();
    drop(root);
    let d3 = heap();
    drop(sites);
    let d4 = heap();
    drop((handles, stores));
    let (f_handles, f_handles_blocks) = freed(d0, d1);
    let (f_engine, f_engine_blocks) = freed(d1, d2);
    let (f_store, f_store_blocks) = freed(d2, d3);
    let (f_sims, _) = freed(d3, d4);
    let engine_grown = f_engine - engine_fresh;
    let engine_grown_blocks = f_engine_blocks - engine_fresh_blocks;
    let handle_grown = f_handles - handle_idle;
    let store_grown = f_store - store_idle - root_fresh;
    let harness_grown = grown - handle_grown - engine_grown - store_grown;
    println!(
        "  heap growth while connecting: {} ({} per workspace, {} blocks in all), of which:",
        mib(grown as f64),
        per(grown, n),
        grown_blocks
    );
    println!(
        "    the handles: {} per workspace (each handle retains {} in {} after connecting)",
        per(handle_grown, n),
        per(f_handles, n),
        blocks_per(f_handles_blocks, n)
    );
    println!(
        "    the engine (a token cache per credential, a gate per site): {} per workspace in {} (engine retains {} in all)",
        per(engine_grown, n),
        blocks_per(engine_grown_blocks, n),
        mib(f_engine as f64)
    );
    println!(
        "    the store (connection + settings in the MemoryStore, shown apart): {} per workspace (with its scoped handle: {} in {})",
        per(store_grown, n),
        per(f_store - root_fresh, n),
        blocks_per(f_store_blocks, n)
    );
    println!(
        "    the simulated Jiras (tokens issued) and the runtime: {} per workspace (not the engine's; the Jiras retain {} in all)",
        per(harness_grown, n),
        mib(f_sims as f64)
    );
    println!(
        "  per connected workspace, engine side (handle + its share of the engine, store data excluded): {}",
        per(f_handles + engine_grown, n)
    );
    println!(
        "  per connected workspace with its MemoryStore data: {}",
        per(f_handles + engine_grown + f_store - root_fresh, n)
    );
    println!(
        "  (bytes are those requested from the allocator: malloc's rounding and headers are not in them; VmHWM so far {})",
        kib_to_mib(proc_kib("VmHWM"))
    );
    ok
}

// ----- 2. storm -----

async fn storm(o: &Options) -> bool {
    let (n, tests, reports) = (o.workspaces, o.tests, o.reports);
    let mut ok = true;
    let total = n * tests * reports;
    println!();
    println!(
        "== 2. storm: {n} workspaces x {tests} tests x {reports} reports = {total} reports at once, one site and credential per workspace, rtt {} ms, {} in flight per site, seed {}",
        o.rtt.as_millis(),
        o.max_in_flight,
        o.seed
    );
    let sites = Sites::new(n);
    let root = MemoryStore::new();
    let ids: Vec<WorkspaceId> = (0..n).map(workspace_id).collect();
    let stores: Vec<Arc<dyn ConfigStore>> = ids
        .iter()
        .map(|id| Arc::new(root.workspace(id)) as Arc<dyn ConfigStore>)
        .collect();
    {
        // The settings screen of every workspace, on an engine of its own.
        let setup = engine(&sites, o.max_in_flight);
        let handles: Vec<JiraNotifier> = ids
            .iter()
            .zip(&stores)
            .map(|(id, s)| setup.notifier(id.clone(), Arc::clone(s)))
            .collect();
        let failures = connect_all(&handles).await;
        if !failures.is_empty() {
            broken(
                &mut ok,
                format!(
                    "{} workspaces failed to connect: {}",
                    failures.len(),
                    failures[0]
                ),
            );
            return false;
        }
    }
    sites.set_latency(o.rtt);
    let before: Vec<Tally> = sites.tallies();
    let token_phase_start = sites.started.elapsed().as_micros() as u64;

    // The engine under test, fresh: no token yet.
    let engine = engine(&sites, o.max_in_flight);
    let handles: Vec<JiraNotifier> = ids
        .iter()
        .zip(&stores)
        .map(|(id, s)| engine.notifier(id.clone(), Arc::clone(s)))
        .collect();
    let batch = Batch::new(tests);
    let mut order: Vec<(usize, usize)> = (0..n)
        .flat_map(|w| (0..tests).flat_map(move |t| std::iter::repeat_n((w, t), reports)))
        .collect();
    fastrand::Rng::with_seed(o.seed).shuffle(&mut order);

    let arrivals = o.hold.then(|| {
        sites.hold();
        Arc::new(Arrivals {
            count: AtomicUsize::new(0),
            total,
            sites: Arc::clone(&sites),
            all_in: OnceLock::new(),
        })
    });
    let cpu_before = cpu_time();
    let start = Instant::now();
    let spawned = batch.spawn(&handles, &order, arrivals.as_ref());
    let spawned_in = start.elapsed();
    let mut results = collect(spawned).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    // To the last outcome (not to when this task had collected them all).
    let last_done = results.iter().map(|r| r.done).max().unwrap_or(start);
    let wall = last_done.duration_since(start);
    let hwm = proc_kib("VmHWM");
    // Held, the storm starts when its last report has arrived: latency counts from then.
    let all_in = arrivals.as_ref().and_then(|a| a.all_in.get().copied());
    if let Some(t0) = all_in {
        for r in &mut results {
            r.latency = r.done.saturating_duration_since(t0);
        }
    }
    let summary = summarize(&results);
    drop(results);

    // Issues: exactly one per (workspace, test).
    let mut issues = 0;
    let mut bad_sites = 0;
    let mut example = None;
    for (w, sim) in sites.sims.iter().enumerate() {
        let (count, distinct) = issues_of(sim);
        issues += count;
        if count != tests || distinct != tests {
            bad_sites += 1;
            example.get_or_insert(format!(
                "w{w:05}: {count} issues for {distinct} of {tests} tests"
            ));
        }
    }
    let per_site: Vec<Tally> = sites
        .tallies()
        .iter()
        .zip(&before)
        .map(|(a, b)| a.minus(*b))
        .collect();
    let sum = per_site
        .iter()
        .fold(Tally::default(), |acc, t| acc.plus(*t));
    let max_tokens = per_site.iter().map(|t| t.token).max().unwrap_or(0);
    let not_one = per_site.iter().filter(|t| t.token != 1).count();
    let new_failures = (n * tests) as u64;
    let floor = n as u64 + 2 * new_failures;
    let token_phase_start = match all_in {
        Some(t) => t.duration_since(sites.started).as_micros() as u64,
        None => token_phase_start,
    };
    let tokens_done = sites
        .last_token_us
        .load(Relaxed)
        .saturating_sub(token_phase_start);

    println!(
        "  issues created: {issues} (floor and goal: {} = one per (workspace, test)); workspaces with a wrong count: {bad_sites}",
        n * tests
    );
    if let Some(e) = example {
        broken(&mut ok, format!("not one issue per test, e.g. {e}"));
    }
    summary.print_outcomes();
    println!(
        "  total requests: {} (floor {floor}: {n} tokens + {new_failures} searches + {new_failures} creates)",
        sum.total()
    );
    println!(
        "  token fetches: {} (floor {n}: 1 per credential; most for one credential: {max_tokens}; credentials not at 1: {not_one}; engine's count {})",
        sum.token,
        handles[0].token_fetches()
    );
    if not_one > 0 {
        broken(
            &mut ok,
            format!("{not_one} credentials fetched a token other than once (at most {max_tokens})"),
        );
    }
    println!(
        "  searches: {} (floor {new_failures}); creates: {} (floor {new_failures}); other: {}; site discovery: {}; 429 answers: {}",
        sum.search, sum.create, sum.other, sum.discovery, sum.throttled
    );
    check_routing(&sites, &mut ok);
    println!(
        "  latency ({}to outcome): p50 {}, p99 {}, max {}",
        if all_in.is_some() {
            "the storm's start "
        } else {
            "arrival "
        },
        in_rtts(percentile(&summary.latencies, 50.0), o.rtt),
        in_rtts(percentile(&summary.latencies, 99.0), o.rtt),
        in_rtts(summary.latencies.last().copied().unwrap_or_default(), o.rtt),
    );
    let mut token_times: Vec<Duration> = sites
        .counters
        .iter()
        .map(|c| {
            Duration::from_micros(
                c.token_at_us
                    .load(Relaxed)
                    .saturating_sub(token_phase_start),
            )
        })
        .collect();
    token_times.sort_unstable();
    // Held, the storm's clock starts when its last report has arrived.
    let arrival = all_in.map_or(Duration::ZERO, |t| t.duration_since(start));
    let since = if all_in.is_some() {
        "since the last report arrived"
    } else {
        "since the first report was spawned"
    };
    println!(
        "  wall time ({since}): {:.3} s; tokens back: half after {:.3} s, all after {:.3} s (every token request goes to the one auth host, whose gate lets {} through at a time: floor {:.3} s)",
        wall.saturating_sub(arrival).as_secs_f64(),
        percentile(&token_times, 50.0).as_secs_f64(),
        tokens_done as f64 / 1e6,
        o.max_in_flight,
        (n as f64 / o.max_in_flight as f64).ceil() * o.rtt.as_secs_f64()
    );
    if all_in.is_some() {
        println!(
            "  arrival: the {total} reports were spawned in {:.1} ms and had all reached the engine after {:.1} ms; until then Jira answered nothing ({} requests held)",
            spawned_in.as_secs_f64() * 1e3,
            arrival.as_secs_f64() * 1e3,
            sites.waited.load(Relaxed)
        );
    } else {
        println!(
            "  arrival: the {total} reports were spawned over {:.1} ms while Jira answered; a report reaching the engine after its test's issue was made costs a search of its own",
            spawned_in.as_secs_f64() * 1e3
        );
    }
    println!(
        "  cpu time (process, simulators included, spawning too): {:.2} s, {:.1} us per report",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / total as f64
    );
    println!("  peak memory so far: VmHWM {}", kib_to_mib(hwm));
    ok
}

// ----- 3. isolation -----

struct IsoRun {
    throttled: bool,
    p50: Duration,
    p99: Duration,
    max: Duration,
    wall: Duration,
    a: Tally,
    b: Tally,
    b_issues: usize,
}

/// One run: site A's reports timed, with site B idle or under load and answering 429s.
async fn isolation_run(o: &Options, throttled: bool, ok: &mut bool) -> IsoRun {
    const A: usize = 0;
    const B: usize = 1;
    let sites = Sites::new(2);
    let root = MemoryStore::new();
    let engine = engine(&sites, o.max_in_flight);
    let handles: Vec<JiraNotifier> = (0..2)
        .map(|i| {
            let id = workspace_id(i);
            let store = Arc::new(root.workspace(&id));
            engine.notifier(id, store)
        })
        .collect();
    let failures = connect_all(&handles).await;
    if let Some(f) = failures.first() {
        broken(ok, format!("connect failed: {f}"));
    }
    sites.set_latency(o.rtt);
    sites.sims[B].set_rate_limit(Some(o.iso_rate_limit));

    let a_batch = Batch::new(o.iso_tests);
    let b_batch = Batch::new(o.iso_load_tests);
    let mut rng = fastrand::Rng::with_seed(o.seed);
    let mut a_order: Vec<(usize, usize)> = (0..o.iso_tests)
        .flat_map(|t| std::iter::repeat_n((A, t), o.iso_reports))
        .collect();
    rng.shuffle(&mut a_order);
    let mut b_order: Vec<(usize, usize)> = (0..o.iso_load_tests)
        .flat_map(|t| std::iter::repeat_n((B, t), o.iso_reports))
        .collect();
    rng.shuffle(&mut b_order);

    let mut b_load = Vec::new();
    if throttled {
        b_load = b_batch.spawn(&handles, &b_order, None);
        let waited = Instant::now();
        while sites.tally(B).throttled == 0 {
            if waited.elapsed() > Duration::from_secs(60) {
                println!("  site B gave no 429 within 60 s: its load is too light for its limit");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let (a0, b0) = (sites.tally(A), sites.tally(B));
    let start = Instant::now();
    let results = collect(a_batch.spawn(&handles, &a_order, None)).await;
    let wall = start.elapsed();
    let (a1, b1) = (sites.tally(A), sites.tally(B));
    for h in &b_load {
        h.abort();
    }
    for h in b_load {
        let _ = h.await;
    }
    let summary = summarize(&results);
    if summary.count(Kind::Error) > 0 {
        summary.print_outcomes();
    }
    let (a_issues, a_tests) = issues_of(&sites.sims[A]);
    if a_issues != o.iso_tests || a_tests != o.iso_tests {
        broken(
            ok,
            format!(
                "site A: {a_issues} issues for {a_tests} of {} tests",
                o.iso_tests
            ),
        );
    }
    let (b_issues, b_tests) = issues_of(&sites.sims[B]);
    if b_issues != b_tests {
        broken(ok, format!("site B: {b_issues} issues for {b_tests} tests"));
    }
    for site in [A, B] {
        let tokens = sites.tally(site).token;
        if tokens > 1 {
            broken(
                ok,
                format!("site {site}'s credential fetched {tokens} tokens"),
            );
        }
    }
    check_routing(&sites, ok);
    IsoRun {
        throttled,
        p50: percentile(&summary.latencies, 50.0),
        p99: percentile(&summary.latencies, 99.0),
        max: summary.latencies.last().copied().unwrap_or_default(),
        wall,
        a: a1.minus(a0),
        b: b1.minus(b0),
        b_issues,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    }
}

async fn isolation(o: &Options) -> bool {
    let mut ok = true;
    println!();
    println!(
        "== 3. isolation: site A's {} tests x {} reports, alone vs while site B ({} tests x {} reports, rate limit {}/{}s) answers 429s; rtt {} ms, {} in flight per site, {} runs a side, alternating",
        o.iso_tests,
        o.iso_reports,
        o.iso_load_tests,
        o.iso_reports,
        o.iso_rate_limit.max_requests,
        o.iso_rate_limit.per.as_secs_f64(),
        o.rtt.as_millis(),
        o.max_in_flight,
        o.runs
    );
    let mut runs = Vec::new();
    for i in 0..o.runs {
        for throttled in [false, true] {
            let r = isolation_run(o, throttled, &mut ok).await;
            println!(
                "  run {} {:<14} A: p50 {}, p99 {}, max {}, wall {:.3} s, requests {} (search {}, create {}) | B meanwhile: requests {}, 429s {}, issues so far {}",
                i + 1,
                if throttled { "B throttled:" } else { "B idle:" },
                in_rtts(r.p50, o.rtt),
                in_rtts(r.p99, o.rtt),
                in_rtts(r.max, o.rtt),
                r.wall.as_secs_f64(),
                r.a.total(),
                r.a.search,
                r.a.create,
                r.b.total(),
                r.b.throttled,
                r.b_issues,
            );
            runs.push(r);
        }
    }
    let side = |throttled: bool, f: fn(&IsoRun) -> Duration| -> Duration {
        median(
            runs.iter()
                .filter(|r| r.throttled == throttled)
                .map(f)
                .collect(),
        )
    };
    let range = |throttled: bool, f: fn(&IsoRun) -> Duration| -> (Duration, Duration) {
        let v: Vec<Duration> = runs
            .iter()
            .filter(|r| r.throttled == throttled)
            .map(f)
            .collect();
        (
            v.iter().copied().min().unwrap_or_default(),
            v.iter().copied().max().unwrap_or_default(),
        )
    };
    let b_429s: u64 = runs
        .iter()
        .filter(|r| r.throttled)
        .map(|r| r.b.throttled)
        .sum();
    for (name, f) in [
        ("p50", (|r: &IsoRun| r.p50) as fn(&IsoRun) -> Duration),
        ("p99", |r: &IsoRun| r.p99),
    ] {
        let alone = side(false, f);
        let during = side(true, f);
        let (alo, ahi) = range(false, f);
        let (dlo, dhi) = range(true, f);
        let ratio = during.as_secs_f64() / alone.as_secs_f64().max(1e-9);
        println!(
            "  site A {name}, median of {} runs: alone {} (range {:.3}-{:.3} s), B answering 429s {} (range {:.3}-{:.3} s); ratio {:.3} ({})",
            o.runs,
            in_rtts(alone, o.rtt),
            alo.as_secs_f64(),
            ahi.as_secs_f64(),
            in_rtts(during, o.rtt),
            dlo.as_secs_f64(),
            dhi.as_secs_f64(),
            ratio,
            if (ratio - 1.0).abs() <= 0.05 {
                "within 5%"
            } else {
                "NOT within 5%"
            }
        );
    }
    println!("  site B's 429 answers during A's reports, all throttled runs: {b_429s}");
    ok
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("workspaces: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "machine: {} cores available, pid {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::process::id()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ok = runtime.block_on(async {
        let mut ok = true;
        if matches!(o.part, Part::All | Part::Memory) {
            ok &= memory(&o).await;
        }
        if matches!(o.part, Part::All | Part::Storm) {
            ok &= storm(&o).await;
        }
        if matches!(o.part, Part::All | Part::Isolation) {
            ok &= isolation(&o).await;
        }
        ok
    });
    drop(runtime);
    println!();
    if ok {
        println!("workspaces: every invariant held");
    } else {
        println!("workspaces: FAILED: an invariant is broken (see INVARIANT BROKEN above)");
        std::process::exit(1);
    }
}
