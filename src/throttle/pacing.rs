//! Pacing by scope: what Jira said about each limit (a hold after a 429, the budget left in
//! the current window), and how many requests are out in each scope right now.
//!
//! Atlassian asks apps both to pace themselves, so that they rarely meet a limit, and to
//! honour the headers when they do ("Build an app that respects rate limits"). A request
//! goes when, in every scope it falls in, no hold is on and fewer requests are out than
//! the window has left (`X-RateLimit-Remaining`): the ones out were not counted yet when
//! Jira computed it. A spent window waits for its `X-RateLimit-Reset`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::headers::Limits;
use super::scope::{Scope, Scopes};

/// The longest hold, for a delay that does not fit the clock.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);
/// Sent this long after a window's announced reset, not at it: the reset is read from a
/// clock and a formatted time, and a request there a hair early meets the old window.
const RESET_MARGIN: Duration = Duration::from_millis(5);
/// How long a waiter blocked by a window without a known reset sleeps before looking
/// again, if no answer wakes it first.
const RECHECK: Duration = Duration::from_millis(250);
/// How long a count of requests left, without a reset, is believed.
const STALE: Duration = Duration::from_secs(1);
/// Resets this close are one window's: each answer's is a time of day, written and read
/// against a clock a little later each time (and to the millisecond at best).
const SAME_WINDOW: Duration = Duration::from_millis(50);
/// Past this many scopes (one per issue written to), idle ones are forgotten.
const SWEEP_AT: usize = 256;

#[derive(Debug, Default)]
struct State {
    /// Nothing is sent before this (a 429's `Retry-After`).
    hold_until: Option<Instant>,
    /// The current window, as the latest answer described it.
    window: Option<Window>,
    /// Requests sent in this scope and not answered yet.
    out: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// Requests the window had left when Jira answered.
    remaining: u64,
    /// When it resets, if Jira said; if not, the count goes stale after [`STALE`].
    reset: Option<Instant>,
    /// When Jira said so.
    seen: Instant,
}

impl State {
    /// When a request in this scope may go; `None`: now.
    fn blocked_until(&self, now: Instant) -> Option<Instant> {
        if let Some(at) = self.hold_until.filter(|at| *at > now) {
            return Some(at);
        }
        let w = self.window?;
        match w.reset {
            Some(reset) if reset <= now => None,
            Some(reset) => (self.out as u64 >= w.remaining).then_some(reset + RESET_MARGIN),
            // No reset known: at least one request at a time finds out more, until the
            // count is too old to say anything.
            None if now >= w.seen + STALE => None,
            None => (self.out as u64 >= w.remaining.max(1)).then_some(now + RECHECK),
        }
    }

    fn idle(&self, now: Instant) -> bool {
        self.out == 0
            && self.hold_until.is_none_or(|at| at <= now)
            && self.window.is_none_or(|w| match w.reset {
                Some(reset) => reset <= now,
                None => now >= w.seen + STALE,
            })
    }
}

/// The pacing state of every scope a notifier has sent to.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    states: Mutex<HashMap<Scope, State>>,
    /// Woken when a scope may have opened before its deadline.
    changed: Notify,
}

impl Pacer {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Scope, State>) -> T) -> T {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut states)
    }

    /// When a request in these scopes may go; `None`: now.
    pub(crate) fn blocked_until(&self, scopes: &Scopes, now: Instant) -> Option<Instant> {
        self.with(|states| {
            scopes
                .all()
                .iter()
                .filter_map(|s| states.get(s).and_then(|st| st.blocked_until(now)))
                .max()
        })
    }

    /// Counts a request in: if it may go now, it is out in each of its scopes.
    pub(crate) fn try_start(&self, scopes: &Scopes, now: Instant) -> Result<(), Instant> {
        self.with(|states| {
            let blocked = scopes
                .all()
                .iter()
                .filter_map(|s| states.get(s).and_then(|st| st.blocked_until(now)))
                .max();
            if let Some(at) = blocked {
                return Err(at);
            }
            if states.len() >= SWEEP_AT && states.len().is_power_of_two() {
                states.retain(|_, st| !st.idle(now));
            }
            for s in scopes.all() {
                match states.get_mut(s) {
                    Some(st) => st.out += 1,
                    None => {
                        states.insert(
                            s.clone(),
                            State {
                                out: 1,
                                ..State::default()
                            },
                        );
                    }
                }
            }
            Ok(())
        })
    }

    /// A request is answered (or given up).
    pub(crate) fn finish(&self, scopes: &Scopes) {
        let opened = self.with(|states| {
            let now = Instant::now();
            let mut opened = false;
            for s in scopes.all() {
                if let Some(st) = states.get_mut(s) {
                    let was = st.blocked_until(now).is_some();
                    st.out = st.out.saturating_sub(1);
                    opened |= was && st.blocked_until(now).is_none();
                }
            }
            opened
        });
        if opened {
            self.changed.notify_waiters();
        }
    }

    /// What an answer said about the limit its reason names (all of Jira's limits of the
    /// site, when it names none).
    pub(crate) fn observe(&self, scopes: &Scopes, limits: &Limits) {
        if !limits.any() {
            return;
        }
        let scope = scopes.for_reason(limits.reason.as_deref()).clone();
        let now = Instant::now();
        let reset = limits
            .reset_after(SystemTime::now())
            .map(|d| now.checked_add(d).unwrap_or(now + FOREVER));
        // Without numbers, `NearLimit` still says to go gently: one at a time.
        let remaining = limits.remaining.unwrap_or(1);
        let newer = self.with(|states| {
            let st = states.entry(scope).or_default();
            let fresh = Window {
                remaining,
                reset,
                seen: now,
            };
            let (window, newer) = match st.window {
                // Answers come back out of order: within one window the lowest count is
                // the latest; an answer about an older window says nothing now.
                Some(old) => match (old.reset, reset) {
                    (Some(a), Some(b)) if b > a + SAME_WINDOW => (fresh, true),
                    (Some(a), Some(b)) if b + SAME_WINDOW < a => (old, false),
                    (Some(_), Some(_)) => (
                        Window {
                            remaining: old.remaining.min(remaining),
                            ..old
                        },
                        false,
                    ),
                    _ => (fresh, false),
                },
                None => (fresh, true),
            };
            st.window = Some(window);
            newer
        });
        if newer {
            self.changed.notify_waiters();
        }
    }

    /// Holds every request in `scope` back for `delay` (or longer, if a longer hold is on).
    pub(crate) fn hold(&self, scope: &Scope, delay: Duration) {
        // The delay comes from a `Retry-After`: an absurd one must not overflow the clock.
        let now = Instant::now();
        let until = now.checked_add(delay).unwrap_or(now + FOREVER);
        self.with(|states| {
            let st = states.entry(scope.clone()).or_default();
            if st.hold_until.is_none_or(|at| at < until) {
                st.hold_until = Some(until);
            }
        });
    }

    /// Something may have opened up.
    pub(crate) fn changed(&self) -> &Notify {
        &self.changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Method;
    use url::Url;

    fn scopes(path: &str, method: Method, op: &'static str) -> Scopes {
        let url = Url::parse(&format!("https://api.atlassian.com/ex/jira/c1{path}")).unwrap();
        Scopes::of(false, method, &url, op)
    }

    fn limits(reason: &str, remaining: u64, reset_in: Duration) -> Limits {
        Limits {
            reason: Some(reason.into()),
            limit: Some(100),
            remaining: Some(remaining),
            reset: Some(SystemTime::now() + reset_in),
            near_limit: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_window_waits_for_its_reset_and_only_in_its_scope() {
        let pacer = Pacer::default();
        let search = scopes("/rest/api/3/search/jql", Method::Post, "search");
        let create = scopes("/rest/api/3/issue", Method::Post, "create issue");
        let now = Instant::now();
        pacer.try_start(&search, now).unwrap();
        pacer.try_start(&search, now).unwrap();
        // Two left in the search's window; two are out: both spoken for.
        pacer.observe(
            &search,
            &limits("jira-burst-based", 2, Duration::from_millis(600)),
        );
        let at = pacer.blocked_until(&search, now).unwrap();
        assert!(at > now + Duration::from_millis(500), "{:?}", at - now);
        assert_eq!(pacer.blocked_until(&create, now), None);
        pacer.finish(&search);
        pacer.observe(
            &search,
            &limits("jira-burst-based", 1, Duration::from_millis(600)),
        );
        // One out, one left: blocked still; once it is back, one may go.
        assert!(pacer.blocked_until(&search, now).is_some());
        pacer.finish(&search);
        assert_eq!(pacer.blocked_until(&search, now), None);
        tokio::time::advance(Duration::from_millis(700)).await;
        assert_eq!(pacer.blocked_until(&search, Instant::now()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_limit_paces_every_endpoint_of_the_site() {
        let pacer = Pacer::default();
        let search = scopes("/rest/api/3/search/jql", Method::Post, "search");
        let create = scopes("/rest/api/3/issue", Method::Post, "create issue");
        let now = Instant::now();
        pacer.try_start(&search, now).unwrap();
        pacer.observe(
            &search,
            &limits("jira-quota-tenant-based", 0, Duration::from_secs(3)),
        );
        assert!(pacer.try_start(&create, now).is_err());
        // An older answer cannot reopen the window.
        pacer.observe(
            &search,
            &limits("jira-quota-tenant-based", 50, Duration::from_secs(1)),
        );
        assert!(pacer.blocked_until(&create, now).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn holds_are_per_scope_and_never_overflow() {
        let pacer = Pacer::default();
        let search = scopes("/rest/api/3/search/jql", Method::Post, "search");
        let create = scopes("/rest/api/3/issue", Method::Post, "create issue");
        let endpoint = search.for_reason(Some("jira-burst-based")).clone();
        pacer.hold(&endpoint, Duration::from_secs(5));
        pacer.hold(&endpoint, Duration::from_secs(1)); // shorter: ignored
        let now = Instant::now();
        assert_eq!(
            pacer.blocked_until(&search, now),
            Some(now + Duration::from_secs(5))
        );
        assert_eq!(pacer.blocked_until(&create, now), None);
        pacer.hold(&Scope::Auth, Duration::MAX);
        assert_eq!(pacer.blocked_until(&create, now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn near_limit_without_numbers_goes_one_at_a_time() {
        let pacer = Pacer::default();
        let search = scopes("/rest/api/3/search/jql", Method::Post, "search");
        let now = Instant::now();
        pacer.try_start(&search, now).unwrap();
        pacer.observe(
            &search,
            &Limits {
                near_limit: true,
                ..Limits::default()
            },
        );
        assert!(pacer.try_start(&search, now).is_err());
        pacer.finish(&search);
        assert!(pacer.try_start(&search, now).is_ok());
        assert!(pacer.try_start(&search, now).is_err());
        // A count without a reset is not believed for ever.
        tokio::time::advance(STALE).await;
        assert!(pacer.try_start(&search, Instant::now()).is_ok());
    }
}
