//! Reading answers: typed bodies, Jira's error bodies, and checks on values from the
//! server before they go into a URL.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::models::ErrorBody;
use crate::error::{ApiError, Error, Result};
use crate::retry::parse_retry_after;
use crate::throttle::Limits;
use crate::transport::HttpResponse;

/// Parses a 2xx body. The error never quotes the body: it may hold a token.
pub(crate) fn parse<T: DeserializeOwned>(
    operation: &'static str,
    resp: &HttpResponse,
) -> Result<T> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        Error::unexpected(
            operation,
            format!(
                "the body is not the expected JSON ({:?} error at line {}, column {}; {} bytes, content-type {:?})",
                e.classify(),
                e.line(),
                e.column(),
                resp.body.len(),
                resp.header("content-type").unwrap_or("none"),
            ),
        )
    })
}

/// How long an answer asks to wait: its `Retry-After`, if it has a readable one; for a
/// 429 without one, until its `X-RateLimit-Reset` ("Rate limiting": 429 answers "may be
/// accompanied by Retry-After and X-RateLimit-Reset headers").
pub(crate) fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    let now = SystemTime::now();
    resp.header("retry-after")
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| {
            (resp.status == 429)
                .then(|| Limits::of(resp).reset_after(now))
                .flatten()
        })
}

/// An error answer, with whatever message its body carries.
pub(crate) fn api_error(operation: &'static str, resp: &HttpResponse) -> ApiError {
    let mut err = ApiError {
        operation,
        status: resp.status,
        error_messages: Vec::new(),
        errors: Default::default(),
        retry_after: retry_after(resp),
    };
    match serde_json::from_slice::<ErrorBody>(&resp.body) {
        Ok(body) => {
            err.error_messages = body.error_messages.iter().map(text).collect();
            if let Some(errors) = &body.errors {
                err.errors = errors.iter().map(|(k, v)| (k.clone(), text(v))).collect();
            }
            if let Some(code) = &body.error {
                if body.error_description.is_some() {
                    // OAuth: the code goes in `errors`, the description in the messages.
                    err.errors.insert("error".into(), text(code));
                }
            }
            for extra in [&body.error_description, &body.message, &body.detail]
                .into_iter()
                .flatten()
            {
                err.error_messages.push(text(extra));
            }
            if err.error_messages.is_empty() && err.errors.is_empty() {
                if let Some(code) = &body.error {
                    err.error_messages.push(text(code));
                }
            }
        }
        Err(_) => err.error_messages.push(describe_unreadable(resp)),
    }
    err
}

fn text(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A misbehaving server cannot make an error message unbounded.
    crate::issue::text::cut(&s, 1_000).to_owned()
}

fn describe_unreadable(resp: &HttpResponse) -> String {
    let ctype = resp.header("content-type").unwrap_or("no content-type");
    let body = String::from_utf8_lossy(&resp.body);
    let title = body
        .find("<title>")
        .and_then(|start| {
            let rest = &body[start + 7..];
            rest.find("</title>")
                .map(|end| rest[..end].trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    let described = match title {
        Some(t) => format!(
            "a non-JSON answer ({ctype}, {} bytes) titled \"{}\"",
            resp.body.len(),
            crate::issue::text::cut(&t, 200)
        ),
        None => format!("a non-JSON answer ({ctype}, {} bytes)", resp.body.len()),
    };
    // Header values and titles are the server's: keep the message one bounded line.
    crate::issue::text::cut(&crate::issue::text::single_line(&described), 1_000).to_owned()
}

/// An issue id from Jira: digits only, before it is used in a request.
pub(crate) fn checked_issue_id(operation: &'static str, id: &str) -> Result<u64> {
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::unexpected(
            operation,
            "an issue id that is not a number",
        ));
    }
    id.parse()
        .map_err(|_| Error::unexpected(operation, "an issue id out of range"))
}

/// An issue key from Jira (`PROJ-123`), before it goes into a link or a path.
pub(crate) fn checked_issue_key(operation: &'static str, key: &str) -> Result<()> {
    let ok = key.len() <= 64
        && key.split_once('-').is_some_and(|(project, number)| {
            project.starts_with(|c: char| c.is_ascii_uppercase())
                && project
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::unexpected(
            operation,
            "an issue key that is not of the form KEY-123",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::json(status, body)
    }

    #[test]
    fn reads_jira_errors() {
        let e = api_error(
            "create issue",
            &resp(
                400,
                r#"{"errorMessages":[],"errors":{"project":"Specify a valid project ID or key"}}"#,
            ),
        );
        assert_eq!(e.status, 400);
        assert_eq!(e.errors["project"], "Specify a valid project ID or key");
        assert_eq!(
            e.to_string(),
            "Jira refused create issue (HTTP 400): project: Specify a valid project ID or key"
        );
    }

    #[test]
    fn reads_oauth_errors() {
        let e = api_error(
            "token request",
            &resp(
                401,
                r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
            ),
        );
        assert_eq!(e.errors["error"], "access_denied");
        assert_eq!(e.error_messages, ["Unauthorized"]);
    }

    #[test]
    fn reads_gateway_and_problem_errors() {
        let e = api_error(
            "search",
            &resp(
                404,
                r#"{"status":404,"error":"Not Found","message":"No message available"}"#,
            ),
        );
        assert_eq!(e.error_messages, ["No message available"]);
        let e = api_error(
            "search",
            &resp(
                404,
                r#"{"type":"about:blank","title":"Not Found","detail":"No endpoint GET /x."}"#,
            ),
        );
        assert_eq!(e.error_messages, ["No endpoint GET /x."]);
    }

    #[test]
    fn html_titles_full_of_control_characters_stay_one_bounded_line() {
        // Found by the api_error fuzz target: `{:?}` escaped each control character into
        // six, past the 1,000-character bound on messages.
        let title = "\u{15}".repeat(300);
        let mut r = resp(
            503,
            &format!("<html><head><title>{title}</title></head></html>"),
        );
        r.headers = vec![("content-type".into(), "text/html\u{7}".into())];
        let e = api_error("search", &r);
        let m = &e.error_messages[0];
        assert!(
            m.chars().count() <= 1_000,
            "{} characters",
            m.chars().count()
        );
        assert!(!m.chars().any(char::is_control), "{m:?}");
    }

    #[test]
    fn describes_html_pages() {
        let mut r = resp(
            503,
            "<html><head><title>Page Unavailable</title></head></html>",
        );
        r.headers = vec![("content-type".into(), "text/html".into())];
        let e = api_error("search", &r);
        assert!(
            e.error_messages[0].contains("Page Unavailable"),
            "{:?}",
            e.error_messages
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn retry_after_is_read() {
        let r = resp(429, "{}").with_header("Retry-After", "3");
        assert_eq!(api_error("x", &r).retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_429_without_retry_after_waits_for_the_reset() {
        let r = resp(429, "{}").with_header("X-RateLimit-Reset", "2999-01-01T00:00Z");
        let d = api_error("x", &r).retry_after.unwrap();
        assert!(d > Duration::from_secs(86_400 * 365), "{d:?}");
        let past = resp(429, "{}").with_header("X-RateLimit-Reset", "2000-01-01T00:00Z");
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        // Only a 429's reset is a wait: on other answers it is the window's end.
        let ok = resp(200, "{}").with_header("X-RateLimit-Reset", "2999-01-01T00:00Z");
        assert_eq!(retry_after(&ok), None);
    }

    #[test]
    fn parse_errors_do_not_quote_the_body() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        let e = parse::<T>("token request", &resp(200, r#"{"n":"SECRET-TOKEN"}"#)).unwrap_err();
        assert!(!e.to_string().contains("SECRET-TOKEN"), "{e}");
    }

    #[test]
    fn server_ids_and_keys_are_checked() {
        assert_eq!(checked_issue_id("x", "10001").unwrap(), 10001);
        assert!(checked_issue_id("x", "../1").is_err());
        assert!(checked_issue_id("x", "").is_err());
        assert!(checked_issue_id("x", "99999999999999999999").is_err());
        assert!(checked_issue_key("x", "QA-12").is_ok());
        assert!(checked_issue_key("x", "A_B2-1").is_ok());
        assert!(checked_issue_key("x", "QA-12/../x").is_err());
        assert!(checked_issue_key("x", "qa-1").is_err());
        assert!(checked_issue_key("x", "QA-").is_err());
        assert!(checked_issue_key("x", "-1").is_err());
    }
}
