//! Evidence files with a failure: which report attaches them, and to what. The first
//! failure's files go to the issue it files (or reopens); a repeat's only under the policy
//! `attach_on_repeat`. The issue always comes first: a file that cannot be sent is
//! reported, never a reason to fail the report.

use super::JiraNotifier;
use crate::attachment::{Attachment, SkipReason, UploadReport};
use crate::connection::Connection;
use crate::error::Result;
use crate::outcome::{FailureReport, IssueRef, Outcome, TestInfo, TestStatus};

/// What a report did, and where its files go.
pub(super) struct Filed {
    pub outcome: Outcome,
    /// The issue the report's files are attached to, if any.
    pub attach_to: Option<(Connection, IssueRef)>,
    /// Why there is none.
    pub skip: SkipReason,
}

impl Filed {
    /// A report that attaches nothing.
    pub(super) fn bare(outcome: Outcome) -> Filed {
        Filed {
            outcome,
            attach_to: None,
            skip: SkipReason::NoIssue,
        }
    }

    /// A report whose files go to `issue`.
    pub(super) fn attaching(outcome: Outcome, conn: &Connection, issue: &IssueRef) -> Filed {
        Filed {
            outcome,
            attach_to: Some((conn.clone(), issue.clone())),
            skip: SkipReason::NoIssue,
        }
    }

    /// A repeat on the open `issue`: a duplicate, whose files go there only under
    /// `attach_on_repeat`.
    pub(super) fn duplicate(conn: &Connection, issue: IssueRef, attach_on_repeat: bool) -> Filed {
        if attach_on_repeat {
            Filed {
                attach_to: Some((conn.clone(), issue.clone())),
                outcome: Outcome::Duplicate(issue),
                skip: SkipReason::NoIssue,
            }
        } else {
            Filed {
                outcome: Outcome::Duplicate(issue),
                attach_to: None,
                skip: SkipReason::Repeat,
            }
        }
    }
}

impl JiraNotifier {
    /// [`on_test_error`](Self::on_test_error) with files (logs, screenshots, a HAR):
    /// the failure that files the test's issue (or reopens it) uploads them to it, after
    /// the create, within the notifier's
    /// [`attachment_limits`](crate::NotifierBuilder::attachment_limits) (by default 10 MiB
    /// per file, 25 MiB per failure); a repeat uploads them only under the policy
    /// [`Lifecycle::attach_on_repeat`](crate::Lifecycle::attach_on_repeat). One request
    /// per file sent.
    ///
    /// Errors are [`on_test_error`](Self::on_test_error)'s: a file that was skipped or
    /// whose upload failed never fails the report, and is listed in
    /// [`FailureReport::attachments`] with the reason.
    pub async fn on_test_error_with_attachments(
        &self,
        test: &TestInfo,
        status: &TestStatus,
        files: Vec<Attachment>,
    ) -> Result<FailureReport> {
        let filed = self.file(test, status, !files.is_empty()).await?;
        let attachments = match (&filed.attach_to, files.is_empty()) {
            (_, true) => UploadReport::default(),
            (Some((conn, issue)), false) => {
                self.inner
                    .client
                    .add_attachments(conn, &issue.id, files, &self.inner.attachment_limits)
                    .await
            }
            (None, false) => UploadReport::skipping(files, filed.skip),
        };
        Ok(FailureReport {
            outcome: filed.outcome,
            attachments,
        })
    }
}
