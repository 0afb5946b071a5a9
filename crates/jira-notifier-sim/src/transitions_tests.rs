//! Tests of workflows: the transitions routes, their refusals, the state they leave
//! issues in (as `GET /issue`, search and the control API see it) and its dates.

use std::time::Duration;

use serde_json::{json, Value};

use crate::testing::Client;
use crate::{ResolutionField, SimJira, StatusCategory, Workflow, WorkflowTransition};

const NOT_ON_SCREEN: &str =
    "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown.";

fn doc(text: &str) -> Value {
    json!({"version": 1, "type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

fn ids(list: &Value) -> Vec<&str> {
    list["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

fn field_error(field: &str, message: &str) -> Value {
    json!({"errorMessages": [], "errors": {field: message}})
}

fn message(text: &str) -> Value {
    json!({"errorMessages": [text], "errors": {}})
}

async fn transition(c: &Client, key: &str, body: Value) -> (u16, Value) {
    c.post(&format!("/rest/api/3/issue/{key}/transitions"), body)
        .await
}

/// A company-managed workflow with transitions from given statuses only.
fn classic() -> Workflow {
    Workflow::new("Classic")
        .status("Open", StatusCategory::ToDo)
        .status("Working", StatusCategory::InProgress)
        .status("Closed", StatusCategory::Done)
        .transition(WorkflowTransition::between(
            "4",
            "Start Progress",
            &["Open"],
            "Working",
        ))
        .transition(
            WorkflowTransition::between("5", "Close Issue", &["Open", "Working"], "Closed")
                .with_screen(ResolutionField::Optional)
                .setting_resolution("Done"),
        )
        .transition(WorkflowTransition::between(
            "3",
            "Reopen Issue",
            &["Closed"],
            "Open",
        ))
}

#[tokio::test]
async fn lists_what_the_status_offers_in_jiras_shapes() {
    let sim = SimJira::new();
    let c = Client::new(&sim).await;
    c.create("x", &[]).await;
    let (status, list) = c.get("/rest/api/3/issue/QA-1/transitions").await;
    assert_eq!(status, 200);
    assert_eq!(list["expand"], "transitions");
    // Global transitions, except the one into the issue's own status.
    assert_eq!(ids(&list), ["21", "31"]);
    let done = &list["transitions"][1];
    assert_eq!(done["name"], "Done");
    assert_eq!(
        (done["hasScreen"].as_bool(), done["isGlobal"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(
        (
            done["isInitial"].as_bool(),
            done["isConditional"].as_bool(),
            done["isAvailable"].as_bool()
        ),
        (Some(false), Some(false), Some(true))
    );
    assert_eq!(done["to"]["name"], "Done");
    assert_eq!(done["to"]["id"], "10002");
    assert_eq!(
        done["to"]["statusCategory"],
        json!({"self": format!("{}/rest/api/3/statuscategory/3", crate::testing::GATEWAY),
               "id": 3, "key": "done", "colorName": "green", "name": "Done"})
    );
    assert!(done.get("fields").is_none());

    let (_, expanded) = c
        .get("/rest/api/3/issue/QA-1/transitions?expand=transitions.fields")
        .await;
    assert_eq!(expanded["transitions"][1]["fields"], json!({}));
    // As recorded: an id the issue cannot take gives an empty list, not an error.
    let (status, none) = c
        .get("/rest/api/3/issue/QA-1/transitions?transitionId=999")
        .await;
    assert_eq!(
        (status, none),
        (200, json!({"expand": "transitions", "transitions": []}))
    );
    let (_, one) = c
        .get("/rest/api/3/issue/QA-1/transitions?transitionId=31")
        .await;
    assert_eq!(ids(&one), ["31"]);
    let (status, body) = c.get("/rest/api/3/issue/NOPE-999999/transitions").await;
    assert_eq!(
        (status, body),
        (
            404,
            message("Issue does not exist or you do not have permission to see it.")
        )
    );
    // The issue answer carries them on request.
    let (_, issue) = c
        .get("/rest/api/3/issue/QA-1?fields=status&expand=transitions")
        .await;
    assert_eq!(ids(&issue), ["21", "31"]);
    let (_, plain) = c.get("/rest/api/3/issue/QA-1?fields=status").await;
    assert!(plain.get("transitions").is_none());
}

#[tokio::test]
async fn a_resolve_screen_shows_its_resolution_field() {
    let sim = SimJira::new();
    sim.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let c = Client::new(&sim).await;
    c.create("x", &[]).await;
    let (_, list) = c
        .get("/rest/api/3/issue/QA-1/transitions?expand=transitions.fields")
        .await;
    let resolve = &list["transitions"][1];
    assert_eq!(
        (resolve["id"].as_str(), resolve["name"].as_str()),
        (Some("31"), Some("Resolve issue"))
    );
    assert_eq!(resolve["hasScreen"], true);
    let field = &resolve["fields"]["resolution"];
    assert_eq!(field["required"], true);
    assert_eq!(field["key"], "resolution");
    assert_eq!(field["name"], "Resolution");
    assert_eq!(field["schema"]["type"], "resolution");
    assert_eq!(field["operations"], json!(["set"]));
    let allowed: Vec<&str> = field["allowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        allowed,
        ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
    );
    assert_eq!(field["allowedValues"][0]["id"], "10000");
}

#[tokio::test]
async fn refuses_transitions_as_jira_does_and_changes_nothing() {
    let sim = SimJira::new();
    let c = Client::new(&sim).await;
    c.create("x", &[]).await;
    // Recorded (`transition_missing.http`).
    let res = c
        .post_raw("/rest/api/3/issue/QA-1/transitions", b"{}")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        String::from_utf8(res.body).unwrap(),
        r#"{"errorMessages":["Missing 'transition' identifier"],"errors":{}}"#
    );
    for refused in [json!({"transition": {}}), json!({"transition": {"id": ""}})] {
        assert_eq!(
            transition(&c, "QA-1", refused).await,
            (400, message("Missing 'transition' identifier"))
        );
    }
    // To Do does not offer the transition into To Do; nobody offers 999.
    for id in ["11", "999"] {
        assert_eq!(
            transition(&c, "QA-1", json!({"transition": {"id": id}})).await,
            (
                400,
                message(&format!(
                    "Transition id '{id}' is not valid for this issue."
                ))
            )
        );
    }
    // The default Done transition has no screen: no resolution can be set on it.
    assert_eq!(
        transition(
            &c,
            "QA-1",
            json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}})
        )
        .await,
        (400, field_error("resolution", NOT_ON_SCREEN))
    );
    assert_eq!(
        transition(
            &c,
            "QA-1",
            json!({"transition": {"id": "31"}, "fields": {"priority": {"name": "High"}}})
        )
        .await,
        (
            400,
            field_error(
                "priority",
                "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
            )
        )
    );
    assert_eq!(
        transition(
            &c,
            "QA-1",
            json!({"transition": {"id": "31"},
                   "update": {"comment": [{"add": {"body": "plain"}}]}})
        )
        .await,
        (400, field_error("comment", "Comment body is not valid!"))
    );
    assert_eq!(
        transition(&c, "NOPE-999999", json!({"transition": {"id": "31"}}))
            .await
            .0,
        404
    );
    let res = c
        .post_raw("/rest/api/3/issue/QA-1/transitions", b"not json")
        .await;
    assert_eq!(res.status, 400);
    let res = c
        .post_raw("/rest/api/3/issue/QA-1/transitions", b"[1]")
        .await;
    assert_eq!(res.status, 400);

    sim.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    assert_eq!(
        transition(&c, "QA-1", json!({"transition": {"id": "31"}})).await,
        (400, field_error("resolution", "Resolution is required."))
    );
    assert_eq!(
        transition(
            &c,
            "QA-1",
            json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Fixed"}}})
        )
        .await,
        (
            400,
            field_error("resolution", "Resolution name 'Fixed' is not valid")
        )
    );
    let issue = sim.issue("QA-1").unwrap();
    assert_eq!(
        (
            issue.status.as_str(),
            issue.resolution,
            issue.comments.len()
        ),
        ("To Do", None, 0)
    );

    // Without the Transition Issues permission nothing is offered, and nothing taken.
    sim.set_permission("QA", "TRANSITION_ISSUES", false);
    let (_, list) = c.get("/rest/api/3/issue/QA-1/transitions").await;
    assert!(ids(&list).is_empty());
    let (status, _) = transition(
        &c,
        "QA-1",
        json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(sim.status("QA-1").as_deref(), Some("To Do"));
}

#[tokio::test(start_paused = true)]
async fn the_default_done_leaves_the_issue_unresolved() {
    let sim = SimJira::new();
    let c = Client::new(&sim).await;
    c.create("x", &["t-1"]).await;
    let (_, before) = c
        .get("/rest/api/3/issue/QA-1?fields=created,statuscategorychangedate,resolution,resolutiondate")
        .await;
    assert_eq!(
        before["fields"]["statuscategorychangedate"],
        before["fields"]["created"]
    );
    assert_eq!(before["fields"]["resolution"], Value::Null);
    assert_eq!(before["fields"]["resolutiondate"], Value::Null);

    // Half an hour: tokens live an hour.
    tokio::time::advance(Duration::from_secs(1800)).await;
    let (status, body) = transition(&c, "QA-1", json!({"transition": {"id": 31}})).await;
    assert_eq!((status, body), (204, Value::Null));
    let issue = sim.issue("QA-1").unwrap();
    assert_eq!(issue.status, "Done");
    assert_eq!(issue.status_category, StatusCategory::Done);
    assert_eq!(issue.resolution, None);
    assert!(sim.open_issues_with_label("t-1").is_empty());

    let (_, after) = c
        .get("/rest/api/3/issue/QA-1?fields=status,created,statuscategorychangedate,resolution,resolutiondate")
        .await;
    let fields = &after["fields"];
    assert_eq!(fields["status"]["name"], "Done");
    assert_eq!(fields["status"]["statusCategory"]["key"], "done");
    assert_eq!(fields["resolution"], Value::Null);
    assert_eq!(fields["resolutiondate"], Value::Null);
    let changed = fields["statuscategorychangedate"].as_str().unwrap();
    assert_ne!(changed, fields["created"].as_str().unwrap());
    assert_eq!(
        changed,
        crate::clock::jira_datetime(sim.now()),
        "the change happened now, half an hour after the creation"
    );
}

#[tokio::test(start_paused = true)]
async fn resolving_on_a_screen_sets_resolution_and_date_and_reopening_clears_them() {
    let sim = SimJira::new();
    sim.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let c = Client::new(&sim).await;
    c.create("x", &[]).await;
    tokio::time::advance(Duration::from_secs(60)).await;
    let (status, _) = transition(
        &c,
        "QA-1",
        json!({"transition": {"id": "31"},
               "fields": {"resolution": {"name": "Won't Do"}},
               "update": {"comment": [{"add": {"body": doc("passing again")}}]}}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sim.resolution("QA-1").as_deref(), Some("Won't Do"));
    let comments = sim.comments("QA-1").unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, doc("passing again"));
    assert_eq!(comments[0].created, sim.now());
    let (_, issue) = c
        .get("/rest/api/3/issue/QA-1?fields=resolution,resolutiondate,statuscategorychangedate")
        .await;
    let fields = &issue["fields"];
    assert_eq!(
        fields["resolution"],
        json!({"self": format!("{}/rest/api/3/resolution/10001", crate::testing::GATEWAY),
               "id": "10001", "description": "This issue won't be actioned.", "name": "Won't Do"})
    );
    assert_eq!(fields["resolutiondate"], fields["statuscategorychangedate"]);

    // Reopen, as Jira's own reopen does: the resolution and its date go.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        transition(&c, "QA-1", json!({"transition": {"id": "11"}}))
            .await
            .0,
        204
    );
    assert_eq!(sim.resolution("QA-1"), None);
    let (_, reopened) = c
        .get("/rest/api/3/issue/QA-1?fields=status,resolution,resolutiondate,statuscategorychangedate")
        .await;
    assert_eq!(reopened["fields"]["status"]["name"], "To Do");
    assert_eq!(reopened["fields"]["resolution"], Value::Null);
    assert_eq!(reopened["fields"]["resolutiondate"], Value::Null);
    assert_eq!(
        reopened["fields"]["statuscategorychangedate"],
        crate::clock::jira_datetime(sim.now())
    );
    // A resolution may also be named by id.
    let (status, _) = transition(
        &c,
        "QA-1",
        json!({"transition": {"id": "31"}, "fields": {"resolution": {"id": "10002"}}}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sim.resolution("QA-1").as_deref(), Some("Duplicate"));
}

#[tokio::test]
async fn workflows_with_transitions_from_given_statuses() {
    let sim = SimJira::new();
    sim.set_workflow("QA", classic()).unwrap();
    let c = Client::new(&sim).await;
    c.create("x", &[]).await;
    assert_eq!(sim.status("QA-1").as_deref(), Some("Open"));
    let (_, list) = c.get("/rest/api/3/issue/QA-1/transitions").await;
    assert_eq!(ids(&list), ["4", "5"]);
    assert_eq!(list["transitions"][0]["isGlobal"], false);
    assert_eq!(
        list["transitions"][0]["to"]["statusCategory"]["key"],
        "indeterminate"
    );
    assert_eq!(
        transition(&c, "QA-1", json!({"transition": {"id": "3"}})).await,
        (
            400,
            message("Transition id '3' is not valid for this issue.")
        )
    );
    // Its post function resolves when the optional screen field is left empty.
    assert_eq!(
        transition(&c, "QA-1", json!({"transition": {"id": "5"}}))
            .await
            .0,
        204
    );
    assert_eq!(sim.status("QA-1").as_deref(), Some("Closed"));
    assert_eq!(sim.resolution("QA-1").as_deref(), Some("Done"));
    let (_, list) = c.get("/rest/api/3/issue/QA-1/transitions").await;
    assert_eq!(ids(&list), ["3"]);
    // Status names are the site's: a new name gets a new id, and JQL finds it by name.
    let (_, found) = c
        .search(json!({"jql": "project = QA AND status = \"Closed\"", "fields": ["status"]}))
        .await;
    assert_eq!(found["issues"][0]["fields"]["status"]["name"], "Closed");
    let closed_id = found["issues"][0]["fields"]["status"]["id"]
        .as_str()
        .unwrap();
    assert!(!["10000", "10001", "10002"].contains(&closed_id));
    let (status, body) = c
        .search(json!({"jql": "project = QA AND status = \"Shipped\""}))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            message("The value 'Shipped' does not exist for the field 'status'.")
        )
    );
}

#[tokio::test]
async fn set_workflow_refuses_what_jira_could_not_hold() {
    let sim = SimJira::new();
    assert!(sim
        .set_workflow("NOPE", Workflow::simplified())
        .unwrap_err()
        .contains("NOPE"));
    let clash = Workflow::new("w").status("Done", StatusCategory::ToDo);
    assert!(sim.set_workflow("QA", clash).is_err());
    let dangling = Workflow::new("w")
        .status("Open", StatusCategory::ToDo)
        .transition(WorkflowTransition::global("1", "Go", "Gone"));
    assert!(sim.set_workflow("QA", dangling).is_err());
    assert_eq!(sim.workflow("QA"), Some(Workflow::simplified()));
    sim.set_workflow("OPS", Workflow::without_done_transition())
        .unwrap();
    assert_eq!(sim.workflow("OPS").unwrap().name(), "No Done Workflow");
}

#[tokio::test]
async fn people_move_issues_through_the_workflow_or_directly() {
    let sim = SimJira::new();
    let issue = sim.add_issue("QA", "Bug", "x", &[]).unwrap();
    assert_eq!(issue.status, "To Do");
    assert_eq!(
        sim.transition("QA-1", "Done", Some("Won't Do"))
            .unwrap_err(),
        NOT_ON_SCREEN
    );
    sim.transition("qa-1", "in progress", None).unwrap();
    assert_eq!(sim.status("QA-1").as_deref(), Some("In Progress"));
    sim.transition("QA-1", "Done", None).unwrap();
    assert_eq!(
        (sim.status("QA-1").as_deref(), sim.resolution("QA-1")),
        (Some("Done"), None)
    );
    // Already in Done: a person sets the resolution directly.
    sim.transition("QA-1", "Done", Some("Won't Do")).unwrap();
    assert_eq!(sim.resolution("QA-1").as_deref(), Some("Won't Do"));
    assert!(sim.transition("QA-1", "Shipped", None).is_err());
    assert!(sim.transition("QA-1", "Done", Some("Fixed")).is_err());
    assert!(sim.transition("QA-9", "Done", None).is_err());

    sim.set_workflow("OPS", Workflow::with_resolve_screen())
        .unwrap();
    sim.add_issue("OPS", "Task", "y", &[]).unwrap();
    assert_eq!(
        sim.transition("OPS-1", "Done", None).unwrap_err(),
        "Resolution is required."
    );
    sim.transition("OPS-1", "Done", Some("Duplicate")).unwrap();
    assert_eq!(sim.resolution("OPS-1").as_deref(), Some("Duplicate"));
    // Back to To Do through the workflow clears it, as does `set_status`.
    sim.transition("OPS-1", "To Do", None).unwrap();
    assert_eq!(sim.resolution("OPS-1"), None);
    sim.transition("OPS-1", "Done", Some("Done")).unwrap();
    assert!(sim.set_status("OPS-1", StatusCategory::InProgress));
    assert_eq!(
        (sim.status("OPS-1").as_deref(), sim.resolution("OPS-1")),
        (Some("In Progress"), None)
    );

    // No transition leads into Done: a person (an admin) still moves it there directly.
    sim.set_workflow("QA", Workflow::without_done_transition())
        .unwrap();
    sim.add_issue("QA", "Bug", "z", &[]).unwrap();
    let c = Client::new(&sim).await;
    let (_, list) = c.get("/rest/api/3/issue/QA-2/transitions").await;
    assert_eq!(ids(&list), ["21"]);
    sim.transition("QA-2", "Done", Some("Cannot Reproduce"))
        .unwrap();
    assert_eq!(sim.resolution("QA-2").as_deref(), Some("Cannot Reproduce"));
    assert_eq!(
        sim.transition("QA-2", "In Progress", Some("Done"))
            .unwrap_err(),
        NOT_ON_SCREEN
    );
    sim.transition("QA-2", "In Progress", None).unwrap();
    assert_eq!(sim.resolution("QA-2"), None);
}

#[tokio::test(start_paused = true)]
async fn search_sees_transitions_after_the_lag_unless_reconciled() {
    let sim = SimJira::new();
    sim.set_workflow("QA", Workflow::with_resolve_screen())
        .unwrap();
    let c = Client::new(&sim).await;
    let created = c.create("x", &["t-1"]).await;
    let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
    sim.set_search_lag(Duration::from_secs(5));
    tokio::time::advance(Duration::from_secs(10)).await;
    let (status, _) = transition(
        &c,
        "QA-1",
        json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Won't Do"}}}),
    )
    .await;
    assert_eq!(status, 204);
    let open = "labels = \"t-1\" AND statusCategory != Done";
    let fields = json!(["status", "resolution", "resolutiondate"]);
    let (_, stale) = c.search(json!({"jql": open, "fields": fields})).await;
    let seen = &stale["issues"][0]["fields"];
    assert_eq!(seen["status"]["name"], "To Do");
    assert_eq!(seen["resolution"], Value::Null);
    assert_eq!(seen["resolutiondate"], Value::Null);
    let (_, current) = c
        .search(json!({"jql": open, "reconcileIssues": [id]}))
        .await;
    assert_eq!(current["issues"], json!([]));
    let (_, done) = c
        .search(json!({"jql": "labels = \"t-1\" AND statusCategory = Done",
                       "fields": fields, "reconcileIssues": [id]}))
        .await;
    assert_eq!(
        done["issues"][0]["fields"]["resolution"]["name"],
        "Won't Do"
    );
    assert!(done["issues"][0]["fields"]["resolutiondate"]
        .as_str()
        .unwrap()
        .ends_with("+0000"));
    tokio::time::advance(Duration::from_secs(5)).await;
    let (_, later) = c.search(json!({"jql": open})).await;
    assert_eq!(later["issues"], json!([]));
}

#[tokio::test]
async fn issue_clauses_combine_with_and_or_and_parentheses() {
    let sim = SimJira::new();
    let c = Client::new(&sim).await;
    c.create("open", &["testclix-t1"]).await;
    let closed = c.create("closed", &["testclix-t1"]).await;
    c.create("other", &["testclix-t2"]).await;
    sim.transition("QA-2", "Done", None).unwrap();
    let closed_id = closed["id"].as_str().unwrap();
    let found = |body: &Value| -> Vec<String> {
        body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_owned())
            .collect()
    };
    for (jql, keys) in [
        (
            format!("labels = \"testclix-t1\" AND (statusCategory != Done OR issue = {closed_id})"),
            vec!["QA-2", "QA-1"],
        ),
        (
            "labels = \"testclix-t1\" AND (statusCategory != Done OR key = QA-2)".to_owned(),
            vec!["QA-2", "QA-1"],
        ),
        (
            "labels = \"testclix-t1\" AND statusCategory != Done OR id = 10002".to_owned(),
            vec!["QA-3", "QA-1"],
        ),
        (
            "(issue = QA-1 OR issue = QA-3) AND NOT labels = \"testclix-t2\"".to_owned(),
            vec!["QA-1"],
        ),
    ] {
        let (status, body) = c.search(json!({"jql": jql, "fields": ["key"]})).await;
        assert_eq!(status, 200, "{jql}: {body}");
        assert_eq!(found(&body), keys, "{jql}");
    }
    let (status, body) = c
        .search(json!({"jql": "labels = \"testclix-t1\" AND (statusCategory != Done OR issue = 10042)"}))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            message("An issue with key '10042' does not exist for field 'issue'.")
        )
    );
}
