//! `sandbox`: a small command-line tool for trying `jira-notifier` against a real sandbox
//! Jira Cloud site, by hand or from a script.
//!
//! It shows the whole life of the integration as a host would drive it: connect with a
//! service account's OAuth 2.0 credential, list what the settings screen lists, save the
//! settings and per-test overrides, report test failures (one open issue per test, then
//! duplicates), send the test notification, and disconnect. Its state is kept in the JSON
//! [`FileStore`], or with `--database` in PostgreSQL ([`PostgresStore`]), so each command is
//! a separate process, like a host restarting; `--workspace` picks one of many workspaces
//! in either, as a hosted product keeps its customers.
//!
//! # Environment
//!
//! - `JIRA_CLIENT_ID`, `JIRA_CLIENT_SECRET`: the service account's credential, read by
//!   `connect` (later commands use the copy in the state file or database).
//! - `JIRA_EMAIL`, `JIRA_API_TOKEN`: an API token instead, read by `connect --site URL`:
//!   a service account's scoped token (its email is at `serviceaccount.atlassian.com`;
//!   calls go through the gateway) or a person's (calls go to the site itself, and issues
//!   are reported by that person); `--token-kind service|personal` says which outright.
//! - `JIRA_SITE`: the site to connect to (name, URL or cloud id) when the credential
//!   reaches several; `connect --site` wins over it.
//! - `JIRA_AUTH_URL`, `JIRA_API_URL`: Atlassian's auth host and API gateway (default
//!   [`DEFAULT_AUTH_URL`](jira_notifier::DEFAULT_AUTH_URL) and
//!   [`DEFAULT_API_URL`](jira_notifier::DEFAULT_API_URL)); point them at a stand-in to test.
//! - PostgreSQL's own variables (`PGHOST`, `PGPASSWORD`, …) are not read: `--database` says
//!   all (a password in it is blotted out of everything printed).
//!
//! # Commands
//!
//! ```text
//! sandbox [--state FILE | --database URL] [--workspace ID] connect [--site NAME|URL|CLOUD_ID]
//! sandbox projects                                  KEY<TAB>Name per line
//! sandbox issue-types [--project KEY]               ID<TAB>Name
//! sandbox users [QUERY] [--project KEY]             ACCOUNT_ID<TAB>Display Name
//! sandbox fields [--project KEY] [--issue-type NAME]
//!         FIELD_ID<TAB>Name<TAB>required|optional<TAB>default|no-default<TAB>allowed,values
//! sandbox configure [--project KEY] [--issue-type NAME] [--label-prefix P]
//!                   [--assignee auto|ACCOUNT_ID] [--labels a,b]
//!                   [--field FIELD_ID=VALUE[,VALUE…]]… [LIFECYCLE OPTIONS]
//!                   [NOISE OPTIONS]
//! sandbox override TEST_ID [--disable|--enable] [--project KEY]
//!                  [--assignee auto|ACCOUNT_ID] [--labels a,b]
//!                  [--field FIELD_ID=VALUE[,VALUE…]]… [LIFECYCLE OPTIONS]
//!                  [NOISE OPTIONS]
//! sandbox override TEST_ID --clear
//! sandbox fail TEST_ID [--name NAME] [--message MSG] [--url URL]
//!              [--env ENV] [--run-url URL] [--commit SHA] [--branch NAME] [--attach FILE]…
//! sandbox pass TEST_ID [--name NAME] [--url URL]
//!              [--env ENV]
//! sandbox health                                    ok, or refused: REASONS
//! sandbox notify-test
//! sandbox disconnect
//! ```
//!
//! `--state FILE` (default `sandbox-state.json` in the current folder) may come before or
//! after the command; a command's own options come after it. **The state file holds the
//! client secret in clear** (mode `0600` on Unix); nothing the tool prints ever shows the
//! secret or a token (nor `--database`'s password).
//!
//! `--database URL` keeps the state in PostgreSQL instead (a `postgresql://user@host:port/db`
//! URL or a libpq key/value string such as `host=/run/postgresql dbname=app`, without TLS;
//! the tables are made on first use); it excludes `--state`. `--workspace ID` (default
//! `default`, at most 256 bytes) picks the workspace in the state file or the database:
//! workspaces share nothing but the store, so several processes and several workspaces can
//! share one database (or one file). Both may come before or after the command, once. `--opt=VALUE` works like `--opt VALUE`, and an option's value may
//! start with `-` (`--message "-1 != 2"`); `--` ends the options, for a TEST_ID or QUERY
//! that starts with `-` (`sandbox fail -- -t1`). `--help` or `-h`, before or after the
//! command, prints the usage on stdout and exits 0; with no command, the usage goes to
//! stdout too, and the tool exits 2 with `error: no command given; …` on stderr.
//!
//! `configure` and `override` change only what their options name and keep the rest as
//! saved; `--labels ""` clears the labels. `--field FIELD_ID=VALUE` (repeatable) sets the
//! value of a field of the project's create screen, as `fields` lists it: values by name or
//! id, a comma separating values only for a multi-value field (a text field takes the whole
//! text after `=`); `--field FIELD_ID=` removes the value. A `configure` that Jira's create
//! screen refuses fails with one line naming every field problem, and saves nothing; one
//! that is saved with a warning (Description not on the screen) prints it on stderr as
//! `warning: …`, one line, and exits 0. `fields` defaults to the saved project and issue
//! type, and lists every field on the screen, those the tool fills too. `health` prints
//! `ok`, or `refused: ` and why Jira refused the last issue, until an issue is created or
//! the settings are saved again. `fail` reports a failure with the test's id as
//! its name, the message "Simulated failure from the sandbox" and no link (there is no
//! test page to link to), unless `--name`, `--message` or `--url` say otherwise; it prints
//! `created KEY URL`, `duplicate KEY URL`, `disabled` or `not-connected` (`ignored`, the
//! library's answer to a status that is not an error, cannot come up: `fail` always
//! reports an error), and with the lifecycle options also `reopened KEY URL` or
//! `muted KEY`, and with the noise options `counted N/M` or `grouped KEY URL`. `pass` reports a pass (same `--name` and `--url`) and prints `ignored`
//! (nothing to do, or policy `nothing`), `commented KEY`, `resolved KEY`, `passing N/M KEY`
//! (N of the M passes in a row that resolve the issue), `disabled` or `not-connected`; not
//! configured, it fails as `fail` does. `notify-test` prints `created KEY URL`.
//!
//! The lifecycle options of `configure` and `override` (what happens to an issue after it
//! is created): `--on-repeat nothing|comment`, `--comment-every SECONDS` (at least 1),
//! `--on-pass nothing|comment|resolve`, `--passes-to-resolve N` (at least 1),
//! `--resolve-transition NAME`, `--resolution NAME`, `--reopen-within SECONDS` (0: off),
//! `--reopen-transition NAME`, `--mute-resolutions a,b` (`""`: off). Like the other options
//! they change only what they name; a NAME of `""` unsets it (for `override`: follows the
//! settings). A wrong value is a usage error and nothing is saved. When the lifecycle is
//! not the default, or one of these options is given, `configure` and `override` print a
//! second line, `lifecycle on-repeat=… comment-every=… on-pass=… passes-to-resolve=…
//! resolve-transition=… resolution=… reopen-within=… reopen-transition=…
//! mute-resolutions=a,b`, with `(default)` for a name not set (`(global)`, for
//! `override`, for what the test leaves to the settings).
//! `--attach-on-repeat yes|no` (default `no`) is a lifecycle option too: whether a failure
//! while the issue is open attaches its `--attach` files to it. The lifecycle line ends in
//! ` attach-on-repeat=yes|no` only when it is on, the option is given, or (`override`) the
//! test sets it, so that the line is otherwise as it was.
//!
//! The noise options of `configure` and `override` (which failures file an issue):
//! `--min-failures N` (at least 1; default 1): failures in a row before a test files an
//! issue, below which `fail` prints `counted N/M` and sends nothing to Jira;
//! `--storm-limit N/SECONDS` (both at least 1; `""`: off, the default): once N issues were
//! filed in SECONDS, further new failures join one umbrella issue and `fail` prints
//! `grouped KEY URL` (for `override`, `""` means the test is never grouped);
//! `--split-by-environment yes|no` (default `no`): one issue per test and `--env`. They
//! change only what they name, a wrong value is a usage error and nothing is saved, and
//! when noise control is not the default, or one of them is given, `configure` and
//! `override` print a line after the lifecycle's: `noise min-failures=N
//! storm-limit=N/SECONDS|off split-by-environment=yes|no` (`(global)`, for `override`,
//! for what the test leaves to the settings).
//!
//! `fail --env ENV` (and `pass --env ENV`) names where the test ran: shown in the
//! summary (`… [ENV]`), and part of the test's identity under `--split-by-environment
//! yes`. `--run-url URL`, `--commit SHA` and `--branch NAME` go with the failure as its
//! evidence. `--attach FILE` (repeatable) attaches a file to the issue the failure files,
//! its media type from the extension (`.txt`/`.log` `text/plain`, `.json`/`.har`
//! `application/json`, `.png` `image/png`, `.jpg`/`.jpeg` `image/jpeg`, `.html`
//! `text/html`, else `application/octet-stream`). Every file is read first: one that
//! cannot be read is a usage error, and nothing is sent. A file not attached (over a cap,
//! refused by Jira, a repeat without `--attach-on-repeat yes`, no issue filed) is one
//! line on stderr, `warning: attachment NAME not attached: REASON`; stdout keeps its one
//! line and the exit status is 0. A file attached prints nothing.
//!
//! Exit status: 0 on success; 1 on an error; 2 on a usage error or on an error worth
//! retrying later (its message ends with `(retryable)`). Errors are one line on stderr,
//! `error: ` then the error and its sources joined with `: `, newlines flattened; a usage
//! error (nothing was attempted) ends with ``; run `sandbox --help` for usage``. Requests
//! are retried twice at most, and a `Retry-After` over 10 s is reported rather than waited
//! out: the library's default policy suits a host's background queue, not someone at a
//! terminal.
//!
//! # Running it
//!
//! ```text
//! export JIRA_CLIENT_ID=… JIRA_CLIENT_SECRET=…
//! cargo run --bin sandbox -- connect
//! cargo run --bin sandbox -- configure --project QA
//! cargo run --bin sandbox -- fail checkout-flow --message "expected 200, got 500"
//! cargo run --bin sandbox -- fields                 # then, for a required field:
//! cargo run --bin sandbox -- configure --field components=Backend
//! cargo run --bin sandbox -- configure --min-failures 2 --storm-limit 10/600
//! cargo run --bin sandbox -- fail checkout-flow --env staging --commit 4f2a9c1 --attach run.log
//! cargo run --bin sandbox -- --database "host=/run/postgresql dbname=app" --workspace acme connect
//! ```
//!
//! # Code
//!
//! This file opens the store the command line names, runs a command and turns its outcome
//! into an exit status; `cli` declares the command line (and says how to add a command or
//! an option), `commands` does what each command does, and `output` shapes the lines
//! printed.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;
use std::sync::Arc;

use jira_notifier::{ConfigStore, Error, FileStore};
use jira_notifier_postgres::PostgresStore;
use secrecy::ExposeSecret;

use crate::cli::{Invocation, Location, StoreChoice};
use crate::output::{clean, one_line, print_lines, print_warnings, Secrets};

/// The most connections a run opens to `--database`: a command makes one store call at a
/// time, and many runs may share the server.
const DATABASE_POOL_SIZE: usize = 2;

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

/// The store of the workspace the command line names: in the state file, or in the
/// database (connecting to it, and failing early if it cannot be reached).
async fn open_store(choice: StoreChoice) -> Result<Arc<dyn ConfigStore>, Failure> {
    let StoreChoice {
        location,
        workspace,
    } = choice;
    Ok(match location {
        Location::File(path) => Arc::new(
            FileStore::open(path)
                .map_err(Error::from)?
                .workspace(&workspace),
        ),
        Location::Database(config) => {
            let store = PostgresStore::builder(*config)
                .pool_size(DATABASE_POOL_SIZE)
                .connect()
                .await
                .map_err(Error::from)?;
            // The command line checked the id's length; PostgreSQL's other rule (no NUL)
            // cannot be broken by an argument.
            let store = store
                .workspace(workspace.as_str())
                .map_err(|e| Failure::usage(format!("--workspace: {e}")))?;
            Arc::new(store)
        }
    })
}

fn main() -> ExitCode {
    let mut secrets = Secrets::default();
    for name in ["JIRA_CLIENT_SECRET", "JIRA_API_TOKEN"] {
        if let Ok(Some(secret)) = commands::env_value(name) {
            secrets.add(&secret);
        }
    }
    let (store, command) = match cli::read_args().and_then(|args| cli::parse(&args)) {
        Ok(Invocation::Run { store, command }) => (store, *command),
        Ok(Invocation::Help) => {
            print!("{}", cli::help_text());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::NoCommand) => {
            print!("{}", cli::help_text());
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
    if let Location::Database(config) = &store.location {
        if let Some(password) = config.get_password() {
            secrets.add(&String::from_utf8_lossy(password));
        }
    }
    let workspace = store.workspace.clone();
    let result = runtime.block_on(async {
        let store = open_store(store).await?;
        // A broken state file is reported by the command itself.
        if let Ok(Some(conn)) = store.load_connection().await {
            secrets.add(conn.credentials.client_secret().expose_secret());
        }
        let notifier = commands::build_notifier(workspace, store)?;
        commands::run(&notifier, command).await
    });
    match result {
        Ok(printed) => match print_warnings(&printed.warnings, &secrets)
            .and_then(|()| print_lines(&printed.lines, &secrets))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => report(Failure::failed(one_line(&e)), &secrets),
        },
        Err(failure) => report(failure, &secrets),
    }
}
