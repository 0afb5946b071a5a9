//! `jira-notifier`: turns failing automated tests into Jira Cloud issues.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod connection;
mod settings;
mod store;
mod transport;

#[cfg(feature = "sim")]
pub mod sim;

pub use connection::{Connection, Credentials, Site};
pub use settings::{
    Assignee, ResolvedTarget, SavedOverride, SavedSettings, Settings, TestOverride,
    DEFAULT_ISSUE_TYPE, DEFAULT_LABEL_PREFIX,
};
pub use store::{
    ConfigStore, FileStore, IssueRecord, MemoryStore, StoreError, StoreErrorKind, TestContext,
};
#[cfg(feature = "reqwest")]
pub use transport::{ReqwestTransport, ReqwestTransportBuilder};
pub use transport::{
    HttpRequest, HttpResponse, HttpTransport, Method, TransportError, TransportErrorKind,
};
