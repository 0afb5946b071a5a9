//! The site's resolutions and `GET /rest/api/3/resolution/search`.
//!
//! The v3 spec (`searchResolutions`) pages them with `startAt` and `maxResults` (both
//! given as strings, defaults `0` and `50`), filters by `id` (repeatable) and `onlyDefault`,
//! and answers a `PageBeanResolutionJsonBean`: `self`, `nextPage` (when more follow),
//! `maxResults`, `startAt`, `total`, `isLast`, `values`. The values follow the spec's
//! example (`isDefault`) rather than its schema's `default`, since the example is what an
//! answer looks like.

use serde_json::{json, Value};

use super::reply;
use super::router::Ctx;
use super::world::{JiraData, Resolution};
use jira_notifier::HttpResponse;

const DEFAULT_PAGE: usize = 50;
/// The most a page holds: the spec names no limit; Jira's paged lists commonly stop at 100.
const MAX_PAGE: usize = 100;

/// Jira Cloud's resolutions on a new site, with its descriptions; `Done` is the default.
pub(crate) fn site_defaults() -> Vec<Resolution> {
    [
        ("10000", "Done", "Work has been completed on this issue."),
        ("10001", "Won't Do", "This issue won't be actioned."),
        (
            "10002",
            "Duplicate",
            "The problem is a duplicate of an existing issue.",
        ),
        (
            "10003",
            "Cannot Reproduce",
            "All attempts at reproducing this issue failed, or not enough information was available to reproduce the issue. Reading the code produces no facts that explain the behaviour. If more information appears later, please reopen the issue.",
        ),
    ]
    .into_iter()
    .map(|(id, name, description)| Resolution {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        default: id == "10000",
    })
    .collect()
}

/// A resolution as issues and transition screens show it (schema `Resolution`).
pub(crate) fn render(r: &Resolution, ctx: &Ctx<'_>) -> Value {
    json!({
        "self": format!("{}/rest/api/3/resolution/{}", ctx.base, r.id),
        "id": r.id,
        "description": r.description,
        "name": r.name,
    })
}

fn number(ctx: &Ctx<'_>, name: &str, default: usize) -> Result<usize, HttpResponse> {
    match ctx.param(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
            reply::bad_request(format!(
                "The value '{raw}' is not valid for the parameter '{name}'."
            ))
        }),
    }
}

pub(crate) fn search(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let start_at = match number(ctx, "startAt", 0) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let max_results = match number(ctx, "maxResults", DEFAULT_PAGE) {
        Ok(n) => n.min(MAX_PAGE),
        Err(answer) => return answer,
    };
    let ids: Vec<String> = ctx
        .params("id")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let only_default = ctx.param("onlyDefault").as_deref() == Some("true");
    let matching: Vec<&Resolution> = jira
        .resolutions
        .iter()
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .filter(|r| !only_default || r.default)
        .collect();
    let total = matching.len();
    let values: Vec<Value> = matching
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(|r| {
            let mut value = render(r, ctx);
            value["isDefault"] = Value::from(r.default);
            value
        })
        .collect();
    let end = start_at.saturating_add(values.len());
    let is_last = end >= total;
    let mut body = json!({
        "self": ctx.url(),
        "maxResults": max_results,
        "startAt": start_at,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = Value::from(ctx.url_with("startAt", &end.to_string()));
    }
    reply::jira(200, &body)
}

#[cfg(test)]
mod tests {
    use crate::testing::Client;
    use crate::SimJira;

    #[tokio::test]
    async fn lists_the_site_resolutions_page_by_page() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = c.get("/rest/api/3/resolution/search").await;
        assert_eq!(status, 200);
        let names: Vec<&str> = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]);
        assert_eq!(body["values"][1]["id"], "10001");
        assert_eq!(body["values"][0]["isDefault"], true);
        assert_eq!(
            (body["total"].as_u64(), body["isLast"].as_bool()),
            (Some(4), Some(true))
        );

        let (_, page) = c
            .get("/rest/api/3/resolution/search?startAt=1&maxResults=2")
            .await;
        assert_eq!(page["values"].as_array().unwrap().len(), 2);
        assert_eq!(page["values"][0]["name"], "Won't Do");
        assert_eq!(page["isLast"], false);
        assert!(page["nextPage"].as_str().unwrap().contains("startAt=3"));

        let (_, by_id) = c
            .get("/rest/api/3/resolution/search?id=10002&id=10003")
            .await;
        assert_eq!(by_id["total"], 2);
        let (_, defaults) = c
            .get("/rest/api/3/resolution/search?onlyDefault=true")
            .await;
        assert_eq!(defaults["values"][0]["name"], "Done");
        assert_eq!(defaults["total"], 1);
        let (status, _) = c.get("/rest/api/3/resolution/search?startAt=x").await;
        assert_eq!(status, 400);
    }
}
