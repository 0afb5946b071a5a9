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
