//! Behaviour against the simulated Jira Cloud (`sim` feature): search lag, unclear
//! creates, expiring tokens, rate limits, and several notifiers sharing one store.

mod faults;
mod lag;
mod replicas;
mod support;
