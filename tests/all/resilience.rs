//! Failures on the wire: expired tokens, throttling, server faults, refused creates,
//! unreachable hosts and answers that are not Jira's JSON.

use std::time::{Duration, Instant};

use jira_notifier::{ConfigStore, Error, Outcome, TransportErrorKind};
use serde_json::json;

use crate::support::*;

fn json_answer(then: httpmock::Then, status: u16, body: serde_json::Value) -> httpmock::Then {
    then.status(status)
        .header("content-type", "application/json")
        .json_body(body)
}

#[tokio::test]
async fn a_401_gets_exactly_one_new_token_and_one_retry() {
    let h = Harness::start().await;
    h.ready().await;
    let token = h.mock_token(TOKEN2).await;
    let refused = h
        .mock_search_with(LABEL, None, |then| {
            json_answer(then, 401, json!({ "code": 401, "message": "Unauthorized" }));
        })
        .await;
    let search = h.mock_search(TOKEN2, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN2, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome.issue().unwrap().key, "QA-42");
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    refused.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    assert_eq!(h.notifier.token_fetches(), 2);
    h.assert_no_strays();
}

#[tokio::test]
async fn a_401_for_a_missing_scope_fetches_no_token_and_names_the_scope() {
    let h = Harness::start().await;
    h.ready().await;
    let refused = h
        .mock(|when, then| {
            post(
                when,
                &jira_path("issue"),
                TOKEN,
                checkout_create(&[LABEL], None),
            );
            json_answer(
                then,
                401,
                json!({ "code": 401, "message": "Unauthorized; scope does not match" }),
            );
        })
        .await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;

    let err = h.report_checkout().await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::MissingScope {
                scope: "write:jira-work",
                operation: "create issue"
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(401));
    refused.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    assert_eq!(h.notifier.token_fetches(), 1);
    h.assert_no_strays();
}

#[tokio::test]
async fn a_401_with_the_new_token_too_is_returned_after_one_renewal() {
    let h = Harness::start().await;
    h.ready().await;
    let token = h.mock_token(TOKEN2).await;
    let unauthorized = |token: &'static str| {
        move |when: httpmock::When, then: httpmock::Then| {
            post(
                when,
                &jira_path("search/jql"),
                token,
                search_body(LABEL, None),
            );
            json_answer(then, 401, json!({ "code": 401, "message": "Unauthorized" }));
        }
    };
    let first = h.mock(unauthorized(TOKEN)).await;
    let second = h.mock(unauthorized(TOKEN2)).await;

    let err = h.report_checkout().await.unwrap_err();

    let Error::Api(api) = &err else {
        panic!("expected Error::Api, got {err:?}");
    };
    assert_eq!(api.status, 401);
    assert_eq!(api.operation, "search");
    assert!(!err.is_retryable());
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_429_waits_out_retry_after_then_succeeds() {
    let h = Harness::start().await;
    h.ready().await;
    let throttled = h
        .mock_search_with(LABEL, None, |then| {
            then.status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "1")
                .header("RateLimit-Reason", "jira-burst-based")
                .body(r#"{"errorMessages":["Rate limit exceeded."],"errors":{}}"#)
                .up_to_n_times(1);
        })
        .await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let started = Instant::now();
    let outcome = h.report_checkout().await.unwrap();
    let took = started.elapsed();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    // The policy's own backoff is at most 20 ms: only Retry-After explains a second.
    assert!(
        took >= Duration::from_millis(950),
        "did not wait out Retry-After: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "waited far longer than asked: {took:?}"
    );
    throttled.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_503_on_search_is_retried_then_succeeds() {
    let h = Harness::start().await;
    h.ready().await;
    let unavailable = h
        .mock_search_with(LABEL, None, |then| {
            json_answer(
                then,
                503,
                json!({ "errorMessages": ["Service Unavailable"] }),
            )
            .up_to_n_times(1);
        })
        .await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome.issue().unwrap().key, "QA-42");
    unavailable.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_500_on_create_is_looked_for_and_not_created_twice_when_found() {
    let h = Harness::start().await;
    h.ready().await;
    let before = h
        .mock_search_with(LABEL, None, |then| {
            json_answer(then, 200, json!({ "issues": [], "isLast": true })).up_to_n_times(1);
        })
        .await;
    // The create landed although the answer was a 500: the next search shows it.
    let after = h
        .mock_search(
            TOKEN,
            LABEL,
            None,
            json!([found_issue("10042", "QA-42", "new", &[LABEL])]),
        )
        .await;
    let create = h
        .mock_create_with(checkout_create(&[LABEL], None), |then| {
            json_answer(
                then,
                500,
                json!({ "errorMessages": ["Internal server error"], "errors": {} }),
            );
        })
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome.issue().unwrap().key, "QA-42");
    assert_eq!(outcome.issue().unwrap().url, browse("QA-42"));
    create.assert_calls_async(1).await;
    before.assert_calls_async(1).await;
    after.assert_calls_async(1).await;
    assert_eq!(
        h.store
            .load_record(&tid(TEST_ID))
            .await
            .unwrap()
            .unwrap()
            .issue_id,
        "10042"
    );
    h.assert_no_strays();
}

#[tokio::test]
async fn a_500_on_create_with_nothing_found_is_created_once_more() {
    let h = Harness::start().await;
    h.ready().await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let failed_create = h
        .mock_create_with(checkout_create(&[LABEL], None), |then| {
            json_answer(
                then,
                500,
                json!({ "errorMessages": ["Internal server error"] }),
            )
            .up_to_n_times(1);
        })
        .await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    failed_create.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    // The duplicate check, then one look within the 200 ms lookback.
    search.assert_calls_async(2).await;
    h.assert_no_strays();
}

/// Jira's recorded 400 for a create without a valid project: a refusal with field errors
/// is `Error::CreateRefused`, carrying Jira's answer.
#[tokio::test]
async fn a_400_on_create_is_a_final_refusal_carrying_jiras_field_message() {
    let h = Harness::start().await;
    h.ready().await;
    let recorded = Recorded::load("issue_create_no_project");
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create_with(checkout_create(&[LABEL], None), |then| {
            recorded.serve(then);
        })
        .await;

    let err = h.report_checkout().await.unwrap_err();

    let Error::CreateRefused {
        project_key,
        issue_type,
        error: api,
    } = &err
    else {
        panic!("expected Error::CreateRefused, got {err:?}");
    };
    assert_eq!((project_key.as_str(), issue_type.as_str()), ("QA", "Bug"));
    assert_eq!(api.status, 400);
    assert_eq!(err.status(), Some(400));
    assert_eq!(api.operation, "create issue");
    assert_eq!(
        api.errors.get("project").map(String::as_str),
        Some("Specify a valid project ID or key")
    );
    assert!(api.error_messages.is_empty(), "{:?}", api.error_messages);
    assert!(
        err.to_string()
            .contains("project: Specify a valid project ID or key"),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(!api.is_retryable());
    // Final: not sent again, not looked for.
    create.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_none());
    // Remembered for the settings screen.
    let health = h.notifier.health().await.unwrap();
    let refusal = health.last_refusal.expect("the refusal is remembered");
    assert_eq!(
        refusal.field_errors.get("project").map(String::as_str),
        Some("Specify a valid project ID or key")
    );
    assert_eq!(refusal.test_id.as_deref(), Some(TEST_ID));
    assert_eq!(refusal.status, 400);
    h.assert_no_strays();
}

/// The old search endpoint answers 410 (recorded); the crate must use /search/jql only.
#[tokio::test]
async fn the_retired_search_endpoint_is_never_called() {
    let h = Harness::start().await;
    let recorded = Recorded::load("search_retired");
    assert_eq!(recorded.status, 410);
    h.ready().await;
    let retired = h
        .mock(|when, then| {
            when.path(jira_path("search"));
            recorded.serve(then);
        })
        .await;
    let first = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;
    let repeat = h
        .mock_search(
            TOKEN,
            LABEL,
            Some(10042),
            json!([found_issue("10042", "QA-42", "new", &[LABEL])]),
        )
        .await;

    let one = h.report_checkout().await.unwrap();
    let two = h.report_checkout().await.unwrap();

    assert!(matches!(one, Outcome::Created(_)), "{one:?}");
    assert!(matches!(two, Outcome::Duplicate(_)), "{two:?}");
    retired.assert_calls_async(0).await;
    first.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    repeat.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let h = Harness::start().await;
    h.ready().await;
    // A loopback port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    // Another worker on the same store whose gateway cannot be reached.
    let worker = notifier(h.store.clone(), &h.server.base_url(), &closed);
    let token = h.mock_token(TOKEN).await;

    let err = worker
        .on_test_error(&checkout(), &failed())
        .await
        .unwrap_err();

    let Error::Transport {
        operation,
        error: source,
    } = &err
    else {
        panic!("expected Error::Transport, got {err:?}");
    };
    assert_eq!(*operation, "search");
    assert_eq!(source.kind, TransportErrorKind::Connect);
    assert!(err.is_retryable());
    // The cause is in the message once, not repeated by source().
    assert!(err.to_string().contains(&source.message), "{err}");
    assert!(std::error::Error::source(&err).is_none());
    token.assert_calls_async(1).await;
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_none());
    h.assert_no_strays();
}

/// The recorded "Page Unavailable" HTML page, served as a 503 to the search.
#[tokio::test]
async fn an_html_503_page_is_a_typed_retryable_error_after_the_retry_budget() {
    let h = Harness::start().await;
    h.ready().await;
    let recorded = Recorded::load("site_unknown");
    let search = h
        .mock_search_with(LABEL, None, |then| {
            recorded.serve_as(503, then);
        })
        .await;

    let err = h.report_checkout().await.unwrap_err();

    let Error::Api(api) = &err else {
        panic!("expected Error::Api, got {err:?}");
    };
    assert_eq!(api.status, 503);
    assert_eq!(api.operation, "search");
    assert_eq!(api.error_messages.len(), 1, "{:?}", api.error_messages);
    let message = &api.error_messages[0];
    assert!(message.contains("text/html"), "{message}");
    assert!(
        message.contains("Atlassian Cloud Notifications - Page Unavailable"),
        "{message}"
    );
    assert!(
        !message.contains("<html"),
        "the page itself is not the message: {message}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(503));
    // The first try and the policy's 4 retries.
    search.assert_calls_async(5).await;
    h.assert_no_strays();
}

/// The gateway's recorded 404 for a cloud id it does not know.
#[tokio::test]
async fn the_gateways_404_for_an_unknown_site_is_final() {
    let h = Harness::start().await;
    h.ready().await;
    let recorded = Recorded::load("gateway_unknown_cloud_id");
    let search = h
        .mock_search_with(LABEL, None, |then| {
            recorded.serve(then);
        })
        .await;

    let err = h.report_checkout().await.unwrap_err();

    let Error::Api(api) = &err else {
        panic!("expected Error::Api, got {err:?}");
    };
    assert_eq!(api.status, 404);
    assert_eq!(api.error_messages, ["No message available"]);
    assert!(!err.is_retryable());
    search.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_429_asking_longer_than_max_retry_after_does_not_hold_later_calls() {
    let h = Harness::start().await;
    h.ready().await;
    let throttled = h
        .mock_search_with(LABEL, None, |then| {
            then.status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "120")
                .body(r#"{"errorMessages":["Rate limit exceeded."],"errors":{}}"#);
        })
        .await;

    // 120 s is over the policy's 60 s: the notifier hands the wait to the host.
    let started = Instant::now();
    let err = h.report_checkout().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    throttled.assert_calls_async(1).await;

    // The host's next call (the settings screen, say) must not sit out those 120 s in
    // place: the policy says a Retry-After over max_retry_after is not waited out.
    let page = h
        .mock(|when, then| {
            get(
                when,
                &jira_path("project/search"),
                &[("startAt", "0"), ("maxResults", "100")],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(
                    json!({ "isLast": true, "values": [{ "id": "1", "key": "QA", "name": "QA" }] }),
                );
        })
        .await;
    let next = tokio::time::timeout(Duration::from_secs(3), h.notifier.projects()).await;
    match next {
        Err(_) => panic!(
            "projects() was still held after 3 s by the 120 s slow-down the notifier declined to wait out"
        ),
        // Asked Jira again, or said at once to come back later: both keep the host going.
        Ok(Ok(projects)) => {
            assert_eq!(projects.len(), 1);
            page.assert_calls_async(1).await;
        }
        Ok(Err(e)) => assert!(e.is_retryable(), "{e:?}"),
    }
    h.assert_no_strays();
}
