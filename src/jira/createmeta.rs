//! The create screen and what goes with it: the screen's fields (createmeta), the service
//! account's permissions in a project, whether users exist, and a comment on an issue.
//! Requests are built as data (unit-tested below without a network), then sent by the
//! typed calls.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answers::parse;
use super::client::JiraClient;
use super::requests::{ApiRequest, Replay};
use crate::connection::Connection;
use crate::endpoints::Endpoints;
use crate::error::Result;
use crate::fields::{AllowedValue, CreateField, FieldSchema, FIELDS_FILLED_BY_CRATE};
use crate::issue::adf;
use crate::transport::Method;

/// The largest page createmeta gives.
pub(crate) const FIELD_PAGE: u32 = 200;
/// How many account ids one bulk user request names.
pub(crate) const USER_BULK: usize = 50;
/// The permissions save checks, asked in one request: browsing and creating always,
/// assigning when a specific assignee is set, commenting when Description is off the
/// screen.
pub(crate) const PERMISSIONS: [&str; 4] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "ASSIGN_ISSUES",
    "ADD_COMMENTS",
];
/// The most pages read from one list.
const MAX_PAGES: usize = 100;

/// The operation name of a comment, in its errors.
pub(crate) const ADD_COMMENT: &str = "add comment";

fn get(operation: &'static str, url: url::Url) -> ApiRequest {
    ApiRequest {
        operation,
        method: Method::Get,
        url,
        body: None,
        replay: Replay::Safe,
    }
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes/{issueTypeId}?startAt&maxResults`:
/// a page of the create screen's fields.
pub(crate) fn create_fields(
    e: &Endpoints,
    cloud: &str,
    project: &str,
    issue_type_id: &str,
    start_at: u64,
) -> ApiRequest {
    let mut url = e.jira(
        cloud,
        &["issue", "createmeta", project, "issuetypes", issue_type_id],
    );
    url.query_pairs_mut()
        .append_pair("startAt", &start_at.to_string())
        .append_pair("maxResults", &FIELD_PAGE.to_string());
    get("create screen fields", url)
}

/// `GET /rest/api/3/mypermissions?projectKey&permissions`.
pub(crate) fn my_permissions(e: &Endpoints, cloud: &str, project_key: &str) -> ApiRequest {
    let mut url = e.jira(cloud, &["mypermissions"]);
    url.query_pairs_mut()
        .append_pair("projectKey", project_key)
        .append_pair("permissions", &PERMISSIONS.join(","));
    get("permission check", url)
}

/// `GET /rest/api/3/user/bulk?accountId…&startAt&maxResults`.
pub(crate) fn users_bulk(e: &Endpoints, cloud: &str, account_ids: &[&str]) -> ApiRequest {
    let mut url = e.jira(cloud, &["user", "bulk"]);
    {
        let mut q = url.query_pairs_mut();
        for id in account_ids {
            q.append_pair("accountId", id);
        }
        q.append_pair("startAt", "0")
            .append_pair("maxResults", &USER_BULK.to_string());
    }
    get("user lookup", url)
}

/// `POST /rest/api/3/issue/{issueId}/comment` with an ADF body. Not sent again blindly:
/// a second comment would repeat the first.
pub(crate) fn add_comment(
    e: &Endpoints,
    cloud: &str,
    issue_id: &str,
    doc: &adf::Doc,
) -> ApiRequest {
    #[derive(Serialize)]
    struct Body<'a> {
        body: &'a adf::Doc,
    }
    ApiRequest {
        operation: ADD_COMMENT,
        method: Method::Post,
        url: e.jira(cloud, &["issue", issue_id, "comment"]),
        body: Some(serde_json::to_vec(&Body { body: doc }).expect("an ADF document serialises")),
        replay: Replay::OnlyIfNotReceived,
    }
}

/// A page of createmeta fields. Jira's spec names the list `fields` (and `results` in
/// some versions): both are read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldPage {
    #[serde(default)]
    fields: Option<Vec<FieldMeta>>,
    #[serde(default)]
    results: Option<Vec<FieldMeta>>,
    total: Option<u64>,
    max_results: Option<u64>,
    is_last: Option<bool>,
}

/// Jira's `FieldCreateMetadata`, as far as the crate reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldMeta {
    field_id: Option<String>,
    key: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    has_default_value: bool,
    #[serde(default)]
    schema: Value,
    allowed_values: Option<Vec<Value>>,
}

impl FieldMeta {
    fn into_field(self) -> Option<CreateField> {
        let id = self.field_id.or(self.key)?;
        if id.is_empty() {
            return None;
        }
        let allowed_values = self.allowed_values.map(|values| {
            values
                .iter()
                .filter(|v| v.get("disabled").and_then(Value::as_bool) != Some(true))
                .filter_map(allowed_value)
                .collect()
        });
        Some(CreateField {
            filled_by_crate: FIELDS_FILLED_BY_CRATE.contains(&id.as_str()),
            name: if self.name.is_empty() {
                id.clone()
            } else {
                self.name
            },
            id,
            required: self.required,
            has_default: self.has_default_value,
            schema: FieldSchema::from_jira(&self.schema),
            allowed_values,
        })
    }
}

/// An allowed value's id and name: options carry `value`, most others `name`.
fn allowed_value(v: &Value) -> Option<AllowedValue> {
    let text = |name: &str| match v.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = text("id")?;
    let name = text("name")
        .or_else(|| text("value"))
        .or_else(|| text("key"))
        .unwrap_or_else(|| id.clone());
    Some(AllowedValue { id, name })
}

#[derive(Deserialize)]
struct PermissionsAnswer {
    #[serde(default)]
    permissions: BTreeMap<String, PermissionAnswer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionAnswer {
    #[serde(default)]
    have_permission: bool,
}

#[derive(Deserialize)]
struct UserPage {
    #[serde(default)]
    values: Vec<crate::jira::models::User>,
}

impl JiraClient {
    /// Every field on the create screen of a project and issue type, over every page.
    pub(crate) async fn create_fields(
        &self,
        conn: &Connection,
        project: &str,
        issue_type_id: &str,
    ) -> Result<Vec<CreateField>> {
        let mut all: Vec<CreateField> = Vec::new();
        let mut start_at = 0u64;
        for _ in 0..MAX_PAGES {
            let req = create_fields(
                &self.endpoints,
                &conn.site.cloud_id,
                project,
                issue_type_id,
                start_at,
            );
            let page: FieldPage = parse(req.operation, &self.call(conn, &req).await?)?;
            let fields = page.fields.or(page.results).unwrap_or_default();
            let got = fields.len() as u64;
            start_at += got;
            for f in fields.into_iter().filter_map(FieldMeta::into_field) {
                if !all.iter().any(|a| a.id == f.id) {
                    all.push(f);
                }
            }
            let asked = page.max_results.unwrap_or(u64::from(FIELD_PAGE)).max(1);
            let done = got == 0
                || page.is_last == Some(true)
                || page.total.map_or(got < asked, |t| start_at >= t);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// Which of [`PERMISSIONS`] the service account has in a project.
    pub(crate) async fn my_permissions(
        &self,
        conn: &Connection,
        project_key: &str,
    ) -> Result<BTreeSet<String>> {
        let req = my_permissions(&self.endpoints, &conn.site.cloud_id, project_key);
        let answer: PermissionsAnswer = parse(req.operation, &self.call(conn, &req).await?)?;
        Ok(answer
            .permissions
            .into_iter()
            .filter(|(_, p)| p.have_permission)
            .map(|(k, _)| k)
            .collect())
    }

    /// The account ids, of those given, that belong to active users.
    pub(crate) async fn active_users(
        &self,
        conn: &Connection,
        account_ids: &[&str],
    ) -> Result<BTreeSet<String>> {
        let mut active = BTreeSet::new();
        for chunk in account_ids.chunks(USER_BULK) {
            let req = users_bulk(&self.endpoints, &conn.site.cloud_id, chunk);
            let page: UserPage = parse(req.operation, &self.call(conn, &req).await?)?;
            active.extend(
                page.values
                    .into_iter()
                    .filter(|u| u.active && chunk.contains(&u.account_id.as_str()))
                    .map(|u| u.account_id),
            );
        }
        Ok(active)
    }

    /// Adds a comment to an issue (by its checked numeric id).
    pub(crate) async fn add_comment(
        &self,
        conn: &Connection,
        issue_id: &str,
        doc: &adf::Doc,
    ) -> Result<()> {
        let req = add_comment(&self.endpoints, &conn.site.cloud_id, issue_id, doc);
        self.call(conn, &req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};
    use serde_json::json;

    fn e() -> Endpoints {
        Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap()
    }

    #[test]
    fn requests_match_the_spec() {
        let r = create_fields(&e(), "c1", "QA", "10004", 200);
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url.path(),
            "/ex/jira/c1/rest/api/3/issue/createmeta/QA/issuetypes/10004"
        );
        assert_eq!(r.url.query(), Some("startAt=200&maxResults=200"));
        let r = my_permissions(&e(), "c1", "QA");
        assert_eq!(r.url.path(), "/ex/jira/c1/rest/api/3/mypermissions");
        assert_eq!(
            r.url.query(),
            Some("projectKey=QA&permissions=BROWSE_PROJECTS%2CCREATE_ISSUES%2CASSIGN_ISSUES%2CADD_COMMENTS")
        );
        let r = users_bulk(&e(), "c1", &["a:1", "b"]);
        assert_eq!(r.url.path(), "/ex/jira/c1/rest/api/3/user/bulk");
        assert_eq!(
            r.url.query(),
            Some("accountId=a%3A1&accountId=b&startAt=0&maxResults=50")
        );
        let r = add_comment(&e(), "c1", "10001", &adf::paragraphs(&["x"]));
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.replay, Replay::OnlyIfNotReceived);
        assert_eq!(r.url.path(), "/ex/jira/c1/rest/api/3/issue/10001/comment");
        let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["body"]["type"], "doc");
        assert_eq!(body.as_object().unwrap().len(), 1);
    }

    #[test]
    fn fields_are_read_from_jiras_metadata() {
        let page: FieldPage = serde_json::from_value(json!({
            "startAt": 0, "maxResults": 50, "total": 3,
            "fields": [
                {"fieldId": "customfield_10010", "key": "customfield_10010", "name": "Team",
                 "required": true, "hasDefaultValue": false, "operations": ["set"],
                 "schema": {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10010},
                 "allowedValues": [
                     {"self": "x", "value": "Red", "id": "10100"},
                     {"self": "x", "value": "Old", "id": "10101", "disabled": true},
                     {"self": "x", "value": "Blue", "id": 10102}
                 ]},
                {"key": "labels", "name": "Labels", "required": false,
                 "schema": {"type": "array", "items": "string", "system": "labels"}, "operations": ["set"]},
                {"name": "No id", "required": false, "schema": {"type": "string"}, "operations": []}
            ]
        }))
        .unwrap();
        let fields: Vec<CreateField> = page
            .fields
            .unwrap()
            .into_iter()
            .filter_map(FieldMeta::into_field)
            .collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].schema, FieldSchema::Option);
        assert!(fields[0].needs_value());
        assert!(!fields[0].filled_by_crate);
        assert_eq!(fields[0].allowed_names(), ["Red", "Blue"]);
        assert_eq!(fields[0].allowed_values.as_ref().unwrap()[1].id, "10102");
        assert_eq!(fields[1].id, "labels");
        assert!(fields[1].filled_by_crate);
        assert_eq!(fields[1].allowed_values, None);
    }
}
