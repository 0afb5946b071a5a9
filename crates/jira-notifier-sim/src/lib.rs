//! A simulated Jira Cloud, with Atlassian's auth host and API gateway, in process.
//!
//! [`SimJira`] is an [`HttpTransport`]: give it to the notifier instead of a real HTTP
//! client and every request is answered from in-memory state, offline. It routes by URL path
//! only, so any base URLs work:
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /oauth/token` | client-credentials grant (JSON body); bearer tokens expire |
//! | `GET /oauth/token/accessible-resources` | the sites the token reaches |
//! | `/ex/jira/{cloudId}/rest/api/3/search/jql` | search and reconcile (POST or GET), lagging index |
//! | `/ex/jira/{cloudId}/rest/api/3/search` | retired: `410` |
//! | `POST /ex/jira/{cloudId}/rest/api/3/issue` | create, validated like Jira |
//! | `GET /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}` | current data (`expand=transitions`) |
//! | `GET /ex/jira/{cloudId}/rest/api/3/project/search`, `.../project/{idOrKey}` | projects |
//! | `GET /ex/jira/{cloudId}/rest/api/3/issue/createmeta/{project}/issuetypes` | issue types |
//! | `GET /ex/jira/{cloudId}/rest/api/3/issue/createmeta/{project}/issuetypes/{id}` | the create screen's fields, paged |
//! | `POST /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}/comment` | a comment (ADF only) |
//! | `GET /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}/comment` | the comments, paged |
//! | `GET /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}/transitions` | what the issue's status offers ([`Workflow`]) |
//! | `POST /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}/transitions` | take one, with its screen's resolution and comments |
//! | `GET /ex/jira/{cloudId}/rest/api/3/resolution/search` | the site's resolutions, paged |
//! | `POST /ex/jira/{cloudId}/rest/api/3/issue/{idOrKey}/attachments` | files (multipart, `X-Atlassian-Token: no-check`), stored with Jira's limits |
//! | `GET /ex/jira/{cloudId}/rest/api/3/attachment/{id}`, `.../attachment/content/{id}`, `.../attachment/meta` | attachments back, and the settings |
//! | `GET /ex/jira/{cloudId}/rest/api/3/mypermissions` | the service account's project permissions |
//! | `GET /ex/jira/{cloudId}/rest/api/3/user/bulk` | users by account id |
//! | `GET /ex/jira/{cloudId}/rest/api/3/user/assignable/search` | assignee picker |
//! | `GET /ex/jira/{cloudId}/rest/api/3/myself` | the service account |
//! | `GET /ex/jira/{cloudId}/rest/api/3/serverInfo` | which site a cloud id is (`baseUrl`) |
//! | `GET https://NAME.atlassian.net/_edge/tenant_info` | a site's cloud id, to anyone |
//! | `https://NAME.atlassian.net/rest/api/3/…` | the same Jira, for a person's API token |
//!
//! Jira calls through the gateway take a bearer token (client credentials, or an app's
//! token from [`SimJira::issue_app_token`]) or a service account's scoped API token (basic
//! auth); on the site's own host (or a loopback stand-in for the first site) only a
//! person's API token works. Each is refused with Atlassian's own `401`.
//!
//! It is strict where Jira is: error statuses, texts and shapes are the real ones (recorded
//! from Jira Cloud), unknown body members are refused, the JQL must be bounded and quoted
//! correctly, descriptions must be ADF, and search sees a lagging index unless issues are
//! reconciled. Each project has a create screen per issue type ([`SimField`]): a create
//! that sets a field not on it, or leaves a required field without a default empty, is
//! refused as Jira refuses it, and the service account's project permissions
//! ([`SimJira::set_permission`]) decide what it may do. [`ScreenKind`] adds projects
//! configured the way companies configure them. Each project has a [`Workflow`]
//! ([`Workflow::simplified`] until [`SimJira::set_workflow`] replaces it): issues move
//! through its transitions, whose screens may ask for a resolution, and answers show
//! `status`, `resolution`, `statuscategorychangedate` and `resolutiondate` as Jira does.
//! Code that passes against it should pass against Jira.
//!
//! # Dates
//!
//! The dates the simulator tells about issues (`created`, `statuscategorychangedate`,
//! `resolutiondate`, comments' `created`) come from [`SimJira::now`]: the system time when
//! the simulator was made, plus however far tokio's clock has moved since. A test that
//! pauses tokio's clock and advances it by a day sees those dates a day later.
//!
//! ```
//! # async fn demo() {
//! use jira_notifier_sim::{Fault, SimJira};
//! use jira_notifier::Method;
//!
//! let sim = SimJira::new();
//! sim.set_search_lag(std::time::Duration::from_secs(2));
//! sim.inject(Fault::timeout_after_commit(Method::Post, "/rest/api/3/issue"));
//! // ... run the notifier with `Arc::new(sim.clone())` as its transport, then:
//! assert!(sim.open_issues_with_label("testclix-login").len() <= 1);
//! # }
//! ```
//!
//! # Over HTTP
//!
//! [`SimServer`] serves the same simulation on a loopback port, for processes that cannot
//! link it (the `sandbox` tool, a host's tests in another language); the `jira-sim` binary
//! runs one from the command line.
//!
//! This is its own crate, with its own version, so that hosts take it as a
//! dev-dependency and the engine ships no test double.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod adf;
mod api_tokens;
mod attachments;
mod auth;
mod changes;
mod clock;
mod comments;
mod faults;
mod issues;
mod jql;
mod lists;
mod model;
mod ratelimit;
mod render;
mod reply;
mod resolutions;
mod router;
mod scopes;
mod screens;
mod search;
mod server;
mod tenant;
#[cfg(test)]
mod testing;
mod transitions;
#[cfg(test)]
mod transitions_tests;
mod workflow;
mod world;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

pub use self::attachments::SimAttachment;
pub use self::faults::Fault;
pub use self::model::{
    LimitScope, RateLimit, RecordedRequest, SimComment, SimIssue, StatusCategory,
};
pub use self::screens::{ScreenKind, SimField};
pub use self::server::SimServer;
pub use self::workflow::{ResolutionField, Workflow, WorkflowTransition};
use self::world::{NewIssue, User, World};
use jira_notifier::Site;
use jira_notifier::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// A simulated Jira Cloud with its auth host and gateway, usable as an [`HttpTransport`].
///
/// Clones share one state, so a test can keep a clone to inspect and steer the simulation
/// while the notifier holds another. All control methods take `&self`.
#[derive(Clone)]
pub struct SimJira {
    world: Arc<Mutex<World>>,
}

impl SimJira {
    /// The client id [`SimJira::new`] accepts.
    pub const CLIENT_ID: &'static str = "sim-client-id";
    /// The client secret [`SimJira::new`] accepts.
    pub const CLIENT_SECRET: &'static str = "sim-client-secret";
    /// The cloud id of the site [`SimJira::new`] creates.
    pub const CLOUD_ID: &'static str = "11111111-2222-3333-4444-555555555555";
    /// The name of the site [`SimJira::new`] creates (`https://acme.atlassian.net`).
    pub const SITE_NAME: &'static str = "acme";
    /// The account id of the service account the credentials belong to (`/myself`).
    pub const SERVICE_ACCOUNT_ID: &'static str = world::SERVICE_ACCOUNT_ID;
    /// The service account's email, for its API token.
    pub const SERVICE_ACCOUNT_EMAIL: &'static str = "sim-bot@serviceaccount.atlassian.com";
    /// The service account's scoped API token [`SimJira::new`] accepts (basic auth, through
    /// the gateway), with the default scopes.
    pub const SERVICE_ACCOUNT_API_TOKEN: &'static str = "sim-service-account-api-token";
    /// The email of the person whose API token [`SimJira::new`] accepts.
    pub const PERSON_EMAIL: &'static str = "alice@acme.example";
    /// A person's API token [`SimJira::new`] accepts (basic auth, on the site's own host).
    pub const PERSONAL_API_TOKEN: &'static str = "sim-personal-api-token";

    /// A ready world: the [`CLIENT_ID`](Self::CLIENT_ID)/[`CLIENT_SECRET`](Self::CLIENT_SECRET)
    /// credentials, the service account's API token
    /// ([`SERVICE_ACCOUNT_EMAIL`](Self::SERVICE_ACCOUNT_EMAIL),
    /// [`SERVICE_ACCOUNT_API_TOKEN`](Self::SERVICE_ACCOUNT_API_TOKEN)), a person's
    /// ([`PERSON_EMAIL`](Self::PERSON_EMAIL), [`PERSONAL_API_TOKEN`](Self::PERSONAL_API_TOKEN)),
    /// one site ([`CLOUD_ID`](Self::CLOUD_ID), `acme`), and:
    ///
    /// - project `QA` "Quality Assurance" with issue types Bug, Task, Story;
    /// - project `OPS` "Operations" with issue types Task, Incident (no Bug);
    /// - users, in this order: `712020:alice` "Alice Anderson" (QA, OPS),
    ///   `712020:bob` "Bob Brown" (QA), `712020:carol` "Carol Chen" (QA, OPS),
    ///   `712020:dave` "Dave Doe" (QA, **inactive**), `712020:erin` "Erin Evans" (OPS).
    ///   Each has the email `{name}@acme.example`, which the user picker's query matches.
    pub fn new() -> Self {
        let sim = SimJira::empty();
        sim.add_site(Self::CLOUD_ID, Self::SITE_NAME);
        sim.add_service_account_token(
            Self::SERVICE_ACCOUNT_EMAIL,
            Self::SERVICE_ACCOUNT_API_TOKEN,
            &scopes::DEFAULT,
        );
        sim.add_personal_token(Self::PERSON_EMAIL, Self::PERSONAL_API_TOKEN);
        sim.add_project("QA", "Quality Assurance", &["Bug", "Task", "Story"]);
        sim.add_project("OPS", "Operations", &["Task", "Incident"]);
        for (name, display, active, projects) in [
            ("alice", "Alice Anderson", true, &["QA", "OPS"][..]),
            ("bob", "Bob Brown", true, &["QA"][..]),
            ("carol", "Carol Chen", true, &["QA", "OPS"][..]),
            ("dave", "Dave Doe", false, &["QA"][..]),
            ("erin", "Erin Evans", true, &["OPS"][..]),
        ] {
            sim.world().primary_mut().add_user(User {
                account_id: format!("712020:{name}"),
                display_name: display.to_owned(),
                active,
                email: Some(format!("{name}@acme.example")),
                account_type: "atlassian",
                assignable_in: projects.iter().map(|p| (*p).to_owned()).collect(),
            });
        }
        sim
    }

    /// A world with the default credentials but no sites, projects or users: build it with
    /// [`add_site`](Self::add_site), [`add_project`](Self::add_project) and
    /// [`add_user`](Self::add_user).
    pub fn empty() -> Self {
        SimJira {
            world: Arc::new(Mutex::new(World::new(Self::CLIENT_ID, Self::CLIENT_SECRET))),
        }
    }

    /// The state, even if a panicking test thread poisoned the lock: the simulator must keep
    /// answering. Never held across an `await`.
    fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ----- building the world -----

    /// Adds a site the credentials can reach (or renames an existing one) and returns it.
    ///
    /// Projects, users and issues belong to the **first** site; later sites are empty Jiras,
    /// which is enough to test site choice and catches calls sent to the wrong cloud id.
    pub fn add_site(&self, cloud_id: impl Into<String>, name: impl Into<String>) -> Site {
        self.world().add_site(cloud_id.into(), name.into())
    }

    /// The sites, in the order they were added.
    pub fn sites(&self) -> Vec<Site> {
        self.world().sites.iter().map(|e| e.site.clone()).collect()
    }

    /// Adds a project with the issue types that can be created in it, and returns its id.
    /// Issue types are site-wide: a name used in two projects has one id. Adding an existing
    /// key renames the project and adds the missing issue types.
    pub fn add_project(&self, key: &str, name: &str, issue_type_names: &[&str]) -> String {
        self.world()
            .primary_mut()
            .add_project(key, name, issue_type_names)
    }

    /// Adds (or replaces) a user, assignable in the projects with these keys (which need not
    /// exist yet). Inactive users are never assignable nor listed by the picker.
    pub fn add_user(
        &self,
        account_id: &str,
        display_name: &str,
        active: bool,
        assignable_in: &[&str],
    ) {
        self.world().primary_mut().add_user(User {
            account_id: account_id.to_owned(),
            display_name: display_name.to_owned(),
            active,
            email: None,
            account_type: "atlassian",
            assignable_in: assignable_in.iter().map(|k| (*k).to_owned()).collect(),
        });
    }

    /// The id of a project, by key.
    pub fn project_id(&self, key: &str) -> Option<String> {
        let world = self.world();
        let jira = world.primary();
        jira.projects
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.id.clone())
    }

    /// The id of an issue type that can be created in a project, by names.
    pub fn issue_type_id(&self, project_key: &str, issue_type_name: &str) -> Option<String> {
        let world = self.world();
        let jira = world.primary();
        let project = jira.projects.iter().find(|p| p.key == project_key)?;
        project
            .issue_type_ids
            .iter()
            .find(|id| {
                jira.issue_type(id)
                    .is_some_and(|t| t.name == issue_type_name)
            })
            .cloned()
    }

    /// Creates an issue directly, as if someone had created it in Jira's UI (no request is
    /// recorded). `None` if the project or issue type does not exist.
    pub fn add_issue(
        &self,
        project_key: &str,
        issue_type_name: &str,
        summary: &str,
        labels: &[&str],
    ) -> Option<SimIssue> {
        let issue_type_id = self.issue_type_id(project_key, issue_type_name)?;
        let mut world = self.world();
        let jira = world.primary_mut();
        let project = jira.projects.iter().position(|p| p.key == project_key)?;
        let mut unique: Vec<String> = Vec::new();
        for label in labels {
            if !unique.iter().any(|l| l == label) {
                unique.push((*label).to_owned());
            }
        }
        let index = jira.create_issue(
            NewIssue {
                project,
                issue_type_id,
                summary: summary.to_owned(),
                description: serde_json::Value::Null,
                labels: unique,
                assignee: None,
                fields: Default::default(),
            },
            tokio::time::Instant::now(),
        );
        jira.snapshot(index)
    }

    // ----- behaviour -----

    /// The OAuth 2.0 scopes the credential is granted (default `read:jira-work`,
    /// `write:jira-work`, `read:jira-user`). Tokens issued from now on carry them: each Jira
    /// endpoint needs the scope the v3 spec names for it, and a token without it gets the
    /// gateway's `401` "Unauthorized; scope does not match". A credential with no Jira
    /// scope is not listed for any Jira site by `accessible-resources`.
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.world().scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Whether `accessible-resources` leaves the sites out (default `false`), as it can for
    /// a service account's credential: the site must then be named by its URL, whose
    /// `/_edge/tenant_info` still gives its cloud id.
    pub fn set_discovery_lists_nothing(&self, hidden: bool) {
        self.world().discovery_hidden = hidden;
    }

    /// A site that exists (its host answers `/_edge/tenant_info`) but that the credentials
    /// cannot reach: not listed, and unknown to the gateway for them (`404`).
    pub fn add_foreign_site(&self, cloud_id: &str, name: &str) -> Site {
        let site = Site::new(cloud_id, name, format!("https://{name}.atlassian.net"));
        self.world().foreign_sites.push(site.clone());
        site
    }

    /// Lists one more entry in `accessible-resources`, after the sites, as given: another
    /// product's site (Confluence, with its scopes), or a Jira site listed a second time.
    /// No Jira is behind it unless a site with that cloud id was added.
    pub fn add_accessible_resource(&self, cloud_id: &str, name: &str, url: &str, scopes: &[&str]) {
        self.world().extra_resources.push(serde_json::json!({
            "id": cloud_id,
            "name": name,
            "url": url,
            "scopes": scopes,
            "avatarUrl": auth::AVATAR,
        }));
    }

    /// Accepts a service account's scoped API token with these scopes: basic auth with the
    /// email and the token, through the gateway only (the site's own host refuses it).
    pub fn add_service_account_token(&self, email: &str, token: &str, scopes: &[&str]) {
        self.world().api_tokens.scoped.push((
            email.to_owned(),
            token.to_owned(),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        ));
    }

    /// Accepts a person's API token: basic auth with the email and the token, on the
    /// site's own host only (`https://NAME.atlassian.net/rest/api/3/…`, or a loopback
    /// stand-in for the first site); the gateway refuses it. No scopes apply.
    pub fn add_personal_token(&self, email: &str, token: &str) {
        self.world()
            .api_tokens
            .personal
            .push((email.to_owned(), token.to_owned()));
    }

    /// Revokes every API token (service accounts' and people's): they get `401` from now on.
    pub fn revoke_api_tokens(&self) {
        let mut world = self.world();
        world.api_tokens.scoped.clear();
        world.api_tokens.personal.clear();
    }

    /// Issues a bearer token as an OAuth 2.0 (3LO) app's authorization would, with the
    /// credential's scopes and token lifetime, and returns it: what a host's own
    /// [`TokenSource`](jira_notifier::TokenSource) hands over. [`expire_tokens`](Self::expire_tokens)
    /// ends it.
    pub fn issue_app_token(&self) -> String {
        let mut world = self.world();
        let token: String = (0..64).map(|_| fastrand::alphanumeric()).collect();
        let issued = world::IssuedToken {
            issued: tokio::time::Instant::now(),
            lifetime: world.token_lifetime,
            scopes: world.scopes.clone(),
        };
        world.tokens.insert(token.clone(), issued);
        token
    }

    /// Replaces the client credentials the auth host accepts. Tokens already issued stay valid.
    pub fn set_credentials(&self, client_id: &str, client_secret: &str) {
        let mut world = self.world();
        world.client_id = client_id.to_owned();
        world.client_secret = client_secret.to_owned();
    }

    /// How far search lags behind writes (default zero). Search evaluates JQL on each issue
    /// as it was this long ago: newer issues are missing and newer status changes unseen,
    /// except for issues named in `reconcileIssues`, which are judged on current data.
    pub fn set_search_lag(&self, lag: Duration) {
        self.world().search_lag = lag;
    }

    /// The most UTF-16 units a description may take, as JSON (default 32,767, Jira's
    /// limit). Lower it to play a Jira that counts a description as longer than the
    /// client did (what it stores adds markup): creates over it get Jira's
    /// "The entered text is too long" field error.
    pub fn set_description_limit(&self, units: usize) {
        self.world().primary_mut().description_limit = units;
    }

    /// How long tokens issued from now on live (default one hour), on tokio's clock.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.world().token_lifetime = lifetime;
    }

    /// How long every request takes (default zero), slept with `tokio::time::sleep` before
    /// it is handled: the round-trip time for benchmarks.
    pub fn set_latency(&self, latency: Duration) {
        self.world().latency = latency;
    }

    /// Limits Jira requests (everything under `/ex/jira/`), replacing any limits set
    /// before; `None` (the default) removes them. [`RateLimit::new`] counts the whole site,
    /// [`RateLimit::burst`] each endpoint, [`RateLimit::per_issue_write`] writes to each
    /// issue. Every answer under a limit carries Jira's rate-limit headers
    /// (`RateLimit-Reason`, `X-RateLimit-Limit`, `-Remaining`, `-Reset`, `-NearLimit`);
    /// requests over a limit get `429` with `Retry-After` (seconds until the window ends)
    /// and change nothing.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.world().limiter.set(limit);
    }

    /// Adds a limit to those on Jira requests: each request must fit every one.
    pub fn add_rate_limit(&self, limit: RateLimit) {
        self.world().limiter.add(limit);
    }

    /// Limits token requests to the auth host (`None`, the default: unlimited). Past it,
    /// `429` with `Retry-After`; Jira's own limits are apart.
    pub fn set_auth_rate_limit(&self, limit: Option<RateLimit>) {
        self.world().limiter.set_auth(limit);
    }

    /// Makes every issued token invalid at once: the next Jira call with one gets `401`.
    pub fn expire_tokens(&self) {
        self.world().tokens.clear();
    }

    /// Queues a failure for the next matching requests; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// How many more requests queued faults will still fail.
    pub fn pending_faults(&self) -> usize {
        self.world().faults.pending()
    }

    // ----- inspection -----

    /// Every issue of the first site, oldest first, as currently stored.
    pub fn issues(&self) -> Vec<SimIssue> {
        let world = self.world();
        let jira = world.primary();
        (0..jira.issues.len())
            .filter_map(|i| jira.snapshot(i))
            .collect()
    }

    /// An issue by key (any case) or id.
    pub fn issue(&self, key: &str) -> Option<SimIssue> {
        let world = self.world();
        let jira = world.primary();
        jira.issue_index(key).and_then(|i| jira.snapshot(i))
    }

    /// The issues not in the Done category that carry exactly this label (case-sensitive:
    /// this is what was stored, not what a search would match).
    pub fn open_issues_with_label(&self, label: &str) -> Vec<SimIssue> {
        let world = self.world();
        let jira = world.primary();
        jira.issues_labelled(&label.to_lowercase())
            .iter()
            .filter_map(|i| jira.snapshot(*i))
            .filter(|issue| {
                issue.status_category != StatusCategory::Done
                    && issue.labels.iter().any(|l| l == label)
            })
            .collect()
    }

    /// Moves an issue (by key or id) to a status category, as a person would in Jira:
    /// `Done` closes it. Returns whether the issue exists. Search sees the change only after
    /// the search lag.
    ///
    /// The issue goes to its workflow's first status of that category (or the site's
    /// status of that name if the workflow has none), directly, like an admin's edit: no
    /// transition, no resolution set, and leaving Done clears the resolution. Use
    /// [`transition`](Self::transition) to move it through the workflow.
    pub fn set_status(&self, key: &str, status: StatusCategory) -> bool {
        let mut world = self.world();
        let jira = world.primary_mut();
        match jira.issue_index(key) {
            Some(index) => jira.set_status(index, status, tokio::time::Instant::now()),
            None => false,
        }
    }

    /// Moves an issue (by key or id) to a status (by name, any case), as a person would in
    /// Jira's UI: through the first transition its current status offers into that status,
    /// obeying the transition's screen (a required resolution must be given; one not on
    /// the screen is refused; a post function sets its own), or, if no transition leads
    /// there, directly as an admin's edit (a resolution is then kept only for a Done-category
    /// status). `resolution` names one of the site's resolutions (`Done`, `Won't Do`,
    /// `Duplicate`, `Cannot Reproduce`). Leaving Done clears the resolution. The error
    /// says why nothing changed. Search sees the change only after the search lag.
    pub fn transition(
        &self,
        key: &str,
        status_name: &str,
        resolution: Option<&str>,
    ) -> Result<(), String> {
        let mut world = self.world();
        let jira = world.primary_mut();
        let Some(index) = jira.issue_index(key) else {
            return Err(format!("Issue '{key}' does not exist."));
        };
        transitions::by_person(
            jira,
            index,
            status_name,
            resolution,
            tokio::time::Instant::now(),
        )
    }

    /// The name of an issue's current status (by key or id); `None` if it does not exist.
    pub fn status(&self, key: &str) -> Option<String> {
        self.issue(key).map(|i| i.status)
    }

    /// The name of an issue's resolution (by key or id); `None` if it is unresolved or does
    /// not exist.
    pub fn resolution(&self, key: &str) -> Option<String> {
        self.issue(key).and_then(|i| i.resolution)
    }

    /// An issue's comments (by key or id), oldest first, with their ids and times; `None`
    /// if the issue does not exist.
    pub fn comments(&self, key: &str) -> Option<Vec<SimComment>> {
        let world = self.world();
        let jira = world.primary();
        jira.issue_index(key).and_then(|i| jira.comments_of(i))
    }

    /// Gives a project a workflow, for the issues created from now on and the transitions
    /// of every issue of the project. Issues keep their status: one the new workflow does
    /// not have is left only its global transitions, so set workflows before creating
    /// issues. Refused if the project is unknown, the workflow inconsistent (no status,
    /// a transition naming a status it does not have), or it gives a status name the site
    /// already has another category (Jira's statuses are site-wide).
    pub fn set_workflow(&self, project_key: &str, workflow: Workflow) -> Result<(), String> {
        workflow.check()?;
        let mut world = self.world();
        let jira = world.primary_mut();
        let Some(project) = jira.projects.iter().position(|p| p.key == project_key) else {
            return Err(format!("Project '{project_key}' does not exist."));
        };
        jira.register_statuses(&workflow)?;
        if let Some(p) = jira.projects.get_mut(project) {
            p.workflow = workflow;
        }
        Ok(())
    }

    /// A project's workflow; `None` if the project is unknown.
    pub fn workflow(&self, project_key: &str) -> Option<Workflow> {
        let world = self.world();
        let jira = world.primary();
        jira.projects
            .iter()
            .find(|p| p.key == project_key)
            .map(|p| p.workflow.clone())
    }

    /// The simulator's wall clock: the system time when it was made plus how far tokio's
    /// clock has moved since. Every date it tells about issues comes from it, so tests
    /// that pause and advance tokio's clock see those dates move with it.
    pub fn now(&self) -> SystemTime {
        self.world().clock.at(tokio::time::Instant::now())
    }

    /// Deletes an issue (by key or id), as a person would in Jira: it is gone from
    /// searches and lookups. A search whose `reconcileIssues` names it is refused with
    /// `400` (JRACLOUD-93328). Returns whether the issue existed.
    pub fn delete_issue(&self, key: &str) -> bool {
        let mut world = self.world();
        let jira = world.primary_mut();
        match jira.issue_index(key) {
            Some(index) => jira.delete_issue(index),
            None => false,
        }
    }

    /// Moves an issue (by key or id) to another project, as a person would in Jira: it
    /// gets that project's next key, keeps its id, labels and status, and its old key still
    /// finds it. A search whose `reconcileIssues` names it is refused with `400`
    /// (JRACLOUD-93328). Returns the new key; `None` if the issue or project is unknown.
    pub fn move_issue(&self, key: &str, to_project_key: &str) -> Option<String> {
        let mut world = self.world();
        let jira = world.primary_mut();
        let index = jira.issue_index(key)?;
        let project = jira.projects.iter().position(|p| p.key == to_project_key)?;
        jira.move_issue(index, project)
    }

    /// The requests received since the last [`clear_requests`](Self::clear_requests), while
    /// recording was on. Credentials are redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.world().requests.clone()
    }

    /// How many requests were received, recorded or not, faulted or not.
    pub fn request_count(&self) -> usize {
        self.world().request_count
    }

    /// Forgets recorded requests and resets the count.
    pub fn clear_requests(&self) {
        let mut world = self.world();
        world.requests.clear();
        world.request_count = 0;
    }

    /// Turns request recording on (the default) or off. Off, only the count is kept: for
    /// storms of many thousand requests.
    pub fn set_record_requests(&self, record: bool) {
        self.world().record_requests = record;
    }
}

impl Default for SimJira {
    fn default() -> Self {
        SimJira::new()
    }
}

impl fmt::Debug for SimJira {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let world = self.world();
        let jira = world.primary();
        f.debug_struct("SimJira")
            .field("sites", &world.sites.len())
            .field("projects", &jira.projects.len())
            .field("issues", &jira.issues.len())
            .field("requests", &world.request_count)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HttpTransport for SimJira {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let latency = self.world().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let outcome = {
            let mut world = self.world();
            router::handle(&mut world, &request, tokio::time::Instant::now())
        };
        if !outcome.delay.is_zero() {
            tokio::time::sleep(outcome.delay).await;
        }
        outcome.result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{body_of, get, send, token_for, Client};
    use super::*;

    #[tokio::test]
    async fn other_sites_are_separate_empty_jiras() {
        let sim = SimJira::new();
        let beta = sim.add_site("99999999-0000-0000-0000-000000000000", "beta");
        assert_eq!(beta.url, "https://beta.atlassian.net");
        assert_eq!(sim.sites().len(), 2);
        let token = token_for(&sim).await;
        let url = format!(
            "https://api.atlassian.com/ex/jira/{}/rest/api/3/project/search",
            beta.cloud_id
        );
        let res = send(&sim, get(&url, Some(&token))).await;
        assert_eq!(body_of(&res)["total"], 0);
    }

    #[tokio::test]
    async fn empty_world_has_no_site_until_one_is_added() {
        let sim = SimJira::empty();
        sim.add_project("QA", "Quality Assurance", &["Bug"]);
        let token = token_for(&sim).await;
        let url = "https://api.atlassian.com/oauth/token/accessible-resources";
        assert_eq!(
            body_of(&send(&sim, get(url, Some(&token))).await),
            json!([])
        );
        sim.add_site(SimJira::CLOUD_ID, "acme");
        // Data added before the first site belongs to it.
        let c = Client::new(&sim).await;
        assert_eq!(c.get("/rest/api/3/project/QA").await.0, 200);
    }

    #[tokio::test]
    async fn inspection_follows_the_issue_life_cycle() {
        let sim = SimJira::new();
        let seeded = sim
            .add_issue("QA", "Task", "seeded", &["t-1", "t-1"])
            .unwrap();
        assert_eq!(seeded.key, "QA-1");
        assert_eq!(seeded.labels, ["t-1"]);
        assert!(sim.add_issue("OPS", "Bug", "no bugs in OPS", &[]).is_none());
        assert_eq!(sim.open_issues_with_label("t-1").len(), 1);
        assert!(sim.open_issues_with_label("T-1").is_empty());
        assert!(sim.set_status("qa-1", StatusCategory::InProgress));
        assert_eq!(sim.open_issues_with_label("t-1").len(), 1);
        assert!(sim.set_status("10000", StatusCategory::Done));
        assert!(sim.open_issues_with_label("t-1").is_empty());
        assert!(!sim.set_status("QA-2", StatusCategory::Done));
        assert_eq!(sim.issues().len(), 1);
        assert_eq!(sim.request_count(), 0);
    }

    #[tokio::test]
    async fn never_panics_on_odd_input() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for path in [
            "/rest/api/3/issue/%FF%FE",
            "/rest/api/3/search/jql?jql=%22&maxResults=99999999999",
            "/rest/api/3/project/search?startAt=2147483647&maxResults=2147483647",
            "/rest/api/3/user/assignable/search?project=QA&startAt=2147483647&maxResults=1000",
            "/rest/api/3/issue/18446744073709551616",
            "/rest/api/3/issue/createmeta/%00/issuetypes",
        ] {
            let (status, _) = c.get(path).await;
            assert!((200..500).contains(&status), "{path}: {status}");
        }
        for body in [
            &b"\xff\xfe"[..],
            b"{\"fields\":{\"project\":{\"id\":1e999}}}",
            b"{\"jql\":\"labels = \\\"\\\\u12\\\"\"}",
            b"null",
        ] {
            for path in ["/rest/api/3/issue", "/rest/api/3/search/jql"] {
                let res = c.post_raw(path, body).await;
                assert_eq!(res.status, 400, "{path}");
            }
        }
    }
}
