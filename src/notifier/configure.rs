//! The settings screen: lists from Jira, and saving settings and overrides only after
//! Jira has confirmed every value.

use super::{Inner, JiraNotifier};
use crate::catalog::{IssueType, Project, User};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::issue::labels::{check_label, check_prefix};
use crate::jira::Lookup;
use crate::settings::{
    Assignee, ResolvedTarget, SavedOverride, SavedSettings, Settings, TestOverride,
};
use crate::store::TestId;

impl JiraNotifier {
    /// Every project the service account can see. An empty list is
    /// [`Error::NoProjectsVisible`]: the credential most likely lacks `read:jira-work`.
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

    /// Checks the settings against Jira (the project exists, the issue type can be created
    /// there, the assignee can be assigned, the labels are valid) and saves them. Invalid
    /// settings are never saved: the error names the value.
    pub async fn save_settings(&self, settings: Settings) -> Result<SavedSettings> {
        let conn = self.inner.require_connection().await?;
        let mut settings = settings;
        settings.project_key = settings.project_key.trim().to_owned();
        settings.issue_type = settings.issue_type.trim().to_owned();
        check_project_key(&settings.project_key)?;
        check_prefix(&settings.label_prefix)?;
        settings.labels = checked_labels(&settings.labels)?;
        if settings.issue_type.is_empty() {
            return Err(Error::invalid("issue_type", "choose an issue type"));
        }
        let target = self
            .inner
            .resolve(&conn, &settings.project_key, &settings.issue_type)
            .await?;
        settings.project_key = target.project_key.clone();
        self.inner
            .check_assignee(&conn, &target.project_key, &settings.assignee)
            .await?;
        let saved = SavedSettings {
            settings,
            target,
            cloud_id: conn.site.cloud_id.clone(),
        };
        self.inner.store.save_settings(&saved).await?;
        Ok(saved)
    }

    /// Checks a test's override against Jira and saves it. An override naming a project
    /// needs the global settings (for the issue type) to be saved first.
    pub async fn set_override(
        &self,
        test_id: &str,
        test_override: TestOverride,
    ) -> Result<SavedOverride> {
        let test = check_test_id(test_id)?;
        let conn = self.inner.require_connection().await?;
        let mut o = test_override;
        o.labels = checked_labels(&o.labels)?;
        let global = self.inner.store.load_settings().await?;
        let target = match &o.project_key {
            Some(key) => {
                check_project_key(key)?;
                let global = global.as_ref().ok_or(Error::NotConfigured)?;
                let t = self
                    .inner
                    .resolve(&conn, key.trim(), &global.settings.issue_type)
                    .await?;
                o.project_key = Some(t.project_key.clone());
                Some(t)
            }
            None => None,
        };
        if let Some(assignee) = &o.assignee {
            let project = match (&target, &global) {
                (Some(t), _) => t.project_key.clone(),
                (None, Some(g)) => g.target.project_key.clone(),
                (None, None) => return Err(Error::NotConfigured),
            };
            self.inner.check_assignee(&conn, &project, assignee).await?;
        }
        let saved = SavedOverride {
            test_override: o,
            target,
            cloud_id: conn.site.cloud_id.clone(),
        };
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
        let project = match self.client.project(conn, project_key).await? {
            Lookup::Found(p) => p,
            Lookup::Missing(why) => {
                return Err(Error::invalid(
                    "project_key",
                    format!(
                        "no project {project_key:?} is visible to the service account ({why}); if no project is listed at all, the credential probably lacks read:jira-work"
                    ),
                ))
            }
        };
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
    Ok(TestId::new(test_id))
}

fn check_project_key(key: &str) -> Result<()> {
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
