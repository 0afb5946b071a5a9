//! A create that got no clear answer (a timeout, a reset, a 5xx, a success whose body
//! cannot be read) may still have landed: it is looked for before it is sent again.
//!
//! Index lag beyond seconds: such a create is confirmed or ruled out
//! by search, and search may lag writes "from a few seconds to minutes" (Atlassian's
//! "Search and reconcile"). So no second create is sent for a test until a search made at
//! least a bound after the unclear create (default: the create lease, 2 minutes) has found
//! nothing. Until then the report answers `Error::CreateUnconfirmed` (retryable), and the
//! test's create claim stays held, so that other replicas wait instead of creating.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::issue::IssueDraft;
use crate::jira::requests::CREATE_ISSUE;
use crate::jira::{Found, JiraClient};

/// What looking for an unclear create came to.
#[derive(Debug)]
pub(crate) enum Looked {
    /// Search shows it: it landed.
    Found(Found),
    /// A search made at least the bound after the create found nothing: it did not land.
    Absent,
    /// Search does not show it yet, and may still be behind: ask again after this long.
    Unsure { retry_after: Duration },
}

/// Looks for the open issue carrying `label` after a create sent before `since` got no
/// clear answer: in place for `lookback` at most (a few seconds covers Jira's usual lag),
/// backing off from half a second.
///
/// Search alone may miss it for minutes. When the highest key this notifier has seen in
/// the project is known (`after`), the keys after it are read too, by key, on current data
/// (`GET /issue/{key}`): Jira gives keys within a project in order, so an issue made since
/// has one of them. That can only confirm the create; ruling it out stays with search.
pub(crate) async fn look_for(
    client: &JiraClient,
    conn: &Connection,
    label: &str,
    since: Instant,
    bound: Duration,
    lookback: Duration,
    after: Option<(String, u64)>,
) -> Result<Looked> {
    let sure_at = since + bound;
    let deadline = since + lookback;
    let mut wait = Duration::from_millis(500);
    let mut next = after.map(|(project, n)| (project, n + 1));
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(wait.min(deadline - now)).await;
        if let Some((project, n)) = next.as_mut() {
            if let Some(found) = probe(client, conn, label, project, n).await? {
                return Ok(Looked::Found(found));
            }
        }
        let searched_at = Instant::now();
        if let Some(found) = client
            .find_open(conn, label, None)
            .await?
            .open
            .into_iter()
            .next()
        {
            return Ok(Looked::Found(found));
        }
        if searched_at >= sure_at {
            return Ok(Looked::Absent);
        }
        wait *= 2;
    }
    Ok(Looked::Unsure {
        retry_after: sure_at.saturating_duration_since(Instant::now()),
    })
}

/// The most keys read in one look: a project busy enough to have made more since is left
/// to search.
const PROBES: u64 = 10;

/// Reads keys `project-n`, `project-n+1`, ... until one does not exist yet; the test's open
/// issue among them, if any. `n` moves past the keys read, so that the next look goes on
/// from there.
async fn probe(
    client: &JiraClient,
    conn: &Connection,
    label: &str,
    project: &str,
    n: &mut u64,
) -> Result<Option<Found>> {
    for _ in 0..PROBES {
        let key = format!("{project}-{n}");
        let Some(now) = client.issue_now(conn, &key, label).await? else {
            // Not made yet (or deleted): nothing later exists either, for now.
            return Ok(None);
        };
        if now.labelled == Some(true) && !now.done {
            return Ok(Some(now.found));
        }
        *n += 1;
    }
    Ok(None)
}

/// The highest issue key this notifier has seen per project (by project id): where an
/// issue made next in the project gets its key.
#[derive(Debug, Default)]
pub(crate) struct KeyHints {
    map: Mutex<HashMap<String, (String, u64)>>,
}

impl KeyHints {
    /// Notes an issue key (`QA-12`) seen in the project with this id.
    pub(crate) fn note(&self, project_id: &str, key: &str) {
        let Some((project, n)) = key
            .rsplit_once('-')
            .and_then(|(p, n)| Some((p, n.parse::<u64>().ok()?)))
        else {
            return;
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map
            .entry(project_id.to_owned())
            .or_insert_with(|| (project.to_owned(), 0));
        // A project's key can change: the latest seen wins, with its own numbers.
        if e.0 != project {
            *e = (project.to_owned(), n);
        } else if n > e.1 {
            e.1 = n;
        }
    }

    /// The project's key and the highest number seen in it.
    pub(crate) fn latest(&self, project_id: &str) -> Option<(String, u64)> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(project_id).cloned()
    }
}

/// The `Error::CreateUnconfirmed` for an unclear create, to be confirmed after `retry_after`.
pub(crate) fn unconfirmed(cause: &Error, retry_after: Duration) -> Error {
    Error::CreateUnconfirmed {
        cause: cause.to_string(),
        retry_after,
    }
}

/// The unclear creates of this notifier still waiting for a search to confirm or rule
/// them out, by test id: when each got its unclear answer, and what that answer was.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: Mutex<HashMap<String, (Instant, String)>>,
}

impl Pending {
    /// Remembers that the test's create got no clear answer at `since`.
    pub(crate) fn note(&self, test_id: &str, since: Instant, cause: String, bound: Duration) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // Entries of tests never reported again would stay: once twice the bound has
        // passed they decide nothing any more (any later search is past the bound).
        if map.len() >= 64 && map.len().is_power_of_two() {
            let now = Instant::now();
            map.retain(|_, (at, _)| now.saturating_duration_since(*at) < bound * 2);
        }
        map.insert(test_id.to_owned(), (since, cause));
    }

    /// When the test's pending create got its unclear answer, and what it was.
    pub(crate) fn get(&self, test_id: &str) -> Option<(Instant, String)> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(test_id).cloned()
    }

    /// Forgets the test's pending create: confirmed, or ruled out.
    pub(crate) fn clear(&self, test_id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(test_id);
    }
}
/// Whether an issue found by label after an unclear create can be taken for it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LookBack<'a> {
    /// Yes: the label is the test's, and nothing with it was open before the create. No
    /// second create is sent until a search made at least `bound` after the unclear one
    /// finds nothing (see this module).
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
    match look_for(
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
            Err(e) if is_unclear(&e) => Err(unconfirmed(&e, bound)),
            other => noted(other),
        },
        Ok(Looked::Unsure { retry_after }) => Err(unconfirmed(&first, retry_after)),
        // Cannot look: creating blind could duplicate. The host reports again later.
        Err(_) => Err(unconfirmed(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hints_keep_the_highest_key_per_project() {
        let hints = KeyHints::default();
        assert_eq!(hints.latest("10000"), None);
        hints.note("10000", "QA-9");
        hints.note("10000", "QA-10");
        hints.note("10000", "QA-2");
        hints.note("10001", "OPS-1");
        hints.note("10000", "not a key");
        assert_eq!(hints.latest("10000"), Some(("QA".into(), 10)));
        // The project's key changed: its numbers start over.
        hints.note("10000", "QB-3");
        assert_eq!(hints.latest("10000"), Some(("QB".into(), 3)));
        assert_eq!(hints.latest("10001"), Some(("OPS".into(), 1)));
    }

    #[tokio::test(start_paused = true)]
    async fn pending_creates_are_kept_until_settled() {
        let pending = Pending::default();
        let at = Instant::now();
        pending.note("t", at, "timeout".into(), Duration::from_secs(120));
        assert_eq!(pending.get("t"), Some((at, "timeout".to_owned())));
        pending.clear("t");
        assert_eq!(pending.get("t"), None);
    }
}
