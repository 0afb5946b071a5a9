//! What the host reports ([`TestInfo`], [`TestStatus`]) and what it gets back ([`Outcome`]).

use serde::{Deserialize, Serialize};

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
}

impl TestInfo {
    /// A test from its id, name and link.
    pub fn new(id: impl Into<String>, name: impl Into<String>, url: impl Into<String>) -> Self {
        TestInfo {
            id: id.into(),
            name: name.into(),
            url: url.into(),
        }
    }
}

/// The status a test changed to. [`TestStatus::Error`] makes the notifier act, and
/// [`TestStatus::Passed`] when a pass policy is on (see
/// [`Lifecycle::on_pass`](crate::Lifecycle::on_pass)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestStatus {
    /// The test failed, with the error message to put in the issue.
    Error {
        /// The error message (any length; it is cut to fit Jira's limits).
        message: String,
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
        TestStatus::Error {
            message: message.into(),
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
            | Outcome::Passing { issue: i, .. } => Some(i),
            _ => None,
        }
    }
}
