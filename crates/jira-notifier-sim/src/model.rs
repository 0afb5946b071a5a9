//! The simulator's public data types: what tests read back and configure.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::time::Instant;

use jira_notifier::Method;

/// The category of an issue's status. Jira's status *names* belong to workflows and are
/// localised; the three categories are fixed, which is why duplicate detection must use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCategory {
    /// "To Do" (JSON key `new`): where every issue starts.
    ToDo,
    /// "In Progress" (JSON key `indeterminate`).
    InProgress,
    /// "Done" (JSON key `done`): the issue is closed, resolved or otherwise finished.
    Done,
}

impl StatusCategory {
    /// Every category, in Jira's order.
    pub const ALL: [StatusCategory; 3] = [
        StatusCategory::ToDo,
        StatusCategory::InProgress,
        StatusCategory::Done,
    ];

    /// The key Jira uses in JSON: `new`, `indeterminate` or `done`.
    pub const fn key(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "new",
            StatusCategory::InProgress => "indeterminate",
            StatusCategory::Done => "done",
        }
    }

    /// The English name: `To Do`, `In Progress` or `Done`. The default workflow
    /// ([`Workflow::simplified`](crate::Workflow::simplified)) gives each category one
    /// status of the same name.
    pub const fn name(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "To Do",
            StatusCategory::InProgress => "In Progress",
            StatusCategory::Done => "Done",
        }
    }

    /// Jira Cloud's numeric id of the category.
    pub(crate) const fn id(self) -> u32 {
        match self {
            StatusCategory::ToDo => 2,
            StatusCategory::InProgress => 4,
            StatusCategory::Done => 3,
        }
    }

    pub(crate) const fn color_name(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "blue-gray",
            StatusCategory::InProgress => "yellow",
            StatusCategory::Done => "green",
        }
    }

    /// The id of the one simulated status in this category.
    pub(crate) const fn status_id(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "10000",
            StatusCategory::InProgress => "10001",
            StatusCategory::Done => "10002",
        }
    }
}

/// An issue as the simulator currently holds it (never the lagged view that search sees).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimIssue {
    /// The numeric id, as a string (`"10000"` and up).
    pub id: String,
    /// The key, `{PROJECT}-{n}`.
    pub key: String,
    /// The project's key.
    pub project_key: String,
    /// The issue type's id.
    pub issue_type_id: String,
    /// The issue type's name.
    pub issue_type_name: String,
    /// The summary.
    pub summary: String,
    /// The description as sent (an ADF document), or `Value::Null` when none was given.
    pub description: Value,
    /// The labels as sent, without duplicates.
    pub labels: Vec<String>,
    /// The assignee's account id; `None` when unassigned.
    pub assignee: Option<String>,
    /// The values of the screen's other fields (priority, components, custom fields),
    /// as sent, or their defaults.
    pub fields: BTreeMap<String, Value>,
    /// The comments' bodies (ADF documents), oldest first.
    pub comments: Vec<Value>,
    /// The current status category.
    pub status_category: StatusCategory,
    /// The current status's name (its workflow's own, e.g. `To Do`).
    pub status: String,
    /// The resolution's name; `None` while unresolved (only Done-category statuses have one).
    pub resolution: Option<String>,
}

/// A comment on an issue, as the simulator stores it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimComment {
    /// The comment's id (site-wide, `"10000"` and up).
    pub id: String,
    /// The body, an ADF document as sent.
    pub body: Value,
    /// When it was added, on the simulator's wall clock ([`SimJira::now`](crate::SimJira::now)).
    pub created: SystemTime,
}

/// One request the simulator received.
///
/// Never holds a credential: the `Authorization` header's value and the token request's
/// `client_secret` are replaced by `[redacted]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The URL's path, as sent (percent-encoding kept).
    pub path: String,
    /// The URL's query, as sent, without the `?`.
    pub query: Option<String>,
    /// The headers (names in lower case), `Authorization` redacted.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `None` when there was no body or it was not JSON.
    pub body: Option<Value>,
    /// When the request arrived, on tokio's clock (so paused-clock tests can check waits).
    pub at: Instant,
}

/// What a simulated rate limit counts, and the `RateLimit-Reason` it answers with
/// ("Build an app that respects rate limits", developer.atlassian.com).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitScope {
    /// Every Jira request of the site (tenant): `jira-quota-tenant-based`.
    Site,
    /// Each endpoint and method apart: `jira-burst-based`.
    Endpoint,
    /// Writes to each issue apart (not creates, not reads): `jira-per-issue-on-write`.
    IssueWrite,
}

impl LimitScope {
    /// The `RateLimit-Reason` a limit of this scope answers with.
    pub const fn reason(self) -> &'static str {
        match self {
            LimitScope::Site => "jira-quota-tenant-based",
            LimitScope::Endpoint => "jira-burst-based",
            LimitScope::IssueWrite => "jira-per-issue-on-write",
        }
    }
}

/// A rate limit on Jira (gateway `/ex/jira/...`) requests, in fixed windows: at most
/// `max_requests` are answered per window of length `per` in each `scope`; the others get
/// `429`. Every answer under a limit carries Jira's rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests a window accepts.
    pub max_requests: u32,
    /// The length of a window.
    pub per: Duration,
    /// What the limit counts.
    pub scope: LimitScope,
}

impl RateLimit {
    /// At most `max_requests` Jira requests per `per` over the whole site
    /// (`jira-quota-tenant-based`).
    pub const fn new(max_requests: u32, per: Duration) -> Self {
        RateLimit {
            max_requests,
            per,
            scope: LimitScope::Site,
        }
    }

    /// At most `max_requests` per `per` to each endpoint and method (`jira-burst-based`).
    pub const fn burst(max_requests: u32, per: Duration) -> Self {
        RateLimit {
            max_requests,
            per,
            scope: LimitScope::Endpoint,
        }
    }

    /// At most `max_requests` writes per `per` to each issue (`jira-per-issue-on-write`).
    pub const fn per_issue_write(max_requests: u32, per: Duration) -> Self {
        RateLimit {
            max_requests,
            per,
            scope: LimitScope::IssueWrite,
        }
    }
}
