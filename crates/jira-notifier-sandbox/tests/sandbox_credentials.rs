//! `sandbox connect` with each kind of credential against the simulated Jira served over
//! HTTP (`SimServer`): a service account's API token (basic auth through the gateway,
//! `JIRA_API_URL`), a person's API token (basic auth on the site itself, here the
//! simulator's loopback address), and client credentials as before; then the whole story
//! (projects, configure, fail, duplicate, disconnect) on the stored connection.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use jira_notifier_sim::{SimJira, SimServer};

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        &self.stdout
    }

    fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        self.stderr.trim_end()
    }
}

struct Sandbox {
    dir: tempfile::TempDir,
    base_url: String,
    env: Vec<(&'static str, String)>,
}

impl Sandbox {
    fn new(server: &SimServer, env: &[(&'static str, &str)]) -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            base_url: server.url(),
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    /// Runs one command off the runtime's workers (the simulator serves on them).
    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_sandbox")));
        cmd.current_dir(self.dir.path())
            .env("JIRA_AUTH_URL", &self.base_url)
            .env("JIRA_API_URL", &self.base_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in [
            "JIRA_SITE",
            "JIRA_CLIENT_ID",
            "JIRA_CLIENT_SECRET",
            "JIRA_EMAIL",
            "JIRA_API_TOKEN",
        ] {
            cmd.env_remove(name);
        }
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
            cmd.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.args(args);
        let output = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("run sandbox");
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for secret in [
            SimJira::CLIENT_SECRET,
            SimJira::SERVICE_ACCOUNT_API_TOKEN,
            SimJira::PERSONAL_API_TOKEN,
            "wrong-token-value",
        ] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret leaked: {run:?}"
            );
        }
        run
    }

    /// The story after connecting: projects, configure, a failure, its duplicate,
    /// disconnect. Returns the created issue's line.
    async fn story(&self) -> String {
        let projects = self.run(&["projects"]).await;
        assert_eq!(
            projects.ok(),
            "OPS\tOperations\nQA\tQuality Assurance\n",
            "{projects:?}"
        );
        self.run(&["configure", "--project", "QA"]).await.ok();
        let created = self.run(&["fail", "login-1"]).await.ok().to_owned();
        assert!(created.starts_with("created QA-1 "), "{created}");
        let again = self.run(&["fail", "login-1"]).await;
        assert!(again.ok().starts_with("duplicate QA-1 "), "{again:?}");
        assert_eq!(self.run(&["disconnect"]).await.ok(), "disconnected\n");
        created
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_accounts_api_token_connects_by_site_url_and_runs_the_story() {
    let sim = SimJira::new();
    let server = SimServer::start(sim.clone()).await.unwrap();
    let sb = Sandbox::new(
        &server,
        &[
            ("JIRA_EMAIL", SimJira::SERVICE_ACCOUNT_EMAIL),
            ("JIRA_API_TOKEN", SimJira::SERVICE_ACCOUNT_API_TOKEN),
        ],
    );
    // The email says whose token it is; `--token-kind service` says it outright.
    let site = server.url();
    for args in [
        vec!["connect", "--site", &site],
        vec!["connect", "--site", &site, "--token-kind", "service"],
    ] {
        let run = sb.run(&args).await;
        assert_eq!(run.ok(), format!("connected to 127 {site}\n"));
    }
    let created = sb.story().await;
    assert!(
        created.trim_end().ends_with(&format!("{site}/browse/QA-1")),
        "{created}"
    );
    // Every Jira call went through the gateway, with basic auth; no token was asked for.
    let log = sim.requests();
    assert!(log.iter().all(|r| r.path != "/oauth/token"));
    assert!(log
        .iter()
        .filter(|r| r.path.contains("/rest/api/3/"))
        .all(|r| r.path.starts_with("/ex/jira/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_api_token_connects_to_the_site_itself_and_runs_the_story() {
    let sim = SimJira::new();
    let server = SimServer::start(sim.clone()).await.unwrap();
    let sb = Sandbox::new(
        &server,
        &[
            ("JIRA_EMAIL", SimJira::PERSON_EMAIL),
            ("JIRA_API_TOKEN", SimJira::PERSONAL_API_TOKEN),
            // Client credentials set too: --token-kind picks the API token.
            ("JIRA_CLIENT_ID", SimJira::CLIENT_ID),
            ("JIRA_CLIENT_SECRET", SimJira::CLIENT_SECRET),
        ],
    );
    let site = server.url();
    let run = sb
        .run(&["connect", "--site", &site, "--token-kind", "personal"])
        .await;
    assert_eq!(run.ok(), format!("connected to 127 {site}\n"));
    sb.story().await;
    let log = sim.requests();
    assert!(log.iter().all(|r| r.path != "/oauth/token"));
    assert!(log
        .iter()
        .filter(|r| r.path.contains("/rest/api/3/"))
        .all(|r| r.path.starts_with("/rest/api/3/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_token_is_refused_naming_the_kind_and_client_credentials_stay_the_default() {
    let sim = SimJira::new();
    let server = SimServer::start(sim.clone()).await.unwrap();
    let site = server.url();
    for (email, kind, said) in [
        (
            SimJira::SERVICE_ACCOUNT_EMAIL,
            "service",
            format!(
                "error: the API token of service account {} was refused (401)",
                SimJira::SERVICE_ACCOUNT_EMAIL
            ),
        ),
        (
            SimJira::PERSON_EMAIL,
            "personal",
            format!(
                "error: the personal API token of {} was refused (401)",
                SimJira::PERSON_EMAIL
            ),
        ),
    ] {
        let sb = Sandbox::new(
            &server,
            &[
                ("JIRA_EMAIL", email),
                ("JIRA_API_TOKEN", "wrong-token-value"),
            ],
        );
        let run = sb
            .run(&["connect", "--site", &site, "--token-kind", kind])
            .await;
        assert!(run.error(1).starts_with(&said), "{run:?}");
        // Nothing was stored.
        assert!(sb
            .run(&["projects"])
            .await
            .error(1)
            .contains("not connected"));
        // An API token needs the site.
        let run = sb.run(&["connect", "--token-kind", kind]).await;
        assert!(run.error(1).contains("--site"), "{run:?}");
    }
    // With client credentials set (and no --token-kind), connect uses them as before.
    let sb = Sandbox::new(
        &server,
        &[
            ("JIRA_CLIENT_ID", SimJira::CLIENT_ID),
            ("JIRA_CLIENT_SECRET", SimJira::CLIENT_SECRET),
            ("JIRA_EMAIL", SimJira::PERSON_EMAIL),
            ("JIRA_API_TOKEN", "wrong-token-value"),
        ],
    );
    let run = sb.run(&["connect"]).await;
    assert_eq!(run.ok(), "connected to acme https://acme.atlassian.net\n");
}
