//! OAuth 2.0 scopes: which one a request needs, and telling a missing scope from an
//! expired token.
//!
//! Every Jira operation names its classic scope in the v3 spec
//! (`x-atlassian-oauth2-scopes`, state `Current`): reads of work (search, issues, projects,
//! create metadata) `read:jira-work`, writes `write:jira-work`, users (the assignee picker,
//! `/myself`) `read:jira-user`. A token without it gets the gateway's `401`
//! `{"code":401,"message":"Unauthorized; scope does not match"}` (Atlassian Community
//! threads on OAuth tokens missing a scope; issue 9), where an expired or unknown token gets
//! a plain "Unauthorized".

use crate::transport::{HttpResponse, Method};
use url::Url;

/// The scope a Jira request needs, from its method and path.
pub(crate) fn required(method: Method, url: &Url) -> &'static str {
    let path = url.path();
    if path.contains("/rest/api/3/user/") || path.ends_with("/rest/api/3/myself") {
        "read:jira-user"
    } else if method == Method::Get || path.ends_with("/search/jql") {
        "read:jira-work"
    } else {
        "write:jira-work"
    }
}

/// Whether a `401` says the token lacks a scope, rather than that it expired.
pub(crate) fn is_scope_mismatch(resp: &HttpResponse) -> bool {
    resp.status == 401
        && String::from_utf8_lossy(&resp.body)
            .to_ascii_lowercase()
            .contains("scope does not match")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse(&format!("https://api.atlassian.com/ex/jira/c{path}")).unwrap()
    }

    #[test]
    fn follows_the_spec() {
        let search = url("/rest/api/3/search/jql");
        assert_eq!(required(Method::Post, &search), "read:jira-work");
        let create = url("/rest/api/3/issue");
        assert_eq!(required(Method::Post, &create), "write:jira-work");
        let users = url("/rest/api/3/user/assignable/search");
        assert_eq!(required(Method::Get, &users), "read:jira-user");
        let projects = url("/rest/api/3/project/search");
        assert_eq!(required(Method::Get, &projects), "read:jira-work");
    }

    #[test]
    fn tells_a_missing_scope_from_an_expired_token() {
        let scope = HttpResponse::json(
            401,
            r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
        );
        assert!(is_scope_mismatch(&scope));
        let expired = HttpResponse::json(401, r#"{"code":401,"message":"Unauthorized"}"#);
        assert!(!is_scope_mismatch(&expired));
        let forbidden = HttpResponse::json(403, r#"{"message":"scope does not match"}"#);
        assert!(!is_scope_mismatch(&forbidden));
    }
}
