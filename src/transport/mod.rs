//! The HTTP seam: the crate speaks to Jira only through [`HttpTransport`].
//!
//! Hosts can plug their own client (a proxy-aware one, a recording one for tests, the
//! simulated Jira) without this crate exposing any third-party HTTP type: a new reqwest
//! release is then never a breaking change for hosts.

#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "reqwest")]
pub use self::reqwest::{ReqwestTransport, ReqwestTransportBuilder, DEFAULT_MAX_BODY};

use std::fmt;

use async_trait::async_trait;
use url::Url;

/// The HTTP methods the crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
}

impl Method {
    /// The method's name as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request, built by the crate and sent by a transport.
///
/// `Debug` never shows the `Authorization` header's value nor the body, which can hold the
/// client secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full URL, query included. It never carries a secret.
    pub url: Url,
    /// Header names (lower case) and values, in the order they are to be sent.
    pub headers: Vec<(String, String)>,
    /// The body, if any (JSON for every request the crate makes).
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// A request with no header and no body.
    pub fn new(method: Method, url: Url) -> Self {
        HttpRequest {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header (its name lower-cased); returns `self` for chaining.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        push_headers(&mut self.headers, [(name, value)]);
        self
    }

    /// Adds headers, in order (names lower-cased); returns `self` for chaining.
    pub fn with_headers<I, N, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        push_headers(&mut self.headers, headers);
        self
    }

    /// Sets the body; returns `self` for chaining.
    pub fn with_body(mut self, body: Option<Vec<u8>>) -> Self {
        self.body = body;
        self
    }

    /// The first value of a header, looked up without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (k.as_str(), "[redacted]")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// One answer, whatever its status: 4xx and 5xx answers are `Ok` too, because status
/// codes and `Retry-After` are read one layer up, where retries are decided.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body as received (never more than the transport's size cap).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// An answer with a status and a body, and no header.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An answer with a status and a JSON body, for transports that make answers up
    /// (tests, the simulated Jira).
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// The first value of a header, looked up without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Adds a header (its name lower-cased); returns `self` for chaining.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        push_headers(&mut self.headers, [(name, value)]);
        self
    }

    /// Adds headers, in order (names lower-cased); returns `self` for chaining.
    pub fn with_headers<I, N, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        push_headers(&mut self.headers, headers);
        self
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body of a token answer holds an access token: show only its length.
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made: the request was certainly not received.
    Connect,
    /// The request or the answer took too long: the request may have been received.
    Timeout,
    /// The answer was larger than the transport accepts.
    BodyTooLarge,
    /// Anything else (a reset connection, a broken body): the request may have been received.
    Other,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// A description for people. Implementations must not put secrets or full URLs with
    /// credentials in it.
    pub message: String,
}

impl TransportError {
    /// A transport error of a kind, with a description.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// Whether the request certainly never reached the server, so even a create is safe
    /// to send again.
    pub fn certainly_not_sent(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }
}

/// Sends HTTP requests for the notifier.
///
/// Implementations must return every HTTP answer as `Ok`, whatever its status, must not
/// follow redirects to other hosts with the `Authorization` header, and should cap the
/// body size they accept. The notifier holds it as `Arc<dyn HttpTransport>`.
#[async_trait]
pub trait HttpTransport: Send + Sync + fmt::Debug {
    /// Sends one request and returns the answer, or why there was none.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Appends headers with their names lower-cased, as every header the crate reads is looked
/// up.
fn push_headers<I, N, V>(to: &mut Vec<(String, String)>, headers: I)
where
    I: IntoIterator<Item = (N, V)>,
    N: Into<String>,
    V: Into<String>,
{
    to.extend(
        headers
            .into_iter()
            .map(|(n, v)| (n.into().to_ascii_lowercase(), v.into())),
    );
}
