//! What the settings screen lists: [`Project`], [`IssueType`], [`User`].
//!
//! These are the crate's own types, built from Jira's answers (whose wire shapes stay
//! private in `jira::models`), so that Jira adding or renaming a member never changes them
//! and they can gain fields without a breaking release. They serialise with their own
//! snake_case names, for a host that forwards them to its UI.

use serde::{Deserialize, Serialize};

use crate::jira::models as wire;

/// A Jira project, as listed on the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Project {
    /// The numeric id.
    pub id: String,
    /// The key, e.g. `QA`.
    pub key: String,
    /// The name.
    pub name: String,
}

impl Project {
    /// A project from its id, key and name (for a host's own tests and fixtures).
    pub fn new(id: impl Into<String>, key: impl Into<String>, name: impl Into<String>) -> Self {
        Project {
            id: id.into(),
            key: key.into(),
            name: name.into(),
        }
    }
}

impl From<wire::Project> for Project {
    fn from(p: wire::Project) -> Self {
        Project::new(p.id, p.key, p.name)
    }
}

/// An issue type that can be created in a project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IssueType {
    /// The id.
    pub id: String,
    /// The name, e.g. `Bug`.
    pub name: String,
    /// Whether it is a sub-task type (these need a parent, so cannot be chosen).
    pub subtask: bool,
}

impl IssueType {
    /// An issue type from its id and name; not a sub-task type.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        IssueType {
            id: id.into(),
            name: name.into(),
            subtask: false,
        }
    }

    /// Marks it as a sub-task type.
    pub fn with_subtask(mut self, subtask: bool) -> Self {
        self.subtask = subtask;
        self
    }
}

impl From<wire::IssueType> for IssueType {
    fn from(t: wire::IssueType) -> Self {
        IssueType::new(t.id, t.name).with_subtask(t.subtask)
    }
}

/// A user who can be assigned issues.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// The Atlassian account id.
    pub account_id: String,
    /// The name shown to people.
    pub display_name: String,
    /// Whether the account is active.
    pub active: bool,
}

impl Default for User {
    fn default() -> Self {
        User::new("", "")
    }
}

impl User {
    /// An active user from an account id and display name.
    pub fn new(account_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        User {
            account_id: account_id.into(),
            display_name: display_name.into(),
            active: true,
        }
    }

    /// Sets whether the account is active.
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }
}

impl From<wire::User> for User {
    fn from(u: wire::User) -> Self {
        User::new(u.account_id, u.display_name).with_active(u.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_read_from_jira_keep_their_state_and_serialise_in_snake_case() {
        let w: wire::User = serde_json::from_str(
            r#"{"accountId":"5b10","displayName":"Ann","active":false,"emailAddress":"x"}"#,
        )
        .unwrap();
        let u = User::from(w);
        assert_eq!((u.account_id.as_str(), u.active), ("5b10", false));
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["display_name"], "Ann");
        assert!(json.get("accountId").is_none());
    }
}
