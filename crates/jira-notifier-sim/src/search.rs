//! `POST|GET /rest/api/3/search/jql` (search and reconcile) and the retired
//! `/rest/api/3/search`.

use serde_json::{json, Value};

use super::jql::{self, Plan, Rejection, Subject};
use super::render::{self, FieldSet};
use super::reply;
use super::router::{Body, Ctx};
use super::world::{IssueState, JiraData};
use jira_notifier::HttpResponse;

const DEFAULT_MAX_RESULTS: i64 = 50;
const MAX_RESULTS: i64 = 5000;
const MAX_RECONCILE: usize = 50;
/// Jira pages shrink when more than ids and keys are asked for; callers must follow
/// `nextPageToken` rather than count on `maxResults`.
const FULL_FIELDS_PAGE: usize = 100;
const BODY_MEMBERS: [&str; 8] = [
    "jql",
    "fields",
    "maxResults",
    "nextPageToken",
    "reconcileIssues",
    "expand",
    "properties",
    "fieldsByKeys",
];

const RETIRED: &str = "The requested API has been removed. Please migrate to the \
                       /rest/api/3/search/jql API. A full migration guideline is available at \
                       https://developer.atlassian.com/changelog/#CHANGE-2046";
const MAX_RESULTS_RANGE: &str = "The max results parameter has to be between 1 and 5,000.";
const INVALID_TOKEN: &str = "The provided next page token is invalid or expired.";
const UNBOUNDED: &str = "Unbounded JQL queries are not allowed here. Please add a search \
                         restriction to your query.";

/// A search, from a JSON body or query parameters.
#[derive(Debug, Default)]
struct SearchRequest {
    jql: String,
    fields: Vec<String>,
    max_results: i64,
    next_page_token: Option<String>,
    reconcile: Vec<i64>,
}

pub(crate) fn retired() -> HttpResponse {
    reply::jira_errors(410, &[RETIRED.to_owned()])
}

pub(crate) fn post(jira: &mut JiraData, ctx: &Ctx<'_>, body: &Body) -> HttpResponse {
    let request = match body {
        Body::Invalid => return reply::json_parse_error(),
        Body::Empty => return reply::invalid_payload(),
        Body::Json(value) => match from_json(value) {
            Some(request) => request,
            None => return reply::invalid_payload(),
        },
    };
    run(jira, ctx, &request)
}

/// A list of strings, or `None` when the value is anything else.
fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    match value {
        None => Some(Vec::new()),
        Some(v) => v
            .as_array()?
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
    }
}

/// Reads the body as Jira's strict bean does: unknown members and wrong types are refused.
fn from_json(value: &Value) -> Option<SearchRequest> {
    let members = value.as_object()?;
    if members.keys().any(|k| !BODY_MEMBERS.contains(&k.as_str())) {
        return None;
    }
    let member = |name: &str| members.get(name).filter(|v| !v.is_null());
    let jql = match member("jql") {
        Some(v) => v.as_str()?.to_owned(),
        None => String::new(),
    };
    let max_results = match member("maxResults") {
        Some(v) => i64::from(i32::try_from(v.as_i64()?).ok()?),
        None => DEFAULT_MAX_RESULTS,
    };
    let next_page_token = match member("nextPageToken") {
        Some(v) => Some(v.as_str()?.to_owned()),
        None => None,
    };
    let reconcile = match member("reconcileIssues") {
        Some(v) => v
            .as_array()?
            .iter()
            .map(Value::as_i64)
            .collect::<Option<_>>()?,
        None => Vec::new(),
    };
    if let Some(v) = member("expand") {
        v.as_str()?;
    }
    if let Some(v) = member("fieldsByKeys") {
        v.as_bool()?;
    }
    strings(member("properties"))?;
    Some(SearchRequest {
        jql,
        fields: strings(member("fields"))?,
        max_results,
        next_page_token,
        reconcile,
    })
}

pub(crate) fn get(jira: &mut JiraData, ctx: &Ctx<'_>) -> HttpResponse {
    let not_valid = |name: &str, value: &str| {
        reply::bad_request(format!(
            "The value '{value}' is not valid for the parameter '{name}'."
        ))
    };
    let max_results = match ctx.param("maxResults") {
        None => DEFAULT_MAX_RESULTS,
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) => i64::from(n),
            Err(_) => return not_valid("maxResults", &v),
        },
    };
    let mut reconcile = Vec::new();
    for item in ctx
        .params("reconcileIssues")
        .iter()
        .flat_map(|v| v.split(','))
    {
        match item.trim().parse::<i64>() {
            Ok(id) => reconcile.push(id),
            Err(_) => return not_valid("reconcileIssues", item),
        }
    }
    let request = SearchRequest {
        jql: ctx.param("jql").unwrap_or_default(),
        fields: ctx.params("fields"),
        max_results,
        next_page_token: ctx.param("nextPageToken"),
        reconcile,
    };
    run(jira, ctx, &request)
}

fn run(jira: &mut JiraData, ctx: &Ctx<'_>, request: &SearchRequest) -> HttpResponse {
    if !(1..=MAX_RESULTS).contains(&request.max_results) {
        return reply::bad_request(MAX_RESULTS_RANGE);
    }
    if request.reconcile.len() > MAX_RECONCILE {
        return reply::bad_request(format!(
            "reconcileIssues accepts at most {MAX_RECONCILE} issue IDs."
        ));
    }
    if let Some(refused) = jira.stale_reconcile(&request.reconcile) {
        return refused;
    }
    let query = match jql::parse(&request.jql) {
        Ok(query) => query,
        Err(message) => return reply::bad_request(message),
    };
    let plan = match jql::plan(&query, jira) {
        Ok(plan) => plan,
        Err(Rejection::Unbounded) => return reply::bad_request(UNBOUNDED),
        Err(Rejection::Invalid(messages)) => return reply::jira_errors(400, &messages),
    };
    let offset = match &request.next_page_token {
        None => 0,
        Some(token) => match jira.page_tokens.resolve(token, &request.jql, ctx.now) {
            Some(offset) => offset,
            None => return reply::bad_request(INVALID_TOKEN),
        },
    };
    let fields = FieldSet::parse(&request.fields, FieldSet::id_only());
    let asked = usize::try_from(request.max_results).unwrap_or(1);
    let page_size = if fields.ids_and_keys_only() {
        asked
    } else {
        asked.min(FULL_FIELDS_PAGE)
    };
    let found = matching(jira, &plan, &request.reconcile, ctx);
    let end = offset.saturating_add(page_size).min(found.len());
    let issues: Vec<Value> = found
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .filter_map(|(index, state)| {
            let issue = jira.issues.get(*index)?;
            Some(render::issue(issue, state, jira, &fields, ctx))
        })
        .collect();
    let is_last = end >= found.len();
    let mut body = json!({"issues": issues, "isLast": is_last});
    if !is_last {
        body["nextPageToken"] = Value::from(jira.page_tokens.issue(&request.jql, end, ctx.now));
    }
    reply::jira(200, &body)
}

/// The matching issues in order, each with the workflow state the search saw.
///
/// The index lags `search_lag` behind: newer issues are missing and newer status changes
/// (transitions, resolutions) unseen, except for the issues named in `reconcile`, which
/// are judged on current data.
fn matching<'a>(
    jira: &'a JiraData,
    plan: &Plan,
    reconcile: &[i64],
    ctx: &Ctx<'_>,
) -> Vec<(usize, &'a IssueState)> {
    let reconciled: Vec<usize> = reconcile
        .iter()
        .filter_map(|id| jira.index_of_id(*id))
        .collect();
    let mut candidates = plan
        .pred
        .candidates(jira)
        .unwrap_or_else(|| (0..jira.issues.len()).collect());
    candidates.extend(&reconciled);
    candidates.sort_unstable();
    candidates.dedup();
    let mut found = Vec::new();
    for index in candidates {
        let Some(issue) = jira.issues.get(index).filter(|i| !i.deleted) else {
            continue;
        };
        let seen = if reconciled.contains(&index) {
            Some(issue.state())
        } else {
            issue.state_seen(ctx.now, ctx.search_lag)
        };
        let Some(state) = seen else {
            continue;
        };
        if plan.pred.matches(&Subject {
            index,
            issue,
            state,
        }) {
            found.push((index, state));
        }
    }
    found.sort_by(|a, b| jql::compare(&plan.order, jira, a.0, b.0));
    found
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use crate::testing::{body_of, get, post, send, Client, GATEWAY};
    use crate::{SimJira, StatusCategory};

    const OPEN: &str = "labels = \"t-1\" AND statusCategory != Done";

    fn ids(body: &Value) -> Vec<String> {
        body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn returns_ids_only_by_default_and_no_total() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let created = c.create("one", &["t-1"]).await;
        c.create("other", &["t-2"]).await;
        let (status, body) = c.search(json!({"jql": OPEN})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"issues": [{"id": created["id"]}], "isLast": true})
        );
    }

    #[tokio::test]
    async fn returns_requested_fields_with_key_at_top_level() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("one", &["t-1", "extra"]).await;
        let (_, body) = c
            .search(json!({"jql": OPEN, "fields": ["key", "status", "labels", "created"]}))
            .await;
        let issue = &body["issues"][0];
        assert_eq!(issue["key"], "QA-1");
        assert_eq!(issue["fields"]["status"]["name"], "To Do");
        assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "new");
        assert_eq!(issue["fields"]["labels"], json!(["t-1", "extra"]));
        assert!(issue["fields"]["created"]
            .as_str()
            .unwrap()
            .ends_with("+0000"));
        assert!(issue["fields"].get("summary").is_none());
    }

    #[tokio::test]
    async fn done_issues_drop_out_and_labels_match_without_case() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("one", &["T-1"]).await;
        let (_, body) = c.search(json!({"jql": OPEN})).await;
        assert_eq!(ids(&body).len(), 1);
        assert!(sim.set_status("QA-1", StatusCategory::Done));
        let (_, body) = c.search(json!({"jql": OPEN})).await;
        assert!(ids(&body).is_empty());
        let (_, body) = c
            .search(json!({"jql": "labels in (\"x\", \"t-1\") AND statusCategory = \"Done\""}))
            .await;
        assert_eq!(ids(&body), vec!["10000"]);
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_index_misses_new_issues_unless_reconciled() {
        let sim = SimJira::new();
        sim.set_search_lag(Duration::from_secs(5));
        let c = Client::new(&sim).await;
        let created = c.create("one", &["t-1"]).await;
        let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
        let (_, body) = c.search(json!({"jql": OPEN})).await;
        assert!(ids(&body).is_empty());
        let (_, body) = c
            .search(json!({"jql": OPEN, "reconcileIssues": [id]}))
            .await;
        assert_eq!(ids(&body), vec![id.to_string()]);
        tokio::time::advance(Duration::from_secs(5)).await;
        let (_, body) = c.search(json!({"jql": OPEN})).await;
        assert_eq!(ids(&body), vec![id.to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_index_sees_the_old_status_unless_reconciled() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let created = c.create("one", &["t-1"]).await;
        let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
        sim.set_search_lag(Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(10)).await;
        sim.set_status("QA-1", StatusCategory::Done);
        let stale = json!({"jql": OPEN, "fields": ["status"]});
        let (_, body) = c.search(stale.clone()).await;
        assert_eq!(
            body["issues"][0]["fields"]["status"]["statusCategory"]["key"],
            "new"
        );
        let (_, body) = c
            .search(json!({"jql": OPEN, "reconcileIssues": [id]}))
            .await;
        assert!(ids(&body).is_empty());
        // GET issue is always current.
        let (_, issue) = c.get("/rest/api/3/issue/QA-1?fields=status").await;
        assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "done");
        tokio::time::advance(Duration::from_secs(3)).await;
        let (_, body) = c.search(stale).await;
        assert!(ids(&body).is_empty());
    }

    #[tokio::test]
    async fn refuses_bodies_jira_would_refuse() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let invalid = r#"{"errorMessages":["Invalid request payload. Refer to the REST API documentation and try again."]}"#;
        for body in [
            json!({"jql": "project = QA", "colour": 1}),
            json!({"jql": "project = QA", "maxResults": "x"}),
            json!({"jql": "project = QA", "reconcileIssues": ["10000"]}),
            json!({"jql": "project = QA", "fields": "key"}),
            json!(["project = QA"]),
        ] {
            let res = c
                .post_raw("/rest/api/3/search/jql", body.to_string().as_bytes())
                .await;
            assert_eq!(res.status, 400, "{body}");
            assert_eq!(String::from_utf8(res.body).unwrap(), invalid, "{body}");
        }
        let range = json!({"errorMessages":["The max results parameter has to be between 1 and 5,000."],"errors":{}});
        for max in [0, 5001, -1] {
            let (status, body) = c
                .search(json!({"jql": "project = QA", "maxResults": max}))
                .await;
            assert_eq!((status, body), (400, range.clone()));
        }
        let many: Vec<i64> = (10_000..10_051).collect();
        let (status, _) = c
            .search(json!({"jql": "project = QA", "reconcileIssues": many}))
            .await;
        assert_eq!(status, 400);
        let (status, _) = c
            .search(json!({"jql": "project = QA", "maxResults": 5000,
            "expand": "names", "properties": [], "fieldsByKeys": false, "nextPageToken": null}))
            .await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn refuses_bad_jql_with_jiras_messages() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for (jql, message) in [
            ("summary ~ \"unclosed", "Error in the JQL Query: The quoted string 'unclosed' has not been completed. (line 1, character 11)"),
            ("order by key", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
            ("", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
            ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
            ("project = NOPEZZQ", "The value 'NOPEZZQ' does not exist for the field 'project'."),
            ("statusCategory = Finished", "The value 'Finished' does not exist for the field 'statusCategory'."),
            ("labels ~ x", "The operator '~' is not supported by the 'labels' field."),
        ] {
            let (status, body) = c.search(json!({"jql": jql})).await;
            assert_eq!(status, 400, "{jql}");
            assert_eq!(body, json!({"errorMessages": [message], "errors": {}}), "{jql}");
        }
    }

    #[tokio::test]
    async fn quoted_values_honour_escapes() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("q", &["say\"hi\\"]).await;
        let (_, body) = c.search(json!({"jql": r#"labels = "say\"hi\\""#})).await;
        assert_eq!(ids(&body).len(), 1);
        let (status, _) = c.search(json!({"jql": "labels = say.hi"})).await;
        assert_eq!(status, 400);
        let (_, body) = c
            .search(json!({"jql": "project = qa AND labels = \"SAY\\\"HI\\\\\""}))
            .await;
        assert_eq!(ids(&body).len(), 1);
    }

    #[tokio::test]
    async fn pages_follow_tokens_the_sim_issued() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for n in 0..3 {
            c.create(&format!("n{n}"), &["t-1"]).await;
        }
        let first = json!({"jql": OPEN, "maxResults": 2, "fields": ["key"]});
        let (_, page1) = c.search(first.clone()).await;
        assert_eq!(page1["isLast"], false);
        let keys: Vec<&str> = page1["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["QA-3", "QA-2"]);
        let token = page1["nextPageToken"].as_str().unwrap();
        let mut next = first.clone();
        next["nextPageToken"] = json!(token);
        let (_, page2) = c.search(next).await;
        assert_eq!(page2["isLast"], true);
        assert_eq!(page2["issues"][0]["key"], "QA-1");
        assert!(page2.get("nextPageToken").is_none());

        let invalid = json!({"errorMessages": ["The provided next page token is invalid or expired."], "errors": {}});
        let (status, body) = c
            .search(json!({"jql": OPEN, "nextPageToken": "garbage"}))
            .await;
        assert_eq!((status, body), (400, invalid.clone()));
        let (status, _) = c
            .search(json!({"jql": "project = QA", "nextPageToken": token}))
            .await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn pages_shrink_when_more_than_keys_are_asked_for() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        for n in 0..120 {
            c.create(&format!("n{n}"), &["bulk"]).await;
        }
        let (_, keys) = c
            .search(json!({"jql": "labels = bulk", "maxResults": 500, "fields": ["key"]}))
            .await;
        assert_eq!(keys["issues"].as_array().unwrap().len(), 120);
        let (_, full) = c
            .search(json!({"jql": "labels = bulk", "maxResults": 500, "fields": ["status"]}))
            .await;
        assert_eq!(full["issues"].as_array().unwrap().len(), 100);
        assert_eq!(full["isLast"], false);
    }

    #[tokio::test]
    async fn orders_and_combines_clauses() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("a", &["x"]).await;
        c.create("b", &["y"]).await;
        c.create("c", &[]).await;
        let (_, body) = c
            .search(json!({"jql": "labels = x OR labels = y ORDER BY key ASC", "fields": ["key"]}))
            .await;
        let keys: Vec<&str> = body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["QA-1", "QA-2"]);
        let (_, body) = c
            .search(json!({"jql": "project = QA AND labels is EMPTY"}))
            .await;
        assert_eq!(ids(&body), vec!["10002"]);
        let (_, body) = c
            .search(json!({"jql": "project = QA AND NOT (labels = x)", "fields": ["key"]}))
            .await;
        assert_eq!(body["issues"].as_array().unwrap().len(), 2);
        let (_, body) = c.search(json!({"jql": "key = QA-2"})).await;
        assert_eq!(ids(&body), vec!["10001"]);
    }

    #[tokio::test]
    async fn the_old_search_is_gone() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let expected = r#"{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],"errors":{}}"#;
        let res = send(
            &sim,
            get(
                &format!("{GATEWAY}/rest/api/3/search?jql=project%3DQA"),
                Some(&c.token),
            ),
        )
        .await;
        assert_eq!(
            (res.status, String::from_utf8(res.body).unwrap().as_str()),
            (410, expected)
        );
        let res = send(
            &sim,
            post(
                &format!("{GATEWAY}/rest/api/3/search"),
                Some(&c.token),
                json!({"jql": "project = QA"}),
            ),
        )
        .await;
        assert_eq!(res.status, 410);
        assert_eq!(
            body_of(&res),
            serde_json::from_str::<Value>(expected).unwrap()
        );
    }

    #[tokio::test]
    async fn get_variant_reads_query_parameters() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        c.create("a", &["t-1"]).await;
        let (status, body) = c
            .get("/rest/api/3/search/jql?jql=labels%20%3D%20%22t-1%22&fields=key,summary")
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["issues"][0]["fields"]["summary"], "a");
        let (status, _) = c
            .get("/rest/api/3/search/jql?jql=project%20%3D%20QA&maxResults=6000")
            .await;
        assert_eq!(status, 400);
    }
}
