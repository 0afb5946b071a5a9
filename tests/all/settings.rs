//! The settings screen: lists read from Jira page by page, and settings saved only once
//! Jira has confirmed every value.

use jira_notifier::{Assignee, ConfigStore, Error, IssueType, Project, Settings, User};
use serde_json::{json, Value};

use crate::support::*;

fn project(n: u32) -> Value {
    json!({
        "id": format!("{}", 10_000 + n),
        "key": format!("P{n}"),
        "name": format!("Project {n}"),
        "projectTypeKey": "software",
        "simplified": false,
    })
}

async fn mock_project_page<'a>(
    h: &'a Harness,
    start_at: u64,
    numbers: &[u32],
    is_last: bool,
) -> httpmock::Mock<'a> {
    let values: Vec<Value> = numbers.iter().map(|n| project(*n)).collect();
    h.mock(move |when, then| {
        get(
            when,
            &jira_path("project/search"),
            &[
                ("startAt", &start_at.to_string()),
                ("maxResults", "100"),
                ("action", "create"),
            ],
            TOKEN,
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({
                "startAt": start_at,
                "maxResults": 100,
                "total": 5,
                "isLast": is_last,
                "values": values,
            }));
    })
    .await
}

#[tokio::test]
async fn projects_are_read_over_every_page_until_is_last() {
    let h = Harness::start().await;
    h.connect().await;
    // Jira may cap the page below the asked 100: the next page starts after what came.
    let p1 = mock_project_page(&h, 0, &[1, 2], false).await;
    let p2 = mock_project_page(&h, 2, &[3, 4], false).await;
    let p3 = mock_project_page(&h, 4, &[5], true).await;

    let projects = h.notifier.projects().await.expect("projects");

    let keys: Vec<&str> = projects.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["P1", "P2", "P3", "P4", "P5"]);
    assert_eq!(projects[0], Project::new("10001", "P1", "Project 1"));
    p1.assert_calls_async(1).await;
    p2.assert_calls_async(1).await;
    p3.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn no_visible_project_is_no_projects_visible_naming_read_jira_work() {
    let h = Harness::start().await;
    h.connect().await;
    let page = mock_project_page(&h, 0, &[], true).await;

    let err = h.notifier.projects().await.unwrap_err();

    assert!(matches!(err, Error::NoProjectsVisible), "{err:?}");
    assert!(err.to_string().contains("read:jira-work"), "{err}");
    page.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn issue_types_come_from_createmeta_over_every_page_without_subtasks() {
    let h = Harness::start().await;
    h.connect().await;
    let first = h
        .mock_issue_types(
            PROJECT_KEY,
            0,
            json!([
                { "id": BUG_ID, "name": "Bug", "subtask": false },
                { "id": "10005", "name": "Sub-task", "subtask": true },
            ]),
            3,
        )
        .await;
    let second = h
        .mock_issue_types(
            PROJECT_KEY,
            2,
            json!([{ "id": "10006", "name": "Task", "subtask": false }]),
            3,
        )
        .await;

    let types = h
        .notifier
        .issue_types(PROJECT_KEY)
        .await
        .expect("issue types");

    assert_eq!(
        types,
        [
            IssueType::new(BUG_ID, "Bug").with_subtask(false),
            IssueType::new("10006", "Task").with_subtask(false),
        ]
    );
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn assignable_users_page_past_short_and_empty_windows_to_the_thousandth_candidate() {
    let h = Harness::start().await;
    h.connect().await;
    let page = |start_at: u64, users: Value| {
        let start = start_at.to_string();
        move |when: httpmock::When, then: httpmock::Then| {
            get(
                when,
                &jira_path("user/assignable/search"),
                &[
                    ("project", "QA"),
                    ("query", "an"),
                    ("startAt", &start),
                    ("maxResults", "100"),
                ],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(users);
        }
    };
    let p0 = h
        .mock(page(
            0,
            json!([
                user("acc-1", "Ann", true),
                user("acc-2", "Dan", true),
                user("acc-x", "Old Andy", false)
            ]),
        ))
        .await;
    // Jira filters inside a page: a short page is not the end.
    let p1 = h
        .mock(page(100, json!([user("acc-3", "Anna", true)])))
        .await;
    let p2 = h
        .mock(page(
            200,
            json!([user("acc-4", "Hannah", true), user("acc-1", "Ann", true)]),
        ))
        .await;
    // Jira filters inside each window of its first 1,000 candidates: an empty window is
    // not the end either; the window past the 1,000th is.
    let p3 = h.mock(page(300, json!([]))).await;
    let p4 = h
        .mock(page(400, json!([user("acc-5", "Anders", true)])))
        .await;
    let mut empty = Vec::new();
    for start in (500..1_000).step_by(100) {
        empty.push(h.mock(page(start, json!([]))).await);
    }

    let users = h
        .notifier
        .assignable_users(PROJECT_KEY, "an")
        .await
        .expect("users");

    let ids: Vec<&str> = users.iter().map(|u| u.account_id.as_str()).collect();
    // Inactive users are left out, repeats kept once.
    assert_eq!(ids, ["acc-1", "acc-2", "acc-3", "acc-4", "acc-5"]);
    assert_eq!(users[2], User::new("acc-3", "Anna").with_active(true));
    for p in [&p0, &p1, &p2, &p3, &p4].into_iter().chain(&empty) {
        p.assert_calls_async(1).await;
    }
    h.assert_no_strays();
}

#[tokio::test]
async fn lists_need_a_connection_and_ask_nothing_without_one() {
    let h = Harness::start().await;

    assert!(matches!(
        h.notifier.projects().await,
        Err(Error::NotConnected)
    ));
    assert!(matches!(
        h.notifier.issue_types("QA").await,
        Err(Error::NotConnected)
    ));
    assert!(matches!(
        h.notifier.assignable_users("QA", "").await,
        Err(Error::NotConnected)
    ));
    h.assert_no_strays();
}

#[tokio::test]
async fn save_settings_checks_project_issue_type_and_assignee_then_saves() {
    let h = Harness::start().await;
    h.connect().await;
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    let types = h
        .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;
    let screen = h
        .mock_screen(PROJECT_KEY, BUG_ID, 0, full_screen(), 7)
        .await;
    let assignee = h
        .mock_assignable_check(PROJECT_KEY, "acc-7", json!([user("acc-7", "Grace", true)]))
        .await;

    let saved = h
        .notifier
        .save_settings(
            Settings::new(" QA ")
                .with_issue_type("bug")
                .with_assignee(Assignee::user("acc-7"))
                .with_labels([" regression ", "regression", "nightly"]),
        )
        .await
        .expect("save_settings");

    assert_eq!(saved.cloud_id, CLOUD_ID);
    assert_eq!(saved.target.project_key, "QA");
    assert_eq!(saved.target.project_id, PROJECT_ID);
    assert_eq!(saved.target.issue_type_name, "Bug");
    assert_eq!(saved.target.issue_type_id, BUG_ID);
    assert_eq!(saved.settings.project_key, "QA");
    assert_eq!(saved.settings.labels, ["regression", "nightly"]);
    assert_eq!(saved.settings.assignee, Assignee::user("acc-7"));
    assert_eq!(
        h.notifier.settings().await.unwrap(),
        Some(saved.settings.clone())
    );
    assert!(saved.warnings.is_empty());
    let fields = saved.fields.as_ref().expect("the screen's facts are saved");
    assert!(fields.description_on_screen);
    assert!(fields.values.is_empty());
    assert_eq!(h.store.load_settings().await.unwrap(), Some(saved));
    project.assert_calls_async(1).await;
    permissions.assert_calls_async(1).await;
    types.assert_calls_async(1).await;
    screen.assert_calls_async(1).await;
    assignee.assert_calls_async(1).await;
    h.assert_no_strays();
}

/// Jira's recorded answer for a project that does not exist.
#[tokio::test]
async fn unknown_project_is_invalid_project_key_and_nothing_is_saved() {
    let h = Harness::start().await;
    h.connect().await;
    let recorded = Recorded::load("unknown_project");
    let lookup = h
        .mock(|when, then| {
            get(when, &jira_path("project/NOPEZZQ"), &[], TOKEN);
            recorded.serve(then);
        })
        .await;

    let err = h
        .notifier
        .save_settings(Settings::new("NOPEZZQ"))
        .await
        .unwrap_err();

    let Error::InvalidInput { field, reason } = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert_eq!(*field, "project_key");
    assert!(
        reason.contains("No project could be found with key 'NOPEZZQ'."),
        "{reason}"
    );
    assert!(!err.is_retryable());
    // Looked up once (a 404 is final), no issue types asked, nothing saved.
    lookup.assert_calls_async(1).await;
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    h.assert_no_strays();
}

#[tokio::test]
async fn issue_type_that_cannot_be_created_is_invalid_issue_type_and_keeps_old_settings() {
    let h = Harness::start().await;
    h.connect().await;
    h.configure(Settings::new(PROJECT_KEY)).await;
    let before = h.store.load_settings().await.unwrap();
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    let types = h
        .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;

    for wanted in ["Epic", "Sub-task"] {
        let err = h
            .notifier
            .save_settings(
                Settings::new(PROJECT_KEY)
                    .with_issue_type(wanted)
                    .with_labels(["x"]),
            )
            .await
            .unwrap_err();
        let Error::InvalidInput { field, reason } = &err else {
            panic!("{wanted}: expected InvalidInput, got {err:?}");
        };
        assert_eq!(*field, "issue_type", "{wanted}");
        assert!(
            reason.contains(wanted) && reason.contains("Bug"),
            "{wanted}: {reason}"
        );
    }

    assert_eq!(
        h.store.load_settings().await.unwrap(),
        before,
        "the saved settings changed"
    );
    project.assert_calls_async(2).await;
    permissions.assert_calls_async(2).await;
    types.assert_calls_async(2).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn assignee_who_cannot_be_assigned_is_invalid_assignee_and_nothing_is_saved() {
    let h = Harness::start().await;
    h.connect().await;
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    let types = h
        .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;
    let screen = h
        .mock_screen(PROJECT_KEY, BUG_ID, 0, full_screen(), 7)
        .await;
    let check = h
        .mock_assignable_check(PROJECT_KEY, "acc-gone", json!([]))
        .await;

    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY).with_assignee(Assignee::user("acc-gone")))
        .await
        .unwrap_err();

    let Error::InvalidInput { field, reason } = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert_eq!(*field, "assignee");
    assert!(reason.contains("acc-gone"), "{reason}");
    project.assert_calls_async(1).await;
    permissions.assert_calls_async(1).await;
    types.assert_calls_async(1).await;
    screen.assert_calls_async(1).await;
    check.assert_calls_async(1).await;
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    h.assert_no_strays();
}

#[tokio::test]
async fn label_with_a_space_is_invalid_labels_before_any_request() {
    let h = Harness::start().await;
    h.connect().await;

    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY).with_labels(["ok", "has space"]))
        .await
        .unwrap_err();

    let Error::InvalidInput { field, reason } = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert_eq!(*field, "labels");
    assert!(reason.contains("has space"), "{reason}");
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    // No mock is mounted after connect: any request would be a stray.
    h.assert_no_strays();
}
