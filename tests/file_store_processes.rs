//! Two processes writing one `FileStore` file at the same time lose none of each other's
//! updates, and of their compare-and-swaps of the workspace state each version is won by
//! one of them only. The test re-runs its own binary as the writers: when `CHILD_PATH` is
//! set, the test is a writer instead of the parent.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jira_notifier::{ConfigStore, FileStore, IssueRecord, Versioned, WorkspaceState};

const TEST_NAME: &str = "two_processes_on_one_file_lose_no_update";
const CHILD_PATH: &str = "JIRA_NOTIFIER_TEST_STORE_PATH";
const CHILD_NAME: &str = "JIRA_NOTIFIER_TEST_WRITER_NAME";
const CHILD_COUNT: &str = "JIRA_NOTIFIER_TEST_WRITER_COUNT";
const WRITERS: [&str; 2] = ["first", "second"];
const RECORDS_PER_WRITER: usize = 60;

fn record(writer: &str, n: usize) -> IssueRecord {
    IssueRecord::new(format!("{n}"), format!("QA-{n}"), format!("{writer}-{n}"))
}

/// A workspace state told apart by `n` (its content is the crate's; serde reads it).
fn workspace_state(n: u64) -> WorkspaceState {
    serde_json::from_value(serde_json::json!({ "storm": { "created": [n] } })).unwrap()
}

/// Where a writer lists the workspace state versions its swaps won.
fn won_file(store: &Path, writer: &str) -> PathBuf {
    store.with_file_name(format!("won-{writer}"))
}

fn go_file(store: &Path) -> PathBuf {
    store.with_file_name("go")
}

fn ready_file(store: &Path, writer: &str) -> PathBuf {
    store.with_file_name(format!("ready-{writer}"))
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A writer: once both writers are started, saves its records one after the other, and
/// after each moves the workspace state on by one (reading and swapping until a swap
/// wins), then lists the versions it won.
fn run_writer(path: PathBuf) {
    let name = env::var(CHILD_NAME).unwrap();
    let count: usize = env::var(CHILD_COUNT).unwrap().parse().unwrap();
    std::fs::write(ready_file(&path, &name), "").unwrap();
    wait_for(&go_file(&path));

    // One write at a time: a lost update can only come from the other process.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = FileStore::open(&path).unwrap();
        let mut won = Vec::new();
        for n in 0..count {
            let id = format!("{name}-{n}");
            store
                .save_record(&tid(&id), &record(&name, n))
                .await
                .unwrap();
            loop {
                let read = store.load_workspace_state().await.unwrap();
                let next = workspace_state(read.version + 1);
                if store
                    .swap_workspace_state(read.version, &next)
                    .await
                    .unwrap()
                {
                    won.push((read.version + 1).to_string());
                    break;
                }
            }
        }
        std::fs::write(won_file(&path, &name), won.join("\n")).unwrap();
    });
}

#[test]
fn two_processes_on_one_file_lose_no_update() {
    if let Some(path) = env::var_os(CHILD_PATH) {
        run_writer(PathBuf::from(path));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    let exe = env::current_exe().unwrap();
    let children: Vec<_> = WRITERS
        .iter()
        .map(|name| {
            Command::new(&exe)
                .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_PATH, &path)
                .env(CHILD_NAME, name)
                .env(CHILD_COUNT, RECORDS_PER_WRITER.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();

    // Start both at once, so that their writes overlap.
    for name in WRITERS {
        wait_for(&ready_file(&path, name));
    }
    std::fs::write(go_file(&path), "").unwrap();

    for (name, child) in WRITERS.iter().zip(children) {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "writer {name} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = FileStore::open(&path).unwrap();
        for name in WRITERS {
            for n in 0..RECORDS_PER_WRITER {
                let got = store
                    .load_record(&tid(format!("{name}-{n}")))
                    .await
                    .unwrap();
                assert_eq!(got, Some(record(name, n)), "{name}-{n} was lost");
            }
        }
        // Every swap moved the version on by one: none was lost, none won twice.
        let total = (WRITERS.len() * RECORDS_PER_WRITER) as u64;
        assert_eq!(
            store.load_workspace_state().await.unwrap(),
            Versioned::new(total, workspace_state(total))
        );
    });
    let mut won: Vec<u64> = WRITERS
        .iter()
        .flat_map(|name| {
            let list = std::fs::read_to_string(won_file(&path, name)).unwrap();
            list.lines()
                .map(|v| v.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    won.sort_unstable();
    let total = (WRITERS.len() * RECORDS_PER_WRITER) as u64;
    assert_eq!(won, (1..=total).collect::<Vec<_>>());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        json["records"].as_object().unwrap().len(),
        WRITERS.len() * RECORDS_PER_WRITER
    );
}

/// A test id, as the notifier hands it to a store.
fn tid(id: impl AsRef<str>) -> jira_notifier::TestId {
    jira_notifier::TestId::new(id.as_ref())
}
