//! The host's own token source, for hosts that are Atlassian OAuth 2.0 (3LO) apps and
//! refresh their tokens themselves: the crate asks it for a bearer token and the cloud id
//! it is for, keeps the token no longer than the source says, and asks again (saying which
//! token was refused) when Jira answers `401`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// The error a [`TokenSource`] returns: the host's own, kept as the
/// [`source`](std::error::Error::source) of [`Error::TokenSourceFailed`]. It must not
/// hold a token or a secret.
pub type TokenSourceError = Box<dyn std::error::Error + Send + Sync>;

/// Hands the crate the host's own OAuth 2.0 bearer tokens (a 3LO app's, which the host
/// refreshes), for connections made with
/// [`Credentials::token_source`](crate::Credentials::token_source). Given to the builder
/// with [`token_source`](crate::NotifierBuilder::token_source); held as
/// `Arc<dyn TokenSource>`.
///
/// Calls go through the gateway (`{api_url}/ex/jira/{cloudId}/…`) with
/// `Authorization: Bearer {token}`. The token is kept for at most
/// [`SourcedToken::valid_for`] (not at all without it). When Jira refuses it (`401`), the
/// source is asked once more with [`TokenRequest::rejected`] set, and the call is retried
/// once; a second refusal is [`Error::CredentialRefused`].
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token for the connection named `request.name()`, and the cloud id of the site it
    /// reaches.
    async fn token(&self, request: TokenRequest<'_>) -> Result<SourcedToken, TokenSourceError>;
}

/// What the crate asks a [`TokenSource`] for.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct TokenRequest<'a> {
    name: &'a str,
    rejected: Option<&'a SecretString>,
}

impl<'a> TokenRequest<'a> {
    /// A request for the connection named `name`.
    pub fn new(name: &'a str) -> Self {
        TokenRequest {
            name,
            rejected: None,
        }
    }

    /// The same request, saying that Jira refused `token`.
    pub fn with_rejected(mut self, token: &'a SecretString) -> Self {
        self.rejected = Some(token);
        self
    }

    /// The name given to [`Credentials::token_source`](crate::Credentials::token_source).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The token Jira just refused (`401`), if that is why the source is asked: refresh it
    /// rather than hand it back.
    pub fn rejected(&self) -> Option<&'a SecretString> {
        self.rejected
    }
}

impl fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("name", &self.name)
            .field("rejected", &self.rejected.map(|_| "[redacted]"))
            .finish()
    }
}

/// A bearer token from a [`TokenSource`], with the cloud id of the site it reaches.
/// `Debug` never shows the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct SourcedToken {
    access_token: SecretString,
    cloud_id: String,
    valid_for: Option<Duration>,
}

impl SourcedToken {
    /// A token and the cloud id it reaches; used for one request only, unless
    /// [`with_valid_for`](Self::with_valid_for) says for how long it may be kept.
    pub fn new(access_token: impl Into<SecretString>, cloud_id: impl Into<String>) -> Self {
        SourcedToken {
            access_token: access_token.into(),
            cloud_id: cloud_id.into(),
            valid_for: None,
        }
    }

    /// How long the crate may keep the token (its remaining lifetime, say).
    pub fn with_valid_for(mut self, valid_for: Duration) -> Self {
        self.valid_for = Some(valid_for);
        self
    }

    /// The bearer token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The cloud id of the site the token reaches.
    pub fn cloud_id(&self) -> &str {
        &self.cloud_id
    }

    /// How long the crate may keep the token; `None`: one request.
    pub fn valid_for(&self) -> Option<Duration> {
        self.valid_for
    }
}

impl fmt::Debug for SourcedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcedToken")
            .field("access_token", &"[redacted]")
            .field("cloud_id", &self.cloud_id)
            .field("valid_for", &self.valid_for)
            .finish()
    }
}

/// The sources' tokens the crate may still use, by connection name, each until the time
/// its source allowed.
#[derive(Debug, Default)]
pub(crate) struct SourcedTokens {
    held: Mutex<HashMap<String, Held>>,
}

#[derive(Debug)]
struct Held {
    token: SecretString,
    cloud_id: String,
    until: Instant,
}

impl SourcedTokens {
    /// A token for `name`: the held one while it may be kept, else the source's. With
    /// `rejected`, the source is asked in any case (and told so).
    pub(crate) async fn get(
        &self,
        source: &dyn TokenSource,
        name: &str,
        rejected: Option<&SecretString>,
    ) -> Result<(SecretString, String)> {
        if rejected.is_none() {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = held.get(name).filter(|h| Instant::now() < h.until) {
                return Ok((h.token.clone(), h.cloud_id.clone()));
            }
        }
        let mut request = TokenRequest::new(name);
        if let Some(token) = rejected {
            request = request.with_rejected(token);
        }
        let answer = source
            .token(request)
            .await
            .map_err(|source| Error::TokenSourceFailed {
                name: name.to_owned(),
                source,
            })?;
        let usable = !answer.cloud_id.is_empty()
            && answer.cloud_id.len() <= 64
            && answer
                .cloud_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if answer.access_token.expose_secret().is_empty() || !usable {
            return Err(Error::TokenSourceFailed {
                name: name.to_owned(),
                source:
                    "it gave an empty token or a cloud id that could not go into a gateway path"
                        .into(),
            });
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match answer.valid_for.and_then(|d| now.checked_add(d)) {
            Some(until) if until > now => {
                held.insert(
                    name.to_owned(),
                    Held {
                        token: answer.access_token.clone(),
                        cloud_id: answer.cloud_id.clone(),
                        until,
                    },
                );
            }
            _ => {
                held.remove(name);
            }
        }
        Ok((answer.access_token, answer.cloud_id))
    }

    /// Forgets the token held for `name` (its workspace disconnected).
    pub(crate) fn forget(&self, name: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting {
        asked: AtomicU32,
        rejected: Mutex<Vec<String>>,
        valid_for: Option<Duration>,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn token(&self, request: TokenRequest<'_>) -> Result<SourcedToken, TokenSourceError> {
            let n = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(r) = request.rejected() {
                self.rejected
                    .lock()
                    .unwrap()
                    .push(r.expose_secret().to_owned());
            }
            let t = SourcedToken::new(format!("{}-{n}", request.name()), "cloud-1");
            Ok(match self.valid_for {
                Some(d) => t.with_valid_for(d),
                None => t,
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_a_token_no_longer_than_the_source_says() {
        let tokens = SourcedTokens::default();
        let source = Counting {
            valid_for: Some(Duration::from_secs(60)),
            ..Counting::default()
        };
        let (t, cloud) = tokens.get(&source, "a", None).await.unwrap();
        assert_eq!((t.expose_secret(), cloud.as_str()), ("a-1", "cloud-1"));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            tokens
                .get(&source, "a", None)
                .await
                .unwrap()
                .0
                .expose_secret(),
            "a-1"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            tokens
                .get(&source, "a", None)
                .await
                .unwrap()
                .0
                .expose_secret(),
            "a-2"
        );
        // Another name has its own token.
        assert_eq!(
            tokens
                .get(&source, "b", None)
                .await
                .unwrap()
                .0
                .expose_secret(),
            "b-3"
        );
        // A rejected token: the source is asked and told which.
        let (again, _) = tokens.get(&source, "a", Some(&t)).await.unwrap();
        assert_eq!(again.expose_secret(), "a-4");
        assert_eq!(*source.rejected.lock().unwrap(), ["a-1"]);
        tokens.forget("a");
        assert_eq!(
            tokens
                .get(&source, "a", None)
                .await
                .unwrap()
                .0
                .expose_secret(),
            "a-5"
        );
    }

    #[tokio::test]
    async fn without_a_lifetime_nothing_is_kept() {
        let tokens = SourcedTokens::default();
        let source = Counting::default();
        tokens.get(&source, "a", None).await.unwrap();
        tokens.get(&source, "a", None).await.unwrap();
        assert_eq!(source.asked.load(Ordering::SeqCst), 2);
    }

    #[derive(Debug)]
    struct Broken;

    #[async_trait]
    impl TokenSource for Broken {
        async fn token(&self, _: TokenRequest<'_>) -> Result<SourcedToken, TokenSourceError> {
            Ok(SourcedToken::new("t".to_owned(), "../x"))
        }
    }

    #[tokio::test]
    async fn a_cloud_id_that_cannot_go_into_a_path_is_refused() {
        let e = SourcedTokens::default()
            .get(&Broken, "a", None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::TokenSourceFailed { .. }), "{e:?}");
    }
}
