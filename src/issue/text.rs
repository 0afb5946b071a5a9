//! Jira counts field lengths in UTF-16 code units (Java strings): one emoji counts two.
//! These helpers measure and cut text that way, always on a character boundary.

/// The length Jira sees.
pub(crate) fn jira_len(s: &str) -> usize {
    // Most messages are ASCII: one byte, one unit.
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `s` whose Jira length is at most `max`.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.is_ascii() {
        return &s[..s.len().min(max)];
    }
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// One line of text: control characters and line breaks become spaces, runs of spaces
/// are kept as they are, and the ends are trimmed. The line and paragraph separators
/// (U+2028, U+2029) are line breaks that are not control characters.
pub(crate) fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Text for a document node: Windows (`\r\n`) and old Mac (`\r`) line endings become
/// `\n`, and other control characters than line feeds and tabs are replaced, since Jira
/// refuses them in documents (a CRLF stack trace would otherwise end each line in U+FFFD).
pub(crate) fn printable(s: &str) -> String {
    let refused = |c: char| c.is_control() && c != '\n' && c != '\t';
    // The common case: nothing to replace, one copy.
    if !s.chars().any(refused) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            c if refused(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

/// How many UTF-16 units `s` takes inside a JSON string once escaped as serde_json
/// escapes it (Jira stores a description as JSON and counts it as Java counts): `"`, `\`
/// and the short escapes (`\n`, `\t`, ...) take two, other control characters six.
pub(crate) fn json_len(s: &str) -> usize {
    if s.is_ascii() {
        // Most messages escape nothing: one quick pass says so.
        if !needs_escape(s.as_bytes()) {
            return s.len();
        }
        return s.len() + s.bytes().map(ascii_escape_extra).sum::<usize>();
    }
    s.chars().map(json_units).sum()
}

/// Whether any byte is escaped in JSON (a quote, a backslash, a control character).
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The longest prefix of `s` whose [`json_len`] is at most `max`.
pub(crate) fn cut_json(s: &str, max: usize) -> &str {
    let mut used = 0;
    if s.is_ascii() {
        let head = &s.as_bytes()[..s.len().min(max)];
        if !needs_escape(head) {
            return &s[..head.len()];
        }
        for (i, b) in s.bytes().enumerate() {
            used += 1 + ascii_escape_extra(b);
            if used > max {
                return &s[..i];
            }
        }
        return s;
    }
    for (i, c) in s.char_indices() {
        used += json_units(c);
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// The units an ASCII byte takes beyond itself once escaped.
fn ascii_escape_extra(b: u8) -> usize {
    match b {
        b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 1,
        0..=0x1f => 5,
        _ => 0,
    }
}

fn json_units(c: char) -> usize {
    if c.is_ascii() {
        1 + ascii_escape_extra(c as u8)
    } else {
        c.len_utf16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_utf16_units() {
        assert_eq!(jira_len("abc"), 3);
        assert_eq!(jira_len("é"), 1);
        assert_eq!(jira_len("😀"), 2);
    }

    #[test]
    fn cuts_on_char_boundaries() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab😀c", 3), "ab");
        assert_eq!(cut("ab😀c", 4), "ab😀");
        assert_eq!(cut("日本語", 2), "日本");
        assert_eq!(cut("short", 255), "short");
    }

    #[test]
    fn single_line_drops_breaks() {
        assert_eq!(single_line(" a\nb\r\tc\u{0}d "), "a b  c d");
        assert_eq!(single_line("a\u{2028}b\u{2029}c\u{85}d"), "a b c d");
    }

    #[test]
    fn printable_keeps_breaks() {
        assert_eq!(printable("a\nb\tc\u{7}"), "a\nb\tc\u{FFFD}");
    }

    #[test]
    fn printable_turns_windows_and_mac_line_endings_into_line_feeds() {
        assert_eq!(printable("a\r\nb\rc\n\r\r\nd\r"), "a\nb\nc\n\n\nd\n");
    }

    #[test]
    fn json_lengths_count_escapes_as_serde_json_writes_them() {
        for s in [
            "plain",
            "q\"b\\t\tn\n",
            "\u{1}\u{1f}x",
            "é😀\"",
            "\u{7f}",
            "",
        ] {
            let serialised = serde_json::to_string(s).unwrap();
            let units = serialised.encode_utf16().count() - 2;
            assert_eq!(json_len(s), units, "{s:?}");
        }
        assert_eq!(cut_json("ab\"cd", 3), "ab");
        assert_eq!(cut_json("ab\"cd", 4), "ab\"");
        assert_eq!(cut_json("é\"😀x", 4), "é\"");
        assert_eq!(cut_json("é\"😀x", 5), "é\"😀");
        assert_eq!(cut_json("short", 99), "short");
    }
}
