//! The create claim: of all the notifiers sharing a store, one creates a test's issue and
//! the others report it. The store is the arbiter ([`ConfigStore::claim_create`]); this is
//! how a notifier takes the claim, waits for a holder, and takes over from a dead one.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::connection::Connection;
use crate::error::Result;
use crate::jira::{Found, JiraClient};
use crate::outcome::IssueRef;
use crate::store::{Claim, ClaimOwner, ConfigStore, IssueRecord, TestId};

use super::search::open_issue;

/// Who asks for the claim, and with what.
pub(crate) struct Claimant<'a> {
    pub store: &'a dyn ConfigStore,
    pub client: &'a JiraClient,
    pub owner: &'a ClaimOwner,
    pub lease: Duration,
}

/// What claiming the create step came to.
pub(crate) enum Claimed {
    /// This notifier holds the claim and nothing is open: create.
    Create,
    /// Another notifier made (or found) the test's issue meanwhile.
    Existing(IssueRef),
    /// The holder this notifier waited for settled the test otherwise (grouped it into a
    /// storm's umbrella, which `settle` answers): nothing to create, no search made.
    Settled(IssueRef),
}

/// Asked, when the claim is granted after waiting for a holder, before searching again:
/// whether the holder settled the test without an issue of its own.
pub(crate) type Settle<'a> = &'a (dyn Fn() -> Pin<Box<dyn Future<Output = Result<Option<IssueRef>>> + Send + 'a>>
         + Send
         + Sync);

impl Claimant<'_> {
    /// Takes the test's create claim. A notifier that finds the claim held waits for the
    /// holder's record and reports that issue; if the holder's lease runs out first (it
    /// died), it takes the claim over and searches again before creating, since the
    /// holder's create may have landed. The lease outlasts Jira's search lag, so that
    /// search sees it.
    ///
    /// `seen` is the record the duplicate check went by: a different one now means
    /// someone recorded an issue since.
    pub(crate) async fn claim(
        &self,
        conn: &Connection,
        test_id: &TestId,
        label: &str,
        seen: Option<IssueRecord>,
    ) -> Result<Claimed> {
        self.claim_settling(conn, test_id, label, seen, None).await
    }

    /// [`claim`](Self::claim), asking `settle` first when the claim is granted after waiting.
    pub(crate) async fn claim_settling(
        &self,
        conn: &Connection,
        test_id: &TestId,
        label: &str,
        seen: Option<IssueRecord>,
        settle: Option<Settle<'_>>,
    ) -> Result<Claimed> {
        let mut waited = false;
        let mut poll = Duration::from_millis(50);
        loop {
            match self
                .store
                .claim_create(test_id, self.owner, self.lease)
                .await?
            {
                Claim::Granted { record } => {
                    if !waited && record == seen {
                        return Ok(Claimed::Create);
                    }
                    if let (true, Some(settle)) = (waited, settle) {
                        if let Some(settled) = settle().await.transpose() {
                            self.store
                                .release_create(test_id, self.owner, None)
                                .await
                                .ok();
                            return settled.map(Claimed::Settled);
                        }
                    }
                    // Someone recorded an issue since the search, or a holder died after
                    // its create may have landed: look again, on current data.
                    let found = match open_issue(self.client, conn, label, record.as_ref()).await {
                        Ok(found) => found,
                        Err(e) => {
                            self.store
                                .release_create(test_id, self.owner, None)
                                .await
                                .ok();
                            return Err(e);
                        }
                    };
                    let Some(found) = found else {
                        return Ok(Claimed::Create);
                    };
                    let newer = record
                        .as_ref()
                        .is_none_or(|r| r.issue_id != found.id || r.issue_key != found.key);
                    let rec = newer.then(|| record_of(&found, label));
                    self.store
                        .release_create(test_id, self.owner, rec.as_ref())
                        .await?;
                    return Ok(Claimed::Existing(issue_ref(conn, &found)));
                }
                Claim::Busy { record, expires_in } => {
                    if let Some(r) = record.filter(|r| Some(r) != seen.as_ref()) {
                        // The holder finished: its issue stands for the test.
                        return Ok(Claimed::Existing(IssueRef::new(
                            r.issue_id,
                            r.issue_key.clone(),
                            conn.site.browse_url(&r.issue_key),
                        )));
                    }
                    waited = true;
                    tokio::time::sleep(poll.min(expires_in + Duration::from_millis(1))).await;
                    poll = (poll * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// The record of an issue found or made for the test carrying `label`.
pub(crate) fn record_of(found: &Found, label: &str) -> IssueRecord {
    IssueRecord::new(found.id.clone(), found.key.clone(), label)
}

/// The host's view of an issue found or made: with the link people open.
pub(crate) fn issue_ref(conn: &Connection, found: &Found) -> IssueRef {
    IssueRef::new(
        found.id.clone(),
        found.key.clone(),
        conn.site.browse_url(&found.key),
    )
}
