//! Thin wrappers over the crate's internal parsers and builders, for the fuzz targets in
//! `fuzz/` and the property and corpus tests in `tests/`.
//!
//! Hidden, behind the `fuzzing` feature, and not a public API: anything here may change
//! or go away in any release. Each wrapper calls the crate's own code the way the crate
//! calls it, and adds no logic of its own beyond building the inputs.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::auth::sites::sites_from;
use crate::auth::token::TokenCache;
use crate::catalog::{IssueType, Project, User};
use crate::connection::{Credentials, Site};
use crate::endpoints::{Endpoints, DEFAULT_AUTH_URL};
use crate::error::{ApiError, Result};
use crate::issue::{adf, jql, labels, text};
use crate::jira::answers;
use crate::jira::models::{
    self as wire, AccessibleResource, CreatedIssue, IssueTypePage, ProjectPage, SearchAnswer,
    TokenAnswer,
};
use crate::throttle::{Gate, Scope};
use crate::transport::HttpResponse;

/// The longest label Jira accepts, in UTF-16 units.
pub const MAX_LABEL_LEN: usize = labels::MAX_LABEL_LEN;
/// The longest label prefix the crate accepts, in UTF-16 units.
pub const MAX_PREFIX_LEN: usize = labels::MAX_PREFIX_LEN;
/// The longest summary Jira accepts, in UTF-16 units.
pub const MAX_SUMMARY_LEN: usize = crate::issue::MAX_SUMMARY_LEN;
/// The most text a description may hold, in UTF-16 units.
pub const MAX_DESCRIPTION_LEN: usize = adf::MAX_DESCRIPTION_LEN;

/// The operation name the wrappers put in errors.
const OPERATION: &str = "fuzzed answer";

// ---------------------------------------------------------------------------------------
// Builders: what the crate sends.

/// The label that marks a test's issues.
pub fn test_label(prefix: &str, test_id: &str) -> String {
    labels::test_label(prefix, test_id)
}

/// The label of the test notification.
pub fn notification_label(prefix: &str) -> String {
    labels::notification_label(prefix)
}

/// The check on a label a host configured.
pub fn check_label(label: &str) -> Result<()> {
    labels::check_label("labels", label)
}

/// The check on a label prefix.
pub fn check_prefix(prefix: &str) -> Result<()> {
    labels::check_prefix(prefix)
}

/// A JQL string literal.
pub fn jql_quote(value: &str) -> String {
    jql::quote(value)
}

/// The duplicate check's query for a label.
pub fn open_issues_with_label(label: &str) -> String {
    jql::open_issues_with_label(label)
}

/// A length as Jira counts it (UTF-16 units).
pub fn jira_len(s: &str) -> usize {
    text::jira_len(s)
}

/// The longest prefix of `s` whose Jira length is at most `max`.
pub fn cut(s: &str, max: usize) -> &str {
    text::cut(s, max)
}

/// An issue summary.
pub fn summary(test_name: &str, fallback: &str) -> String {
    crate::issue::summary(test_name, fallback, None)
}

/// A failure's description, in Atlassian Document Format.
pub fn failure_description(test_name: &str, test_url: &str, message: &str) -> Value {
    adf::failure_doc(test_name, test_url, message).to_value()
}

/// A failure's description with the test's environment and the run's evidence, as the
/// notifier files it, in Atlassian Document Format.
pub fn failure_description_with(
    test_name: &str,
    test_url: &str,
    environment: Option<&str>,
    message: &str,
    evidence: &crate::Evidence,
) -> Value {
    let mut test = crate::TestInfo::new("fuzzed", test_name, test_url);
    if let Some(env) = environment {
        test = test.with_environment(env);
    }
    adf::failure_doc_with(&test, message, evidence, adf::DESCRIPTION_BUDGET).to_value()
}

/// `{api}/ex/jira/{cloud_id}/rest/api/3/{segments…}` on the gateway base `api`.
pub fn jira_url(api: &str, cloud_id: &str, segments: &[&str]) -> Result<Url> {
    Ok(Endpoints::new(DEFAULT_AUTH_URL, api)?.jira(cloud_id, segments))
}

// ---------------------------------------------------------------------------------------
// Parsers: what the crate reads. Each takes a body as it would come off the wire.

fn ok_answer(body: &[u8]) -> HttpResponse {
    HttpResponse::json(200, body)
}

/// What the crate reads from a token answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The access token's length in bytes (the token itself is not shown).
    pub token_len: usize,
    /// How long the token lives.
    pub lifetime: Duration,
}

/// Reads a token answer (`POST /oauth/token`, 2xx).
pub fn token(body: &[u8]) -> Result<TokenInfo> {
    let answer: TokenAnswer = answers::parse(OPERATION, &ok_answer(body))?;
    Ok(TokenInfo {
        token_len: answer.access_token.expose_secret().len(),
        lifetime: Duration::from_secs(answer.expires_in),
    })
}

/// Puts a token of the given lifetime in a fresh token cache, as the client does with
/// each token it fetches, and reads it back.
pub fn keep_token(lifetime: Duration) -> bool {
    let cache = TokenCache::default();
    let creds = Credentials::new("fuzz", SecretString::from("fuzz"));
    let got = poll_ready(cache.get(&creds, |_| async move {
        Ok((SecretString::from("token"), lifetime))
    }));
    matches!(got, Some(Ok(t)) if t.expose_secret() == "token")
}

/// Reads an accessible-resources answer and turns it into sites.
pub fn sites(body: &[u8]) -> Result<Vec<Site>> {
    let resources: Vec<AccessibleResource> = answers::parse(OPERATION, &ok_answer(body))?;
    sites_from(resources)
}

/// One issue of a search answer, as the duplicate check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The id, unchecked.
    pub id: String,
    /// The key (top level, or in `fields`), unchecked.
    pub key: Option<String>,
    /// Whether Jira says the issue is done.
    pub done: bool,
    /// The labels, when the answer shows them.
    pub labels: Option<Vec<String>>,
}

/// Reads a search answer (`POST /rest/api/3/search/jql`).
pub fn search(body: &[u8]) -> Result<Vec<SearchHit>> {
    let answer: SearchAnswer = answers::parse(OPERATION, &ok_answer(body))?;
    Ok(answer
        .issues
        .into_iter()
        .map(|i| SearchHit {
            id: i.id.clone(),
            key: i.key().map(str::to_owned),
            done: i.is_done(),
            labels: i.fields.labels.clone(),
        })
        .collect())
}

/// Reads a create answer (`POST /rest/api/3/issue`, 201) and checks its key and id, as
/// the crate does before using them.
pub fn created(body: &[u8]) -> Result<(u64, String)> {
    let created: CreatedIssue = answers::parse(OPERATION, &ok_answer(body))?;
    answers::checked_issue_key(OPERATION, &created.key)?;
    let id = answers::checked_issue_id(OPERATION, &created.id)?;
    Ok((id, created.key))
}

/// What the crate reads from a page of the project list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPageInfo {
    /// The projects.
    pub values: Vec<Project>,
    /// `isLast`.
    pub is_last: Option<bool>,
    /// `total`.
    pub total: Option<u64>,
}

/// Reads a page of `GET /rest/api/3/project/search`.
pub fn project_page(body: &[u8]) -> Result<ProjectPageInfo> {
    let page: ProjectPage = answers::parse(OPERATION, &ok_answer(body))?;
    Ok(ProjectPageInfo {
        values: page.values.into_iter().map(Project::from).collect(),
        is_last: page.is_last,
        total: page.total,
    })
}

/// Reads a page of `GET /rest/api/3/issue/createmeta/{project}/issuetypes`: the types and
/// `total`.
pub fn issue_type_page(body: &[u8]) -> Result<(Vec<IssueType>, Option<u64>)> {
    let page: IssueTypePage = answers::parse(OPERATION, &ok_answer(body))?;
    let types = page.issue_types.into_iter().map(IssueType::from).collect();
    Ok((types, page.total))
}

/// Reads a page of `GET /rest/api/3/user/assignable/search`.
pub fn users(body: &[u8]) -> Result<Vec<User>> {
    let users: Vec<wire::User> = answers::parse(OPERATION, &ok_answer(body))?;
    Ok(users.into_iter().map(User::from).collect())
}

/// Reads an error answer of any status, with the given headers (names any case).
pub fn api_error(status: u16, headers: &[(&str, &str)], body: &[u8]) -> ApiError {
    let resp = HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
    };
    answers::api_error(OPERATION, &resp)
}

/// The check on an issue id from Jira.
pub fn checked_issue_id(id: &str) -> Result<u64> {
    answers::checked_issue_id(OPERATION, id)
}

/// The check on an issue key from Jira.
pub fn checked_issue_key(key: &str) -> Result<()> {
    answers::checked_issue_key(OPERATION, key)
}

/// Reads an `X-RateLimit-Reset` value (ISO 8601).
pub fn parse_rate_limit_reset(value: &str) -> Option<SystemTime> {
    crate::throttle::parse_reset(value)
}

/// Reads a `Retry-After` value at `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    crate::retry::parse_retry_after(value, now)
}

/// Holds a fresh request gate back for `delay`, as the client does on a 429 with the
/// answer's `Retry-After`.
pub fn hold_back(delay: Duration) {
    Gate::new(1).hold(&Scope::Site("fuzz".to_owned()), delay);
}

/// Polls a future that never waits once; `None` if it did wait.
fn poll_ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod properties;
