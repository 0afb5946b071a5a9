//! `sandbox` against the simulated Jira served over real HTTP (issue 13): the noise
//! options of `configure` and `override` (`--min-failures`, `--storm-limit`,
//! `--split-by-environment`) and `--attach-on-repeat`, and what `fail` does with them and
//! with its evidence (`--env`, `--run-url`, `--commit`, `--branch`, `--attach FILE`).
//!
//! The simulated Jira is served by `jira_notifier_sim::SimServer`; the binary is the one
//! Cargo builds for these tests (`CARGO_BIN_EXE_sandbox`).
//!
//! Tests marked "Needs the engine" check what the library does with the options (count,
//! group, split, attach): they pass once the noise and attachment engine is merged; the
//! others check the command line alone.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use jira_notifier_sim::{SimJira, SimServer};

/// One finished run of the tool.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The output of a run that succeeded and warned of nothing.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        &self.stdout
    }

    /// The one-line error of a failed run.
    fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        self.stderr.trim_end()
    }

    /// The one stdout line and the warnings of a run that succeeded with warnings.
    fn warned(&self) -> (&str, Vec<&str>) {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stdout.lines().count(), 1, "{self:?}");
        let warnings: Vec<&str> = self.stderr.lines().collect();
        for w in &warnings {
            assert!(w.starts_with("warning: "), "{self:?}");
        }
        (self.stdout.trim_end(), warnings)
    }
}

/// The tool on a state file in a fresh folder, pointed at the simulated Jira.
struct Sandbox {
    bin: PathBuf,
    dir: tempfile::TempDir,
    base_url: String,
}

impl Sandbox {
    fn new(server: &SimServer) -> Sandbox {
        Sandbox {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_sandbox")),
            dir: tempfile::tempdir().unwrap(),
            base_url: server.url(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// A file in the sandbox's folder, for `--attach`.
    fn file(&self, name: &str, content: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Runs `sandbox --state <tempdir>/state.json ARGS`, off the runtime's workers (the
    /// simulated Jira is served on them).
    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.dir.path())
            .env("JIRA_CLIENT_ID", SimJira::CLIENT_ID)
            .env("JIRA_CLIENT_SECRET", SimJira::CLIENT_SECRET)
            .env("JIRA_AUTH_URL", &self.base_url)
            .env("JIRA_API_URL", &self.base_url)
            .env_remove("JIRA_SITE")
            .arg("--state")
            .arg(self.state())
            .args(args)
            .stdin(Stdio::null());
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
            cmd.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        let output = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("the sandbox binary runs");
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        };
        assert!(
            !run.stdout.contains(SimJira::CLIENT_SECRET)
                && !run.stderr.contains(SimJira::CLIENT_SECRET),
            "the secret leaked: {run:?}"
        );
        run
    }

    /// Connects and saves `configure --project QA` with `options`.
    async fn set_up(&self, options: &[&str]) {
        self.run(&["connect"]).await.ok();
        let mut line = vec!["configure", "--project", "QA"];
        line.extend_from_slice(options);
        let run = self.run(&line).await;
        assert_eq!(run.code, Some(0), "{run:?}");
    }
}

async fn start_sim() -> (SimJira, SimServer) {
    let sim = SimJira::new();
    let server = SimServer::start(sim.clone()).await.unwrap();
    (sim, server)
}

/// The line `configure` prints for the settings these tests save.
const SAVED_QA: &str =
    "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels=";

/// The lifecycle line of the default lifecycle.
const DEFAULT_LIFECYCLE: &str = "lifecycle on-repeat=nothing comment-every=3600 on-pass=nothing \
                                 passes-to-resolve=1 resolve-transition=(default) \
                                 resolution=(default) reopen-within=0 \
                                 reopen-transition=(default) mute-resolutions=";

/// `created KEY URL` or `grouped KEY URL`: the verb, the key and the URL.
fn words(line: &str) -> (&str, &str, &str) {
    let mut words = line.trim_end().split(' ');
    let parts = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    assert_eq!(words.next(), None, "{line:?}");
    parts
}

/// The key of the issue a `fail` created.
fn created_key(run: &Run) -> String {
    let (verb, key, url) = words(run.ok());
    assert_eq!(verb, "created", "{run:?}");
    assert!(url.ends_with(&format!("/browse/{key}")), "{run:?}");
    key.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_options_are_saved_printed_and_kept() {
    let (_sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.run(&["connect"]).await.ok();

    // Without noise options and with the default noise control: the one line as before.
    assert_eq!(
        sb.run(&["configure", "--project", "QA"]).await.ok(),
        format!("{SAVED_QA}\n")
    );
    let line = [
        "configure",
        "--min-failures",
        "3",
        "--storm-limit",
        "10/600",
    ];
    let noisy = "noise min-failures=3 storm-limit=10/600 split-by-environment=no";
    assert_eq!(sb.run(&line).await.ok(), format!("{SAVED_QA}\n{noisy}\n"));
    // Other options keep noise control, and show it while it is not the default.
    assert_eq!(
        sb.run(&["configure", "--labels", "a"]).await.ok(),
        format!("{SAVED_QA}a\n{noisy}\n")
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state()).unwrap()).unwrap();
    assert_eq!(
        state["settings"]["settings"]["noise"]["min_failures"], 3,
        "{state}"
    );
    // With the lifecycle line: the noise line comes after it; attach-on-repeat ends it.
    let line = [
        "configure",
        "--split-by-environment=yes",
        "--attach-on-repeat",
        "yes",
    ];
    assert_eq!(
        sb.run(&line).await.ok(),
        format!(
            "{SAVED_QA}a\n{DEFAULT_LIFECYCLE} attach-on-repeat=yes\n\
             noise min-failures=3 storm-limit=10/600 split-by-environment=yes\n"
        )
    );
    // Back to the defaults: the lines show while options are given…
    let line = [
        "configure",
        "--min-failures",
        "1",
        "--storm-limit",
        "",
        "--split-by-environment",
        "no",
        "--attach-on-repeat=no",
    ];
    assert_eq!(
        sb.run(&line).await.ok(),
        format!(
            "{SAVED_QA}a\n{DEFAULT_LIFECYCLE} attach-on-repeat=no\n\
             noise min-failures=1 storm-limit=off split-by-environment=no\n"
        )
    );
    // …and not otherwise: the output of a configure as before issue 13.
    assert_eq!(
        sb.run(&["configure", "--labels="]).await.ok(),
        format!("{SAVED_QA}\n")
    );
    // A lifecycle option alone: the lifecycle line as before, without attach-on-repeat.
    assert_eq!(
        sb.run(&["configure", "--on-pass", "nothing"]).await.ok(),
        format!("{SAVED_QA}\n{DEFAULT_LIFECYCLE}\n")
    );

    // An override sets only what it names; "" keeps the test out of the storm guard.
    let saved_t1 = "saved enabled=true project=(global) assignee=(global) labels=";
    let line = ["override", "t1", "--storm-limit", "", "--min-failures", "2"];
    let overridden = "noise min-failures=2 storm-limit=off split-by-environment=(global)";
    assert_eq!(
        sb.run(&line).await.ok(),
        format!("{saved_t1}\n{overridden}\n")
    );
    assert_eq!(
        sb.run(&["override", "t1", "--labels", "x"]).await.ok(),
        format!("{saved_t1}x\n{overridden}\n")
    );
    let line = ["override", "t1", "--attach-on-repeat", "no"];
    let lifecycle_t1 = "lifecycle on-repeat=(global) comment-every=(global) on-pass=(global) \
                        passes-to-resolve=(global) resolve-transition=(global) \
                        resolution=(global) reopen-within=(global) \
                        reopen-transition=(global) mute-resolutions=(global) \
                        attach-on-repeat=no";
    assert_eq!(
        sb.run(&line).await.ok(),
        format!("{saved_t1}x\n{lifecycle_t1}\n{overridden}\n")
    );
    // Without noise options and with none saved: the one line as before.
    assert_eq!(
        sb.run(&["override", "t2", "--labels", "y"]).await.ok(),
        format!("{saved_t1}y\n")
    );
    assert_eq!(
        sb.run(&["override", "t1", "--clear"]).await.ok(),
        "cleared\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_noise_value_is_a_usage_error_and_saves_nothing() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&["--min-failures", "2"]).await;
    sb.run(&["override", "t1", "--storm-limit", "5/60"])
        .await
        .ok();
    let before = std::fs::read(sb.state()).unwrap();
    let missing = sb.dir.path().join("missing.log");
    let missing = missing.to_str().unwrap();
    let good = sb.file("good.txt", b"fine");

    for (args, problem) in [
        (
            &["configure", "--min-failures", "0"][..],
            "--min-failures takes a whole number from 1 to 4294967295, not \"0\"".to_owned(),
        ),
        (
            &["configure", "--storm-limit", "0/60", "--labels", "a"],
            "--storm-limit takes N/SECONDS with both whole numbers of at least 1 (\"\": off), \
             not \"0/60\""
                .to_owned(),
        ),
        (
            &["override", "t1", "--storm-limit", "10 per minute"],
            "--storm-limit takes N/SECONDS with both whole numbers of at least 1 (\"\": off), \
             not \"10 per minute\""
                .to_owned(),
        ),
        (
            &["configure", "--split-by-environment", "maybe"],
            "--split-by-environment takes yes or no, not \"maybe\"".to_owned(),
        ),
        (
            &["override", "t1", "--attach-on-repeat", "true"],
            "--attach-on-repeat takes yes or no, not \"true\"".to_owned(),
        ),
        (
            &["configure", "--min-failures", "2", "--min-failures", "3"],
            "--min-failures is given twice".to_owned(),
        ),
        (
            &["override", "t1", "--clear", "--split-by-environment", "yes"],
            "--clear takes no other option".to_owned(),
        ),
        (
            &["fail", "t1", "--storm-limit", "1/60"],
            "--storm-limit is not an option of `fail`".to_owned(),
        ),
        (
            &["pass", "t1", "--attach", "run.log"],
            "--attach is not an option of `pass`".to_owned(),
        ),
        // A file that cannot be read: nothing is sent, not even the files that can.
        (
            &["fail", "t1", "--attach", &good, "--attach", missing],
            format!("--attach cannot read {missing:?}: No such file or directory (os error 2)"),
        ),
    ] {
        let run = sb.run(args).await;
        assert_eq!(
            run.error(2),
            format!("error: {problem}; run `sandbox --help` for usage"),
            "{args:?}"
        );
    }
    assert_eq!(std::fs::read(sb.state()).unwrap(), before);
    assert!(sim.issues().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_files_fail_and_pass_answer_as_before_and_take_an_environment() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&[]).await;
    let key = created_key(&sb.run(&["fail", "t1", "--message", "boom"]).await);
    let run = sb.run(&["fail", "t1"]).await;
    let (verb, again, _) = words(run.ok());
    assert_eq!((verb, again), ("duplicate", key.as_str()));
    assert_eq!(
        sb.run(&["pass", "t1", "--env", "prod"]).await.ok(),
        "ignored\n"
    );
    assert!(sim.attachments(&key).is_empty());
}

// Needs the engine: the count below `min_failures` (`Outcome::Counted`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_failures_counts_failures_before_filing_the_issue() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&["--min-failures", "3"]).await;

    assert_eq!(sb.run(&["fail", "t1"]).await.ok(), "counted 1/3\n");
    assert_eq!(sb.run(&["fail", "t1"]).await.ok(), "counted 2/3\n");
    assert!(sim.issues().is_empty(), "counting sends no issue");
    let key = created_key(&sb.run(&["fail", "t1"]).await);
    let issues = sim.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, key);
}

// Needs the engine: the first failure's files uploaded to the issue it files, a repeat's
// only under `attach_on_repeat`, and the evidence in the description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_files_land_on_the_issue_the_failure_files() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&[]).await;
    let log = sb.file("run.log", b"step 1 ok\nstep 2 failed\n");
    let har = sb.file("network.har", br#"{"log":{"entries":[]}}"#);

    let line = [
        "fail",
        "t1",
        "--run-url",
        "https://ci.example.com/runs/812",
        "--commit",
        "4f2a9c1",
        "--branch",
        "release-7",
        "--attach",
        &log,
        "--attach",
        &har,
    ];
    let key = created_key(&sb.run(&line).await);
    let files = sim.attachments(&key);
    let got: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|a| {
            (
                a.filename.as_str(),
                a.mime_type.as_str(),
                a.content.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "run.log",
                "text/plain",
                b"step 1 ok\nstep 2 failed\n".as_slice()
            ),
            (
                "network.har",
                "application/json",
                br#"{"log":{"entries":[]}}"#.as_slice()
            ),
        ]
    );
    let description = sim.issue(&key).unwrap().description.to_string();
    for evidence in ["https://ci.example.com/runs/812", "4f2a9c1", "release-7"] {
        assert!(description.contains(evidence), "{evidence}: {description}");
    }

    // A repeat attaches nothing by default: one warning, stdout as before.
    let run = sb.run(&["fail", "t1", "--attach", &log]).await;
    let (line, warnings) = run.warned();
    assert_eq!(words(line).0, "duplicate", "{run:?}");
    assert_eq!(
        warnings,
        [
            "warning: attachment run.log not attached: a repeat failure attaches nothing \
          (attach_on_repeat is off)"
        ],
        "{run:?}"
    );
    assert_eq!(sim.attachments(&key).len(), 2);

    // Under --attach-on-repeat yes, it does, saying nothing more.
    sb.run(&["configure", "--attach-on-repeat", "yes"])
        .await
        .ok();
    let run = sb.run(&["fail", "t1", "--attach", &log]).await;
    let (verb, again, _) = words(run.ok());
    assert_eq!((verb, again), ("duplicate", key.as_str()));
    assert_eq!(sim.attachments(&key).len(), 3);
}

/// The checks of a `fail` whose files were not all attached: one `created` line on
/// stdout, one warning per file not attached, exit status 0.
fn created_with_warnings(run: &Run, not_attached: &[&str]) -> String {
    let (line, warnings) = run.warned();
    let (verb, key, _) = words(line);
    assert_eq!(verb, "created", "{run:?}");
    assert_eq!(warnings.len(), not_attached.len(), "{run:?}");
    for (warning, name) in warnings.iter().zip(not_attached) {
        let prefix = format!("warning: attachment {name} not attached: ");
        assert!(warning.starts_with(&prefix), "{run:?}");
        // The issue was filed: the file was refused, not left without an issue.
        assert!(!warning.contains("no issue"), "{run:?}");
    }
    key.to_owned()
}

// Needs the engine: files are uploaded once the issue is filed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_jira_refuses_is_a_warning_and_the_failure_still_reported() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&[]).await;
    let small = sb.file("small.txt", b"fits");
    let big = sb.file("big.log", &[b'x'; 2_000]);

    // Over the site's size limit: that file is refused, the other one stored.
    sim.set_attachment_limit(1_000);
    let run = sb
        .run(&["fail", "t1", "--attach", &small, "--attach", &big])
        .await;
    let key = created_with_warnings(&run, &["big.log"]);
    let names: Vec<String> = sim
        .attachments(&key)
        .into_iter()
        .map(|a| a.filename)
        .collect();
    assert_eq!(names, ["small.txt"]);

    // Attachments turned off on the site: refused, one warning, the issue filed.
    sim.set_attachments_enabled(false);
    let run = sb.run(&["fail", "t2", "--attach", &small]).await;
    let key = created_with_warnings(&run, &["small.txt"]);
    assert!(sim.attachments(&key).is_empty());
    assert_eq!(sim.issues().len(), 2);
}

// Needs the engine: `split_by_environment` in the test's identity, the environment in the
// summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_by_environment_files_one_issue_per_environment() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&["--split-by-environment", "yes"]).await;

    let staging = created_key(&sb.run(&["fail", "t1", "--env", "staging"]).await);
    let prod = created_key(&sb.run(&["fail", "t1", "--env", "prod"]).await);
    assert_ne!(staging, prod);
    let summary = |key: &str| sim.issue(key).unwrap().summary;
    assert!(
        summary(&staging).ends_with(" [staging]"),
        "{}",
        summary(&staging)
    );
    assert!(summary(&prod).ends_with(" [prod]"), "{}", summary(&prod));
    // Each environment keeps its own issue.
    let run = sb.run(&["fail", "t1", "--env", "staging"]).await;
    let (verb, again, _) = words(run.ok());
    assert_eq!((verb, again), ("duplicate", staging.as_str()));
    assert_eq!(sim.issues().len(), 2);
}

// Needs the engine: the storm guard (`Outcome::Grouped`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_groups_new_failures_into_one_umbrella_issue() {
    let (sim, server) = start_sim().await;
    let sb = Sandbox::new(&server);
    sb.set_up(&["--storm-limit", "2/600"]).await;

    let first = created_key(&sb.run(&["fail", "t1"]).await);
    let second = created_key(&sb.run(&["fail", "t2"]).await);
    let run = sb.run(&["fail", "t3"]).await;
    let (verb, umbrella, url) = words(run.ok());
    assert_eq!(verb, "grouped", "{run:?}");
    assert!(url.ends_with(&format!("/browse/{umbrella}")), "{run:?}");
    let run = sb.run(&["fail", "t4"]).await;
    assert_eq!(words(run.ok()), ("grouped", umbrella, url), "{run:?}");

    let keys: Vec<String> = sim.issues().into_iter().map(|i| i.key).collect();
    assert!(
        ![first.as_str(), second.as_str()].contains(&umbrella),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k == umbrella), "{keys:?}");
}
