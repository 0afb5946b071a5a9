//! A test's life between reports, as the store keeps it: failures not yet commented, the
//! failing streak, passes in a row. Changed only by compare-and-swap
//! ([`ConfigStore::swap_test_state`](crate::ConfigStore::swap_test_state)), so that of
//! several replicas exactly one posts each comment, as one creates each issue.

#[cfg(test)]
use std::time::Duration;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::policy::{Lifecycle, OnPass, OnRepeat};
use crate::clock::{from_ms, to_ms};
use crate::issue::text;

/// How much of the last error message the state keeps (Jira length): what a repeat
/// comment quotes, bounded like the description.
const MESSAGE_KEPT: usize = 2000;

/// A test's life between reports. Opaque: a store keeps it as it serialises (JSON), next
/// to its version; see [`ConfigStore::swap_test_state`](crate::ConfigStore::swap_test_state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestState {
    /// The issue the interval and counts are about: another issue starts them afresh.
    #[serde(skip_serializing_if = "String::is_empty")]
    issue: String,
    /// Start of the current comment interval (the create, or the last comment), in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<u64>,
    /// Failures since `since` that no comment covers yet.
    #[serde(skip_serializing_if = "is_zero")]
    unsent: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_unsent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_unsent: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    /// Failures since the last pass.
    #[serde(skip_serializing_if = "is_zero")]
    failures: u32,
    /// Passes since the last failure.
    #[serde(skip_serializing_if = "is_zero")]
    passes: u32,
    /// When the first of those passes came, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    passing_since: Option<u64>,
    /// Whether this failing streak's recovery was acted on (commented, resolved, or found
    /// closed already).
    #[serde(skip_serializing_if = "is_false")]
    recovered: bool,
    /// Failures in a row since the last pass, up to the threshold (policy
    /// `min_failures`); kept only while that policy is on.
    #[serde(skip_serializing_if = "is_zero")]
    streak: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A stored value and the version it was read at. Version 0 means nothing is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Versioned<T> {
    /// How many times the value was swapped in; 0 when nothing is stored.
    pub version: u64,
    /// The value (its default when nothing is stored).
    pub value: T,
}

impl<T> Versioned<T> {
    /// A value read at a version.
    pub fn new(version: u64, value: T) -> Self {
        Versioned { version, value }
    }
}

/// Failures a repeat comment covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Start of the interval the comment covers (the create or the last comment).
    pub since: SystemTime,
    pub count: u32,
    pub first: SystemTime,
    pub last: SystemTime,
    pub message: String,
}

/// What a pass asks for, decided on the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PassStep {
    /// Nothing: no failing streak, or it was acted on already, or the policy is nothing.
    Nothing,
    /// Counting towards the resolve.
    Counting { passes: u32, needed: u32 },
    /// Act now (comment, or resolve with the comment), once for the streak.
    Act { failures: u32, since: SystemTime },
}

impl TestState {
    /// Whether the policy needs the state kept at all: the default does not, so the
    /// default costs no store write.
    pub(crate) fn needed(policy: &Lifecycle) -> bool {
        policy.on_repeat != OnRepeat::Nothing || policy.on_pass != OnPass::Nothing
    }

    /// Starts the life of a just-made (or just-reopened) issue, counting the failure that
    /// made it.
    pub(crate) fn opened(&mut self, issue_id: &str, now: SystemTime) {
        self.start_issue(issue_id, now);
        self.count_failure();
    }

    /// Counts a failure of the test while `issue_id` is open, and takes the failures a
    /// comment is due for, if one is: the caller posts it, or puts the batch back with
    /// [`TestState::put_back`].
    pub(crate) fn failed(
        &mut self,
        issue_id: &str,
        now: SystemTime,
        message: &str,
        policy: &Lifecycle,
    ) -> Option<Batch> {
        if self.issue != issue_id {
            // An issue this state has not seen (made before the policy was on, or by
            // another notifier): its interval starts now, which only ever delays a comment.
            self.start_issue(issue_id, now);
        }
        self.count_failure();
        if policy.on_repeat != OnRepeat::Comment {
            return None;
        }
        let at = to_ms(now);
        self.unsent += 1;
        self.first_unsent.get_or_insert(at);
        self.last_unsent = Some(at);
        self.message = text::cut(message, MESSAGE_KEPT).to_owned();
        let since = self.since.unwrap_or(at);
        if at.saturating_sub(since)
            < u64::try_from(policy.comment_every.as_millis()).unwrap_or(u64::MAX)
        {
            return None;
        }
        let batch = Batch {
            since: from_ms(since),
            count: self.unsent,
            first: from_ms(self.first_unsent.unwrap_or(at)),
            last: from_ms(at),
            message: std::mem::take(&mut self.message),
        };
        self.since = Some(at);
        self.unsent = 0;
        self.first_unsent = None;
        self.last_unsent = None;
        Some(batch)
    }

    /// Puts back a batch whose comment could not be posted, without the failure whose
    /// report failed (the host reports it again), so that the next failure posts it.
    pub(crate) fn put_back(&mut self, issue_id: &str, batch: &Batch) {
        if self.issue != issue_id {
            return;
        }
        let mine = to_ms(batch.last);
        self.since = Some(to_ms(batch.since).min(self.since.unwrap_or(u64::MAX)));
        let back = batch.count.saturating_sub(1);
        if back > 0 {
            self.unsent += back;
            let first = to_ms(batch.first);
            self.first_unsent = Some(self.first_unsent.map_or(first, |f| f.min(first)));
            if self.last_unsent.is_none_or(|l| l < mine) {
                self.last_unsent = Some(mine);
            }
            if self.message.is_empty() {
                self.message = batch.message.clone();
            }
        }
        self.failures = self.failures.saturating_sub(1);
    }

    /// Counts a pass and says what it asks for under the policy.
    pub(crate) fn passed(&mut self, now: SystemTime, policy: &Lifecycle) -> PassStep {
        if self.failures == 0 || self.recovered {
            return PassStep::Nothing;
        }
        self.passes += 1;
        let since = from_ms(*self.passing_since.get_or_insert(to_ms(now)));
        let act = match policy.on_pass {
            OnPass::Nothing => return PassStep::Nothing,
            OnPass::Comment => true,
            OnPass::Resolve => self.passes >= policy.passes_to_resolve.max(1),
        };
        if !act {
            return PassStep::Counting {
                passes: self.passes,
                needed: policy.passes_to_resolve.max(1),
            };
        }
        self.recovered = true;
        PassStep::Act {
            failures: self.failures,
            since,
        }
    }

    /// Counts a failure towards the threshold of `needed` failures in a row: how many there
    /// are so far. Past the threshold the count stays put, so the state is not written for
    /// every failure of a test whose issue is filed.
    pub(crate) fn toward_threshold(&mut self, needed: u32) -> u32 {
        if self.streak < needed {
            self.streak += 1;
        }
        self.streak
    }

    /// Failures in a row counted towards the threshold.
    pub(crate) fn streak(&self) -> u32 {
        self.streak
    }

    /// A pass: the threshold counts from zero again.
    pub(crate) fn reset_streak(&mut self) {
        self.streak = 0;
    }

    /// Undoes a pass whose action failed (the host reports it again).
    pub(crate) fn unpass(&mut self) {
        self.recovered = false;
        self.passes = self.passes.saturating_sub(1);
        if self.passes == 0 {
            self.passing_since = None;
        }
    }

    fn start_issue(&mut self, issue_id: &str, now: SystemTime) {
        self.issue = issue_id.to_owned();
        self.since = Some(to_ms(now));
        self.unsent = 0;
        self.first_unsent = None;
        self.last_unsent = None;
        self.message.clear();
    }

    fn count_failure(&mut self) {
        if self.passes > 0 || self.recovered {
            // A failure after passes starts a new streak.
            self.failures = 0;
            self.passes = 0;
            self.passing_since = None;
            self.recovered = false;
        }
        self.failures = self.failures.saturating_add(1);
    }

    /// How long the current comment interval has run.
    #[cfg(test)]
    pub(crate) fn interval_age(&self, now: SystemTime) -> Duration {
        Duration::from_millis(to_ms(now).saturating_sub(self.since.unwrap_or(to_ms(now))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        from_ms(1_700_000_000_000 + secs * 1000)
    }

    fn commenting() -> Lifecycle {
        Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(Duration::from_secs(3600))
    }

    #[test]
    fn repeats_inside_the_first_interval_wait_then_one_comment_covers_them_all() {
        let p = commenting();
        let mut s = TestState::default();
        s.opened("10", at(0));
        for t in [60, 600, 3000] {
            assert_eq!(s.failed("10", at(t), "boom", &p), None);
        }
        let b = s.failed("10", at(3600), "last boom", &p).expect("due");
        assert_eq!((b.count, b.first, b.last), (4, at(60), at(3600)));
        assert_eq!((b.since, b.message.as_str()), (at(0), "last boom"));
        // The next interval counts from that comment.
        assert_eq!(s.failed("10", at(3700), "x", &p), None);
        assert_eq!(s.interval_age(at(3700)), Duration::from_secs(100));
        let b = s.failed("10", at(7200), "y", &p).expect("due again");
        assert_eq!((b.count, b.first), (2, at(3700)));
    }

    #[test]
    fn another_issue_starts_afresh_and_nothing_is_counted_without_the_policy() {
        let p = commenting();
        let mut s = TestState::default();
        s.opened("10", at(0));
        s.failed("10", at(10), "a", &p);
        assert_eq!(s.failed("11", at(4000), "b", &p), None, "new interval");
        assert_eq!(s.unsent, 1);
        let mut q = TestState::default();
        assert_eq!(q.failed("10", at(99_999), "a", &Lifecycle::default()), None);
        assert_eq!(q.unsent, 0);
    }

    #[test]
    fn a_batch_put_back_is_due_at_the_next_failure_without_the_failed_report() {
        let p = commenting();
        let mut s = TestState::default();
        s.opened("10", at(0));
        s.failed("10", at(100), "a", &p);
        let b = s.failed("10", at(3600), "b", &p).unwrap();
        assert_eq!(b.count, 2);
        s.put_back("10", &b);
        assert_eq!(s.unsent, 1);
        let again = s.failed("10", at(3601), "b", &p).expect("due at once");
        assert_eq!((again.count, again.first, again.since), (2, at(100), at(0)));
    }

    #[test]
    fn a_pass_comments_once_per_streak() {
        let p = Lifecycle::default().with_on_pass(OnPass::Comment);
        let mut s = TestState::default();
        assert_eq!(s.passed(at(0), &p), PassStep::Nothing, "never failed");
        s.opened("10", at(1));
        s.failed("10", at(2), "x", &p);
        assert_eq!(
            s.passed(at(3), &p),
            PassStep::Act {
                failures: 2,
                since: at(3)
            }
        );
        assert_eq!(s.passed(at(4), &p), PassStep::Nothing, "once per streak");
        s.failed("10", at(5), "x", &p);
        assert_eq!(
            s.passed(at(6), &p),
            PassStep::Act {
                failures: 1,
                since: at(6)
            }
        );
    }

    #[test]
    fn resolve_counts_passes_in_a_row_and_a_failure_starts_over() {
        let p = Lifecycle::default()
            .with_on_pass(OnPass::Resolve)
            .with_passes_to_resolve(3);
        let mut s = TestState::default();
        s.opened("10", at(0));
        assert_eq!(
            s.passed(at(1), &p),
            PassStep::Counting {
                passes: 1,
                needed: 3
            }
        );
        s.failed("10", at(2), "x", &p);
        assert_eq!(
            s.passed(at(3), &p),
            PassStep::Counting {
                passes: 1,
                needed: 3
            }
        );
        s.passed(at(4), &p);
        assert_eq!(
            s.passed(at(5), &p),
            PassStep::Act {
                failures: 1,
                since: at(3)
            }
        );
        s.unpass();
        assert!(matches!(s.passed(at(6), &p), PassStep::Act { .. }));
    }

    #[test]
    fn the_threshold_counts_failures_in_a_row_and_stops_counting_once_met() {
        let mut s = TestState::default();
        assert_eq!(s.toward_threshold(3), 1);
        assert_eq!(s.toward_threshold(3), 2);
        s.reset_streak();
        assert_eq!(s.toward_threshold(3), 1);
        s.toward_threshold(3);
        assert_eq!(s.toward_threshold(3), 3);
        let met = s.clone();
        assert_eq!(s.toward_threshold(3), 3);
        assert_eq!(s, met, "no change, so no store write");
        assert_eq!(serde_json::to_value(&s).unwrap()["streak"], 3);
    }

    #[test]
    fn the_default_policy_needs_no_state_and_serialises_small() {
        assert!(!TestState::needed(&Lifecycle::default()));
        assert!(TestState::needed(&commenting()));
        assert_eq!(serde_json::to_string(&TestState::default()).unwrap(), "{}");
    }
}
