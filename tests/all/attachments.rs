//! Uploading evidence files to an issue (groundwork: reports do not attach files yet),
//! through the hidden `JiraNotifier::upload_attachments` hook: the exact request against
//! the mock Atlassian, and caps, limits and failures against the simulated Jira.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use httpmock::{HttpMockRequest, HttpMockResponse};
use jira_notifier::{
    Attachment, AttachmentLimits, Credentials, Error, JiraNotifier, MemoryStore, Method, SkipReason,
};
use jira_notifier_sim::{Fault, SimJira};
use serde_json::json;

use crate::support::*;

/// The body the crate must send for one file, under the boundary it chose.
fn expected_body(boundary: &str, filename: &str, media_type: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// Whether `req` is exactly the upload of one file, whatever its (random) boundary.
fn is_upload_of(req: &HttpMockRequest, filename: &str, media_type: &str, content: &[u8]) -> bool {
    let headers = req.headers_vec();
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let Some(boundary) = header("content-type")
        .first()
        .and_then(|ct| ct.strip_prefix("multipart/form-data; boundary="))
        .map(str::to_owned)
    else {
        return false;
    };
    header("content-type").len() == 1
        && boundary.len() >= 32
        && req.body_ref() == expected_body(&boundary, filename, media_type, content).as_slice()
}

fn stored_answer(id: &str, filename: &str, size: usize, mime: &str) -> serde_json::Value {
    json!([{
        "self": format!("{SITE_URL}/rest/api/3/attachments/{id}"),
        "id": id,
        "filename": filename,
        "author": {"accountId": "712020:svc", "active": true, "displayName": "svc"},
        "created": 1651316514000u64,
        "size": size,
        "mimeType": mime,
        "content": format!("{SITE_URL}/rest/api/3/attachment/content/{id}"),
    }])
}

#[tokio::test]
async fn the_upload_request_is_exact() {
    let h = Harness::start().await;
    h.connect().await;
    h.mock_token(TOKEN).await;
    let content: &[u8] = b"line 1\r\n--not-the-boundary\x00\xff";
    let upload = h
        .mock(move |when, then| {
            when.method("POST")
                .path(jira_path("issue/10042/attachments"))
                .header("accept", "application/json")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("x-atlassian-token", "no-check")
                .is_true(move |req: &HttpMockRequest| {
                    // The quote became `_`; the non-ASCII name stays UTF-8.
                    req.query_params().is_empty()
                        && is_upload_of(req, "résumé_x.log", "text/plain", content)
                });
            then.status(200)
                .header("content-type", "application/json;charset=UTF-8")
                .json_body(stored_answer(
                    "10100",
                    "résumé_x.log",
                    content.len(),
                    "text/plain",
                ));
        })
        .await;
    let report = h
        .notifier
        .upload_attachments(
            "10042",
            vec![Attachment::bytes(
                "résumé\"x.log",
                "text/plain",
                content.to_vec(),
            )],
            &AttachmentLimits::default(),
        )
        .await
        .expect("connected");
    upload.assert_calls_async(1).await;
    assert!(report.is_complete(), "{report:?}");
    let up = &report.uploaded[0];
    assert_eq!(
        (up.name.as_str(), up.filename.as_str(), up.id.as_str()),
        ("résumé\"x.log", "résumé_x.log", "10100")
    );
    assert_eq!(
        (up.size, up.media_type.as_str()),
        (content.len() as u64, "text/plain")
    );
    let shown = format!("{report:?}");
    assert!(!shown.contains(TOKEN) && !shown.contains(CLIENT_SECRET));
    h.assert_no_strays();
}

#[tokio::test]
async fn a_429_is_sent_again_an_unclear_answer_is_not() {
    let h = Harness::start().await;
    h.connect().await;
    h.mock_token(TOKEN).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let upload = h
        .mock(move |when, then| {
            when.method("POST")
                .path(jira_path("issue/QA-7/attachments"))
                .header("x-atlassian-token", "no-check");
            then.respond_with(move |_: &HttpMockRequest| {
                let answer = |status: u16, body: String| {
                    HttpMockResponse::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .header("retry-after", "0")
                        .body(body)
                        .build()
                };
                match seen.fetch_add(1, Ordering::SeqCst) {
                    // Refused before anything was accepted: sent again.
                    0 => answer(
                        429,
                        json!({"errorMessages": ["Rate limit exceeded."]}).to_string(),
                    ),
                    1 => answer(
                        200,
                        stored_answer("10001", "a.txt", 1, "text/plain").to_string(),
                    ),
                    // May have landed: never sent twice.
                    _ => answer(503, String::new()),
                }
            });
        })
        .await;
    let report = h
        .notifier
        .upload_attachments(
            "QA-7",
            vec![
                Attachment::bytes("a.txt", "text/plain", b"a".to_vec()),
                Attachment::bytes("b.txt", "text/plain", b"b".to_vec()),
            ],
            &AttachmentLimits::default(),
        )
        .await
        .unwrap();
    upload.assert_calls_async(3).await;
    assert_eq!(report.uploaded.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].name, "b.txt");
    assert!(matches!(&report.failed[0].error, Error::Api(e) if e.status == 503));
    h.assert_no_strays();
}

async fn sim_notifier(sim: &SimJira) -> JiraNotifier {
    let notifier = JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(sim.clone())
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    notifier
        .connect(Credentials::new(
            SimJira::CLIENT_ID,
            SimJira::CLIENT_SECRET.to_owned(),
        ))
        .await
        .unwrap();
    notifier
}

fn uploads(sim: &SimJira) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == Method::Post && r.path.ends_with("/attachments"))
        .count()
}

#[tokio::test]
async fn caps_skip_whole_files_per_file_and_per_failure() {
    let sim = SimJira::new();
    let notifier = sim_notifier(&sim).await;
    let issue = sim.add_issue("QA", "Bug", "evidence", &[]).unwrap();
    let limits = AttachmentLimits::new(10, 25);
    let files = vec![
        Attachment::bytes("a.log", "text/plain", vec![b'a'; 8]),
        Attachment::bytes("big.bin", "application/octet-stream", vec![0; 11]),
        Attachment::reader(
            "endless.har",
            "application/json",
            tokio::io::repeat(b'x'),
            None,
        ),
        Attachment::bytes("d.png", "image/png", vec![b'd'; 10]),
        Attachment::bytes("e.log", "text/plain", vec![b'e'; 8]),
        Attachment::reader("f.txt", "text/plain", &b"fffff"[..], Some(5)),
    ];
    let report = notifier
        .upload_attachments(&issue.key, files, &limits)
        .await
        .unwrap();
    let names = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        report
            .uploaded
            .iter()
            .map(|u| u.name.clone())
            .collect::<Vec<_>>(),
        names(vec!["a.log", "d.png", "f.txt"])
    );
    let skipped: Vec<(&str, &SkipReason)> = report
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), &s.reason))
        .collect();
    assert_eq!(skipped.len(), 3);
    assert_eq!(skipped[0].0, "big.bin");
    assert!(matches!(
        skipped[0].1,
        SkipReason::TooLarge {
            size_at_least: 11,
            limit: 10
        }
    ));
    // A reader is read one byte past the cap, and no further.
    assert_eq!(skipped[1].0, "endless.har");
    assert!(matches!(
        skipped[1].1,
        SkipReason::TooLarge {
            size_at_least: 11,
            limit: 10
        }
    ));
    // 8 + 10 sent: 7 bytes are left of 25.
    assert_eq!(skipped[2].0, "e.log");
    assert!(matches!(
        skipped[2].1,
        SkipReason::OverFailureBudget {
            size_at_least: 8,
            remaining: 7
        }
    ));
    assert!(report.failed.is_empty());
    let stored = sim.attachments(&issue.key);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].content, vec![b'a'; 8]);
    assert_eq!(
        (stored[1].filename.as_str(), stored[1].mime_type.as_str()),
        ("d.png", "image/png")
    );
    assert_eq!(stored[2].content, b"fffff");
    assert_eq!(stored[0].author, SimJira::SERVICE_ACCOUNT_ID);
    assert_eq!(report.uploaded[0].id, stored[0].id);
    assert_eq!(uploads(&sim), 3, "skipped files are never sent");
}

#[tokio::test]
async fn a_failed_upload_is_reported_and_the_others_go_on() {
    let sim = SimJira::new();
    let notifier = sim_notifier(&sim).await;
    let issue = sim.add_issue("QA", "Bug", "evidence", &[]).unwrap();
    sim.inject(Fault::status(Method::Post, "/attachments", 500));
    sim.set_attachment_limit(6);
    let files = vec![
        Attachment::bytes("first.log", "text/plain", b"one".to_vec()),
        Attachment::bytes("over-site-limit.log", "text/plain", b"1234567".to_vec()),
        Attachment::bytes("third.log", "text/plain", b"three".to_vec()),
    ];
    let report = notifier
        .upload_attachments(&issue.id, files, &AttachmentLimits::default())
        .await
        .unwrap();
    assert_eq!(report.uploaded.len(), 1);
    assert_eq!(report.uploaded[0].name, "third.log");
    assert_eq!(report.uploaded[0].size, 5);
    assert_eq!(report.failed.len(), 2);
    assert!(!report.is_complete());
    // A 500 may have landed: not sent again.
    assert!(matches!(&report.failed[0].error, Error::Api(e) if e.status == 500));
    match &report.failed[1].error {
        Error::Api(e) => {
            assert_eq!(e.status, 413);
            assert_eq!(
                e.error_messages,
                ["The field file exceeds its maximum permitted size of 6 bytes."]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(uploads(&sim), 3);
    let stored = sim.attachments(&issue.key);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content, b"three");

    // Attachments switched off on the site: refused, reported, nothing stored.
    sim.set_attachments_enabled(false);
    let report = notifier
        .upload_attachments(
            &issue.key,
            vec![Attachment::bytes("x", "text/plain", b"x".to_vec())],
            &AttachmentLimits::default(),
        )
        .await
        .unwrap();
    assert!(matches!(&report.failed[0].error, Error::Api(e) if e.status == 403));
    // An unknown issue: Jira's 404.
    sim.set_attachments_enabled(true);
    let report = notifier
        .upload_attachments(
            "QA-999",
            vec![Attachment::bytes("x", "text/plain", b"x".to_vec())],
            &AttachmentLimits::default(),
        )
        .await
        .unwrap();
    assert!(matches!(&report.failed[0].error, Error::Api(e) if e.status == 404));
    assert_eq!(sim.attachment_count(), 1);
}
