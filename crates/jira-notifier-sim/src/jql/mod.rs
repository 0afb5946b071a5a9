//! The JQL subset the simulator understands: `labels`, `project`, `statusCategory`,
//! `status`, `issuetype`, `key`/`issuekey`/`id` and `summary ~`, joined by `AND`, `OR`,
//! `NOT` and parentheses, with `ORDER BY key|created`.

mod eval;
mod lex;
mod parse;

pub(crate) use eval::{compare, plan, Plan, Rejection, Subject};
pub(crate) use parse::parse;
