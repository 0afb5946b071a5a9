//! The test notification: a ticket proving the setup, with its own label and no search.

use jira_notifier::{Assignee, Error, IssueRef, Settings};
use serde_json::{json, Value};

use crate::support::*;

/// The create body of the notification, apart from its description, which must be an ADF
/// document with some text.
fn is_notification(body: &[u8], expected_fields: &Value) -> bool {
    let Ok(mut body) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let Some(fields) = body.get_mut("fields").and_then(Value::as_object_mut) else {
        return false;
    };
    let Some(description) = fields.remove("description") else {
        return false;
    };
    let adf_ok = description["version"] == 1
        && description["type"] == "doc"
        && description["content"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
        && description.to_string().contains("\"text\":\"")
        && !description.to_string().contains("\"text\":\"\"");
    adf_ok && body == json!({ "fields": expected_fields })
}

#[tokio::test]
async fn the_test_notification_creates_a_labelled_issue_each_time_without_searching() {
    let h = Harness::start().await;
    h.connect().await;
    h.configure(
        Settings::new(PROJECT_KEY)
            .with_label_prefix("tc-")
            .with_labels(["qa"])
            .with_assignee(Assignee::user("acc-7")),
    )
    .await;
    let expected = json!({
        "project": { "id": PROJECT_ID },
        "issuetype": { "id": BUG_ID },
        "summary": "Test notification from jira-notifier",
        "labels": ["qa", "tc-_notification-test"],
        "assignee": { "accountId": "acc-7" },
    });
    let create = h
        .mock(move |when, then| {
            let when = when
                .method("POST")
                .path(jira_path("issue"))
                .header("accept", "application/json")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {TOKEN}"));
            exact_query(when, &[]).is_true(move |req| is_notification(req.body_ref(), &expected));
            then.status(201)
                .header("content-type", "application/json")
                .json_body(created("10077", "QA-77"));
        })
        .await;

    let first = h
        .notifier
        .send_test_notification()
        .await
        .expect("notification");
    let second = h
        .notifier
        .send_test_notification()
        .await
        .expect("notification");

    let qa_77 = IssueRef::new("10077", "QA-77", browse("QA-77"));
    assert_eq!(first, qa_77);
    assert_eq!(second, qa_77);
    // Every call creates a ticket; none searches first.
    create.assert_calls_async(2).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn the_test_notification_needs_a_connection_and_settings() {
    let h = Harness::start().await;

    let err = h.notifier.send_test_notification().await.unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err:?}");

    h.connect().await;
    let err = h.notifier.send_test_notification().await.unwrap_err();
    assert!(matches!(err, Error::NotConfigured), "{err:?}");
    assert!(!err.is_retryable());
    h.assert_no_strays();
}

#[tokio::test]
async fn a_notification_whose_create_failed_is_not_reported_as_an_older_open_ticket() {
    let h = Harness::start().await;
    h.ready().await;
    let label = "testclix-_notification-test";
    let expected = json!({
        "project": { "id": PROJECT_ID },
        "issuetype": { "id": BUG_ID },
        "summary": "Test notification from jira-notifier",
        "labels": [label],
    });
    let create = |status: u16, answer: Value, times: Option<usize>| {
        let expected = expected.clone();
        move |when: httpmock::When, then: httpmock::Then| {
            let when = when
                .method("POST")
                .path(jira_path("issue"))
                .header("authorization", format!("Bearer {TOKEN}"));
            exact_query(when, &[]).is_true(move |req| is_notification(req.body_ref(), &expected));
            let then = then
                .status(status)
                .header("content-type", "application/json")
                .json_body(answer);
            if let Some(n) = times {
                then.up_to_n_times(n);
            }
        }
    };
    let first = h
        .mock(create(201, created("10077", "QA-77"), Some(1)))
        .await;
    let failed = h
        .mock(create(
            500,
            json!({ "errorMessages": ["Internal server error"] }),
            Some(1),
        ))
        .await;
    let _fresh = h.mock(create(201, created("10078", "QA-78"), None)).await;
    // Nobody closed the first ticket: a search for the label shows it.
    let _search = h
        .mock_search(
            TOKEN,
            label,
            None,
            json!([found_issue("10077", "QA-77", "new", &[label])]),
        )
        .await;

    let one = h
        .notifier
        .send_test_notification()
        .await
        .expect("first notification");
    assert_eq!(one.key, "QA-77");
    let two = h.notifier.send_test_notification().await;

    // The second create did not land: the host must not be told that QA-77, the ticket
    // of the first call, proves the second.
    match &two {
        Ok(issue) => assert_ne!(
            issue.key, "QA-77",
            "an old ticket was reported as just created"
        ),
        Err(e) => assert!(e.is_retryable(), "{e:?}"),
    }
    first.assert_calls_async(1).await;
    failed.assert_calls_async(1).await;
    h.assert_no_strays();
}
