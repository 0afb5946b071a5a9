//! Answers in the exact shapes and texts the real hosts use (see the recorded `.http` files).
//!
//! Error bodies are written member by member so that their key order matches the
//! recordings whatever serde_json's map features are.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::clock;
use jira_notifier::HttpResponse;

/// Jira's JSON content type.
pub(crate) const JIRA_JSON: &str = "application/json;charset=UTF-8";
/// Jira's content type for Spring "problem" answers (unknown paths, wrong methods).
const PROBLEM_JSON: &str = "application/problem+json;charset=UTF-8";
/// What the auth host and the gateway itself send.
const PLAIN_JSON: &str = "application/json";

pub(crate) const INVALID_PAYLOAD: &str =
    "Invalid request payload. Refer to the REST API documentation and try again.";
const JSON_PARSE_ERROR: &str =
    "There was an error parsing JSON. Check that your request body is valid.";

/// A JSON object with its members in the given order.
pub(crate) fn ordered(members: &[(&str, Value)]) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(*name).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out.into_bytes()
}

fn answer(status: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::new(status, body).with_header("content-type", content_type)
}

/// A Jira answer with a JSON body.
pub(crate) fn jira(status: u16, body: &Value) -> HttpResponse {
    answer(status, JIRA_JSON, body.to_string().into_bytes())
}

/// Jira's usual error collection: `{"errorMessages":[...],"errors":{}}`.
pub(crate) fn jira_errors(status: u16, messages: &[String]) -> HttpResponse {
    let messages = messages.iter().map(|m| Value::from(m.as_str())).collect();
    answer(
        status,
        JIRA_JSON,
        ordered(&[
            ("errorMessages", Value::Array(messages)),
            ("errors", Value::Object(Map::new())),
        ]),
    )
}

/// A single Jira error message with status 400.
pub(crate) fn bad_request(message: impl Into<String>) -> HttpResponse {
    jira_errors(400, &[message.into()])
}

/// Jira's per-field validation errors: `{"errorMessages":[],"errors":{...}}`.
pub(crate) fn field_errors(errors: Map<String, Value>) -> HttpResponse {
    answer(
        400,
        JIRA_JSON,
        ordered(&[
            ("errorMessages", Value::Array(Vec::new())),
            ("errors", Value::Object(errors)),
        ]),
    )
}

/// A body of the wrong shape; Jira's answer has no `errors` member here.
pub(crate) fn invalid_payload() -> HttpResponse {
    answer(
        400,
        JIRA_JSON,
        ordered(&[("errorMessages", Value::from(vec![INVALID_PAYLOAD]))]),
    )
}

/// A body that is not JSON at all.
pub(crate) fn json_parse_error() -> HttpResponse {
    answer(
        400,
        JIRA_JSON,
        ordered(&[("errorMessages", Value::from(vec![JSON_PARSE_ERROR]))]),
    )
}

pub(crate) fn issue_not_found() -> HttpResponse {
    jira_errors(
        404,
        &["Issue does not exist or you do not have permission to see it.".to_owned()],
    )
}

pub(crate) fn project_not_found(id_or_key: &str) -> HttpResponse {
    let what = if is_numeric(id_or_key) { "id" } else { "key" };
    jira_errors(
        404,
        &[format!(
            "No project could be found with {what} '{id_or_key}'."
        )],
    )
}

/// Spring's problem answer, as Jira gives for paths and methods it has no endpoint for.
pub(crate) fn problem(status: u16, title: &str, detail: &str, instance: &str) -> HttpResponse {
    answer(
        status,
        PROBLEM_JSON,
        ordered(&[
            ("type", Value::from("about:blank")),
            ("title", Value::from(title)),
            ("status", Value::from(status)),
            ("detail", Value::from(detail)),
            ("instance", Value::from(instance)),
        ]),
    )
}

/// The gateway's own 404 (unknown path, unknown cloud id): the path is the full one.
pub(crate) fn gateway_not_found(path: &str) -> HttpResponse {
    answer(
        404,
        PLAIN_JSON,
        ordered(&[
            (
                "timestamp",
                Value::from(clock::gateway_timestamp(SystemTime::now())),
            ),
            ("status", Value::from(404)),
            ("error", Value::from("Not Found")),
            ("message", Value::from("No message available")),
            ("path", Value::from(path)),
        ]),
    )
}

/// What the gateway says to a missing, unknown or expired bearer token.
pub(crate) fn unauthorized() -> HttpResponse {
    gateway_401("Unauthorized")
}

/// What the gateway says to a valid token that lacks the scope the endpoint needs
/// (Atlassian Community threads quote it for tokens missing a scope; issue 9).
pub(crate) fn scope_mismatch() -> HttpResponse {
    gateway_401("Unauthorized; scope does not match")
}

fn gateway_401(message: &str) -> HttpResponse {
    answer(
        401,
        PLAIN_JSON,
        ordered(&[
            ("code", Value::from(401)),
            ("message", Value::from(message)),
        ]),
    )
    .with_header("www-authenticate", "Bearer realm=\"api.atlassian.com\"")
}

/// An OAuth error from the auth host.
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    answer(
        status,
        PLAIN_JSON,
        ordered(&[
            ("error", Value::from(error)),
            ("error_description", Value::from(description)),
        ]),
    )
}

/// A successful answer from the auth host or the gateway's own routes.
pub(crate) fn plain_json(status: u16, body: &Value) -> HttpResponse {
    answer(status, PLAIN_JSON, body.to_string().into_bytes())
}

pub(crate) fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
