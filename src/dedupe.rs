//! The duplicate check: is an issue for this test still open? And a create that got no
//! clear answer is looked for before it is sent again.
//!
//! Jira's search lags writes by seconds, so the search alone would miss an issue made a
//! moment ago, or still show one closed a moment ago. The notifier remembers the last
//! issue it made per test (in the store) and passes its id in `reconcileIssues`, which
//! Jira evaluates on current data: one request answers both cases.

use std::time::Duration;

use tokio::time::Instant;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::issue::IssueDraft;
use crate::jira::answers::checked_issue_id;
use crate::jira::requests::CREATE_ISSUE;
use crate::jira::{Found, JiraClient};
use crate::lag::{self, KeyHints, Looked};
use crate::store::IssueRecord;

/// The open issue carrying `label`, if any; the recorded one first.
pub(crate) async fn open_issue(
    client: &JiraClient,
    conn: &Connection,
    label: &str,
    record: Option<&IssueRecord>,
) -> Result<Option<Found>> {
    // A stored id that is not a number was not written by this crate: do not send it.
    let reconcile = record.and_then(|r| checked_issue_id("stored record", &r.issue_id).ok());
    match client.find_open(conn, label, reconcile).await {
        Ok(found) => Ok(found.into_iter().next()),
        // Jira can refuse the whole search when the reconciled issue was deleted or moved
        // to another project since (JRACLOUD-93328): every later report of the test would
        // fail for ever. Follow the record by id, on current data, then search without it.
        Err(Error::Api(e)) if reconcile.is_some() && is_client_error(e.status) => {
            let id = reconcile.map(|id| id.to_string()).unwrap_or_default();
            tracing::warn!(
                status = e.status,
                "the search refused the recorded issue; following it by id"
            );
            if let Some(now) = client.issue_now(conn, &id, label).await? {
                if !now.done && now.labelled != Some(false) {
                    return Ok(Some(now.found));
                }
            }
            Ok(client
                .find_open(conn, label, None)
                .await?
                .into_iter()
                .next())
        }
        Err(e) => Err(e),
    }
}

/// A 4xx that says something about the request, not about load or the token (those are
/// retried or renewed before they get here).
fn is_client_error(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 408 | 429)
}

/// Whether an issue found by label after an unclear create can be taken for it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LookBack<'a> {
    /// Yes: the label is the test's, and nothing with it was open before the create. No
    /// second create is sent until a search made at least `bound` after the unclear one
    /// finds nothing (see [`crate::lag`]).
    ByLabel {
        /// How far Jira's search may lag a create.
        bound: Duration,
        /// The keys this notifier has seen, per project: where to read for the create
        /// on current data.
        hints: &'a KeyHints,
    },
    /// No (the test notification: every notification ticket has its label): an unclear
    /// create goes back to the host as a retryable error.
    Never,
}

/// Creates the draft's issue. When the create got no clear answer (a timeout, a reset, a
/// 5xx, a success whose body cannot be read) it may still have landed: look for it by
/// label; send it again, once, only when a search made at least the bound after it found
/// nothing; otherwise answer `Error::CreateUnconfirmed`.
pub(crate) async fn create(
    client: &JiraClient,
    conn: &Connection,
    draft: &IssueDraft,
    look_back: LookBack<'_>,
) -> Result<Found> {
    let noted = |found: Result<Found>| {
        if let (Ok(f), LookBack::ByLabel { hints, .. }) = (&found, look_back) {
            hints.note(&draft.project_id, &f.key);
        }
        found
    };
    // What this notifier knew of the project before the create: where its key will be.
    let after = match look_back {
        LookBack::ByLabel { hints, .. } => hints.latest(&draft.project_id),
        LookBack::Never => None,
    };
    let first = match client.create(conn, draft.create_body()).await {
        Err(e) if is_unclear(&e) => e,
        other => return noted(other),
    };
    let LookBack::ByLabel { bound, .. } = look_back else {
        return Err(first);
    };
    let since = Instant::now();
    let lookback = client.policy().write_lookback();
    tracing::warn!(error = %first, "create got no clear answer; looking for the issue before creating it again");
    match lag::look_for(
        client,
        conn,
        &draft.test_label,
        since,
        bound,
        lookback,
        after,
    )
    .await
    {
        Ok(Looked::Found(found)) => noted(Ok(found)),
        Ok(Looked::Absent) => match client.create(conn, draft.create_body()).await {
            // The second may have landed as well: it waits for its own confirmation.
            Err(e) if is_unclear(&e) => Err(lag::unconfirmed(&e, bound)),
            other => noted(other),
        },
        Ok(Looked::Unsure { retry_after }) => Err(lag::unconfirmed(&first, retry_after)),
        // Cannot look: creating blind could duplicate. The host reports again later.
        Err(_) => Err(lag::unconfirmed(
            &first,
            (since + bound).saturating_duration_since(Instant::now()),
        )),
    }
}

fn is_unclear(e: &Error) -> bool {
    match e {
        Error::Transport { error, .. } => !error.certainly_not_sent(),
        Error::Api(a) => a.status >= 500,
        // A 2xx answer whose body cannot be read (cut short, not JSON, no usable key): the
        // issue most likely exists, but its key is unknown.
        Error::UnexpectedResponse { operation, .. } => *operation == CREATE_ISSUE,
        _ => false,
    }
}
