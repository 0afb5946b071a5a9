//! What each command does, through a notifier on the store (the state file or the
//! database, one workspace of it), and the lines it prints.

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    parse_field_assignment, ConfigStore, CreateField, Credentials, Error, FieldValue, JiraNotifier,
    Lifecycle, LifecycleOverride, NotifierEngine, RetryPolicy, SaveWarning, Settings, TestInfo,
    TestOverride, TestStatus, WorkspaceId, DEFAULT_API_URL, DEFAULT_AUTH_URL, DEFAULT_ISSUE_TYPE,
};

use crate::cli::{
    Command, ConfigureArgs, ConnectArgs, FailArgs, FieldAssignment, FieldsArgs, IssueOptions,
    Labels, LifecycleOptions, Name, OverrideArgs, PassArgs, ProjectOption, Resolutions, TokenKind,
    UsersArgs,
};
use crate::output::{
    clean, describe_field, describe_lifecycle, describe_lifecycle_override, describe_outcome,
    describe_override, describe_settings, record,
};
use crate::Failure;

/// What a command prints: lines on stdout, and warnings (`warning: …`) on stderr for
/// something that worked, but not entirely as usual.
#[derive(Debug, Default)]
pub struct Printed {
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
}

impl From<Vec<String>> for Printed {
    fn from(lines: Vec<String>) -> Self {
        Printed {
            lines,
            warnings: Vec::new(),
        }
    }
}

fn warnings(warnings: &[SaveWarning]) -> Vec<String> {
    warnings.iter().map(|w| clean(&w.to_string())).collect()
}

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

/// A notifier on one workspace of the store.
pub fn build_notifier(
    workspace: WorkspaceId,
    store: Arc<dyn ConfigStore>,
) -> Result<JiraNotifier, Failure> {
    let auth_url = env_value("JIRA_AUTH_URL")?.unwrap_or_else(|| DEFAULT_AUTH_URL.to_owned());
    let api_url = env_value("JIRA_API_URL")?.unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    // Someone waits at the terminal: fewer retries than the library's default, and a long
    // Retry-After is reported (as retryable) rather than waited out.
    let retry = RetryPolicy::default()
        .with_max_retries(2)
        .with_max_retry_after(Duration::from_secs(10));
    // The engine of a host with many workspaces, serving one: the same requests as
    // `JiraNotifier::builder(store)`, with the workspace's name on the notifier.
    let engine = NotifierEngine::builder()
        .auth_url(auth_url)
        .api_url(api_url)
        .retry_policy(retry)
        .build()?;
    Ok(engine.notifier(workspace, store))
}

/// Runs a command and returns what to print.
pub async fn run(notifier: &JiraNotifier, command: Command) -> Result<Printed, Failure> {
    let lines = match command {
        Command::Connect(args) => connect(notifier, args).await?,
        Command::Projects => notifier
            .projects()
            .await?
            .iter()
            .map(|p| record(&p.key, &p.name))
            .collect(),
        Command::IssueTypes(ProjectOption { project }) => {
            let project = project_or_saved(notifier, project).await?;
            notifier
                .issue_types(&project)
                .await?
                .iter()
                .map(|t| record(&t.id, &t.name))
                .collect()
        }
        Command::Users(UsersArgs {
            query,
            project: ProjectOption { project },
        }) => {
            let project = project_or_saved(notifier, project).await?;
            notifier
                .assignable_users(&project, &query.unwrap_or_default())
                .await?
                .iter()
                .map(|u| record(&u.account_id, &u.display_name))
                .collect()
        }
        Command::Configure(args) => return configure(notifier, args).await,
        Command::Override(args) if args.clear => {
            notifier.clear_override(&args.test_id).await?;
            vec!["cleared".to_owned()]
        }
        Command::Override(args) => return set_override(notifier, args).await,
        Command::Fail(args) => fail(notifier, args).await?,
        Command::Pass(args) => pass(notifier, args).await?,
        Command::Fields(args) => fields(notifier, args).await?,
        Command::Health => vec![clean(&notifier.health().await?.to_string())],
        Command::NotifyTest => {
            let issue = notifier.send_test_notification().await?;
            vec![format!(
                "created {} {}",
                clean(&issue.key),
                clean(&issue.url)
            )]
        }
        Command::Disconnect => {
            notifier.disconnect().await?;
            vec!["disconnected".to_owned()]
        }
    };
    Ok(lines.into())
}

/// `configure`: the saved settings with the options applied, saved if Jira's create screen
/// takes them; refused as a whole (one error naming every field problem) if not.
///
/// Prints the `saved …` line, then a `lifecycle …` line when the lifecycle is not the
/// default or a lifecycle option was given (so that the output of a `configure` that
/// knows nothing of lifecycles stays one line).
async fn configure(notifier: &JiraNotifier, args: ConfigureArgs) -> Result<Printed, Failure> {
    let lifecycle_given = args.lifecycle.any();
    let (mut settings, fields) = settings_to_save(args, notifier.settings().await?)?;
    if !fields.is_empty() {
        let screen = notifier
            .create_fields(&settings.project_key, &settings.issue_type)
            .await?;
        for (id, value) in field_values(&fields, &screen)? {
            settings = match value {
                Some(value) => settings.with_field(id, value),
                None => settings.without_field(&id),
            };
        }
    }
    let saved = notifier.save_settings(settings).await?;
    let mut lines = vec![describe_settings(&saved.settings)];
    if lifecycle_given || saved.settings.lifecycle != Lifecycle::default() {
        lines.push(describe_lifecycle(&saved.settings.lifecycle));
    }
    Ok(Printed {
        lines,
        warnings: warnings(&saved.warnings),
    })
}

/// `override` (without `--clear`): the saved override with the options applied.
///
/// Prints the `saved …` line, then a `lifecycle …` line when the override changes the
/// lifecycle or a lifecycle option was given.
async fn set_override(notifier: &JiraNotifier, args: OverrideArgs) -> Result<Printed, Failure> {
    let test_id = args.test_id.clone();
    let lifecycle_given = args.lifecycle.any();
    let (mut wanted, fields) = override_to_save(args, notifier.test_override(&test_id).await?);
    if !fields.is_empty() {
        // The override's fields are checked against the screen its issues are created
        // with: its project's (or the settings'), for the settings' issue type.
        let global = notifier.settings().await?.ok_or(Error::NotConfigured)?;
        let project = wanted.project_key.as_deref().unwrap_or(&global.project_key);
        let screen = notifier.create_fields(project, &global.issue_type).await?;
        for (id, value) in field_values(&fields, &screen)? {
            wanted = match value {
                Some(value) => wanted.with_field(id, value),
                None => {
                    wanted.fields.remove(&id);
                    wanted
                }
            };
        }
    }
    let saved = notifier.set_override(&test_id, wanted).await?;
    let mut lines = vec![describe_override(&saved.test_override)];
    if lifecycle_given || !saved.test_override.lifecycle.is_empty() {
        lines.push(describe_lifecycle_override(&saved.test_override.lifecycle));
    }
    Ok(Printed {
        lines,
        warnings: warnings(&saved.warnings),
    })
}

/// Each `--field`'s field id and value (`None`: remove it), read as the screen's field
/// takes it.
fn field_values(
    fields: &[FieldAssignment],
    screen: &[CreateField],
) -> Result<Vec<(String, Option<FieldValue>)>, Failure> {
    fields
        .iter()
        .map(|FieldAssignment(text)| Ok(parse_field_assignment(text, screen)?))
        .collect()
}

/// `fields`: the create screen of the project and issue type asked for, or saved.
async fn fields(notifier: &JiraNotifier, args: FieldsArgs) -> Result<Vec<String>, Failure> {
    let FieldsArgs {
        project: ProjectOption { project },
        issue_type,
    } = args;
    let saved = notifier.settings().await?;
    let project = match (project, &saved) {
        (Some(project), _) => project,
        (None, Some(saved)) => saved.project_key.clone(),
        (None, None) => return Err(no_project()),
    };
    let issue_type = issue_type
        .or(saved.map(|s| s.issue_type))
        .unwrap_or_else(|| DEFAULT_ISSUE_TYPE.to_owned());
    Ok(notifier
        .create_fields(&project, &issue_type)
        .await?
        .iter()
        .map(describe_field)
        .collect())
}

/// The domain of service accounts' emails (`…@serviceaccount.atlassian.com`).
const SERVICE_ACCOUNT_DOMAIN: &str = "@serviceaccount.atlassian.com";

async fn connect(notifier: &JiraNotifier, args: ConnectArgs) -> Result<Vec<String>, Failure> {
    let ConnectArgs { site, token_kind } = args;
    let site = site.map_or_else(|| env_value("JIRA_SITE"), |s| Ok(Some(s)))?;
    let client_set =
        env_value("JIRA_CLIENT_ID")?.is_some() || env_value("JIRA_CLIENT_SECRET")?.is_some();
    let token_set = env_value("JIRA_EMAIL")?.is_some() || env_value("JIRA_API_TOKEN")?.is_some();
    let site = if token_kind.is_some() || (token_set && !client_set) {
        let email = required_env("JIRA_EMAIL")?;
        let token = required_env("JIRA_API_TOKEN")?;
        let kind = token_kind.unwrap_or(
            if email.to_ascii_lowercase().ends_with(SERVICE_ACCOUNT_DOMAIN) {
                TokenKind::Service
            } else {
                TokenKind::Personal
            },
        );
        let credentials = match kind {
            TokenKind::Service => Credentials::service_account_token(email, token),
            TokenKind::Personal => Credentials::personal_token(email, token),
        };
        let Some(site) = site else {
            return Err(Failure::failed(
                "an API token needs the site: pass --site https://NAME.atlassian.net or set JIRA_SITE",
            ));
        };
        notifier
            .connect_to_site_url(credentials, &site_url(&site))
            .await?
    } else {
        let credentials = Credentials::new(
            required_env("JIRA_CLIENT_ID")?,
            required_env("JIRA_CLIENT_SECRET")?,
        );
        match site {
            Some(wanted) => notifier.connect_to_site(credentials, &wanted).await?,
            None => notifier.connect(credentials).await?,
        }
    };
    Ok(vec![format!(
        "connected to {} {}",
        clean(&site.name),
        clean(&site.url)
    )])
}

/// A site given as a URL, or by its name (`acme` for `https://acme.atlassian.net`).
fn site_url(site: &str) -> String {
    let site = site.trim();
    if site.contains("://") {
        site.to_owned()
    } else if site.contains('.') {
        format!("https://{site}")
    } else {
        format!("https://{site}.atlassian.net")
    }
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

/// `pass`: a pass of the test, as its lifecycle policy says (`on_pass`).
async fn pass(notifier: &JiraNotifier, args: PassArgs) -> Result<Vec<String>, Failure> {
    let PassArgs { test_id, name, url } = args;
    let name = name.unwrap_or_else(|| test_id.clone());
    let test = TestInfo::new(test_id, name, url.unwrap_or_default());
    let outcome = notifier.on_test_pass(&test).await?;
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
        None => Err(no_project()),
    }
}

fn no_project() -> Failure {
    Failure::failed(
        "no --project given and no project saved: pass --project KEY or run `sandbox configure --project KEY`",
    )
}

/// The settings to save: the saved ones (or the defaults) with the options applied, and
/// the `--field`s to apply once the create screen is known.
fn settings_to_save(
    args: ConfigureArgs,
    saved: Option<Settings>,
) -> Result<(Settings, Vec<FieldAssignment>), Failure> {
    // Taken apart field by field, so that a new option cannot be forgotten here.
    let ConfigureArgs {
        issue:
            IssueOptions {
                project,
                assignee,
                labels,
                fields,
            },
        issue_type,
        label_prefix,
        lifecycle,
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
    s.lifecycle = lifecycle_to_save(*lifecycle, s.lifecycle);
    Ok((s, fields))
}

/// The saved lifecycle with the options applied: an option not given keeps the saved
/// value; a `""` name goes back to the library's choice.
fn lifecycle_to_save(options: LifecycleOptions, saved: Lifecycle) -> Lifecycle {
    // Taken apart field by field, so that a new option cannot be forgotten here.
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
    } = options;
    let mut l = saved;
    if let Some(v) = on_repeat {
        l.on_repeat = v;
    }
    if let Some(v) = comment_every {
        l.comment_every = v;
    }
    if let Some(v) = on_pass {
        l.on_pass = v;
    }
    if let Some(v) = passes_to_resolve {
        l.passes_to_resolve = v;
    }
    if let Some(Name(v)) = resolve_transition {
        l.resolve_transition = v;
    }
    if let Some(Name(v)) = resolution {
        l.resolution = v;
    }
    if let Some(v) = reopen_within {
        l.reopen_within = v;
    }
    if let Some(Name(v)) = reopen_transition {
        l.reopen_transition = v;
    }
    if let Some(Resolutions(v)) = mute_resolutions {
        l.mute_resolutions = v;
    }
    l
}

/// The saved lifecycle override with the options applied: an option given sets that part
/// for the test (`--reopen-within 0` and `--mute-resolutions ""` turn it off for the test);
/// a `""` name follows the settings again.
fn lifecycle_override_to_save(
    options: LifecycleOptions,
    saved: LifecycleOverride,
) -> LifecycleOverride {
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
    } = options;
    let mut o = saved;
    if on_repeat.is_some() {
        o.on_repeat = on_repeat;
    }
    if comment_every.is_some() {
        o.comment_every = comment_every;
    }
    if on_pass.is_some() {
        o.on_pass = on_pass;
    }
    if passes_to_resolve.is_some() {
        o.passes_to_resolve = passes_to_resolve;
    }
    if let Some(Name(v)) = resolve_transition {
        o.resolve_transition = v;
    }
    if let Some(Name(v)) = resolution {
        o.resolution = v;
    }
    if reopen_within.is_some() {
        o.reopen_within = reopen_within;
    }
    if let Some(Name(v)) = reopen_transition {
        o.reopen_transition = v;
    }
    if let Some(Resolutions(v)) = mute_resolutions {
        o.mute_resolutions = Some(v);
    }
    o
}

/// The override to save: the saved one (or none) with the options applied, and the
/// `--field`s to apply once the create screen is known.
fn override_to_save(
    args: OverrideArgs,
    saved: Option<TestOverride>,
) -> (TestOverride, Vec<FieldAssignment>) {
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
                fields,
            },
        lifecycle,
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
    o.lifecycle = lifecycle_override_to_save(*lifecycle, o.lifecycle);
    (o, fields)
}

#[cfg(test)]
mod tests {
    use jira_notifier::{OnPass, OnRepeat};

    use super::*;
    use crate::cli::{parse, Invocation};

    fn command(line: &[&str]) -> Command {
        let args: Vec<String> = line.iter().map(|a| (*a).to_owned()).collect();
        match parse(&args) {
            Ok(Invocation::Run { command, .. }) => command,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn configured(line: &[&str], saved: Option<Settings>) -> Settings {
        let Command::Configure(args) = command(line) else {
            panic!("{line:?}")
        };
        settings_to_save(args, saved).unwrap().0
    }

    fn overridden(line: &[&str], saved: Option<TestOverride>) -> TestOverride {
        let Command::Override(args) = command(line) else {
            panic!("{line:?}")
        };
        override_to_save(args, saved).0
    }

    #[test]
    fn configure_keeps_the_saved_lifecycle_parts_not_given() {
        let saved = Settings::new("QA").with_lifecycle(
            Lifecycle::default()
                .with_on_repeat(OnRepeat::Comment)
                .with_comment_every(Duration::from_secs(600))
                .with_resolve_transition("Close")
                .with_mute_resolutions(["Won't Do"]),
        );
        let s = configured(&["configure", "--on-pass", "resolve"], Some(saved.clone()));
        assert_eq!(
            s.lifecycle,
            saved.lifecycle.clone().with_on_pass(OnPass::Resolve)
        );
        // Options of the issue keep the lifecycle as saved.
        let s = configured(&["configure", "--labels", "a"], Some(saved.clone()));
        assert_eq!(s.lifecycle, saved.lifecycle);

        // "" unsets a name (the library's choice again) and turns muting off.
        let line = [
            "configure",
            "--resolve-transition",
            "",
            "--mute-resolutions=",
            "--reopen-within",
            "0",
        ];
        let s = configured(&line, Some(saved.clone()));
        assert_eq!(s.lifecycle.resolve_transition, None);
        assert!(s.lifecycle.mute_resolutions.is_empty());
        assert_eq!(s.lifecycle.reopen_within, Duration::ZERO);
        assert_eq!(s.lifecycle.on_repeat, OnRepeat::Comment);

        // A first configure starts from the default lifecycle.
        let s = configured(
            &["configure", "--project", "QA", "--passes-to-resolve", "2"],
            None,
        );
        assert_eq!(s.lifecycle, Lifecycle::default().with_passes_to_resolve(2));
    }

    #[test]
    fn override_sets_only_the_lifecycle_parts_given() {
        let o = overridden(&["override", "t1", "--disable"], None);
        assert!(o.lifecycle.is_empty());

        let line = [
            "override",
            "t1",
            "--mute-resolutions",
            "",
            "--reopen-within",
            "0",
            "--resolution",
            "Fixed",
        ];
        let o = overridden(&line, None);
        assert_eq!(
            o.lifecycle,
            LifecycleOverride::default()
                .with_mute_resolutions(Vec::<String>::new())
                .with_reopen_within(Duration::ZERO)
                .with_resolution("Fixed")
        );

        // Merged with what is saved; "" makes a name follow the settings again.
        let line = ["override", "t1", "--on-repeat", "comment", "--resolution="];
        let o = overridden(&line, Some(o));
        assert_eq!(
            o.lifecycle,
            LifecycleOverride::default()
                .with_mute_resolutions(Vec::<String>::new())
                .with_reopen_within(Duration::ZERO)
                .with_on_repeat(OnRepeat::Comment)
        );
        assert!(o.enabled);
    }
}
