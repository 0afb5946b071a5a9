//! A test passes: the recovery policies (`on_pass`).

use super::JiraNotifier;
use crate::error::Result;
use crate::outcome::{Outcome, TestInfo};

impl JiraNotifier {
    /// Acts on a test's pass, as its [`Lifecycle::on_pass`](crate::Lifecycle::on_pass)
    /// policy says.
    pub async fn on_test_pass(&self, test: &TestInfo) -> Result<Outcome> {
        let _ = test;
        Ok(Outcome::Ignored)
    }
}
