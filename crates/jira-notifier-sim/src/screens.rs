//! Create screens per project and issue type, the service account's project
//! permissions, and what goes with them: `createmeta` field pages, `mypermissions`, the
//! bulk user lookup, comments, and checking a create's fields against the screen.
//!
//! Messages marked "(as Jira)" are Jira Cloud's own texts; the others follow Jira's style
//! where no recording exists.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::adf::{self, AdfError};
use super::comments;
use super::render;
use super::reply;
use super::router::{Body, Ctx};
use super::world::{JiraData, Project};
use jira_notifier::HttpResponse;

/// The largest `maxResults` createmeta accepts (its spec: more is a 400).
pub(crate) const CREATEMETA_PAGE_MAX: i64 = 200;
const DEFAULT_PAGE: i64 = 50;
const CUSTOM: &str = "com.atlassian.jira.plugin.system.customfieldtypes:";

/// Jira's project permissions the simulator knows, with their ids and names.
pub(crate) const PERMISSIONS: &[(&str, &str, &str)] = &[
    ("ADD_COMMENTS", "15", "Add Comments"),
    ("ADMINISTER_PROJECTS", "23", "Administer Projects"),
    ("ASSIGN_ISSUES", "13", "Assign Issues"),
    ("ASSIGNABLE_USER", "17", "Assignable User"),
    ("BROWSE_PROJECTS", "10", "Browse Projects"),
    ("CLOSE_ISSUES", "18", "Close Issues"),
    ("CREATE_ATTACHMENTS", "19", "Create Attachments"),
    ("CREATE_ISSUES", "11", "Create Issues"),
    ("DELETE_ISSUES", "16", "Delete Issues"),
    ("EDIT_ISSUES", "12", "Edit Issues"),
    ("LINK_ISSUES", "21", "Link Issues"),
    ("MODIFY_REPORTER", "30", "Modify Reporter"),
    ("MOVE_ISSUES", "25", "Move Issues"),
    ("RESOLVE_ISSUES", "14", "Resolve Issues"),
    ("SCHEDULE_ISSUES", "28", "Schedule Issues"),
    ("TRANSITION_ISSUES", "46", "Transition Issues"),
    ("WORK_ON_ISSUES", "20", "Work On Issues"),
];

/// Every permission, as a new project grants the service account.
pub(crate) fn all_permissions() -> BTreeSet<String> {
    PERMISSIONS
        .iter()
        .map(|(k, _, _)| (*k).to_owned())
        .collect()
}

/// A field on a simulated create screen.
///
/// Build one with the constructors ([`SimField::select`], [`SimField::components`], …),
/// then [`required`](Self::required) and [`with_default`](Self::with_default); put it on
/// a screen with [`SimJira::put_screen_field`](crate::SimJira::put_screen_field).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimField {
    /// The field id (`components`, `customfield_10100`).
    pub id: String,
    /// The name shown to people, used in Jira's "… is required." error.
    pub name: String,
    /// Whether a create must give the field a value (unless it has a default).
    pub required: bool,
    /// The value stored when a create leaves the field out (createmeta's `defaultValue`;
    /// `hasDefaultValue` is true when set).
    pub default: Option<Value>,
    /// Jira's schema object (`type`, `items`, `system`, `custom`, `customId`).
    pub schema: Value,
    /// The allowed values as createmeta lists them (`{"id","name"}`, or `{"id","value"}`
    /// for options); `None` when Jira lists none.
    pub allowed_values: Option<Vec<Value>>,
}

impl SimField {
    fn new(id: &str, name: &str, schema: Value) -> SimField {
        SimField {
            id: id.to_owned(),
            name: name.to_owned(),
            required: false,
            default: None,
            schema,
            allowed_values: None,
        }
    }

    fn system(id: &str, name: &str, kind: &str, items: Option<&str>) -> SimField {
        let mut schema = json!({"type": kind, "system": id});
        if let Some(items) = items {
            schema["items"] = Value::from(items);
        }
        SimField::new(id, name, schema)
    }

    fn custom(id: &str, name: &str, kind: &str, items: Option<&str>, custom: &str) -> SimField {
        let custom_id = id
            .strip_prefix("customfield_")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let mut schema =
            json!({"type": kind, "custom": format!("{CUSTOM}{custom}"), "customId": custom_id});
        if let Some(items) = items {
            schema["items"] = Value::from(items);
        }
        SimField::new(id, name, schema)
    }

    /// The project (required; its allowed value is the project itself).
    pub fn project() -> SimField {
        SimField::system("project", "Project", "project", None).required()
    }
    /// The issue type (required; its allowed value is the issue type itself).
    pub fn issue_type() -> SimField {
        SimField::system("issuetype", "Issue Type", "issuetype", None).required()
    }
    /// Summary (required).
    pub fn summary() -> SimField {
        SimField::system("summary", "Summary", "string", None).required()
    }
    /// Description (rich text).
    pub fn description() -> SimField {
        SimField::system("description", "Description", "string", None)
    }
    /// Labels.
    pub fn labels() -> SimField {
        SimField::system("labels", "Labels", "array", Some("string"))
    }
    /// Assignee.
    pub fn assignee() -> SimField {
        SimField::system("assignee", "Assignee", "user", None)
    }
    /// Reporter (required, defaulting to the caller, as Jira's usual screens have it).
    pub fn reporter() -> SimField {
        SimField::system("reporter", "Reporter", "user", None)
            .required()
            .with_default(json!({"accountId": crate::world::SERVICE_ACCOUNT_ID}))
    }
    /// Environment (rich text).
    pub fn environment() -> SimField {
        SimField::system("environment", "Environment", "string", None)
    }
    /// Due date.
    pub fn due_date() -> SimField {
        SimField::system("duedate", "Due date", "date", None)
    }
    /// Priority, with its values `(id, name)`.
    pub fn priority(values: &[(&str, &str)]) -> SimField {
        SimField::system("priority", "Priority", "priority", None).allowing(values, "name")
    }
    /// Components (`Component/s`), with the project's components `(id, name)`.
    pub fn components(values: &[(&str, &str)]) -> SimField {
        SimField::system("components", "Component/s", "array", Some("component"))
            .allowing(values, "name")
    }
    /// Fix versions (`Fix Version/s`), with the project's versions `(id, name)`.
    pub fn fix_versions(values: &[(&str, &str)]) -> SimField {
        SimField::system("fixVersions", "Fix Version/s", "array", Some("version"))
            .allowing(values, "name")
    }
    /// A select list (one option) with its options `(id, value)`.
    pub fn select(id: &str, name: &str, options: &[(&str, &str)]) -> SimField {
        SimField::custom(id, name, "option", None, "select").allowing(options, "value")
    }
    /// A multi-select list with its options `(id, value)`.
    pub fn multi_select(id: &str, name: &str, options: &[(&str, &str)]) -> SimField {
        SimField::custom(id, name, "array", Some("option"), "multiselect")
            .allowing(options, "value")
    }
    /// A one-line text field (at most 255 characters).
    pub fn text(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "string", None, "textfield")
    }
    /// A multi-line text field (rich text: an ADF document).
    pub fn text_area(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "string", None, "textarea")
    }
    /// A number field.
    pub fn number(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "number", None, "float")
    }
    /// A date picker.
    pub fn date(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "date", None, "datepicker")
    }
    /// A date-time picker.
    pub fn date_time(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "datetime", None, "datetime")
    }
    /// A user picker.
    pub fn user(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "user", None, "userpicker")
    }
    /// A multi-user picker.
    pub fn users(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "array", Some("user"), "multiuserpicker")
    }
    /// A labels custom field.
    pub fn label_list(id: &str, name: &str) -> SimField {
        SimField::custom(id, name, "array", Some("string"), "labels")
    }
    /// A cascading select (parent and child options), a kind the crate cannot set, with
    /// its parent options `(id, value)`.
    pub fn cascading(id: &str, name: &str, options: &[(&str, &str)]) -> SimField {
        SimField::custom(id, name, "option-with-child", None, "cascadingselect")
            .allowing(options, "value")
    }

    /// The field made required.
    pub fn required(mut self) -> SimField {
        self.required = true;
        self
    }

    /// The field made optional.
    pub fn optional(mut self) -> SimField {
        self.required = false;
        self
    }

    /// The field with a default value, stored when a create leaves it out.
    pub fn with_default(mut self, value: Value) -> SimField {
        self.default = Some(value);
        self
    }

    fn allowing(mut self, values: &[(&str, &str)], name_key: &str) -> SimField {
        self.allowed_values = Some(
            values
                .iter()
                .map(|(id, name)| {
                    let mut v = Map::new();
                    v.insert("id".into(), Value::from(*id));
                    v.insert(name_key.into(), Value::from(*name));
                    Value::Object(v)
                })
                .collect(),
        );
        self
    }

    /// The kind of value, from the schema.
    fn kind(&self) -> Kind {
        let text = |name: &str| self.schema.get(name).and_then(Value::as_str).unwrap_or("");
        let (kind, items, system, custom) =
            (text("type"), text("items"), text("system"), text("custom"));
        match (kind, items) {
            ("string", _)
                if system == "description"
                    || system == "environment"
                    || custom.ends_with(":textarea") =>
            {
                Kind::RichText
            }
            ("string", _) => Kind::Text,
            ("number", _) => Kind::Number,
            ("date", _) => Kind::Date,
            ("datetime", _) => Kind::DateTime,
            ("option", _) => Kind::Option,
            ("array", "option") => Kind::Many(Box::new(Kind::Option)),
            ("user", _) => Kind::User,
            ("array", "user") => Kind::Many(Box::new(Kind::User)),
            ("priority", _) => Kind::Priority,
            ("component", _) => Kind::Component,
            ("array", "component") => Kind::Many(Box::new(Kind::Component)),
            ("version", _) => Kind::Version,
            ("array", "version") => Kind::Many(Box::new(Kind::Version)),
            ("array", "string") => Kind::Many(Box::new(Kind::Label)),
            ("option-with-child", _) => Kind::Option,
            _ => Kind::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text,
    RichText,
    Number,
    Date,
    DateTime,
    Option,
    User,
    Priority,
    Component,
    Version,
    Label,
    Many(Box<Kind>),
    Unknown,
}

/// The screen every new project gets for each issue type: what the simulator has always
/// accepted on a create.
pub(crate) fn default_screen() -> Vec<SimField> {
    vec![
        SimField::project(),
        SimField::issue_type(),
        SimField::summary(),
        SimField::description(),
        SimField::labels(),
        SimField::assignee(),
    ]
}

/// Projects configured the way companies configure them, for testing what a host does
/// with them; add one with [`SimJira::add_screen_project`](crate::SimJira::add_screen_project).
/// Each has the issue types Bug and Task, with the same screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScreenKind {
    /// `NOLABELS`: the create screen has no Labels.
    NoLabels,
    /// `NODESC`: the create screen has no Description.
    NoDescription,
    /// `REQUIRED`: a required select list "Team" (`customfield_10100`: Red, Blue) and
    /// required Component/s (Backend, Frontend), neither with a default; Priority with a
    /// default (Medium) and Fix Version/s (1.0, 2.0), optional.
    RequiredFields,
    /// `NOASSIGNEE`: the create screen has no Assignee.
    NoAssignee,
    /// `NOASSIGN`: the screen has everything, but the service account lacks the
    /// `ASSIGN_ISSUES` permission.
    NoAssignPermission,
    /// `FIELDS`: every kind of field, all optional: priority, components, fix versions,
    /// environment, due date, and custom fields of each kind (see
    /// [`SimJira::add_screen_project`](crate::SimJira::add_screen_project)).
    EveryFieldKind,
}

impl ScreenKind {
    /// Every kind.
    pub const ALL: [ScreenKind; 6] = [
        ScreenKind::NoLabels,
        ScreenKind::NoDescription,
        ScreenKind::RequiredFields,
        ScreenKind::NoAssignee,
        ScreenKind::NoAssignPermission,
        ScreenKind::EveryFieldKind,
    ];

    /// The project key.
    pub const fn key(self) -> &'static str {
        match self {
            ScreenKind::NoLabels => "NOLABELS",
            ScreenKind::NoDescription => "NODESC",
            ScreenKind::RequiredFields => "REQUIRED",
            ScreenKind::NoAssignee => "NOASSIGNEE",
            ScreenKind::NoAssignPermission => "NOASSIGN",
            ScreenKind::EveryFieldKind => "FIELDS",
        }
    }

    /// The project name.
    pub const fn name(self) -> &'static str {
        match self {
            ScreenKind::NoLabels => "Screen without Labels",
            ScreenKind::NoDescription => "Screen without Description",
            ScreenKind::RequiredFields => "Required fields",
            ScreenKind::NoAssignee => "Screen without Assignee",
            ScreenKind::NoAssignPermission => "No Assign Issues permission",
            ScreenKind::EveryFieldKind => "Every kind of field",
        }
    }

    pub(crate) fn screen(self) -> Vec<SimField> {
        let without = |id: &str| {
            let mut s = default_screen();
            s.retain(|f| f.id != id);
            s
        };
        match self {
            ScreenKind::NoLabels => without("labels"),
            ScreenKind::NoDescription => without("description"),
            ScreenKind::NoAssignee => without("assignee"),
            ScreenKind::NoAssignPermission => default_screen(),
            ScreenKind::RequiredFields => {
                let mut s = default_screen();
                s.push(SimField::reporter());
                s.push(priority().with_default(json!({"id": "3", "name": "Medium"})));
                s.push(
                    SimField::select(
                        "customfield_10100",
                        "Team",
                        &[("10200", "Red"), ("10201", "Blue")],
                    )
                    .required(),
                );
                s.push(
                    SimField::components(&[("10300", "Backend"), ("10301", "Frontend")]).required(),
                );
                s.push(SimField::fix_versions(&[
                    ("10400", "1.0"),
                    ("10401", "2.0"),
                ]));
                s
            }
            ScreenKind::EveryFieldKind => {
                let mut s = default_screen();
                s.push(SimField::reporter());
                s.push(priority().with_default(json!({"id": "3", "name": "Medium"})));
                s.push(SimField::components(&[("10310", "API"), ("10311", "Web")]));
                s.push(SimField::fix_versions(&[
                    ("10410", "1.0"),
                    ("10411", "1.1"),
                ]));
                s.push(SimField::environment());
                s.push(SimField::due_date());
                s.push(SimField::number("customfield_10110", "Story Points"));
                s.push(SimField::select(
                    "customfield_10111",
                    "Severity",
                    &[
                        ("10210", "Minor"),
                        ("10211", "Major"),
                        ("10212", "Critical"),
                    ],
                ));
                s.push(SimField::multi_select(
                    "customfield_10112",
                    "Platforms",
                    &[("10220", "Linux"), ("10221", "macOS"), ("10222", "Windows")],
                ));
                s.push(SimField::user("customfield_10113", "Reviewer"));
                s.push(SimField::users("customfield_10114", "Watchers list"));
                s.push(SimField::label_list("customfield_10115", "Tags"));
                s.push(SimField::text("customfield_10116", "Found in build"));
                s.push(SimField::text_area("customfield_10117", "Steps"));
                s.push(SimField::date_time("customfield_10118", "Found at"));
                s.push(SimField::cascading(
                    "customfield_10119",
                    "Area",
                    &[("10230", "Backend"), ("10231", "Frontend")],
                ));
                s
            }
        }
    }
}

/// Jira's five default priorities.
fn priority() -> SimField {
    SimField::priority(&[
        ("1", "Highest"),
        ("2", "High"),
        ("3", "Medium"),
        ("4", "Low"),
        ("5", "Lowest"),
    ])
}

/// A field as createmeta lists it.
fn render_field(
    field: &SimField,
    project: &Project,
    jira: &JiraData,
    ctx: &Ctx<'_>,
    issue_type_id: &str,
) -> Value {
    let operations: &[&str] = match field.kind() {
        Kind::Many(_) => &["add", "set", "remove"],
        _ => &["set"],
    };
    let mut value = json!({
        "required": field.required,
        "schema": field.schema,
        "name": field.name,
        "key": field.id,
        "fieldId": field.id,
        "hasDefaultValue": field.default.is_some(),
        "operations": operations,
    });
    let allowed = match field.id.as_str() {
        "project" => Some(vec![render::project(project, jira, ctx, false)]),
        "issuetype" => jira
            .issue_type(issue_type_id)
            .map(|t| vec![render::issue_type(t, ctx)]),
        _ => field.allowed_values.clone(),
    };
    if let Some(allowed) = allowed {
        value["allowedValues"] = Value::Array(allowed);
    }
    if let Some(default) = &field.default {
        value["defaultValue"] = default.clone();
    }
    if matches!(field.kind(), Kind::User | Kind::Many(_))
        && field.id != "fixVersions"
        && field.id != "components"
    {
        value["autoCompleteUrl"] = Value::from(format!(
            "{}/rest/api/1.0/users/picker?fieldName={}&query=",
            ctx.base, field.id
        ));
    }
    value
}

/// Reads a paging parameter.
fn paging(ctx: &Ctx<'_>, name: &str, default: i64, min: i64) -> Result<i64, HttpResponse> {
    let Some(raw) = ctx.param(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<i32>() {
        Ok(n) if i64::from(n) >= min => Ok(i64::from(n)),
        _ => Err(reply::bad_request(format!(
            "The value '{raw}' is not valid for the parameter '{name}'."
        ))),
    }
}

/// createmeta's own limit on `maxResults` (as its spec's example answer).
pub(crate) fn createmeta_page(ctx: &Ctx<'_>) -> Result<(i64, i64), HttpResponse> {
    let start_at = paging(ctx, "startAt", 0, 0)?;
    let max_results = paging(ctx, "maxResults", DEFAULT_PAGE, 1)?;
    if max_results > CREATEMETA_PAGE_MAX {
        return Err(reply::bad_request(format!(
            "Parameter 'maxResults' must not exceed the limit '{CREATEMETA_PAGE_MAX}'"
        )));
    }
    Ok((start_at, max_results))
}

/// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}`.
pub(crate) fn create_fields(
    jira: &JiraData,
    ctx: &Ctx<'_>,
    id_or_key: &str,
    issue_type_id: &str,
) -> HttpResponse {
    let Some(project) = jira
        .project_index(id_or_key)
        .and_then(|i| jira.projects.get(i))
    else {
        return reply::project_not_found(id_or_key);
    };
    let (start_at, max_results) = match createmeta_page(ctx) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let screen = project
        .granted
        .contains("CREATE_ISSUES")
        .then(|| project.screens.get(issue_type_id))
        .flatten();
    let Some(screen) = screen else {
        return reply::jira_errors(
            404,
            &[format!(
                "Issue type with id '{issue_type_id}' does not exist or cannot be created in project '{}'.",
                project.key
            )],
        );
    };
    let start = usize::try_from(start_at)
        .unwrap_or(usize::MAX)
        .min(screen.len());
    let end = start
        .saturating_add(usize::try_from(max_results).unwrap_or(0))
        .min(screen.len());
    let page: Vec<Value> = screen[start..end]
        .iter()
        .map(|f| render_field(f, project, jira, ctx, issue_type_id))
        .collect();
    reply::jira(
        200,
        &json!({
            "startAt": start_at,
            "maxResults": max_results,
            "total": screen.len(),
            "fields": page,
        }),
    )
}

/// `GET /rest/api/3/mypermissions?projectKey|projectId&permissions`.
pub(crate) fn my_permissions(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let asked: Vec<String> = ctx
        .params("permissions")
        .iter()
        .flat_map(|p| p.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if asked.is_empty() {
        return reply::bad_request("The 'permissions' query parameter is required.");
    }
    let unknown: Vec<&str> = asked
        .iter()
        .filter(|p| !PERMISSIONS.iter().any(|(k, _, _)| k == p))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return reply::bad_request(format!(
            "Unrecognized permission key(s): {}",
            unknown.join(", ")
        ));
    }
    let project = match ctx.param("projectId").or_else(|| ctx.param("projectKey")) {
        Some(id_or_key) => match jira
            .project_index(&id_or_key)
            .and_then(|i| jira.projects.get(i))
        {
            Some(p) if p.granted.contains("BROWSE_PROJECTS") => Some(p),
            _ => return reply::project_not_found(&id_or_key),
        },
        None => None,
    };
    let mut permissions = Map::new();
    for (key, id, name) in PERMISSIONS
        .iter()
        .filter(|(k, _, _)| asked.iter().any(|a| a == k))
    {
        let have = match project {
            Some(p) => p.granted.contains(*key),
            // The global context: granted in any project.
            None => jira.projects.iter().any(|p| p.granted.contains(*key)),
        };
        permissions.insert(
            (*key).to_owned(),
            json!({
                "id": id,
                "key": key,
                "name": name,
                "type": "PROJECT",
                "description": format!("Ability to {}.", name.to_lowercase()),
                "havePermission": have,
            }),
        );
    }
    reply::jira(200, &json!({ "permissions": permissions }))
}

/// `GET /rest/api/3/user/bulk?accountId…&startAt&maxResults`.
pub(crate) fn users_bulk(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let ids = ctx.params("accountId");
    if ids.is_empty() {
        return reply::bad_request("At least one 'accountId' must be provided.");
    }
    let start_at = match paging(ctx, "startAt", 0, 0) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let max_results = match paging(ctx, "maxResults", 10, 1) {
        Ok(n) => n.min(200),
        Err(answer) => return answer,
    };
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|id| jira.user(id))
        .map(|u| render::user(u, ctx))
        .collect();
    let start = usize::try_from(start_at)
        .unwrap_or(usize::MAX)
        .min(found.len());
    let end = start
        .saturating_add(usize::try_from(max_results).unwrap_or(0))
        .min(found.len());
    reply::jira(
        200,
        &json!({
            "self": ctx.url(),
            "startAt": start_at,
            "maxResults": max_results,
            "total": found.len(),
            "isLast": end >= found.len(),
            "values": &found[start..end],
        }),
    )
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/comment`: the body must be an ADF document.
pub(crate) fn add_comment(
    jira: &mut JiraData,
    ctx: &Ctx<'_>,
    id_or_key: &str,
    body: &Body,
) -> HttpResponse {
    let Some(index) = jira.issue_index(id_or_key) else {
        return reply::issue_not_found();
    };
    let value = match body {
        Body::Empty => return reply::bad_request("No comment payload supplied"),
        Body::Invalid => return reply::json_parse_error(),
        Body::Json(value) => value,
    };
    let Some(top) = value.as_object() else {
        return reply::invalid_payload();
    };
    let may = jira
        .issues
        .get(index)
        .is_some_and(|issue| comments::may_comment(jira, issue));
    if !may {
        return reply::bad_request("You do not have the permission to comment on this issue.");
    }
    let doc = match comments::check_body(top.get("body")) {
        Ok(doc) => doc.clone(),
        Err(refused) => return refused,
    };
    let Some(comment) = jira.add_comment(index, doc, ctx.now) else {
        return reply::issue_not_found();
    };
    match jira.issues.get(index) {
        Some(issue) => reply::jira(201, &comments::render(&comment, issue, jira, ctx)),
        None => reply::issue_not_found(),
    }
}

/// What a create's screen fields came to: the values to store, or the field errors.
pub(crate) struct Checked {
    /// Values of the fields other than the six the create handles itself, with defaults
    /// filled in.
    pub(crate) fields: BTreeMap<String, Value>,
}

/// The fields `create` handles itself.
pub(crate) const CORE: [&str; 6] = [
    "project",
    "issuetype",
    "summary",
    "description",
    "labels",
    "assignee",
];

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// Checks a create's fields against the screen: fields not on it, required fields left
/// empty, and the values of the fields beyond the six core ones. Errors go into `errors`.
pub(crate) fn check_create(
    jira: &JiraData,
    project: usize,
    issue_type_id: &str,
    fields: &Map<String, Value>,
    errors: &mut Map<String, Value>,
) -> Checked {
    let mut checked = Checked {
        fields: BTreeMap::new(),
    };
    let Some(p) = jira.projects.get(project) else {
        return checked;
    };
    let screen = p.screens.get(issue_type_id).map_or(&[][..], Vec::as_slice);
    for name in fields.keys() {
        if !screen.iter().any(|f| &f.id == name) {
            // (as Jira)
            errors.insert(
                name.clone(),
                Value::from(format!(
                    "Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                )),
            );
        }
    }
    for field in screen {
        let given = fields.get(&field.id);
        if is_empty(given) {
            if field.required && field.default.is_none() && field.id != "summary" {
                // (as Jira: "Component/s is required.")
                errors.insert(
                    field.id.clone(),
                    Value::from(format!("{} is required.", field.name)),
                );
            } else if let Some(default) = &field.default {
                if !CORE.contains(&field.id.as_str()) {
                    checked.fields.insert(field.id.clone(), default.clone());
                }
            }
            continue;
        }
        if CORE.contains(&field.id.as_str()) {
            continue;
        }
        let Some(given) = given else { continue };
        match check_value(jira, field, &field.kind(), given) {
            Ok(()) => {
                checked.fields.insert(field.id.clone(), given.clone());
            }
            Err(message) => {
                errors.insert(field.id.clone(), Value::from(message));
            }
        }
    }
    checked
}

/// An `{"id"}` or `{"name"|"value"}` reference to one of the allowed values.
fn check_choice(field: &SimField, value: &Value, what: &str) -> Result<(), String> {
    let allowed = field.allowed_values.as_deref().unwrap_or(&[]);
    let Some(reference) = value.as_object() else {
        return Err(format!("Specify a valid 'id' or 'name' for {}", field.name));
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(id) = reference.get("id").and_then(text) {
        return if allowed
            .iter()
            .any(|a| a.get("id").and_then(text).as_deref() == Some(&id))
        {
            Ok(())
        } else {
            Err(format!("{what} id '{id}' is not valid"))
        };
    }
    for key in ["name", "value"] {
        if let Some(name) = reference.get(key).and_then(Value::as_str) {
            let known = allowed.iter().any(|a| {
                a.get("name").and_then(Value::as_str) == Some(name)
                    || a.get("value").and_then(Value::as_str) == Some(name)
            });
            return if known {
                Ok(())
            } else {
                Err(format!("{what} {key} '{name}' is not valid"))
            };
        }
    }
    Err(format!("Specify a valid 'id' or 'name' for {}", field.name))
}

fn check_value(
    jira: &JiraData,
    field: &SimField,
    kind: &Kind,
    value: &Value,
) -> Result<(), String> {
    match kind {
        Kind::Text => {
            let s = value
                .as_str()
                .ok_or_else(|| "Operation value must be a string".to_owned())?;
            if s.encode_utf16().count() > 255 {
                return Err(
                    "The entered text is too long. It exceeds the allowed limit of 255 characters."
                        .to_owned(),
                );
            }
            Ok(())
        }
        Kind::RichText => match adf::check(value) {
            Ok(()) => Ok(()),
            Err(AdfError::TooLong) => Err(
                "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
                    .to_owned(),
            ),
            Err(_) => Err(
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    .to_owned(),
            ),
        },
        Kind::Number => value
            .as_f64()
            .filter(|n| n.is_finite())
            .map(drop)
            .ok_or_else(|| "Operation value must be a number".to_owned()),
        Kind::Date => {
            let s = value.as_str().unwrap_or_default();
            if valid_date(s) {
                Ok(())
            } else {
                Err(format!("Error parsing date string: {s}"))
            }
        }
        Kind::DateTime => {
            let s = value.as_str().unwrap_or_default();
            let ok = s.len() >= 16
                && s.is_char_boundary(10)
                && valid_date(&s[..10])
                && matches!(s.as_bytes()[10], b'T' | b' ');
            if ok {
                Ok(())
            } else {
                Err(format!("Error parsing date string: {s}"))
            }
        }
        Kind::Option => check_choice(field, value, "Option"),
        Kind::Priority => check_choice(field, value, "Priority"),
        Kind::Component => check_choice(field, value, "Component"),
        Kind::Version => check_choice(field, value, "Version"),
        Kind::User => {
            let id = value
                .get("accountId")
                .and_then(Value::as_str)
                .ok_or_else(|| "expected 'accountId' property to be a string".to_owned())?;
            if jira.user(id).is_some_and(|u| u.active) {
                Ok(())
            } else {
                Err(
                    "Specified user does not exist or you do not have required permissions"
                        .to_owned(),
                )
            }
        }
        Kind::Label => {
            let s = value
                .as_str()
                .ok_or_else(|| "Operation value must be a string".to_owned())?;
            if s.is_empty() || s.chars().any(char::is_whitespace) || s.encode_utf16().count() > 255
            {
                Err(format!("The label '{s}' contains spaces which is invalid."))
            } else {
                Ok(())
            }
        }
        Kind::Many(item) => {
            let items = value
                .as_array()
                .ok_or_else(|| "Operation value must be an array".to_owned())?;
            for v in items {
                check_value(jira, field, item, v)?;
            }
            Ok(())
        }
        Kind::Unknown => Err(format!(
            "The simulated Jira cannot store fields of type {}",
            field.schema
        )),
    }
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y > 0 && (1..=days).contains(&d)
}

impl crate::SimJira {
    /// Adds a project configured as `kind` says (see [`ScreenKind`]), with the issue types
    /// Bug and Task, and returns its key. Adding it again resets its screens and
    /// permissions.
    pub fn add_screen_project(&self, kind: ScreenKind) -> &'static str {
        let key = kind.key();
        let mut world = self.world();
        let jira = world.primary_mut();
        jira.add_project(key, kind.name(), &["Bug", "Task"]);
        if let Some(p) = jira.projects.iter_mut().find(|p| p.key == key) {
            for screen in p.screens.values_mut() {
                *screen = kind.screen();
            }
            p.granted = all_permissions();
            if kind == ScreenKind::NoAssignPermission {
                p.granted.remove("ASSIGN_ISSUES");
            }
        }
        key
    }

    /// Adds a project of every [`ScreenKind`].
    pub fn add_screen_projects(&self) {
        for kind in ScreenKind::ALL {
            self.add_screen_project(kind);
        }
    }

    /// The create screen of a project's issue type (by names), in createmeta's order.
    pub fn screen(&self, project_key: &str, issue_type_name: &str) -> Option<Vec<SimField>> {
        let type_id = self.issue_type_id(project_key, issue_type_name)?;
        let world = self.world();
        let project = world
            .primary()
            .projects
            .iter()
            .find(|p| p.key == project_key)?;
        project.screens.get(&type_id).cloned()
    }

    /// Replaces the create screen of a project's issue type, as an administrator would in
    /// Jira at any time (also after a host saved its settings). Returns whether the
    /// project and issue type exist.
    pub fn set_screen(
        &self,
        project_key: &str,
        issue_type_name: &str,
        fields: Vec<SimField>,
    ) -> bool {
        self.edit_screen(project_key, issue_type_name, |screen| *screen = fields)
    }

    /// Puts a field on a project's create screen for an issue type, replacing the field of
    /// the same id (in its place) or adding it at the end. Returns whether the project and
    /// issue type exist.
    pub fn put_screen_field(
        &self,
        project_key: &str,
        issue_type_name: &str,
        field: SimField,
    ) -> bool {
        self.edit_screen(project_key, issue_type_name, |screen| {
            match screen.iter_mut().find(|f| f.id == field.id) {
                Some(existing) => *existing = field,
                None => screen.push(field),
            }
        })
    }

    /// Takes a field off a project's create screen for an issue type. Returns whether it
    /// was on it.
    pub fn remove_screen_field(
        &self,
        project_key: &str,
        issue_type_name: &str,
        field_id: &str,
    ) -> bool {
        let mut removed = false;
        self.edit_screen(project_key, issue_type_name, |screen| {
            let before = screen.len();
            screen.retain(|f| f.id != field_id);
            removed = screen.len() != before;
        });
        removed
    }

    /// Grants or revokes a project permission of the service account (`BROWSE_PROJECTS`,
    /// `CREATE_ISSUES`, `ASSIGN_ISSUES`, `ADD_COMMENTS`, …; every one is granted in a new
    /// project). Returns whether the project exists and the key is a known permission.
    pub fn set_permission(&self, project_key: &str, permission: &str, granted: bool) -> bool {
        if !PERMISSIONS.iter().any(|(k, _, _)| *k == permission) {
            return false;
        }
        let mut world = self.world();
        match world
            .primary_mut()
            .projects
            .iter_mut()
            .find(|p| p.key == project_key)
        {
            Some(p) => {
                if granted {
                    p.granted.insert(permission.to_owned());
                } else {
                    p.granted.remove(permission);
                }
                true
            }
            None => false,
        }
    }

    fn edit_screen(
        &self,
        project_key: &str,
        issue_type_name: &str,
        edit: impl FnOnce(&mut Vec<SimField>),
    ) -> bool {
        let Some(type_id) = self.issue_type_id(project_key, issue_type_name) else {
            return false;
        };
        let mut world = self.world();
        let screen = world
            .primary_mut()
            .projects
            .iter_mut()
            .find(|p| p.key == project_key)
            .and_then(|p| p.screens.get_mut(&type_id));
        match screen {
            Some(screen) => {
                edit(screen);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{ScreenKind, SimField};
    use crate::testing::Client;
    use crate::SimJira;

    fn ids(fields: &Value) -> Vec<&str> {
        fields
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fieldId"].as_str().unwrap())
            .collect()
    }

    fn body(project: &str, extra: Value) -> Value {
        let mut fields = json!({
            "project": {"key": project},
            "issuetype": {"name": "Bug"},
            "summary": "Test Failed: x",
        });
        for (k, v) in extra.as_object().unwrap() {
            fields[k] = v.clone();
        }
        json!({ "fields": fields })
    }

    fn createmeta(sim: &SimJira, project: &str) -> String {
        let bug = sim.issue_type_id(project, "Bug").unwrap();
        format!("/rest/api/3/issue/createmeta/{project}/issuetypes/{bug}")
    }

    #[tokio::test]
    async fn createmeta_lists_the_screen_page_by_page() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let path = createmeta(&sim, "QA");
        let (status, page) = c.get(&path).await;
        assert_eq!(status, 200);
        assert_eq!(
            ids(&page["fields"]),
            [
                "project",
                "issuetype",
                "summary",
                "description",
                "labels",
                "assignee"
            ]
        );
        assert_eq!(
            (page["total"].as_u64(), page["maxResults"].as_u64()),
            (Some(6), Some(50))
        );
        let summary = &page["fields"][2];
        assert_eq!(summary["required"], true);
        assert_eq!(summary["hasDefaultValue"], false);
        assert_eq!(summary["key"], "summary");
        assert_eq!(
            summary["schema"],
            json!({"type": "string", "system": "summary"})
        );
        assert_eq!(page["fields"][0]["allowedValues"][0]["key"], "QA");
        assert_eq!(page["fields"][1]["allowedValues"][0]["name"], "Bug");
        assert_eq!(
            page["fields"][4]["operations"],
            json!(["add", "set", "remove"])
        );

        let (_, second) = c.get(&format!("{path}?startAt=4&maxResults=4")).await;
        assert_eq!(ids(&second["fields"]), ["labels", "assignee"]);
        assert_eq!(second["startAt"], 4);
        let (_, past) = c.get(&format!("{path}?startAt=40")).await;
        assert_eq!(past["fields"], json!([]));
    }

    /// The spec's example answer for `maxResults` over 200, on both createmeta lists (the
    /// issue type list used to cut it to 200 silently).
    #[tokio::test]
    async fn createmeta_refuses_pages_over_200() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for path in [
            format!("{}?maxResults=201", createmeta(&sim, "QA")),
            "/rest/api/3/issue/createmeta/QA/issuetypes?maxResults=201".to_owned(),
        ] {
            let (status, body) = c.get(&path).await;
            assert_eq!(status, 400, "{path}");
            assert_eq!(
                body["errorMessages"],
                json!(["Parameter 'maxResults' must not exceed the limit '200'"])
            );
            let ok = path.replace("201", "200");
            assert_eq!(c.get(&ok).await.0, 200);
        }
        let (status, _) = c
            .get("/rest/api/3/issue/createmeta/QA/issuetypes/99999")
            .await;
        assert_eq!(status, 404);
        let (status, _) = c
            .get("/rest/api/3/issue/createmeta/NOPE/issuetypes/10001")
            .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn each_kind_of_project_has_its_screen_and_permissions() {
        let sim = SimJira::new();
        sim.add_screen_projects();
        let c = Client::new(&sim).await;
        let (_, nolabels) = c.get(&createmeta(&sim, "NOLABELS")).await;
        assert!(!ids(&nolabels["fields"]).contains(&"labels"));
        let (_, nodesc) = c.get(&createmeta(&sim, "NODESC")).await;
        assert!(!ids(&nodesc["fields"]).contains(&"description"));
        let (_, noassignee) = c.get(&createmeta(&sim, "NOASSIGNEE")).await;
        assert!(!ids(&noassignee["fields"]).contains(&"assignee"));
        let (_, required) = c.get(&createmeta(&sim, "REQUIRED")).await;
        let team = required["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldId"] == "customfield_10100")
            .unwrap();
        assert_eq!(team["required"], true);
        assert_eq!(team["hasDefaultValue"], false);
        assert_eq!(
            team["allowedValues"][0],
            json!({"id": "10200", "value": "Red"})
        );
        assert_eq!(
            team["schema"]["custom"],
            "com.atlassian.jira.plugin.system.customfieldtypes:select"
        );
        let priority = required["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldId"] == "priority")
            .unwrap();
        assert_eq!(priority["hasDefaultValue"], true);
        assert_eq!(priority["defaultValue"]["name"], "Medium");

        let perms = "permissions=BROWSE_PROJECTS,CREATE_ISSUES,ASSIGN_ISSUES";
        let (status, answer) = c
            .get(&format!(
                "/rest/api/3/mypermissions?projectKey=NOASSIGN&{perms}"
            ))
            .await;
        assert_eq!(status, 200);
        let p = &answer["permissions"];
        assert_eq!(p["BROWSE_PROJECTS"]["havePermission"], true);
        assert_eq!(p["CREATE_ISSUES"]["havePermission"], true);
        assert_eq!(p["ASSIGN_ISSUES"]["havePermission"], false);
        assert_eq!(p["ASSIGN_ISSUES"]["key"], "ASSIGN_ISSUES");
        assert!(p.get("EDIT_ISSUES").is_none());
        let (_, qa) = c
            .get(&format!("/rest/api/3/mypermissions?projectKey=QA&{perms}"))
            .await;
        assert_eq!(qa["permissions"]["ASSIGN_ISSUES"]["havePermission"], true);
        assert_eq!(
            c.get("/rest/api/3/mypermissions?projectKey=QA").await.0,
            400
        );
        assert_eq!(
            c.get("/rest/api/3/mypermissions?projectKey=QA&permissions=FLY")
                .await
                .0,
            400
        );
        assert_eq!(
            c.get(&format!(
                "/rest/api/3/mypermissions?projectKey=NOPE&{perms}"
            ))
            .await
            .0,
            404
        );
    }

    #[tokio::test]
    async fn create_refuses_as_jira_does() {
        let sim = SimJira::new();
        sim.add_screen_projects();
        let c = Client::new(&sim).await;
        let (status, answer) = c
            .post(
                "/rest/api/3/issue",
                body("NOLABELS", json!({"labels": ["t"]})),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            answer,
            json!({"errorMessages": [], "errors": {"labels": "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}})
        );
        let (status, answer) = c
            .post("/rest/api/3/issue", body("REQUIRED", json!({})))
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            answer["errors"],
            json!({"components": "Component/s is required.", "customfield_10100": "Team is required."})
        );
        let (status, answer) = c
            .post(
                "/rest/api/3/issue",
                body(
                    "REQUIRED",
                    json!({"components": [{"id": "10300"}], "customfield_10100": {"id": "999"}}),
                ),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            answer["errors"],
            json!({"customfield_10100": "Option id '999' is not valid"})
        );
        let (status, answer) = c
            .post(
                "/rest/api/3/issue",
                body(
                    "NOASSIGN",
                    json!({"assignee": {"accountId": "712020:alice"}}),
                ),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            answer["errors"]["assignee"],
            "User '712020:alice' cannot be assigned issues."
        );
        sim.add_user(
            "712020:alice",
            "Alice Anderson",
            true,
            &["QA", "OPS", "NOASSIGN"],
        );
        let (_, answer) = c
            .post(
                "/rest/api/3/issue",
                body(
                    "NOASSIGN",
                    json!({"assignee": {"accountId": "712020:alice"}}),
                ),
            )
            .await;
        assert_eq!(
            answer["errors"]["assignee"],
            "You do not have permission to assign issues."
        );
        let (status, answer) = c
            .post(
                "/rest/api/3/issue",
                body(
                    "NODESC",
                    json!({"description": {"version": 1, "type": "doc", "content": []}}),
                ),
            )
            .await;
        assert_eq!(status, 400);
        assert!(answer["errors"]["description"]
            .as_str()
            .unwrap()
            .contains("cannot be set"));
        assert!(sim.issues().is_empty());

        let (status, created) = c
            .post(
                "/rest/api/3/issue",
                body("REQUIRED", json!({"components": [{"id": "10300"}], "customfield_10100": {"value": "Blue"}, "labels": ["t"]})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let issue = sim.issue(created["key"].as_str().unwrap()).unwrap();
        assert_eq!(issue.fields["components"], json!([{"id": "10300"}]));
        assert_eq!(issue.fields["customfield_10100"], json!({"value": "Blue"}));
        // Defaults are filled in.
        assert_eq!(issue.fields["priority"]["name"], "Medium");
    }

    #[tokio::test]
    async fn values_are_checked_by_kind() {
        let sim = SimJira::new();
        sim.add_screen_project(ScreenKind::EveryFieldKind);
        let c = Client::new(&sim).await;
        let good = json!({
            "priority": {"id": "2"},
            "components": [{"id": "10310"}, {"name": "Web"}],
            "fixVersions": [{"id": "10411"}],
            "environment": {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "CI"}]}]},
            "duedate": "2024-02-29",
            "customfield_10110": 3.5,
            "customfield_10111": {"id": "10212"},
            "customfield_10112": [{"id": "10220"}, {"id": "10222"}],
            "customfield_10113": {"accountId": "712020:bob"},
            "customfield_10114": [{"accountId": "712020:bob"}, {"accountId": "712020:carol"}],
            "customfield_10115": ["a", "b"],
            "customfield_10116": "build 7, nightly",
            "customfield_10117": {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "1. run"}]}]},
            "customfield_10118": "2024-05-01T10:00:00.000+0000",
        });
        let (status, created) = c
            .post("/rest/api/3/issue", body("FIELDS", good.clone()))
            .await;
        assert_eq!(status, 201, "{created}");
        let issue = sim.issue(created["key"].as_str().unwrap()).unwrap();
        for (k, v) in good.as_object().unwrap() {
            assert_eq!(&issue.fields[k], v, "{k}");
        }
        for (field, value, message) in [
            (
                "priority",
                json!({"id": "9"}),
                "Priority id '9' is not valid",
            ),
            (
                "components",
                json!({"id": "10310"}),
                "Operation value must be an array",
            ),
            (
                "components",
                json!([{"id": "1"}]),
                "Component id '1' is not valid",
            ),
            (
                "fixVersions",
                json!([{"name": "9.9"}]),
                "Version name '9.9' is not valid",
            ),
            (
                "environment",
                json!("plain"),
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
            ),
            (
                "duedate",
                json!("2023-02-29"),
                "Error parsing date string: 2023-02-29",
            ),
            (
                "customfield_10110",
                json!("3"),
                "Operation value must be a number",
            ),
            (
                "customfield_10112",
                json!([{"value": "BeOS"}]),
                "Option value 'BeOS' is not valid",
            ),
            (
                "customfield_10113",
                json!({"accountId": "712020:dave"}),
                "Specified user does not exist or you do not have required permissions",
            ),
            (
                "customfield_10115",
                json!(["two words"]),
                "The label 'two words' contains spaces which is invalid.",
            ),
            (
                "customfield_10116",
                json!("x".repeat(256)),
                "The entered text is too long. It exceeds the allowed limit of 255 characters.",
            ),
        ] {
            let (status, answer) = c
                .post("/rest/api/3/issue", body("FIELDS", json!({ field: value })))
                .await;
            assert_eq!(status, 400, "{field}");
            assert_eq!(answer["errors"][field], message, "{field}");
        }
    }

    #[tokio::test]
    async fn screens_and_permissions_change_at_any_time() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        assert!(sim.put_screen_field(
            "QA",
            "Bug",
            SimField::components(&[("10500", "Core")]).required()
        ));
        assert!(sim.remove_screen_field("QA", "Bug", "labels"));
        assert!(!sim.remove_screen_field("QA", "Bug", "labels"));
        assert!(!sim.put_screen_field("QA", "Incident", SimField::labels()));
        let (_, answer) = c
            .post("/rest/api/3/issue", body("QA", json!({"labels": ["t"]})))
            .await;
        assert_eq!(
            answer["errors"],
            json!({"components": "Component/s is required.", "labels": "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."})
        );
        // Task keeps its own screen.
        let mut task = body("QA", json!({"labels": ["t"]}));
        task["fields"]["issuetype"] = json!({"name": "Task"});
        assert_eq!(c.post("/rest/api/3/issue", task).await.0, 201);
        assert_eq!(sim.screen("QA", "Bug").unwrap().len(), 6);

        assert!(sim.set_permission("OPS", "CREATE_ISSUES", false));
        assert!(!sim.set_permission("OPS", "FLY", false));
        let (_, listed) = c.get("/rest/api/3/project/search?action=create").await;
        let keys: Vec<&str> = listed["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["QA"]);
        let (_, all) = c.get("/rest/api/3/project/search").await;
        assert_eq!(all["total"], 2);
        assert_eq!(c.get("/rest/api/3/project/search?action=fly").await.0, 400);
        let (_, types) = c.get("/rest/api/3/issue/createmeta/OPS/issuetypes").await;
        assert_eq!(types["issueTypes"], json!([]));
        let mut ops = body("OPS", json!({}));
        ops["fields"]["issuetype"] = json!({"name": "Task"});
        let (status, answer) = c.post("/rest/api/3/issue", ops).await;
        assert_eq!(status, 400);
        assert_eq!(
            answer["errorMessages"],
            json!(["You do not have permission to create issues in this project."])
        );
    }

    #[tokio::test]
    async fn comments_must_be_documents() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let created = c.create("x", &[]).await;
        let path = format!(
            "/rest/api/3/issue/{}/comment",
            created["id"].as_str().unwrap()
        );
        let doc = json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "details"}]}]});
        let (status, answer) = c.post(&path, json!({ "body": doc })).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["body"], doc);
        assert_eq!(answer["author"]["accountId"], SimJira::SERVICE_ACCOUNT_ID);
        assert_eq!(
            sim.issue("QA-1").unwrap().comments,
            std::slice::from_ref(&doc)
        );
        // The recorded answer's field error (the permission message was the anonymous
        // caller's).
        let (status, answer) = c.post(&path, json!({"body": "plain"})).await;
        assert_eq!(
            (status, answer),
            (
                400,
                json!({"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}})
            )
        );
        assert_eq!(
            c.post("/rest/api/3/issue/QA-9/comment", json!({"body": doc}))
                .await
                .0,
            404
        );
        sim.set_permission("QA", "ADD_COMMENTS", false);
        assert_eq!(c.post(&path, json!({"body": doc})).await.0, 400);
        assert_eq!(sim.issue("QA-1").unwrap().comments.len(), 1);
    }

    #[tokio::test]
    async fn users_are_found_in_bulk() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, page) = c
            .get("/rest/api/3/user/bulk?accountId=712020%3Abob&accountId=nobody&accountId=712020%3Adave&startAt=0&maxResults=50")
            .await;
        assert_eq!(status, 200);
        let values = page["values"].as_array().unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(
            (
                values[0]["accountId"].as_str(),
                values[0]["active"].as_bool()
            ),
            (Some("712020:bob"), Some(true))
        );
        assert_eq!(values[1]["active"], false);
        assert_eq!(page["isLast"], true);
        assert_eq!(c.get("/rest/api/3/user/bulk").await.0, 400);
    }
}
