//! What the host's settings screen edits: the global [`Settings`] and per-test
//! [`TestOverride`]s, plus the forms the notifier saves once Jira has validated them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fields::{FieldValue, ResolvedFields, SaveWarning};
use crate::lifecycle::{Lifecycle, LifecycleOverride};
use crate::noise::{Noise, NoiseOverride};

/// The issue type used when none is chosen.
pub const DEFAULT_ISSUE_TYPE: &str = "Bug";
/// The label prefix used when none is chosen.
pub const DEFAULT_LABEL_PREFIX: &str = "testclix-";

/// Who gets a created issue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Assignee {
    /// The Jira project's default assignee (the `assignee` field is left out).
    #[default]
    Auto,
    /// A user, by Atlassian account id.
    User {
        /// The user's Atlassian account id.
        account_id: String,
    },
}

impl Assignee {
    /// A specific user, by Atlassian account id.
    pub fn user(account_id: impl Into<String>) -> Self {
        Assignee::User {
            account_id: account_id.into(),
        }
    }

    /// The account id, unless this is [`Assignee::Auto`].
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Assignee::Auto => None,
            Assignee::User { account_id } => Some(account_id),
        }
    }
}

/// The global settings, as the host's settings screen edits them.
///
/// Build with [`Settings::new`] and the `with_*` methods; save with
/// [`JiraNotifier::save_settings`](crate::JiraNotifier::save_settings), which checks every
/// value against Jira first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Settings {
    /// The key of the project issues are created in.
    pub project_key: String,
    /// The name of the issue type (default `Bug`).
    pub issue_type: String,
    /// The prefix of the test-specific label (default `testclix-`).
    pub label_prefix: String,
    /// Who gets created issues (default [`Assignee::Auto`]).
    pub assignee: Assignee,
    /// Labels added to every created issue.
    pub labels: Vec<String>,
    /// Values for other fields of the project's create screen, by field id (see
    /// [`JiraNotifier::create_fields`](crate::JiraNotifier::create_fields)): a select
    /// list's option, components, a priority, a text, … Required fields without a default
    /// need one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
    /// What happens to an issue after it is created (repeats, passes, reopening,
    /// muting); the default does nothing after the create.
    #[serde(default, skip_serializing_if = "is_default_lifecycle")]
    pub lifecycle: Lifecycle,
    /// Noise control (a threshold of failures, the storm guard, environments told
    /// apart); the default files an issue at each test's first failure.
    #[serde(default, skip_serializing_if = "is_default_noise")]
    pub noise: Noise,
}

fn is_default_noise(n: &Noise) -> bool {
    *n == Noise::default()
}

fn is_default_lifecycle(l: &Lifecycle) -> bool {
    *l == Lifecycle::default()
}

impl Default for Settings {
    /// Settings with no project chosen yet (what a stored value missing every member reads
    /// as); [`Settings::new`] is the way to start.
    fn default() -> Self {
        Settings::new("")
    }
}

impl Settings {
    /// Settings for a project, with every other value at its default.
    pub fn new(project_key: impl Into<String>) -> Self {
        Settings {
            project_key: project_key.into(),
            issue_type: DEFAULT_ISSUE_TYPE.to_owned(),
            label_prefix: DEFAULT_LABEL_PREFIX.to_owned(),
            assignee: Assignee::Auto,
            labels: Vec::new(),
            fields: BTreeMap::new(),
            lifecycle: Lifecycle::default(),
            noise: Noise::default(),
        }
    }

    /// Sets the noise control policies.
    pub fn with_noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }

    /// Sets what happens to issues after they are created.
    pub fn with_lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// Sets the issue type, by name.
    pub fn with_issue_type(mut self, name: impl Into<String>) -> Self {
        self.issue_type = name.into();
        self
    }

    /// Sets the label prefix.
    pub fn with_label_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.label_prefix = prefix.into();
        self
    }

    /// Sets the assignee.
    pub fn with_assignee(mut self, assignee: Assignee) -> Self {
        self.assignee = assignee;
        self
    }

    /// Sets the labels added to every issue.
    pub fn with_labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets a value for a field of the create screen, by field id; the value is chosen by
    /// id or name of an allowed value (see [`FieldValue`]), and checked when the settings
    /// are saved.
    pub fn with_field(mut self, field_id: impl Into<String>, value: FieldValue) -> Self {
        self.fields.insert(field_id.into(), value);
        self
    }

    /// Removes a field's value.
    pub fn without_field(mut self, field_id: &str) -> Self {
        self.fields.remove(field_id);
        self
    }
}

/// A project and issue type as Jira identified them when settings were saved, so that a
/// failure needs no lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ResolvedTarget {
    /// The project key.
    pub project_key: String,
    /// The project's numeric id.
    pub project_id: String,
    /// The issue type's name, as chosen.
    pub issue_type_name: String,
    /// The issue type's id in that project.
    pub issue_type_id: String,
}

impl ResolvedTarget {
    /// A target from the ids Jira gave the project and the issue type.
    pub fn new(
        project_key: impl Into<String>,
        project_id: impl Into<String>,
        issue_type_name: impl Into<String>,
        issue_type_id: impl Into<String>,
    ) -> Self {
        ResolvedTarget {
            project_key: project_key.into(),
            project_id: project_id.into(),
            issue_type_name: issue_type_name.into(),
            issue_type_id: issue_type_id.into(),
        }
    }
}

/// Settings as saved, after Jira accepted them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SavedSettings {
    /// What the host chose.
    pub settings: Settings,
    /// The project and issue type, resolved.
    pub target: ResolvedTarget,
    /// The site (cloud id) the settings were checked against.
    pub cloud_id: String,
    /// The field values resolved against the create screen, and whether Description is on
    /// it. `None` in settings saved before the crate read create screens: issues are then
    /// created as they always were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<ResolvedFields>,
    /// What the host should show although the settings were saved (Description not on the
    /// create screen, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SaveWarning>,
}

impl SavedSettings {
    /// Saved settings: what the host chose, as resolved on a site (for a store's tests;
    /// the notifier makes these when it saves).
    pub fn new(settings: Settings, target: ResolvedTarget, cloud_id: impl Into<String>) -> Self {
        SavedSettings {
            settings,
            target,
            cloud_id: cloud_id.into(),
            fields: None,
            warnings: Vec::new(),
        }
    }
}

/// Per-test changes to the global settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TestOverride {
    /// `false` turns issue creation off for the test.
    pub enabled: bool,
    /// Another project for this test's issues.
    pub project_key: Option<String>,
    /// Another assignee for this test's issues.
    pub assignee: Option<Assignee>,
    /// Labels added on top of the global ones.
    pub labels: Vec<String>,
    /// Field values that replace the global value of the same field (see
    /// [`Settings::fields`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
    /// Changes to the global [`Settings::lifecycle`] for this test.
    #[serde(default, skip_serializing_if = "LifecycleOverride::is_empty")]
    pub lifecycle: LifecycleOverride,
    /// Changes to the global [`Settings::noise`] for this test.
    #[serde(default, skip_serializing_if = "NoiseOverride::is_empty")]
    pub noise: NoiseOverride,
}

impl Default for TestOverride {
    fn default() -> Self {
        TestOverride {
            enabled: true,
            project_key: None,
            assignee: None,
            labels: Vec::new(),
            fields: BTreeMap::new(),
            lifecycle: LifecycleOverride::default(),
            noise: NoiseOverride::default(),
        }
    }
}

impl TestOverride {
    /// An override that turns issue creation off for the test.
    pub fn disabled() -> Self {
        TestOverride {
            enabled: false,
            ..TestOverride::default()
        }
    }

    /// Sets whether issues are created for the test.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Routes the test's issues to another project.
    pub fn with_project(mut self, project_key: impl Into<String>) -> Self {
        self.project_key = Some(project_key.into());
        self
    }

    /// Gives the test's issues another assignee.
    pub fn with_assignee(mut self, assignee: Assignee) -> Self {
        self.assignee = Some(assignee);
        self
    }

    /// Adds labels on top of the global ones.
    pub fn with_labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets a field's value for the test's issues, replacing the global one.
    pub fn with_field(mut self, field_id: impl Into<String>, value: FieldValue) -> Self {
        self.fields.insert(field_id.into(), value);
        self
    }

    /// Changes the global lifecycle policies for this test.
    pub fn with_lifecycle(mut self, lifecycle: LifecycleOverride) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// Changes the global noise control policies for this test.
    pub fn with_noise(mut self, noise: NoiseOverride) -> Self {
        self.noise = noise;
        self
    }

    /// Whether saving the override needs the create screen: it names a project, field
    /// values or an assignee.
    pub(crate) fn needs_screen(&self) -> bool {
        self.project_key.is_some() || !self.fields.is_empty() || self.assignee.is_some()
    }
}

/// The lifecycle policy in effect for a test: the global one with the override's on top.
pub(crate) fn lifecycle_for(
    settings: &SavedSettings,
    test_override: Option<&SavedOverride>,
) -> Lifecycle {
    match test_override {
        Some(o) => settings
            .settings
            .lifecycle
            .with_override(&o.test_override.lifecycle),
        None => settings.settings.lifecycle.clone(),
    }
}

/// The noise policy in effect for a test: the global one with the override's on top.
pub(crate) fn noise_for(settings: &SavedSettings, test_override: Option<&SavedOverride>) -> Noise {
    match test_override {
        Some(o) => settings
            .settings
            .noise
            .with_override(&o.test_override.noise),
        None => settings.settings.noise.clone(),
    }
}

/// The field values in effect for a test: the global ones, with the override's on top.
pub(crate) fn merged_fields(
    global: &Settings,
    test_override: Option<&TestOverride>,
) -> BTreeMap<String, FieldValue> {
    let mut all = global.fields.clone();
    if let Some(o) = test_override {
        all.extend(o.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    all
}

/// An override as saved, after Jira accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SavedOverride {
    /// What the host chose.
    pub test_override: TestOverride,
    /// The override's project with the issue type resolved in it, if it names a project.
    pub target: Option<ResolvedTarget>,
    /// The site (cloud id) `target` was resolved on: ids do not carry over to another.
    pub cloud_id: String,
    /// The field values in effect for the test (the global ones with the override's on
    /// top), resolved against the create screen of the override's project, or of the
    /// global one; `None` when the override changes no field, project or assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<ResolvedFields>,
    /// What the host should show although the override was saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SaveWarning>,
}

impl SavedOverride {
    /// A saved override: what the host chose, as resolved on a site.
    pub fn new(
        test_override: TestOverride,
        target: Option<ResolvedTarget>,
        cloud_id: impl Into<String>,
    ) -> Self {
        SavedOverride {
            test_override,
            target,
            cloud_id: cloud_id.into(),
            fields: None,
            warnings: Vec::new(),
        }
    }
}
