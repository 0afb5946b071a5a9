//! Building and parsing each request, through the public API.
//!
//! The request builders and answer parsers are private to the crate, so each is timed
//! through a public call that makes exactly that request, against a transport that
//! answers at once from memory; the transport's own cost is timed alone, to subtract.
//! Run: `cargo bench --bench requests`.
//!
//! | request | reached through | requests per call |
//! |---|---|---|
//! | search (duplicate check) | `on_test_error` on an open issue (`benches/notifier.rs`) | 1 |
//! | create | `send_test_notification` | 1 |
//! | token | `discover_sites` with a token that expires at once, minus the same with a cached token | 2 − 1 |
//! | site list | `discover_sites`, token cached | 1 |
//! | project list | `projects` (one page of 3, and of 100) | 1 |
//! | issue type list | `issue_types` | 1 |
//! | assignable users | `assignable_users` (a page, then the empty page that ends the list) | 2 |
//!
//! Also here: the `MemoryStore` calls a report makes, and `claim_create` with many claims
//! live, which a storm of new failures produces.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jira_notifier::{
    Claim, ConfigStore, Connection, Credentials, HttpRequest, HttpResponse, HttpTransport,
    JiraNotifier, MemoryStore, Method, ResolvedTarget, SavedSettings, Settings, Site,
    TransportError,
};

const CLOUD: &str = "11111111-2222-3333-4444-555555555555";

/// Answers every route the calls above use, at once, from prebuilt bodies.
#[derive(Debug)]
struct Answers {
    /// The token answer; an `expires_in` of 0 makes every call fetch a new token.
    token: String,
    sites: String,
    projects: String,
    issue_types: String,
    users: String,
}

impl Answers {
    fn new(token_lifetime: u64, projects: usize) -> Self {
        let project_list: Vec<String> = (0..projects)
            .map(|i| {
                format!(
                    r#"{{"expand":"description,lead,issueTypes,url,projectKeys,permissions,insight","self":"https://api.atlassian.com/ex/jira/{CLOUD}/rest/api/3/project/{id}","id":"{id}","key":"P{i}","name":"Project number {i}","avatarUrls":{{"48x48":"https://acme.atlassian.net/rest/api/3/universal_avatar/view/type/project/avatar/10400"}},"projectTypeKey":"software","simplified":false,"style":"classic","isPrivate":false,"properties":{{}}}}"#,
                    id = 10000 + i
                )
            })
            .collect();
        Answers {
            token: format!(
                r#"{{"access_token":"bench-token-0123456789abcdef","expires_in":{token_lifetime},"token_type":"Bearer","scope":"read:jira-work write:jira-work read:jira-user"}}"#
            ),
            sites: format!(
                r#"[{{"id":"{CLOUD}","url":"https://acme.atlassian.net","name":"acme","scopes":["read:jira-work","write:jira-work","read:jira-user"],"avatarUrl":"https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"}}]"#
            ),
            projects: format!(
                r#"{{"self":"https://api.atlassian.com/ex/jira/{CLOUD}/rest/api/3/project/search?maxResults=100&startAt=0","maxResults":100,"startAt":0,"total":{projects},"isLast":true,"values":[{}]}}"#,
                project_list.join(",")
            ),
            issue_types: r#"{"maxResults":200,"startAt":0,"total":3,"issueTypes":[{"self":"https://x/rest/api/3/issuetype/10001","id":"10001","description":"A problem.","iconUrl":"https://x/i.png","name":"Bug","untranslatedName":"Bug","subtask":false,"hierarchyLevel":0},{"self":"https://x/rest/api/3/issuetype/10002","id":"10002","description":"A task.","iconUrl":"https://x/i.png","name":"Task","untranslatedName":"Task","subtask":false,"hierarchyLevel":0},{"self":"https://x/rest/api/3/issuetype/10003","id":"10003","description":"A sub-task.","iconUrl":"https://x/i.png","name":"Subtask","untranslatedName":"Subtask","subtask":true,"hierarchyLevel":-1}]}"#.to_owned(),
            users: format!(
                "[{}]",
                ["alice", "bob", "carol", "dave", "erin"]
                    .iter()
                    .map(|n| format!(
                        r#"{{"self":"https://x/rest/api/3/user?accountId=712020:{n}","accountId":"712020:{n}","accountType":"atlassian","emailAddress":"{n}@acme.example","avatarUrls":{{"48x48":"https://x/a.png"}},"displayName":"{n} the tester","active":true,"timeZone":"Europe/Paris","locale":"en_US"}}"#
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

#[async_trait]
impl HttpTransport for Answers {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let path = request.url.path();
        let query = request.url.query().unwrap_or("");
        let body = if path.ends_with("/oauth/token") {
            self.token.clone()
        } else if path.ends_with("/accessible-resources") {
            self.sites.clone()
        } else if path.ends_with("/project/search") {
            self.projects.clone()
        } else if path.ends_with("/issuetypes") {
            self.issue_types.clone()
        } else if path.ends_with("/user/assignable/search") {
            if query.contains("startAt=0&") {
                self.users.clone()
            } else {
                "[]".to_owned()
            }
        } else if path.ends_with("/rest/api/3/issue") {
            return Ok(HttpResponse::json(
                201,
                r#"{"id":"10042","key":"QA-42","self":"https://api.atlassian.com/ex/jira/c/rest/api/3/issue/10042"}"#,
            ));
        } else {
            return Ok(HttpResponse::json(
                404,
                r#"{"errorMessages":["Not found"]}"#,
            ));
        };
        Ok(HttpResponse::json(200, body))
    }
}

fn connection() -> Connection {
    Connection {
        credentials: Credentials::new("bench-client-id", "bench-client-secret".to_owned()),
        site: Site {
            cloud_id: CLOUD.into(),
            name: "acme".into(),
            url: "https://acme.atlassian.net".into(),
        },
    }
}

/// A connected, configured notifier on a `MemoryStore`, its token already fetched.
fn notifier(rt: &tokio::runtime::Runtime, answers: Answers) -> JiraNotifier {
    let store = Arc::new(MemoryStore::new());
    let n = JiraNotifier::builder(store.clone())
        .transport(answers)
        .build()
        .unwrap();
    rt.block_on(async {
        store.save_connection(&connection()).await.unwrap();
        store
            .save_settings(&SavedSettings {
                settings: Settings::new("QA").with_labels(["automated"]),
                target: ResolvedTarget {
                    project_key: "QA".into(),
                    project_id: "10000".into(),
                    issue_type_name: "Bug".into(),
                    issue_type_id: "10001".into(),
                },
                cloud_id: CLOUD.into(),
                fields: None,
                warnings: Vec::new(),
            })
            .await
            .unwrap();
        n.discover_sites(&connection().credentials).await.unwrap();
    });
    n
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    // The transport alone: what every figure below includes and the crate does not own.
    let stub = Answers::new(3600, 3);
    let bare = HttpRequest::new(
        Method::Get,
        url::Url::parse(&format!(
            "https://api.atlassian.com/ex/jira/{CLOUD}/rest/api/3/project/search?startAt=0&maxResults=100"
        ))
        .unwrap(),
    )
    .with_header("accept", "application/json");
    c.bench_function(
        "transport/the instant stub alone (project list answer)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { stub.send(bare.clone()).await.unwrap() })
        },
    );

    let n = notifier(&rt, Answers::new(3600, 3));
    c.bench_function("request/create: send_test_notification (1 request)", |b| {
        b.to_async(&rt)
            .iter(|| async { n.send_test_notification().await.unwrap() })
    });

    let creds = connection().credentials;
    c.bench_function(
        "request/site list: discover_sites, token cached (1 request)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { n.discover_sites(&creds).await.unwrap() })
        },
    );
    let fresh_tokens = notifier(&rt, Answers::new(0, 3));
    let before = fresh_tokens.token_fetches();
    rt.block_on(async { fresh_tokens.discover_sites(&creds).await.unwrap() });
    assert_eq!(
        fresh_tokens.token_fetches() - before,
        1,
        "a token that expires at once must be fetched on every call"
    );
    c.bench_function(
        "request/token + site list: discover_sites, token fetched each time (2 requests)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { fresh_tokens.discover_sites(&creds).await.unwrap() })
        },
    );

    c.bench_function(
        "request/project list: projects, 3 projects (1 request)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { n.projects().await.unwrap() })
        },
    );
    let hundred = notifier(&rt, Answers::new(3600, 100));
    c.bench_function(
        "request/project list: projects, 100 projects (1 request)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { hundred.projects().await.unwrap() })
        },
    );
    c.bench_function("request/issue type list: issue_types (1 request)", |b| {
        b.to_async(&rt)
            .iter(|| async { n.issue_types("QA").await.unwrap() })
    });
    c.bench_function(
        "request/assignable users: assignable_users, 5 users then an empty page (2 requests)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { n.assignable_users("QA", "").await.unwrap() })
        },
    );
}

/// The store calls one report makes, on `MemoryStore`, and the create claim's cost as
/// claims pile up: in a storm every new failure holds its claim from its search to its
/// create, behind the whole queue of searches.
fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let s = MemoryStore::new();
    rt.block_on(async {
        s.save_connection(&connection()).await.unwrap();
        s.save_settings(&SavedSettings {
            settings: Settings::new("QA").with_labels(["automated"]),
            target: ResolvedTarget {
                project_key: "QA".into(),
                project_id: "10000".into(),
                issue_type_name: "Bug".into(),
                issue_type_id: "10001".into(),
            },
            cloud_id: CLOUD.into(),
            fields: None,
            warnings: Vec::new(),
        })
        .await
        .unwrap();
    });
    c.bench_function("store/MemoryStore::load_test_context", |b| {
        b.to_async(&rt)
            .iter(|| async { s.load_test_context("checkout").await.unwrap() })
    });

    let lease = Duration::from_secs(120);
    let mut group = c.benchmark_group("store/MemoryStore claim_create + release_create");
    for live in [0usize, 1_000, 10_000, 100_000] {
        let s = MemoryStore::new();
        let filling = std::time::Instant::now();
        rt.block_on(async {
            for i in 0..live {
                s.claim_create(&format!("storm-{i:06}"), "another-notifier", lease)
                    .await
                    .unwrap();
            }
        });
        // What a storm pays to get there: each claim scans every live one.
        eprintln!(
            "taking {live} claims one after another took {:.3} s",
            filling.elapsed().as_secs_f64()
        );
        group.bench_with_input(
            BenchmarkId::new("other claims live", live),
            &live,
            |b, _| {
                b.to_async(&rt).iter(|| async {
                    let claim = s.claim_create("checkout", "me", lease).await.unwrap();
                    assert!(matches!(claim, Claim::Granted { .. }));
                    s.release_create("checkout", "me", None).await.unwrap();
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = requests, store
}
criterion_main!(benches);
