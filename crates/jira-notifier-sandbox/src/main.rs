//! `sandbox`: a small command-line tool for trying `jira-notifier` against a real sandbox
//! Jira Cloud site, by hand or from a script.
//!
//! It shows the whole life of the integration as a host would drive it: connect with a
//! service account's OAuth 2.0 credential, list what the settings screen lists, save the
//! settings and per-test overrides, report test failures (one open issue per test, then
//! duplicates), send the test notification, and disconnect. Its state is kept in the JSON
//! [`FileStore`], so each command is a separate process, like a host restarting.
//!
//! # Environment
//!
//! - `JIRA_CLIENT_ID`, `JIRA_CLIENT_SECRET`: the service account's credential, read by
//!   `connect` (later commands use the copy in the state file).
//! - `JIRA_SITE`: the site to connect to (name, URL or cloud id) when the credential
//!   reaches several; `connect --site` wins over it.
//! - `JIRA_AUTH_URL`, `JIRA_API_URL`: Atlassian's auth host and API gateway (default
//!   [`DEFAULT_AUTH_URL`] and [`DEFAULT_API_URL`]); point them at a stand-in to test.
//!
//! # Commands
//!
//! ```text
//! sandbox [--state FILE] connect [--site NAME|URL|CLOUD_ID]
//! sandbox projects                                  KEY<TAB>Name per line
//! sandbox issue-types [--project KEY]               ID<TAB>Name
//! sandbox users [QUERY] [--project KEY]             ACCOUNT_ID<TAB>Display Name
//! sandbox configure [--project KEY] [--issue-type NAME] [--label-prefix P]
//!                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
//! sandbox override TEST_ID [--disable|--enable] [--project KEY]
//!                  [--assignee auto|ACCOUNT_ID] [--labels a,b]
//! sandbox override TEST_ID --clear
//! sandbox fail TEST_ID [--name NAME] [--message MSG] [--url URL]
//! sandbox notify-test
//! sandbox disconnect
//! ```
//!
//! `--state FILE` (default `sandbox-state.json` in the current folder) may come before or
//! after the command. **The state file holds the client secret in clear** (mode `0600` on
//! Unix); nothing the tool prints ever shows the secret or a token.
//!
//! `configure` and `override` change only what their options name and keep the rest as
//! saved; `--labels ""` clears the labels. `fail` reports a failure with the test's id as
//! its name, the message "Simulated failure from the sandbox" and no link (there is no
//! test page to link to), unless `--name`, `--message` or `--url` say otherwise; it prints
//! `created KEY URL`, `duplicate KEY URL`, `disabled` or `not-connected` (`ignored`, the
//! library's answer to a status that is not an error, cannot come up: `fail` always
//! reports an error). `notify-test` prints `created KEY URL`.
//!
//! Exit status: 0 on success; 1 on an error; 2 on a usage error or on an error worth
//! retrying later (its message ends with `(retryable)`). Errors are one line on stderr:
//! the error and its sources joined with `: `, newlines flattened. Requests are retried
//! twice at most, and a `Retry-After` over 10 s is reported rather than waited out: the
//! library's default policy suits a host's background queue, not someone at a terminal.
//!
//! # Running it
//!
//! ```text
//! export JIRA_CLIENT_ID=… JIRA_CLIENT_SECRET=…
//! cargo run --bin sandbox -- connect
//! cargo run --bin sandbox -- configure --project QA
//! cargo run --bin sandbox -- fail checkout-flow --message "expected 200, got 500"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    Assignee, ConfigStore, Credentials, Error, FileStore, JiraNotifier, Outcome, RetryPolicy,
    Settings, TestInfo, TestOverride, TestStatus, DEFAULT_API_URL, DEFAULT_AUTH_URL,
    DEFAULT_ISSUE_TYPE, DEFAULT_LABEL_PREFIX,
};
use secrecy::ExposeSecret;

const DEFAULT_STATE: &str = "sandbox-state.json";
const DEFAULT_MESSAGE: &str = "Simulated failure from the sandbox";
const VALUE_OPTIONS: &[&str] = &[
    "--state",
    "--site",
    "--project",
    "--issue-type",
    "--label-prefix",
    "--assignee",
    "--labels",
    "--name",
    "--message",
    "--url",
];
const FLAG_OPTIONS: &[&str] = &["--disable", "--enable", "--clear"];

fn usage() -> String {
    format!(
        "\
sandbox: try jira-notifier against a sandbox Jira Cloud site, with its state in a JSON file.

Usage:
  sandbox [--state FILE] connect [--site NAME|URL|CLOUD_ID]
  sandbox [--state FILE] projects
  sandbox [--state FILE] issue-types [--project KEY]
  sandbox [--state FILE] users [QUERY] [--project KEY]
  sandbox [--state FILE] configure [--project KEY] [--issue-type NAME] [--label-prefix P]
                                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
  sandbox [--state FILE] override TEST_ID [--disable|--enable] [--project KEY]
                                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
  sandbox [--state FILE] override TEST_ID --clear
  sandbox [--state FILE] fail TEST_ID [--name NAME] [--message MSG] [--url URL]
  sandbox [--state FILE] notify-test
  sandbox [--state FILE] disconnect
  sandbox --help

Options:
  --state FILE  the state file, before or after the command (default: {DEFAULT_STATE});
                it holds the client secret in clear
  --opt=VALUE works like --opt VALUE; `--` ends the options (for a TEST_ID starting with -)
  configure and override keep what is saved for options not given; --labels \"\" clears;
  a first configure defaults to --issue-type {DEFAULT_ISSUE_TYPE} --label-prefix {DEFAULT_LABEL_PREFIX} --assignee auto
  fail defaults: --name TEST_ID, --message \"{DEFAULT_MESSAGE}\", no --url

Environment:
  JIRA_CLIENT_ID, JIRA_CLIENT_SECRET  the service account's credential (read by connect)
  JIRA_SITE                           the site to connect to when there are several
  JIRA_AUTH_URL                       default {DEFAULT_AUTH_URL}
  JIRA_API_URL                        default {DEFAULT_API_URL}

Exit status: 0 success, 1 error, 2 usage error or retryable error (\"(retryable)\").
"
    )
}

/// Why the tool stops without doing what was asked.
#[derive(Debug)]
enum Failure {
    /// The command line is wrong: nothing was attempted.
    Usage(String),
    /// The command was attempted and failed.
    Failed { message: String, retryable: bool },
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    fn failed(message: impl Into<String>) -> Self {
        Failure::Failed {
            message: message.into(),
            retryable: false,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let mut message = one_line(&e);
        if matches!(e, Error::SiteChoiceRequired { .. }) {
            message.push_str("; set JIRA_SITE or pass --site NAME|URL|CLOUD_ID");
        }
        Failure::Failed {
            message,
            retryable: e.is_retryable(),
        }
    }
}

/// The error and its sources on one line, so that a script can read one line per error.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        // Many errors already quote their source ("no answer from search: …").
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    clean(&line)
}

/// Makes a value safe to print as (part of) one line: Jira names and test ids may hold
/// tabs and newlines, which would break the line-per-record output.
fn clean(s: &str) -> String {
    s.lines()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What the command line asked for.
#[derive(Debug)]
enum Invocation {
    Help,
    NoCommand,
    Run { state: PathBuf, command: Command },
}

#[derive(Debug)]
enum Command {
    Connect {
        site: Option<String>,
    },
    Projects,
    IssueTypes {
        project: Option<String>,
    },
    Users {
        query: String,
        project: Option<String>,
    },
    Configure(SettingsChange),
    Override {
        test_id: String,
        action: OverrideAction,
    },
    Fail {
        test: TestInfo,
        message: String,
    },
    NotifyTest,
    Disconnect,
}

/// The options of `configure`: `None` keeps the saved value.
#[derive(Debug, Default)]
struct SettingsChange {
    project: Option<String>,
    issue_type: Option<String>,
    label_prefix: Option<String>,
    assignee: Option<Assignee>,
    labels: Option<Vec<String>>,
}

impl SettingsChange {
    /// The settings to save: the saved ones (or the defaults) with the options applied.
    fn apply(self, saved: Option<Settings>) -> Result<Settings, Failure> {
        let base = match (saved, self.project.clone()) {
            (Some(s), _) => s,
            (None, Some(project)) => Settings::new(project),
            (None, None) => {
                return Err(Failure::failed(
                    "no project is saved yet: pass --project KEY (see `sandbox projects`)",
                ))
            }
        };
        Ok(Settings {
            project_key: self.project.unwrap_or(base.project_key),
            issue_type: self.issue_type.unwrap_or(base.issue_type),
            label_prefix: self.label_prefix.unwrap_or(base.label_prefix),
            assignee: self.assignee.unwrap_or(base.assignee),
            labels: self.labels.unwrap_or(base.labels),
            fields: base.fields,
        })
    }
}

#[derive(Debug)]
enum OverrideAction {
    Clear,
    Set(OverrideChange),
}

/// The options of `override`: `None` keeps the saved value.
#[derive(Debug, Default)]
struct OverrideChange {
    enabled: Option<bool>,
    project: Option<String>,
    assignee: Option<Assignee>,
    labels: Option<Vec<String>>,
}

impl OverrideChange {
    fn is_empty(&self) -> bool {
        self.enabled.is_none()
            && self.project.is_none()
            && self.assignee.is_none()
            && self.labels.is_none()
    }

    fn apply(self, saved: Option<TestOverride>) -> TestOverride {
        let base = saved.unwrap_or_default();
        TestOverride {
            enabled: self.enabled.unwrap_or(base.enabled),
            project_key: self.project.or(base.project_key),
            assignee: self.assignee.or(base.assignee),
            labels: self.labels.unwrap_or(base.labels),
            fields: base.fields,
        }
    }
}

/// Options seen on the command line, taken one by one by the command that accepts them.
#[derive(Debug, Default)]
struct Options {
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
}

impl Options {
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.values.iter().position(|(n, _)| *n == name)?;
        Some(self.values.remove(i).1)
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.flags.len();
        self.flags.retain(|f| *f != name);
        self.flags.len() != before
    }

    /// Fails on the first option the command did not take.
    fn finish(self, command: &str) -> Result<(), Failure> {
        let left = self.values.first().map(|(n, _)| *n);
        match left.or(self.flags.first().copied()) {
            Some(name) => Err(Failure::usage(format!(
                "{name} is not an option of `{command}`"
            ))),
            None => Ok(()),
        }
    }
}

fn read_args() -> Result<Vec<String>, Failure> {
    std::env::args_os()
        .skip(1)
        .enumerate()
        .map(|(i, arg)| {
            arg.into_string().map_err(|arg| {
                Failure::usage(format!(
                    "argument {} ({:?}) is not valid UTF-8",
                    i + 1,
                    arg.to_string_lossy()
                ))
            })
        })
        .collect()
}

fn parse(args: Vec<String>) -> Result<Invocation, Failure> {
    let mut words = Vec::new();
    let mut options = Options::default();
    let mut args = args.into_iter();
    let mut only_words = false;
    while let Some(arg) = args.next() {
        if only_words || arg == "-" || !arg.starts_with('-') {
            words.push(arg);
            continue;
        }
        if arg == "--" {
            only_words = true;
            continue;
        }
        if arg == "-h" || arg == "--help" {
            return Ok(Invocation::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if options.values.iter().any(|(n, _)| *n == name)
            || options.flags.iter().any(|f| *f == name)
        {
            return Err(Failure::usage(format!("{name} is given twice")));
        }
        if let Some(&flag) = FLAG_OPTIONS.iter().find(|f| **f == name) {
            if inline.is_some() {
                return Err(Failure::usage(format!("{name} takes no value")));
            }
            options.flags.push(flag);
        } else if let Some(&option) = VALUE_OPTIONS.iter().find(|o| **o == name) {
            // The next argument is the value even if it starts with `-`: messages may.
            let value = inline
                .or_else(|| args.next())
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))?;
            options.values.push((option, value));
        } else {
            return Err(Failure::usage(format!("unknown option {name}")));
        }
    }
    let state = PathBuf::from(
        options
            .take("--state")
            .unwrap_or_else(|| DEFAULT_STATE.to_owned()),
    );
    let mut words = words.into_iter();
    let Some(name) = words.next() else {
        return Ok(Invocation::NoCommand);
    };
    let command = parse_command(&name, words.collect(), &mut options)?;
    options.finish(&name)?;
    Ok(Invocation::Run { state, command })
}

fn parse_command(
    name: &str,
    words: Vec<String>,
    options: &mut Options,
) -> Result<Command, Failure> {
    let command = match name {
        "connect" => {
            no_words(name, &words)?;
            Command::Connect {
                site: options.take("--site"),
            }
        }
        "projects" => {
            no_words(name, &words)?;
            Command::Projects
        }
        "issue-types" => {
            no_words(name, &words)?;
            Command::IssueTypes {
                project: options.take("--project"),
            }
        }
        "users" => {
            if words.len() > 1 {
                return Err(unexpected_word(name, &words[1]));
            }
            Command::Users {
                query: words.into_iter().next().unwrap_or_default(),
                project: options.take("--project"),
            }
        }
        "configure" => {
            no_words(name, &words)?;
            Command::Configure(SettingsChange {
                project: options.take("--project"),
                issue_type: options.take("--issue-type"),
                label_prefix: options.take("--label-prefix"),
                assignee: options.take("--assignee").map(|a| assignee(&a)),
                labels: options.take("--labels").map(|l| labels(&l)),
            })
        }
        "override" => Command::Override {
            test_id: test_id(name, words)?,
            action: override_action(options)?,
        },
        "fail" => {
            let id = test_id(name, words)?;
            let test_name = options.take("--name").unwrap_or_else(|| id.clone());
            let url = options.take("--url").unwrap_or_default();
            Command::Fail {
                test: TestInfo::new(id, test_name, url),
                message: options
                    .take("--message")
                    .unwrap_or_else(|| DEFAULT_MESSAGE.to_owned()),
            }
        }
        "notify-test" => {
            no_words(name, &words)?;
            Command::NotifyTest
        }
        "disconnect" => {
            no_words(name, &words)?;
            Command::Disconnect
        }
        other => return Err(Failure::usage(format!("unknown command {other:?}"))),
    };
    Ok(command)
}

fn override_action(options: &mut Options) -> Result<OverrideAction, Failure> {
    let clear = options.flag("--clear");
    let (disable, enable) = (options.flag("--disable"), options.flag("--enable"));
    if disable && enable {
        return Err(Failure::usage("--disable and --enable exclude each other"));
    }
    let change = OverrideChange {
        enabled: (disable || enable).then_some(enable),
        project: options.take("--project"),
        assignee: options.take("--assignee").map(|a| assignee(&a)),
        labels: options.take("--labels").map(|l| labels(&l)),
    };
    match (clear, change.is_empty()) {
        (true, true) => Ok(OverrideAction::Clear),
        (true, false) => Err(Failure::usage("--clear takes no other option")),
        (false, _) => Ok(OverrideAction::Set(change)),
    }
}

fn no_words(command: &str, words: &[String]) -> Result<(), Failure> {
    match words.first() {
        Some(word) => Err(unexpected_word(command, word)),
        None => Ok(()),
    }
}

fn unexpected_word(command: &str, word: &str) -> Failure {
    Failure::usage(format!("unexpected argument {word:?} after `{command}`"))
}

fn test_id(command: &str, words: Vec<String>) -> Result<String, Failure> {
    let mut words = words.into_iter();
    let id = words
        .next()
        .ok_or_else(|| Failure::usage(format!("`{command}` needs a TEST_ID")))?;
    match words.next() {
        Some(extra) => Err(unexpected_word(command, &extra)),
        None => Ok(id),
    }
}

fn assignee(value: &str) -> Assignee {
    if value == "auto" {
        Assignee::Auto
    } else {
        Assignee::user(value)
    }
}

fn labels(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A non-empty environment variable; an empty one counts as unset, as shells make it easy
/// to export one by mistake.
fn env_value(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::failed(format!("{name} is not valid UTF-8")))
        }
    }
}

fn required_env(name: &str) -> Result<String, Failure> {
    env_value(name)?.ok_or_else(|| Failure::failed(format!("{name} is not set")))
}

/// Secrets known to this run, blotted out of everything printed: the library never puts
/// them in an error, but a server's error text is printed as it came.
#[derive(Debug, Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if !secret.is_empty() && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_owned());
        }
    }

    fn redact(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "[redacted]"))
    }
}

fn build_notifier(store: Arc<FileStore>) -> Result<JiraNotifier, Failure> {
    let auth_url = env_value("JIRA_AUTH_URL")?.unwrap_or_else(|| DEFAULT_AUTH_URL.to_owned());
    let api_url = env_value("JIRA_API_URL")?.unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    // Someone waits at the terminal: fewer retries than the library's default, and a long
    // Retry-After is reported (as retryable) rather than waited out.
    let retry = RetryPolicy::default()
        .with_max_retries(2)
        .with_max_retry_after(Duration::from_secs(10));
    Ok(JiraNotifier::builder(store)
        .auth_url(auth_url)
        .api_url(api_url)
        .retry_policy(retry)
        .build()?)
}

/// Runs a command and returns the lines to print.
async fn run(notifier: &JiraNotifier, command: Command) -> Result<Vec<String>, Failure> {
    match command {
        Command::Connect { site } => connect(notifier, site).await,
        Command::Projects => Ok(notifier
            .projects()
            .await?
            .iter()
            .map(|p| format!("{}\t{}", clean(&p.key), clean(&p.name)))
            .collect()),
        Command::IssueTypes { project } => {
            let project = project_or_saved(notifier, project).await?;
            Ok(notifier
                .issue_types(&project)
                .await?
                .iter()
                .map(|t| format!("{}\t{}", clean(&t.id), clean(&t.name)))
                .collect())
        }
        Command::Users { query, project } => {
            let project = project_or_saved(notifier, project).await?;
            Ok(notifier
                .assignable_users(&project, &query)
                .await?
                .iter()
                .map(|u| format!("{}\t{}", clean(&u.account_id), clean(&u.display_name)))
                .collect())
        }
        Command::Configure(change) => {
            let settings = change.apply(notifier.settings().await?)?;
            let saved = notifier.save_settings(settings).await?;
            Ok(vec![describe_settings(&saved.settings)])
        }
        Command::Override { test_id, action } => match action {
            OverrideAction::Clear => {
                notifier.clear_override(&test_id).await?;
                Ok(vec!["cleared".to_owned()])
            }
            OverrideAction::Set(change) => {
                let wanted = change.apply(notifier.test_override(&test_id).await?);
                let saved = notifier.set_override(&test_id, wanted).await?;
                Ok(vec![describe_override(&saved.test_override)])
            }
        },
        Command::Fail { test, message } => {
            let outcome = notifier
                .on_test_error(&test, &TestStatus::error(message))
                .await?;
            Ok(vec![describe_outcome(outcome)?])
        }
        Command::NotifyTest => {
            let issue = notifier.send_test_notification().await?;
            Ok(vec![format!(
                "created {} {}",
                clean(&issue.key),
                clean(&issue.url)
            )])
        }
        Command::Disconnect => {
            notifier.disconnect().await?;
            Ok(vec!["disconnected".to_owned()])
        }
    }
}

async fn connect(notifier: &JiraNotifier, site: Option<String>) -> Result<Vec<String>, Failure> {
    let credentials = Credentials::new(
        required_env("JIRA_CLIENT_ID")?,
        required_env("JIRA_CLIENT_SECRET")?,
    );
    let site = match site.map_or_else(|| env_value("JIRA_SITE"), |s| Ok(Some(s)))? {
        Some(wanted) => notifier.connect_to_site(credentials, &wanted).await?,
        None => notifier.connect(credentials).await?,
    };
    Ok(vec![format!(
        "connected to {} {}",
        clean(&site.name),
        clean(&site.url)
    )])
}

async fn project_or_saved(
    notifier: &JiraNotifier,
    project: Option<String>,
) -> Result<String, Failure> {
    if let Some(project) = project {
        return Ok(project);
    }
    match notifier.settings().await? {
        Some(saved) => Ok(saved.project_key),
        None => Err(Failure::failed(
            "no --project given and no project saved: pass --project KEY or run `sandbox configure --project KEY`",
        )),
    }
}

fn describe_settings(s: &Settings) -> String {
    clean(&format!(
        "saved project={} issue-type={} label-prefix={} assignee={} labels={}",
        s.project_key,
        s.issue_type,
        s.label_prefix,
        describe_assignee(&s.assignee),
        s.labels.join(",")
    ))
}

fn describe_override(o: &TestOverride) -> String {
    const GLOBAL: &str = "(global)";
    clean(&format!(
        "saved enabled={} project={} assignee={} labels={}",
        o.enabled,
        o.project_key.as_deref().unwrap_or(GLOBAL),
        o.assignee.as_ref().map_or(GLOBAL, describe_assignee),
        o.labels.join(",")
    ))
}

fn describe_assignee(a: &Assignee) -> &str {
    a.account_id().unwrap_or("auto")
}

fn describe_outcome(outcome: Outcome) -> Result<String, Failure> {
    Ok(match outcome {
        Outcome::Created(i) => format!("created {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Duplicate(i) => format!("duplicate {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Disabled => "disabled".to_owned(),
        Outcome::NotConnected => "not-connected".to_owned(),
        // `fail` always reports an error status, so this is not expected here.
        Outcome::Ignored => "ignored".to_owned(),
        other => {
            return Err(Failure::failed(format!(
                "an outcome this tool does not know: {other:?}"
            )))
        }
    })
}

/// Prints lines to stdout; a closed pipe (`sandbox projects | head -1`) is not a panic.
fn print_lines(lines: &[String], secrets: &Secrets) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", secrets.redact(line))?;
    }
    out.flush()
}

fn report(failure: Failure, secrets: &Secrets) -> ExitCode {
    match failure {
        Failure::Usage(message) => {
            eprintln!(
                "error: {}; run `sandbox --help` for usage",
                secrets.redact(&clean(&message))
            );
            ExitCode::from(2)
        }
        Failure::Failed { message, retryable } => {
            let suffix = if retryable { " (retryable)" } else { "" };
            eprintln!("error: {}{suffix}", secrets.redact(&clean(&message)));
            ExitCode::from(if retryable { 2 } else { 1 })
        }
    }
}

fn main() -> ExitCode {
    let mut secrets = Secrets::default();
    if let Ok(Some(secret)) = env_value("JIRA_CLIENT_SECRET") {
        secrets.add(&secret);
    }
    let (state, command) = match read_args().and_then(parse) {
        Ok(Invocation::Run { state, command }) => (state, command),
        Ok(Invocation::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::NoCommand) => {
            print!("{}", usage());
            return report(Failure::usage("no command given"), &secrets);
        }
        Err(failure) => return report(failure, &secrets),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Failure::failed(one_line(&e)), &secrets),
    };
    let result = runtime.block_on(async {
        let store = Arc::new(FileStore::open(state).map_err(Error::from)?);
        // A broken state file is reported by the command itself.
        if let Ok(Some(conn)) = store.load_connection().await {
            secrets.add(conn.credentials.client_secret().expose_secret());
        }
        let notifier = build_notifier(store)?;
        run(&notifier, command).await
    });
    match result {
        Ok(lines) => match print_lines(&lines, &secrets) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => report(Failure::failed(one_line(&e)), &secrets),
        },
        Err(failure) => report(failure, &secrets),
    }
}
