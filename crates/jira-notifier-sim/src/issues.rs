//! `POST /rest/api/3/issue` (create, validated like Jira) and `GET /rest/api/3/issue/{idOrKey}`.

use serde_json::{json, Map, Value};

use super::adf::{self, AdfError};
use super::render::{self, FieldSet};
use super::reply;
use super::router::{Body, Ctx};
use super::screens;
use super::transitions;
use super::world::{JiraData, NewIssue};
use jira_notifier::HttpResponse;

const MAX_SUMMARY: usize = 255;
const MAX_LABEL: usize = 255;

/// Java's `String.length()`: Jira's limits count UTF-16 code units, not characters.
fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn field_error(field: &str, message: &str) -> HttpResponse {
    let mut errors = Map::new();
    errors.insert(field.to_owned(), Value::from(message));
    reply::field_errors(errors)
}

pub(crate) fn create(jira: &mut JiraData, ctx: &Ctx<'_>, body: &Body) -> HttpResponse {
    let value = match body {
        Body::Empty => return reply::bad_request("No Issue Create payload supplied"),
        Body::Invalid => return reply::json_parse_error(),
        Body::Json(value) => value,
    };
    let Some(top) = value.as_object() else {
        return reply::invalid_payload();
    };
    let empty = Map::new();
    let fields = match top.get("fields") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(fields)) => fields,
        Some(_) => return reply::invalid_payload(),
    };
    let update_used = top
        .get("update")
        .is_some_and(|u| !u.is_null() && u.as_object().is_none_or(|m| !m.is_empty()));
    if update_used {
        return reply::bad_request(
            "The simulated Jira does not support 'update' when creating an issue; set values in 'fields'.",
        );
    }
    // Without a valid project and issue type Jira cannot know the screen, so it stops there.
    let Some(project) = project_of(jira, fields.get("project")) else {
        return field_error("project", "Specify a valid project ID or key");
    };
    let issue_type_id = match issue_type_of(jira, project, fields.get("issuetype")) {
        Ok(id) => id,
        Err(message) => return field_error("issuetype", message),
    };
    let may = |permission: &str| {
        jira.projects
            .get(project)
            .is_some_and(|p| p.granted.contains(permission))
    };
    if !may("CREATE_ISSUES") {
        return reply::bad_request("You do not have permission to create issues in this project.");
    }
    // The screen decides which fields may be set and which must be: checked first, so
    // that a field off the screen is named as such whatever its value.
    let mut errors = Map::new();
    let checked = screens::check_create(jira, project, &issue_type_id, fields, &mut errors);
    let on_screen = |name: &str| !errors.contains_key(name) && fields.contains_key(name);
    let description_given = on_screen("description");
    let summary_given = on_screen("summary") || !fields.contains_key("summary");
    let labels_given = on_screen("labels");
    let assignee_given = on_screen("assignee");
    let description = if description_given {
        match description_of(fields.get("description"), jira.description_limit) {
            Ok(description) => description,
            Err(DescriptionError::Request(answer)) => return answer,
            Err(DescriptionError::Field(message)) => {
                errors.insert("description".to_owned(), Value::from(message));
                Value::Null
            }
        }
    } else {
        Value::Null
    };
    let mut note = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.insert(field.to_owned(), Value::from(message));
        }
    };
    let mut summary = String::new();
    if summary_given {
        note(
            "summary",
            summary_of(fields.get("summary")).map(|s| summary = s),
        );
    }
    let mut labels = Vec::new();
    if labels_given {
        note(
            "labels",
            labels_of(fields.get("labels")).map(|l| labels = l),
        );
    }
    let mut assignee = None;
    if assignee_given {
        note(
            "assignee",
            assignee_of(jira, project, fields.get("assignee")).map(|a| assignee = a),
        );
        if assignee.is_some() && !may("ASSIGN_ISSUES") {
            note(
                "assignee",
                Err("You do not have permission to assign issues.".to_owned()),
            );
        }
    }
    if !errors.is_empty() {
        return reply::field_errors(errors);
    }
    let index = jira.create_issue(
        NewIssue {
            project,
            issue_type_id,
            summary,
            description,
            labels,
            assignee,
            fields: checked.fields,
        },
        ctx.now,
    );
    let Some(issue) = jira.issues.get(index) else {
        return field_error("project", "Specify a valid project ID or key");
    };
    reply::jira(
        201,
        &json!({
            "id": issue.id.to_string(),
            "key": issue.key,
            "self": format!("{}/rest/api/3/issue/{}", ctx.base, issue.id),
        }),
    )
}

/// An id given as a string or a number.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn project_of(jira: &JiraData, value: Option<&Value>) -> Option<usize> {
    let reference = value?.as_object()?;
    if let Some(id) = id_text(reference.get("id")) {
        return jira.projects.iter().position(|p| p.id == id);
    }
    let key = reference.get("key")?.as_str()?;
    jira.projects.iter().position(|p| p.key == key)
}

fn issue_type_of(
    jira: &JiraData,
    project: usize,
    value: Option<&Value>,
) -> Result<String, &'static str> {
    const MISSING: &str = "Specify an issue type";
    const INVALID: &str = "Specify a valid issue type";
    let reference = value.and_then(Value::as_object).ok_or(MISSING)?;
    let creatable = jira
        .projects
        .get(project)
        .map_or(&[][..], |p| p.issue_type_ids.as_slice());
    if let Some(id) = id_text(reference.get("id")) {
        return creatable.iter().find(|t| **t == id).cloned().ok_or(INVALID);
    }
    let name = reference
        .get("name")
        .and_then(Value::as_str)
        .ok_or(MISSING)?;
    creatable
        .iter()
        .find(|id| jira.issue_type(id).is_some_and(|t| t.name == name))
        .cloned()
        .ok_or(INVALID)
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}`: edits the issue's fields; here the summary, the
/// one field a client of this simulator edits. Any other field is refused as Jira refuses a
/// field off the edit screen. Answers `204` with no body, as Jira does without
/// `returnIssue`.
pub(crate) fn edit(jira: &mut JiraData, id_or_key: &str, body: &Body) -> HttpResponse {
    let value = match body {
        Body::Empty => return reply::bad_request("No Issue Edit payload supplied"),
        Body::Invalid => return reply::json_parse_error(),
        Body::Json(value) => value,
    };
    let Some(index) = jira.issue_index(id_or_key) else {
        return reply::issue_not_found();
    };
    let Some(fields) = value.get("fields").and_then(Value::as_object) else {
        return reply::bad_request("No fields to edit were given.");
    };
    let mut errors = serde_json::Map::new();
    let mut summary = None;
    for (name, v) in fields {
        if name == "summary" {
            match summary_of(Some(v)) {
                Ok(s) => summary = Some(s),
                Err(m) => {
                    errors.insert(name.clone(), Value::String(m));
                }
            }
        } else {
            errors.insert(
                name.clone(),
                Value::String(format!(
                    "Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                )),
            );
        }
    }
    if !errors.is_empty() {
        return reply::field_errors(errors);
    }
    if let (Some(s), Some(issue)) = (summary, jira.issues.get_mut(index)) {
        issue.summary = s;
    }
    HttpResponse::new(204, Vec::new())
}

fn summary_of(value: Option<&Value>) -> Result<String, String> {
    let summary = match value {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s,
        Some(_) => return Err("Operation value must be a string".to_owned()),
    };
    if summary.trim().is_empty() {
        return Err("You must specify a summary of the issue.".to_owned());
    }
    if summary.contains(['\n', '\r']) {
        return Err("The summary is invalid because it contains newline characters.".to_owned());
    }
    if java_len(summary) > MAX_SUMMARY {
        return Err("Summary can't exceed 255 characters.".to_owned());
    }
    Ok(summary.to_owned())
}

/// What was wrong with a description: most problems are the field's, but a document
/// Jira cannot store fails the whole request.
enum DescriptionError {
    Field(String),
    Request(HttpResponse),
}

fn description_of(value: Option<&Value>, limit: usize) -> Result<Value, DescriptionError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let field = |message: &str| Err(DescriptionError::Field(message.to_owned()));
    match adf::check_within(value, limit) {
        Ok(()) => Ok(value.clone()),
        Err(AdfError::NotADocument) => field(
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        ),
        Err(AdfError::TooLong) => field(
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters.",
        ),
        Err(AdfError::Invalid) => Err(DescriptionError::Request(reply::bad_request(
            "INVALID_INPUT",
        ))),
        Err(AdfError::EmptyText) => Err(DescriptionError::Request(reply::bad_request(
            "We can't create this issue for you right now, it could be due to unsupported \
             content you've entered into one or more of the issue fields. If this situation \
             persists, contact your administrator as they'll be able to access more specific \
             information in the log file.",
        ))),
    }
}

fn labels_of(value: Option<&Value>) -> Result<Vec<String>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("Operation value must be an array".to_owned()),
    };
    let mut labels: Vec<String> = Vec::new();
    for item in items {
        let label = item
            .as_str()
            .ok_or_else(|| "Operation value must be a string".to_owned())?;
        if label.is_empty() {
            return Err("A label cannot be empty.".to_owned());
        }
        if label.chars().any(char::is_whitespace) {
            return Err(format!(
                "The label '{label}' contains spaces which is invalid."
            ));
        }
        if java_len(label) > MAX_LABEL {
            return Err(format!(
                "The label '{label}' exceeds the maximum length for a single label of 255 characters."
            ));
        }
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_owned());
        }
    }
    Ok(labels)
}

fn assignee_of(
    jira: &JiraData,
    project: usize,
    value: Option<&Value>,
) -> Result<Option<String>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let account_id = match value.as_object().map(|o| o.get("accountId")) {
        Some(None | Some(Value::Null)) => return Ok(None),
        Some(Some(Value::String(id))) => id,
        _ => return Err("expected 'accountId' property to be a string".to_owned()),
    };
    // "-1" asks for the project's default assignee: unassigned in the simulation.
    if account_id == "-1" {
        return Ok(None);
    }
    let project_key = jira.projects.get(project).map(|p| p.key.as_str());
    let assignable = jira.user(account_id).is_some_and(|u| {
        u.active && project_key.is_some_and(|key| u.assignable_in.iter().any(|k| k == key))
    });
    if assignable {
        Ok(Some(account_id.clone()))
    } else {
        Err(format!("User '{account_id}' cannot be assigned issues."))
    }
}

pub(crate) fn get(jira: &JiraData, ctx: &Ctx<'_>, id_or_key: &str) -> HttpResponse {
    let Some(issue) = jira
        .issue_index(id_or_key)
        .and_then(|index| jira.issues.get(index))
    else {
        return reply::issue_not_found();
    };
    // `GET /issue` always names the issue by key (and id), whatever `fields` asks for.
    let fields = FieldSet::parse(&ctx.params("fields"), FieldSet::all()).with_key();
    let mut answer = render::issue(issue, issue.state(), jira, &fields, ctx);
    // `expand=transitions` adds what the issue can take from its status (the spec's
    // IssueBean `transitions`); `transitions.fields` adds their screens too.
    let expand: Vec<String> = transitions::expand_items(ctx).collect();
    if expand
        .iter()
        .any(|e| e == "transitions" || e == "transitions.fields")
    {
        let with_fields = transitions::expands_fields(ctx);
        if let Some(index) = jira.issue_index(id_or_key) {
            answer["transitions"] =
                Value::Array(transitions::rendered(jira, index, with_fields, None, ctx));
        }
    }
    reply::jira(200, &answer)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::testing::{Client, GATEWAY};
    use crate::{SimJira, StatusCategory};

    fn doc(text: &str) -> Value {
        json!({"version": 1, "type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        ]})
    }

    fn bug(extra: Value) -> Value {
        let mut fields = json!({
            "project": {"key": "QA"},
            "issuetype": {"name": "Bug"},
            "summary": "Test Failed: login",
        });
        for (k, v) in extra.as_object().unwrap() {
            fields[k] = v.clone();
        }
        json!({ "fields": fields })
    }

    async fn create(c: &Client, body: Value) -> (u16, Value) {
        c.post("/rest/api/3/issue", body).await
    }

    fn errors(body: &Value) -> &serde_json::Map<String, Value> {
        body["errors"].as_object().unwrap()
    }

    #[tokio::test]
    async fn an_edit_sets_the_summary_and_refuses_other_fields_and_bad_values() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (_, made) = create(&c, bug(json!({}))).await;
        let id = made["id"].as_str().unwrap();
        let path = format!("/rest/api/3/issue/{id}");
        let (status, body) = c
            .put(&path, json!({"fields": {"summary": "12 tests failing"}}))
            .await;
        assert_eq!((status, body), (204, Value::Null));
        assert_eq!(sim.issues()[0].summary, "12 tests failing");
        let (status, body) = c
            .put(
                "/rest/api/3/issue/QA-1",
                json!({"fields": {"priority": {"id": "1"}}}),
            )
            .await;
        assert_eq!(status, 400);
        assert!(errors(&body)["priority"]
            .as_str()
            .unwrap()
            .contains("cannot be set"));
        let (status, body) = c
            .put(&path, json!({"fields": {"summary": "x".repeat(256)}}))
            .await;
        assert_eq!(status, 400);
        assert!(errors(&body).contains_key("summary"));
        assert_eq!(
            sim.issues()[0].summary,
            "12 tests failing",
            "nothing changed"
        );
        let (status, _) = c
            .put(
                "/rest/api/3/issue/QA-99",
                json!({"fields": {"summary": "y"}}),
            )
            .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn creates_issues_with_per_project_keys() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = create(
            &c,
            bug(json!({"labels": ["a", "a", "b"], "description": doc("d"),
                                                  "assignee": {"accountId": "712020:alice"}})),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            body,
            json!({"id": "10000", "key": "QA-1", "self": format!("{GATEWAY}/rest/api/3/issue/10000")})
        );
        let ops_task = sim.issue_type_id("OPS", "Task").unwrap();
        let (_, body) = create(
            &c,
            json!({"fields": {"project": {"id": sim.project_id("OPS").unwrap()},
            "issuetype": {"id": ops_task}, "summary": "s"}}),
        )
        .await;
        assert_eq!(
            (body["id"].as_str(), body["key"].as_str()),
            (Some("10001"), Some("OPS-1"))
        );
        let (_, body) = create(&c, bug(json!({}))).await;
        assert_eq!(body["key"], "QA-2");

        let stored = sim.issue("QA-1").unwrap();
        assert_eq!(stored.labels, ["a", "b"]);
        assert_eq!(stored.assignee.as_deref(), Some("712020:alice"));
        assert_eq!(stored.description, doc("d"));
        assert_eq!(stored.issue_type_name, "Bug");
        assert_eq!(stored.status_category, StatusCategory::ToDo);
        assert_eq!(sim.issue("QA-2").unwrap().assignee, None);
    }

    #[tokio::test]
    async fn refuses_unusable_bodies_with_recorded_texts() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for (raw, expected) in [
            (
                &b""[..],
                r#"{"errorMessages":["No Issue Create payload supplied"],"errors":{}}"#,
            ),
            (
                b"not json",
                r#"{"errorMessages":["There was an error parsing JSON. Check that your request body is valid."]}"#,
            ),
            (
                b"[1]",
                r#"{"errorMessages":["Invalid request payload. Refer to the REST API documentation and try again."]}"#,
            ),
            (
                br#"{"fields":{}}"#,
                r#"{"errorMessages":[],"errors":{"project":"Specify a valid project ID or key"}}"#,
            ),
            (
                br#"{"fields":{"project":{"key":"NOPE"}}}"#,
                r#"{"errorMessages":[],"errors":{"project":"Specify a valid project ID or key"}}"#,
            ),
            (
                br#"{"fields":{"project":{"key":"QA"}}}"#,
                r#"{"errorMessages":[],"errors":{"issuetype":"Specify an issue type"}}"#,
            ),
        ] {
            let res = c.post_raw("/rest/api/3/issue", raw).await;
            assert_eq!(res.status, 400);
            assert_eq!(String::from_utf8(res.body).unwrap(), expected);
        }
        assert!(sim.issues().is_empty());
    }

    #[tokio::test]
    async fn issue_type_must_be_creatable_in_the_project() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let bug_id = sim.issue_type_id("QA", "Bug").unwrap();
        for issuetype in [
            json!({"id": bug_id}),
            json!({"name": "Bug"}),
            json!({"id": "99999"}),
        ] {
            let (status, body) = create(
                &c,
                json!({"fields": {"project": {"key": "OPS"},
                "issuetype": issuetype, "summary": "s"}}),
            )
            .await;
            assert_eq!(status, 400);
            assert_eq!(body["errors"]["issuetype"], "Specify a valid issue type");
        }
    }

    #[tokio::test]
    async fn checks_summary_limits() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, _) = create(&c, bug(json!({"summary": "é".repeat(255)}))).await;
        assert_eq!(status, 201);
        for (summary, message) in [
            (
                json!("x".repeat(256)),
                "Summary can't exceed 255 characters.",
            ),
            (
                json!("😀".repeat(128)),
                "Summary can't exceed 255 characters.",
            ),
            (json!("   "), "You must specify a summary of the issue."),
            (json!(null), "You must specify a summary of the issue."),
            (
                json!("two\nlines"),
                "The summary is invalid because it contains newline characters.",
            ),
        ] {
            let (status, body) = create(&c, bug(json!({ "summary": summary }))).await;
            assert_eq!(status, 400);
            assert_eq!(body["errors"]["summary"], message);
        }
    }

    #[tokio::test]
    async fn description_must_be_a_valid_short_document() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = create(&c, bug(json!({"description": "plain"}))).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"]["description"],
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        );
        let (_, body) = create(&c, bug(json!({"description": doc(&"x".repeat(32_768))}))).await;
        assert_eq!(
            body["errors"]["description"],
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
        );
        let (status, body) = create(&c, bug(json!({"description": doc("")}))).await;
        assert_eq!(status, 400);
        assert!(body["errorMessages"][0]
            .as_str()
            .unwrap()
            .starts_with("We can't create this issue"));
        let broken =
            json!({"version": 1, "type": "doc", "content": [{"type": "text", "text": "bare"}]});
        let (status, body) = create(&c, bug(json!({"description": broken}))).await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"errorMessages": ["INVALID_INPUT"], "errors": {}})
            )
        );
        assert!(sim.issues().is_empty());
    }

    #[tokio::test]
    async fn checks_labels() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let long = "l".repeat(256);
        for (labels, message) in [
            (json!(["ok", "x y"]), "The label 'x y' contains spaces which is invalid.".to_owned()),
            (json!(["tab\there"]), "The label 'tab\there' contains spaces which is invalid.".to_owned()),
            (json!([long]), format!("The label '{long}' exceeds the maximum length for a single label of 255 characters.")),
            (json!([""]), "A label cannot be empty.".to_owned()),
            (json!([1]), "Operation value must be a string".to_owned()),
            (json!("ok"), "Operation value must be an array".to_owned()),
        ] {
            let (status, body) = create(&c, bug(json!({ "labels": labels }))).await;
            assert_eq!(status, 400);
            assert_eq!(body["errors"]["labels"], Value::from(message));
        }
        let (status, _) = create(&c, bug(json!({"labels": ["l".repeat(255)]}))).await;
        assert_eq!(status, 201);
    }

    #[tokio::test]
    async fn assignee_must_be_active_and_assignable_in_the_project() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for (project, issuetype, account) in [
            ("QA", "Bug", "712020:dave"),   // inactive
            ("OPS", "Task", "712020:bob"),  // not assignable in OPS
            ("QA", "Bug", "712020:nobody"), // unknown
        ] {
            let (status, body) = create(
                &c,
                json!({"fields": {"project": {"key": project},
                "issuetype": {"name": issuetype}, "summary": "s",
                "assignee": {"accountId": account}}}),
            )
            .await;
            assert_eq!(status, 400, "{account}");
            assert_eq!(
                body["errors"]["assignee"],
                format!("User '{account}' cannot be assigned issues.")
            );
        }
        let (status, _) = create(
            &c,
            json!({"fields": {"project": {"key": "OPS"},
            "issuetype": {"name": "Incident"}, "summary": "s",
            "assignee": {"accountId": "712020:alice"}}}),
        )
        .await;
        assert_eq!(status, 201);
    }

    #[tokio::test]
    async fn reports_every_field_error_at_once() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = create(
            &c,
            bug(json!({"summary": "", "labels": ["a b"],
            "priority": {"name": "High"}})),
        )
        .await;
        assert_eq!(status, 400);
        let errors = errors(&body);
        assert_eq!(errors.len(), 3);
        assert_eq!(
            errors["priority"],
            "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
        );
        assert_eq!(body["errorMessages"], json!([]));
    }

    #[tokio::test]
    async fn get_issue_reads_current_data() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("first", &["t"]).await;
        let (status, issue) = c.get("/rest/api/3/issue/QA-1").await;
        assert_eq!(status, 200);
        assert_eq!(issue["key"], "QA-1");
        assert_eq!(issue["fields"]["summary"], "first");
        assert_eq!(issue["fields"]["project"]["key"], "QA");
        assert_eq!(issue["fields"]["issuetype"]["name"], "Bug");
        assert_eq!(issue["fields"]["assignee"], Value::Null);
        let (_, by_id) = c.get("/rest/api/3/issue/10000?fields=labels").await;
        assert_eq!(by_id["fields"], json!({"labels": ["t"]}));
        let (status, _) = c.get("/rest/api/3/issue/qa-1").await;
        assert_eq!(status, 200);
        for missing in ["QA-2", "NOPE-999999", "99999", "x"] {
            let (status, body) = c.get(&format!("/rest/api/3/issue/{missing}")).await;
            assert_eq!(status, 404);
            assert_eq!(
                body,
                json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
            );
        }
    }
}
