//! The answers the crate reads, as serde types: Jira's wire shapes, private to the crate.
//! The public list items (`crate::catalog`) are built from them.
//! Only the members the crate uses are declared; everything else is ignored.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// A project in `project/search` and `project/{key}` answers (public: `crate::Project`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// An issue type in a `createmeta` page (public: `crate::IssueType`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IssueType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub subtask: bool,
}

/// A user in `user/assignable/search` answers (public: `crate::User`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "displayName", default)]
    pub display_name: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: SecretString,
    pub expires_in: u64,
}

#[derive(Deserialize)]
pub(crate) struct AccessibleResource {
    pub id: String,
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectPage {
    #[serde(default)]
    pub values: Vec<Project>,
    pub is_last: Option<bool>,
    pub total: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueTypePage {
    #[serde(default)]
    pub issue_types: Vec<IssueType>,
    pub total: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchAnswer {
    #[serde(default)]
    pub issues: Vec<FoundIssue>,
}

#[derive(Deserialize)]
pub(crate) struct FoundIssue {
    pub id: String,
    pub key: Option<String>,
    #[serde(default)]
    pub fields: FoundFields,
}

#[derive(Deserialize, Default)]
pub(crate) struct FoundFields {
    pub key: Option<String>,
    pub status: Option<FoundStatus>,
    pub labels: Option<Vec<String>>,
    /// `null` while unresolved.
    #[serde(default)]
    pub resolution: Option<FoundResolution>,
    /// When the status category last changed: for a done issue, when it was done.
    #[serde(default)]
    pub statuscategorychangedate: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FoundResolution {
    pub name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FoundStatus {
    pub status_category: Option<FoundCategory>,
}

#[derive(Deserialize)]
pub(crate) struct FoundCategory {
    pub key: Option<String>,
}

impl FoundIssue {
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_deref().or(self.fields.key.as_deref())
    }

    /// Whether Jira says the issue is done. Unknown means not done: a missing status must
    /// not open a second issue.
    pub(crate) fn is_done(&self) -> bool {
        self.fields
            .status
            .as_ref()
            .and_then(|s| s.status_category.as_ref())
            .and_then(|c| c.key.as_deref())
            == Some("done")
    }

    /// The resolution's name, if the issue has one.
    pub(crate) fn resolution(&self) -> Option<&str> {
        self.fields.resolution.as_ref()?.name.as_deref()
    }

    /// When the status category last changed, if Jira said so in a form it writes.
    pub(crate) fn category_changed(&self) -> Option<std::time::SystemTime> {
        crate::clock::parse_jira(self.fields.statuscategorychangedate.as_deref()?)
    }
}

#[derive(Deserialize)]
pub(crate) struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// One attachment in the answer to `POST /issue/{id}/attachments` (schema `Attachment`:
/// `id` is a string there, an integer in `AttachmentMetadata`, so either is read).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredAttachment {
    pub id: Value,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub size: u64,
    pub mime_type: Option<String>,
}

/// Jira's `{"errorMessages": [...], "errors": {...}}`, the OAuth `{"error",
/// "error_description"}`, the gateway's `{"message"}` and problem+json's `{"detail"}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error_messages: Vec<Value>,
    #[serde(default)]
    pub errors: Option<BTreeMap<String, Value>>,
    pub error: Option<Value>,
    #[serde(rename = "error_description")]
    pub error_description: Option<Value>,
    pub message: Option<Value>,
    pub detail: Option<Value>,
}
