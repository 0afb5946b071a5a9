//! Comments: checking a body (shared by `POST /issue/{id}/comment` and a transition's
//! `update.comment`), the `Comment` shape, and `GET /rest/api/3/issue/{issueIdOrKey}/comment`.
//!
//! The list follows the v3 spec (`getComments`): `startAt` (default 0), `maxResults`
//! (default 100), `orderBy` one of `created`, `-created`, `+created` (anything else: 400),
//! answered as a `PageOfComments` (`startAt`, `maxResults`, `total`, `comments`).

use serde_json::{json, Map, Value};

use super::adf::{self, AdfError};
use super::clock;
use super::render;
use super::reply;
use super::router::Ctx;
use super::world::{Issue, JiraData, StoredComment};
use jira_notifier::HttpResponse;

const DEFAULT_PAGE: i64 = 100;

fn comment_error(message: &str) -> HttpResponse {
    let mut errors = Map::new();
    errors.insert("comment".to_owned(), Value::from(message));
    reply::field_errors(errors)
}

/// Refuses a comment body that is not an ADF document Jira can store.
pub(crate) fn check_body(doc: Option<&Value>) -> Result<&Value, HttpResponse> {
    let Some(doc) = doc else {
        return Err(comment_error("Comment body can not be empty!"));
    };
    match adf::check(doc) {
        Ok(()) => Ok(doc),
        // (as Jira, recorded)
        Err(AdfError::NotADocument) => Err(comment_error("Comment body is not valid!")),
        Err(AdfError::TooLong) => Err(comment_error(
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters.",
        )),
        Err(AdfError::Invalid | AdfError::EmptyText) => Err(reply::bad_request("INVALID_INPUT")),
    }
}

/// Whether the service account may comment on the issue's project.
pub(crate) fn may_comment(jira: &JiraData, issue: &Issue) -> bool {
    jira.projects
        .get(issue.project)
        .is_some_and(|p| p.granted.contains("ADD_COMMENTS"))
}

/// A comment as Jira shows it (schema `Comment`); the service account wrote them all.
pub(crate) fn render(
    comment: &StoredComment,
    issue: &Issue,
    jira: &JiraData,
    ctx: &Ctx<'_>,
) -> Value {
    let author = jira.service_account().map(|u| render::user(u, ctx));
    let at = clock::jira_datetime(comment.created);
    json!({
        "self": format!("{}/rest/api/3/issue/{}/comment/{}", ctx.base, issue.id, comment.id),
        "id": comment.id.to_string(),
        "author": author,
        "body": comment.body,
        "updateAuthor": author,
        "created": at,
        "updated": at,
        "jsdPublic": true,
    })
}

pub(crate) fn list(jira: &JiraData, ctx: &Ctx<'_>, id_or_key: &str) -> HttpResponse {
    let Some(issue) = jira
        .issue_index(id_or_key)
        .and_then(|index| jira.issues.get(index))
    else {
        return reply::issue_not_found();
    };
    let number = |name: &str, default: i64| -> Result<i64, HttpResponse> {
        match ctx.param(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse::<i64>().map_err(|_| {
                reply::bad_request(format!(
                    "The value '{raw}' is not valid for the parameter '{name}'."
                ))
            }),
        }
    };
    let start_at = match number("startAt", 0) {
        Ok(n) => n.max(0),
        Err(answer) => return answer,
    };
    let max_results = match number("maxResults", DEFAULT_PAGE) {
        Ok(n) => n.clamp(0, DEFAULT_PAGE),
        Err(answer) => return answer,
    };
    let newest_first = match ctx.param("orderBy").as_deref() {
        None | Some("created" | "+created") => false,
        Some("-created") => true,
        Some(other) => {
            return reply::bad_request(format!(
                "The value '{other}' is not valid for the parameter 'orderBy'."
            ))
        }
    };
    let mut all: Vec<&StoredComment> = issue.comments.iter().collect();
    if newest_first {
        all.reverse();
    }
    let comments: Vec<Value> = all
        .iter()
        .skip(usize::try_from(start_at).unwrap_or(usize::MAX))
        .take(usize::try_from(max_results).unwrap_or(0))
        .map(|c| render(c, issue, jira, ctx))
        .collect();
    reply::jira(
        200,
        &json!({
            "startAt": start_at,
            "maxResults": max_results,
            "total": all.len(),
            "comments": comments,
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use crate::testing::Client;
    use crate::SimJira;

    fn doc(text: &str) -> Value {
        json!({"version": 1, "type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        ]})
    }

    #[tokio::test(start_paused = true)]
    async fn comments_are_listed_with_their_times_page_by_page() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("x", &[]).await;
        let start = sim.now();
        for text in ["one", "two", "three"] {
            let (status, _) = c
                .post("/rest/api/3/issue/QA-1/comment", json!({"body": doc(text)}))
                .await;
            assert_eq!(status, 201);
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        let stored = sim.comments("QA-1").unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[0].id, "10000");
        assert_eq!(stored[2].body, doc("three"));
        assert_eq!(
            stored[2].created.duration_since(start).unwrap(),
            Duration::from_secs(120)
        );
        assert!(sim.comments("QA-9").is_none());

        let (status, page) = c.get("/rest/api/3/issue/QA-1/comment").await;
        assert_eq!(status, 200);
        assert_eq!(
            (page["total"].as_u64(), page["startAt"].as_u64()),
            (Some(3), Some(0))
        );
        assert_eq!(page["maxResults"], 100);
        assert_eq!(page["comments"][0]["body"], doc("one"));
        assert_eq!(page["comments"][0]["id"], "10000");
        assert!(page["comments"][0]["self"]
            .as_str()
            .unwrap()
            .ends_with("/rest/api/3/issue/10000/comment/10000"));
        let (_, newest) = c
            .get("/rest/api/3/issue/QA-1/comment?orderBy=-created&maxResults=1&startAt=0")
            .await;
        assert_eq!(newest["comments"].as_array().unwrap().len(), 1);
        assert_eq!(newest["comments"][0]["body"], doc("three"));
        assert_ne!(
            newest["comments"][0]["created"],
            page["comments"][0]["created"]
        );
        assert_eq!(
            c.get("/rest/api/3/issue/QA-1/comment?orderBy=id").await.0,
            400
        );
        assert_eq!(c.get("/rest/api/3/issue/QA-9/comment").await.0, 404);
    }
}
