//! Helpers for the simulator's own tests: requests as the crate sends them.

use serde_json::{json, Value};
use url::Url;

use super::SimJira;
use jira_notifier::{HttpRequest, HttpResponse, HttpTransport, Method};

pub(crate) const GATEWAY: &str =
    "https://api.atlassian.com/ex/jira/11111111-2222-3333-4444-555555555555";

fn request(method: Method, url: &str, token: Option<&str>, body: Option<Vec<u8>>) -> HttpRequest {
    let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
    if body.is_some() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    if let Some(token) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    HttpRequest::new(method, Url::parse(url).expect("test URL"))
        .with_headers(headers)
        .with_body(body)
}

pub(crate) fn get(url: &str, token: Option<&str>) -> HttpRequest {
    request(Method::Get, url, token, None)
}

pub(crate) fn post(url: &str, token: Option<&str>, body: Value) -> HttpRequest {
    request(
        Method::Post,
        url,
        token,
        Some(body.to_string().into_bytes()),
    )
}

pub(crate) fn put(url: &str, token: Option<&str>, body: Value) -> HttpRequest {
    request(Method::Put, url, token, Some(body.to_string().into_bytes()))
}

pub(crate) fn post_raw(url: &str, token: Option<&str>, body: Vec<u8>) -> HttpRequest {
    request(Method::Post, url, token, Some(body))
}

pub(crate) async fn send(sim: &SimJira, request: HttpRequest) -> HttpResponse {
    sim.send(request).await.expect("the simulator answers")
}

pub(crate) fn body_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

pub(crate) async fn token_for(sim: &SimJira) -> String {
    let grant = json!({
        "grant_type": "client_credentials",
        "client_id": SimJira::CLIENT_ID,
        "client_secret": SimJira::CLIENT_SECRET,
    });
    let response = send(
        sim,
        post("https://auth.atlassian.com/oauth/token", None, grant),
    )
    .await;
    body_of(&response)["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// A signed-in caller of the default site's Jira.
pub(crate) struct Client {
    pub(crate) sim: SimJira,
    pub(crate) token: String,
}

impl Client {
    pub(crate) async fn new(sim: &SimJira) -> Client {
        Client {
            sim: sim.clone(),
            token: token_for(sim).await,
        }
    }

    pub(crate) async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let url = format!("{GATEWAY}{path_and_query}");
        let response = send(&self.sim, get(&url, Some(&self.token))).await;
        (response.status, body_of(&response))
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{GATEWAY}{path}");
        let response = send(&self.sim, post(&url, Some(&self.token), body)).await;
        (response.status, body_of(&response))
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{GATEWAY}{path}");
        let response = send(&self.sim, put(&url, Some(&self.token), body)).await;
        (response.status, body_of(&response))
    }

    pub(crate) async fn post_raw(&self, path: &str, body: &[u8]) -> HttpResponse {
        let url = format!("{GATEWAY}{path}");
        send(&self.sim, post_raw(&url, Some(&self.token), body.to_vec())).await
    }

    /// Creates a Bug in QA with these labels; returns the answer's `{id, key, self}`.
    pub(crate) async fn create(&self, summary: &str, labels: &[&str]) -> Value {
        let (status, body) = self
            .post(
                "/rest/api/3/issue",
                json!({"fields": {
                    "project": {"key": "QA"},
                    "issuetype": {"name": "Bug"},
                    "summary": summary,
                    "labels": labels,
                }}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub(crate) async fn search(&self, body: Value) -> (u16, Value) {
        self.post("/rest/api/3/search/jql", body).await
    }
}
