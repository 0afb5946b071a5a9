//! Scopes and sites (issue 9): a token that lacks a scope is not renewed for it, and the
//! error names the scope; site discovery keeps Jira sites only, once each.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{Credentials, Error, JiraNotifier, MemoryStore, Settings};
use jira_notifier_sim::SimJira;

use crate::support::*;

fn creds() -> Credentials {
    Credentials::new(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET.to_owned())
}

fn fresh(jira: &SimJira) -> JiraNotifier {
    notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60))
}

/// Requests the auth host got.
fn token_requests(jira: &SimJira) -> usize {
    jira.requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_token_without_write_scope_is_not_renewed_and_the_error_names_the_scope() {
    let jira = SimJira::new();
    jira.set_scopes(&["read:jira-work", "read:jira-user"]);
    let n = fresh(&jira);
    setup(&n).await;
    let fetched = n.token_fetches();

    for round in 0..5 {
        let e = n
            .on_test_error(&test(&format!("t{round}")), &failed())
            .await
            .unwrap_err();
        match &e {
            Error::MissingScope { scope, .. } => assert_eq!(*scope, "write:jira-work"),
            other => panic!("expected MissingScope, got {other:?}"),
        }
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("write:jira-work"), "{e}");
    }
    // A scope is the credential's: a new token would have the same ones. No storm of
    // token requests, no second refusal per report.
    assert_eq!(n.token_fetches(), fetched);
    assert_eq!(token_requests(&jira), 1);
    assert!(jira.issues().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_assignee_picker_without_read_jira_user_names_that_scope() {
    let jira = SimJira::new();
    jira.set_scopes(&["read:jira-work", "write:jira-work"]);
    let n = fresh(&jira);
    setup(&n).await;

    let e = n.assignable_users("QA", "").await.unwrap_err();

    assert!(
        matches!(
            e,
            Error::MissingScope {
                scope: "read:jira-user",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(n.token_fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_is_still_renewed_once() {
    let jira = SimJira::new();
    let n = fresh(&jira);
    setup(&n).await;
    jira.expire_tokens();

    n.on_test_error(&test("a"), &failed()).await.unwrap();

    assert_eq!(n.token_fetches(), 2);
}

#[tokio::test]
async fn discovery_keeps_jira_sites_once_each() {
    let jira = SimJira::new();
    jira.add_accessible_resource(
        "c0ffee00-0000-0000-0000-000000000000",
        "wiki",
        "https://wiki.atlassian.net",
        &["read:confluence-content.all"],
    );
    // The same site again, as Atlassian may list it once per product or grant.
    jira.add_accessible_resource(
        SimJira::CLOUD_ID,
        "acme",
        "https://acme.atlassian.net",
        &["read:jira-work", "write:jira-work"],
    );
    let n = fresh(&jira);

    let sites = n.discover_sites(&creds()).await.unwrap();
    assert_eq!(sites.len(), 1, "{sites:?}");
    let site = n.connect(creds()).await.unwrap();

    assert_eq!(site.cloud_id, SimJira::CLOUD_ID);
    n.save_settings(Settings::new("QA")).await.unwrap();
}

#[tokio::test]
async fn a_credential_with_no_jira_scopes_is_told_so() {
    let jira = SimJira::new();
    jira.set_scopes(&["read:confluence-content.all"]);
    jira.add_accessible_resource(
        "c0ffee00-0000-0000-0000-000000000000",
        "wiki",
        "https://wiki.atlassian.net",
        &["read:confluence-content.all"],
    );
    let n = fresh(&jira);

    let e = n.connect(creds()).await.unwrap_err();

    assert!(matches!(e, Error::NoJiraScopes), "{e:?}");
    assert!(e.to_string().contains("no Jira scopes"), "{e}");
    assert!(!e.is_retryable());
    assert!(n.connected_site().await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_scope_granted_later_is_picked_up_with_one_new_token_minutes_on() {
    let jira = SimJira::new();
    jira.set_scopes(&["read:jira-work", "read:jira-user"]);
    let n = fresh(&jira);
    setup(&n).await;
    assert!(n.on_test_error(&test("a"), &failed()).await.is_err());
    // Someone adds write:jira-work to the credential in Atlassian Admin.
    jira.set_scopes(&["read:jira-work", "write:jira-work", "read:jira-user"]);
    tokio::time::sleep(Duration::from_secs(301)).await;

    let o = n.on_test_error(&test("a"), &failed()).await.unwrap();

    assert!(o.issue().is_some());
    assert_eq!(n.token_fetches(), 2);
}
