//! Jira's smaller sharp corners (issue 9): the assignee picker's 1,000-user window, Windows
//! line endings, the description's limit as Jira counts it, and blank test ids.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{Error, MemoryStore, Outcome, TestInfo, TestStatus};
use jira_notifier_sim::SimJira;
use serde_json::Value;

use crate::support::*;

async fn ready(jira: &SimJira) -> jira_notifier::JiraNotifier {
    let n = notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60));
    setup(&n).await;
    n
}

/// The assignee-search requests since the last `clear_requests`, by their query strings.
fn user_queries(jira: &SimJira) -> Vec<String> {
    jira.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/user/assignable/search"))
        .map(|r| r.query.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn assignable_users_page_past_empty_windows_up_to_the_thousandth_user() {
    let jira = SimJira::new();
    // 250 people the query does not match, then one it does, then more past Jira's window.
    for n in 0..250 {
        jira.add_user(&format!("f{n}"), &format!("Filler {n}"), true, &["QA"]);
    }
    jira.add_user("zed", "Zed Zimmer", true, &["QA"]);
    for n in 250..1_100 {
        jira.add_user(&format!("f{n}"), &format!("Filler {n}"), true, &["QA"]);
    }
    jira.add_user("zoe", "Zoe Late", true, &["QA"]);
    let n = ready(&jira).await;
    jira.clear_requests();

    let users = n.assignable_users("QA", "z").await.unwrap();

    let ids: Vec<&str> = users.iter().map(|u| u.account_id.as_str()).collect();
    // The windows before Zed's hold nobody named Z* and come back empty: not the end. Zoe is
    // past the 1,000th candidate, where Jira never looks.
    assert_eq!(ids, ["zed"]);
    let queries = user_queries(&jira);
    assert_eq!(queries.len(), 10, "{queries:?}");
    assert!(
        queries.last().unwrap().contains("startAt=900"),
        "{queries:?}"
    );
}

#[tokio::test]
async fn an_empty_user_query_is_left_out_of_the_request() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    jira.clear_requests();

    let users = n.assignable_users("QA", "").await.unwrap();

    assert_eq!(users.len(), 3);
    for q in user_queries(&jira) {
        assert!(!q.contains("query"), "{q}");
    }
}

/// The text of the code block holding the error message.
fn message_in(description: &Value) -> String {
    description["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "codeBlock")
        .map(|b| b["content"][0]["text"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn windows_line_endings_become_line_feeds_in_the_description() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    let trace = "Error: boom\r\n    at a.js:1\r\n    at b.js:2\rold mac line\n";

    let o = n
        .on_test_error(&test("crlf"), &TestStatus::error(trace))
        .await
        .unwrap();

    let issue = jira.issue(key_of(&o)).unwrap();
    assert_eq!(
        message_in(&issue.description),
        "Error: boom\n    at a.js:1\n    at b.js:2\nold mac line\n"
    );
}

/// Java's length of the description as JSON.
fn json_units(description: &Value) -> usize {
    description.to_string().encode_utf16().count()
}

#[tokio::test]
async fn a_description_is_bounded_as_json_not_only_as_text() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    // Quotes and backslashes take two units each once escaped; tabs too.
    let message = "\"\\\t".repeat(11_000);

    let o = n
        .on_test_error(&test("escapes"), &TestStatus::error(message))
        .await
        .unwrap();

    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    let issue = jira.issue(key_of(&o)).unwrap();
    let units = json_units(&issue.description);
    assert!(units <= 32_767, "{units} units");
    assert!(units > 28_000, "cut far more than needed: {units} units");
    assert!(message_in(&issue.description).starts_with("\"\\\t\"\\\t"));
}

#[tokio::test]
async fn a_description_jira_still_finds_too_long_is_cut_harder_and_sent_once_more() {
    let jira = SimJira::new();
    // Jira counts what it stores, which can be more than what was sent.
    jira.set_description_limit(20_000);
    let n = ready(&jira).await;

    let o = n
        .on_test_error(&test("long"), &TestStatus::error("x".repeat(50_000)))
        .await
        .unwrap();

    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
    let issue = jira.issue(key_of(&o)).unwrap();
    assert!(json_units(&issue.description) <= 20_000);
    let creates = jira
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/rest/api/3/issue"))
        .count();
    assert_eq!(creates, 2, "one refused, one cut harder");
    assert_eq!(jira.issues().len(), 1);
}

#[tokio::test]
async fn a_description_refused_twice_is_not_sent_a_third_time() {
    let jira = SimJira::new();
    jira.set_description_limit(200);
    let n = ready(&jira).await;
    jira.clear_requests();

    let e = n
        .on_test_error(&test("long"), &TestStatus::error("x".repeat(50_000)))
        .await
        .unwrap_err();

    // Jira's refusal, typed for the settings screen (and remembered as the health).
    assert!(
        matches!(&e, Error::CreateRefused { error, .. } if error.status == 400),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let creates = jira
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/rest/api/3/issue"))
        .count();
    assert_eq!(creates, 2);
    assert!(jira.issues().is_empty());
}

#[tokio::test]
async fn a_blank_test_id_is_refused_like_an_empty_one() {
    let jira = SimJira::new();
    let n = ready(&jira).await;
    let before = jira.request_count();
    for id in ["   ", " \t ", "\n"] {
        let e = n
            .on_test_error(&TestInfo::new(id, "x", ""), &failed())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: "test.id",
                    ..
                }
            ),
            "{id:?}: {e:?}"
        );
    }
    assert_eq!(jira.request_count(), before);
    assert!(jira.issues().is_empty());
}
