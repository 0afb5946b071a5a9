//! Jira's REST API: requests as data (`requests`), answers as types (`models`,
//! `answers`), sending with auth and retries (`client`), and the typed calls (`calls`);
//! the create screen, permissions, users and comments in `createmeta`; uploads in
//! `attachments`.

pub(crate) mod answers;
mod attachments;
mod calls;
pub(crate) mod client;
pub(crate) mod createmeta;
mod edit;
pub(crate) mod lookup;
pub(crate) mod models;
pub(crate) mod requests;
pub(crate) mod workflow;

pub(crate) use self::calls::{Done, Found, Lookup};
pub(crate) use self::client::JiraClient;
