//! Every request the crate sends, built as plain data: what to send, never how. The shapes
//! are unit-tested here without a network; `client.rs` sends them.

use secrecy::ExposeSecret;
use serde_json::{json, Value};
use url::Url;

use crate::connection::Credentials;
use crate::endpoints::Endpoints;
use crate::transport::Method;

/// The most issues the duplicate check asks for: one is enough to skip a create, a few
/// let the recorded issue be preferred over another stray one.
pub(crate) const SEARCH_PAGE: u32 = 10;
/// Page sizes: the largest each list accepts.
pub(crate) const PROJECT_PAGE: u32 = 100;
pub(crate) const ISSUE_TYPE_PAGE: u32 = 200;
pub(crate) const USER_PAGE: u32 = 100;
/// Jira's user searches look at the first 1,000 candidates only and filter each window
/// afterwards: an empty window is not the end, a window past the 1,000th is (issue 9; the
/// spec's `maxResults` of `findAssignableUsers`).
pub(crate) const USER_WINDOW: u64 = 1_000;

/// Whether a request may be sent again after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Reads (and the token request): sending twice does no harm.
    Safe,
    /// A create: sent again only when it certainly did not arrive (a refused connection,
    /// a 429); otherwise the caller must look before creating again.
    OnlyIfNotReceived,
}

/// A request, ready to be authorised and sent.
#[derive(Clone)]
pub(crate) struct ApiRequest {
    pub operation: &'static str,
    pub method: Method,
    pub url: Url,
    pub body: Option<Vec<u8>>,
    pub replay: Replay,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token request's body holds the client secret.
        f.debug_struct("ApiRequest")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

fn get(operation: &'static str, url: Url) -> ApiRequest {
    ApiRequest {
        operation,
        method: Method::Get,
        url,
        body: None,
        replay: Replay::Safe,
    }
}

fn post(operation: &'static str, url: Url, body: &Value, replay: Replay) -> ApiRequest {
    ApiRequest {
        operation,
        method: Method::Post,
        url,
        body: Some(body.to_string().into_bytes()),
        replay,
    }
}

/// The operation name of the token request.
pub(crate) const TOKEN_REQUEST: &str = "token request";

/// `POST {auth}/oauth/token`: the client-credentials grant.
pub(crate) fn token(e: &Endpoints, creds: &Credentials) -> ApiRequest {
    let body = json!({
        "grant_type": "client_credentials",
        "client_id": creds.client_id(),
        "client_secret": creds.client_secret().expose_secret(),
        "audience": "api.atlassian.com",
    });
    post(TOKEN_REQUEST, e.token(), &body, Replay::Safe)
}

/// `GET {api}/oauth/token/accessible-resources`: the sites the token reaches.
pub(crate) fn accessible_resources(e: &Endpoints) -> ApiRequest {
    get("site discovery", e.accessible_resources())
}

/// `GET /rest/api/3/project/search?startAt&maxResults&action=create`: the projects the
/// service account can create issues in.
pub(crate) fn project_search(e: &Endpoints, cloud: &str, start_at: u64) -> ApiRequest {
    let mut url = e.jira(cloud, &["project", "search"]);
    url.query_pairs_mut()
        .append_pair("startAt", &start_at.to_string())
        .append_pair("maxResults", &PROJECT_PAGE.to_string())
        .append_pair("action", "create");
    get("project list", url)
}

/// `GET /rest/api/3/project/{key}`.
pub(crate) fn project(e: &Endpoints, cloud: &str, key: &str) -> ApiRequest {
    get("project lookup", e.jira(cloud, &["project", key]))
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes?startAt&maxResults`: the issue
/// types the credential can create in a project.
pub(crate) fn issue_types(e: &Endpoints, cloud: &str, project: &str, start_at: u64) -> ApiRequest {
    let mut url = e.jira(cloud, &["issue", "createmeta", project, "issuetypes"]);
    url.query_pairs_mut()
        .append_pair("startAt", &start_at.to_string())
        .append_pair("maxResults", &ISSUE_TYPE_PAGE.to_string());
    get("issue type list", url)
}

/// Who can be assigned issues in a project: by `query`, or one `accountId` exactly (the
/// two are exclusive).
pub(crate) enum UserFilter<'a> {
    Query(&'a str),
    AccountId(&'a str),
}

/// `GET /rest/api/3/user/assignable/search?project&query|accountId&startAt&maxResults`.
pub(crate) fn assignable_users(
    e: &Endpoints,
    cloud: &str,
    project: &str,
    filter: UserFilter<'_>,
    start_at: u64,
) -> ApiRequest {
    let mut url = e.jira(cloud, &["user", "assignable", "search"]);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("project", project);
        match filter {
            // A blank query is left out, which lists everyone, as the settings screen's
            // empty search box means (issue 9: do not send an empty `query`).
            UserFilter::Query(query) if query.trim().is_empty() => {}
            UserFilter::Query(query) => {
                q.append_pair("query", query);
            }
            UserFilter::AccountId(id) => {
                q.append_pair("accountId", id);
            }
        }
        q.append_pair("startAt", &start_at.to_string())
            .append_pair("maxResults", &USER_PAGE.to_string());
    }
    get("assignable user list", url)
}

/// `POST /rest/api/3/search/jql`: the duplicate check. `reconcile` ids are evaluated on
/// current data, so an issue made or closed seconds ago is seen as it is.
pub(crate) fn search(e: &Endpoints, cloud: &str, jql: &str, reconcile: &[u64]) -> ApiRequest {
    let mut body = json!({
        "jql": jql,
        "fields": ["key", "status", "labels", "resolution", "statuscategorychangedate"],
        "maxResults": SEARCH_PAGE,
    });
    if !reconcile.is_empty() {
        body["reconcileIssues"] = json!(reconcile);
    }
    post(
        "search",
        e.jira(cloud, &["search", "jql"]),
        &body,
        Replay::Safe,
    )
}

/// The operation name of a create, in its errors.
pub(crate) const CREATE_ISSUE: &str = "create issue";

/// `POST /rest/api/3/issue`, with the body the draft serialised
/// ([`IssueDraft::create_body`](crate::issue::IssueDraft::create_body)).
pub(crate) fn create_issue(e: &Endpoints, cloud: &str, body: Vec<u8>) -> ApiRequest {
    ApiRequest {
        operation: CREATE_ISSUE,
        method: Method::Post,
        url: e.jira(cloud, &["issue"]),
        body: Some(body),
        replay: Replay::OnlyIfNotReceived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};

    fn e() -> Endpoints {
        Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap()
    }

    fn body(r: &ApiRequest) -> Value {
        serde_json::from_slice(r.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn token_request_is_client_credentials() {
        let r = token(&e(), &Credentials::new("id-1", "s3cr3t".to_owned()));
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url.as_str(), "https://auth.atlassian.com/oauth/token");
        let b = body(&r);
        assert_eq!(b["grant_type"], "client_credentials");
        assert_eq!(b["client_id"], "id-1");
        assert_eq!(b["client_secret"], "s3cr3t");
        assert!(!format!("{r:?}").contains("s3cr3t"));
        assert!(!r.url.as_str().contains("s3cr3t"));
    }

    #[test]
    fn search_body_uses_only_known_members() {
        let r = search(&e(), "c1", "labels = \"x\"", &[10001]);
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/search/jql"
        );
        let b = body(&r);
        let mut keys: Vec<_> = b.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["fields", "jql", "maxResults", "reconcileIssues"]);
        assert_eq!(b["reconcileIssues"], json!([10001]));
        assert_eq!(
            b["fields"],
            json!([
                "key",
                "status",
                "labels",
                "resolution",
                "statuscategorychangedate"
            ])
        );
        let no_reconcile = body(&search(&e(), "c1", "labels = \"x\"", &[]));
        assert!(no_reconcile.get("reconcileIssues").is_none());
    }

    #[test]
    fn list_requests_page() {
        let r = project_search(&e(), "c1", 200);
        assert_eq!(
            r.url.query(),
            Some("startAt=200&maxResults=100&action=create")
        );
        let r = issue_types(&e(), "c1", "QA", 0);
        assert_eq!(
            r.url.path(),
            "/ex/jira/c1/rest/api/3/issue/createmeta/QA/issuetypes"
        );
        assert_eq!(r.url.query(), Some("startAt=0&maxResults=200"));
        let r = assignable_users(&e(), "c1", "QA", UserFilter::Query("a&b=c"), 0);
        assert_eq!(
            r.url.query(),
            Some("project=QA&query=a%26b%3Dc&startAt=0&maxResults=100")
        );
        let r = assignable_users(&e(), "c1", "QA", UserFilter::AccountId("x"), 0);
        assert!(r.url.query().unwrap().contains("accountId=x"));
        assert!(!r.url.query().unwrap().contains("query="));
        let r = assignable_users(&e(), "c1", "QA", UserFilter::Query(""), 100);
        assert_eq!(r.url.query(), Some("project=QA&startAt=100&maxResults=100"));
    }

    #[test]
    fn create_is_not_blindly_replayed() {
        let r = create_issue(&e(), "c1", br#"{"fields":{"summary":"s"}}"#.to_vec());
        assert_eq!(r.replay, Replay::OnlyIfNotReceived);
        assert_eq!(body(&r)["fields"]["summary"], "s");
    }
}
