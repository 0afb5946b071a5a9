//! Connecting with a credential (client credentials, an API token, the host's token
//! source), and disconnecting.

use super::JiraNotifier;
use crate::auth::sites::choose;
use crate::connection::{Connection, CredentialKind, Credentials, Site};
use crate::error::{Error, Result};

impl JiraNotifier {
    /// Checks the credentials, discovers the Jira site and stores the connection.
    ///
    /// With several sites, nothing is stored and [`Error::SiteChoiceRequired`] lists them:
    /// call [`connect_to_site`](Self::connect_to_site) with the one chosen. Wrong
    /// credentials give [`Error::CredentialsRejected`] and store nothing.
    ///
    /// With [`Credentials::token_source`] the site is the one whose cloud id the source
    /// names. An API token ([`Credentials::service_account_token`],
    /// [`Credentials::personal_token`]) cannot list sites: connect it with
    /// [`connect_to_site_url`](Self::connect_to_site_url).
    pub async fn connect(&self, credentials: Credentials) -> Result<Site> {
        self.connect_inner(credentials, None).await
    }

    /// Like [`connect`](Self::connect), choosing the site by cloud id, name or URL. A site
    /// given by its URL (`https://NAME.atlassian.net`) that discovery does not list (a
    /// service account's credential may list nothing) is connected to as
    /// [`connect_to_site_url`](Self::connect_to_site_url) does.
    pub async fn connect_to_site(&self, credentials: Credentials, site: &str) -> Result<Site> {
        self.connect_inner(credentials, Some(site)).await
    }

    /// Connects to the site at `url` (`https://NAME.atlassian.net`) without discovery: its
    /// cloud id is read from `https://NAME.atlassian.net/_edge/tenant_info` (sent without
    /// any credential), then the credentials are checked to reach it through the gateway.
    /// A site they do not reach, or that does not exist, is [`Error::SiteUnreachable`];
    /// nothing is stored.
    ///
    /// This is how an API token connects: a service account's token
    /// ([`Credentials::service_account_token`]) through the gateway, a person's
    /// ([`Credentials::personal_token`]) on the site's own host, where every later call
    /// goes too. A wrong email or token is [`Error::CredentialRefused`], naming the kind of
    /// credential.
    pub async fn connect_to_site_url(&self, credentials: Credentials, url: &str) -> Result<Site> {
        check_credentials(&credentials)?;
        let site = self.inner.client.site_by_url(&credentials, url).await?;
        self.store_connection(credentials, site).await
    }

    /// The sites the credentials reach, without connecting.
    pub async fn discover_sites(&self, credentials: &Credentials) -> Result<Vec<Site>> {
        check_credentials(credentials)?;
        match credentials.kind() {
            CredentialKind::TokenSource => {
                Ok(vec![self.inner.client.site_of_source(credentials).await?])
            }
            kind if kind.is_api_token() => Err(needs_site_url(kind)),
            _ => self.inner.client.discover_sites(credentials).await,
        }
    }

    async fn connect_inner(&self, credentials: Credentials, wanted: Option<&str>) -> Result<Site> {
        check_credentials(&credentials)?;
        let named_by_url = wanted.is_some_and(|w| w.trim_start().starts_with("http"));
        let kind = credentials.kind();
        if kind != CredentialKind::ClientCredentials {
            let site = match wanted {
                Some(url) if named_by_url => {
                    self.inner.client.site_by_url(&credentials, url).await?
                }
                _ if kind.is_api_token() => return Err(needs_site_url(kind)),
                _ => {
                    let site = self.inner.client.site_of_source(&credentials).await?;
                    choose(vec![site], wanted)?
                }
            };
            return self.store_connection(credentials, site).await;
        }
        let sites = self.inner.client.discover_sites(&credentials).await?;
        let site = match choose(sites, wanted) {
            Ok(site) => site,
            // Not listed, but named by its URL: its host can still say its cloud id.
            Err(Error::NoSites | Error::UnknownSite { .. }) if named_by_url => {
                let url = wanted.unwrap_or_default();
                self.inner.client.site_by_url(&credentials, url).await?
            }
            Err(e) => return Err(e),
        };
        self.store_connection(credentials, site).await
    }

    /// Saves the connection, and drops settings made for another site.
    async fn store_connection(&self, credentials: Credentials, site: Site) -> Result<Site> {
        let store = &self.inner.store;
        store
            .save_connection(&Connection {
                credentials,
                site: site.clone(),
            })
            .await?;
        // Settings name projects of one site: they do not carry over to another. Deleted
        // only once the new connection is saved, so that a failing store cannot leave the
        // old site connected without its settings; left behind by a failing delete, they
        // are inert (reports and the test notification check their cloud id).
        if let Some(saved) = store.load_settings().await? {
            if saved.cloud_id != site.cloud_id {
                store.delete_settings().await?;
            }
        }
        Ok(site)
    }

    /// The connected site, if any.
    pub async fn connected_site(&self) -> Result<Option<Site>> {
        Ok(self.inner.store.load_connection().await?.map(|c| c.site))
    }

    /// Removes the credentials and the connection and forgets the access token; from then
    /// on no request is made until the next [`connect`](Self::connect). Settings and
    /// overrides are kept for a reconnect to the same site.
    pub async fn disconnect(&self) -> Result<()> {
        let connection = self.inner.store.load_connection().await?;
        self.inner.store.delete_connection().await?;
        if let Some(c) = connection {
            self.inner.client.forget(&c.credentials).await;
        }
        Ok(())
    }
}

/// An API token reaches sites, but cannot list them.
fn needs_site_url(kind: CredentialKind) -> Error {
    Error::invalid(
        "site",
        format!("a {kind} cannot list sites: name the site by its URL (https://NAME.atlassian.net) with connect_to_site_url"),
    )
}

fn check_credentials(c: &Credentials) -> Result<()> {
    use secrecy::ExposeSecret;
    match c.kind() {
        CredentialKind::TokenSource if c.client_id().trim().is_empty() => {
            return Err(Error::invalid("name", "the token source's name is empty"));
        }
        CredentialKind::TokenSource => return Ok(()),
        kind if kind.is_api_token() => {
            let email = c.client_id().trim();
            if email.is_empty() || !email.contains('@') {
                return Err(Error::invalid(
                    "email",
                    format!("the {kind} needs the account's email address"),
                ));
            }
            if c.client_secret().expose_secret().trim().is_empty() {
                return Err(Error::invalid("api_token", "the API token is empty"));
            }
            return Ok(());
        }
        _ => {}
    }
    if c.client_id().trim().is_empty() {
        return Err(Error::invalid("client_id", "the client id is empty"));
    }
    if c.client_secret().expose_secret().trim().is_empty() {
        return Err(Error::invalid(
            "client_secret",
            "the client secret is empty",
        ));
    }
    Ok(())
}
