//! Sends requests: through the gate, with a bearer token, and by the retry policy.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::answers::{api_error, parse, retry_after};
use super::models::TokenAnswer;
use super::requests::{self, ApiRequest, Replay};
use crate::auth::scopes;
use crate::auth::token::Fetch;
use crate::auth::tokens::TokenCaches;
use crate::connection::Credentials;
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
        }
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) fn tokens(&self) -> &TokenCaches {
        &self.tokens
    }

    /// Sends an API request as the credentials' service account.
    pub(crate) async fn call(&self, creds: &Credentials, req: &ApiRequest) -> Result<HttpResponse> {
        self.run(req, Some(creds)).await
    }

    /// [`call`](Self::call), with headers of its own (a multipart `Content-Type`, say):
    /// names in lower case; a `content-type` among them replaces the JSON one.
    pub(crate) async fn call_with(
        &self,
        creds: &Credentials,
        req: &ApiRequest,
        headers: &[(&'static str, String)],
    ) -> Result<HttpResponse> {
        self.run_with(req, Some(creds), Fetch::Patiently, headers)
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
    async fn run(&self, req: &ApiRequest, creds: Option<&Credentials>) -> Result<HttpResponse> {
        self.run_as(req, creds, Fetch::Patiently).await
    }

    /// [`run`](Self::run); `Fetch::Once` makes one try that waits for nothing.
    async fn run_as(
        &self,
        req: &ApiRequest,
        creds: Option<&Credentials>,
        how: Fetch,
    ) -> Result<HttpResponse> {
        self.run_with(req, creds, how, &[]).await
    }

    /// [`run_as`](Self::run_as), with extra headers.
    async fn run_with(
        &self,
        req: &ApiRequest,
        creds: Option<&Credentials>,
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
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            // Through the gate first, then the token: a token never ages in a queue, and
            // the token lock is never held while waiting for Jira's limits.
            let pass = match gate.enter(&scopes, priority, max_wait).await {
                Ok(p) => p,
                // Jira asked this notifier to hold off longer than it waits in place: the
                // host hears so at once, rather than a call blocking for minutes.
                Err(left) => return Err(Error::Throttled { retry_after: left }),
            };
            let token = match creds {
                Some(c) => Some(self.token(c).await?),
                None => None,
            };
            let sent = self.send_once(req, token.as_ref(), extra).await;
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
                            let (Some(t), Some(c)) = (&token, creds) else {
                                return Err(api_error(req.operation, &resp).into());
                            };
                            if renewed || self.lacks_scope(&resp, c, t).await {
                                if scopes::is_scope_mismatch(&resp) {
                                    return Err(Error::MissingScope {
                                        operation: req.operation,
                                        scope: scopes::required(req.method, &req.url),
                                    });
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
        token: Option<&SecretString>,
        extra: &[(&'static str, String)],
    ) -> Result<HttpResponse, crate::transport::TransportError> {
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        let typed = extra.iter().any(|(name, _)| *name == "content-type");
        if req.body.is_some() && !typed {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        headers.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        if let Some(t) = token {
            headers.push((
                "authorization".to_owned(),
                format!("Bearer {}", t.expose_secret()),
            ));
        }
        let request = HttpRequest {
            method: req.method,
            url: req.url.clone(),
            headers,
            body: req.body.clone(),
        };
        self.transport.send(request).await
    }
}
