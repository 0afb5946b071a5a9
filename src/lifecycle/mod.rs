//! The life of a test's issue after it is created: repeat comments, recovery on passes,
//! reopening, history and muting. Each is a policy ([`Lifecycle`]) the host switches on;
//! the default is the product page's (one issue, then nothing until it is closed).
//!
//! - `policy.rs`: what the host chooses, globally and per test.
//! - `state.rs`: what the store keeps between reports, changed by compare-and-swap so that
//!   replicas agree on who comments.
//! - `texts.rs`: the comments and the history line, in Atlassian Document Format.
//! - `transitions.rs`: which workflow transition resolves or reopens an issue.
//!
//! The orchestration is in `notifier/pass.rs` (passes) and `notifier/report.rs`
//! (failures).

mod policy;
mod state;
pub(crate) mod texts;
pub(crate) mod transitions;

pub use policy::{Lifecycle, LifecycleOverride, OnPass, OnRepeat, DEFAULT_COMMENT_EVERY};
pub(crate) use state::PassStep;
pub use state::{TestState, Versioned};
