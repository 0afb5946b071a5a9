//! [`LocalClaims`]: create claims for a store that only one process uses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{ClaimOwner, TestId};

/// An in-process table of create claims, for a [`ConfigStore`](crate::ConfigStore) that
/// **only one process** uses (an embedded database, a file of the host's own).
///
/// [`ConfigStore::claim_create`](crate::ConfigStore::claim_create) has no default body on
/// purpose: a default that granted every claim would let two replicas sharing a database
/// both create a test's issue. A store that is shared by several processes must take the
/// claim in the shared database (see the README's "Running several replicas"); one that is
/// not can delegate to this table in two lines:
///
/// ```
/// # use std::time::Duration;
/// # use jira_notifier::{ClaimOwner, LocalClaims, TestId};
/// let claims = LocalClaims::new();
/// let (test, me, other) = (TestId::new("t"), ClaimOwner::new("me"), ClaimOwner::new("other"));
/// assert_eq!(claims.claim(&test, &me, Duration::from_secs(60)), None); // granted
/// assert!(claims.claim(&test, &other, Duration::from_secs(60)).is_some()); // busy
/// claims.release(&test, &me);
/// assert_eq!(claims.claim(&test, &other, Duration::from_secs(60)), None);
/// ```
///
/// Leases run on tokio's clock, so tests on a paused clock see them expire. Expired
/// claims are swept when the table has doubled since the last sweep: a claim costs O(1)
/// however many are live.
#[derive(Debug, Default)]
pub struct LocalClaims {
    state: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    claims: HashMap<TestId, (ClaimOwner, Instant)>,
    sweep_at: usize,
}

/// A lease too long for the clock is as good as for ever.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);

impl LocalClaims {
    /// An empty table.
    pub fn new() -> Self {
        LocalClaims::default()
    }

    /// Claims `test` for `owner` for `lease`: `None` when granted (or renewed, for the
    /// holder), or how long the other holder's lease still runs.
    pub fn claim(&self, test: &TestId, owner: &ClaimOwner, lease: Duration) -> Option<Duration> {
        let mut t = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if t.claims.len() >= t.sweep_at.max(1024) {
            t.claims.retain(|_, (_, until)| *until > now);
            t.sweep_at = t.claims.len() * 2;
        }
        match t.claims.get(test) {
            Some((holder, until)) if holder != owner && *until > now => Some(*until - now),
            _ => {
                let until = now.checked_add(lease).unwrap_or(now + FOREVER);
                t.claims.insert(test.clone(), (owner.clone(), until));
                None
            }
        }
    }

    /// Releases `owner`'s claim on `test`; a claim someone else holds is left alone.
    pub fn release(&self, test: &TestId, owner: &ClaimOwner) {
        let mut t = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if t.claims
            .get(test)
            .is_some_and(|(holder, _)| holder == owner)
        {
            t.claims.remove(test);
        }
    }

    /// How many claims the table holds, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .claims
            .len()
    }

    /// Whether the table holds no claim.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lease_runs_out_and_the_holder_renews_its_own() {
        let c = LocalClaims::new();
        let t = TestId::new("t");
        let (a, b) = (ClaimOwner::new("a"), ClaimOwner::new("b"));
        assert_eq!(c.claim(&t, &a, Duration::from_secs(10)), None);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(
            c.claim(&t, &b, Duration::from_secs(10)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(c.claim(&t, &a, Duration::from_secs(10)), None, "renewed");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(c.claim(&t, &b, Duration::from_secs(10)), None, "taken over");
        c.release(&t, &a);
        assert!(
            c.claim(&t, &a, Duration::from_secs(1)).is_some(),
            "b's claim stays"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expired_claims_are_swept_once_the_table_doubles() {
        let c = LocalClaims::new();
        let me = ClaimOwner::new("me");
        for i in 0..2000 {
            c.claim(&TestId::new(i.to_string()), &me, Duration::from_secs(1));
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for i in 0..100 {
            c.claim(&TestId::new(format!("x{i}")), &me, Duration::from_secs(60));
        }
        assert!(c.len() < 2000, "{} claims kept", c.len());
        assert!(c.claim(&TestId::new("huge"), &me, Duration::MAX).is_none());
    }
}
