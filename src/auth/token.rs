//! The access token: fetched with the client credentials, kept in memory only, reused
//! until shortly before it expires, fetched once however many callers need it at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::connection::Credentials;
use crate::error::Result;

/// Renew this long before the token's stated expiry (at most a tenth of its life), so a
/// token never expires between the check and the request.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// How long a token is kept when its stated lifetime does not fit the clock.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    // A tokio mutex: it is held across the fetch, which makes concurrent callers wait for
    // the one fetch instead of each asking for a token.
    slot: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

#[derive(Debug)]
struct Cached {
    credentials: Credentials,
    token: SecretString,
    fetched_at: Instant,
    renew_at: Instant,
    expires_at: Instant,
}

/// How a token is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetch {
    /// There is no usable token: wait and retry as the policy says.
    Patiently,
    /// The current token still works (it is due for renewal): one try, no waiting, so
    /// that no Jira call waits on the auth host (issue 9: a 429 from the auth host never
    /// slows Jira calls).
    Once,
}

/// After a renewal failed, how long the current token is used before the next try: a
/// storm of calls costs the auth host one request per this, not one per call.
const RENEW_RETRY: Duration = Duration::from_secs(10);

impl TokenCache {
    /// A valid token for the credentials, fetched with `fetch` only when needed. A token
    /// due for renewal but still valid is renewed with one try and kept if that fails.
    pub(crate) async fn get<F, Fut>(
        &self,
        credentials: &Credentials,
        fetch: F,
    ) -> Result<SecretString>
    where
        F: FnOnce(Fetch) -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration)>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        let mut how = Fetch::Patiently;
        if let Some(c) = slot.as_mut().filter(|c| c.credentials.same_as(credentials)) {
            if now < c.renew_at {
                return Ok(c.token.clone());
            }
            if now < c.expires_at {
                how = Fetch::Once;
            }
        }
        let fetched = fetch(how).await;
        if how == Fetch::Once {
            if let (Err(error), Some(c)) = (&fetched, slot.as_mut()) {
                // The current token still works: keep using it, and try again later.
                tracing::warn!(%error, "could not renew the access token; the current one is used until it expires");
                let retry = error.retry_after().unwrap_or(RENEW_RETRY).max(RENEW_RETRY);
                c.renew_at = now
                    .checked_add(retry)
                    .map_or(c.expires_at, |at| at.min(c.expires_at));
                return Ok(c.token.clone());
            }
        }
        *slot = None;
        let (token, lifetime) = fetched?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let margin = RENEW_BEFORE.min(lifetime / 10);
        // `expires_in` comes from the server: an absurd one must not overflow the clock.
        let now = Instant::now();
        let renew_at = now
            .checked_add(lifetime.saturating_sub(margin))
            .unwrap_or_else(|| now + FOREVER);
        let expires_at = now.checked_add(lifetime).unwrap_or(renew_at);
        *slot = Some(Cached {
            credentials: credentials.clone(),
            token: token.clone(),
            fetched_at: now,
            renew_at,
            expires_at,
        });
        Ok(token)
    }

    /// Drops `token` if it is the cached one (it was refused); a newer one is kept.
    pub(crate) async fn invalidate(&self, token: &SecretString) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == token.expose_secret())
        {
            *slot = None;
        }
    }

    /// How long ago `token` was fetched, if it is the cached one.
    pub(crate) async fn age(&self, token: &SecretString) -> Option<Duration> {
        let slot = self.slot.lock().await;
        slot.as_ref()
            .filter(|c| c.token.expose_secret() == token.expose_secret())
            .map(|c| c.fetched_at.elapsed())
    }

    /// Forgets any token (on disconnect).
    pub(crate) async fn clear(&self) {
        *self.slot.lock().await = None;
    }

    /// Whether it holds a token that is not due for renewal: a cache without one can be
    /// dropped and made again at no cost. A cache busy fetching counts as live.
    pub(crate) fn holds_live_token(&self) -> bool {
        match self.slot.try_lock() {
            Ok(slot) => slot.as_ref().is_some_and(|c| Instant::now() < c.renew_at),
            Err(_) => true,
        }
    }

    /// How many tokens were fetched: for tests and figures.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn creds(secret: &str) -> Credentials {
        Credentials::new("id", secret.to_owned())
    }

    async fn ok(tok: &str, secs: u64) -> Result<(SecretString, Duration)> {
        Ok((
            SecretString::from(tok.to_owned()),
            Duration::from_secs(secs),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn reuses_until_shortly_before_expiry() {
        let cache = TokenCache::default();
        let c = creds("s");
        let t = cache.get(&c, |_| ok("t1", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t1");
        tokio::time::advance(Duration::from_secs(3500)).await;
        let t = cache.get(&c, |_| ok("t2", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t1");
        tokio::time::advance(Duration::from_secs(50)).await; // 3550 s: within the last minute
        let t = cache.get(&c, |_| ok("t2", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t2");
        assert_eq!(cache.fetches(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn knows_the_age_of_the_cached_token_only() {
        let cache = TokenCache::default();
        let t = cache.get(&creds("s"), |_| ok("t1", 3600)).await.unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(cache.age(&t).await, Some(Duration::from_secs(30)));
        let other = SecretString::from("t0".to_owned());
        assert_eq!(cache.age(&other).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_valid_token_and_tries_again_later() {
        let cache = TokenCache::default();
        let c = creds("s");
        cache.get(&c, |_| ok("t1", 600)).await.unwrap();
        tokio::time::advance(Duration::from_secs(545)).await; // renewal due
        let refused = || async {
            Err::<(SecretString, Duration), _>(Error::Throttled {
                retry_after: Duration::from_secs(30),
            })
        };
        let mut asked = None;
        let t = cache
            .get(&c, |how| {
                asked = Some(how);
                refused()
            })
            .await
            .unwrap();
        assert_eq!(asked, Some(Fetch::Once));
        assert_eq!(t.expose_secret(), "t1");
        // Not asked again for the 30 s the auth host asked for.
        tokio::time::advance(Duration::from_secs(20)).await;
        let t = cache.get(&c, |_| ok("t2", 600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t1");
        tokio::time::advance(Duration::from_secs(11)).await;
        let t = cache.get(&c, |_| ok("t2", 600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t2");
        // An expired token is fetched patiently, and a failure is the caller's.
        tokio::time::advance(Duration::from_secs(700)).await;
        let e = cache
            .get(&c, |how| {
                assert_eq!(how, Fetch::Patiently);
                refused()
            })
            .await;
        assert!(e.is_err());
    }

    #[tokio::test]
    async fn other_credentials_get_their_own_token() {
        let cache = TokenCache::default();
        cache.get(&creds("a"), |_| ok("ta", 3600)).await.unwrap();
        let t = cache.get(&creds("b"), |_| ok("tb", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "tb");
    }

    #[tokio::test]
    async fn invalidate_only_drops_the_refused_token() {
        let cache = TokenCache::default();
        let c = creds("s");
        cache.get(&c, |_| ok("t1", 3600)).await.unwrap();
        cache
            .invalidate(&SecretString::from("other".to_owned()))
            .await;
        let t = cache.get(&c, |_| ok("t2", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t1");
        cache.invalidate(&SecretString::from("t1".to_owned())).await;
        let t = cache.get(&c, |_| ok("t2", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t2");
    }

    #[tokio::test]
    async fn a_failed_fetch_caches_nothing() {
        let cache = TokenCache::default();
        let c = creds("s");
        let e = cache
            .get(&c, |_| async {
                Err::<(SecretString, Duration), _>(Error::NoSites)
            })
            .await;
        assert!(e.is_err());
        let t = cache.get(&c, |_| ok("t", 3600)).await.unwrap();
        assert_eq!(t.expose_secret(), "t");
        assert_eq!(cache.fetches(), 1);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = std::sync::Arc::new(TokenCache::default());
        let c = creds("s");
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(&c, |_| async {
                        tokio::task::yield_now().await;
                        ok("t", 3600).await
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(cache.fetches(), 1);
    }
}
