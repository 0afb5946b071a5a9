//! Duplicate prevention, all of it: what stands between a failing test and a second open
//! issue, in the order a report meets it.
//!
//! 1. [`flight`]: reports of one test in one process go one at a time; those that waited
//!    get the first one's issue without asking Jira.
//! 2. [`search`]: the duplicate check, one search by the test's label with the last
//!    recorded issue reconciled on current data (search lags writes).
//! 3. [`claim`]: the store's create claim, so that of several replicas one creates and the
//!    others report its issue; a dead holder is taken over after a search.
//! 4. [`unclear`]: a create that got no clear answer is looked for, and sent again only
//!    once a search made long enough after it (Jira's index lag) has found nothing.
//!
//! `notifier/report.rs` orchestrates these steps; it decides nothing about duplicates.
//!
//! Three types describe an issue, each for a reason: `jira::Found` is what Jira answered
//! (id and key, no site: the calls that read it do not know the site's URL);
//! [`IssueRef`](crate::IssueRef) is what the host gets (with the link people open);
//! [`IssueRecord`](crate::IssueRecord) is what the store keeps per test (with the label it
//! was made under, which the check searches by).

pub(crate) mod claim;
pub(crate) mod flight;
pub(crate) mod search;
pub(crate) mod unclear;

pub(crate) use self::claim::{issue_ref, record_of, Claimant, Claimed, Settle};
pub(crate) use self::search::look;
pub(crate) use self::unclear::{create, LookBack};
