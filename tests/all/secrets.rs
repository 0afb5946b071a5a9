//! Neither the client secret nor an access token ever shows in what the crate hands back:
//! values, errors and their sources, in `Debug` and `Display`.

use std::error::Error as StdError;
use std::fmt::Debug;

use jira_notifier::{Assignee, ConfigStore, Error, Settings, TestInfo, TestStatus};
use serde_json::json;

use crate::support::*;

const TOKEN3: &str = "at-THIRD-access-token-unread-5e6f";

#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn debug(&mut self, what: &str, v: &dyn Debug) {
        self.0.push((what.to_owned(), format!("{v:?}")));
        self.0.push((what.to_owned(), format!("{v:#?}")));
    }

    fn error(&mut self, what: &str, e: &Error) {
        self.debug(what, e);
        self.0.push((what.to_owned(), e.to_string()));
        let mut source: Option<&(dyn StdError + 'static)> = e.source();
        let mut depth = 0;
        while let Some(s) = source {
            depth += 1;
            self.0
                .push((format!("{what} source {depth}"), s.to_string()));
            self.0
                .push((format!("{what} source {depth}"), format!("{s:?}")));
            source = s.source();
        }
    }
}

#[tokio::test]
async fn no_value_or_error_shows_the_secret_or_a_token() {
    let mut seen = Seen::default();
    let h = Harness::start().await;

    // Rejected credentials.
    h.mock(|when, then| {
        token_request(when);
        then.status(401)
            .header("content-type", "application/json")
            .body(r#"{"error":"access_denied","error_description":"Unauthorized"}"#);
    })
    .await;
    let err = h.notifier.connect(creds()).await.unwrap_err();
    assert!(matches!(err, Error::CredentialsRejected { .. }), "{err:?}");
    seen.error("rejected credentials", &err);
    h.reset().await;

    // Connected: the token is cached and the secret stored.
    let site = h.connect().await;
    seen.debug("site", &site);
    seen.debug("credentials", &creds());
    seen.debug("notifier with a cached token", &h.notifier);
    seen.debug("store", &h.store);
    let connection = h.store.load_connection().await.unwrap().unwrap();
    seen.debug("connection", &connection);
    seen.debug("connection credentials", &connection.credentials);
    h.configure(Settings::new(PROJECT_KEY).with_assignee(Assignee::user("acc-7")))
        .await;
    seen.debug("settings", &h.notifier.settings().await.unwrap());

    // A 401, a new token, a retry.
    h.mock_token(TOKEN2).await;
    h.mock_search_with(LABEL, None, |then| {
        then.status(401)
            .header("content-type", "application/json")
            .body(r#"{"code":401,"message":"Unauthorized"}"#);
    })
    .await;
    h.mock_search(TOKEN2, LABEL, None, json!([])).await;
    h.mock_create(
        TOKEN2,
        checkout_create(&[LABEL], Some("acc-7")),
        "10042",
        "QA-42",
    )
    .await;
    let outcome = h.report_checkout().await.unwrap();
    seen.debug("outcome", &outcome);
    seen.debug("notifier with a renewed token", &h.notifier);
    seen.debug("store with a record", &h.store);
    h.reset().await;

    // Jira refuses a create.
    let other = TestInfo::new("other", "Other", "https://ci.example.com/tests/other");
    h.mock(|when, then| {
        post(
            when,
            &jira_path("search/jql"),
            TOKEN2,
            search_body("testclix-other", None),
        );
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"issues":[],"isLast":true}"#);
    })
    .await;
    let recorded = Recorded::load("issue_create_no_project");
    h.mock(|when, then| {
        when.method("POST").path(jira_path("issue"));
        recorded.serve(then);
    })
    .await;
    let err = h
        .notifier
        .on_test_error(&other, &TestStatus::error("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CreateRefused { .. }), "{err:?}");
    seen.error("refused create", &err);
    h.reset().await;

    // An HTML page instead of JSON.
    let page = Recorded::load("site_unknown");
    h.mock(|when, then| {
        when.method("POST").path(jira_path("search/jql"));
        page.serve_as(503, then);
    })
    .await;
    let err = h
        .notifier
        .on_test_error(&other, &TestStatus::error("x"))
        .await
        .unwrap_err();
    seen.error("html page", &err);
    h.reset().await;

    // No answer at all.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let worker = notifier(h.store.clone(), &h.server.base_url(), &closed);
    h.mock_token(TOKEN2).await;
    let err = worker
        .on_test_error(&other, &TestStatus::error("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    seen.error("refused connection", &err);
    seen.debug("worker", &worker);
    h.reset().await;

    // A token answer the crate cannot read, holding a token all the same.
    h.notifier.disconnect().await.unwrap();
    h.mock(|when, then| {
        token_request(when);
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({ "access_token": TOKEN3, "token_type": "Bearer" }));
    })
    .await;
    let err = h.notifier.connect(creds()).await.unwrap_err();
    assert!(matches!(err, Error::UnexpectedResponse { .. }), "{err:?}");
    seen.error("unreadable token answer", &err);
    seen.debug("notifier after disconnect", &h.notifier);

    // The collection holds what it should, so a clean result means something.
    let all: String = seen.0.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        all.contains(CLIENT_ID),
        "the credentials were not collected"
    );
    assert!(
        all.contains("Unauthorized"),
        "the errors were not collected"
    );
    assert!(seen.0.len() > 30, "only {} strings collected", seen.0.len());
    for (what, text) in &seen.0 {
        for secret in [CLIENT_SECRET, TOKEN, TOKEN2, TOKEN3] {
            assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
        }
    }
    h.assert_no_strays();
}

#[tokio::test]
async fn api_tokens_and_a_token_sources_tokens_never_show_either() {
    use crate::credentials::*;
    use jira_notifier::{Credentials, SourcedToken, TokenRequest};

    let mut seen = Seen::default();
    let h = Harness::start().await;
    h.mock(tenant_info).await;
    h.mock(|when, then| {
        get_as(when, &gw("serverInfo"), &[], SA_BASIC);
        gateway_401(then);
    })
    .await;
    h.mock(|when, then| {
        get_as(when, "/rest/api/3/serverInfo", &[], PERSON_BASIC);
        server_info(then);
    })
    .await;
    let n = notifier_with_source(&h, None, None);
    let service = Credentials::service_account_token(SA_EMAIL, SA_TOKEN.to_owned());
    seen.debug("service account token", &service);
    let err = n
        .connect_to_site_url(service, &h.server.base_url())
        .await
        .unwrap_err();
    seen.error("refused service account token", &err);
    let person = Credentials::personal_token(PERSON_EMAIL, PERSON_TOKEN.to_owned());
    seen.debug("personal token", &person);
    let site = n
        .connect_to_site_url(person, &h.server.base_url())
        .await
        .unwrap();
    seen.debug("site", &site);
    let connection = h.store.load_connection().await.unwrap().unwrap();
    seen.debug("connection", &connection);
    seen.debug("notifier", &n);
    seen.debug("store", &h.store);

    // The host's token source: its tokens, refused twice.
    h.reset().await;
    h.mock(|when, then| {
        when.method("GET").path(gw("serverInfo"));
        gateway_401(then);
    })
    .await;
    let source = Source::new(&[TOKEN3, TOKEN2]);
    let n = notifier_with_source(&h, None, Some(source.clone()));
    let err = n
        .connect(Credentials::token_source("install-7"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CredentialRefused { .. }), "{err:?}");
    seen.error("refused token source token", &err);
    seen.debug("notifier with a source", &n);
    seen.debug("source", &source);
    let token = secrecy::SecretString::from(TOKEN3.to_owned());
    seen.debug(
        "token request",
        &TokenRequest::new("install-7").with_rejected(&token),
    );
    seen.debug(
        "sourced token",
        &SourcedToken::new(TOKEN3.to_owned(), CLOUD_ID),
    );

    let all: String = seen.0.iter().map(|(_, s)| s.as_str()).collect();
    assert!(all.contains(SA_EMAIL) && all.contains(PERSON_EMAIL));
    assert!(all.contains("was refused (401)"));
    let encoded = |basic: &str| basic.trim_start_matches("Basic ").to_owned();
    for (what, text) in &seen.0 {
        // The source (a test double) keeps its own log of what it was told: not the crate's.
        if what == "source" {
            continue;
        }
        for secret in [
            SA_TOKEN.to_owned(),
            PERSON_TOKEN.to_owned(),
            encoded(SA_BASIC),
            encoded(PERSON_BASIC),
            TOKEN2.to_owned(),
            TOKEN3.to_owned(),
        ] {
            assert!(!text.contains(&secret), "{what} shows {secret:?}: {text}");
        }
    }
    h.assert_no_strays();
}
