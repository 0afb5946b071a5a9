//! What the host chooses against noise: [`Noise`] in the settings, [`NoiseOverride`] per
//! test. Every default is the product page's behaviour: each failing test files its own
//! issue at its first failure.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many new issues a workspace files in a window before the storm guard groups further
/// failures into one umbrella issue (policy [`Noise::storm_limit`]).
///
/// Written `N/SECONDS` (e.g. `10/600`: ten issues per ten minutes), which is what
/// [`FromStr`] reads and [`Display`](fmt::Display) writes.
///
/// ```
/// # use jira_notifier::StormLimit;
/// # use std::time::Duration;
/// let limit: StormLimit = "10/600".parse().unwrap();
/// assert_eq!(limit, StormLimit::new(10, Duration::from_secs(600)));
/// assert_eq!(limit.to_string(), "10/600");
/// assert!("0/600".parse::<StormLimit>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StormLimit {
    /// New issues filed one by one inside the window before the guard trips.
    pub issues: u32,
    /// The window, sliding, in whole seconds.
    #[serde(with = "crate::clock::secs")]
    pub window: Duration,
}

impl StormLimit {
    /// `issues` new issues per `window`.
    pub const fn new(issues: u32, window: Duration) -> Self {
        StormLimit { issues, window }
    }

    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.issues == 0 {
            p.push("storm_limit must allow at least 1 issue".to_owned());
        }
        if self.window.as_secs() == 0 {
            p.push("storm_limit's window must be at least one second".to_owned());
        }
        p
    }
}

impl fmt::Display for StormLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.issues, self.window.as_secs())
    }
}

/// Why a text is not a [`StormLimit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: a storm limit is written N/SECONDS with both at least 1, e.g. 10/600")]
pub struct StormLimitError(String);

impl FromStr for StormLimit {
    type Err = StormLimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || StormLimitError(format!("{s:?}"));
        let (n, secs) = s.trim().split_once('/').ok_or_else(bad)?;
        let issues: u32 = n.trim().parse().map_err(|_| bad())?;
        let secs: u64 = secs.trim().parse().map_err(|_| bad())?;
        let limit = StormLimit::new(issues, Duration::from_secs(secs));
        if limit.problems().is_empty() {
            Ok(limit)
        } else {
            Err(bad())
        }
    }
}

/// Noise control: how many failures file an issue, what a storm of failures across the
/// workspace does, and whether environments are told apart. Part of
/// [`Settings`](crate::Settings); a test's [`TestOverride`](crate::TestOverride) may
/// change any part of it.
///
/// The default files an issue at a test's first failure, every test on its own, one issue
/// per test whatever the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Noise {
    /// Failures in a row before a test files an issue (default 1). Below it a report
    /// answers [`Outcome::Counted`](crate::Outcome::Counted) and costs no Jira request; a
    /// pass starts the count again. Counted in the store, exact across replicas.
    pub min_failures: u32,
    /// The storm guard (default off): once this many issues were filed for tests inside
    /// the window, further new failures join one umbrella issue for the storm
    /// ([`Outcome::Grouped`](crate::Outcome::Grouped)) until someone moves it to Done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm_limit: Option<StormLimit>,
    /// Whether a test failing in two environments ([`TestInfo::environment`](crate::TestInfo::environment))
    /// gets two issues (default `false`: one issue per test).
    pub split_by_environment: bool,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            min_failures: 1,
            storm_limit: None,
            split_by_environment: false,
        }
    }
}

impl Noise {
    /// Sets how many failures in a row file an issue.
    pub fn with_min_failures(mut self, n: u32) -> Self {
        self.min_failures = n;
        self
    }

    /// Turns the storm guard on (`Some`) or off (`None`).
    pub fn with_storm_limit(mut self, limit: Option<StormLimit>) -> Self {
        self.storm_limit = limit;
        self
    }

    /// Sets whether environments are told apart.
    pub fn with_split_by_environment(mut self, split: bool) -> Self {
        self.split_by_environment = split;
        self
    }

    /// This policy with a test's changes on top.
    pub fn with_override(&self, o: &NoiseOverride) -> Noise {
        let mut n = self.clone();
        if let Some(v) = o.min_failures {
            n.min_failures = v;
        }
        if let Some(v) = o.storm_limit {
            n.storm_limit = v;
        }
        if let Some(v) = o.split_by_environment {
            n.split_by_environment = v;
        }
        n
    }

    /// What is wrong with the policy, if anything: the settings screen shows it and
    /// nothing is saved.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.min_failures == 0 {
            p.push("min_failures must be at least 1".to_owned());
        }
        if let Some(l) = &self.storm_limit {
            p.extend(l.problems());
        }
        p
    }
}

/// A test's changes to the global [`Noise`]: each `Some` replaces the global value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NoiseOverride {
    /// See [`Noise::min_failures`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_failures: Option<u32>,
    /// See [`Noise::storm_limit`]: `Some(None)` keeps this test out of the storm guard (it
    /// always files its own issue), `Some(Some(limit))` holds it to its own limit, counted
    /// on the workspace's issues.
    #[serde(skip_serializing_if = "Option::is_none", with = "storm_opt", default)]
    pub storm_limit: Option<Option<StormLimit>>,
    /// See [`Noise::split_by_environment`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_by_environment: Option<bool>,
}

impl NoiseOverride {
    /// Whether the override changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &NoiseOverride::default()
    }

    /// Sets how many failures in a row file an issue for the test.
    pub fn with_min_failures(mut self, n: u32) -> Self {
        self.min_failures = Some(n);
        self
    }

    /// Sets the test's storm limit (`None`: the test is never grouped).
    pub fn with_storm_limit(mut self, limit: Option<StormLimit>) -> Self {
        self.storm_limit = Some(limit);
        self
    }

    /// Sets whether the test's environments are told apart.
    pub fn with_split_by_environment(mut self, split: bool) -> Self {
        self.split_by_environment = Some(split);
        self
    }
}

/// `Option<Option<StormLimit>>` as JSON: absent (inherit), `null` (off), or a limit.
mod storm_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::StormLimit;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<Option<StormLimit>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(Some(l)) => s.serialize_some(l),
            _ => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<StormLimit>>, D::Error> {
        Ok(Some(Option::<StormLimit>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_can_keep_a_test_out_of_the_storm_guard() {
        let global = Noise::default().with_storm_limit(Some("5/60".parse().unwrap()));
        let exempt = NoiseOverride::default().with_storm_limit(None);
        assert_eq!(global.with_override(&exempt).storm_limit, None);
        assert_eq!(global.with_override(&NoiseOverride::default()), global);
        let json = serde_json::to_string(&exempt).unwrap();
        assert_eq!(json, r#"{"storm_limit":null}"#);
        let back: NoiseOverride = serde_json::from_str(&json).unwrap();
        assert_eq!(back, exempt);
        let inherit: NoiseOverride = serde_json::from_str("{}").unwrap();
        assert!(inherit.is_empty());
    }

    #[test]
    fn limits_parse_and_nonsense_is_named() {
        for bad in ["", "10", "x/60", "10/0", "0/60", "10/-1", "-1/60"] {
            assert!(bad.parse::<StormLimit>().is_err(), "{bad}");
        }
        assert_eq!(
            " 3 / 30 ".parse::<StormLimit>().unwrap(),
            StormLimit::new(3, Duration::from_secs(30))
        );
        let n = Noise::default().with_min_failures(0);
        assert_eq!(n.problems(), ["min_failures must be at least 1"]);
        assert!(Noise::default().problems().is_empty());
        let stored = serde_json::to_value(
            Noise::default().with_storm_limit(Some(StormLimit::new(10, Duration::from_secs(600)))),
        )
        .unwrap();
        assert_eq!(
            stored["storm_limit"],
            serde_json::json!({"issues": 10, "window": 600})
        );
    }
}
