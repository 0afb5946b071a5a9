//! An issue's life after the create, as the failure path meets it: counting repeats and
//! posting the coalesced repeat comment, reopening a recently done issue, and the state
//! updates both need. Passes are in `pass.rs`.

use super::report::Failure;
use super::swap::{swap_until, TestCell};
use super::Inner;
use crate::connection::Connection;
use crate::dedupe::{issue_ref, record_of};
use crate::error::{ApiError, Error, Result};
use crate::health::{HealthEvent, Refusal, RefusedAction};
use crate::jira::Done;
use crate::lifecycle::transitions::{choose, Goal};
use crate::lifecycle::{texts, Lifecycle, TestState, Versioned};
use crate::outcome::IssueRef;
use crate::settings::ResolvedTarget;
use crate::store::{StoreError, TestId};

/// What reopening came to.
pub(super) enum Reopen {
    Reopened(IssueRef),
    /// Someone else reopened it, or made a new issue, meanwhile.
    Existing(IssueRef),
}

impl Inner {
    /// Applies `change` to the test's state by compare-and-swap, starting from `state` as
    /// read (and reading again after each lost swap); returns what `change` said on the
    /// swap that won.
    pub(super) async fn update_state<T>(
        &self,
        test_id: &TestId,
        state: Versioned<TestState>,
        change: impl FnMut(&mut TestState) -> T,
    ) -> Result<T, StoreError> {
        Ok(self.swap_test_state(test_id, state, change).await?.0)
    }

    /// [`update_state`](Self::update_state), also answering the state as it now stands.
    pub(super) async fn swap_test_state<T>(
        &self,
        test_id: &TestId,
        state: Versioned<TestState>,
        change: impl FnMut(&mut TestState) -> T,
    ) -> Result<(T, Versioned<TestState>), StoreError> {
        let cell = TestCell {
            store: self.store.as_ref(),
            test: test_id,
        };
        swap_until(&cell, state, change).await
    }

    /// Counts a failure of the test while `issue` is open, and posts the repeat comment
    /// when one is due (policy `on_repeat: comment`). Of several replicas, the one whose
    /// swap took the batch posts it.
    pub(super) async fn count_repeat(
        &self,
        conn: &Connection,
        f: &Failure<'_>,
        issue: &IssueRef,
        policy: &Lifecycle,
        state: Versioned<TestState>,
    ) -> Result<()> {
        let (test_id, message) = (&f.id.key, f.message);
        let now = self.clock.now();
        let batch = self
            .update_state(test_id, state, |s| {
                s.failed(&issue.id, now, message, policy)
            })
            .await?;
        let Some(batch) = batch else {
            return Ok(());
        };
        let doc = texts::repeat_comment(f.test, &batch, f.evidence);
        if let Err(error) = self.client.add_comment(conn, &issue.id, &doc).await {
            // Put the batch back (without this report, which the host reports again), so
            // that the next failure posts it.
            let state = self.store.load_test_state(test_id).await;
            if let Ok(state) = state {
                if let Err(e) = self
                    .update_state(test_id, state, |s| s.put_back(&issue.id, &batch))
                    .await
                {
                    tracing::warn!(error = %e, "could not put a repeat comment's count back");
                }
            }
            return Err(Error::CommentNotAdded {
                issue: issue.clone(),
                error: Box::new(error),
            });
        }
        Ok(())
    }

    /// Starts the life of an issue just made or reopened for the test, when a policy needs
    /// it. A failed write only moves the start of the first comment interval: the issue is
    /// made, so the report stands.
    pub(super) async fn opened(&self, test_id: &TestId, issue_id: &str, policy: &Lifecycle) {
        if !TestState::needed(policy) {
            return;
        }
        let now = self.clock.now();
        let result = match self.store.load_test_state(test_id).await {
            Ok(state) => {
                self.update_state(test_id, state, |s| s.opened(issue_id, now))
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not start the life of a new issue in the store");
        }
    }

    /// Whether the test's last issue, done, should be reopened under the policy.
    pub(super) fn reopens(&self, policy: &Lifecycle, done: &Done) -> bool {
        if policy.reopen_within.is_zero() {
            return false;
        }
        let Some(at) = done.closed.at else {
            return false;
        };
        // A date ahead of this clock (skew) counts as just now.
        self.clock
            .now()
            .duration_since(at)
            .map_or(true, |age| age < policy.reopen_within)
    }

    /// Moves the test's done issue back out of Done and comments the failure, under the
    /// test's create claim (taken by the caller), which it releases.
    pub(super) async fn reopen_claimed(
        &self,
        conn: &Connection,
        f: &Failure<'_>,
        done: &Done,
        policy: &Lifecycle,
        target: &ResolvedTarget,
    ) -> Result<Reopen> {
        let (test_id, label) = (&f.id.key, f.id.label.as_str());
        let result = self.reopen(conn, f, done, policy, target).await;
        let record = match &result {
            Ok(Reopen::Reopened(_)) | Ok(Reopen::Existing(_)) => {
                Some(record_of(&done.found, label))
            }
            _ => None,
        };
        // The record is the same issue; releasing frees the claim for replicas waiting on
        // it, which then find the issue open.
        self.store
            .release_create(test_id, &self.owner, record.as_ref())
            .await
            .ok();
        result
    }

    async fn reopen(
        &self,
        conn: &Connection,
        f: &Failure<'_>,
        done: &Done,
        policy: &Lifecycle,
        target: &ResolvedTarget,
    ) -> Result<Reopen> {
        let test_id = &f.id.key;
        let movable = self.client.movable(conn, &done.found.id).await?;
        let issue = issue_ref(conn, &movable.found);
        if !movable.done {
            return Ok(Reopen::Existing(issue));
        }
        let name = policy.reopen_transition.as_deref();
        let Some(t) = choose(&movable.offered, Goal::Open, name) else {
            let error = Error::TransitionMissing {
                issue: issue.clone(),
                wanted: Goal::Open.wanted(name),
                available: movable.offered.iter().map(|t| t.name.clone()).collect(),
            };
            self.move_refused(&error, test_id, target, RefusedAction::Reopen, &issue)
                .await;
            return Err(error);
        };
        if let Err(e) = self
            .client
            .make_transition(conn, &movable.found.id, &t.id, None)
            .await
        {
            let e = refused_move(e, &issue, "reopen");
            self.move_refused(&e, test_id, target, RefusedAction::Reopen, &issue)
                .await;
            return Err(e);
        }
        self.opened(test_id, &movable.found.id, policy).await;
        let doc = texts::reopen_comment(f.test, f.message, f.evidence);
        if let Err(error) = self.client.add_comment(conn, &movable.found.id, &doc).await {
            return Err(Error::CommentNotAdded {
                issue,
                error: Box::new(error),
            });
        }
        Ok(Reopen::Reopened(issue))
    }

    /// Remembers in the health that Jira (or the workflow) refused to move an issue.
    pub(super) async fn move_refused(
        &self,
        error: &Error,
        test_id: &TestId,
        target: &ResolvedTarget,
        action: RefusedAction,
        issue: &IssueRef,
    ) {
        let (status, field_errors, messages) = match error {
            Error::TransitionRefused { error, .. } => (
                error.status,
                error.errors.clone(),
                error.error_messages.clone(),
            ),
            other => (0, Default::default(), vec![other.to_string()]),
        };
        let refusal = Refusal::now(
            Some(test_id.as_str()),
            &target.project_key,
            &target.issue_type_name,
            status,
            field_errors,
            messages,
        )
        .of_move(action, &issue.key);
        if let Err(e) = self
            .store
            .record_health(&HealthEvent::Refused(refusal))
            .await
        {
            tracing::warn!(error = %e, "could not record a refused move in the health");
        }
    }
}

/// A 4xx that is Jira's final word on a move becomes [`Error::TransitionRefused`]; the
/// rest (throttling, faults) stays as it is, retryable.
pub(super) fn refused_move(e: Error, issue: &IssueRef, action: &str) -> Error {
    match e {
        Error::Api(api) if is_final(&api) => Error::TransitionRefused {
            issue: issue.clone(),
            action: action.to_owned(),
            error: Box::new(api),
        },
        other => other,
    }
}

fn is_final(api: &ApiError) -> bool {
    (400..500).contains(&api.status) && !matches!(api.status, 401 | 408 | 429)
}
