//! The auth host's client-credentials grant and the gateway's site discovery.

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::reply;
use super::router::Body;
use super::scopes;
use super::world::{IssuedToken, World};
use jira_notifier::{HttpRequest, HttpResponse};

/// The only audience Atlassian's gateway answers to.
const AUDIENCE: &str = "api.atlassian.com";
const TOKEN_MEMBERS: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "audience",
    "scope",
];

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(request: &HttpRequest) -> Option<&str> {
    let (scheme, token) = request.header("authorization")?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn incorrect_parameters() -> HttpResponse {
    reply::oauth_error(400, "invalid_request", "Incorrect request parameters")
}

/// A string member; `Err` when present with another type.
fn string_member<'a>(members: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ()> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// `POST /oauth/token`.
pub(crate) fn token(world: &mut World, body: &Body, now: Instant) -> HttpResponse {
    let Body::Json(Value::Object(members)) = body else {
        return incorrect_parameters();
    };
    if members.keys().any(|k| !TOKEN_MEMBERS.contains(&k.as_str())) {
        return incorrect_parameters();
    }
    let read = |name| string_member(members, name);
    let (Ok(grant_type), Ok(client_id), Ok(client_secret), Ok(audience), Ok(_)) = (
        read("grant_type"),
        read("client_id"),
        read("client_secret"),
        read("audience"),
        read("scope"),
    ) else {
        return incorrect_parameters();
    };
    match grant_type {
        Some("client_credentials") => {}
        // Valid grants, but not what a service account can use without their parameters.
        Some("authorization_code" | "refresh_token") => return incorrect_parameters(),
        _ => {
            return reply::oauth_error(
                400,
                "invalid_request",
                "grant_type must be one of [authorization_code|refresh_token|client_credentials]",
            )
        }
    }
    if let Some(audience) = audience {
        if audience != AUDIENCE {
            return reply::oauth_error(
                403,
                "access_denied",
                &format!("Service not found: {audience}"),
            );
        }
    }
    let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
        return incorrect_parameters();
    };
    if client_id != world.client_id || client_secret != world.client_secret {
        return reply::oauth_error(401, "access_denied", "Unauthorized");
    }
    // Forget dead tokens here, where new ones are made, so long runs stay small.
    world.tokens.retain(|_, t| t.live(now));
    let access_token: String = (0..64).map(|_| fastrand::alphanumeric()).collect();
    let issued = IssuedToken {
        issued: now,
        lifetime: world.token_lifetime,
        scopes: world.scopes.clone(),
    };
    world.tokens.insert(access_token.clone(), issued);
    reply::plain_json(
        200,
        &json!({
            "access_token": access_token,
            "expires_in": world.token_lifetime.as_secs(),
            "token_type": "Bearer",
            "scope": world.scopes.join(" "),
        }),
    )
    .with_header("cache-control", "no-store")
}

/// `GET /oauth/token/accessible-resources`: the sites the token's account can reach, each
/// with the token's scopes for Jira (a credential without any is not listed for a Jira
/// site), then whatever else the test listed ([`World::extra_resources`]).
pub(crate) fn accessible_resources(
    world: &World,
    request: &HttpRequest,
    now: Instant,
) -> HttpResponse {
    let Some(token) = bearer(request).and_then(|t| world.live_token(t, now)) else {
        return reply::unauthorized();
    };
    let jira_scopes: Vec<&str> = token
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| scopes::is_jira(s))
        .collect();
    let mut listed: Vec<Value> = Vec::new();
    if !jira_scopes.is_empty() && !world.discovery_hidden {
        listed.extend(world.sites.iter().map(|entry| {
            json!({
                "id": entry.site.cloud_id,
                "name": entry.site.name,
                "url": entry.site.url,
                "scopes": jira_scopes,
                "avatarUrl": AVATAR,
            })
        }));
    }
    listed.extend(world.extra_resources.iter().cloned());
    reply::plain_json(200, &Value::Array(listed))
}

/// The avatar every listed site shows.
pub(crate) const AVATAR: &str =
    "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{body_of, get, post, post_raw, send, token_for, GATEWAY};
    use crate::SimJira;

    const TOKEN_URL: &str = "https://auth.atlassian.com/oauth/token";
    const RESOURCES_URL: &str = "https://api.atlassian.com/oauth/token/accessible-resources";

    fn grant(id: &str, secret: &str) -> serde_json::Value {
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
               "audience": "api.atlassian.com"})
    }

    #[tokio::test]
    async fn issues_a_bearer_token_for_the_right_credentials() {
        let sim = SimJira::new();
        let res = send(
            &sim,
            post(
                TOKEN_URL,
                None,
                grant(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET),
            ),
        )
        .await;
        assert_eq!(res.status, 200);
        let body = body_of(&res);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(
            body["scope"],
            "read:jira-work write:jira-work read:jira-user"
        );
        let token = body["access_token"].as_str().unwrap();
        assert!(token.len() >= 32);
        let me = send(
            &sim,
            get(&format!("{GATEWAY}/rest/api/3/myself"), Some(token)),
        )
        .await;
        assert_eq!(me.status, 200);
    }

    #[tokio::test]
    async fn refuses_bad_requests_with_atlassians_texts() {
        let sim = SimJira::new();
        let res = send(&sim, post_raw(TOKEN_URL, None, b"nope".to_vec())).await;
        assert_eq!(res.status, 400);
        assert_eq!(
            res.body,
            br#"{"error":"invalid_request","error_description":"Incorrect request parameters"}"#
        );
        let res = send(
            &sim,
            post(TOKEN_URL, None, json!({"grant_type": "password"})),
        )
        .await;
        assert_eq!(res.status, 400);
        assert_eq!(
            body_of(&res)["error_description"],
            "grant_type must be one of [authorization_code|refresh_token|client_credentials]"
        );
        let res = send(
            &sim,
            post(TOKEN_URL, None, grant(SimJira::CLIENT_ID, "wrong")),
        )
        .await;
        assert_eq!(res.status, 401);
        assert_eq!(
            body_of(&res),
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        );
        let res = send(
            &sim,
            post(TOKEN_URL, None, grant("other", SimJira::CLIENT_SECRET)),
        )
        .await;
        assert_eq!(res.status, 401);
        let mut odd = grant(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET);
        odd["colour"] = json!("red");
        assert_eq!(send(&sim, post(TOKEN_URL, None, odd)).await.status, 400);
        let mut wrong_audience = grant(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET);
        wrong_audience["audience"] = json!("auth.atlassian.com");
        assert_eq!(
            send(&sim, post(TOKEN_URL, None, wrong_audience))
                .await
                .status,
            403
        );
    }

    #[tokio::test]
    async fn set_credentials_replaces_the_accepted_pair() {
        let sim = SimJira::new();
        sim.set_credentials("id2", "secret2");
        let old = send(
            &sim,
            post(
                TOKEN_URL,
                None,
                grant(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET),
            ),
        )
        .await;
        assert_eq!(old.status, 401);
        let new = send(&sim, post(TOKEN_URL, None, grant("id2", "secret2"))).await;
        assert_eq!(new.status, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_after_their_lifetime() {
        let sim = SimJira::new();
        sim.set_token_lifetime(Duration::from_secs(600));
        let token = token_for(&sim).await;
        let myself = format!("{GATEWAY}/rest/api/3/myself");
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(send(&sim, get(&myself, Some(&token))).await.status, 200);
        tokio::time::advance(Duration::from_secs(1)).await;
        let res = send(&sim, get(&myself, Some(&token))).await;
        assert_eq!(res.status, 401);
        assert_eq!(
            body_of(&res),
            json!({"code": 401, "message": "Unauthorized"})
        );
    }

    #[tokio::test]
    async fn expire_tokens_invalidates_every_token() {
        let sim = SimJira::new();
        let token = token_for(&sim).await;
        sim.expire_tokens();
        let myself = format!("{GATEWAY}/rest/api/3/myself");
        assert_eq!(send(&sim, get(&myself, Some(&token))).await.status, 401);
        let fresh = token_for(&sim).await;
        assert_eq!(send(&sim, get(&myself, Some(&fresh))).await.status, 200);
    }

    #[tokio::test]
    async fn lists_the_sites_for_a_valid_token_only() {
        let sim = SimJira::new();
        sim.add_site("99999999-0000-0000-0000-000000000000", "beta");
        assert_eq!(send(&sim, get(RESOURCES_URL, None)).await.status, 401);
        assert_eq!(
            send(&sim, get(RESOURCES_URL, Some("made-up"))).await.status,
            401
        );
        let token = token_for(&sim).await;
        let res = send(&sim, get(RESOURCES_URL, Some(&token))).await;
        assert_eq!(res.status, 200);
        let sites = body_of(&res);
        assert_eq!(sites.as_array().unwrap().len(), 2);
        assert_eq!(sites[0]["id"], SimJira::CLOUD_ID);
        assert_eq!(sites[0]["name"], "acme");
        assert_eq!(sites[0]["url"], "https://acme.atlassian.net");
        assert_eq!(sites[1]["url"], "https://beta.atlassian.net");
        assert!(sites[0]["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("write:jira-work")));
    }

    #[tokio::test]
    async fn a_token_without_the_endpoints_scope_gets_scope_does_not_match() {
        let sim = SimJira::new();
        sim.set_scopes(&["read:jira-work"]);
        let token = token_for(&sim).await;
        let issue = json!({"fields": {"project": {"key": "QA"}, "issuetype": {"name": "Bug"},
                                      "summary": "s"}});
        let res = send(
            &sim,
            post(&format!("{GATEWAY}/rest/api/3/issue"), Some(&token), issue),
        )
        .await;
        assert_eq!(res.status, 401);
        assert_eq!(
            body_of(&res),
            json!({"code": 401, "message": "Unauthorized; scope does not match"})
        );
        assert!(sim.issues().is_empty());
        let me = format!("{GATEWAY}/rest/api/3/myself");
        assert_eq!(send(&sim, get(&me, Some(&token))).await.status, 401);
        let search = post(
            &format!("{GATEWAY}/rest/api/3/search/jql"),
            Some(&token),
            json!({"jql": "project = QA"}),
        );
        assert_eq!(send(&sim, search).await.status, 200);
    }

    #[tokio::test]
    async fn lists_other_products_and_repeats_as_told_and_no_jira_site_without_jira_scopes() {
        let sim = SimJira::new();
        sim.add_accessible_resource(
            "c0ffee00-0000-0000-0000-000000000000",
            "wiki",
            "https://wiki.atlassian.net",
            &["read:confluence-content.all"],
        );
        sim.add_accessible_resource(
            SimJira::CLOUD_ID,
            "acme",
            "https://acme.atlassian.net",
            &["read:jira-work"],
        );
        let token = token_for(&sim).await;
        let listed = body_of(&send(&sim, get(RESOURCES_URL, Some(&token))).await);
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                SimJira::CLOUD_ID,
                "c0ffee00-0000-0000-0000-000000000000",
                SimJira::CLOUD_ID
            ]
        );
        sim.set_scopes(&["read:confluence-content.all"]);
        let token = token_for(&sim).await;
        let listed = body_of(&send(&sim, get(RESOURCES_URL, Some(&token))).await);
        assert_eq!(listed.as_array().unwrap().len(), 2);
        assert_eq!(listed[0]["name"], "wiki");
    }

    #[tokio::test]
    async fn never_records_the_secret_or_the_token() {
        let sim = SimJira::new();
        let token = token_for(&sim).await;
        send(
            &sim,
            get(&format!("{GATEWAY}/rest/api/3/myself"), Some(&token)),
        )
        .await;
        let log = format!("{:?}", sim.requests());
        assert!(!log.contains(SimJira::CLIENT_SECRET), "{log}");
        assert!(!log.contains(&token), "{log}");
        assert!(log.contains("[redacted]"));
        assert!(!format!("{sim:?}").contains(SimJira::CLIENT_SECRET));
    }
}
