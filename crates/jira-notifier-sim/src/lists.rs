//! What the settings screen lists: projects, a project's issue types, assignable users, and
//! the signed-in service account.

use serde_json::{json, Value};

use super::render;
use super::reply;
use super::router::Ctx;
use super::screens;
use super::world::{JiraData, User};
use jira_notifier::HttpResponse;

const PROJECT_PAGE_MAX: i64 = 100;
const USER_PAGE_MAX: i64 = 1000;
/// Jira's user searches only ever look at the first 1,000 candidates: windows past that
/// come back empty, whatever they would have held. (The v3 spec's `maxResults` of
/// `findAssignableUsers`: "fetches users up to the maximum and then, from the fetched users,
/// returns only the users that can be assigned"; the 1,000 window is from the review of
/// Jira's edges, issue 9.)
const USER_WINDOW: usize = 1000;
const DEFAULT_PAGE: i64 = 50;
/// What `orderBy` accepts, each optionally prefixed with `+` or `-`.
const PROJECT_ORDERS: [&str; 9] = [
    "category",
    "key",
    "name",
    "owner",
    "issueCount",
    "lastIssueUpdatedDate",
    "lastIssueUpdatedTime",
    "archivedDate",
    "deletedDate",
];

/// Reads a paging parameter: `default` when absent, an answer when not a usable number.
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

/// The `[start, start + count)` window of `len` items, clamped.
fn window(len: usize, start: i64, count: i64) -> std::ops::Range<usize> {
    let start = usize::try_from(start).unwrap_or(0).min(len);
    let end = start
        .saturating_add(usize::try_from(count).unwrap_or(0))
        .min(len);
    start..end
}

/// `GET /rest/api/3/project/search`.
pub(crate) fn projects(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let start_at = match paging(ctx, "startAt", 0, 0) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let max_results = match paging(ctx, "maxResults", DEFAULT_PAGE, 1) {
        Ok(n) => n.min(PROJECT_PAGE_MAX),
        Err(answer) => return answer,
    };
    let order = ctx.param("orderBy").unwrap_or_else(|| "key".to_owned());
    let (descending, order_field) = match order.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, order.strip_prefix('+').unwrap_or(&order)),
    };
    if !PROJECT_ORDERS.contains(&order_field) {
        return reply::bad_request(format!(
            "The field to order by should be one of [name, key, owner, category, issueCount, \
             lastIssueUpdatedTime, archivedDate, deletedDate]. Instead, it was: {order}."
        ));
    }
    let keys: Vec<String> = ctx
        .params("keys")
        .iter()
        .flat_map(|k| k.split(','))
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    let ids = ctx.params("id");
    let query = ctx.param("query").map(|q| q.to_lowercase());
    // What the service account must be able to do in a project for it to be listed.
    let needed = match ctx.param("action").as_deref() {
        None | Some("view" | "browse") => "BROWSE_PROJECTS",
        Some("edit") => "ADMINISTER_PROJECTS",
        Some("create") => "CREATE_ISSUES",
        Some(other) => {
            return reply::bad_request(format!(
                "The value '{other}' is not valid for the parameter 'action'. Valid values are [view, browse, edit, create]."
            ))
        }
    };
    let mut matching: Vec<_> = jira
        .projects
        .iter()
        .filter(|p| p.granted.contains(needed))
        .filter(|p| keys.is_empty() || keys.contains(&p.key))
        .filter(|p| ids.is_empty() || ids.contains(&p.id))
        .filter(|p| {
            query.as_deref().is_none_or(|q| {
                p.key.to_lowercase().contains(q) || p.name.to_lowercase().contains(q)
            })
        })
        .collect();
    if order_field == "name" {
        matching.sort_by_key(|p| p.name.to_lowercase());
    } else {
        matching.sort_by(|a, b| a.key.cmp(&b.key));
    }
    if descending {
        matching.reverse();
    }
    let range = window(matching.len(), start_at, max_results);
    let is_last = range.end >= matching.len();
    let values: Vec<Value> = matching[range.clone()]
        .iter()
        .map(|p| render::project(p, jira, ctx, false))
        .collect();
    let mut body = json!({
        "self": ctx.url(),
        "maxResults": max_results,
        "startAt": start_at,
        "total": matching.len(),
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = Value::from(ctx.url_with("startAt", &range.end.to_string()));
    }
    reply::jira(200, &body)
}

/// `GET /rest/api/3/project/{projectIdOrKey}`.
pub(crate) fn project(jira: &JiraData, ctx: &Ctx<'_>, id_or_key: &str) -> HttpResponse {
    match jira
        .project_index(id_or_key)
        .and_then(|i| jira.projects.get(i))
    {
        Some(p) => reply::jira(200, &render::project(p, jira, ctx, true)),
        None => reply::project_not_found(id_or_key),
    }
}

/// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes`.
pub(crate) fn issue_types(jira: &JiraData, ctx: &Ctx<'_>, id_or_key: &str) -> HttpResponse {
    let Some(project) = jira
        .project_index(id_or_key)
        .and_then(|i| jira.projects.get(i))
    else {
        return reply::project_not_found(id_or_key);
    };
    let (start_at, max_results) = match screens::createmeta_page(ctx) {
        Ok(page) => page,
        Err(answer) => return answer,
    };
    // Only the types the service account can create: none without Create Issues.
    let types: Vec<_> = project
        .issue_type_ids
        .iter()
        .filter(|_| project.granted.contains("CREATE_ISSUES"))
        .filter_map(|id| jira.issue_type(id))
        .collect();
    let range = window(types.len(), start_at, max_results);
    let page: Vec<Value> = types[range]
        .iter()
        .map(|t| render::issue_type(t, ctx))
        .collect();
    reply::jira(
        200,
        &json!({
            "issueTypes": page,
            "maxResults": max_results,
            "startAt": start_at,
            "total": types.len(),
        }),
    )
}

/// Jira's user picker match: a prefix of any word of the display name, or of the email.
fn matches_query(user: &User, query: &str) -> bool {
    let query = query.to_lowercase();
    user.display_name
        .split_whitespace()
        .any(|word| word.to_lowercase().starts_with(&query))
        || user
            .email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().starts_with(&query))
}

/// `GET /rest/api/3/user/assignable/search`.
///
/// Like Jira, this takes the page of assignable users first and filters it afterwards, so a
/// page may hold fewer than `maxResults` users (even none) while later pages hold more; and
/// the pages only ever window over the first 1,000 candidates.
pub(crate) fn assignable_users(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let query = ctx.param("query");
    let account_id = ctx.param("accountId");
    if query.is_some() && account_id.is_some() {
        return reply::bad_request(
            "The query parameters 'query' and 'accountId' are mutually exclusive.",
        );
    }
    let project_key = if let Some(project) = ctx.param("project") {
        match jira
            .project_index(&project)
            .and_then(|i| jira.projects.get(i))
        {
            Some(p) => p.key.clone(),
            None => return reply::project_not_found(&project),
        }
    } else if let Some(issue) = ctx.param("issueKey").or_else(|| ctx.param("issueId")) {
        let project = jira
            .issue_index(&issue)
            .and_then(|i| jira.issues.get(i))
            .and_then(|issue| jira.projects.get(issue.project));
        match project {
            Some(p) => p.key.clone(),
            None => return reply::issue_not_found(),
        }
    } else {
        return reply::bad_request("No project, issue key or issue ID was provided");
    };
    let start_at = match paging(ctx, "startAt", 0, 0) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let max_results = match paging(ctx, "maxResults", DEFAULT_PAGE, 1) {
        Ok(n) => n.min(USER_PAGE_MAX),
        Err(answer) => return answer,
    };
    let everyone = jira.assignable_users(&project_key);
    let range = window(everyone.len().min(USER_WINDOW), start_at, max_results);
    let page: Vec<Value> = everyone[range]
        .iter()
        .filter(|u| u.active)
        .filter(|u| query.as_deref().is_none_or(|q| matches_query(u, q)))
        .filter(|u| account_id.as_deref().is_none_or(|id| u.account_id == id))
        .map(|u| render::user(u, ctx))
        .collect();
    reply::jira(200, &Value::Array(page))
}

/// `GET /rest/api/3/myself`.
pub(crate) fn myself(jira: &JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    match jira.service_account() {
        Some(user) => {
            let mut body = render::user(user, ctx);
            body["locale"] = Value::from("en_US");
            reply::jira(200, &body)
        }
        None => reply::jira_errors(404, &["The user does not exist.".to_owned()]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::testing::{Client, GATEWAY};
    use crate::SimJira;

    fn field<'a>(list: &'a Value, name: &str) -> Vec<&'a str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v[name].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn project_search_pages_and_filters() {
        let sim = SimJira::new();
        sim.add_project("ZED", "Zed", &["Task"]);
        let c = Client::new(&sim).await;
        let (status, page) = c.get("/rest/api/3/project/search?maxResults=2").await;
        assert_eq!(status, 200);
        assert_eq!(field(&page["values"], "key"), ["OPS", "QA"]);
        assert_eq!(
            (page["total"].as_u64(), page["isLast"].as_bool()),
            (Some(3), Some(false))
        );
        let next = page["nextPage"].as_str().unwrap();
        assert!(
            next.starts_with(GATEWAY) && next.contains("startAt=2"),
            "{next}"
        );
        let (_, last) = c
            .get("/rest/api/3/project/search?maxResults=2&startAt=2")
            .await;
        assert_eq!(field(&last["values"], "key"), ["ZED"]);
        assert_eq!(last["isLast"], true);
        assert!(last.get("nextPage").is_none());
        let (_, capped) = c.get("/rest/api/3/project/search?maxResults=500").await;
        assert_eq!(capped["maxResults"], 100);
        let (_, only) = c.get("/rest/api/3/project/search?keys=QA&keys=ZED").await;
        assert_eq!(field(&only["values"], "key"), ["QA", "ZED"]);
        let (_, by_name) = c.get("/rest/api/3/project/search?orderBy=-name").await;
        assert_eq!(
            field(&by_name["values"], "name"),
            ["Zed", "Quality Assurance", "Operations"]
        );
    }

    #[tokio::test]
    async fn project_search_refuses_unknown_order() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = c.get("/rest/api/3/project/search?orderBy=zz").await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"errorMessages": ["The field to order by should be one of [name, key, owner, category, issueCount, lastIssueUpdatedTime, archivedDate, deletedDate]. Instead, it was: zz."], "errors": {}})
        );
        let (status, _) = c.get("/rest/api/3/project/search?startAt=-1").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn project_by_key_or_id() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, qa) = c.get("/rest/api/3/project/QA").await;
        assert_eq!(status, 200);
        assert_eq!(qa["name"], "Quality Assurance");
        assert_eq!(field(&qa["issueTypes"], "name"), ["Bug", "Task", "Story"]);
        let (_, by_id) = c
            .get(&format!(
                "/rest/api/3/project/{}",
                qa["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(by_id["key"], "QA");
        let (status, body) = c.get("/rest/api/3/project/NOPEZZQ").await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"errorMessages": ["No project could be found with key 'NOPEZZQ'."], "errors": {}})
        );
        // Keys are case sensitive in REST paths.
        assert_eq!(c.get("/rest/api/3/project/qa").await.0, 404);
    }

    #[tokio::test]
    async fn createmeta_lists_only_the_projects_types() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = c.get("/rest/api/3/issue/createmeta/OPS/issuetypes").await;
        assert_eq!(status, 200);
        assert_eq!(field(&body["issueTypes"], "name"), ["Task", "Incident"]);
        assert_eq!(body["total"], 2);
        assert_eq!(body["issueTypes"][0]["subtask"], false);
        let (_, page) = c
            .get("/rest/api/3/issue/createmeta/QA/issuetypes?startAt=1&maxResults=1")
            .await;
        assert_eq!(field(&page["issueTypes"], "name"), ["Task"]);
        assert_eq!(
            (page["total"].as_u64(), page["maxResults"].as_u64()),
            (Some(3), Some(1))
        );
        let (status, _) = c.get("/rest/api/3/issue/createmeta/NOPE/issuetypes").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn assignable_search_needs_a_project_and_one_filter() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, body) = c.get("/rest/api/3/user/assignable/search").await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"errorMessages": ["No project, issue key or issue ID was provided"], "errors": {}})
            )
        );
        let (status, body) = c
            .get("/rest/api/3/user/assignable/search?project=QA&query=a&accountId=x")
            .await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"errorMessages": ["The query parameters 'query' and 'accountId' are mutually exclusive."], "errors": {}})
            )
        );
        let (status, _) = c
            .get("/rest/api/3/user/assignable/search?project=NOPE")
            .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn assignable_search_lists_active_users_of_the_project() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, users) = c.get("/rest/api/3/user/assignable/search?project=QA").await;
        assert_eq!(status, 200);
        assert_eq!(
            field(&users, "displayName"),
            ["Alice Anderson", "Bob Brown", "Carol Chen"]
        );
        assert_eq!(users[0]["accountType"], "atlassian");
        assert_eq!(users[0]["active"], true);
        let (_, ops) = c
            .get("/rest/api/3/user/assignable/search?project=OPS")
            .await;
        assert_eq!(
            field(&ops, "accountId"),
            ["712020:alice", "712020:carol", "712020:erin"]
        );
        let (_, by_word) = c
            .get("/rest/api/3/user/assignable/search?project=QA&query=CHE")
            .await;
        assert_eq!(field(&by_word, "displayName"), ["Carol Chen"]);
        let (_, by_email) = c
            .get("/rest/api/3/user/assignable/search?project=QA&query=bob%40")
            .await;
        assert_eq!(field(&by_email, "displayName"), ["Bob Brown"]);
        let (_, by_id) = c
            .get("/rest/api/3/user/assignable/search?issueKey=QA-1&accountId=712020%3Abob")
            .await;
        assert_eq!(
            by_id,
            json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
        );
        c.create("x", &[]).await;
        let (_, by_id) = c
            .get("/rest/api/3/user/assignable/search?issueKey=QA-1&accountId=712020%3Abob")
            .await;
        assert_eq!(field(&by_id, "accountId"), ["712020:bob"]);
    }

    #[tokio::test]
    async fn assignable_search_filters_inside_each_page() {
        let sim = SimJira::empty();
        sim.add_site(SimJira::CLOUD_ID, "acme");
        sim.add_project("QA", "Quality Assurance", &["Bug"]);
        for n in 0..5 {
            sim.add_user(&format!("u{n}"), &format!("Filler {n}"), true, &["QA"]);
        }
        sim.add_user("gone", "Zoe Gone", false, &["QA"]);
        sim.add_user("zed", "Zed Zimmer", true, &["QA"]);
        let c = Client::new(&sim).await;
        let page = |start: usize| {
            let c = &c;
            async move {
                let path = format!("/rest/api/3/user/assignable/search?project=QA&query=z&maxResults=3&startAt={start}");
                c.get(&path).await.1
            }
        };
        assert_eq!(page(0).await, json!([]));
        // The inactive match is dropped from the page, so it is short but not the last.
        assert_eq!(page(3).await, json!([]));
        assert_eq!(field(&page(6).await, "accountId"), ["zed"]);
        assert_eq!(page(9).await, json!([]));
        let (_, full) = c
            .get("/rest/api/3/user/assignable/search?project=QA&maxResults=3&startAt=3")
            .await;
        assert_eq!(field(&full, "accountId"), ["u3", "u4"]);
    }

    #[tokio::test]
    async fn assignable_search_windows_over_the_first_thousand_users_only() {
        let sim = SimJira::empty();
        sim.add_site(SimJira::CLOUD_ID, "acme");
        sim.add_project("QA", "Quality Assurance", &["Bug"]);
        for n in 0..1_100 {
            let name = if n == 999 || n == 1_000 {
                "Zed"
            } else {
                "Filler"
            };
            sim.add_user(&format!("u{n}"), &format!("{name} {n}"), true, &["QA"]);
        }
        let c = Client::new(&sim).await;
        let page = |start: usize| {
            let c = &c;
            async move {
                let path = format!(
                    "/rest/api/3/user/assignable/search?project=QA&query=zed&maxResults=100&startAt={start}"
                );
                c.get(&path).await.1
            }
        };
        assert_eq!(field(&page(900).await, "accountId"), ["u999"]);
        // The 1,001st candidate is past the window: never listed.
        assert_eq!(page(1_000).await, json!([]));
    }

    #[tokio::test]
    async fn myself_is_the_service_account() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let (status, me) = c.get("/rest/api/3/myself").await;
        assert_eq!(status, 200);
        assert_eq!(me["accountId"], SimJira::SERVICE_ACCOUNT_ID);
        assert_eq!(me["accountType"], "app");
    }
}
