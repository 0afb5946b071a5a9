//! A test's identity: what its duplicate check, its create claim, its record and its state
//! are keyed by. The test id, and with `split_by_environment` its environment too.

use super::policy::Noise;
use crate::issue::labels::test_label;
use crate::outcome::TestInfo;
use crate::store::TestId;

/// Joins a test id and its environment in a store key and a label. A unit separator: no
/// host's test id holds one in practice, and the label encodes it (`_1f`), so a split
/// label never equals a test's own.
const ENV_SEPARATOR: char = '\u{1f}';

/// The store key of the storm's umbrella issue (its create claim and record). Begins with
/// the separator, which no test id may: see `check_test_id`.
pub(crate) const UMBRELLA_KEY: &str = "\u{1f}storm-umbrella";

/// The label the storm's umbrella issues carry. No test's label equals it: an encoded
/// test id has `_` only before two hex digits.
pub(crate) fn umbrella_label(prefix: &str) -> String {
    format!("{prefix}_storm-umbrella")
}

/// Whether a test id is one the notifier keeps for itself.
pub(crate) fn is_reserved(test_id: &str) -> bool {
    test_id.starts_with(ENV_SEPARATOR)
}

/// The test id with its environment, if it has one: the key of a split identity, and what
/// reports coalesce on in one process whether environments are told apart or not.
pub(crate) fn with_environment(test: &TestInfo) -> String {
    match &test.environment {
        Some(env) => format!("{}{ENV_SEPARATOR}{env}", test.id),
        None => test.id.clone(),
    }
}

/// Whom a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The store key of the test's record, claim and state.
    pub key: TestId,
    /// The label its issues carry and the duplicate check searches.
    pub label: String,
    /// Whether the environment is part of it (then `key` differs from the test id).
    pub split: bool,
}

impl Identity {
    pub(crate) fn of(test: &TestInfo, noise: &Noise, label_prefix: &str) -> Identity {
        let key = if noise.split_by_environment {
            with_environment(test)
        } else {
            test.id.clone()
        };
        let split = key != test.id;
        Identity {
            label: test_label(label_prefix, &key),
            key: TestId::new(key),
            split,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_told_apart_only_when_the_policy_says_so() {
        let staging = TestInfo::new("login", "Login", "").with_environment("staging");
        let prod = TestInfo::new("login", "Login", "").with_environment("prod");
        let plain = Noise::default();
        let split = Noise::default().with_split_by_environment(true);
        assert_eq!(
            Identity::of(&staging, &plain, "t-"),
            Identity::of(&prod, &plain, "t-")
        );
        assert_eq!(Identity::of(&staging, &plain, "t-").label, "t-login");
        let (a, b) = (
            Identity::of(&staging, &split, "t-"),
            Identity::of(&prod, &split, "t-"),
        );
        assert_ne!(a.label, b.label);
        assert_ne!(a.key, b.key);
        assert!(a.split);
        assert_eq!(a.label, "t-login_1fstaging");
        assert!(is_reserved(UMBRELLA_KEY) && !is_reserved("login"));
        assert_ne!(
            umbrella_label("t-"),
            Identity::of(&TestInfo::new("_storm-umbrella", "", ""), &plain, "t-").label
        );
        // No environment: the plain identity, split or not.
        let none = TestInfo::new("login", "Login", "");
        assert_eq!(Identity::of(&none, &split, "t-").label, "t-login");
    }
}
