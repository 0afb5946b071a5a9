//! OAuth 2.0 scopes: which one each simulated endpoint needs, as the v3 spec states it.
//!
//! Each operation of `jira-platform-openapi-full.json` names its classic scope in
//! `x-atlassian-oauth2-scopes` (state `Current`): reads of work (search, issues, projects,
//! create metadata) need `read:jira-work`, writes of work `write:jira-work`, and users
//! (`/user/assignable/search`, `/myself`) `read:jira-user`. A token without it gets the
//! gateway's `401 {"code":401,"message":"Unauthorized; scope does not match"}`.

use jira_notifier::Method;

/// The scopes [`SimJira::new`](crate::SimJira::new)'s credential is granted.
pub(crate) const DEFAULT: [&str; 3] = ["read:jira-work", "write:jira-work", "read:jira-user"];

/// The scope a Jira route (the path after `/ex/jira/{cloudId}`, split) needs; `None` for
/// routes with no endpoint (answered 404 whatever the token holds) or none needed.
pub(crate) fn required(method: Method, rest: &[&str]) -> Option<&'static str> {
    match (method, rest) {
        // `serverInfo` can be read anonymously: no scope.
        (_, ["rest", "api", "3", "serverInfo"]) => None,
        (_, ["rest", "api", "3", "myself"]) | (_, ["rest", "api", "3", "user", ..]) => {
            Some("read:jira-user")
        }
        (Method::Get, ["rest", "api", "3", ..]) => Some("read:jira-work"),
        // Search is a POST that reads.
        (Method::Post, ["rest", "api", "3", "search", ..]) => Some("read:jira-work"),
        (_, ["rest", "api", "3", ..]) => Some("write:jira-work"),
        _ => None,
    }
}

/// Whether a scope is one of Jira's (classic `read:jira-work`, granular `read:issue:jira`).
pub(crate) fn is_jira(scope: &str) -> bool {
    scope.contains("jira")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_spec() {
        let r = |m, p: &str| required(m, &p.split('/').collect::<Vec<_>>());
        assert_eq!(
            r(Method::Post, "rest/api/3/search/jql"),
            Some("read:jira-work")
        );
        assert_eq!(r(Method::Post, "rest/api/3/issue"), Some("write:jira-work"));
        assert_eq!(
            r(Method::Get, "rest/api/3/issue/QA-1"),
            Some("read:jira-work")
        );
        assert_eq!(
            r(Method::Get, "rest/api/3/user/assignable/search"),
            Some("read:jira-user")
        );
        assert_eq!(r(Method::Get, "rest/api/3/myself"), Some("read:jira-user"));
        assert_eq!(r(Method::Get, "rest/api/3/serverInfo"), None);
        assert!(is_jira("read:issue:jira") && !is_jira("read:confluence-content.all"));
    }
}
