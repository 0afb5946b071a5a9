#![doc = include_str!("docs.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

// The fuzz harness (`fuzz/harness.rs`) names the crate as a dependent would; its corpus
// runs as this crate's unit tests.
#[cfg(test)]
extern crate self as jira_notifier;

mod attachment;
mod auth;
mod catalog;
mod clock;
mod connection;
mod dedupe;
mod endpoints;
mod error;
mod evidence;
mod fields;
mod health;
mod issue;
mod jira;
mod lifecycle;
mod limits;
mod noise;
mod notifier;
mod outcome;
mod retry;
mod settings;
mod store;
mod throttle;
mod transport;

// The crate's parsers and builders, reached directly by the cargo-fuzz targets (which build
// with `--cfg fuzzing`) and by the property tests. Never in a normal build: not an API.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
#[path = "fuzz_api/mod.rs"]
pub mod __private_fuzz;

pub use attachment::{
    Attachment, AttachmentLimits, FailedAttachment, SkipReason, SkippedAttachment, UploadReport,
    UploadedAttachment,
};
pub use auth::source::{SourcedToken, TokenRequest, TokenSource, TokenSourceError};
pub use catalog::{IssueType, Project, User};
pub use clock::{Clock, SystemClock};
pub use connection::{Connection, CredentialKind, Credentials, Site};
pub use endpoints::{DEFAULT_API_URL, DEFAULT_AUTH_URL};
pub use error::{ApiError, Error, Result};
pub use evidence::Evidence;
pub use fields::{
    parse_field_assignment, AllowedValue, CreateField, FieldProblem, FieldProblemKind, FieldSchema,
    FieldValue, ResolvedFields, SaveWarning, FIELDS_FILLED_BY_CRATE,
};
pub use health::{Health, HealthEvent, Refusal, RefusedAction};
pub use lifecycle::{
    Lifecycle, LifecycleOverride, OnPass, OnRepeat, TestState, Versioned, DEFAULT_COMMENT_EVERY,
};
pub use noise::{Noise, NoiseOverride, StormLimit, StormLimitError, WorkspaceState};
pub use notifier::{
    JiraNotifier, JiraNotifierBuilder, NotifierBuilder, NotifierEngine, NotifierEngineBuilder,
    DEFAULT_CREATE_LEASE,
};
pub use outcome::{FailureReport, IssueRef, Outcome, TestInfo, TestStatus};
pub use retry::RetryPolicy;
pub use settings::{
    Assignee, ResolvedTarget, SavedOverride, SavedSettings, Settings, TestOverride,
    DEFAULT_ISSUE_TYPE, DEFAULT_LABEL_PREFIX,
};
pub use store::{
    Claim, ClaimOwner, ConfigStore, FileStore, IssueRecord, LocalClaims, MemoryStore, StoreError,
    StoreErrorKind, TestContext, TestId, WorkspaceId,
};
pub use throttle::DEFAULT_MAX_IN_FLIGHT;
pub use transport::{
    HttpRequest, HttpResponse, HttpTransport, Method, TransportError, TransportErrorKind,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use transport::{ReqwestTransport, ReqwestTransportBuilder, DEFAULT_MAX_BODY};
