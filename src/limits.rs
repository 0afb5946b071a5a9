//! Request limits per Jira site: each site (and the auth host) has its own gate, so a
//! site answering 429 never slows the requests of the other workspaces' sites, and the
//! cap on requests in flight applies to each site.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use url::Url;

use crate::throttle::Gate;

/// The gates of every site the process talks to.
#[derive(Debug)]
pub(crate) struct SiteGates {
    max_in_flight: usize,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

impl SiteGates {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        SiteGates {
            max_in_flight,
            gates: Mutex::default(),
        }
    }

    /// The gate of the site `url` goes to: the cloud id of a gateway URL
    /// (`…/ex/jira/{cloudId}/…`), else the host (the auth host; a site's own host).
    pub(crate) fn for_url(&self, url: &Url) -> Arc<Gate> {
        let key = site_key(url);
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(key) {
            return Arc::clone(g);
        }
        // One small entry per site ever seen: a process serves a bounded set of sites, so
        // the map is not swept (a gate may hold a slow-down that must outlive a lull).
        let gate = Arc::new(Gate::new(self.max_in_flight));
        gates.insert(key.to_owned(), Arc::clone(&gate));
        gate
    }
}

fn site_key(url: &Url) -> &str {
    let mut segments = url.path_segments().into_iter().flatten();
    match (segments.next(), segments.next(), segments.next()) {
        (Some("ex"), Some("jira"), Some(cloud_id)) if !cloud_id.is_empty() => cloud_id,
        _ => url.host_str().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn sites_have_gates_of_their_own_and_requests_of_one_site_share_one() {
        let gates = SiteGates::new(4);
        let a1 = gates.for_url(&url(
            "https://api.atlassian.com/ex/jira/aaa/rest/api/3/issue",
        ));
        let a2 = gates.for_url(&url(
            "https://api.atlassian.com/ex/jira/aaa/rest/api/3/search/jql",
        ));
        let b = gates.for_url(&url(
            "https://api.atlassian.com/ex/jira/bbb/rest/api/3/issue",
        ));
        let auth = gates.for_url(&url("https://auth.atlassian.com/oauth/token"));
        assert!(Arc::ptr_eq(&a1, &a2));
        assert!(!Arc::ptr_eq(&a1, &b));
        assert!(!Arc::ptr_eq(&a1, &auth));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_of_one_site_leaves_the_others_alone() {
        use crate::throttle::{Priority, Scopes};
        use crate::transport::{HttpResponse, Method};
        use std::time::Duration;

        let gates = SiteGates::new(4);
        let slow_url = url("https://api.atlassian.com/ex/jira/slow/rest/api/3/issue");
        let fast_url = url("https://api.atlassian.com/ex/jira/fast/rest/api/3/issue");
        let slow = gates.for_url(&slow_url);
        let fast = gates.for_url(&fast_url);
        let scopes = |u: &Url| Scopes::of(false, Method::Post, u, "create issue");
        // A site-wide quota 429 on the slow site.
        let answer = HttpResponse::json(429, "{}")
            .with_header("ratelimit-reason", "jira-quota-global-based");
        slow.observe(&scopes(&slow_url), &answer, Some(Duration::from_secs(30)));
        let before = tokio::time::Instant::now();
        let pass = fast
            .enter(
                &scopes(&fast_url),
                Priority::Normal,
                Duration::from_secs(60),
            )
            .await;
        assert!(pass.is_ok());
        assert_eq!(tokio::time::Instant::now(), before, "the fast site waited");
        drop(pass);
        assert!(slow
            .enter(&scopes(&slow_url), Priority::Normal, Duration::from_secs(1))
            .await
            .is_err());
    }
}
