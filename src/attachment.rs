//! Evidence files for a failure (logs, screenshots, a HAR): what the host hands over, the
//! size caps they are held to, and what became of each one.
//!
//! The upload itself lives in `jira/attachments.rs`
//! (`POST /rest/api/3/issue/{issueIdOrKey}/attachments`); which report attaches what is
//! decided in `notifier/attach.rs`.

use std::fmt;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::Error;

/// One MiB.
const MIB: u64 = 1024 * 1024;

/// One file to attach to an issue: a name, a media type and the content, given as bytes
/// or as a reader.
///
/// `Debug` shows the name, the media type and the size, never the content.
///
/// ```
/// # use jira_notifier::Attachment;
/// let log = Attachment::bytes("run.log", "text/plain", b"line 1\nline 2\n".to_vec());
/// assert_eq!(log.name(), "run.log");
/// assert_eq!(log.len_hint(), Some(14));
/// ```
#[non_exhaustive]
pub struct Attachment {
    name: String,
    media_type: String,
    content: Content,
}

enum Content {
    Bytes(Arc<[u8]>),
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        len_hint: Option<u64>,
    },
}

impl Attachment {
    /// A file whose content is in memory.
    pub fn bytes(
        name: impl Into<String>,
        media_type: impl Into<String>,
        data: impl Into<Arc<[u8]>>,
    ) -> Self {
        Attachment {
            name: name.into(),
            media_type: media_type.into(),
            content: Content::Bytes(data.into()),
        }
    }

    /// A file read from `reader` when it is uploaded. Reading stops one byte past the
    /// size cap, so a reader that never ends costs no more memory than the cap.
    /// `len_hint` (the size, if known) only sizes the buffer: the bytes read decide.
    pub fn reader(
        name: impl Into<String>,
        media_type: impl Into<String>,
        reader: impl AsyncRead + Send + Unpin + 'static,
        len_hint: Option<u64>,
    ) -> Self {
        Attachment {
            name: name.into(),
            media_type: media_type.into(),
            content: Content::Reader {
                reader: Box::new(reader),
                len_hint,
            },
        }
    }

    /// The name, as given (it is cleaned for the upload: see [`UploadedAttachment`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The media type, as given (`text/plain`, `image/png`, …).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The size: exact for bytes, the caller's hint for a reader.
    pub fn len_hint(&self) -> Option<u64> {
        match &self.content {
            Content::Bytes(b) => Some(b.len() as u64),
            Content::Reader { len_hint, .. } => *len_hint,
        }
    }

    /// The content, if it is at most `cap` bytes; a reader is read up to `cap + 1` bytes
    /// and no further.
    pub(crate) async fn read_capped(self, cap: u64) -> Read {
        match self.content {
            Content::Bytes(b) if b.len() as u64 > cap => Read::Over {
                at_least: b.len() as u64,
            },
            Content::Bytes(b) => Read::Done(b),
            Content::Reader { reader, len_hint } => {
                let limit = cap.saturating_add(1);
                let start = len_hint.unwrap_or(0).min(limit).min(MIB);
                let mut buf = Vec::with_capacity(usize::try_from(start).unwrap_or(0));
                match reader.take(limit).read_to_end(&mut buf).await {
                    Ok(_) if buf.len() as u64 > cap => Read::Over {
                        at_least: buf.len() as u64,
                    },
                    Ok(_) => Read::Done(buf.into()),
                    Err(e) => Read::Failed(e.to_string()),
                }
            }
        }
    }
}

/// The content of an [`Attachment`], read within a cap.
pub(crate) enum Read {
    Done(Arc<[u8]>),
    /// Larger than the cap: the size, or a lower bound of it for a reader.
    Over {
        at_least: u64,
    },
    /// The reader failed.
    Failed(String),
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attachment");
        d.field("name", &self.name)
            .field("media_type", &self.media_type);
        match &self.content {
            Content::Bytes(b) => d.field("len", &b.len()),
            Content::Reader { len_hint, .. } => d.field("reader_len_hint", len_hint),
        };
        d.finish()
    }
}

/// Size caps on the files of one failure. A file over a cap is skipped whole, never
/// truncated ([`SkipReason`]).
///
/// ```
/// # use jira_notifier::AttachmentLimits;
/// let limits = AttachmentLimits::default();
/// assert_eq!(limits.per_file, 10 * 1024 * 1024);
/// assert_eq!(limits.per_failure, 25 * 1024 * 1024);
/// let small = AttachmentLimits::new(1024, 4096);
/// assert_eq!(small.per_file, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachmentLimits {
    /// The largest file uploaded, in bytes (default 10 MiB).
    pub per_file: u64,
    /// The most bytes of files sent for one failure, every file together (default 25 MiB).
    /// Files are taken in the order given; one that no longer fits is skipped, and a
    /// later, smaller one may still be sent.
    pub per_failure: u64,
}

impl AttachmentLimits {
    /// Caps of `per_file` bytes for each file and `per_failure` bytes for all of them.
    pub const fn new(per_file: u64, per_failure: u64) -> Self {
        AttachmentLimits {
            per_file,
            per_failure,
        }
    }
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits::new(10 * MIB, 25 * MIB)
    }
}

/// Why a file was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The file is larger than [`AttachmentLimits::per_file`].
    TooLarge {
        /// Its size in bytes; for a reader, a lower bound (reading stopped there).
        size_at_least: u64,
        /// The cap.
        limit: u64,
    },
    /// The file does not fit in what is left of [`AttachmentLimits::per_failure`].
    OverFailureBudget {
        /// Its size in bytes; for a reader, a lower bound (reading stopped there).
        size_at_least: u64,
        /// How many bytes the failure could still send.
        remaining: u64,
    },
    /// The reader failed before the end: nothing of it was sent.
    Unreadable {
        /// What the reader said.
        message: String,
    },
    /// The report was a repeat on the test's open issue, and the policy
    /// [`Lifecycle::attach_on_repeat`](crate::Lifecycle::attach_on_repeat) is off.
    Repeat,
    /// The report filed no issue to attach to (below the threshold, grouped into the
    /// storm's umbrella, muted, disabled, not connected, or not a failure).
    NoIssue,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::TooLarge {
                size_at_least,
                limit,
            } => write!(
                f,
                "at least {size_at_least} bytes, over the {limit}-byte cap per file"
            ),
            SkipReason::OverFailureBudget {
                size_at_least,
                remaining,
            } => write!(
                f,
                "at least {size_at_least} bytes, and only {remaining} bytes are left of the cap per failure"
            ),
            SkipReason::Unreadable { message } => write!(f, "the file could not be read: {message}"),
            SkipReason::Repeat => f.write_str("a repeat failure attaches nothing (attach_on_repeat is off)"),
            SkipReason::NoIssue => f.write_str("the report filed no issue to attach to"),
        }
    }
}

/// A file Jira stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedAttachment {
    /// The name the host gave.
    pub name: String,
    /// The name Jira stored: the given one, cleaned for the multipart header (quotes,
    /// backslashes, slashes and control characters become `_`; non-ASCII is kept).
    pub filename: String,
    /// Jira's attachment id.
    pub id: String,
    /// The size Jira stored, in bytes.
    pub size: u64,
    /// The media type Jira stored.
    pub media_type: String,
}

/// A file that was not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedAttachment {
    /// The name the host gave.
    pub name: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// A file whose upload failed. It may still have landed when the error is a timeout or
/// a `5xx` ([`Error::Transport`], an [`Error::Api`] with a 5xx status): uploads are not
/// sent twice after an unclear answer, as an attachment sent twice is stored twice.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedAttachment {
    /// The name the host gave.
    pub name: String,
    /// What went wrong.
    pub error: Error,
}

/// What became of each file of one upload: every file given is in exactly one list, in
/// the order given. A failed or skipped file never fails the others.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UploadReport {
    /// Files Jira stored.
    pub uploaded: Vec<UploadedAttachment>,
    /// Files not sent (over a cap, unreadable).
    pub skipped: Vec<SkippedAttachment>,
    /// Files sent that Jira did not store (or whose answer was lost or unreadable).
    pub failed: Vec<FailedAttachment>,
}

impl UploadReport {
    /// Every file skipped for one reason, nothing read.
    pub(crate) fn skipping(files: Vec<Attachment>, reason: SkipReason) -> UploadReport {
        UploadReport {
            skipped: files
                .into_iter()
                .map(|f| SkippedAttachment {
                    name: f.name,
                    reason: reason.clone(),
                })
                .collect(),
            ..UploadReport::default()
        }
    }

    /// Whether every file given was stored.
    pub fn is_complete(&self) -> bool {
        self.skipped.is_empty() && self.failed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reading_stops_one_byte_past_the_cap() {
        let endless = tokio::io::repeat(b'x');
        let file = Attachment::reader("big.log", "text/plain", endless, None);
        match file.read_capped(1000).await {
            Read::Over { at_least } => assert_eq!(at_least, 1001),
            _ => panic!("an endless reader is over any cap"),
        }
        let small = Attachment::reader("s.txt", "text/plain", &b"hello"[..], Some(5));
        match small.read_capped(5).await {
            Read::Done(b) => assert_eq!(&*b, b"hello"),
            _ => panic!("five bytes fit a five-byte cap"),
        }
        let bytes = Attachment::bytes("b.bin", "application/octet-stream", vec![0u8; 6]);
        assert!(matches!(
            bytes.read_capped(5).await,
            Read::Over { at_least: 6 }
        ));
    }

    #[tokio::test]
    async fn a_failing_reader_is_unreadable() {
        struct Broken;
        impl AsyncRead for Broken {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                _: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Err(std::io::Error::other("disk gone")))
            }
        }
        let file = Attachment::reader("x", "text/plain", Broken, None);
        assert!(matches!(file.read_capped(10).await, Read::Failed(m) if m == "disk gone"));
    }

    #[test]
    fn debug_never_shows_content() {
        let file = Attachment::bytes("a.txt", "text/plain", b"SECRET-CONTENT".to_vec());
        let shown = format!("{file:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("a.txt") && shown.contains("14"), "{shown}");
        let r = Attachment::reader("r.txt", "text/plain", &b"SECRET"[..], Some(6));
        assert!(!format!("{r:?}").contains("SECRET"));
    }
}
