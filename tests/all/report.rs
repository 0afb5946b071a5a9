//! `on_test_error`: one issue per failing test, never a duplicate while it is open.

use std::time::Duration;

use jira_notifier::{ConfigStore, IssueRecord, IssueRef, Outcome, TestInfo, TestStatus};
use serde_json::json;

use crate::support::*;

fn qa_42() -> IssueRef {
    IssueRef::new("10042", "QA-42", browse("QA-42"))
}

fn open_qa_42() -> serde_json::Value {
    json!([found_issue(
        "10042",
        "QA-42",
        "indeterminate",
        &[LABEL, "other"]
    )])
}

/// Connected, configured, and the checkout test's first failure reported as QA-42.
async fn with_first_issue(h: &Harness) {
    h.ready().await;
    h.mock_search(TOKEN, LABEL, None, json!([])).await;
    h.mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;
    let outcome = h.report_checkout().await.unwrap();
    assert_eq!(outcome, Outcome::Created(qa_42()));
    h.reset().await;
}

#[tokio::test]
async fn a_first_failure_is_one_search_and_one_create_and_links_to_the_site() {
    let h = Harness::start().await;
    h.ready().await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    // Auto assignee: the field is left out; labels: just the test's.
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome, Outcome::Created(qa_42()));
    assert_eq!(
        outcome.issue().unwrap().url,
        "https://acme.atlassian.net/browse/QA-42",
        "the link is the site's, not the gateway's"
    );
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    assert_eq!(
        h.store.load_record(&tid(TEST_ID)).await.unwrap(),
        Some(IssueRecord::new("10042", "QA-42", LABEL))
    );
    h.assert_no_strays();
}

#[tokio::test]
async fn a_repeat_failure_is_one_search_reconciling_the_recorded_issue() {
    let h = Harness::start().await;
    with_first_issue(&h).await;
    let search = h.mock_search(TOKEN, LABEL, Some(10042), open_qa_42()).await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome, Outcome::Duplicate(qa_42()));
    search.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_issue_closed_since_lets_the_next_failure_create_a_new_one() {
    let h = Harness::start().await;
    with_first_issue(&h).await;
    // Closed: the reconciled search no longer lists it.
    let search = h.mock_search(TOKEN, LABEL, Some(10042), json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10043", "QA-43")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(
        outcome,
        Outcome::Created(IssueRef::new("10043", "QA-43", browse("QA-43")))
    );
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    // The next check reconciles the new issue.
    assert_eq!(
        h.store
            .load_record(&tid(TEST_ID))
            .await
            .unwrap()
            .unwrap()
            .issue_id,
        "10043"
    );
    h.reset().await;
    let next = h
        .mock_search(
            TOKEN,
            LABEL,
            Some(10043),
            json!([found_issue("10043", "QA-43", "new", &[LABEL])]),
        )
        .await;
    let again = h.report_checkout().await.unwrap();
    assert_eq!(again.issue().unwrap().key, "QA-43");
    assert!(matches!(again, Outcome::Duplicate(_)), "{again:?}");
    next.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_issue_listed_as_done_does_not_block_a_new_one() {
    let h = Harness::start().await;
    with_first_issue(&h).await;
    // Search data can lag; the status category says it is done.
    let search = h
        .mock_search(
            TOKEN,
            LABEL,
            Some(10042),
            json!([found_issue("10042", "QA-42", "done", &[LABEL])]),
        )
        .await;
    // The new issue names the done one first (issue 12's history line; the search said
    // nothing of when it was done).
    let mut body = checkout_create(&[LABEL], None);
    body["fields"]["description"]["content"]
        .as_array_mut()
        .unwrap()
        .insert(
            0,
            json!({"type": "paragraph", "content": [
                {"type": "text", "text": "This test failed before: "},
                {"type": "text", "text": "QA-42", "marks": [
                    {"type": "link", "attrs": {"href": browse("QA-42")}}
                ]},
                {"type": "text", "text": "."}
            ]}),
        );
    let create = h.mock_create(TOKEN, body, "10043", "QA-43").await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome.issue().unwrap().key, "QA-43");
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_open_issue_found_by_label_alone_is_a_duplicate_and_is_remembered() {
    let h = Harness::start().await;
    h.ready().await;
    // No record (another worker made it): the search by label finds it.
    let search = h.mock_search(TOKEN, LABEL, None, open_qa_42()).await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome, Outcome::Duplicate(qa_42()));
    search.assert_calls_async(1).await;
    let record = h
        .store
        .load_record(&tid(TEST_ID))
        .await
        .unwrap()
        .expect("remembered");
    assert_eq!(
        (record.issue_id.as_str(), record.issue_key.as_str()),
        ("10042", "QA-42")
    );
    h.assert_no_strays();
}

#[tokio::test]
async fn statuses_other_than_error_are_ignored_without_any_request() {
    let h = Harness::start().await;
    h.ready().await;

    for status in [
        TestStatus::Passed,
        TestStatus::Running,
        TestStatus::Pending,
        TestStatus::Skipped,
    ] {
        let outcome = h
            .notifier
            .on_test_error(&checkout(), &status)
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Ignored, "{status:?}");
    }
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_none());
    h.assert_no_strays();
}

#[tokio::test]
async fn not_connected_is_reported_without_any_request() {
    // Never connected.
    let h = Harness::start().await;
    let outcome = h.report_checkout().await.unwrap();
    assert_eq!(outcome, Outcome::NotConnected);
    h.assert_no_strays();

    // Connected, configured, then disconnected.
    let h = Harness::start().await;
    h.ready().await;
    h.notifier.disconnect().await.unwrap();
    let outcome = h.report_checkout().await.unwrap();
    assert_eq!(outcome, Outcome::NotConnected);
    h.assert_no_strays();
}

#[tokio::test]
async fn connected_without_settings_is_not_configured_without_any_request() {
    let h = Harness::start().await;
    h.connect().await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome, Outcome::NotConfigured);
    h.assert_no_strays();
}

#[tokio::test]
async fn one_token_serves_many_calls() {
    let h = Harness::start().await;
    let token = h.mock_token(TOKEN).await;
    h.mock_sites(TOKEN, json!([site_resource(CLOUD_ID, SITE_NAME)]))
        .await;
    h.notifier.connect(creds()).await.unwrap();
    h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    h.mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;
    h.mock_screen(PROJECT_KEY, BUG_ID, 0, full_screen(), 7)
        .await;
    h.notifier
        .save_settings(jira_notifier::Settings::new(PROJECT_KEY))
        .await
        .unwrap();

    let mut keys = Vec::new();
    for n in 1..=4 {
        let id = format!("smoke-{n}");
        let label = format!("testclix-{id}");
        let test = TestInfo::new(
            &id,
            format!("Smoke {n}"),
            format!("https://ci.example.com/tests/{id}"),
        );
        h.mock_search(TOKEN, &label, None, json!([])).await;
        let body = CreateBody {
            project_id: PROJECT_ID,
            issue_type_id: BUG_ID,
            name: &format!("Smoke {n}"),
            url: &format!("https://ci.example.com/tests/{id}"),
            message: "boom",
            labels: &[&label],
            assignee: None,
        }
        .json();
        h.mock_create(TOKEN, body, &format!("{}", 11_000 + n), &format!("QA-{n}"))
            .await;
        let outcome = h
            .notifier
            .on_test_error(&test, &TestStatus::error("boom"))
            .await
            .unwrap();
        keys.push(outcome.issue().unwrap().key.clone());
    }

    assert_eq!(keys, ["QA-1", "QA-2", "QA-3", "QA-4"]);
    token.assert_calls_async(1).await;
    assert_eq!(h.notifier.token_fetches(), 1);
    h.assert_no_strays();
}

#[tokio::test]
async fn concurrent_reports_of_one_test_create_one_issue() {
    let h = Harness::start().await;
    h.ready().await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create_with(checkout_create(&[LABEL], None), |then| {
            then.status(201)
                .header("content-type", "application/json")
                .json_body(created("10042", "QA-42"))
                .delay(Duration::from_millis(300));
        })
        .await;

    let test = checkout();
    let status = failed();
    let (a, b) = tokio::join!(
        h.notifier.on_test_error(&test, &status),
        h.notifier.on_test_error(&test, &status)
    );

    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, Outcome::Duplicate(_)));
    assert_eq!(
        outcomes,
        [Outcome::Created(qa_42()), Outcome::Duplicate(qa_42())]
    );
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}
