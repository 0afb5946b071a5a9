//! Shared test machinery: recorded Jira answers, a mock server with a catch-all that
//! records every request nothing else expected, and a notifier wired to it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use httpmock::{HttpMockRequest, HttpMockResponse, Mock, MockServer, Then, When};
use jira_notifier::{
    ConfigStore, Credentials, JiraNotifier, MemoryStore, ReqwestTransport, RetryPolicy, Settings,
    Site, TestInfo, TestStatus,
};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "svc-client-id-7Qx";
pub const CLIENT_SECRET: &str = "cs-SECRET-do-not-leak-4f9c2e71";
pub const TOKEN: &str = "at-FIRST-access-token-1a2b3c4d";
pub const TOKEN2: &str = "at-SECOND-access-token-9z8y7x6w";
pub const CLOUD_ID: &str = "7d3f0c9e-11aa-4a2b-9c3d-acme00000001";
pub const SITE_NAME: &str = "acme";
pub const SITE_URL: &str = "https://acme.atlassian.net";

pub const PROJECT_KEY: &str = "QA";
pub const PROJECT_ID: &str = "10000";
pub const BUG_ID: &str = "10004";

pub const TEST_ID: &str = "checkout-flow-42";
pub const TEST_NAME: &str = "Checkout completes";
pub const TEST_URL: &str = "https://ci.example.com/tests/checkout-flow-42";
pub const MESSAGE: &str = "AssertionError: expected 200, got 500\n    at checkout.spec.ts:42:7";
/// The label of [`TEST_ID`] with the default prefix.
pub const LABEL: &str = "testclix-checkout-flow-42";

/// The status the catch-all answers with: no real server uses it, and the crate treats it
/// as final, so a stray request fails at once instead of being retried.
pub const STRAY_STATUS: u16 = 418;

// ---------------------------------------------------------------------------------------
// Recorded answers
// ---------------------------------------------------------------------------------------

/// One recorded HTTP answer from `tests/fixtures/NAME.http`: status line, CRLF header
/// lines, a blank line, then the body as it arrived followed by one LF.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn load(name: &str) -> Recorded {
        let path = format!("{}/tests/fixtures/{name}.http", env!("CARGO_MANIFEST_DIR"));
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        Recorded::parse(&raw).unwrap_or_else(|why| panic!("{path}: {why}"))
    }

    fn parse(raw: &[u8]) -> Result<Recorded, String> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or(
            "no CRLF blank line between the headers and the body (line endings converted?)",
        )?;
        let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().ok_or("empty file")?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/") {
            return Err(format!("not a status line: {status_line:?}"));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("no status code in {status_line:?}"))?;
        let mut headers = Vec::new();
        for line in lines {
            if line.contains('\n') {
                return Err(format!("a header line ends in a bare LF: {line:?}"));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("not a header line: {line:?}"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut body = raw[split + 4..].to_vec();
        if body.pop() != Some(b'\n') {
            return Err("the body does not end in the LF the recording adds".into());
        }
        Ok(Recorded {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type")
            .expect("the recording has a content-type")
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// Serves the recording with its own status, content-type and body. Framing headers
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`) are the server's own business.
    pub fn serve(&self, then: Then) -> Then {
        self.serve_as(self.status, then)
    }

    /// Serves the recorded content-type and body under another status.
    pub fn serve_as(&self, status: u16, then: Then) -> Then {
        then.status(status)
            .header("content-type", self.content_type())
            .body(&self.body)
    }
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The retry policy of every test: the real one with delays in milliseconds.
/// The fast policy's look-back after an unclear create.
pub const FAST_LOOKBACK: Duration = Duration::from_millis(200);

pub fn fast_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_write_lookback(FAST_LOOKBACK)
}

pub fn transport() -> ReqwestTransport {
    ReqwestTransport::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("the reqwest transport builds")
}

/// A notifier on `store` talking to the given hosts, with the fast policy.
pub fn notifier(store: Arc<MemoryStore>, auth_url: &str, api_url: &str) -> JiraNotifier {
    notifier_with(store, auth_url, api_url, transport())
}

/// [`notifier`] on a transport already built (building one costs tens of milliseconds).
pub fn notifier_with(
    store: Arc<dyn ConfigStore>,
    auth_url: &str,
    api_url: &str,
    transport: ReqwestTransport,
) -> JiraNotifier {
    JiraNotifier::builder(store)
        .auth_url(auth_url)
        .api_url(api_url)
        .transport(transport)
        .retry_policy(fast_policy())
        // The mock Jira's search never lags: an unclear create is ruled out by the first
        // search made after the fast policy's look-back.
        .search_lag_bound(FAST_LOOKBACK)
        .build()
        .expect("the notifier builds")
}

pub fn creds() -> Credentials {
    Credentials::new(CLIENT_ID, CLIENT_SECRET.to_owned())
}

pub fn site() -> Site {
    Site::new(
        CLOUD_ID.to_owned(),
        SITE_NAME.to_owned(),
        SITE_URL.to_owned(),
    )
}

/// `/ex/jira/{CLOUD_ID}/rest/api/3/{rest}`.
pub fn jira_path(rest: &str) -> String {
    format!("/ex/jira/{CLOUD_ID}/rest/api/3/{rest}")
}

/// A mock server, a memory store and a notifier using both, plus a catch-all mock that
/// answers any request no other mock matched with [`STRAY_STATUS`] and records it.
///
/// httpmock tries mocks in the order they were made, so the catch-all must always be the
/// newest: [`Harness::mock`] takes it down and puts it back after each new mock.
pub struct Harness {
    pub server: MockServer,
    pub store: Arc<MemoryStore>,
    pub notifier: JiraNotifier,
    catch_all: Mutex<Option<usize>>,
    strays: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(transport()).await
    }

    /// [`Harness::start`] with the notifier on a transport already built: tests that make
    /// many harnesses in one runtime share one.
    pub async fn start_with(transport: ReqwestTransport) -> Harness {
        let server = MockServer::start_async().await;
        let store = Arc::new(MemoryStore::new());
        let notifier = notifier_with(
            store.clone(),
            &server.base_url(),
            &server.base_url(),
            transport,
        );
        let h = Harness {
            server,
            store,
            notifier,
            catch_all: Mutex::new(None),
            strays: Arc::new(Mutex::new(Vec::new())),
        };
        h.mount_catch_all().await;
        h
    }

    async fn mount_catch_all(&self) {
        let strays = self.strays.clone();
        let m = self
            .server
            .mock_async(move |_when, then| {
                then.respond_with(move |req: &HttpMockRequest| {
                    let seen = describe(req);
                    strays
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(seen.clone());
                    HttpMockResponse::builder()
                        .status(STRAY_STATUS)
                        .header("content-type", "application/json")
                        .body(
                            json!({ "errorMessages": [format!("no mock expected {seen}")] })
                                .to_string(),
                        )
                        .build()
                });
            })
            .await;
        *self.catch_all.lock().unwrap() = Some(m.id());
    }

    async fn unmount_catch_all(&self) {
        let id = self.catch_all.lock().unwrap().take();
        if let Some(id) = id {
            Mock::new(id, &self.server).delete_async().await;
        }
    }

    /// Adds a mock, below which the catch-all stays.
    pub async fn mock<F>(&self, spec: F) -> Mock<'_>
    where
        F: FnOnce(When, Then),
    {
        self.unmount_catch_all().await;
        let m = self.server.mock_async(spec).await;
        self.mount_catch_all().await;
        m
    }

    /// Removes every mock (the catch-all comes back), so that the next phase of a test
    /// counts every request it makes. Stray requests seen so far are kept.
    pub async fn reset(&self) {
        self.server.reset_async().await;
        *self.catch_all.lock().unwrap() = None;
        self.mount_catch_all().await;
    }

    /// The requests that reached the catch-all.
    pub fn strays(&self) -> Vec<String> {
        self.strays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fails the test if any request reached the catch-all.
    pub fn assert_no_strays(&self) {
        let strays = self.strays();
        assert!(
            strays.is_empty(),
            "{} unexpected request(s) reached the catch-all:\n{}",
            strays.len(),
            strays.join("\n")
        );
    }

    // --- Atlassian auth and discovery ---------------------------------------------------

    /// The token endpoint, answering `token` to exactly the client-credentials grant.
    pub async fn mock_token(&self, token: &str) -> Mock<'_> {
        let token = token.to_owned();
        self.mock(move |when, then| {
            token_request(when);
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({
                    "access_token": token,
                    "expires_in": 3600,
                    "token_type": "Bearer",
                    "scope": "read:jira-work write:jira-work read:jira-user",
                }));
        })
        .await
    }

    /// accessible-resources, asked with `token`, answering `resources`.
    pub async fn mock_sites(&self, token: &str, resources: Value) -> Mock<'_> {
        let token = token.to_owned();
        self.mock(move |when, then| {
            get(when, "/oauth/token/accessible-resources", &[], &token);
            then.status(200)
                .header("content-type", "application/json")
                .json_body(resources);
        })
        .await
    }

    /// Connects to the one site, checking both requests, then clears the mocks.
    pub async fn connect(&self) -> Site {
        let token = self.mock_token(TOKEN).await;
        let sites = self
            .mock_sites(TOKEN, json!([site_resource(CLOUD_ID, SITE_NAME)]))
            .await;
        let connected = self.notifier.connect(creds()).await.expect("connect");
        assert_eq!(connected, site());
        token.assert_calls_async(1).await;
        sites.assert_calls_async(1).await;
        self.reset().await;
        connected
    }

    // --- Settings --------------------------------------------------------------------------

    /// `GET /project/{key}` answering the project.
    pub async fn mock_project(&self, key: &str, id: &str) -> Mock<'_> {
        let (key, id) = (key.to_owned(), id.to_owned());
        self.mock(move |when, then| {
            get(when, &jira_path(&format!("project/{key}")), &[], TOKEN);
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({
                    "id": id,
                    "key": key,
                    "name": format!("Project {key}"),
                    "projectTypeKey": "software",
                }));
        })
        .await
    }

    /// One page of createmeta issue types for a project.
    pub async fn mock_issue_types(
        &self,
        key: &str,
        start_at: u64,
        types: Value,
        total: u64,
    ) -> Mock<'_> {
        let key = key.to_owned();
        self.mock(move |when, then| {
            get(
                when,
                &jira_path(&format!("issue/createmeta/{key}/issuetypes")),
                &[("startAt", &start_at.to_string()), ("maxResults", "200")],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({
                    "startAt": start_at,
                    "maxResults": 200,
                    "total": total,
                    "issueTypes": types,
                }));
        })
        .await
    }

    /// The exact-account assignable check, answering `users`.
    pub async fn mock_assignable_check(
        &self,
        key: &str,
        account_id: &str,
        users: Value,
    ) -> Mock<'_> {
        let (key, account_id) = (key.to_owned(), account_id.to_owned());
        self.mock(move |when, then| {
            get(
                when,
                &jira_path("user/assignable/search"),
                &[
                    ("project", &key),
                    ("accountId", &account_id),
                    ("startAt", "0"),
                    ("maxResults", "100"),
                ],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(users);
        })
        .await
    }

    /// The permission check for a project, answering that the service account has
    /// `have` (of the four the crate asks about).
    pub async fn mock_permissions(&self, key: &str, have: &[&str]) -> Mock<'_> {
        let key = key.to_owned();
        let answer = permissions_answer(have);
        self.mock(move |when, then| {
            get(
                when,
                &jira_path("mypermissions"),
                &[("projectKey", &key), ("permissions", PERMISSIONS_ASKED)],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(answer);
        })
        .await
    }

    /// One page of a create screen's fields (createmeta for an issue type).
    pub async fn mock_screen(
        &self,
        key: &str,
        issue_type_id: &str,
        start_at: u64,
        fields: Value,
        total: u64,
    ) -> Mock<'_> {
        let path = jira_path(&format!(
            "issue/createmeta/{key}/issuetypes/{issue_type_id}"
        ));
        self.mock(move |when, then| {
            get(
                when,
                &path,
                &[("startAt", &start_at.to_string()), ("maxResults", "200")],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({
                    "startAt": start_at,
                    "maxResults": 200,
                    "total": total,
                    "fields": fields,
                }));
        })
        .await
    }

    /// Saves `settings` for project QA (issue types Bug and Sub-task, a create screen with
    /// every field the crate fills, every permission), checking the requests it takes,
    /// then clears the mocks.
    pub async fn configure(&self, settings: Settings) {
        self.configure_on(settings, full_screen()).await;
    }

    /// [`Harness::configure`] with another create screen for QA's Bug.
    pub async fn configure_on(&self, settings: Settings, screen: Value) {
        let project = self.mock_project(PROJECT_KEY, PROJECT_ID).await;
        let permissions = self.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
        let types = self
            .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
            .await;
        let total = screen.as_array().map_or(0, Vec::len) as u64;
        let fields = self
            .mock_screen(PROJECT_KEY, BUG_ID, 0, screen, total)
            .await;
        let assignee = match settings.assignee.account_id() {
            Some(id) => Some(
                self.mock_assignable_check(PROJECT_KEY, id, json!([user(id, "Assignee", true)]))
                    .await,
            ),
            None => None,
        };
        self.notifier
            .save_settings(settings)
            .await
            .expect("save_settings");
        project.assert_calls_async(1).await;
        permissions.assert_calls_async(1).await;
        types.assert_calls_async(1).await;
        fields.assert_calls_async(1).await;
        if let Some(a) = assignee {
            a.assert_calls_async(1).await;
        }
        self.reset().await;
    }

    /// Connected, with the default settings for project QA, and no mock left.
    pub async fn ready(&self) {
        self.connect().await;
        self.configure(Settings::new(PROJECT_KEY)).await;
    }

    // --- Reporting ---------------------------------------------------------------------------

    /// Reports the checkout test's failure, as most scenarios do.
    pub async fn report_checkout(&self) -> jira_notifier::Result<jira_notifier::Outcome> {
        self.notifier.on_test_error(&checkout(), &failed()).await
    }

    /// The duplicate check for `label`, answering `issues`.
    pub async fn mock_search(
        &self,
        token: &str,
        label: &str,
        reconcile: Option<u64>,
        issues: Value,
    ) -> Mock<'_> {
        let token = token.to_owned();
        let body = search_body(label, reconcile);
        self.mock(move |when, then| {
            post(when, &jira_path("search/jql"), &token, body);
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({ "issues": issues, "isLast": true }));
        })
        .await
    }

    /// The duplicate check for `label` with any answer.
    pub async fn mock_search_with<R>(
        &self,
        label: &str,
        reconcile: Option<u64>,
        respond: R,
    ) -> Mock<'_>
    where
        R: FnOnce(Then),
    {
        let body = search_body(label, reconcile);
        self.mock(move |when, then| {
            post(when, &jira_path("search/jql"), TOKEN, body);
            respond(then);
        })
        .await
    }

    /// `POST /issue` with exactly `body`, answering `201` with the id and key.
    pub async fn mock_create(&self, token: &str, body: Value, id: &str, key: &str) -> Mock<'_> {
        let token = token.to_owned();
        let answer = created(id, key);
        self.mock(move |when, then| {
            post(when, &jira_path("issue"), &token, body);
            then.status(201)
                .header("content-type", "application/json")
                .json_body(answer);
        })
        .await
    }

    /// `POST /issue` with exactly `body`, with any answer.
    pub async fn mock_create_with<R>(&self, body: Value, respond: R) -> Mock<'_>
    where
        R: FnOnce(Then),
    {
        self.mock(move |when, then| {
            post(when, &jira_path("issue"), TOKEN, body);
            respond(then);
        })
        .await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Tests assert this themselves; this catches a test that forgot to.
        if !std::thread::panicking() {
            self.assert_no_strays();
        }
    }
}

fn describe(req: &HttpMockRequest) -> String {
    let uri = req.uri();
    let mut out = format!(
        "{} {}",
        req.method_str(),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    for (k, v) in req.headers_vec() {
        let _ = write!(out, "\n    {k}: {v}");
    }
    let body = req.body_string();
    if !body.is_empty() {
        let _ = write!(out, "\n    body: {body}");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Request expectations
// ---------------------------------------------------------------------------------------

/// The query string holds exactly these pairs, in this order.
pub fn exact_query(when: When, expected: &[(&str, &str)]) -> When {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    when.is_true(move |req: &HttpMockRequest| req.query_params() == expected)
}

/// A bearer-authorised GET that sends no body and no content-type.
pub fn get(when: When, path: &str, query: &[(&str, &str)], token: &str) -> When {
    let when = when
        .method("GET")
        .path(path)
        .header("accept", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header_missing("content-type")
        .is_true(|req: &HttpMockRequest| req.body_ref().is_empty());
    exact_query(when, query)
}

/// A bearer-authorised JSON POST with exactly `body` and no query.
pub fn post(when: When, path: &str, token: &str, body: Value) -> When {
    let when = when
        .method("POST")
        .path(path)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .json_body(body);
    exact_query(when, &[])
}

/// The token request: the client-credentials grant, with no bearer token.
pub fn token_request(when: When) -> When {
    let when = when
        .method("POST")
        .path("/oauth/token")
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header_missing("authorization")
        .json_body(json!({
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "audience": "api.atlassian.com",
        }));
    exact_query(when, &[])
}

// ---------------------------------------------------------------------------------------
// Jira bodies
// ---------------------------------------------------------------------------------------

pub fn site_resource(cloud_id: &str, name: &str) -> Value {
    json!({
        "id": cloud_id,
        "name": name,
        "url": format!("https://{name}.atlassian.net"),
        "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"],
        "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
    })
}

/// The permissions the crate asks about, as the `permissions` parameter carries them.
pub const PERMISSIONS_ASKED: &str = "BROWSE_PROJECTS,CREATE_ISSUES,ASSIGN_ISSUES,ADD_COMMENTS";
/// Every permission the crate asks about.
pub const ALL_PERMISSIONS: [&str; 4] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "ASSIGN_ISSUES",
    "ADD_COMMENTS",
];

/// Jira's answer to the permission check: the four asked, `have` of them granted.
pub fn permissions_answer(have: &[&str]) -> Value {
    let mut permissions = serde_json::Map::new();
    for (key, id) in [
        ("BROWSE_PROJECTS", "10"),
        ("CREATE_ISSUES", "11"),
        ("ASSIGN_ISSUES", "13"),
        ("ADD_COMMENTS", "15"),
    ] {
        permissions.insert(
            key.to_owned(),
            json!({
                "id": id,
                "key": key,
                "name": key,
                "type": "PROJECT",
                "description": "",
                "havePermission": have.contains(&key),
            }),
        );
    }
    json!({ "permissions": permissions })
}

/// A field of a create screen, as createmeta describes it.
pub fn screen_field(id: &str, name: &str, required: bool, schema: Value) -> Value {
    json!({
        "required": required,
        "schema": schema,
        "name": name,
        "key": id,
        "fieldId": id,
        "hasDefaultValue": false,
        "operations": ["set"],
    })
}

/// A create screen's field with allowed values `(id, name)`.
pub fn choice_field(
    id: &str,
    name: &str,
    required: bool,
    schema: Value,
    allowed: &[(&str, &str)],
) -> Value {
    let mut f = screen_field(id, name, required, schema);
    f["allowedValues"] = allowed
        .iter()
        .map(|(id, name)| json!({ "id": id, "name": name, "self": format!("https://x/{id}") }))
        .collect();
    f
}

/// The create screen of a project with every field the crate fills (what the crate
/// always assumed).
pub fn full_screen() -> Value {
    json!([
        screen_field(
            "project",
            "Project",
            true,
            json!({"type": "project", "system": "project"})
        ),
        screen_field(
            "issuetype",
            "Issue Type",
            true,
            json!({"type": "issuetype", "system": "issuetype"})
        ),
        screen_field(
            "summary",
            "Summary",
            true,
            json!({"type": "string", "system": "summary"})
        ),
        screen_field(
            "description",
            "Description",
            false,
            json!({"type": "string", "system": "description"})
        ),
        screen_field(
            "labels",
            "Labels",
            false,
            json!({"type": "array", "items": "string", "system": "labels"})
        ),
        screen_field(
            "assignee",
            "Assignee",
            false,
            json!({"type": "user", "system": "assignee"})
        ),
        with_default(screen_field(
            "reporter",
            "Reporter",
            true,
            json!({"type": "user", "system": "reporter"})
        )),
    ])
}

/// A field with a default value in Jira.
pub fn with_default(mut field: Value) -> Value {
    field["hasDefaultValue"] = json!(true);
    field
}

/// [`full_screen`] without some fields, with others added.
pub fn screen_with(without: &[&str], add: &[Value]) -> Value {
    let mut fields: Vec<Value> = full_screen()
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !without.contains(&f["fieldId"].as_str().unwrap()))
        .cloned()
        .collect();
    fields.extend(add.iter().cloned());
    Value::Array(fields)
}

pub fn qa_issue_types() -> Value {
    json!([
        { "id": BUG_ID, "name": "Bug", "subtask": false, "description": "A problem." },
        { "id": "10005", "name": "Sub-task", "subtask": true },
    ])
}

pub fn user(account_id: &str, name: &str, active: bool) -> Value {
    json!({
        "accountId": account_id,
        "accountType": "atlassian",
        "displayName": name,
        "active": active,
    })
}

/// The search body the duplicate check must send.
pub fn search_body(label: &str, reconcile: Option<u64>) -> Value {
    let jql = match reconcile {
        Some(id) => {
            format!("labels = \"{label}\" AND (statusCategory != Done OR issue = {id})")
        }
        None => format!("labels = \"{label}\" AND statusCategory != Done"),
    };
    let mut body = json!({
        "jql": jql,
        "fields": ["key", "status", "labels", "resolution", "statuscategorychangedate"],
        "maxResults": 10,
    });
    if let Some(id) = reconcile {
        body["reconcileIssues"] = json!([id]);
    }
    body
}

/// An issue as the search returns it.
pub fn found_issue(id: &str, key: &str, category: &str, labels: &[&str]) -> Value {
    json!({
        "id": id,
        "key": key,
        "self": format!("https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3/issue/{id}"),
        "fields": {
            "status": { "name": "Status", "statusCategory": { "id": 2, "key": category } },
            "labels": labels,
        },
    })
}

/// The answer to a create.
pub fn created(id: &str, key: &str) -> Value {
    json!({
        "id": id,
        "key": key,
        "self": format!("https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3/issue/{id}"),
    })
}

/// The ADF description of a failure of a test with a link: the intro naming the test
/// (linked), the message in a code block, and the link again.
pub fn failure_description(name: &str, url: &str, message: &str) -> Value {
    let link = json!([{ "type": "link", "attrs": { "href": url } }]);
    json!({
        "version": 1,
        "type": "doc",
        "content": [
            { "type": "paragraph", "content": [
                { "type": "text", "text": "Test " },
                { "type": "text", "text": name, "marks": link },
                { "type": "text", "text": " failed with this error:" },
            ]},
            { "type": "codeBlock", "content": [{ "type": "text", "text": message }] },
            { "type": "paragraph", "content": [
                { "type": "text", "text": "Open the test: " },
                { "type": "text", "text": url, "marks": link },
            ]},
        ],
    })
}

/// The create body of a test failure.
pub struct CreateBody<'a> {
    pub project_id: &'a str,
    pub issue_type_id: &'a str,
    pub name: &'a str,
    pub url: &'a str,
    pub message: &'a str,
    pub labels: &'a [&'a str],
    pub assignee: Option<&'a str>,
}

impl CreateBody<'_> {
    pub fn json(&self) -> Value {
        let mut fields = json!({
            "project": { "id": self.project_id },
            "issuetype": { "id": self.issue_type_id },
            "summary": format!("Test Failed: {}", self.name),
            "description": failure_description(self.name, self.url, self.message),
            "labels": self.labels,
        });
        if let Some(a) = self.assignee {
            fields["assignee"] = json!({ "accountId": a });
        }
        json!({ "fields": fields })
    }
}

// ---------------------------------------------------------------------------------------
// The test most tests report
// ---------------------------------------------------------------------------------------

pub fn checkout() -> TestInfo {
    TestInfo::new(TEST_ID, TEST_NAME, TEST_URL)
}

pub fn failed() -> TestStatus {
    TestStatus::error(MESSAGE)
}

/// The create body of the checkout test's failure in project QA as a Bug.
pub fn checkout_create(labels: &[&str], assignee: Option<&str>) -> Value {
    CreateBody {
        project_id: PROJECT_ID,
        issue_type_id: BUG_ID,
        name: TEST_NAME,
        url: TEST_URL,
        message: MESSAGE,
        labels,
        assignee,
    }
    .json()
}

/// The link people open for an issue of the site.
pub fn browse(key: &str) -> String {
    format!("{SITE_URL}/browse/{key}")
}

// ---------------------------------------------------------------------------------------
// Helpers for other notifiers on the harness's server
// ---------------------------------------------------------------------------------------

impl Harness {
    /// Takes the requests that reached the catch-all so far, so that a test can report them
    /// as its own failure instead of the harness panicking when it is dropped.
    pub fn take_strays(&self) -> Vec<String> {
        std::mem::take(&mut *self.strays.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Whether a request carries the first or the renewed access token.
pub fn bearer(when: When) -> When {
    when.is_true(|req: &HttpMockRequest| {
        req.headers_vec().iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("authorization")
                && (*v == format!("Bearer {TOKEN}") || *v == format!("Bearer {TOKEN2}"))
        })
    })
}

/// A GET like [`get`], with either token.
pub fn get_any_token(when: When, path: &str, query: &[(&str, &str)]) -> When {
    let when = bearer(
        when.method("GET")
            .path(path)
            .header("accept", "application/json")
            .header_missing("content-type")
            .is_true(|req: &HttpMockRequest| req.body_ref().is_empty()),
    );
    exact_query(when, query)
}

/// A POST like [`post`], with either token.
pub fn post_any_token(when: When, path: &str, body: Value) -> When {
    let when = bearer(
        when.method("POST")
            .path(path)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .json_body(body),
    );
    exact_query(when, &[])
}

fn json_response(status: u16, body: &Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// What the stateful Jira of [`mount_jira`] has done.
#[derive(Debug, Default)]
pub struct JiraState {
    tokens: AtomicUsize,
    created: Mutex<Vec<(String, String)>>,
}

impl JiraState {
    /// How many tokens were handed out.
    pub fn tokens(&self) -> usize {
        self.tokens.load(Ordering::SeqCst)
    }

    /// The issues created (id, key), in order.
    pub fn created(&self) -> Vec<(String, String)> {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A Jira that behaves, for every call the crate makes, with state: the first token is
/// [`TOKEN`] and every later one [`TOKEN2`] (both are accepted); project QA with Bug;
/// one assignable user; the checkout test's creates make QA-41, QA-42, ... and the
/// search for its label shows every issue created so far (no search lag); every
/// permission, and a create screen with every field the crate fills. Requests are
/// matched exactly; anything else reaches the catch-all.
pub async fn mount_jira(h: &Harness) -> Arc<JiraState> {
    let state = Arc::new(JiraState::default());
    let s = state.clone();
    h.mock(move |when, then| {
        token_request(when);
        then.respond_with(move |_req: &HttpMockRequest| {
            let n = s.tokens.fetch_add(1, Ordering::SeqCst);
            let token = if n == 0 { TOKEN } else { TOKEN2 };
            json_response(
                200,
                &json!({
                    "access_token": token,
                    "expires_in": 3600,
                    "token_type": "Bearer",
                    "scope": "read:jira-work write:jira-work read:jira-user",
                }),
            )
        });
    })
    .await;
    h.mock(|when, then| {
        get_any_token(when, "/oauth/token/accessible-resources", &[]);
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!([site_resource(CLOUD_ID, SITE_NAME)]));
    })
    .await;
    h.mock(|when, then| {
        get_any_token(
            when,
            &jira_path("project/search"),
            &[
                ("startAt", "0"),
                ("maxResults", "100"),
                ("action", "create"),
            ],
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({
                "isLast": true,
                "values": [{ "id": PROJECT_ID, "key": PROJECT_KEY, "name": "Quality" }],
            }));
    })
    .await;
    h.mock(|when, then| {
        get_any_token(when, &jira_path(&format!("project/{PROJECT_KEY}")), &[]);
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({
                "id": PROJECT_ID,
                "key": PROJECT_KEY,
                "name": "Quality",
                "projectTypeKey": "software",
            }));
    })
    .await;
    h.mock(|when, then| {
        get_any_token(
            when,
            &jira_path(&format!("issue/createmeta/{PROJECT_KEY}/issuetypes")),
            &[("startAt", "0"), ("maxResults", "200")],
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({
                "startAt": 0,
                "maxResults": 200,
                "total": 2,
                "issueTypes": qa_issue_types(),
            }));
    })
    .await;
    h.mock(|when, then| {
        get_any_token(
            when,
            &jira_path("mypermissions"),
            &[
                ("projectKey", PROJECT_KEY),
                ("permissions", PERMISSIONS_ASKED),
            ],
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(permissions_answer(&ALL_PERMISSIONS));
    })
    .await;
    h.mock(|when, then| {
        get_any_token(
            when,
            &jira_path(&format!(
                "issue/createmeta/{PROJECT_KEY}/issuetypes/{BUG_ID}"
            )),
            &[("startAt", "0"), ("maxResults", "200")],
        );
        let screen = full_screen();
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({
                "startAt": 0,
                "maxResults": 200,
                "total": screen.as_array().map_or(0, Vec::len),
                "fields": screen,
            }));
    })
    .await;
    // Jira's assignee search windows over its first 1,000 candidates and filters each
    // window: one user in the first, nine empty windows after it.
    for start_at in (0..1_000).step_by(100) {
        let users = if start_at == 0 {
            json!([user("acc-7", "Assignee", true)])
        } else {
            json!([])
        };
        h.mock(move |when, then| {
            get_any_token(
                when,
                &jira_path("user/assignable/search"),
                &[
                    ("project", PROJECT_KEY),
                    ("startAt", &start_at.to_string()),
                    ("maxResults", "100"),
                ],
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(users);
        })
        .await;
    }
    let s = state.clone();
    h.mock(move |when, then| {
        post_any_token(when, &jira_path("search/jql"), search_body(LABEL, None));
        then.respond_with(move |_req: &HttpMockRequest| {
            let issues: Vec<Value> = s
                .created()
                .iter()
                .map(|(id, key)| found_issue(id, key, "new", &[LABEL]))
                .collect();
            json_response(200, &json!({ "issues": issues, "isLast": true }))
        });
    })
    .await;
    let s = state.clone();
    h.mock(move |when, then| {
        post_any_token(when, &jira_path("issue"), checkout_create(&[LABEL], None));
        then.respond_with(move |_req: &HttpMockRequest| {
            let mut issues = s.created.lock().unwrap_or_else(|e| e.into_inner());
            let n = issues.len() + 41;
            let (id, key) = (format!("100{n}"), format!("QA-{n}"));
            issues.push((id.clone(), key.clone()));
            json_response(201, &created(&id, &key))
        });
    })
    .await;
    state
}

// ---------------------------------------------------------------------------------------
// Faults on the wire
// ---------------------------------------------------------------------------------------

/// Every call the crate makes, told apart by method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Token,
    Sites,
    ProjectList,
    ProjectLookup,
    Permissions,
    IssueTypes,
    CreateFields,
    AssignableUsers,
    Search,
    Create,
}

impl Call {
    /// The short name traces are written with.
    pub fn name(self) -> &'static str {
        match self {
            Call::Token => "tok",
            Call::Sites => "sites",
            Call::ProjectList => "plist",
            Call::ProjectLookup => "proj",
            Call::Permissions => "perms",
            Call::IssueTypes => "types",
            Call::CreateFields => "fields",
            Call::AssignableUsers => "users",
            Call::Search => "search",
            Call::Create => "create",
        }
    }

    /// Which call a request is.
    pub fn of(method: &str, target: &str) -> Option<Call> {
        let path = target.split('?').next().unwrap_or_default();
        match (method, path) {
            ("POST", "/oauth/token") => return Some(Call::Token),
            ("GET", "/oauth/token/accessible-resources") => return Some(Call::Sites),
            _ => {}
        }
        let rest = path.strip_prefix(&format!("/ex/jira/{CLOUD_ID}/rest/api/3/"))?;
        Some(match (method, rest) {
            ("GET", "project/search") => Call::ProjectList,
            ("GET", r) if r.starts_with("project/") => Call::ProjectLookup,
            ("GET", r) if r.starts_with("issue/createmeta/") && r.ends_with("/issuetypes") => {
                Call::IssueTypes
            }
            ("GET", r) if r.starts_with("issue/createmeta/") && r.contains("/issuetypes/") => {
                Call::CreateFields
            }
            ("GET", "mypermissions") => Call::Permissions,
            ("GET", "user/assignable/search") => Call::AssignableUsers,
            ("POST", "search/jql") => Call::Search,
            ("POST", "issue") => Call::Create,
            _ => return None,
        })
    }
}

/// A fault the [`FaultServer`] plays for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accepts the request and never answers.
    NoAnswer,
    /// No one listens: the connection is refused.
    Refused,
    /// Jira's answer is cut in the middle of its body by a TCP reset.
    ResetMidBody,
    /// Jira's answer ends half way through a body its Content-Length says is longer.
    ShortBody,
    /// 500 with Jira's error JSON, after Jira handled the request.
    E500,
    /// 502 with a plain-text body, after Jira handled the request.
    E502,
    /// 503 with Jira's error JSON and no Retry-After.
    E503,
    /// 503 with `Retry-After: 1`.
    E503RetryAfter,
    /// 429 with `Retry-After: 1`.
    E429RetryAfter,
    /// 429 with a `Retry-After` HTTP date 1 to 2 s ahead.
    E429RetryDate,
    /// 503 with an HTML error page (the recorded "Page Unavailable").
    HtmlPage,
    /// Jira's status with `text/plain` and a body that is not JSON.
    WrongType,
    /// Jira's status, `application/json`, and a body that is not JSON.
    Malformed,
    /// Jira's status and its JSON cut in half, with a Content-Length that matches.
    Truncated,
    /// 401: the token expired.
    E401,
    /// 403: the credential lacks a scope.
    E403,
    /// 302 to another host (which must never be asked).
    Redirect,
    /// Jira's status and a chunked body that never ends.
    Endless,
    /// Jira's status and a body twice the transport's cap, announced in Content-Length.
    Huge,
}

impl Fault {
    /// Whether Jira handles the request before the answer goes wrong: a create may have
    /// landed. The others never reach Jira.
    pub fn after_commit(self) -> bool {
        matches!(
            self,
            Fault::ResetMidBody
                | Fault::ShortBody
                | Fault::E500
                | Fault::E502
                | Fault::WrongType
                | Fault::Malformed
                | Fault::Truncated
                | Fault::Endless
                | Fault::Huge
        )
    }
}

/// How many of the target call's requests get the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// The first one only.
    Once,
    /// Every one.
    Always,
}

/// How long a fault server lives at most, and how many connections each of its hosts
/// accepts: it stops by itself.
const FRONT_LIFETIME: Duration = Duration::from_secs(30);
const FRONT_MAX_CONNECTIONS: usize = 64;
/// How long one connection is served at most (a fault that never answers waits this long
/// for the client to give up).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);
/// What an endless or huge body stops at, if the client never hangs up.
const MAX_FAULT_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Auth,
    Api,
    Elsewhere,
}

/// A raw HTTP/1.1 server in front of the harness's mock server, playing both Atlassian
/// hosts: it forwards every request upstream, except those of the target call, which get
/// the fault (after forwarding them, for faults that come after Jira handled the request).
/// Each connection serves one request and is closed. It records the calls it saw, in
/// order, and runs a third host, "elsewhere", that counts the connections it gets.
pub struct FaultServer {
    auth: SocketAddr,
    api: SocketAddr,
    front: Arc<Front>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Front {
    upstream: SocketAddr,
    elsewhere: SocketAddr,
    target: Call,
    fault: Fault,
    left: AtomicUsize,
    seen: Mutex<Vec<String>>,
    /// Failures to pass a request on or its answer back, which no fault explains.
    errors: Mutex<Vec<String>>,
    elsewhere_hits: AtomicUsize,
    refuse_after: Option<Call>,
    close_api: Mutex<Option<mpsc::Sender<oneshot::Sender<()>>>>,
    /// The ports of refused hosts, bound without listening: connections are refused, and
    /// no other server can take the port meanwhile.
    held: Mutex<Vec<tokio::net::TcpSocket>>,
}

impl FaultServer {
    /// Starts the hosts. With [`Fault::Refused`], the target's host listens to nobody: from
    /// the start, or (`refuse_after`) from the moment the answer to that call is ready,
    /// before it is sent, so that the next connection is refused.
    pub async fn start(
        upstream: SocketAddr,
        target: Call,
        fault: Fault,
        times: Times,
        refuse_after: Option<Call>,
    ) -> FaultServer {
        let bind = || async {
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port")
        };
        let (auth, api, elsewhere) = (bind().await, bind().await, bind().await);
        let addr = |l: &tokio::net::TcpListener| l.local_addr().expect("a bound address");
        let (auth_addr, api_addr, elsewhere_addr) = (addr(&auth), addr(&api), addr(&elsewhere));
        let refused = fault == Fault::Refused;
        let (close_tx, close_rx) = mpsc::channel(1);
        let front = Arc::new(Front {
            upstream,
            elsewhere: elsewhere_addr,
            target,
            fault,
            left: AtomicUsize::new(match times {
                Times::Once => 1,
                Times::Always => usize::MAX,
            }),
            seen: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            elsewhere_hits: AtomicUsize::new(0),
            refuse_after: refuse_after.filter(|_| refused),
            close_api: Mutex::new(Some(close_tx)),
            held: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        // A host refused from the start never listens.
        if refused && target == Call::Token {
            front.hold(auth);
        } else {
            tasks.push(tokio::spawn(accept(auth, front.clone(), Host::Auth, None)));
        }
        if refused && target != Call::Token && front.refuse_after.is_none() {
            front.hold(api);
        } else {
            tasks.push(tokio::spawn(accept(
                api,
                front.clone(),
                Host::Api,
                Some(close_rx),
            )));
        }
        tasks.push(tokio::spawn(accept(
            elsewhere,
            front.clone(),
            Host::Elsewhere,
            None,
        )));
        FaultServer {
            auth: auth_addr,
            api: api_addr,
            front,
            tasks,
        }
    }

    pub fn auth_url(&self) -> String {
        format!("http://{}", self.auth)
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    /// The calls the hosts saw, in order, by short name, separated by spaces.
    pub fn trace(&self) -> String {
        self.front
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join(" ")
    }

    /// Requests the server could not pass on, or whose answers it could not pass back,
    /// although no fault was played on them.
    pub fn errors(&self) -> Vec<String> {
        self.front
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The other host, for redirects (and for tests of this server).
    pub fn elsewhere_url(&self) -> String {
        format!("http://{}", self.front.elsewhere)
    }

    /// How many connections the other host got.
    pub fn elsewhere_hits(&self) -> usize {
        self.front.elsewhere_hits.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    front: Arc<Front>,
    host: Host,
    mut close: Option<mpsc::Receiver<oneshot::Sender<()>>>,
) {
    enum Event {
        Accepted(tokio::net::TcpStream),
        Close(oneshot::Sender<()>),
        Stop,
    }
    let deadline = tokio::time::Instant::now() + FRONT_LIFETIME;
    let mut connections = tokio::task::JoinSet::new();
    let mut ack = None;
    for _ in 0..FRONT_MAX_CONNECTIONS {
        let closing = async {
            match close.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            accepted = tokio::time::timeout_at(deadline, listener.accept()) => match accepted {
                Ok(Ok((stream, _))) => Event::Accepted(stream),
                _ => Event::Stop,
            },
            Some(a) = closing => Event::Close(a),
        };
        match event {
            Event::Accepted(stream) => {
                connections.spawn(serve(stream, front.clone(), host));
            }
            Event::Close(a) => {
                ack = Some(a);
                break;
            }
            Event::Stop => break,
        }
    }
    if let Some(a) = ack {
        front.hold(listener);
        let _ = a.send(());
    } else {
        drop(listener);
    }
    while connections.join_next().await.is_some() {}
}

async fn serve(mut stream: tokio::net::TcpStream, front: Arc<Front>, host: Host) {
    let _ = tokio::time::timeout(CONNECTION_LIFETIME, serve_one(&mut stream, &front, host)).await;
}

struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("application/json")
            .to_owned()
    }

    /// The answer as sent to the client: its own headers, the body's length, and a close.
    fn encode(&self) -> Vec<u8> {
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| {
                !["content-length", "transfer-encoding", "connection"]
                    .contains(&k.to_ascii_lowercase().as_str())
            })
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let mut out = head(self.status, &headers, Some(self.body.len()));
        out.extend_from_slice(&self.body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A status line and headers, closing the connection; `Content-Length` when given.
fn head(status: u16, headers: &[(&str, String)], length: Option<usize>) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    if let Some(n) = length {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    out.push_str("connection: close\r\n\r\n");
    out.into_bytes()
}

fn answer(status: u16, content_type: &str, extra: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut headers = vec![("content-type", content_type.to_owned())];
    headers.extend(extra.iter().cloned());
    let mut out = head(status, &headers, Some(body.len()));
    out.extend_from_slice(body);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn io_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads up to the end of a head, returning the bytes read (head and what followed).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<(Vec<u8>, usize)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            return Ok((buf, i));
        }
        if buf.len() > 64 * 1024 {
            return Err(io_error("a head over 64 KiB"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io_error("the connection ended inside a head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> std::io::Result<RawRequest> {
    let (buf, end) = read_head(stream).await?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| io_error("a head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers = parse_headers(lines);
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    let mut chunk = [0u8; 8192];
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io_error("the connection ended inside a body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(RawRequest {
        method,
        target,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n").ok_or_else(|| io_error("a chunk size line"))?;
        let size_line = std::str::from_utf8(&raw[..line_end]).map_err(|_| io_error("size"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| io_error("a chunk size in hex"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if raw.len() < size + 2 {
            return Err(io_error("a chunk cut short"));
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Sends the request to the mock server on a connection of its own, and reads the whole
/// answer.
async fn forward(upstream: SocketAddr, req: &RawRequest) -> std::io::Result<RawResponse> {
    let mut up = tokio::net::TcpStream::connect(upstream).await?;
    let mut out = format!(
        "{} {} HTTP/1.1\r\nhost: {upstream}\r\n",
        req.method, req.target
    );
    for (k, v) in &req.headers {
        if !["host", "connection", "content-length"].contains(&k.as_str()) {
            let _ = write!(out, "{k}: {v}\r\n");
        }
    }
    let _ = write!(
        out,
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body.len()
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&req.body);
    up.write_all(&bytes).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let end = find(&raw, b"\r\n\r\n").ok_or_else(|| io_error("no head in the answer"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| io_error("a head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io_error("no status"))?;
    let headers = parse_headers(lines);
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        match headers.iter().find(|(k, _)| k == "content-length") {
            Some((_, v)) => {
                let n: usize = v.parse().map_err(|_| io_error("a content-length"))?;
                rest.get(..n)
                    .ok_or_else(|| io_error("a body cut short"))?
                    .to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

impl Front {
    /// Stops listening on the listener's port but keeps the port.
    fn hold(&self, listener: tokio::net::TcpListener) {
        let addr = listener.local_addr().expect("a bound address");
        drop(listener);
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        // Connections the host served may linger on the port in TIME_WAIT.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(addr).expect("the port just released");
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(socket);
    }

    /// Whether this request of the target call gets the fault.
    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                if n == 0 {
                    None
                } else if n == usize::MAX {
                    Some(n)
                } else {
                    Some(n - 1)
                }
            })
            .is_ok()
    }

    /// Stops the API host listening (once), and waits until it has.
    async fn close_api(&self) {
        let tx = self
            .close_api
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = tx {
            let (ack, done) = oneshot::channel();
            if tx.send(ack).await.is_ok() {
                let _ = done.await;
            }
        }
    }
}

async fn serve_one(
    stream: &mut tokio::net::TcpStream,
    front: &Front,
    host: Host,
) -> std::io::Result<()> {
    if host == Host::Elsewhere {
        front.elsewhere_hits.fetch_add(1, Ordering::SeqCst);
        let _ = read_request(stream).await;
        stream
            .write_all(&answer(200, "application/json", &[], b"{}"))
            .await?;
        return stream.shutdown().await;
    }
    let req = read_request(stream).await?;
    let call = Call::of(&req.method, &req.target);
    let name = call.map_or_else(
        || format!("{}:{}", req.method, req.target),
        |c| c.name().to_owned(),
    );
    front
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(name.clone());
    let faulty = call == Some(front.target) && front.fault != Fault::Refused && front.take();
    if !faulty {
        let relayed = async {
            let resp = forward(front.upstream, &req).await?;
            if call.is_some() && call == front.refuse_after {
                front.close_api().await;
            }
            stream.write_all(&resp.encode()).await?;
            stream.shutdown().await
        };
        return relayed.await.inspect_err(|e| {
            front
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{name}: {e}"));
        });
    }
    let jira = if front.fault.after_commit() {
        Some(forward(front.upstream, &req).await?)
    } else {
        None
    };
    let json = "application/json";
    let bytes = match (front.fault, jira) {
        (Fault::NoAnswer, _) => {
            // Wait for the client to give up (or the connection's time to run out).
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            return Ok(());
        }
        (Fault::E500, _) => answer(
            500,
            json,
            &[],
            br#"{"errorMessages":["Internal server error"],"errors":{}}"#,
        ),
        (Fault::E502, _) => answer(502, "text/plain", &[], b"Bad Gateway"),
        (Fault::E503, _) => answer(
            503,
            json,
            &[],
            br#"{"errorMessages":["Service Unavailable"]}"#,
        ),
        (Fault::E503RetryAfter, _) => answer(
            503,
            json,
            &[("retry-after", "1".to_owned())],
            br#"{"errorMessages":["Service Unavailable"]}"#,
        ),
        (Fault::E429RetryAfter, _) => answer(
            429,
            json,
            &[("retry-after", "1".to_owned())],
            br#"{"errorMessages":["Rate limit exceeded."],"errors":{}}"#,
        ),
        (Fault::E429RetryDate, _) => answer(
            429,
            json,
            &[(
                "retry-after",
                http_date(SystemTime::now() + Duration::from_secs(2)),
            )],
            br#"{"errorMessages":["Rate limit exceeded."],"errors":{}}"#,
        ),
        (Fault::HtmlPage, _) => {
            let page = Recorded::load("site_unknown");
            answer(503, page.content_type(), &[], &page.body)
        }
        (Fault::E401, _) => answer(401, json, &[], br#"{"code":401,"message":"Unauthorized"}"#),
        (Fault::E403, _) => answer(
            403,
            json,
            &[],
            br#"{"code":403,"message":"Forbidden: the credential lacks a scope this call needs"}"#,
        ),
        (Fault::Redirect, _) => {
            let location = format!("http://{}{}", front.elsewhere, req.target);
            answer(302, "text/plain", &[("location", location)], b"")
        }
        (Fault::WrongType, Some(j)) => answer(j.status, "text/plain", &[], b"Request accepted."),
        (Fault::Malformed, Some(j)) => {
            answer(j.status, json, &[], br#"{"values": [1, 2,, "isLast": tru"#)
        }
        (Fault::Truncated, Some(j)) => answer(
            j.status,
            &j.content_type(),
            &[],
            &j.body[..j.body.len() / 2],
        ),
        (Fault::ResetMidBody, Some(j)) => {
            let headers = [("content-type", j.content_type())];
            let mut out = head(j.status, &headers, Some(j.body.len()));
            out.extend_from_slice(&j.body[..j.body.len() / 2]);
            stream.write_all(&out).await?;
            stream.flush().await?;
            // Dropped with a zero linger: the kernel answers with a reset.
            stream.set_zero_linger()?;
            return Ok(());
        }
        (Fault::ShortBody, Some(j)) => {
            let headers = [("content-type", j.content_type())];
            let mut out = head(j.status, &headers, Some(j.body.len()));
            out.extend_from_slice(&j.body[..j.body.len() / 2]);
            stream.write_all(&out).await?;
            return stream.shutdown().await;
        }
        (Fault::Endless, Some(j)) => {
            let headers = [
                ("content-type", j.content_type()),
                ("transfer-encoding", "chunked".to_owned()),
            ];
            stream.write_all(&head(j.status, &headers, None)).await?;
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend(std::iter::repeat_n(b' ', 0x10000));
            chunk.extend_from_slice(b"\r\n");
            let mut sent = 0;
            while sent < MAX_FAULT_BODY {
                stream.write_all(&chunk).await?;
                sent += 0x10000;
            }
            return Ok(());
        }
        (Fault::Huge, Some(j)) => {
            let size = 2 * jira_notifier::DEFAULT_MAX_BODY;
            let headers = [("content-type", j.content_type())];
            stream
                .write_all(&head(j.status, &headers, Some(size)))
                .await?;
            let chunk = vec![b' '; 0x10000];
            let mut sent = 0;
            while sent < size {
                stream.write_all(&chunk).await?;
                sent += chunk.len();
            }
            return Ok(());
        }
        (Fault::Refused, _) => unreachable!("a refused host gets no request"),
        (fault, None) => unreachable!("{fault:?} comes after Jira's answer"),
    };
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as `Retry-After` carries it.
pub fn http_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .expect("a time after 1970")
        .as_secs();
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
    )
}

/// A test id, as the notifier hands it to a store.
pub fn tid(id: impl AsRef<str>) -> jira_notifier::TestId {
    jira_notifier::TestId::new(id.as_ref())
}
