//! [`JiraNotifier`]: what the host holds, and how it is built.

mod attach;
mod configure;
mod connect;
mod life;
mod pass;
mod report;
mod screen;
mod storm;
mod swap;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::storm::StormDesks;
use crate::attachment::AttachmentLimits;
use crate::auth::source::TokenSource;
use crate::clock::{Clock, SystemClock};
use crate::dedupe::flight::Flights;
use crate::dedupe::unclear::{KeyHints, Pending};
use crate::endpoints::{Endpoints, DEFAULT_API_URL, DEFAULT_AUTH_URL};
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::retry::RetryPolicy;
use crate::store::{ClaimOwner, ConfigStore, IssueRecord, TestId, WorkspaceId};
use crate::throttle::DEFAULT_MAX_IN_FLIGHT;
use crate::transport::HttpTransport;

/// The Jira integration of one workspace: connect, serve the settings screen, and turn
/// test failures into issues, one open issue per test.
///
/// A host with one workspace builds it with [`JiraNotifier::builder`]. A host with many
/// builds one [`NotifierEngine`] per process and asks it for a handle per workspace
/// ([`NotifierEngine::notifier`]): handles are cheap to make and to keep, and share the
/// transport, the token cache (by credential), the request limits and the in-flight
/// reports. Cheap to clone.
#[derive(Clone)]
pub struct JiraNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ConfigStore>,
    workspace: WorkspaceId,
    client: Arc<JiraClient>,
    flights: Arc<Flights>,
    /// This notifier's name in create claims: unique per handle, so that two replicas
    /// (or two handles in one process) never mistake each other's claims for their own.
    owner: ClaimOwner,
    lease: Duration,
    /// How far Jira's search may lag a create: an unclear create is sent again only once a
    /// search made this long after it found nothing.
    search_lag_bound: Duration,
    /// Issues this notifier created but could not record (`Error::RecordNotSaved`), by
    /// test id, until the test's next duplicate check has settled them.
    unrecorded: Mutex<HashMap<TestId, IssueRecord>>,
    /// Creates of this notifier that got no clear answer and are not confirmed yet.
    pending: Pending,
    /// The highest issue key seen per project, to look for an unclear create by key.
    key_hints: KeyHints,
    /// The time of day, for an issue's life (comment intervals, reopen windows).
    clock: Arc<dyn Clock>,
    /// Caps on the files of one failure.
    attachment_limits: AttachmentLimits,
    /// The storm guard's turns and umbrella checks, per workspace of the process.
    storm_desks: Arc<StormDesks>,
}

/// How long a create claim lasts by default: longer than a create can take with its
/// retries, and longer than Jira's search lag, so that whoever takes over the claim of a
/// notifier that died mid-create finds its issue by search.
pub const DEFAULT_CREATE_LEASE: Duration = Duration::from_secs(120);

impl fmt::Debug for JiraNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraNotifier")
            .field("workspace", &self.inner.workspace)
            .field("store", &self.inner.store)
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

impl JiraNotifier {
    /// Starts building a notifier on the host's store: a process with one workspace.
    pub fn builder(store: Arc<dyn ConfigStore>) -> JiraNotifierBuilder {
        NotifierBuilder::with(store)
    }

    /// The store the notifier reads and writes.
    pub fn store(&self) -> &Arc<dyn ConfigStore> {
        &self.inner.store
    }

    /// The workspace this notifier serves.
    pub fn workspace(&self) -> &WorkspaceId {
        &self.inner.workspace
    }

    /// How many access tokens this notifier's engine has fetched, every credential
    /// together. A hook for tests and benchmarks, not part of the supported API.
    #[doc(hidden)]
    pub fn token_fetches(&self) -> u64 {
        self.inner.client.tokens().fetches()
    }

    /// Uploads files to any issue of the connected site, within `limits`: a hook for the
    /// tests of the upload's exact requests, not part of the supported API (failure reports
    /// attach files through `on_test_error_with_attachments`). Fails only when not
    /// connected; each file's fate is in the report.
    #[doc(hidden)]
    pub async fn upload_attachments(
        &self,
        issue_id_or_key: &str,
        files: Vec<crate::Attachment>,
        limits: &crate::AttachmentLimits,
    ) -> Result<crate::UploadReport> {
        let conn = self.inner.require_connection().await?;
        Ok(self
            .inner
            .client
            .add_attachments(&conn, issue_id_or_key, files, limits)
            .await)
    }
}

/// What every workspace of a process shares: the transport and its connection pool, the
/// retry policy, the base URLs, access tokens (by credential), the limits on requests to
/// each Jira site, and the reports in flight. Build one per process; cheap to clone.
///
/// ```
/// # use std::sync::Arc;
/// # use jira_notifier::{MemoryStore, NotifierEngine, WorkspaceId};
/// # fn demo() -> jira_notifier::Result<()> {
/// let engine = NotifierEngine::builder().build()?;
/// let stores = MemoryStore::new(); // or a PostgresStore: one pool, a handle per workspace
/// let acme = WorkspaceId::new("acme");
/// let notifier = engine.notifier(acme.clone(), Arc::new(stores.workspace(&acme)));
/// assert_eq!(notifier.workspace(), &acme);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NotifierEngine {
    client: Arc<JiraClient>,
    flights: Arc<Flights>,
    lease: Duration,
    search_lag_bound: Duration,
    clock: Arc<dyn Clock>,
    attachment_limits: AttachmentLimits,
    storm_desks: Arc<StormDesks>,
}

impl fmt::Debug for NotifierEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierEngine")
            .field("client", &self.client)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl NotifierEngine {
    /// Starts building the engine of a process serving many workspaces.
    pub fn builder() -> NotifierEngineBuilder {
        NotifierBuilder::with(())
    }

    /// A handle on one workspace, reading and writing `store` (a store scoped to that
    /// workspace, such as [`MemoryStore::workspace`](crate::MemoryStore::workspace)). Costs
    /// no request and a few hundred bytes; make one per workspace and keep it, or make it
    /// per call.
    pub fn notifier(
        &self,
        workspace: impl Into<WorkspaceId>,
        store: Arc<dyn ConfigStore>,
    ) -> JiraNotifier {
        JiraNotifier {
            inner: Arc::new(Inner {
                store,
                workspace: workspace.into(),
                client: Arc::clone(&self.client),
                flights: Arc::clone(&self.flights),
                owner: ClaimOwner::unique(),
                lease: self.lease,
                unrecorded: Mutex::default(),
                pending: Pending::default(),
                key_hints: KeyHints::default(),
                search_lag_bound: self.search_lag_bound,
                clock: Arc::clone(&self.clock),
                attachment_limits: self.attachment_limits,
                storm_desks: Arc::clone(&self.storm_desks),
            }),
        }
    }
}

/// Builds a [`JiraNotifier`] (with a store) or a [`NotifierEngine`] (without): the
/// transport, the two Atlassian base URLs, the retry policy, the cap on requests in flight
/// and the create lease.
pub struct NotifierBuilder<S> {
    store: S,
    transport: Option<Arc<dyn HttpTransport>>,
    auth_url: String,
    api_url: String,
    retry: RetryPolicy,
    max_in_flight: usize,
    lease: Duration,
    search_lag_bound: Option<Duration>,
    tenant_info_url: Option<String>,
    clock: Arc<dyn Clock>,
    token_source: Option<Arc<dyn TokenSource>>,
    attachment_limits: AttachmentLimits,
}

/// The builder [`JiraNotifier::builder`] returns.
pub type JiraNotifierBuilder = NotifierBuilder<Arc<dyn ConfigStore>>;
/// The builder [`NotifierEngine::builder`] returns.
pub type NotifierEngineBuilder = NotifierBuilder<()>;

impl<S> fmt::Debug for NotifierBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierBuilder")
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .field("lease", &self.lease)
            .field("search_lag_bound", &self.search_lag_bound)
            .field("tenant_info_url", &self.tenant_info_url)
            .field("token_source", &self.token_source.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> NotifierBuilder<S> {
    fn with(store: S) -> Self {
        NotifierBuilder {
            store,
            transport: None,
            auth_url: DEFAULT_AUTH_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
            retry: RetryPolicy::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            lease: DEFAULT_CREATE_LEASE,
            search_lag_bound: None,
            tenant_info_url: None,
            clock: Arc::new(SystemClock),
            token_source: None,
            attachment_limits: AttachmentLimits::default(),
        }
    }

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

    /// The clock an issue's life is timed by (default [`SystemClock`]): repeat comment
    /// intervals and reopen windows. Replicas sharing a store should read the same time.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The host's own token source (an OAuth 2.0 3LO app's tokens), for connections made
    /// with [`Credentials::token_source`](crate::Credentials::token_source): one source
    /// serves every workspace, told which by the connection's name.
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.token_source = Some(source);
        self
    }

    /// Caps on the files a failure attaches (default 10 MiB per file, 25 MiB per
    /// failure); see [`JiraNotifier::on_test_error_with_attachments`].
    pub fn attachment_limits(mut self, limits: AttachmentLimits) -> Self {
        self.attachment_limits = limits;
        self
    }

    fn engine(self) -> Result<(NotifierEngine, S)> {
        let mut endpoints = Endpoints::new(&self.auth_url, &self.api_url)?;
        if let Some(url) = &self.tenant_info_url {
            endpoints = endpoints.with_tenant_info(url)?;
        }
        let transport = match self.transport {
            Some(t) => t,
            None => default_transport()?,
        };
        let engine = NotifierEngine {
            client: Arc::new(
                JiraClient::new(transport, endpoints, self.retry, self.max_in_flight)
                    .with_token_source(self.token_source),
            ),
            flights: Arc::default(),
            lease: self.lease,
            search_lag_bound: self.search_lag_bound.unwrap_or(self.lease),
            clock: self.clock,
            attachment_limits: self.attachment_limits,
            storm_desks: Arc::default(),
        };
        Ok((engine, self.store))
    }
}

impl NotifierBuilder<Arc<dyn ConfigStore>> {
    /// Builds the notifier (on the default workspace), refusing base URLs that are not
    /// https (or loopback http).
    pub fn build(self) -> Result<JiraNotifier> {
        let (engine, store) = self.engine()?;
        Ok(engine.notifier(WorkspaceId::default(), store))
    }
}

impl NotifierBuilder<()> {
    /// Builds the engine, refusing base URLs that are not https (or loopback http).
    pub fn build(self) -> Result<NotifierEngine> {
        Ok(self.engine()?.0)
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
