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

/// The status a test changed to. Only [`TestStatus::Error`] makes the notifier act.
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

/// What [`JiraNotifier::on_test_error`](crate::JiraNotifier::on_test_error) did.
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
    /// The status was not an error; nothing was done.
    Ignored,
}

impl Outcome {
    /// The issue created or found, if any.
    pub fn issue(&self) -> Option<&IssueRef> {
        match self {
            Outcome::Created(i) | Outcome::Duplicate(i) => Some(i),
            _ => None,
        }
    }
}
