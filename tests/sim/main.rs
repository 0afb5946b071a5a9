//! Behaviour against the simulated Jira Cloud (`jira-notifier-sim`): search lag, unclear
//! creates, expiring tokens, rate limits, and several notifiers sharing one store.

mod faults;
mod lag;
mod replicas;
mod screens;
mod support;
