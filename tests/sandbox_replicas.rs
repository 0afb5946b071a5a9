//! Many concurrent `sandbox fail` processes sharing one state file, against the simulated
//! Jira served over real HTTP with a lagging search: exactly one issue per failing test.
//!
//! Like `sandbox_cli.rs`, it needs the built example (`cargo build --example sandbox`, or a
//! plain `cargo test`) and is skipped, with the reason printed, when it is missing or stale.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jira_notifier::sim::{SimJira, StatusCategory};
use jira_notifier::{HttpRequest, HttpTransport, Method};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const TEST_IDS: [&str; 3] = ["alpha", "beta", "gamma"];
const REPLICAS: usize = 8;

#[path = "common/sandbox_binary.rs"]
mod sandbox_binary;
use sandbox_binary::sandbox_binary;

/// Serves `sim` over HTTP/1.1 (keep-alive, `content-length` bodies) until aborted.
async fn serve(listener: TcpListener, sim: SimJira) {
    let port = listener.local_addr().unwrap().port();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            let _ = connection(stream, sim, port).await;
        });
    }
}

/// Answers the requests of one connection until EOF, a malformed request or a transport
/// fault from the simulator.
async fn connection(stream: TcpStream, sim: SimJira, port: u16) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = match parts.next() {
            Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            _ => return Ok(()),
        };
        let Some(target) = parts.next() else {
            return Ok(());
        };
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if read.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Ok(());
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        let Ok(url) = url::Url::parse(&format!("http://127.0.0.1:{port}{target}")) else {
            return Ok(());
        };
        let request = HttpRequest {
            method,
            url,
            headers,
            body: (length > 0).then_some(body),
        };
        let Ok(response) = sim.send(request).await else {
            return Ok(());
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            response.status,
            response.body.len()
        );
        for (name, value) in &response.headers {
            if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding")
            {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        write.write_all(&response.body).await?;
        write.flush().await?;
    }
}

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
    let bin = match sandbox_binary() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("skipped: {why}; run `cargo build --example sandbox` first");
            return;
        }
    };
    let sim = SimJira::new();
    sim.set_search_lag(Duration::from_secs(2));
    sim.set_latency(Duration::from_millis(20));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, sim.clone()));
    let sandbox = Sandbox {
        bin,
        dir: tempfile::tempdir().unwrap(),
        base_url: format!("http://127.0.0.1:{port}"),
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

    server.abort();
}
