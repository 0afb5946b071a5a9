//! Routes each request by its URL path (any scheme and host, since hosts choose the base
//! URLs) to the auth host, the gateway, or a site's Jira, after faults and the request log.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::api_tokens::{self, Caller};
use super::model::RecordedRequest;
use super::world::{JiraData, World};
use super::{
    attachments, auth, comments, issues, lists, reply, resolutions, scopes, screens, search,
    tenant, transitions,
};
use jira_notifier::{HttpRequest, HttpResponse, Method, TransportError};

const REDACTED: &str = "[redacted]";

/// A request body as the handlers see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// No body, or zero bytes.
    Empty,
    Json(Value),
    /// Bytes that are not JSON (or not UTF-8).
    Invalid,
}

impl Body {
    fn parse(bytes: Option<&[u8]>) -> Body {
        match bytes {
            None | Some([]) => Body::Empty,
            Some(bytes) => serde_json::from_slice(bytes).map_or(Body::Invalid, Body::Json),
        }
    }
}

/// The answer to send, after an optional extra wait.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) result: Result<HttpResponse, TransportError>,
    pub(crate) delay: Duration,
}

/// What Jira handlers need besides the body and the site's data.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    url: &'a Url,
    /// `{scheme}://{host}/ex/jira/{cloudId}`: where `self` links point.
    pub(crate) base: String,
    /// `https://NAME.atlassian.net`.
    pub(crate) site_url: String,
    /// The Jira path (`/rest/api/3/...`), as Jira's own errors name it.
    pub(crate) path: String,
    pub(crate) now: Instant,
    pub(crate) search_lag: Duration,
}

impl Ctx<'_> {
    /// Every value of a query parameter, in order.
    pub(crate) fn params(&self, name: &str) -> Vec<String> {
        self.url
            .query_pairs()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }

    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// This request's URL with one query parameter replaced: for `nextPage` links.
    pub(crate) fn url_with(&self, name: &str, value: &str) -> String {
        let mut url = self.url.clone();
        let others: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(others)
            .append_pair(name, value);
        url.to_string()
    }

    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }
}

pub(crate) fn handle(world: &mut World, request: &HttpRequest, now: Instant) -> Outcome {
    let body = Body::parse(request.body.as_deref());
    record(world, request, &body, now);
    match world.faults.take(request.method, request.url.path()) {
        Some(fault) => {
            if fault.after_commit() {
                route(world, request, &body, now);
            }
            Outcome {
                delay: fault.delay,
                result: fault.result(),
            }
        }
        None => Outcome {
            delay: Duration::ZERO,
            result: Ok(route(world, request, &body, now)),
        },
    }
}

fn record(world: &mut World, request: &HttpRequest, body: &Body, now: Instant) {
    world.request_count += 1;
    if !world.record_requests {
        return;
    }
    let body = match body {
        Body::Json(value) => {
            let mut value = value.clone();
            if let Some(secret) = value.get_mut("client_secret") {
                *secret = Value::from(REDACTED);
            }
            Some(value)
        }
        Body::Empty | Body::Invalid => None,
    };
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if name.eq_ignore_ascii_case("authorization") {
                REDACTED.to_owned()
            } else {
                value.clone()
            };
            (name.to_ascii_lowercase(), value)
        })
        .collect();
    world.requests.push(RecordedRequest {
        method: request.method,
        path: request.url.path().to_owned(),
        query: request.url.query().map(str::to_owned),
        headers,
        body,
        at: now,
    });
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(world: &mut World, request: &HttpRequest, body: &Body, now: Instant) -> HttpResponse {
    let path = request.url.path();
    let segments: Vec<String> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (request.method, segments.as_slice()) {
        (Method::Post, ["oauth", "token"]) => match world.limiter.admit_auth(now) {
            Ok(()) => auth::token(world, body, now),
            Err(too_many) => too_many,
        },
        (Method::Get, ["oauth", "token", "accessible-resources"]) => {
            auth::accessible_resources(world, request, now)
        }
        (_, ["ex", "jira", cloud_id, rest @ ..]) => {
            let Some(site) = world.site_index(cloud_id) else {
                return reply::gateway_not_found(path);
            };
            let caller = match api_tokens::on_gateway(world, request, now) {
                Ok(caller) => caller,
                Err(refused) => return refused,
            };
            jira(world, request, body, site, caller, true, rest, now)
        }
        (Method::Get, ["_edge", "tenant_info"]) => tenant::tenant_info(world, request),
        // A site's own host (or a loopback stand-in for one): a person's API token.
        (_, rest @ ["rest", ..]) if is_site_host(&request.url) || is_loopback(&request.url) => {
            let Some(site) = site_of_host(world, &request.url) else {
                return reply::unauthorized();
            };
            let caller = match api_tokens::on_site(world, request) {
                Ok(caller) => caller,
                Err(refused) => return refused,
            };
            jira(world, request, body, site, caller, false, rest, now)
        }
        // Scoped (OAuth) tokens only work through the gateway; the site itself refuses them.
        _ if is_site_host(&request.url) => reply::unauthorized(),
        _ => reply::gateway_not_found(path),
    }
}

fn is_site_host(url: &Url) -> bool {
    url.host_str()
        .is_some_and(|h| h.to_ascii_lowercase().ends_with(".atlassian.net"))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The site a host is: `NAME.atlassian.net` by name, a loopback stand-in the first site.
fn site_of_host(world: &World, url: &Url) -> Option<usize> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match host.strip_suffix(".atlassian.net") {
        Some(name) => world
            .sites
            .iter()
            .position(|e| e.site.name.eq_ignore_ascii_case(name)),
        None => (!world.sites.is_empty()).then_some(0),
    }
}

/// A Jira request to the site at index `site`, through the gateway or on its own host.
#[allow(clippy::too_many_arguments)]
fn jira(
    world: &mut World,
    request: &HttpRequest,
    body: &Body,
    site: usize,
    caller: Caller,
    via_gateway: bool,
    rest: &[&str],
    now: Instant,
) -> HttpResponse {
    let full_path = request.url.path();
    if let (Some(scope), Caller::Scoped(granted)) =
        (scopes::required(request.method, rest), &caller)
    {
        if !granted.iter().any(|s| s == scope) {
            return reply::scope_mismatch();
        }
    }
    let cloud_id = world.sites[site].site.cloud_id.clone();
    let limits = match world.limiter.admit(&cloud_id, request.method, rest, now) {
        Ok(headers) => headers,
        Err(too_many) => return too_many,
    };
    let search_lag = world.search_lag;
    let Some(entry) = world.sites.get_mut(site) else {
        return reply::gateway_not_found(full_path);
    };
    // The part after `/ex/jira/{cloudId}`, still percent-encoded, as Jira names it.
    let jira_path = if via_gateway {
        full_path
            .splitn(5, '/')
            .nth(4)
            .map_or_else(String::new, |p| format!("/{p}"))
    } else {
        full_path.to_owned()
    };
    let origin = request.url.origin().ascii_serialization();
    let ctx = Ctx {
        url: &request.url,
        base: if via_gateway {
            format!("{origin}/ex/jira/{}", entry.site.cloud_id)
        } else {
            origin
        },
        site_url: entry.site.url.clone(),
        path: jira_path,
        now,
        search_lag,
    };
    dispatch(&mut entry.jira, &ctx, request, body, rest).with_headers(limits)
}

/// Whether some method has an endpoint at this path.
fn known_path(rest: &[&str]) -> bool {
    matches!(
        rest,
        [
            "rest",
            "api",
            "3",
            "search" | "issue" | "myself" | "serverInfo"
        ] | ["rest", "api", "3", "search", "jql"]
            | ["rest", "api", "3", "issue" | "project", _]
            | ["rest", "api", "3", "issue", "createmeta", _, "issuetypes"]
            | ["rest", "api", "3", "user", "assignable", "search"]
            | [
                "rest",
                "api",
                "3",
                "issue",
                "createmeta",
                _,
                "issuetypes",
                _
            ]
            | ["rest", "api", "3", "issue", _, "comment" | "transitions"]
            | ["rest", "api", "3", "resolution", "search"]
            | ["rest", "api", "3", "issue", _, "attachments"]
            | ["rest", "api", "3", "attachment", _]
            | ["rest", "api", "3", "attachment", "content", _]
            | ["rest", "api", "3", "mypermissions"]
            | ["rest", "api", "3", "user", "bulk"]
    )
}

/// Whether some endpoint at this path takes a POST, whose body must then be declared JSON.
fn takes_post(rest: &[&str]) -> bool {
    matches!(
        rest,
        ["rest", "api", "3", "search" | "issue"]
            | ["rest", "api", "3", "search", "jql"]
            | ["rest", "api", "3", "issue", _, "comment" | "transitions"]
    )
}

fn is_json_content(request: &HttpRequest) -> bool {
    request.header("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    })
}

fn dispatch(
    jira: &mut JiraData,
    ctx: &Ctx<'_>,
    request: &HttpRequest,
    body: &Body,
    rest: &[&str],
) -> HttpResponse {
    let method = request.method;
    let takes_json = (method == Method::Post && takes_post(rest))
        || (method == Method::Put && matches!(rest, ["rest", "api", "3", "issue", _]));
    if takes_json && !is_json_content(request) {
        let given = request.header("content-type").unwrap_or_default();
        return reply::problem(
            415,
            "Unsupported Media Type",
            &format!("Content-Type '{given}' is not supported."),
            &ctx.path,
        );
    }
    match (method, rest) {
        (_, ["rest", "api", "3", "search"]) => search::retired(),
        (Method::Post, ["rest", "api", "3", "search", "jql"]) => search::post(jira, ctx, body),
        (Method::Get, ["rest", "api", "3", "search", "jql"]) => search::get(jira, ctx),
        (Method::Post, ["rest", "api", "3", "issue"]) => issues::create(jira, ctx, body),
        (Method::Get, ["rest", "api", "3", "issue", "createmeta", project, "issuetypes"]) => {
            lists::issue_types(jira, ctx, project)
        }
        (
            Method::Get,
            ["rest", "api", "3", "issue", "createmeta", project, "issuetypes", issue_type],
        ) => screens::create_fields(jira, ctx, project, issue_type),
        (Method::Post, ["rest", "api", "3", "issue", id_or_key, "comment"]) => {
            screens::add_comment(jira, ctx, id_or_key, body)
        }
        (Method::Get, ["rest", "api", "3", "issue", id_or_key, "comment"]) => {
            comments::list(jira, ctx, id_or_key)
        }
        (Method::Get, ["rest", "api", "3", "issue", id_or_key, "transitions"]) => {
            transitions::list(jira, ctx, id_or_key)
        }
        (Method::Post, ["rest", "api", "3", "issue", id_or_key, "transitions"]) => {
            transitions::perform(jira, ctx, id_or_key, body)
        }
        (Method::Get, ["rest", "api", "3", "resolution", "search"]) => {
            resolutions::search(jira, ctx)
        }
        (Method::Post, ["rest", "api", "3", "issue", id_or_key, "attachments"]) => {
            attachments::add(jira, ctx, request, id_or_key)
        }
        (Method::Get, ["rest", "api", "3", "attachment", "meta"]) => attachments::settings(jira),
        (Method::Get, ["rest", "api", "3", "attachment", "content", id]) => {
            attachments::content(jira, ctx, id)
        }
        (Method::Get, ["rest", "api", "3", "attachment", id]) => {
            attachments::metadata(jira, ctx, id)
        }
        (Method::Get, ["rest", "api", "3", "mypermissions"]) => screens::my_permissions(jira, ctx),
        (Method::Get, ["rest", "api", "3", "user", "bulk"]) => screens::users_bulk(jira, ctx),
        (Method::Put, ["rest", "api", "3", "issue", id_or_key]) => {
            issues::edit(jira, id_or_key, body)
        }
        (Method::Get, ["rest", "api", "3", "issue", id_or_key]) => {
            issues::get(jira, ctx, id_or_key)
        }
        (Method::Get, ["rest", "api", "3", "project", "search"]) => lists::projects(jira, ctx),
        (Method::Get, ["rest", "api", "3", "project", id_or_key]) => {
            lists::project(jira, ctx, id_or_key)
        }
        (Method::Get, ["rest", "api", "3", "user", "assignable", "search"]) => {
            lists::assignable_users(jira, ctx)
        }
        (Method::Get, ["rest", "api", "3", "myself"]) => lists::myself(jira, ctx),
        (Method::Get, ["rest", "api", "3", "serverInfo"]) => tenant::server_info(ctx),
        _ if known_path(rest) => reply::problem(
            405,
            "Method Not Allowed",
            &format!("Method '{method}' is not supported."),
            &ctx.path,
        ),
        _ => reply::problem(
            404,
            "Not Found",
            &format!("No endpoint {method} {}.", ctx.path),
            &ctx.path,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::percent_decode;
    use crate::testing::{body_of, get, post, send, token_for, Client, GATEWAY};
    use crate::{Fault, RateLimit, SimJira};
    use jira_notifier::{HttpTransport, Method, TransportErrorKind};

    #[test]
    fn percent_decoding_never_fails() {
        assert_eq!(percent_decode("QA%2D1"), "QA-1");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[tokio::test]
    async fn unknown_cloud_id_gets_the_gateway_404() {
        let sim = SimJira::new();
        let token = token_for(&sim).await;
        let url = "https://api.atlassian.com/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself";
        let res = send(&sim, get(url, Some(&token))).await;
        assert_eq!(res.status, 404);
        let body = body_of(&res);
        assert_eq!(body["status"], 404);
        assert_eq!(body["error"], "Not Found");
        assert_eq!(body["message"], "No message available");
        assert_eq!(
            body["path"],
            "/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself"
        );
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[tokio::test]
    async fn unknown_paths_get_the_recorded_shapes() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        let res = send(&sim, get("https://api.atlassian.com/nothing-here", None)).await;
        assert_eq!(res.status, 404);
        assert_eq!(body_of(&res)["path"], "/nothing-here");

        let res = send(
            &sim,
            get(
                &format!("{GATEWAY}/rest/api/3/issue/PUB-1/no-such-thing"),
                Some(&client.token),
            ),
        )
        .await;
        assert_eq!(res.status, 404);
        assert_eq!(
            res.header("content-type"),
            Some("application/problem+json;charset=UTF-8")
        );
        assert_eq!(
            String::from_utf8(res.body).unwrap(),
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"No endpoint GET /rest/api/3/issue/PUB-1/no-such-thing.","instance":"/rest/api/3/issue/PUB-1/no-such-thing"}"#
        );
        let (status, body) = client.post("/rest/api/3/myself", json!({})).await;
        assert_eq!(
            (status, body["title"].as_str()),
            (405, Some("Method Not Allowed"))
        );
    }

    #[tokio::test]
    async fn the_site_refuses_scoped_tokens_sent_around_the_gateway() {
        let sim = SimJira::new();
        let token = token_for(&sim).await;
        let res = send(
            &sim,
            get("https://acme.atlassian.net/rest/api/3/myself", Some(&token)),
        )
        .await;
        assert_eq!(res.status, 401);
        let res = send(
            &sim,
            get("https://api.atlassian.com/rest/api/3/myself", Some(&token)),
        )
        .await;
        assert_eq!(res.status, 404);
    }

    #[tokio::test]
    async fn jira_calls_need_a_valid_bearer_token() {
        let sim = SimJira::new();
        let url = format!("{GATEWAY}/rest/api/3/myself");
        assert_eq!(send(&sim, get(&url, None)).await.status, 401);
        assert_eq!(send(&sim, get(&url, Some("forged"))).await.status, 401);
        // A token must go in the Authorization header as a bearer token, nowhere else.
        let token = token_for(&sim).await;
        let mut basic = get(&url, None);
        basic
            .headers
            .push(("authorization".into(), format!("Basic {token}")));
        assert_eq!(send(&sim, basic).await.status, 401);
    }

    #[tokio::test]
    async fn posts_must_declare_json() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        let mut request = post(
            &format!("{GATEWAY}/rest/api/3/search/jql"),
            Some(&client.token),
            json!({"jql": "project = QA"}),
        );
        request.headers.retain(|(k, _)| k != "content-type");
        let res = send(&sim, request).await;
        assert_eq!(res.status, 415);
        assert!(sim.issues().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_answers_429_with_retry_after() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        sim.set_rate_limit(Some(RateLimit::burst(2, Duration::from_secs(10))));
        assert_eq!(client.get("/rest/api/3/myself").await.0, 200);
        tokio::time::advance(Duration::from_millis(3500)).await;
        assert_eq!(client.get("/rest/api/3/myself").await.0, 200);
        let url = format!("{GATEWAY}/rest/api/3/myself");
        let res = send(&sim, get(&url, Some(&client.token))).await;
        assert_eq!(res.status, 429);
        assert_eq!(res.header("retry-after"), Some("7"));
        assert_eq!(res.header("ratelimit-reason"), Some("jira-burst-based"));
        tokio::time::advance(Duration::from_millis(6500)).await;
        assert_eq!(client.get("/rest/api/3/myself").await.0, 200);
        sim.set_rate_limit(None);
        for _ in 0..5 {
            assert_eq!(client.get("/rest/api/3/myself").await.0, 200);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_every_answer() {
        let sim = SimJira::new();
        sim.set_latency(Duration::from_millis(250));
        let start = tokio::time::Instant::now();
        let client = Client::new(&sim).await;
        client.get("/rest/api/3/myself").await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn status_faults_answer_instead_of_jira() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        sim.inject(
            Fault::status(Method::Post, "/rest/api/3/issue", 503)
                .times(2)
                .header("Retry-After", "2")
                .header("content-type", "text/html")
                .body("<html>busy</html>"),
        );
        for _ in 0..2 {
            let res = client.post_raw("/rest/api/3/issue", b"{}").await;
            assert_eq!(res.status, 503);
            assert_eq!(res.header("retry-after"), Some("2"));
            assert_eq!(res.body, b"<html>busy</html>");
        }
        assert!(sim.issues().is_empty());
        assert_eq!(sim.pending_faults(), 0);
        client.create("third time lucky", &[]).await;
        assert_eq!(sim.issues().len(), 1);
    }

    #[tokio::test]
    async fn faults_match_method_and_path_suffix_only() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        sim.inject(Fault::rate_limited(Method::Post, "/rest/api/3/issue", 3));
        assert_eq!(client.get("/rest/api/3/issue/QA-1").await.0, 404);
        assert_eq!(client.search(json!({"jql": "project = QA"})).await.0, 200);
        let res = client.post_raw("/rest/api/3/issue", b"{}").await;
        assert_eq!(res.status, 429);
        assert_eq!(res.header("retry-after"), Some("3"));
        assert_eq!(res.header("ratelimit-reason"), Some("jira-burst-based"));
    }

    #[tokio::test]
    async fn after_commit_faults_land_the_write() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        sim.inject(Fault::status_after_commit(
            Method::Post,
            "/rest/api/3/issue",
            502,
        ));
        sim.inject(Fault::timeout_after_commit(
            Method::Post,
            "/rest/api/3/issue",
        ));
        let body = json!({"fields": {"project": {"key": "QA"}, "issuetype": {"name": "Task"},
                                     "summary": "s"}});
        let (status, _) = client.post("/rest/api/3/issue", body.clone()).await;
        assert_eq!(status, 502);
        assert_eq!(sim.issues().len(), 1);
        let url = format!("{GATEWAY}/rest/api/3/issue");
        let err = sim
            .send(post(&url, Some(&client.token), body))
            .await
            .unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Timeout);
        assert_eq!(sim.issues().len(), 2);
    }

    #[tokio::test]
    async fn transport_faults_before_commit_change_nothing() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        sim.inject(Fault::timeout(Method::Post, "/rest/api/3/issue"));
        sim.inject(Fault::connect_error(Method::Post, "/rest/api/3/issue"));
        let url = format!("{GATEWAY}/rest/api/3/issue");
        let body = json!({"fields": {"project": {"key": "QA"}, "issuetype": {"name": "Task"},
                                     "summary": "s"}});
        let first = sim
            .send(post(&url, Some(&client.token), body.clone()))
            .await;
        assert_eq!(first.unwrap_err().kind, TransportErrorKind::Timeout);
        let second = sim.send(post(&url, Some(&client.token), body)).await;
        let err = second.unwrap_err();
        assert!(err.certainly_not_sent());
        assert!(sim.issues().is_empty());
    }

    #[tokio::test]
    async fn request_log_can_be_turned_off_but_counts_stay() {
        let sim = SimJira::new();
        let client = Client::new(&sim).await;
        client.get("/rest/api/3/myself?expand=groups").await;
        let log = sim.requests();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].path, "/oauth/token");
        assert_eq!(log[0].body.as_ref().unwrap()["client_secret"], "[redacted]");
        assert_eq!(log[1].method, Method::Get);
        assert_eq!(log[1].query.as_deref(), Some("expand=groups"));
        sim.set_record_requests(false);
        client.get("/rest/api/3/myself").await;
        assert_eq!(sim.requests().len(), 2);
        assert_eq!(sim.request_count(), 3);
        sim.clear_requests();
        assert_eq!((sim.requests().len(), sim.request_count()), (0, 0));
    }
}
