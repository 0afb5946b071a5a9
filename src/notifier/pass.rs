//! A test passes: the recovery policies (`on_pass`). A pass with no failing streak to act
//! on, or with the default policy, costs no Jira request.

use super::configure::check_test_id;
use super::life::refused_move;
use super::JiraNotifier;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::health::RefusedAction;
use crate::lifecycle::transitions::{choose, resolution_for, Goal};
use crate::lifecycle::{texts, Lifecycle, OnPass, PassStep};
use crate::noise::identity::Identity;
use crate::outcome::{IssueRef, Outcome, TestInfo};
use crate::settings::{lifecycle_for, noise_for, ResolvedTarget};
use crate::store::{IssueRecord, TestId};

impl JiraNotifier {
    /// Acts on a test's pass, as its [`Lifecycle::on_pass`] policy says (also reached by
    /// [`on_test_error`](Self::on_test_error) with [`TestStatus::Passed`](crate::TestStatus::Passed)):
    ///
    /// - `nothing` (the default): [`Outcome::Ignored`], without a request.
    /// - `comment`: the first pass after a failing streak comments on the test's open
    ///   issue ("passing again since …, after N failures"): [`Outcome::Commented`]. Two
    ///   requests (the issue's status, the comment).
    /// - `resolve`: passes in a row are counted ([`Outcome::Passing`], no request) until
    ///   [`Lifecycle::passes_to_resolve`]; then the issue moves to a status in the Done
    ///   category, with the comment: [`Outcome::Resolved`]. Three requests (the issue with
    ///   its transitions, the transition, the comment), four when the transition has a
    ///   screen (its fields are read to fill a required resolution).
    ///
    /// A pass with no recorded issue, or whose streak was acted on already, is
    /// [`Outcome::Ignored`] without a request; so is a pass whose issue a person closed
    /// meanwhile (after the one request that finds it closed).
    ///
    /// A workflow with no transition to Done is [`Error::TransitionMissing`] and a refused
    /// transition [`Error::TransitionRefused`]: both final, and shown by
    /// [`health`](Self::health). Any error means the pass did not take effect: report it
    /// again to retry.
    pub async fn on_test_pass(&self, test: &TestInfo) -> Result<Outcome> {
        let test_id = check_test_id(&test.id)?;
        let ctx = self.inner.store.load_test_context(&test_id).await?;
        let Some(conn) = ctx.connection else {
            return Ok(Outcome::NotConnected);
        };
        let settings = match ctx.settings {
            Some(s) if s.cloud_id == conn.site.cloud_id => s,
            _ => return Ok(Outcome::NotConfigured),
        };
        if ctx
            .test_override
            .as_ref()
            .is_some_and(|o| !o.test_override.enabled)
        {
            return Ok(Outcome::Disabled);
        }
        let policy = lifecycle_for(&settings, ctx.test_override.as_ref());
        let noise = noise_for(&settings, ctx.test_override.as_ref());
        let id = Identity::of(test, &noise, &settings.settings.label_prefix);
        let (test_id, record, state) = if id.split {
            let record = self.inner.store.load_record(&id.key).await?;
            let state = self.inner.store.load_test_state(&id.key).await?;
            (id.key.clone(), record, state)
        } else {
            (test_id, ctx.record, ctx.state)
        };
        // A pass starts the failure threshold's count again (policy `min_failures`).
        let counted = state.value.streak() > 0;
        let record = match record {
            Some(r) if policy.on_pass != OnPass::Nothing => r,
            _ => {
                if counted {
                    self.inner
                        .update_state(&test_id, state, |s| s.reset_streak())
                        .await?;
                }
                return Ok(Outcome::Ignored);
            }
        };
        let now = self.inner.clock.now();
        let step = self
            .inner
            .update_state(&test_id, state, |s| {
                s.reset_streak();
                s.passed(now, &policy)
            })
            .await?;
        let issue = IssueRef::new(
            record.issue_id.clone(),
            record.issue_key.clone(),
            conn.site.browse_url(&record.issue_key),
        );
        let (failures, since) = match step {
            PassStep::Nothing => return Ok(Outcome::Ignored),
            PassStep::Counting { passes, needed } => {
                return Ok(Outcome::Passing {
                    passes,
                    needed,
                    issue,
                })
            }
            PassStep::Act { failures, since } => (failures, since),
        };
        let doc = texts::recovery_comment(test, failures, since);
        let acted = match policy.on_pass {
            OnPass::Resolve => {
                let target = settings.target.clone();
                self.resolve(&conn, &test_id, &record, &issue, &policy, &target)
                    .await
            }
            _ => self.still_open(&conn, &record).await,
        };
        let open = match acted {
            Ok(open) => open,
            Err(e) => {
                self.unpass(&test_id).await;
                return Err(e);
            }
        };
        if !open {
            // A person closed it meanwhile: nothing left to do for this streak.
            return Ok(Outcome::Ignored);
        }
        let commented = self.inner.client.add_comment(&conn, &issue.id, &doc).await;
        match (policy.on_pass, commented) {
            (OnPass::Resolve, Ok(())) => Ok(Outcome::Resolved(issue)),
            (OnPass::Resolve, Err(error)) => {
                // Resolved: the comment only says why. Reporting the pass again would
                // find the streak acted on, so the failure is logged, not returned.
                tracing::warn!(%error, issue = %issue.key, "resolved the issue but could not comment why");
                Ok(Outcome::Resolved(issue))
            }
            (_, Ok(())) => Ok(Outcome::Commented(issue)),
            (_, Err(error)) => {
                self.unpass(&test_id).await;
                Err(Error::CommentNotAdded {
                    issue,
                    error: Box::new(error),
                })
            }
        }
    }

    /// Whether the recorded issue is still open and the test's (one request).
    async fn still_open(&self, conn: &Connection, record: &IssueRecord) -> Result<bool> {
        let now = self
            .inner
            .client
            .issue_now(conn, &record.issue_id, &record.label)
            .await?;
        Ok(now.is_some_and(|n| !n.done && n.labelled != Some(false)))
    }

    /// Moves the open issue to a status in the Done category; `false` when it is closed
    /// already.
    async fn resolve(
        &self,
        conn: &Connection,
        test_id: &TestId,
        record: &IssueRecord,
        issue: &IssueRef,
        policy: &Lifecycle,
        target: &ResolvedTarget,
    ) -> Result<bool> {
        let movable = match self.inner.client.movable(conn, &record.issue_id).await {
            Ok(m) => m,
            Err(Error::Api(e)) if e.status == 404 => return Ok(false),
            Err(e) => return Err(e),
        };
        if movable.done {
            return Ok(false);
        }
        let name = policy.resolve_transition.as_deref();
        let refuse = |error: Error| async move {
            self.inner
                .move_refused(&error, test_id, target, RefusedAction::Resolve, issue)
                .await;
            error
        };
        let Some(t) = choose(&movable.offered, Goal::Done, name) else {
            return Err(refuse(Error::TransitionMissing {
                issue: issue.clone(),
                wanted: Goal::Done.wanted(name),
                available: movable.offered.iter().map(|t| t.name.clone()).collect(),
            })
            .await);
        };
        let t = if t.has_screen && t.resolution.is_none() {
            self.inner
                .client
                .with_screen(conn, &record.issue_id, t)
                .await?
        } else {
            t.clone()
        };
        let resolution = match resolution_for(&t, policy.resolution.as_deref()) {
            Ok(r) => r,
            Err(allowed) => {
                return Err(refuse(Error::ResolutionNotAllowed {
                    issue: issue.clone(),
                    resolution: policy.resolution.clone().unwrap_or_default(),
                    allowed,
                })
                .await)
            }
        };
        if let Err(e) = self
            .inner
            .client
            .make_transition(conn, &record.issue_id, &t.id, resolution.as_deref())
            .await
        {
            let e = refused_move(e, issue, "resolve");
            if matches!(e, Error::TransitionRefused { .. }) {
                return Err(refuse(e).await);
            }
            return Err(e);
        }
        Ok(true)
    }

    /// Undoes a pass whose action failed, so that reporting it again acts again.
    async fn unpass(&self, test_id: &TestId) {
        let result = match self.inner.store.load_test_state(test_id).await {
            Ok(state) => {
                self.inner
                    .update_state(test_id, state, |s| s.unpass())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not undo a pass whose action failed");
        }
    }
}
