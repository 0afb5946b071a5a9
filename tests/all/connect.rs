//! Connecting: the token request, site discovery, site choice, rejected credentials.

use jira_notifier::{ConfigStore, Credentials, Error, Site};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::*;

fn beta() -> Site {
    Site::new(
        "b2b2b2b2-0000-4000-8000-beta00000002".to_owned(),
        "beta".to_owned(),
        "https://beta.atlassian.net".to_owned(),
    )
}

#[tokio::test]
async fn connect_takes_the_only_site_and_stores_the_connection() {
    let h = Harness::start().await;
    let token = h.mock_token(TOKEN).await;
    let sites = h
        .mock_sites(TOKEN, json!([site_resource(CLOUD_ID, SITE_NAME)]))
        .await;

    let connected = h.notifier.connect(creds()).await.expect("connect");

    assert_eq!(connected, site());
    token.assert_calls_async(1).await;
    sites.assert_calls_async(1).await;
    assert_eq!(h.notifier.token_fetches(), 1);
    assert_eq!(h.notifier.connected_site().await.unwrap(), Some(site()));
    let stored = h
        .store
        .load_connection()
        .await
        .unwrap()
        .expect("a stored connection");
    assert_eq!(stored.site, site());
    assert_eq!(stored.credentials.client_id(), CLIENT_ID);
    assert_eq!(
        stored.credentials.client_secret().expose_secret(),
        CLIENT_SECRET
    );
    h.assert_no_strays();
}

#[tokio::test]
async fn several_sites_need_a_choice_then_connect_to_site_stores_the_chosen_one() {
    let h = Harness::start().await;
    let token = h.mock_token(TOKEN).await;
    let mut confluence = site_resource("c0c0c0c0-0000-4000-8000-wiki00000003", "wiki");
    confluence["scopes"] = json!(["read:confluence-content.all"]);
    let b = beta();
    let sites = h
        .mock_sites(
            TOKEN,
            json!([
                site_resource(CLOUD_ID, SITE_NAME),
                site_resource(&b.cloud_id, &b.name),
                confluence
            ]),
        )
        .await;

    let err = h.notifier.connect(creds()).await.unwrap_err();
    let Error::SiteChoiceRequired { sites: offered } = &err else {
        panic!("expected SiteChoiceRequired, got {err:?}");
    };
    // The Confluence-only resource is no Jira site.
    assert_eq!(offered, &vec![site(), b.clone()]);
    assert!(
        err.to_string().contains("https://beta.atlassian.net"),
        "{err}"
    );
    assert_eq!(
        h.notifier.connected_site().await.unwrap(),
        None,
        "nothing stored yet"
    );

    let chosen = h
        .notifier
        .connect_to_site(creds(), "beta")
        .await
        .expect("connect_to_site");
    assert_eq!(chosen, b);
    assert_eq!(h.notifier.connected_site().await.unwrap(), Some(b));
    sites.assert_calls_async(2).await;
    // The token of the first attempt is still good for the second.
    token.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn credentials_reaching_no_site_are_no_sites_and_store_nothing() {
    let h = Harness::start().await;
    let token = h.mock_token(TOKEN).await;
    let sites = h.mock_sites(TOKEN, json!([])).await;

    let err = h.notifier.connect(creds()).await.unwrap_err();

    assert!(matches!(err, Error::NoSites), "{err:?}");
    assert!(!err.is_retryable());
    token.assert_calls_async(1).await;
    sites.assert_calls_async(1).await;
    assert!(h.store.load_connection().await.unwrap().is_none());
    h.assert_no_strays();
}

/// Atlassian's recorded 400 answers from the token endpoint.
#[tokio::test]
async fn token_endpoint_400_is_credentials_rejected_with_atlassians_description() {
    for fixture in ["token_unreadable", "token_unsupported_grant"] {
        let recorded = Recorded::load(fixture);
        let answer: serde_json::Value = serde_json::from_slice(&recorded.body).unwrap();
        let h = Harness::start().await;
        let token = h
            .mock(|when, then| {
                token_request(when);
                recorded.serve(then);
            })
            .await;

        let err = h.notifier.connect(creds()).await.unwrap_err();

        let Error::CredentialsRejected {
            status,
            error,
            description,
        } = &err
        else {
            panic!("{fixture}: expected CredentialsRejected, got {err:?}");
        };
        assert_eq!(*status, 400, "{fixture}");
        assert_eq!(error, answer["error"].as_str().unwrap(), "{fixture}");
        assert_eq!(
            description,
            answer["error_description"].as_str().unwrap(),
            "{fixture}"
        );
        assert!(
            err.to_string().contains(description.as_str()),
            "{fixture}: {err}"
        );
        assert!(!err.is_retryable(), "{fixture}");
        assert_eq!(err.status(), Some(400));
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains(CLIENT_SECRET),
                "{fixture}: the secret leaked: {text}"
            );
        }
        // Final: asked once, and nothing stored or discovered.
        token.assert_calls_async(1).await;
        assert!(
            h.store.load_connection().await.unwrap().is_none(),
            "{fixture}"
        );
        assert_eq!(h.notifier.token_fetches(), 0, "{fixture}");
        h.assert_no_strays();
    }
}

#[tokio::test]
async fn token_endpoint_401_is_credentials_rejected_and_nothing_is_stored() {
    let h = Harness::start().await;
    let token = h
        .mock(|when, then| {
            token_request(when);
            then.status(401)
                .header("content-type", "application/json")
                .body(r#"{"error":"access_denied","error_description":"Unauthorized"}"#);
        })
        .await;

    let err = h.notifier.connect(creds()).await.unwrap_err();

    match &err {
        Error::CredentialsRejected {
            status,
            error,
            description,
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error, "access_denied");
            assert_eq!(description, "Unauthorized");
        }
        other => panic!("expected CredentialsRejected, got {other:?}"),
    }
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    assert!(!err.to_string().contains(CLIENT_SECRET));
    assert!(!format!("{err:?}").contains(CLIENT_SECRET));
    token.assert_calls_async(1).await;
    assert!(h.store.load_connection().await.unwrap().is_none());
    assert_eq!(h.notifier.connected_site().await.unwrap(), None);
    h.assert_no_strays();
}

#[tokio::test]
async fn an_empty_secret_is_refused_before_any_request() {
    let h = Harness::start().await;

    let err = h
        .notifier
        .connect(Credentials::new(CLIENT_ID, "  ".to_owned()))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "client_secret",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(h.store.load_connection().await.unwrap().is_none());
    h.assert_no_strays();
}

#[tokio::test]
async fn disconnect_forgets_the_token_and_reconnecting_fetches_a_new_one() {
    let h = Harness::start().await;
    h.ready().await;

    h.notifier.disconnect().await.unwrap();
    assert_eq!(h.notifier.connected_site().await.unwrap(), None);
    assert!(h.store.load_connection().await.unwrap().is_none());
    // Settings are kept for a reconnect to the same site.
    assert!(h.notifier.settings().await.unwrap().is_some());

    let token = h.mock_token(TOKEN2).await;
    let sites = h
        .mock_sites(TOKEN2, json!([site_resource(CLOUD_ID, SITE_NAME)]))
        .await;
    assert_eq!(h.notifier.connect(creds()).await.unwrap(), site());
    token.assert_calls_async(1).await;
    sites.assert_calls_async(1).await;
    assert_eq!(h.notifier.token_fetches(), 2);
    assert!(h.notifier.settings().await.unwrap().is_some());
    h.assert_no_strays();
}
