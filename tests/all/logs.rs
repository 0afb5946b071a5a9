//! Neither the client secret nor an access token ever shows in a log line: every
//! `tracing` event and span, at every level and with every field, is captured while the
//! noisiest scenarios run, and searched.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use crate::fault_matrix::run_row;
use crate::support::Call::*;
use crate::support::Fault::*;
use crate::support::Times::*;
use crate::support::*;

/// A subscriber that keeps every event and span of a recording thread as a line: level,
/// target, name, fields.
///
/// It is the process's global subscriber, recording only on the threads that ask for it,
/// rather than a thread's scoped default (`set_default`): with one scoped subscriber in
/// the process, tracing caches a callsite's interest (and the global level filter) from
/// whichever thread reaches it first, and another test's thread, with no subscriber, would
/// turn the crate's events off for this one too.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_span: Arc<AtomicU64>,
}

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Records this thread's events until dropped.
struct Recording(&'static Capture);

impl Recording {
    fn start() -> Recording {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        let capture = CAPTURE.get_or_init(|| {
            let capture = Capture::default();
            tracing::subscriber::set_global_default(capture.clone())
                .expect("no other global subscriber in this test binary");
            capture
        });
        RECORDING.with(|r| r.set(true));
        Recording(capture)
    }

    fn lines(&self) -> Vec<String> {
        self.0.lines.lock().unwrap().clone()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.with(|r| r.set(false));
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }
}

/// Writes fields as ` name=value`, strings as they are (not escaped), so that a secret in
/// a field shows as itself.
struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={}", field.name(), value);
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(self.0, ": {s}");
            source = s.source();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    // Asked again at every event: whether to record depends on the thread.
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        RECORDING.with(Cell::get)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let meta = span.metadata();
        let mut fields = Fields(format!(
            "span {} {} {}:",
            meta.level(),
            meta.target(),
            meta.name()
        ));
        span.record(&mut fields);
        self.push(fields.0);
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields(format!("span {} record:", span.into_u64()));
        values.record(&mut fields);
        self.push(fields.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut fields = Fields(format!("{} {}:", meta.level(), meta.target()));
        event.record(&mut fields);
        self.push(fields.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The noisy scenarios, each a row of the fault matrix (which checks its own outcome):
/// rejected credentials, token renewals on a 401, retries of the token request and of API
/// calls, unclear creates that are looked for, and HTML error pages.
const SCENARIOS: &[(Call, Fault, Times)] = &[
    // Rejected credentials.
    (Token, E401, Always),
    (Token, E403, Always),
    // Retries of the request that carries the secret and returns a token.
    (Token, ResetMidBody, Once),
    (Token, E500, Once),
    (Token, HtmlPage, Once),
    (Token, Truncated, Always),
    // 401 renewals.
    (Sites, E401, Once),
    (Search, E401, Once),
    (Create, E401, Always),
    // Retries of API calls.
    (ProjectList, ShortBody, Once),
    (AssignableUsers, E502, Always),
    (Search, E503, Once),
    (Search, Endless, Once),
    // Unclear creates, looked for.
    (Create, E500, Always),
    (Create, ResetMidBody, Once),
    (Create, Malformed, Always),
    (Create, E503, Once),
    // HTML error pages.
    (Search, HtmlPage, Always),
    (IssueTypes, HtmlPage, Once),
    // A redirect, which carries no token anywhere.
    (ProjectLookup, Redirect, Always),
];

// A current-thread runtime: every task of the scenarios, the fault servers' and the HTTP
// connections' included, runs on this thread, which records. (The mock server runs on
// threads of its own: it receives the secret by design, and is not the crate.)
#[tokio::test]
async fn no_log_line_holds_the_secret_or_a_token() {
    let recording = Recording::start();
    let mut failures = Vec::new();
    for &(call, fault, times) in SCENARIOS {
        if let Err(why) = run_row(call, fault, times).await {
            failures.push(format!("{call:?} / {fault:?} / {times:?}: {why}"));
        }
    }
    let lines = recording.lines();
    drop(recording);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The capture works and the scenarios were noisy, so a clean result means something.
    assert!(lines.len() >= 10, "only {} lines: {lines:#?}", lines.len());
    for wanted in [
        "retrying operation=token request",
        "create got no clear answer",
        "Page Unavailable",
        "no answer from token request",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(wanted)),
            "no line mentions {wanted:?}: {lines:#?}"
        );
    }
    for line in &lines {
        for secret in [CLIENT_SECRET, TOKEN, TOKEN2] {
            assert!(
                !line.contains(secret),
                "a log line shows {secret:?}: {line}"
            );
        }
        assert!(
            !line.contains("Bearer"),
            "a log line shows a bearer: {line}"
        );
    }
}
