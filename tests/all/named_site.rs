//! Connecting to a site named by its URL, over HTTP, with the site's host pointed at a
//! stand-in (`JiraNotifierBuilder::tenant_info_url`): the exact requests, and no token
//! ever sent to the site's host.

use jira_notifier::{ConfigStore, Error, JiraNotifier};
use serde_json::json;

use crate::support::*;

fn notifier_pointing_the_site_at(h: &Harness) -> JiraNotifier {
    JiraNotifier::builder(h.store.clone())
        .auth_url(h.server.base_url())
        .api_url(h.server.base_url())
        .tenant_info_url(h.server.base_url())
        .transport(transport())
        .retry_policy(fast_policy())
        .build()
        .expect("the notifier builds")
}

#[tokio::test]
async fn a_site_named_by_its_url_is_read_from_tenant_info_and_checked_through_the_gateway() {
    let h = Harness::start().await;
    let token = h.mock_token(TOKEN).await;
    let tenant = h
        .mock(|when, then| {
            exact_query(
                when.method("GET")
                    .path("/_edge/tenant_info")
                    .header_missing("authorization"),
                &[],
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({ "cloudId": CLOUD_ID }));
        })
        .await;
    let server_info = h
        .mock(|when, then| {
            get(when, &jira_path("serverInfo"), &[], TOKEN);
            then.status(200)
                .header("content-type", "application/json;charset=UTF-8")
                .json_body(json!({
                    "baseUrl": SITE_URL,
                    "deploymentType": "Cloud",
                    "version": "1001.0.0-SNAPSHOT",
                    "serverTitle": "Jira",
                }));
        })
        .await;
    let n = notifier_pointing_the_site_at(&h);

    let connected = n
        .connect_to_site_url(creds(), &format!("{SITE_URL}/"))
        .await
        .expect("connects");

    assert_eq!(connected, site());
    tenant.assert_calls_async(1).await;
    server_info.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_cloud_id_the_gateway_does_not_know_for_the_credentials_is_refused() {
    let h = Harness::start().await;
    h.mock_token(TOKEN).await;
    h.mock(|when, then| {
        when.method("GET").path("/_edge/tenant_info");
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({ "cloudId": CLOUD_ID }));
    })
    .await;
    let unknown = Recorded::load("gateway_unknown_cloud_id");
    h.mock(move |when, then| {
        get(when, &jira_path("serverInfo"), &[], TOKEN);
        unknown.serve(then);
    })
    .await;
    let n = notifier_pointing_the_site_at(&h);

    let e = n.connect_to_site_url(creds(), SITE_URL).await.unwrap_err();

    assert!(matches!(e, Error::SiteUnreachable { .. }), "{e:?}");
    assert!(h.store.load_connection().await.unwrap().is_none());
    h.assert_no_strays();
}
