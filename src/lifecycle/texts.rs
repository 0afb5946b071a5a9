//! What the notifier writes on an issue after creating it, in Atlassian Document Format:
//! the repeat comment, the recovery comment, the reopen comment, and the history line of
//! a new issue. Each stays within Jira's comment limit (the failure's message is cut to
//! make room).

use crate::evidence::Evidence;
use std::time::SystemTime;

use super::state::Batch;
use crate::clock::display;
use crate::issue::adf::{failure_doc_after, leads_doc, Doc, Lead};
use crate::issue::text::single_line;
use crate::outcome::TestInfo;

/// The comment covering the failures of an interval.
pub(crate) fn repeat_comment(test: &TestInfo, batch: &Batch, evidence: &Evidence) -> Doc {
    let times = if batch.count == 1 { "time" } else { "times" };
    let span = if batch.first == batch.last {
        format!("at {}", display(batch.last))
    } else {
        format!(
            "first at {}, last at {}",
            display(batch.first),
            display(batch.last)
        )
    };
    let line = format!(
        "Failed {} more {times} since {} ({span}). The last error:",
        batch.count,
        display(batch.since),
    );
    failure_doc_after(
        vec![Lead::new(&[(&line, None)])],
        test,
        &batch.message,
        evidence,
    )
}

/// The comment of a test passing again after a failing streak.
pub(crate) fn recovery_comment(test: &TestInfo, failures: u32, since: SystemTime) -> Doc {
    let name = single_line(&test.name);
    let name = if name.trim().is_empty() {
        "The test".to_owned()
    } else {
        name
    };
    let plural = if failures == 1 { "failure" } else { "failures" };
    let rest = format!(
        " is passing again since {}, after {failures} {plural}.",
        display(since)
    );
    leads_doc(vec![Lead::new(&[
        ("Test ", None),
        (&name, Some(&test.url)),
        (&rest, None),
    ])])
}

/// The comment on an issue reopened by a new failure.
pub(crate) fn reopen_comment(test: &TestInfo, message: &str, evidence: &Evidence) -> Doc {
    failure_doc_after(
        vec![Lead::new(&[("Reopened: the test failed again.", None)])],
        test,
        message,
        evidence,
    )
}

/// The description of a new issue whose test's last issue is done: the failure, after a
/// line naming that issue (linked) and when it was done.
pub(crate) fn description_after(
    test: &TestInfo,
    message: &str,
    evidence: &Evidence,
    previous_key: &str,
    previous_url: &str,
    done_at: Option<SystemTime>,
) -> Doc {
    let when = done_at.map_or(String::new(), |t| format!(", done {}", display(t)));
    let rest = format!("{when}.");
    failure_doc_after(
        vec![Lead::new(&[
            ("This test failed before: ", None),
            (previous_key, Some(previous_url)),
            (&rest, None),
        ])],
        test,
        message,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::clock::from_ms;
    use crate::issue::adf::DESCRIPTION_BUDGET;

    fn test() -> TestInfo {
        TestInfo::new("t1", "Checkout works", "https://ci.example/t1")
    }

    fn texts(doc: &Doc) -> String {
        fn walk(v: &Value, out: &mut String) {
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
            if let Some(c) = v.get("content").and_then(Value::as_array) {
                c.iter().for_each(|x| walk(x, out));
            }
        }
        let mut out = String::new();
        walk(&doc.to_value(), &mut out);
        out
    }

    #[test]
    fn a_repeat_comment_says_how_many_when_and_the_last_error() {
        let b = Batch {
            since: from_ms(1_796_011_953_123),
            count: 3,
            first: from_ms(1_796_012_000_000),
            last: from_ms(1_796_015_600_000),
            message: "expected 200, got 500".into(),
        };
        let t = texts(&repeat_comment(&test(), &b, &Evidence::default()));
        assert!(
            t.starts_with("Failed 3 more times since 2026-11-30 04:12 UTC (first at 2026-11-30 04:13 UTC, last at 2026-11-30 05:13 UTC). The last error:"),
            "{t}"
        );
        assert!(t.contains("expected 200, got 500") && t.contains("https://ci.example/t1"));
    }

    #[test]
    fn long_messages_are_cut_to_leave_room_for_the_lead() {
        let b = Batch {
            since: from_ms(0),
            count: 1,
            first: from_ms(0),
            last: from_ms(0),
            message: "x".repeat(100_000),
        };
        assert!(repeat_comment(&test(), &b, &Evidence::default()).json_len() <= DESCRIPTION_BUDGET);
        let d = description_after(
            &test(),
            &"y".repeat(100_000),
            &Evidence::default(),
            "QA-1",
            "https://s/browse/QA-1",
            None,
        );
        assert!(d.json_len() <= DESCRIPTION_BUDGET);
    }

    #[test]
    fn recovery_and_history_lines() {
        let t = texts(&recovery_comment(&test(), 1, from_ms(1_796_011_953_123)));
        assert_eq!(
            t,
            "Test Checkout works is passing again since 2026-11-30 04:12 UTC, after 1 failure."
        );
        let d = description_after(
            &test(),
            "boom",
            &Evidence::default(),
            "QA-7",
            "https://acme.atlassian.net/browse/QA-7",
            Some(from_ms(1_796_011_953_123)),
        );
        let v = d.to_value();
        assert_eq!(v["content"][0]["content"][1]["text"], "QA-7");
        assert_eq!(
            v["content"][0]["content"][1]["marks"][0]["attrs"]["href"],
            "https://acme.atlassian.net/browse/QA-7"
        );
        assert!(texts(&d).starts_with("This test failed before: QA-7, done 2026-11-30 04:12 UTC."));
    }

    /// The labels of a document's table rows, in order (empty without a table).
    fn table_labels(doc: &Doc) -> Vec<String> {
        let v = doc.to_value();
        let blocks = v["content"].as_array().unwrap();
        let tables: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "table").collect();
        assert!(tables.len() <= 1);
        tables
            .first()
            .map(|t| {
                t["content"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| {
                        row["content"][0]["content"][0]["content"][0]["text"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn failure_texts_show_the_evidence_after_the_lead() {
        let staging = test().with_environment("staging");
        let evidence = Evidence::new()
            .with_run_url("https://ci.example/runs/9")
            .with_branch("main");
        let b = Batch {
            since: from_ms(0),
            count: 2,
            first: from_ms(0),
            last: from_ms(60_000),
            message: "boom".into(),
        };
        let docs = [
            repeat_comment(&staging, &b, &evidence),
            reopen_comment(&staging, "boom", &evidence),
            description_after(
                &staging,
                "boom",
                &evidence,
                "QA-1",
                "https://s/browse/QA-1",
                None,
            ),
        ];
        for doc in &docs {
            assert_eq!(table_labels(doc), ["Environment", "Run", "Branch"]);
            let v = doc.to_value();
            // The lead first, the table last.
            assert_eq!(v["content"][0]["type"], "paragraph");
            let last = v["content"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["type"], "table");
            assert!(texts(doc).contains("boom"));
        }
        assert!(texts(&docs[1]).starts_with("Reopened: the test failed again."));
        // Without them, no table.
        let plain = [
            repeat_comment(&test(), &b, &Evidence::default()),
            reopen_comment(&test(), "boom", &Evidence::default()),
            description_after(&test(), "boom", &Evidence::default(), "QA-1", "", None),
        ];
        for doc in &plain {
            assert!(table_labels(doc).is_empty());
        }
    }

    #[test]
    fn long_messages_and_evidence_stay_within_the_budget() {
        let long = "\"😀".repeat(3_000);
        let test = test().with_environment(&long);
        let evidence = Evidence::new()
            .with_run_url(format!("https://ci.example/{}", "r".repeat(1_900)))
            .with_commit(&long)
            .with_branch(&long)
            .with_duration(std::time::Duration::from_secs(1))
            .with_failed_at(from_ms(0));
        let message = "y\\".repeat(50_000);
        let b = Batch {
            since: from_ms(0),
            count: 1,
            first: from_ms(0),
            last: from_ms(0),
            message: message.clone(),
        };
        for doc in [
            repeat_comment(&test, &b, &evidence),
            reopen_comment(&test, &message, &evidence),
            description_after(
                &test,
                &message,
                &evidence,
                "QA-1",
                "https://s/browse/QA-1",
                Some(from_ms(0)),
            ),
        ] {
            let json = serde_json::to_string(&doc).unwrap();
            assert_eq!(doc.json_len(), json.encode_utf16().count());
            assert!(doc.json_len() <= DESCRIPTION_BUDGET, "{}", doc.json_len());
            assert_eq!(table_labels(&doc).len(), 6);
            assert!(json.contains("was cut"));
        }
    }
}
