//! Site discovery: which Jira sites the credentials reach, and which one to use.

use url::Url;

use crate::connection::Site;
use crate::error::{Error, Result};
use crate::jira::models::AccessibleResource;

/// Turns the accessible-resources answer into sites, trusting nothing: a site whose id
/// could not go into a gateway path, or whose URL is not https, is left out.
///
/// The list may hold resources of other products (a Confluence site, with its own scopes)
/// and the same site more than once (issue 9): only resources with a Jira scope count
/// (classic `read:jira-work`, granular `read:issue:jira`), once per cloud id. When
/// resources are listed but none has a Jira scope, the credential has none.
pub(crate) fn sites_from(resources: Vec<AccessibleResource>) -> Result<Vec<Site>> {
    let listed = resources.len();
    let mut seen: Vec<String> = Vec::new();
    let jira: Vec<AccessibleResource> = resources
        .into_iter()
        // A resource listing no scopes at all says nothing either way: kept.
        .filter(|r| r.scopes.is_empty() || r.scopes.iter().any(|s| s.contains("jira")))
        .filter(|r| {
            let first = !seen.contains(&r.id);
            if first {
                seen.push(r.id.clone());
            }
            first
        })
        .collect();
    if jira.is_empty() && listed > 0 {
        return Err(Error::NoJiraScopes);
    }
    let total = jira.len();
    let sites: Vec<Site> = jira
        .into_iter()
        .filter_map(|r| {
            let ok_id = !r.id.is_empty()
                && r.id.len() <= 64
                && r.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let url = Url::parse(&r.url).ok().filter(|u| {
                u.scheme() == "https" && u.host_str().is_some() && u.username().is_empty()
            });
            match (ok_id, url) {
                (true, Some(url)) => Some(Site {
                    cloud_id: r.id,
                    name: r.name,
                    url: url.as_str().trim_end_matches('/').to_owned(),
                }),
                _ => {
                    tracing::warn!(
                        "left out a site with an unusable id or a URL that is not https"
                    );
                    None
                }
            }
        })
        .collect();
    if sites.is_empty() && total > 0 {
        return Err(Error::unexpected(
            "site discovery",
            "no listed site has a usable cloud id and an https URL",
        ));
    }
    Ok(sites)
}

/// Picks the site: the one named (by cloud id, name or URL), or the only one.
pub(crate) fn choose(sites: Vec<Site>, wanted: Option<&str>) -> Result<Site> {
    match wanted {
        Some(w) => {
            let w = w.trim();
            let wt = w.trim_end_matches('/');
            let found = sites.iter().position(|s| {
                s.cloud_id == w || s.name.eq_ignore_ascii_case(w) || s.url.eq_ignore_ascii_case(wt)
            });
            match found {
                Some(i) => Ok(sites.into_iter().nth(i).expect("index from position")),
                None => Err(Error::UnknownSite {
                    wanted: w.to_owned(),
                    available: sites,
                }),
            }
        }
        None => match sites.len() {
            0 => Err(Error::NoSites),
            1 => Ok(sites.into_iter().next().expect("one site")),
            _ => Err(Error::SiteChoiceRequired { sites }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str, name: &str, url: &str) -> AccessibleResource {
        AccessibleResource {
            id: id.into(),
            name: name.into(),
            url: url.into(),
            scopes: vec!["read:jira-work".into()],
        }
    }

    #[test]
    fn keeps_https_sites_with_sane_ids() {
        let sites = sites_from(vec![
            res("abc-123", "acme", "https://acme.atlassian.net/"),
            res("../x", "evil", "https://evil.example"),
            res("def", "plain", "http://plain.example"),
        ])
        .unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].url, "https://acme.atlassian.net");
        assert!(sites_from(vec![res("def", "plain", "http://plain.example")]).is_err());
        assert!(sites_from(vec![]).unwrap().is_empty());
    }

    #[test]
    fn leaves_out_other_products() {
        let mut confluence = res("c", "wiki", "https://wiki.atlassian.net");
        confluence.scopes = vec!["read:confluence-content.all".into()];
        let sites = sites_from(vec![
            confluence,
            res("j", "acme", "https://acme.atlassian.net"),
        ])
        .unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].cloud_id, "j");
    }

    #[test]
    fn keeps_each_jira_site_once_and_says_when_no_jira_scope_is_left() {
        let wiki = || {
            let mut r = res("w", "wiki", "https://wiki.atlassian.net");
            r.scopes = vec!["read:confluence-content.all".into()];
            r
        };
        let mut granular = res("j", "acme", "https://acme.atlassian.net");
        granular.scopes = vec!["read:issue:jira".into()];
        let sites = sites_from(vec![
            res("j", "acme", "https://acme.atlassian.net"),
            wiki(),
            granular,
        ])
        .unwrap();
        assert_eq!(sites.len(), 1);
        assert!(matches!(sites_from(vec![wiki()]), Err(Error::NoJiraScopes)));
    }

    #[test]
    fn chooses() {
        let s = |id: &str, name: &str| Site {
            cloud_id: id.into(),
            name: name.into(),
            url: format!("https://{name}.atlassian.net"),
        };
        assert_eq!(choose(vec![s("1", "a")], None).unwrap().cloud_id, "1");
        assert!(matches!(choose(vec![], None), Err(Error::NoSites)));
        let two = vec![s("1", "a"), s("2", "b")];
        assert!(
            matches!(choose(two.clone(), None), Err(Error::SiteChoiceRequired { sites }) if sites.len() == 2)
        );
        assert_eq!(choose(two.clone(), Some("B")).unwrap().cloud_id, "2");
        assert_eq!(choose(two.clone(), Some("2")).unwrap().cloud_id, "2");
        assert_eq!(
            choose(two.clone(), Some("https://a.atlassian.net/"))
                .unwrap()
                .cloud_id,
            "1"
        );
        assert!(matches!(
            choose(two, Some("zz")),
            Err(Error::UnknownSite { .. })
        ));
    }
}
