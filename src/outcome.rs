//! What the host reports ([`TestInfo`], [`TestStatus`]) and what it gets back ([`Outcome`]).

use serde::{Deserialize, Serialize};

use crate::attachment::UploadReport;
use crate::evidence::Evidence;

/// The test whose status changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestInfo {
    /// The host's stable id of the test: the duplicate check keys on it.
    pub id: String,
    /// The test's name, shown in the issue summary.
    pub name: String,
    /// A link to the test in the host's UI, put in the issue description.
    pub url: String,
    /// Where the test ran (`staging`, `prod`, …), if the host knows: shown in the summary
    /// (`Test Failed: {name} [{env}]`) and the description. With the policy
    /// [`Noise::split_by_environment`](crate::Noise::split_by_environment) it is also part
    /// of the test's identity: one issue per test and environment.
    pub environment: Option<String>,
}

impl TestInfo {
    /// A test from its id, name and link.
    pub fn new(id: impl Into<String>, name: impl Into<String>, url: impl Into<String>) -> Self {
        TestInfo {
            id: id.into(),
            name: name.into(),
            url: url.into(),
            environment: None,
        }
    }

    /// The test as run in an environment (a blank name means none).
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        let env = environment.into();
        self.environment = (!env.trim().is_empty()).then(|| env.trim().to_owned());
        self
    }
}

/// The status a test changed to. [`TestStatus::Error`] makes the notifier act, and
/// [`TestStatus::Passed`] when a pass policy is on (see
/// [`Lifecycle::on_pass`](crate::Lifecycle::on_pass)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestStatus {
    /// The test failed, with the error message to put in the issue and what the run can
    /// tell about itself. Made with [`TestStatus::error`] or [`TestStatus::error_with`];
    /// match it with `TestStatus::Error { message, .. }`.
    #[non_exhaustive]
    Error {
        /// The error message (any length; it is cut to fit Jira's limits).
        message: String,
        /// The run's link, commit, branch, duration and time of failure, if given.
        evidence: Evidence,
    },
    /// The test passed.
    Passed,
    /// The test is running.
    Running,
    /// The test is waiting to run.
    Pending,
    /// The test was skipped.
    Skipped,
}

impl TestStatus {
    /// An error status with a message.
    pub fn error(message: impl Into<String>) -> Self {
        TestStatus::error_with(message, Evidence::default())
    }

    /// An error status with a message and evidence of the run.
    pub fn error_with(message: impl Into<String>, evidence: Evidence) -> Self {
        TestStatus::Error {
            message: message.into(),
            evidence,
        }
    }

    /// The evidence of an error status.
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            TestStatus::Error { evidence, .. } => Some(evidence),
            _ => None,
        }
    }
}

/// A Jira issue the notifier created or found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IssueRef {
    /// The issue's numeric id.
    pub id: String,
    /// The issue's key, e.g. `QA-12`.
    pub key: String,
    /// The link people open: on the site (`https://NAME.atlassian.net/browse/QA-12`),
    /// never the API gateway.
    pub url: String,
}

impl IssueRef {
    /// An issue from its id, key and browse link.
    pub fn new(id: impl Into<String>, key: impl Into<String>, url: impl Into<String>) -> Self {
        IssueRef {
            id: id.into(),
            key: key.into(),
            url: url.into(),
        }
    }
}

/// What [`JiraNotifier::on_test_error`](crate::JiraNotifier::on_test_error) or
/// [`JiraNotifier::on_test_pass`](crate::JiraNotifier::on_test_pass) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A new issue was created.
    Created(IssueRef),
    /// An open issue for this test already exists; nothing was created.
    Duplicate(IssueRef),
    /// Issue creation is turned off for this test by its override.
    Disabled,
    /// Jira is not connected (never connected, or disconnected); nothing was sent.
    NotConnected,
    /// Jira is connected but the settings are not saved yet (or were saved for another
    /// site): the normal state between connect and save. Nothing was sent.
    NotConfigured,
    /// Nothing to do: the status was neither an error nor a pass, or a pass found no
    /// failing streak to act on (or its policy is to do nothing).
    Ignored,
    /// The test's last issue, done a short while ago, was moved back out of Done
    /// (policy `reopen_within`), with a comment about this failure.
    Reopened(IssueRef),
    /// The test's last issue was resolved with a resolution that mutes it (policy
    /// `mute_resolutions`): nothing was created.
    Muted(IssueRef),
    /// A pass: the open issue got a comment that the test passes again (policy
    /// `on_pass: comment`).
    Commented(IssueRef),
    /// A pass: the open issue was moved to a Done status (policy `on_pass: resolve`).
    Resolved(IssueRef),
    /// A pass counting towards resolving the issue: `passes` of the `needed` in a row.
    Passing {
        /// Passes in a row so far.
        passes: u32,
        /// Passes in a row that resolve the issue.
        needed: u32,
        /// The test's open issue.
        issue: IssueRef,
    },
    /// A failure counting towards the test's threshold (policy
    /// [`Noise::min_failures`](crate::Noise::min_failures)): `failures` in a row of the
    /// `needed`. No request was made.
    Counted {
        /// Failures in a row so far.
        failures: u32,
        /// Failures in a row that file an issue.
        needed: u32,
    },
    /// The storm guard is on and tripped (policy
    /// [`Noise::storm_limit`](crate::Noise::storm_limit)): the failure joined the
    /// workspace's umbrella issue for the storm instead of getting its own.
    Grouped(IssueRef),
}

impl Outcome {
    /// The issue created or found, if any.
    pub fn issue(&self) -> Option<&IssueRef> {
        match self {
            Outcome::Created(i)
            | Outcome::Duplicate(i)
            | Outcome::Reopened(i)
            | Outcome::Muted(i)
            | Outcome::Commented(i)
            | Outcome::Resolved(i)
            | Outcome::Passing { issue: i, .. }
            | Outcome::Grouped(i) => Some(i),
            _ => None,
        }
    }
}

/// What [`JiraNotifier::on_test_error_with_attachments`](crate::JiraNotifier::on_test_error_with_attachments)
/// did: the outcome, and what became of each file. An upload that failed or was skipped
/// never fails the report: the issue stands, and the files' fate is here.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailureReport {
    /// What the report did, as [`JiraNotifier::on_test_error`](crate::JiraNotifier::on_test_error) says.
    pub outcome: Outcome,
    /// Every file given, in exactly one of its lists.
    pub attachments: UploadReport,
}
