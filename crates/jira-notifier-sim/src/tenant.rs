//! A site by its URL: `GET https://NAME.atlassian.net/_edge/tenant_info`, which answers the
//! site's cloud id to anyone (Atlassian Support, "How to find your Atlassian Cloud site's
//! Cloud ID": `{"cloudId":"<your_cloud_id>"}`), and `GET /rest/api/3/serverInfo` through
//! the gateway, which says which site a cloud id is (`baseUrl`; v3 spec `getServerInfo`,
//! no scope needed).

use std::time::SystemTime;

use serde_json::json;

use super::clock;
use super::reply;
use super::router::Ctx;
use super::world::World;
use jira_notifier::{HttpRequest, HttpResponse};

/// `GET /_edge/tenant_info` on a site's host. A host that is not `*.atlassian.net` (a
/// stand-in the client was pointed at) stands for the first site.
pub(crate) fn tenant_info(world: &World, request: &HttpRequest) -> HttpResponse {
    let host = request
        .url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let cloud_id = match host.strip_suffix(".atlassian.net") {
        Some(name) => world
            .sites
            .iter()
            .map(|e| &e.site)
            .chain(&world.foreign_sites)
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.cloud_id.clone()),
        None => world.sites.first().map(|e| e.site.cloud_id.clone()),
    };
    match cloud_id {
        Some(id) => reply::plain_json(200, &json!({ "cloudId": id })),
        None => site_unavailable(),
    }
}

/// What Atlassian's edge answers for a site that does not exist (`site_unknown.http`).
fn site_unavailable() -> HttpResponse {
    HttpResponse::new(
        404,
        b"<!DOCTYPE html>\n<html lang=\"en\">\n    <head>\n        <title>Atlassian Cloud Notifications - Page Unavailable</title>\n    </head>\n    <body>Your Atlassian Cloud site is currently unavailable.</body>\n</html>\n".to_vec(),
    )
    .with_header("content-type", "text/html")
}

/// `GET /rest/api/3/serverInfo`.
pub(crate) fn server_info(ctx: &Ctx<'_>) -> HttpResponse {
    let now = clock::jira_datetime(SystemTime::now());
    reply::jira(
        200,
        &json!({
            "baseUrl": ctx.site_url,
            "displayUrl": ctx.site_url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100_284,
            "buildDate": now,
            "serverTime": now,
            "scmInfo": "5b1b4e6d8a2c7f0e9d3a1b2c4d5e6f708192a3b4",
            "serverTitle": "Jira",
            "defaultLocale": {"locale": "en_US"},
            "serverTimeZone": "Etc/UTC",
        }),
    )
}

#[cfg(test)]
mod tests {
    use crate::testing::{body_of, get, send, token_for, GATEWAY};
    use crate::SimJira;

    #[tokio::test]
    async fn a_site_host_names_its_cloud_id_to_anyone() {
        let sim = SimJira::new();
        sim.add_foreign_site("99999999-0000-0000-0000-000000000000", "other");
        let res = send(
            &sim,
            get("https://acme.atlassian.net/_edge/tenant_info", None),
        )
        .await;
        assert_eq!(res.status, 200);
        assert_eq!(body_of(&res)["cloudId"], SimJira::CLOUD_ID);
        let other = send(
            &sim,
            get("https://OTHER.atlassian.net/_edge/tenant_info", None),
        )
        .await;
        assert_eq!(
            body_of(&other)["cloudId"],
            "99999999-0000-0000-0000-000000000000"
        );
        let none = send(
            &sim,
            get("https://nope-zz.atlassian.net/_edge/tenant_info", None),
        )
        .await;
        assert_eq!(none.status, 404);
        assert_eq!(none.header("content-type"), Some("text/html"));
        let stand_in = send(&sim, get("http://127.0.0.1:9/_edge/tenant_info", None)).await;
        assert_eq!(body_of(&stand_in)["cloudId"], SimJira::CLOUD_ID);
    }

    #[tokio::test]
    async fn server_info_says_which_site_a_cloud_id_is_and_foreign_sites_are_out_of_reach() {
        let sim = SimJira::new();
        sim.add_foreign_site("99999999-0000-0000-0000-000000000000", "other");
        let token = token_for(&sim).await;
        let res = send(
            &sim,
            get(&format!("{GATEWAY}/rest/api/3/serverInfo"), Some(&token)),
        )
        .await;
        assert_eq!(res.status, 200);
        assert_eq!(body_of(&res)["baseUrl"], "https://acme.atlassian.net");
        let foreign = "https://api.atlassian.com/ex/jira/99999999-0000-0000-0000-000000000000/rest/api/3/serverInfo";
        assert_eq!(send(&sim, get(foreign, Some(&token))).await.status, 404);
        let listed = send(
            &sim,
            get(
                "https://api.atlassian.com/oauth/token/accessible-resources",
                Some(&token),
            ),
        )
        .await;
        assert_eq!(body_of(&listed).as_array().unwrap().len(), 1);
    }
}
