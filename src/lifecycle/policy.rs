//! What the host chooses for an issue's life after it is created: [`Lifecycle`] in the
//! settings, [`LifecycleOverride`] per test. Every default is the product page's
//! behaviour: one issue, then nothing until someone closes it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long comments on an issue are apart at least, by default: one hour.
pub const DEFAULT_COMMENT_EVERY: Duration = Duration::from_secs(3600);

/// What a failure does to the test's open issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnRepeat {
    /// Nothing: the failure is a duplicate (one search, no write).
    #[default]
    Nothing,
    /// A comment covering every failure since the create (or the last comment), at most
    /// one per [`Lifecycle::comment_every`].
    Comment,
}

/// What a pass does to the test's open issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnPass {
    /// Nothing, and no request.
    #[default]
    Nothing,
    /// One comment, "passing again since …, after N failures", once per failing streak.
    Comment,
    /// After [`Lifecycle::passes_to_resolve`] passes in a row, moves the issue to a status
    /// in the Done category, with that comment.
    Resolve,
}

/// The life of a test's issue after it is created: repeats, recovery, reopening and
/// muting. Part of [`Settings`](crate::Settings); a test's
/// [`TestOverride`](crate::TestOverride) may change any part of it.
///
/// The default does what the product page says: nothing after the create, and a new issue
/// for a failure after the last one is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Lifecycle {
    /// What a failure does while the test's issue is open.
    pub on_repeat: OnRepeat,
    /// With [`OnRepeat::Comment`], how far apart comments are at least, counting from the
    /// create (default one hour).
    #[serde(with = "crate::clock::secs")]
    pub comment_every: Duration,
    /// What a pass does to the test's open issue.
    pub on_pass: OnPass,
    /// With [`OnPass::Resolve`], how many passes in a row resolve the issue (default 1).
    pub passes_to_resolve: u32,
    /// The transition that resolves the issue, by name; by default the first one whose
    /// target status is in the Done category.
    pub resolve_transition: Option<String>,
    /// The resolution set when the resolving transition's screen asks for one, by name; by
    /// default the first Jira allows.
    pub resolution: Option<String>,
    /// When the test's last issue went to Done less than this long ago, a new failure
    /// reopens it instead of filing a new one. Zero (the default) turns reopening off.
    #[serde(with = "crate::clock::secs")]
    pub reopen_within: Duration,
    /// The transition that reopens the issue, by name; by default the first one whose
    /// target status is outside the Done category.
    pub reopen_transition: Option<String>,
    /// Resolutions that mute the test (e.g. `Won't Do`): while its last issue has one of
    /// them, failures create nothing. Compared without regard to case.
    pub mute_resolutions: Vec<String>,
    /// Whether a repeat failure's files are attached to the open issue too (default
    /// `false`: only the failure that files the issue attaches its files).
    #[serde(skip_serializing_if = "is_false")]
    pub attach_on_repeat: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            on_repeat: OnRepeat::Nothing,
            comment_every: DEFAULT_COMMENT_EVERY,
            on_pass: OnPass::Nothing,
            passes_to_resolve: 1,
            resolve_transition: None,
            resolution: None,
            reopen_within: Duration::ZERO,
            reopen_transition: None,
            mute_resolutions: Vec::new(),
            attach_on_repeat: false,
        }
    }
}

impl Lifecycle {
    /// Sets what a failure does while the issue is open.
    pub fn with_on_repeat(mut self, on_repeat: OnRepeat) -> Self {
        self.on_repeat = on_repeat;
        self
    }

    /// Sets how far apart repeat comments are at least.
    pub fn with_comment_every(mut self, every: Duration) -> Self {
        self.comment_every = every;
        self
    }

    /// Sets what a pass does.
    pub fn with_on_pass(mut self, on_pass: OnPass) -> Self {
        self.on_pass = on_pass;
        self
    }

    /// Sets how many passes in a row resolve the issue.
    pub fn with_passes_to_resolve(mut self, passes: u32) -> Self {
        self.passes_to_resolve = passes;
        self
    }

    /// Names the transition that resolves the issue.
    pub fn with_resolve_transition(mut self, name: impl Into<String>) -> Self {
        self.resolve_transition = Some(name.into());
        self
    }

    /// Names the resolution set when resolving.
    pub fn with_resolution(mut self, name: impl Into<String>) -> Self {
        self.resolution = Some(name.into());
        self
    }

    /// Reopens an issue done less than this long ago (zero: never).
    pub fn with_reopen_within(mut self, within: Duration) -> Self {
        self.reopen_within = within;
        self
    }

    /// Names the transition that reopens the issue.
    pub fn with_reopen_transition(mut self, name: impl Into<String>) -> Self {
        self.reopen_transition = Some(name.into());
        self
    }

    /// Sets the resolutions that mute a test.
    pub fn with_mute_resolutions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mute_resolutions = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets whether repeat failures attach their files.
    pub fn with_attach_on_repeat(mut self, attach: bool) -> Self {
        self.attach_on_repeat = attach;
        self
    }

    /// This policy with a test's changes on top.
    pub fn with_override(&self, o: &LifecycleOverride) -> Lifecycle {
        let mut l = self.clone();
        if let Some(v) = o.on_repeat {
            l.on_repeat = v;
        }
        if let Some(v) = o.comment_every {
            l.comment_every = v;
        }
        if let Some(v) = o.on_pass {
            l.on_pass = v;
        }
        if let Some(v) = o.passes_to_resolve {
            l.passes_to_resolve = v;
        }
        if let Some(v) = &o.resolve_transition {
            l.resolve_transition = Some(v.clone());
        }
        if let Some(v) = &o.resolution {
            l.resolution = Some(v.clone());
        }
        if let Some(v) = o.reopen_within {
            l.reopen_within = v;
        }
        if let Some(v) = &o.reopen_transition {
            l.reopen_transition = Some(v.clone());
        }
        if let Some(v) = &o.mute_resolutions {
            l.mute_resolutions = v.clone();
        }
        if let Some(v) = o.attach_on_repeat {
            l.attach_on_repeat = v;
        }
        l
    }

    /// Whether a resolution mutes the test.
    pub(crate) fn mutes(&self, resolution: &str) -> bool {
        self.mute_resolutions
            .iter()
            .any(|m| m.trim().eq_ignore_ascii_case(resolution.trim()))
    }

    /// What is wrong with the policy, if anything: the settings screen shows it and
    /// nothing is saved.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.comment_every.is_zero() {
            p.push("comment_every must be at least one second".to_owned());
        }
        if self.passes_to_resolve == 0 {
            p.push("passes_to_resolve must be at least 1".to_owned());
        }
        for (what, name) in [
            ("resolve_transition", &self.resolve_transition),
            ("resolution", &self.resolution),
            ("reopen_transition", &self.reopen_transition),
        ] {
            if name.as_ref().is_some_and(|n| n.trim().is_empty()) {
                p.push(format!("{what} must not be empty (leave it unset instead)"));
            }
        }
        if self.mute_resolutions.iter().any(|m| m.trim().is_empty()) {
            p.push("mute_resolutions must not hold an empty name".to_owned());
        }
        p
    }
}

/// A test's changes to the global [`Lifecycle`]: each `Some` replaces the global value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LifecycleOverride {
    /// See [`Lifecycle::on_repeat`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_repeat: Option<OnRepeat>,
    /// See [`Lifecycle::comment_every`].
    #[serde(skip_serializing_if = "Option::is_none", with = "secs_opt")]
    pub comment_every: Option<Duration>,
    /// See [`Lifecycle::on_pass`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_pass: Option<OnPass>,
    /// See [`Lifecycle::passes_to_resolve`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passes_to_resolve: Option<u32>,
    /// See [`Lifecycle::resolve_transition`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_transition: Option<String>,
    /// See [`Lifecycle::resolution`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// See [`Lifecycle::reopen_within`] (zero turns reopening off for the test).
    #[serde(skip_serializing_if = "Option::is_none", with = "secs_opt")]
    pub reopen_within: Option<Duration>,
    /// See [`Lifecycle::reopen_transition`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopen_transition: Option<String>,
    /// See [`Lifecycle::mute_resolutions`] (empty turns muting off for the test).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute_resolutions: Option<Vec<String>>,
    /// See [`Lifecycle::attach_on_repeat`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_on_repeat: Option<bool>,
}

impl LifecycleOverride {
    /// Whether the override changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &LifecycleOverride::default()
    }

    /// Sets what a failure does while the issue is open.
    pub fn with_on_repeat(mut self, v: OnRepeat) -> Self {
        self.on_repeat = Some(v);
        self
    }

    /// Sets how far apart repeat comments are at least.
    pub fn with_comment_every(mut self, v: Duration) -> Self {
        self.comment_every = Some(v);
        self
    }

    /// Sets what a pass does.
    pub fn with_on_pass(mut self, v: OnPass) -> Self {
        self.on_pass = Some(v);
        self
    }

    /// Sets how many passes in a row resolve the issue.
    pub fn with_passes_to_resolve(mut self, v: u32) -> Self {
        self.passes_to_resolve = Some(v);
        self
    }

    /// Names the transition that resolves the issue.
    pub fn with_resolve_transition(mut self, v: impl Into<String>) -> Self {
        self.resolve_transition = Some(v.into());
        self
    }

    /// Names the resolution set when resolving.
    pub fn with_resolution(mut self, v: impl Into<String>) -> Self {
        self.resolution = Some(v.into());
        self
    }

    /// Reopens an issue done less than this long ago (zero: never, for this test).
    pub fn with_reopen_within(mut self, v: Duration) -> Self {
        self.reopen_within = Some(v);
        self
    }

    /// Names the transition that reopens the issue.
    pub fn with_reopen_transition(mut self, v: impl Into<String>) -> Self {
        self.reopen_transition = Some(v.into());
        self
    }

    /// Sets the resolutions that mute the test (empty: none, for this test).
    pub fn with_mute_resolutions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mute_resolutions = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

impl LifecycleOverride {
    /// Sets whether the test's repeat failures attach their files.
    pub fn with_attach_on_repeat(mut self, v: bool) -> Self {
        self.attach_on_repeat = Some(v);
        self
    }
}

mod secs_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_replaces_only_what_it_sets() {
        let global = Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_mute_resolutions(["Won't Do"]);
        let o = LifecycleOverride {
            on_pass: Some(OnPass::Resolve),
            mute_resolutions: Some(Vec::new()),
            ..LifecycleOverride::default()
        };
        let l = global.with_override(&o);
        assert_eq!(l.on_repeat, OnRepeat::Comment);
        assert_eq!(l.on_pass, OnPass::Resolve);
        assert!(l.mute_resolutions.is_empty());
        assert_eq!(l.comment_every, DEFAULT_COMMENT_EVERY);
    }

    #[test]
    fn stored_as_seconds_and_missing_members_read_as_defaults() {
        let l = Lifecycle::default().with_reopen_within(Duration::from_secs(86_400));
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["reopen_within"], 86_400);
        assert_eq!(v["comment_every"], 3600);
        let back: Lifecycle = serde_json::from_str(r#"{"on_pass":"resolve"}"#).unwrap();
        assert_eq!(back.on_pass, OnPass::Resolve);
        assert_eq!(back.passes_to_resolve, 1);
        let o: LifecycleOverride = serde_json::from_str(r#"{"comment_every":60}"#).unwrap();
        assert_eq!(o.comment_every, Some(Duration::from_secs(60)));
        assert_eq!(
            serde_json::to_string(&LifecycleOverride::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn muting_compares_names_without_case() {
        let l = Lifecycle::default().with_mute_resolutions(["Won't Do", "Duplicate"]);
        assert!(l.mutes("won't do"));
        assert!(!l.mutes("Done"));
    }

    #[test]
    fn nonsense_is_named() {
        let l = Lifecycle::default()
            .with_comment_every(Duration::ZERO)
            .with_passes_to_resolve(0)
            .with_resolution(" ");
        assert_eq!(l.problems().len(), 3);
        assert!(Lifecycle::default().problems().is_empty());
    }
}
