//! Per-test overrides: saved after Jira confirms them, and applied to the create body.

use jira_notifier::{Assignee, ConfigStore, Error, Outcome, Settings, TestOverride};
use serde_json::json;

use crate::support::*;

const OPS_KEY: &str = "OPS";
const OPS_ID: &str = "20000";
const OPS_BUG_ID: &str = "20004";

#[tokio::test]
async fn an_override_without_project_or_assignee_is_saved_read_and_cleared_without_requests() {
    let h = Harness::start().await;
    h.ready().await;
    let wanted = TestOverride::default().with_labels([" flaky ", "flaky", "payments"]);

    let saved = h
        .notifier
        .set_override(TEST_ID, wanted)
        .await
        .expect("set_override");

    assert_eq!(saved.test_override.labels, ["flaky", "payments"]);
    assert!(saved.target.is_none());
    assert_eq!(
        h.notifier.test_override(TEST_ID).await.unwrap(),
        Some(saved.test_override.clone())
    );
    assert_eq!(
        h.notifier.test_override("another-test").await.unwrap(),
        None
    );

    h.notifier.clear_override(TEST_ID).await.unwrap();
    assert_eq!(h.notifier.test_override(TEST_ID).await.unwrap(), None);
    assert!(h
        .store
        .load_override(&tid(TEST_ID))
        .await
        .unwrap()
        .is_none());
    h.assert_no_strays();
}

#[tokio::test]
async fn an_override_label_with_a_space_is_refused_and_not_saved() {
    let h = Harness::start().await;
    h.ready().await;

    let err = h
        .notifier
        .set_override(TEST_ID, TestOverride::default().with_labels(["two words"]))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "labels",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(h.notifier.test_override(TEST_ID).await.unwrap(), None);
    h.assert_no_strays();
}

#[tokio::test]
async fn a_disabled_test_is_disabled_without_any_request() {
    let h = Harness::start().await;
    h.ready().await;
    h.notifier
        .set_override(TEST_ID, TestOverride::disabled())
        .await
        .expect("set_override");

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome, Outcome::Disabled);
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_none());
    h.assert_no_strays();
}

#[tokio::test]
async fn override_project_and_assignee_reach_the_create_body() {
    let h = Harness::start().await;
    h.connect().await;
    h.configure(Settings::new(PROJECT_KEY).with_labels(["qa", "nightly"]))
        .await;

    let project = h.mock_project(OPS_KEY, OPS_ID).await;
    let permissions = h.mock_permissions(OPS_KEY, &ALL_PERMISSIONS).await;
    let types = h
        .mock_issue_types(
            OPS_KEY,
            0,
            json!([{ "id": OPS_BUG_ID, "name": "Bug", "subtask": false }]),
            1,
        )
        .await;
    let screen = h
        .mock_screen(OPS_KEY, OPS_BUG_ID, 0, full_screen(), 7)
        .await;
    let check = h
        .mock_assignable_check(
            OPS_KEY,
            "acc-ops-1",
            json!([user("acc-ops-1", "Olga", true)]),
        )
        .await;
    let saved = h
        .notifier
        .set_override(
            TEST_ID,
            TestOverride::default()
                .with_project(OPS_KEY)
                .with_assignee(Assignee::user("acc-ops-1"))
                .with_labels(["flaky"]),
        )
        .await
        .expect("set_override");
    let target = saved.target.expect("the override's project is resolved");
    assert_eq!(
        (target.project_id.as_str(), target.issue_type_id.as_str()),
        (OPS_ID, OPS_BUG_ID)
    );
    project.assert_calls_async(1).await;
    permissions.assert_calls_async(1).await;
    types.assert_calls_async(1).await;
    screen.assert_calls_async(1).await;
    check.assert_calls_async(1).await;
    h.reset().await;

    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let body = CreateBody {
        project_id: OPS_ID,
        issue_type_id: OPS_BUG_ID,
        name: TEST_NAME,
        url: TEST_URL,
        message: MESSAGE,
        labels: &["qa", "nightly", "flaky", LABEL],
        assignee: Some("acc-ops-1"),
    }
    .json();
    let create = h.mock_create(TOKEN, body, "20042", "OPS-42").await;

    let outcome = h.report_checkout().await.unwrap();

    assert_eq!(outcome.issue().map(|i| i.key.as_str()), Some("OPS-42"));
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn override_labels_come_on_top_of_the_global_ones_and_the_global_assignee_stays() {
    let h = Harness::start().await;
    h.connect().await;
    h.configure(
        Settings::new(PROJECT_KEY)
            .with_labels(["qa", "nightly"])
            .with_assignee(Assignee::user("acc-global")),
    )
    .await;
    h.notifier
        .set_override(
            TEST_ID,
            TestOverride::default().with_labels(["flaky", "qa"]),
        )
        .await
        .expect("set_override");

    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(
            TOKEN,
            checkout_create(&["qa", "nightly", "flaky", LABEL], Some("acc-global")),
            "10042",
            "QA-42",
        )
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

/// Jira's recorded 404 for an unknown project, met while checking an override.
#[tokio::test]
async fn an_override_naming_an_unknown_project_is_refused_and_not_saved() {
    let h = Harness::start().await;
    h.ready().await;
    let recorded = Recorded::load("unknown_project");
    let lookup = h
        .mock(|when, then| {
            get(when, &jira_path("project/NOPEZZQ"), &[], TOKEN);
            recorded.serve(then);
        })
        .await;

    let err = h
        .notifier
        .set_override(TEST_ID, TestOverride::default().with_project("NOPEZZQ"))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "project_key",
                ..
            }
        ),
        "{err:?}"
    );
    lookup.assert_calls_async(1).await;
    assert_eq!(h.notifier.test_override(TEST_ID).await.unwrap(), None);
    h.assert_no_strays();
}

/// Project ids are per site (and small numbers that every site reuses), so an override
/// resolved on one site must not be sent to another.
#[tokio::test]
async fn after_switching_sites_an_override_is_resolved_on_the_new_site() {
    const B_CLOUD: &str = "b2b2b2b2-0000-4000-8000-beta00000002";
    let on_b = |rest: &str| format!("/ex/jira/{B_CLOUD}/rest/api/3/{rest}");
    let h = Harness::start().await;
    h.ready().await;
    h.mock_project(OPS_KEY, OPS_ID).await;
    h.mock_permissions(OPS_KEY, &ALL_PERMISSIONS).await;
    h.mock_issue_types(
        OPS_KEY,
        0,
        json!([{ "id": OPS_BUG_ID, "name": "Bug", "subtask": false }]),
        1,
    )
    .await;
    h.mock_screen(OPS_KEY, OPS_BUG_ID, 0, full_screen(), 7)
        .await;
    h.notifier
        .set_override(TEST_ID, TestOverride::default().with_project(OPS_KEY))
        .await
        .expect("set_override on site acme");
    h.reset().await;

    // Connect to site beta (the cached token still serves), and save settings there.
    h.mock_sites(
        TOKEN,
        json!([
            site_resource(CLOUD_ID, SITE_NAME),
            site_resource(B_CLOUD, "beta")
        ]),
    )
    .await;
    h.notifier
        .connect_to_site(creds(), "beta")
        .await
        .expect("connect to beta");
    assert_eq!(
        h.notifier.settings().await.unwrap(),
        None,
        "acme's settings are dropped"
    );
    let resolve_on_b = |key: &'static str, project_id: &'static str, bug_id: &'static str| {
        let (project_path, types_path) = (
            on_b(&format!("project/{key}")),
            on_b(&format!("issue/createmeta/{key}/issuetypes")),
        );
        (
            move |when: httpmock::When, then: httpmock::Then| {
                get(when, &project_path, &[], TOKEN);
                then.status(200)
                    .header("content-type", "application/json")
                    .json_body(json!({ "id": project_id, "key": key, "name": key }));
            },
            move |when: httpmock::When, then: httpmock::Then| {
                get(
                    when,
                    &types_path,
                    &[("startAt", "0"), ("maxResults", "200")],
                    TOKEN,
                );
                then.status(200)
                    .header("content-type", "application/json")
                    .json_body(json!({ "total": 1, "issueTypes": [{ "id": bug_id, "name": "Bug", "subtask": false }] }));
            },
        )
    };
    let (qa_project, qa_types) = resolve_on_b("QA", "10000", "10004");
    h.mock(qa_project).await;
    h.mock(qa_types).await;
    h.mock(|when, then| {
        get(
            when,
            &on_b("mypermissions"),
            &[("projectKey", "QA"), ("permissions", PERMISSIONS_ASKED)],
            TOKEN,
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(permissions_answer(&ALL_PERMISSIONS));
    })
    .await;
    h.mock(|when, then| {
        get(
            when,
            &on_b("issue/createmeta/QA/issuetypes/10004"),
            &[("startAt", "0"), ("maxResults", "200")],
            TOKEN,
        );
        then.status(200)
            .header("content-type", "application/json")
            .json_body(json!({ "total": 7, "fields": full_screen() }));
    })
    .await;
    h.notifier
        .save_settings(jira_notifier::Settings::new(PROJECT_KEY))
        .await
        .expect("settings on beta");
    // beta's OPS project has other ids than acme's.
    let (ops_project, ops_types) = resolve_on_b(OPS_KEY, "40000", "40004");
    h.mock(ops_project).await;
    h.mock(ops_types).await;
    let search = h
        .mock(|when, then| {
            post(when, &on_b("search/jql"), TOKEN, search_body(LABEL, None));
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({ "issues": [], "isLast": true }));
        })
        .await;
    let body = CreateBody {
        project_id: "40000",
        issue_type_id: "40004",
        name: TEST_NAME,
        url: TEST_URL,
        message: MESSAGE,
        labels: &[LABEL],
        assignee: None,
    }
    .json();
    let create = h
        .mock(move |when, then| {
            post(when, &on_b("issue"), TOKEN, body);
            then.status(201)
                .header("content-type", "application/json")
                .json_body(json!({ "id": "40042", "key": "OPS-1" }));
        })
        .await;

    let outcome = h.notifier.on_test_error(&checkout(), &failed()).await;

    let outcome = outcome.expect("the failure reaches beta's OPS project");
    assert_eq!(
        outcome.issue().map(|i| i.url.as_str()),
        Some("https://beta.atlassian.net/browse/OPS-1")
    );
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}
