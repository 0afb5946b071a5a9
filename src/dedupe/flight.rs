//! Single-flight per test: concurrent reports of the same test of the same workspace in
//! one process wait for the first, and get its issue without asking Jira again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::outcome::IssueRef;
use crate::store::WorkspaceId;

type Slot = Arc<AsyncMutex<Option<Landing>>>;

/// What a report in flight left for those waiting behind it.
#[derive(Debug, Clone)]
struct Landing {
    issue: IssueRef,
    /// Whether each repeat must still be counted in the store (a repeat policy is on), so
    /// that a repeat comment's count holds every failure.
    counts: bool,
}
/// A test of a workspace: two workspaces' tests of the same id are different tests.
type Key = (WorkspaceId, String);

/// The reports in flight, by workspace and test id. An entry lives only while someone holds or waits
/// for it, so the map stays as small as the number of tests being reported right now.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<Key, Slot>>,
}

/// The right to report one test; others reporting it wait until it is dropped.
pub(crate) struct Boarding<'a> {
    flights: &'a Flights,
    key: Key,
    slot: Slot,
    guard: Option<OwnedMutexGuard<Option<Landing>>>,
}

impl Flights {
    /// Waits until no other report of the workspace's `test_id` is in flight.
    pub(crate) async fn board(&self, workspace: &WorkspaceId, test_id: &str) -> Boarding<'_> {
        let key = (workspace.clone(), test_id.to_owned());
        let slot = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        Boarding {
            flights: self,
            key,
            slot,
            guard: Some(guard),
        }
    }

    /// How many tests have a report in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    /// How many entries the map has room for.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.map.lock().unwrap().capacity()
    }
}

impl Boarding<'_> {
    /// The issue a report that was in flight while this one waited made or found.
    pub(crate) fn landed(&self) -> Option<&IssueRef> {
        self.landing().map(|l| &l.issue)
    }

    /// Whether the issue that landed needs each repeat counted in the store.
    pub(crate) fn landed_counting(&self) -> bool {
        self.landing().is_some_and(|l| l.counts)
    }

    fn landing(&self) -> Option<&Landing> {
        self.guard.as_ref().and_then(|g| g.as_ref())
    }

    /// Tells the reports waiting behind this one which issue stands for the test, and
    /// whether each repeat must still be counted in the store.
    pub(crate) fn land_with(&mut self, issue: &IssueRef, counts: bool) {
        if let Some(g) = self.guard.as_mut() {
            **g = Some(Landing {
                issue: issue.clone(),
                counts,
            });
        }
    }
}

impl Drop for Boarding<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let mut map = self.flights.map.lock().unwrap_or_else(|e| e.into_inner());
        // The map and this boarding hold the slot; any more means someone is waiting.
        if Arc::strong_count(&self.slot) == 2 {
            map.remove(&self.key);
            // A storm leaves a map sized for its peak: give the room back once it has
            // passed, so what the notifier keeps does not grow with the tests seen.
            let len = map.len();
            if map.capacity() > 64 && len * 4 < map.capacity() {
                map.shrink_to(len * 2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ws() -> WorkspaceId {
        WorkspaceId::default()
    }

    fn issue(key: &str) -> IssueRef {
        IssueRef {
            id: "1".into(),
            key: key.into(),
            url: String::new(),
        }
    }

    #[tokio::test]
    async fn waiters_see_the_first_result_and_the_map_empties() {
        let flights = Arc::new(Flights::default());
        let mut first = flights.board(&ws(), "t").await;
        assert!(first.landed().is_none());
        let f2 = flights.clone();
        let waiter = tokio::spawn(async move {
            let b = f2.board(&ws(), "t").await;
            b.landed().map(|i| i.key.clone())
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the second report did not wait");
        first.land_with(&issue("QA-1"), false);
        drop(first);
        assert_eq!(waiter.await.unwrap().as_deref(), Some("QA-1"));
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn the_map_gives_back_its_room_after_a_storm() {
        let flights = Flights::default();
        let mut held = Vec::new();
        for i in 0..10_000 {
            held.push(flights.board(&ws(), &format!("t{i}")).await);
        }
        assert!(flights.capacity() >= 10_000);
        drop(held);
        assert_eq!(flights.len(), 0);
        assert!(
            flights.capacity() <= 128,
            "kept room for {}",
            flights.capacity()
        );
    }

    #[tokio::test]
    async fn other_tests_do_not_wait_and_failures_pass_nothing_on() {
        let flights = Flights::default();
        let a = flights.board(&ws(), "a").await;
        let b = tokio::time::timeout(Duration::from_millis(50), flights.board(&ws(), "b")).await;
        assert!(b.is_ok(), "another test waited");
        drop(b);
        drop(a); // failed: landed nothing
        let again = flights.board(&ws(), "a").await;
        assert!(again.landed().is_none());
        drop(again);
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn the_same_test_id_in_two_workspaces_flies_apart() {
        let flights = Flights::default();
        let acme = WorkspaceId::new("acme");
        let _a = flights.board(&ws(), "t").await;
        // Would wait for ever if the two were one flight.
        let b = tokio::time::timeout(Duration::from_secs(5), flights.board(&acme, "t")).await;
        assert!(
            b.is_ok(),
            "another workspace's report of the same id waited"
        );
        assert_eq!(flights.len(), 2);
    }
}
