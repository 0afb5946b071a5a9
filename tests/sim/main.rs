//! Behaviour against the simulated Jira Cloud (`jira-notifier-sim`): search lag, unclear
//! creates, expiring tokens, rate limits, and several notifiers sharing one store.

mod corners;
mod credentials;
mod faults;
mod lag;
mod lifecycle;
mod limits;
mod named_site;
mod noise;
mod replicas;
mod scopes;
mod screens;
mod slow_index;
mod stale;
mod support;
mod workspaces;
