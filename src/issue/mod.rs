//! What goes into an issue: summary, description, labels and assignee, built as data
//! before anything is sent.

pub(crate) mod adf;
pub(crate) mod jql;
pub(crate) mod labels;
pub(crate) mod text;

use serde_json::{json, Value};

use self::text::{cut, single_line};

/// Jira's limit on a summary.
pub(crate) const MAX_SUMMARY_LEN: usize = 255;
const SUMMARY_PREFIX: &str = "Test Failed: ";

/// `Test Failed: {name}`, on one line and within Jira's 255 characters.
pub(crate) fn summary(test_name: &str, fallback: &str) -> String {
    let name = single_line(test_name);
    let name = if name.is_empty() {
        single_line(fallback)
    } else {
        name
    };
    let full = format!("{SUMMARY_PREFIX}{name}");
    cut(full.trim_end(), MAX_SUMMARY_LEN).trim_end().to_owned()
}

/// An issue ready to be created.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IssueDraft {
    pub project_id: String,
    pub issue_type_id: String,
    pub summary: String,
    pub description: Value,
    /// Global labels, then the override's, then the test label; no repeats.
    pub labels: Vec<String>,
    /// `None` leaves the field out: the project's default assignee.
    pub assignee: Option<String>,
    /// The test label, searched for by the duplicate check.
    pub test_label: String,
}

impl IssueDraft {
    /// The `fields` object of `POST /rest/api/3/issue`.
    pub(crate) fn fields(&self) -> Value {
        let mut fields = json!({
            "project": { "id": self.project_id },
            "issuetype": { "id": self.issue_type_id },
            "summary": self.summary,
            "description": self.description,
            "labels": self.labels,
        });
        if let Some(account_id) = &self.assignee {
            fields["assignee"] = json!({ "accountId": account_id });
        }
        fields
    }
}

/// Merges label lists in order, dropping repeats (Jira would store them once anyway).
pub(crate) fn merge_labels<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in lists {
        for l in list {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::text::jira_len;

    #[test]
    fn summary_format() {
        assert_eq!(summary("Login works", "id"), "Test Failed: Login works");
        assert_eq!(summary("a\nb", "id"), "Test Failed: a b");
        assert_eq!(summary("  ", "t-1"), "Test Failed: t-1");
    }

    #[test]
    fn summary_is_cut_to_255() {
        let s = summary(&"é".repeat(1000), "id");
        assert_eq!(jira_len(&s), MAX_SUMMARY_LEN);
        let s = summary(&"😀".repeat(1000), "id");
        assert!(jira_len(&s) <= MAX_SUMMARY_LEN);
        assert!(s.ends_with('😀'));
    }

    #[test]
    fn fields_leave_assignee_out_for_auto() {
        let mut d = IssueDraft {
            project_id: "10000".into(),
            issue_type_id: "10001".into(),
            summary: "Test Failed: x".into(),
            description: json!({"version":1,"type":"doc","content":[]}),
            labels: vec!["a".into(), "testclix-x".into()],
            assignee: None,
            test_label: "testclix-x".into(),
        };
        let f = d.fields();
        assert!(f.get("assignee").is_none());
        assert_eq!(f["project"]["id"], "10000");
        assert_eq!(f["issuetype"]["id"], "10001");
        assert_eq!(f["labels"], json!(["a", "testclix-x"]));
        d.assignee = Some("acc-1".into());
        assert_eq!(d.fields()["assignee"]["accountId"], "acc-1");
    }

    #[test]
    fn labels_merge_without_repeats() {
        let g = ["a".to_owned(), "b".to_owned()];
        let o = ["b".to_owned(), "c".to_owned()];
        let t = ["t".to_owned()];
        assert_eq!(merge_labels([&g[..], &o[..], &t[..]]), ["a", "b", "c", "t"]);
    }
}
