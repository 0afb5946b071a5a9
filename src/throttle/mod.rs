//! Pressure on Atlassian: a cap on requests in flight (creates first), and pacing by the
//! scope each rate limit covers, so that a storm of failures queues instead of tripping
//! Jira's limits, and a limit on one part slows only that part.
//!
//! - `scope.rs`: which part a limit covers (`RateLimit-Reason`), and which parts a request
//!   falls in.
//! - `headers.rs`: reading `X-RateLimit-*` and `RateLimit-Reason`.
//! - `pacing.rs`: per scope, holds after a 429 and the budget left in the window.
//! - `slots.rs`: the in-flight cap and its priority queue.
//!
//! Token requests go to the auth host: they take no slot and wait for nothing of Jira's,
//! and the auth host's own 429 holds back token requests only.

mod headers;
mod pacing;
mod scope;
mod slots;

use std::time::Duration;

use tokio::time::Instant;

#[cfg(any(test, fuzzing))]
pub(crate) use self::headers::parse_reset;
pub(crate) use self::headers::Limits;
use self::pacing::Pacer;
pub(crate) use self::scope::{Scope, Scopes};
pub(crate) use self::slots::Priority;
use self::slots::{Slot, Slots};
use crate::transport::HttpResponse;

/// The default cap on requests in flight to Jira, per notifier.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

#[derive(Debug)]
pub(crate) struct Gate {
    slots: Slots,
    pacer: Pacer,
}

/// Leave to send one request: its slot (none for the auth host) and its place in the
/// count of requests out per scope, both given back when dropped.
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    gate: &'a Gate,
    scopes: Scopes,
    _slot: Option<Slot<'a>>,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gate.pacer.finish(&self.scopes);
    }
}

impl Gate {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        Gate {
            slots: Slots::new(max_in_flight),
            pacer: Pacer::default(),
        }
    }

    /// Waits until a request in `scopes` may go: no hold on, budget left in every window
    /// it falls in, and (except for the auth host) a free slot. A wait longer than
    /// `max_wait` is not waited out: its length comes back as the error, for the host to
    /// retry after.
    pub(crate) async fn enter(
        &self,
        scopes: &Scopes,
        priority: Priority,
        max_wait: Duration,
    ) -> Result<Pass<'_>, Duration> {
        let slotted = !scopes.all().contains(&Scope::Auth);
        loop {
            self.paced(scopes, max_wait).await?;
            // A slot, then the budget again: it may have gone while waiting for the slot.
            let slot = if slotted {
                Some(self.slots.acquire(priority).await)
            } else {
                None
            };
            if self.pacer.try_start(scopes, Instant::now()).is_ok() {
                return Ok(Pass {
                    gate: self,
                    scopes: scopes.clone(),
                    _slot: slot,
                });
            }
            // Give the slot to someone whose scopes are open.
        }
    }

    /// Waits until no scope of the request is held or spent.
    async fn paced(&self, scopes: &Scopes, max_wait: Duration) -> Result<(), Duration> {
        // The common case, nothing held or spent: no waiter to register.
        if self.pacer.blocked_until(scopes, Instant::now()).is_none() {
            return Ok(());
        }
        loop {
            let changed = self.pacer.changed().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let Some(at) = self.pacer.blocked_until(scopes, now) else {
                return Ok(());
            };
            let left = at - now;
            if left > max_wait {
                return Err(left);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = changed => {}
            }
        }
    }

    /// Reads what an answer says about the limits of its request's scopes. On a 429 the
    /// scope its reason names is held back for `wait` (the answer's `Retry-After`, or
    /// else until its `X-RateLimit-Reset`, or else the policy's backoff).
    pub(crate) fn observe(&self, scopes: &Scopes, resp: &HttpResponse, wait: Option<Duration>) {
        let limits = Limits::of(resp);
        self.pacer.observe(scopes, &limits);
        if let Some(wait) = wait.filter(|_| resp.status == 429) {
            self.pacer
                .hold(scopes.for_reason(limits.reason.as_deref()), wait);
        }
    }

    /// Holds every request in `scope` back for `delay`.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn hold(&self, scope: &Scope, delay: Duration) {
        self.pacer.hold(scope, delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Method;
    use url::Url;

    fn jira(path: &str, method: Method, op: &'static str) -> Scopes {
        let url = Url::parse(&format!("https://api.atlassian.com/ex/jira/c1{path}")).unwrap();
        Scopes::of(false, method, &url, op)
    }

    fn search() -> Scopes {
        jira("/rest/api/3/search/jql", Method::Post, "search")
    }

    fn create() -> Scopes {
        jira("/rest/api/3/issue", Method::Post, "create issue")
    }

    fn token() -> Scopes {
        let url = Url::parse("https://auth.atlassian.com/oauth/token").unwrap();
        Scopes::of(true, Method::Post, &url, "token request")
    }

    const WAIT: Duration = Duration::from_secs(60);

    fn throttled(reason: &str) -> HttpResponse {
        HttpResponse::json(429, "{}").with_header("RateLimit-Reason", reason)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_limit_holds_back_its_endpoint_only() {
        let gate = Gate::new(2);
        gate.observe(
            &search(),
            &throttled("jira-burst-based"),
            Some(Duration::from_secs(5)),
        );
        let start = Instant::now();
        drop(gate.enter(&create(), Priority::First, WAIT).await.unwrap());
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(gate.enter(&search(), Priority::Normal, WAIT).await.unwrap());
        assert_eq!(start.elapsed(), Duration::from_secs(5) + Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_limit_or_an_unnamed_one_holds_back_the_whole_site() {
        for reason in ["jira-quota-tenant-based", "jira-quota-global-based", ""] {
            let gate = Gate::new(2);
            let resp = if reason.is_empty() {
                HttpResponse::json(429, "{}")
            } else {
                throttled(reason)
            };
            gate.observe(&search(), &resp, Some(Duration::from_secs(3)));
            let start = Instant::now();
            drop(gate.enter(&create(), Priority::First, WAIT).await.unwrap());
            assert_eq!(start.elapsed(), Duration::from_secs(3), "{reason:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_auth_host_and_jira_never_hold_each_other_back() {
        let gate = Gate::new(1);
        gate.observe(&token(), &throttled("x"), Some(Duration::from_secs(30)));
        let start = Instant::now();
        let busy = gate.enter(&search(), Priority::Normal, WAIT).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        gate.observe(
            &search(),
            &throttled("jira-quota-tenant-based"),
            Some(Duration::from_secs(30)),
        );
        // Jira's limit, and every slot taken: the token request still goes at once once
        // its own hold is over.
        tokio::time::advance(Duration::from_secs(30)).await;
        let t0 = Instant::now();
        drop(gate.enter(&token(), Priority::Normal, WAIT).await.unwrap());
        assert_eq!(t0.elapsed(), Duration::ZERO);
        drop(busy);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_caller_waits_is_returned() {
        let gate = Gate::new(2);
        gate.hold(&Scope::Site("c1".into()), Duration::from_secs(120));
        let left = gate
            .enter(&search(), Priority::Normal, WAIT)
            .await
            .unwrap_err();
        assert_eq!(left, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn caps_requests_in_flight() {
        let gate = Gate::new(1);
        let first = gate.enter(&search(), Priority::Normal, WAIT).await.unwrap();
        let waiting = tokio::time::timeout(
            Duration::from_millis(10),
            gate.enter(&create(), Priority::First, WAIT),
        )
        .await;
        assert!(
            waiting.is_err(),
            "a second request got in while one was in flight"
        );
        drop(first);
        assert!(tokio::time::timeout(
            Duration::from_millis(10),
            gate.enter(&create(), Priority::First, WAIT)
        )
        .await
        .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_budget_left_before_any_429() {
        let gate = Gate::new(8);
        let reset = std::time::SystemTime::now() + Duration::from_secs(1);
        let ok = |remaining: u64| {
            HttpResponse::json(200, "{}")
                .with_header("RateLimit-Reason", "jira-quota-tenant-based")
                .with_header("X-RateLimit-Limit", "10")
                .with_header("X-RateLimit-Remaining", remaining.to_string())
                .with_header("X-RateLimit-Reset", format_iso(reset))
        };
        let p1 = gate.enter(&search(), Priority::Normal, WAIT).await.unwrap();
        let p2 = gate.enter(&create(), Priority::First, WAIT).await.unwrap();
        // Two left in the window, both out: the next waits for the reset.
        gate.observe(&search(), &ok(2), None);
        let start = Instant::now();
        drop((p1, p2));
        let _p3 = gate.enter(&search(), Priority::Normal, WAIT).await.unwrap();
        assert!(start.elapsed() < Duration::from_millis(1), "two were free");
        gate.observe(&search(), &ok(0), None);
        let _p4 = gate.enter(&search(), Priority::Normal, WAIT).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(990),
            "{:?}",
            start.elapsed()
        );
    }

    fn format_iso(t: std::time::SystemTime) -> String {
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
        let secs = d.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        // Days to a civil date (Howard Hinnant's algorithm).
        let z = days as i64 + 719_468;
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
}
