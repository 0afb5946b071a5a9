//! The one JQL query the duplicate check runs, with values quoted safely.

/// A JQL string literal: double quotes, with `"` and `\` escaped by a backslash.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Open issues carrying a label. `statusCategory` rather than `resolution` or a status
/// name: status names are per workflow and localised, and an unresolved-but-done issue
/// must not block a new one.
pub(crate) fn open_issues_with_label(label: &str) -> String {
    format!("labels = {} AND statusCategory != Done", quote(label))
}

/// The test's open issues and its recorded issue, open or not: the recorded issue's
/// state tells the history, reopen and mute policies how it was closed.
pub(crate) fn test_issues(label: &str, recorded_id: u64) -> String {
    format!(
        "labels = {} AND (statusCategory != Done OR issue = {recorded_id})",
        quote(label)
    )
}

#[cfg(test)]
pub(crate) fn unquote(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_issue_is_asked_for_whatever_its_status() {
        assert_eq!(
            test_issues("testclix-a\"b", 10042),
            "labels = \"testclix-a\\\"b\" AND (statusCategory != Done OR issue = 10042)"
        );
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(unquote(&quote(r#"x\"y\\"#)).as_deref(), Some(r#"x\"y\\"#));
    }

    #[test]
    fn query_is_bounded_by_label() {
        assert_eq!(
            open_issues_with_label("testclix-a"),
            "labels = \"testclix-a\" AND statusCategory != Done"
        );
    }
}
