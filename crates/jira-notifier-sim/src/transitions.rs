//! `GET` and `POST /rest/api/3/issue/{issueIdOrKey}/transitions`: the transitions an issue
//! can take from its status, and taking one.
//!
//! Shapes follow the v3 spec: `getTransitions` answers `Transitions`
//! (`{"expand":"transitions","transitions":[IssueTransition]}`, as recorded in
//! `transitions_unknown_id.http`), each `IssueTransition` with `id`, `name`, `to` (a
//! `StatusDetails`), `hasScreen`, `isGlobal`, `isInitial`, `isAvailable`, `isConditional`,
//! and with `expand=transitions.fields` its screen's `fields` (`FieldMetadata` by field id).
//! `transitionId` narrows the list to one; an id the issue cannot take gives an empty list
//! (recorded). `doTransition` takes an `IssueUpdateDetails` (`transition.id`, `fields`,
//! `update`) and answers `204` with no body.
//!
//! Refusals, all `400` unless the issue is unknown (`404`, recorded):
//! - no transition id: `Missing 'transition' identifier` (recorded, `transition_missing.http`);
//! - an id not offered from the issue's status: `Transition id '{id}' is not valid for this
//!   issue.` (the text clients and other simulations quote; no recording);
//! - a field not on the transition's screen, `resolution` included: Jira's create-screen
//!   text `Field '{id}' cannot be set. It is not on the appropriate screen, or unknown.`
//!   (quoted for transitions in mozilla/jira-bugzilla-integration#1258);
//! - a required resolution left out: `{"errors":{"resolution":"Resolution is required."}}`
//!   (quoted from a real answer in gitlab-org/gitlab#26230);
//! - an unknown resolution: `Resolution name '{name}' is not valid` (the simulator's wording
//!   for every choice field; Jira's exact text is not known);
//! - a comment in `update.comment` that is not a document: as `POST /comment` refuses it.

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::comments;
use super::render;
use super::reply;
use super::resolutions;
use super::router::{Body, Ctx};
use super::workflow::{ResolutionField, WorkflowTransition};
use super::world::JiraData;
use jira_notifier::HttpResponse;

const NOT_ON_SCREEN: &str = "cannot be set. It is not on the appropriate screen, or unknown.";

fn not_on_screen(field: &str) -> String {
    format!("Field '{field}' {NOT_ON_SCREEN}")
}

fn may_transition(jira: &JiraData, index: usize) -> bool {
    jira.issues
        .get(index)
        .and_then(|i| jira.projects.get(i.project))
        .is_some_and(|p| p.granted.contains("TRANSITION_ISSUES"))
}

/// The transitions an issue can take now, in workflow order.
fn available(jira: &JiraData, index: usize) -> Vec<&WorkflowTransition> {
    let Some(issue) = jira.issues.get(index) else {
        return Vec::new();
    };
    let Some(project) = jira.projects.get(issue.project) else {
        return Vec::new();
    };
    project
        .workflow
        .available(&issue.state().status.name)
        .collect()
}

/// A screen's fields as `FieldMetadata`, by field id.
fn screen_fields(t: &WorkflowTransition, jira: &JiraData, ctx: &Ctx<'_>) -> Value {
    let mut fields = Map::new();
    let required = match t.resolution_field() {
        ResolutionField::Absent => return Value::Object(fields),
        ResolutionField::Optional => false,
        ResolutionField::Required => true,
    };
    let allowed: Vec<Value> = jira
        .resolutions
        .iter()
        .map(|r| resolutions::render(r, ctx))
        .collect();
    fields.insert(
        "resolution".to_owned(),
        json!({
            "required": required,
            "schema": {"type": "resolution", "system": "resolution"},
            "name": "Resolution",
            "key": "resolution",
            "hasDefaultValue": false,
            "operations": ["set"],
            "allowedValues": allowed,
        }),
    );
    Value::Object(fields)
}

fn render_transition(
    t: &WorkflowTransition,
    jira: &JiraData,
    with_fields: bool,
    ctx: &Ctx<'_>,
) -> Option<Value> {
    let to = jira.status_named(t.to())?;
    let mut value = json!({
        "id": t.id(),
        "name": t.name(),
        "to": render::status(&to, ctx),
        "hasScreen": t.has_screen(),
        "isGlobal": t.is_global(),
        // The create transition is never offered on an existing issue.
        "isInitial": false,
        "isAvailable": true,
        "isConditional": false,
    });
    if with_fields {
        value["fields"] = screen_fields(t, jira, ctx);
    }
    Some(value)
}

/// The transitions an issue can take, as the list and `GET /issue?expand=transitions`
/// show them; none without the Transition Issues permission, as the spec says.
pub(crate) fn rendered(
    jira: &JiraData,
    index: usize,
    with_fields: bool,
    only: Option<&str>,
    ctx: &Ctx<'_>,
) -> Vec<Value> {
    if !may_transition(jira, index) {
        return Vec::new();
    }
    available(jira, index)
        .into_iter()
        .filter(|t| only.is_none_or(|id| t.id() == id))
        .filter_map(|t| render_transition(t, jira, with_fields, ctx))
        .collect()
}

/// Whether an `expand` list asks for the transitions' screen fields.
pub(crate) fn expands_fields(ctx: &Ctx<'_>) -> bool {
    expand_items(ctx).any(|e| e == "transitions.fields")
}

/// The items of every `expand` parameter.
pub(crate) fn expand_items(ctx: &Ctx<'_>) -> impl Iterator<Item = String> {
    ctx.params("expand")
        .into_iter()
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
}

pub(crate) fn list(jira: &JiraData, ctx: &Ctx<'_>, id_or_key: &str) -> HttpResponse {
    let Some(index) = jira.issue_index(id_or_key) else {
        return reply::issue_not_found();
    };
    let only = ctx.param("transitionId");
    let transitions = rendered(jira, index, expands_fields(ctx), only.as_deref(), ctx);
    reply::jira(
        200,
        &json!({"expand": "transitions", "transitions": transitions}),
    )
}

/// A resolution as a request names it: `{"id"}` (string or number) or `{"name"}`.
fn resolution_of(jira: &JiraData, value: &Value) -> Result<usize, String> {
    let reference = value.as_object();
    let text = |key: &str| match reference.and_then(|r| r.get(key)) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(id) = text("id") {
        return jira
            .resolutions
            .iter()
            .position(|r| r.id == id)
            .ok_or(format!("Resolution id '{id}' is not valid"));
    }
    if let Some(name) = text("name") {
        return jira
            .resolutions
            .iter()
            .position(|r| r.name == name)
            .ok_or(format!("Resolution name '{name}' is not valid"));
    }
    Err("Specify a valid 'id' or 'name' for Resolution".to_owned())
}

/// The resolution a transition ends with, given what the request asked for: the screen's
/// value, else what a post function sets. Problems go into `errors` under `resolution`.
fn resolution_after(
    jira: &JiraData,
    t: &WorkflowTransition,
    asked: Option<&Value>,
    errors: &mut Map<String, Value>,
) -> Option<usize> {
    let mut note = |message: String| {
        errors.insert("resolution".to_owned(), Value::from(message));
    };
    let post_function = || {
        t.sets_resolution
            .as_deref()
            .and_then(|n| jira.resolution_index(n))
    };
    match (t.resolution_field(), asked.filter(|v| !v.is_null())) {
        (ResolutionField::Absent, Some(_)) => {
            note(not_on_screen("resolution"));
            None
        }
        (ResolutionField::Required, None) => {
            note("Resolution is required.".to_owned());
            None
        }
        (ResolutionField::Absent | ResolutionField::Optional, None) => post_function(),
        (_, Some(value)) => match resolution_of(jira, value) {
            Ok(index) => Some(index),
            Err(message) => {
                note(message);
                None
            }
        },
    }
}

/// Takes a transition once everything is checked: the new status and resolution, and the
/// comments, at one instant.
fn take(
    jira: &mut JiraData,
    index: usize,
    to: &str,
    resolution: Option<usize>,
    comments: Vec<Value>,
    now: Instant,
) -> bool {
    let Some(status) = jira.status_named(to) else {
        return false;
    };
    if !jira.change_state(index, status, resolution, now) {
        return false;
    }
    for body in comments {
        jira.add_comment(index, body, now);
    }
    true
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/transitions`.
pub(crate) fn perform(
    jira: &mut JiraData,
    ctx: &Ctx<'_>,
    id_or_key: &str,
    body: &Body,
) -> HttpResponse {
    let Some(index) = jira.issue_index(id_or_key) else {
        return reply::issue_not_found();
    };
    let empty = Value::Object(Map::new());
    let value = match body {
        // Nothing to read is, to Jira's bean, a request without a transition.
        Body::Empty => &empty,
        Body::Invalid => return reply::json_parse_error(),
        Body::Json(value) => value,
    };
    let Some(top) = value.as_object() else {
        return reply::invalid_payload();
    };
    let object = |name: &str| match top.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(reply::invalid_payload()),
    };
    let (fields, update) = match (object("fields"), object("update")) {
        (Ok(f), Ok(u)) => (f, u),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    let transition_id = match top.get("transition").and_then(|t| t.get("id")) {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return reply::bad_request("Missing 'transition' identifier"),
    };
    if !may_transition(jira, index) {
        // The spec's 400 "the user does not have permission"; the wording is the simulator's.
        return reply::bad_request("You do not have permission to transition this issue.");
    }
    let Some(transition) = available(jira, index)
        .into_iter()
        .find(|t| t.id() == transition_id)
        .cloned()
    else {
        return reply::bad_request(format!(
            "Transition id '{transition_id}' is not valid for this issue."
        ));
    };
    let mut errors = Map::new();
    for name in fields.keys().filter(|k| *k != "resolution") {
        errors.insert(name.clone(), Value::from(not_on_screen(name)));
    }
    let mut comment_docs = Vec::new();
    for (name, operations) in &update {
        let Some(operations) = operations.as_array() else {
            return reply::invalid_payload();
        };
        if fields.contains_key(name) {
            errors.insert(
                name.clone(),
                Value::from(format!(
                    "Field '{name}' cannot be set in both 'fields' and 'update'."
                )),
            );
            continue;
        }
        if name != "comment" {
            errors.insert(name.clone(), Value::from(not_on_screen(name)));
            continue;
        }
        for operation in operations {
            match operation.get("add") {
                Some(add) => comment_docs.push(add.get("body").cloned()),
                None => {
                    errors.insert(
                        "comment".to_owned(),
                        Value::from("A transition can only add comments."),
                    );
                }
            }
        }
    }
    let resolution = resolution_after(jira, &transition, fields.get("resolution"), &mut errors);
    if !errors.is_empty() {
        return reply::field_errors(errors);
    }
    let mut checked = Vec::new();
    if !comment_docs.is_empty() {
        let may = jira
            .issues
            .get(index)
            .is_some_and(|i| comments::may_comment(jira, i));
        if !may {
            return reply::bad_request("You do not have the permission to comment on this issue.");
        }
        for doc in &comment_docs {
            match comments::check_body(doc.as_ref()) {
                Ok(doc) => checked.push(doc.clone()),
                Err(refused) => return refused,
            }
        }
    }
    if take(jira, index, transition.to(), resolution, checked, ctx.now) {
        HttpResponse::new(204, Vec::new())
    } else {
        reply::issue_not_found()
    }
}

/// A person moves an issue to a status (by name): through the first transition offered
/// from its status that leads there, obeying its screen, or, when none does, directly as
/// an admin would. `resolution` names one of the site's resolutions.
pub(crate) fn by_person(
    jira: &mut JiraData,
    index: usize,
    status_name: &str,
    resolution: Option<&str>,
    now: Instant,
) -> Result<(), String> {
    let through = available(jira, index)
        .into_iter()
        .find(|t| t.to().eq_ignore_ascii_case(status_name))
        .cloned();
    if let Some(t) = through {
        let asked = resolution.map(|name| json!({ "name": name }));
        let mut errors = Map::new();
        let resolved = resolution_after(jira, &t, asked.as_ref(), &mut errors);
        if !errors.is_empty() {
            let messages: Vec<&str> = errors.values().filter_map(Value::as_str).collect();
            return Err(messages.join(" "));
        }
        return if take(jira, index, t.to(), resolved, Vec::new(), now) {
            Ok(())
        } else {
            Err("The issue does not exist.".to_owned())
        };
    }
    let workflow_status = jira
        .issues
        .get(index)
        .and_then(|i| jira.projects.get(i.project))
        .and_then(|p| p.workflow.status_named(status_name))
        .map(|(name, _)| name.to_owned());
    let Some(status) = workflow_status
        .or_else(|| Some(status_name.to_owned()))
        .and_then(|name| jira.status_named(&name))
    else {
        return Err(format!("Status '{status_name}' does not exist."));
    };
    let resolved = match resolution {
        None => None,
        Some(name) => match jira.resolution_index(name) {
            Some(_) if status.category != super::model::StatusCategory::Done => {
                return Err(format!(
                    "Status '{}' is not in the Done category: it cannot have a resolution.",
                    status.name
                ))
            }
            Some(index) => Some(index),
            None => return Err(format!("Resolution '{name}' does not exist.")),
        },
    };
    if jira.change_state(index, status, resolved, now) {
        Ok(())
    } else {
        Err("The issue does not exist.".to_owned())
    }
}
