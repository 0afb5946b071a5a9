//! The storm guard's state: the workspace's recent creates and its umbrella issue. One
//! value per workspace, changed only by compare-and-swap
//! ([`ConfigStore::swap_workspace_state`](crate::ConfigStore::swap_workspace_state)), so
//! that replicas agree on which failures still file their own issue and which join the
//! umbrella, as the create claim makes them agree on each test's issue.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::policy::StormLimit;
use crate::clock::{from_ms, to_ms};
use crate::issue::adf::Doc;
use crate::issue::text::{cut, single_line};

/// How far apart the umbrella's comments are at least.
pub(crate) const UMBRELLA_COMMENT_EVERY: Duration = Duration::from_secs(60);
/// Creates remembered at most: more than any sane limit.
const MAX_CREATES: usize = 1000;
/// Members the state lists with their name, link and error line; past this only their
/// keys are kept, and the umbrella's texts count them.
pub(crate) const MAX_LISTED: usize = 1000;
/// Characters kept of a member's name and first error line.
const NAME_KEPT: usize = 120;
const LINE_KEPT: usize = 160;
const URL_KEPT: usize = 500;

/// A workspace's state between reports: what the storm guard counts. Opaque: a store keeps
/// it as it serialises (JSON), next to its version; see
/// [`ConfigStore::swap_workspace_state`](crate::ConfigStore::swap_workspace_state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkspaceState {
    #[serde(skip_serializing_if = "StormState::is_empty")]
    storm: StormState,
}

impl WorkspaceState {
    pub(crate) fn storm(&self) -> &StormState {
        &self.storm
    }

    pub(crate) fn storm_mut(&mut self) -> &mut StormState {
        &mut self.storm
    }
}

/// The umbrella issue of the current storm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Umbrella {
    pub id: String,
    pub key: String,
}

/// A test grouped into the storm, as the umbrella lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Member {
    /// The test's identity (its id, and its environment when they are told apart).
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The first line of its first error.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub line: String,
    /// When it joined, in ms.
    pub at: u64,
}

impl Member {
    pub(crate) fn new(
        key: &str,
        name: &str,
        url: &str,
        env: Option<&str>,
        message: &str,
        at: SystemTime,
    ) -> Member {
        let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Member {
            key: key.to_owned(),
            name: cut(&single_line(name), NAME_KEPT).to_owned(),
            url: cut(url.trim(), URL_KEPT).to_owned(),
            env: env.map(|e| cut(&single_line(e), NAME_KEPT).to_owned()),
            line: cut(&single_line(first), LINE_KEPT).to_owned(),
            at: to_ms(at),
        }
    }
}

/// The storm guard's part of the workspace state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StormState {
    /// When tests filed their own issue under the guard, in ms, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    created: Vec<u64>,
    /// Creates before this (ms) do not count: the last umbrella was done then.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<u64>,
    /// The current storm's umbrella, once made.
    #[serde(skip_serializing_if = "Option::is_none")]
    umbrella: Option<Umbrella>,
    /// When the current storm began (its first grouped failure), in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<u64>,
    /// The tests grouped in the current storm, in the order they joined (the first
    /// [`MAX_LISTED`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members: Vec<Member>,
    /// Keys of the tests grouped past [`MAX_LISTED`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unlisted: Vec<String>,
    /// How many members the umbrella already shows (its description and comments).
    #[serde(skip_serializing_if = "is_zero")]
    shown: usize,
    /// When the umbrella was made or last commented on, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    posted: Option<u64>,
    /// Tests that filed their own issue in the window the storm began in: the umbrella's
    /// summary counts them with the grouped ones.
    #[serde(skip_serializing_if = "is_zero")]
    filed: usize,
    /// Since when the umbrella's summary counts, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<u64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the guard says about a test that has no open issue and would file one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StormStep {
    /// Below the limit: the test files its own issue. A slot was taken at `at`; give it
    /// back with [`StormState::give_back`] if the create fails.
    Own { at: u64 },
    /// The test is grouped into the storm's umbrella (`None`: not made yet). `joined`:
    /// whether it joined just now (or was a member already).
    Grouped {
        umbrella: Option<Umbrella>,
        joined: bool,
    },
}

/// The members an umbrella comment is due for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct News {
    /// Where they start among the members (to give them back).
    pub from: usize,
    pub members: Vec<Member>,
    /// Members past the listed ones that joined since the last post.
    pub unlisted: usize,
    /// Every member of the storm.
    pub total: usize,
    pub started: SystemTime,
    /// What the umbrella's summary counts now: the grouped tests and those that filed
    /// their own issue in the window the storm began in, failing since then.
    pub failing: usize,
    pub failing_since: SystemTime,
}

impl StormState {
    fn is_empty(&self) -> bool {
        self == &StormState::default()
    }

    pub(crate) fn umbrella(&self) -> Option<&Umbrella> {
        self.umbrella.as_ref()
    }

    /// Every test grouped in the current storm.
    pub(crate) fn total(&self) -> usize {
        self.members.len() + self.unlisted.len()
    }

    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    /// How many tests filed their own issue inside the window the storm began in, and when
    /// the first of them did: with the members, the storm's size when its umbrella is made.
    pub(crate) fn window_before(&self) -> (usize, Option<SystemTime>) {
        (
            self.created.len(),
            self.created.first().map(|&c| from_ms(c)),
        )
    }

    pub(crate) fn started(&self) -> Option<SystemTime> {
        self.started.map(from_ms)
    }

    fn is_member(&self, key: &str) -> bool {
        self.members.iter().any(|m| m.key == key) || self.unlisted.iter().any(|k| k == key)
    }

    /// Decides whether a test with no open issue files its own or joins the storm, and
    /// takes its slot or its place accordingly.
    pub(crate) fn decide(
        &mut self,
        now: SystemTime,
        limit: &StormLimit,
        test: Member,
    ) -> StormStep {
        let at = to_ms(now);
        if self.is_member(&test.key) {
            return StormStep::Grouped {
                umbrella: self.umbrella.clone(),
                joined: false,
            };
        }
        let window = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX);
        let from = at.saturating_sub(window).max(self.since.unwrap_or(0));
        self.created.retain(|&c| c >= from);
        let storming = self.umbrella.is_some() || self.started.is_some();
        if !storming && self.created.len() < limit.issues as usize {
            self.created.push(at);
            if self.created.len() > MAX_CREATES {
                self.created.remove(0);
            }
            return StormStep::Own { at };
        }
        self.started.get_or_insert(at);
        if self.members.len() < MAX_LISTED {
            self.members.push(test);
        } else {
            self.unlisted.push(test.key);
        }
        StormStep::Grouped {
            umbrella: self.umbrella.clone(),
            joined: true,
        }
    }

    /// Gives back the slot of a create that failed.
    pub(crate) fn give_back(&mut self, at: u64) {
        if let Some(i) = self.created.iter().rposition(|&c| c == at) {
            self.created.remove(i);
        }
    }

    /// Takes a test back out of the storm whose umbrella could not be made, so that its
    /// next report tries again.
    pub(crate) fn leave(&mut self, key: &str) {
        self.members.retain(|m| m.key != key);
        self.unlisted.retain(|k| k != key);
        if self.umbrella.is_none() && self.total() == 0 {
            self.started = None;
        }
    }

    /// The umbrella was made, showing the first `shown` members; the umbrella in effect is
    /// the first one named (a second one, which the claim should prevent, never replaces
    /// it, so that a test's reports all name one umbrella).
    pub(crate) fn made(&mut self, umbrella: Umbrella, now: SystemTime, shown: usize) -> Umbrella {
        if let Some(u) = &self.umbrella {
            return u.clone();
        }
        self.umbrella = Some(umbrella.clone());
        self.posted = Some(to_ms(now));
        self.shown = shown.min(self.total());
        umbrella
    }

    /// What the umbrella's summary counted when it was made: `filed` tests with their own
    /// issue in the window, failing since `since`.
    pub(crate) fn headline(&mut self, filed: usize, since: SystemTime) {
        self.filed = filed;
        self.failing_since = Some(to_ms(since));
    }

    /// The umbrella of the storm the test is grouped in, if it is.
    pub(crate) fn grouped_in(&self, key: &str) -> Option<&Umbrella> {
        self.umbrella.as_ref().filter(|_| self.is_member(key))
    }

    /// Takes the members an umbrella comment is due for, if one is: some joined since the
    /// last post, which was at least [`UMBRELLA_COMMENT_EVERY`] ago.
    pub(crate) fn due(&mut self, now: SystemTime) -> Option<News> {
        self.umbrella.as_ref()?;
        let total = self.total();
        if self.shown >= total {
            return None;
        }
        let at = to_ms(now);
        let every = u64::try_from(UMBRELLA_COMMENT_EVERY.as_millis()).unwrap_or(u64::MAX);
        if at.saturating_sub(self.posted.unwrap_or(0)) < every {
            return None;
        }
        let from = self.shown;
        let listed_from = from.min(self.members.len());
        let news = News {
            from,
            members: self.members[listed_from..].to_vec(),
            unlisted: total - from - (self.members.len() - listed_from),
            total,
            started: from_ms(self.started.unwrap_or(at)),
            failing: self.filed + total,
            failing_since: from_ms(self.failing_since.or(self.started).unwrap_or(at)),
        };
        self.shown = total;
        self.posted = Some(at);
        Some(news)
    }

    /// The umbrella's comment due now, if one is ([`StormState::due`]), built to fit Jira's
    /// limit: the members it has no room for stay unshown for the next one (a minute on), so
    /// that every member is listed in the end.
    pub(crate) fn due_comment(&mut self, now: SystemTime) -> Option<(News, Doc)> {
        let news = self.due(now)?;
        let (doc, listed) = super::texts::umbrella_comment_listing(&news);
        if listed < news.members.len() {
            self.shown = self.shown.min(news.from + listed);
        }
        Some((news, doc))
    }

    /// Puts back news whose comment could not be posted.
    pub(crate) fn put_back(&mut self, news: &News) {
        self.shown = self.shown.min(news.from);
        self.posted = None;
    }

    /// The umbrella went to Done at `at`: the storm is over, and the window starts afresh
    /// from then. Tests file their own issues again.
    pub(crate) fn closed(&mut self, umbrella_id: &str, at: SystemTime) {
        if self.umbrella.as_ref().is_some_and(|u| u.id != umbrella_id) {
            return;
        }
        *self = StormState {
            since: Some(to_ms(at)),
            ..StormState::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        from_ms(1_700_000_000_000 + secs * 1000)
    }

    fn test(n: usize, secs: u64) -> Member {
        Member::new(
            &format!("t{n}"),
            &format!("test {n}"),
            "https://ci/x",
            None,
            "boom\nmore",
            at(secs),
        )
    }

    fn limit() -> StormLimit {
        StormLimit::new(3, Duration::from_secs(600))
    }

    #[test]
    fn past_the_limit_failures_join_one_storm_until_its_umbrella_is_done() {
        let mut s = StormState::default();
        for n in 0..3 {
            assert!(matches!(
                s.decide(at(n), &limit(), test(n as usize, n)),
                StormStep::Own { .. }
            ));
        }
        let step = s.decide(at(10), &limit(), test(3, 10));
        assert_eq!(
            step,
            StormStep::Grouped {
                umbrella: None,
                joined: true
            }
        );
        assert_eq!(s.members()[0].line, "boom");
        // A repeat is a member already.
        assert_eq!(
            s.decide(at(11), &limit(), test(3, 11)),
            StormStep::Grouped {
                umbrella: None,
                joined: false
            }
        );
        let u = Umbrella {
            id: "9".into(),
            key: "QA-9".into(),
        };
        s.made(u.clone(), at(12), 1);
        // Long after the window the storm goes on while its umbrella is open.
        assert_eq!(
            s.decide(at(5000), &limit(), test(4, 5000)),
            StormStep::Grouped {
                umbrella: Some(u.clone()),
                joined: true
            }
        );
        s.closed("9", at(6000));
        assert!(s.umbrella().is_none() && s.total() == 0);
        assert!(matches!(
            s.decide(at(6001), &limit(), test(5, 6001)),
            StormStep::Own { .. }
        ));
    }

    #[test]
    fn creates_before_the_window_or_before_the_last_storm_ended_do_not_count() {
        let mut s = StormState::default();
        for n in 0..3 {
            s.decide(at(n), &limit(), test(n as usize, n));
        }
        // 600 s later the first three are out of the window.
        assert!(matches!(
            s.decide(at(700), &limit(), test(9, 700)),
            StormStep::Own { .. }
        ));
        let mut t = StormState::default();
        t.closed("x", at(100));
        for n in 0..3 {
            t.created.push(to_ms(at(50 + n)));
        }
        assert!(matches!(
            t.decide(at(101), &limit(), test(1, 101)),
            StormStep::Own { .. }
        ));
    }

    #[test]
    fn a_failed_create_gives_its_slot_back() {
        let mut s = StormState::default();
        let StormStep::Own { at: slot } = s.decide(at(0), &limit(), test(0, 0)) else {
            panic!("below the limit")
        };
        s.give_back(slot);
        assert!(s.created.is_empty());
    }

    #[test]
    fn comments_are_coalesced_to_one_a_minute_and_put_back_on_failure() {
        let mut s = StormState::default();
        for n in 0..3 {
            s.decide(at(n), &limit(), test(n as usize, n));
        }
        s.decide(at(3), &limit(), test(3, 3));
        s.made(
            Umbrella {
                id: "9".into(),
                key: "QA-9".into(),
            },
            at(4),
            1,
        );
        assert_eq!(s.due(at(100)), None, "nothing new");
        s.decide(at(5), &limit(), test(4, 5));
        s.decide(at(6), &limit(), test(5, 6));
        assert_eq!(s.due(at(30)), None, "within the minute");
        let news = s.due(at(64)).expect("due");
        assert_eq!((news.from, news.members.len(), news.total), (1, 2, 3));
        s.decide(at(65), &limit(), test(6, 65));
        assert_eq!(s.due(at(70)), None);
        s.put_back(&news);
        let again = s.due(at(71)).expect("due again at once");
        assert_eq!((again.from, again.members.len()), (1, 3));
    }

    #[test]
    fn an_umbrella_that_could_not_be_made_lets_its_members_go() {
        let mut s = StormState::default();
        for n in 0..4 {
            s.decide(at(n), &limit(), test(n as usize, n));
        }
        s.leave("t3");
        assert_eq!(s.total(), 0);
        assert!(s.started.is_none());
        assert_eq!(
            serde_json::to_string(&WorkspaceState::default()).unwrap(),
            "{}"
        );
    }
}
