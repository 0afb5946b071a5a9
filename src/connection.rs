//! The service account's credentials and the Jira site they were connected to.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// An Atlassian service account's OAuth 2.0 client credentials.
///
/// `Debug` shows the client id and never the secret.
#[derive(Clone)]
pub struct Credentials {
    client_id: String,
    client_secret: SecretString,
}

impl Credentials {
    /// Credentials from a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Credentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret. Expose it only to send it or to persist it on purpose.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    pub(crate) fn same_as(&self, other: &Credentials) -> bool {
        self.client_id == other.client_id
            && self.client_secret.expose_secret() == other.client_secret.expose_secret()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A Jira Cloud site the credentials can reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Site {
    /// The cloud id, used in gateway URLs.
    pub cloud_id: String,
    /// The site's name (`NAME` in `NAME.atlassian.net`).
    pub name: String,
    /// The site's URL, used for links people open (`https://NAME.atlassian.net`).
    pub url: String,
}

impl Site {
    /// A site from its cloud id, name and URL.
    pub fn new(
        cloud_id: impl Into<String>,
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Site {
            cloud_id: cloud_id.into(),
            name: name.into(),
            url: url.into(),
        }
    }

    /// The browse link of an issue on this site: what people click, never the gateway URL.
    pub fn browse_url(&self, issue_key: &str) -> String {
        format!("{}/browse/{}", self.url.trim_end_matches('/'), issue_key)
    }
}

/// What `connect` stores: the credentials and the chosen site.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Connection {
    /// The credentials (the secret stays redacted in `Debug`).
    pub credentials: Credentials,
    /// The site chosen at connect time.
    pub site: Site,
}

impl Connection {
    /// A connection: the credentials and the site they were connected to.
    pub fn new(credentials: Credentials, site: Site) -> Self {
        Connection { credentials, site }
    }
}
