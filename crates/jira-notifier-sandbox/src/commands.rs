//! What each command does, through a notifier on the state file, and the lines it prints.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    Credentials, FileStore, JiraNotifier, RetryPolicy, Settings, TestInfo, TestOverride,
    TestStatus, DEFAULT_API_URL, DEFAULT_AUTH_URL,
};

use crate::cli::{
    Command, ConfigureArgs, FailArgs, IssueOptions, Labels, OverrideArgs, ProjectOption, UsersArgs,
};
use crate::output::{clean, describe_outcome, describe_override, describe_settings, record};
use crate::Failure;

/// A non-empty environment variable; an empty one counts as unset, as shells make it easy
/// to export one by mistake.
pub fn env_value(name: &str) -> Result<Option<String>, Failure> {
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

pub fn build_notifier(store: Arc<FileStore>) -> Result<JiraNotifier, Failure> {
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
pub async fn run(notifier: &JiraNotifier, command: Command) -> Result<Vec<String>, Failure> {
    match command {
        Command::Connect(args) => connect(notifier, args.site).await,
        Command::Projects => Ok(notifier
            .projects()
            .await?
            .iter()
            .map(|p| record(&p.key, &p.name))
            .collect()),
        Command::IssueTypes(ProjectOption { project }) => {
            let project = project_or_saved(notifier, project).await?;
            Ok(notifier
                .issue_types(&project)
                .await?
                .iter()
                .map(|t| record(&t.id, &t.name))
                .collect())
        }
        Command::Users(UsersArgs {
            query,
            project: ProjectOption { project },
        }) => {
            let project = project_or_saved(notifier, project).await?;
            Ok(notifier
                .assignable_users(&project, &query.unwrap_or_default())
                .await?
                .iter()
                .map(|u| record(&u.account_id, &u.display_name))
                .collect())
        }
        Command::Configure(args) => {
            let settings = settings_to_save(args, notifier.settings().await?)?;
            let saved = notifier.save_settings(settings).await?;
            Ok(vec![describe_settings(&saved.settings)])
        }
        Command::Override(args) if args.clear => {
            notifier.clear_override(&args.test_id).await?;
            Ok(vec!["cleared".to_owned()])
        }
        Command::Override(args) => {
            let test_id = args.test_id.clone();
            let wanted = override_to_save(args, notifier.test_override(&test_id).await?);
            let saved = notifier.set_override(&test_id, wanted).await?;
            Ok(vec![describe_override(&saved.test_override)])
        }
        Command::Fail(args) => fail(notifier, args).await,
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

async fn fail(notifier: &JiraNotifier, args: FailArgs) -> Result<Vec<String>, Failure> {
    let FailArgs {
        test_id,
        name,
        message,
        url,
    } = args;
    let name = name.unwrap_or_else(|| test_id.clone());
    let test = TestInfo::new(test_id, name, url.unwrap_or_default());
    let outcome = notifier
        .on_test_error(&test, &TestStatus::error(message))
        .await?;
    Ok(vec![describe_outcome(outcome)?])
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

/// The settings to save: the saved ones (or the defaults) with the options applied.
fn settings_to_save(args: ConfigureArgs, saved: Option<Settings>) -> Result<Settings, Failure> {
    // Taken apart field by field, so that a new option cannot be forgotten here.
    let ConfigureArgs {
        issue:
            IssueOptions {
                project,
                assignee,
                labels,
            },
        issue_type,
        label_prefix,
    } = args;
    let base = match (saved, project.clone()) {
        (Some(s), _) => s,
        (None, Some(project)) => Settings::new(project),
        (None, None) => {
            return Err(Failure::failed(
                "no project is saved yet: pass --project KEY (see `sandbox projects`)",
            ))
        }
    };
    // Field by field, so that fields this tool does not set keep their saved values.
    let mut s = base;
    if let Some(v) = project {
        s.project_key = v;
    }
    if let Some(v) = issue_type {
        s.issue_type = v;
    }
    if let Some(v) = label_prefix {
        s.label_prefix = v;
    }
    if let Some(v) = assignee {
        s.assignee = v;
    }
    if let Some(Labels(v)) = labels {
        s.labels = v;
    }
    Ok(s)
}

/// The override to save: the saved one (or none) with the options applied.
fn override_to_save(args: OverrideArgs, saved: Option<TestOverride>) -> TestOverride {
    let enabled = args.enabled();
    let OverrideArgs {
        test_id: _,
        clear: _,
        disable: _,
        enable: _,
        issue:
            IssueOptions {
                project,
                assignee,
                labels,
            },
    } = args;
    let mut o = saved.unwrap_or_default();
    if let Some(v) = enabled {
        o.enabled = v;
    }
    if let Some(v) = project {
        o.project_key = Some(v);
    }
    if let Some(v) = assignee {
        o.assignee = Some(v);
    }
    if let Some(Labels(v)) = labels {
        o.labels = v;
    }
    o
}
