//! The JSON Jira answers with for issues, users, projects and issue types.

use serde_json::{json, Map, Value};

use super::clock;
use super::resolutions;
use super::router::Ctx;
use super::world::{Issue, IssueState, IssueType, JiraData, Project, StatusRef, User};

/// The issue fields the simulator can return, in the order `*all` lists them.
const FIELDS: [&str; 12] = [
    "summary",
    "status",
    "resolution",
    "statuscategorychangedate",
    "resolutiondate",
    "labels",
    "created",
    "project",
    "issuetype",
    "assignee",
    "description",
    "reporter",
];

/// Which parts of an issue an answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSet {
    key: bool,
    fields: Vec<&'static str>,
}

impl FieldSet {
    /// Every field, as `GET /issue` gives by default.
    pub(crate) fn all() -> FieldSet {
        FieldSet {
            key: true,
            fields: FIELDS.to_vec(),
        }
    }

    /// The issue id only, as search gives by default.
    pub(crate) fn id_only() -> FieldSet {
        FieldSet {
            key: false,
            fields: Vec::new(),
        }
    }

    /// Reads a `fields` list (items may also be comma-separated). Like Jira, unknown field
    /// names are ignored and `-name` removes a field.
    pub(crate) fn parse(requested: &[String], default: FieldSet) -> FieldSet {
        let items: Vec<&str> = requested
            .iter()
            .flat_map(|r| r.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return default;
        }
        let mut set = FieldSet::id_only();
        for item in &items {
            match *item {
                "*all" | "*navigable" => set = FieldSet::all(),
                "key" => set.key = true,
                name => {
                    if let Some(field) = FIELDS.iter().find(|f| **f == name) {
                        if !set.fields.contains(field) {
                            set.fields.push(field);
                        }
                    }
                }
            }
        }
        for item in &items {
            match item.strip_prefix('-') {
                Some("key") => set.key = false,
                Some(name) => set.fields.retain(|f| *f != name),
                None => {}
            }
        }
        set
    }

    /// The same set, with the key whether it was asked for or not.
    pub(crate) fn with_key(mut self) -> FieldSet {
        self.key = true;
        self
    }

    /// Whether nothing beyond ids and keys is asked for: Jira's largest pages need that.
    pub(crate) fn ids_and_keys_only(&self) -> bool {
        self.fields.is_empty()
    }
}

fn avatar_urls(base: &str) -> Value {
    let mut urls = Map::new();
    for size in ["48x48", "24x24", "16x16", "32x32"] {
        urls.insert(size.to_owned(), Value::from(format!("{base}?size={size}")));
    }
    Value::Object(urls)
}

pub(crate) fn user(user: &User, ctx: &Ctx<'_>) -> Value {
    let encoded: String =
        url::form_urlencoded::byte_serialize(user.account_id.as_bytes()).collect();
    json!({
        "self": format!("{}/rest/api/3/user?accountId={encoded}", ctx.base),
        "accountId": user.account_id,
        "accountType": user.account_type,
        "avatarUrls": avatar_urls("https://avatar-management.services.atlassian.com/default/avatar.png"),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": "Etc/UTC",
    })
}

pub(crate) fn issue_type(t: &IssueType, ctx: &Ctx<'_>) -> Value {
    json!({
        "self": format!("{}/rest/api/3/issuetype/{}", ctx.base, t.id),
        "id": t.id,
        "description": "",
        "iconUrl": format!("{}/images/icons/issuetypes/{}.svg", ctx.site_url, t.name.to_lowercase()),
        "name": t.name,
        "untranslatedName": t.name,
        "subtask": false,
        "hierarchyLevel": 0,
    })
}

/// A project as lists show it; `detailed` adds what `GET /project/{key}` includes.
pub(crate) fn project(p: &Project, jira: &JiraData, ctx: &Ctx<'_>, detailed: bool) -> Value {
    let mut value = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{}/rest/api/3/project/{}", ctx.base, p.id),
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "avatarUrls": avatar_urls(&format!("{}/rest/api/3/universal_avatar/view/type/project", ctx.base)),
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "properties": {},
    });
    if detailed {
        let types: Vec<Value> = p
            .issue_type_ids
            .iter()
            .filter_map(|id| jira.issue_type(id))
            .map(|t| issue_type(t, ctx))
            .collect();
        value["description"] = Value::from("");
        value["issueTypes"] = Value::Array(types);
        value["assigneeType"] = Value::from("UNASSIGNED");
        if let Some(lead) = jira.service_account() {
            value["lead"] = user(lead, ctx);
        }
    }
    value
}

/// A status as Jira shows it (schema `StatusDetails`, with its `StatusCategory`).
pub(crate) fn status(status: &StatusRef, ctx: &Ctx<'_>) -> Value {
    let category = status.category;
    json!({
        "self": format!("{}/rest/api/3/status/{}", ctx.base, status.id),
        "description": "",
        "iconUrl": format!("{}/images/icons/statuses/generic.png", ctx.site_url),
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": format!("{}/rest/api/3/statuscategory/{}", ctx.base, category.id()),
            "id": category.id(),
            "key": category.key(),
            "colorName": category.color_name(),
            "name": category.name(),
        },
    })
}

/// An issue with the requested parts, showing the workflow state given (which search may
/// see lagged).
pub(crate) fn issue(
    issue: &Issue,
    state: &IssueState,
    jira: &JiraData,
    fields: &FieldSet,
    ctx: &Ctx<'_>,
) -> Value {
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::from(issue.id.to_string()));
    if fields.key {
        out.insert("key".to_owned(), Value::from(issue.key.as_str()));
    }
    if fields.fields.is_empty() {
        return Value::Object(out);
    }
    out.insert(
        "self".to_owned(),
        Value::from(format!("{}/rest/api/3/issue/{}", ctx.base, issue.id)),
    );
    let mut values = Map::new();
    for field in &fields.fields {
        let value = match *field {
            "summary" => Value::from(issue.summary.as_str()),
            "status" => status(&state.status, ctx),
            "resolution" => state
                .resolution
                .and_then(|r| jira.resolutions.get(r))
                .map_or(Value::Null, |r| resolutions::render(r, ctx)),
            "statuscategorychangedate" => Value::from(clock::jira_datetime(state.category_changed)),
            "resolutiondate" => state
                .resolved
                .map_or(Value::Null, |t| Value::from(clock::jira_datetime(t))),
            "labels" => Value::from(issue.labels.clone()),
            "created" => Value::from(clock::jira_datetime(issue.created)),
            "project" => jira
                .projects
                .get(issue.project)
                .map_or(Value::Null, |p| project(p, jira, ctx, false)),
            "issuetype" => jira
                .issue_type(&issue.issue_type_id)
                .map_or(Value::Null, |t| issue_type(t, ctx)),
            "assignee" => issue
                .assignee
                .as_deref()
                .and_then(|id| jira.user(id))
                .map_or(Value::Null, |u| user(u, ctx)),
            "description" => issue.description.clone(),
            "reporter" => jira.service_account().map_or(Value::Null, |u| user(u, ctx)),
            _ => continue,
        };
        values.insert((*field).to_owned(), value);
    }
    out.insert("fields".to_owned(), Value::Object(values));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::FieldSet;

    fn parse(items: &[&str]) -> FieldSet {
        let items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
        FieldSet::parse(&items, FieldSet::id_only())
    }

    #[test]
    fn reads_fields_lists_like_jira() {
        assert_eq!(parse(&[]), FieldSet::id_only());
        assert_eq!(parse(&["id"]), FieldSet::id_only());
        let keyed = parse(&["key", "colour"]);
        assert!(keyed.key && keyed.ids_and_keys_only());
        let some = parse(&["key,status", "labels"]);
        assert_eq!(some.fields, vec!["status", "labels"]);
        let most = parse(&["*all", "-description", "-key"]);
        assert!(!most.key);
        assert!(!most.fields.contains(&"description") && most.fields.contains(&"summary"));
    }
}
