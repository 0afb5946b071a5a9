//! What the storm's umbrella issue says: its summary, its description listing the tests
//! grouped so far, and the coalesced comments as more tests join.

use std::time::{Duration, SystemTime};

use super::policy::StormLimit;
use super::storm::{Member, News};
use crate::clock::display;
use crate::issue::adf::{self, Doc, Lead, Run, DESCRIPTION_BUDGET};
use crate::issue::text::{cut, single_line};
use crate::issue::MAX_SUMMARY_LEN;

/// The longest test name, environment and error line shown for a member (the storm state
/// keeps shorter ones; a value read back from a store is not trusted to be).
const MAX_NAME: usize = 200;
const MAX_ENV: usize = 60;
const MAX_LINE: usize = 200;

/// `N tests failing since 2026-11-30 05:12 UTC`.
pub(crate) fn umbrella_summary(total: usize, started: SystemTime) -> String {
    let summary = format!("{} failing since {}", tests(total), display(started));
    cut(&summary, MAX_SUMMARY_LEN).to_owned()
}

/// The umbrella's description: why it exists, and each test grouped so far with its link
/// and the first line of its error; as many as fit in the description, then how many more.
#[cfg(test)]
pub(crate) fn umbrella_description(
    members: &[Member],
    total: usize,
    started: SystemTime,
    limit: &StormLimit,
) -> Doc {
    umbrella_description_listing(members, total, total, started, limit).0
}

/// The umbrella's description, and how many of the members it lists (the first ones): the
/// rest go into the next comments. `failing` counts the tests that filed their own issue
/// in the window too; `total` the grouped ones.
pub(crate) fn umbrella_description_listing(
    members: &[Member],
    total: usize,
    failing: usize,
    started: SystemTime,
    limit: &StormLimit,
) -> (Doc, usize) {
    let why = format!(
        "{} failing since {}. The storm guard grouped these failures into this one issue \
         because {} {} already filed within {}. Once this issue is done, each test files \
         its own issue again.",
        tests(failing),
        display(started),
        count(limit.issues, "issue", "issues"),
        if limit.issues == 1 { "was" } else { "were" },
        window(limit.window),
    );
    listed(Lead::of(&[Run::Text(&why)]), members, total)
}

/// A comment listing the tests that joined since the last post.
#[cfg(test)]
pub(crate) fn umbrella_comment(news: &News) -> Doc {
    umbrella_comment_listing(news).0
}

/// The umbrella's comment, and how many of `news.members` it lists (the first ones): the
/// rest wait for the next comment.
pub(crate) fn umbrella_comment_listing(news: &News) -> (Doc, usize) {
    let joined = news.members.len() + news.unlisted;
    let noun = if joined == 1 { "test" } else { "tests" };
    let lead = format!("{joined} more {noun} failing ({} in all):", news.total);
    listed(Lead::of(&[Run::Text(&lead)]), &news.members, joined)
}

/// The lead, then the members as a list within the description budget, then
/// `… and N more tests` for the `total` not listed.
fn listed(lead: Lead, members: &[Member], total: usize) -> (Doc, usize) {
    let items = members.iter().map(item).collect();
    adf::list_doc(
        lead,
        items,
        total.saturating_sub(members.len()),
        |n| format!("… and {} more {}", n, if n == 1 { "test" } else { "tests" }),
        DESCRIPTION_BUDGET,
    )
}

/// `name [env] — first error line`, the name linked to the test when its link is usable.
fn item(m: &Member) -> Lead {
    let name = one_line(&m.name, MAX_NAME)
        .or_else(|| one_line(&m.key, MAX_NAME))
        .unwrap_or_else(|| "(unnamed test)".to_owned());
    let env = m
        .env
        .as_deref()
        .and_then(|e| one_line(e, MAX_ENV))
        .map(|e| format!(" [{e}]"))
        .unwrap_or_default();
    let line = one_line(&m.line, MAX_LINE).unwrap_or_default();
    let dash = if line.is_empty() { "" } else { " — " };
    Lead::of(&[
        Run::Link(&name, &m.url),
        Run::Text(&env),
        Run::Text(dash),
        Run::Code(&line),
    ])
}

/// A value on one line and at most `max` long; `None` when blank.
fn one_line(s: &str, max: usize) -> Option<String> {
    let line = single_line(s);
    let line = cut(&line, max).trim_end();
    (!line.is_empty()).then(|| line.to_owned())
}

/// `1 test`, `2 tests`.
fn tests(n: usize) -> String {
    count(n as u64, "test", "tests")
}

/// `1 issue`, `2 issues`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A window in plain words: `10 minutes`, `1 hour`, `90 seconds`, `2 days`.
fn window(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, one, many) = match secs {
        0 => return "no time".to_owned(),
        s if s % 86_400 == 0 => (s / 86_400, "day", "days"),
        s if s % 3_600 == 0 => (s / 3_600, "hour", "hours"),
        s if s % 60 == 0 => (s / 60, "minute", "minutes"),
        s => (s, "second", "seconds"),
    };
    count(n, one, many)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::clock::from_ms;
    use crate::issue::text::jira_len;

    const STARTED: u64 = 1_796_011_953_123;

    fn member(i: usize, url: &str, env: Option<&str>, message: &str) -> Member {
        Member::new(
            &format!("t{i}"),
            &format!("Test number {i}"),
            url,
            env,
            message,
            from_ms(STARTED),
        )
    }

    fn limit() -> StormLimit {
        StormLimit::new(10, Duration::from_secs(600))
    }

    /// The document's blocks: paragraphs as their text, a list as its items' text.
    fn blocks(doc: &Doc) -> Vec<(String, Vec<String>)> {
        fn text_of(v: &Value) -> String {
            v["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["text"].as_str().unwrap().to_owned())
                .collect()
        }
        let v = doc.to_value();
        v["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| match b["type"].as_str().unwrap() {
                "paragraph" => (text_of(b), Vec::new()),
                "bulletList" => (
                    "list".to_owned(),
                    b["content"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|item| {
                            assert_eq!(item["type"], "listItem");
                            let c = item["content"].as_array().unwrap();
                            assert_eq!(c.len(), 1);
                            assert_eq!(c[0]["type"], "paragraph");
                            text_of(&c[0])
                        })
                        .collect(),
                ),
                other => panic!("unexpected block {other}"),
            })
            .collect()
    }

    #[test]
    fn summaries_count_tests_and_fit() {
        let at = from_ms(STARTED);
        assert_eq!(
            umbrella_summary(3, at),
            format!("3 tests failing since {}", display(at))
        );
        assert_eq!(
            umbrella_summary(1, at),
            format!("1 test failing since {}", display(at))
        );
        assert!(jira_len(&umbrella_summary(usize::MAX, at)) <= MAX_SUMMARY_LEN);
    }

    #[test]
    fn the_description_says_why_and_lists_each_test() {
        let members = [
            member(
                1,
                "https://ci.example/t/1",
                Some("staging"),
                "\n  expected 200, got 500\nat x",
            ),
            member(2, "not a link", None, ""),
        ];
        let doc = umbrella_description(&members, 2, from_ms(STARTED), &limit());
        let b = blocks(&doc);
        assert_eq!(b.len(), 2, "{b:?}");
        let why = &b[0].0;
        assert!(
            why.starts_with(&format!(
                "2 tests failing since {}.",
                display(from_ms(STARTED))
            )),
            "{why}"
        );
        assert!(why.contains("storm guard"), "{why}");
        assert!(
            why.contains("because 10 issues were already filed within 10 minutes"),
            "{why}"
        );
        assert!(why.contains("each test files its own issue again"), "{why}");
        assert_eq!(
            b[1].1,
            [
                "Test number 1 [staging] — expected 200, got 500",
                "Test number 2",
            ]
        );
        let v = doc.to_value();
        let first = &v["content"][1]["content"][0]["content"][0]["content"];
        assert_eq!(first[0]["marks"][0]["type"], "link");
        assert_eq!(
            first[0]["marks"][0]["attrs"]["href"],
            "https://ci.example/t/1"
        );
        assert_eq!(first[3]["text"], "expected 200, got 500");
        assert_eq!(first[3]["marks"], serde_json::json!([{"type": "code"}]));
        let second = &v["content"][1]["content"][1]["content"][0]["content"];
        assert_eq!(second.as_array().unwrap().len(), 1);
        assert!(second[0].get("marks").is_none(), "a bad link is text");

        let one = StormLimit::new(1, Duration::from_secs(3_600));
        let why = blocks(&umbrella_description(&members[..1], 1, from_ms(0), &one))[0]
            .0
            .clone();
        assert!(why.starts_with("1 test failing since"), "{why}");
        assert!(
            why.contains("because 1 issue was already filed within 1 hour"),
            "{why}"
        );
        let odd = StormLimit::new(5, Duration::from_secs(90));
        let why = blocks(&umbrella_description(&members, 2, from_ms(0), &odd))[0]
            .0
            .clone();
        assert!(
            why.contains("because 5 issues were already filed within 90 seconds"),
            "{why}"
        );
    }

    #[test]
    fn members_the_state_did_not_list_are_counted() {
        let members = [member(1, "", None, "boom")];
        for (total, tail) in [(2, "… and 1 more test"), (7, "… and 6 more tests")] {
            let b = blocks(&umbrella_description(&members, total, from_ms(0), &limit()));
            assert_eq!(b[1].1, ["Test number 1 — boom"]);
            assert_eq!(b.last().unwrap().0, tail);
        }
    }

    #[test]
    fn a_long_list_is_cut_to_the_budget_and_says_how_many_more() {
        let url = format!("https://ci.example/{}", "u".repeat(480));
        let line = "\"x\"".repeat(60);
        let members: Vec<Member> = (0..1000)
            .map(|i| member(i, &url, Some("prod"), &line))
            .collect();
        let total = 1003;
        let doc = umbrella_description(&members, total, from_ms(0), &limit());
        let len = doc.json_len();
        assert_eq!(len, jira_len(&serde_json::to_string(&doc).unwrap()));
        assert!(len <= DESCRIPTION_BUDGET, "{len}");
        let b = blocks(&doc);
        let listed = b[1].1.len();
        assert!(listed > 10 && listed < members.len(), "{listed}");
        assert_eq!(
            b.last().unwrap().0,
            format!("… and {} more tests", total - listed)
        );
        // As many as fit: one more item (as long as the last listed, and a comma) would
        // not, but for the few digits the count of the tail may have saved.
        let v = doc.to_value();
        let last = &v["content"][1]["content"][listed - 1];
        let item_len = 1 + jira_len(&last.to_string());
        assert!(
            len + item_len + 4 > DESCRIPTION_BUDGET,
            "{len} + {item_len}"
        );
    }

    #[test]
    fn a_comment_lists_who_joined() {
        let news = |members: Vec<Member>, unlisted, total| News {
            from: 0,
            members,
            unlisted,
            total,
            started: from_ms(0),
            failing: total,
            failing_since: from_ms(0),
        };
        let b = blocks(&umbrella_comment(&news(
            vec![member(5, "", None, "e")],
            0,
            5,
        )));
        assert_eq!(b[0].0, "1 more test failing (5 in all):");
        assert_eq!(b[1].1, ["Test number 5 — e"]);
        assert_eq!(b.len(), 2);

        let two = vec![member(5, "", None, "e"), member(6, "", Some("qa"), "f")];
        let b = blocks(&umbrella_comment(&news(two, 1, 12)));
        assert_eq!(b[0].0, "3 more tests failing (12 in all):");
        assert_eq!(b[1].1, ["Test number 5 — e", "Test number 6 [qa] — f"]);
        assert_eq!(b[2].0, "… and 1 more test");

        // Only unlisted members: no empty list, which ADF forbids.
        let b = blocks(&umbrella_comment(&news(Vec::new(), 4, 1004)));
        assert_eq!(
            b,
            [
                ("4 more tests failing (1004 in all):".to_owned(), Vec::new()),
                ("… and 4 more tests".to_owned(), Vec::new()),
            ]
        );

        let url = format!("https://ci.example/{}", "u".repeat(480));
        let many: Vec<Member> = (0..1000)
            .map(|i| member(i, &url, None, &"y".repeat(200)))
            .collect();
        let doc = umbrella_comment(&news(many, 30, 2000));
        assert!(doc.json_len() <= DESCRIPTION_BUDGET, "{}", doc.json_len());
        let b = blocks(&doc);
        let listed = b[1].1.len();
        assert!(listed < 1000);
        assert_eq!(b[2].0, format!("… and {} more tests", 1030 - listed));
    }

    #[test]
    fn blank_and_odd_member_values_stay_valid() {
        let mut m = member(1, "javascript:x", Some(" "), " \n ");
        m.name = "\u{0}\n".to_owned();
        m.env = Some("\t".to_owned());
        m.line = "a\u{1b}b".to_owned();
        let b = blocks(&umbrella_comment(&News {
            from: 0,
            members: vec![m],
            unlisted: 0,
            total: 1,
            started: from_ms(0),
            failing: 1,
            failing_since: from_ms(0),
        }));
        assert_eq!(b[1].1, ["t1 — a b"]);
        let s = umbrella_description(&[], 0, from_ms(0), &limit())
            .to_value()
            .to_string();
        assert!(
            !s.contains("bulletList") && !s.contains("\"text\":\"\""),
            "{s}"
        );
    }
}
