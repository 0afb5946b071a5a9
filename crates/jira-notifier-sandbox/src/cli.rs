//! The command line: what it asks for, read by hand, and its usage errors.

use std::path::PathBuf;

use jira_notifier::{
    Assignee, Settings, TestInfo, TestOverride, DEFAULT_API_URL, DEFAULT_AUTH_URL,
    DEFAULT_ISSUE_TYPE, DEFAULT_LABEL_PREFIX,
};

use crate::Failure;

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

pub fn usage() -> String {
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

/// What the command line asked for.
#[derive(Debug)]
pub enum Invocation {
    Help,
    NoCommand,
    Run { state: PathBuf, command: Command },
}

#[derive(Debug)]
pub enum Command {
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
pub struct SettingsChange {
    project: Option<String>,
    issue_type: Option<String>,
    label_prefix: Option<String>,
    assignee: Option<Assignee>,
    labels: Option<Vec<String>>,
}

impl SettingsChange {
    /// The settings to save: the saved ones (or the defaults) with the options applied.
    pub fn apply(self, saved: Option<Settings>) -> Result<Settings, Failure> {
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
        })
    }
}

#[derive(Debug)]
pub enum OverrideAction {
    Clear,
    Set(OverrideChange),
}

/// The options of `override`: `None` keeps the saved value.
#[derive(Debug, Default)]
pub struct OverrideChange {
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

    pub fn apply(self, saved: Option<TestOverride>) -> TestOverride {
        let base = saved.unwrap_or_default();
        TestOverride {
            enabled: self.enabled.unwrap_or(base.enabled),
            project_key: self.project.or(base.project_key),
            assignee: self.assignee.or(base.assignee),
            labels: self.labels.unwrap_or(base.labels),
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

pub fn read_args() -> Result<Vec<String>, Failure> {
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

pub fn parse(args: Vec<String>) -> Result<Invocation, Failure> {
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
