//! Checks an Atlassian Document Format value as Jira does before storing a description:
//! the node tree must follow ADF's nesting rules and its text must fit Jira's limit.

use serde_json::{Map, Value};

/// Jira's limit on a rich-text field, counted in UTF-16 code units as Java counts.
pub(crate) const MAX_TEXT: usize = 32_767;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdfError {
    /// Not an ADF document at all (a plain string, another JSON type, a non-`doc` root).
    NotADocument,
    /// A `doc` whose nodes break ADF's schema.
    Invalid,
    /// A text node without text, which ADF forbids and Jira fails to store.
    EmptyText,
    /// More text than the field holds.
    TooLong,
}

const BLOCKS: &[&str] = &[
    "paragraph",
    "heading",
    "codeBlock",
    "bulletList",
    "orderedList",
    "blockquote",
    "rule",
    "panel",
    "table",
    "mediaSingle",
    "mediaGroup",
    "expand",
    "taskList",
    "decisionList",
    "layoutSection",
    "blockCard",
    "embedCard",
    "extension",
    "bodiedExtension",
];

const INLINES: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "mediaInline",
    "placeholder",
    "inlineExtension",
];

/// Nodes that nest other nodes more freely than the ones checked closely below.
const LOOSE_CONTAINERS: &[&str] = &[
    "mediaSingle",
    "mediaGroup",
    "expand",
    "nestedExpand",
    "taskList",
    "taskItem",
    "decisionList",
    "decisionItem",
    "layoutSection",
    "layoutColumn",
    "bodiedExtension",
];

/// What a table cell (`tableCell`, `tableHeader`) holds: blocks, never bare inline nodes
/// (ADF's `table_cell_content`).
const CELL_CONTENT: &[&str] = &[
    "paragraph",
    "panel",
    "blockquote",
    "orderedList",
    "bulletList",
    "rule",
    "heading",
    "codeBlock",
    "mediaGroup",
    "mediaSingle",
    "decisionList",
    "taskList",
    "extension",
    "blockCard",
    "nestedExpand",
    "embedCard",
];

/// Nodes whose `content` ADF requires, with at least one node in it.
const MUST_FILL: &[&str] = &[
    "bulletList",
    "orderedList",
    "listItem",
    "table",
    "tableRow",
    "tableCell",
    "tableHeader",
];

const LEAVES: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "mediaInline",
    "placeholder",
    "inlineExtension",
    "rule",
    "media",
    "blockCard",
    "embedCard",
    "extension",
];

const TEXT_MARKS: &[&str] = &[
    "code",
    "em",
    "link",
    "strike",
    "strong",
    "subsup",
    "textColor",
    "underline",
    "backgroundColor",
];

const BLOCK_MARKS: &[&str] = &["alignment", "indentation"];

/// Which children a node may have; `None` for any known node.
fn allowed_children(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "doc" => Some(BLOCKS),
        "paragraph" | "heading" => Some(INLINES),
        "codeBlock" => Some(&["text"]),
        "bulletList" | "orderedList" => Some(&["listItem"]),
        "listItem" => Some(&[
            "paragraph",
            "codeBlock",
            "bulletList",
            "orderedList",
            "mediaSingle",
            "taskList",
        ]),
        "blockquote" => Some(&[
            "paragraph",
            "bulletList",
            "orderedList",
            "codeBlock",
            "mediaGroup",
            "mediaSingle",
        ]),
        "panel" => Some(&[
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "blockCard",
            "mediaGroup",
            "mediaSingle",
            "codeBlock",
            "taskList",
            "rule",
            "decisionList",
        ]),
        "table" => Some(&["tableRow"]),
        "tableRow" => Some(&["tableCell", "tableHeader"]),
        "tableCell" | "tableHeader" => Some(CELL_CONTENT),
        _ => None,
    }
}

fn is_known(kind: &str) -> bool {
    matches!(kind, "listItem" | "tableRow" | "tableCell" | "tableHeader")
        || BLOCKS.contains(&kind)
        || INLINES.contains(&kind)
        || LOOSE_CONTAINERS.contains(&kind)
        || LEAVES.contains(&kind)
}

/// Checks a rich-text value (a description, a comment) against Jira's default limit; `Ok`
/// for a valid document.
pub(crate) fn check(value: &Value) -> Result<(), AdfError> {
    check_within(value, MAX_TEXT)
}

/// Checks a description value; `Ok` for a valid document whose serialised form fits in
/// `limit` UTF-16 units.
///
/// Jira keeps a rich-text field as its ADF JSON, so the limit applies to the document as
/// JSON, markup and escapes included, counted as Java counts (issue 9: "bound the
/// serialised ADF, as JSON, in UTF-16 units, under 32,767, not only its text").
pub(crate) fn check_within(value: &Value, limit: usize) -> Result<(), AdfError> {
    let Some(doc) = value.as_object() else {
        return Err(AdfError::NotADocument);
    };
    if doc.get("type").and_then(Value::as_str) != Some("doc") {
        return Err(AdfError::NotADocument);
    }
    if doc.get("version").and_then(Value::as_u64) != Some(1) || !doc.contains_key("content") {
        return Err(AdfError::Invalid);
    }
    let mut text_len = 0;
    children(doc, "doc", &mut text_len)?;
    if text_len > limit || value.to_string().encode_utf16().count() > limit {
        return Err(AdfError::TooLong);
    }
    Ok(())
}

fn children(node: &Map<String, Value>, kind: &str, text_len: &mut usize) -> Result<(), AdfError> {
    let must_fill = MUST_FILL.contains(&kind);
    let content = match node.get("content") {
        None if must_fill => return Err(AdfError::Invalid),
        None => return Ok(()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(AdfError::Invalid),
    };
    if LEAVES.contains(&kind) {
        return Err(AdfError::Invalid);
    }
    if must_fill && content.is_empty() {
        return Err(AdfError::Invalid);
    }
    let allowed = allowed_children(kind);
    for child in content {
        let child = child.as_object().ok_or(AdfError::Invalid)?;
        let child_kind = child
            .get("type")
            .and_then(Value::as_str)
            .ok_or(AdfError::Invalid)?;
        let fits = match allowed {
            Some(list) => list.contains(&child_kind),
            None => true,
        };
        if !fits || !is_known(child_kind) {
            return Err(AdfError::Invalid);
        }
        node_itself(child, child_kind, kind, text_len)?;
        children(child, child_kind, text_len)?;
    }
    Ok(())
}

fn node_itself(
    node: &Map<String, Value>,
    kind: &str,
    parent: &str,
    text_len: &mut usize,
) -> Result<(), AdfError> {
    match kind {
        "text" => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.is_empty() {
                return Err(AdfError::EmptyText);
            }
            *text_len = text_len.saturating_add(text.encode_utf16().count());
            let marks = node.get("marks");
            if parent == "codeBlock"
                && marks.is_some_and(|m| m.as_array().is_none_or(|a| !a.is_empty()))
            {
                return Err(AdfError::Invalid);
            }
            text_marks(marks)
        }
        "heading" => {
            let level = node
                .get("attrs")
                .and_then(|a| a.get("level"))
                .and_then(Value::as_u64);
            if !matches!(level, Some(1..=6)) {
                return Err(AdfError::Invalid);
            }
            block_marks(node.get("marks"))
        }
        "paragraph" => block_marks(node.get("marks")),
        _ => Ok(()),
    }
}

/// A node's marks as (type, mark object) pairs.
type Marks<'a> = Vec<(&'a str, &'a Map<String, Value>)>;

fn mark_types(marks: Option<&Value>) -> Result<Marks<'_>, AdfError> {
    let Some(marks) = marks else {
        return Ok(Vec::new());
    };
    let items = marks.as_array().ok_or(AdfError::Invalid)?;
    let mut out: Marks<'_> = Vec::new();
    for mark in items {
        let mark = mark.as_object().ok_or(AdfError::Invalid)?;
        let kind = mark
            .get("type")
            .and_then(Value::as_str)
            .ok_or(AdfError::Invalid)?;
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(AdfError::Invalid);
        }
        out.push((kind, mark));
    }
    Ok(out)
}

fn text_marks(marks: Option<&Value>) -> Result<(), AdfError> {
    let marks = mark_types(marks)?;
    for (kind, mark) in &marks {
        if !TEXT_MARKS.contains(kind) {
            return Err(AdfError::Invalid);
        }
        if *kind == "link" {
            let href = mark
                .get("attrs")
                .and_then(|a| a.get("href"))
                .and_then(Value::as_str);
            if href.is_none_or(str::is_empty) {
                return Err(AdfError::Invalid);
            }
        }
    }
    // ADF lets inline code carry a link and nothing else.
    let has_code = marks.iter().any(|(k, _)| *k == "code");
    if has_code && marks.iter().any(|(k, _)| *k != "code" && *k != "link") {
        return Err(AdfError::Invalid);
    }
    Ok(())
}

fn block_marks(marks: Option<&Value>) -> Result<(), AdfError> {
    if mark_types(marks)?
        .iter()
        .all(|(k, _)| BLOCK_MARKS.contains(k))
    {
        Ok(())
    } else {
        Err(AdfError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(content: Value) -> Value {
        json!({"version": 1, "type": "doc", "content": content})
    }

    fn para(text: &str) -> Value {
        json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
    }

    #[test]
    fn accepts_the_documents_the_crate_writes() {
        let linked = json!({"type": "paragraph", "content": [
            {"type": "text", "text": "see "},
            {"type": "text", "text": "the test", "marks": [{"type": "link", "attrs": {"href": "https://x"}}]},
            {"type": "hardBreak"},
        ]});
        let code = json!({"type": "codeBlock", "attrs": {"language": "text"},
                          "content": [{"type": "text", "text": "trace"}]});
        let list = json!({"type": "bulletList", "content": [{"type": "listItem", "content": [para("i")]}]});
        let heading = json!({"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "h"}]});
        assert_eq!(
            check(&doc(
                json!([linked, code, list, heading, {"type": "paragraph"}])
            )),
            Ok(())
        );
        assert_eq!(check(&doc(json!([]))), Ok(()));
    }

    #[test]
    fn refuses_what_is_not_a_document() {
        assert_eq!(check(&json!("plain")), Err(AdfError::NotADocument));
        assert_eq!(
            check(&json!({"type": "paragraph"})),
            Err(AdfError::NotADocument)
        );
        assert_eq!(check(&json!(null)), Err(AdfError::NotADocument));
    }

    #[test]
    fn refuses_broken_trees() {
        for bad in [
            json!({"type": "doc", "content": []}),
            json!({"version": 2, "type": "doc", "content": []}),
            doc(json!([{"type": "text", "text": "bare text at the root"}])),
            doc(json!([{"type": "paragraph", "content": [para("nested")]}])),
            doc(
                json!([{"type": "codeBlock", "content": [{"type": "text", "text": "x", "marks": [{"type": "strong"}]}]}]),
            ),
            doc(
                json!([{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "link"}]}]}]),
            ),
            doc(
                json!([{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "code"}, {"type": "em"}]}]}]),
            ),
            doc(json!([{"type": "heading", "content": []}])),
            doc(json!([{"type": "bulletList", "content": []}])),
            doc(json!([{"type": "bulletList", "content": [para("not an item")]}])),
            doc(json!([{"type": "madeUp"}])),
            doc(json!(["string node"])),
            doc(json!({"type": "paragraph"})),
        ] {
            assert_eq!(check(&bad), Err(AdfError::Invalid), "{bad}");
        }
    }

    #[test]
    fn refuses_empty_text_nodes() {
        let empty = doc(json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]));
        assert_eq!(check(&empty), Err(AdfError::EmptyText));
        let missing = doc(json!([{"type": "paragraph", "content": [{"type": "text"}]}]));
        assert_eq!(check(&missing), Err(AdfError::EmptyText));
    }

    #[test]
    fn counts_the_documents_json_in_utf16_units() {
        let skeleton = doc(json!([para("x")])).to_string().len() - 1;
        let fits = "a".repeat(MAX_TEXT - skeleton);
        assert_eq!(check(&doc(json!([para(&fits)]))), Ok(()));
        // One astral character is two UTF-16 units in Java's count.
        let astral = format!("{}😀", "a".repeat(MAX_TEXT - skeleton - 1));
        assert_eq!(check(&doc(json!([para(&astral)]))), Err(AdfError::TooLong));
        // Escapes count: a quote is two units once serialised.
        let quotes = "\"".repeat(MAX_TEXT / 2);
        assert_eq!(check(&doc(json!([para(&quotes)]))), Err(AdfError::TooLong));
        assert_eq!(
            check_within(&doc(json!([para("abc")])), 10),
            Err(AdfError::TooLong)
        );
    }

    fn cell(kind: &str, content: Value) -> Value {
        json!({"type": kind, "content": content})
    }

    fn table(cells: Vec<Value>) -> Value {
        doc(json!([{"type": "table", "content": [{"type": "tableRow", "content": cells}]}]))
    }

    #[test]
    fn accepts_tables_and_lists_as_the_schema_has_them() {
        let linked = json!({"type": "paragraph", "content": [
            {"type": "text", "text": "run", "marks": [{"type": "link", "attrs": {"href": "https://x"}}]},
        ]});
        assert_eq!(
            check(&table(vec![
                cell("tableHeader", json!([para("Run")])),
                cell("tableCell", json!([linked])),
            ])),
            Ok(())
        );
        // Attributes the schema permits, a cell holding a list.
        let with_attrs = doc(json!([{"type": "table",
        "attrs": {"isNumberColumnEnabled": false, "layout": "default"},
        "content": [{"type": "tableRow", "content": [
            {"type": "tableCell", "attrs": {"colspan": 1}, "content": [
                {"type": "bulletList", "content": [{"type": "listItem", "content": [para("i")]}]},
            ]},
        ]}]}]));
        assert_eq!(check(&with_attrs), Ok(()));
        let code_item = json!({"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "name", "marks": [{"type": "link", "attrs": {"href": "https://x"}}]},
                {"type": "text", "text": " — "},
                {"type": "text", "text": "boom", "marks": [{"type": "code"}]},
            ]},
        ]}]});
        assert_eq!(check(&doc(json!([code_item]))), Ok(()));
    }

    #[test]
    fn refuses_cells_and_items_the_schema_does_not_allow() {
        for bad in [
            // A cell holds blocks, not bare text.
            table(vec![cell(
                "tableCell",
                json!([{"type": "text", "text": "bare"}]),
            )]),
            table(vec![cell("tableHeader", json!([{"type": "hardBreak"}]))]),
            // A cell, a row, a table, a list and an item hold at least one node.
            table(vec![cell("tableCell", json!([]))]),
            table(vec![json!({"type": "tableHeader"})]),
            doc(json!([{"type": "table"}])),
            doc(json!([{"type": "table", "content": [{"type": "tableRow"}]}])),
            doc(json!([{"type": "bulletList"}])),
            doc(json!([{"type": "bulletList", "content": [{"type": "listItem", "content": []}]}])),
            doc(json!([{"type": "bulletList", "content": [{"type": "listItem"}]}])),
            // Cells only in rows.
            doc(json!([cell("tableCell", json!([para("x")]))])),
            doc(json!([{"type": "panel", "content": [cell("tableCell", json!([para("x")]))]}])),
        ] {
            assert_eq!(check(&bad), Err(AdfError::Invalid), "{bad}");
        }
    }
}
