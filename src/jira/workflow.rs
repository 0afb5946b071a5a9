//! Moving an issue through its workflow: reading the transitions it offers
//! (`GET /rest/api/3/issue/{id}?expand=transitions`, and the transition's screen with
//! `GET /rest/api/3/issue/{id}/transitions?transitionId=…&expand=transitions.fields`) and
//! making one (`POST /rest/api/3/issue/{id}/transitions`).
//!
//! The issue and its transitions come in one read; a transition's screen fields (is a
//! resolution required, which are allowed) only when it has a screen, since the issue
//! endpoint's `expand` documents `transitions` but not `transitions.fields`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::answers::{checked_issue_id, checked_issue_key, parse};
use super::calls::Found;
use super::client::JiraClient;
use super::lookup::LOOKUP_FIELDS;
use super::models::{FoundCategory, FoundFields};
use super::requests::{ApiRequest, Replay};
use crate::connection::Connection;
use crate::endpoints::Endpoints;
use crate::error::{Error, Result};
use crate::lifecycle::transitions::{Offered, ResolutionField};
use crate::transport::Method;

/// The operation names, in errors.
pub(crate) const ISSUE_TRANSITIONS: &str = "issue transitions";
pub(crate) const TRANSITION_SCREEN: &str = "transition screen";
pub(crate) const TRANSITION: &str = "transition issue";

/// `GET /rest/api/3/issue/{id}?fields=…&expand=transitions`.
pub(crate) fn issue_with_transitions(e: &Endpoints, cloud: &str, id: &str) -> ApiRequest {
    let mut url = e.jira(cloud, &["issue", id]);
    url.query_pairs_mut()
        .append_pair("fields", LOOKUP_FIELDS)
        .append_pair("expand", "transitions");
    ApiRequest {
        operation: ISSUE_TRANSITIONS,
        method: Method::Get,
        url,
        body: None,
        replay: Replay::Safe,
    }
}

/// `GET /rest/api/3/issue/{id}/transitions?transitionId=…&expand=transitions.fields`.
pub(crate) fn transition_screen(
    e: &Endpoints,
    cloud: &str,
    id: &str,
    transition_id: &str,
) -> ApiRequest {
    let mut url = e.jira(cloud, &["issue", id, "transitions"]);
    url.query_pairs_mut()
        .append_pair("transitionId", transition_id)
        .append_pair("expand", "transitions.fields");
    ApiRequest {
        operation: TRANSITION_SCREEN,
        method: Method::Get,
        url,
        body: None,
        replay: Replay::Safe,
    }
}

/// `POST /rest/api/3/issue/{id}/transitions` with the transition and, when set, the
/// resolution (by id). Sent again only if it surely did not arrive: a repeat of a
/// transition that was made is refused ("not valid for this issue").
pub(crate) fn transition(
    e: &Endpoints,
    cloud: &str,
    id: &str,
    transition_id: &str,
    resolution_id: Option<&str>,
) -> ApiRequest {
    let mut body = json!({ "transition": { "id": transition_id } });
    if let Some(r) = resolution_id {
        body["fields"] = json!({ "resolution": { "id": r } });
    }
    ApiRequest {
        operation: TRANSITION,
        method: Method::Post,
        url: e.jira(cloud, &["issue", id, "transitions"]),
        body: Some(body.to_string().into_bytes()),
        replay: Replay::OnlyIfNotReceived,
    }
}

/// An issue with the transitions it offers now.
#[derive(Debug, Clone)]
pub(crate) struct Movable {
    pub found: Found,
    pub done: bool,
    pub offered: Vec<Offered>,
}

#[derive(Deserialize)]
struct IssueAnswer {
    id: String,
    key: Option<String>,
    #[serde(default)]
    fields: FoundFields,
    #[serde(default)]
    transitions: Vec<WireTransition>,
}

#[derive(Deserialize)]
struct TransitionsAnswer {
    #[serde(default)]
    transitions: Vec<WireTransition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTransition {
    id: String,
    #[serde(default)]
    name: String,
    to: Option<WireStatus>,
    #[serde(default)]
    has_screen: bool,
    #[serde(default)]
    fields: BTreeMap<String, WireField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatus {
    #[serde(default)]
    name: String,
    status_category: Option<FoundCategory>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireField {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    allowed_values: Vec<Value>,
}

impl WireTransition {
    fn offered(self) -> Offered {
        let to_done = self
            .to
            .as_ref()
            .and_then(|s| s.status_category.as_ref())
            .and_then(|c| c.key.as_deref())
            == Some("done");
        let resolution = self.fields.get("resolution").map(|f| ResolutionField {
            required: f.required,
            allowed: f
                .allowed_values
                .iter()
                .filter_map(|v| {
                    let id = v.get("id")?.as_str()?.to_owned();
                    let name = v.get("name").and_then(Value::as_str).unwrap_or(&id);
                    Some((id.clone(), name.to_owned()))
                })
                .collect(),
        });
        Offered {
            id: self.id,
            name: self.name,
            to_status: self.to.map(|s| s.name).unwrap_or_default(),
            to_done,
            has_screen: self.has_screen,
            resolution,
        }
    }
}

impl JiraClient {
    /// The issue as it is now, with the transitions it offers.
    pub(crate) async fn movable(&self, conn: &Connection, issue_id: &str) -> Result<Movable> {
        let req = issue_with_transitions(&self.endpoints, &conn.site.cloud_id, issue_id);
        let resp = self.call(conn, &req).await?;
        let answer: IssueAnswer = parse(req.operation, &resp)?;
        let issue = super::models::FoundIssue {
            id: answer.id,
            key: answer.key,
            fields: answer.fields,
        };
        let Some(key) = issue.key() else {
            return Err(Error::unexpected(req.operation, "an issue without a key"));
        };
        checked_issue_key(req.operation, key)?;
        checked_issue_id(req.operation, &issue.id)?;
        Ok(Movable {
            found: Found {
                id: issue.id.clone(),
                key: key.to_owned(),
            },
            done: issue.is_done(),
            offered: answer
                .transitions
                .into_iter()
                .map(WireTransition::offered)
                .collect(),
        })
    }

    /// The transition with its screen's fields (the resolution, if the screen has it).
    pub(crate) async fn with_screen(
        &self,
        conn: &Connection,
        issue_id: &str,
        t: &Offered,
    ) -> Result<Offered> {
        let req = transition_screen(&self.endpoints, &conn.site.cloud_id, issue_id, &t.id);
        let resp = self.call(conn, &req).await?;
        let answer: TransitionsAnswer = parse(req.operation, &resp)?;
        Ok(answer
            .transitions
            .into_iter()
            .find(|w| w.id == t.id)
            .map(WireTransition::offered)
            .unwrap_or_else(|| t.clone()))
    }

    /// Makes the transition.
    pub(crate) async fn make_transition(
        &self,
        conn: &Connection,
        issue_id: &str,
        transition_id: &str,
        resolution_id: Option<&str>,
    ) -> Result<()> {
        let req = transition(
            &self.endpoints,
            &conn.site.cloud_id,
            issue_id,
            transition_id,
            resolution_id,
        );
        self.call(conn, &req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};

    fn e() -> Endpoints {
        Endpoints::new(DEFAULT_AUTH_URL, DEFAULT_API_URL).unwrap()
    }

    #[test]
    fn requests_are_the_documented_routes() {
        let r = issue_with_transitions(&e(), "c1", "10042");
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/10042?fields=status%2Clabels%2Cresolution%2Cstatuscategorychangedate&expand=transitions"
        );
        let r = transition_screen(&e(), "c1", "10042", "31");
        assert_eq!(
            r.url.as_str(),
            "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/10042/transitions?transitionId=31&expand=transitions.fields"
        );
        let r = transition(&e(), "c1", "10042", "31", Some("10001"));
        assert_eq!(r.method, Method::Post);
        let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"transition": {"id": "31"}, "fields": {"resolution": {"id": "10001"}}})
        );
        let r = transition(&e(), "c1", "10042", "11", None);
        let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"transition": {"id": "11"}}));
        assert_eq!(r.replay, Replay::OnlyIfNotReceived);
    }

    #[test]
    fn reads_a_transition_with_its_screen() {
        let w: WireTransition = serde_json::from_value(json!({
            "id": "31", "name": "Resolve issue", "hasScreen": true,
            "to": {"name": "Done", "statusCategory": {"key": "done"}},
            "fields": {"resolution": {"required": true, "allowedValues": [
                {"id": "10000", "name": "Done"}, {"id": "10001", "name": "Won't Do"}
            ]}}
        }))
        .unwrap();
        let o = w.offered();
        assert!(o.to_done && o.has_screen);
        let r = o.resolution.unwrap();
        assert!(r.required);
        assert_eq!(r.allowed[1], ("10001".to_owned(), "Won't Do".to_owned()));
    }
}
