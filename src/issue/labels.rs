//! Labels: the test-specific label that the duplicate check searches for, and checks on
//! the labels hosts configure.
//!
//! Jira labels cannot hold whitespace and are at most 255 characters, and JQL may compare
//! them without regard to case. So a test id is encoded, not just cleaned: lower-case
//! ASCII letters, digits, `-` and `.` stay as they are; every other character (upper case
//! included) becomes `_` and the hex of each of its UTF-8 bytes. The encoding is
//! injective and its output is all lower case, so two test ids never share a label, even
//! to a case-blind search. An id too long for 255 characters is cut and ends in `_h` and
//! a 64-bit hash of the whole id; `_h` never occurs in the plain encoding.

use std::fmt::Write;

use sha2::{Digest, Sha256};

use super::text::{cut, jira_len};
use crate::error::{Error, Result};

/// The longest label Jira accepts.
pub(crate) const MAX_LABEL_LEN: usize = 255;
/// The longest label prefix accepted, which leaves room for the test id.
pub(crate) const MAX_PREFIX_LEN: usize = 100;
/// What follows the prefix on the test notification's label. No encoded test id can be
/// this, because `_` is always followed by two hex digits there.
const NOTIFICATION_SUFFIX: &str = "_notification-test";

/// The label that marks a test's issues.
pub(crate) fn test_label(prefix: &str, test_id: &str) -> String {
    let mut label = String::with_capacity(prefix.len() + test_id.len());
    label.push_str(prefix);
    for c in test_id.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
            label.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(label, "_{b:02x}");
            }
        }
    }
    if jira_len(&label) <= MAX_LABEL_LEN {
        return label;
    }
    let digest = Sha256::digest(test_id.as_bytes());
    let mut tail = String::from("_h");
    for b in &digest[..8] {
        let _ = write!(tail, "{b:02x}");
    }
    let mut cut_label = cut(&label, MAX_LABEL_LEN - tail.len()).to_owned();
    cut_label.push_str(&tail);
    cut_label
}

/// The label of the test notification, which no test's label can equal.
pub(crate) fn notification_label(prefix: &str) -> String {
    format!("{prefix}{NOTIFICATION_SUFFIX}")
}

/// Checks a label a host configured.
pub(crate) fn check_label(field: &'static str, label: &str) -> Result<()> {
    if label.is_empty() {
        return Err(Error::invalid(field, "a label cannot be empty"));
    }
    if label.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            field,
            format!("the label {label:?} contains whitespace, which Jira does not allow"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("the label {label:?} contains control characters"),
        ));
    }
    if jira_len(label) > MAX_LABEL_LEN {
        return Err(Error::invalid(
            field,
            format!("a label is at most {MAX_LABEL_LEN} characters"),
        ));
    }
    Ok(())
}

/// Checks a label prefix.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    const FIELD: &str = "label_prefix";
    if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            FIELD,
            "the label prefix cannot contain whitespace or control characters",
        ));
    }
    if jira_len(prefix) > MAX_PREFIX_LEN {
        return Err(Error::invalid(
            FIELD,
            format!("the label prefix is at most {MAX_PREFIX_LEN} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_stay_readable() {
        assert_eq!(
            test_label("testclix-", "login-test.v2"),
            "testclix-login-test.v2"
        );
    }

    #[test]
    fn case_and_spaces_are_encoded() {
        assert_eq!(test_label("p-", "Ab c"), "p-_41b_20c");
        assert_ne!(test_label("p-", "abc"), test_label("p-", "ABC"));
        assert_ne!(test_label("p-", "a b"), test_label("p-", "a_b"));
        assert_eq!(test_label("p-", "a_b"), "p-a_5fb");
        assert_eq!(test_label("p-", "é"), "p-_c3_a9");
    }

    #[test]
    fn encoded_labels_are_lower_case_and_spaceless() {
        let l = test_label("x-", "Mixed CASE\t\"quoted\" \\ 日本");
        assert_eq!(l, l.to_lowercase());
        assert!(!l.chars().any(char::is_whitespace));
    }

    #[test]
    fn long_ids_are_cut_and_hashed() {
        let a = "a".repeat(1000);
        let mut b = a.clone();
        b.push('b');
        let la = test_label("testclix-", &a);
        let lb = test_label("testclix-", &b);
        assert_eq!(jira_len(&la), MAX_LABEL_LEN);
        assert_ne!(la, lb);
        assert!(la.starts_with("testclix-aaaa"));
        assert!(la[..la.len() - 16].ends_with("_h"));
        // Exactly at the limit: no hash.
        let exact = "a".repeat(MAX_LABEL_LEN - "testclix-".len());
        assert_eq!(test_label("testclix-", &exact), format!("testclix-{exact}"));
    }

    #[test]
    fn notification_label_is_no_test_label() {
        let n = notification_label("testclix-");
        assert_eq!(n, "testclix-_notification-test");
        for id in [
            "_notification-test",
            "notification-test",
            "_NOTIFICATION-TEST",
        ] {
            assert_ne!(test_label("testclix-", id), n);
        }
    }

    #[test]
    fn label_checks() {
        assert!(check_label("labels", "ok-label").is_ok());
        assert!(check_label("labels", "a b").is_err());
        assert!(check_label("labels", "").is_err());
        assert!(check_label("labels", &"x".repeat(256)).is_err());
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("tc-").is_ok());
        assert!(check_prefix("t c").is_err());
        assert!(check_prefix(&"x".repeat(101)).is_err());
    }
}
