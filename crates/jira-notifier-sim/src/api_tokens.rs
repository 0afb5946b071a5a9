//! API tokens: HTTP basic auth with an account's email and a token.
//!
//! - A service account's scoped API token works through the gateway only
//!   (`/ex/jira/{cloudId}/…`), with the scopes it was made with; sent to the site's own
//!   host it is refused (Atlassian Support, "401 Unauthorized error when service account
//!   accesses Jira or Confluence API").
//! - A person's API token works on the site's own host only (`https://NAME.atlassian.net/
//!   rest/api/3/…`), with whatever the person may do; through the gateway it is refused.
//!
//! A wrong email or token gets the gateway's `401 {"code":401,"message":"Unauthorized"}`,
//! or on the site the plain-text `401` Jira Cloud gives a basic-auth credential it does not
//! know ("Basic authentication with passwords is deprecated…", with
//! `X-Seraph-LoginReason: AUTHENTICATED_FAILED`, as public reports quote it).

use jira_notifier::{HttpRequest, HttpResponse};
use tokio::time::Instant;

use super::auth;
use super::reply;
use super::world::World;

/// The API tokens the simulated Atlassian accepts.
#[derive(Default)]
pub(crate) struct ApiTokens {
    /// Service accounts' scoped tokens: email, token, scopes.
    pub(crate) scoped: Vec<(String, String, Vec<String>)>,
    /// People's tokens: email, token.
    pub(crate) personal: Vec<(String, String)>,
}

/// Who a Jira request is sent as.
pub(crate) enum Caller {
    /// A bearer token or a scoped API token, with its scopes.
    Scoped(Vec<String>),
    /// A person's API token: no scopes, the person's permissions.
    Person,
}

/// The email and token of a basic `Authorization` header, if it is one.
fn basic(request: &HttpRequest) -> Option<(String, String)> {
    let (scheme, encoded) = request.header("authorization")?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(decode(encoded.trim())?).ok()?;
    let (email, token) = decoded.split_once(':')?;
    Some((email.to_owned(), token.to_owned()))
}

/// Standard base64 with padding; `None` for anything else.
fn decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.as_bytes().chunks(4) {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n: u32 = 0;
        for (i, b) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                ALPHABET.iter().position(|a| a == b)? as u32
            };
            n = (n << 6) | v;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// A gateway request's caller: a live bearer token, or a service account's scoped API
/// token; anything else gets the gateway's `401`.
pub(crate) fn on_gateway(
    world: &World,
    request: &HttpRequest,
    now: Instant,
) -> Result<Caller, HttpResponse> {
    if let Some(token) = auth::bearer(request).and_then(|t| world.live_token(t, now)) {
        return Ok(Caller::Scoped(token.scopes.clone()));
    }
    let found = basic(request).and_then(|(email, token)| {
        world
            .api_tokens
            .scoped
            .iter()
            .find(|(e, t, _)| e.eq_ignore_ascii_case(&email) && *t == token)
    });
    match found {
        Some((_, _, scopes)) => Ok(Caller::Scoped(scopes.clone())),
        None => Err(reply::unauthorized()),
    }
}

/// A request to a site's own host: only a person's API token works there.
pub(crate) fn on_site(world: &World, request: &HttpRequest) -> Result<Caller, HttpResponse> {
    let Some((email, token)) = basic(request) else {
        return Err(reply::unauthorized());
    };
    let known = world
        .api_tokens
        .personal
        .iter()
        .any(|(e, t)| e.eq_ignore_ascii_case(&email) && *t == token);
    if known {
        Ok(Caller::Person)
    } else {
        Err(basic_refused())
    }
}

fn basic_refused() -> HttpResponse {
    HttpResponse::new(
        401,
        b"Basic authentication with passwords is deprecated.  For more information, see: https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/\n".to_vec(),
    )
    .with_header("content-type", "text/plain")
    .with_header("x-seraph-loginreason", "AUTHENTICATED_FAILED")
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::testing::{body_of, get, send, GATEWAY};
    use crate::SimJira;
    use jira_notifier::HttpRequest;

    fn basic(url: &str, email: &str, token: &str) -> HttpRequest {
        let pair = format!("{email}:{token}");
        let mut encoded = String::new();
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for c in pair.as_bytes().chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                encoded.push(if i <= c.len() {
                    char::from(A[(n >> (18 - 6 * i)) as usize & 63])
                } else {
                    '='
                });
            }
        }
        let mut request = get(url, None);
        request
            .headers
            .push(("authorization".into(), format!("Basic {encoded}")));
        request
    }

    #[tokio::test]
    async fn a_scoped_token_works_through_the_gateway_only() {
        let sim = SimJira::new();
        let (email, token) = (
            SimJira::SERVICE_ACCOUNT_EMAIL,
            SimJira::SERVICE_ACCOUNT_API_TOKEN,
        );
        let on_gateway = format!("{GATEWAY}/rest/api/3/project/search");
        assert_eq!(
            send(&sim, basic(&on_gateway, email, token)).await.status,
            200
        );
        let wrong = send(&sim, basic(&on_gateway, email, "nope")).await;
        assert_eq!(wrong.status, 401);
        assert_eq!(body_of(&wrong)["message"], "Unauthorized");
        let on_site = "https://acme.atlassian.net/rest/api/3/project/search";
        let refused = send(&sim, basic(on_site, email, token)).await;
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.header("x-seraph-loginreason"),
            Some("AUTHENTICATED_FAILED")
        );
        // Its scopes apply.
        sim.add_service_account_token("ro@serviceaccount.atlassian.com", "ro", &["read:jira-work"]);
        let me = format!("{GATEWAY}/rest/api/3/myself");
        let res = send(&sim, basic(&me, "ro@serviceaccount.atlassian.com", "ro")).await;
        assert_eq!(
            body_of(&res)["message"],
            "Unauthorized; scope does not match"
        );
    }

    #[tokio::test]
    async fn a_personal_token_works_on_the_site_only() {
        let sim = SimJira::new();
        let (email, token) = (SimJira::PERSON_EMAIL, SimJira::PERSONAL_API_TOKEN);
        for site in ["https://acme.atlassian.net", "http://127.0.0.1:9"] {
            let url = format!("{site}/rest/api/3/serverInfo");
            let res = send(&sim, basic(&url, email, token)).await;
            assert_eq!(res.status, 200, "{site}");
            assert_eq!(body_of(&res)["baseUrl"], "https://acme.atlassian.net");
        }
        let wrong = send(
            &sim,
            basic(
                "https://acme.atlassian.net/rest/api/3/myself",
                email,
                "nope",
            ),
        )
        .await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.header("content-type"), Some("text/plain"));
        assert!(String::from_utf8_lossy(&wrong.body)
            .starts_with("Basic authentication with passwords is deprecated."));
        let via_gateway = send(
            &sim,
            basic(&format!("{GATEWAY}/rest/api/3/myself"), email, token),
        )
        .await;
        assert_eq!(via_gateway.status, 401);
        // The gateway's host is not a site.
        let res = send(
            &sim,
            basic("https://api.atlassian.com/rest/api/3/myself", email, token),
        )
        .await;
        assert_eq!(res.status, 404);
        sim.revoke_api_tokens();
        let url = "https://acme.atlassian.net/rest/api/3/serverInfo";
        assert_eq!(send(&sim, basic(url, email, token)).await.status, 401);
    }

    #[tokio::test]
    async fn an_app_token_is_a_bearer_token_on_the_gateway() {
        let sim = SimJira::new();
        let token = sim.issue_app_token();
        let url = format!("{GATEWAY}/rest/api/3/myself");
        assert_eq!(send(&sim, get(&url, Some(&token))).await.status, 200);
        sim.expire_tokens();
        assert_eq!(send(&sim, get(&url, Some(&token))).await.status, 401);
        let log = format!("{:?}", sim.requests());
        assert!(!log.contains(&token));
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(decode("Zm9vYmE=").unwrap(), b"fooba");
        assert!(decode("Zm9").is_none());
        assert!(decode("Zm9v!!==").is_none());
    }
}
