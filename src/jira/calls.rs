//! The typed Jira calls: each builds its request, sends it and reads the answer, paging
//! through lists the way each list pages.

use super::answers::{checked_issue_id, checked_issue_key, parse};
use super::client::JiraClient;
use super::models::{
    AccessibleResource, CreatedIssue, IssueType, IssueTypePage, Project, ProjectPage, SearchAnswer,
    User,
};
use super::requests::{self, UserFilter};
use crate::auth::sites::sites_from;
use crate::connection::{Connection, Credentials, Site};
use crate::error::{Error, Result};
use crate::issue::jql;

/// The most pages read from one list: a server that never says "last" cannot keep the
/// notifier paging forever.
const MAX_PAGES: usize = 100;

/// An issue found or created, with its id and key checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub id: String,
    pub key: String,
}

/// How a done issue was closed: what its history, reopen and mute policies read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Closed {
    /// When its status category last changed (for a done issue, when it was done).
    pub at: Option<std::time::SystemTime>,
    /// Its resolution's name, if it has one.
    pub resolution: Option<String>,
}

impl Closed {
    pub(crate) fn of(issue: &super::models::FoundIssue) -> Self {
        Closed {
            at: issue.category_changed(),
            resolution: issue.resolution().map(str::to_owned),
        }
    }
}

/// The test's last issue, done: its key and how it was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Done {
    pub found: Found,
    pub closed: Closed,
}

/// What the duplicate check's search found: the test's open issues (the recorded one
/// first) and, if the recorded issue is done, how it was closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Findings {
    pub open: Vec<Found>,
    pub done: Option<Done>,
}

/// A lookup that may find nothing.
pub(crate) enum Lookup<T> {
    Found(T),
    Missing(String),
}

impl JiraClient {
    /// The Jira sites the credentials reach.
    pub(crate) async fn discover_sites(&self, creds: &Credentials) -> Result<Vec<Site>> {
        let req = requests::accessible_resources(&self.endpoints);
        let resp = self.call_as(creds, "", &req).await?;
        let resources: Vec<AccessibleResource> = parse(req.operation, &resp)?;
        sites_from(resources)
    }

    /// Every project the service account can see.
    pub(crate) async fn projects(&self, conn: &Connection) -> Result<Vec<Project>> {
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let req =
                requests::project_search(&self.endpoints, &conn.site.cloud_id, all.len() as u64);
            let page: ProjectPage = parse(req.operation, &self.call(conn, &req).await?)?;
            let got = page.values.len();
            all.extend(page.values);
            let done = got == 0
                || page.is_last == Some(true)
                || (page.is_last.is_none() && page.total.is_some_and(|t| all.len() as u64 >= t));
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// One project by key, or why there is none.
    pub(crate) async fn project(&self, conn: &Connection, key: &str) -> Result<Lookup<Project>> {
        let req = requests::project(&self.endpoints, &conn.site.cloud_id, key);
        match self.call(conn, &req).await {
            Ok(resp) => Ok(Lookup::Found(parse(req.operation, &resp)?)),
            Err(Error::Api(e)) if e.status == 404 => Ok(Lookup::Missing(e.to_string())),
            Err(e) => Err(e),
        }
    }

    /// The issue types the service account can create in a project.
    pub(crate) async fn issue_types(
        &self,
        conn: &Connection,
        project: &str,
    ) -> Result<Vec<IssueType>> {
        let mut all: Vec<IssueType> = Vec::new();
        for _ in 0..MAX_PAGES {
            let req = requests::issue_types(
                &self.endpoints,
                &conn.site.cloud_id,
                project,
                all.len() as u64,
            );
            let page: IssueTypePage = parse(req.operation, &self.call(conn, &req).await?)?;
            let got = page.issue_types.len();
            all.extend(page.issue_types);
            if got == 0 || page.total.is_none_or(|t| all.len() as u64 >= t) {
                break;
            }
        }
        Ok(all)
    }

    /// Users assignable in a project, matching a query (empty: everyone). Jira takes a
    /// window of candidates and filters it, so a short or empty page does not mean the end;
    /// its windows never go past the 1,000th candidate, which is.
    pub(crate) async fn assignable_users(
        &self,
        conn: &Connection,
        project: &str,
        query: &str,
    ) -> Result<Vec<User>> {
        let mut all: Vec<User> = Vec::new();
        let mut start_at = 0;
        while start_at < requests::USER_WINDOW {
            let req = requests::assignable_users(
                &self.endpoints,
                &conn.site.cloud_id,
                project,
                UserFilter::Query(query),
                start_at,
            );
            let page: Vec<User> = parse(req.operation, &self.call(conn, &req).await?)?;
            start_at += u64::from(requests::USER_PAGE);
            for u in page {
                if u.active && !all.iter().any(|a| a.account_id == u.account_id) {
                    all.push(u);
                }
            }
        }
        Ok(all)
    }

    /// Whether a user can be assigned issues in a project.
    pub(crate) async fn is_assignable(
        &self,
        conn: &Connection,
        project: &str,
        account_id: &str,
    ) -> Result<bool> {
        let req = requests::assignable_users(
            &self.endpoints,
            &conn.site.cloud_id,
            project,
            UserFilter::AccountId(account_id),
            0,
        );
        let page: Vec<User> = parse(req.operation, &self.call(conn, &req).await?)?;
        Ok(page.iter().any(|u| u.account_id == account_id && u.active))
    }

    /// Open issues carrying `label`, and the issue in `reconcile` (the one last made for
    /// the test) whatever its status: it is judged on current data, comes first when it
    /// is still open, and is told apart when it is done (how and when it was closed are
    /// what the history, reopen and mute policies read, at no extra request).
    pub(crate) async fn find_open(
        &self,
        conn: &Connection,
        label: &str,
        reconcile: Option<u64>,
    ) -> Result<Findings> {
        let query = match reconcile {
            Some(id) => jql::test_issues(label, id),
            None => jql::open_issues_with_label(label),
        };
        let ids: Vec<u64> = reconcile.into_iter().collect();
        let req = requests::search(&self.endpoints, &conn.site.cloud_id, &query, &ids);
        let answer: SearchAnswer = parse(req.operation, &self.call(conn, &req).await?)?;
        let mut findings = Findings::default();
        for issue in answer.issues {
            // An issue whose labels are shown and lack ours came from a looser match
            // than asked for: not this test's.
            if let Some(labels) = &issue.fields.labels {
                if !labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                    continue;
                }
            }
            let Some(key) = issue.key() else {
                return Err(Error::unexpected(req.operation, "an issue without a key"));
            };
            checked_issue_key(req.operation, key)?;
            let id_num = checked_issue_id(req.operation, &issue.id)?;
            let f = Found {
                id: issue.id.clone(),
                key: key.to_owned(),
            };
            let recorded = Some(id_num) == reconcile;
            if issue.is_done() {
                if recorded {
                    findings.done = Some(Done {
                        found: f,
                        closed: Closed::of(&issue),
                    });
                }
            } else if recorded {
                findings.open.insert(0, f);
            } else {
                findings.open.push(f);
            }
        }
        Ok(findings)
    }

    /// Creates an issue from its serialised body.
    pub(crate) async fn create(&self, conn: &Connection, body: Vec<u8>) -> Result<Found> {
        let req = requests::create_issue(&self.endpoints, &conn.site.cloud_id, body);
        let created: CreatedIssue = parse(req.operation, &self.call(conn, &req).await?)?;
        checked_issue_key(req.operation, &created.key)?;
        checked_issue_id(req.operation, &created.id)?;
        Ok(Found {
            id: created.id,
            key: created.key,
        })
    }
}
