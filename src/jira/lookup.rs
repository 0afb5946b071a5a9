//! Reading one issue by id or key: `GET /rest/api/3/issue/{idOrKey}`, which, unlike
//! search, is always current ("Search and reconcile"; the API notes). Used to follow a
//! recorded issue that search cannot reconcile any more, and to look for an issue whose
//! create got no clear answer.

use super::answers::{checked_issue_id, checked_issue_key, parse};
use super::calls::{Closed, Found};
use super::client::JiraClient;
use super::models::FoundIssue;
use super::requests::ApiRequest;
use crate::connection::Connection;
use crate::endpoints::Endpoints;
use crate::error::{Error, Result};
use crate::transport::Method;

/// The operation name of an issue lookup, in its errors.
pub(crate) const ISSUE_LOOKUP: &str = "issue lookup";

/// `GET /rest/api/3/issue/{idOrKey}?fields=status,labels,resolution,statuscategorychangedate`:
/// only what the duplicate check and an issue's life read (`key` and `id` always come).
pub(crate) fn issue(e: &Endpoints, cloud: &str, id_or_key: &str) -> ApiRequest {
    let mut url = e.jira(cloud, &["issue", id_or_key]);
    url.query_pairs_mut().append_pair("fields", LOOKUP_FIELDS);
    ApiRequest {
        operation: ISSUE_LOOKUP,
        method: Method::Get,
        url,
        body: None,
        replay: super::requests::Replay::Safe,
    }
}

/// The fields a lookup asks for.
pub(crate) const LOOKUP_FIELDS: &str = "status,labels,resolution,statuscategorychangedate";

/// An issue as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    pub found: Found,
    /// In the Done category.
    pub done: bool,
    /// Whether it carries the label (without regard to case, as JQL compares labels);
    /// `None` when the answer does not list labels.
    pub labelled: Option<bool>,
    /// Its resolution and when its status category last changed.
    pub closed: Closed,
}

impl JiraClient {
    /// The issue with this id or key as it is now; `None` if Jira knows no such issue
    /// (deleted, or never made) or the service account cannot see it.
    pub(crate) async fn issue_now(
        &self,
        conn: &Connection,
        id_or_key: &str,
        label: &str,
    ) -> Result<Option<Current>> {
        let req = issue(&self.endpoints, &conn.site.cloud_id, id_or_key);
        let resp = match self.call(conn, &req).await {
            Ok(resp) => resp,
            Err(Error::Api(e)) if e.status == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        let issue: FoundIssue = parse(req.operation, &resp)?;
        let Some(key) = issue.key() else {
            return Err(Error::unexpected(req.operation, "an issue without a key"));
        };
        checked_issue_key(req.operation, key)?;
        checked_issue_id(req.operation, &issue.id)?;
        let labelled = issue
            .fields
            .labels
            .as_ref()
            .map(|ls| ls.iter().any(|l| l.eq_ignore_ascii_case(label)));
        Ok(Some(Current {
            found: Found {
                id: issue.id.clone(),
                key: key.to_owned(),
            },
            done: issue.is_done(),
            labelled,
            closed: Closed::of(&issue),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};

    #[test]
    fn asks_for_the_fields_it_reads_only() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap();
        let r = issue(&e, "c1", "10042");
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/10042?fields=status%2Clabels%2Cresolution%2Cstatuscategorychangedate"
        );
        assert!(r.body.is_none());
    }
}
