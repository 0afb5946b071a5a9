//! The crate's own CPU per `on_test_error`, with the network replaced by an instant,
//! in-memory transport: a new failure (search + create + store writes) and a duplicate
//! (one search). Run: `cargo bench --bench notifier`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use jira_notifier::{
    ConfigStore, Connection, Credentials, HttpRequest, HttpResponse, HttpTransport, IssueRecord,
    JiraNotifier, MemoryStore, ResolvedTarget, SavedSettings, Settings, Site, TestInfo, TestStatus,
    TransportError,
};

/// Answers every request at once: a token, an empty or a one-issue search, a created issue.
#[derive(Debug)]
struct Instant {
    open_issue: bool,
    next_id: AtomicU64,
}

#[async_trait]
impl HttpTransport for Instant {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
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
    });
    JiraNotifier::builder(store)
        .transport(Instant {
            open_issue,
            next_id: AtomicU64::new(20000),
        })
        .build()
        .unwrap()
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
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = on_test_error
}
criterion_main!(benches);
