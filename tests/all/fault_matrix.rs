//! The fault matrix: every call the crate makes, under every fault the network and Jira
//! can produce, ends in success or a typed error, in bounded time, without a panic; and
//! no failure report creates two issues, or none while saying it did.
//!
//! Each row runs one host operation on a fresh notifier (its own token cache and gate)
//! whose two Atlassian hosts are a [`FaultServer`]: it forwards requests to a stateful
//! mock Jira ([`mount_jira`]) and plays the row's fault on the target call's requests,
//! either the first one (`Once`) or all of them (`Always`). The row states, in order,
//! the calls the hosts saw, how the operation ends, and how many issues Jira created.
//!
//! The flows, without faults (`tok` is the token request):
//!
//! | Call | Host operation | Calls |
//! |---|---|---|
//! | `Token`, `Sites` | `connect` | `tok sites` |
//! | `ProjectList` | `projects` | `tok plist` |
//! | `ProjectLookup`, `Permissions`, `IssueTypes`, `CreateFields` | `save_settings` | `tok proj perms types fields` |
//! | `AssignableUsers` | `assignable_users` (ten windows, to Jira's 1,000th candidate) | `tok users` and nine `users` more |
//! | `Search`, `Create` | `on_test_error` | `tok search create` |
//!
//! Faults marked "after commit" in [`Fault::after_commit`] reach Jira before the answer
//! goes wrong, so a create under them has landed and must be found, not made again.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jira_notifier::{
    ConfigStore, Error, JiraNotifier, Outcome, ReqwestTransport, RetryPolicy, Settings,
    TransportErrorKind,
};
use tokio::sync::Semaphore;

use crate::support::Call::*;
use crate::support::Fault::*;
use crate::support::Times::*;
use crate::support::*;

/// How an operation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// It succeeds (and its result is checked).
    Done,
    /// A typed error for which `is_retryable()` is true.
    Retry(Kind),
    /// A typed error for which `is_retryable()` is false.
    Final(Kind),
}
use Ends::*;

/// Which typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `Error::Transport` of kind `Timeout`.
    Timeout,
    /// `Error::Transport` of kind `Connect`.
    Connect,
    /// `Error::Transport` of kind `Other` (a reset, a body cut short).
    Broken,
    /// `Error::Transport` of kind `BodyTooLarge`.
    TooLarge,
    /// `Error::Api` with this status.
    Api(u16),
    /// `Error::UnexpectedResponse`.
    Unreadable,
    /// `Error::CredentialsRejected` with this status.
    Rejected(u16),
    /// `Error::CreateUnconfirmed`: a create that may have landed, not confirmed by search.
    Unconfirmed,
}
use Kind::*;

#[derive(Debug, Clone, Copy)]
struct Row {
    call: Call,
    fault: Fault,
    times: Times,
    /// The calls the hosts saw, in order.
    trace: &'static str,
    ends: Ends,
    /// How many issues Jira created.
    landed: usize,
}

const fn row(
    call: Call,
    fault: Fault,
    times: Times,
    trace: &'static str,
    ends: Ends,
    landed: usize,
) -> Row {
    Row {
        call,
        fault,
        times,
        trace,
        ends,
        landed,
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} / {:?} / {:?}", self.call, self.fault, self.times)
    }
}

/// The nine windows of the assignee search after its first (`AssignableUsers` rows).
macro_rules! nine_windows {
    () => {
        " users users users users users users users users users"
    };
}

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // call          fault           times   the hosts saw, in order                 ends                   landed
    // --- token request: `connect` -------------------------------------------------------------------------
    row(Token,       NoAnswer,       Always, "tok tok tok",                          Retry(Timeout),        0),
    row(Token,       Refused,        Always, "",                                     Retry(Connect),        0),
    row(Token,       ResetMidBody,   Always, "tok tok tok",                          Retry(Broken),         0),
    row(Token,       ShortBody,      Always, "tok tok tok",                          Retry(Broken),         0),
    row(Token,       E500,           Always, "tok tok tok",                          Retry(Api(500)),       0),
    row(Token,       E502,           Always, "tok tok tok",                          Retry(Api(502)),       0),
    row(Token,       E503,           Always, "tok tok tok",                          Retry(Api(503)),       0),
    row(Token,       E503RetryAfter, Always, "tok tok tok",                          Retry(Api(503)),       0),
    row(Token,       E429RetryAfter, Always, "tok tok tok",                          Retry(Api(429)),       0),
    row(Token,       E429RetryDate,  Always, "tok tok tok",                          Retry(Api(429)),       0),
    row(Token,       HtmlPage,       Always, "tok tok tok",                          Retry(Api(503)),       0),
    row(Token,       WrongType,      Always, "tok",                                  Final(Unreadable),     0),
    row(Token,       Malformed,      Always, "tok",                                  Final(Unreadable),     0),
    row(Token,       Truncated,      Always, "tok",                                  Final(Unreadable),     0),
    row(Token,       E401,           Always, "tok",                                  Final(Rejected(401)),  0),
    row(Token,       E403,           Always, "tok",                                  Final(Rejected(403)),  0),
    row(Token,       Redirect,       Always, "tok",                                  Final(Api(302)),       0),
    row(Token,       Endless,        Always, "tok tok tok",                          Retry(TooLarge),       0),
    row(Token,       Huge,           Always, "tok tok tok",                          Retry(TooLarge),       0),
    row(Token,       NoAnswer,       Once,   "tok tok sites",                        Done,                  0),
    row(Token,       ResetMidBody,   Once,   "tok tok sites",                        Done,                  0),
    row(Token,       ShortBody,      Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E500,           Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E502,           Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E503,           Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E503RetryAfter, Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E429RetryAfter, Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E429RetryDate,  Once,   "tok tok sites",                        Done,                  0),
    row(Token,       HtmlPage,       Once,   "tok tok sites",                        Done,                  0),
    row(Token,       E401,           Once,   "tok",                                  Final(Rejected(401)),  0),
    row(Token,       Endless,        Once,   "tok tok sites",                        Done,                  0),
    row(Token,       Huge,           Once,   "tok tok sites",                        Done,                  0),
    // --- site discovery: `connect` ------------------------------------------------------------------------
    row(Sites,       NoAnswer,       Always, "tok sites sites sites",                Retry(Timeout),        0),
    row(Sites,       Refused,        Always, "tok",                                  Retry(Connect),        0),
    row(Sites,       ResetMidBody,   Always, "tok sites sites sites",                Retry(Broken),         0),
    row(Sites,       ShortBody,      Always, "tok sites sites sites",                Retry(Broken),         0),
    row(Sites,       E500,           Always, "tok sites sites sites",                Retry(Api(500)),       0),
    row(Sites,       E502,           Always, "tok sites sites sites",                Retry(Api(502)),       0),
    row(Sites,       E503,           Always, "tok sites sites sites",                Retry(Api(503)),       0),
    row(Sites,       E503RetryAfter, Always, "tok sites sites sites",                Retry(Api(503)),       0),
    row(Sites,       E429RetryAfter, Always, "tok sites sites sites",                Retry(Api(429)),       0),
    row(Sites,       E429RetryDate,  Always, "tok sites sites sites",                Retry(Api(429)),       0),
    row(Sites,       HtmlPage,       Always, "tok sites sites sites",                Retry(Api(503)),       0),
    row(Sites,       WrongType,      Always, "tok sites",                            Final(Unreadable),     0),
    row(Sites,       Malformed,      Always, "tok sites",                            Final(Unreadable),     0),
    row(Sites,       Truncated,      Always, "tok sites",                            Final(Unreadable),     0),
    row(Sites,       E401,           Always, "tok sites tok sites",                  Final(Api(401)),       0),
    row(Sites,       E403,           Always, "tok sites",                            Final(Api(403)),       0),
    row(Sites,       Redirect,       Always, "tok sites",                            Final(Api(302)),       0),
    row(Sites,       Endless,        Always, "tok sites sites sites",                Retry(TooLarge),       0),
    row(Sites,       Huge,           Always, "tok sites sites sites",                Retry(TooLarge),       0),
    row(Sites,       NoAnswer,       Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       ResetMidBody,   Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       ShortBody,      Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E500,           Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E502,           Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E503,           Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E503RetryAfter, Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E429RetryAfter, Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E429RetryDate,  Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       HtmlPage,       Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       E401,           Once,   "tok sites tok sites",                  Done,                  0),
    row(Sites,       Endless,        Once,   "tok sites sites",                      Done,                  0),
    row(Sites,       Huge,           Once,   "tok sites sites",                      Done,                  0),
    // --- project list: `projects` -------------------------------------------------------------------------
    row(ProjectList, NoAnswer,       Always, "tok plist plist plist",                Retry(Timeout),        0),
    row(ProjectList, Refused,        Always, "tok",                                  Retry(Connect),        0),
    row(ProjectList, ResetMidBody,   Always, "tok plist plist plist",                Retry(Broken),         0),
    row(ProjectList, ShortBody,      Always, "tok plist plist plist",                Retry(Broken),         0),
    row(ProjectList, E500,           Always, "tok plist plist plist",                Retry(Api(500)),       0),
    row(ProjectList, E502,           Always, "tok plist plist plist",                Retry(Api(502)),       0),
    row(ProjectList, E503,           Always, "tok plist plist plist",                Retry(Api(503)),       0),
    row(ProjectList, E503RetryAfter, Always, "tok plist plist plist",                Retry(Api(503)),       0),
    row(ProjectList, E429RetryAfter, Always, "tok plist plist plist",                Retry(Api(429)),       0),
    row(ProjectList, E429RetryDate,  Always, "tok plist plist plist",                Retry(Api(429)),       0),
    row(ProjectList, HtmlPage,       Always, "tok plist plist plist",                Retry(Api(503)),       0),
    row(ProjectList, WrongType,      Always, "tok plist",                            Final(Unreadable),     0),
    row(ProjectList, Malformed,      Always, "tok plist",                            Final(Unreadable),     0),
    row(ProjectList, Truncated,      Always, "tok plist",                            Final(Unreadable),     0),
    row(ProjectList, E401,           Always, "tok plist tok plist",                  Final(Api(401)),       0),
    row(ProjectList, E403,           Always, "tok plist",                            Final(Api(403)),       0),
    row(ProjectList, Redirect,       Always, "tok plist",                            Final(Api(302)),       0),
    row(ProjectList, Endless,        Always, "tok plist plist plist",                Retry(TooLarge),       0),
    row(ProjectList, Huge,           Always, "tok plist plist plist",                Retry(TooLarge),       0),
    row(ProjectList, NoAnswer,       Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, ResetMidBody,   Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, ShortBody,      Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E500,           Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E502,           Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E503,           Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E503RetryAfter, Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E429RetryAfter, Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E429RetryDate,  Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, HtmlPage,       Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, E401,           Once,   "tok plist tok plist",                  Done,                  0),
    row(ProjectList, Endless,        Once,   "tok plist plist",                      Done,                  0),
    row(ProjectList, Huge,           Once,   "tok plist plist",                      Done,                  0),
    // --- project lookup: `save_settings` ------------------------------------------------------------------
    row(ProjectLookup, NoAnswer,       Always, "tok proj proj proj",                 Retry(Timeout),        0),
    row(ProjectLookup, Refused,        Always, "tok",                                Retry(Connect),        0),
    row(ProjectLookup, ResetMidBody,   Always, "tok proj proj proj",                 Retry(Broken),         0),
    row(ProjectLookup, ShortBody,      Always, "tok proj proj proj",                 Retry(Broken),         0),
    row(ProjectLookup, E500,           Always, "tok proj proj proj",                 Retry(Api(500)),       0),
    row(ProjectLookup, E502,           Always, "tok proj proj proj",                 Retry(Api(502)),       0),
    row(ProjectLookup, E503,           Always, "tok proj proj proj",                 Retry(Api(503)),       0),
    row(ProjectLookup, E503RetryAfter, Always, "tok proj proj proj",                 Retry(Api(503)),       0),
    row(ProjectLookup, E429RetryAfter, Always, "tok proj proj proj",                 Retry(Api(429)),       0),
    row(ProjectLookup, E429RetryDate,  Always, "tok proj proj proj",                 Retry(Api(429)),       0),
    row(ProjectLookup, HtmlPage,       Always, "tok proj proj proj",                 Retry(Api(503)),       0),
    row(ProjectLookup, WrongType,      Always, "tok proj",                           Final(Unreadable),     0),
    row(ProjectLookup, Malformed,      Always, "tok proj",                           Final(Unreadable),     0),
    row(ProjectLookup, Truncated,      Always, "tok proj",                           Final(Unreadable),     0),
    row(ProjectLookup, E401,           Always, "tok proj tok proj",                  Final(Api(401)),       0),
    row(ProjectLookup, E403,           Always, "tok proj",                           Final(Api(403)),       0),
    row(ProjectLookup, Redirect,       Always, "tok proj",                           Final(Api(302)),       0),
    row(ProjectLookup, Endless,        Always, "tok proj proj proj",                 Retry(TooLarge),       0),
    row(ProjectLookup, Huge,           Always, "tok proj proj proj",                 Retry(TooLarge),       0),
    row(ProjectLookup, NoAnswer,       Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, ResetMidBody,   Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, ShortBody,      Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E500,           Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E502,           Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E503,           Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E503RetryAfter, Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E429RetryAfter, Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E429RetryDate,  Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, HtmlPage,       Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, E401,           Once,   "tok proj tok proj perms types fields", Done,                  0),
    row(ProjectLookup, Endless,        Once,   "tok proj proj perms types fields",   Done,                  0),
    row(ProjectLookup, Huge,           Once,   "tok proj proj perms types fields",   Done,                  0),
    // --- issue types: `save_settings` ---------------------------------------------------------------------
    row(IssueTypes,  NoAnswer,       Always, "tok proj perms types types types",     Retry(Timeout),        0),
    row(IssueTypes,  Refused,        Always, "tok proj perms",                       Retry(Connect),        0),
    row(IssueTypes,  ResetMidBody,   Always, "tok proj perms types types types",     Retry(Broken),         0),
    row(IssueTypes,  ShortBody,      Always, "tok proj perms types types types",     Retry(Broken),         0),
    row(IssueTypes,  E500,           Always, "tok proj perms types types types",     Retry(Api(500)),       0),
    row(IssueTypes,  E502,           Always, "tok proj perms types types types",     Retry(Api(502)),       0),
    row(IssueTypes,  E503,           Always, "tok proj perms types types types",     Retry(Api(503)),       0),
    row(IssueTypes,  E503RetryAfter, Always, "tok proj perms types types types",     Retry(Api(503)),       0),
    row(IssueTypes,  E429RetryAfter, Always, "tok proj perms types types types",     Retry(Api(429)),       0),
    row(IssueTypes,  E429RetryDate,  Always, "tok proj perms types types types",     Retry(Api(429)),       0),
    row(IssueTypes,  HtmlPage,       Always, "tok proj perms types types types",     Retry(Api(503)),       0),
    row(IssueTypes,  WrongType,      Always, "tok proj perms types",                 Final(Unreadable),     0),
    row(IssueTypes,  Malformed,      Always, "tok proj perms types",                 Final(Unreadable),     0),
    row(IssueTypes,  Truncated,      Always, "tok proj perms types",                 Final(Unreadable),     0),
    row(IssueTypes,  E401,           Always, "tok proj perms types tok types",       Final(Api(401)),       0),
    row(IssueTypes,  E403,           Always, "tok proj perms types",                 Final(Api(403)),       0),
    row(IssueTypes,  Redirect,       Always, "tok proj perms types",                 Final(Api(302)),       0),
    row(IssueTypes,  Endless,        Always, "tok proj perms types types types",     Retry(TooLarge),       0),
    row(IssueTypes,  Huge,           Always, "tok proj perms types types types",     Retry(TooLarge),       0),
    row(IssueTypes,  NoAnswer,       Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  ResetMidBody,   Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  ShortBody,      Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E500,           Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E502,           Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E503,           Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E503RetryAfter, Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E429RetryAfter, Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E429RetryDate,  Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  HtmlPage,       Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  E401,           Once,   "tok proj perms types tok types fields", Done,                  0),
    row(IssueTypes,  Endless,        Once,   "tok proj perms types types fields",    Done,                  0),
    row(IssueTypes,  Huge,           Once,   "tok proj perms types types fields",    Done,                  0),
    // --- the permission check: `save_settings` --------------------------------------------------------------
    row(Permissions, NoAnswer,        Always,  "tok proj perms perms perms",                    Retry(Timeout),         0),
    row(Permissions, Refused,         Always,  "tok proj",                                      Retry(Connect),         0),
    row(Permissions, ResetMidBody,    Always,  "tok proj perms perms perms",                    Retry(Broken),          0),
    row(Permissions, ShortBody,       Always,  "tok proj perms perms perms",                    Retry(Broken),          0),
    row(Permissions, E500,            Always,  "tok proj perms perms perms",                    Retry(Api(500)),        0),
    row(Permissions, E502,            Always,  "tok proj perms perms perms",                    Retry(Api(502)),        0),
    row(Permissions, E503,            Always,  "tok proj perms perms perms",                    Retry(Api(503)),        0),
    row(Permissions, E503RetryAfter,  Always,  "tok proj perms perms perms",                    Retry(Api(503)),        0),
    row(Permissions, E429RetryAfter,  Always,  "tok proj perms perms perms",                    Retry(Api(429)),        0),
    row(Permissions, E429RetryDate,   Always,  "tok proj perms perms perms",                    Retry(Api(429)),        0),
    row(Permissions, HtmlPage,        Always,  "tok proj perms perms perms",                    Retry(Api(503)),        0),
    row(Permissions, WrongType,       Always,  "tok proj perms",                                Final(Unreadable),      0),
    row(Permissions, Malformed,       Always,  "tok proj perms",                                Final(Unreadable),      0),
    row(Permissions, Truncated,       Always,  "tok proj perms",                                Final(Unreadable),      0),
    row(Permissions, E401,            Always,  "tok proj perms tok perms",                      Final(Api(401)),        0),
    row(Permissions, E403,            Always,  "tok proj perms",                                Final(Api(403)),        0),
    row(Permissions, Redirect,        Always,  "tok proj perms",                                Final(Api(302)),        0),
    row(Permissions, Endless,         Always,  "tok proj perms perms perms",                    Retry(TooLarge),        0),
    row(Permissions, Huge,            Always,  "tok proj perms perms perms",                    Retry(TooLarge),        0),
    row(Permissions, NoAnswer,        Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, ResetMidBody,    Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, ShortBody,       Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E500,            Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E502,            Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E503,            Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E503RetryAfter,  Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E429RetryAfter,  Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E429RetryDate,   Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, HtmlPage,        Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, E401,            Once,    "tok proj perms tok perms types fields",         Done,                   0),
    row(Permissions, Endless,         Once,    "tok proj perms perms types fields",             Done,                   0),
    row(Permissions, Huge,            Once,    "tok proj perms perms types fields",             Done,                   0),
    // --- the create screen: `save_settings` -------------------------------------------------------------------
    row(CreateFields, NoAnswer,        Always,  "tok proj perms types fields fields fields",     Retry(Timeout),         0),
    row(CreateFields, Refused,         Always,  "tok proj perms types",                          Retry(Connect),         0),
    row(CreateFields, ResetMidBody,    Always,  "tok proj perms types fields fields fields",     Retry(Broken),          0),
    row(CreateFields, ShortBody,       Always,  "tok proj perms types fields fields fields",     Retry(Broken),          0),
    row(CreateFields, E500,            Always,  "tok proj perms types fields fields fields",     Retry(Api(500)),        0),
    row(CreateFields, E502,            Always,  "tok proj perms types fields fields fields",     Retry(Api(502)),        0),
    row(CreateFields, E503,            Always,  "tok proj perms types fields fields fields",     Retry(Api(503)),        0),
    row(CreateFields, E503RetryAfter,  Always,  "tok proj perms types fields fields fields",     Retry(Api(503)),        0),
    row(CreateFields, E429RetryAfter,  Always,  "tok proj perms types fields fields fields",     Retry(Api(429)),        0),
    row(CreateFields, E429RetryDate,   Always,  "tok proj perms types fields fields fields",     Retry(Api(429)),        0),
    row(CreateFields, HtmlPage,        Always,  "tok proj perms types fields fields fields",     Retry(Api(503)),        0),
    row(CreateFields, WrongType,       Always,  "tok proj perms types fields",                   Final(Unreadable),      0),
    row(CreateFields, Malformed,       Always,  "tok proj perms types fields",                   Final(Unreadable),      0),
    row(CreateFields, Truncated,       Always,  "tok proj perms types fields",                   Final(Unreadable),      0),
    row(CreateFields, E401,            Always,  "tok proj perms types fields tok fields",        Final(Api(401)),        0),
    row(CreateFields, E403,            Always,  "tok proj perms types fields",                   Final(Api(403)),        0),
    row(CreateFields, Redirect,        Always,  "tok proj perms types fields",                   Final(Api(302)),        0),
    row(CreateFields, Endless,         Always,  "tok proj perms types fields fields fields",     Retry(TooLarge),        0),
    row(CreateFields, Huge,            Always,  "tok proj perms types fields fields fields",     Retry(TooLarge),        0),
    row(CreateFields, NoAnswer,        Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, ResetMidBody,    Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, ShortBody,       Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E500,            Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E502,            Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E503,            Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E503RetryAfter,  Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E429RetryAfter,  Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E429RetryDate,   Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, HtmlPage,        Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, E401,            Once,    "tok proj perms types fields tok fields",        Done,                   0),
    row(CreateFields, Endless,         Once,    "tok proj perms types fields fields",            Done,                   0),
    row(CreateFields, Huge,            Once,    "tok proj perms types fields fields",            Done,                   0),
    // --- assignable users: `assignable_users` (a full page, then an empty one) ----------------------------
    row(AssignableUsers, NoAnswer,       Always, "tok users users users",            Retry(Timeout),        0),
    row(AssignableUsers, Refused,        Always, "tok",                              Retry(Connect),        0),
    row(AssignableUsers, ResetMidBody,   Always, "tok users users users",            Retry(Broken),         0),
    row(AssignableUsers, ShortBody,      Always, "tok users users users",            Retry(Broken),         0),
    row(AssignableUsers, E500,           Always, "tok users users users",            Retry(Api(500)),       0),
    row(AssignableUsers, E502,           Always, "tok users users users",            Retry(Api(502)),       0),
    row(AssignableUsers, E503,           Always, "tok users users users",            Retry(Api(503)),       0),
    row(AssignableUsers, E503RetryAfter, Always, "tok users users users",            Retry(Api(503)),       0),
    row(AssignableUsers, E429RetryAfter, Always, "tok users users users",            Retry(Api(429)),       0),
    row(AssignableUsers, E429RetryDate,  Always, "tok users users users",            Retry(Api(429)),       0),
    row(AssignableUsers, HtmlPage,       Always, "tok users users users",            Retry(Api(503)),       0),
    row(AssignableUsers, WrongType,      Always, "tok users",                        Final(Unreadable),     0),
    row(AssignableUsers, Malformed,      Always, "tok users",                        Final(Unreadable),     0),
    row(AssignableUsers, Truncated,      Always, "tok users",                        Final(Unreadable),     0),
    row(AssignableUsers, E401,           Always, "tok users tok users",              Final(Api(401)),       0),
    row(AssignableUsers, E403,           Always, "tok users",                        Final(Api(403)),       0),
    row(AssignableUsers, Redirect,       Always, "tok users",                        Final(Api(302)),       0),
    row(AssignableUsers, Endless,        Always, "tok users users users",            Retry(TooLarge),       0),
    row(AssignableUsers, Huge,           Always, "tok users users users",            Retry(TooLarge),       0),
    row(AssignableUsers, NoAnswer,       Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, ResetMidBody,   Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, ShortBody,      Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E500,           Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E502,           Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E503,           Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E503RetryAfter, Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E429RetryAfter, Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E429RetryDate,  Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, HtmlPage,       Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, E401,           Once,   concat!("tok users tok users", nine_windows!()), Done,                  0),
    row(AssignableUsers, Endless,        Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    row(AssignableUsers, Huge,           Once,   concat!("tok users users", nine_windows!()), Done,                  0),
    // --- the duplicate check: `on_test_error` -------------------------------------------------------------
    row(Search,      NoAnswer,       Always, "tok search search search",             Retry(Timeout),        0),
    row(Search,      Refused,        Always, "tok",                                  Retry(Connect),        0),
    row(Search,      ResetMidBody,   Always, "tok search search search",             Retry(Broken),         0),
    row(Search,      ShortBody,      Always, "tok search search search",             Retry(Broken),         0),
    row(Search,      E500,           Always, "tok search search search",             Retry(Api(500)),       0),
    row(Search,      E502,           Always, "tok search search search",             Retry(Api(502)),       0),
    row(Search,      E503,           Always, "tok search search search",             Retry(Api(503)),       0),
    row(Search,      E503RetryAfter, Always, "tok search search search",             Retry(Api(503)),       0),
    row(Search,      E429RetryAfter, Always, "tok search search search",             Retry(Api(429)),       0),
    row(Search,      E429RetryDate,  Always, "tok search search search",             Retry(Api(429)),       0),
    row(Search,      HtmlPage,       Always, "tok search search search",             Retry(Api(503)),       0),
    row(Search,      WrongType,      Always, "tok search",                           Final(Unreadable),     0),
    row(Search,      Malformed,      Always, "tok search",                           Final(Unreadable),     0),
    row(Search,      Truncated,      Always, "tok search",                           Final(Unreadable),     0),
    row(Search,      E401,           Always, "tok search tok search",                Final(Api(401)),       0),
    row(Search,      E403,           Always, "tok search",                           Final(Api(403)),       0),
    row(Search,      Redirect,       Always, "tok search",                           Final(Api(302)),       0),
    row(Search,      Endless,        Always, "tok search search search",             Retry(TooLarge),       0),
    row(Search,      Huge,           Always, "tok search search search",             Retry(TooLarge),       0),
    row(Search,      NoAnswer,       Once,   "tok search search create",             Done,                  1),
    row(Search,      ResetMidBody,   Once,   "tok search search create",             Done,                  1),
    row(Search,      ShortBody,      Once,   "tok search search create",             Done,                  1),
    row(Search,      E500,           Once,   "tok search search create",             Done,                  1),
    row(Search,      E502,           Once,   "tok search search create",             Done,                  1),
    row(Search,      E503,           Once,   "tok search search create",             Done,                  1),
    row(Search,      E503RetryAfter, Once,   "tok search search create",             Done,                  1),
    row(Search,      E429RetryAfter, Once,   "tok search search create",             Done,                  1),
    row(Search,      E429RetryDate,  Once,   "tok search search create",             Done,                  1),
    row(Search,      HtmlPage,       Once,   "tok search search create",             Done,                  1),
    row(Search,      E401,           Once,   "tok search tok search create",         Done,                  1),
    row(Search,      Endless,        Once,   "tok search search create",             Done,                  1),
    row(Search,      Huge,           Once,   "tok search search create",             Done,                  1),
    // --- the create: `on_test_error` ----------------------------------------------------------------------
    // Not received (no answer, 503, an error page): looked for, then sent once more; if
    // that one is unclear too, it may have landed: unconfirmed until a search rules it out.
    // Received (after commit): looked for, and found. 429 and 401: certainly not
    // processed, so sent again without looking.
    row(Create,      NoAnswer,       Always, "tok search create search create",      Retry(Unconfirmed),    0),
    row(Create,      Refused,        Always, "tok search",                           Retry(Connect),        0),
    row(Create,      ResetMidBody,   Always, "tok search create search",             Done,                  1),
    row(Create,      ShortBody,      Always, "tok search create search",             Done,                  1),
    row(Create,      E500,           Always, "tok search create search",             Done,                  1),
    row(Create,      E502,           Always, "tok search create search",             Done,                  1),
    row(Create,      E503,           Always, "tok search create search create",      Retry(Unconfirmed),    0),
    row(Create,      E503RetryAfter, Always, "tok search create search create",      Retry(Unconfirmed),    0),
    row(Create,      E429RetryAfter, Always, "tok search create create create",      Retry(Api(429)),       0),
    row(Create,      E429RetryDate,  Always, "tok search create create create",      Retry(Api(429)),       0),
    row(Create,      HtmlPage,       Always, "tok search create search create",      Retry(Unconfirmed),    0),
    row(Create,      WrongType,      Always, "tok search create search",             Done,                  1),
    row(Create,      Malformed,      Always, "tok search create search",             Done,                  1),
    row(Create,      Truncated,      Always, "tok search create search",             Done,                  1),
    row(Create,      E401,           Always, "tok search create tok create",         Final(Api(401)),       0),
    row(Create,      E403,           Always, "tok search create",                    Final(Api(403)),       0),
    row(Create,      Redirect,       Always, "tok search create",                    Final(Api(302)),       0),
    row(Create,      Endless,        Always, "tok search create search",             Done,                  1),
    row(Create,      Huge,           Always, "tok search create search",             Done,                  1),
    row(Create,      NoAnswer,       Once,   "tok search create search create",      Done,                  1),
    row(Create,      ResetMidBody,   Once,   "tok search create search",             Done,                  1),
    row(Create,      ShortBody,      Once,   "tok search create search",             Done,                  1),
    row(Create,      E500,           Once,   "tok search create search",             Done,                  1),
    row(Create,      E502,           Once,   "tok search create search",             Done,                  1),
    row(Create,      E503,           Once,   "tok search create search create",      Done,                  1),
    row(Create,      E503RetryAfter, Once,   "tok search create search create",      Done,                  1),
    row(Create,      E429RetryAfter, Once,   "tok search create create",             Done,                  1),
    row(Create,      E429RetryDate,  Once,   "tok search create create",             Done,                  1),
    row(Create,      HtmlPage,       Once,   "tok search create search create",      Done,                  1),
    row(Create,      E401,           Once,   "tok search create tok create",         Done,                  1),
    row(Create,      Endless,        Once,   "tok search create search",             Done,                  1),
    row(Create,      Huge,           Once,   "tok search create search",             Done,                  1),
];

/// Every row ends well within this, or the row fails.
const BOUND: Duration = Duration::from_secs(15);
/// The transport's connect and total timeouts: a host that never answers costs this.
const TRANSPORT_TIMEOUT: Duration = Duration::from_millis(1500);
/// The total timeout for rows whose fault is a body past the size cap: the cap, not the
/// clock, must end them, even on a machine busy enough to read 4 MiB slowly.
const BULK_TIMEOUT: Duration = Duration::from_secs(8);
/// Rows run at once (each holds one of httpmock's 25 pooled servers).
const CONCURRENCY: usize = 20;

/// The harness's fast policy with two retries: three tries in all.
fn policy() -> RetryPolicy {
    fast_policy().with_max_retries(2)
}

/// The call made just before `call` on the API host in its flow, after which a refused
/// connection is played for it (`None`: the host is closed from the start).
fn api_predecessor(call: Call) -> Option<Call> {
    match call {
        Permissions => Some(ProjectLookup),
        IssueTypes => Some(Permissions),
        CreateFields => Some(IssueTypes),
        Create => Some(Search),
        _ => None,
    }
}

/// What the host operation gave back.
enum Got {
    Site(jira_notifier::Site),
    Projects(usize),
    Saved(Box<jira_notifier::SavedSettings>),
    Users(usize),
    Reported(Outcome),
}

async fn operate(call: Call, worker: &JiraNotifier) -> Result<Got, Error> {
    Ok(match call {
        Token | Sites => Got::Site(worker.connect(creds()).await?),
        ProjectList => Got::Projects(worker.projects().await?.len()),
        ProjectLookup | Permissions | IssueTypes | CreateFields => Got::Saved(Box::new(
            worker.save_settings(Settings::new(PROJECT_KEY)).await?,
        )),
        AssignableUsers => Got::Users(worker.assignable_users(PROJECT_KEY, "").await?.len()),
        Search | Create => Got::Reported(worker.on_test_error(&checkout(), &failed()).await?),
    })
}

fn kind_of(e: &Error) -> Option<Kind> {
    Some(match e {
        Error::Transport { error, .. } => match error.kind {
            TransportErrorKind::Timeout => Timeout,
            TransportErrorKind::Connect => Connect,
            TransportErrorKind::BodyTooLarge => TooLarge,
            TransportErrorKind::Other => Broken,
            _ => return None,
        },
        Error::Api(a) => Api(a.status),
        Error::UnexpectedResponse { .. } => Unreadable,
        Error::CredentialsRejected { status, .. } => Rejected(*status),
        Error::CreateUnconfirmed { .. } => Unconfirmed,
        _ => return None,
    })
}

/// Whether the answer to the create said for certain that it was not processed, so that
/// sending it again without looking is right.
fn certainly_not_processed(fault: Fault) -> bool {
    matches!(fault, E401 | E429RetryAfter | E429RetryDate)
}

/// Runs one row; the problems found, if any.
async fn run(row: Row, transports: Transports) -> Result<(), String> {
    let h = Harness::start_with(transports.harness).await;
    match row.call {
        Token | Sites => {}
        ProjectList | ProjectLookup | Permissions | IssueTypes | CreateFields | AssignableUsers => {
            h.connect().await;
        }
        Search | Create => h.ready().await,
    }
    let jira = mount_jira(&h).await;
    let front = FaultServer::start(
        *h.server.address(),
        row.call,
        row.fault,
        row.times,
        api_predecessor(row.call),
    )
    .await;
    let worker = JiraNotifier::builder(h.store.clone())
        .auth_url(front.auth_url())
        .api_url(front.api_url())
        .transport(if matches!(row.fault, Fault::Endless | Fault::Huge) {
            transports.bulk
        } else {
            transports.worker
        })
        .retry_policy(policy())
        .search_lag_bound(FAST_LOOKBACK)
        .build()
        .expect("the notifier builds");

    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, operate(row.call, &worker))
        .await
        .map_err(|_| format!("did not end within {BOUND:?}"))?;
    let took = started.elapsed();

    let mut problems = Vec::new();
    let landed = jira.created();
    match (row.ends, &result) {
        (Done, Ok(got)) => check_done(got, &h, &landed, &mut problems).await,
        (Done, Err(e)) => problems.push(format!("expected success, got {e:?}")),
        (Retry(_) | Final(_), Ok(_)) => problems.push("expected an error, got success".into()),
        (Retry(want) | Final(want), Err(e)) => {
            if kind_of(e) != Some(want) {
                problems.push(format!("expected {want:?}, got {e:?}"));
            }
            let retryable = matches!(row.ends, Retry(_));
            if e.is_retryable() != retryable {
                problems.push(format!("is_retryable() is {} for {e:?}", e.is_retryable()));
            }
            check_nothing_kept(row, &h, &mut problems).await;
        }
    }
    let trace = front.trace();
    if trace != row.trace {
        problems.push(format!("the hosts saw {trace:?}, expected {:?}", row.trace));
    }
    if landed.len() != row.landed {
        problems.push(format!(
            "Jira created {} issue(s), expected {}",
            landed.len(),
            row.landed
        ));
    }
    // Whatever the table says: a create that may have landed is looked for before it is
    // sent again.
    let calls: Vec<&str> = trace.split(' ').collect();
    let creates: Vec<usize> = (0..calls.len()).filter(|&i| calls[i] == "create").collect();
    for pair in creates.windows(2) {
        let between = &calls[pair[0] + 1..pair[1]];
        if !certainly_not_processed(row.fault) && !between.contains(&"search") {
            problems.push(format!(
                "a create was sent again without looking: {trace:?}"
            ));
        }
    }
    // Token requests reach Jira unless they are the target.
    let asked = trace.split(' ').filter(|c| *c == "tok").count();
    if row.call != Token && jira.tokens() != asked {
        problems.push(format!(
            "Jira issued {} tokens for {asked} requests",
            jira.tokens()
        ));
    }
    let front_errors = front.errors();
    if !front_errors.is_empty() {
        problems.push(format!("the fault server failed: {front_errors:?}"));
    }
    if front.elsewhere_hits() != 0 {
        problems.push(format!(
            "the other host got {} connection(s)",
            front.elsewhere_hits()
        ));
    }
    // A Retry-After that the notifier waited out shows in the time taken.
    let waits_retry_after = matches!(row.fault, E429RetryAfter | E429RetryDate)
        || (row.fault == E503RetryAfter && row.call != Create);
    if waits_retry_after && took < Duration::from_millis(900) {
        problems.push(format!("took {took:?}: Retry-After was not waited out"));
    }
    let strays = h.take_strays();
    if !strays.is_empty() {
        problems.push(format!("requests Jira did not expect: {strays:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

async fn check_done(
    got: &Got,
    h: &Harness,
    landed: &[(String, String)],
    problems: &mut Vec<String>,
) {
    match got {
        Got::Site(s) => {
            if *s != site() {
                problems.push(format!("connected to {s:?}"));
            }
            let stored = h.store.load_connection().await.ok().flatten();
            if stored.map(|c| c.site) != Some(site()) {
                problems.push("the connection was not stored".into());
            }
        }
        Got::Projects(n) | Got::Users(n) => {
            if *n != 1 {
                problems.push(format!("{n} items listed, expected 1"));
            }
        }
        Got::Saved(saved) => {
            if saved.target.issue_type_id != BUG_ID || saved.target.project_id != PROJECT_ID {
                problems.push(format!("saved {saved:?}"));
            }
            if h.store.load_settings().await.ok().flatten().as_ref() != Some(&**saved) {
                problems.push("the settings were not stored".into());
            }
        }
        Got::Reported(outcome) => {
            let Outcome::Created(issue) = outcome else {
                problems.push(format!("expected Created, got {outcome:?}"));
                return;
            };
            if landed.first().map(|(_, k)| k.as_str()) != Some(issue.key.as_str()) {
                problems.push(format!("reported {}, Jira made {landed:?}", issue.key));
            }
            let record = h.store.load_record(&tid(TEST_ID)).await.ok().flatten();
            if record.map(|r| r.issue_id) != Some(issue.id.clone()) {
                problems.push(format!("{} was not recorded", issue.key));
            }
        }
    }
}

/// A failed operation leaves nothing behind it claimed to do.
async fn check_nothing_kept(row: Row, h: &Harness, problems: &mut Vec<String>) {
    let kept = match row.call {
        Token | Sites => h
            .store
            .load_connection()
            .await
            .ok()
            .flatten()
            .map(|_| "a connection"),
        ProjectLookup | Permissions | IssueTypes | CreateFields => h
            .store
            .load_settings()
            .await
            .ok()
            .flatten()
            .map(|_| "settings"),
        Search | Create => h
            .store
            .load_record(&tid(TEST_ID))
            .await
            .ok()
            .flatten()
            .map(|_| "a record"),
        ProjectList | AssignableUsers => None,
    };
    if let Some(what) = kept {
        problems.push(format!("{what} was stored"));
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Roughly how many seconds a row spends waiting: timeouts and Retry-After.
fn waits(row: &Row) -> u32 {
    let each = match row.fault {
        NoAnswer => 2,
        E429RetryDate => 2,
        E429RetryAfter | E503RetryAfter => 1,
        _ => 0,
    };
    match row.times {
        Once => each,
        Always => 2 * each,
    }
}

/// The transports of a row's harness and of its notifier under test. Built once and
/// shared (a build costs tens of milliseconds of CPU); each notifier keeps its own token
/// cache and gate, and the fault server closes every connection after one answer.
#[derive(Clone)]
struct Transports {
    harness: ReqwestTransport,
    worker: ReqwestTransport,
    bulk: ReqwestTransport,
}

impl Transports {
    fn new() -> Transports {
        Transports {
            harness: transport(),
            worker: ReqwestTransport::builder()
                .connect_timeout(TRANSPORT_TIMEOUT)
                .timeout(TRANSPORT_TIMEOUT)
                .build()
                .expect("the transport builds"),
            bulk: ReqwestTransport::builder()
                .connect_timeout(TRANSPORT_TIMEOUT)
                .timeout(BULK_TIMEOUT)
                .build()
                .expect("the transport builds"),
        }
    }
}

/// Runs the matrix's row for `(call, fault, times)` on its own, with the row's checks.
pub(crate) async fn run_row(call: Call, fault: Fault, times: Times) -> Result<(), String> {
    let row = MATRIX
        .iter()
        .copied()
        .find(|r| r.call == call && r.fault == fault && r.times == times)
        .unwrap_or_else(|| panic!("no row {call:?} / {fault:?} / {times:?}"));
    run(row, Transports::new()).await
}

/// Runs rows, several at once, and fails with every row that failed.
async fn run_rows(rows: &[Row]) {
    let transports = Transports::new();
    let permits = Rc::new(Semaphore::new(CONCURRENCY));
    // httpmock's futures are not `Send` for every lifetime, so the rows are local tasks on
    // this thread; the fault servers and the HTTP connections run on the workers.
    let local = tokio::task::LocalSet::new();
    let failures = local
        .run_until(async {
            // The rows that wait longest start first, so that they do not end last.
            let mut order: Vec<Row> = rows.to_vec();
            order.sort_by_key(|r| std::cmp::Reverse(waits(r)));
            let handles: Vec<_> = order
                .into_iter()
                .map(|row| {
                    let permits = permits.clone();
                    let transports = transports.clone();
                    let handle = tokio::task::spawn_local(async move {
                        let _permit = permits.acquire().await.expect("open semaphore");
                        run(row, transports).await
                    });
                    (row, handle)
                })
                .collect();
            let mut failures = Vec::new();
            for (row, handle) in handles {
                match handle.await {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => failures.push(format!("{row}: {why}")),
                    Err(e) if e.is_panic() => failures.push(format!(
                        "{row}: panicked: {}",
                        panic_message(e.into_panic())
                    )),
                    Err(e) => failures.push(format!("{row}: {e}")),
                }
            }
            failures
        })
        .await;
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Every row of the matrix, several at once; fails listing every row that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_under_every_fault() {
    run_rows(MATRIX).await;
}

/// Every call has a row for every fault, happening every time.
#[test]
fn the_matrix_is_complete() {
    let calls = [
        Token,
        Sites,
        ProjectList,
        ProjectLookup,
        Permissions,
        IssueTypes,
        CreateFields,
        AssignableUsers,
        Search,
        Create,
    ];
    let faults = [
        NoAnswer,
        Refused,
        ResetMidBody,
        ShortBody,
        E500,
        E502,
        E503,
        E503RetryAfter,
        E429RetryAfter,
        E429RetryDate,
        HtmlPage,
        WrongType,
        Malformed,
        Truncated,
        E401,
        E403,
        Redirect,
        Endless,
        Huge,
    ];
    for call in calls {
        for fault in faults {
            let n = MATRIX
                .iter()
                .filter(|r| r.call == call && r.fault == fault && r.times == Always)
                .count();
            assert_eq!(n, 1, "{call:?} / {fault:?} / Always has {n} rows");
        }
    }
    for r in MATRIX {
        assert!(r.landed <= 1, "{r}: a row that expects a duplicate");
        let dupes = MATRIX
            .iter()
            .filter(|o| o.call == r.call && o.fault == r.fault && o.times == r.times)
            .count();
        assert_eq!(dupes, 1, "{r} is in the matrix {dupes} times");
    }
}

#[test]
fn http_dates_are_imf_fixdates() {
    let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    let leap = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
    assert_eq!(http_date(leap), "Thu, 29 Feb 2024 00:00:00 GMT");
    assert!(http_date(SystemTime::now()).ends_with(" GMT"));
}

/// The other host counts what reaches it, so the redirect rows can fail.
#[tokio::test]
async fn the_other_host_counts_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start().await;
    let front = FaultServer::start(*h.server.address(), Sites, Redirect, Always, None).await;
    let addr = front
        .elsewhere_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert_eq!(front.elsewhere_hits(), 1);
    assert_eq!(front.trace(), "");
}
