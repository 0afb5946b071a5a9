//! What the tool prints: one record per line on stdout, one error per line on stderr, and
//! never a secret.

use std::collections::BTreeMap;

use jira_notifier::{Assignee, CreateField, Error, FieldValue, Outcome, Settings, TestOverride};

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

fn describe_assignee(a: &Assignee) -> &str {
    a.account_id().unwrap_or("auto")
}

pub fn describe_outcome(outcome: Outcome) -> Result<String, Failure> {
    Ok(match outcome {
        Outcome::Created(i) => format!("created {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Duplicate(i) => format!("duplicate {} {}", clean(&i.key), clean(&i.url)),
        Outcome::Disabled => "disabled".to_owned(),
        Outcome::NotConnected => "not-connected".to_owned(),
        // `fail` always reports an error status, so this is not expected here.
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
