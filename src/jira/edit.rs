//! Editing an issue: `PUT /rest/api/3/issue/{issueIdOrKey}`, for the storm umbrella's
//! summary as its storm grows. No `notifyUsers=false`: Jira asks for admin permissions for
//! it, which a service account should not need.

use serde::Serialize;

use super::client::JiraClient;
use super::requests::{ApiRequest, Replay};
use crate::connection::Connection;
use crate::endpoints::Endpoints;
use crate::error::Result;
use crate::transport::Method;

/// The operation name of an issue edit, in its errors.
pub(crate) const EDIT_ISSUE: &str = "issue edit";

/// `PUT /rest/api/3/issue/{issueId}` with `{"fields": {"summary": …}}`. Sent again
/// freely: setting the same summary twice is setting it once.
pub(crate) fn edit_summary(
    e: &Endpoints,
    cloud: &str,
    issue_id: &str,
    summary: &str,
) -> ApiRequest {
    #[derive(Serialize)]
    struct Fields<'a> {
        summary: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        fields: Fields<'a>,
    }
    let body = Body {
        fields: Fields { summary },
    };
    ApiRequest {
        operation: EDIT_ISSUE,
        method: Method::Put,
        url: e.jira(cloud, &["issue", issue_id]),
        body: Some(serde_json::to_vec(&body).expect("a summary serialises")),
        replay: Replay::Safe,
    }
}

impl JiraClient {
    /// Sets an issue's summary (Jira answers `204`).
    pub(crate) async fn edit_summary(
        &self,
        conn: &Connection,
        issue_id: &str,
        summary: &str,
    ) -> Result<()> {
        let req = edit_summary(&self.endpoints, &conn.site.cloud_id, issue_id, summary);
        self.call(conn, &req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};

    #[test]
    fn puts_the_summary_alone_on_the_issue() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap();
        let r = edit_summary(
            &e,
            "c1",
            "10042",
            "12 tests failing since 2026-11-30 06:31 UTC",
        );
        assert_eq!(r.method, Method::Put);
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/10042"
        );
        let body: serde_json::Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"fields": {"summary": "12 tests failing since 2026-11-30 06:31 UTC"}})
        );
    }
}
