//! The host's store can fail: settings are never half written, a report that cannot read
//! or claim sends nothing, and an issue created while the store cannot record it is
//! reported with its key and not created again.

use jira_notifier::{ClaimOwner, TestId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jira_notifier::{
    Claim, ConfigStore, Connection, Error, Health, HealthEvent, IssueRecord, JiraNotifier,
    MemoryStore, Outcome, SavedOverride, SavedSettings, Settings, StoreError, StoreErrorKind,
    TestContext,
};
use serde_json::json;

use crate::support::*;

/// Which store operations fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    /// Every read, `load_test_context` included.
    Load,
    /// Every `save_*`.
    Save,
    /// Every `delete_*`.
    Delete,
    /// `claim_create`.
    Claim,
    /// `release_create`.
    Release,
}

/// A [`MemoryStore`] whose chosen operations fail, without touching the data, until
/// healed.
#[derive(Debug)]
struct FlakyStore {
    inner: Arc<MemoryStore>,
    failing: Mutex<HashMap<Op, StoreErrorKind>>,
    calls: Mutex<Vec<Op>>,
}

impl FlakyStore {
    fn new(inner: Arc<MemoryStore>) -> Arc<FlakyStore> {
        Arc::new(FlakyStore {
            inner,
            failing: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn fail(&self, op: Op, kind: StoreErrorKind) {
        self.failing.lock().unwrap().insert(op, kind);
    }

    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    /// How many times `op` was asked for, failed or not.
    fn calls(&self, op: Op) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|o| **o == op)
            .count()
    }

    fn check(&self, op: Op) -> Result<(), StoreError> {
        self.calls.lock().unwrap().push(op);
        match self.failing.lock().unwrap().get(&op) {
            None => Ok(()),
            Some(StoreErrorKind::Corrupt) => {
                Err(StoreError::corrupt(format!("{op:?}: a row cannot be read")))
            }
            Some(_) => Err(StoreError::unavailable(format!(
                "{op:?}: the database is unreachable"
            ))),
        }
    }
}

#[async_trait]
impl ConfigStore for FlakyStore {
    async fn load_connection(&self) -> Result<Option<Connection>, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_connection().await
    }
    async fn save_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.check(Op::Save)?;
        self.inner.save_connection(connection).await
    }
    async fn delete_connection(&self) -> Result<(), StoreError> {
        self.check(Op::Delete)?;
        self.inner.delete_connection().await
    }
    async fn load_settings(&self) -> Result<Option<SavedSettings>, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_settings().await
    }
    async fn save_settings(&self, settings: &SavedSettings) -> Result<(), StoreError> {
        self.check(Op::Save)?;
        self.inner.save_settings(settings).await
    }
    async fn delete_settings(&self) -> Result<(), StoreError> {
        self.check(Op::Delete)?;
        self.inner.delete_settings().await
    }
    async fn load_override(&self, test_id: &TestId) -> Result<Option<SavedOverride>, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_override(test_id).await
    }
    async fn save_override(
        &self,
        test_id: &TestId,
        value: &SavedOverride,
    ) -> Result<(), StoreError> {
        self.check(Op::Save)?;
        self.inner.save_override(test_id, value).await
    }
    async fn delete_override(&self, test_id: &TestId) -> Result<(), StoreError> {
        self.check(Op::Delete)?;
        self.inner.delete_override(test_id).await
    }
    async fn load_record(&self, test_id: &TestId) -> Result<Option<IssueRecord>, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_record(test_id).await
    }
    async fn save_record(&self, test_id: &TestId, record: &IssueRecord) -> Result<(), StoreError> {
        self.check(Op::Save)?;
        self.inner.save_record(test_id, record).await
    }
    async fn claim_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        self.check(Op::Claim)?;
        self.inner.claim_create(test_id, owner, lease).await
    }
    async fn release_create(
        &self,
        test_id: &TestId,
        owner: &ClaimOwner,
        record: Option<&IssueRecord>,
    ) -> Result<(), StoreError> {
        self.check(Op::Release)?;
        self.inner.release_create(test_id, owner, record).await
    }
    async fn load_test_state(
        &self,
        test_id: &TestId,
    ) -> Result<jira_notifier::Versioned<jira_notifier::TestState>, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_test_state(test_id).await
    }
    async fn load_workspace_state(
        &self,
    ) -> Result<jira_notifier::Versioned<jira_notifier::WorkspaceState>, StoreError> {
        self.inner.load_workspace_state().await
    }
    async fn swap_workspace_state(
        &self,
        expected: u64,
        state: &jira_notifier::WorkspaceState,
    ) -> Result<bool, StoreError> {
        self.inner.swap_workspace_state(expected, state).await
    }
    async fn swap_test_state(
        &self,
        test_id: &TestId,
        expected: u64,
        state: &jira_notifier::TestState,
    ) -> Result<bool, StoreError> {
        self.inner.swap_test_state(test_id, expected, state).await
    }
    async fn load_test_context(&self, test_id: &TestId) -> Result<TestContext, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_test_context(test_id).await
    }
    async fn load_health(&self) -> Result<Health, StoreError> {
        self.check(Op::Load)?;
        self.inner.load_health().await
    }
    async fn record_health(&self, event: &HealthEvent) -> Result<(), StoreError> {
        self.check(Op::Save)?;
        self.inner.record_health(event).await
    }
}

/// A notifier on the harness's server whose store is `store`.
fn worker(h: &Harness, store: &Arc<FlakyStore>) -> JiraNotifier {
    notifier_with(
        store.clone(),
        &h.server.base_url(),
        &h.server.base_url(),
        transport(),
    )
}

fn store_error_kind(e: &Error) -> Option<StoreErrorKind> {
    match e {
        Error::Store(s) => Some(s.kind()),
        _ => None,
    }
}

#[tokio::test]
async fn a_failing_save_leaves_the_old_settings_readable_and_unchanged() {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);
    let before = h
        .store
        .load_settings()
        .await
        .unwrap()
        .expect("saved settings");
    let token = h.mock_token(TOKEN).await;
    let project = h.mock_project(PROJECT_KEY, PROJECT_ID).await;
    let permissions = h.mock_permissions(PROJECT_KEY, &ALL_PERMISSIONS).await;
    let types = h
        .mock_issue_types(PROJECT_KEY, 0, qa_issue_types(), 2)
        .await;
    let screen = h
        .mock_screen(PROJECT_KEY, BUG_ID, 0, full_screen(), 7)
        .await;
    let new = Settings::new(PROJECT_KEY)
        .with_label_prefix("tc-")
        .with_labels(["nightly"]);

    for kind in [StoreErrorKind::Unavailable, StoreErrorKind::Corrupt] {
        store.fail(Op::Save, kind);
        let err = notifier.save_settings(new.clone()).await.unwrap_err();
        assert_eq!(store_error_kind(&err), Some(kind), "{err:?}");
        assert_eq!(err.is_retryable(), kind == StoreErrorKind::Unavailable);
        store.heal();
        assert_eq!(
            h.store.load_settings().await.unwrap().as_ref(),
            Some(&before)
        );
        assert_eq!(
            notifier.settings().await.unwrap().as_ref(),
            Some(&before.settings)
        );
    }

    // Healthy again: saved whole.
    let saved = notifier.save_settings(new.clone()).await.unwrap();
    assert_eq!(saved.settings.label_prefix, "tc-");
    assert_eq!(h.store.load_settings().await.unwrap(), Some(saved));
    token.assert_calls_async(1).await;
    project.assert_calls_async(3).await;
    permissions.assert_calls_async(3).await;
    types.assert_calls_async(3).await;
    screen.assert_calls_async(3).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn connecting_to_another_site_while_saves_fail_keeps_the_old_site_and_its_settings() {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);
    let settings = h
        .store
        .load_settings()
        .await
        .unwrap()
        .expect("saved settings");
    h.mock_token(TOKEN).await;
    h.mock_sites(
        TOKEN,
        json!([site_resource(
            "0b7e3d2c-5555-4a2b-9c3d-beta00000002",
            "beta"
        )]),
    )
    .await;

    store.fail(Op::Save, StoreErrorKind::Unavailable);
    let err = notifier.connect(creds()).await.unwrap_err();
    assert_eq!(
        store_error_kind(&err),
        Some(StoreErrorKind::Unavailable),
        "{err:?}"
    );
    assert!(err.is_retryable());
    store.heal();

    // Still connected to the old site, whose settings still stand: its failures are
    // still reported, not refused as "not configured".
    let conn = h.store.load_connection().await.unwrap().expect("connected");
    assert_eq!(conn.site, site());
    assert_eq!(h.store.load_settings().await.unwrap(), Some(settings));
    h.assert_no_strays();
}

#[tokio::test]
async fn a_failing_load_in_a_report_is_retryable_and_sends_nothing() {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);

    for kind in [StoreErrorKind::Unavailable, StoreErrorKind::Corrupt] {
        store.fail(Op::Load, kind);
        let err = notifier
            .on_test_error(&checkout(), &failed())
            .await
            .unwrap_err();
        assert_eq!(store_error_kind(&err), Some(kind), "{err:?}");
        assert_eq!(err.is_retryable(), kind == StoreErrorKind::Unavailable);
    }
    // Not even a token was asked for: no request reached the mock server.
    assert_eq!(notifier.token_fetches(), 0);
    assert_eq!(store.calls(Op::Claim), 0);
    h.assert_no_strays();
}

#[tokio::test]
async fn a_failing_claim_is_retryable_and_no_create_reaches_jira() {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);
    h.mock_token(TOKEN).await;
    let search = h.mock_search(TOKEN, LABEL, None, json!([])).await;

    for kind in [StoreErrorKind::Unavailable, StoreErrorKind::Corrupt] {
        store.fail(Op::Claim, kind);
        let err = notifier
            .on_test_error(&checkout(), &failed())
            .await
            .unwrap_err();
        assert_eq!(store_error_kind(&err), Some(kind), "{err:?}");
        assert_eq!(err.is_retryable(), kind == StoreErrorKind::Unavailable);
    }
    // Two duplicate checks, and no create: it would have reached the catch-all.
    search.assert_calls_async(2).await;
    h.assert_no_strays();

    // Healthy again: the report goes through, once.
    store.heal();
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;
    let outcome = notifier
        .on_test_error(&checkout(), &failed())
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}

/// Jira's search lags: the label query does not show QA-42 yet, but QA-42 passed in
/// `reconcileIssues` is judged on current data.
async fn lagging_search(h: &Harness) -> (httpmock::Mock<'_>, httpmock::Mock<'_>) {
    let lagging = h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let current = h
        .mock_search(
            TOKEN,
            LABEL,
            Some(10042),
            json!([found_issue("10042", "QA-42", "new", &[LABEL])]),
        )
        .await;
    (lagging, current)
}

#[tokio::test]
async fn a_failing_release_after_a_create_is_record_not_saved_and_the_next_report_does_not_create_again(
) {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);
    h.mock_token(TOKEN).await;
    let (lagging, current) = lagging_search(&h).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    store.fail(Op::Release, StoreErrorKind::Unavailable);
    let err = notifier
        .on_test_error(&checkout(), &failed())
        .await
        .unwrap_err();
    let Error::RecordNotSaved { issue, error } = &err else {
        panic!("expected RecordNotSaved, got {err:?}");
    };
    // The failure reached Jira, and the host is told which issue it is.
    assert_eq!(issue.key, "QA-42");
    assert_eq!(issue.id, "10042");
    assert_eq!(issue.url, browse("QA-42"));
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("QA-42"), "{err}");
    create.assert_calls_async(1).await;
    assert!(h.store.load_record(&tid(TEST_ID)).await.unwrap().is_none());

    // The host reports the failure again once the store is back, while Jira's search
    // still lags: the issue is found, not made again, and recorded this time.
    store.heal();
    let outcome = notifier
        .on_test_error(&checkout(), &failed())
        .await
        .unwrap();
    let Outcome::Duplicate(again) = &outcome else {
        panic!("expected Duplicate of QA-42, got {outcome:?}");
    };
    assert_eq!(again.key, "QA-42");
    create.assert_calls_async(1).await;
    assert_eq!(
        h.store
            .load_record(&tid(TEST_ID))
            .await
            .unwrap()
            .map(|r| r.issue_key),
        Some("QA-42".to_owned())
    );
    lagging.assert_calls_async(1).await;
    current.assert_calls_async(1).await;
    h.assert_no_strays();
}

#[tokio::test]
async fn a_corrupt_store_at_release_is_record_not_saved_and_not_retryable() {
    let h = Harness::start().await;
    h.ready().await;
    let store = FlakyStore::new(h.store.clone());
    let notifier = worker(&h, &store);
    h.mock_token(TOKEN).await;
    h.mock_search(TOKEN, LABEL, None, json!([])).await;
    let create = h
        .mock_create(TOKEN, checkout_create(&[LABEL], None), "10042", "QA-42")
        .await;

    store.fail(Op::Release, StoreErrorKind::Corrupt);
    let err = notifier
        .on_test_error(&checkout(), &failed())
        .await
        .unwrap_err();
    let Error::RecordNotSaved { issue, error } = &err else {
        panic!("expected RecordNotSaved, got {err:?}");
    };
    assert_eq!(issue.key, "QA-42");
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);
    assert!(!err.is_retryable());
    // A corrupt store is not asked again: a person must look.
    assert_eq!(store.calls(Op::Release), 1);
    create.assert_calls_async(1).await;
    h.assert_no_strays();
}
