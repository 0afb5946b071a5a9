//! What each command does, through a notifier on the store (the state file or the
//! database, one workspace of it), and the lines it prints.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    parse_field_assignment, Attachment, ConfigStore, CreateField, Credentials, Error, Evidence,
    FieldValue, JiraNotifier, Lifecycle, LifecycleOverride, Noise, NoiseOverride, NotifierEngine,
    RetryPolicy, SaveWarning, Settings, TestInfo, TestOverride, TestStatus, WorkspaceId,
    DEFAULT_API_URL, DEFAULT_AUTH_URL, DEFAULT_ISSUE_TYPE,
};

use crate::cli::{
    Command, ConfigureArgs, ConnectArgs, EvidenceOptions, FailArgs, FieldAssignment, FieldsArgs,
    IssueOptions, Labels, LifecycleOptions, Name, NoiseOptions, OverrideArgs, PassArgs,
    ProjectOption, Resolutions, StormLimitOption, TokenKind, UsersArgs,
};
use crate::output::{
    attachment_warnings, clean, describe_field, describe_lifecycle, describe_lifecycle_override,
    describe_noise, describe_noise_override, describe_outcome, describe_override,
    describe_settings, one_line, record,
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
        Command::Fail(args) => return fail(notifier, args).await,
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
/// knows nothing of lifecycles stays one line), then a `noise …` line on the same terms.
async fn configure(notifier: &JiraNotifier, args: ConfigureArgs) -> Result<Printed, Failure> {
    let lifecycle_given = args.lifecycle.any();
    let attach_given = args.lifecycle.attach_on_repeat.is_some();
    let noise_given = args.noise.any();
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
        lines.push(describe_lifecycle(&saved.settings.lifecycle, attach_given));
    }
    if noise_given || saved.settings.noise != Noise::default() {
        lines.push(describe_noise(&saved.settings.noise));
    }
    Ok(Printed {
        lines,
        warnings: warnings(&saved.warnings),
    })
}

/// `override` (without `--clear`): the saved override with the options applied.
///
/// Prints the `saved …` line, then a `lifecycle …` line when the override changes the
/// lifecycle or a lifecycle option was given, then a `noise …` line on the same terms.
async fn set_override(notifier: &JiraNotifier, args: OverrideArgs) -> Result<Printed, Failure> {
    let test_id = args.test_id.clone();
    let lifecycle_given = args.lifecycle.any();
    let noise_given = args.noise.any();
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
    if noise_given || !saved.test_override.noise.is_empty() {
        lines.push(describe_noise_override(&saved.test_override.noise));
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

/// `fail`: a failure of the test, with the evidence and files given. Every `--attach`
/// file is read first: one that cannot be read is a usage error, and nothing is sent.
///
/// Prints the outcome's line; each file not attached is a warning (`attachment NAME not
/// attached: REASON`), and the exit status stays 0: the failure was reported.
async fn fail(notifier: &JiraNotifier, args: FailArgs) -> Result<Printed, Failure> {
    let FailArgs {
        test_id,
        name,
        message,
        url,
        env,
        evidence,
    } = args;
    let EvidenceOptions {
        run_url,
        commit,
        branch,
        attach,
    } = *evidence;
    let files = attach
        .iter()
        .map(|path| read_attachment(path))
        .collect::<Result<Vec<_>, _>>()?;
    let test = test_info(test_id, name, url, env);
    let mut evidence = Evidence::new();
    if let Some(v) = run_url {
        evidence = evidence.with_run_url(v);
    }
    if let Some(v) = commit {
        evidence = evidence.with_commit(v);
    }
    if let Some(v) = branch {
        evidence = evidence.with_branch(v);
    }
    let report = notifier
        .on_test_error_with_attachments(&test, &TestStatus::error_with(message, evidence), files)
        .await?;
    Ok(Printed {
        lines: vec![describe_outcome(report.outcome)?],
        warnings: attachment_warnings(&report.attachments),
    })
}

/// `pass`: a pass of the test, as its lifecycle policy says (`on_pass`).
async fn pass(notifier: &JiraNotifier, args: PassArgs) -> Result<Vec<String>, Failure> {
    let PassArgs {
        test_id,
        name,
        url,
        env,
    } = args;
    let test = test_info(test_id, name, url, env);
    let outcome = notifier.on_test_pass(&test).await?;
    Ok(vec![describe_outcome(outcome)?])
}

/// The test `fail` and `pass` report: named by its id unless `--name` says otherwise, with
/// no link unless `--url`, in no environment unless `--env`.
fn test_info(
    test_id: String,
    name: Option<String>,
    url: Option<String>,
    env: Option<String>,
) -> TestInfo {
    let name = name.unwrap_or_else(|| test_id.clone());
    let test = TestInfo::new(test_id, name, url.unwrap_or_default());
    match env {
        Some(env) => test.with_environment(env),
        None => test,
    }
}

/// An `--attach` file, read whole, named by its file name, its media type from its
/// extension ([`media_type`]).
fn read_attachment(path: &Path) -> Result<Attachment, Failure> {
    let data = std::fs::read(path).map_err(|e| {
        Failure::usage(format!(
            "--attach cannot read {:?}: {}",
            path.display().to_string(),
            one_line(&e)
        ))
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Attachment::bytes(name, media_type(path), data))
}

/// The media type of an `--attach` file, from its extension (any case).
fn media_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("txt" | "log") => "text/plain",
        Some("json" | "har") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    }
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
        noise,
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
    s.noise = noise_to_save(*noise, s.noise);
    Ok((s, fields))
}

/// The saved noise control with the options applied: an option not given keeps the saved
/// value; `--storm-limit ""` turns the storm guard off.
fn noise_to_save(options: NoiseOptions, saved: Noise) -> Noise {
    // Taken apart field by field, so that a new option cannot be forgotten here.
    let NoiseOptions {
        min_failures,
        storm_limit,
        split_by_environment,
    } = options;
    let mut n = saved;
    if let Some(v) = min_failures {
        n.min_failures = v;
    }
    if let Some(StormLimitOption(v)) = storm_limit {
        n.storm_limit = v;
    }
    if let Some(v) = split_by_environment {
        n.split_by_environment = v;
    }
    n
}

/// The saved noise override with the options applied: an option given sets that part for
/// the test (`--storm-limit ""`: the test is never grouped).
fn noise_override_to_save(options: NoiseOptions, saved: NoiseOverride) -> NoiseOverride {
    let NoiseOptions {
        min_failures,
        storm_limit,
        split_by_environment,
    } = options;
    let mut o = saved;
    if min_failures.is_some() {
        o.min_failures = min_failures;
    }
    if let Some(StormLimitOption(v)) = storm_limit {
        o.storm_limit = Some(v);
    }
    if split_by_environment.is_some() {
        o.split_by_environment = split_by_environment;
    }
    o
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
        attach_on_repeat,
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
    if let Some(v) = attach_on_repeat {
        l.attach_on_repeat = v;
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
        attach_on_repeat,
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
    if attach_on_repeat.is_some() {
        o.attach_on_repeat = attach_on_repeat;
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
        noise,
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
    o.noise = noise_override_to_save(*noise, o.noise);
    (o, fields)
}

#[cfg(test)]
mod tests {
    use jira_notifier::{OnPass, OnRepeat, StormLimit};

    use super::*;
    use crate::cli::{parse, Invocation};

    fn command(line: &[&str]) -> Command {
        let args: Vec<String> = line.iter().map(|a| (*a).to_owned()).collect();
        match parse(&args) {
            Ok(Invocation::Run { command, .. }) => *command,
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

    fn limit(issues: u32, secs: u64) -> Option<StormLimit> {
        Some(StormLimit::new(issues, Duration::from_secs(secs)))
    }

    #[test]
    fn configure_keeps_the_saved_noise_parts_not_given() {
        let saved = Settings::new("QA").with_noise(
            Noise::default()
                .with_min_failures(3)
                .with_storm_limit(limit(10, 600)),
        );
        let s = configured(
            &["configure", "--split-by-environment", "yes"],
            Some(saved.clone()),
        );
        assert_eq!(s.noise, saved.noise.clone().with_split_by_environment(true));
        // Other options keep noise control as saved.
        let s = configured(&["configure", "--on-pass", "comment"], Some(saved.clone()));
        assert_eq!(s.noise, saved.noise);
        // "" turns the storm guard off.
        let s = configured(
            &["configure", "--storm-limit", "", "--min-failures", "1"],
            Some(saved.clone()),
        );
        assert_eq!(s.noise, Noise::default());
        // A first configure starts from the default noise control.
        let s = configured(
            &["configure", "--project", "QA", "--storm-limit", "2/60"],
            None,
        );
        assert_eq!(s.noise, Noise::default().with_storm_limit(limit(2, 60)));
    }

    #[test]
    fn override_sets_only_the_noise_parts_given() {
        let o = overridden(&["override", "t1", "--min-failures", "2"], None);
        assert_eq!(o.noise, NoiseOverride::default().with_min_failures(2));
        // "": the test is never grouped (not: follows the settings).
        let o = overridden(&["override", "t1", "--storm-limit="], Some(o));
        assert_eq!(
            o.noise,
            NoiseOverride::default()
                .with_min_failures(2)
                .with_storm_limit(None)
        );
        assert_eq!(o.noise.storm_limit, Some(None));
        let o = overridden(
            &[
                "override",
                "t1",
                "--split-by-environment",
                "no",
                "--storm-limit",
                "5/30",
            ],
            Some(o),
        );
        assert_eq!(
            o.noise,
            NoiseOverride::default()
                .with_min_failures(2)
                .with_storm_limit(limit(5, 30))
                .with_split_by_environment(false)
        );
        let o = overridden(&["override", "t1", "--disable"], Some(o.clone()));
        assert!(!o.noise.is_empty());
        assert!(o.lifecycle.is_empty());
    }

    #[test]
    fn attach_on_repeat_is_saved_as_given() {
        let s = configured(
            &["configure", "--project", "QA", "--attach-on-repeat", "yes"],
            None,
        );
        assert_eq!(
            s.lifecycle,
            Lifecycle::default().with_attach_on_repeat(true)
        );
        let s = configured(&["configure", "--attach-on-repeat=no"], Some(s));
        assert_eq!(s.lifecycle, Lifecycle::default());
        let o = overridden(&["override", "t1", "--attach-on-repeat", "no"], None);
        assert_eq!(
            o.lifecycle,
            LifecycleOverride::default().with_attach_on_repeat(false)
        );
        let o = overridden(&["override", "t1", "--on-pass", "resolve"], Some(o));
        assert_eq!(o.lifecycle.attach_on_repeat, Some(false));
    }

    #[test]
    fn the_media_type_comes_from_the_extension() {
        for (file, expected) in [
            ("run.txt", "text/plain"),
            ("run.log", "text/plain"),
            ("RUN.LOG", "text/plain"),
            ("result.json", "application/json"),
            ("network.har", "application/json"),
            ("shot.png", "image/png"),
            ("shot.jpg", "image/jpeg"),
            ("shot.JPEG", "image/jpeg"),
            ("report.html", "text/html"),
            ("report.htm", "application/octet-stream"),
            ("core", "application/octet-stream"),
            ("archive.tar.gz", "application/octet-stream"),
            (".log", "application/octet-stream"),
            ("dir.log/trace.bin", "application/octet-stream"),
        ] {
            assert_eq!(media_type(Path::new(file)), expected, "{file}");
        }
    }

    #[test]
    fn an_attached_file_is_read_whole_and_named_by_its_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        std::fs::write(&path, b"line 1\nline 2\n").unwrap();
        let file = read_attachment(&path).unwrap();
        assert_eq!(file.name(), "run.log");
        assert_eq!(file.media_type(), "text/plain");
        assert_eq!(file.len_hint(), Some(14));

        let missing = dir.path().join("gone.png");
        let Err(Failure::Usage(message)) = read_attachment(&missing) else {
            panic!("a missing file is a usage error")
        };
        assert!(
            message.starts_with(&format!(
                "--attach cannot read {:?}: ",
                missing.display().to_string()
            )),
            "{message}"
        );
        let Err(Failure::Usage(message)) = read_attachment(dir.path()) else {
            panic!("a folder is a usage error")
        };
        assert!(message.starts_with("--attach cannot read "), "{message}");
    }
}
