//! What each fuzz target does with its input. Shared by the cargo-fuzz targets in
//! `fuzz_targets/` and by the main crate's `tests/fuzz_corpus.rs`, which runs the
//! checked-in corpus and a seeded random loop through these same functions under plain
//! `cargo test`.
//!
//! Each function hands the bytes to one of the crate's readers as the crate does, then
//! does what the crate does next with what was read (cache the token, check ids and keys,
//! hold requests back for a `Retry-After`). It returns whether the reader accepted the
//! input, and panics only when an invariant breaks: a reader must turn any bytes into a
//! value or a typed error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jira_notifier::__private_fuzz as fz;
use jira_notifier::{Error, IssueType, Project, User};

/// A fuzz target: it takes any bytes and says whether the reader accepted them.
pub type Target = fn(&[u8]) -> bool;

/// Every target, by the name of its corpus folder (and of its cargo-fuzz binary).
pub const TARGETS: &[(&str, Target)] = &[
    ("token", token),
    ("sites", sites),
    ("search", search),
    ("create", create),
    ("projects", projects),
    ("issue_types", issue_types),
    ("users", users),
    ("api_error", api_error),
    ("retry_after", retry_after),
];

/// A fixed "now" (2023-11-14T22:13:20Z), so that a run depends on its input alone.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A refused answer must be the crate's typed error, and short.
fn check_refusal(e: &Error) {
    assert!(
        matches!(e, Error::UnexpectedResponse { .. }),
        "not an UnexpectedResponse: {e:?}"
    );
    let shown = e.to_string();
    assert!(shown.len() < 400, "a long error: {shown}");
}

/// An error about a token answer must not show the token. Checked for token-like values
/// (16 or more letters, digits, `.`, `_`, `-`, with a letter and a digit), which the
/// error's own wording cannot contain.
fn check_token_not_shown(e: &Error, body: &[u8]) {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(body) else {
        return;
    };
    let Some(token) = m.get("access_token").and_then(|t| t.as_str()) else {
        return;
    };
    let token_like = token.len() >= 16
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && token.bytes().any(|b| b.is_ascii_alphabetic())
        && token.bytes().any(|b| b.is_ascii_digit());
    if token_like {
        assert!(!e.to_string().contains(token), "the error shows the token");
    }
}

/// A key and id that passed the crate's checks are safe to put in a path and a link.
fn check_checked_issue(id: &str, id_num: u64, key: &str) {
    assert_eq!(id.parse::<u64>().ok(), Some(id_num), "id {id:?}");
    assert!(key.len() <= 64 && key.is_ascii(), "key {key:?}");
    let url = fz::jira_url("https://api.atlassian.com", "cloud", &["issue", key])
        .expect("the default gateway is a valid base");
    assert!(url.path().ends_with(&format!("/issue/{key}")), "{url}");
}

/// `POST /oauth/token`: read the token; a non-empty one goes into the token cache for its
/// stated lifetime, as the client does.
pub fn token(data: &[u8]) -> bool {
    match fz::token(data) {
        Ok(t) => {
            if t.token_len > 0 {
                assert!(
                    fz::keep_token(t.lifetime),
                    "the cache did not give the token back"
                );
            }
            true
        }
        Err(e) => {
            check_refusal(&e);
            check_token_not_shown(&e, data);
            false
        }
    }
}

/// `GET /oauth/token/accessible-resources`, through `sites_from`.
pub fn sites(data: &[u8]) -> bool {
    match fz::sites(data) {
        Ok(sites) => {
            for s in &sites {
                assert!(
                    !s.cloud_id.is_empty()
                        && s.cloud_id.len() <= 64
                        && s.cloud_id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "cloud id {:?}",
                    s.cloud_id
                );
                assert!(s.url.starts_with("https://"), "site URL {:?}", s.url);
                assert!(!s.url.ends_with('/'), "site URL {:?}", s.url);
                let once = sites.iter().filter(|o| o.cloud_id == s.cloud_id).count() == 1;
                assert!(once, "cloud id {:?} listed twice", s.cloud_id);
                let link = s.browse_url("QA-1");
                assert!(link.starts_with(&s.url) && link.ends_with("/browse/QA-1"));
                let url = fz::jira_url("https://api.atlassian.com", &s.cloud_id, &["myself"])
                    .expect("the default gateway is a valid base");
                assert!(url.path().contains(&format!("/ex/jira/{}/", s.cloud_id)));
            }
            true
        }
        // A list of other products' sites only: the credential has no Jira scope.
        Err(Error::NoJiraScopes) => false,
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// `POST /rest/api/3/search/jql`: read the issues, then check each open one's key and id
/// as the duplicate check does before using them.
pub fn search(data: &[u8]) -> bool {
    match fz::search(data) {
        Ok(hits) => {
            for hit in hits.iter().filter(|h| !h.done) {
                let Some(key) = &hit.key else { continue };
                if fz::checked_issue_key(key).is_err() {
                    continue;
                }
                if let Ok(id) = fz::checked_issue_id(&hit.id) {
                    check_checked_issue(&hit.id, id, key);
                }
            }
            true
        }
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// `POST /rest/api/3/issue`: read the created issue, its key and id checked.
pub fn create(data: &[u8]) -> bool {
    match fz::created(data) {
        Ok((id, key)) => {
            check_checked_issue(&id.to_string(), id, &key);
            true
        }
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// `GET /rest/api/3/project/search`. What is read goes back out to hosts as
/// `Project`s, which must survive a JSON round trip.
pub fn projects(data: &[u8]) -> bool {
    match fz::project_page(data) {
        Ok(page) => {
            let again: Vec<Project> =
                serde_json::from_str(&serde_json::to_string(&page.values).unwrap()).unwrap();
            assert_eq!(again, page.values);
            true
        }
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes`.
pub fn issue_types(data: &[u8]) -> bool {
    match fz::issue_type_page(data) {
        Ok((types, _total)) => {
            let again: Vec<IssueType> =
                serde_json::from_str(&serde_json::to_string(&types).unwrap()).unwrap();
            assert_eq!(again, types);
            true
        }
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// `GET /rest/api/3/user/assignable/search`.
pub fn users(data: &[u8]) -> bool {
    match fz::users(data) {
        Ok(users) => {
            let again: Vec<User> =
                serde_json::from_str(&serde_json::to_string(&users).unwrap()).unwrap();
            assert_eq!(again, users);
            true
        }
        Err(e) => {
            check_refusal(&e);
            false
        }
    }
}

/// An error answer. The input is `STATUS[ RETRY-AFTER]\nBODY`: the first line's leading
/// digits are the status (wrapping into a `u16`; none means 500), the rest of that line
/// after a space is the `Retry-After` header; without a line break the whole input is the
/// body of a 500. Accepted means the body was read as one of the known error bodies.
pub fn api_error(data: &[u8]) -> bool {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let digits = head.iter().take_while(|b| b.is_ascii_digit()).count();
    let status = if digits == 0 {
        500
    } else {
        head[..digits].iter().fold(0u16, |n, d| {
            n.wrapping_mul(10).wrapping_add(u16::from(d - b'0'))
        })
    };
    let retry_after = head[digits..]
        .strip_prefix(b" ")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(v) = &retry_after {
        headers.push(("Retry-After", v.as_str()));
    }

    let e = fz::api_error(status, &headers, body);
    assert_eq!(e.status, status);
    let shown = e.to_string();
    assert!(shown.starts_with("Jira refused "), "{shown}");
    for m in e.error_messages.iter().chain(e.errors.values()) {
        assert!(fz::jira_len(m) <= 1_000, "an unbounded message");
    }
    if let Some(v) = &retry_after {
        let v = v.trim();
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            let secs = v.parse::<u64>().unwrap_or(u64::MAX);
            assert_eq!(e.retry_after, Some(Duration::from_secs(secs)));
        }
    }
    // A 429 holds every request of the notifier back for its Retry-After.
    if let Some(d) = e.retry_after {
        fz::hold_back(d);
    }
    !e.error_messages
        .iter()
        .any(|m| m.starts_with("a non-JSON answer"))
}

/// A `Retry-After` value (the input, as text), read at a fixed time; what it asks for is
/// then waited out by the request gate.
pub fn retry_after(data: &[u8]) -> bool {
    let value = String::from_utf8_lossy(data);
    let got = fz::parse_retry_after(&value, now());
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        assert_eq!(got, Some(Duration::from_secs(secs)));
    }
    if let Some(d) = got {
        fz::hold_back(d);
    }
    got.is_some()
}
