//! Many concurrent `sandbox fail` processes sharing one state file, against the simulated
//! Jira served over real HTTP with a lagging search: exactly one issue per failing test.
//!
//! The simulated Jira is served by `jira_notifier_sim::SimServer`; the binary is the one
//! Cargo builds for these tests (`CARGO_BIN_EXE_sandbox`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jira_notifier_sim::{SimJira, SimServer, StatusCategory};

const TEST_IDS: [&str; 3] = ["alpha", "beta", "gamma"];
const REPLICAS: usize = 8;

/// One finished run of the tool.
#[derive(Debug)]
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(args: &[&str], output: Output) -> Run {
        Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

struct Sandbox {
    bin: PathBuf,
    dir: tempfile::TempDir,
    base_url: String,
}

impl Sandbox {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.dir.path())
            .env("JIRA_CLIENT_ID", SimJira::CLIENT_ID)
            .env("JIRA_CLIENT_SECRET", SimJira::CLIENT_SECRET)
            .env("JIRA_AUTH_URL", &self.base_url)
            .env("JIRA_API_URL", &self.base_url)
            .env_remove("JIRA_SITE")
            .arg("--state")
            .arg(self.dir.path().join("state.json"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
            cmd.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        cmd
    }

    /// Starts every command at once, then waits for them all, off the runtime's workers.
    async fn run_all(&self, commands: &[Vec<&str>]) -> Vec<Run> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| self.command(args).spawn().expect("spawn sandbox"))
            .collect();
        let mut runs = Vec::new();
        for (child, args) in children.into_iter().zip(commands) {
            let output = tokio::task::spawn_blocking(move || child.wait_with_output())
                .await
                .unwrap()
                .expect("wait for sandbox");
            runs.push(Run::from(args, output));
        }
        for run in &runs {
            assert!(
                !run.stdout.contains(SimJira::CLIENT_SECRET)
                    && !run.stderr.contains(SimJira::CLIENT_SECRET),
                "the secret leaked: {run:?}"
            );
        }
        runs
    }

    async fn run(&self, args: &[&str]) -> Run {
        let run = self.run_all(&[args.to_vec()]).await.remove(0);
        assert_eq!(run.code, Some(0), "{run:?}");
        run
    }

    /// `REPLICAS` concurrent `fail ID` per test id; returns the created key per id.
    async fn fail_round(&self) -> BTreeMap<&'static str, String> {
        let commands: Vec<Vec<&str>> = TEST_IDS
            .iter()
            .flat_map(|id| std::iter::repeat_n(vec!["fail", *id], REPLICAS))
            .collect();
        let runs = self.run_all(&commands).await;
        let mut created: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut duplicates: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for run in &runs {
            assert_eq!(run.code, Some(0), "{run:?}");
            let id = TEST_IDS.iter().find(|id| **id == run.args[1]).unwrap();
            let line = run.stdout.lines().next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let (verb, key) = (words.next(), words.next().map(str::to_owned));
            match (verb, key) {
                (Some("created"), Some(key)) => created.entry(id).or_default().push(key),
                (Some("duplicate"), Some(key)) => duplicates.entry(id).or_default().push(key),
                _ => panic!("unexpected output: {run:?}"),
            }
        }
        let mut keys = BTreeMap::new();
        for id in TEST_IDS {
            let made = created.remove(id).unwrap_or_default();
            assert_eq!(made.len(), 1, "created for {id}: {made:?}");
            let key = made[0].clone();
            for dup in duplicates.remove(id).unwrap_or_default() {
                assert_eq!(dup, key, "duplicate for {id} names another issue");
            }
            keys.insert(id, key);
        }
        keys
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_create_one_issue_per_test() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sandbox"));
    let sim = SimJira::new();
    sim.set_search_lag(Duration::from_secs(2));
    sim.set_latency(Duration::from_millis(20));
    let server = SimServer::start(sim.clone()).await.unwrap();
    let sandbox = Sandbox {
        bin,
        dir: tempfile::tempdir().unwrap(),
        base_url: server.url(),
    };

    sandbox.run(&["connect"]).await;
    sandbox.run(&["configure", "--project", "QA"]).await;

    let first = sandbox.fail_round().await;
    let issues = sim.issues();
    assert_eq!(issues.len(), 3, "{issues:?}");
    for id in TEST_IDS {
        let label = format!("testclix-{id}");
        let with_label: Vec<_> = issues
            .iter()
            .filter(|i| i.labels.contains(&label))
            .collect();
        assert_eq!(with_label.len(), 1, "{label}: {issues:?}");
        assert_eq!(with_label[0].key, first[id]);
    }

    for issue in &issues {
        assert!(sim.set_status(&issue.key, StatusCategory::Done));
    }
    let second = sandbox.fail_round().await;
    let issues = sim.issues();
    assert_eq!(issues.len(), 6, "{issues:?}");
    let first_keys: BTreeSet<_> = first.values().collect();
    for id in TEST_IDS {
        assert!(
            !first_keys.contains(&second[id]),
            "{id} reused a closed issue"
        );
        let open = sim.open_issues_with_label(&format!("testclix-{id}"));
        assert_eq!(open.len(), 1, "{id}: {open:?}");
        assert_eq!(open[0].key, second[id]);
    }

    drop(server);
}
