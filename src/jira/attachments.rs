//! Adding attachments to an issue: `POST /rest/api/3/issue/{issueIdOrKey}/attachments`
//! (operation `addAttachment` of the v3 spec), `multipart/form-data` with the files in
//! parts named `file`, and the header `X-Atlassian-Token: no-check` without which Jira's
//! XSRF filter answers `403 XSRF check failed`.
//!
//! One request per file, although Jira takes several `file` parts in one: its answer to a
//! request is all or nothing (a `413` for one file over the site's limit, or a `5xx`,
//! loses every file of it), and a lost answer would leave every file of it unknown. One
//! file per request keeps each outcome its own and holds one file in memory at a time.
//!
//! File names go in `filename="…"` as UTF-8, as browsers send them: RFC 7578 §4.2 rules
//! out the RFC 5987 `filename*` form for `multipart/form-data`, and Jira has been reported
//! to fail on it (pycontribs/jira#223). Quotes, backslashes, slashes and control characters
//! (CR and LF among them) become `_`, so a name can never break out of its header.

use std::sync::Arc;

use serde_json::Value;

use super::answers::parse;
use super::client::JiraClient;
use super::models::StoredAttachment;
use super::requests::{ApiRequest, Replay};
use crate::attachment::{
    Attachment, AttachmentLimits, FailedAttachment, Read, SkipReason, SkippedAttachment,
    UploadReport, UploadedAttachment,
};
use crate::connection::Connection;
use crate::endpoints::Endpoints;
use crate::error::{Error, Result};
use crate::transport::Method;

/// The operation name of an upload, in its errors.
pub(crate) const ADD_ATTACHMENT: &str = "add attachment";

/// What a file whose media type cannot go in a header is sent as.
const FALLBACK_MEDIA_TYPE: &str = "application/octet-stream";
/// What a file whose name is empty once cleaned is called.
const FALLBACK_NAME: &str = "attachment";
/// The longest file name sent, in bytes.
const MAX_NAME_BYTES: usize = 255;
/// How many boundaries are drawn before giving up (each has 190 random bits: a second
/// draw is already never needed in practice).
const BOUNDARY_DRAWS: usize = 8;

/// A `multipart/form-data` body and its `Content-Type` (which carries the boundary).
#[derive(Debug)]
pub(crate) struct Multipart {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// A random boundary: RFC 2046 allows up to 70 characters of `bchars`.
fn random_boundary() -> String {
    let random: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
    format!("jira-notifier-{random}")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack.windows(needle.len()).any(|w| w == needle)
}

/// One `file` part with `content`, its boundary drawn from `draw` until one appears
/// neither in the content nor in the name; `None` if none of [`BOUNDARY_DRAWS`] does.
fn multipart_with(
    filename: &str,
    media_type: &str,
    content: &[u8],
    mut draw: impl FnMut() -> String,
) -> Option<Multipart> {
    let boundary = (0..BOUNDARY_DRAWS).map(|_| draw()).find(|b| {
        !contains(content, b.as_bytes()) && !contains(filename.as_bytes(), b.as_bytes())
    })?;
    let mut body = Vec::with_capacity(content.len() + filename.len() + media_type.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: {media_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(Multipart {
        body,
        content_type: format!("multipart/form-data; boundary={boundary}"),
    })
}

/// One `file` part with `content`, under a random boundary checked against it.
pub(crate) fn multipart(filename: &str, media_type: &str, content: &[u8]) -> Option<Multipart> {
    multipart_with(filename, media_type, content, random_boundary)
}

/// A name that fits in `filename="…"`: quotes, backslashes, slashes and control
/// characters become `_`, blanks around it go, non-ASCII stays; at most 255 bytes, the
/// extension kept; `attachment` if nothing is left.
pub(crate) fn clean_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '\\' | '/') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return FALLBACK_NAME.to_owned();
    }
    if cleaned.len() <= MAX_NAME_BYTES {
        return cleaned.to_owned();
    }
    let ext = cleaned
        .rfind('.')
        .map(|i| &cleaned[i..])
        .filter(|e| e.len() <= 16 && e.len() < cleaned.len());
    let ext = ext.unwrap_or("");
    let stem = &cleaned[..cleaned.len() - ext.len()];
    let mut end = MAX_NAME_BYTES - ext.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The media type if it is `type/subtype` (with parameters, if any) in printable ASCII;
/// `application/octet-stream` otherwise.
pub(crate) fn clean_media_type(media_type: &str) -> String {
    let m = media_type.trim();
    let printable = m.bytes().all(|b| (0x20..0x7f).contains(&b));
    let essence = m.split(';').next().unwrap_or_default().trim();
    let shaped = essence
        .split_once('/')
        .is_some_and(|(t, s)| is_token(t) && is_token(s));
    if printable && shaped {
        m.to_owned()
    } else {
        FALLBACK_MEDIA_TYPE.to_owned()
    }
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/attachments` with a multipart body. Sent again
/// only when it certainly did not arrive, like a create: an attachment sent twice is
/// stored twice.
pub(crate) fn add_attachment(e: &Endpoints, cloud: &str, issue: &str, body: Vec<u8>) -> ApiRequest {
    ApiRequest {
        operation: ADD_ATTACHMENT,
        method: Method::Post,
        url: e.jira(cloud, &["issue", issue, "attachments"]),
        body: Some(body),
        replay: Replay::OnlyIfNotReceived,
    }
}

/// The headers an upload carries besides `Accept` and `Authorization`.
pub(crate) fn upload_headers(content_type: String) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", content_type),
        ("x-atlassian-token", "no-check".to_owned()),
    ]
}

/// The one attachment an upload of one file answers, its id checked.
fn stored(answer: Vec<StoredAttachment>) -> Result<(String, StoredAttachment)> {
    let count = answer.len();
    let Ok([one]) = <[StoredAttachment; 1]>::try_from(answer) else {
        return Err(Error::unexpected(
            ADD_ATTACHMENT,
            format!("{count} attachments in the answer to one file"),
        ));
    };
    let id = match &one.id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::unexpected(
            ADD_ATTACHMENT,
            "an attachment id that is not a number",
        ));
    }
    Ok((id, one))
}

impl JiraClient {
    /// Uploads `files` to an issue, one request per file, in order, within `limits`.
    /// Never fails as a whole: each file ends up uploaded, skipped or failed in the report.
    pub(crate) async fn add_attachments(
        &self,
        conn: &Connection,
        issue: &str,
        files: Vec<Attachment>,
        limits: &AttachmentLimits,
    ) -> UploadReport {
        let mut report = UploadReport::default();
        let mut remaining = limits.per_failure;
        for file in files {
            let name = file.name().to_owned();
            let filename = clean_filename(&name);
            let media_type = clean_media_type(file.media_type());
            let content: Arc<[u8]> = match file.read_capped(limits.per_file.min(remaining)).await {
                Read::Done(content) => content,
                Read::Over { at_least } => {
                    let reason = if at_least > limits.per_file {
                        SkipReason::TooLarge {
                            size_at_least: at_least,
                            limit: limits.per_file,
                        }
                    } else {
                        SkipReason::OverFailureBudget {
                            size_at_least: at_least,
                            remaining,
                        }
                    };
                    report.skipped.push(SkippedAttachment { name, reason });
                    continue;
                }
                Read::Failed(message) => {
                    report.skipped.push(SkippedAttachment {
                        name,
                        reason: SkipReason::Unreadable { message },
                    });
                    continue;
                }
            };
            // What is sent counts against the budget, stored or not.
            remaining -= content.len() as u64;
            let Some(part) = multipart(&filename, &media_type, &content) else {
                report.failed.push(FailedAttachment {
                    name,
                    error: Error::unexpected(ADD_ATTACHMENT, "no multipart boundary fits"),
                });
                continue;
            };
            drop(content);
            let req = add_attachment(&self.endpoints, &conn.site.cloud_id, issue, part.body);
            let headers = upload_headers(part.content_type);
            let answer = match self.call_with(conn, &req, &headers).await {
                Ok(resp) => parse::<Vec<StoredAttachment>>(ADD_ATTACHMENT, &resp).and_then(stored),
                Err(e) => Err(e),
            };
            match answer {
                Ok((id, one)) => report.uploaded.push(UploadedAttachment {
                    name,
                    filename: one.filename,
                    id,
                    size: one.size,
                    media_type: one.mime_type.unwrap_or(media_type),
                }),
                Err(error) => report.failed.push(FailedAttachment { name, error }),
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};

    fn fixed(boundaries: &[&str]) -> impl FnMut() -> String {
        let mut all: Vec<String> = boundaries.iter().rev().map(|b| (*b).to_owned()).collect();
        move || all.pop().expect("enough boundaries")
    }

    #[test]
    fn multipart_body_is_exact() {
        let content = b"\x00\xffbinary\r\n--not-a-boundary\r\n";
        let part = multipart_with("run.log", "text/plain", content, fixed(&["B0undary"])).unwrap();
        assert_eq!(part.content_type, "multipart/form-data; boundary=B0undary");
        let mut want = Vec::new();
        want.extend_from_slice(b"--B0undary\r\n");
        want.extend_from_slice(
            b"Content-Disposition: form-data; name=\"file\"; filename=\"run.log\"\r\n",
        );
        want.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
        want.extend_from_slice(content);
        want.extend_from_slice(b"\r\n--B0undary--\r\n");
        assert_eq!(part.body, want);
    }

    #[test]
    fn a_boundary_found_in_the_content_is_drawn_again() {
        let content = b"line\r\n--first-choice\r\nmore";
        let part = multipart_with(
            "a.txt",
            "text/plain",
            content,
            fixed(&["first-choice", "second"]),
        )
        .unwrap();
        assert!(part.content_type.ends_with("boundary=second"));
        assert!(part.body.starts_with(b"--second\r\n"));
        // Every draw in the content: no body rather than a broken one.
        let none = multipart_with("a.txt", "text/plain", b"xx", || "x".to_owned());
        assert!(none.is_none());
    }

    #[test]
    fn random_boundaries_are_long_and_fresh() {
        let a = random_boundary();
        let b = random_boundary();
        assert_ne!(a, b);
        assert_eq!(a.len(), 46);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
        let part = multipart("a", "text/plain", b"x").unwrap();
        let boundary = part.content_type.split("boundary=").nth(1).unwrap();
        assert!(part
            .body
            .ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
    }

    #[test]
    fn names_cannot_break_the_header() {
        assert_eq!(
            clean_filename("a\"b\r\nContent-Type: x.txt"),
            "a_b__Content-Type: x.txt"
        );
        assert_eq!(clean_filename("../../etc\\passwd"), ".._.._etc_passwd");
        assert_eq!(clean_filename("tab\there\u{7f}\u{85}"), "tab_here__");
        assert_eq!(clean_filename("  "), "attachment");
        assert_eq!(clean_filename(""), "attachment");
        // Non-ASCII is kept, as UTF-8.
        assert_eq!(clean_filename("résumé 報告.png"), "résumé 報告.png");
        let long = format!("{}.har", "é".repeat(200));
        let cut = clean_filename(&long);
        assert!(cut.len() <= 255 && cut.ends_with(".har"), "{cut}");
        assert!(cut.starts_with("éé"));
        let no_ext = "x".repeat(300);
        assert_eq!(clean_filename(&no_ext).len(), 255);
    }

    #[test]
    fn media_types_are_checked() {
        assert_eq!(clean_media_type("image/png"), "image/png");
        assert_eq!(
            clean_media_type(" text/plain; charset=utf-8 "),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            clean_media_type("application/har+json"),
            "application/har+json"
        );
        for bad in [
            "",
            "text",
            "text/",
            "te xt/plain",
            "text/plain\r\nX: y",
            "bild/ä",
        ] {
            assert_eq!(clean_media_type(bad), FALLBACK_MEDIA_TYPE, "{bad:?}");
        }
    }

    #[test]
    fn upload_request_shape() {
        let e = Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap();
        let r = add_attachment(&e, "c1", "10001", b"x".to_vec());
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/10001/attachments"
        );
        assert_eq!(r.replay, Replay::OnlyIfNotReceived);
        let h = upload_headers("multipart/form-data; boundary=b".into());
        assert!(h.contains(&("x-atlassian-token", "no-check".to_owned())));
    }

    #[test]
    fn answers_are_checked() {
        let one = |json: &str| -> Result<(String, StoredAttachment)> {
            stored(serde_json::from_str(json).unwrap())
        };
        let (id, a) = one(
            r#"[{"id":"10001","filename":"a.txt","size":3,"mimeType":"text/plain",
            "content":"https://x/rest/api/3/attachment/content/10001"}]"#,
        )
        .unwrap();
        assert_eq!(
            (id.as_str(), a.filename.as_str(), a.size),
            ("10001", "a.txt", 3)
        );
        // The metadata resource gives the id as a number.
        assert_eq!(
            one(r#"[{"id":10002,"filename":"a","size":1}]"#).unwrap().0,
            "10002"
        );
        assert!(one(r#"[]"#).is_err());
        assert!(
            one(r#"[{"id":"1","filename":"a","size":1},{"id":"2","filename":"b","size":1}]"#)
                .is_err()
        );
        assert!(one(r#"[{"id":"../x","filename":"a","size":1}]"#).is_err());
    }
}
