//! Scripted failures: what a test injects so that the next matching requests fail.

use std::time::Duration;

use jira_notifier::{HttpResponse, Method, TransportError, TransportErrorKind};

/// When the failure replaces the real handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timing {
    /// The request never reaches the simulated Jira: nothing changes.
    Instead,
    /// The request is handled (an issue is created, a token issued), then the answer is lost.
    AfterCommit,
}

#[derive(Debug, Clone)]
enum Outcome {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Error(TransportErrorKind),
}

/// A failure for the next requests that match a method and a path suffix.
///
/// Build one with a constructor, adjust it with the chaining methods, then hand it to
/// [`SimJira::inject`](super::SimJira::inject). Faults are matched in the order they were
/// injected; each matching request uses up one of a fault's [`times`](Fault::times).
///
/// ```
/// # use jira_notifier_sim::Fault;
/// # use jira_notifier::Method;
/// // The next two creates are refused by an overloaded site, and nothing is created.
/// let busy = Fault::status(Method::Post, "/rest/api/3/issue", 503)
///     .times(2)
///     .header("retry-after", "2");
/// // The next create lands, but its answer never arrives.
/// let lost = Fault::timeout_after_commit(Method::Post, "/rest/api/3/issue");
/// # let _ = (busy, lost);
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    method: Method,
    path_suffix: String,
    remaining: u32,
    timing: Timing,
    outcome: Outcome,
    delay: Duration,
}

impl Fault {
    fn new(
        method: Method,
        path_suffix: impl Into<String>,
        timing: Timing,
        outcome: Outcome,
    ) -> Self {
        Fault {
            method,
            path_suffix: path_suffix.into(),
            remaining: 1,
            timing,
            outcome,
            delay: Duration::ZERO,
        }
    }

    fn answer(status: u16) -> Outcome {
        Outcome::Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Matching requests get this status (empty body, no headers until added) and are not
    /// handled: nothing is created.
    pub fn status(method: Method, path_suffix: impl Into<String>, status: u16) -> Self {
        Fault::new(method, path_suffix, Timing::Instead, Fault::answer(status))
    }

    /// Matching requests get Jira's burst rate-limit answer: `429` with `Retry-After`
    /// (seconds) and `RateLimit-Reason: jira-burst-based`; they are not handled.
    pub fn rate_limited(
        method: Method,
        path_suffix: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        Fault::status(method, path_suffix, 429)
            .header("retry-after", retry_after_secs.to_string())
            .header("ratelimit-reason", "jira-burst-based")
            .json(&serde_json::json!({
                "errorMessages": ["Rate limit exceeded."],
                "errors": {}
            }))
    }

    /// Matching requests are handled as usual (an issue is created), then answered with
    /// this status instead of the real answer: a `502` after the write landed.
    pub fn status_after_commit(
        method: Method,
        path_suffix: impl Into<String>,
        status: u16,
    ) -> Self {
        Fault::new(
            method,
            path_suffix,
            Timing::AfterCommit,
            Fault::answer(status),
        )
    }

    /// Matching requests fail with a [`TransportErrorKind::Timeout`] and are not handled.
    pub fn timeout(method: Method, path_suffix: impl Into<String>) -> Self {
        Fault::new(
            method,
            path_suffix,
            Timing::Instead,
            Outcome::Error(TransportErrorKind::Timeout),
        )
    }

    /// Matching requests are handled as usual (an issue is created), then fail with a
    /// [`TransportErrorKind::Timeout`]: the caller cannot know the write landed.
    pub fn timeout_after_commit(method: Method, path_suffix: impl Into<String>) -> Self {
        Fault::new(
            method,
            path_suffix,
            Timing::AfterCommit,
            Outcome::Error(TransportErrorKind::Timeout),
        )
    }

    /// Matching requests fail with a [`TransportErrorKind::Connect`] error: they certainly
    /// never arrived.
    pub fn connect_error(method: Method, path_suffix: impl Into<String>) -> Self {
        Fault::new(
            method,
            path_suffix,
            Timing::Instead,
            Outcome::Error(TransportErrorKind::Connect),
        )
    }

    /// How many matching requests the fault applies to (default 1). `0` makes it inert.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = n;
        self
    }

    /// Adds a header to the answer (ignored for transport errors).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Outcome::Answer { headers, .. } = &mut self.outcome {
            headers.push((name.into().to_ascii_lowercase(), value.into()));
        }
        self
    }

    /// Sets the answer's body (ignored for transport errors). Set a `content-type` with
    /// [`header`](Fault::header) if it matters, as for an HTML error page.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        if let Outcome::Answer { body: b, .. } = &mut self.outcome {
            *b = body.into();
        }
        self
    }

    /// Sets a JSON body and its content type (ignored for transport errors).
    pub fn json(self, body: &serde_json::Value) -> Self {
        self.header("content-type", super::reply::JIRA_JSON)
            .body(body.to_string())
    }

    /// Delays the failure by this long (on tokio's clock), on top of the simulator's latency.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn matches(&self, method: Method, path: &str) -> bool {
        self.remaining > 0 && self.method == method && path.ends_with(&self.path_suffix)
    }
}

/// One use of a fault, taken from the queue.
#[derive(Debug)]
pub(crate) struct Triggered {
    after_commit: bool,
    outcome: Outcome,
    pub(crate) delay: Duration,
}

impl Triggered {
    /// Whether the request is handled before the failure replaces its answer.
    pub(crate) fn after_commit(&self) -> bool {
        self.after_commit
    }

    pub(crate) fn result(self) -> Result<HttpResponse, TransportError> {
        match self.outcome {
            Outcome::Answer {
                status,
                headers,
                body,
            } => Ok(HttpResponse::new(status, body).with_headers(headers)),
            Outcome::Error(kind) => Err(TransportError::new(
                kind,
                match kind {
                    TransportErrorKind::Connect => "simulated connection failure",
                    _ => "simulated timeout",
                },
            )),
        }
    }
}

/// The injected faults, in order.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    faults: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.remaining > 0 {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn pending(&self) -> usize {
        self.faults.iter().map(|f| f.remaining as usize).sum()
    }

    /// Uses up one application of the first fault matching the request.
    pub(crate) fn take(&mut self, method: Method, path: &str) -> Option<Triggered> {
        let index = self.faults.iter().position(|f| f.matches(method, path))?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let triggered = Triggered {
            after_commit: fault.timing == Timing::AfterCommit,
            outcome: fault.outcome.clone(),
            delay: fault.delay,
        };
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(triggered)
    }
}
