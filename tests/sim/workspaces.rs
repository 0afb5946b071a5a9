//! Many workspaces in one process: one engine, a handle per workspace, each on its own
//! scoped store. Workspaces never see each other's settings, overrides or records, the
//! same test id in two workspaces is two tests, and a credential they share costs one
//! token.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    ConfigStore, Credentials, FileStore, MemoryStore, NotifierEngine, Outcome, Settings,
    TestOverride, WorkspaceId,
};
use jira_notifier_sim::SimJira;

use crate::support::*;

fn engine(jira: &SimJira) -> NotifierEngine {
    NotifierEngine::builder()
        .transport(jira.clone())
        .retry_policy(policy(Duration::from_secs(8)))
        .build()
        .expect("engine")
}

fn creds() -> Credentials {
    Credentials::new(SimJira::CLIENT_ID, SimJira::CLIENT_SECRET.to_owned())
}

/// Two workspaces on one site, told apart by their label prefixes (as two teams sharing a
/// Jira would be), through `stores`, a store per workspace.
async fn two_workspaces(stores: [Arc<dyn ConfigStore>; 2]) {
    let jira = SimJira::new();
    let engine = engine(&jira);
    let [a_store, b_store] = stores;
    let a = engine.notifier("team-a", a_store);
    let b = engine.notifier("team-b", b_store);
    a.connect(creds()).await.unwrap();
    b.connect(creds()).await.unwrap();
    a.save_settings(Settings::new("QA").with_label_prefix("a-"))
        .await
        .unwrap();
    b.save_settings(
        Settings::new("OPS")
            .with_issue_type("Task")
            .with_label_prefix("b-"),
    )
    .await
    .unwrap();
    b.set_override("login", TestOverride::disabled())
        .await
        .unwrap();

    assert_eq!(a.settings().await.unwrap().unwrap().project_key, "QA");
    assert_eq!(b.settings().await.unwrap().unwrap().project_key, "OPS");
    assert_eq!(a.test_override("login").await.unwrap(), None);

    // The same test id: two tests. A files in QA; B's override holds for B only.
    let in_a = a.on_test_error(&test("login"), &failed()).await.unwrap();
    assert!(
        matches!(&in_a, Outcome::Created(i) if i.key.starts_with("QA-")),
        "{in_a:?}"
    );
    assert_eq!(
        b.on_test_error(&test("login"), &failed()).await.unwrap(),
        Outcome::Disabled
    );
    let in_b = b.on_test_error(&test("checkout"), &failed()).await.unwrap();
    assert!(
        matches!(&in_b, Outcome::Created(i) if i.key.starts_with("OPS-")),
        "{in_b:?}"
    );
    let again = a.on_test_error(&test("checkout"), &failed()).await.unwrap();
    assert!(
        matches!(&again, Outcome::Created(i) if i.key.starts_with("QA-")),
        "workspace A took B's issue for its own: {again:?}"
    );
    assert_eq!(jira.issues().len(), 3);
    // Repeats stay within their workspace.
    let repeat = b.on_test_error(&test("checkout"), &failed()).await.unwrap();
    assert_eq!(repeat, Outcome::Duplicate(in_b.issue().unwrap().clone()));

    // One credential, one token, whichever workspace asked first.
    assert_eq!(a.token_fetches(), 1);

    // Disconnecting one workspace leaves the other connected.
    a.disconnect().await.unwrap();
    assert_eq!(
        a.on_test_error(&test("other"), &failed()).await.unwrap(),
        Outcome::NotConnected
    );
    let still = b.on_test_error(&test("checkout"), &failed()).await.unwrap();
    assert!(matches!(still, Outcome::Duplicate(_)), "{still:?}");
}

#[tokio::test]
async fn memory_store_workspaces_stay_apart() {
    let memory = MemoryStore::new();
    two_workspaces([
        Arc::new(memory.workspace(&WorkspaceId::new("team-a"))),
        Arc::new(memory.workspace(&WorkspaceId::new("team-b"))),
    ])
    .await;
}

#[tokio::test]
async fn file_store_workspaces_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileStore::open(dir.path().join("store.json")).unwrap();
    two_workspaces([
        Arc::new(file.workspace(&WorkspaceId::new("team-a"))),
        Arc::new(file.workspace(&WorkspaceId::new("team-b"))),
    ])
    .await;
}

#[tokio::test]
async fn a_one_workspace_host_keeps_its_two_line_setup_on_the_default_workspace() {
    let jira = SimJira::new();
    let store = Arc::new(MemoryStore::new());
    let n = notifier(store.clone(), &jira, Duration::from_secs(60));
    assert!(n.workspace().is_default());
    setup(&n).await;
    // What the default handle wrote is the default workspace of the store.
    let default = store.workspace(&WorkspaceId::default());
    assert!(default.load_settings().await.unwrap().is_some());
    assert!(store
        .workspace(&WorkspaceId::new("other"))
        .load_settings()
        .await
        .unwrap()
        .is_none());
}
