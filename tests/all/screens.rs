//! The project's create screen over the real HTTP path: listing its fields, saves refused
//! naming every problem, permissions, each schema's shape in the create body, the
//! comment that carries the failure details when Description is off the screen, and a
//! refused create remembered as the integration's health.

use httpmock::Mock;
use jira_notifier::{
    parse_field_assignment, Assignee, ConfigStore, Error, FieldProblemKind, FieldSchema,
    FieldValue, Outcome, SaveWarning, Settings, TestOverride,
};
use serde_json::{json, Value};

use crate::support::*;

const CUSTOM: &str = "com.atlassian.jira.plugin.system.customfieldtypes:";

fn custom(kind: &str, items: Option<&str>, custom_kind: &str, id: u64) -> Value {
    let mut schema =
        json!({"type": kind, "custom": format!("{CUSTOM}{custom_kind}"), "customId": id});
    if let Some(items) = items {
        schema["items"] = json!(items);
    }
    schema
}

/// A select list's field: options carry `value`, not `name`.
fn options_field(
    id: &str,
    name: &str,
    required: bool,
    schema: Value,
    options: &[(&str, &str)],
) -> Value {
    let mut f = screen_field(id, name, required, schema);
    f["allowedValues"] = options
        .iter()
        .map(|(id, value)| json!({ "id": id, "value": value, "self": format!("https://x/{id}") }))
        .collect();
    f
}

fn components(required: bool) -> Value {
    choice_field(
        "components",
        "Component/s",
        required,
        json!({"type": "array", "items": "component", "system": "components"}),
        &[("10300", "Backend"), ("10301", "Frontend")],
    )
}

fn team(required: bool) -> Value {
    options_field(
        "customfield_10100",
        "Team",
        required,
        custom("option", None, "select", 10100),
        &[("10200", "Red"), ("10201", "Blue")],
    )
}

/// The requests of one save on QA's Bug, with this screen and these permissions.
struct SaveMocks<'a> {
    project: Mock<'a>,
    permissions: Mock<'a>,
    types: Mock<'a>,
    screen: Mock<'a>,
}

impl SaveMocks<'_> {
    async fn assert_calls(&self, project: usize, permissions: usize, types: usize, screen: usize) {
        self.project.assert_calls_async(project).await;
        self.permissions.assert_calls_async(permissions).await;
        self.types.assert_calls_async(types).await;
        self.screen.assert_calls_async(screen).await;
    }
}

async fn mock_save<'a>(h: &'a Harness, screen: Value, have: &[&str]) -> SaveMocks<'a> {
    let total = screen.as_array().map_or(0, Vec::len) as u64;
    SaveMocks {
        project: h.mock_project(PROJECT_KEY, PROJECT_ID).await,
        permissions: h.mock_permissions(PROJECT_KEY, have).await,
        types: h
            .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
            .await,
        screen: h.mock_screen(PROJECT_KEY, BUG_ID, 0, screen, total).await,
    }
}

/// The problems of a refused save, as (field id, kind).
fn problems(err: &Error) -> Vec<(String, FieldProblemKind)> {
    let Error::FieldsRefused {
        project_key,
        issue_type,
        problems,
    } = err
    else {
        panic!("expected FieldsRefused, got {err:?}");
    };
    assert_eq!((project_key.as_str(), issue_type.as_str()), ("QA", "Bug"));
    assert!(!err.is_retryable());
    problems
        .iter()
        .map(|p| (p.field_id.clone(), p.kind.clone()))
        .collect()
}

#[tokio::test]
async fn create_fields_reads_every_page_and_marks_what_the_crate_fills() {
    let h = Harness::start().await;
    h.connect().await;
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let types = h
        .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;
    let mut screen = full_screen().as_array().unwrap().clone();
    screen.push(components(true));
    screen.push(team(false));
    let first = h
        .mock_screen(PROJECT_KEY, BUG_ID, 0, json!(screen[..5]), 9)
        .await;
    let second = h
        .mock_screen(PROJECT_KEY, BUG_ID, 5, json!(screen[5..]), 9)
        .await;

    let fields = h
        .notifier
        .create_fields(PROJECT_KEY, "bug")
        .await
        .expect("create_fields");

    let ids: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "project",
            "issuetype",
            "summary",
            "description",
            "labels",
            "assignee",
            "reporter",
            "components",
            "customfield_10100"
        ]
    );
    let filled: Vec<bool> = fields.iter().map(|f| f.filled_by_crate).collect();
    assert_eq!(
        filled,
        [true, true, true, true, true, true, true, false, false]
    );
    let components = &fields[7];
    assert_eq!(components.name, "Component/s");
    assert!(components.required && !components.has_default && components.needs_value());
    assert_eq!(components.schema, FieldSchema::Components);
    assert_eq!(components.allowed_names(), ["Backend", "Frontend"]);
    assert_eq!(fields[8].schema, FieldSchema::Option);
    assert_eq!(fields[8].allowed_names(), ["Red", "Blue"]);
    assert!(fields[6].has_default, "the reporter defaults to the caller");
    // The sandbox's `--field` text, by these fields.
    let (id, value) = parse_field_assignment("components=Backend, Frontend", &fields).unwrap();
    assert_eq!(id, "components");
    assert_eq!(value, Some(FieldValue::many(["Backend", "Frontend"])));
    project.assert_calls_async(1).await;
    types.assert_calls_async(1).await;
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn labels_off_the_screen_refuse_the_save_saying_why_and_how_to_fix_it() {
    let h = Harness::start().await;
    h.connect().await;
    let save = mock_save(&h, screen_with(&["labels"], &[]), &ALL_PERMISSIONS).await;

    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY))
        .await
        .unwrap_err();

    assert_eq!(
        problems(&err),
        [("labels".to_owned(), FieldProblemKind::LabelsNotOnScreen)]
    );
    let text = err.to_string();
    assert!(text.contains("duplicate check"), "{text}");
    assert!(
        text.contains("add the Labels field to the project's create screen"),
        "{text}"
    );
    assert!(text.contains("nothing was saved"), "{text}");
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    save.assert_calls(1, 1, 1, 1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn every_problem_is_named_at_once_and_nothing_is_saved() {
    let h = Harness::start().await;
    h.connect().await;
    let screen = screen_with(
        &["assignee"],
        &[
            components(true),
            team(true),
            choice_field(
                "priority",
                "Priority",
                false,
                json!({"type": "priority", "system": "priority"}),
                &[("1", "High"), ("2", "Low")],
            ),
        ],
    );
    let save = mock_save(&h, screen, &ALL_PERMISSIONS).await;

    let err = h
        .notifier
        .save_settings(
            Settings::new(PROJECT_KEY)
                .with_assignee(Assignee::user("acc-7"))
                .with_field("priority", FieldValue::one("Urgent"))
                .with_field("customfield_99999", FieldValue::one("x"))
                .with_field("summary", FieldValue::one("mine")),
        )
        .await
        .unwrap_err();

    let got = problems(&err);
    let want = [
        ("assignee", FieldProblemKind::AssigneeNotOnScreen),
        ("customfield_99999", FieldProblemKind::NotOnScreen),
        (
            "priority",
            FieldProblemKind::ValueNotAllowed {
                value: "Urgent".into(),
            },
        ),
        ("summary", FieldProblemKind::FilledByCrate),
        ("components", FieldProblemKind::RequiredWithoutValue),
        ("customfield_10100", FieldProblemKind::RequiredWithoutValue),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(id, k)| ((*id).to_owned(), k.clone()))
            .collect::<Vec<_>>()
    );
    let Error::FieldsRefused { problems, .. } = &err else {
        unreachable!()
    };
    // Allowed values are listed where Jira gives them, for the settings screen to offer.
    let names = |i: usize| -> Vec<&str> {
        problems[i]
            .allowed_values
            .iter()
            .map(|v| v.name.as_str())
            .collect()
    };
    assert_eq!(names(2), ["High", "Low"]);
    assert_eq!(names(4), ["Backend", "Frontend"]);
    assert_eq!(names(5), ["Red", "Blue"]);
    let text = err.to_string();
    assert!(
        text.contains("customfield_10100 (Team): required, without a default in Jira, and no value is configured: configure a value (allowed: Red, Blue)"),
        "{text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    // The assignee is not looked up once the screen has refused the settings.
    save.assert_calls(1, 1, 1, 1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_missing_permission_is_named_with_its_project_and_nothing_is_saved() {
    let h = Harness::start().await;
    h.connect().await;
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h
        .mock_permissions(
            PROJECT_KEY,
            &["BROWSE_PROJECTS", "ASSIGN_ISSUES", "ADD_COMMENTS"],
        )
        .await;

    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY))
        .await
        .unwrap_err();

    let Error::PermissionMissing {
        project_key,
        permissions: missing,
    } = &err
    else {
        panic!("expected PermissionMissing, got {err:?}");
    };
    assert_eq!(project_key, "QA");
    assert_eq!(missing, &["CREATE_ISSUES"]);
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("lacks the Jira permission CREATE_ISSUES (Create Issues) in project QA"),
        "{err}"
    );
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    // Neither the issue types nor the screen are asked for.
    project.assert_calls_async(1).await;
    permissions.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn assign_issues_is_needed_only_with_a_specific_assignee() {
    let h = Harness::start().await;
    h.connect().await;
    let have = ["BROWSE_PROJECTS", "CREATE_ISSUES", "ADD_COMMENTS"];
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h.mock_permissions(PROJECT_KEY, &have).await;

    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY).with_assignee(Assignee::user("acc-7")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermissionMissing { permissions, .. } if permissions == &["ASSIGN_ISSUES"]),
        "{err:?}"
    );
    project.assert_calls_async(1).await;
    permissions.assert_calls_async(1).await;
    h.reset().await;

    let save = mock_save(&h, full_screen(), &have).await;
    h.notifier
        .save_settings(Settings::new(PROJECT_KEY))
        .await
        .expect("the project's default assignee needs no Assign Issues");
    save.assert_calls(1, 1, 1, 1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn description_off_the_screen_saves_with_a_warning_and_comments_the_details() {
    let h = Harness::start().await;
    h.connect().await;
    let save = mock_save(&h, screen_with(&["description"], &[]), &ALL_PERMISSIONS).await;
    let saved = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY))
        .await
        .expect("Description off the screen is not fatal");
    assert_eq!(
        saved.warnings,
        [SaveWarning::DescriptionNotOnScreen {
            project_key: "QA".into(),
            issue_type: "Bug".into()
        }]
    );
    assert!(saved.warnings[0].to_string().contains("first comment"));
    save.assert_calls(1, 1, 1, 1).await;
    h.reset().await;

    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let mut body = checkout_create(&[LABEL], None);
    let details = body["fields"]
        .as_object_mut()
        .unwrap()
        .remove("description")
        .unwrap();
    let create = h.mock_create(TOKEN, body, "10042", "QA-42").await;
    let comment = h
        .mock(|when, then| {
            post(
                when,
                &jira_path("issue/10042/comment"),
                TOKEN,
                json!({ "body": details }),
            );
            then.status(201)
                .header("content-type", "application/json")
                .json_body(json!({ "id": "10000", "body": {} }));
        })
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    // Three requests: the duplicate check, the create, and the comment.
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    comment.assert_calls_async(1).await;
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_some());
    h.assert_no_strays();
}

#[tokio::test]
async fn add_comments_is_needed_when_description_is_off_the_screen() {
    let h = Harness::start().await;
    h.connect().await;
    let save = mock_save(
        &h,
        screen_with(&["description"], &[]),
        &["BROWSE_PROJECTS", "CREATE_ISSUES"],
    )
    .await;
    let err = h
        .notifier
        .save_settings(Settings::new(PROJECT_KEY))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermissionMissing { permissions, .. } if permissions == &["ADD_COMMENTS"]),
        "{err:?}"
    );
    assert_eq!(h.notifier.settings().await.unwrap(), None);
    save.assert_calls(1, 1, 1, 1).await;
    h.assert_no_strays();
}

/// A screen with a field of every kind the crate sets, configured by name where Jira
/// lists names: each reaches the create body in its schema's shape.
#[tokio::test]
async fn every_schema_reaches_the_create_body_in_its_shape() {
    let h = Harness::start().await;
    h.connect().await;
    let screen = screen_with(
        &[],
        &[
            choice_field(
                "priority",
                "Priority",
                false,
                json!({"type": "priority", "system": "priority"}),
                &[("1", "High"), ("3", "Medium")],
            ),
            components(false),
            choice_field(
                "fixVersions",
                "Fix Version/s",
                false,
                json!({"type": "array", "items": "version", "system": "fixVersions"}),
                &[("10400", "1.0"), ("10401", "2.0")],
            ),
            choice_field(
                "customfield_10120",
                "Found in",
                false,
                custom("version", None, "version", 10120),
                &[("10400", "1.0"), ("10401", "2.0")],
            ),
            screen_field(
                "environment",
                "Environment",
                false,
                json!({"type": "string", "system": "environment"}),
            ),
            screen_field(
                "duedate",
                "Due date",
                false,
                json!({"type": "date", "system": "duedate"}),
            ),
            team(false),
            options_field(
                "customfield_10112",
                "Platforms",
                false,
                custom("array", Some("option"), "multiselect", 10112),
                &[("10220", "Linux"), ("10221", "macOS")],
            ),
            screen_field(
                "customfield_10110",
                "Story Points",
                false,
                custom("number", None, "float", 10110),
            ),
            screen_field(
                "customfield_10113",
                "Reviewer",
                false,
                custom("user", None, "userpicker", 10113),
            ),
            screen_field(
                "customfield_10114",
                "Watchers list",
                false,
                custom("array", Some("user"), "multiuserpicker", 10114),
            ),
            screen_field(
                "customfield_10115",
                "Tags",
                false,
                custom("array", Some("string"), "labels", 10115),
            ),
            screen_field(
                "customfield_10116",
                "Build",
                false,
                custom("string", None, "textfield", 10116),
            ),
            screen_field(
                "customfield_10117",
                "Steps",
                false,
                custom("string", None, "textarea", 10117),
            ),
            screen_field(
                "customfield_10118",
                "Found at",
                false,
                custom("datetime", None, "datetime", 10118),
            ),
        ],
    );
    let save = mock_save(&h, screen, &ALL_PERMISSIONS).await;
    let users = h
        .mock(|when, then| {
            get(
                when,
                &jira_path("user/bulk"),
                &[
                    ("accountId", "acc-1"),
                    ("accountId", "acc-2"),
                    ("startAt", "0"),
                    ("maxResults", "50"),
                ],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({ "isLast": true, "values": [
                    user("acc-1", "Ann", true),
                    user("acc-2", "Bo", true),
                ]}));
        })
        .await;
    let settings = Settings::new(PROJECT_KEY)
        .with_field("priority", FieldValue::one("medium"))
        .with_field("components", FieldValue::many(["Backend", "10301"]))
        .with_field("fixVersions", FieldValue::one("2.0"))
        .with_field("customfield_10120", FieldValue::one("1.0"))
        .with_field("environment", FieldValue::one("CI, nightly\nLinux"))
        .with_field("duedate", FieldValue::one("2024-02-29"))
        .with_field("customfield_10100", FieldValue::one("Blue"))
        .with_field("customfield_10112", FieldValue::many(["Linux", "macOS"]))
        .with_field("customfield_10110", FieldValue::number(3.5))
        .with_field("customfield_10113", FieldValue::one("acc-1"))
        .with_field("customfield_10114", FieldValue::many(["acc-1", "acc-2"]))
        .with_field("customfield_10115", FieldValue::many(["flaky", "ui"]))
        .with_field("customfield_10116", FieldValue::one("build 7, nightly"))
        .with_field("customfield_10117", FieldValue::one("1. open\n2. click"))
        .with_field(
            "customfield_10118",
            FieldValue::one("2024-05-01T10:00:00.000+0000"),
        );
    let saved = h
        .notifier
        .save_settings(settings.clone())
        .await
        .expect("every value fits");
    assert_eq!(saved.settings.fields, settings.fields);
    save.assert_calls(1, 1, 1, 1).await;
    users.assert_calls_async(1).await;
    h.reset().await;

    let doc = |lines: &[&str]| {
        json!({"version": 1, "type": "doc", "content": lines.iter().map(|l| json!(
            {"type": "paragraph", "content": [{"type": "text", "text": l}]}
        )).collect::<Vec<_>>()})
    };
    let mut body = checkout_create(&[LABEL], None);
    let fields = body["fields"].as_object_mut().unwrap();
    for (id, value) in [
        ("priority", json!({"id": "3"})),
        ("components", json!([{"id": "10300"}, {"id": "10301"}])),
        ("fixVersions", json!([{"id": "10401"}])),
        ("customfield_10120", json!({"id": "10400"})),
        ("environment", doc(&["CI, nightly", "Linux"])),
        ("duedate", json!("2024-02-29")),
        ("customfield_10100", json!({"id": "10201"})),
        (
            "customfield_10112",
            json!([{"id": "10220"}, {"id": "10221"}]),
        ),
        ("customfield_10110", json!(3.5)),
        ("customfield_10113", json!({"accountId": "acc-1"})),
        (
            "customfield_10114",
            json!([{"accountId": "acc-1"}, {"accountId": "acc-2"}]),
        ),
        ("customfield_10115", json!(["flaky", "ui"])),
        ("customfield_10116", json!("build 7, nightly")),
        ("customfield_10117", doc(&["1. open", "2. click"])),
        ("customfield_10118", json!("2024-05-01T10:00:00.000+0000")),
    ] {
        fields.insert(id.to_owned(), value);
    }
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h.mock_create(TOKEN, body, "10042", "QA-42").await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    // Still two requests for a new failure.
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_unknown_user_in_a_user_field_is_refused_at_save() {
    let h = Harness::start().await;
    h.connect().await;
    let screen = screen_with(
        &[],
        &[screen_field(
            "customfield_10113",
            "Reviewer",
            false,
            custom("user", None, "userpicker", 10113),
        )],
    );
    let save = mock_save(&h, screen, &ALL_PERMISSIONS).await;
    let users = h
        .mock(|when, then| {
            get(
                when,
                &jira_path("user/bulk"),
                &[
                    ("accountId", "acc-gone"),
                    ("startAt", "0"),
                    ("maxResults", "50"),
                ],
                TOKEN,
            );
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({ "isLast": true, "values": [user("acc-gone", "Gone", false)] }));
        })
        .await;

    let err = h
        .notifier
        .save_settings(
            Settings::new(PROJECT_KEY).with_field("customfield_10113", FieldValue::one("acc-gone")),
        )
        .await
        .unwrap_err();

    let got = problems(&err);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "customfield_10113");
    assert!(
        err.to_string()
            .contains("no active user has the account id \"acc-gone\""),
        "{err}"
    );
    save.assert_calls(1, 1, 1, 1).await;
    users.assert_calls_async(1).await;
    h.assert_no_strays();
}

/// Jira's refusal of a create whose screen changed since the save: a typed, final error
/// carrying Jira's field errors, remembered as the health until the settings are saved
/// again.
#[tokio::test]
async fn a_refused_create_is_typed_remembered_and_cleared_by_saving_again() {
    let h = Harness::start().await;
    h.ready().await;
    assert!(h.notifier.health().await.unwrap().is_ok());
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create_with(checkout_create(&[LABEL], None), |then| {
            then.status(400)
                .header("content-type", "application/json;charset=UTF-8")
                .body(r#"{"errorMessages":[],"errors":{"components":"Component/s is required.","labels":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}}"#);
        })
        .await;

    let err = h.report_checkout().await.unwrap_err();

    let Error::CreateRefused { error, .. } = &err else {
        panic!("expected CreateRefused, got {err:?}");
    };
    assert_eq!(error.errors["components"], "Component/s is required.");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("save them again"), "{err}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    let health = h.notifier.health().await.unwrap();
    let refusal = health.last_refusal.clone().expect("remembered");
    assert_eq!(refusal.project_key, "QA");
    assert_eq!(refusal.field_errors.len(), 2);
    assert!(
        health.to_string().starts_with(
            "refused: Jira refused the issue in QA (Bug) for test \"checkout-flow-42\": components: Component/s is required.; labels: Field 'labels'"
        ),
        "{health}"
    );
    h.reset().await;

    h.configure(Settings::new(PROJECT_KEY)).await;
    let health = h.notifier.health().await.unwrap();
    assert!(health.is_ok(), "{health}");
    assert_eq!(health.to_string(), "ok");
    h.assert_no_strays();
}

#[tokio::test]
async fn a_successful_create_is_the_last_success_and_clears_a_refusal() {
    let h = Harness::start().await;
    h.ready().await;
    h.store
        .record_health(&jira_notifier::HealthEvent::Refused(
            serde_json::from_value(json!({
                "at": 1, "test_id": "x", "project_key": "QA", "issue_type": "Bug",
                "status": 400, "field_errors": {"a": "b"}, "messages": []
            }))
            .unwrap(),
        ))
        .await
        .unwrap();
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    h.mock_search(TOKEN, LABEL, None, json!([])).await;
    h.mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    h.report_checkout().await.unwrap();

    let health = h.notifier.health().await.unwrap();
    assert!(health.is_ok());
    assert!(
        health.last_success.is_some_and(|t| t > before),
        "{health:?}"
    );
    h.assert_no_strays();
}

#[tokio::test]
async fn override_values_replace_the_global_ones_and_labels_add_up() {
    let h = Harness::start().await;
    h.connect().await;
    let screen = screen_with(&[], &[components(false), team(true)]);
    h.configure_on(
        Settings::new(PROJECT_KEY)
            .with_labels(["qa"])
            .with_field("customfield_10100", FieldValue::one("Red"))
            .with_field("components", FieldValue::one("Backend")),
        screen.clone(),
    )
    .await;
    let permissions = h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    let fields = h.mock_screen(PROJECT_KEY, BUG_ID, 0, screen, 9).await;
    let saved = h
        .notifier
        .set_override(
            TEST_ID,
            TestOverride::default()
                .with_labels(["flaky"])
                .with_field("customfield_10100", FieldValue::one("blue")),
        )
        .await
        .expect("set_override");
    assert!(saved.target.is_none());
    permissions.assert_calls_async(1).await;
    fields.assert_calls_async(1).await;
    h.reset().await;

    let mut body = checkout_create(&["qa", "flaky", LABEL], None);
    body["fields"]["customfield_10100"] = json!({"id": "10201"});
    body["fields"]["components"] = json!([{"id": "10300"}]);
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h.mock_create(TOKEN, body, "10042", "QA-42").await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn an_override_value_that_does_not_fit_is_refused_and_not_saved() {
    let h = Harness::start().await;
    h.connect().await;
    let screen = screen_with(&[], &[team(false)]);
    h.configure_on(Settings::new(PROJECT_KEY), screen.clone())
        .await;
    h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    h.mock_screen(PROJECT_KEY, BUG_ID, 0, screen, 8).await;

    let err = h
        .notifier
        .set_override(
            TEST_ID,
            TestOverride::default().with_field("customfield_10100", FieldValue::one("Green")),
        )
        .await
        .unwrap_err();

    assert_eq!(
        problems(&err),
        [(
            "customfield_10100".to_owned(),
            FieldProblemKind::ValueNotAllowed {
                value: "Green".into()
            }
        )]
    );
    assert_eq!(h.notifier.test_override(TEST_ID).await.unwrap(), None);
    h.assert_no_strays();
}

/// Settings stored before field values existed read back, and create issues exactly as
/// before: no screen request, the same body.
#[tokio::test]
async fn settings_stored_before_screens_were_read_create_as_before() {
    let h = Harness::start().await;
    h.connect().await;
    let old: jira_notifier::SavedSettings = serde_json::from_value(json!({
        "settings": {"project_key": "QA", "issue_type": "Bug", "label_prefix": "testclix-",
                     "assignee": {"mode": "auto"}, "labels": []},
        "target": {"project_key": "QA", "project_id": PROJECT_ID, "issue_type_name": "Bug",
                   "issue_type_id": BUG_ID},
        "cloud_id": CLOUD_ID,
    }))
    .expect("the old layout reads");
    assert!(old.settings.fields.is_empty() && old.fields.is_none());
    h.store.save_settings(&old).await.unwrap();
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    let outcome = h.report_checkout().await.unwrap();

    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    search.assert_calls_async(1).await;
    create.assert_calls_async(1).await;
    // And what is stored now reads as it was written.
    let json = serde_json::to_value(&old).unwrap();
    assert!(json["settings"].get("fields").is_none(), "{json}");
    h.assert_no_strays();
}
