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
    /// Where `/_edge/tenant_info` is read instead of on each site's own host.
    tenant_info: Option<Url>,
}

impl Endpoints {
    pub(crate) fn new(auth: &str, api: &str) -> Result<Self> {
        Ok(Endpoints {
            auth: check_base("auth URL", auth)?,
            api: check_base("API URL", api)?,
            tenant_info: None,
        })
    }

    /// Reads `/_edge/tenant_info` from `base` (a stand-in, a proxy) for every site.
    pub(crate) fn with_tenant_info(mut self, base: &str) -> Result<Self> {
        self.tenant_info = Some(check_base("tenant info URL", base)?);
        Ok(self)
    }

    /// Whether `/_edge/tenant_info` is read from a stand-in rather than the sites' hosts.
    pub(crate) fn has_tenant_info_base(&self) -> bool {
        self.tenant_info.is_some()
    }

    /// `https://SITE/_edge/tenant_info`: the site's cloud id, which its host gives anyone.
    pub(crate) fn tenant_info(&self, site: &Url) -> Url {
        match &self.tenant_info {
            Some(base) => join(base, &["_edge", "tenant_info"]),
            None => {
                let mut origin = site.clone();
                origin.set_path("/");
                origin.set_query(None);
                origin.set_fragment(None);
                join(&origin, &["_edge", "tenant_info"])
            }
        }
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

impl Endpoints {
    /// A gateway URL ([`jira`](Self::jira)) moved to the site's own host, for a person's
    /// API token: `{api}/ex/jira/{cloudId}/rest/api/3/…?q` becomes `{site}/rest/api/3/…?q`
    /// (path and query as they were encoded). The site must be https, or loopback http.
    pub(crate) fn on_site(&self, gateway_url: &Url, site: &str) -> Result<Url> {
        let site = check_site(site).map_err(|_| {
            Error::Config(format!(
                "the connection's site URL {site:?} is not an https site URL"
            ))
        })?;
        let prefix = self.api.path().trim_end_matches('/');
        let rest = gateway_url
            .path()
            .strip_prefix(prefix)
            .and_then(|p| p.strip_prefix("/ex/jira/"))
            .and_then(|p| p.find('/').map(|i| &p[i..]))
            .ok_or_else(|| Error::Config("a request that is not a Jira call".into()))?;
        let mut url = site;
        url.set_path(rest);
        url.set_query(gateway_url.query());
        url.set_fragment(None);
        Ok(url)
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

/// A site's URL as a host names it (`https://acme.atlassian.net`, a trailing slash or a
/// path allowed): https, or plain http on a loopback host.
pub(crate) fn check_site(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::invalid("site", format!("{raw:?} is not a URL: {e}")))?;
    let ok = url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url)));
    if !ok {
        return Err(Error::invalid(
            "site",
            format!("{raw:?} is not a site URL: use https://NAME.atlassian.net"),
        ));
    }
    Ok(url)
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

pub(crate) fn is_loopback(url: &Url) -> bool {
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
    fn tenant_info_is_read_on_the_sites_host_or_the_stand_in() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap();
        let site = check_site("https://acme.atlassian.net/jira/x?y=1").unwrap();
        assert_eq!(
            e.tenant_info(&site).as_str(),
            "https://acme.atlassian.net/_edge/tenant_info"
        );
        let e = e.with_tenant_info("http://127.0.0.1:9/site").unwrap();
        assert_eq!(
            e.tenant_info(&site).as_str(),
            "http://127.0.0.1:9/site/_edge/tenant_info"
        );
        assert!(Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL)
            .unwrap()
            .with_tenant_info("http://stand-in.example")
            .is_err());
        assert!(check_site("http://acme.atlassian.net").is_err());
        assert!(check_site("https://u:p@acme.atlassian.net").is_err());
        assert!(check_site("acme").is_err());
        assert!(check_site("http://localhost:8080").is_ok());
    }

    #[test]
    fn a_personal_tokens_calls_go_to_the_site_itself() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, "http://127.0.0.1:8/gw").unwrap();
        let gw = e.jira("c-1", &["project", "A/B ?#"]);
        let mut gw = gw;
        gw.set_query(Some("expand=x%20y"));
        assert_eq!(
            e.on_site(&gw, "https://acme.atlassian.net")
                .unwrap()
                .as_str(),
            "https://acme.atlassian.net/rest/api/3/project/A%2FB%20%3F%23?expand=x%20y"
        );
        assert_eq!(
            e.on_site(&e.jira("c", &["myself"]), "http://127.0.0.1:9/")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/rest/api/3/myself"
        );
        assert!(e.on_site(&gw, "http://acme.atlassian.net").is_err());
        assert!(e.on_site(&e.token(), "https://acme.atlassian.net").is_err());
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
