//! The credentials (of a service account, a person, or the host's own token source) and the
//! Jira site they were connected to.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Which kind of credential a connection uses: how requests are signed and where they go.
///
/// Stored with the connection (as its `snake_case` name); a connection stored before kinds
/// existed is [`ClientCredentials`](Self::ClientCredentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// A service account's OAuth 2.0 client credentials (the default): a bearer token from
    /// `auth.atlassian.com`, calls through the gateway.
    #[default]
    ClientCredentials,
    /// A service account's scoped API token: basic auth with the account's email and the
    /// token, calls through the gateway (`api.atlassian.com/ex/jira/{cloudId}`).
    ServiceAccountToken,
    /// A person's API token (id.atlassian.com): basic auth with their email and the token,
    /// calls straight to the site (`https://NAME.atlassian.net/rest/api/3/…`). Issues are
    /// reported by that person.
    PersonalToken,
    /// The host's own [`TokenSource`](crate::TokenSource) (an OAuth 2.0 3LO app): a bearer
    /// token the host hands over, calls through the gateway.
    TokenSource,
}

impl CredentialKind {
    /// The name it is stored under (`client_credentials`, `service_account_token`,
    /// `personal_token`, `token_source`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ClientCredentials => "client_credentials",
            CredentialKind::ServiceAccountToken => "service_account_token",
            CredentialKind::PersonalToken => "personal_token",
            CredentialKind::TokenSource => "token_source",
        }
    }

    /// The kind stored under `name` ([`as_str`](Self::as_str)), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            CredentialKind::ClientCredentials,
            CredentialKind::ServiceAccountToken,
            CredentialKind::PersonalToken,
            CredentialKind::TokenSource,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether requests are signed with the email and the API token (basic auth).
    pub const fn is_api_token(self) -> bool {
        matches!(
            self,
            CredentialKind::ServiceAccountToken | CredentialKind::PersonalToken
        )
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::ClientCredentials => "OAuth 2.0 client credentials",
            CredentialKind::ServiceAccountToken => "service account API token",
            CredentialKind::PersonalToken => "personal API token",
            CredentialKind::TokenSource => "host token source",
        })
    }
}

/// The credential a workspace connects with: a service account's OAuth 2.0 client
/// credentials ([`new`](Self::new), the default), a service account's scoped API token
/// ([`service_account_token`](Self::service_account_token)), a person's API token
/// ([`personal_token`](Self::personal_token)), or the host's own token source
/// ([`token_source`](Self::token_source)).
///
/// `Debug` shows the kind and the client id (or email, or source name), never the secret.
#[derive(Clone)]
pub struct Credentials {
    kind: CredentialKind,
    client_id: String,
    client_secret: SecretString,
}

impl Credentials {
    /// A service account's OAuth 2.0 client credentials, from a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Self::from_parts(CredentialKind::ClientCredentials, client_id, client_secret)
    }

    /// A service account's scoped API token (Atlassian Administration → Directory →
    /// Service accounts → Create credentials → API token), with the account's email
    /// (`…@serviceaccount.atlassian.com`). Connect it with
    /// [`connect_to_site_url`](crate::JiraNotifier::connect_to_site_url).
    pub fn service_account_token(email: impl Into<String>, token: impl Into<SecretString>) -> Self {
        Self::from_parts(CredentialKind::ServiceAccountToken, email, token)
    }

    /// A person's API token (id.atlassian.com → Security → API tokens), with their email.
    /// Issues are then reported by that person. Connect it with
    /// [`connect_to_site_url`](crate::JiraNotifier::connect_to_site_url).
    pub fn personal_token(email: impl Into<String>, token: impl Into<SecretString>) -> Self {
        Self::from_parts(CredentialKind::PersonalToken, email, token)
    }

    /// The host's own tokens, from the [`TokenSource`](crate::TokenSource) given to the
    /// builder; `name` (an installation id, say) is handed back to the source with every
    /// request for a token. Holds no secret.
    pub fn token_source(name: impl Into<String>) -> Self {
        Self::from_parts(CredentialKind::TokenSource, name, String::new())
    }

    /// A credential of any kind from what a store keeps: the kind, the client id (or
    /// email, or source name) and the secret (empty for a token source).
    pub fn from_parts(
        kind: CredentialKind,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        Credentials {
            kind,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// The kind of credential.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The client id; for an API token the account's email, for a token source its name.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The account's email, for an API token.
    pub fn email(&self) -> Option<&str> {
        self.kind.is_api_token().then_some(self.client_id.as_str())
    }

    /// The client secret, or the API token (empty for a token source). Expose it only to
    /// send it or to persist it on purpose.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    pub(crate) fn same_as(&self, other: &Credentials) -> bool {
        self.kind == other.kind
            && self.client_id == other.client_id
            && self.client_secret.expose_secret() == other.client_secret.expose_secret()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("kind", &self.kind)
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
