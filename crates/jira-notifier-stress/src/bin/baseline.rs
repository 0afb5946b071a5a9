//! The raw baseline for `examples/storm.rs`: the same storm, without the notifier.
//!
//! A hand-written loop sends, for each test's first report, the two requests a new
//! failure needs (`POST /rest/api/3/search/jql`, then `POST /rest/api/3/issue` when the
//! search finds nothing) straight to the `SimJira` transport, with the same round-trip
//! time, the same cap on requests in flight (a semaphore) and one token fetched up front.
//! Later reports of a test wait for its first one (a `OnceCell` per test), so the loop
//! sends the fewest requests possible: one token, then two per test. No store, no
//! claims, no retries beyond waiting out a `429`'s `Retry-After`.
//!
//! It prints in the storm's format, so the two can be compared line by line:
//!
//! ```sh
//! cargo run --release --bin baseline
//! cargo run --release --bin baseline -- --tests 100000 --reports 100000
//! ```
//!
//! Options: `--reports N --tests N --rtt-ms N --rate-limit N/SECS --max-in-flight N
//! --lag-ms N --seed N --message-bytes N` (or `STORM_*` environment variables), with the
//! storm's defaults.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_notifier::{HttpRequest, HttpResponse, HttpTransport, Method, DEFAULT_MAX_IN_FLIGHT};
use jira_notifier_sim::{RateLimit, SimJira};
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore};
use url::Url;

#[path = "../measure.rs"]
mod measure;
use measure::{
    cpu_time, in_rtts, kib_to_mib, message, mib, percentile, proc_kib, rate_limit, Flags,
    LIVE_BYTES, PEAK_BYTES,
};

// ----- options (the storm's) -----

struct Options {
    reports: usize,
    tests: usize,
    rtt: Duration,
    rate_limit: Option<RateLimit>,
    max_in_flight: usize,
    lag: Duration,
    seed: u64,
    message_bytes: usize,
}

const USAGE: &str = "usage: baseline [--reports N] [--tests N] [--rtt-ms N] [--rate-limit N/SECS] [--max-in-flight N] [--lag-ms N] [--seed N] [--message-bytes N]";

fn options() -> Result<Options, String> {
    let flags = Flags::parse("STORM", &[], USAGE)?;
    let get = |name: &str| flags.get(name);
    let num = |name: &str, default: u64| flags.num(name, default);
    let rate_limit = get("rate-limit")
        .map(|v| rate_limit(&v))
        .transpose()?
        .flatten();
    let o = Options {
        reports: num("reports", 10_000)? as usize,
        tests: num("tests", 1_000)? as usize,
        rtt: Duration::from_millis(num("rtt-ms", 50)?),
        rate_limit,
        max_in_flight: (num("max-in-flight", DEFAULT_MAX_IN_FLIGHT as u64)? as usize).max(1),
        lag: Duration::from_millis(num("lag-ms", 0)?),
        seed: num("seed", 1)?,
        message_bytes: num("message-bytes", 0)? as usize,
    };
    if o.tests == 0 || o.reports < o.tests {
        return Err("need at least one test, and at least one report per test".into());
    }
    Ok(o)
}

// ----- the hand-written loop -----

const API: &str = "https://api.atlassian.com";

struct Raw {
    sim: SimJira,
    gate: Semaphore,
    token: OnceCell<String>,
    search_url: Url,
    create_url: Url,
    project_id: String,
    issue_type_id: String,
    token_requests: AtomicU64,
    searches: AtomicU64,
    creates: AtomicU64,
    throttled: AtomicU64,
}

impl Raw {
    /// One POST under the cap, waiting out `429`s.
    async fn post(&self, url: &Url, body: Vec<u8>, bearer: Option<&str>) -> HttpResponse {
        loop {
            let mut headers = vec![
                ("accept".to_owned(), "application/json".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ];
            if let Some(t) = bearer {
                headers.push(("authorization".to_owned(), format!("Bearer {t}")));
            }
            let request = HttpRequest::new(Method::Post, url.clone())
                .with_headers(headers)
                .with_body(Some(body.clone()));
            let permit = self.gate.acquire().await.expect("never closed");
            let resp = self.sim.send(request).await.expect("the simulator answers");
            drop(permit);
            if resp.status == 429 {
                self.throttled.fetch_add(1, Relaxed);
                let secs = resp
                    .header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            return resp;
        }
    }

    async fn token(&self) -> &str {
        self.token
            .get_or_init(|| async {
                self.token_requests.fetch_add(1, Relaxed);
                let body = json!({
                    "grant_type": "client_credentials",
                    "client_id": SimJira::CLIENT_ID,
                    "client_secret": SimJira::CLIENT_SECRET,
                    "audience": "api.atlassian.com",
                });
                let url = Url::parse("https://auth.atlassian.com/oauth/token").unwrap();
                let resp = self.post(&url, body.to_string().into_bytes(), None).await;
                assert_eq!(resp.status, 200, "token request refused");
                let v: Value = serde_json::from_slice(&resp.body).unwrap();
                v["access_token"].as_str().unwrap().to_owned()
            })
            .await
    }

    /// Search, then create if nothing is open: `true` if it created the issue.
    async fn new_failure(&self, i: usize, message: &str) -> bool {
        let token = self.token().await;
        let label = format!("testclix-storm-{i:06}");
        let search = json!({
            "jql": format!("labels = \"{label}\" AND statusCategory != Done"),
            "fields": ["key", "status", "labels"],
            "maxResults": 10,
        });
        self.searches.fetch_add(1, Relaxed);
        let resp = self
            .post(
                &self.search_url,
                search.to_string().into_bytes(),
                Some(token),
            )
            .await;
        assert_eq!(resp.status, 200, "search refused");
        let found: Value = serde_json::from_slice(&resp.body).unwrap();
        if found["issues"].as_array().is_some_and(|a| !a.is_empty()) {
            return false;
        }
        let name = format!("Storm test number {i}");
        let url = format!("https://testclix.example/tests/storm-{i:06}");
        let link = |text: &str| json!({"type": "text", "text": text, "marks": [{"type": "link", "attrs": {"href": url}}]});
        let create = json!({
            "fields": {
                "project": {"id": self.project_id},
                "issuetype": {"id": self.issue_type_id},
                "summary": format!("Test Failed: {name}"),
                "description": {
                    "version": 1,
                    "type": "doc",
                    "content": [
                        {"type": "paragraph", "content": [
                            {"type": "text", "text": "Test "},
                            link(&name),
                            {"type": "text", "text": " failed with this error:"},
                        ]},
                        {"type": "codeBlock", "content": [{"type": "text", "text": message}]},
                        {"type": "paragraph", "content": [
                            {"type": "text", "text": "Open the test: "},
                            link(&url),
                        ]},
                    ],
                },
                "labels": ["automated-test", label],
            }
        });
        self.creates.fetch_add(1, Relaxed);
        let resp = self
            .post(
                &self.create_url,
                serde_json::to_vec(&create).unwrap(),
                Some(token),
            )
            .await;
        assert_eq!(
            resp.status,
            201,
            "create refused: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let created: Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(created["key"].is_string());
        true
    }
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("baseline: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ok = runtime.block_on(baseline(&o));
    drop(runtime);
    if !ok {
        std::process::exit(1);
    }
}

async fn baseline(o: &Options) -> bool {
    let rss_start = proc_kib("VmRSS");
    println!(
        "baseline (no notifier): {} reports over {} tests, rtt {} ms, rate limit {}, max in flight {}, search lag {} ms, seed {}",
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
    );

    let sim = SimJira::new();
    sim.set_record_requests(false);
    sim.set_search_lag(o.lag);
    sim.set_latency(o.rtt);
    sim.set_rate_limit(o.rate_limit);
    let cloud = SimJira::CLOUD_ID;
    let raw = Arc::new(Raw {
        sim: sim.clone(),
        gate: Semaphore::new(o.max_in_flight),
        token: OnceCell::new(),
        search_url: Url::parse(&format!("{API}/ex/jira/{cloud}/rest/api/3/search/jql")).unwrap(),
        create_url: Url::parse(&format!("{API}/ex/jira/{cloud}/rest/api/3/issue")).unwrap(),
        project_id: sim.project_id("QA").unwrap(),
        issue_type_id: sim.issue_type_id("QA", "Bug").unwrap(),
        token_requests: AtomicU64::new(0),
        searches: AtomicU64::new(0),
        creates: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
    });
    let firsts: Arc<Vec<OnceCell<bool>>> =
        Arc::new((0..o.tests).map(|_| OnceCell::new()).collect());
    let messages: Arc<Vec<String>> =
        Arc::new((0..o.tests).map(|i| message(i, o.message_bytes)).collect());
    let mut order: Vec<usize> = (0..o.reports).map(|r| r % o.tests).collect();
    fastrand::Rng::with_seed(o.seed).shuffle(&mut order);

    let rss_before = proc_kib("VmRSS");
    let heap_before = LIVE_BYTES.load(Relaxed);
    let cpu_before = cpu_time();
    // The storm's start gate: every report arrives once all are spawned.
    let (go, gate) = tokio::sync::watch::channel(false);
    let spawning = Instant::now();
    let mut handles = Vec::with_capacity(o.reports);
    for &t in &order {
        let (raw, firsts, messages) = (raw.clone(), firsts.clone(), messages.clone());
        let mut gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let _ = gate.wait_for(|open| *open).await;
            let arrived = Instant::now();
            let mine = AtomicBool::new(false);
            let created = *firsts[t]
                .get_or_init(|| async {
                    mine.store(true, Relaxed);
                    raw.new_failure(t, &messages[t]).await
                })
                .await;
            (arrived.elapsed(), created && mine.load(Relaxed))
        }));
    }
    let spawned_in = spawning.elapsed();
    let start = Instant::now();
    go.send_replace(true);
    let mut latencies = Vec::with_capacity(o.reports);
    let mut created = 0usize;
    for h in handles {
        let (latency, c) = h.await.expect("a report task panicked");
        latencies.push(latency);
        created += usize::from(c);
    }
    let wall = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let rss_after = proc_kib("VmRSS");
    let hwm = proc_kib("VmHWM");
    let heap_after = LIVE_BYTES.load(Relaxed);
    let heap_peak = PEAK_BYTES.load(Relaxed);
    latencies.sort_unstable();

    let issues = sim.issues();
    let labels: HashSet<&str> = issues
        .iter()
        .flat_map(|i| i.labels.iter())
        .map(String::as_str)
        .filter(|l| l.starts_with("testclix-"))
        .collect();
    let total_requests = sim.request_count();
    println!();
    println!("issues created: {}", issues.len());
    println!(
        "tests with an issue: {} of {} (issues beyond one per test: {})",
        labels.len(),
        o.tests,
        issues.len().saturating_sub(labels.len())
    );
    println!(
        "outcomes: created {created}, duplicate {}, other 0, errors 0",
        o.reports - created
    );
    println!("total requests: {total_requests}");
    println!(
        "requests by kind: token {}, search {}, create {}, other 0; 429 answers {}; peak in flight at the transport {}",
        raw.token_requests.load(Relaxed),
        raw.searches.load(Relaxed),
        raw.creates.load(Relaxed),
        raw.throttled.load(Relaxed),
        o.max_in_flight,
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
    println!("wall time: {:.3} s", wall.as_secs_f64());
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
        "heap (counting allocator): before the storm {}, peak {}, after {}",
        mib(heap_before as f64),
        mib(heap_peak as f64),
        mib(heap_after as f64),
    );
    issues.len() == o.tests && labels.len() == o.tests
}
