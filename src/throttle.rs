//! Pressure on Jira: a cap on requests in flight, and one shared slow-down when Jira
//! answers 429, so that a storm of failures queues instead of tripping burst limits.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The default cap on requests in flight to each Jira site.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// The longest slow-down, for a delay that does not fit the clock.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);

#[derive(Debug)]
pub(crate) struct Gate {
    permits: Semaphore,
    resume_at: Mutex<Option<Instant>>,
}

impl Gate {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        Gate {
            permits: Semaphore::new(max_in_flight.max(1)),
            resume_at: Mutex::new(None),
        }
    }

    /// Waits for a free slot and for any shared slow-down to pass. A slow-down longer
    /// than `max_wait` is not waited out: its remaining time comes back as the error, for
    /// the host to retry after.
    pub(crate) async fn enter(&self, max_wait: Duration) -> Result<SemaphorePermit<'_>, Duration> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the gate's semaphore is never closed");
        loop {
            let resume_at = *self.resume_at.lock().unwrap_or_else(|e| e.into_inner());
            match resume_at {
                Some(at) if at > Instant::now() => {
                    let left = at - Instant::now();
                    if left > max_wait {
                        return Err(left);
                    }
                    tokio::time::sleep_until(at).await;
                }
                _ => break,
            }
        }
        Ok(permit)
    }

    /// Holds every request back for `delay` (or longer, if a longer slow-down is on).
    pub(crate) fn slow_down(&self, delay: Duration) {
        // The delay comes from a `Retry-After`: an absurd one must not overflow the clock.
        let now = Instant::now();
        let until = now.checked_add(delay).unwrap_or_else(|| now + FOREVER);
        let mut guard = self.resume_at.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|at| at < until) {
            *guard = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slow_down_holds_everyone() {
        let gate = Gate::new(2);
        let start = Instant::now();
        gate.slow_down(Duration::from_secs(5));
        gate.slow_down(Duration::from_secs(1)); // shorter: ignored
        let _p = gate.enter(Duration::from_secs(60)).await.unwrap();
        assert!(Instant::now() - start >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_down_longer_than_the_caller_waits_is_returned() {
        let gate = Gate::new(2);
        gate.slow_down(Duration::from_secs(120));
        let left = gate.enter(Duration::from_secs(60)).await.unwrap_err();
        assert_eq!(left, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn caps_requests_in_flight() {
        let gate = Gate::new(1);
        let wait = Duration::from_secs(1);
        let first = gate.enter(wait).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(10), gate.enter(wait)).await;
        assert!(
            waiting.is_err(),
            "a second request got in while one was in flight"
        );
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), gate.enter(wait))
                .await
                .is_ok()
        );
    }
}
