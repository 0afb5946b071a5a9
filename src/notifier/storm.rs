//! The storm guard at work: whether a test with nothing open still files its own issue,
//! the umbrella issue a storm's failures join instead, its coalesced comments, and the end
//! of a storm when someone moves the umbrella to Done.
//!
//! The workspace's state (`noise/storm.rs`) is changed by compare-and-swap in the store,
//! so replicas agree; in one process the swaps of a workspace take turns, so that a storm
//! of concurrent reports does not spin on lost swaps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use super::report::Failure;
use super::swap::{swap_until, WorkspaceCell};
use super::Inner;
use crate::connection::Connection;
use crate::dedupe::{self, Claimed, LookBack};
use crate::error::{Error, Result};
use crate::issue::adf::Doc;
use crate::issue::{merge_labels, IssueDraft};
use crate::lifecycle::Versioned;
use crate::noise::identity::{umbrella_label, UMBRELLA_KEY};
use crate::noise::storm::{Member, News, StormStep, Umbrella, UMBRELLA_COMMENT_EVERY};
use crate::noise::texts;
use crate::noise::{StormLimit, WorkspaceState};
use crate::outcome::IssueRef;
use crate::settings::SavedSettings;
use crate::store::{StoreError, TestId, WorkspaceId};

/// What the storm guard said about a test with nothing open.
pub(super) enum Storm {
    /// File its own issue; the slot is given back if the create fails.
    Own(u64),
    /// The test is in the storm: `joined` now, or a member already (a repeat).
    Grouped { umbrella: IssueRef, joined: bool },
}

/// What the handles of a process share per workspace for the storm guard: turns for the
/// workspace state's swaps, and when the umbrella was last found open (so that handles
/// made per call do not each ask Jira).
#[derive(Debug, Default)]
pub(crate) struct StormDesks {
    map: Mutex<HashMap<WorkspaceId, Arc<Desk>>>,
}

#[derive(Debug, Default)]
struct Desk {
    turn: AsyncMutex<()>,
    /// Held while this process makes (or waits for) the umbrella: the create claim is
    /// granted again to its holder, and every report of a handle holds it as one owner.
    making: AsyncMutex<()>,
    /// The umbrella last checked, and when.
    seen: Mutex<Option<(String, Instant)>>,
}

impl StormDesks {
    fn of(&self, workspace: &WorkspaceId) -> Arc<Desk> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(workspace.clone()).or_default())
    }
}

impl Inner {
    /// Applies `change` to the workspace's state by compare-and-swap, starting from
    /// `state` as read; returns what `change` said on the swap that won.
    pub(super) async fn update_workspace<T>(
        &self,
        state: Versioned<WorkspaceState>,
        change: impl FnMut(&mut WorkspaceState) -> T,
    ) -> Result<T, StoreError> {
        let desk = self.storm_desks.of(&self.workspace);
        let _turn = desk.turn.lock().await;
        let cell = WorkspaceCell {
            store: self.store.as_ref(),
        };
        Ok(swap_until(&cell, state, change).await?.0)
    }

    /// [`update_workspace`](Self::update_workspace) on the state as the store holds it now.
    async fn change_workspace<T>(
        &self,
        change: impl FnMut(&mut WorkspaceState) -> T,
    ) -> Result<T, StoreError> {
        let state = self.store.load_workspace_state().await?;
        self.update_workspace(state, change).await
    }

    /// Decides, under the storm limit, whether the test (which has nothing open and holds
    /// its create claim) files its own issue or joins the storm's umbrella; makes the
    /// umbrella if it is the first to need it, and posts the umbrella's comment when one is
    /// due.
    pub(super) async fn storm_guard(
        &self,
        conn: &Connection,
        settings: &SavedSettings,
        f: &Failure<'_>,
        limit: &StormLimit,
    ) -> Result<Storm> {
        let mut state = self.store.load_workspace_state().await?;
        if let Some(u) = state.value.storm().umbrella().cloned() {
            if let Some(at) = self.umbrella_done(conn, &u).await? {
                self.update_workspace(state, |w| w.storm_mut().closed(&u.id, at))
                    .await?;
                state = self.store.load_workspace_state().await?;
            }
        }
        let now = self.clock.now();
        let test = f.test;
        let member = Member::new(
            f.id.key.as_str(),
            &test.name,
            &test.url,
            test.environment.as_deref(),
            f.message,
            now,
        );
        let (step, news) = self
            .update_workspace(state, |w| {
                let step = w.storm_mut().decide(now, limit, member.clone());
                let news = match &step {
                    StormStep::Grouped {
                        umbrella: Some(_), ..
                    } => w.storm_mut().due_comment(now),
                    _ => None,
                };
                (step, news)
            })
            .await?;
        let (umbrella, joined) = match step {
            StormStep::Own { at } => return Ok(Storm::Own(at)),
            StormStep::Grouped { umbrella, joined } => (umbrella, joined),
        };
        let umbrella = match umbrella {
            Some(u) => u,
            None => match self.make_umbrella(conn, settings, limit).await {
                Ok(u) => u,
                Err(e) => {
                    if joined {
                        // Out of the storm again, so that its next report tries anew.
                        let key = f.id.key.as_str();
                        self.change_workspace(|w| w.storm_mut().leave(key))
                            .await
                            .ok();
                    }
                    return Err(e);
                }
            },
        };
        if let Some((news, doc)) = news {
            self.post_news(conn, &umbrella, news, doc).await;
        }
        Ok(Storm::Grouped {
            umbrella: IssueRef::new(
                umbrella.id.clone(),
                umbrella.key.clone(),
                conn.site.browse_url(&umbrella.key),
            ),
            joined,
        })
    }

    /// Posts the umbrella's coalesced comment on the tests that joined since its last post.
    /// A failure puts them back for the next report to post: the tests are in the storm
    /// either way, so the report stands.
    async fn post_news(&self, conn: &Connection, umbrella: &Umbrella, news: News, doc: Doc) {
        if let Err(error) = self.client.add_comment(conn, &umbrella.id, &doc).await {
            tracing::warn!(%error, umbrella = %umbrella.key, "could not comment on the storm's umbrella issue; the next report tries again");
            self.change_workspace(|w| w.storm_mut().put_back(&news))
                .await
                .ok();
            return;
        }
        // The summary follows the storm's size, with the comment that says it grew. An edit
        // screen without Summary refuses it: the comments still say it.
        let summary = texts::umbrella_summary(news.failing, news.failing_since);
        if let Err(error) = self.client.edit_summary(conn, &umbrella.id, &summary).await {
            tracing::warn!(%error, umbrella = %umbrella.key, "could not bring the storm umbrella's summary up to date");
        }
    }

    /// Gives back the slot of a create that made nothing.
    pub(super) async fn give_back(&self, slot: u64) {
        let result = self
            .change_workspace(|w| w.storm_mut().give_back(slot))
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not give a failed create's slot back to the storm guard");
        }
    }

    /// When the umbrella went to Done (or was deleted), if it did. Asked at most once per
    /// [`UMBRELLA_COMMENT_EVERY`] per workspace in a process: a storm's reports do not each
    /// cost a request.
    async fn umbrella_done(&self, conn: &Connection, u: &Umbrella) -> Result<Option<SystemTime>> {
        let desk = self.storm_desks.of(&self.workspace);
        {
            // Taken before asking, so that the reports arriving while the answer is on its
            // way do not each ask too.
            let mut seen = desk.seen.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((id, at)) = &*seen {
                if *id == u.id && at.elapsed() < UMBRELLA_COMMENT_EVERY {
                    return Ok(None);
                }
            }
            *seen = Some((u.id.clone(), Instant::now()));
        }
        let now = self.client.issue_now(conn, &u.id, "").await?;
        let done = match now {
            None => Some(self.clock.now()),
            Some(c) if c.done => Some(c.closed.at.unwrap_or_else(|| self.clock.now())),
            Some(_) => None,
        };
        Ok(done)
    }

    /// The storm's umbrella issue: made under its own create claim, so that of all the
    /// replicas one makes it and the others wait for it.
    async fn make_umbrella(
        &self,
        conn: &Connection,
        settings: &SavedSettings,
        limit: &StormLimit,
    ) -> Result<Umbrella> {
        let desk = self.storm_desks.of(&self.workspace);
        let _making = desk.making.lock().await;
        // The state names the umbrella once it is made: made meanwhile, here or elsewhere?
        if let Some(u) = self.named_umbrella().await? {
            return Ok(u);
        }
        let key = TestId::new(UMBRELLA_KEY);
        let label = umbrella_label(&settings.settings.label_prefix);
        let record = self.store.load_record(&key).await?;
        let issue = match self.claimant().claim(conn, &key, &label, record).await? {
            Claimed::Existing(issue) | Claimed::Settled(issue) => issue,
            Claimed::Create => {
                // The record may be the last storm's: the state, which a maker names the
                // umbrella in before it releases the claim, says whether this one is made.
                if let Some(u) = self.named_umbrella().await? {
                    self.release(&key).await;
                    return Ok(u);
                }
                return match self
                    .create_umbrella(conn, settings, limit, &key, &label)
                    .await
                {
                    Ok(u) => Ok(u),
                    Err(e) => {
                        if !matches!(e, Error::CreateUnconfirmed { .. }) {
                            self.release(&key).await;
                        }
                        Err(e)
                    }
                };
            }
        };
        // Made by another notifier, which named it in the state before releasing its
        // claim; name it here too in case that notifier died in between.
        let found = Umbrella {
            id: issue.id,
            key: issue.key,
        };
        let now = self.clock.now();
        Ok(self
            .change_workspace(move |w| w.storm_mut().made(found.clone(), now, 0))
            .await?)
    }

    /// The umbrella the workspace's state names, if any.
    async fn named_umbrella(&self) -> Result<Option<Umbrella>> {
        let state = self.store.load_workspace_state().await?;
        Ok(state.value.storm().umbrella().cloned())
    }

    /// The umbrella of the storm the test is already grouped in, if it is and the umbrella
    /// is not done: its repeat is a duplicate of the umbrella, with no claim taken.
    pub(super) async fn grouped_in(
        &self,
        conn: &Connection,
        key: &TestId,
    ) -> Result<Option<IssueRef>> {
        let state = self.store.load_workspace_state().await?;
        let Some(u) = state.value.storm().grouped_in(key.as_str()).cloned() else {
            return Ok(None);
        };
        if let Some(at) = self.umbrella_done(conn, &u).await? {
            self.update_workspace(state, |w| w.storm_mut().closed(&u.id, at))
                .await?;
            return Ok(None);
        }
        // A repeat may be the report that posts what joined since the last comment.
        let now = self.clock.now();
        let news = self
            .update_workspace(state, |w| w.storm_mut().due_comment(now))
            .await?;
        if let Some((news, doc)) = news {
            self.post_news(conn, &u, news, doc).await;
        }
        Ok(Some(IssueRef::new(
            u.id.clone(),
            u.key.clone(),
            conn.site.browse_url(&u.key),
        )))
    }

    /// Creates the umbrella under its claim, names it in the state, records it and
    /// releases the claim.
    async fn create_umbrella(
        &self,
        conn: &Connection,
        settings: &SavedSettings,
        limit: &StormLimit,
        key: &TestId,
        label: &str,
    ) -> Result<Umbrella> {
        let state = self.store.load_workspace_state().await?;
        let storm = state.value.storm();
        let now = self.clock.now();
        let started = storm.started().unwrap_or(now);
        let (members, total) = (storm.members().to_vec(), storm.total());
        // The storm so far: the tests that filed their own issue in the window, and those
        // grouped; since the first of them failed. The summary is not edited afterwards:
        // the comments give the count as it grows.
        let (own, first) = storm.window_before();
        let since = first.map_or(started, |f| f.min(started));
        let (description, listed) =
            texts::umbrella_description_listing(&members, total, own + total, since, limit);
        let target = &settings.target;
        let plan = self.plan(conn, settings, None, target, None).await?;
        let s = &settings.settings;
        let draft = IssueDraft {
            project_id: target.project_id.clone(),
            issue_type_id: target.issue_type_id.clone(),
            summary: texts::umbrella_summary(own + total, since),
            description,
            description_in_body: plan.as_ref().is_none_or(|p| p.description_on_screen),
            fields: plan.map(|p| p.values).unwrap_or_default(),
            labels: merge_labels([&s.labels[..], &[label.to_owned()][..]]),
            assignee: s.assignee.account_id().map(str::to_owned),
            test_label: label.to_owned(),
        };
        let look_back = LookBack::ByLabel {
            bound: self.search_lag_bound,
            hints: &self.key_hints,
        };
        let found = match dedupe::create(&self.client, conn, &draft, look_back).await {
            Ok(found) => found,
            Err(e) => return Err(self.refused(e, None, target).await),
        };
        self.created().await;
        let made = Umbrella {
            id: found.id.clone(),
            key: found.key.clone(),
        };
        // The umbrella in effect: this one, as the claim makes sure.
        let u = self
            .change_workspace(move |w| {
                let u = w.storm_mut().made(made.clone(), now, listed);
                if u == made {
                    w.storm_mut().headline(own, since);
                }
                u
            })
            .await?;
        if !draft.description_in_body {
            if let Err(error) = self
                .client
                .add_comment(conn, &found.id, &draft.description)
                .await
            {
                tracing::warn!(%error, umbrella = %found.key, "could not add the storm's list to its umbrella issue");
            }
        }
        self.record_and_release(conn, key, &found, label).await?;
        Ok(u)
    }
}
