//! Issue attachments: `POST /rest/api/3/issue/{issueIdOrKey}/attachments` (operation
//! `addAttachment`), `GET /rest/api/3/attachment/{id}` (`getAttachment`),
//! `GET /rest/api/3/attachment/content/{id}` (`getAttachmentContent`) and
//! `GET /rest/api/3/attachment/meta` (`getAttachmentMeta`).
//!
//! Uploads are read strictly, as Jira reads them: the `X-Atlassian-Token: no-check`
//! header (else Jira's XSRF filter answers `403` with the plain text `XSRF check failed`,
//! as client libraries quote it), a `multipart/form-data` body with a boundary, files in
//! parts named `file`, each within the site's attachment size (`413`, with the message
//! Jira's upload parser gives, `The field file exceeds its maximum permitted size of N
//! bytes.`), at most 60 files a request (`413`, as the spec says). A request is stored
//! whole or not at all. The default size limit is Jira Cloud's default, 1 GB a file
//! (Atlassian's "Configure file attachments" for Cloud; Jira Data Center's was 10 MB).
//!
//! Wording the reference material does not record (attachments disabled, no `file` part,
//! a malformed body, an unknown attachment) is the simulator's own, in Jira's error shape.

use std::fmt;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::router::Ctx;
use super::world::{JiraData, SERVICE_ACCOUNT_ID};
use super::{clock, render, reply, SimJira};
use jira_notifier::{HttpRequest, HttpResponse};

/// Jira Cloud's default size limit of one attachment: 1 GB.
pub(crate) const DEFAULT_LIMIT: u64 = 1024 * 1024 * 1024;
/// The most files one request may carry (`addAttachment`, 413: "more than 60 files").
const MAX_FILES: usize = 60;
/// The first attachment id handed out.
const FIRST_ID: u64 = 10_000;

/// An attachment as the simulator stores it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimAttachment {
    /// Jira's id (`"10000"`, …).
    pub id: String,
    /// The key of the issue it belongs to (its current key, if the issue moved).
    pub issue_key: String,
    /// The file name, as received.
    pub filename: String,
    /// The media type of its part (`application/octet-stream` if the part named none).
    pub mime_type: String,
    /// The bytes, exactly as received.
    pub content: Vec<u8>,
    /// The account id of who added it.
    pub author: String,
    /// When it was added.
    pub created: SystemTime,
}

impl fmt::Debug for SimAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimAttachment")
            .field("id", &self.id)
            .field("issue_key", &self.issue_key)
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("size", &self.content.len())
            .field("author", &self.author)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Stored {
    issue: usize,
    filename: String,
    mime_type: String,
    content: Vec<u8>,
    author: String,
    created: SystemTime,
}

/// One site's attachments and attachment settings.
#[derive(Debug)]
pub(crate) struct Attachments {
    /// Attachment `i` has id `FIRST_ID + i`.
    items: Vec<Stored>,
    enabled: bool,
    limit: u64,
}

impl Default for Attachments {
    fn default() -> Self {
        Attachments {
            items: Vec::new(),
            enabled: true,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Attachments {
    fn get(&self, id: &str) -> Option<(u64, &Stored)> {
        if !reply::is_numeric(id) {
            return None;
        }
        let n: u64 = id.parse().ok()?;
        let index = usize::try_from(n.checked_sub(FIRST_ID)?).ok()?;
        self.items.get(index).map(|s| (n, s))
    }
}

/// The `Attachment` object of the upload answer (id as a string).
fn attachment_json(jira: &JiraData, ctx: &Ctx<'_>, id: u64, s: &Stored) -> Value {
    let author = jira
        .user(&s.author)
        .map_or(Value::Null, |u| render::user(u, ctx));
    json!({
        "self": format!("{}/rest/api/3/attachment/{id}", ctx.base),
        "id": id.to_string(),
        "filename": s.filename,
        "author": author,
        "created": clock::jira_datetime(s.created),
        "size": s.content.len(),
        "mimeType": s.mime_type,
        "content": format!("{}/rest/api/3/attachment/content/{id}", ctx.base),
    })
}

fn xsrf_failed() -> HttpResponse {
    HttpResponse::new(403, "XSRF check failed").with_header("content-type", "text/plain")
}

fn disabled() -> HttpResponse {
    reply::jira_errors(403, &["Attachments are disabled on this site.".to_owned()])
}

fn attachment_not_found(id: &str) -> HttpResponse {
    reply::jira_errors(
        404,
        &[format!("The attachment with id '{id}' does not exist.")],
    )
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let essence = parts.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| (1..=70).contains(&b.len()))
}

/// One part of a multipart body.
#[derive(Debug, PartialEq)]
struct Part<'a> {
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// A `Content-Disposition` parameter, quoted or not (quoted values end at the next quote).
fn param(header: &str, name: &str) -> Option<String> {
    let mut rest = header;
    while let Some(at) = rest.find(';') {
        rest = rest[at + 1..].trim_start();
        let (key, value) = rest.split_once('=')?;
        let (val, after) = match value.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => {
                let end = value.find(';').unwrap_or(value.len());
                (value[..end].trim(), &value[end..])
            }
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(val.to_owned());
        }
        rest = after;
    }
    None
}

/// The parts of a body, strictly: it starts with the first delimiter, parts end at
/// `CRLF--boundary`, and the close delimiter ends it.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, &'static str> {
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    if !body.starts_with(delimiter.as_bytes()) {
        return Err("The multipart body does not start with its boundary.");
    }
    let mut at = delimiter.len();
    let mut out = Vec::new();
    loop {
        match body.get(at..at + 2) {
            Some(b"--") => return Ok(out),
            Some(b"\r\n") => at += 2,
            _ => return Err("The multipart body is malformed."),
        }
        let head_end = find(body, b"\r\n\r\n", at).ok_or("A multipart part has no header end.")?;
        let head = String::from_utf8_lossy(&body[at..head_end]);
        let data_start = head_end + 4;
        let data_end =
            find(body, next.as_bytes(), data_start).ok_or("The multipart body is not closed.")?;
        let mut part = Part {
            name: None,
            filename: None,
            content_type: None,
            data: &body[data_start..data_end],
        };
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                return Err("A multipart part has a malformed header.");
            };
            let value = value.trim();
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                if !value.to_ascii_lowercase().starts_with("form-data") {
                    return Err("A multipart part is not form data.");
                }
                part.name = param(value, "name");
                part.filename = param(value, "filename");
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.to_owned());
            }
        }
        out.push(part);
        at = data_end + next.len();
    }
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/attachments`.
pub(crate) fn add(
    jira: &mut JiraData,
    ctx: &Ctx<'_>,
    request: &HttpRequest,
    id_or_key: &str,
) -> HttpResponse {
    let token = request.header("x-atlassian-token").map(str::trim);
    // `nocheck` is the older spelling, still accepted (deprecated since REST 3.0.0).
    if !matches!(token, Some("no-check" | "nocheck")) {
        return xsrf_failed();
    }
    if !jira.attachments.enabled {
        return disabled();
    }
    let Some(issue) = jira.issue_index(id_or_key) else {
        return reply::issue_not_found();
    };
    let given = request.header("content-type").unwrap_or_default();
    let Some(boundary) = boundary(given) else {
        return reply::problem(
            415,
            "Unsupported Media Type",
            &format!("Content-Type '{given}' is not supported."),
            &ctx.path,
        );
    };
    let body = request.body.as_deref().unwrap_or_default();
    let parts = match parts(body, &boundary) {
        Ok(parts) => parts,
        Err(why) => return reply::bad_request(why),
    };
    let files: Vec<&Part<'_>> = parts
        .iter()
        .filter(|p| p.name.as_deref() == Some("file"))
        .collect();
    if files.is_empty() {
        return reply::bad_request(
            "No attachment was found in the request: the multipart parameter must be named 'file'.",
        );
    }
    if files.len() > MAX_FILES {
        return reply::jira_errors(
            413,
            &[format!(
                "No more than {MAX_FILES} files can be uploaded in one request."
            )],
        );
    }
    let limit = jira.attachments.limit;
    if files.iter().any(|f| f.data.len() as u64 > limit) {
        return reply::jira_errors(
            413,
            &[format!(
                "The field file exceeds its maximum permitted size of {limit} bytes."
            )],
        );
    }
    let created = SystemTime::now();
    let mut answer = Vec::new();
    for file in files {
        let id = FIRST_ID + jira.attachments.items.len() as u64;
        let stored = Stored {
            issue,
            filename: file.filename.clone().unwrap_or_default(),
            mime_type: file
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            content: file.data.to_vec(),
            author: SERVICE_ACCOUNT_ID.to_owned(),
            created,
        };
        answer.push(attachment_json(jira, ctx, id, &stored));
        jira.attachments.items.push(stored);
    }
    reply::jira(200, &Value::Array(answer))
}

/// The attachment, if attachments are on and its issue still exists.
fn visible<'a>(jira: &'a JiraData, id: &str) -> Result<(u64, &'a Stored), HttpResponse> {
    if !jira.attachments.enabled {
        return Err(attachment_not_found(id));
    }
    match jira.attachments.get(id) {
        Some((n, s)) if jira.issues.get(s.issue).is_some_and(|i| !i.deleted) => Ok((n, s)),
        _ => Err(attachment_not_found(id)),
    }
}

/// `GET /rest/api/3/attachment/{id}`: `AttachmentMetadata` (its id is a number).
pub(crate) fn metadata(jira: &JiraData, ctx: &Ctx<'_>, id: &str) -> HttpResponse {
    match visible(jira, id) {
        Ok((n, s)) => {
            let mut body = attachment_json(jira, ctx, n, s);
            body["id"] = Value::from(n);
            reply::jira(200, &body)
        }
        Err(answer) => answer,
    }
}

/// `GET /rest/api/3/attachment/content/{id}`: a `303` to the download (`redirect=false`
/// here, where Jira points to its media host), or with `redirect=false` the bytes.
pub(crate) fn content(jira: &JiraData, ctx: &Ctx<'_>, id: &str) -> HttpResponse {
    let (n, s) = match visible(jira, id) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if ctx.param("redirect").as_deref() == Some("false") {
        return HttpResponse::new(200, s.content.clone()).with_header("content-type", &s.mime_type);
    }
    HttpResponse::new(303, Vec::new()).with_header(
        "location",
        format!(
            "{}/rest/api/3/attachment/content/{n}?redirect=false",
            ctx.base
        ),
    )
}

/// `GET /rest/api/3/attachment/meta`: `AttachmentSettings`.
pub(crate) fn settings(jira: &JiraData) -> HttpResponse {
    reply::jira(
        200,
        &json!({"enabled": jira.attachments.enabled, "uploadLimit": jira.attachments.limit}),
    )
}

impl SimJira {
    /// Sets the site's attachment size limit, in bytes, for each file (default Jira Cloud's
    /// 1 GB): a larger file makes the whole upload `413`.
    pub fn set_attachment_limit(&self, bytes: u64) {
        self.world().primary_mut().attachments.limit = bytes;
    }

    /// Turns attachments on (the default) or off for the site, as a Jira administrator
    /// would: off, uploads are refused with `403` and attachments cannot be read (`404`).
    pub fn set_attachments_enabled(&self, enabled: bool) {
        self.world().primary_mut().attachments.enabled = enabled;
    }

    /// The attachments of an issue (by key, any case, or id), oldest first; empty if the
    /// issue is unknown.
    pub fn attachments(&self, issue_key: &str) -> Vec<SimAttachment> {
        let world = self.world();
        let jira = world.primary();
        let Some(index) = jira.issue_index(issue_key) else {
            return Vec::new();
        };
        let key = jira.issues[index].key.clone();
        jira.attachments
            .items
            .iter()
            .enumerate()
            .filter(|(_, s)| s.issue == index)
            .map(|(i, s)| SimAttachment {
                id: (FIRST_ID + i as u64).to_string(),
                issue_key: key.clone(),
                filename: s.filename.clone(),
                mime_type: s.mime_type.clone(),
                content: s.content.clone(),
                author: s.author.clone(),
                created: s.created,
            })
            .collect()
    }

    /// How many attachments the site stores, every issue together.
    pub fn attachment_count(&self) -> usize {
        self.world().primary().attachments.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{body_of, get, post_raw, send, Client, GATEWAY};
    use jira_notifier::HttpResponse;

    const B: &str = "sim-boundary-1";

    fn body(files: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (field, name, mime, data) in files {
            out.extend_from_slice(format!("--{B}\r\n").as_bytes());
            out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{B}--\r\n").as_bytes());
        out
    }

    async fn upload(client: &Client, issue: &str, body: Vec<u8>, xsrf: bool) -> HttpResponse {
        let url = format!("{GATEWAY}/rest/api/3/issue/{issue}/attachments");
        let mut req = post_raw(&url, Some(&client.token), body);
        req.headers.retain(|(k, _)| k != "content-type");
        req.headers.push((
            "content-type".into(),
            format!("multipart/form-data; boundary={B}"),
        ));
        if xsrf {
            req.headers
                .push(("x-atlassian-token".into(), "no-check".into()));
        }
        send(&client.sim, req).await
    }

    #[test]
    fn multipart_is_read_strictly() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\""),
            Some("a b".to_owned())
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            param(r#"form-data; name="file"; filename="a;b.txt""#, "filename"),
            Some("a;b.txt".to_owned())
        );
        assert_eq!(
            param("form-data; name=file", "name"),
            Some("file".to_owned())
        );
        let raw = body(&[("file", "a.txt", "text/plain", b"x\r\n--sim-boundary-0")]);
        let got = parts(&raw, B).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, b"x\r\n--sim-boundary-0");
        assert_eq!(got[0].filename.as_deref(), Some("a.txt"));
        assert!(parts(b"garbage", B).is_err());
        assert!(parts(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end")
                .as_bytes(),
            B
        )
        .is_err());
    }

    #[tokio::test]
    async fn uploads_are_stored_and_served_back() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        client.create("with evidence", &[]).await;
        let png: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff";
        let res = upload(
            &client,
            "QA-1",
            body(&[
                ("file", "run.log", "text/plain", b"line 1\n"),
                ("file", "écran.png", "image/png", png),
                ("comment", "ignored", "text/plain", b"not a file"),
            ]),
            true,
        )
        .await;
        assert_eq!(res.status, 200);
        let answer = body_of(&res);
        assert_eq!(answer.as_array().unwrap().len(), 2);
        assert_eq!(answer[0]["id"], "10000");
        assert_eq!(answer[0]["filename"], "run.log");
        assert_eq!(answer[0]["size"], 7);
        assert_eq!(answer[0]["mimeType"], "text/plain");
        assert_eq!(
            answer[0]["author"]["accountId"],
            SimJira::SERVICE_ACCOUNT_ID
        );
        assert_eq!(
            answer[1]["content"],
            format!("{GATEWAY}/rest/api/3/attachment/content/10001")
        );
        assert_eq!(answer[1]["filename"], "écran.png");

        let stored = sim.attachments("qa-1");
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[1].content, png);
        assert_eq!(stored[1].mime_type, "image/png");
        assert_eq!(stored[1].issue_key, "QA-1");
        assert_eq!(sim.attachment_count(), 2);
        assert!(!format!("{:?}", stored[1]).contains("PNG"));

        let (status, meta) = client.get("/rest/api/3/attachment/10001").await;
        assert_eq!((status, meta["id"].as_u64()), (200, Some(10001)));
        let url = format!("{GATEWAY}/rest/api/3/attachment/content/10001");
        let res = send(&sim, get(&url, Some(&client.token))).await;
        assert_eq!(res.status, 303);
        let location = res.header("location").unwrap().to_owned();
        let res = send(&sim, get(&location, Some(&client.token))).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, png);
        assert_eq!(res.header("content-type"), Some("image/png"));
        let (status, settings) = client.get("/rest/api/3/attachment/meta").await;
        assert_eq!(status, 200);
        assert_eq!(settings["uploadLimit"], DEFAULT_LIMIT);
        assert_eq!(client.get("/rest/api/3/attachment/99999").await.0, 404);
    }

    #[tokio::test]
    async fn uploads_are_refused_as_jira_refuses_them() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        client.create("target", &[]).await;
        let one = || body(&[("file", "a.txt", "text/plain", b"abc")]);

        let res = upload(&client, "QA-1", one(), false).await;
        assert_eq!(
            (res.status, res.body.as_slice()),
            (403, &b"XSRF check failed"[..])
        );

        let res = upload(&client, "QA-404", one(), true).await;
        assert_eq!(res.status, 404);
        assert_eq!(
            String::from_utf8(res.body).unwrap(),
            r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#
        );

        let url = format!("{GATEWAY}/rest/api/3/issue/QA-1/attachments");
        let mut json = post_raw(&url, Some(&client.token), b"{}".to_vec());
        json.headers
            .push(("x-atlassian-token".into(), "no-check".into()));
        assert_eq!(send(&sim, json).await.status, 415);

        let res = upload(
            &client,
            "QA-1",
            body(&[("other", "a", "text/plain", b"x")]),
            true,
        )
        .await;
        assert_eq!(res.status, 400);
        let res = upload(&client, "QA-1", b"not multipart".to_vec(), true).await;
        assert_eq!(res.status, 400);

        sim.set_attachment_limit(3);
        let res = upload(
            &client,
            "QA-1",
            body(&[
                ("file", "ok.txt", "text/plain", b"abc"),
                ("file", "big.txt", "text/plain", b"abcd"),
            ]),
            true,
        )
        .await;
        assert_eq!(res.status, 413);
        assert_eq!(
            body_of(&res)["errorMessages"][0],
            "The field file exceeds its maximum permitted size of 3 bytes."
        );
        assert_eq!(sim.attachment_count(), 0, "all or nothing");

        sim.set_attachments_enabled(false);
        assert_eq!(upload(&client, "QA-1", one(), true).await.status, 403);
        sim.set_attachments_enabled(true);
        assert_eq!(upload(&client, "QA-1", one(), true).await.status, 200);
        sim.set_attachments_enabled(false);
        assert_eq!(client.get("/rest/api/3/attachment/10000").await.0, 404);
        assert_eq!(sim.attachment_count(), 1);
    }
}
