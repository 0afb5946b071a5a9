//! The command line: its grammar, declared for clap, and its usage errors, put in the
//! one-line form that scripts read (``error: …; run `sandbox --help` for usage``).
//!
//! To add a command, add a variant to [`Command`] (its options in an `Args` struct of its
//! own, or flattened from a shared one such as [`IssueOptions`]), an arm in
//! `commands::run`, and its line in [`help_text`]: `--help` prints that text, written by
//! hand, rather than clap's generated help, because it is the text people and scripts know.
//!
//! Every option that takes a value takes the next argument as its value even if it starts
//! with `-` (`allow_hyphen_values`): a message may (`--message "-1 != 2"`). A positional
//! argument starting with `-` follows `--`.
//!
//! The options of the top level ([`GLOBALS`]: where the state is kept, and which workspace)
//! may come before or after the command; to add one, declare it on [`Cli`], name its id in
//! [`GLOBALS`] and read it in [`parse`].

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use jira_notifier::{
    Assignee, OnPass, OnRepeat, StormLimit, WorkspaceId, DEFAULT_API_URL, DEFAULT_AUTH_URL,
    DEFAULT_COMMENT_EVERY, DEFAULT_ISSUE_TYPE, DEFAULT_LABEL_PREFIX,
};
use jira_notifier_postgres::tokio_postgres;
use jira_notifier_postgres::PostgresStore;

use crate::output::one_line;
use crate::Failure;

const DEFAULT_STATE: &str = "sandbox-state.json";
const DEFAULT_MESSAGE: &str = "Simulated failure from the sandbox";
const PROGRAM: &str = "sandbox";

/// The ids clap gives the top level's options, in the top level's matches and in each
/// command's.
const STATE: &str = "state";
const DATABASE: &str = "database";
const WORKSPACE: &str = "workspace";
/// The options of the top level, which may also come after the command.
const GLOBALS: [&str; 3] = [STATE, DATABASE, WORKSPACE];

/// The top level of the command line; [`command`] adds its options to every command.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, disable_help_subcommand = true)]
struct Cli {
    /// The state file, before or after the command; it holds the client secret in clear.
    // A String rather than a PathBuf: clap's path parser refuses `--state=`, which the store
    // has always been the one to report.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true)]
    state: Option<String>,

    /// The PostgreSQL database that keeps the state instead of a file: a
    /// `postgresql://user@host:port/db` URL or a libpq key/value string.
    #[arg(
        long,
        value_name = "URL",
        value_parser = NonEmptyStringValueParser::new(),
        allow_hyphen_values = true
    )]
    database: Option<String>,

    /// The workspace, in the state file or the database (default `default`).
    #[arg(
        long,
        value_name = "ID",
        value_parser = NonEmptyStringValueParser::new(),
        allow_hyphen_values = true
    )]
    workspace: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

/// The whole grammar: [`Cli`] with its options added to every command, so that they may
/// come after the command too. Not clap's `global = true`, which lets `--state A CMD
/// --state B` pass and use B (clap-rs/clap#3938): an option given twice is a usage error.
fn command() -> clap::Command {
    let cli = Cli::command();
    let globals: Vec<clap::Arg> = cli
        .get_arguments()
        .filter(|a| is_global(a))
        .cloned()
        .collect();
    assert_eq!(globals.len(), GLOBALS.len(), "Cli declares every global");
    cli.mut_subcommands(|c| globals.iter().fold(c, |c, a| c.arg(a.clone())))
}

fn is_global(arg: &clap::Arg) -> bool {
    GLOBALS.contains(&arg.get_id().as_str())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connects with the credential in JIRA_CLIENT_ID and JIRA_CLIENT_SECRET, or with the API
    /// token in JIRA_EMAIL and JIRA_API_TOKEN (with --site URL).
    Connect(ConnectArgs),
    /// Lists the projects: `KEY<TAB>Name`.
    Projects,
    /// Lists the issue types of a project: `ID<TAB>Name`.
    IssueTypes(ProjectOption),
    /// Lists the users who can be assigned issues: `ACCOUNT_ID<TAB>Display Name`.
    Users(UsersArgs),
    /// Saves the settings.
    Configure(ConfigureArgs),
    /// Saves or clears the override of one test.
    Override(OverrideArgs),
    /// Reports a failure of a test.
    Fail(FailArgs),
    /// Reports a pass of a test.
    Pass(PassArgs),
    /// Lists the fields of the create screen:
    /// `FIELD_ID<TAB>Name<TAB>required|optional<TAB>default|no-default<TAB>allowed,values`.
    Fields(FieldsArgs),
    /// Prints the integration's health: `ok` or `refused: …`.
    Health,
    /// Creates the test notification issue.
    NotifyTest,
    /// Forgets the connection and its credential.
    Disconnect,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The site to connect to, when the credential reaches several; wins over JIRA_SITE.
    #[arg(long, value_name = "NAME|URL|CLOUD_ID", allow_hyphen_values = true)]
    pub site: Option<String>,
    /// Connect with the API token in JIRA_EMAIL and JIRA_API_TOKEN: a service account's
    /// (through the gateway) or a person's (on the site itself). Default, when those are
    /// set and JIRA_CLIENT_ID and JIRA_CLIENT_SECRET are not: `service` for an email at
    /// serviceaccount.atlassian.com, else `personal`.
    #[arg(long, value_name = "service|personal", allow_hyphen_values = true)]
    pub token_kind: Option<TokenKind>,
}

/// Whose API token JIRA_API_TOKEN is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenKind {
    /// A service account's scoped API token (Atlassian Administration → Service accounts).
    Service,
    /// A person's API token (id.atlassian.com → Security → API tokens).
    Personal,
}

/// The project a list comes from.
#[derive(Debug, Args)]
pub struct ProjectOption {
    /// Default: the saved project.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    #[command(flatten)]
    pub project: ProjectOption,
    /// Default: the saved issue type.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub issue_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Part of a name or email address; none lists them all.
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,
    #[command(flatten)]
    pub project: ProjectOption,
}

/// Where a test's issues go and who gets them, as saved by `configure` and `override`: an
/// option not given keeps the saved value.
#[derive(Debug, Args)]
pub struct IssueOptions {
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub project: Option<String>,
    #[arg(
        long,
        value_name = "auto|ACCOUNT_ID",
        value_parser = parse_assignee,
        allow_hyphen_values = true
    )]
    pub assignee: Option<Assignee>,
    #[arg(long, value_name = "a,b", value_parser = parse_labels, allow_hyphen_values = true)]
    pub labels: Option<Labels>,
    /// `--field FIELD_ID=VALUE[,VALUE…]`, repeatable: a value for a field of the create
    /// screen; `--field FIELD_ID=` removes the saved value.
    #[arg(
        long = "field",
        value_name = "FIELD_ID=VALUE",
        value_parser = parse_field,
        action = ArgAction::Append,
        allow_hyphen_values = true
    )]
    pub fields: Vec<FieldAssignment>,
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    #[command(flatten)]
    pub issue: IssueOptions,
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub issue_type: Option<String>,
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub label_prefix: Option<String>,
    // Boxed: the options of a command stay small.
    #[command(flatten)]
    pub lifecycle: Box<LifecycleOptions>,
    #[command(flatten)]
    pub noise: Box<NoiseOptions>,
}

/// What happens to a test's issue after it is created, as saved by `configure` (the
/// settings' `Lifecycle`) and `override` (the test's `LifecycleOverride`): an option not
/// given keeps the saved value. Values are checked here, so that a wrong one is a usage
/// error and nothing is saved.
#[derive(Debug, Args)]
pub struct LifecycleOptions {
    #[arg(
        long,
        value_name = "nothing|comment",
        value_parser = parse_on_repeat,
        allow_hyphen_values = true
    )]
    pub on_repeat: Option<OnRepeat>,
    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = parse_interval,
        allow_hyphen_values = true
    )]
    pub comment_every: Option<Duration>,
    #[arg(
        long,
        value_name = "nothing|comment|resolve",
        value_parser = parse_on_pass,
        allow_hyphen_values = true
    )]
    pub on_pass: Option<OnPass>,
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_passes,
        allow_hyphen_values = true
    )]
    pub passes_to_resolve: Option<u32>,
    #[arg(long, value_name = "NAME", value_parser = parse_name, allow_hyphen_values = true)]
    pub resolve_transition: Option<Name>,
    #[arg(long, value_name = "NAME", value_parser = parse_name, allow_hyphen_values = true)]
    pub resolution: Option<Name>,
    /// `0` turns reopening off (for `override`: off for the test).
    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = parse_window,
        allow_hyphen_values = true
    )]
    pub reopen_within: Option<Duration>,
    #[arg(long, value_name = "NAME", value_parser = parse_name, allow_hyphen_values = true)]
    pub reopen_transition: Option<Name>,
    /// `""` turns muting off (for `override`: off for the test).
    #[arg(
        long,
        value_name = "a,b",
        value_parser = parse_resolutions,
        allow_hyphen_values = true
    )]
    pub mute_resolutions: Option<Resolutions>,
    /// Whether a repeat failure's `fail --attach` files go to the open issue too.
    #[arg(
        long,
        value_name = "yes|no",
        value_parser = parse_yes_no,
        allow_hyphen_values = true
    )]
    pub attach_on_repeat: Option<bool>,
}

impl LifecycleOptions {
    /// Whether any of the options was given.
    pub fn any(&self) -> bool {
        let LifecycleOptions {
            on_repeat,
            comment_every,
            on_pass,
            passes_to_resolve,
            resolve_transition,
            resolution,
            reopen_within,
            reopen_transition,
            mute_resolutions,
            attach_on_repeat,
        } = self;
        on_repeat.is_some()
            || comment_every.is_some()
            || on_pass.is_some()
            || passes_to_resolve.is_some()
            || resolve_transition.is_some()
            || resolution.is_some()
            || reopen_within.is_some()
            || reopen_transition.is_some()
            || mute_resolutions.is_some()
            || attach_on_repeat.is_some()
    }
}

/// Noise control, as saved by `configure` (the settings' `Noise`) and `override` (the
/// test's `NoiseOverride`): an option not given keeps the saved value. Values are checked
/// here, so that a wrong one is a usage error and nothing is saved.
#[derive(Debug, Args)]
pub struct NoiseOptions {
    /// Failures in a row before the test files an issue, at least 1.
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_min_failures,
        allow_hyphen_values = true
    )]
    pub min_failures: Option<u32>,
    /// `""` turns the storm guard off (for `override`: the test is never grouped).
    #[arg(
        long,
        value_name = "N/SECONDS",
        value_parser = parse_storm_limit,
        allow_hyphen_values = true
    )]
    pub storm_limit: Option<StormLimitOption>,
    #[arg(
        long,
        value_name = "yes|no",
        value_parser = parse_yes_no,
        allow_hyphen_values = true
    )]
    pub split_by_environment: Option<bool>,
}

impl NoiseOptions {
    /// Whether any of the options was given.
    pub fn any(&self) -> bool {
        let NoiseOptions {
            min_failures,
            storm_limit,
            split_by_environment,
        } = self;
        min_failures.is_some() || storm_limit.is_some() || split_by_environment.is_some()
    }
}

#[derive(Debug, Args)]
pub struct OverrideArgs {
    #[arg(value_name = "TEST_ID")]
    pub test_id: String,
    /// Removes the override: the test follows the settings again.
    // "IssueOptions", "LifecycleOptions" and "NoiseOptions" are the groups clap's derive
    // makes of those structs' options, so an option added there is excluded too.
    #[arg(
        long,
        conflicts_with_all = ["disable", "enable", "IssueOptions", "LifecycleOptions", "NoiseOptions"]
    )]
    pub clear: bool,
    #[arg(long, conflicts_with = "enable")]
    pub disable: bool,
    #[arg(long)]
    pub enable: bool,
    #[command(flatten)]
    pub issue: IssueOptions,
    // Boxed: the options of a command stay small.
    #[command(flatten)]
    pub lifecycle: Box<LifecycleOptions>,
    #[command(flatten)]
    pub noise: Box<NoiseOptions>,
}

impl OverrideArgs {
    /// `--disable` or `--enable`, if either was given.
    pub fn enabled(&self) -> Option<bool> {
        (self.disable || self.enable).then_some(self.enable)
    }
}

#[derive(Debug, Args)]
pub struct FailArgs {
    #[arg(value_name = "TEST_ID")]
    pub test_id: String,
    /// Default: the TEST_ID.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub name: Option<String>,
    #[arg(
        long,
        value_name = "MSG",
        default_value = DEFAULT_MESSAGE,
        allow_hyphen_values = true
    )]
    pub message: String,
    /// Default: no link, as there is no test page to link to.
    #[arg(long, value_name = "URL", allow_hyphen_values = true)]
    pub url: Option<String>,
    /// Where the test ran (`staging`, `prod`, …): shown in the summary, and part of the
    /// test's identity under `--split-by-environment yes`. Default: none.
    #[arg(long, value_name = "ENV", allow_hyphen_values = true)]
    pub env: Option<String>,
    // Boxed: the options of a command stay small.
    #[command(flatten)]
    pub evidence: Box<EvidenceOptions>,
}

/// What a failing run tells about itself, as `fail` reports it: the evidence shown with
/// the failure, and the files attached to its issue.
#[derive(Debug, Args)]
pub struct EvidenceOptions {
    /// The run's link, shown with the failure (the evidence table).
    #[arg(long, value_name = "URL", allow_hyphen_values = true)]
    pub run_url: Option<String>,
    /// The commit the run tested.
    #[arg(long, value_name = "SHA", allow_hyphen_values = true)]
    pub commit: Option<String>,
    /// The branch the run tested.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub branch: Option<String>,
    /// `--attach FILE`, repeatable: a file to attach to the issue the failure files (its
    /// media type from its extension). Read before anything is sent.
    #[arg(
        long = "attach",
        value_name = "FILE",
        action = ArgAction::Append,
        allow_hyphen_values = true
    )]
    pub attach: Vec<PathBuf>,
}

/// The test a pass is reported for: `fail`'s options but the message and the evidence of
/// the failing run, as a pass has none.
#[derive(Debug, Args)]
pub struct PassArgs {
    #[arg(value_name = "TEST_ID")]
    pub test_id: String,
    /// Default: the TEST_ID.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Default: no link.
    #[arg(long, value_name = "URL", allow_hyphen_values = true)]
    pub url: Option<String>,
    /// Where the test ran, as for `fail --env`. Default: none.
    #[arg(long, value_name = "ENV", allow_hyphen_values = true)]
    pub env: Option<String>,
}

/// `--resolve-transition`, `--resolution`, `--reopen-transition`: a name, trimmed; `""`
/// (or blanks) unsets it: `configure` goes back to the library's choice, `override` to the
/// settings' value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(pub Option<String>);

/// `--mute-resolutions a,b`: names split at commas, trimmed, blanks dropped, so `""` gives
/// none (muting off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolutions(pub Vec<String>);

fn parse_on_repeat(value: &str) -> Result<OnRepeat, String> {
    match value {
        "nothing" => Ok(OnRepeat::Nothing),
        "comment" => Ok(OnRepeat::Comment),
        _ => Err(format!("takes nothing or comment, not {value:?}")),
    }
}

fn parse_on_pass(value: &str) -> Result<OnPass, String> {
    match value {
        "nothing" => Ok(OnPass::Nothing),
        "comment" => Ok(OnPass::Comment),
        "resolve" => Ok(OnPass::Resolve),
        _ => Err(format!("takes nothing, comment or resolve, not {value:?}")),
    }
}

/// A whole number of decimal digits: no sign, no blanks, no fraction.
fn whole_number(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// `--comment-every`: whole seconds, at least 1.
fn parse_interval(value: &str) -> Result<Duration, String> {
    match whole_number(value) {
        Some(secs) if secs >= 1 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "takes a whole number of seconds, at least 1, not {value:?}"
        )),
    }
}

/// `--reopen-within`: whole seconds, `0` for off.
fn parse_window(value: &str) -> Result<Duration, String> {
    match whole_number(value) {
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!(
            "takes a whole number of seconds (0: off), not {value:?}"
        )),
    }
}

/// `--passes-to-resolve`: a whole number, at least 1.
fn parse_passes(value: &str) -> Result<u32, String> {
    match whole_number(value).and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "takes a whole number from 1 to {}, not {value:?}",
            u32::MAX
        )),
    }
}

/// `--min-failures`: a whole number, at least 1.
fn parse_min_failures(value: &str) -> Result<u32, String> {
    parse_passes(value)
}

/// `--storm-limit N/SECONDS`, or `""` (blanks too) for none; `None` inside is that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StormLimitOption(pub Option<StormLimit>);

/// `--storm-limit`: `N/SECONDS`, both whole numbers of at least 1, or `""` for off. The
/// digits are checked here (no sign, no blanks, as the other numbers), the rest by the
/// library's own reading.
fn parse_storm_limit(value: &str) -> Result<StormLimitOption, String> {
    if value.trim().is_empty() {
        return Ok(StormLimitOption(None));
    }
    let limit = value
        .split_once('/')
        .filter(|(n, secs)| whole_number(n).is_some() && whole_number(secs).is_some())
        .and_then(|_| value.parse::<StormLimit>().ok());
    match limit {
        Some(limit) => Ok(StormLimitOption(Some(limit))),
        None => Err(format!(
            "takes N/SECONDS with both whole numbers of at least 1 (\"\": off), not {value:?}"
        )),
    }
}

/// `--split-by-environment`, `--attach-on-repeat`: `yes` or `no`.
fn parse_yes_no(value: &str) -> Result<bool, String> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("takes yes or no, not {value:?}")),
    }
}

fn parse_name(value: &str) -> Result<Name, std::convert::Infallible> {
    let name = value.trim();
    Ok(Name((!name.is_empty()).then(|| name.to_owned())))
}

fn parse_resolutions(value: &str) -> Result<Resolutions, std::convert::Infallible> {
    Ok(Resolutions(
        value
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

/// `--labels a,b`: blanks around and between commas are dropped, so `--labels ""` clears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels(pub Vec<String>);

/// `--field FIELD_ID=VALUE[,VALUE…]`, as typed: how the value splits into values depends on
/// the field's kind, which only the create screen says
/// ([`jira_notifier::parse_field_assignment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldAssignment(pub String);

fn parse_field(value: &str) -> Result<FieldAssignment, String> {
    match value.split_once('=') {
        Some((id, _)) if !id.trim().is_empty() => Ok(FieldAssignment(value.to_owned())),
        _ => Err(format!("takes FIELD_ID=VALUE, not {value:?}")),
    }
}

fn parse_assignee(value: &str) -> Result<Assignee, std::convert::Infallible> {
    Ok(if value == "auto" {
        Assignee::Auto
    } else {
        Assignee::user(value)
    })
}

fn parse_labels(value: &str) -> Result<Labels, std::convert::Infallible> {
    Ok(Labels(
        value
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

pub fn help_text() -> String {
    const DEFAULT_WORKSPACE: &str = WorkspaceId::DEFAULT;
    let comment_every = DEFAULT_COMMENT_EVERY.as_secs();
    format!(
        "\
sandbox: try jira-notifier against a sandbox Jira Cloud site, with its state in a JSON file.

Usage:
  sandbox [--state FILE] connect [--site NAME|URL|CLOUD_ID]
  sandbox [--state FILE] connect --site URL [--token-kind service|personal]
  sandbox [--state FILE] projects
  sandbox [--state FILE] issue-types [--project KEY]
  sandbox [--state FILE] users [QUERY] [--project KEY]
  sandbox [--state FILE] configure [--project KEY] [--issue-type NAME] [--label-prefix P]
                                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
                                   [--field FIELD_ID=VALUE[,VALUE...]]...
                                   [LIFECYCLE OPTIONS]
                                   [NOISE OPTIONS]
  sandbox [--state FILE] override TEST_ID [--disable|--enable] [--project KEY]
                                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
                                   [--field FIELD_ID=VALUE[,VALUE...]]...
                                   [LIFECYCLE OPTIONS]
                                   [NOISE OPTIONS]
  sandbox [--state FILE] override TEST_ID --clear
  sandbox [--state FILE] fail TEST_ID [--name NAME] [--message MSG] [--url URL]
                              [--env ENV] [--run-url URL] [--commit SHA] [--branch NAME]
                              [--attach FILE]...
  sandbox [--state FILE] pass TEST_ID [--name NAME] [--url URL]
                              [--env ENV]
  sandbox [--state FILE] fields [--project KEY] [--issue-type NAME]
  sandbox [--state FILE] health
  sandbox [--state FILE] notify-test
  sandbox [--state FILE] disconnect
  sandbox --help
  Each form also takes [--workspace ID], and --database URL in place of --state FILE.

Options:
  --state FILE    the state file, before or after the command (default: {DEFAULT_STATE});
                  it holds the client secret in clear
  --database URL  keep the state in PostgreSQL instead of a file (not with --state), before
                  or after the command: a postgresql://user@host:port/db URL or a key/value
                  string (\"host=/run/postgresql dbname=app\"); it holds the secret in clear
  --workspace ID  the workspace to use in the state file or the database, before or after
                  the command (default: {DEFAULT_WORKSPACE}); workspaces share nothing
  --opt=VALUE works like --opt VALUE; `--` ends the options (for a TEST_ID starting with -)
  configure and override keep what is saved for options not given; --labels \"\" clears;
  a first configure defaults to --issue-type {DEFAULT_ISSUE_TYPE} --label-prefix {DEFAULT_LABEL_PREFIX} --assignee auto
  --field FIELD_ID=VALUE sets a field of the create screen (see `fields`), repeatable: values
  by name or id, commas separating values for a multi-value field only; FIELD_ID= removes it
  fail defaults: --name TEST_ID, --message \"{DEFAULT_MESSAGE}\", no --url
  fields lists the create screen (default: the saved project and issue type), one field per
  line: FIELD_ID<TAB>Name<TAB>required|optional<TAB>default|no-default<TAB>allowed,values
  health prints ok, or refused: and why Jira refused the last issue

Lifecycle options (configure, and override for one test): what happens after the create
  --on-repeat nothing|comment        a failure while the issue is open: nothing (duplicate),
                                     or a comment, at most one per --comment-every
  --comment-every SECONDS            at least 1 (default: {comment_every})
  --on-pass nothing|comment|resolve  a pass: nothing, a comment, or resolve the issue
  --passes-to-resolve N              passes in a row that resolve it, at least 1 (default: 1)
  --resolve-transition NAME          default: the first transition to a Done status
  --resolution NAME                  default: the first resolution Jira allows
  --reopen-within SECONDS            a failure this soon after the issue was done reopens it
                                     (default: 0, off)
  --reopen-transition NAME           default: the first transition out of Done
  --mute-resolutions a,b             e.g. \"Won't Do,Duplicate\": while the last issue has one,
                                     failures create nothing (default: \"\", off)
  --attach-on-repeat yes|no          a failure while the issue is open attaches its --attach
                                     files to it too (default: no)
  a NAME of \"\" unsets it; an override sets only the options given (the rest follow the
  settings), and its --reopen-within 0 or --mute-resolutions \"\" turn that off for the test
  configure and override print a second line, when the lifecycle is not the default or one of
  these options is given: lifecycle on-repeat=... comment-every=... on-pass=... passes-to-resolve=...
  resolve-transition=... resolution=... reopen-within=... reopen-transition=... mute-resolutions=a,b
  (a name not set: (default); for override, a part it leaves to the settings: (global))
  the line ends in attach-on-repeat=yes|no when that is on, given, or set by the override
  pass defaults: --name TEST_ID, no --url; it prints ignored, commented KEY, resolved KEY,
  passing N/M KEY (N of the passes in a row that resolve it), disabled or not-connected
  fail may also print reopened KEY URL or muted KEY

Noise options (configure, and override for one test): which failures file an issue
  --min-failures N                   failures in a row before a test files an issue, at
                                     least 1 (default: 1); below it fail prints counted N/M
  --storm-limit N/SECONDS            once N issues were filed in SECONDS, further new failures
                                     join one umbrella issue: fail prints grouped KEY URL
                                     (default: \"\", off; for override, \"\": never grouped)
  --split-by-environment yes|no      one issue per test and --env (default: no)
  an override sets only the options given (the rest follow the settings)
  configure and override print a noise line, when noise control is not the default or one
  of these options is given: noise min-failures=N storm-limit=N/SECONDS|off
  split-by-environment=yes|no (for override, a part it leaves to the settings: (global))

Evidence (fail): --env ENV (also for pass), --run-url URL, --commit SHA, --branch NAME go
  with the failure; --attach FILE (repeatable) attaches a file to the issue the failure
  files: .txt/.log text/plain, .json/.har application/json, .png image/png, .jpg/.jpeg
  image/jpeg, .html text/html, else application/octet-stream. A file that cannot be read
  is a usage error and nothing is sent; a file not attached (too large, refused, a repeat)
  is one line on stderr, warning: attachment NAME not attached: REASON, and fail exits 0

Environment:
  JIRA_CLIENT_ID, JIRA_CLIENT_SECRET  the service account's credential (read by connect)
  JIRA_EMAIL, JIRA_API_TOKEN          an API token and its account's email (read by connect,
                                      when --token-kind is given or JIRA_CLIENT_ID and
                                      JIRA_CLIENT_SECRET are not set): a service account's
                                      (email at serviceaccount.atlassian.com) or a person's,
                                      who then reports the issues; the site is --site or
                                      JIRA_SITE (a URL, or NAME for https://NAME.atlassian.net)
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
    Run {
        store: StoreChoice,
        // Boxed: commands grow options, and an invocation stays small.
        command: Box<Command>,
    },
}

/// Where the state is kept: `--state`, `--database`, `--workspace`.
#[derive(Debug)]
pub struct StoreChoice {
    pub location: Location,
    /// The workspace's id (at most [`PostgresStore::MAX_WORKSPACE_ID_LEN`] bytes).
    pub workspace: WorkspaceId,
}

#[derive(Debug)]
pub enum Location {
    /// The state file, `--state` or the default.
    File(PathBuf),
    /// `--database`, parsed (its `Debug` hides the password).
    Database(Box<tokio_postgres::Config>),
}

/// The arguments after the program's name; clap would reject one that is not UTF-8 too,
/// but without saying which.
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

pub fn parse(args: &[String]) -> Result<Invocation, Failure> {
    let usage = |e: clap::Error| Failure::usage(usage_error(&e, args));
    let mut matches = match command().try_get_matches_from(with_program(args)) {
        Ok(matches) => matches,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => return Ok(Invocation::Help),
        Err(e) => return Err(usage(e)),
    };
    let after = |id: &str| {
        matches
            .subcommand()
            .and_then(|(_, m)| m.get_one::<String>(id))
            .cloned()
    };
    let [state_after, database_after, workspace_after] = GLOBALS.map(after);
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(usage)?;
    let state = once(STATE, cli.state, state_after)?;
    let database = once(DATABASE, cli.database, database_after)?;
    let workspace = once(WORKSPACE, cli.workspace, workspace_after)?;
    let location =
        match (state, database) {
            (Some(_), Some(_)) => return Err(Failure::usage(
                "--database and --state exclude each other: the state is kept in one or the other",
            )),
            (_, Some(database)) => Location::Database(Box::new(database_config(&database)?)),
            (state, None) => Location::File(PathBuf::from(
                state.unwrap_or_else(|| DEFAULT_STATE.to_owned()),
            )),
        };
    let workspace = match workspace {
        Some(id) if id.len() > PostgresStore::MAX_WORKSPACE_ID_LEN => {
            return Err(Failure::usage(format!(
                "--workspace takes at most {} bytes",
                PostgresStore::MAX_WORKSPACE_ID_LEN
            )))
        }
        Some(id) => WorkspaceId::new(id),
        None => WorkspaceId::default(),
    };
    Ok(match cli.command {
        Some(command) => Invocation::Run {
            store: StoreChoice {
                location,
                workspace,
            },
            command: Box::new(command),
        },
        None => Invocation::NoCommand,
    })
}

/// A global option's value, given before or after the command but not both.
fn once(
    id: &str,
    before: Option<String>,
    after: Option<String>,
) -> Result<Option<String>, Failure> {
    match (before, after) {
        (Some(_), Some(_)) => Err(Failure::usage(format!("--{id} is given twice"))),
        (before, after) => Ok(after.or(before)),
    }
}

/// `--database`'s URL or key/value string, as tokio-postgres reads it. Its parser's reasons
/// name an option or a character, never the string (which may hold a password).
fn database_config(text: &str) -> Result<tokio_postgres::Config, Failure> {
    text.parse().map_err(|e: tokio_postgres::Error| {
        Failure::usage(format!(
            "--database takes a postgresql:// URL or a key/value connection string: {}",
            one_line(&e)
        ))
    })
}

fn with_program(args: &[String]) -> impl Iterator<Item = &str> {
    std::iter::once(PROGRAM).chain(args.iter().map(String::as_str))
}

/// The command clap was parsing when it stopped, if it got that far: its errors do not name
/// the command, and the messages do. Parsing again with errors ignored goes past the error
/// and records the command.
fn command_at_fault(args: &[String]) -> Option<String> {
    let matches = command()
        .ignore_errors(true)
        .try_get_matches_from(with_program(args))
        .ok()?;
    matches.subcommand_name().map(str::to_owned)
}

/// A clap error as the one line the tool has always printed: clap's own rendering is
/// several lines, with a usage block and tips.
fn usage_error(err: &clap::Error, args: &[String]) -> String {
    if err.kind() == ErrorKind::InvalidSubcommand {
        let word = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
        return format!("unknown command {word:?}");
    }
    let Some(invalid) = context(err, ContextKind::InvalidArg) else {
        return clap_summary(err);
    };
    let mut cli = command();
    // Built, the commands also list `--help`.
    cli.build();
    let name = command_at_fault(args);
    let command = name.as_deref().and_then(|n| cli.find_subcommand(n));
    // clap quotes an unknown argument as typed, and renders a known one with its value
    // (`--project <KEY>`) or, for a positional, in brackets (`<TEST_ID>`).
    let arg = option_name(invalid);
    match err.kind() {
        ErrorKind::UnknownArgument => unknown_argument(&cli, command, invalid, args),
        ErrorKind::ArgumentConflict => {
            let prior = context(err, ContextKind::PriorArg).map_or(arg, option_name);
            conflict(command, arg, prior)
        }
        ErrorKind::InvalidValue if context(err, ContextKind::InvalidValue) == Some("") => {
            format!("{arg} needs a value")
        }
        ErrorKind::TooManyValues => format!("{arg} takes no value"),
        // `--field` and the lifecycle options validate their values.
        ErrorKind::ValueValidation => match std::error::Error::source(err) {
            Some(reason) => format!("{arg} {reason}"),
            None => clap_summary(err),
        },
        ErrorKind::MissingRequiredArgument => format!(
            "`{}` needs a {}",
            name.as_deref().unwrap_or(PROGRAM),
            arg.trim_matches(['<', '>'])
        ),
        _ => clap_summary(err),
    }
}

fn unknown_argument(
    cli: &clap::Command,
    command: Option<&clap::Command>,
    arg: &str,
    args: &[String],
) -> String {
    let Some(command) = command else {
        return if !is_option(arg) {
            // Only `sandbox -- CMD` gets here: a word after `--` that names a command.
            format!("unexpected argument \"--\" before `{arg}`")
        } else if is_option_of_a_command(cli, arg) {
            // Only the global options may come before the command.
            format!("{arg} goes after the command")
        } else {
            format!("unknown option {}", as_typed(arg, args))
        };
    };
    let name = command.get_name();
    // An option of this command clap could not take must have come after `--`.
    if !is_option(arg) || find_option(command, arg).is_some() {
        format!("unexpected argument {arg:?} after `{name}`")
    } else if is_option_of_a_command(cli, arg) {
        format!("{arg} is not an option of `{name}`")
    } else {
        format!("unknown option {}", as_typed(arg, args))
    }
}

fn conflict(command: Option<&clap::Command>, arg: &str, prior: &str) -> String {
    if arg == prior {
        return format!("{arg} is given twice");
    }
    let alone = command.and_then(|c| [arg, prior].into_iter().find(|o| excludes_all(c, o)));
    match alone {
        Some(alone) => format!("{alone} takes no other option"),
        None => {
            let (first, second) = if arg < prior {
                (arg, prior)
            } else {
                (prior, arg)
            };
            format!("{first} and {second} exclude each other")
        }
    }
}

/// Whether `option` excludes every other option of `command` (`override --clear`).
fn excludes_all(command: &clap::Command, option: &str) -> bool {
    let Some(arg) = find_option(command, option) else {
        return false;
    };
    let excluded = command.get_arg_conflicts_with(arg);
    command_options(command)
        .filter(|other| other.get_id() != arg.get_id())
        .all(|other| excluded.iter().any(|e| e.get_id() == other.get_id()))
}

/// The options a command has of its own: not its positionals, the global options or
/// `--help`.
fn command_options(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    command
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !is_global(a) && a.get_id() != "help")
}

fn find_option<'c>(command: &'c clap::Command, option: &str) -> Option<&'c clap::Arg> {
    let long = option.strip_prefix("--")?;
    command.get_arguments().find(|a| a.get_long() == Some(long))
}

fn is_option_of_a_command(cli: &clap::Command, option: &str) -> bool {
    let long = option.strip_prefix("--");
    cli.get_subcommands()
        .any(|c| command_options(c).any(|a| a.get_long() == long))
}

fn is_option(arg: &str) -> bool {
    arg.starts_with('-') && arg != "-"
}

/// clap names an unknown short option by its first letter (`-t` for `fail -t1`); the
/// message names the argument as it was typed.
fn as_typed<'a>(option: &'a str, args: &'a [String]) -> &'a str {
    if option.starts_with("--") {
        return option;
    }
    args.iter()
        .find(|a| a.starts_with(option) && !a.starts_with("--"))
        .map_or(option, String::as_str)
}

/// An error context's text; of a list, the first item.
fn context(err: &clap::Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s),
        ContextValue::Strings(v) => v.first().map(String::as_str),
        _ => None,
    }
}

/// `--project` of `--project <KEY>`.
fn option_name(rendered: &str) -> &str {
    rendered.split([' ', '=']).next().unwrap_or(rendered)
}

/// The first line of clap's rendering, for the errors this grammar cannot produce today
/// (should it come to): the problem without clap's `error: ` prefix, usage block or tips.
fn clap_summary(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<String> {
        line.iter().map(|a| (*a).to_owned()).collect()
    }

    fn invocation(line: &[&str]) -> (StoreChoice, Command) {
        match parse(&args(line)) {
            Ok(Invocation::Run { store, command }) => (store, *command),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    /// The state file and the command of a line without `--database`.
    fn run(line: &[&str]) -> (PathBuf, Command) {
        match invocation(line) {
            (
                StoreChoice {
                    location: Location::File(state),
                    ..
                },
                command,
            ) => (state, command),
            (store, _) => panic!("{line:?}: {store:?}"),
        }
    }

    fn usage_error_of(line: &[&str]) -> String {
        match parse(&args(line)) {
            Err(Failure::Usage(message)) => message,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn the_grammar_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_option_with_a_value_takes_one_starting_with_a_dash() {
        let mut cli = command();
        cli.build();
        for command in cli.get_subcommands() {
            for arg in command.get_arguments().filter(|a| !a.is_positional()) {
                if arg.get_action().takes_values() {
                    assert!(
                        arg.is_allow_hyphen_values_set(),
                        "{} {arg}",
                        command.get_name()
                    );
                }
            }
        }
    }

    #[test]
    fn fail_takes_its_values_and_defaults() {
        let (state, Command::Fail(fail)) = run(&["fail", "t1"]) else {
            panic!()
        };
        assert_eq!(state, PathBuf::from(DEFAULT_STATE));
        assert_eq!(
            (
                fail.test_id.as_str(),
                fail.name,
                fail.message.as_str(),
                fail.url
            ),
            ("t1", None, DEFAULT_MESSAGE, None)
        );

        let line = [
            "fail",
            "--name=N",
            "t1",
            "--message",
            "-1 != 2",
            "--url",
            "--",
            "--state",
            "s",
        ];
        let (state, Command::Fail(fail)) = run(&line) else {
            panic!()
        };
        assert_eq!(state, PathBuf::from("s"));
        assert_eq!(
            (
                fail.test_id.as_str(),
                fail.name.as_deref(),
                fail.message.as_str()
            ),
            ("t1", Some("N"), "-1 != 2")
        );
        assert_eq!(fail.url.as_deref(), Some("--"));
    }

    #[test]
    fn the_state_file_is_named_before_or_after_the_command() {
        assert_eq!(run(&["--state", "a", "projects"]).0, PathBuf::from("a"));
        assert_eq!(run(&["projects", "--state=b"]).0, PathBuf::from("b"));
        assert_eq!(run(&["projects"]).0, PathBuf::from(DEFAULT_STATE));
    }

    #[test]
    fn a_dash_leading_test_id_follows_a_double_dash() {
        let (_, Command::Fail(fail)) = run(&["fail", "--", "-t1"]) else {
            panic!()
        };
        assert_eq!(fail.test_id, "-t1");
        assert_eq!(usage_error_of(&["fail", "-t1"]), "unknown option -t1");
    }

    #[test]
    fn configure_keeps_what_is_not_given() {
        let (_, Command::Configure(c)) = run(&["configure", "--labels", " a, ,b "]) else {
            panic!()
        };
        assert_eq!(c.issue.labels, Some(Labels(vec!["a".into(), "b".into()])));
        assert_eq!(
            (
                c.issue.project,
                c.issue.assignee,
                c.issue_type,
                c.label_prefix
            ),
            (None, None, None, None)
        );

        let (_, Command::Configure(c)) = run(&["configure", "--labels=", "--assignee=auto"]) else {
            panic!()
        };
        assert_eq!(c.issue.labels, Some(Labels(vec![])));
        assert_eq!(c.issue.assignee, Some(Assignee::Auto));
    }

    #[test]
    fn override_reads_enable_disable_and_clear() {
        let cases: [(&[&str], Option<bool>, bool); 4] = [
            (&["override", "t1"], None, false),
            (&["override", "t1", "--disable"], Some(false), false),
            (&["override", "t1", "--enable"], Some(true), false),
            (&["override", "--clear", "t1"], None, true),
        ];
        for (line, enabled, clear) in cases {
            let (_, Command::Override(o)) = run(line) else {
                panic!()
            };
            assert_eq!((o.enabled(), o.clear), (enabled, clear), "{line:?}");
        }
        let (_, Command::Override(o)) = run(&["override", "t1", "--assignee", "u-1"]) else {
            panic!()
        };
        assert_eq!(o.issue.assignee, Some(Assignee::user("u-1")));
    }

    #[test]
    fn clear_takes_no_other_option_of_override() {
        let mut cli = command();
        cli.build();
        let command = cli.find_subcommand("override").unwrap();
        for other in command_options(command).filter(|a| a.get_id() != "clear") {
            let long = other.get_long().unwrap();
            let option = format!("--{long}");
            let mut line = vec!["override", "t1", "--clear", &option];
            if other.get_action().takes_values() {
                // A value the option takes: a wrong one is reported before the conflict.
                line.push(match long {
                    "on-repeat" | "on-pass" => "comment",
                    "comment-every" | "passes-to-resolve" | "reopen-within" | "min-failures" => "1",
                    "storm-limit" => "10/600",
                    "split-by-environment" | "attach-on-repeat" => "yes",
                    _ => "x=y",
                });
            }
            assert_eq!(usage_error_of(&line), "--clear takes no other option");
        }
    }

    #[test]
    fn lifecycle_options_are_read_for_configure_and_override() {
        let (_, Command::Configure(c)) = run(&["configure", "--on-pass", "resolve"]) else {
            panic!()
        };
        assert!(c.lifecycle.any());
        assert_eq!(c.lifecycle.on_pass, Some(OnPass::Resolve));
        assert_eq!(
            (c.lifecycle.on_repeat, c.lifecycle.passes_to_resolve),
            (None, None)
        );
        let (_, Command::Configure(c)) = run(&["configure", "--labels", "a"]) else {
            panic!()
        };
        assert!(!c.lifecycle.any());

        let line = [
            "configure",
            "--on-repeat=comment",
            "--comment-every",
            "600",
            "--on-pass",
            "comment",
            "--passes-to-resolve",
            "3",
            "--resolve-transition",
            " Close issue ",
            "--resolution=",
            "--reopen-within",
            "0",
            "--reopen-transition",
            "-Reopen",
            "--mute-resolutions",
            "Won't Do, ,Duplicate ",
        ];
        let (_, Command::Configure(c)) = run(&line) else {
            panic!()
        };
        let l = c.lifecycle;
        assert_eq!(l.on_repeat, Some(OnRepeat::Comment));
        assert_eq!(l.comment_every, Some(Duration::from_secs(600)));
        assert_eq!(l.on_pass, Some(OnPass::Comment));
        assert_eq!(l.passes_to_resolve, Some(3));
        assert_eq!(l.resolve_transition, Some(Name(Some("Close issue".into()))));
        assert_eq!(l.resolution, Some(Name(None)));
        assert_eq!(l.reopen_within, Some(Duration::ZERO));
        assert_eq!(l.reopen_transition, Some(Name(Some("-Reopen".into()))));
        assert_eq!(
            l.mute_resolutions,
            Some(Resolutions(vec!["Won't Do".into(), "Duplicate".into()]))
        );

        let line = [
            "override",
            "t1",
            "--mute-resolutions",
            "",
            "--reopen-within=0",
            "--on-repeat",
            "nothing",
        ];
        let (_, Command::Override(o)) = run(&line) else {
            panic!()
        };
        assert_eq!(o.lifecycle.mute_resolutions, Some(Resolutions(vec![])));
        assert_eq!(o.lifecycle.reopen_within, Some(Duration::ZERO));
        assert_eq!(o.lifecycle.on_repeat, Some(OnRepeat::Nothing));
    }

    #[test]
    fn noise_options_are_read_for_configure_and_override() {
        let (_, Command::Configure(c)) = run(&["configure", "--labels", "a"]) else {
            panic!()
        };
        assert!(!c.noise.any());
        assert_eq!(
            (
                c.noise.min_failures,
                c.noise.storm_limit,
                c.noise.split_by_environment
            ),
            (None, None, None)
        );

        let line = [
            "configure",
            "--min-failures",
            "3",
            "--storm-limit=10/600",
            "--split-by-environment",
            "yes",
        ];
        let (_, Command::Configure(c)) = run(&line) else {
            panic!()
        };
        assert!(c.noise.any());
        assert_eq!(c.noise.min_failures, Some(3));
        assert_eq!(
            c.noise.storm_limit,
            Some(StormLimitOption(Some(StormLimit::new(
                10,
                Duration::from_secs(600)
            ))))
        );
        assert_eq!(c.noise.split_by_environment, Some(true));
        assert!(!c.lifecycle.any());

        // Each option alone counts as given.
        for line in [
            &["configure", "--min-failures", "1"][..],
            &["configure", "--storm-limit", ""],
            &["configure", "--split-by-environment=no"],
        ] {
            let (_, Command::Configure(c)) = run(line) else {
                panic!("{line:?}")
            };
            assert!(c.noise.any(), "{line:?}");
        }

        // "" (or blanks): off; for an override, the test is never grouped.
        let line = [
            "override",
            "t1",
            "--storm-limit",
            " ",
            "--split-by-environment",
            "no",
            "--min-failures=4294967295",
        ];
        let (_, Command::Override(o)) = run(&line) else {
            panic!()
        };
        assert_eq!(o.noise.storm_limit, Some(StormLimitOption(None)));
        assert_eq!(o.noise.split_by_environment, Some(false));
        assert_eq!(o.noise.min_failures, Some(u32::MAX));
    }

    #[test]
    fn attach_on_repeat_is_a_lifecycle_option() {
        let (_, Command::Configure(c)) = run(&["configure", "--attach-on-repeat", "yes"]) else {
            panic!()
        };
        assert!(c.lifecycle.any());
        assert!(!c.noise.any());
        assert_eq!(c.lifecycle.attach_on_repeat, Some(true));
        let (_, Command::Override(o)) = run(&["override", "t1", "--attach-on-repeat=no"]) else {
            panic!()
        };
        assert_eq!(o.lifecycle.attach_on_repeat, Some(false));
        let (_, Command::Override(o)) = run(&["override", "t1", "--on-pass", "comment"]) else {
            panic!()
        };
        assert_eq!(o.lifecycle.attach_on_repeat, None);
    }

    #[test]
    fn fail_takes_an_environment_evidence_and_files() {
        let (_, Command::Fail(f)) = run(&["fail", "t1"]) else {
            panic!()
        };
        assert_eq!(
            (
                f.env,
                f.evidence.run_url,
                f.evidence.commit,
                f.evidence.branch
            ),
            (None, None, None, None)
        );
        assert!(f.evidence.attach.is_empty());

        let line = [
            "fail",
            "t1",
            "--env",
            "staging",
            "--run-url=https://ci.example/runs/812",
            "--commit",
            "4f2a9c1",
            "--branch",
            "-main",
            "--attach",
            "run.log",
            "--attach=shot.png",
            "--attach",
            "-odd.har",
        ];
        let (_, Command::Fail(f)) = run(&line) else {
            panic!()
        };
        assert_eq!(f.env.as_deref(), Some("staging"));
        assert_eq!(
            f.evidence.run_url.as_deref(),
            Some("https://ci.example/runs/812")
        );
        assert_eq!(f.evidence.commit.as_deref(), Some("4f2a9c1"));
        assert_eq!(f.evidence.branch.as_deref(), Some("-main"));
        assert_eq!(
            f.evidence.attach,
            [
                PathBuf::from("run.log"),
                PathBuf::from("shot.png"),
                PathBuf::from("-odd.har")
            ]
        );
        // The options `fail` had keep their meaning.
        assert_eq!(
            (f.test_id.as_str(), f.message.as_str(), f.name, f.url),
            ("t1", DEFAULT_MESSAGE, None, None)
        );

        let (_, Command::Pass(p)) = run(&["pass", "t1", "--env", "prod"]) else {
            panic!()
        };
        assert_eq!(p.env.as_deref(), Some("prod"));
        let (_, Command::Pass(p)) = run(&["pass", "t1"]) else {
            panic!()
        };
        assert_eq!(p.env, None);
    }

    #[test]
    fn wrong_noise_and_evidence_values_are_usage_errors() {
        const MIN: &str = "--min-failures takes a whole number from 1 to 4294967295";
        const STORM: &str =
            "--storm-limit takes N/SECONDS with both whole numbers of at least 1 (\"\": off)";
        let cases: &[(&[&str], String)] = &[
            (
                &["configure", "--min-failures", "0"],
                format!("{MIN}, not \"0\""),
            ),
            (
                &["override", "t1", "--min-failures", "-1"],
                format!("{MIN}, not \"-1\""),
            ),
            (
                &["configure", "--min-failures", "+2"],
                format!("{MIN}, not \"+2\""),
            ),
            (
                &["configure", "--min-failures", "two"],
                format!("{MIN}, not \"two\""),
            ),
            (
                &["configure", "--min-failures="],
                format!("{MIN}, not \"\""),
            ),
            (
                &["configure", "--min-failures", "4294967296"],
                format!("{MIN}, not \"4294967296\""),
            ),
            (
                &["configure", "--storm-limit", "0/60"],
                format!("{STORM}, not \"0/60\""),
            ),
            (
                &["configure", "--storm-limit", "10/0"],
                format!("{STORM}, not \"10/0\""),
            ),
            (
                &["override", "t1", "--storm-limit", "10"],
                format!("{STORM}, not \"10\""),
            ),
            (
                &["configure", "--storm-limit", "10/"],
                format!("{STORM}, not \"10/\""),
            ),
            (
                &["configure", "--storm-limit", " 10/600"],
                format!("{STORM}, not \" 10/600\""),
            ),
            (
                &["configure", "--storm-limit", "+1/60"],
                format!("{STORM}, not \"+1/60\""),
            ),
            (
                &["configure", "--storm-limit", "10/10m"],
                format!("{STORM}, not \"10/10m\""),
            ),
            (
                &["configure", "--storm-limit", "4294967296/60"],
                format!("{STORM}, not \"4294967296/60\""),
            ),
            (
                &["configure", "--split-by-environment", "true"],
                "--split-by-environment takes yes or no, not \"true\"".to_owned(),
            ),
            (
                &["override", "t1", "--split-by-environment", "Yes"],
                "--split-by-environment takes yes or no, not \"Yes\"".to_owned(),
            ),
            (
                &["configure", "--attach-on-repeat="],
                "--attach-on-repeat takes yes or no, not \"\"".to_owned(),
            ),
            (
                &["override", "t1", "--attach-on-repeat", "1"],
                "--attach-on-repeat takes yes or no, not \"1\"".to_owned(),
            ),
            (
                &["configure", "--storm-limit"],
                "--storm-limit needs a value".to_owned(),
            ),
            (
                &["fail", "t1", "--attach"],
                "--attach needs a value".to_owned(),
            ),
            (
                &["fail", "t1", "--attach="],
                "--attach needs a value".to_owned(),
            ),
            (&["fail", "t1", "--env"], "--env needs a value".to_owned()),
            (
                &["configure", "--min-failures", "2", "--min-failures=3"],
                "--min-failures is given twice".to_owned(),
            ),
            (
                &[
                    "override",
                    "t1",
                    "--storm-limit",
                    "1/60",
                    "--storm-limit",
                    "",
                ],
                "--storm-limit is given twice".to_owned(),
            ),
            (
                &[
                    "configure",
                    "--split-by-environment=yes",
                    "--split-by-environment=yes",
                ],
                "--split-by-environment is given twice".to_owned(),
            ),
            (
                &[
                    "configure",
                    "--attach-on-repeat",
                    "no",
                    "--attach-on-repeat",
                    "yes",
                ],
                "--attach-on-repeat is given twice".to_owned(),
            ),
            (
                &["fail", "t1", "--env", "a", "--env=b"],
                "--env is given twice".to_owned(),
            ),
            (
                &["fail", "t1", "--commit", "a", "--commit", "b"],
                "--commit is given twice".to_owned(),
            ),
            (
                &["override", "t1", "--clear", "--min-failures", "2"],
                "--clear takes no other option".to_owned(),
            ),
            (
                &["override", "t1", "--storm-limit", "", "--clear"],
                "--clear takes no other option".to_owned(),
            ),
            (
                &["fail", "t1", "--min-failures", "2"],
                "--min-failures is not an option of `fail`".to_owned(),
            ),
            (
                &["fail", "t1", "--storm-limit", "1/60"],
                "--storm-limit is not an option of `fail`".to_owned(),
            ),
            (
                &["pass", "t1", "--split-by-environment", "yes"],
                "--split-by-environment is not an option of `pass`".to_owned(),
            ),
            (
                &["fail", "t1", "--attach-on-repeat", "yes"],
                "--attach-on-repeat is not an option of `fail`".to_owned(),
            ),
            (
                &["pass", "t1", "--attach", "run.log"],
                "--attach is not an option of `pass`".to_owned(),
            ),
            (
                &["pass", "t1", "--run-url", "u"],
                "--run-url is not an option of `pass`".to_owned(),
            ),
            (
                &["configure", "--env", "prod"],
                "--env is not an option of `configure`".to_owned(),
            ),
            (
                &["override", "t1", "--commit", "abc"],
                "--commit is not an option of `override`".to_owned(),
            ),
            (
                &["health", "--branch", "main"],
                "--branch is not an option of `health`".to_owned(),
            ),
            (
                &["--min-failures", "2", "configure"],
                "--min-failures goes after the command".to_owned(),
            ),
            (
                &["--attach", "run.log", "fail", "t1"],
                "--attach goes after the command".to_owned(),
            ),
        ];
        for (line, message) in cases {
            assert_eq!(usage_error_of(line), *message, "{line:?}");
        }
    }

    #[test]
    fn pass_takes_a_name_and_a_link_but_no_message() {
        let (_, Command::Pass(p)) = run(&["pass", "t1"]) else {
            panic!()
        };
        assert_eq!((p.test_id.as_str(), p.name, p.url), ("t1", None, None));
        let line = ["pass", "--name=-N", "--url", "https://ci/t1", "--", "-t1"];
        let (_, Command::Pass(p)) = run(&line) else {
            panic!()
        };
        assert_eq!(
            (p.test_id.as_str(), p.name.as_deref(), p.url.as_deref()),
            ("-t1", Some("-N"), Some("https://ci/t1"))
        );
    }

    #[test]
    fn wrong_lifecycle_values_are_usage_errors() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["configure", "--on-pass", "maybe"],
                "--on-pass takes nothing, comment or resolve, not \"maybe\"",
            ),
            (
                &["override", "t1", "--on-pass="],
                "--on-pass takes nothing, comment or resolve, not \"\"",
            ),
            (
                &["configure", "--on-repeat", "Comment"],
                "--on-repeat takes nothing or comment, not \"Comment\"",
            ),
            (
                &["configure", "--on-repeat", "resolve"],
                "--on-repeat takes nothing or comment, not \"resolve\"",
            ),
            (
                &["configure", "--passes-to-resolve", "0"],
                "--passes-to-resolve takes a whole number from 1 to 4294967295, not \"0\"",
            ),
            (
                &["override", "t1", "--passes-to-resolve", "-1"],
                "--passes-to-resolve takes a whole number from 1 to 4294967295, not \"-1\"",
            ),
            (
                &["configure", "--passes-to-resolve", "4294967296"],
                "--passes-to-resolve takes a whole number from 1 to 4294967295, not \"4294967296\"",
            ),
            (
                &["configure", "--comment-every", "0"],
                "--comment-every takes a whole number of seconds, at least 1, not \"0\"",
            ),
            (
                &["configure", "--comment-every", "1.5"],
                "--comment-every takes a whole number of seconds, at least 1, not \"1.5\"",
            ),
            (
                &["override", "t1", "--comment-every", "1h"],
                "--comment-every takes a whole number of seconds, at least 1, not \"1h\"",
            ),
            (
                &["configure", "--reopen-within", "-5"],
                "--reopen-within takes a whole number of seconds (0: off), not \"-5\"",
            ),
            (
                &["configure", "--reopen-within", "+5"],
                "--reopen-within takes a whole number of seconds (0: off), not \"+5\"",
            ),
            (
                &["override", "t1", "--reopen-within", "soon"],
                "--reopen-within takes a whole number of seconds (0: off), not \"soon\"",
            ),
            (
                &["configure", "--reopen-within", ""],
                "--reopen-within takes a whole number of seconds (0: off), not \"\"",
            ),
            (&["configure", "--on-pass"], "--on-pass needs a value"),
            (
                &["configure", "--on-pass", "comment", "--on-pass=resolve"],
                "--on-pass is given twice",
            ),
            (
                &["override", "t1", "--clear", "--on-pass", "resolve"],
                "--clear takes no other option",
            ),
            (
                &["fail", "t1", "--on-pass", "resolve"],
                "--on-pass is not an option of `fail`",
            ),
            (
                &["pass", "t1", "--message", "m"],
                "--message is not an option of `pass`",
            ),
            (&["pass"], "`pass` needs a TEST_ID"),
            (
                &["--on-repeat", "comment", "configure"],
                "--on-repeat goes after the command",
            ),
        ];
        for (line, message) in cases {
            assert_eq!(usage_error_of(line), *message, "{line:?}");
        }
    }

    #[test]
    fn usage_errors_name_the_problem() {
        let cases: &[(&[&str], &str)] = &[
            (&["--bogus"], "unknown option --bogus"),
            (&["fail", "t1", "--bogus=x"], "unknown option --bogus"),
            (&["fail", "t1", "-x"], "unknown option -x"),
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
            (
                &["fail", "t1", "a b=c"],
                "unexpected argument \"a b=c\" after `fail`",
            ),
            (
                &["fail", "--", "t1", "--state", "x"],
                "unexpected argument \"--state\" after `fail`",
            ),
            (&["fail", "t1", "--name"], "--name needs a value"),
            (&["projects", "--state"], "--state needs a value"),
            (
                &["projects", "--name", "x"],
                "--name is not an option of `projects`",
            ),
            (
                &["fail", "t1", "--clear"],
                "--clear is not an option of `fail`",
            ),
            (
                &["configure", "--project", "Q", "--project=Q"],
                "--project is given twice",
            ),
            (
                &["--state", "a", "--state", "b", "projects"],
                "--state is given twice",
            ),
            (
                &["projects", "--state", "a", "--state=b"],
                "--state is given twice",
            ),
            (
                &["--state", "a", "projects", "--state=b"],
                "--state is given twice",
            ),
            (
                &["override", "t1", "--enable", "--enable"],
                "--enable is given twice",
            ),
            (
                &["override", "t1", "--disable=x"],
                "--disable takes no value",
            ),
            (
                &["override", "t1", "--enable", "--disable"],
                "--disable and --enable exclude each other",
            ),
            (
                &["override", "t1", "--labels", "a", "--clear"],
                "--clear takes no other option",
            ),
            (
                &["--project", "QA", "configure"],
                "--project goes after the command",
            ),
            (
                &["--", "projects"],
                "unexpected argument \"--\" before `projects`",
            ),
            (
                &["--database", "host=/x", "--database=host=/y", "health"],
                "--database is given twice",
            ),
            (
                &["--database", "host=/x", "health", "--database=host=/y"],
                "--database is given twice",
            ),
            (
                &["--workspace", "a", "health", "--workspace", "b"],
                "--workspace is given twice",
            ),
            (&["health", "--workspace="], "--workspace needs a value"),
            (&["health", "--database", ""], "--database needs a value"),
            (
                &["--state", "s", "--database", "host=/x", "health"],
                "--database and --state exclude each other: the state is kept in one or the other",
            ),
            (
                &["--database", "host=/x", "health", "--state", "s"],
                "--database and --state exclude each other: the state is kept in one or the other",
            ),
            (
                &["health", "--database", "not a url"],
                "--database takes a postgresql:// URL or a key/value connection string: \
                 invalid connection string: unexpected character at byte 4: expected `=` but got `a`",
            ),
            (
                &["health", "--database", "host=/x bogus=1"],
                "--database takes a postgresql:// URL or a key/value connection string: \
                 invalid connection string: unknown option `bogus`",
            ),
            (
                &["configure", "--field", "priority"],
                "--field takes FIELD_ID=VALUE, not \"priority\"",
            ),
            (
                &["override", "t1", "--field", " =High"],
                "--field takes FIELD_ID=VALUE, not \" =High\"",
            ),
            (
                &["override", "t1", "--clear", "--field", "priority=High"],
                "--clear takes no other option",
            ),
            (
                &["--field", "priority=High", "configure"],
                "--field goes after the command",
            ),
            (
                &["health", "--project", "QA"],
                "--project is not an option of `health`",
            ),
            (
                &["fields", "--labels", "a"],
                "--labels is not an option of `fields`",
            ),
        ];
        for (line, message) in cases {
            assert_eq!(usage_error_of(line), *message, "{line:?}");
        }
    }

    #[test]
    fn the_database_and_workspace_come_before_or_after_the_command() {
        let (store, _) = invocation(&["--workspace", "acme", "projects"]);
        assert_eq!(store.workspace, WorkspaceId::new("acme"));
        assert!(matches!(store.location, Location::File(p) if p.as_os_str() == DEFAULT_STATE));
        let (store, _) = invocation(&["projects", "--state=s", "--workspace=-w"]);
        assert_eq!(store.workspace, WorkspaceId::new("-w"));
        assert!(matches!(store.location, Location::File(p) if p.as_os_str() == "s"));
        assert_eq!(invocation(&["health"]).0.workspace, WorkspaceId::default());

        for line in [
            &[
                "--database",
                "postgresql://u:pw@db.example:5433/app",
                "health",
            ][..],
            &["health", "--database=postgresql://u:pw@db.example:5433/app"],
        ] {
            let (store, Command::Health) = invocation(line) else {
                panic!("{line:?}")
            };
            let Location::Database(config) = store.location else {
                panic!("{line:?}")
            };
            assert_eq!(config.get_dbname(), Some("app"));
            assert_eq!(config.get_ports(), &[5433]);
            assert!(!format!("{config:?}").contains("pw"));
        }
        let line = [
            "fields",
            "--database",
            "host=/run/pg user=me dbname=app",
            "--workspace",
            "w2",
        ];
        let (store, Command::Fields(_)) = invocation(&line) else {
            panic!()
        };
        assert_eq!(store.workspace, WorkspaceId::new("w2"));
        let Location::Database(config) = store.location else {
            panic!()
        };
        assert_eq!(config.get_user(), Some("me"));
    }

    #[test]
    fn a_workspace_id_is_at_most_256_bytes() {
        let longest = "w".repeat(PostgresStore::MAX_WORKSPACE_ID_LEN);
        assert_eq!(
            invocation(&["health", "--workspace", &longest]).0.workspace,
            WorkspaceId::new(longest.clone())
        );
        let longer = format!("{longest}w");
        assert_eq!(
            usage_error_of(&["health", "--workspace", &longer]),
            "--workspace takes at most 256 bytes"
        );
    }

    #[test]
    fn the_help_lists_every_command_and_option() {
        let help = help_text();
        let mut cli = command();
        cli.build();
        for arg in cli.get_arguments().filter_map(|a| a.get_long()) {
            assert!(help.contains(&format!("--{arg}")), "--{arg}");
        }
        for command in cli.get_subcommands() {
            let name = command.get_name();
            assert!(
                help.contains(&format!("sandbox [--state FILE] {name}")),
                "{name}"
            );
            for arg in command.get_arguments().filter_map(|a| a.get_long()) {
                assert!(help.contains(&format!("--{arg}")), "{name} --{arg}");
            }
        }
    }

    #[test]
    fn fields_and_field_assignments_are_read() {
        let (_, Command::Fields(f)) = run(&["fields"]) else {
            panic!()
        };
        assert_eq!((f.project.project, f.issue_type), (None, None));
        let (_, Command::Fields(f)) = run(&["fields", "--project", "QA", "--issue-type=Task"])
        else {
            panic!()
        };
        assert_eq!(
            (f.project.project.as_deref(), f.issue_type.as_deref()),
            (Some("QA"), Some("Task"))
        );
        let line = [
            "configure",
            "--field",
            "components=Backend, Frontend",
            "--field=priority=",
            "--field",
            "customfield_1=a=b",
        ];
        let (_, Command::Configure(c)) = run(&line) else {
            panic!()
        };
        let fields: Vec<&str> = c.issue.fields.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            fields,
            [
                "components=Backend, Frontend",
                "priority=",
                "customfield_1=a=b"
            ]
        );
        let (_, Command::Override(o)) = run(&["override", "t1", "--field", "priority=High"]) else {
            panic!()
        };
        assert_eq!(o.issue.fields, [FieldAssignment("priority=High".into())]);
    }

    #[test]
    fn help_and_no_command() {
        for line in [
            &["--help"][..],
            &["-h"],
            &["fail", "--help"],
            &["override", "t1", "-h"],
            &["fields", "--help"],
            &["--database", "host=/x", "health", "-h"],
        ] {
            assert!(
                matches!(parse(&args(line)), Ok(Invocation::Help)),
                "{line:?}"
            );
        }
        for line in [
            &[][..],
            &["--state", "s"],
            &["--"],
            &["--workspace", "w", "--database", "host=/x"],
        ] {
            assert!(
                matches!(parse(&args(line)), Ok(Invocation::NoCommand)),
                "{line:?}"
            );
        }
        // A value that looks like --help is a value.
        let (_, Command::Fail(fail)) = run(&["fail", "t1", "--name", "--help"]) else {
            panic!()
        };
        assert_eq!(fail.name.as_deref(), Some("--help"));
    }
}
