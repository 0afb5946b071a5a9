//! Where requests go: the auth host and the API gateway, both settable.

use std::fmt::Write;
use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

/// Atlassian's auth host.
pub const DEFAULT_AUTH_URL: &str = "https://auth.atlassian.com";
/// Atlassian's API gateway, through which every Jira call goes.
pub const DEFAULT_API_URL: &str = "https://api.atlassian.com";

#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    auth: Url,
    api: Url,
}

impl Endpoints {
    pub(crate) fn new(auth: &str, api: &str) -> Result<Self> {
        Ok(Endpoints {
            auth: check_base("auth URL", auth)?,
            api: check_base("API URL", api)?,
        })
    }

    pub(crate) fn token(&self) -> Url {
        join(&self.auth, &["oauth", "token"])
    }

    pub(crate) fn accessible_resources(&self) -> Url {
        join(&self.api, &["oauth", "token", "accessible-resources"])
    }

    /// `{api}/ex/jira/{cloudId}/rest/api/3/{segments…}`, every segment percent-encoded.
    pub(crate) fn jira(&self, cloud_id: &str, segments: &[&str]) -> Url {
        let mut all = vec!["ex", "jira", cloud_id, "rest", "api", "3"];
        all.extend_from_slice(segments);
        join(&self.api, &all)
    }
}

fn join(base: &Url, segments: &[&str]) -> Url {
    // Built by hand rather than with the url crate's `path_segments_mut`, which drops tabs
    // and line breaks from a segment instead of encoding them (`a\tb` would become `ab`,
    // and `\t..` a `..` that removes the segment before it). The encoding is otherwise the
    // same as the url crate's.
    let mut path = base.path().to_owned();
    if path.ends_with('/') {
        path.pop();
    }
    for segment in segments {
        // The url crate drops these too; callers never pass them.
        if matches!(*segment, "." | "..") {
            continue;
        }
        path.push('/');
        encode_segment(&mut path, segment);
    }
    let mut url = base.clone();
    url.set_path(&path);
    url
}

/// Percent-encodes a path segment of an http(s) URL with the WHATWG path-segment set for
/// special URLs, as the url crate does: controls, non-ASCII, space, double quote, `#`,
/// `<`, `>`, `?`, backquote, `{`, `}`, `/`, `%` and backslash.
fn encode_segment(out: &mut String, segment: &str) {
    for &b in segment.as_bytes() {
        if !(0x20..0x7f).contains(&b) || b" \"#<>?`{}/%\\".contains(&b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
}

/// A base URL must be https, or plain http on a loopback host (tests, local proxies): a
/// bearer token or client secret must never cross a network in clear.
fn check_base(what: &str, raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("the {what} {raw:?} is not a URL: {e}")))?;
    if url.cannot_be_a_base() {
        return Err(Error::Config(format!(
            "the {what} {raw:?} cannot be a base URL"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "the {what} must not carry credentials"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the {what} must not have a query or fragment"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "the {what} {raw:?} uses plain http, allowed only for loopback hosts; use https"
        ))),
        other => Err(Error::Config(format!(
            "the {what} has scheme {other:?}; use https"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap();
        assert_eq!(e.token().as_str(), "https://auth.atlassian.com/oauth/token");
        assert_eq!(
            e.accessible_resources().as_str(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        assert_eq!(
            e.jira("abc-1", &["search", "jql"]).as_str(),
            "https://api.atlassian.com/ex/jira/abc-1/rest/api/3/search/jql"
        );
    }

    #[test]
    fn segments_are_encoded_and_prefixes_kept() {
        let e = Endpoints::new("http://127.0.0.1:9/auth/", "http://localhost:8/gw").unwrap();
        assert_eq!(e.token().as_str(), "http://127.0.0.1:9/auth/oauth/token");
        assert_eq!(
            e.jira("c", &["project", "A/B ?#"]).as_str(),
            "http://localhost:8/gw/ex/jira/c/rest/api/3/project/A%2FB%20%3F%23"
        );
        // The url crate drops `.` and `..` segments: callers check values so that none
        // is ever one (project keys start with a letter or digit, ids are numbers).
        assert_eq!(
            e.jira("c", &["issue", ".."]).path(),
            "/gw/ex/jira/c/rest/api/3/issue"
        );
        // Tabs and line breaks are encoded, not dropped.
        assert_eq!(
            e.jira("c", &["issue", "\t..", "a\nb"]).path(),
            "/gw/ex/jira/c/rest/api/3/issue/%09../a%0Ab"
        );
    }

    #[test]
    fn insecure_bases_are_refused() {
        assert!(Endpoints::new("http://auth.example.com", DEFAULT_API_URL).is_err());
        assert!(Endpoints::new(DEFAULT_AUTH_URL, "http://10.0.0.1").is_err());
        assert!(Endpoints::new(DEFAULT_AUTH_URL, "ftp://x").is_err());
        assert!(Endpoints::new(DEFAULT_AUTH_URL, "https://u:p@x").is_err());
        assert!(Endpoints::new(DEFAULT_AUTH_URL, "https://x/?a=b").is_err());
        assert!(Endpoints::new(DEFAULT_AUTH_URL, "not a url").is_err());
        assert!(Endpoints::new("http://[::1]:80", "http://127.0.0.2").is_ok());
    }
}
