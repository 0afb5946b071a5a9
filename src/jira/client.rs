//! Sends requests: through the gate, signed as the connection's credential says (a bearer
//! token, or basic auth with an API token), and by the retry policy.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::answers::{api_error, parse, retry_after};
use super::models::TokenAnswer;
use super::requests::{self, ApiRequest, Replay};
use crate::auth::source::{SourcedTokens, TokenSource};
use crate::auth::token::Fetch;
use crate::auth::tokens::TokenCaches;
use crate::auth::{basic, scopes};
use crate::connection::{Connection, CredentialKind, Credentials};
use crate::endpoints::Endpoints;
use crate::error::{Error, Result};
use crate::limits::SiteGates;
use crate::retry::{classify, RetryPolicy, Verdict};
use crate::throttle::{Priority, Scopes};
use crate::transport::{HttpRequest, HttpResponse, HttpTransport};

/// How old a token refused for a scope must be before one new token is fetched for it:
/// a storm of calls the credential lacks a scope for costs no token requests, and a scope
/// granted meanwhile is picked up within minutes, without a reconnect.
const SCOPE_RECHECK: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub(crate) struct JiraClient {
    transport: Arc<dyn HttpTransport>,
    pub(crate) endpoints: Endpoints,
    policy: RetryPolicy,
    gates: SiteGates,
    tokens: TokenCaches,
    source: Option<HostSource>,
    sourced: SourcedTokens,
}

/// The host's token source, which `Debug` never prints: it may hold refresh tokens.
struct HostSource(Arc<dyn TokenSource>);

impl std::fmt::Debug for HostSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSource([not shown])")
    }
}

/// Who a request is sent as: the credential, and the site URL its calls go to when they go
/// straight to the site (a person's API token).
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) creds: &'a Credentials,
    pub(crate) site_url: &'a str,
}

/// How a request is signed.
enum Auth {
    Bearer(SecretString),
    /// The whole header value (`Basic …`), a secret too.
    Basic(SecretString),
}

impl JiraClient {
    pub(crate) fn new(
        transport: Arc<dyn HttpTransport>,
        endpoints: Endpoints,
        policy: RetryPolicy,
        max_in_flight: usize,
    ) -> Self {
        JiraClient {
            transport,
            endpoints,
            policy,
            gates: SiteGates::new(max_in_flight),
            tokens: TokenCaches::default(),
            source: None,
            sourced: SourcedTokens::default(),
        }
    }

    /// Sets the host's token source, for connections made with a token source.
    pub(crate) fn with_token_source(mut self, source: Option<Arc<dyn TokenSource>>) -> Self {
        self.source = source.map(HostSource);
        self
    }

    /// The host's token source, or why a connection made with one cannot be used.
    fn source(&self) -> Result<&Arc<dyn TokenSource>> {
        self.source.as_ref().map(|s| &s.0).ok_or_else(|| {
            Error::Config(
                "the connection uses a host token source, but none was given to the builder \
                 (NotifierBuilder::token_source)"
                    .into(),
            )
        })
    }

    /// A token and its cloud id from the host's token source, for `name`.
    pub(crate) async fn sourced_token(
        &self,
        name: &str,
        rejected: Option<&SecretString>,
    ) -> Result<(SecretString, String)> {
        self.sourced
            .get(self.source()?.as_ref(), name, rejected)
            .await
    }

    /// Forgets whatever is held for the credential (its workspace disconnected).
    pub(crate) async fn forget(&self, creds: &Credentials) {
        match creds.kind() {
            CredentialKind::ClientCredentials => self.tokens.forget(creds).await,
            CredentialKind::TokenSource => self.sourced.forget(creds.client_id()),
            _ => {}
        }
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) fn tokens(&self) -> &TokenCaches {
        &self.tokens
    }

    /// Sends an API request as the connection's credential, to its site.
    pub(crate) async fn call(&self, conn: &Connection, req: &ApiRequest) -> Result<HttpResponse> {
        let caller = Caller {
            creds: &conn.credentials,
            site_url: &conn.site.url,
        };
        self.run(req, Some(caller)).await
    }

    /// Sends an API request as `creds`, before a connection exists (discovery, the site
    /// check); `site_url` is where a person's token's calls go.
    pub(crate) async fn call_as(
        &self,
        creds: &Credentials,
        site_url: &str,
        req: &ApiRequest,
    ) -> Result<HttpResponse> {
        self.run(req, Some(Caller { creds, site_url })).await
    }

    /// [`call`](Self::call), with headers of its own (a multipart `Content-Type`, say):
    /// names in lower case; a `content-type` among them replaces the JSON one.
    pub(crate) async fn call_with(
        &self,
        conn: &Connection,
        req: &ApiRequest,
        headers: &[(&'static str, String)],
    ) -> Result<HttpResponse> {
        let caller = Caller {
            creds: &conn.credentials,
            site_url: &conn.site.url,
        };
        self.run_with(req, Some(caller), Fetch::Patiently, headers)
            .await
    }

    /// Sends a request without credentials (to a site's own host, which must never see
    /// a token).
    pub(crate) async fn call_anonymously(&self, req: &ApiRequest) -> Result<HttpResponse> {
        self.run(req, None).await
    }

    async fn token(&self, creds: &Credentials) -> Result<SecretString> {
        self.tokens
            .get(creds, |how| self.fetch_token(creds, how))
            .await
    }

    async fn fetch_token(
        &self,
        creds: &Credentials,
        how: Fetch,
    ) -> Result<(SecretString, Duration)> {
        let req = requests::token(&self.endpoints, creds);
        // Boxed: `run` asks for tokens, and this is how tokens are asked for.
        match Box::pin(self.run_as(&req, None, how)).await {
            Ok(resp) => {
                let answer: TokenAnswer = parse(req.operation, &resp)?;
                if answer.access_token.expose_secret().is_empty() {
                    return Err(Error::unexpected(req.operation, "an empty access token"));
                }
                Ok((answer.access_token, Duration::from_secs(answer.expires_in)))
            }
            // Atlassian answers a wrong id or secret with a 400 or 401 (and 403 for a
            // credential that is revoked): in every case the credentials are the problem.
            Err(Error::Api(e)) if matches!(e.status, 400 | 401 | 403) => {
                Err(Error::CredentialsRejected {
                    status: e.status,
                    error: e
                        .errors
                        .get("error")
                        .cloned()
                        .unwrap_or_else(|| "rejected".into()),
                    description: e.error_messages.join("; "),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Whether a 401 "scope does not match" to `token` is the credential's scopes, not the
    /// token: always, unless the token is old enough that a scope granted since in
    /// Atlassian Admin would be in a new one ([`SCOPE_RECHECK`]).
    async fn lacks_scope(
        &self,
        resp: &HttpResponse,
        creds: &Credentials,
        token: &SecretString,
    ) -> bool {
        scopes::is_scope_mismatch(resp)
            && self
                .tokens
                .age(creds, token)
                .await
                .is_none_or(|age| age < SCOPE_RECHECK)
    }

    /// One request, retried by the policy. A 401 on an API call gets one fresh token and
    /// one more try, outside the retry budget; unless it says the token lacks a scope,
    /// which a new token would lack too.
    async fn run(&self, req: &ApiRequest, caller: Option<Caller<'_>>) -> Result<HttpResponse> {
        self.run_as(req, caller, Fetch::Patiently).await
    }

    /// How to sign the next try: the kind of credential decides. `rejected` is the token
    /// a token source's last one was refused as.
    async fn auth(&self, caller: Caller<'_>, rejected: Option<&SecretString>) -> Result<Auth> {
        let c = caller.creds;
        Ok(match c.kind() {
            CredentialKind::ServiceAccountToken | CredentialKind::PersonalToken => {
                Auth::Basic(basic::header(c))
            }
            CredentialKind::TokenSource => {
                Auth::Bearer(self.sourced_token(c.client_id(), rejected).await?.0)
            }
            _ => Auth::Bearer(self.token(c).await?),
        })
    }

    /// [`run`](Self::run); `Fetch::Once` makes one try that waits for nothing.
    async fn run_as(
        &self,
        req: &ApiRequest,
        caller: Option<Caller<'_>>,
        how: Fetch,
    ) -> Result<HttpResponse> {
        self.run_with(req, caller, how, &[]).await
    }

    /// [`run_as`](Self::run_as), with extra headers.
    async fn run_with(
        &self,
        req: &ApiRequest,
        caller: Option<Caller<'_>>,
        how: Fetch,
        extra: &[(&'static str, String)],
    ) -> Result<HttpResponse> {
        let (max_wait, max_retries) = match how {
            Fetch::Patiently => (self.policy.max_retry_after(), self.policy.max_retries()),
            Fetch::Once => (Duration::ZERO, 0),
        };
        // The token request goes to the auth host: apart from Jira's limits and slots.
        let auth = req.operation == requests::TOKEN_REQUEST;
        let scopes = Scopes::of(auth, req.method, &req.url, req.operation);
        let priority = if req.operation == requests::CREATE_ISSUE {
            Priority::First
        } else {
            Priority::Normal
        };
        // Each Jira site (and the auth host) has its own slots and pacing: a site's limits
        // never hold back another's requests.
        let gate = self.gates.for_url(&req.url);
        // A person's token works on the site itself only, never through the gateway (the
        // gates still count the call against the site's cloud id).
        let url = match caller {
            Some(c) if c.creds.kind() == CredentialKind::PersonalToken => {
                self.endpoints.on_site(&req.url, c.site_url)?
            }
            _ => req.url.clone(),
        };
        let mut attempt = 0;
        let mut renewed = false;
        let mut rejected: Option<SecretString> = None;
        loop {
            // Through the gate first, then the token: a token never ages in a queue, and
            // the token lock is never held while waiting for Jira's limits.
            let pass = match gate.enter(&scopes, priority, max_wait).await {
                Ok(p) => p,
                // Jira asked this notifier to hold off longer than it waits in place: the
                // host hears so at once, rather than a call blocking for minutes.
                Err(left) => return Err(Error::Throttled { retry_after: left }),
            };
            let auth = match caller {
                Some(c) => Some(self.auth(c, rejected.as_ref()).await?),
                None => None,
            };
            let sent = self.send_once(req, &url, auth.as_ref(), extra).await;
            let (err, wait) = match sent {
                Ok(resp) => {
                    // A 429's wait: `Retry-After`, else `X-RateLimit-Reset`, else backoff.
                    let asked = retry_after(&resp);
                    let hold = (resp.status == 429)
                        .then(|| asked.unwrap_or_else(|| self.policy.backoff(attempt)));
                    gate.observe(&scopes, &resp, hold);
                    drop(pass);
                    match classify(resp.status) {
                        Verdict::Success => return Ok(resp),
                        _ if resp.status == 401 => {
                            let (Some(auth), Some(caller)) = (&auth, caller) else {
                                return Err(api_error(req.operation, &resp).into());
                            };
                            let c = caller.creds;
                            let refused = || Error::CredentialRefused {
                                kind: c.kind(),
                                account: c.client_id().to_owned(),
                                status: resp.status,
                            };
                            let missing_scope = || Error::MissingScope {
                                operation: req.operation,
                                scope: scopes::required(req.method, &req.url),
                            };
                            let t = match (c.kind(), auth) {
                                (CredentialKind::ClientCredentials, Auth::Bearer(t)) => t,
                                // An API token is what it is: no new one to ask for.
                                (_, Auth::Basic(_)) if scopes::is_scope_mismatch(&resp) => {
                                    return Err(missing_scope())
                                }
                                (_, Auth::Basic(_)) => return Err(refused()),
                                (_, Auth::Bearer(_)) if scopes::is_scope_mismatch(&resp) => {
                                    return Err(missing_scope())
                                }
                                (_, Auth::Bearer(_)) if renewed => return Err(refused()),
                                // The host's token: ask its source once more, saying so.
                                (_, Auth::Bearer(t)) => {
                                    renewed = true;
                                    rejected = Some(t.clone());
                                    continue;
                                }
                            };
                            if renewed || self.lacks_scope(&resp, c, t).await {
                                if scopes::is_scope_mismatch(&resp) {
                                    return Err(missing_scope());
                                }
                                return Err(api_error(req.operation, &resp).into());
                            }
                            renewed = true;
                            self.tokens.invalidate(c, t).await;
                            continue;
                        }
                        Verdict::Throttled => {
                            let err = Error::from(api_error(req.operation, &resp));
                            if resp.status != 429 && req.replay == Replay::OnlyIfNotReceived {
                                // A 503 may come after the create was processed.
                                return Err(err);
                            }
                            let wait = asked.unwrap_or_else(|| self.policy.backoff(attempt));
                            if asked.is_some_and(|d| d > max_wait) {
                                return Err(err);
                            }
                            // A 429 held its scope back in the gate, which the next try
                            // waits out; a 503 is waited out here.
                            let wait = if resp.status == 429 {
                                Duration::ZERO
                            } else {
                                wait
                            };
                            (err, wait)
                        }
                        Verdict::Transient if req.replay == Replay::Safe => (
                            api_error(req.operation, &resp).into(),
                            self.policy.backoff(attempt),
                        ),
                        Verdict::Transient | Verdict::Fatal => {
                            return Err(api_error(req.operation, &resp).into())
                        }
                    }
                }
                Err(error) => {
                    drop(pass);
                    let retry = req.replay == Replay::Safe || error.certainly_not_sent();
                    let err = Error::Transport {
                        operation: req.operation,
                        error,
                    };
                    if !retry {
                        return Err(err);
                    }
                    (err, self.policy.backoff(attempt))
                }
            };
            if attempt >= max_retries {
                return Err(err);
            }
            attempt += 1;
            tracing::debug!(operation = req.operation, attempt, ?wait, error = %err, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        req: &ApiRequest,
        url: &url::Url,
        auth: Option<&Auth>,
        extra: &[(&'static str, String)],
    ) -> Result<HttpResponse, crate::transport::TransportError> {
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        let typed = extra.iter().any(|(name, _)| *name == "content-type");
        if req.body.is_some() && !typed {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        headers.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        // The only place a secret goes into a request's header.
        match auth {
            Some(Auth::Bearer(t)) => headers.push((
                "authorization".to_owned(),
                format!("Bearer {}", t.expose_secret()),
            )),
            Some(Auth::Basic(value)) => {
                headers.push(("authorization".to_owned(), value.expose_secret().to_owned()))
            }
            None => {}
        }
        let request = HttpRequest {
            method: req.method,
            url: url.clone(),
            headers,
            body: req.body.clone(),
        };
        self.transport.send(request).await
    }
}
