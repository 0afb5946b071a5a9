//! Jira Cloud's rate limits, by scope, with the headers Jira sends
//! (developer.atlassian.com/cloud/jira/platform/rate-limiting/ and "Build an app that
//! respects rate limits"):
//!
//! | limit | counts | `RateLimit-Reason` |
//! |---|---|---|
//! | [`LimitScope::Site`] | every Jira request of the site (tenant) | `jira-quota-tenant-based` |
//! | [`LimitScope::Endpoint`] | one endpoint and method | `jira-burst-based` |
//! | [`LimitScope::IssueWrite`] | writes to one issue | `jira-per-issue-on-write` |
//!
//! Each counts in fixed windows of `per`. Every answer to a limited request carries the
//! window of its tightest limit: `RateLimit-Reason`, `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601) and, below a fifth of the
//! budget, `X-RateLimit-NearLimit: true`. A request past a limit gets `429` with
//! `Retry-After` (whole seconds, rounded up) and changes nothing.
//!
//! Atlassian's page shows the reset as `yyyy-MM-ddTHH:mmZ`; the simulation writes it to the
//! millisecond (`yyyy-MM-ddTHH:mm:ss.SSSZ`, also ISO 8601), since its windows are as short
//! as a second. The auth host has a limit of its own ([`SimJira::set_auth_rate_limit`]).
//!
//! [`SimJira::set_auth_rate_limit`]: crate::SimJira::set_auth_rate_limit

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::clock;
use super::model::{LimitScope, RateLimit};
use super::reply;
use jira_notifier::{HttpResponse, Method};

/// A fixed-window counter.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    started: Option<Instant>,
    used: u32,
}

impl Window {
    /// Rolls the window over if it ended; then whether one more request fits.
    fn fits(&mut self, limit: RateLimit, now: Instant) -> bool {
        let expired = self
            .started
            .is_none_or(|start| now.saturating_duration_since(start) >= limit.per);
        if expired {
            self.started = Some(now);
            self.used = 0;
        }
        self.used < limit.max_requests
    }

    fn ends(&self, limit: RateLimit, now: Instant) -> Instant {
        self.started.unwrap_or(now) + limit.per
    }
}

/// Where one limit stands for one request, after it was counted (or refused).
#[derive(Debug, Clone, Copy)]
struct Standing {
    limit: RateLimit,
    remaining: u32,
    ends: Instant,
}

/// The limits on Jira requests and on the auth host, and their windows.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limits: Vec<RateLimit>,
    windows: HashMap<(usize, String), Window>,
    auth: Option<RateLimit>,
    auth_window: Window,
}

impl Limiter {
    /// Replaces every Jira limit.
    pub(crate) fn set(&mut self, limit: Option<RateLimit>) {
        self.limits = limit.into_iter().collect();
        self.windows.clear();
    }

    pub(crate) fn add(&mut self, limit: RateLimit) {
        self.limits.push(limit);
    }

    pub(crate) fn set_auth(&mut self, limit: Option<RateLimit>) {
        self.auth = limit;
        self.auth_window = Window::default();
    }

    /// Counts a Jira request (the path after `/ex/jira/{cloudId}`, split) against every
    /// limit it falls under. `Err`: the 429 to answer, and nothing was counted. `Ok`: the
    /// headers to put on the answer.
    pub(crate) fn admit(
        &mut self,
        cloud_id: &str,
        method: Method,
        rest: &[&str],
        now: Instant,
    ) -> Result<Vec<(String, String)>, HttpResponse> {
        let mut applies = Vec::new();
        for (i, limit) in self.limits.iter().enumerate() {
            if let Some(key) = key_of(limit.scope, cloud_id, method, rest) {
                applies.push((i, *limit, key));
            }
        }
        // Refused by any limit: none counts it.
        for (i, limit, key) in &applies {
            let w = self.windows.entry((*i, key.clone())).or_default();
            if !w.fits(*limit, now) {
                let standing = Standing {
                    limit: *limit,
                    remaining: 0,
                    ends: w.ends(*limit, now),
                };
                return Err(too_many(standing, now));
            }
        }
        let mut tightest: Option<Standing> = None;
        for (i, limit, key) in applies {
            let w = self.windows.entry((i, key)).or_default();
            w.used += 1;
            let s = Standing {
                limit,
                remaining: limit.max_requests - w.used,
                ends: w.ends(limit, now),
            };
            let tighter = tightest.is_none_or(|t| {
                u64::from(s.remaining) * u64::from(t.limit.max_requests.max(1))
                    < u64::from(t.remaining) * u64::from(s.limit.max_requests.max(1))
            });
            if tighter {
                tightest = Some(s);
            }
        }
        Ok(tightest.map_or_else(Vec::new, |s| headers(s, now)))
    }

    /// Counts a token request; `Err`: the auth host's 429.
    pub(crate) fn admit_auth(&mut self, now: Instant) -> Result<(), HttpResponse> {
        let Some(limit) = self.auth else {
            return Ok(());
        };
        if !self.auth_window.fits(limit, now) {
            let wait = self.auth_window.ends(limit, now) - now;
            return Err(
                reply::oauth_error(429, "too_many_requests", "Rate limit exceeded")
                    .with_header("retry-after", ceil_secs(wait).to_string()),
            );
        }
        self.auth_window.used += 1;
        Ok(())
    }
}

/// The window key a request has under a limit of this scope; `None` if the limit does not
/// count it.
fn key_of(scope: LimitScope, cloud_id: &str, method: Method, rest: &[&str]) -> Option<String> {
    match scope {
        LimitScope::Site => Some(cloud_id.to_owned()),
        LimitScope::Endpoint => Some(format!("{cloud_id} {method} {}", template(rest))),
        LimitScope::IssueWrite => {
            if method == Method::Get {
                return None;
            }
            // `/rest/api/3/issue/{idOrKey}/...`: a write to that issue (a create is not).
            let at = rest.iter().position(|s| *s == "issue")?;
            let issue = rest.get(at + 1).filter(|s| !s.is_empty())?;
            Some(format!("{cloud_id} {}", issue.to_uppercase()))
        }
    }
}

/// An endpoint's path with its variable parts (keys, ids) blanked: `issue/QA-1` and
/// `issue/QA-2` are one endpoint.
fn template(rest: &[&str]) -> String {
    const WORDS: &[&str] = &[
        "rest",
        "api",
        "3",
        "search",
        "jql",
        "issue",
        "project",
        "createmeta",
        "issuetypes",
        "user",
        "assignable",
        "myself",
        "serverInfo",
        "comment",
        "transitions",
        "resolution",
        "mypermissions",
        "field",
        "issuetype",
    ];
    rest.iter()
        .map(|s| if WORDS.contains(s) { *s } else { "{}" })
        .collect::<Vec<_>>()
        .join("/")
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// The rate-limit headers of a standing.
fn headers(s: Standing, now: Instant) -> Vec<(String, String)> {
    let reset = SystemTime::now() + s.ends.saturating_duration_since(now);
    let mut h = vec![
        (
            "ratelimit-reason".to_owned(),
            s.limit.scope.reason().to_owned(),
        ),
        (
            "x-ratelimit-limit".to_owned(),
            s.limit.max_requests.to_string(),
        ),
        ("x-ratelimit-remaining".to_owned(), s.remaining.to_string()),
        (
            "x-ratelimit-reset".to_owned(),
            clock::iso_millis_ceil(reset),
        ),
    ];
    // "less than 20% budget for calls remain" (Rate limiting).
    if u64::from(s.remaining) * 5 < u64::from(s.limit.max_requests) {
        h.push(("x-ratelimit-nearlimit".to_owned(), "true".to_owned()));
    }
    h
}

/// Jira's 429.
fn too_many(s: Standing, now: Instant) -> HttpResponse {
    let wait = s.ends.saturating_duration_since(now);
    reply::jira_errors(429, &["Rate limit exceeded.".to_owned()])
        .with_header("retry-after", ceil_secs(wait).to_string())
        .with_headers(headers(s, now))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{get, send, token_for, Client, GATEWAY};
    use crate::{RateLimit, SimJira};

    #[tokio::test(start_paused = true)]
    async fn a_site_limit_counts_every_endpoint_and_says_so() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        sim.set_rate_limit(Some(RateLimit::new(3, Duration::from_secs(1))));
        let url = format!("{GATEWAY}/rest/api/3/myself");
        let first = send(&sim, get(&url, Some(&c.token))).await;
        assert_eq!(first.status, 200);
        assert_eq!(
            first.header("ratelimit-reason"),
            Some("jira-quota-tenant-based")
        );
        assert_eq!(first.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(first.header("x-ratelimit-remaining"), Some("2"));
        assert!(first.header("x-ratelimit-nearlimit").is_none());
        let reset = first.header("x-ratelimit-reset").unwrap();
        assert!(reset.ends_with('Z') && reset.len() == 24, "{reset}");
        assert_eq!(c.search(json!({"jql": "project = QA"})).await.0, 200);
        let third = send(&sim, get(&url, Some(&c.token))).await;
        assert_eq!(third.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(third.header("x-ratelimit-nearlimit"), Some("true"));
        let refused = send(&sim, get(&url, Some(&c.token))).await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("retry-after"), Some("1"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(send(&sim, get(&url, Some(&c.token))).await.status, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_limit_counts_each_endpoint_and_method_apart() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        sim.set_rate_limit(Some(RateLimit::burst(1, Duration::from_secs(10))));
        assert_eq!(c.get("/rest/api/3/issue/QA-1").await.0, 404);
        // Another key is the same endpoint.
        let url = format!("{GATEWAY}/rest/api/3/issue/QA-2");
        let refused = send(&sim, get(&url, Some(&c.token))).await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("ratelimit-reason"), Some("jira-burst-based"));
        assert_eq!(refused.header("retry-after"), Some("10"));
        // Other endpoints have budgets of their own.
        assert_eq!(c.search(json!({"jql": "project = QA"})).await.0, 200);
        assert_eq!(c.get("/rest/api/3/myself").await.0, 200);
        c.create("x", &[]).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_per_issue_write_limit_counts_writes_to_one_issue() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("x", &[]).await;
        sim.set_rate_limit(Some(RateLimit::per_issue_write(1, Duration::from_secs(5))));
        // Reads and creates are not writes to an issue.
        for _ in 0..3 {
            assert_eq!(c.get("/rest/api/3/issue/QA-1").await.0, 200);
            c.create("y", &[]).await;
        }
        let (status, _) = c.post("/rest/api/3/issue/QA-1/comment", json!({})).await;
        assert_ne!(status, 429);
        let res = c.post_raw("/rest/api/3/issue/qa-1/comment", b"{}").await;
        assert_eq!(res.status, 429);
        assert_eq!(
            res.header("ratelimit-reason"),
            Some("jira-per-issue-on-write")
        );
        let (status, _) = c.post("/rest/api/3/issue/QA-2/comment", json!({})).await;
        assert_ne!(status, 429);
    }

    #[tokio::test(start_paused = true)]
    async fn the_auth_host_has_a_limit_of_its_own() {
        let sim = SimJira::new();
        sim.set_auth_rate_limit(Some(RateLimit::new(1, Duration::from_secs(30))));
        let token = token_for(&sim).await;
        let grant = json!({"grant_type": "client_credentials",
                           "client_id": SimJira::CLIENT_ID, "client_secret": SimJira::CLIENT_SECRET});
        let res = send(
            &sim,
            crate::testing::post("https://auth.atlassian.com/oauth/token", None, grant),
        )
        .await;
        assert_eq!(res.status, 429);
        assert_eq!(res.header("retry-after"), Some("30"));
        // Jira is not limited by it.
        let me = format!("{GATEWAY}/rest/api/3/myself");
        for _ in 0..5 {
            assert_eq!(send(&sim, get(&me, Some(&token))).await.status, 200);
        }
    }
}
