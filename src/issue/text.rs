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

/// Text for a document node: control characters other than line breaks and tabs are
/// replaced, since Jira refuses them in documents.
pub(crate) fn printable(s: &str) -> String {
    let refused = |c: char| c.is_control() && c != '\n' && c != '\t';
    // The common case: nothing to replace, one copy.
    if !s.chars().any(refused) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
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
}
