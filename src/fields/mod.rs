//! The project's create screen: the fields Jira accepts when an issue is created
//! ([`CreateField`]), the values a host configures for them ([`FieldValue`]), and what is
//! wrong when the settings do not fit the screen ([`FieldProblem`], [`SaveWarning`]).

pub(crate) mod fit;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The ids of the fields the crate fills itself: configuring one of them with
/// [`Settings::with_field`](crate::Settings::with_field) is refused.
///
/// `project`, `issuetype`, `summary`, `description` and `labels` are set on every issue;
/// `assignee` comes from [`Settings::assignee`](crate::Settings::assignee) and
/// [`TestOverride::assignee`](crate::TestOverride::assignee); `reporter` is left to Jira,
/// which makes the service account the reporter.
pub const FIELDS_FILLED_BY_CRATE: [&str; 7] = [
    "project",
    "issuetype",
    "summary",
    "description",
    "labels",
    "assignee",
    "reporter",
];

/// A field on a project's create screen for one issue type, as
/// [`JiraNotifier::create_fields`](crate::JiraNotifier::create_fields) lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateField {
    /// The field id (`priority`, `components`, `customfield_10010`, …): the key of
    /// [`Settings::fields`](crate::Settings::fields).
    pub id: String,
    /// The name people see (`Priority`, `Component/s`, `Team`, …).
    pub name: String,
    /// Whether Jira refuses a create that leaves the field empty (unless it has a default).
    pub required: bool,
    /// Whether Jira fills the field with a default value when a create leaves it out.
    pub has_default: bool,
    /// What kind of value the field holds, which decides how a value is sent.
    pub schema: FieldSchema,
    /// The values the field accepts, when Jira lists them (select lists, priorities,
    /// components, versions); `None` when Jira lists none (text, numbers, users, …).
    pub allowed_values: Option<Vec<AllowedValue>>,
    /// Whether the crate fills the field itself (see [`FIELDS_FILLED_BY_CRATE`]).
    pub filled_by_crate: bool,
}

impl CreateField {
    /// Whether the field takes several values (a multi-select, components, fix versions,
    /// several users, labels): only for those does a comma separate values in
    /// [`parse_value`](Self::parse_value).
    pub fn is_multi_valued(&self) -> bool {
        self.schema.is_multi_valued()
    }

    /// Whether Jira refuses a create without a value for the field: required and without
    /// a default.
    pub fn needs_value(&self) -> bool {
        self.required && !self.has_default
    }

    /// The names of the allowed values, in Jira's order (empty when Jira lists none).
    pub fn allowed_names(&self) -> Vec<&str> {
        self.allowed_values
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect()
    }

    /// A value from text, as a form or a command line gives it: for a multi-valued field
    /// the text is split at commas (each part trimmed, empty parts dropped); any other
    /// field takes the whole text as one value. Blank text is `None`: no value (a
    /// settings screen removes the field's value).
    ///
    /// Values are chosen by id or by name of an allowed value; they are checked when the
    /// settings are saved, not here.
    pub fn parse_value(&self, text: &str) -> Option<FieldValue> {
        if text.trim().is_empty() {
            return None;
        }
        if self.is_multi_valued() {
            let parts: Vec<String> = text
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            return (!parts.is_empty()).then_some(FieldValue::Many(parts));
        }
        Some(FieldValue::One(text.trim().to_owned()))
    }
}

/// Parses `FIELD_ID=VALUE[,VALUE…]` (a command line's `--field`, a form's line): the
/// field id and its value, read with [`CreateField::parse_value`] when the field is on
/// `screen` (as [`JiraNotifier::create_fields`](crate::JiraNotifier::create_fields) lists
/// it) and as one value otherwise. `FIELD_ID=` (nothing after `=`) gives `None`: remove
/// the configured value.
///
/// Fails with [`Error::InvalidInput`] when there is no `=` or no field id before it.
///
/// ```
/// use jira_notifier::{parse_field_assignment, FieldValue};
///
/// let (id, value) = parse_field_assignment("customfield_10010=Red team, west", &[]).unwrap();
/// assert_eq!(id, "customfield_10010");
/// // Not a known multi-valued field: the comma stays in the one value.
/// assert_eq!(value, Some(FieldValue::one("Red team, west")));
/// assert_eq!(parse_field_assignment("priority=", &[]).unwrap().1, None);
/// ```
pub fn parse_field_assignment(
    text: &str,
    screen: &[CreateField],
) -> Result<(String, Option<FieldValue>)> {
    let Some((id, value)) = text.split_once('=') else {
        return Err(Error::invalid(
            "fields",
            format!("{text:?} is not of the form FIELD_ID=VALUE"),
        ));
    };
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid(
            "fields",
            format!("{text:?} has no field id before '='"),
        ));
    }
    let value = match screen.iter().find(|f| f.id == id) {
        Some(field) => field.parse_value(value),
        None if value.trim().is_empty() => None,
        None => Some(FieldValue::One(value.trim().to_owned())),
    };
    Ok((id.to_owned(), value))
}

/// A value Jira lists for a field: a select list's option, a priority, a component, a
/// version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AllowedValue {
    /// Its id, which the create body carries.
    pub id: String,
    /// Its name (an option's value), as people see it.
    pub name: String,
}

impl AllowedValue {
    /// An allowed value from its id and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        AllowedValue {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// What kind of value a field holds (Jira's `schema`), and so how the create body carries
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldSchema {
    /// One line of text, sent as a string (`"text"`).
    Text,
    /// Rich text (`environment`, multi-line text fields), sent as an Atlassian Document
    /// Format document made of the text's lines.
    RichText,
    /// A number, sent as a JSON number.
    Number,
    /// A date, `YYYY-MM-DD`, sent as a string.
    Date,
    /// A date and time (ISO 8601, e.g. `2024-05-01T10:00:00.000+0000`), sent as a string.
    DateTime,
    /// One option of a select list or radio buttons, sent as `{"id": …}`.
    Option,
    /// Several options (multi-select, checkboxes), sent as `[{"id": …}, …]`.
    Options,
    /// A user, by Atlassian account id, sent as `{"accountId": …}`.
    User,
    /// Several users, sent as `[{"accountId": …}, …]`.
    Users,
    /// One version, sent as `{"id": …}`.
    Version,
    /// Several versions (`fixVersions`, `versions`), sent as `[{"id": …}, …]`.
    Versions,
    /// One component, sent as `{"id": …}`.
    Component,
    /// Several components (`components`), sent as `[{"id": …}, …]`.
    Components,
    /// The priority, sent as `{"id": …}`.
    Priority,
    /// Labels (the system field or a labels custom field), sent as `["a", "b"]`: no
    /// whitespace in a label.
    Labels,
    /// Anything else (the project, the issue type, cascading selects, issue links, app
    /// fields, …): the crate cannot set such a field.
    Other {
        /// Jira's `schema.type` (`project`, `option-with-child`, `any`, …).
        type_name: String,
        /// Jira's `schema.items`, for arrays.
        items: Option<String>,
    },
}

impl FieldSchema {
    /// Whether values of this kind are lists.
    pub fn is_multi_valued(&self) -> bool {
        match self {
            FieldSchema::Options
            | FieldSchema::Users
            | FieldSchema::Versions
            | FieldSchema::Components
            | FieldSchema::Labels => true,
            FieldSchema::Other { type_name, .. } => type_name == "array",
            _ => false,
        }
    }

    /// Whether a value is chosen among Jira's allowed values.
    pub fn is_choice(&self) -> bool {
        matches!(
            self,
            FieldSchema::Option
                | FieldSchema::Options
                | FieldSchema::Version
                | FieldSchema::Versions
                | FieldSchema::Component
                | FieldSchema::Components
                | FieldSchema::Priority
        )
    }

    /// Reads Jira's `schema` object (`type`, `items`, `system`, `custom`).
    pub(crate) fn from_jira(schema: &Value) -> FieldSchema {
        let text = |name: &str| schema.get(name).and_then(Value::as_str).unwrap_or("");
        let (kind, items, system, custom) =
            (text("type"), text("items"), text("system"), text("custom"));
        let rich =
            system == "environment" || system == "description" || custom.ends_with(":textarea");
        match (kind, items) {
            ("string", _) if rich => FieldSchema::RichText,
            ("string", _) => FieldSchema::Text,
            ("number", _) => FieldSchema::Number,
            ("date", _) => FieldSchema::Date,
            ("datetime", _) => FieldSchema::DateTime,
            ("option", _) => FieldSchema::Option,
            ("user", _) => FieldSchema::User,
            ("version", _) => FieldSchema::Version,
            ("component", _) => FieldSchema::Component,
            ("priority", _) => FieldSchema::Priority,
            ("array", "option") => FieldSchema::Options,
            ("array", "user") => FieldSchema::Users,
            ("array", "version") => FieldSchema::Versions,
            ("array", "component") => FieldSchema::Components,
            ("array", "string") => FieldSchema::Labels,
            (other, items) => FieldSchema::Other {
                type_name: other.to_owned(),
                items: (!items.is_empty()).then(|| items.to_owned()),
            },
        }
    }

    /// What the kind is called in messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            FieldSchema::Text => "text".into(),
            FieldSchema::RichText => "rich text".into(),
            FieldSchema::Number => "number".into(),
            FieldSchema::Date => "date".into(),
            FieldSchema::DateTime => "date and time".into(),
            FieldSchema::Option => "select list".into(),
            FieldSchema::Options => "multi-select list".into(),
            FieldSchema::User => "user".into(),
            FieldSchema::Users => "users".into(),
            FieldSchema::Version => "version".into(),
            FieldSchema::Versions => "versions".into(),
            FieldSchema::Component => "component".into(),
            FieldSchema::Components => "components".into(),
            FieldSchema::Priority => "priority".into(),
            FieldSchema::Labels => "labels".into(),
            FieldSchema::Other {
                type_name,
                items: Some(items),
            } => format!("{type_name} of {items}"),
            FieldSchema::Other { type_name, .. } => type_name.clone(),
        }
    }
}

/// A value configured for a field of the create screen, in
/// [`Settings::fields`](crate::Settings::fields) or
/// [`TestOverride::fields`](crate::TestOverride::fields).
///
/// Values are what a person picks: an allowed value by id or by name (`"High"`, `"3"`),
/// a text, a number or a date as text, a user's account id. When the settings are saved,
/// each is checked against the field's [`FieldSchema`] and allowed values and resolved to
/// what the create body carries (`{"id"}`, `[{"id"}]`, `{"accountId"}`, a string, a
/// number, `["label"]`).
///
/// Stored as a JSON string ([`One`](Self::One)) or an array of strings
/// ([`Many`](Self::Many)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// One value: a text, a number, a date, an allowed value's id or name, an account id.
    One(String),
    /// Several values, for a multi-valued field: allowed values by id or name, account
    /// ids, labels.
    Many(Vec<String>),
}

impl FieldValue {
    /// One value: a text, a number or date as text, an allowed value's id or name, an
    /// account id.
    pub fn one(value: impl Into<String>) -> Self {
        FieldValue::One(value.into())
    }

    /// Several values, for a multi-valued field.
    pub fn many<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldValue::Many(values.into_iter().map(Into::into).collect())
    }

    /// A number.
    pub fn number(value: f64) -> Self {
        FieldValue::One(value.to_string())
    }

    /// The values, trimmed, blank ones left out.
    pub(crate) fn items(&self) -> Vec<&str> {
        let all: Vec<&str> = match self {
            FieldValue::One(v) => vec![v.as_str()],
            FieldValue::Many(v) => v.iter().map(String::as_str).collect(),
        };
        all.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::One(v) => f.write_str(v),
            FieldValue::Many(v) => f.write_str(&v.join(", ")),
        }
    }
}

/// What is wrong with one field when settings do not fit the create screen; see
/// [`Error::FieldsRefused`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldProblem {
    /// The field id (`labels`, `components`, `customfield_10010`, …).
    pub field_id: String,
    /// The field's name on the screen (the id when the field is not on the screen).
    pub name: String,
    /// What is wrong.
    pub kind: FieldProblemKind,
    /// The values the field accepts, when Jira lists them.
    pub allowed_values: Vec<AllowedValue>,
}

/// What is wrong with a field; see [`FieldProblem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblemKind {
    /// Labels is not on the create screen. The duplicate check finds a test's open issue
    /// by its test label, so the crate cannot create issues without it.
    LabelsNotOnScreen,
    /// A specific assignee is configured, but Assignee is not on the create screen.
    AssigneeNotOnScreen,
    /// The field is required, Jira has no default for it, and no value is configured.
    RequiredWithoutValue,
    /// A configured value is not one of the field's allowed values.
    ValueNotAllowed {
        /// The value, as configured.
        value: String,
    },
    /// A configured value cannot be used for the field (wrong kind, several values for a
    /// single-valued field, a number or date that does not parse, an unknown user).
    InvalidValue {
        /// Why, for people.
        reason: String,
    },
    /// A value is configured for a field that is not on the create screen (or does not
    /// exist).
    NotOnScreen,
    /// A value is configured for a field the crate fills itself.
    FilledByCrate,
    /// The field is required without a default, or configured, but its kind is one the
    /// crate cannot set.
    Unsupported {
        /// The field's kind.
        schema: String,
    },
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, name) = (&self.field_id, &self.name);
        if id == name {
            write!(f, "{id}: ")?;
        } else {
            write!(f, "{id} ({name}): ")?;
        }
        match &self.kind {
            FieldProblemKind::LabelsNotOnScreen => f.write_str(
                "Labels is not on the create screen; the duplicate check finds a test's open issue \
                 by its test label, so no issue can be created without it: add the Labels field to \
                 the project's create screen for this issue type (in Jira: Project settings > Issue \
                 types or Screens > add field Labels)",
            )?,
            FieldProblemKind::AssigneeNotOnScreen => f.write_str(
                "Assignee is not on the create screen, so a specific assignee cannot be set: \
                 choose the project's default assignee, or add Assignee to the create screen",
            )?,
            FieldProblemKind::RequiredWithoutValue => {
                f.write_str("required, without a default in Jira, and no value is configured")?;
                if id == "assignee" {
                    f.write_str(": choose an assignee")?;
                } else if id == "reporter" {
                    f.write_str(": give Reporter a default in Jira")?;
                } else {
                    f.write_str(": configure a value")?;
                }
            }
            FieldProblemKind::ValueNotAllowed { value } => {
                write!(f, "{value:?} is not one of its allowed values")?;
            }
            FieldProblemKind::InvalidValue { reason } => f.write_str(reason)?,
            FieldProblemKind::NotOnScreen => f.write_str(
                "not on the create screen (or no such field): remove the value, or add the field \
                 to the screen",
            )?,
            FieldProblemKind::FilledByCrate => f.write_str(
                "filled by the crate itself: use the settings' project, issue type, labels and \
                 assignee instead",
            )?,
            FieldProblemKind::Unsupported { schema } => write!(
                f,
                "a field of kind {schema:?}, which the crate cannot set: give it a default in \
                 Jira, make it optional, or take it off the create screen"
            )?,
        }
        if !self.allowed_values.is_empty() {
            let names: Vec<&str> = self
                .allowed_values
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            write!(f, " (allowed: {})", names.join(", "))?;
        }
        Ok(())
    }
}

/// Something a save accepted that the host should show: the settings work, but not
/// entirely as usual.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SaveWarning {
    /// Description is not on the create screen: issues are created without one, and the
    /// failure details go into each issue's first comment (one more request per issue).
    DescriptionNotOnScreen {
        /// The project.
        project_key: String,
        /// The issue type.
        issue_type: String,
    },
}

impl fmt::Display for SaveWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveWarning::DescriptionNotOnScreen {
                project_key,
                issue_type,
            } => write!(
                f,
                "Description is not on the create screen of {project_key} ({issue_type}): issues \
                 are created without a description, and the failure details are added as their \
                 first comment"
            ),
        }
    }
}

/// The configured field values resolved against one create screen when settings (or an
/// override) were saved, so that a failure needs no lookup.
///
/// Saved inside [`SavedSettings`](crate::SavedSettings) and
/// [`SavedOverride`](crate::SavedOverride). Settings saved by an earlier version have
/// none, and create issues as they always did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResolvedFields {
    /// The project id of the screen the values were checked against.
    pub project_id: String,
    /// The issue type id of that screen.
    pub issue_type_id: String,
    /// The values they were resolved from (the global ones with the override's on top).
    #[serde(default)]
    pub configured: BTreeMap<String, FieldValue>,
    /// What the create body carries, by field id.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// Whether Description is on the screen. When it is not, issues are created without a
    /// description and the failure details go into their first comment.
    #[serde(default = "yes")]
    pub description_on_screen: bool,
}

fn yes() -> bool {
    true
}

impl ResolvedFields {
    /// Whether these were resolved for this screen and these configured values.
    pub(crate) fn fits(
        &self,
        project_id: &str,
        issue_type_id: &str,
        configured: &BTreeMap<String, FieldValue>,
    ) -> bool {
        self.project_id == project_id
            && self.issue_type_id == issue_type_id
            && &self.configured == configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(schema: Value) -> CreateField {
        CreateField {
            id: "f".into(),
            name: "F".into(),
            required: false,
            has_default: false,
            schema: FieldSchema::from_jira(&schema),
            allowed_values: None,
            filled_by_crate: false,
        }
    }

    #[test]
    fn schemas_are_read_from_jira() {
        for (schema, want) in [
            (
                json!({"type": "string", "system": "summary"}),
                FieldSchema::Text,
            ),
            (
                json!({"type": "string", "system": "environment"}),
                FieldSchema::RichText,
            ),
            (
                json!({"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea", "customId": 1}),
                FieldSchema::RichText,
            ),
            (json!({"type": "number"}), FieldSchema::Number),
            (json!({"type": "date"}), FieldSchema::Date),
            (json!({"type": "datetime"}), FieldSchema::DateTime),
            (json!({"type": "option"}), FieldSchema::Option),
            (
                json!({"type": "array", "items": "option"}),
                FieldSchema::Options,
            ),
            (json!({"type": "user"}), FieldSchema::User),
            (
                json!({"type": "array", "items": "user"}),
                FieldSchema::Users,
            ),
            (json!({"type": "version"}), FieldSchema::Version),
            (
                json!({"type": "array", "items": "version"}),
                FieldSchema::Versions,
            ),
            (
                json!({"type": "array", "items": "component"}),
                FieldSchema::Components,
            ),
            (json!({"type": "priority"}), FieldSchema::Priority),
            (
                json!({"type": "array", "items": "string", "system": "labels"}),
                FieldSchema::Labels,
            ),
            (
                json!({"type": "option-with-child"}),
                FieldSchema::Other {
                    type_name: "option-with-child".into(),
                    items: None,
                },
            ),
            (
                json!({"type": "array", "items": "issuelinks"}),
                FieldSchema::Other {
                    type_name: "array".into(),
                    items: Some("issuelinks".into()),
                },
            ),
        ] {
            assert_eq!(FieldSchema::from_jira(&schema), want, "{schema}");
        }
    }

    #[test]
    fn commas_split_only_multi_valued_fields() {
        let multi = field(json!({"type": "array", "items": "component"}));
        let single = field(json!({"type": "string"}));
        assert_eq!(
            multi.parse_value(" Backend , ,API "),
            Some(FieldValue::many(["Backend", "API"]))
        );
        assert_eq!(single.parse_value("a, b"), Some(FieldValue::one("a, b")));
        assert_eq!(single.parse_value("  "), None);
        assert_eq!(multi.parse_value(" , "), None);
    }

    #[test]
    fn assignments_are_split_at_the_first_equals_sign() {
        let mut multi = field(json!({"type": "array", "items": "option"}));
        multi.id = "customfield_1".into();
        let (id, value) = parse_field_assignment("customfield_1=a=b,c", &[multi]).unwrap();
        assert_eq!(id, "customfield_1");
        assert_eq!(value, Some(FieldValue::many(["a=b", "c"])));
        assert!(parse_field_assignment("no-equals", &[]).is_err());
        assert!(parse_field_assignment(" =x", &[]).is_err());
        assert_eq!(
            parse_field_assignment("priority=", &[]).unwrap(),
            ("priority".to_owned(), None)
        );
    }

    #[test]
    fn values_are_stored_as_strings_or_arrays() {
        assert_eq!(
            serde_json::to_value(FieldValue::one("High")).unwrap(),
            json!("High")
        );
        assert_eq!(
            serde_json::from_value::<FieldValue>(json!(["a", "b"])).unwrap(),
            FieldValue::many(["a", "b"])
        );
        assert_eq!(FieldValue::number(2.5), FieldValue::one("2.5"));
    }
}
