//! Newtypes for the two strings a store is handed side by side, so that an implementation
//! cannot swap a test's id with a claim's owner and still compile.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The host's stable id of a test: what the duplicate check and the store key on.
///
/// The notifier makes these from [`TestInfo::id`](crate::TestInfo::id) and the ids the
/// host passes to the override calls; a store only reads them ([`TestId::as_str`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TestId(String);

impl TestId {
    /// A test id from the host's string.
    pub fn new(id: impl Into<String>) -> Self {
        TestId(id.into())
    }

    /// The id as a string, to key a row or a map on.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for TestId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TestId {
    fn from(id: &str) -> Self {
        TestId(id.to_owned())
    }
}

impl From<String> for TestId {
    fn from(id: String) -> Self {
        TestId(id)
    }
}

impl PartialEq<str> for TestId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for TestId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Who holds a create claim: one id per notifier, unique across processes, so that two
/// replicas never take each other's claims for their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimOwner(String);

impl ClaimOwner {
    /// An owner id. The notifier makes its own (process id and a random part); stores
    /// only compare and keep them.
    pub fn new(id: impl Into<String>) -> Self {
        ClaimOwner(id.into())
    }

    /// A fresh id, unique to this process and call.
    pub(crate) fn unique() -> Self {
        ClaimOwner(format!(
            "jira-notifier-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ))
    }

    /// The id as a string, to keep in a row.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClaimOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host's workspace (a tenant: one customer, one Jira site and credential): which
/// workspace a store handle reads and writes, and which one a notifier handle serves.
///
/// A host with one workspace never needs it: stores and notifiers start on
/// [`WorkspaceId::DEFAULT`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// The id of the workspace every store and notifier starts on: `default`.
    pub const DEFAULT: &'static str = "default";

    /// A workspace id from the host's string.
    pub fn new(id: impl Into<String>) -> Self {
        WorkspaceId(id.into())
    }

    /// The id as a string, to key a row or a map on.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is [`WorkspaceId::DEFAULT`].
    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl Default for WorkspaceId {
    fn default() -> Self {
        WorkspaceId(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WorkspaceId {
    fn from(id: &str) -> Self {
        WorkspaceId(id.to_owned())
    }
}

impl From<String> for WorkspaceId {
    fn from(id: String) -> Self {
        WorkspaceId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_test_id_keys_a_map_by_its_text_and_reads_back_as_a_plain_string() {
        let mut map = HashMap::new();
        map.insert(TestId::new("checkout"), 1);
        assert_eq!(map.get("checkout"), Some(&1));
        assert_eq!(
            serde_json::to_string(&TestId::new("a\"b")).unwrap(),
            r#""a\"b""#
        );
        let back: TestId = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(back, "x");
    }

    #[test]
    fn unique_owners_differ() {
        assert_ne!(ClaimOwner::unique(), ClaimOwner::unique());
    }
}
