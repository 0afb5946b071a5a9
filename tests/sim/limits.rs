//! Rate limits by scope (issue 9), against the simulated Jira sending Jira's headers, on
//! tokio's paused clock: when each request reached Jira is read from the simulator's log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jira_notifier::{
    Credentials, HttpRequest, HttpResponse, HttpTransport, JiraNotifier, MemoryStore, Method,
    Outcome, TransportError,
};
use jira_notifier_sim::{Fault, RateLimit, SimJira};
use tokio::time::Instant;

use crate::support::*;

/// The simulated Jira, counting the 429 answers it gives.
#[derive(Debug, Clone)]
struct Counting {
    sim: SimJira,
    throttled: Arc<AtomicUsize>,
}

#[async_trait]
impl HttpTransport for Counting {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let answer = self.sim.send(request).await;
        if matches!(&answer, Ok(r) if r.status == 429) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }
}

fn counting(jira: &SimJira) -> (Counting, Arc<AtomicUsize>) {
    let throttled = Arc::new(AtomicUsize::new(0));
    (
        Counting {
            sim: jira.clone(),
            throttled: throttled.clone(),
        },
        throttled,
    )
}

fn build(transport: impl HttpTransport + 'static, in_flight: usize) -> JiraNotifier {
    JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(transport)
        .retry_policy(policy(Duration::from_secs(8)))
        .max_concurrent_requests(in_flight)
        .build()
        .unwrap()
}

fn creds() -> Credentials {
    Credentials::new(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET.to_owned())
}

/// When the first request whose path ends so reached Jira, after `since`.
fn first_at(jira: &SimJira, suffix: &str, since: Instant) -> Instant {
    jira.requests()
        .iter()
        .filter(|r| r.path.ends_with(suffix) && r.at >= since)
        .map(|r| r.at)
        .min()
        .unwrap_or_else(|| panic!("no request to {suffix}"))
}

#[tokio::test(start_paused = true)]
async fn a_burst_limit_on_one_endpoint_holds_back_that_endpoint_only() {
    let jira = SimJira::new();
    let n = build(jira.clone(), 8);
    setup(&n).await;
    jira.set_rate_limit(Some(RateLimit::burst(1, Duration::from_secs(10))));
    n.on_test_error(&test("a"), &failed()).await.unwrap();
    // The search endpoint's window is spent: test b's search is answered 429 with a
    // 10-second Retry-After and waits it out.
    let t0 = Instant::now();
    let b = {
        let n = n.clone();
        tokio::spawn(async move { n.on_test_error(&test("b"), &failed()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Another endpoint of the same site is not held back by it.
    let projects = n.projects().await.unwrap();

    assert!(!projects.is_empty());
    assert!(first_at(&jira, "/project/search", t0) < t0 + Duration::from_secs(1));
    assert!(matches!(b.await.unwrap().unwrap(), Outcome::Created(_)));
}

#[tokio::test(start_paused = true)]
async fn token_requests_never_wait_behind_a_limit_of_jiras() {
    let jira = SimJira::new();
    let n = build(jira.clone(), 8);
    setup(&n).await;
    jira.set_rate_limit(Some(RateLimit::new(1, Duration::from_secs(30))));
    jira.clear_requests();
    let t0 = Instant::now();
    // The search spends the site's window; the create gets 429 for 30 s.
    let a = {
        let n = n.clone();
        tokio::spawn(async move { n.on_test_error(&test("a"), &failed()).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Meanwhile the token is revoked, and site discovery (the gateway, not the site)
    // needs a new one.
    jira.expire_tokens();

    let sites = n.discover_sites(&creds()).await.unwrap();

    assert_eq!(sites.len(), 1);
    let token_at = first_at(&jira, "/oauth/token", t0);
    assert!(
        token_at < t0 + Duration::from_secs(2),
        "{:?}",
        token_at - t0
    );
    assert!(matches!(a.await.unwrap().unwrap(), Outcome::Created(_)));
}

#[tokio::test(start_paused = true)]
async fn a_429_from_the_auth_host_while_renewing_never_stops_jira_calls() {
    let jira = SimJira::new();
    jira.set_token_lifetime(Duration::from_secs(600));
    // One token per 1,000 s: the renewal a minute before the first token expires is
    // refused for long.
    jira.set_auth_rate_limit(Some(RateLimit::new(1, Duration::from_secs(1_000))));
    let n = build(jira.clone(), 8);
    setup(&n).await;
    tokio::time::sleep(Duration::from_secs(545)).await;

    // The token is due for renewal but still valid: the report goes on with it.
    let o = n.on_test_error(&test("a"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    let again = n.on_test_error(&test("b"), &failed()).await.unwrap();
    assert!(matches!(again, Outcome::Created(_)), "{again:?}");
    // One refused renewal, not one per call.
    let token_requests = jira
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .count();
    assert_eq!(token_requests, 2, "the first token, one refused renewal");
}

// Real time: `X-RateLimit-Reset` is a time of day, read against the system clock, which
// tokio's paused clock does not move.
#[tokio::test]
async fn requests_are_paced_to_the_budget_jira_says_is_left_before_any_429() {
    let jira = SimJira::new();
    jira.set_latency(Duration::from_millis(5));
    let (transport, throttled) = counting(&jira);
    let n = build(transport, 8);
    setup(&n).await;
    jira.set_rate_limit(Some(RateLimit::new(10, Duration::from_millis(300))));

    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..30 {
        let n = n.clone();
        tasks.spawn(async move { n.on_test_error(&test(&format!("t{t}")), &failed()).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(r.unwrap().unwrap().issue().is_some());
    }

    assert_eq!(jira.issues().len(), 30);
    assert_eq!(throttled.load(Ordering::Relaxed), 0, "no 429 at all");
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_waits_until_its_reset() {
    let jira = SimJira::new();
    let n = build(jira.clone(), 8);
    setup(&n).await;
    let reset = std::time::SystemTime::now() + Duration::from_secs(20);
    jira.inject(
        Fault::status(Method::Post, "/rest/api/3/search/jql", 429)
            .header("RateLimit-Reason", "jira-burst-based")
            .header("X-RateLimit-Reset", iso(reset)),
    );
    let t0 = Instant::now();

    let o = n.on_test_error(&test("a"), &failed()).await.unwrap();

    assert!(o.issue().is_some());
    let searches: Vec<Instant> = jira
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/search/jql") && r.at >= t0)
        .map(|r| r.at)
        .collect();
    assert_eq!(searches.len(), 2);
    // Not the policy's backoff (tens of milliseconds): the window's reset.
    assert!(searches[1] - searches[0] >= Duration::from_secs(19));
}

#[tokio::test(start_paused = true)]
async fn a_create_goes_before_reads_that_were_waiting() {
    let jira = SimJira::new();
    jira.set_latency(Duration::from_millis(100));
    let n = build(jira.clone(), 1);
    setup(&n).await;
    jira.clear_requests();
    // One request at a time: two reports, then the settings screen asks for lists while
    // the first report's search is in flight.
    let mut reports = tokio::task::JoinSet::new();
    for id in ["a", "b"] {
        let n = n.clone();
        reports.spawn(async move { n.on_test_error(&test(id), &failed()).await });
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut lists = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let n = n.clone();
        lists.spawn(async move { n.projects().await });
    }
    while let Some(r) = reports.join_next().await {
        assert!(r.unwrap().unwrap().issue().is_some());
    }
    while let Some(r) = lists.join_next().await {
        r.unwrap().unwrap();
    }
    // Each create waits for a slot behind reads queued before it, and still goes first.
    let order: Vec<&str> = jira
        .requests()
        .iter()
        .map(|r| {
            if r.path.ends_with("/search/jql") {
                "search"
            } else if r.path.ends_with("/rest/api/3/issue") {
                "create"
            } else {
                "list"
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(
        order,
        ["search", "search", "create", "create", "list", "list", "list"]
    );
}

/// ISO 8601 with milliseconds, as the simulated Jira writes `X-RateLimit-Reset`.
fn iso(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}
