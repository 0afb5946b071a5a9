//! What the tool prints: one record per line on stdout, one error per line on stderr, and
//! never a secret.

use std::collections::BTreeMap;
use std::time::Duration;

use jira_notifier::{
    Assignee, CreateField, Error, FieldValue, Lifecycle, LifecycleOverride, Noise, NoiseOverride,
    OnPass, OnRepeat, Outcome, Settings, StormLimit, TestOverride, UploadReport,
};

use crate::Failure;

/// The error and its sources on one line, so that a script can read one line per error.
pub fn one_line(err: &dyn std::error::Error) -> String {
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
pub fn clean(s: &str) -> String {
    s.lines()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A listed item: `ID<TAB>Name`, both cleaned so that the tab is the only one.
pub fn record(id: &str, name: &str) -> String {
    format!("{}\t{}", clean(id), clean(name))
}

/// Secrets known to this run, blotted out of everything printed: the library never puts
/// them in an error, but a server's error text is printed as it came.
#[derive(Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if !secret.is_empty() && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_owned());
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "[redacted]"))
    }
}

/// Prints lines to stdout; a closed pipe (`sandbox projects | head -1`) is not a panic.
pub fn print_lines(lines: &[String], secrets: &Secrets) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", secrets.redact(line))?;
    }
    out.flush()
}

/// A field of the create screen:
/// `FIELD_ID<TAB>Name<TAB>required|optional<TAB>default|no-default<TAB>allowed,values`, each
/// part cleaned so that the tabs are the only ones (the last part is empty when Jira lists
/// no values).
pub fn describe_field(f: &CreateField) -> String {
    let allowed: Vec<String> = f.allowed_names().into_iter().map(clean).collect();
    format!(
        "{}\t{}\t{}\t{}\t{}",
        clean(&f.id),
        clean(&f.name),
        if f.required { "required" } else { "optional" },
        if f.has_default {
            "default"
        } else {
            "no-default"
        },
        allowed.join(",")
    )
}

/// Prints warnings on stderr, `warning: ` and one line each: what worked, but not entirely
/// as usual (a save whose issues will have no description).
pub fn print_warnings(warnings: &[String], secrets: &Secrets) -> std::io::Result<()> {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for warning in warnings {
        writeln!(err, "warning: {}", secrets.redact(&clean(warning)))?;
    }
    err.flush()
}

pub fn describe_settings(s: &Settings) -> String {
    clean(&format!(
        "saved project={} issue-type={} label-prefix={} assignee={} labels={}{}",
        s.project_key,
        s.issue_type,
        s.label_prefix,
        describe_assignee(&s.assignee),
        s.labels.join(","),
        describe_fields(&s.fields)
    ))
}

pub fn describe_override(o: &TestOverride) -> String {
    const GLOBAL: &str = "(global)";
    clean(&format!(
        "saved enabled={} project={} assignee={} labels={}{}",
        o.enabled,
        o.project_key.as_deref().unwrap_or(GLOBAL),
        o.assignee.as_ref().map_or(GLOBAL, describe_assignee),
        o.labels.join(","),
        describe_fields(&o.fields)
    ))
}

/// ` fields=ID=VALUE;ID=VALUE,VALUE` for configured field values, as `--field` takes them;
/// nothing when there are none, so that the line stays as it was before fields.
fn describe_fields(fields: &BTreeMap<String, FieldValue>) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let each: Vec<String> = fields
        .iter()
        .map(|(id, value)| match value {
            FieldValue::One(v) => format!("{id}={v}"),
            FieldValue::Many(v) => format!("{id}={}", v.join(",")),
        })
        .collect();
    format!(" fields={}", each.join(";"))
}

/// The settings' lifecycle, every part in the order of the options, as they take it:
/// `lifecycle on-repeat=… comment-every=SECONDS on-pass=… passes-to-resolve=N
/// resolve-transition=NAME resolution=NAME reopen-within=SECONDS reopen-transition=NAME
/// mute-resolutions=a,b`; an unset name is `(default)`, the library's choice. Then
/// ` attach-on-repeat=yes|no` when it is on or `attach_given` (`--attach-on-repeat` was
/// given), so that the line stays as it was before that policy otherwise.
pub fn describe_lifecycle(l: &Lifecycle, attach_given: bool) -> String {
    const DEFAULT: &str = "(default)";
    let attach = (l.attach_on_repeat || attach_given).then_some(l.attach_on_repeat);
    lifecycle_line(
        [
            on_repeat_word(l.on_repeat).to_owned(),
            seconds(l.comment_every),
            on_pass_word(l.on_pass).to_owned(),
            l.passes_to_resolve.to_string(),
            l.resolve_transition
                .as_deref()
                .unwrap_or(DEFAULT)
                .to_owned(),
            l.resolution.as_deref().unwrap_or(DEFAULT).to_owned(),
            seconds(l.reopen_within),
            l.reopen_transition.as_deref().unwrap_or(DEFAULT).to_owned(),
            l.mute_resolutions.join(","),
        ],
        attach,
    )
}

/// A test's lifecycle override, as [`describe_lifecycle`] with `(global)` for each part
/// the override leaves to the settings (as the `saved …` line of `override` does); the
/// ` attach-on-repeat=yes|no` part only when the override sets it.
pub fn describe_lifecycle_override(o: &LifecycleOverride) -> String {
    const GLOBAL: &str = "(global)";
    let or_global = |v: Option<String>| v.unwrap_or_else(|| GLOBAL.to_owned());
    lifecycle_line(
        [
            or_global(o.on_repeat.map(|v| on_repeat_word(v).to_owned())),
            or_global(o.comment_every.map(seconds)),
            or_global(o.on_pass.map(|v| on_pass_word(v).to_owned())),
            or_global(o.passes_to_resolve.map(|v| v.to_string())),
            or_global(o.resolve_transition.clone()),
            or_global(o.resolution.clone()),
            or_global(o.reopen_within.map(seconds)),
            or_global(o.reopen_transition.clone()),
            or_global(o.mute_resolutions.as_ref().map(|v| v.join(","))),
        ],
        o.attach_on_repeat,
    )
}

/// The names of the lifecycle line's parts: the options that set them.
const LIFECYCLE_PARTS: [&str; 9] = [
    "on-repeat",
    "comment-every",
    "on-pass",
    "passes-to-resolve",
    "resolve-transition",
    "resolution",
    "reopen-within",
    "reopen-transition",
    "mute-resolutions",
];

/// The lifecycle line: the nine parts, then `attach-on-repeat=yes|no` if `attach` is
/// given.
fn lifecycle_line(values: [String; 9], attach: Option<bool>) -> String {
    let mut parts: Vec<String> = LIFECYCLE_PARTS
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    if let Some(attach) = attach {
        parts.push(format!("attach-on-repeat={}", yes_no(attach)));
    }
    clean(&format!("lifecycle {}", parts.join(" ")))
}

/// The settings' noise control, every part in the order of the options, as they take it:
/// `noise min-failures=N storm-limit=N/SECONDS|off split-by-environment=yes|no`.
pub fn describe_noise(n: &Noise) -> String {
    noise_line([
        n.min_failures.to_string(),
        storm_limit_text(n.storm_limit),
        yes_no(n.split_by_environment).to_owned(),
    ])
}

/// A test's noise override, as [`describe_noise`] with `(global)` for each part the
/// override leaves to the settings; `storm-limit=off` is a test never grouped.
pub fn describe_noise_override(o: &NoiseOverride) -> String {
    const GLOBAL: &str = "(global)";
    let or_global = |v: Option<String>| v.unwrap_or_else(|| GLOBAL.to_owned());
    noise_line([
        or_global(o.min_failures.map(|v| v.to_string())),
        or_global(o.storm_limit.map(storm_limit_text)),
        or_global(o.split_by_environment.map(|v| yes_no(v).to_owned())),
    ])
}

/// The names of the noise line's parts: the options that set them.
const NOISE_PARTS: [&str; 3] = ["min-failures", "storm-limit", "split-by-environment"];

fn noise_line(values: [String; 3]) -> String {
    let parts: Vec<String> = NOISE_PARTS
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    clean(&format!("noise {}", parts.join(" ")))
}

fn storm_limit_text(limit: Option<StormLimit>) -> String {
    limit.map_or_else(|| "off".to_owned(), |l| l.to_string())
}

fn yes_no(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "no"
    }
}

fn seconds(d: Duration) -> String {
    d.as_secs().to_string()
}

fn on_repeat_word(v: OnRepeat) -> &'static str {
    match v {
        OnRepeat::Nothing => "nothing",
        OnRepeat::Comment => "comment",
        // A policy added to the library later; `configure` cannot set it.
        _ => "other",
    }
}

fn on_pass_word(v: OnPass) -> &'static str {
    match v {
        OnPass::Nothing => "nothing",
        OnPass::Comment => "comment",
        OnPass::Resolve => "resolve",
        _ => "other",
    }
}

fn describe_assignee(a: &Assignee) -> &str {
    a.account_id().unwrap_or("auto")
}

/// What `fail` and `pass` print for the library's answer: `created KEY URL`,
/// `duplicate KEY URL`, `reopened KEY URL`, `muted KEY`, `commented KEY`, `resolved KEY`,
/// `passing N/M KEY`, `counted N/M`, `grouped KEY URL`, `ignored`, `disabled` or
/// `not-connected`.
pub fn describe_outcome(outcome: Outcome) -> Result<String, Failure> {
    Ok(match outcome {
        Outcome::Created(i) => format!("created {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Counted { failures, needed } => format!("counted {failures}/{needed}"),
        Outcome::Grouped(i) => format!("grouped {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Duplicate(i) => format!("duplicate {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Reopened(i) => format!("reopened {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Muted(i) => format!("muted {}", clean(&i.key)),
        Outcome::Commented(i) => format!("commented {}", clean(&i.key)),
        Outcome::Resolved(i) => format!("resolved {}", clean(&i.key)),
        Outcome::Passing {
            passes,
            needed,
            issue,
        } => format!("passing {passes}/{needed} {}", clean(&issue.key)),
        Outcome::Disabled => "disabled".to_owned(),
        Outcome::NotConnected => "not-connected".to_owned(),
        // `fail` always reports an error status, so only `pass` gets this: nothing to do.
        Outcome::Ignored => "ignored".to_owned(),
        // Was an error before it became an outcome: the tool keeps its error line.
        Outcome::NotConfigured => return Err(Error::NotConfigured.into()),
        other => {
            return Err(Failure::failed(format!(
                "an outcome this tool does not know: {other:?}"
            )))
        }
    })
}

/// The warnings of `fail --attach` (without `warning: `): one per file not attached,
/// `attachment NAME not attached: REASON`, the skipped files first, then those whose
/// upload failed, each list in the order given. The
/// reason is the library's text, which never holds a secret; an upload's error is put on
/// one line. Files uploaded say nothing.
pub fn attachment_warnings(report: &UploadReport) -> Vec<String> {
    let skipped = report
        .skipped
        .iter()
        .map(|s| not_attached(&s.name, &s.reason.to_string()));
    let failed = report
        .failed
        .iter()
        .map(|f| not_attached(&f.name, &one_line(&f.error)));
    skipped.chain(failed).collect()
}

fn not_attached(name: &str, reason: &str) -> String {
    clean(&format!("attachment {name} not attached: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_leaves_one_line_without_control_characters() {
        assert_eq!(clean("a\tb\r\nc\nd\u{7}"), "a b c d ");
    }

    #[test]
    fn one_line_joins_sources_it_does_not_already_quote() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let quoted = E("no answer: timed out", Some(Box::new(E("timed out", None))));
        assert_eq!(one_line(&quoted), "no answer: timed out");
        let nested = E(
            "outer",
            Some(Box::new(E(
                "middle\nline",
                Some(Box::new(E("inner", None))),
            ))),
        );
        assert_eq!(one_line(&nested), "outer: middle line: inner");
    }

    #[test]
    fn settings_show_their_fields_only_when_there_are_some() {
        let s = Settings::new("QA");
        assert_eq!(
            describe_settings(&s),
            "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels="
        );
        let s = s
            .with_field("priority", FieldValue::one("High"))
            .with_field("components", FieldValue::many(["API", "Web"]));
        assert_eq!(
            describe_settings(&s),
            "saved project=QA issue-type=Bug label-prefix=testclix- assignee=auto labels= \
             fields=components=API,Web;priority=High"
        );
        let o = TestOverride::default().with_field("customfield_1", FieldValue::one("a\tb"));
        assert_eq!(
            describe_override(&o),
            "saved enabled=true project=(global) assignee=(global) labels= fields=customfield_1=a b"
        );
    }

    #[test]
    fn the_lifecycle_is_one_line_of_every_part_in_the_options_order() {
        assert_eq!(
            describe_lifecycle(&Lifecycle::default(), false),
            "lifecycle on-repeat=nothing comment-every=3600 on-pass=nothing passes-to-resolve=1 \
             resolve-transition=(default) resolution=(default) reopen-within=0 \
             reopen-transition=(default) mute-resolutions="
        );
        let l = Lifecycle::default()
            .with_on_repeat(OnRepeat::Comment)
            .with_comment_every(Duration::from_secs(600))
            .with_on_pass(OnPass::Resolve)
            .with_passes_to_resolve(3)
            .with_resolve_transition("Close\tissue")
            .with_resolution("Fixed")
            .with_reopen_within(Duration::from_secs(86_400))
            .with_reopen_transition("Reopen")
            .with_mute_resolutions(["Won't Do", "Duplicate"]);
        assert_eq!(
            describe_lifecycle(&l, false),
            "lifecycle on-repeat=comment comment-every=600 on-pass=resolve passes-to-resolve=3 \
             resolve-transition=Close issue resolution=Fixed reopen-within=86400 \
             reopen-transition=Reopen mute-resolutions=Won't Do,Duplicate"
        );
    }

    #[test]
    fn attach_on_repeat_ends_the_lifecycle_line_only_when_on_or_given() {
        const NINE: &str = "lifecycle on-repeat=nothing comment-every=3600 on-pass=nothing \
                            passes-to-resolve=1 resolve-transition=(default) resolution=(default) \
                            reopen-within=0 reopen-transition=(default) mute-resolutions=";
        let off = Lifecycle::default();
        assert_eq!(describe_lifecycle(&off, false), NINE);
        assert_eq!(
            describe_lifecycle(&off, true),
            format!("{NINE} attach-on-repeat=no")
        );
        let on = Lifecycle::default().with_attach_on_repeat(true);
        for given in [false, true] {
            assert_eq!(
                describe_lifecycle(&on, given),
                format!("{NINE} attach-on-repeat=yes")
            );
        }

        let o = LifecycleOverride::default().with_on_pass(OnPass::Comment);
        let line = describe_lifecycle_override(&o);
        assert!(line.ends_with("mute-resolutions=(global)"), "{line}");
        for (v, word) in [(true, "yes"), (false, "no")] {
            let line = describe_lifecycle_override(&o.clone().with_attach_on_repeat(v));
            assert!(
                line.ends_with(&format!(
                    "mute-resolutions=(global) attach-on-repeat={word}"
                )),
                "{line}"
            );
        }
    }

    #[test]
    fn noise_is_one_line_of_every_part_in_the_options_order() {
        assert_eq!(
            describe_noise(&Noise::default()),
            "noise min-failures=1 storm-limit=off split-by-environment=no"
        );
        let n = Noise::default()
            .with_min_failures(3)
            .with_storm_limit(Some(StormLimit::new(10, Duration::from_secs(600))))
            .with_split_by_environment(true);
        assert_eq!(
            describe_noise(&n),
            "noise min-failures=3 storm-limit=10/600 split-by-environment=yes"
        );

        assert_eq!(
            describe_noise_override(&NoiseOverride::default()),
            "noise min-failures=(global) storm-limit=(global) split-by-environment=(global)"
        );
        // Some(None): the test is never grouped.
        let o = NoiseOverride::default()
            .with_storm_limit(None)
            .with_split_by_environment(false);
        assert_eq!(
            describe_noise_override(&o),
            "noise min-failures=(global) storm-limit=off split-by-environment=no"
        );
        let o = NoiseOverride::default()
            .with_min_failures(2)
            .with_storm_limit(Some(StormLimit::new(1, Duration::from_secs(60))));
        assert_eq!(
            describe_noise_override(&o),
            "noise min-failures=2 storm-limit=1/60 split-by-environment=(global)"
        );
    }

    #[test]
    fn a_file_not_attached_is_one_warning_naming_it_and_why() {
        use jira_notifier::SkipReason;
        // The library alone makes the report's entries; an empty one says nothing.
        assert!(attachment_warnings(&UploadReport::default()).is_empty());
        let too_large = SkipReason::TooLarge {
            size_at_least: 2000,
            limit: 1000,
        };
        assert_eq!(
            not_attached("big\n.log", &too_large.to_string()),
            "attachment big .log not attached: at least 2000 bytes, over the 1000-byte cap per file"
        );
        assert_eq!(
            not_attached("run.log", &SkipReason::Repeat.to_string()),
            "attachment run.log not attached: a repeat failure attaches nothing (attach_on_repeat is off)"
        );
        let refused = Error::Config("attachments are disabled\non this site".into());
        assert_eq!(
            not_attached("shot.png", &one_line(&refused)),
            "attachment shot.png not attached: invalid configuration: attachments are disabled on this site"
        );
    }

    #[test]
    fn a_lifecycle_override_shows_what_it_leaves_to_the_settings() {
        assert_eq!(
            describe_lifecycle_override(&LifecycleOverride::default()),
            "lifecycle on-repeat=(global) comment-every=(global) on-pass=(global) \
             passes-to-resolve=(global) resolve-transition=(global) resolution=(global) \
             reopen-within=(global) reopen-transition=(global) mute-resolutions=(global)"
        );
        let o = LifecycleOverride::default()
            .with_on_pass(OnPass::Comment)
            .with_reopen_within(Duration::ZERO)
            .with_mute_resolutions(Vec::<String>::new());
        assert_eq!(
            describe_lifecycle_override(&o),
            "lifecycle on-repeat=(global) comment-every=(global) on-pass=comment \
             passes-to-resolve=(global) resolve-transition=(global) resolution=(global) \
             reopen-within=0 reopen-transition=(global) mute-resolutions="
        );
    }

    #[test]
    fn every_outcome_is_one_line() {
        use jira_notifier::IssueRef;
        let issue = || IssueRef::new("10042", "QA-7", "https://acme.atlassian.net/browse/QA-7");
        let cases = [
            (
                Outcome::Created(issue()),
                "created QA-7 https://acme.atlassian.net/browse/QA-7",
            ),
            (
                Outcome::Duplicate(issue()),
                "duplicate QA-7 https://acme.atlassian.net/browse/QA-7",
            ),
            (
                Outcome::Reopened(issue()),
                "reopened QA-7 https://acme.atlassian.net/browse/QA-7",
            ),
            (Outcome::Muted(issue()), "muted QA-7"),
            (Outcome::Commented(issue()), "commented QA-7"),
            (Outcome::Resolved(issue()), "resolved QA-7"),
            (
                Outcome::Passing {
                    passes: 1,
                    needed: 3,
                    issue: issue(),
                },
                "passing 1/3 QA-7",
            ),
            (
                Outcome::Counted {
                    failures: 1,
                    needed: 3,
                },
                "counted 1/3",
            ),
            (
                Outcome::Grouped(issue()),
                "grouped QA-7 https://acme.atlassian.net/browse/QA-7",
            ),
            (Outcome::Ignored, "ignored"),
            (Outcome::Disabled, "disabled"),
            (Outcome::NotConnected, "not-connected"),
        ];
        for (outcome, line) in cases {
            assert_eq!(describe_outcome(outcome).unwrap(), line);
        }
        let Err(Failure::Failed { message, retryable }) = describe_outcome(Outcome::NotConfigured)
        else {
            panic!()
        };
        assert!(
            message.starts_with("Jira settings are not saved yet"),
            "{message}"
        );
        assert!(!retryable);
    }

    #[test]
    fn secrets_are_redacted_wherever_they_appear() {
        let mut secrets = Secrets::default();
        secrets.add("  s3cret ");
        secrets.add("");
        assert_eq!(
            secrets.redact("a s3cret, s3cret"),
            "a [redacted], [redacted]"
        );
        assert_eq!(secrets.redact("nothing"), "nothing");
    }
}
