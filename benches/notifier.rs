//! The crate's own CPU per `on_test_error`, with the network replaced by an instant,
//! in-memory transport: a new failure (search + create + store writes) and a duplicate
//! (one search). Run: `cargo bench --bench notifier`.
//!
//! Around those two, what tells their parts apart:
//!
//! - a test disabled by its override: the same entry (single-flight, one store read)
//!   without a request, the fixed cost every report pays;
//! - a new failure with an error message longer than Jira's description limit (the cut
//!   path, and a 30 KiB body to build and send);
//! - ten reports of one test at once: one search, nine reports answered by the
//!   in-process single-flight.
//!
//! The transport's own cost (answering from memory) is measured in `benches/requests.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use jira_notifier::{
    ConfigStore, Connection, Credentials, HttpRequest, HttpResponse, HttpTransport, IssueRecord,
    JiraNotifier, MemoryStore, Outcome, ResolvedTarget, SavedOverride, SavedSettings, Settings,
    Site, TestInfo, TestOverride, TestStatus, TransportError,
};

/// Answers every request at once: a token, an empty or a one-issue search, a created issue.
#[derive(Debug)]
struct Instant {
    open_issue: bool,
    next_id: AtomicU64,
    /// Yield to the scheduler once before answering, as a real round trip would, so that
    /// concurrent reports overlap.
    yields: bool,
    /// Requests answered.
    sent: AtomicU64,
}

#[async_trait]
impl HttpTransport for Instant {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if self.yields {
            tokio::task::yield_now().await;
        }
        let path = request.url.path();
        let body = if path.ends_with("/oauth/token") {
            r#"{"access_token":"bench-token","expires_in":3600,"token_type":"Bearer"}"#.to_owned()
        } else if path.ends_with("/search/jql") {
            if self.open_issue {
                r#"{"issues":[{"id":"10001","key":"QA-1","fields":{"status":{"statusCategory":{"key":"new"}},"labels":["testclix-checkout"]}}],"isLast":true}"#.to_owned()
            } else {
                r#"{"issues":[],"isLast":true}"#.to_owned()
            }
        } else if path.ends_with("/issue") {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            return Ok(HttpResponse::json(
                201,
                format!(
                    r#"{{"id":"{id}","key":"QA-{id}","self":"https://x/rest/api/3/issue/{id}"}}"#
                ),
            ));
        } else {
            return Ok(HttpResponse::json(404, "{}"));
        };
        Ok(HttpResponse::json(200, body))
    }
}

fn notifier(rt: &tokio::runtime::Runtime, open_issue: bool) -> JiraNotifier {
    notifier_with(rt, open_issue, false, false).0
}

/// A connected, configured notifier on a `MemoryStore`; with `disabled`, the test
/// `checkout` is turned off by its override. Returns the transport too, to count requests.
fn notifier_with(
    rt: &tokio::runtime::Runtime,
    open_issue: bool,
    disabled: bool,
    yields: bool,
) -> (JiraNotifier, Arc<Instant>) {
    let store = Arc::new(MemoryStore::new());
    rt.block_on(async {
        store
            .save_connection(&Connection {
                credentials: Credentials::new("id", "secret".to_owned()),
                site: Site {
                    cloud_id: "cloud".into(),
                    name: "acme".into(),
                    url: "https://acme.atlassian.net".into(),
                },
            })
            .await
            .unwrap();
        store
            .save_settings(&SavedSettings {
                settings: Settings::new("QA").with_labels(["automated"]),
                target: ResolvedTarget {
                    project_key: "QA".into(),
                    project_id: "10000".into(),
                    issue_type_name: "Bug".into(),
                    issue_type_id: "10001".into(),
                },
                cloud_id: "cloud".into(),
                fields: None,
                warnings: Vec::new(),
            })
            .await
            .unwrap();
        if open_issue {
            store
                .save_record(
                    "checkout",
                    &IssueRecord {
                        issue_id: "10001".into(),
                        issue_key: "QA-1".into(),
                        label: "testclix-checkout".into(),
                    },
                )
                .await
                .unwrap();
        }
        if disabled {
            store
                .save_override(
                    "checkout",
                    &SavedOverride {
                        test_override: TestOverride::disabled(),
                        target: None,
                        cloud_id: "cloud".into(),
                        fields: None,
                        warnings: Vec::new(),
                    },
                )
                .await
                .unwrap();
        }
    });
    let transport = Arc::new(Instant {
        open_issue,
        next_id: AtomicU64::new(20000),
        yields,
        sent: AtomicU64::new(0),
    });
    let notifier = JiraNotifier::builder(store)
        .transport_arc(transport.clone())
        .build()
        .unwrap();
    (notifier, transport)
}

fn on_test_error(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let test = TestInfo::new(
        "checkout",
        "Checkout flow completes",
        "https://testclix.example/tests/checkout",
    );
    let status =
        TestStatus::error("assertion failed: expected 200, got 500\n  at checkout.spec.ts:42");

    let fresh = notifier(&rt, false);
    c.bench_function("on_test_error/new failure (search + create)", |b| {
        b.to_async(&rt)
            .iter(|| async { fresh.on_test_error(&test, &status).await.unwrap() })
    });

    let dup = notifier(&rt, true);
    c.bench_function("on_test_error/duplicate (one search)", |b| {
        b.to_async(&rt)
            .iter(|| async { dup.on_test_error(&test, &status).await.unwrap() })
    });

    let off = notifier_with(&rt, false, true, false).0;
    c.bench_function("on_test_error/disabled by override (no request)", |b| {
        b.to_async(&rt).iter(|| async {
            let outcome = off.on_test_error(&test, &status).await.unwrap();
            assert!(matches!(outcome, Outcome::Disabled));
            outcome
        })
    });

    // 40,000 characters: over Jira's 32,767, so the message is cut with a note.
    let long = TestStatus::error("at frame of a deep stack trace\n".repeat(1_300));
    let fresh_long = notifier(&rt, false);
    c.bench_function(
        "on_test_error/new failure, 40 KB message (cut to 31 KB)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { fresh_long.on_test_error(&test, &long).await.unwrap() })
        },
    );

    // Ten reports of one test at once: the first searches, nine wait and are answered
    // from its result. Timed per burst of ten. The transport yields once per request,
    // or each report would run to its end before the next started.
    let (burst, sent) = notifier_with(&rt, true, false, true);
    let ten = || async {
        let one = || burst.on_test_error(&test, &status);
        tokio::join!(
            one(),
            one(),
            one(),
            one(),
            one(),
            one(),
            one(),
            one(),
            one(),
            one()
        )
    };
    rt.block_on(async {
        burst.on_test_error(&test, &status).await.unwrap(); // the token, once
        let before = sent.sent.load(Ordering::Relaxed);
        let all = ten().await;
        assert!(matches!(all.9, Ok(Outcome::Duplicate(_))));
        let searches = sent.sent.load(Ordering::Relaxed) - before;
        assert_eq!(searches, 1, "ten reports at once made {searches} searches");
    });
    c.bench_function(
        "on_test_error/10 reports of one test at once (1 search)",
        |b| {
            b.to_async(&rt).iter(|| async {
                let all = ten().await;
                assert!(matches!(all.9, Ok(Outcome::Duplicate(_))));
                all
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = on_test_error
}
criterion_main!(benches);
