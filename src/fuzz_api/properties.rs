//! Properties of what the crate builds from values a host passes: test labels, the JQL of
//! the duplicate check, summaries, descriptions, gateway URLs, and the `Retry-After`
//! reader. Inputs are any strings: arbitrary Unicode, quotes, backslashes, whitespace of
//! every kind, control characters, and strings a few thousand characters long.
//!
//! The checks here are written independently of the crate's code (their own JQL string
//! parser, percent-decoder, UTF-16 cut and calendar), so that they can disagree with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::__private_fuzz as fz;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::Value;

/// Cases per property: enough to reach the odd corners, few enough that the whole file
/// runs in a few seconds in a debug build.
const CASES: u32 = 512;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Failures are turned into named regression tests instead of files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Inputs.

/// Characters that sanitisers, quoting and line handling tend to get wrong: quotes,
/// backslashes, every kind of whitespace and line break, control characters, characters
/// a naive sanitiser would replace, case pairs (including ones whose case mapping changes
/// length or leaves ASCII), astral and combining characters.
const AWKWARD: &[char] = &[
    '"',
    '\\',
    '\'',
    '`',
    ' ',
    '\t',
    '\n',
    '\r',
    '\u{b}',
    '\u{c}',
    '\u{0}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{1680}',
    '\u{2000}',
    '\u{2007}',
    '\u{200a}',
    '\u{200b}',
    '\u{2028}',
    '\u{2029}',
    '\u{202f}',
    '\u{205f}',
    '\u{3000}',
    '\u{feff}',
    '_',
    '-',
    '.',
    '/',
    '%',
    '?',
    '#',
    '&',
    '=',
    '+',
    ':',
    '@',
    '*',
    '(',
    ')',
    '[',
    ']',
    '{',
    '}',
    '<',
    '>',
    'A',
    'Z',
    'a',
    'z',
    '0',
    '9',
    'f',
    'h',
    'é',
    'É',
    'ß',
    'ẞ',
    'İ',
    'ı',
    '\u{212a}',
    'Σ',
    'ς',
    '日',
    '😀',
    '\u{301}',
    '\u{fffd}',
    '\u{e000}',
    '\u{10ffff}',
];

fn awkward_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => select(AWKWARD),
        2 => any::<char>(),
        1 => proptest::char::range('\0', '\u{7f}'),
    ]
}

/// A string of up to `max` characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    vec(awkward_char(), 0..=max).prop_map(String::from_iter)
}

/// A string of up to `max` characters drawn like `awkward_char`, built from a seed: long
/// strings generated character by character make a debug build crawl, and their
/// shrinking is of little use anyway (the length still shrinks).
fn long_text(max: usize) -> impl Strategy<Value = String> {
    (any::<u64>(), 0..=max).prop_map(|(seed, len)| {
        let mut state = seed;
        let mut next = move || {
            // splitmix64
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (0..len)
            .map(|_| {
                let r = next();
                match r % 7 {
                    0..=3 => AWKWARD[(r >> 8) as usize % AWKWARD.len()],
                    4 | 5 => char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('\u{fffd}'),
                    _ => char::from((r >> 8) as u8 & 0x7f),
                }
            })
            .collect()
    })
}

/// Any string a host can pass: mostly short, sometimes thousands of characters.
fn host_string() -> BoxedStrategy<String> {
    prop_oneof![
        6 => text(40),
        3 => long_text(3_000),
    ]
    .boxed()
}

/// Evidence of a run: none, some or all of it, with any strings a host can pass.
fn evidence() -> BoxedStrategy<crate::Evidence> {
    let url = prop_oneof![
        host_string(),
        text(60).prop_map(|s| format!("https://ci.example/runs/{s}")),
        long_text(2_100).prop_map(|s| format!("http://ci/{}", s.replace(char::is_whitespace, "x"))),
    ];
    (
        proptest::option::of(url),
        proptest::option::of(host_string()),
        proptest::option::of(host_string()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(run, commit, branch, ms, at)| {
            let mut e = crate::Evidence::new();
            if let Some(run) = run {
                e = e.with_run_url(run);
            }
            if let Some(commit) = commit {
                e = e.with_commit(commit);
            }
            if let Some(branch) = branch {
                e = e.with_branch(branch);
            }
            if let Some(ms) = ms {
                e = e.with_duration(Duration::from_millis(ms));
            }
            if let Some(at) = at {
                e = e.with_failed_at(UNIX_EPOCH + Duration::from_millis(at % 10_000_000_000_000));
            }
            e
        })
        .boxed()
}

/// A label prefix the crate accepts (`check_prefix` is the gate a host's prefix passes).
fn valid_prefix() -> BoxedStrategy<String> {
    prop_oneof![
        Just("testclix-".to_owned()),
        text(fz::MAX_PREFIX_LEN).prop_map(|s| {
            let s: String = s
                .chars()
                .map(|c| {
                    if c.is_whitespace() || c.is_control() {
                        'x'
                    } else {
                        c
                    }
                })
                .collect();
            utf16_cut(&s, fz::MAX_PREFIX_LEN).to_owned()
        }),
    ]
    .prop_filter("the crate accepts the prefix", |p| {
        fz::check_prefix(p).is_ok()
    })
    .boxed()
}

/// A lower-case prefix, quotes and backslashes included.
fn lower_prefix() -> impl Strategy<Value = String> {
    "[a-z0-9._\"\\\\'-]{0,40}"
}

/// Two test ids that differ, chosen to be hard to tell apart: unrelated; differing only in
/// case; differing in one character that a naive sanitiser would map to the same thing;
/// sharing a prefix long enough that the label is cut and only the hash can tell them
/// apart.
fn distinct_ids() -> BoxedStrategy<(String, String)> {
    prop_oneof![
        (host_string(), host_string()),
        long_text(300).prop_map(|s| {
            let upper = s.to_uppercase();
            (s, upper)
        }),
        long_text(300).prop_map(|s| {
            let swapped = swap_case(&s);
            (s, swapped)
        }),
        (long_text(300), any::<Index>(), awkward_char()).prop_map(|(s, at, c)| {
            let mut chars: Vec<char> = s.chars().collect();
            let other = if chars.is_empty() {
                c.to_string()
            } else {
                let i = at.index(chars.len());
                chars[i] = c;
                chars.into_iter().collect()
            };
            (s, other)
        }),
        (text(8), 100usize..400, awkward_char(), awkward_char()).prop_map(|(unit, n, a, b)| {
            let common = unit.repeat(n / unit.chars().count().max(1)) + &"x".repeat(n);
            (format!("{common}{a}"), format!("{common}{b}"))
        }),
        (text(8), 250usize..400, awkward_char()).prop_map(|(tail, n, c)| {
            let common = "a".repeat(n) + &tail;
            (common.clone(), format!("{common}{c}"))
        }),
    ]
    .prop_filter("the ids differ", |(a, b)| a != b)
    .boxed()
}

fn swap_case(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().collect::<Vec<_>>()
            } else {
                c.to_lowercase().collect()
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Independent helpers.

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The longest prefix of `s` of at most `max` UTF-16 units.
fn utf16_cut(s: &str, max: usize) -> &str {
    let mut end = 0;
    let mut units = 0;
    for c in s.chars() {
        units += c.len_utf16();
        if units > max {
            break;
        }
        end += c.len_utf8();
    }
    &s[..end]
}

/// Reads one JQL string literal at the start of `s`: double-quoted, with `\"` and `\\` as
/// the only escapes. Returns the value and what follows the closing quote.
fn jql_string_literal(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    if !matches!(chars.next(), Some((_, '"'))) {
        return Err(format!("no opening quote in {s:?}"));
    }
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                other => return Err(format!("bad escape {other:?} in {s:?}")),
            },
            c => value.push(c),
        }
    }
    Err(format!("unclosed literal in {s:?}"))
}

/// Reads `labels = "<value>"` and returns the value and the rest of the query.
fn labels_clause(jql: &str) -> Result<(String, &str), String> {
    let rest = jql
        .strip_prefix("labels")
        .ok_or_else(|| format!("{jql:?} does not start with the labels field"))?;
    let rest = rest
        .trim_start_matches(' ')
        .strip_prefix('=')
        .ok_or_else(|| format!("no `=` in {jql:?}"))?;
    jql_string_literal(rest.trim_start_matches(' '))
}

/// Decodes a percent-encoded path segment.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("short escape in {s:?}"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("{hex:?}: {e}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Line breaks of any kind, control or not.
fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Seconds from the epoch to a date, by counting days (not by the crate's formula).
fn epoch_seconds(year: i64, month: u32, day: u32, h: u64, m: u64, s: u64) -> u64 {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let month_days = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += month_days[..month as usize - 1].iter().sum::<i64>();
    days += i64::from(day) - 1;
    u64::try_from(days).expect("after 1970") * 86_400 + h * 3600 + m * 60 + s
}

/// Checks an Atlassian Document Format node and returns its text length (UTF-16).
fn check_adf_node(node: &Value, path: &str) -> Result<usize, String> {
    let obj = node
        .as_object()
        .ok_or_else(|| format!("{path}: not an object"))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}: no type"))?;
    match kind {
        "paragraph" | "codeBlock" => {
            let content = obj
                .get("content")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{path}: {kind} without content"))?;
            if content.is_empty() {
                return Err(format!("{path}: empty {kind}"));
            }
            let mut len = 0;
            for (i, child) in content.iter().enumerate() {
                let p = format!("{path}.{kind}[{i}]");
                if child["type"] != "text" {
                    return Err(format!("{p}: a {kind} holds only text nodes"));
                }
                if kind == "codeBlock" && child.get("marks").is_some() {
                    return Err(format!("{p}: code block text is unmarked"));
                }
                len += check_adf_node(child, &p)?;
            }
            Ok(len)
        }
        "text" => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{path}: text node without text"))?;
            if text.is_empty() {
                return Err(format!("{path}: empty text node"));
            }
            if let Some(c) = text
                .chars()
                .find(|&c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err(format!("{path}: control character {c:?}"));
            }
            if let Some(marks) = obj.get("marks") {
                for mark in marks.as_array().ok_or("marks not a list")? {
                    let href = mark["attrs"]["href"].as_str();
                    let ok = mark["type"] == "link"
                        && href.is_some_and(|h| {
                            (h.starts_with("https://") || h.starts_with("http://"))
                                && !h.chars().any(char::is_whitespace)
                        });
                    if !ok {
                        return Err(format!("{path}: odd mark {mark}"));
                    }
                }
            }
            Ok(utf16_len(text))
        }
        // The evidence table: rows of a header cell and a cell, each one paragraph of
        // one line.
        "table" => {
            let rows = obj
                .get("content")
                .and_then(Value::as_array)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("{path}: a table without rows"))?;
            let mut len = 0;
            for (i, row) in rows.iter().enumerate() {
                let p = format!("{path}.table[{i}]");
                if row["type"] != "tableRow" {
                    return Err(format!("{p}: not a row"));
                }
                let cells = row["content"]
                    .as_array()
                    .ok_or_else(|| format!("{p}: a row without cells"))?;
                if cells.len() != 2
                    || cells[0]["type"] != "tableHeader"
                    || cells[1]["type"] != "tableCell"
                {
                    return Err(format!("{p}: not a header and a cell"));
                }
                for (j, cell) in cells.iter().enumerate() {
                    let blocks = cell["content"]
                        .as_array()
                        .filter(|b| b.len() == 1 && b[0]["type"] == "paragraph")
                        .ok_or_else(|| format!("{p}[{j}]: a cell holds one paragraph"))?;
                    let one_line = blocks[0]["content"].as_array().is_some_and(|runs| {
                        runs.iter()
                            .all(|r| !r["text"].as_str().is_some_and(|t| t.contains(breaks_line)))
                    });
                    if !one_line {
                        return Err(format!("{p}[{j}]: a line break in a cell"));
                    }
                    len += check_adf_node(&blocks[0], &format!("{p}[{j}]"))?;
                }
            }
            Ok(len)
        }
        other => Err(format!("{path}: unexpected node type {other:?}")),
    }
}

/// The labels of a description's evidence table, in order.
fn table_labels(doc: &Value) -> Vec<String> {
    doc["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "table")
        .flat_map(|t| t["content"].as_array().cloned().unwrap_or_default())
        .map(|row| {
            row["content"][0]["content"][0]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn check_adf_doc(doc: &Value) -> Result<usize, String> {
    if doc["version"] != 1 || doc["type"] != "doc" {
        return Err("not a version 1 doc".into());
    }
    let content = doc["content"].as_array().ok_or("doc without content")?;
    if content.is_empty() {
        return Err("empty doc".into());
    }
    let mut len = 0;
    for (i, block) in content.iter().enumerate() {
        if !matches!(
            block["type"].as_str(),
            Some("paragraph" | "codeBlock" | "table")
        ) {
            return Err(format!("block {i} is {}", block["type"]));
        }
        len += check_adf_node(block, &format!("doc[{i}]"))?;
    }
    Ok(len)
}

// ---------------------------------------------------------------------------------------
// Labels.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn test_labels_are_valid_jira_labels(prefix in valid_prefix(), id in host_string()) {
        let label = fz::test_label(&prefix, &id);
        prop_assert!(!label.chars().any(char::is_whitespace), "{label:?}");
        prop_assert!(!label.chars().any(char::is_control), "{label:?}");
        prop_assert!(utf16_len(&label) <= fz::MAX_LABEL_LEN, "{} units", utf16_len(&label));
        prop_assert!(label.starts_with(&prefix));
        let encoded = &label[prefix.len()..];
        prop_assert!(
            encoded.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b)),
            "{encoded:?}"
        );
        if !label.is_empty() {
            prop_assert!(fz::check_label(&label).is_ok(), "{label:?}");
        }
        prop_assert_ne!(&label, &fz::notification_label(&prefix));
    }

    #[test]
    fn test_labels_are_lower_case_after_a_lower_case_prefix(
        prefix in lower_prefix(),
        id in host_string(),
    ) {
        let label = fz::test_label(&prefix, &id);
        prop_assert_eq!(&label, &label.to_lowercase());
    }

    #[test]
    fn distinct_ids_get_labels_no_search_can_confuse(
        prefix in valid_prefix(),
        (a, b) in distinct_ids(),
    ) {
        let la = fz::test_label(&prefix, &a);
        let lb = fz::test_label(&prefix, &b);
        prop_assert_ne!(&la, &lb, "ids {:?} and {:?}", a, b);
        prop_assert_ne!(la.to_lowercase(), lb.to_lowercase(), "ids {:?} and {:?}", a, b);
        prop_assert!(!la.eq_ignore_ascii_case(&lb));
    }

    #[test]
    fn labels_are_deterministic(prefix in valid_prefix(), id in host_string()) {
        prop_assert_eq!(fz::test_label(&prefix, &id), fz::test_label(&prefix, &id));
    }
}

// ---------------------------------------------------------------------------------------
// JQL.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_label_clause_parses_back_to_the_label(
        prefix in prop_oneof![valid_prefix(), lower_prefix().boxed()],
        id in host_string(),
    ) {
        let label = fz::test_label(&prefix, &id);
        let jql = fz::open_issues_with_label(&label);
        let (value, rest) = labels_clause(&jql).map_err(TestCaseError::fail)?;
        prop_assert_eq!(value, label);
        prop_assert_eq!(rest, " AND statusCategory != Done");
    }

    #[test]
    fn any_value_quotes_and_parses_back(value in host_string()) {
        let literal = fz::jql_quote(&value);
        let (parsed, rest) = jql_string_literal(&literal).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed, value);
        prop_assert_eq!(rest, "");
    }
}

#[test]
fn labels_with_quotes_and_backslashes_round_trip() {
    for prefix in [r#"a"b-"#, r"a\b-", r#"\"-"#, r#"""#, r"\\", r#"x\"#] {
        for id in ["", "t", r#"a"b\c"#, "\"", "\\"] {
            let label = fz::test_label(prefix, id);
            let jql = fz::open_issues_with_label(&label);
            let (value, rest) = labels_clause(&jql).unwrap();
            assert_eq!(value, label);
            assert_eq!(rest, " AND statusCategory != Done");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Summaries and descriptions.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn summaries_fit_on_one_line_and_are_prefixes(name in host_string(), fallback in host_string()) {
        let summary = fz::summary(&name, &fallback);
        prop_assert!(utf16_len(&summary) <= fz::MAX_SUMMARY_LEN, "{} units", utf16_len(&summary));
        prop_assert!(!summary.chars().any(breaks_line), "{summary:?}");

        // The full text, built independently: line breaks and controls become spaces, the
        // name (or, if it is blank, the fallback) is trimmed.
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if breaks_line(c) { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_owned()
        };
        let shown = match clean(&name) {
            n if n.is_empty() => clean(&fallback),
            n => n,
        };
        let full = if shown.is_empty() {
            "Test Failed: (unnamed test)".to_owned()
        } else {
            format!("Test Failed: {shown}")
        };
        let full = full.trim_end();
        prop_assert!(full.starts_with(&summary), "{summary:?} is not a prefix of {full:?}");
        // Cut on a character boundary, as late as the limit allows, trailing blanks dropped.
        prop_assert_eq!(summary.as_str(), utf16_cut(full, fz::MAX_SUMMARY_LEN).trim_end());
        if shown.is_empty() {
            // Nothing to show at all (blank name and blank id): still a summary that says so.
            prop_assert_eq!(summary.as_str(), "Test Failed: (unnamed test)");
        } else {
            prop_assert!(summary.starts_with("Test Failed: "), "{summary:?}");
        }
    }

    #[test]
    fn descriptions_are_valid_documents_within_the_limit(
        name in host_string(),
        url in prop_oneof![
            host_string(),
            text(60).prop_map(|s| format!("https://app.example/t/{s}")),
            Just("https://app.example/t/1".to_owned()),
            long_text(2_100).prop_map(|s| format!("http://h/{}", s.replace(char::is_whitespace, "x"))),
        ],
        message in prop_oneof![
            host_string(),
            // Long enough to be cut, with astral characters at the cut.
            (30_000usize..34_000, text(4)).prop_map(|(n, t)| format!("{}{t}", "😀".repeat(n / 2))),
            // Escapes double a character's length once serialised.
            (10_000usize..20_000, text(4)).prop_map(|(n, t)| format!("{}{t}", "\"\\\r\n".repeat(n / 4))),
        ],
        environment in proptest::option::of(host_string()),
        evidence in evidence(),
    ) {
        let doc = fz::failure_description(&name, &url, &message);
        let len = check_adf_doc(&doc).map_err(TestCaseError::fail)?;
        prop_assert!(len <= fz::MAX_DESCRIPTION_LEN, "{len} units");
        // Jira applies its limit to the document as JSON, escapes and markup included.
        let json = utf16_len(&doc.to_string());
        prop_assert!(json <= fz::MAX_DESCRIPTION_LEN, "{json} units as JSON");

        // With the environment and the evidence: as valid and within the same limit, the
        // table's rows in their order; with neither, the very same document.
        let with = fz::failure_description_with(&name, &url, environment.as_deref(), &message, &evidence);
        let len = check_adf_doc(&with).map_err(TestCaseError::fail)?;
        prop_assert!(len <= fz::MAX_DESCRIPTION_LEN, "{len} units");
        let json = utf16_len(&with.to_string());
        prop_assert!(json <= fz::MAX_DESCRIPTION_LEN, "{json} units as JSON");
        let order = ["Environment", "Run", "Commit", "Branch", "Duration", "Failed at"];
        let labels = table_labels(&with);
        let at: Vec<usize> = labels
            .iter()
            .map(|l| order.iter().position(|o| o == l).unwrap_or(usize::MAX))
            .collect();
        prop_assert!(at.windows(2).all(|w| w[0] < w[1]) && !at.contains(&usize::MAX), "{labels:?}");
        if evidence.duration.is_some() || evidence.failed_at.is_some() {
            // Always shown when given (nothing of them can be blank), room permitting: the
            // message is what gets cut.
            prop_assert!(labels.iter().any(|l| l == "Duration" || l == "Failed at"), "{labels:?}");
        }
        if environment.is_none() && evidence == crate::Evidence::new() {
            prop_assert_eq!(with, doc);
        }
    }
}

#[test]
fn summary_of_a_blank_name_and_blank_id_says_unnamed() {
    assert_eq!(fz::summary(" \t", "\u{0}\n"), "Test Failed: (unnamed test)");
}

/// Found by `summaries_fit_on_one_line_and_are_prefixes`: U+2028 and U+2029 are line
/// breaks but not control characters, and went into the summary as they were.
#[test]
fn unicode_line_and_paragraph_separators_become_spaces() {
    assert_eq!(
        fz::summary("a\u{2028}b\u{2029}c", "id"),
        "Test Failed: a b c"
    );
    assert_eq!(fz::summary("\u{2028}", "id\u{2029}"), "Test Failed: id");
    let doc = fz::failure_description("a\u{2028}b", "", "x");
    assert_eq!(doc["content"][0]["content"][1]["text"], "a b");
}

/// Found by `descriptions_are_valid_documents_within_the_limit`: a test URL holding a
/// control character still parses as a URL, and went into the document as link text and
/// href, which Jira refuses.
#[test]
fn a_test_url_with_a_control_character_is_not_linked() {
    let doc = fz::failure_description("T", "http://h/\u{e}", "boom");
    check_adf_doc(&doc).unwrap();
    assert!(!doc.to_string().contains("marks"), "{doc}");
    let doc = fz::failure_description("T", "https://h/a\u{7f}b", "boom");
    check_adf_doc(&doc).unwrap();
}

// ---------------------------------------------------------------------------------------
// URLs.

/// Any path segment except `.` and `..`, which the url crate drops (its documented
/// behaviour); the crate never passes either (project keys start with a letter or digit,
/// cloud ids and issue keys are checked).
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        text(30),
        "[A-Z][A-Z0-9_]{0,9}",
        Just(".a".to_owned()),
        Just("...".to_owned()),
        Just("%2e%2E".to_owned()),
        Just(". ".to_owned()),
        Just("\t..".to_owned()),
        Just("..\n".to_owned()),
    ]
    .prop_filter("not a dot segment", |s| s != "." && s != "..")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gateway_urls_encode_every_segment(
        base in select(&["https://api.atlassian.com", "http://localhost:8/gw/", "https://h/a/b"][..]),
        cloud in segment(),
        segments in vec(segment(), 0..5),
    ) {
        let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let url = fz::jira_url(base, &cloud, &refs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let base_segments: Vec<&str> = base
            .splitn(4, '/')
            .nth(3)
            .unwrap_or("")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut expected: Vec<&str> = base_segments;
        expected.extend(["ex", "jira", cloud.as_str(), "rest", "api", "3"]);
        expected.extend(refs.iter().copied());

        prop_assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        let got: Vec<String> = url
            .path_segments()
            .expect("a base URL")
            .map(percent_decode)
            .collect::<Result<_, _>>()
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.len(), expected.len(), "{}", url);
        prop_assert_eq!(got, expected, "{}", url);
    }
}

proptest! {
    #![proptest_config(config())]

    /// Apart from tabs and line breaks (which it drops), the url crate's own segment
    /// encoding gives the same URL.
    #[test]
    fn gateway_urls_match_the_url_crate_elsewhere(
        base in select(&["https://api.atlassian.com", "http://localhost:8/gw/", "https://h/a/b"][..]),
        cloud in segment(),
        segments in vec(segment(), 0..5),
    ) {
        let kept = |s: &String| !s.contains(['\t', '\n', '\r']);
        prop_assume!(kept(&cloud) && segments.iter().all(kept));
        let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let url = fz::jira_url(base, &cloud, &refs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut expected = url::Url::parse(base).expect("a URL");
        expected
            .path_segments_mut()
            .expect("a base URL")
            .pop_if_empty()
            .extend(["ex", "jira", cloud.as_str(), "rest", "api", "3"])
            .extend(&refs);
        prop_assert_eq!(url.as_str(), expected.as_str());
    }
}

/// Found by `gateway_urls_encode_every_segment`: the url crate drops tabs and line breaks
/// from a segment instead of encoding them, so `a\tb` became `ab`, and `\t..` a `..` that
/// took the segment before it away.
#[test]
fn tabs_and_line_breaks_in_segments_are_encoded() {
    let url = fz::jira_url("https://h", "c", &["project", "a\tb\nc\rd"]).unwrap();
    assert_eq!(url.path(), "/ex/jira/c/rest/api/3/project/a%09b%0Ac%0Dd");
    let url = fz::jira_url("https://h", "c", &["issue", "\t..", "x"]).unwrap();
    assert_eq!(url.path(), "/ex/jira/c/rest/api/3/issue/%09../x");
}

// ---------------------------------------------------------------------------------------
// Retry-After.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_after_never_panics(value in host_string(), now in any::<u64>()) {
        let now = UNIX_EPOCH + Duration::from_secs(now % (400 * 365 * 86_400));
        let _ = fz::parse_retry_after(&value, now);
    }

    #[test]
    fn retry_after_digits_are_seconds(
        digits in "[0-9]{1,30}",
        pad in select(&["", " ", "\t", "  \t "][..]),
    ) {
        let expected = Duration::from_secs(digits.parse::<u64>().unwrap_or(u64::MAX));
        let value = format!("{pad}{digits}{pad}");
        prop_assert_eq!(fz::parse_retry_after(&value, SystemTime::now()), Some(expected));
    }

    #[test]
    fn retry_after_dates_are_read_exactly(
        year in 1970i64..=9999,
        month in 1u32..=12,
        day in 1u32..=28,
        h in 0u64..24,
        m in 0u64..60,
        s in 0u64..60,
        weekday in select(&["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][..]),
        before in 0u64..1_000_000,
    ) {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let value = format!(
            "{weekday}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
            MONTHS[month as usize - 1]
        );
        let at = epoch_seconds(year, month, day, h, m, s);
        let now = UNIX_EPOCH + Duration::from_secs(at.saturating_sub(before));
        let expected = Duration::from_secs(at.min(before));
        prop_assert_eq!(fz::parse_retry_after(&value, now), Some(expected), "{}", value);
    }

    #[test]
    fn rate_limit_resets_are_read_exactly_at_any_precision(
        year in 1970i64..=9999,
        month in 1u32..=12,
        day in 1u32..=28,
        h in 0u64..24,
        m in 0u64..60,
        s in 0u64..60,
        millis in 0u32..1000,
        form in 0usize..4,
    ) {
        let at = epoch_seconds(year, month, day, h, m, s);
        let date = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}");
        let (value, expected) = match form {
            // Atlassian's documented form: to the minute.
            0 => (format!("{date}Z"), UNIX_EPOCH + Duration::from_secs(at - s)),
            1 => (format!("{date}:{s:02}Z"), UNIX_EPOCH + Duration::from_secs(at)),
            2 => (
                format!("{date}:{s:02}.{millis:03}Z"),
                UNIX_EPOCH + Duration::new(at, millis * 1_000_000),
            ),
            _ => (format!("{date}:{s:02}+00:00"), UNIX_EPOCH + Duration::from_secs(at)),
        };
        prop_assert_eq!(fz::parse_rate_limit_reset(&value), Some(expected), "{}", value);
    }

    #[test]
    fn rate_limit_resets_never_panic(value in host_string(), tail in "[0-9TZ:.+-]{0,30}") {
        let _ = fz::parse_rate_limit_reset(&value);
        let _ = fz::parse_rate_limit_reset(&format!("2026-03-26T{tail}"));
    }

    #[test]
    fn retry_after_near_dates_never_panic(
        day in "[0-9+-]{0,4}",
        month in "[A-Za-z]{0,4}",
        year in "[0-9+-]{0,20}",
        clock in "[0-9:+-]{0,12}",
        zone in select(&["GMT", "UTC", "", "GMT "][..]),
    ) {
        let value = format!("Sun, {day} {month} {year} {clock} {zone}");
        let _ = fz::parse_retry_after(&value, SystemTime::now());
    }
}
