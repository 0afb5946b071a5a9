//! Which part of Atlassian a rate limit covers, so that a slow-down holds back only the
//! requests it concerns ("Build an app that respects rate limits", developer.atlassian.com):
//!
//! | `RateLimit-Reason` | limit | scope |
//! |---|---|---|
//! | `jira-burst-based` | requests per second | one tenant, one endpoint, one HTTP method |
//! | `jira-per-issue-on-write` | writes to one issue | that issue |
//! | `jira-quota-*-based` (global, tenant) | points per hour | the whole tenant |
//!
//! A reason this crate does not know, or none, holds back the whole site: the safe
//! reading. The auth host is apart: its 429 never holds back Jira calls, and Jira's never
//! holds back token requests.

use crate::transport::Method;
use url::Url;

/// A part of Atlassian that a limit can cover.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// The auth host (`/oauth/token`).
    Auth,
    /// The gateway's own routes (`accessible-resources`).
    Gateway,
    /// One Jira site (tenant), by cloud id: every Jira call to it.
    Site(String),
    /// One endpoint and method of one site (the operation names one endpoint).
    Endpoint(String, Method, &'static str),
    /// Writes to one issue of one site, by id or key as the path names it.
    Issue(String, String),
}

/// The scopes one request falls in, narrowest last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scopes {
    all: Vec<Scope>,
}

impl Scopes {
    /// The scopes of a request to `url`; `auth` for the token request.
    pub(crate) fn of(auth: bool, method: Method, url: &Url, operation: &'static str) -> Scopes {
        if auth {
            return Scopes {
                all: vec![Scope::Auth],
            };
        }
        let segments: Vec<&str> = url.path_segments().map_or(Vec::new(), Iterator::collect);
        let Some(at) = segments
            .windows(3)
            .position(|w| w[0] == "ex" && w[1] == "jira")
        else {
            return Scopes {
                all: vec![Scope::Gateway],
            };
        };
        let cloud = segments[at + 2].to_owned();
        let mut all = vec![
            Scope::Site(cloud.clone()),
            Scope::Endpoint(cloud.clone(), method, operation),
        ];
        // `/rest/api/3/issue/{idOrKey}/...`: a write to that issue.
        let rest = &segments[at + 3..];
        if method != Method::Get {
            if let Some(i) = rest.iter().position(|s| *s == "issue") {
                if let Some(issue) = rest.get(i + 1).filter(|s| !s.is_empty()) {
                    all.push(Scope::Issue(cloud, (*issue).to_owned()));
                }
            }
        }
        Scopes { all }
    }

    /// Every scope, widest first.
    pub(crate) fn all(&self) -> &[Scope] {
        &self.all
    }

    /// The scope a limit named by `reason` covers, among this request's.
    pub(crate) fn for_reason(&self, reason: Option<&str>) -> &Scope {
        let widest = &self.all[0];
        let find = |want: fn(&Scope) -> bool| self.all.iter().find(|s| want(s));
        match reason {
            Some("jira-burst-based") => {
                find(|s| matches!(s, Scope::Endpoint(..))).unwrap_or(widest)
            }
            Some("jira-per-issue-on-write") => find(|s| matches!(s, Scope::Issue(..)))
                .or_else(|| find(|s| matches!(s, Scope::Endpoint(..))))
                .unwrap_or(widest),
            _ => widest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse(&format!("https://api.atlassian.com{path}")).unwrap()
    }

    #[test]
    fn each_reason_holds_its_own_scope() {
        let search = Scopes::of(
            false,
            Method::Post,
            &url("/ex/jira/c1/rest/api/3/search/jql"),
            "search",
        );
        let site = Scope::Site("c1".into());
        let endpoint = Scope::Endpoint("c1".into(), Method::Post, "search");
        assert_eq!(search.all(), [site.clone(), endpoint.clone()]);
        assert_eq!(search.for_reason(Some("jira-burst-based")), &endpoint);
        assert_eq!(search.for_reason(Some("jira-quota-tenant-based")), &site);
        assert_eq!(search.for_reason(Some("jira-quota-global-based")), &site);
        assert_eq!(search.for_reason(None), &site);
        assert_eq!(search.for_reason(Some("something-new")), &site);
        // Not a write to an issue: the endpoint stands in.
        assert_eq!(
            search.for_reason(Some("jira-per-issue-on-write")),
            &endpoint
        );

        let comment = Scopes::of(
            false,
            Method::Post,
            &url("/ex/jira/c1/rest/api/3/issue/QA-7/comment"),
            "comment",
        );
        assert_eq!(
            comment.for_reason(Some("jira-per-issue-on-write")),
            &Scope::Issue("c1".into(), "QA-7".into())
        );
        let read = Scopes::of(
            false,
            Method::Get,
            &url("/ex/jira/c1/rest/api/3/issue/QA-7"),
            "issue lookup",
        );
        assert_eq!(read.all().len(), 2);
    }

    #[test]
    fn the_auth_host_and_the_gateway_stand_apart() {
        let token = Scopes::of(true, Method::Post, &url("/oauth/token"), "token request");
        assert_eq!(token.all(), [Scope::Auth]);
        assert_eq!(token.for_reason(Some("jira-burst-based")), &Scope::Auth);
        let sites = Scopes::of(
            false,
            Method::Get,
            &url("/oauth/token/accessible-resources"),
            "site discovery",
        );
        assert_eq!(sites.all(), [Scope::Gateway]);
    }
}
