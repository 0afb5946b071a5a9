//! Connecting to a site named by its URL, without discovery: for a credential whose
//! `accessible-resources` lists nothing, or a host that already knows its site.
//!
//! 1. `GET https://SITE/_edge/tenant_info` gives the site's cloud id to anyone
//!    (`{"cloudId":"…"}`; Atlassian Support, "How to find your Atlassian Cloud site's
//!    Cloud ID"). It is sent without a token: the site's own host never sees one.
//! 2. `GET {gateway}/ex/jira/{cloudId}/rest/api/3/serverInfo` with the token checks that
//!    the credentials reach that site through the gateway (which answers `404` for a cloud
//!    id they do not reach), and its `baseUrl` that the cloud id is the site's. The
//!    operation needs no scope (v3 spec, `getServerInfo`).
//!
//! A person's API token reaches the site on its own host only: step 2 is then
//! `GET https://SITE/rest/api/3/serverInfo`, and the site is the URL given. A host token
//! source names its cloud id itself, which must be the site's.

use serde::Deserialize;
use url::Url;

use crate::connection::{CredentialKind, Credentials, Site};
use crate::endpoints::{check_site, is_loopback};
use crate::error::{Error, Result};
use crate::jira::answers::parse;
use crate::jira::requests::{ApiRequest, Replay};
use crate::jira::JiraClient;
use crate::transport::Method;

const TENANT_INFO: &str = "site lookup";
const SERVER_INFO: &str = "site check";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantInfo {
    cloud_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerInfo {
    base_url: Option<String>,
    display_url: Option<String>,
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

impl JiraClient {
    /// The site at `raw_url`, if it exists and the credentials reach it.
    pub(crate) async fn site_by_url(&self, creds: &Credentials, raw_url: &str) -> Result<Site> {
        let url = check_site(raw_url)?;
        let shown = raw_url.trim().trim_end_matches('/').to_owned();
        let unreachable = |reason: String| Error::SiteUnreachable {
            url: shown.clone(),
            reason,
        };

        let req = get(TENANT_INFO, self.endpoints.tenant_info(&url));
        let info: TenantInfo =
            match self.call_anonymously(&req).await {
                Ok(resp) => parse(req.operation, &resp)?,
                Err(Error::Api(e)) if e.status == 404 => return Err(unreachable(
                    "Atlassian knows no site at this address (its /_edge/tenant_info answered 404)"
                        .into(),
                )),
                Err(e) => return Err(e),
            };
        let id = info.cloud_id;
        let usable = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !usable {
            return Err(Error::unexpected(
                req.operation,
                "a cloud id that could not go into a gateway path",
            ));
        }

        let kind = creds.kind();
        if kind == CredentialKind::TokenSource {
            let (_, sourced) = self.sourced_token(creds.client_id(), None).await?;
            if sourced != id {
                return Err(unreachable(format!(
                    "the host token source's tokens are for the cloud id {sourced}, and this site's is {id}"
                )));
            }
        }

        let req = get(SERVER_INFO, self.endpoints.jira(&id, &["serverInfo"]));
        let server: ServerInfo = match self.call_as(creds, &origin(&url), &req).await {
            Ok(resp) => parse(req.operation, &resp)?,
            Err(Error::Api(e)) if matches!(e.status, 403 | 404) => {
                let who = match kind {
                    CredentialKind::PersonalToken => "the site",
                    _ => "the gateway",
                };
                let fix = match kind {
                    CredentialKind::PersonalToken => {
                        "check that the person can use Jira on this site"
                    }
                    CredentialKind::TokenSource => "check that the app was granted this site",
                    _ => "give the service account access to this site in Atlassian Admin",
                };
                return Err(unreachable(format!(
                    "the credentials do not reach it ({who} answered {} for its cloud id {id}); {fix}",
                    e.status
                )));
            }
            Err(e) => return Err(e),
        };
        let host = url.host_str().unwrap_or_default();
        let named = |u: &Option<String>| {
            u.as_deref()
                .and_then(|u| Url::parse(u).ok())
                .filter(|u| u.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)))
        };
        let base = named(&server.base_url).or_else(|| named(&server.display_url));
        // Behind a stand-in (tests, a proxy) the gateway cannot know the host asked for.
        // A loopback "site" is a stand-in too. A person's token asked the site itself.
        let stand_in = self.endpoints.has_tenant_info_base() || is_loopback(&url);
        if kind == CredentialKind::PersonalToken {
            return Ok(Site {
                cloud_id: id,
                name: site_name(&origin(&url)),
                url: origin(&url),
            });
        }
        if base.is_none() && !stand_in {
            return Err(unreachable(format!(
                "its cloud id {id} is the site {}, not this one",
                server.base_url.as_deref().unwrap_or("(unnamed)")
            )));
        }
        let site_url = base
            .filter(|u| u.scheme() == "https")
            .map_or_else(|| origin(&url), |u| origin(&u));
        Ok(Site {
            cloud_id: id,
            name: site_name(&site_url),
            url: site_url,
        })
    }
}

/// `NAME` of `https://NAME.atlassian.net`.
fn site_name(site_url: &str) -> String {
    Url::parse(site_url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.split('.').next().unwrap_or(h).to_owned())
        })
        .unwrap_or_default()
}

impl JiraClient {
    /// The site of a host token source's tokens: the cloud id it names, checked through
    /// the gateway, whose `serverInfo` says the site's URL.
    pub(crate) async fn site_of_source(&self, creds: &Credentials) -> Result<Site> {
        let (_, id) = self.sourced_token(creds.client_id(), None).await?;
        let req = get(SERVER_INFO, self.endpoints.jira(&id, &["serverInfo"]));
        let server: ServerInfo = match self.call_as(creds, "", &req).await {
            Ok(resp) => parse(req.operation, &resp)?,
            Err(Error::Api(e)) if matches!(e.status, 403 | 404) => {
                return Err(Error::SiteUnreachable {
                    url: format!("cloud id {id}"),
                    reason: format!(
                        "the host token source's token does not reach it (the gateway answered {}); check that the app was granted this site",
                        e.status
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        let url = [&server.base_url, &server.display_url]
            .into_iter()
            .flatten()
            .filter_map(|u| Url::parse(u).ok())
            .find(|u| u.scheme() == "https" && u.host_str().is_some() && u.username().is_empty())
            .ok_or_else(|| {
                Error::unexpected(req.operation, "no https site URL in the server info")
            })?;
        let site_url = origin(&url);
        Ok(Site {
            cloud_id: id,
            name: site_name(&site_url),
            url: site_url,
        })
    }
}

/// `scheme://host[:port]`: where people open the site.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}
