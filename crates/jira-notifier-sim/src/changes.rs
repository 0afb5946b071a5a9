//! What people do to issues in Jira's UI besides closing them: delete them, and move them
//! to another project (which gives them a new key; the old key still leads to them).
//!
//! Both leave records behind in clients, and Jira's search can trip over them:
//! `reconcileIssues` naming an issue that was deleted or moved can be answered with an
//! error for the whole search (JRACLOUD-93328, as issue 9 reports it). The simulation
//! answers such a search `400`; the exact wording of Jira's answer is not known, so the
//! text here is the simulation's own and a client must not depend on it.

use super::reply;
use super::world::JiraData;
use jira_notifier::HttpResponse;

impl JiraData {
    /// Deletes an issue: it is gone from searches, lookups and inspection.
    pub(crate) fn delete_issue(&mut self, index: usize) -> bool {
        match self.issues.get_mut(index) {
            Some(issue) if !issue.deleted => {
                issue.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Moves an issue to another project: it takes that project's next key, keeps its id,
    /// labels and status, and its old keys still find it. Returns the new key.
    pub(crate) fn move_issue(&mut self, index: usize, to_project: usize) -> Option<String> {
        let issue = self.issues.get(index).filter(|i| !i.deleted)?;
        if issue.project == to_project {
            return Some(issue.key.clone());
        }
        let project = self.projects.get_mut(to_project)?;
        project.issues_created += 1;
        let number = project.issues_created;
        let key = format!("{}-{}", project.key, number);
        self.key_index.insert(key.to_uppercase(), index);
        let issue = self.issues.get_mut(index)?;
        issue.project = to_project;
        issue.number = number;
        issue.key = key.clone();
        issue.moved = true;
        Some(key)
    }

    /// The answer to a search whose `reconcileIssues` names an issue deleted or moved
    /// since it was created, if any does.
    pub(crate) fn stale_reconcile(&self, ids: &[i64]) -> Option<HttpResponse> {
        let stale = ids.iter().find(|id| {
            self.any_index_of_id(**id)
                .and_then(|i| self.issues.get(i))
                .is_some_and(|issue| issue.deleted || issue.moved)
        })?;
        Some(reply::bad_request(format!(
            "The issue {stale} named in reconcileIssues does not exist or is not in its project any more."
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::Client;
    use crate::SimJira;

    const OPEN: &str = "labels = \"t-1\" AND statusCategory != Done";

    #[tokio::test]
    async fn a_deleted_issue_is_gone_and_reconciling_it_is_refused() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let created = c.create("one", &["t-1"]).await;
        let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
        assert!(sim.delete_issue("QA-1"));
        assert!(!sim.delete_issue("QA-1"));
        assert!(sim.issues().is_empty());
        assert_eq!(c.get("/rest/api/3/issue/QA-1").await.0, 404);
        assert_eq!(c.get(&format!("/rest/api/3/issue/{id}")).await.0, 404);
        let (status, body) = c.search(json!({"jql": OPEN})).await;
        assert_eq!((status, body["issues"].clone()), (200, json!([])));
        let (status, body) = c
            .search(json!({"jql": OPEN, "reconcileIssues": [id]}))
            .await;
        assert_eq!(status, 400, "{body}");
        // A new issue still gets the next key and id.
        assert_eq!(c.create("two", &[]).await["key"], "QA-2");
    }

    #[tokio::test]
    async fn a_moved_issue_has_a_new_key_the_old_one_finds_it_and_reconciling_it_is_refused() {
        let sim = SimJira::new();
        let c = Client::new(&sim).await;
        let created = c.create("one", &["t-1"]).await;
        let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(sim.move_issue("QA-1", "OPS").as_deref(), Some("OPS-1"));
        let (status, issue) = c.get("/rest/api/3/issue/QA-1?fields=status,labels").await;
        assert_eq!(status, 200);
        assert_eq!(issue["key"], "OPS-1");
        assert_eq!(issue["id"], id.to_string());
        assert_eq!(issue["fields"]["labels"], json!(["t-1"]));
        let (_, body) = c.search(json!({"jql": OPEN, "fields": ["key"]})).await;
        assert_eq!(body["issues"][0]["key"], "OPS-1", "{body}");
        let (status, _) = c
            .search(json!({"jql": OPEN, "reconcileIssues": [id]}))
            .await;
        assert_eq!(status, 400);
        assert!(sim.move_issue("QA-9", "OPS").is_none());
        assert!(sim.move_issue("OPS-1", "NOPE").is_none());
    }
}
