//! The issue description, in Atlassian Document Format (Jira's v3 API refuses plain text).

use crate::clock::display;
use crate::evidence::{human_duration, Evidence};
use crate::outcome::TestInfo;
use serde::Serialize;
#[cfg(any(test, fuzzing))]
use serde_json::Value;

use super::text::{cut, cut_json, jira_len, json_len, printable, single_line};

/// Jira's limit on a description, which it applies to the document as it keeps it: the
/// ADF as JSON, counted in UTF-16 units (issue 9: "bound the serialised ADF, as JSON, in
/// UTF-16 units, under 32,767, not only its text").
pub(crate) const MAX_DESCRIPTION_LEN: usize = 32_767;
/// Room kept below the limit for what Jira may add when it stores the document.
const MARGIN: usize = 1_024;
/// The most a failure's description takes as JSON, the first time it is sent.
pub(crate) const DESCRIPTION_BUDGET: usize = MAX_DESCRIPTION_LEN - MARGIN;
/// The longest test name shown in the description.
const MAX_NAME_IN_DESCRIPTION: usize = 1_000;
/// The longest link put in the description.
const MAX_URL_LEN: usize = 2_000;

const NO_MESSAGE: &str = "(no error message was reported)";

/// An ADF document. Typed rather than a `serde_json::Value`, so that building and
/// sending a description costs a few allocations, not a tree of maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Doc {
    version: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    content: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Block {
    Paragraph {
        content: Vec<Inline>,
    },
    /// A `codeBlock` (named so that no variant repeats the enum's name).
    #[serde(rename = "codeBlock")]
    Code {
        content: Vec<Inline>,
    },
    /// Rows of cells (`tableRow` > `tableHeader`/`tableCell` > blocks).
    Table {
        content: Vec<Node<Node<Block>>>,
    },
    /// Items (`listItem` > blocks).
    BulletList {
        content: Vec<Node<Block>>,
    },
}

/// A node that only holds other nodes: a table's row and cells, a list's item.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Node<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    content: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Inline {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    marks: Vec<Mark>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Mark {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attrs: Option<LinkAttrs>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct LinkAttrs {
    href: String,
}

impl Doc {
    fn new(content: Vec<Block>) -> Self {
        Doc {
            version: 1,
            kind: "doc",
            content,
        }
    }

    /// How many UTF-16 units the document takes as JSON.
    pub(crate) fn json_len(&self) -> usize {
        json_units_of(self)
    }

    /// The document as a JSON value (for tests and the fuzz API).
    #[cfg(any(test, fuzzing))]
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("an ADF document always serialises")
    }
}

/// The description of a failure: what failed (linked), the error message in a code block
/// (cut with a visible note if it is too long), and the link to the test; at most
/// [`DESCRIPTION_BUDGET`] UTF-16 units as JSON.
#[cfg(any(test, fuzzing))]
pub(crate) fn failure_doc(test_name: &str, test_url: &str, message: &str) -> Doc {
    failure_doc_within(test_name, test_url, message, DESCRIPTION_BUDGET)
}

/// [`failure_doc`], taking at most `max_json` UTF-16 units as JSON (when even the parts
/// around the message do not fit, the message is left out and the document is as short as
/// it gets).
pub(crate) fn failure_doc_within(
    test_name: &str,
    test_url: &str,
    message: &str,
    max_json: usize,
) -> Doc {
    let name = single_line(test_name);
    let name = cut(&name, MAX_NAME_IN_DESCRIPTION);
    let name = if name.is_empty() { "The test" } else { name };
    let link = usable_link(test_url);

    let mut intro = vec![text("Test ")];
    intro.push(match link {
        Some(href) => linked(name, href),
        None => text(name),
    });
    intro.push(text(" failed with this error:"));

    let mut outro = Vec::new();
    if let Some(href) = link {
        outro.push(text("Open the test: "));
        outro.push(linked(href, href));
    }

    let message = printable(message);
    let message = if message.trim().is_empty() {
        NO_MESSAGE.to_owned()
    } else {
        message
    };
    // The document with an empty code block: the message then costs its escaped length on
    // top. Measured by serialising it (into a counter, not a string), so that every bracket
    // and escape of the name and link counts.
    let mut content = vec![
        Block::Paragraph { content: intro },
        code_block(String::new()),
    ];
    if !outro.is_empty() {
        content.push(Block::Paragraph { content: outro });
    }
    let mut doc = Doc::new(content);
    let frame = doc.json_len();
    if frame + json_len(&message) <= max_json {
        doc.content[1] = code_block(message);
        return doc;
    }
    let message_len = jira_len(&message);
    let note = format!(
        "[The error message was cut: it is {message_len} characters long and Jira keeps at most {MAX_DESCRIPTION_LEN} in a description.]"
    );
    let note_block = Block::Paragraph {
        content: vec![text(&note)],
    };
    // The note's paragraph, and the comma before it.
    let note_len = 1 + json_units_of(&note_block);
    let room = max_json.saturating_sub(frame + note_len);
    let mut kept = message;
    let keep = cut_json(&kept, room).len();
    kept.truncate(keep);
    doc.content.insert(2, note_block);
    // An empty text node is not valid ADF: with no room at all, the note alone.
    if kept.is_empty() {
        doc.content.remove(1);
    } else {
        doc.content[1] = code_block(kept);
    }
    doc
}

/// UTF-16 units of a value's JSON, counted as it is written: no string is built.
fn json_units_of(value: &impl Serialize) -> usize {
    struct Units(usize);
    impl std::io::Write for Units {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            // UTF-8 to UTF-16: each character's first byte is one unit, a four-byte
            // character's (U+10000 and up) two; continuation bytes none.
            for &b in buf {
                self.0 += match b {
                    0x80..=0xBF => 0,
                    0xF0..=0xFF => 2,
                    _ => 1,
                };
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut units = Units(0);
    serde_json::to_writer(&mut units, value).expect("an ADF node always serialises");
    units.0
}

/// [`failure_doc`] as a JSON value.
#[cfg(test)]
pub(crate) fn failure_description(test_name: &str, test_url: &str, message: &str) -> Value {
    failure_doc(test_name, test_url, message).to_value()
}

/// A link is only made of an absolute http(s) URL: anything else goes in as text or not
/// at all, so a host's odd value cannot make Jira refuse the issue.
fn usable_link(url: &str) -> Option<&str> {
    let url = url.trim();
    // A control character would go into the document as it is (link text and href),
    // and Jira refuses documents holding one.
    if url.is_empty()
        || jira_len(url) > MAX_URL_LEN
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(url)
}

/// A piece of a paragraph the notifier writes: plain, linked, or inline code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run<'a> {
    /// Plain text.
    Text(&'a str),
    /// Text linked to a URL when the URL is usable (see `usable_link`), plain otherwise.
    Link(&'a str, &'a str),
    /// Text in a code mark.
    Code(&'a str),
}

/// A paragraph of text runs, each linked when it has an href (a usable one: see
/// `usable_link`), for the lines the notifier writes around a failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lead(Block);

impl Lead {
    pub(crate) fn new(runs: &[(&str, Option<&str>)]) -> Lead {
        let runs: Vec<Run<'_>> = runs
            .iter()
            .map(|&(s, href)| match href {
                Some(h) => Run::Link(s, h),
                None => Run::Text(s),
            })
            .collect();
        Lead::of(&runs)
    }

    /// A paragraph of runs; empty runs are left out (an empty text node is not valid ADF).
    pub(crate) fn of(runs: &[Run<'_>]) -> Lead {
        let content = runs
            .iter()
            .filter_map(|run| match *run {
                Run::Text(s) | Run::Link(s, _) | Run::Code(s) if s.is_empty() => None,
                Run::Text(s) => Some(text(s)),
                Run::Link(s, href) => Some(match usable_link(href) {
                    Some(h) => linked(s, h),
                    None => text(s),
                }),
                Run::Code(s) => Some(code(s)),
            })
            .collect();
        Lead(Block::Paragraph { content })
    }

    /// What the paragraph adds to a document's JSON: itself and a comma.
    pub(crate) fn json_len(&self) -> usize {
        1 + json_units_of(&self.0)
    }
}

/// The failure document with paragraphs before it, within the description budget: the
/// message is cut to make room for them (and the evidence table, if any: see
/// [`failure_doc_with`]).
pub(crate) fn failure_doc_after(
    leads: Vec<Lead>,
    test: &TestInfo,
    message: &str,
    evidence: &Evidence,
) -> Doc {
    let room: usize = leads.iter().map(Lead::json_len).sum();
    let mut doc = failure_doc_with(
        test,
        message,
        evidence,
        DESCRIPTION_BUDGET.saturating_sub(room),
    );
    let mut content: Vec<Block> = leads.into_iter().map(|l| l.0).collect();
    content.append(&mut doc.content);
    doc.content = content;
    doc
}

/// The description of a failure as the host reported it: [`failure_doc_within`], then a
/// table of the test's environment and the run's evidence (only the rows given). The
/// table counts against `max_json`: the message is cut to make room for it, and when even
/// the parts around the message leave no room, the table is left out. With no environment
/// and no evidence, exactly [`failure_doc_within`].
pub(crate) fn failure_doc_with(
    test: &TestInfo,
    message: &str,
    evidence: &Evidence,
    max_json: usize,
) -> Doc {
    let Some(table) = evidence_table(test.environment.as_deref(), evidence) else {
        return failure_doc_within(&test.name, &test.url, message, max_json);
    };
    // The table, and the comma before it.
    let table_len = 1 + json_units_of(&table);
    if let Some(room) = max_json.checked_sub(table_len) {
        let mut doc = failure_doc_within(&test.name, &test.url, message, room);
        if doc.json_len() <= room {
            doc.content.push(table);
            return doc;
        }
    }
    failure_doc_within(&test.name, &test.url, message, max_json)
}

/// The longest value shown in the evidence table (a commit SHA, 40 or 64 characters,
/// stays whole).
const MAX_EVIDENCE_VALUE: usize = 200;

/// One line of a host's value, at most [`MAX_EVIDENCE_VALUE`] long (an ellipsis says it
/// was cut); `None` for a blank one.
fn evidence_value(s: &str) -> Option<String> {
    let line = single_line(s);
    if line.is_empty() {
        return None;
    }
    if jira_len(&line) <= MAX_EVIDENCE_VALUE {
        return Some(line);
    }
    let kept = cut(&line, MAX_EVIDENCE_VALUE - 1).trim_end();
    Some(format!("{kept}…"))
}

/// The table of what is known about the failing run: Environment, Run, Commit, Branch,
/// Duration, Failed at, in that order and only those given; `None` when none is.
fn evidence_table(environment: Option<&str>, evidence: &Evidence) -> Option<Block> {
    fn plain(rows: &mut Vec<(&'static str, Inline)>, label: &'static str, value: Option<&str>) {
        if let Some(v) = value.and_then(evidence_value) {
            rows.push((label, text(&v)));
        }
    }
    let mut rows = Vec::new();
    plain(&mut rows, "Environment", environment);
    if let Some(url) = evidence.run_url.as_deref() {
        if let Some(shown) = evidence_value(url) {
            rows.push((
                "Run",
                match usable_link(url) {
                    Some(href) => linked(&shown, href),
                    None => text(&shown),
                },
            ));
        }
    }
    plain(&mut rows, "Commit", evidence.commit.as_deref());
    plain(&mut rows, "Branch", evidence.branch.as_deref());
    if let Some(d) = evidence.duration {
        rows.push(("Duration", text(&human_duration(d))));
    }
    if let Some(at) = evidence.failed_at {
        rows.push(("Failed at", text(&display(at))));
    }
    if rows.is_empty() {
        return None;
    }
    let cell = |kind, inline| Node {
        kind,
        content: vec![Block::Paragraph {
            content: vec![inline],
        }],
    };
    let content = rows
        .into_iter()
        .map(|(label, value)| Node {
            kind: "tableRow",
            content: vec![cell("tableHeader", text(label)), cell("tableCell", value)],
        })
        .collect();
    Some(Block::Table { content })
}

/// A document of a lead paragraph, then a bullet list of `items` (each a paragraph), as
/// many as fit in `max_json` in their order, then `tail(n)` as a paragraph when `n` items
/// are not listed: those that did not fit and the `more` the caller did not give.
pub(crate) fn list_doc(
    lead: Lead,
    items: Vec<Lead>,
    more: usize,
    tail: impl Fn(usize) -> String,
    max_json: usize,
) -> (Doc, usize) {
    let given = items.len();
    let mut doc = Doc::new(vec![lead.0]);
    let base = doc.json_len();
    // The list with no item, and the comma before it; each item adds itself and, after
    // the first, a comma.
    let empty_list = Block::BulletList {
        content: Vec::new(),
    };
    let list_len = 1 + json_units_of(&empty_list);
    let item = |l: Lead| Node {
        kind: "listItem",
        content: vec![l.0],
    };
    let items: Vec<Node<Block>> = items.into_iter().map(item).collect();
    let lens: Vec<usize> = items.iter().map(json_units_of).collect();
    // The tail's paragraph with the most it can say, and its comma.
    let tail_para = |n: usize| Block::Paragraph {
        content: vec![text(&tail(n))],
    };
    let tail_len = 1 + json_units_of(&tail_para(given + more));
    let all = list_len + lens.iter().sum::<usize>() + given.saturating_sub(1);
    let kept = if given > 0 && more == 0 && base + all <= max_json {
        given
    } else {
        // Items in order while they and the tail fit.
        let mut used = list_len;
        let mut k = 0;
        while k < given {
            let next = used + lens[k] + usize::from(k > 0);
            if base + next + tail_len > max_json {
                break;
            }
            used = next;
            k += 1;
        }
        k
    };
    let left = given - kept + more;
    let mut items = items;
    items.truncate(kept);
    if !items.is_empty() {
        doc.content.push(Block::BulletList { content: items });
    }
    if left > 0 {
        doc.content.push(tail_para(left));
    }
    (doc, kept)
}

/// A document of lead paragraphs alone.
pub(crate) fn leads_doc(leads: Vec<Lead>) -> Doc {
    Doc::new(leads.into_iter().map(|l| l.0).collect())
}

/// A description of plain paragraphs (the test notification's).
pub(crate) fn paragraphs(lines: &[&str]) -> Doc {
    Doc::new(
        lines
            .iter()
            .map(|l| Block::Paragraph {
                content: vec![text(l)],
            })
            .collect(),
    )
}

fn text(s: &str) -> Inline {
    Inline {
        kind: "text",
        text: s.to_owned(),
        marks: Vec::new(),
    }
}

fn code(s: &str) -> Inline {
    Inline {
        kind: "text",
        text: s.to_owned(),
        marks: vec![Mark {
            kind: "code",
            attrs: None,
        }],
    }
}

fn linked(s: &str, href: &str) -> Inline {
    Inline {
        kind: "text",
        text: s.to_owned(),
        marks: vec![Mark {
            kind: "link",
            attrs: Some(LinkAttrs {
                href: href.to_owned(),
            }),
        }],
    }
}

/// A code block holds unmarked text.
fn code_block(s: String) -> Block {
    Block::Code {
        content: vec![Inline {
            kind: "text",
            text: s,
            marks: Vec::new(),
        }],
    }
}

/// The total text of a document, as Jira measures it.
#[cfg(test)]
pub(crate) fn text_len(doc: &Value) -> usize {
    match doc {
        Value::Object(m) => {
            m.get("text").and_then(Value::as_str).map_or(0, jira_len)
                + m.get("content").map_or(0, text_len)
        }
        Value::Array(a) => a.iter().map(text_len).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_message_and_link() {
        let d = failure_description("Login", "https://app.example/t/1", "boom\nline 2");
        assert_eq!(d["type"], "doc");
        assert_eq!(d["version"], 1);
        let content = d["content"].as_array().unwrap();
        assert_eq!(content[0]["content"][1]["text"], "Login");
        assert_eq!(
            content[0]["content"][1]["marks"][0]["attrs"]["href"],
            "https://app.example/t/1"
        );
        assert_eq!(content[1]["type"], "codeBlock");
        assert_eq!(content[1]["content"][0]["text"], "boom\nline 2");
        assert!(content[1]["content"][0].get("marks").is_none());
        assert_eq!(content[2]["content"][1]["text"], "https://app.example/t/1");
    }

    #[test]
    fn long_messages_are_cut_with_a_note() {
        let msg = "😀".repeat(40_000);
        let d = failure_description("T", "https://x.example/", &msg);
        assert!(text_len(&d) <= MAX_DESCRIPTION_LEN);
        assert!(jira_len(&d.to_string()) <= DESCRIPTION_BUDGET);
        let content = d["content"].as_array().unwrap();
        let kept = content[1]["content"][0]["text"].as_str().unwrap();
        assert!(kept.chars().all(|c| c == '😀'));
        let note = content[2]["content"][0]["text"].as_str().unwrap();
        assert!(note.contains("was cut"), "{note}");
        assert!(note.contains("80000"), "{note}");
    }

    #[test]
    fn the_bound_is_on_the_json_escapes_included() {
        let msg = "\"\\\t".repeat(12_000);
        let d = failure_description("T", "https://x.example/", &msg);
        let units = jira_len(&d.to_string());
        assert!(units <= DESCRIPTION_BUDGET, "{units}");
        // Cut as late as the bound allows, not far earlier.
        assert!(units > DESCRIPTION_BUDGET - 10, "{units}");
        for max in [0, 50, 300, 5_000] {
            let doc = failure_doc_within("Name \"q\"", "https://x.example/", &msg, max);
            let s = doc.to_value().to_string();
            assert!(!s.contains("\"text\":\"\""), "an empty text node at {max}");
            if max >= 5_000 {
                assert!(doc.json_len() <= max, "{} > {max}", doc.json_len());
            }
        }
        let astral = failure_doc_within("T😀é", "https://x.example/", "a\"😀\n", 5_000);
        assert_eq!(astral.json_len(), jira_len(&astral.to_value().to_string()));
        let short = failure_doc_within("T", "", "boom", 5_000);
        assert_eq!(short.to_value()["content"][1]["content"][0]["text"], "boom");
    }

    #[test]
    fn odd_links_and_empty_messages_stay_valid() {
        let d = failure_description("", "javascript:alert(1)", "  ");
        let s = d.to_string();
        assert!(!s.contains("javascript"));
        assert!(!s.contains("\"marks\""));
        assert!(s.contains(NO_MESSAGE));
        // No empty text node anywhere: Jira refuses them.
        assert!(!s.contains("\"text\":\"\""));
    }

    #[test]
    fn control_characters_are_replaced() {
        let d = failure_description("a\u{0}b", "", "x\u{1b}[31my");
        let s = d.to_string();
        assert!(!s.contains("\\u0000"));
        assert!(!s.contains("\\u001b"));
    }

    fn evidence() -> Evidence {
        Evidence::new()
            .with_run_url("https://ci.example/runs/812")
            .with_commit("4f2a9c1")
            .with_branch("main")
            .with_duration(std::time::Duration::from_millis(184_000))
            .with_failed_at(crate::clock::from_ms(1_796_011_953_123))
    }

    /// The table's rows as (label, value, href) triples; `None` without a table.
    fn table_rows(doc: &Doc) -> Option<Vec<(String, String, Option<String>)>> {
        let v = doc.to_value();
        let table = v["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "table")?
            .clone();
        assert!(table.get("attrs").is_none(), "{table}");
        let rows = table["content"].as_array().unwrap();
        Some(
            rows.iter()
                .map(|row| {
                    assert_eq!(row["type"], "tableRow");
                    let cells = row["content"].as_array().unwrap();
                    assert_eq!(cells.len(), 2, "{row}");
                    assert_eq!(cells[0]["type"], "tableHeader");
                    assert_eq!(cells[1]["type"], "tableCell");
                    let para = |c: &Value| {
                        let blocks = c["content"].as_array().unwrap();
                        assert_eq!(blocks.len(), 1);
                        assert_eq!(blocks[0]["type"], "paragraph");
                        let runs = blocks[0]["content"].as_array().unwrap();
                        assert_eq!(runs.len(), 1);
                        runs[0].clone()
                    };
                    let label = para(&cells[0]);
                    let value = para(&cells[1]);
                    (
                        label["text"].as_str().unwrap().to_owned(),
                        value["text"].as_str().unwrap().to_owned(),
                        value["marks"][0]["attrs"]["href"]
                            .as_str()
                            .map(str::to_owned),
                    )
                })
                .collect(),
        )
    }

    fn labels(rows: &[(String, String, Option<String>)]) -> Vec<&str> {
        rows.iter().map(|(l, _, _)| l.as_str()).collect()
    }

    #[test]
    fn without_environment_or_evidence_the_document_is_unchanged() {
        let long = "x\"😀".repeat(20_000);
        let mut blank_env = TestInfo::new("t", "Name \"q\"", "https://x.example/t");
        // Set past `with_environment`, which would have refused it.
        blank_env.environment = Some(" \n ".to_owned());
        let mut blank = Evidence::new();
        blank.branch = Some("\t".to_owned());
        for (test, evidence) in [
            (
                TestInfo::new("t", "Login", "https://x.example/t"),
                Evidence::new(),
            ),
            (TestInfo::new("t", "", "javascript:1"), Evidence::new()),
            (blank_env, blank),
        ] {
            for message in ["boom", "", long.as_str()] {
                for max in [0, 300, 5_000, DESCRIPTION_BUDGET] {
                    let with = failure_doc_with(&test, message, &evidence, max);
                    let within = failure_doc_within(&test.name, &test.url, message, max);
                    assert_eq!(
                        serde_json::to_string(&with).unwrap(),
                        serde_json::to_string(&within).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn the_evidence_table_holds_the_rows_given_in_order() {
        let test = TestInfo::new("t", "Login", "https://x.example/t").with_environment("staging");
        let doc = failure_doc_with(&test, "boom", &evidence(), DESCRIPTION_BUDGET);
        let rows = table_rows(&doc).expect("a table");
        assert_eq!(
            labels(&rows),
            [
                "Environment",
                "Run",
                "Commit",
                "Branch",
                "Duration",
                "Failed at"
            ]
        );
        let values: Vec<&str> = rows.iter().map(|(_, v, _)| v.as_str()).collect();
        let at = display(crate::clock::from_ms(1_796_011_953_123));
        assert_eq!(
            values,
            [
                "staging",
                "https://ci.example/runs/812",
                "4f2a9c1",
                "main",
                human_duration(std::time::Duration::from_millis(184_000)).as_str(),
                at.as_str(),
            ]
        );
        assert_eq!(rows[1].2.as_deref(), Some("https://ci.example/runs/812"));
        assert!(rows
            .iter()
            .enumerate()
            .all(|(i, r)| i == 1 || r.2.is_none()));
        // The failure document comes first, as it was, and the table last.
        let v = doc.to_value();
        let blocks = v["content"].as_array().unwrap();
        let without = failure_doc_within(&test.name, &test.url, "boom", DESCRIPTION_BUDGET);
        assert_eq!(
            blocks[..blocks.len() - 1],
            without.to_value()["content"].as_array().unwrap()[..]
        );
        assert_eq!(blocks.last().unwrap()["type"], "table");

        // Only what is given, still in order.
        let some = Evidence::new()
            .with_failed_at(crate::clock::from_ms(0))
            .with_commit("abc");
        let plain = TestInfo::new("t", "Login", "");
        let rows =
            table_rows(&failure_doc_with(&plain, "boom", &some, DESCRIPTION_BUDGET)).unwrap();
        assert_eq!(labels(&rows), ["Commit", "Failed at"]);
        let env_only = plain.clone().with_environment("prod");
        let rows = table_rows(&failure_doc_with(
            &env_only,
            "boom",
            &Evidence::new(),
            DESCRIPTION_BUDGET,
        ))
        .unwrap();
        assert_eq!(labels(&rows), ["Environment"]);
    }

    #[test]
    fn a_run_link_jira_would_refuse_is_text() {
        let test = TestInfo::new("t", "Login", "https://x.example/t");
        for bad in [
            "javascript:alert(1)",
            "ci/runs/812",
            "https://ci.example/a b",
            "ftp://ci/1",
        ] {
            let e = Evidence::new().with_run_url(bad);
            let rows =
                table_rows(&failure_doc_with(&test, "boom", &e, DESCRIPTION_BUDGET)).unwrap();
            assert_eq!(rows, [("Run".to_owned(), bad.to_owned(), None)], "{bad}");
        }
    }

    #[test]
    fn values_are_single_lined_and_cut_but_a_sha_stays_whole() {
        let sha = "0123456789abcdef".repeat(4);
        let e = Evidence::new()
            .with_commit(&sha)
            .with_branch(format!("feature/x\r\nmore\u{1b}{}", "b".repeat(500)));
        let test = TestInfo::new("t", "T", "");
        let rows = table_rows(&failure_doc_with(&test, "boom", &e, DESCRIPTION_BUDGET)).unwrap();
        assert_eq!(rows[0].1, sha);
        let branch = &rows[1].1;
        assert!(branch.starts_with("feature/x  more b"), "{branch}");
        assert!(branch.ends_with('…'), "{branch}");
        assert_eq!(jira_len(branch), MAX_EVIDENCE_VALUE);
    }

    #[test]
    fn the_table_counts_against_the_budget() {
        let long_url = format!("https://ci.example/{}", "r".repeat(1_900));
        let quotes = "\"\\😀".repeat(5_000);
        let e = Evidence::new()
            .with_run_url(&long_url)
            .with_commit(&quotes)
            .with_branch(&quotes)
            .with_duration(std::time::Duration::from_secs(3))
            .with_failed_at(crate::clock::from_ms(0));
        let test = TestInfo::new("t", &quotes, &long_url).with_environment(&quotes);
        let message = "m\"".repeat(50_000);
        let doc = failure_doc_with(&test, &message, &e, DESCRIPTION_BUDGET);
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(doc.json_len(), jira_len(&json));
        assert!(doc.json_len() <= DESCRIPTION_BUDGET, "{}", doc.json_len());
        // The message was cut as late as the bound allows.
        assert!(
            doc.json_len() > DESCRIPTION_BUDGET - 10,
            "{}",
            doc.json_len()
        );
        assert!(json.contains("was cut"));
        let rows = table_rows(&doc).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[1].2.as_deref(), Some(long_url.as_str()));
        assert!(rows
            .iter()
            .all(|(_, v, _)| jira_len(v) <= MAX_EVIDENCE_VALUE));

        // A budget the table fits in only without the message: the message goes.
        let frame = failure_doc_within(&test.name, &test.url, &message, 0).json_len();
        let table = failure_doc_with(&test, "", &e, usize::MAX).json_len()
            - failure_doc_within(&test.name, &test.url, "", usize::MAX).json_len();
        for max in [
            frame + table,
            frame + table + 100,
            frame + table - 1,
            frame,
            0,
        ] {
            let doc = failure_doc_with(&test, &message, &e, max);
            let s = serde_json::to_string(&doc).unwrap();
            assert!(!s.contains("\"text\":\"\""), "an empty text node at {max}");
            assert!(s.starts_with("{\"version\":1,\"type\":\"doc\",\"content\":[{\"type\":\"paragraph\",\"content\":[{\"type\":\"text\",\"text\":\"Test \"}"), "the intro stays at {max}");
            let has_table = table_rows(&doc).is_some();
            assert_eq!(has_table, max >= frame + table, "at {max}");
            if max >= frame {
                assert!(doc.json_len() <= max, "{} > {max}", doc.json_len());
            }
        }
    }
}
