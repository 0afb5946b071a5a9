//! Connecting to a site named by its URL, without discovery (issue 9): its cloud id comes
//! from `https://SITE/_edge/tenant_info`, and the credentials are checked to reach it.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{Credentials, Error, JiraNotifier, MemoryStore, Outcome, Settings};
use jira_notifier_sim::SimJira;

use crate::support::*;

fn creds() -> Credentials {
    Credentials::new(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET.to_owned())
}

fn fresh(jira: &SimJira) -> JiraNotifier {
    notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60))
}

#[tokio::test]
async fn a_site_discovery_does_not_list_is_reached_by_its_url() {
    let jira = SimJira::new();
    jira.set_discovery_lists_nothing(true);
    let n = fresh(&jira);
    assert!(matches!(n.connect(creds()).await, Err(Error::NoSites)));

    let site = n
        .connect_to_site(creds(), "https://acme.atlassian.net/")
        .await
        .unwrap();

    assert_eq!(site.cloud_id, SimJira::CLOUD_ID);
    assert_eq!(site.url, "https://acme.atlassian.net");
    assert_eq!(site.name, "acme");
    n.save_settings(Settings::new("QA")).await.unwrap();
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert!(o
        .issue()
        .unwrap()
        .url
        .starts_with("https://acme.atlassian.net/browse/"));
}

#[tokio::test]
async fn a_known_site_is_connected_without_discovery_and_its_host_sees_no_token() {
    let jira = SimJira::new();
    let n = fresh(&jira);

    let site = n
        .connect_to_site_url(creds(), "https://acme.atlassian.net")
        .await
        .unwrap();

    assert_eq!(site.cloud_id, SimJira::CLOUD_ID);
    let log = jira.requests();
    assert!(
        !log.iter()
            .any(|r| r.path.ends_with("/accessible-resources")),
        "no discovery"
    );
    let lookup = log
        .iter()
        .find(|r| r.path == "/_edge/tenant_info")
        .expect("the site's host was asked for its cloud id");
    assert!(
        !lookup.headers.iter().any(|(k, _)| k == "authorization"),
        "the site's host must never see a token"
    );
    assert!(log.iter().any(|r| r.path.ends_with(&format!(
        "/ex/jira/{}/rest/api/3/serverInfo",
        SimJira::CLOUD_ID
    ))));
    assert_eq!(n.connected_site().await.unwrap(), Some(site));
}

#[tokio::test]
async fn a_site_the_credentials_do_not_reach_is_refused_and_nothing_stored() {
    let jira = SimJira::new();
    jira.add_foreign_site("99999999-0000-0000-0000-000000000000", "other");
    let n = fresh(&jira);

    let e = n
        .connect_to_site_url(creds(), "https://other.atlassian.net")
        .await
        .unwrap_err();

    assert!(matches!(e, Error::SiteUnreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("do not reach"), "{e}");
    assert!(!e.is_retryable());
    assert!(n.connected_site().await.unwrap().is_none());
}

#[tokio::test]
async fn a_site_that_does_not_exist_is_refused() {
    let jira = SimJira::new();
    jira.set_discovery_lists_nothing(true);
    let n = fresh(&jira);

    let e = n
        .connect_to_site(creds(), "https://no-such-site-zz.atlassian.net")
        .await
        .unwrap_err();

    assert!(matches!(e, Error::SiteUnreachable { .. }), "{e:?}");
    assert!(n.connected_site().await.unwrap().is_none());
}

#[tokio::test]
async fn a_site_url_that_is_not_https_is_refused_before_any_request() {
    let jira = SimJira::new();
    let n = fresh(&jira);

    let e = n
        .connect_to_site_url(creds(), "http://acme.atlassian.net")
        .await
        .unwrap_err();

    assert!(
        matches!(e, Error::InvalidInput { field: "site", .. }),
        "{e:?}"
    );
    assert_eq!(jira.request_count(), 0);
}
