//! The whole story (connect, settings, an override, a failure, its duplicate, a closed
//! issue and a new one, the test notification) with each kind of credential against the
//! simulated Jira: the same outcomes whatever the credential, each sent where and as
//! Atlassian wants it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jira_notifier::{
    CredentialKind, Credentials, Error, JiraNotifier, MemoryStore, Outcome, Settings, SourcedToken,
    TestOverride, TokenRequest, TokenSource, TokenSourceError,
};
use jira_notifier_sim::{SimJira, StatusCategory};
use secrecy::ExposeSecret;

use crate::support::*;

/// A 3LO app's token source: the simulator's app token, refreshed when refused.
#[derive(Debug)]
struct AppTokens {
    jira: SimJira,
    current: Mutex<String>,
    refreshed: Mutex<u32>,
}

#[async_trait]
impl TokenSource for AppTokens {
    async fn token(&self, request: TokenRequest<'_>) -> Result<SourcedToken, TokenSourceError> {
        assert_eq!(request.name(), "install-1");
        let mut current = self.current.lock().unwrap();
        if request.rejected().map(|t| t.expose_secret()) == Some(current.as_str()) {
            *current = self.jira.issue_app_token();
            *self.refreshed.lock().unwrap() += 1;
        }
        Ok(SourcedToken::new(current.clone(), SimJira::CLOUD_ID)
            .with_valid_for(Duration::from_secs(600)))
    }
}

/// The story on a connected notifier; returns the first issue's URL.
async fn story(n: &JiraNotifier, jira: &SimJira) -> String {
    n.save_settings(
        Settings::new("QA")
            .with_issue_type("Task")
            .with_labels(["nightly"]),
    )
    .await
    .unwrap();
    n.set_override("ops-test", TestOverride::default().with_project("OPS"))
        .await
        .unwrap();
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let Outcome::Created(issue) = &first else {
        panic!("{first:?}")
    };
    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(again, Outcome::Duplicate(_)), "{again:?}");
    assert!(jira.set_status(&issue.key, StatusCategory::Done));
    let next = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(next, Outcome::Created(_)), "{next:?}");
    let ops = n.on_test_error(&test("ops-test"), &failed()).await.unwrap();
    assert!(key_of(&ops).starts_with("OPS-"), "{ops:?}");
    n.send_test_notification().await.unwrap();
    assert_eq!(open_keys(jira, "login").len(), 1);
    issue.url.clone()
}

fn fresh(jira: &SimJira) -> JiraNotifier {
    notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60))
}

#[tokio::test]
async fn a_service_accounts_api_token_runs_the_story_through_the_gateway() {
    let jira = SimJira::new();
    let n = fresh(&jira);
    let creds = Credentials::service_account_token(
        SimJira::SERVICE_ACCOUNT_EMAIL,
        SimJira::SERVICE_ACCOUNT_API_TOKEN.to_owned(),
    );
    let site = n
        .connect_to_site_url(creds, "https://acme.atlassian.net")
        .await
        .unwrap();
    assert_eq!(site.url, "https://acme.atlassian.net");
    let url = story(&n, &jira).await;
    assert!(
        url.starts_with("https://acme.atlassian.net/browse/QA-"),
        "{url}"
    );
    let log = jira.requests();
    assert!(
        log.iter().all(|r| r.path != "/oauth/token"),
        "no token request"
    );
    assert!(log
        .iter()
        .filter(|r| r.path.contains("/rest/api/3/"))
        .all(|r| r
            .path
            .starts_with(&format!("/ex/jira/{}/", SimJira::CLOUD_ID))));

    // The token revoked: a typed error naming the account.
    jira.revoke_api_tokens();
    let err = n
        .on_test_error(&test("later"), &failed())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::CredentialRefused { kind: CredentialKind::ServiceAccountToken, account, .. } if account == SimJira::SERVICE_ACCOUNT_EMAIL),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_service_accounts_token_without_a_scope_says_which() {
    let jira = SimJira::new();
    jira.add_service_account_token(
        "ro@serviceaccount.atlassian.com",
        "ro-token",
        &["read:jira-work"],
    );
    let n = fresh(&jira);
    let creds = Credentials::service_account_token(
        "ro@serviceaccount.atlassian.com",
        "ro-token".to_owned(),
    );
    n.connect_to_site_url(creds, "https://acme.atlassian.net")
        .await
        .unwrap();
    n.save_settings(Settings::new("QA")).await.unwrap();
    let err = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingScope {
                scope: "write:jira-work",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_persons_api_token_runs_the_story_on_the_site_itself() {
    let jira = SimJira::new();
    let n = fresh(&jira);
    let creds = Credentials::personal_token(
        SimJira::PERSON_EMAIL,
        SimJira::PERSONAL_API_TOKEN.to_owned(),
    );
    let site = n
        .connect_to_site_url(creds, "https://acme.atlassian.net")
        .await
        .unwrap();
    assert_eq!(
        (site.cloud_id.as_str(), site.name.as_str()),
        (SimJira::CLOUD_ID, "acme")
    );
    let url = story(&n, &jira).await;
    assert!(
        url.starts_with("https://acme.atlassian.net/browse/QA-"),
        "{url}"
    );
    let log = jira.requests();
    assert!(log.iter().all(|r| r.path != "/oauth/token"));
    assert!(log
        .iter()
        .filter(|r| r.path.contains("/rest/api/3/"))
        .all(|r| r.path.starts_with("/rest/api/3/")));

    // A wrong token: nothing is stored.
    let other = fresh(&jira);
    let wrong = Credentials::personal_token(SimJira::PERSON_EMAIL, "nope".to_owned());
    let err = other
        .connect_to_site_url(wrong, "https://acme.atlassian.net")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CredentialRefused {
                kind: CredentialKind::PersonalToken,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(other.connected_site().await.unwrap().is_none());
}

#[tokio::test]
async fn the_hosts_token_source_runs_the_story_and_is_asked_again_when_its_token_ends() {
    let jira = SimJira::new();
    let source = Arc::new(AppTokens {
        current: Mutex::new(jira.issue_app_token()),
        jira: jira.clone(),
        refreshed: Mutex::new(0),
    });
    let n = JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(8)))
        .token_source(source.clone())
        .build()
        .unwrap();
    let site = n
        .connect(Credentials::token_source("install-1"))
        .await
        .unwrap();
    assert_eq!(site.url, "https://acme.atlassian.net");
    story(&n, &jira).await;
    assert_eq!(*source.refreshed.lock().unwrap(), 0);
    // The app's token ends before the source says: Jira's 401, the source is told, its
    // new token works.
    jira.expire_tokens();
    let o = n.on_test_error(&test("after"), &failed()).await.unwrap();
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    assert_eq!(*source.refreshed.lock().unwrap(), 1);
    assert_eq!(n.token_fetches(), 0);
}
