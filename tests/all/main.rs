//! HTTP-level integration tests: the notifier, on its reqwest transport, against a mock
//! Atlassian (auth host and API gateway on one httpmock server). Every request the crate
//! sends is matched exactly (method, path, query, headers, JSON body); anything else
//! reaches a catch-all that fails the test.

mod attachments;
mod connect;
mod credentials;
mod fault_matrix;
mod fixtures;
mod logs;
mod named_site;
mod notification;
mod overrides;
mod report;
mod resilience;
mod screens;
mod secrets;
mod settings;
mod store_faults;
mod support;
