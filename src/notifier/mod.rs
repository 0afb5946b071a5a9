//! [`JiraNotifier`]: what the host holds, and how it is built.

mod configure;
mod connect;
mod report;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::endpoints::{Endpoints, DEFAULT_API_URL, DEFAULT_AUTH_URL};
use crate::error::{Error, Result};
use crate::flight::Flights;
use crate::jira::JiraClient;
use crate::lag::{KeyHints, Pending};
use crate::retry::RetryPolicy;
use crate::store::{ConfigStore, IssueRecord};
use crate::throttle::DEFAULT_MAX_IN_FLIGHT;
use crate::transport::HttpTransport;

/// The Jira integration: connect, serve the settings screen, and turn test failures into
/// issues, one open issue per test.
///
/// Cheap to clone (clones share the token cache, the request cap and the in-flight
/// reports); build one per process with [`JiraNotifier::builder`].
#[derive(Clone)]
pub struct JiraNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ConfigStore>,
    client: JiraClient,
    flights: Flights,
    /// This notifier's name in create claims: unique per notifier, so that two replicas
    /// (or two notifiers in one process) never mistake each other's claims for their own.
    owner: String,
    lease: Duration,
    /// How far Jira's search may lag a create: an unclear create is sent again only once a
    /// search made this long after it found nothing.
    search_lag_bound: Duration,
    /// Issues this notifier created but could not record (`Error::RecordNotSaved`), by
    /// test id, until the test's next duplicate check has settled them.
    unrecorded: Mutex<HashMap<String, IssueRecord>>,
    /// Creates of this notifier that got no clear answer and are not confirmed yet.
    pending: Pending,
    /// The highest issue key seen per project, to look for an unclear create by key.
    key_hints: KeyHints,
}

/// How long a create claim lasts by default: longer than a create can take with its
/// retries, and longer than Jira's search lag, so that whoever takes over the claim of a
/// notifier that died mid-create finds its issue by search.
pub const DEFAULT_CREATE_LEASE: Duration = Duration::from_secs(120);

impl fmt::Debug for JiraNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraNotifier")
            .field("store", &self.inner.store)
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

impl JiraNotifier {
    /// Starts building a notifier on the host's store.
    pub fn builder(store: Arc<dyn ConfigStore>) -> JiraNotifierBuilder {
        JiraNotifierBuilder {
            store,
            transport: None,
            auth_url: DEFAULT_AUTH_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
            retry: RetryPolicy::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            lease: DEFAULT_CREATE_LEASE,
            search_lag_bound: None,
            tenant_info_url: None,
        }
    }

    /// The store the notifier reads and writes.
    pub fn store(&self) -> &Arc<dyn ConfigStore> {
        &self.inner.store
    }

    /// How many access tokens this notifier has fetched (one per hour of work, or one per
    /// rejection).
    pub fn token_fetches(&self) -> u64 {
        self.inner.client.tokens().fetches()
    }
}

/// Builds a [`JiraNotifier`]: the transport, the two Atlassian base URLs, the retry
/// policy and the cap on requests in flight.
pub struct JiraNotifierBuilder {
    store: Arc<dyn ConfigStore>,
    transport: Option<Arc<dyn HttpTransport>>,
    auth_url: String,
    api_url: String,
    retry: RetryPolicy,
    max_in_flight: usize,
    lease: Duration,
    search_lag_bound: Option<Duration>,
    tenant_info_url: Option<String>,
}

impl fmt::Debug for JiraNotifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraNotifierBuilder")
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .field("lease", &self.lease)
            .field("search_lag_bound", &self.search_lag_bound)
            .field("tenant_info_url", &self.tenant_info_url)
            .finish_non_exhaustive()
    }
}

impl JiraNotifierBuilder {
    /// The HTTP transport (default: [`ReqwestTransport`](crate::ReqwestTransport) with the
    /// `reqwest` feature).
    pub fn transport(mut self, transport: impl HttpTransport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The HTTP transport, shared.
    pub fn transport_arc(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The auth host (default `https://auth.atlassian.com`). Plain `http://` is accepted
    /// only for loopback hosts.
    pub fn auth_url(mut self, url: impl Into<String>) -> Self {
        self.auth_url = url.into();
        self
    }

    /// The API gateway (default `https://api.atlassian.com`). Plain `http://` is accepted
    /// only for loopback hosts.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// How failed requests are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The most requests to Jira in flight at once (default 8): a storm of failures
    /// queues behind it instead of tripping Jira's burst limits.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// How long a claim on a test's create step lasts (default 2 minutes); see
    /// [`ConfigStore::claim_create`]. Keep it longer than Jira's search lag and than the
    /// longest create with its retries.
    pub fn create_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How far Jira's search may lag behind a create (default: the create lease, 2
    /// minutes). Atlassian says the lag "might vary from a few seconds to minutes"; a
    /// create that got no clear answer is sent again only once a search made at least this
    /// long after it found nothing. Until then the report answers
    /// [`Error::CreateUnconfirmed`] (retryable) and the test's create claim stays held,
    /// for as long as this or the lease, whichever is longer.
    pub fn search_lag_bound(mut self, bound: Duration) -> Self {
        self.search_lag_bound = Some(bound);
        self
    }

    /// Where a site named by its URL is asked for its cloud id (`/_edge/tenant_info`)
    /// instead of on the site's own host: a stand-in for tests, or a proxy. Plain `http://`
    /// is accepted only for loopback hosts.
    pub fn tenant_info_url(mut self, url: impl Into<String>) -> Self {
        self.tenant_info_url = Some(url.into());
        self
    }

    /// Builds the notifier, refusing base URLs that are not https (or loopback http).
    pub fn build(self) -> Result<JiraNotifier> {
        let mut endpoints = Endpoints::new(&self.auth_url, &self.api_url)?;
        if let Some(url) = &self.tenant_info_url {
            endpoints = endpoints.with_tenant_info(url)?;
        }
        let transport = match self.transport {
            Some(t) => t,
            None => default_transport()?,
        };
        Ok(JiraNotifier {
            inner: Arc::new(Inner {
                store: self.store,
                client: JiraClient::new(transport, endpoints, self.retry, self.max_in_flight),
                flights: Flights::default(),
                owner: format!(
                    "jira-notifier-{}-{:016x}",
                    std::process::id(),
                    fastrand::u64(..)
                ),
                lease: self.lease,
                search_lag_bound: self.search_lag_bound.unwrap_or(self.lease),
                unrecorded: Mutex::default(),
                pending: Pending::default(),
                key_hints: KeyHints::default(),
            }),
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_transport() -> Result<Arc<dyn HttpTransport>> {
    Ok(Arc::new(
        crate::transport::ReqwestTransport::builder().build()?,
    ))
}

#[cfg(not(feature = "reqwest"))]
fn default_transport() -> Result<Arc<dyn HttpTransport>> {
    Err(Error::Config(
        "no HTTP transport: enable the `reqwest` feature or pass one to `transport`".into(),
    ))
}

impl Inner {
    async fn require_connection(&self) -> Result<crate::connection::Connection> {
        self.store
            .load_connection()
            .await?
            .ok_or(Error::NotConnected)
    }
}
