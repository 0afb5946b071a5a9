//! Shared test machinery: recorded Jira answers, a mock server with a catch-all that
//! records every request nothing else expected, and a notifier wired to it.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::{HttpMockRequest, HttpMockResponse, Mock, MockServer, Then, When};
use jira_notifier::{
    Credentials, JiraNotifier, MemoryStore, ReqwestTransport, RetryPolicy, Settings, Site,
    TestInfo, TestStatus,
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
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_write_lookback(Duration::from_millis(200))
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
    JiraNotifier::builder(store)
        .auth_url(auth_url)
        .api_url(api_url)
        .transport(transport())
        .retry_policy(fast_policy())
        .build()
        .expect("the notifier builds")
}

pub fn creds() -> Credentials {
    Credentials::new(CLIENT_ID, CLIENT_SECRET.to_owned())
}

pub fn site() -> Site {
    Site {
        cloud_id: CLOUD_ID.to_owned(),
        name: SITE_NAME.to_owned(),
        url: SITE_URL.to_owned(),
    }
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
        let server = MockServer::start_async().await;
        let store = Arc::new(MemoryStore::new());
        let notifier = notifier(store.clone(), &server.base_url(), &server.base_url());
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

    /// Saves `settings` for project QA (issue types Bug and Sub-task), checking the
    /// requests it takes, then clears the mocks.
    pub async fn configure(&self, settings: Settings) {
        let project = self.mock_project(PROJECT_KEY, PROJECT_ID).await;
        let types = self
            .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
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
        types.assert_calls_async(1).await;
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
    let mut body = json!({
        "jql": format!("labels = \"{label}\" AND statusCategory != Done"),
        "fields": ["key", "status", "labels"],
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
