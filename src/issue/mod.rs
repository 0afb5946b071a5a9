//! What goes into an issue: summary, description, labels and assignee, built as data
//! before anything is sent.

pub(crate) mod adf;
pub(crate) mod jql;
pub(crate) mod labels;
pub(crate) mod text;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use self::text::{cut, single_line};

/// Jira's limit on a summary.
pub(crate) const MAX_SUMMARY_LEN: usize = 255;
const SUMMARY_PREFIX: &str = "Test Failed: ";

/// `Test Failed: {name}`, or `Test Failed: {name} [{env}]` for a test run in an
/// environment, on one line and within Jira's 255 characters (the name is cut, never the
/// environment, unless the environment alone is too long).
pub(crate) fn summary(test_name: &str, fallback: &str, env: Option<&str>) -> String {
    let name = single_line(test_name);
    let name = if name.is_empty() {
        single_line(fallback)
    } else {
        name
    };
    // A blank name and a blank id still make a summary that says something.
    let name = if name.is_empty() {
        "(unnamed test)".to_owned()
    } else {
        name
    };
    let tail = env
        .map(single_line)
        .filter(|e| !e.is_empty())
        .map(|e| format!(" [{}]", cut(&e, 60)))
        .unwrap_or_default();
    let room =
        MAX_SUMMARY_LEN.saturating_sub(text::jira_len(SUMMARY_PREFIX) + text::jira_len(&tail));
    let name = cut(name.trim_end(), room).trim_end();
    format!("{SUMMARY_PREFIX}{name}{tail}")
}

/// An issue ready to be created.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IssueDraft {
    pub project_id: String,
    pub issue_type_id: String,
    pub summary: String,
    pub description: adf::Doc,
    /// Whether the description goes in the create body; when Description is not on the
    /// create screen it goes into the issue's first comment instead.
    pub description_in_body: bool,
    /// Values for other fields of the create screen, resolved when settings were saved.
    pub fields: BTreeMap<String, Value>,
    /// Global labels, then the override's, then the test label; no repeats.
    pub labels: Vec<String>,
    /// `None` leaves the field out: the project's default assignee.
    pub assignee: Option<String>,
    /// The test label, searched for by the duplicate check.
    pub test_label: String,
}

impl IssueDraft {
    /// The body of `POST /rest/api/3/issue`, serialised straight from the draft.
    pub(crate) fn create_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            fields: Fields<'a>,
        }
        #[derive(Serialize)]
        struct Fields<'a> {
            project: Id<'a>,
            issuetype: Id<'a>,
            summary: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            description: Option<&'a adf::Doc>,
            labels: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            assignee: Option<Account<'a>>,
            #[serde(flatten)]
            fields: &'a BTreeMap<String, Value>,
        }
        #[derive(Serialize)]
        struct Id<'a> {
            id: &'a str,
        }
        #[derive(Serialize)]
        struct Account<'a> {
            #[serde(rename = "accountId")]
            account_id: &'a str,
        }
        let body = Body {
            fields: Fields {
                project: Id {
                    id: &self.project_id,
                },
                issuetype: Id {
                    id: &self.issue_type_id,
                },
                summary: &self.summary,
                description: self.description_in_body.then_some(&self.description),
                labels: &self.labels,
                assignee: self
                    .assignee
                    .as_deref()
                    .map(|account_id| Account { account_id }),
                fields: &self.fields,
            },
        };
        serde_json::to_vec(&body).expect("an issue draft always serialises")
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
        assert_eq!(
            summary("Login works", "id", None),
            "Test Failed: Login works"
        );
        assert_eq!(summary("a\nb", "id", None), "Test Failed: a b");
        assert_eq!(summary("  ", "t-1", None), "Test Failed: t-1");
        assert_eq!(summary(" ", "\t", None), "Test Failed: (unnamed test)");
    }

    #[test]
    fn summary_is_cut_to_255() {
        let s = summary(&"é".repeat(1000), "id", None);
        assert_eq!(jira_len(&s), MAX_SUMMARY_LEN);
        let s = summary(&"😀".repeat(1000), "id", None);
        assert!(jira_len(&s) <= MAX_SUMMARY_LEN);
        assert!(s.ends_with('😀'));
    }

    #[test]
    fn the_environment_is_kept_when_the_name_is_cut() {
        assert_eq!(
            summary("Login", "id", Some("staging")),
            "Test Failed: Login [staging]"
        );
        assert_eq!(summary("Login", "id", Some("  ")), "Test Failed: Login");
        let s = summary(&"x".repeat(1000), "id", Some("prod"));
        assert_eq!(jira_len(&s), MAX_SUMMARY_LEN);
        assert!(s.ends_with("x [prod]"), "{s}");
    }

    fn fields(d: &IssueDraft) -> serde_json::Value {
        let body: serde_json::Value = serde_json::from_slice(&d.create_body()).unwrap();
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "only `fields` at the top"
        );
        body["fields"].clone()
    }

    #[test]
    fn fields_leave_assignee_out_for_auto() {
        let mut d = IssueDraft {
            project_id: "10000".into(),
            issue_type_id: "10001".into(),
            summary: "Test Failed: x".into(),
            description: adf::paragraphs(&["x"]),
            description_in_body: true,
            fields: BTreeMap::new(),
            labels: vec!["a".into(), "testclix-x".into()],
            assignee: None,
            test_label: "testclix-x".into(),
        };
        let f = fields(&d);
        assert_eq!(f.as_object().unwrap().len(), 5);
        assert!(f.get("assignee").is_none());
        assert_eq!(f["description"]["content"][0]["content"][0]["text"], "x");
        assert_eq!(f["summary"], "Test Failed: x");
        assert_eq!(f["project"]["id"], "10000");
        assert_eq!(f["issuetype"]["id"], "10001");
        assert_eq!(f["labels"], serde_json::json!(["a", "testclix-x"]));
        d.assignee = Some("acc-1".into());
        assert_eq!(fields(&d)["assignee"]["accountId"], "acc-1");
    }

    #[test]
    fn configured_fields_join_the_body_and_description_can_stay_out() {
        let d = IssueDraft {
            project_id: "10000".into(),
            issue_type_id: "10001".into(),
            summary: "Test Failed: x".into(),
            description: adf::paragraphs(&["x"]),
            description_in_body: false,
            fields: [
                ("priority".to_owned(), serde_json::json!({"id": "3"})),
                ("customfield_1".to_owned(), serde_json::json!([{"id": "7"}])),
            ]
            .into(),
            labels: vec!["testclix-x".into()],
            assignee: None,
            test_label: "testclix-x".into(),
        };
        let f = fields(&d);
        assert!(f.get("description").is_none());
        assert_eq!(f["priority"], serde_json::json!({"id": "3"}));
        assert_eq!(f["customfield_1"], serde_json::json!([{"id": "7"}]));
        assert_eq!(f["labels"], serde_json::json!(["testclix-x"]));
    }

    #[test]
    fn labels_merge_without_repeats() {
        let g = ["a".to_owned(), "b".to_owned()];
        let o = ["b".to_owned(), "c".to_owned()];
        let t = ["t".to_owned()];
        assert_eq!(merge_labels([&g[..], &o[..], &t[..]]), ["a", "b", "c", "t"]);
    }
}
