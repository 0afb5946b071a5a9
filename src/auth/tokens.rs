//! Access tokens by credential, for every workspace of a process: two workspaces
//! connected with the same credential share one token, and a workspace's token never
//! evicts another's.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::token::{Fetch, TokenCache};
use crate::connection::Credentials;
use crate::error::Result;

/// A credential's key in the map: the client id and a digest of the secret, so that the
/// map never holds the secret itself (each cache keeps its credential, secret redacted in
/// `Debug`, to check it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CredentialKey {
    client_id: String,
    secret_digest: [u8; 32],
}

impl CredentialKey {
    fn of(c: &Credentials) -> Self {
        CredentialKey {
            client_id: c.client_id().to_owned(),
            secret_digest: Sha256::digest(c.client_secret().expose_secret().as_bytes()).into(),
        }
    }
}

/// One [`TokenCache`] per credential.
#[derive(Debug, Default)]
pub(crate) struct TokenCaches {
    map: Mutex<Caches>,
}

#[derive(Debug, Default)]
struct Caches {
    by_credential: HashMap<CredentialKey, Arc<TokenCache>>,
    /// Caches of credentials no longer used (a workspace disconnected, a secret rotated)
    /// are dropped when the map has doubled since the last sweep: O(1) per lookup.
    sweep_at: usize,
}

impl TokenCaches {
    fn cache(&self, credentials: &Credentials) -> Arc<TokenCache> {
        let mut caches = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let key = CredentialKey::of(credentials);
        if let Some(c) = caches.by_credential.get(&key) {
            return Arc::clone(c);
        }
        if caches.by_credential.len() >= caches.sweep_at.max(64) {
            // A cache in use elsewhere (a fetch in flight) is kept, as is a live token.
            caches
                .by_credential
                .retain(|_, c| Arc::strong_count(c) > 1 || c.holds_live_token());
            caches.sweep_at = caches.by_credential.len() * 2;
        }
        Arc::clone(caches.by_credential.entry(key).or_default())
    }

    /// A valid token for the credentials, fetched with `fetch` only when needed; callers
    /// with the same credential wait for one fetch.
    pub(crate) async fn get<F, Fut>(
        &self,
        credentials: &Credentials,
        fetch: F,
    ) -> Result<SecretString>
    where
        F: FnOnce(Fetch) -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration)>>,
    {
        self.cache(credentials).get(credentials, fetch).await
    }

    /// Drops `token` if it is the credential's cached one (it was refused).
    pub(crate) async fn invalidate(&self, credentials: &Credentials, token: &SecretString) {
        self.cache(credentials).invalidate(token).await
    }

    /// How long ago `token` was fetched, if it is the credential's cached one.
    pub(crate) async fn age(
        &self,
        credentials: &Credentials,
        token: &SecretString,
    ) -> Option<Duration> {
        self.cache(credentials).age(token).await
    }

    /// Forgets the credential's token (its workspace disconnected).
    pub(crate) async fn forget(&self, credentials: &Credentials) {
        self.cache(credentials).clear().await
    }

    /// How many tokens were fetched, every credential together: for tests and figures.
    pub(crate) fn fetches(&self) -> u64 {
        let caches = self.map.lock().unwrap_or_else(|e| e.into_inner());
        caches.by_credential.values().map(|c| c.fetches()).sum()
    }

    /// How many credentials have a cache.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_credential
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(id: &str, secret: &str) -> Credentials {
        Credentials::new(id, secret.to_owned())
    }

    fn token(t: &str) -> Result<(SecretString, Duration)> {
        Ok((SecretString::from(t.to_owned()), Duration::from_secs(3600)))
    }

    #[tokio::test(start_paused = true)]
    async fn one_token_per_credential_shared_by_its_users_and_kept_apart_from_others() {
        let caches = TokenCaches::default();
        let (a, b) = (creds("a", "s1"), creds("b", "s2"));
        let t = caches.get(&a, |_| async { token("ta") }).await.unwrap();
        assert_eq!(t.expose_secret(), "ta");
        // The same credential (another workspace): no new fetch.
        let again = caches
            .get(&a.clone(), |_| async { token("never") })
            .await
            .unwrap();
        assert_eq!(again.expose_secret(), "ta");
        // Another credential does not evict the first.
        caches.get(&b, |_| async { token("tb") }).await.unwrap();
        let still = caches.get(&a, |_| async { token("never") }).await.unwrap();
        assert_eq!(still.expose_secret(), "ta");
        assert_eq!(caches.fetches(), 2);
        // The same client id with a rotated secret is another credential.
        let rotated = caches
            .get(&creds("a", "s3"), |_| async { token("ta2") })
            .await
            .unwrap();
        assert_eq!(rotated.expose_secret(), "ta2");
        caches.forget(&a).await;
        let fresh = caches.get(&a, |_| async { token("ta3") }).await.unwrap();
        assert_eq!(fresh.expose_secret(), "ta3");
    }

    #[tokio::test(start_paused = true)]
    async fn caches_of_expired_credentials_are_swept_out() {
        let caches = TokenCaches::default();
        for i in 0..200 {
            let c = creds(&format!("id{i}"), "s");
            caches.get(&c, |_| async { token("t") }).await.unwrap();
        }
        tokio::time::advance(Duration::from_secs(7200)).await;
        // The map doubles to 256 before the next sweep: the 200 expired go then.
        for i in 0..100 {
            let c = creds(&format!("new{i}"), "s");
            caches.get(&c, |_| async { token("t") }).await.unwrap();
        }
        assert!(caches.len() <= 100, "{} caches kept", caches.len());
    }
}
