//! Drives the `sandbox` binary (Cargo builds it for these tests and names it in
//! `CARGO_BIN_EXE_sandbox`) command by command against an httpmock stand-in for Atlassian,
//! the way a person or a script would.

use std::path::PathBuf;
use std::process::Command;

use httpmock::prelude::*;
use serde_json::json;

const CLIENT_ID: &str = "client-1";
const SECRET: &str = "sandbox-secret-5f2c81";
const TOKEN: &str = "sandbox-token-9a1e47";
const CLOUD: &str = "cloud-1";
/// A test id a shell would need quoting for: quotes, a backslash, spaces, non-ASCII.
const HOSTILE_ID: &str = "checkout \"flow\" \\ 'é' — ünïcode";

/// The binary under test.
fn sandbox_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sandbox"))
}

/// One run of the tool.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        &self.stdout
    }

    /// The one-line error of a failed run.
    fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        assert!(self.stderr.ends_with('\n'), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        self.stderr.trim_end()
    }
}

/// The tool pointed at a stand-in, with its state in a fresh folder.
struct Sandbox {
    bin: PathBuf,
    dir: tempfile::TempDir,
    auth_url: String,
    api_url: String,
}

impl Sandbox {
    fn new(bin: PathBuf, server: &MockServer) -> Sandbox {
        Sandbox {
            bin,
            dir: tempfile::tempdir().unwrap(),
            auth_url: server.base_url(),
            // A path prefix on the gateway, as behind a proxy.
            api_url: server.url("/gw"),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.dir.path())
            .env("JIRA_CLIENT_ID", CLIENT_ID)
            .env("JIRA_CLIENT_SECRET", SECRET)
            .env("JIRA_AUTH_URL", &self.auth_url)
            .env("JIRA_API_URL", &self.api_url)
            .env_remove("JIRA_SITE");
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            cmd.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        cmd
    }

    /// Runs `sandbox --state <tempdir>/state.json ARGS`.
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.arg("--state").arg(self.state()).args(args);
        execute(cmd)
    }

    /// Runs `sandbox ARGS --state <tempdir>/state.json`: the option may follow the command.
    fn run_state_last(&self, args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.args(args).arg("--state").arg(self.state());
        execute(cmd)
    }
}

fn execute(mut cmd: Command) -> Run {
    let out = cmd.output().expect("the sandbox binary runs");
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(SECRET), "the secret is on {what}: {run:?}");
        assert!(!text.contains(TOKEN), "the token is on {what}: {run:?}");
    }
    run
}

fn jira(path: &str) -> String {
    format!("/gw/ex/jira/{CLOUD}/rest/api/3{path}")
}

fn site(id: &str, name: &str) -> serde_json::Value {
    json!({
        "id": id,
        "name": name,
        "url": format!("https://{name}.atlassian.net"),
        "scopes": ["read:jira-work", "write:jira-work"],
    })
}

/// Atlassian's token endpoint and site list, and the lists the settings need.
fn stand_in(server: &MockServer, sites: serde_json::Value) {
    server.mock(|when, then| {
        when.method(POST).path("/oauth/token").json_body_includes(
            json!({
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
            })
            .to_string(),
        );
        then.status(200).json_body(
            json!({ "access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer" }),
        );
    });
    let authorized = |when: httpmock::When| when.header("authorization", format!("Bearer {TOKEN}"));
    server.mock(|when, then| {
        when.method(GET)
            .path("/gw/oauth/token/accessible-resources")
            .and(authorized);
        then.status(200).json_body(sites);
    });
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/project/search"))
            .and(authorized);
        then.status(200).json_body(json!({
            "values": [
                { "id": "10000", "key": "QA", "name": "Quality Assurance" },
                { "id": "10001", "key": "OPS", "name": "Operations" },
            ],
            "isLast": true,
        }));
    });
    server.mock(|when, then| {
        when.method(GET).path(jira("/project/QA")).and(authorized);
        then.status(200)
            .json_body(json!({ "id": "10000", "key": "QA", "name": "Quality Assurance" }));
    });
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/issue/createmeta/QA/issuetypes"))
            .and(authorized);
        then.status(200).json_body(json!({
            "issueTypes": [
                { "id": "10004", "name": "Bug", "subtask": false },
                { "id": "10005", "name": "Sub-task", "subtask": true },
            ],
            "total": 2,
        }));
    });
    // Saving settings checks the permissions and the create screen.
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/mypermissions"))
            .and(authorized);
        let granted = json!({ "havePermission": true });
        then.status(200).json_body(json!({ "permissions": {
            "BROWSE_PROJECTS": granted, "CREATE_ISSUES": granted,
            "ASSIGN_ISSUES": granted, "ADD_COMMENTS": granted,
        }}));
    });
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/issue/createmeta/QA/issuetypes/10004"))
            .and(authorized);
        let field = |id: &str, schema: serde_json::Value| {
            json!({ "fieldId": id, "key": id, "name": id, "required": false, "schema": schema })
        };
        then.status(200).json_body(json!({ "total": 4, "fields": [
            field("summary", json!({ "type": "string", "system": "summary" })),
            field("description", json!({ "type": "string", "system": "description" })),
            field("labels", json!({ "type": "array", "items": "string", "system": "labels" })),
            field("assignee", json!({ "type": "user", "system": "assignee" })),
        ]}));
    });
    // Jira filters inside each window of its first 1,000 candidates: the list goes on to
    // the window past the 1,000th.
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/user/assignable/search"))
            .query_param("project", "QA")
            .query_param_exists("query")
            .query_param("startAt", "0")
            .and(authorized);
        then.status(200).json_body(json!([
            { "accountId": "u-1", "displayName": "Ann Example", "active": true },
            { "accountId": "u-2", "displayName": "Gone Away", "active": false },
        ]));
    });
    for start in (100..1_000).step_by(100) {
        server.mock(|when, then| {
            when.method(GET)
                .path(jira("/user/assignable/search"))
                .query_param_exists("query")
                .query_param("startAt", start.to_string())
                .and(authorized);
            then.status(200).json_body(json!([]));
        });
    }
    server.mock(|when, then| {
        when.method(GET)
            .path(jira("/user/assignable/search"))
            .query_param("project", "QA")
            .query_param("accountId", "u-1")
            .and(authorized);
        then.status(200).json_body(json!([
            { "accountId": "u-1", "displayName": "Ann Example", "active": true },
        ]));
    });
}

fn one_site(server: &MockServer) {
    stand_in(server, json!([site(CLOUD, "acme")]));
}

#[test]
fn a_failing_test_from_first_report_to_disconnect() {
    let server = MockServer::start();
    one_site(&server);
    let authorized = |when: httpmock::When| when.header("authorization", format!("Bearer {TOKEN}"));
    let first_search = server.mock(|when, then| {
        when.method(POST)
            .path(jira("/search/jql"))
            .and(authorized)
            .body_excludes("reconcileIssues");
        then.status(200).json_body(json!({ "issues": [] }));
    });
    let reconciling_search = server.mock(|when, then| {
        when.method(POST)
            .path(jira("/search/jql"))
            .and(authorized)
            .json_body_includes(r#"{"reconcileIssues":[10042]}"#);
        then.status(200).json_body(json!({
            "issues": [{
                "id": "10042",
                "key": "QA-7",
                "fields": { "status": { "statusCategory": { "key": "new" } } },
            }],
        }));
    });
    // The override's explicit `auto` wins over the global assignee: no assignee field.
    let create = server.mock(|when, then| {
        when.method(POST)
            .path(jira("/issue"))
            .and(authorized)
            .body_excludes("Test notification")
            .body_excludes("\"assignee\"");
        then.status(201)
            .json_body(json!({ "id": "10042", "key": "QA-7", "self": "https://x/10042" }));
    });
    let notification = server.mock(|when, then| {
        when.method(POST)
            .path(jira("/issue"))
            .and(authorized)
            .body_includes("Test notification")
            .json_body_includes(r#"{"fields":{"assignee":{"accountId":"u-1"}}}"#);
        then.status(201)
            .json_body(json!({ "id": "10050", "key": "QA-8", "self": "https://x/10050" }));
    });
    let sb = Sandbox::new(sandbox_binary(), &server);
    let long_name = "n".repeat(1000);

    assert_eq!(
        sb.run(&["projects"]).error(1),
        "error: not connected to Jira"
    );
    assert_eq!(sb.run(&["fail", HOSTILE_ID]).ok(), "not-connected\n");

    assert_eq!(
        sb.run(&["connect"]).ok(),
        "connected to acme https://acme.atlassian.net\n"
    );
    // Documented: the state file keeps the secret.
    assert!(std::fs::read_to_string(sb.state())
        .unwrap()
        .contains(SECRET));

    assert_eq!(
        sb.run(&["projects"]).ok(),
        "QA\tQuality Assurance\nOPS\tOperations\n"
    );
    let not_configured = sb.run(&["fail", HOSTILE_ID]);
    let message = not_configured.error(1);
    assert!(message.starts_with("error: Jira settings are not saved yet"));
    assert!(!message.ends_with("(retryable)"));

    assert!(sb
        .run(&["configure"])
        .error(1)
        .contains("no project is saved yet"));
    assert_eq!(
        sb.run(&["configure", "--project", "QA", "--labels", " a, ,b "])
            .ok(),
        "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels=a,b\n"
    );
    // Options not given keep their saved values; an empty --labels clears.
    assert_eq!(
        sb.run(&["configure", "--labels="]).ok(),
        "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels=\n"
    );
    // Without --project, the saved project; sub-task types left out.
    assert_eq!(sb.run(&["issue-types"]).ok(), "10004\tBug\n");
    assert_eq!(sb.run(&["users", "an"]).ok(), "u-1\tAnn Example\n");
    assert_eq!(
        sb.run(&["configure", "--assignee", "u-1"]).ok(),
        "saved project=QA issue-type=Bug label-prefix=testclix- assignee=u-1 labels=\n"
    );
    assert_eq!(
        sb.run(&["notify-test"]).ok(),
        "created QA-8 https://acme.atlassian.net/browse/QA-8\n"
    );
    assert_eq!(
        sb.run(&["override", HOSTILE_ID, "--assignee", "auto"]).ok(),
        "saved enabled=true project=(global) assignee=auto labels=\n"
    );

    let fail = [
        "fail",
        HOSTILE_ID,
        "--name",
        &long_name,
        "--message",
        "-1 != 2\nline two",
    ];
    assert_eq!(
        sb.run(&fail).ok(),
        "created QA-7 https://acme.atlassian.net/browse/QA-7\n"
    );
    assert_eq!(
        sb.run_state_last(&["fail", HOSTILE_ID]).ok(),
        "duplicate QA-7 https://acme.atlassian.net/browse/QA-7\n"
    );

    assert_eq!(
        sb.run_state_last(&["override", HOSTILE_ID, "--disable"])
            .ok(),
        "saved enabled=false project=(global) assignee=auto labels=\n"
    );
    // The override is merged with what is saved: still disabled.
    assert_eq!(
        sb.run(&["override", HOSTILE_ID, "--labels", "x,y"]).ok(),
        "saved enabled=false project=(global) assignee=auto labels=x,y\n"
    );
    assert_eq!(sb.run(&["fail", HOSTILE_ID]).ok(), "disabled\n");
    assert_eq!(
        sb.run(&["override", HOSTILE_ID, "--clear"]).ok(),
        "cleared\n"
    );

    assert_eq!(sb.run_state_last(&["disconnect"]).ok(), "disconnected\n");
    assert!(!std::fs::read_to_string(sb.state())
        .unwrap()
        .contains(SECRET));
    assert_eq!(sb.run(&["fail", HOSTILE_ID]).ok(), "not-connected\n");

    first_search.assert_calls(1);
    reconciling_search.assert_calls(1);
    create.assert_calls(1);
    notification.assert_calls(1);
}

#[test]
fn a_retryable_failure_exits_2_and_says_so() {
    let server = MockServer::start();
    one_site(&server);
    let throttled = server.mock(|when, then| {
        when.method(POST).path(jira("/search/jql"));
        then.status(429)
            .header("retry-after", "0")
            .json_body(json!({ "errorMessages": ["Rate limit exceeded."] }));
    });
    let sb = Sandbox::new(sandbox_binary(), &server);
    sb.run(&["connect"]).ok();
    sb.run(&["configure", "--project", "QA"]).ok();

    let run = sb.run(&["fail", "t1"]);
    let message = run.error(2);
    assert!(message.contains("HTTP 429"), "{message}");
    assert!(message.ends_with(" (retryable)"), "{message}");
    assert!(throttled.calls() >= 1);
}

#[test]
fn several_sites_need_a_choice() {
    let server = MockServer::start();
    stand_in(
        &server,
        json!([site(CLOUD, "acme"), site("cloud-2", "beta")]),
    );
    let sb = Sandbox::new(sandbox_binary(), &server);

    let message = sb.run(&["connect"]).error(1).to_owned();
    assert!(
        message.contains("acme <https://acme.atlassian.net>"),
        "{message}"
    );
    assert!(
        message.contains("beta <https://beta.atlassian.net>"),
        "{message}"
    );
    assert!(!sb.state().exists());

    let mut by_env = sb.command();
    by_env.env("JIRA_SITE", "beta").args([
        "--state".as_ref(),
        sb.state().as_os_str(),
        "connect".as_ref(),
    ]);
    assert_eq!(
        execute(by_env).ok(),
        "connected to beta https://beta.atlassian.net\n"
    );
    assert_eq!(
        sb.run(&["connect", "--site", "https://acme.atlassian.net"])
            .ok(),
        "connected to acme https://acme.atlassian.net\n"
    );
}

#[test]
fn the_state_file_defaults_to_the_current_folder() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    let mut cmd = sb.command();
    cmd.arg("connect");
    execute(cmd).ok();
    assert!(sb.dir.path().join("sandbox-state.json").is_file());
}

#[test]
fn a_server_error_is_one_line_and_never_shows_the_secret() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/oauth/token");
        then.status(401).json_body(json!({
            "error": "access_denied",
            "error_description": format!("Unauthorized:\nno client {CLIENT_ID} with secret {SECRET}"),
        }));
    });
    let sb = Sandbox::new(sandbox_binary(), &server);
    let message = sb.run(&["connect"]).error(1).to_owned();
    assert!(
        message.contains("Atlassian rejected the credentials"),
        "{message}"
    );
    assert!(message.contains("[redacted]"), "{message}");
    assert!(!sb.state().exists());
}

#[test]
fn the_state_file_may_be_named_after_the_command() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    let mut cmd = sb.command();
    cmd.args(["connect", "--state=after.json"]);
    execute(cmd).ok();
    assert!(sb.dir.path().join("after.json").is_file());
    assert!(!sb.dir.path().join("sandbox-state.json").exists());
}

#[test]
fn options_take_their_values_however_they_are_written() {
    let server = MockServer::start();
    one_site(&server);
    server.mock(|when, then| {
        when.method(POST).path(jira("/search/jql"));
        then.status(200).json_body(json!({ "issues": [] }));
    });
    // The test id `-t1` is in the test's label; the name in the summary; the message and
    // the link in the description.
    let create = server.mock(|when, then| {
        when.method(POST)
            .path(jira("/issue"))
            .body_includes("\"testclix--t1\"")
            .body_includes("Test Failed: -t1 name")
            .body_includes("--exit 3")
            .body_includes("https://ci.example/t1");
        then.status(201)
            .json_body(json!({ "id": "10042", "key": "QA-7", "self": "https://x/10042" }));
    });
    let sb = Sandbox::new(sandbox_binary(), &server);
    sb.run(&["connect"]).ok();
    sb.run(&["configure", "--project=QA"]).ok();

    let mut fail = sb.command();
    fail.args(["fail", "--name=-t1 name", "--message", "--exit 3"])
        .args(["--url", "https://ci.example/t1", "--state"])
        .arg(sb.state())
        .args(["--", "-t1"]);
    assert_eq!(
        execute(fail).ok(),
        "created QA-7 https://acme.atlassian.net/browse/QA-7\n"
    );
    create.assert_calls(1);
}

#[test]
fn usage() {
    let server = MockServer::start();
    let sb = Sandbox::new(sandbox_binary(), &server);

    let help = sb.run(&["--help"]);
    assert!(help.ok().contains("sandbox [--state FILE] connect"));
    for new in [
        "sandbox [--state FILE] fields [--project KEY] [--issue-type NAME]",
        "sandbox [--state FILE] health",
        "[--field FIELD_ID=VALUE[,VALUE...]]...",
        "--database URL",
        "--workspace ID",
        "sandbox [--state FILE] pass TEST_ID [--name NAME] [--url URL]",
        "[LIFECYCLE OPTIONS]",
        "--on-pass nothing|comment|resolve",
        "--mute-resolutions a,b",
    ] {
        assert!(help.stdout.contains(new), "{new}");
    }
    for args in [&["-h"][..], &["fail", "--help"], &["override", "t1", "-h"]] {
        assert_eq!(sb.run(args).ok(), help.stdout, "{args:?}");
    }
    let mut bare = sb.command();
    bare.env_remove("JIRA_CLIENT_SECRET");
    let bare = execute(bare);
    assert_eq!(bare.code, 2);
    assert_eq!(bare.stdout, help.stdout);
    assert_eq!(
        bare.stderr,
        "error: no command given; run `sandbox --help` for usage\n"
    );

    for (args, problem) in [
        (&["fail", "t1", "--bogus"][..], "unknown option --bogus"),
        (&["fail", "t1", "--bogus=x"], "unknown option --bogus"),
        (&["fail", "-t1"], "unknown option -t1"),
        (&["bogus"], "unknown command \"bogus\""),
        (&["help"], "unknown command \"help\""),
        (&["fail"], "`fail` needs a TEST_ID"),
        (&["override", "--clear"], "`override` needs a TEST_ID"),
        (
            &["fail", "t1", "extra"],
            "unexpected argument \"extra\" after `fail`",
        ),
        (
            &["users", "a", "b"],
            "unexpected argument \"b\" after `users`",
        ),
        (&["fail", "t1", "--name"], "--name needs a value"),
        (
            &["projects", "--name", "x"],
            "--name is not an option of `projects`",
        ),
        (
            &["override", "t1", "--disable", "--enable"],
            "--disable and --enable exclude each other",
        ),
        (
            &["override", "t1", "--labels", "a", "--clear"],
            "--clear takes no other option",
        ),
        (
            &["configure", "--project", "QA", "--project=QA"],
            "--project is given twice",
        ),
        (
            &["projects", "--state", "other.json"],
            "--state is given twice",
        ),
        (
            &["override", "t1", "--disable=yes"],
            "--disable takes no value",
        ),
        (
            &["health", "--database", "host=/tmp dbname=x"],
            "--database and --state exclude each other: the state is kept in one or the other",
        ),
        (&["health", "--workspace="], "--workspace needs a value"),
        (
            &["configure", "--field", "priority"],
            "--field takes FIELD_ID=VALUE, not \"priority\"",
        ),
        (
            &["override", "t1", "--clear", "--field", "priority=High"],
            "--clear takes no other option",
        ),
        (
            &["fields", "--labels", "a"],
            "--labels is not an option of `fields`",
        ),
    ] {
        let run = sb.run(args);
        assert_eq!(
            run.error(2),
            format!("error: {problem}; run `sandbox --help` for usage"),
            "{args:?}"
        );
    }
    // Nothing was attempted: no state file, no request.
    assert!(!sb.state().exists());
}

/// The line `configure` prints for the settings the lifecycle tests save.
const SAVED_QA: &str =
    "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels=";

#[test]
fn lifecycle_options_are_saved_printed_and_kept() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    sb.run(&["connect"]).ok();

    // Without lifecycle options and with the default lifecycle: the one line as before.
    assert_eq!(
        sb.run(&["configure", "--project", "QA"]).ok(),
        format!("{SAVED_QA}\n")
    );
    let line = [
        "configure",
        "--on-pass",
        "resolve",
        "--passes-to-resolve",
        "2",
        "--resolve-transition",
        "Close issue",
        "--mute-resolutions",
        "Won't Do, Duplicate",
    ];
    let resolving = "lifecycle on-repeat=nothing comment-every=3600 on-pass=resolve \
                     passes-to-resolve=2 resolve-transition=Close issue resolution=(default) \
                     reopen-within=0 reopen-transition=(default) \
                     mute-resolutions=Won't Do,Duplicate";
    assert_eq!(sb.run(&line).ok(), format!("{SAVED_QA}\n{resolving}\n"));
    // Other options keep the lifecycle, and show it while it is not the default.
    assert_eq!(
        sb.run(&["configure", "--labels", "a"]).ok(),
        format!("{SAVED_QA}a\n{resolving}\n")
    );
    let line = [
        "configure",
        "--on-repeat=comment",
        "--comment-every",
        "600",
        "--reopen-within",
        "86400",
        "--reopen-transition",
        "Reopen",
        "--resolution",
        "Fixed",
    ];
    let all = "lifecycle on-repeat=comment comment-every=600 on-pass=resolve \
               passes-to-resolve=2 resolve-transition=Close issue resolution=Fixed \
               reopen-within=86400 reopen-transition=Reopen \
               mute-resolutions=Won't Do,Duplicate";
    assert_eq!(sb.run(&line).ok(), format!("{SAVED_QA}a\n{all}\n"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state()).unwrap()).unwrap();
    let mut lifecycle = state["settings"]["settings"]["lifecycle"].clone();
    // `attach_on_repeat` (issue 13) is not set here: its default may be written or not.
    if let Some(parts) = lifecycle.as_object_mut() {
        if parts.get("attach_on_repeat") == Some(&json!(false)) {
            parts.remove("attach_on_repeat");
        }
    }
    assert_eq!(
        lifecycle,
        json!({
            "on_repeat": "comment",
            "comment_every": 600,
            "on_pass": "resolve",
            "passes_to_resolve": 2,
            "resolve_transition": "Close issue",
            "resolution": "Fixed",
            "reopen_within": 86400,
            "reopen_transition": "Reopen",
            "mute_resolutions": ["Won't Do", "Duplicate"],
        }),
        "{state}"
    );

    // A test's override sets only what it names; "" and 0 turn muting and reopening off
    // for the test.
    let line = [
        "override",
        HOSTILE_ID,
        "--mute-resolutions",
        "",
        "--reopen-within",
        "0",
        "--on-pass",
        "comment",
    ];
    let overridden = "lifecycle on-repeat=(global) comment-every=(global) on-pass=comment \
                      passes-to-resolve=(global) resolve-transition=(global) \
                      resolution=(global) reopen-within=0 reopen-transition=(global) \
                      mute-resolutions=";
    assert_eq!(
        sb.run(&line).ok(),
        format!("saved enabled=true project=(global) assignee=(global) labels=\n{overridden}\n")
    );
    assert_eq!(
        sb.run(&["override", HOSTILE_ID, "--disable"]).ok(),
        format!("saved enabled=false project=(global) assignee=(global) labels=\n{overridden}\n")
    );
    // Without lifecycle options and with none saved: the one line as before.
    assert_eq!(
        sb.run(&["override", "t2", "--labels", "x"]).ok(),
        "saved enabled=true project=(global) assignee=(global) labels=x\n"
    );

    // "" unsets a name; back to the defaults, the line shows while options are given…
    let line = [
        "configure",
        "--on-repeat",
        "nothing",
        "--comment-every",
        "3600",
        "--on-pass",
        "nothing",
        "--passes-to-resolve",
        "1",
        "--resolve-transition=",
        "--resolution",
        "",
        "--reopen-within",
        "0",
        "--reopen-transition",
        " ",
        "--mute-resolutions",
        "",
    ];
    let defaults = "lifecycle on-repeat=nothing comment-every=3600 on-pass=nothing \
                    passes-to-resolve=1 resolve-transition=(default) resolution=(default) \
                    reopen-within=0 reopen-transition=(default) mute-resolutions=";
    assert_eq!(sb.run(&line).ok(), format!("{SAVED_QA}a\n{defaults}\n"));
    // …and not otherwise.
    assert_eq!(
        sb.run(&["configure", "--labels="]).ok(),
        format!("{SAVED_QA}\n")
    );
}

#[test]
fn a_wrong_lifecycle_value_is_a_usage_error_and_saves_nothing() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    sb.run(&["connect"]).ok();
    sb.run(&["configure", "--project", "QA", "--on-pass", "comment"])
        .ok();
    sb.run(&["override", "t1", "--passes-to-resolve", "3"]).ok();
    let before = std::fs::read(sb.state()).unwrap();

    for (args, problem) in [
        (
            &["configure", "--on-pass", "maybe"][..],
            "--on-pass takes nothing, comment or resolve, not \"maybe\"",
        ),
        (
            &["configure", "--on-repeat", "always", "--labels", "a"],
            "--on-repeat takes nothing or comment, not \"always\"",
        ),
        (
            &["configure", "--passes-to-resolve", "0"],
            "--passes-to-resolve takes a whole number from 1 to 4294967295, not \"0\"",
        ),
        (
            &["override", "t1", "--passes-to-resolve", "two"],
            "--passes-to-resolve takes a whole number from 1 to 4294967295, not \"two\"",
        ),
        (
            &["configure", "--comment-every", "0"],
            "--comment-every takes a whole number of seconds, at least 1, not \"0\"",
        ),
        (
            &["override", "t1", "--comment-every", "-60"],
            "--comment-every takes a whole number of seconds, at least 1, not \"-60\"",
        ),
        (
            &["configure", "--reopen-within", "-1"],
            "--reopen-within takes a whole number of seconds (0: off), not \"-1\"",
        ),
        (
            &["override", "t1", "--reopen-within", "1d"],
            "--reopen-within takes a whole number of seconds (0: off), not \"1d\"",
        ),
        (
            &["configure", "--mute-resolutions"],
            "--mute-resolutions needs a value",
        ),
        (
            &["override", "t1", "--clear", "--on-repeat", "comment"],
            "--clear takes no other option",
        ),
        (
            &["pass", "t1", "--message", "m"],
            "--message is not an option of `pass`",
        ),
        (
            &["fail", "t1", "--on-pass", "comment"],
            "--on-pass is not an option of `fail`",
        ),
    ] {
        let run = sb.run(args);
        assert_eq!(
            run.error(2),
            format!("error: {problem}; run `sandbox --help` for usage"),
            "{args:?}"
        );
    }
    assert_eq!(std::fs::read(sb.state()).unwrap(), before);
}

#[test]
fn pass_with_nothing_to_do_is_ignored() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    sb.run(&["connect"]).ok();
    sb.run(&["configure", "--project", "QA"]).ok();
    // Policy `nothing` (the default): no request to Jira, nothing to say.
    let requests = server.mock(|when, then| {
        when.path_includes("/issue");
        then.status(500);
    });
    assert_eq!(sb.run(&["pass", HOSTILE_ID]).ok(), "ignored\n");
    assert_eq!(
        sb.run(&[
            "pass",
            "--name=-t1 name",
            "--url",
            "https://ci/t1",
            "--",
            "-t1"
        ])
        .ok(),
        "ignored\n"
    );
    requests.assert_calls(0);
}

#[test]
fn lifecycle_pass_before_setup_and_when_disabled_answers_as_fail_does() {
    let server = MockServer::start();
    one_site(&server);
    let sb = Sandbox::new(sandbox_binary(), &server);
    assert_eq!(sb.run(&["pass", "t1"]).ok(), "not-connected\n");
    sb.run(&["connect"]).ok();
    assert!(sb
        .run(&["pass", "t1"])
        .error(1)
        .starts_with("error: Jira settings are not saved yet"));
    sb.run(&["configure", "--project", "QA", "--on-pass", "resolve"])
        .ok();
    sb.run(&["override", "t1", "--disable"]).ok();
    assert_eq!(sb.run(&["pass", "t1"]).ok(), "disabled\n");
}
