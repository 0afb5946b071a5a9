//! Real projects' create screens, against the simulated Jira: each kind of project as
//! companies configure them, a screen changed after the settings were saved, what save
//! and a failure cost, and the property that settings are refused at save or work, never
//! saved and then refused at create.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    Assignee, Credentials, Error, FieldProblemKind, FieldValue, JiraNotifier, MemoryStore, Outcome,
    SaveWarning, Settings, TestOverride,
};
use jira_notifier_sim::{ScreenKind, SimField, SimJira};
use serde_json::json;

use crate::support::*;

/// A notifier on its own store, connected to `jira`.
async fn connected(jira: &SimJira) -> JiraNotifier {
    let n = notifier(Arc::new(MemoryStore::new()), jira, Duration::from_secs(60));
    n.connect(Credentials::new(
        SimJira::CLIENT_ID,
        SimJira::CLIENT_SECRET.to_owned(),
    ))
    .await
    .expect("connect");
    n
}

/// The field ids of a refused save, with their problems.
fn refused(err: &Error) -> Vec<(&str, &FieldProblemKind)> {
    match err {
        Error::FieldsRefused { problems, .. } => problems
            .iter()
            .map(|p| (p.field_id.as_str(), &p.kind))
            .collect(),
        other => panic!("expected FieldsRefused, got {other:?}"),
    }
}

/// Alice may be assigned issues in every project of these tests.
fn alice_everywhere(jira: &SimJira) {
    let keys: Vec<&str> = ["QA", "OPS"]
        .into_iter()
        .chain(ScreenKind::ALL.iter().map(|k| k.key()))
        .collect();
    jira.add_user("712020:alice", "Alice Anderson", true, &keys);
}

#[tokio::test(start_paused = true)]
async fn save_costs_four_requests_and_a_failure_what_it_did() {
    let jira = SimJira::new();
    let n = connected(&jira).await;

    let before = jira.request_count();
    n.save_settings(Settings::new("QA")).await.unwrap();
    let paths: Vec<String> = jira.requests()[before..]
        .iter()
        .map(|r| r.path.rsplit("/rest/api/3/").next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "project/QA",
            "mypermissions",
            "issue/createmeta/QA/issuetypes",
            "issue/createmeta/QA/issuetypes/10001"
        ]
    );
    let before = jira.request_count();
    n.save_settings(Settings::new("QA").with_assignee(Assignee::user("712020:bob")))
        .await
        .unwrap();
    assert_eq!(
        jira.request_count() - before,
        5,
        "one more for the assignee"
    );

    let before = jira.request_count();
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(first, Outcome::Created(_)), "{first:?}");
    assert_eq!(jira.request_count() - before, 2);
    let before = jira.request_count();
    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(again, Outcome::Duplicate(_)), "{again:?}");
    assert_eq!(jira.request_count() - before, 1);
    assert!(n.health().await.unwrap().last_success.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_screen_without_labels_is_refused_at_save() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::NoLabels);
    let n = connected(&jira).await;
    let err = n.save_settings(Settings::new(key)).await.unwrap_err();
    assert_eq!(
        refused(&err),
        [("labels", &FieldProblemKind::LabelsNotOnScreen)]
    );
    assert_eq!(n.settings().await.unwrap(), None);
    assert!(jira.issues().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_screen_without_description_puts_the_details_in_a_comment() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::NoDescription);
    let n = connected(&jira).await;
    let saved = n.save_settings(Settings::new(key)).await.unwrap();
    assert!(matches!(
        saved.warnings.as_slice(),
        [SaveWarning::DescriptionNotOnScreen { .. }]
    ));

    let before = jira.request_count();
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(jira.request_count() - before, 3, "search, create, comment");
    let issue = jira.issue(key_of(&o)).unwrap();
    assert_eq!(issue.description, serde_json::Value::Null);
    assert_eq!(issue.comments.len(), 1);
    let comment = issue.comments[0].to_string();
    assert!(comment.contains("expected 200, got 500"), "{comment}");
    let before = jira.request_count();
    let again = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(again, Outcome::Duplicate(_)));
    assert_eq!(jira.request_count() - before, 1);

    // The test notification too.
    let ticket = n.send_test_notification().await.unwrap();
    assert_eq!(jira.issue(&ticket.key).unwrap().comments.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn required_fields_are_listed_with_their_values_then_configured_by_name() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::RequiredFields);
    let n = connected(&jira).await;

    let err = n.save_settings(Settings::new(key)).await.unwrap_err();
    assert_eq!(
        refused(&err),
        [
            ("customfield_10100", &FieldProblemKind::RequiredWithoutValue),
            ("components", &FieldProblemKind::RequiredWithoutValue),
        ]
    );
    let text = err.to_string();
    assert!(text.contains("(allowed: Backend, Frontend)"), "{text}");
    assert!(text.contains("(allowed: Red, Blue)"), "{text}");
    assert_eq!(n.settings().await.unwrap(), None);

    let fields = n.create_fields(key, "Bug").await.unwrap();
    let team = fields.iter().find(|f| f.id == "customfield_10100").unwrap();
    let settings = Settings::new(key)
        .with_field("components", team_or(&fields, "components", "Backend"))
        .with_field("customfield_10100", team.parse_value("blue").unwrap());
    n.save_settings(settings).await.expect("fixed");
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let issue = jira.issue(key_of(&o)).unwrap();
    assert_eq!(issue.fields["components"], json!([{"id": "10300"}]));
    assert_eq!(issue.fields["customfield_10100"], json!({"id": "10201"}));
    assert_eq!(issue.fields["priority"]["name"], "Medium", "Jira's default");
}

/// A value for `id` read from text, as the sandbox's `--field` does.
fn team_or(fields: &[jira_notifier::CreateField], id: &str, text: &str) -> FieldValue {
    fields
        .iter()
        .find(|f| f.id == id)
        .and_then(|f| f.parse_value(text))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_specific_assignee_needs_assignee_on_the_screen_and_the_permission() {
    let jira = SimJira::new();
    jira.add_screen_projects();
    alice_everywhere(&jira);
    let n = connected(&jira).await;
    let alice = Assignee::user("712020:alice");

    let err = n
        .save_settings(Settings::new(ScreenKind::NoAssignee.key()).with_assignee(alice.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        refused(&err),
        [("assignee", &FieldProblemKind::AssigneeNotOnScreen)]
    );
    let err = n
        .save_settings(
            Settings::new(ScreenKind::NoAssignPermission.key()).with_assignee(alice.clone()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermissionMissing { project_key, permissions }
            if project_key == "NOASSIGN" && permissions == &["ASSIGN_ISSUES"]),
        "{err:?}"
    );
    assert_eq!(n.settings().await.unwrap(), None);

    // The project's default assignee works in both.
    for kind in [ScreenKind::NoAssignee, ScreenKind::NoAssignPermission] {
        n.save_settings(Settings::new(kind.key())).await.unwrap();
        let o = n
            .on_test_error(
                &test(&format!("t-{}", kind.key().to_lowercase())),
                &failed(),
            )
            .await
            .unwrap();
        assert!(matches!(o, Outcome::Created(_)), "{kind:?}: {o:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_field_is_set_by_name_and_lands_in_jira() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::EveryFieldKind);
    let n = connected(&jira).await;
    let fields = n.create_fields(key, "Task").await.unwrap();
    let mut settings = Settings::new(key).with_issue_type("Task");
    for (id, text) in [
        ("priority", "high"),
        ("components", "API, Web"),
        ("fixVersions", "1.1"),
        ("environment", "CI\nLinux"),
        ("duedate", "2024-02-29"),
        ("customfield_10110", "5"),
        ("customfield_10111", "Critical"),
        ("customfield_10112", "Linux,Windows"),
        ("customfield_10113", "712020:bob"),
        ("customfield_10114", "712020:bob, 712020:carol"),
        ("customfield_10115", "flaky,ui"),
        ("customfield_10116", "build 7, nightly"),
        ("customfield_10117", "1. open"),
        ("customfield_10118", "2024-05-01T10:00:00.000+0000"),
    ] {
        let (id, value) =
            jira_notifier::parse_field_assignment(&format!("{id}={text}"), &fields).unwrap();
        settings = settings.with_field(id, value.unwrap());
    }
    n.save_settings(settings).await.expect("every value fits");
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let issue = jira.issue(key_of(&o)).unwrap();
    let f = &issue.fields;
    assert_eq!(f["priority"], json!({"id": "2"}));
    assert_eq!(f["components"], json!([{"id": "10310"}, {"id": "10311"}]));
    assert_eq!(f["fixVersions"], json!([{"id": "10411"}]));
    assert_eq!(f["environment"]["content"].as_array().unwrap().len(), 2);
    assert_eq!(f["duedate"], json!("2024-02-29"));
    assert_eq!(f["customfield_10110"], json!(5));
    assert_eq!(f["customfield_10111"], json!({"id": "10212"}));
    assert_eq!(
        f["customfield_10112"],
        json!([{"id": "10220"}, {"id": "10222"}])
    );
    assert_eq!(f["customfield_10113"], json!({"accountId": "712020:bob"}));
    assert_eq!(
        f["customfield_10114"],
        json!([{"accountId": "712020:bob"}, {"accountId": "712020:carol"}])
    );
    assert_eq!(f["customfield_10115"], json!(["flaky", "ui"]));
    assert_eq!(f["customfield_10116"], json!("build 7, nightly"));
    assert_eq!(
        f["customfield_10118"],
        json!("2024-05-01T10:00:00.000+0000")
    );

    // The cascading select is a kind the crate cannot set: said so at save.
    let err = n
        .save_settings(
            Settings::new(key)
                .with_issue_type("Task")
                .with_field("customfield_10119", FieldValue::one("Backend")),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        refused(&err).as_slice(),
        [("customfield_10119", FieldProblemKind::Unsupported { .. })]
    ));
}

#[tokio::test(start_paused = true)]
async fn a_screen_changed_after_save_is_refused_shown_in_health_and_cleared_by_saving_again() {
    let jira = SimJira::new();
    let n = connected(&jira).await;
    n.save_settings(Settings::new("QA")).await.unwrap();
    let first = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(matches!(first, Outcome::Created(_)));
    let succeeded = n.health().await.unwrap().last_success;
    assert!(succeeded.is_some());

    // An administrator makes Component/s required, after the save.
    assert!(jira.put_screen_field(
        "QA",
        "Bug",
        SimField::components(&[("10500", "Core"), ("10501", "UI")]).required()
    ));
    let before = jira.request_count();
    let err = n
        .on_test_error(&test("checkout"), &failed())
        .await
        .unwrap_err();
    let Error::CreateRefused { error, .. } = &err else {
        panic!("expected CreateRefused, got {err:?}");
    };
    assert_eq!(error.errors["components"], "Component/s is required.");
    assert!(!err.is_retryable());
    assert_eq!(jira.request_count() - before, 2, "search, refused create");
    let health = n.health().await.unwrap();
    assert_eq!(health.last_success, succeeded);
    let refusal = health.last_refusal.as_ref().expect("remembered");
    assert_eq!(refusal.test_id.as_deref(), Some("checkout"));
    assert!(
        health
            .to_string()
            .ends_with("components: Component/s is required."),
        "{health}"
    );
    // Still refused, still shown; nothing was created.
    assert!(matches!(
        n.on_test_error(&test("checkout"), &failed()).await,
        Err(Error::CreateRefused { .. })
    ));
    assert!(open_keys(&jira, "checkout").is_empty());

    // Saving again says what to fix, and the refusal stays until a save succeeds.
    let err = n.save_settings(Settings::new("QA")).await.unwrap_err();
    assert_eq!(
        refused(&err),
        [("components", &FieldProblemKind::RequiredWithoutValue)]
    );
    assert!(!n.health().await.unwrap().is_ok());
    n.save_settings(Settings::new("QA").with_field("components", FieldValue::one("Core")))
        .await
        .unwrap();
    assert!(n.health().await.unwrap().is_ok());
    let o = n.on_test_error(&test("checkout"), &failed()).await.unwrap();
    assert_eq!(
        jira.issue(key_of(&o)).unwrap().fields["components"],
        json!([{"id": "10500"}])
    );
}

#[tokio::test(start_paused = true)]
async fn labels_taken_off_the_screen_after_save_are_jiras_refusal() {
    let jira = SimJira::new();
    let n = connected(&jira).await;
    n.save_settings(Settings::new("QA")).await.unwrap();
    assert!(jira.remove_screen_field("QA", "Bug", "labels"));
    let err = n
        .on_test_error(&test("login"), &failed())
        .await
        .unwrap_err();
    let Error::CreateRefused { error, .. } = &err else {
        panic!("expected CreateRefused, got {err:?}");
    };
    assert_eq!(
        error.errors["labels"],
        "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."
    );
    assert!(n
        .health()
        .await
        .unwrap()
        .to_string()
        .contains("labels: Field 'labels' cannot be set"));
}

#[tokio::test(start_paused = true)]
async fn an_override_to_a_project_without_description_comments_there() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::NoDescription);
    let n = connected(&jira).await;
    n.save_settings(Settings::new("QA")).await.unwrap();
    let saved = n
        .set_override("backup", TestOverride::default().with_project(key))
        .await
        .unwrap();
    assert_eq!(saved.warnings.len(), 1);
    let before = jira.request_count();
    let o = n.on_test_error(&test("backup"), &failed()).await.unwrap();
    assert_eq!(jira.request_count() - before, 3);
    let issue = jira.issue(key_of(&o)).unwrap();
    assert_eq!(issue.project_key, key);
    assert_eq!(issue.comments.len(), 1);
    // Tests without the override stay in QA, with their description.
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    let issue = jira.issue(key_of(&o)).unwrap();
    assert!(issue.comments.is_empty() && !issue.description.is_null());
}

#[tokio::test(start_paused = true)]
async fn an_override_older_than_the_global_values_reads_the_screen_once_more() {
    let jira = SimJira::new();
    let key = jira.add_screen_project(ScreenKind::EveryFieldKind);
    let n = connected(&jira).await;
    n.save_settings(Settings::new(key)).await.unwrap();
    n.set_override(
        "login",
        TestOverride::default().with_field("customfield_10111", FieldValue::one("Minor")),
    )
    .await
    .unwrap();
    n.save_settings(Settings::new(key).with_field("priority", FieldValue::one("Low")))
        .await
        .unwrap();

    let before = jira.request_count();
    let o = n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(jira.request_count() - before, 3, "screen, search, create");
    let f = jira.issue(key_of(&o)).unwrap().fields;
    assert_eq!(f["priority"], json!({"id": "4"}));
    assert_eq!(f["customfield_10111"], json!({"id": "10210"}));
    // Kept with the override: the next one costs what a failure costs.
    jira.set_status(key_of(&o), jira_notifier_sim::StatusCategory::Done);
    let before = jira.request_count();
    n.on_test_error(&test("login"), &failed()).await.unwrap();
    assert_eq!(jira.request_count() - before, 2);
}

#[tokio::test(start_paused = true)]
async fn projects_lists_only_where_issues_can_be_created() {
    let jira = SimJira::new();
    let n = connected(&jira).await;
    assert!(jira.set_permission("OPS", "CREATE_ISSUES", false));
    let keys: Vec<String> = n
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, ["QA"]);
    let err = n
        .save_settings(Settings::new("OPS").with_issue_type("Task"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermissionMissing { permissions, .. } if permissions == &["CREATE_ISSUES"]),
        "{err:?}"
    );
}

mod property {
    //! Any set of configured values either saves and then creates, or is refused at save:
    //! never saved and then refused at create, on an unchanged screen.

    use std::collections::BTreeMap;

    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    /// Fields a screen may hold beyond the six the crate always knew.
    fn pool() -> Vec<SimField> {
        vec![
            SimField::priority(&[("1", "High"), ("3", "Medium"), ("4", "Low")]),
            SimField::components(&[("10300", "Backend"), ("10301", "Frontend")]),
            SimField::fix_versions(&[("10400", "1.0"), ("10401", "2.0")]),
            SimField::select(
                "customfield_10100",
                "Team",
                &[("10200", "Red"), ("10201", "Blue")],
            ),
            SimField::multi_select(
                "customfield_10112",
                "Platforms",
                &[("10220", "Linux"), ("10221", "macOS")],
            ),
            SimField::number("customfield_10110", "Story Points"),
            SimField::user("customfield_10113", "Reviewer"),
            SimField::users("customfield_10114", "Watchers list"),
            SimField::label_list("customfield_10115", "Tags"),
            SimField::text("customfield_10116", "Build"),
            SimField::text_area("customfield_10117", "Steps"),
            SimField::date_time("customfield_10118", "Found at"),
            SimField::due_date(),
            SimField::environment(),
            SimField::cascading("customfield_10119", "Area", &[("10230", "Backend")]),
            SimField::reporter(),
        ]
    }

    /// What a person might type into each pool field, right and wrong.
    fn candidates(field: usize) -> &'static [&'static str] {
        // Mostly right: wrong ones are a minority, so that both outcomes are common.
        const C: [&[&str]; 16] = [
            &["High", "medium", "3", "low", "Urgent"],
            &["Backend", "frontend", "10301", "Backend", "Ops"],
            &["1.0", "2.0", "10400", "1.0", "9.9"],
            &["Red", "blue", "10200", "Red", "Green"],
            &["Linux", "macOS", "10220", "Linux", "BeOS"],
            &["3", "3.5", "-2", "8", "1e400"],
            &[
                "712020:bob",
                "712020:carol",
                "712020:bob",
                "712020:alice",
                "712020:dave",
            ],
            &[
                "712020:bob",
                "712020:carol",
                "712020:bob",
                "712020:alice",
                "nobody",
            ],
            &["flaky", "ui", "flaky", "ui", "two words"],
            &[
                "build 7, nightly",
                "x",
                "build 7",
                "x",
                "line one\nline two",
            ],
            &["1. open\n2. click", "steps", "steps", "steps", " "],
            &[
                "2024-05-01T10:00:00.000+0000",
                "2024-05-01T10:00",
                "2024-05-01T10:00",
                "2024-05-01T10:00",
                "2024-05-01T25:00",
            ],
            &[
                "2024-02-29",
                "2024-01-01",
                "2024-02-29",
                "2024-01-01",
                "2023-02-29",
            ],
            &["CI", "Linux\nmacOS"],
            &["Backend"],
            &["712020:bob"],
        ];
        C[field]
    }

    /// What a person might type anywhere, for any field id.
    const TEXTS: &[&str] = &[
        "Red",
        "10200",
        "Backend",
        "1.0",
        "High",
        "3.5",
        "2024-02-29",
        "712020:bob",
        "x y",
        "a,b",
    ];

    const TARGETS: &[&str] = &[
        "priority",
        "components",
        "customfield_10100",
        "customfield_10110",
        "customfield_10113",
        "customfield_10115",
        "customfield_10119",
        "customfield_99999",
        "labels",
        "reporter",
    ];

    #[derive(Debug, Clone)]
    struct Case {
        /// For each pool field: (on the screen, required, with a default).
        screen: Vec<(bool, bool, bool)>,
        /// Take these core fields off the screen.
        without_labels: bool,
        without_description: bool,
        without_assignee: bool,
        revoke: Option<&'static str>,
        assignee: Option<&'static str>,
        /// For each pool field, maybe a value: candidate indexes, and whether to give
        /// them as several values.
        values: Vec<Option<(Vec<usize>, bool)>>,
        /// A value for any field id (on the screen or not), from any text.
        chaos: Option<(&'static str, Vec<&'static str>, bool)>,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            vec(
                (
                    prop::bool::weighted(0.5),
                    prop::bool::weighted(0.15),
                    prop::bool::weighted(0.5),
                ),
                16,
            ),
            (
                prop::bool::weighted(0.05),
                prop::bool::weighted(0.15),
                prop::bool::weighted(0.1),
            ),
            prop::option::weighted(0.1, select(vec!["ASSIGN_ISSUES", "ADD_COMMENTS"])),
            prop::option::weighted(0.25, select(vec!["712020:alice", "712020:dave"])),
            vec(
                prop::option::weighted(0.25, (vec(0usize..5, 1..3), prop::bool::weighted(0.5))),
                16,
            ),
            prop::option::weighted(
                0.15,
                (
                    select(TARGETS.to_vec()),
                    vec(select(TEXTS.to_vec()), 1..3),
                    any::<bool>(),
                ),
            ),
        )
            .prop_map(
                |(
                    screen,
                    (without_labels, without_description, without_assignee),
                    revoke,
                    assignee,
                    values,
                    chaos,
                )| Case {
                    screen,
                    without_labels,
                    without_description,
                    without_assignee,
                    revoke,
                    assignee,
                    values,
                    chaos,
                },
            )
    }

    fn run(case: &Case) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let jira = SimJira::new();
            jira.add_project("PROP", "Property", &["Bug"]);
            jira.add_user("712020:alice", "Alice", true, &["PROP"]);
            let mut screen = jira.screen("PROP", "Bug").unwrap();
            screen.retain(|f| {
                !(case.without_labels && f.id == "labels"
                    || case.without_description && f.id == "description"
                    || case.without_assignee && f.id == "assignee")
            });
            for (field, (on, required, default)) in pool().into_iter().zip(&case.screen) {
                if !on {
                    continue;
                }
                let mut field = if *required {
                    field.required()
                } else {
                    field.optional()
                };
                if !*default {
                    field.default = None;
                } else if field.default.is_none() {
                    let value = field
                        .allowed_values
                        .as_ref()
                        .and_then(|a| a.first().cloned())
                        .map(|v| json!({"id": v["id"]}))
                        .unwrap_or(json!("2024-01-01"));
                    field = field.with_default(value);
                }
                screen.push(field);
            }
            jira.set_screen("PROP", "Bug", screen);
            if let Some(p) = case.revoke {
                jira.set_permission("PROP", p, false);
            }
            let n = connected(&jira).await;
            let mut settings = Settings::new("PROP");
            if let Some(a) = case.assignee {
                settings = settings.with_assignee(Assignee::user(a));
            }
            let value = |texts: Vec<&str>, many: bool| {
                if many {
                    FieldValue::many(texts)
                } else {
                    FieldValue::one(texts[0])
                }
            };
            let mut fields = BTreeMap::new();
            let on_screen = jira.screen("PROP", "Bug").unwrap();
            for (i, (field, wanted)) in pool().iter().zip(&case.values).enumerate() {
                if !on_screen.iter().any(|f| f.id == field.id) {
                    continue;
                }
                if let Some((picks, many)) = wanted {
                    let texts: Vec<&str> = picks
                        .iter()
                        .map(|p| candidates(i)[p % candidates(i).len()])
                        .collect();
                    // Several values only where the field takes several: giving a
                    // single-valued field two is refused by the chaos values below.
                    let many = *many && [1, 2, 4, 7, 8].contains(&i);
                    fields.insert(field.id.clone(), value(texts, many));
                }
            }
            if let Some((id, texts, many)) = &case.chaos {
                fields.insert((*id).to_owned(), value(texts.clone(), *many));
            }
            settings.fields = fields;

            match n.save_settings(settings).await {
                Err(
                    Error::FieldsRefused { .. }
                    | Error::PermissionMissing { .. }
                    | Error::InvalidInput { .. },
                ) => {
                    prop_assert_eq!(n.settings().await.unwrap(), None);
                    prop_assert!(jira.issues().is_empty());
                }
                Err(other) => prop_assert!(false, "save failed otherwise: {other:?}"),
                Ok(saved) => {
                    let outcome = n.on_test_error(&test("prop"), &failed()).await;
                    prop_assert!(
                        matches!(outcome, Ok(Outcome::Created(_))),
                        "saved {:?}, then the failure came to {outcome:?}",
                        saved.fields
                    );
                    prop_assert!(n.health().await.unwrap().is_ok());
                }
            }
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn configured_values_are_refused_at_save_or_create_issues(case in case()) {
            run(&case)?;
        }
    }
}
