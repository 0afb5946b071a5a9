//! The duplicate check: is an issue for this test still open?
//!
//! Jira's search lags writes by seconds, so the search alone would miss an issue made a
//! moment ago, or still show one closed a moment ago. The notifier remembers the last
//! issue it made per test (in the store) and passes its id in `reconcileIssues`, which
//! Jira evaluates on current data: one request answers both cases.

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::jira::answers::checked_issue_id;
use crate::jira::{Done, Found, JiraClient};
use crate::store::IssueRecord;

/// What the duplicate check saw: the test's open issue (the recorded one first) and, when
/// none is open, the recorded issue if it is done.
#[derive(Debug, Clone, Default)]
pub(crate) struct Look {
    pub open: Option<Found>,
    pub done: Option<Done>,
}

/// The open issue carrying `label`, if any; the recorded one first.
pub(crate) async fn open_issue(
    client: &JiraClient,
    conn: &Connection,
    label: &str,
    record: Option<&IssueRecord>,
) -> Result<Option<Found>> {
    Ok(look(client, conn, label, record).await?.open)
}

/// The test's open issue, or how its recorded issue was closed: one search.
pub(crate) async fn look(
    client: &JiraClient,
    conn: &Connection,
    label: &str,
    record: Option<&IssueRecord>,
) -> Result<Look> {
    // A stored id that is not a number was not written by this crate: do not send it.
    let reconcile = record.and_then(|r| checked_issue_id("stored record", &r.issue_id).ok());
    match client.find_open(conn, label, reconcile).await {
        Ok(found) => Ok(Look {
            open: found.open.into_iter().next(),
            done: found.done,
        }),
        // Jira can refuse the whole search when the reconciled issue was deleted or moved
        // to another project since (JRACLOUD-93328): every later report of the test would
        // fail for ever. Follow the record by id, on current data, then search without it.
        Err(Error::Api(e)) if reconcile.is_some() && is_client_error(e.status) => {
            let id = reconcile.map(|id| id.to_string()).unwrap_or_default();
            tracing::warn!(
                status = e.status,
                "the search refused the recorded issue; following it by id"
            );
            let mut done = None;
            if let Some(now) = client.issue_now(conn, &id, label).await? {
                if now.labelled != Some(false) {
                    if !now.done {
                        return Ok(Look {
                            open: Some(now.found),
                            done: None,
                        });
                    }
                    done = Some(Done {
                        found: now.found,
                        closed: now.closed,
                    });
                }
            }
            let open = client.find_open(conn, label, None).await?.open;
            Ok(Look {
                open: open.into_iter().next(),
                done,
            })
        }
        Err(e) => Err(e),
    }
}

/// A 4xx that says something about the request, not about load or the token (those are
/// retried or renewed before they get here).
fn is_client_error(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 408 | 429)
}
