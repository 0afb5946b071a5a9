//! The create screen: listing its fields, checking settings against it and the service
//! account's permissions at save, choosing the resolved fields at each failure, and the
//! integration's health.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::configure::check_project_key;
use super::{Inner, JiraNotifier};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::fields::fit::{fit, Wanted};
use crate::fields::{
    CreateField, FieldProblem, FieldProblemKind, FieldValue, ResolvedFields, SaveWarning,
};
use crate::health::{truncate_ms, Health, HealthEvent, Refusal};
use crate::jira::requests::CREATE_ISSUE;
use crate::settings::{merged_fields, Assignee, ResolvedTarget, SavedOverride, SavedSettings};
use crate::store::TestId;

impl JiraNotifier {
    /// The fields on a project's create screen for an issue type (by name, as in
    /// [`Settings::issue_type`](crate::Settings::issue_type), or id), in Jira's order,
    /// every page read: each with its id, name, whether it is required and has a default,
    /// its kind and its allowed values. Fields the crate fills itself are included and
    /// marked ([`CreateField::filled_by_crate`]).
    ///
    /// Costs the project lookup, the issue type list and one request per 200 fields.
    pub async fn create_fields(
        &self,
        project_key: &str,
        issue_type: &str,
    ) -> Result<Vec<CreateField>> {
        check_project_key(project_key)?;
        let conn = self.inner.require_connection().await?;
        let target = self
            .inner
            .resolve(&conn, project_key.trim(), issue_type)
            .await?;
        self.inner
            .client
            .create_fields(&conn, &target.project_key, &target.issue_type_id)
            .await
    }

    /// The integration's health, for the settings screen: when an issue was last created,
    /// and Jira's last refusal of one, with its reasons ("Jira refused the last issue:
    /// components: Component/s is required."), until an issue is created again or the
    /// settings are saved again. `Display` gives `ok` or `refused: …` on one line.
    ///
    /// Read from the store (one read, no request to Jira), so every replica sharing the
    /// store sees it. Recording it is a store write per created issue; a store failure
    /// while recording is logged (at `warn`) and does not change what the report
    /// returns.
    pub async fn health(&self) -> Result<Health> {
        Ok(self.inner.store.load_health().await?)
    }
}

/// The permissions a save always needs.
const ALWAYS_NEEDED: [&str; 2] = ["BROWSE_PROJECTS", "CREATE_ISSUES"];

impl Inner {
    /// Checks the service account's permissions in a project: browsing and creating, and
    /// assigning when a specific assignee is set. Returns what it has, for the comment
    /// permission checked once the screen is known.
    pub(super) async fn check_permissions(
        &self,
        conn: &Connection,
        project_key: &str,
        assignee: &Assignee,
    ) -> Result<BTreeSet<String>> {
        let have = self.client.my_permissions(conn, project_key).await?;
        let mut needed: Vec<&str> = ALWAYS_NEEDED.to_vec();
        if assignee.account_id().is_some() {
            needed.push("ASSIGN_ISSUES");
        }
        let missing: Vec<String> = needed
            .into_iter()
            .filter(|p| !have.contains(*p))
            .map(str::to_owned)
            .collect();
        if missing.is_empty() {
            Ok(have)
        } else {
            Err(Error::PermissionMissing {
                project_key: project_key.to_owned(),
                permissions: missing,
            })
        }
    }

    /// Reads the target's create screen and checks the settings against it (and the
    /// users they name), naming every problem at once. `permissions` (when checked) must
    /// hold `ADD_COMMENTS` if Description is not on the screen.
    pub(super) async fn fit_screen(
        &self,
        conn: &Connection,
        target: &ResolvedTarget,
        assignee: &Assignee,
        configured: &BTreeMap<String, FieldValue>,
        permissions: Option<&BTreeSet<String>>,
    ) -> Result<(ResolvedFields, Vec<SaveWarning>)> {
        let screen = self
            .client
            .create_fields(conn, &target.project_key, &target.issue_type_id)
            .await?;
        let wanted = Wanted {
            project_key: &target.project_key,
            issue_type: &target.issue_type_name,
            assignee,
            fields: configured,
        };
        let (fitted, mut problems) = fit(&screen, &wanted);
        if !fitted.users.is_empty() {
            let mut ids: Vec<&str> = fitted.users.iter().map(|(_, u)| u.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let active = self.client.active_users(conn, &ids).await?;
            for (field_id, account) in &fitted.users {
                if active.contains(account) {
                    continue;
                }
                let name = screen
                    .iter()
                    .find(|f| &f.id == field_id)
                    .map_or(field_id.as_str(), |f| f.name.as_str());
                problems.push(FieldProblem {
                    field_id: field_id.clone(),
                    name: name.to_owned(),
                    kind: FieldProblemKind::InvalidValue {
                        reason: format!("no active user has the account id {account:?}"),
                    },
                    allowed_values: Vec::new(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(Error::FieldsRefused {
                project_key: target.project_key.clone(),
                issue_type: target.issue_type_name.clone(),
                problems,
            });
        }
        if let Some(have) = permissions {
            if !fitted.description_on_screen && !have.contains("ADD_COMMENTS") {
                return Err(Error::PermissionMissing {
                    project_key: target.project_key.clone(),
                    permissions: vec!["ADD_COMMENTS".to_owned()],
                });
            }
        }
        Ok((
            ResolvedFields {
                project_id: target.project_id.clone(),
                issue_type_id: target.issue_type_id.clone(),
                configured: configured.clone(),
                values: fitted.values,
                description_on_screen: fitted.description_on_screen,
            },
            fitted.warnings,
        ))
    }

    /// The resolved fields a test's issue is created with: those saved for this target and
    /// these configured values (with the override, then with the settings), or none when
    /// no field value is configured and nothing saved fits (settings saved before screens
    /// were read, or an override re-resolved on another site): issues are then created as
    /// before. Otherwise (the global values or target changed since the override was
    /// saved) the screen is read again, once, and the result kept with the override.
    pub(super) async fn plan(
        &self,
        conn: &Connection,
        settings: &SavedSettings,
        test_override: Option<&SavedOverride>,
        target: &ResolvedTarget,
        test_id: Option<&str>,
    ) -> Result<Option<ResolvedFields>> {
        let configured = merged_fields(&settings.settings, test_override.map(|o| &o.test_override));
        let own = test_override.and_then(|o| o.fields.as_ref());
        for saved in [own, settings.fields.as_ref()].into_iter().flatten() {
            if saved.fits(&target.project_id, &target.issue_type_id, &configured) {
                return Ok(Some(saved.clone()));
            }
        }
        // Nothing configured: nothing to resolve, and the create goes as it always did
        // (the description in the body), without a request to learn the screen.
        if configured.is_empty() {
            return Ok(None);
        }
        let assignee = test_override
            .and_then(|o| o.test_override.assignee.as_ref())
            .unwrap_or(&settings.settings.assignee);
        let fresh = match self
            .fit_screen(conn, target, assignee, &configured, None)
            .await
        {
            Ok((fresh, _)) => fresh,
            Err(e) => return Err(self.refused(e, test_id, target).await),
        };
        if let (Some(o), Some(test_id)) = (test_override, test_id) {
            let mut updated = o.clone();
            if updated.target.is_some() {
                updated.target = Some(target.clone());
            }
            updated.cloud_id = conn.site.cloud_id.clone();
            updated.fields = Some(fresh.clone());
            self.store
                .save_override(&TestId::new(test_id), &updated)
                .await?;
        }
        Ok(Some(fresh))
    }

    /// An error from creating an issue, typed: a 400 with field errors becomes
    /// [`Error::CreateRefused`]. A refusal (that, or another final answer that is not
    /// about the credentials or the rate) is remembered in the store's health.
    pub(super) async fn refused(
        &self,
        error: Error,
        test_id: Option<&str>,
        target: &ResolvedTarget,
    ) -> Error {
        let error = match error {
            Error::Api(api)
                if api.operation == CREATE_ISSUE && api.status == 400 && !api.errors.is_empty() =>
            {
                Error::CreateRefused {
                    project_key: target.project_key.clone(),
                    issue_type: target.issue_type_name.clone(),
                    error: Box::new(api),
                }
            }
            other => other,
        };
        let refusal = match &error {
            Error::CreateRefused { error: api, .. } => Some(Refusal::now(
                test_id,
                &target.project_key,
                &target.issue_type_name,
                api.status,
                api.errors.clone(),
                api.error_messages.clone(),
            )),
            Error::Api(api)
                if api.operation == CREATE_ISSUE
                    && (400..500).contains(&api.status)
                    && !matches!(api.status, 401 | 408 | 429) =>
            {
                Some(Refusal::now(
                    test_id,
                    &target.project_key,
                    &target.issue_type_name,
                    api.status,
                    api.errors.clone(),
                    api.error_messages.clone(),
                ))
            }
            Error::FieldsRefused { problems, .. } => Some(Refusal::now(
                test_id,
                &target.project_key,
                &target.issue_type_name,
                0,
                BTreeMap::new(),
                problems.iter().map(ToString::to_string).collect(),
            )),
            _ => None,
        };
        if let Some(refusal) = refusal {
            self.record_health(&HealthEvent::Refused(refusal)).await;
        }
        error
    }

    /// An issue was created: the health says so.
    pub(super) async fn created(&self) {
        self.record_health(&HealthEvent::Created {
            at: truncate_ms(SystemTime::now()),
        })
        .await;
    }

    async fn record_health(&self, event: &HealthEvent) {
        if let Err(error) = self.store.record_health(event).await {
            tracing::warn!(%error, "the store could not record the integration's health");
        }
    }
}
