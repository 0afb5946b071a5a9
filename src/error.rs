//! The crate's one error type, and Jira's own error body, parsed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::connection::{CredentialKind, Site};
use crate::fields::FieldProblem;
use crate::outcome::IssueRef;
use crate::store::{StoreError, StoreErrorKind};
use crate::transport::TransportError;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong. Each variant says what to do about it; see
/// [`Error::is_retryable`] for whether trying the same call again later makes sense.
///
/// No variant ever holds the client secret or an access token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The notifier was built with a value it cannot use (an insecure base URL, say).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A value the host passed is not acceptable; nothing was saved or sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which value (`project_key`, `labels`, `test.id`, ...).
        field: &'static str,
        /// Why, for people.
        reason: String,
    },

    /// Atlassian refused the client id and secret. Nothing was stored.
    #[error("Atlassian rejected the credentials (HTTP {status}: {error}: {description}); check the client id and secret of the service account's OAuth 2.0 credential")]
    CredentialsRejected {
        /// The HTTP status of the token endpoint's answer.
        status: u16,
        /// The OAuth error code (`invalid_client`, `access_denied`, ...).
        error: String,
        /// Atlassian's `error_description`.
        description: String,
    },

    /// Jira (or the gateway) refused a credential that is not client credentials: an API
    /// token with the wrong email or token (or one expired or revoked), or a host token
    /// source's token, refused again after the source was asked for a new one. The text
    /// names the kind of credential and the account, never the secret; the settings
    /// screen can show it as it is.
    #[error("{}", refused_text(*.kind, .account, *.status))]
    CredentialRefused {
        /// The kind of credential.
        kind: CredentialKind,
        /// The account's email (API tokens), or the token source's connection name.
        account: String,
        /// The HTTP status of Jira's answer (`401`).
        status: u16,
    },

    /// The host's [`TokenSource`](crate::TokenSource) gave no usable token. Its error
    /// is the [`source`](std::error::Error::source).
    #[error("the host's token source gave no usable token for {name:?}: {source}")]
    TokenSourceFailed {
        /// The connection name the source was asked for.
        name: String,
        /// The source's error.
        #[source]
        source: crate::auth::source::TokenSourceError,
    },

    /// The credentials work but reach no Jira site: the service account was given access
    /// to no Jira instance.
    #[error("the credentials reach no Jira site: give the service account access to a Jira instance in Atlassian Admin")]
    NoSites,

    /// The credentials reach several Jira sites: connect again naming one of them.
    #[error("the credentials reach {} Jira sites ({}); choose one", .sites.len(), site_names(.sites))]
    SiteChoiceRequired {
        /// The sites to choose from.
        sites: Vec<Site>,
    },

    /// The site asked for is not among those the credentials reach.
    #[error("no site matching {wanted:?} among: {}", site_names(.available))]
    UnknownSite {
        /// What the caller asked for.
        wanted: String,
        /// The sites the credentials reach.
        available: Vec<Site>,
    },

    /// The credentials work, but Atlassian lists only sites of other products for them
    /// (Confluence): the credential was granted no Jira scope.
    #[error("the credential has no Jira scopes: Atlassian lists no Jira site for it; grant read:jira-work, write:jira-work and read:jira-user to the service account's OAuth 2.0 credential in Atlassian Admin")]
    NoJiraScopes,

    /// The access token lacks a scope this call needs: Atlassian's gateway answered `401`
    /// "scope does not match". A new token would carry the same scopes, so none is
    /// fetched for it; grant the scope to the credential in Atlassian Admin.
    #[error("the credential lacks the {scope} scope, which {operation} needs (Atlassian answered 401 \"scope does not match\"): grant {scope} to the service account's OAuth 2.0 credential in Atlassian Admin")]
    MissingScope {
        /// What the crate was doing.
        operation: &'static str,
        /// The scope the call needs: `read:jira-work`, `write:jira-work` or
        /// `read:jira-user`.
        scope: &'static str,
    },

    /// The site named by its URL cannot be used: its host knows no such site, or the
    /// credentials do not reach it through Atlassian's gateway. Nothing was stored.
    #[error("the site {url} cannot be used: {reason}")]
    SiteUnreachable {
        /// The site's URL, as given.
        url: String,
        /// Why, for people.
        reason: String,
    },

    /// Not connected to Jira (never connected, or disconnected).
    #[error("not connected to Jira")]
    NotConnected,

    /// Connected, but no settings are saved for this site yet. Calls that need settings
    /// (the test notification, an override naming a project) answer it; a failure report
    /// answers [`Outcome::NotConfigured`](crate::Outcome::NotConfigured) instead.
    #[error("Jira settings are not saved yet: choose a project and save the settings")]
    NotConfigured,

    /// Jira lists no project: the credential most likely lacks the `read:jira-work`
    /// permission, or the service account has no access to any project.
    #[error("Jira lists no projects: the credential probably lacks the read:jira-work permission (or the service account cannot browse any project)")]
    NoProjectsVisible,

    /// Jira (or the auth host) answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),

    /// Jira asked this notifier to slow down (a 429) for longer than it waits in place
    /// ([`RetryPolicy::with_max_retry_after`](crate::RetryPolicy::with_max_retry_after)):
    /// nothing was sent; try again after `retry_after`.
    #[error("Jira asked to slow down: try again in {} s", .retry_after.as_secs().max(1))]
    Throttled {
        /// How long until Jira accepts requests again.
        retry_after: Duration,
    },

    /// A create for the test got no clear answer (a timeout, a reset, a 5xx, a success
    /// whose body could not be read), so it may have landed, and Jira's search has not
    /// shown it yet. Search can lag writes by minutes, so no second issue is made until a
    /// search made long enough after the create (`JiraNotifierBuilder::search_lag_bound`,
    /// default 2 minutes) finds nothing. Report the failure again after `retry_after`:
    /// the test's create claim stays held meanwhile, so other replicas wait too.
    #[error("a create for this test got no clear answer ({cause}) and Jira's search does not show it yet: it is not sent again until a search made long enough after it finds nothing (search can lag by minutes); report again in {} s", .retry_after.as_secs().max(1))]
    CreateUnconfirmed {
        /// What the create got instead of a clear answer.
        cause: String,
        /// How long until a search can rule the create out.
        retry_after: Duration,
    },

    /// No answer came back (connection refused, timeout, reset).
    // The cause is in the message, so it is not also returned by `source()`: a host that
    // prints the chain would print it twice.
    #[error("no answer from {operation}: {error}")]
    Transport {
        /// What the crate was doing.
        operation: &'static str,
        /// What the transport said.
        error: TransportError,
    },

    /// An answer came back that the crate cannot read (not JSON, missing members, an
    /// issue key that is not a key, a site URL that is not https).
    #[error("unexpected answer to {operation}: {detail}")]
    UnexpectedResponse {
        /// What the crate was doing.
        operation: &'static str,
        /// What was wrong (never the body itself, which may hold a token).
        detail: String,
    },

    /// The host's store failed. The store's error is the [`source`](std::error::Error::source).
    #[error("the store failed")]
    Store(#[source] StoreError),

    /// The settings (or an override) do not fit the project's create screen: every
    /// problem is listed, field by field, so that a settings screen can show each next to
    /// its field. Nothing was saved. See [`FieldProblem`].
    #[error("the settings do not fit the create screen of {project_key} ({issue_type}); nothing was saved: {}", problem_list(.problems))]
    FieldsRefused {
        /// The project whose screen was checked.
        project_key: String,
        /// The issue type whose screen was checked.
        issue_type: String,
        /// Every problem found.
        problems: Vec<FieldProblem>,
    },

    /// The service account lacks Jira permissions the settings need in a project
    /// (`BROWSE_PROJECTS`, `CREATE_ISSUES`; `ASSIGN_ISSUES` with a specific assignee;
    /// `ADD_COMMENTS` when Description is not on the create screen). Nothing was saved.
    #[error("the service account lacks the Jira permission {} in project {project_key}: grant it to the service account in the project's permission scheme (Project settings > Permissions); nothing was saved", permission_list(.permissions))]
    PermissionMissing {
        /// The project.
        project_key: String,
        /// The missing permissions' keys (`CREATE_ISSUES`, …).
        permissions: Vec<String>,
    },

    /// Jira refused to create the issue because of its fields (a 400 with field errors in
    /// `errors`): most likely the project's create screen changed since the settings were
    /// saved (a field became required, Labels left the screen, …). The failure did not
    /// reach Jira, and reporting it again fails the same way: save the settings again,
    /// which checks them against the screen and says what to fix. Remembered in the store:
    /// see [`JiraNotifier::health`](crate::JiraNotifier::health).
    #[error("Jira refused to create the issue in {project_key} ({issue_type}): {error}; the create screen probably changed since the settings were saved: save them again to see what to fix")]
    CreateRefused {
        /// The project.
        project_key: String,
        /// The issue type.
        issue_type: String,
        /// Jira's answer, with its field errors in [`ApiError::errors`].
        error: Box<ApiError>,
    },

    /// The issue was created and recorded, but the failure details, which go into its
    /// first comment when Description is not on the create screen, could not be added.
    /// Reporting the failure again finds the open issue and adds nothing.
    #[error("issue {} was created, but the failure details could not be added as its comment: {error}", .issue.key)]
    DetailsNotAdded {
        /// The issue that was created.
        issue: IssueRef,
        /// Why the comment failed.
        error: Box<Error>,
    },

    /// The issue's workflow offers no transition the lifecycle policy needs: none into a
    /// status of the Done category (to resolve on a pass), none out of it (to reopen), or
    /// none of the configured name. Nothing was changed; reporting again fails the same way
    /// until the workflow or the policy changes. Remembered in
    /// [`health`](crate::JiraNotifier::health).
    #[error("issue {} cannot be moved to {wanted}: its workflow offers {}", .issue.key, transition_list(.available))]
    TransitionMissing {
        /// The issue.
        issue: IssueRef,
        /// What was looked for: `a status in the Done category`, `a status outside the
        /// Done category`, or a transition's name.
        wanted: String,
        /// The transitions the issue offers now, by name.
        available: Vec<String>,
    },

    /// Jira refused to move the issue (to resolve or reopen it): a resolution the screen
    /// does not allow, a field the transition needs, a permission. Reporting again fails
    /// the same way until the workflow or the policy changes. Remembered in
    /// [`health`](crate::JiraNotifier::health).
    #[error("Jira refused to {action} issue {}: {error}", .issue.key)]
    TransitionRefused {
        /// The issue.
        issue: IssueRef,
        /// `resolve` or `reopen`.
        action: String,
        /// Jira's answer.
        error: Box<ApiError>,
    },

    /// The resolution the policy names is not one the resolving transition's screen allows.
    /// Nothing was changed. Remembered in [`health`](crate::JiraNotifier::health).
    #[error("issue {} cannot be resolved as {resolution:?}: the transition allows {}", .issue.key, transition_list(.allowed))]
    ResolutionNotAllowed {
        /// The issue.
        issue: IssueRef,
        /// The resolution the policy names.
        resolution: String,
        /// The resolutions the transition's screen allows.
        allowed: Vec<String>,
    },

    /// A comment of the issue's life (the repeat comment, the recovery comment, the
    /// comment on a reopened issue) could not be added. The report did not take effect:
    /// report it again ([`Error::is_retryable`] says when it is worth it) and the comment
    /// is sent then; its counts do not include this report twice.
    #[error("could not comment on issue {}: {error}", .issue.key)]
    CommentNotAdded {
        /// The issue.
        issue: IssueRef,
        /// Why the comment failed.
        error: Box<Error>,
    },

    /// The issue was created but the store could not remember it. The issue is not lost:
    /// its key is here. Reporting the same failure again is safe once the store works.
    /// The store's error is the [`source`](std::error::Error::source).
    #[error("issue {} was created but could not be recorded in the store", .issue.key)]
    RecordNotSaved {
        /// The issue that was created.
        issue: IssueRef,
        /// Why the store refused.
        #[source]
        error: StoreError,
    },
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

fn problem_list(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn transition_list(names: &[String]) -> String {
    if names.is_empty() {
        return "no transition".to_owned();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn permission_list(permissions: &[String]) -> String {
    permissions
        .iter()
        .map(|p| {
            let name = match p.as_str() {
                "BROWSE_PROJECTS" => "Browse Projects",
                "CREATE_ISSUES" => "Create Issues",
                "ASSIGN_ISSUES" => "Assign Issues",
                "ADD_COMMENTS" => "Add Comments",
                _ => return p.clone(),
            };
            format!("{p} ({name})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn refused_text(kind: CredentialKind, account: &str, status: u16) -> String {
    match kind {
        CredentialKind::ServiceAccountToken => format!(
            "the API token of service account {account} was refused ({status}): check the email and the token, that the token has not expired, and that it was made under Atlassian Administration → Service accounts (a person's token is connected as a personal API token)"
        ),
        CredentialKind::PersonalToken => format!(
            "the personal API token of {account} was refused ({status}): check the email and the token (id.atlassian.com → Security → API tokens), and that it has not expired or been revoked (a service account's token is connected as a service account API token)"
        ),
        CredentialKind::TokenSource => format!(
            "the host token source's token for {account} was refused ({status}), again after the source was asked for a new one: the app's grant may have been revoked"
        ),
        _ => format!(
            "the OAuth 2.0 client credentials {account} were refused ({status}): check the client id and secret"
        ),
    }
}

fn site_names(sites: &[Site]) -> String {
    sites
        .iter()
        .map(|s| format!("{} <{}>", s.name, s.url))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// Whether the same call may succeed if made again later (the host should queue it):
    /// throttling, server faults, network failures and an unavailable store.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport { .. } | Error::Throttled { .. } | Error::CreateUnconfirmed { .. } => {
                true
            }
            Error::Store(e) => e.kind() == StoreErrorKind::Unavailable,
            Error::RecordNotSaved { error, .. } => error.kind() == StoreErrorKind::Unavailable,
            Error::CommentNotAdded { error, .. } => error.is_retryable(),
            _ => false,
        }
    }

    /// How long Jira asked the caller to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            Error::Throttled { retry_after } | Error::CreateUnconfirmed { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The HTTP status, when the error is an answer from Jira or the auth host.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::CreateRefused { error, .. } => Some(error.status),
            Error::CredentialsRejected { status, .. } | Error::CredentialRefused { status, .. } => {
                Some(*status)
            }
            Error::MissingScope { .. } => Some(401),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn unexpected(operation: &'static str, detail: impl Into<String>) -> Self {
        Error::UnexpectedResponse {
            operation,
            detail: detail.into(),
        }
    }
}

/// An error answer from Jira or Atlassian, with Jira's `errorMessages` and `errors`
/// parsed out of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// What the crate was doing (`create issue`, `search`, ...).
    pub operation: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Jira's `errorMessages`, or the OAuth `error_description`, or a short description of
    /// a body that was not Jira's error JSON.
    pub error_messages: Vec<String>,
    /// Jira's `errors`: field name to message.
    pub errors: BTreeMap<String, String>,
    /// `Retry-After`, when the answer carried one.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Whether the same request may succeed later: 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        matches!(self.status, 408 | 429) || (500..600).contains(&self.status)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jira refused {} (HTTP {})", self.operation, self.status)?;
        let mut sep = ": ";
        for m in &self.error_messages {
            write!(f, "{sep}{m}")?;
            sep = "; ";
        }
        for (field, m) in &self.errors {
            write!(f, "{sep}{field}: {m}")?;
            sep = "; ";
        }
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {} s)", d.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
