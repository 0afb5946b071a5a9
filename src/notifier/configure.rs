//! The settings screen: lists from Jira, and saving settings and overrides only after
//! Jira has confirmed every value.

use super::{Inner, JiraNotifier};
use crate::catalog::{IssueType, Project, User};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::fields::FieldValue;
use crate::health::HealthEvent;
use crate::issue::labels::{check_label, check_prefix};
use crate::jira::models::Project as WireProject;
use crate::jira::Lookup;
use crate::lifecycle::Lifecycle;
use crate::noise::Noise;
use crate::settings::{
    merged_fields, Assignee, ResolvedTarget, SavedOverride, SavedSettings, Settings, TestOverride,
};
use crate::store::TestId;

impl JiraNotifier {
    /// Every project the service account can create issues in (`action=create`). An empty
    /// list is [`Error::NoProjectsVisible`]: the credential most likely lacks
    /// `read:jira-work`, or the service account may create issues in no project.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let conn = self.inner.require_connection().await?;
        let projects = self.inner.client.projects(&conn).await?;
        if projects.is_empty() {
            return Err(Error::NoProjectsVisible);
        }
        Ok(projects.into_iter().map(Project::from).collect())
    }

    /// The issue types that can be created in a project (sub-task types left out).
    pub async fn issue_types(&self, project_key: &str) -> Result<Vec<IssueType>> {
        check_project_key(project_key)?;
        let conn = self.inner.require_connection().await?;
        let types = self
            .inner
            .client
            .issue_types(&conn, project_key.trim())
            .await?;
        Ok(types
            .into_iter()
            .filter(|t| !t.subtask)
            .map(IssueType::from)
            .collect())
    }

    /// Active users who can be assigned issues in a project, matching `query` (a prefix of
    /// a name or e-mail; empty lists everyone).
    pub async fn assignable_users(&self, project_key: &str, query: &str) -> Result<Vec<User>> {
        check_project_key(project_key)?;
        let conn = self.inner.require_connection().await?;
        let users = self
            .inner
            .client
            .assignable_users(&conn, project_key.trim(), query)
            .await?;
        Ok(users.into_iter().map(User::from).collect())
    }

    /// The saved settings, if any.
    pub async fn settings(&self) -> Result<Option<Settings>> {
        Ok(self.inner.store.load_settings().await?.map(|s| s.settings))
    }

    /// Checks the settings against Jira and saves them: the project exists, the service
    /// account may browse it and create issues in it (and assign them, with a specific
    /// assignee), the issue type can be created there, the settings fit the project's
    /// create screen for that issue type (Labels on it, Assignee on it for a specific
    /// assignee, every required field without a default given a value, every configured
    /// value allowed), the assignee can be assigned and the labels are valid. Invalid
    /// settings are never saved: the error names the value, [`Error::PermissionMissing`]
    /// the permission, and [`Error::FieldsRefused`] every field problem at once.
    ///
    /// Description missing from the screen is not fatal: the settings are saved with a
    /// [`SaveWarning`](crate::SaveWarning) in [`SavedSettings::warnings`], and each issue's
    /// failure details go into its first comment. Saving clears a refusal shown by
    /// [`health`](Self::health).
    ///
    /// Costs four requests (project, permissions, issue types, create screen), plus one
    /// per further 200 issue types or fields, one to check a specific assignee, and one
    /// when user fields are configured.
    pub async fn save_settings(&self, settings: Settings) -> Result<SavedSettings> {
        let conn = self.inner.require_connection().await?;
        let mut settings = settings;
        settings.project_key = settings.project_key.trim().to_owned();
        settings.issue_type = settings.issue_type.trim().to_owned();
        check_project_key(&settings.project_key)?;
        check_prefix(&settings.label_prefix)?;
        settings.labels = checked_labels(&settings.labels)?;
        settings.fields = checked_fields(&settings.fields)?;
        if settings.issue_type.is_empty() {
            return Err(Error::invalid("issue_type", "choose an issue type"));
        }
        check_policy("lifecycle", settings.lifecycle.problems())?;
        check_policy("noise", settings.noise.problems())?;
        let project = self
            .inner
            .find_project(&conn, &settings.project_key)
            .await?;
        let permissions = self
            .inner
            .check_permissions(&conn, &project.key, &settings.assignee)
            .await?;
        let target = self
            .inner
            .choose_issue_type(&conn, project, &settings.issue_type)
            .await?;
        settings.project_key = target.project_key.clone();
        let (fields, warnings) = self
            .inner
            .fit_screen(
                &conn,
                &target,
                &settings.assignee,
                &settings.fields,
                Some(&permissions),
            )
            .await?;
        self.inner
            .check_assignee(&conn, &target.project_key, &settings.assignee)
            .await?;
        let saved = SavedSettings {
            settings,
            target,
            cloud_id: conn.site.cloud_id.clone(),
            fields: Some(fields),
            warnings,
        };
        // The refusal is cleared first: if the store fails, nothing is saved.
        self.inner
            .store
            .record_health(&HealthEvent::SettingsSaved)
            .await?;
        self.inner.store.save_settings(&saved).await?;
        Ok(saved)
    }

    /// Checks a test's override against Jira and saves it. An override naming a project
    /// needs the global settings (for the issue type) to be saved first.
    ///
    /// An override that names a project, field values or an assignee is checked like
    /// [`save_settings`](Self::save_settings) against the create screen its issues go to
    /// (the override's project, or the global one), with the global field values and the
    /// override's on top; one that changes only labels or turns the test off costs no
    /// request.
    pub async fn set_override(
        &self,
        test_id: &str,
        test_override: TestOverride,
    ) -> Result<SavedOverride> {
        let test = check_test_id(test_id)?;
        let conn = self.inner.require_connection().await?;
        let mut o = test_override;
        o.labels = checked_labels(&o.labels)?;
        o.fields = checked_fields(&o.fields)?;
        check_policy(
            "lifecycle",
            Lifecycle::default().with_override(&o.lifecycle).problems(),
        )?;
        check_policy("noise", Noise::default().with_override(&o.noise).problems())?;
        let global = self.inner.store.load_settings().await?;
        let mut saved = SavedOverride {
            test_override: o.clone(),
            target: None,
            cloud_id: conn.site.cloud_id.clone(),
            fields: None,
            warnings: Vec::new(),
        };
        if o.needs_screen() {
            let global = match global.as_ref() {
                Some(g) if g.cloud_id == conn.site.cloud_id => g,
                _ => return Err(Error::NotConfigured),
            };
            let assignee = o.assignee.as_ref().unwrap_or(&global.settings.assignee);
            let (target, permissions) = match &o.project_key {
                Some(key) => {
                    check_project_key(key)?;
                    let project = self.inner.find_project(&conn, key.trim()).await?;
                    let permissions = self
                        .inner
                        .check_permissions(&conn, &project.key, assignee)
                        .await?;
                    let t = self
                        .inner
                        .choose_issue_type(&conn, project, &global.settings.issue_type)
                        .await?;
                    o.project_key = Some(t.project_key.clone());
                    saved.target = Some(t.clone());
                    (t, permissions)
                }
                None => {
                    let t = global.target.clone();
                    let permissions = self
                        .inner
                        .check_permissions(&conn, &t.project_key, assignee)
                        .await?;
                    (t, permissions)
                }
            };
            let configured = merged_fields(&global.settings, Some(&o));
            let (fields, warnings) = self
                .inner
                .fit_screen(&conn, &target, assignee, &configured, Some(&permissions))
                .await?;
            // The override's own assignee, or the global one sent to another project.
            if o.assignee.is_some() || o.project_key.is_some() {
                self.inner
                    .check_assignee(&conn, &target.project_key, assignee)
                    .await?;
            }
            saved.test_override = o;
            saved.fields = Some(fields);
            saved.warnings = warnings;
        }
        self.inner
            .store
            .record_health(&HealthEvent::OverrideSaved {
                test_id: test.as_str().to_owned(),
            })
            .await?;
        self.inner.store.save_override(&test, &saved).await?;
        Ok(saved)
    }

    /// A test's override, if any.
    pub async fn test_override(&self, test_id: &str) -> Result<Option<TestOverride>> {
        let test = check_test_id(test_id)?;
        Ok(self
            .inner
            .store
            .load_override(&test)
            .await?
            .map(|o| o.test_override))
    }

    /// Removes a test's override: the global settings apply again.
    pub async fn clear_override(&self, test_id: &str) -> Result<()> {
        let test = check_test_id(test_id)?;
        Ok(self.inner.store.delete_override(&test).await?)
    }
}

impl Inner {
    /// Finds the project and the issue type (by name without regard to case, or by id)
    /// that can be created in it.
    pub(super) async fn resolve(
        &self,
        conn: &Connection,
        project_key: &str,
        issue_type: &str,
    ) -> Result<ResolvedTarget> {
        let project = self.find_project(conn, project_key).await?;
        self.choose_issue_type(conn, project, issue_type).await
    }

    /// The project, or why there is none.
    pub(super) async fn find_project(
        &self,
        conn: &Connection,
        project_key: &str,
    ) -> Result<WireProject> {
        match self.client.project(conn, project_key).await? {
            Lookup::Found(p) => Ok(p),
            Lookup::Missing(why) => Err(Error::invalid(
                "project_key",
                format!(
                    "no project {project_key:?} is visible to the service account ({why}); if no project is listed at all, the credential probably lacks read:jira-work"
                ),
            )),
        }
    }

    /// The issue type (by name without regard to case, or by id) that can be created in
    /// the project.
    pub(super) async fn choose_issue_type(
        &self,
        conn: &Connection,
        project: WireProject,
        issue_type: &str,
    ) -> Result<ResolvedTarget> {
        let types = self.client.issue_types(conn, &project.key).await?;
        let wanted = issue_type.trim();
        let chosen = types
            .iter()
            .filter(|t| !t.subtask)
            .find(|t| t.name == wanted || t.id == wanted)
            .or_else(|| {
                types
                    .iter()
                    .filter(|t| !t.subtask)
                    .find(|t| t.name.eq_ignore_ascii_case(wanted))
            });
        let Some(chosen) = chosen else {
            let names: Vec<&str> = types
                .iter()
                .filter(|t| !t.subtask)
                .map(|t| t.name.as_str())
                .collect();
            return Err(Error::invalid(
                "issue_type",
                format!(
                    "{wanted:?} cannot be created in project {}; it offers: {}",
                    project.key,
                    names.join(", ")
                ),
            ));
        };
        Ok(ResolvedTarget {
            project_key: project.key,
            project_id: project.id,
            issue_type_name: chosen.name.clone(),
            issue_type_id: chosen.id.clone(),
        })
    }

    pub(super) async fn check_assignee(
        &self,
        conn: &Connection,
        project_key: &str,
        assignee: &Assignee,
    ) -> Result<()> {
        let Some(account_id) = assignee.account_id() else {
            return Ok(());
        };
        if account_id.trim().is_empty() || account_id.len() > 128 {
            return Err(Error::invalid(
                "assignee",
                "an account id is 1 to 128 characters",
            ));
        }
        if self
            .client
            .is_assignable(conn, project_key, account_id)
            .await?
        {
            Ok(())
        } else {
            Err(Error::invalid(
                "assignee",
                format!(
                    "the user {account_id:?} cannot be assigned issues in project {project_key}"
                ),
            ))
        }
    }
}

pub(super) fn check_test_id(test_id: &str) -> Result<TestId> {
    // A blank id names no test any better than an empty one (issue 9).
    if test_id.trim().is_empty() {
        return Err(Error::invalid("test.id", "the test id is empty or blank"));
    }
    if crate::noise::identity::is_reserved(test_id) {
        return Err(Error::invalid(
            "test.id",
            "a test id may not begin with the control character U+001F (kept for the notifier's own use)",
        ));
    }
    Ok(TestId::new(test_id))
}

pub(super) fn check_project_key(key: &str) -> Result<()> {
    let key = key.trim();
    if key.is_empty() {
        return Err(Error::invalid("project_key", "choose a project"));
    }
    // Jira keys start with a letter; a leading letter or digit also keeps `.` and `..`
    // (which URL paths would resolve) out of request paths.
    if key.len() > 255
        || !key.starts_with(|c: char| c.is_alphanumeric())
        || key.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(
            "project_key",
            format!("{key:?} is not a project key"),
        ));
    }
    Ok(())
}

/// Field ids trimmed; an id must be non-empty and a value hold something.
fn checked_fields(
    fields: &std::collections::BTreeMap<String, FieldValue>,
) -> Result<std::collections::BTreeMap<String, FieldValue>> {
    let mut out = std::collections::BTreeMap::new();
    for (id, value) in fields {
        let id = id.trim();
        if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
            return Err(Error::invalid(
                "fields",
                format!("{id:?} is not a field id"),
            ));
        }
        if value.items().is_empty() {
            return Err(Error::invalid(
                "fields",
                format!("the value of {id} is empty: remove the field instead"),
            ));
        }
        out.insert(id.to_owned(), value.clone());
    }
    Ok(out)
}

fn checked_labels(labels: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for l in labels {
        let l = l.trim();
        check_label("labels", l)?;
        if !out.iter().any(|o| o == l) {
            out.push(l.to_owned());
        }
    }
    Ok(out)
}

/// Refuses a policy that cannot work (for the lifecycle a zero interval, zero passes or an
/// empty name; for noise control a zero threshold or a storm limit of zero issues or a zero
/// window), naming every problem under `field`; nothing is saved.
fn check_policy(field: &'static str, problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(field, problems.join("; ")))
    }
}
