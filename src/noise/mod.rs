//! Noise control: a threshold of failures per test, the storm guard per workspace, and
//! environments as part of a test's identity.

pub(crate) mod identity;
mod policy;
pub(crate) mod storm;
pub(crate) mod texts;

pub use self::policy::{Noise, NoiseOverride, StormLimit, StormLimitError};
pub use self::storm::WorkspaceState;
