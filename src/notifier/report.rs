//! Reporting: a test's failure becomes one issue; the test notification proves the setup.

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use super::attach::Filed;
use super::configure::check_test_id;
use super::life::Reopen;
use super::storm::Storm;
use super::{Inner, JiraNotifier};
use crate::connection::Connection;
use crate::dedupe::{self, issue_ref, record_of, Claimant, Claimed, LookBack, Settle};
use crate::error::{ApiError, Error, Result};
use crate::evidence::Evidence;
use crate::fields::ResolvedFields;
use crate::issue::labels::notification_label;
use crate::issue::{adf, merge_labels, summary, IssueDraft};
use crate::jira::{Done, Found};
use crate::lifecycle::{texts, TestState};
use crate::noise::identity::{self, Identity};
use crate::outcome::{IssueRef, Outcome, TestInfo, TestStatus};
use crate::settings::{lifecycle_for, noise_for};
use crate::settings::{ResolvedTarget, SavedOverride, SavedSettings};
use crate::store::{IssueRecord, StoreErrorKind, TestId};

impl JiraNotifier {
    /// Acts on a test's status change: on [`TestStatus::Error`], creates one issue for the
    /// test unless one is still open.
    ///
    /// A first failure costs two requests (search, create), and one more (the comment
    /// holding the failure details) when Description is not on the project's create
    /// screen; a repeat while the issue is open costs one (search); a report made while
    /// the same test's report is in flight in this process costs none. When the global
    /// field values or target changed since a test's override was saved, its first report
    /// reads the create screen again (once per 200 fields).
    ///
    /// With noise control on ([`Noise`](crate::Noise)): a failure below the test's
    /// `min_failures` answers [`Outcome::Counted`] without a request; past the workspace's
    /// `storm_limit`, a test with nothing open joins the storm's umbrella issue
    /// ([`Outcome::Grouped`]) instead of getting its own; with `split_by_environment`, the
    /// test's [`environment`](TestInfo::environment) is part of what "the same test" means.
    /// The status's [`Evidence`] goes into the description.
    ///
    /// A create Jira refuses because of its fields is [`Error::CreateRefused`], remembered
    /// in [`health`](Self::health) until an issue is created or settings are saved again. An error means the failure did not reach Jira:
    /// [`Error::is_retryable`] says whether to report it again later.
    pub async fn on_test_error(&self, test: &TestInfo, status: &TestStatus) -> Result<Outcome> {
        Ok(self.file(test, status, false).await?.outcome)
    }

    /// The failure path behind [`on_test_error`](Self::on_test_error) and
    /// [`on_test_error_with_attachments`](Self::on_test_error_with_attachments).
    /// `with_files`: the report carries files, so a coalesced repeat must learn whether
    /// they go to the issue (one store read it otherwise saves).
    pub(super) async fn file(
        &self,
        test: &TestInfo,
        status: &TestStatus,
        with_files: bool,
    ) -> Result<Filed> {
        let (message, evidence) = match status {
            TestStatus::Error { message, evidence } => (message.as_str(), evidence),
            TestStatus::Passed => return Ok(Filed::bare(self.on_test_pass(test).await?)),
            _ => return Ok(Filed::bare(Outcome::Ignored)),
        };
        let test_id = check_test_id(&test.id)?;
        // Reports of one test in one environment coalesce; whether environments are told
        // apart is only known from the settings, and a finer flight is merely less shared.
        let mut boarding = self
            .inner
            .flights
            .board(&self.inner.workspace, &identity::with_environment(test))
            .await;
        if let Some(issue) = boarding.landed() {
            let issue = issue.clone();
            if !boarding.landed_counting() && !with_files {
                return Ok(Filed::bare(Outcome::Duplicate(issue)));
            }
            let ctx = self.inner.store.load_test_context(&test_id).await?;
            let (Some(conn), Some(settings)) = (ctx.connection, ctx.settings) else {
                return Ok(Filed::bare(Outcome::Duplicate(issue)));
            };
            let policy = lifecycle_for(&settings, ctx.test_override.as_ref());
            if boarding.landed_counting() {
                // A repeat policy is on: this failure counts too (store only, unless the
                // repeat comment falls due with it).
                let noise = noise_for(&settings, ctx.test_override.as_ref());
                let id = Identity::of(test, &noise, &settings.settings.label_prefix);
                let state = if id.split {
                    self.inner.store.load_test_state(&id.key).await?
                } else {
                    ctx.state
                };
                let f = Failure::new(test, message, evidence, &id);
                self.inner
                    .count_repeat(&conn, &f, &issue, &policy, state)
                    .await?;
            }
            return Ok(Filed::duplicate(&conn, issue, policy.attach_on_repeat));
        }
        let mut ctx = self.inner.store.load_test_context(&test_id).await?;
        let Some(conn) = ctx.connection.take() else {
            return Ok(Filed::bare(Outcome::NotConnected));
        };
        let settings = match ctx.settings.take() {
            Some(s) if s.cloud_id == conn.site.cloud_id => s,
            _ => return Ok(Filed::bare(Outcome::NotConfigured)),
        };
        let test_override = ctx.test_override.take();
        if test_override
            .as_ref()
            .is_some_and(|o| !o.test_override.enabled)
        {
            return Ok(Filed::bare(Outcome::Disabled));
        }
        let policy = lifecycle_for(&settings, test_override.as_ref());
        let noise = noise_for(&settings, test_override.as_ref());
        let id = Identity::of(test, &noise, &settings.settings.label_prefix);
        if id.split {
            // The test's record and state are its environment's.
            ctx.record = self.inner.store.load_record(&id.key).await?;
            ctx.state = self.inner.store.load_test_state(&id.key).await?;
        }
        let f = Failure::new(test, message, evidence, &id);
        if noise.min_failures > 1 {
            let needed = noise.min_failures;
            let state = std::mem::take(&mut ctx.state);
            let (failures, state) = self
                .inner
                .swap_test_state(&id.key, state, |s| s.toward_threshold(needed))
                .await?;
            if failures < needed {
                return Ok(Filed::bare(Outcome::Counted { failures, needed }));
            }
            ctx.state = state;
        }
        let counts = TestState::needed(&policy);
        let key = &id.key;
        let label = &id.label;

        // An issue this notifier made but could not record is the test's latest: check it
        // on current data, since search may not show it yet.
        let unrecorded = self.inner.unrecorded(key);
        let latest = unrecorded.as_ref().or(ctx.record.as_ref());
        // A create of this notifier for the test that got no clear answer, not confirmed yet.
        let pending = self.inner.pending.get(key.as_str());
        let searched_at = Instant::now();
        let look = dedupe::look(&self.inner.client, &conn, label, latest).await?;
        if let Some(found) = look.open {
            let issue = issue_ref(&conn, &found);
            if pending.is_some() {
                // Search shows the unclear create: it landed. Record it and free the claim.
                let issue = self.inner.confirm(&conn, key, &found, label).await?;
                self.inner.opened(key, &issue.id, &policy).await;
                boarding.land_with(&issue, counts);
                return Ok(Filed::attaching(
                    Outcome::Created(issue.clone()),
                    &conn,
                    &issue,
                ));
            }
            // Remember an issue found by label alone, so later checks reconcile it; and the
            // new key of a recorded issue that moved to another project.
            let recorded = ctx
                .record
                .as_ref()
                .is_some_and(|r| r.issue_id == found.id && r.issue_key == found.key)
                || self.inner.remember(key, &found, label).await.is_ok();
            if recorded {
                self.inner.settle_unrecorded(key);
            }
            boarding.land_with(&issue, counts);
            if counts {
                self.inner
                    .count_repeat(&conn, &f, &issue, &policy, ctx.state)
                    .await?;
            }
            return Ok(Filed::duplicate(&conn, issue, policy.attach_on_repeat));
        }
        // Nothing open, the unrecorded issue included: the store's record counts again.
        self.inner.settle_unrecorded(key);
        if let Some((since, cause)) = pending {
            let sure_at = since + self.inner.search_lag_bound;
            if searched_at < sure_at {
                // Search may still be behind the unclear create: no second one yet. The
                // claim stays held (it was renewed to last past `sure_at`).
                return Err(Error::CreateUnconfirmed {
                    cause,
                    retry_after: sure_at - Instant::now().min(sure_at),
                });
            }
            // A search made at least the bound after it found nothing: it did not land.
            self.inner.pending.clear(key.as_str());
        }
        // The test's last issue is done: muted by its resolution, or reopened if it was
        // done a short while ago; otherwise the new issue names it.
        let done = look.done.filter(|d| {
            ctx.record
                .as_ref()
                .is_some_and(|r| r.issue_id == d.found.id)
        });
        if let Some(d) = &done {
            if d.closed
                .resolution
                .as_deref()
                .is_some_and(|r| policy.mutes(r))
            {
                return Ok(Filed::bare(Outcome::Muted(issue_ref(&conn, &d.found))));
            }
        }

        // A test grouped into the storm's umbrella: its repeat is a duplicate of it.
        if noise.storm_limit.is_some() {
            if let Some(umbrella) = self.inner.grouped_in(&conn, key).await? {
                return Ok(Filed::bare(Outcome::Duplicate(umbrella)));
            }
        }

        // Nothing open: claim the create step, so that of all the notifiers sharing the
        // store, one creates (or reopens) and the others report its issue. In a storm, the
        // holder waited for may have grouped the test: that is asked before searching again.
        let grouped = || -> Pin<Box<dyn Future<Output = Result<Option<IssueRef>>> + Send + '_>> {
            Box::pin(self.inner.grouped_in(&conn, key))
        };
        let settle: Option<Settle<'_>> = noise.storm_limit.is_some().then_some(&grouped as _);
        let claimed = self
            .inner
            .claimant()
            .claim_settling(&conn, key, label, ctx.record, settle)
            .await?;
        match claimed {
            Claimed::Create => {}
            Claimed::Settled(umbrella) => return Ok(Filed::bare(Outcome::Duplicate(umbrella))),
            Claimed::Existing(issue) => {
                boarding.land_with(&issue, counts);
                if counts {
                    let state = self.inner.store.load_test_state(key).await?;
                    self.inner
                        .count_repeat(&conn, &f, &issue, &policy, state)
                        .await?;
                }
                return Ok(Filed::duplicate(&conn, issue, policy.attach_on_repeat));
            }
        }
        if let Some(d) = done.as_ref().filter(|d| self.inner.reopens(&policy, d)) {
            let target = self
                .inner
                .target(&conn, &settings, test_override.as_ref(), &test_id)
                .await;
            let target = match target {
                Ok(t) => t,
                Err(e) => {
                    self.inner.release(key).await;
                    return Err(e);
                }
            };
            let reopened = self
                .inner
                .reopen_claimed(&conn, &f, d, &policy, &target)
                .await?;
            return Ok(match reopened {
                Reopen::Reopened(issue) => {
                    boarding.land_with(&issue, counts);
                    Filed::attaching(Outcome::Reopened(issue.clone()), &conn, &issue)
                }
                Reopen::Existing(issue) => {
                    boarding.land_with(&issue, counts);
                    Filed::duplicate(&conn, issue, policy.attach_on_repeat)
                }
            });
        }
        // The storm guard, when on, decides whether this test still files its own issue.
        let slot = match &noise.storm_limit {
            None => None,
            Some(limit) => {
                let guarded = self.inner.storm_guard(&conn, &settings, &f, limit).await;
                match guarded {
                    Ok(Storm::Own(slot)) => Some(slot),
                    Ok(Storm::Grouped { umbrella, joined }) => {
                        self.inner.release(key).await;
                        let outcome = if joined {
                            Outcome::Grouped(umbrella)
                        } else {
                            Outcome::Duplicate(umbrella)
                        };
                        return Ok(Filed::bare(outcome));
                    }
                    Err(e) => {
                        self.inner.release(key).await;
                        return Err(e);
                    }
                }
            }
        };
        let created = self
            .inner
            .create_claimed(&conn, &f, &settings, test_override.as_ref(), done.as_ref())
            .await;
        let issue = match created {
            Ok(issue) => issue,
            Err(e) => {
                let made = matches!(
                    e,
                    Error::DetailsNotAdded { .. }
                        | Error::RecordNotSaved { .. }
                        | Error::CreateUnconfirmed { .. }
                );
                if let (Some(slot), false) = (slot, made) {
                    // Nothing was made: the slot goes back to the storm guard's count.
                    self.inner.give_back(slot).await;
                }
                return Err(e);
            }
        };
        self.inner.opened(key, &issue.id, &policy).await;
        boarding.land_with(&issue, counts);
        Ok(Filed::attaching(
            Outcome::Created(issue.clone()),
            &conn,
            &issue,
        ))
    }

    /// Creates a test ticket in the configured project, with the configured issue type,
    /// labels, assignee and field values, to prove the setup works. It carries its own
    /// label, so it never counts as a test's issue, and every call creates a ticket. When
    /// Description is not on the create screen, the ticket's text goes into its first
    /// comment (one more request).
    pub async fn send_test_notification(&self) -> Result<IssueRef> {
        let conn = self.inner.require_connection().await?;
        let settings = match self.inner.store.load_settings().await? {
            Some(s) if s.cloud_id == conn.site.cloud_id => s,
            _ => return Err(Error::NotConfigured),
        };
        let plan = self
            .inner
            .plan(&conn, &settings, None, &settings.target, None)
            .await?;
        let s = &settings.settings;
        let label = notification_label(&s.label_prefix);
        let draft = IssueDraft {
            project_id: settings.target.project_id.clone(),
            issue_type_id: settings.target.issue_type_id.clone(),
            summary: "Test notification from jira-notifier".to_owned(),
            description: adf::paragraphs(&[
                "This ticket was created by the Jira integration's test notification.",
                "It proves that failing tests will reach this project. It can be closed.",
            ]),
            description_in_body: plan.as_ref().is_none_or(|p| p.description_on_screen),
            fields: plan.map(|p| p.values).unwrap_or_default(),
            labels: merge_labels([&s.labels[..], std::slice::from_ref(&label)]),
            assignee: s.assignee.account_id().map(str::to_owned),
            test_label: label,
        };
        let found = match dedupe::create(&self.inner.client, &conn, &draft, LookBack::Never).await {
            Ok(found) => found,
            Err(e) => return Err(self.inner.refused(e, None, &settings.target).await),
        };
        self.inner.created().await;
        let issue = issue_ref(&conn, &found);
        if !draft.description_in_body {
            if let Err(e) = self
                .inner
                .client
                .add_comment(&conn, &found.id, &draft.description)
                .await
            {
                return Err(Error::DetailsNotAdded {
                    issue,
                    error: Box::new(e),
                });
            }
        }
        Ok(issue)
    }
}

/// One failure as the report carries it, with whom it is about.
pub(super) struct Failure<'a> {
    pub test: &'a TestInfo,
    pub message: &'a str,
    pub evidence: &'a Evidence,
    pub id: &'a Identity,
}

impl<'a> Failure<'a> {
    fn new(test: &'a TestInfo, message: &'a str, evidence: &'a Evidence, id: &'a Identity) -> Self {
        Failure {
            test,
            message,
            evidence,
            id,
        }
    }
}

impl Inner {
    /// Releases the test's create claim without a record (nothing made), best effort: the
    /// lease ends it anyway.
    pub(super) async fn release(&self, key: &TestId) {
        self.store.release_create(key, &self.owner, None).await.ok();
    }

    /// The claim on a test's create step, as this notifier asks for it.
    pub(super) fn claimant(&self) -> Claimant<'_> {
        Claimant {
            store: self.store.as_ref(),
            client: &self.client,
            owner: &self.owner,
            lease: self.lease,
        }
    }

    /// Creates the test's issue under the claim (and, when Description is not on the
    /// create screen, its first comment with the failure details), then records it and
    /// releases the claim in one store call. On failure the claim is released too, so
    /// others need not wait out the lease.
    async fn create_claimed(
        &self,
        conn: &Connection,
        f: &Failure<'_>,
        settings: &SavedSettings,
        test_override: Option<&SavedOverride>,
        previous: Option<&Done>,
    ) -> Result<IssueRef> {
        let test = f.test;
        let key = &f.id.key;
        let attempt = async {
            let target = self
                .target(
                    conn,
                    settings,
                    test_override,
                    &TestId::new(test.id.as_str()),
                )
                .await?;
            let plan = self
                .plan(conn, settings, test_override, &target, Some(&test.id))
                .await?;
            let mut draft = draft_for(f, settings, test_override, target.clone(), plan.as_ref());
            if let Some(p) = previous {
                draft.description = texts::description_after(
                    test,
                    f.message,
                    f.evidence,
                    &p.found.key,
                    &conn.site.browse_url(&p.found.key),
                    p.closed.at,
                );
            }
            let look_back = LookBack::ByLabel {
                bound: self.search_lag_bound,
                hints: &self.key_hints,
            };
            let created = match dedupe::create(&self.client, conn, &draft, look_back).await {
                // Jira measured the description as longer than it was counted here (what
                // it stores may add to what was sent): cut it harder and send it once
                // more. A 400 is a clear answer: nothing was created.
                Err(Error::Api(e)) if description_too_long(&e) => {
                    let half = draft.description.json_len() / 2;
                    draft.description = adf::failure_doc_with(test, f.message, f.evidence, half);
                    dedupe::create(&self.client, conn, &draft, look_back).await
                }
                other => other,
            };
            match created {
                Ok(found) => Ok::<_, Error>((found, draft)),
                Err(e) => Err(self.refused(e, Some(&test.id), &target).await),
            }
        };
        let (found, draft) = match attempt.await {
            Ok(v) => v,
            Err(e @ Error::CreateUnconfirmed { .. }) => {
                self.hold_unconfirmed(key, &e).await;
                return Err(e);
            }
            Err(e) => {
                self.release(key).await;
                return Err(e);
            }
        };
        self.created().await;
        let commented = if draft.description_in_body {
            Ok(())
        } else {
            self.client
                .add_comment(conn, &found.id, &draft.description)
                .await
        };
        let issue = self
            .record_and_release(conn, key, &found, &draft.test_label)
            .await?;
        if let Err(e) = commented {
            return Err(Error::DetailsNotAdded {
                issue,
                error: Box::new(e),
            });
        }
        Ok(issue)
    }

    /// Keeps the test's create claim after an unclear create, for as long as search may
    /// lag it (or the lease, if longer), so that other replicas wait rather than create;
    /// and remembers the create until a search confirms or rules it out.
    async fn hold_unconfirmed(&self, test_id: &TestId, e: &Error) {
        let Error::CreateUnconfirmed { cause, retry_after } = e else {
            return;
        };
        let bound = self.search_lag_bound;
        let since = (Instant::now() + *retry_after)
            .checked_sub(bound)
            .unwrap_or_else(Instant::now);
        self.pending
            .note(test_id.as_str(), since, cause.clone(), bound);
        // Granting the holder again renews its lease from now.
        let hold = self.lease.max(*retry_after);
        if let Err(error) = self.store.claim_create(test_id, &self.owner, hold).await {
            // The claim still runs to the end of its first lease; a replica that takes it
            // over then searches first.
            tracing::warn!(%error, "could not extend the create claim after an unclear create");
        }
    }

    /// Search shows the test's unclear create: records it and releases the claim in one
    /// store call, as after a clear create.
    async fn confirm(
        &self,
        conn: &Connection,
        test_id: &TestId,
        found: &Found,
        label: &str,
    ) -> Result<IssueRef> {
        self.pending.clear(test_id.as_str());
        self.record_and_release(conn, test_id, found, label).await
    }

    /// Records the issue just made for the test and releases its claim, in one store call,
    /// tried twice on a passing store failure.
    ///
    /// Without its record the issue could be made again while search lags: the claim then
    /// stays until its lease runs out, and whoever takes it over searches first. This
    /// notifier, which may take it again at once, keeps the record in memory and reconciles
    /// it in the test's next duplicate check.
    pub(super) async fn record_and_release(
        &self,
        conn: &Connection,
        test_id: &TestId,
        found: &Found,
        label: &str,
    ) -> Result<IssueRef> {
        let issue = issue_ref(conn, found);
        let record = record_of(found, label);
        let mut saved = self
            .store
            .release_create(test_id, &self.owner, Some(&record))
            .await;
        if matches!(&saved, Err(e) if e.kind() == StoreErrorKind::Unavailable) {
            saved = self
                .store
                .release_create(test_id, &self.owner, Some(&record))
                .await;
        }
        if let Err(error) = saved {
            self.unrecorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(test_id.clone(), record);
            return Err(Error::RecordNotSaved { issue, error });
        }
        Ok(issue)
    }

    /// The issue this notifier made for a test but could not record, if any.
    fn unrecorded(&self, test_id: &TestId) -> Option<IssueRecord> {
        self.unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(test_id)
            .cloned()
    }

    /// Forgets the test's unrecorded issue: it is recorded now, or no longer open.
    fn settle_unrecorded(&self, test_id: &TestId) {
        self.unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(test_id);
    }

    /// Where a test's issue goes. An override resolved on another site, or for another
    /// issue type than the current global one, is resolved again, once, and saved.
    async fn target(
        &self,
        conn: &Connection,
        settings: &SavedSettings,
        test_override: Option<&SavedOverride>,
        test_id: &TestId,
    ) -> Result<ResolvedTarget> {
        let Some(o) = test_override else {
            return Ok(settings.target.clone());
        };
        let Some(t) = &o.target else {
            return Ok(settings.target.clone());
        };
        if t.issue_type_name == settings.target.issue_type_name && o.cloud_id == conn.site.cloud_id
        {
            return Ok(t.clone());
        }
        let fresh = self
            .resolve(conn, &t.project_key, &settings.target.issue_type_name)
            .await?;
        let mut updated = o.clone();
        updated.target = Some(fresh.clone());
        updated.cloud_id = conn.site.cloud_id.clone();
        self.store.save_override(test_id, &updated).await?;
        Ok(fresh)
    }

    /// Saves the record of a test's issue, trying once more on a passing store failure:
    /// an issue without its record could be duplicated while search lags.
    async fn remember(
        &self,
        test_id: &TestId,
        found: &Found,
        label: &str,
    ) -> Result<(), crate::store::StoreError> {
        let record = record_of(found, label);
        match self.store.save_record(test_id, &record).await {
            Err(e) if e.kind() == StoreErrorKind::Unavailable => {
                self.store.save_record(test_id, &record).await
            }
            other => other,
        }
    }
}

fn draft_for(
    f: &Failure<'_>,
    settings: &SavedSettings,
    test_override: Option<&SavedOverride>,
    target: ResolvedTarget,
    plan: Option<&ResolvedFields>,
) -> IssueDraft {
    let s = &settings.settings;
    let o = test_override.map(|o| &o.test_override);
    let assignee = o.and_then(|o| o.assignee.as_ref()).unwrap_or(&s.assignee);
    let extra: &[String] = o.map_or(&[], |o| &o.labels[..]);
    let test = f.test;
    IssueDraft {
        project_id: target.project_id,
        issue_type_id: target.issue_type_id,
        summary: summary(&test.name, &test.id, test.environment.as_deref()),
        description: adf::failure_doc_with(test, f.message, f.evidence, adf::DESCRIPTION_BUDGET),
        description_in_body: plan.is_none_or(|p| p.description_on_screen),
        fields: plan.map(|p| p.values.clone()).unwrap_or_default(),
        labels: merge_labels([&s.labels[..], extra, std::slice::from_ref(&f.id.label)]),
        assignee: assignee.account_id().map(str::to_owned),
        test_label: f.id.label.clone(),
    }
}

/// Whether Jira refused a create for the length of its description: a field error on
/// `description` that speaks of length ("The entered text is too long. It exceeds the
/// allowed limit of 32,767 characters.").
fn description_too_long(e: &ApiError) -> bool {
    e.status == 400
        && e.errors.get("description").is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("too long") || m.contains("exceed") || m.contains("limit")
        })
}
