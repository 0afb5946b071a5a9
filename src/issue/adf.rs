//! The issue description, in Atlassian Document Format (Jira's v3 API refuses plain text).

use crate::evidence::Evidence;
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
    Paragraph { content: Vec<Inline> },
    CodeBlock { content: Vec<Inline> },
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
    attrs: LinkAttrs,
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

/// A paragraph of text runs, each linked when it has an href (a usable one: see
/// `usable_link`), for the lines the notifier writes around a failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lead(Block);

impl Lead {
    pub(crate) fn new(runs: &[(&str, Option<&str>)]) -> Lead {
        let content = runs
            .iter()
            .filter(|(s, _)| !s.is_empty())
            .map(|(s, href)| match href.and_then(|h| usable_link(h)) {
                Some(h) => linked(s, h),
                None => text(s),
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
/// message is cut to make room for them.
pub(crate) fn failure_doc_after(
    leads: Vec<Lead>,
    test_name: &str,
    test_url: &str,
    message: &str,
) -> Doc {
    let room: usize = leads.iter().map(Lead::json_len).sum();
    let mut doc = failure_doc_within(
        test_name,
        test_url,
        message,
        DESCRIPTION_BUDGET.saturating_sub(room),
    );
    let mut content: Vec<Block> = leads.into_iter().map(|l| l.0).collect();
    content.append(&mut doc.content);
    doc.content = content;
    doc
}

/// The description of a failure as the host reported it: [`failure_doc_within`] with the
/// test's environment and the run's evidence.
pub(crate) fn failure_doc_with(
    test: &TestInfo,
    message: &str,
    evidence: &Evidence,
    max_json: usize,
) -> Doc {
    let _ = evidence;
    failure_doc_within(&test.name, &test.url, message, max_json)
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

fn linked(s: &str, href: &str) -> Inline {
    Inline {
        kind: "text",
        text: s.to_owned(),
        marks: vec![Mark {
            kind: "link",
            attrs: LinkAttrs {
                href: href.to_owned(),
            },
        }],
    }
}

/// A code block holds unmarked text.
fn code_block(s: String) -> Block {
    Block::CodeBlock {
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
}
