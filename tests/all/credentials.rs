//! Credentials beyond client credentials, over HTTP: a service account's API token (basic
//! auth through the gateway), a person's API token (basic auth on the site's own host) and
//! the host's token source (its bearer token, asked again on a 401). Each test checks the
//! exact `Authorization` header, the base URL, and what a `401` becomes.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use httpmock::{Then, When};
use jira_notifier::{
    ConfigStore, CredentialKind, Credentials, Error, JiraNotifier, MemoryStore, SourcedToken,
    TokenRequest, TokenSource, TokenSourceError,
};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::*;

pub const SA_EMAIL: &str = "qa-bot@serviceaccount.atlassian.com";
pub const SA_TOKEN: &str = "ATSTT-scoped-token-NEVER-SHOWN-71c2";
pub const PERSON_EMAIL: &str = "dev@example.com";
pub const PERSON_TOKEN: &str = "ATATT-personal-token-NEVER-SHOWN-0b9e";
/// `Basic base64("qa-bot@serviceaccount.atlassian.com:ATSTT-scoped-token-NEVER-SHOWN-71c2")`,
/// worked out by hand (`printf %s … | base64`).
pub const SA_BASIC: &str =
    "Basic cWEtYm90QHNlcnZpY2VhY2NvdW50LmF0bGFzc2lhbi5jb206QVRTVFQtc2NvcGVkLXRva2VuLU5FVkVSLVNIT1dOLTcxYzI=";
/// `Basic base64("dev@example.com:ATATT-personal-token-NEVER-SHOWN-0b9e")`.
pub const PERSON_BASIC: &str =
    "Basic ZGV2QGV4YW1wbGUuY29tOkFUQVRULXBlcnNvbmFsLXRva2VuLU5FVkVSLVNIT1dOLTBiOWU=";

/// A GET with exactly this `Authorization` header, no body and no query but `query`.
pub fn get_as(when: When, path: &str, query: &[(&str, &str)], authorization: &str) -> When {
    let when = when
        .method("GET")
        .path(path)
        .header("accept", "application/json")
        .header("authorization", authorization)
        .header_missing("content-type");
    exact_query(when, query)
}

pub fn tenant_info(when: When, then: Then) {
    exact_query(
        when.method("GET")
            .path("/_edge/tenant_info")
            .header_missing("authorization"),
        &[],
    );
    then.status(200)
        .header("content-type", "application/json")
        .json_body(json!({ "cloudId": CLOUD_ID }));
}

pub fn server_info(then: Then) {
    then.status(200)
        .header("content-type", "application/json;charset=UTF-8")
        .json_body(json!({ "baseUrl": SITE_URL, "deploymentType": "Cloud" }));
}

pub fn gateway_401(then: Then) {
    then.status(401)
        .header("content-type", "application/json")
        .body(r#"{"code":401,"message":"Unauthorized"}"#);
}

const PROJECT_QUERY: [(&str, &str); 3] = [
    ("startAt", "0"),
    ("maxResults", "100"),
    ("action", "create"),
];

fn one_project(then: Then) {
    then.status(200)
        .header("content-type", "application/json")
        .json_body(json!({
            "isLast": true,
            "values": [{ "id": PROJECT_ID, "key": PROJECT_KEY, "name": "Quality" }],
        }));
}

fn notifier_on(h: &Harness, tenant_info_url: Option<String>) -> JiraNotifier {
    notifier_with_source(h, tenant_info_url, None)
}

pub fn notifier_with_source(
    h: &Harness,
    tenant_info_url: Option<String>,
    source: Option<Arc<dyn TokenSource>>,
) -> JiraNotifier {
    let mut b = JiraNotifier::builder(h.store.clone())
        .auth_url(h.server.base_url())
        .api_url(h.server.url("/gw"))
        .transport(transport())
        .retry_policy(fast_policy());
    if let Some(url) = tenant_info_url {
        b = b.tenant_info_url(url);
    }
    if let Some(source) = source {
        b = b.token_source(source);
    }
    b.build().expect("the notifier builds")
}

pub fn gw(rest: &str) -> String {
    format!("/gw{}", jira_path(rest))
}

#[tokio::test]
async fn a_service_accounts_api_token_signs_every_call_with_basic_auth_through_the_gateway() {
    let h = Harness::start().await;
    let tenant = h.mock(tenant_info).await;
    let info = h
        .mock(|when, then| {
            get_as(when, &gw("serverInfo"), &[], SA_BASIC);
            server_info(then);
        })
        .await;
    let projects = h
        .mock(|when, then| {
            get_as(when, &gw("project/search"), &PROJECT_QUERY, SA_BASIC);
            one_project(then);
        })
        .await;
    let n = notifier_on(&h, Some(h.server.base_url()));
    let creds = Credentials::service_account_token(SA_EMAIL, SA_TOKEN.to_owned());

    let connected = n.connect_to_site_url(creds, SITE_URL).await.unwrap();
    assert_eq!(connected, site());
    let stored = h.store.load_connection().await.unwrap().unwrap();
    assert_eq!(
        stored.credentials.kind(),
        CredentialKind::ServiceAccountToken
    );
    assert_eq!(stored.credentials.email(), Some(SA_EMAIL));
    let listed = n.projects().await.unwrap();
    assert_eq!(listed[0].key, PROJECT_KEY);
    assert_eq!(
        connected.browse_url("QA-1"),
        "https://acme.atlassian.net/browse/QA-1"
    );
    tenant.assert_calls_async(1).await;
    info.assert_calls_async(1).await;
    projects.assert_calls_async(1).await;
    // No token request, no discovery: nothing else was asked.
    h.assert_no_strays();
    assert_eq!(n.token_fetches(), 0);
}

#[tokio::test]
async fn a_refused_service_account_token_names_the_account_and_stores_nothing() {
    let h = Harness::start().await;
    h.mock(tenant_info).await;
    let info = h
        .mock(|when, then| {
            get_as(when, &gw("serverInfo"), &[], SA_BASIC);
            gateway_401(then);
        })
        .await;
    let n = notifier_on(&h, Some(h.server.base_url()));
    let creds = Credentials::service_account_token(SA_EMAIL, SA_TOKEN.to_owned());
    let err = n.connect_to_site_url(creds, SITE_URL).await.unwrap_err();
    match &err {
        Error::CredentialRefused {
            kind,
            account,
            status,
        } => {
            assert_eq!(*kind, CredentialKind::ServiceAccountToken);
            assert_eq!(account, SA_EMAIL);
            assert_eq!(*status, 401);
        }
        other => panic!("expected CredentialRefused, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the API token of service account {SA_EMAIL} was refused (401)"
        )),
        "{text}"
    );
    assert!(!text.contains(SA_TOKEN));
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(401));
    // Asked once: an API token is what it is, a retry would be refused too.
    info.assert_calls_async(1).await;
    assert!(h.store.load_connection().await.unwrap().is_none());
    h.assert_no_strays();
}

#[tokio::test]
async fn a_persons_api_token_goes_straight_to_the_site_with_basic_auth() {
    let h = Harness::start().await;
    // The site is the mock server itself (plain http is fine on loopback).
    let site_url = h.server.base_url();
    let tenant = h.mock(tenant_info).await;
    let info = h
        .mock(|when, then| {
            get_as(when, "/rest/api/3/serverInfo", &[], PERSON_BASIC);
            server_info(then);
        })
        .await;
    let projects = h
        .mock(|when, then| {
            get_as(
                when,
                "/rest/api/3/project/search",
                &PROJECT_QUERY,
                PERSON_BASIC,
            );
            one_project(then);
        })
        .await;
    let n = notifier_on(&h, None);
    let creds = Credentials::personal_token(PERSON_EMAIL, PERSON_TOKEN.to_owned());

    let connected = n
        .connect_to_site_url(creds, &format!("{site_url}/jira/your-work"))
        .await
        .unwrap();
    assert_eq!(connected.url, site_url);
    assert_eq!(connected.cloud_id, CLOUD_ID);
    assert_eq!(n.projects().await.unwrap()[0].key, PROJECT_KEY);
    // Links people open stay on the site URL.
    assert_eq!(
        connected.browse_url("QA-1"),
        format!("{site_url}/browse/QA-1")
    );
    tenant.assert_calls_async(1).await;
    info.assert_calls_async(1).await;
    projects.assert_calls_async(1).await;
    h.assert_no_strays();

    // Refused later (the token was revoked): Jira's plain-text 401.
    h.reset().await;
    let refused = h
        .mock(|when, then| {
            get_as(when, "/rest/api/3/project/search", &PROJECT_QUERY, PERSON_BASIC);
            then.status(401)
                .header("content-type", "text/plain")
                .header("x-seraph-loginreason", "AUTHENTICATED_FAILED")
                .body("Basic authentication with passwords is deprecated.  For more information, see: https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/\n");
        })
        .await;
    let err = n.projects().await.unwrap_err();
    assert!(
        matches!(&err, Error::CredentialRefused { kind: CredentialKind::PersonalToken, account, status: 401 } if account == PERSON_EMAIL),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&format!(
        "the personal API token of {PERSON_EMAIL} was refused (401)"
    )));
    refused.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_api_token_cannot_list_sites_and_an_empty_one_is_refused_before_any_request() {
    let h = Harness::start().await;
    let n = notifier_on(&h, None);
    let token = Credentials::personal_token(PERSON_EMAIL, PERSON_TOKEN.to_owned());
    assert!(matches!(
        n.connect(token.clone()).await.unwrap_err(),
        Error::InvalidInput { field: "site", .. }
    ));
    let empty = Credentials::service_account_token(SA_EMAIL, String::new());
    assert!(matches!(
        n.connect_to_site_url(empty, SITE_URL).await.unwrap_err(),
        Error::InvalidInput {
            field: "api_token",
            ..
        }
    ));
    let no_email = Credentials::personal_token("", PERSON_TOKEN.to_owned());
    assert!(matches!(
        n.connect_to_site_url(no_email, SITE_URL).await.unwrap_err(),
        Error::InvalidInput { field: "email", .. }
    ));
    h.assert_no_strays();
}

/// A host's token source, as a 3LO app keeps one: it hands out its current token, and
/// moves to the next of `tokens` (a refresh) when told the current one was refused. Each
/// request is written down.
#[derive(Debug)]
pub struct Source {
    tokens: Vec<&'static str>,
    current: Mutex<usize>,
    pub asked: Mutex<Vec<(String, Option<String>)>>,
}

impl Source {
    pub fn new(tokens: &[&'static str]) -> Arc<Source> {
        Arc::new(Source {
            tokens: tokens.to_vec(),
            current: Mutex::new(0),
            asked: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl TokenSource for Source {
    async fn token(&self, request: TokenRequest<'_>) -> Result<SourcedToken, TokenSourceError> {
        let rejected = request.rejected().map(|t| t.expose_secret().to_owned());
        let mut current = self.current.lock().unwrap();
        if rejected.as_deref() == Some(self.tokens[*current]) {
            *current = (*current + 1).min(self.tokens.len() - 1);
        }
        self.asked
            .lock()
            .unwrap()
            .push((request.name().to_owned(), rejected));
        Ok(SourcedToken::new(
            self.tokens[*current].to_owned(),
            CLOUD_ID,
        ))
    }
}

#[tokio::test]
async fn the_hosts_token_source_is_asked_again_once_on_a_401_then_the_refusal_is_typed() {
    let h = Harness::start().await;
    let source = Source::new(&[TOKEN, TOKEN2, "third-token"]);
    let info = h
        .mock(|when, then| {
            get_as(when, &gw("serverInfo"), &[], &format!("Bearer {TOKEN}"));
            server_info(then);
        })
        .await;
    let n = notifier_with_source(&h, None, Some(source.clone()));
    let connected = n
        .connect(Credentials::token_source("install-7"))
        .await
        .unwrap();
    assert_eq!(connected, site());
    info.assert_calls_async(1).await;

    // The first token is refused; the source is told so and its next one works.
    h.reset().await;
    let refused = h
        .mock(|when, then| {
            get_as(
                when,
                &gw("project/search"),
                &PROJECT_QUERY,
                &format!("Bearer {TOKEN}"),
            );
            gateway_401(then);
        })
        .await;
    let works = h
        .mock(|when, then| {
            get_as(
                when,
                &gw("project/search"),
                &PROJECT_QUERY,
                &format!("Bearer {TOKEN2}"),
            );
            one_project(then);
        })
        .await;
    assert_eq!(n.projects().await.unwrap()[0].key, PROJECT_KEY);
    refused.assert_calls_async(1).await;
    works.assert_calls_async(1).await;
    // Nothing is kept without a lifetime from the source: it is asked for each request,
    // and told which token was refused.
    let asked = source.asked.lock().unwrap().clone();
    let name = || "install-7".to_owned();
    assert_eq!(
        asked,
        [
            (name(), None),                   // connect: the cloud id
            (name(), None),                   // connect: serverInfo
            (name(), None),                   // the list, first try
            (name(), Some(TOKEN.to_owned())), // after the 401
        ]
    );

    // Refused twice: a typed error, after one retry only.
    h.reset().await;
    let always = h
        .mock(|when, then| {
            when.method("GET").path(gw("project/search"));
            gateway_401(then);
        })
        .await;
    let err = n.projects().await.unwrap_err();
    assert!(
        matches!(&err, Error::CredentialRefused { kind: CredentialKind::TokenSource, account, status: 401 } if account == "install-7"),
        "{err:?}"
    );
    always.assert_calls_async(2).await;
    h.assert_no_strays();
    assert_eq!(n.token_fetches(), 0);
}

#[tokio::test]
async fn a_token_source_connection_without_a_source_is_a_configuration_error() {
    let store = Arc::new(MemoryStore::new());
    store
        .save_connection(&jira_notifier::Connection::new(
            Credentials::token_source("install-7"),
            site(),
        ))
        .await
        .unwrap();
    let n = notifier(store, "http://127.0.0.1:9", "http://127.0.0.1:9");
    assert!(matches!(n.projects().await.unwrap_err(), Error::Config(_)));
}
