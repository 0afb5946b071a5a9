//! What a failing run can tell about itself: the run's link, the commit, the branch, how
//! long it took and when it failed. Shown in the issue's description and repeat comments.

use std::time::{Duration, SystemTime};

/// Evidence of one failing run, all of it optional. Carried by
/// [`TestStatus::Error`](crate::TestStatus::Error) and shown in the issue as a compact
/// table; what is not given is left out.
///
/// ```
/// # use jira_notifier::{Evidence, TestStatus};
/// let evidence = Evidence::new()
///     .with_run_url("https://ci.example.com/runs/812")
///     .with_commit("4f2a9c1")
///     .with_branch("main");
/// let status = TestStatus::error_with("expected 200, got 500", evidence);
/// assert_eq!(status.evidence().unwrap().commit.as_deref(), Some("4f2a9c1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evidence {
    /// A link to the run (the CI job, the test platform's run page). Shown as a link when
    /// it is an absolute http(s) URL, as text otherwise.
    pub run_url: Option<String>,
    /// The commit the run tested.
    pub commit: Option<String>,
    /// The branch the run tested.
    pub branch: Option<String>,
    /// How long the test ran before it failed.
    pub duration: Option<Duration>,
    /// When the test failed (left out of the issue when not given: the issue has its own
    /// creation time).
    pub failed_at: Option<SystemTime>,
}

impl Evidence {
    /// No evidence: add what the run knows with the `with_*` methods.
    pub fn new() -> Self {
        Evidence::default()
    }

    /// Sets the run's link.
    pub fn with_run_url(mut self, url: impl Into<String>) -> Self {
        self.run_url = non_blank(url.into());
        self
    }

    /// Sets the commit.
    pub fn with_commit(mut self, commit: impl Into<String>) -> Self {
        self.commit = non_blank(commit.into());
        self
    }

    /// Sets the branch.
    pub fn with_branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = non_blank(branch.into());
        self
    }

    /// Sets how long the test ran.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets when the test failed.
    pub fn with_failed_at(mut self, at: SystemTime) -> Self {
        self.failed_at = Some(at);
        self
    }

    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        self == &Evidence::default()
    }
}

/// How long something took, for a person: `340 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`
/// (rounded to the unit shown last).
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    let secs = (ms + 500) / 1_000;
    if secs < 3_600 {
        return match (secs / 60, secs % 60) {
            (m, 0) => format!("{m} min"),
            (m, s) => format!("{m} min {s} s"),
        };
    }
    let mins = (secs + 30) / 60;
    match (mins / 60, mins % 60) {
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn non_blank(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_not_given() {
        let e = Evidence::new().with_commit("  ").with_branch("");
        assert!(e.is_empty());
        assert!(!Evidence::new().with_run_url("x").is_empty());
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        let ms = Duration::from_millis;
        for (d, shown) in [
            (ms(0), "0 ms"),
            (ms(340), "340 ms"),
            (ms(999), "999 ms"),
            (ms(1_000), "1.0 s"),
            (ms(1_234), "1.2 s"),
            (ms(59_940), "59.9 s"),
            // Rounds up to a minute, shown as one.
            (ms(59_960), "1 min"),
            (ms(184_000), "3 min 4 s"),
            (ms(3_599_400), "59 min 59 s"),
            (ms(3_599_600), "1 h"),
            (ms(7_500_000), "2 h 5 min"),
            (Duration::from_secs(90_000), "25 h"),
        ] {
            assert_eq!(human_duration(d), shown, "{d:?}");
        }
        // The longest duration there is still reads in hours, without overflowing.
        assert!(human_duration(Duration::MAX).ends_with(" h"));
    }
}
