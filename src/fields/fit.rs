//! Whether settings fit a create screen, and the create body's values if they do: pure
//! code, checked here without a network.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    AllowedValue, CreateField, FieldProblem, FieldProblemKind, FieldSchema, FieldValue,
    SaveWarning, FIELDS_FILLED_BY_CRATE,
};
use crate::issue::labels::check_label;
use crate::issue::text::{jira_len, printable};
use crate::settings::Assignee;

/// Jira's limit on a one-line text field.
const MAX_TEXT: usize = 255;
/// Jira's limit on a rich-text field.
const MAX_RICH_TEXT: usize = 32_767;
/// The longest account id Jira has.
const MAX_ACCOUNT_ID: usize = 128;

/// What a screen makes of the settings, when they fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fitted {
    /// The create body's values for the configured fields, by field id.
    pub values: BTreeMap<String, Value>,
    /// Whether Description is on the screen.
    pub description_on_screen: bool,
    pub warnings: Vec<SaveWarning>,
    /// Account ids in user fields, with their field: Jira is asked whether they exist.
    pub users: Vec<(String, String)>,
}

/// What the settings ask of a screen.
pub(crate) struct Wanted<'a> {
    pub project_key: &'a str,
    pub issue_type: &'a str,
    pub assignee: &'a Assignee,
    pub fields: &'a BTreeMap<String, FieldValue>,
}

/// Checks the settings against the screen: every problem at once, and what fits.
pub(crate) fn fit(screen: &[CreateField], wanted: &Wanted<'_>) -> (Fitted, Vec<FieldProblem>) {
    let on_screen = |id: &str| screen.iter().find(|f| f.id == id);
    let mut problems = Vec::new();
    let mut fitted = Fitted {
        description_on_screen: on_screen("description").is_some(),
        ..Fitted::default()
    };
    let problem =
        |id: &str, name: &str, kind: FieldProblemKind, allowed: &[AllowedValue]| FieldProblem {
            field_id: id.to_owned(),
            name: name.to_owned(),
            kind,
            allowed_values: allowed.to_vec(),
        };

    if on_screen("labels").is_none() {
        problems.push(problem(
            "labels",
            "Labels",
            FieldProblemKind::LabelsNotOnScreen,
            &[],
        ));
    }
    if on_screen("summary").is_none() {
        problems.push(problem(
            "summary",
            "Summary",
            FieldProblemKind::InvalidValue {
                reason: "Summary is not on the create screen, and every issue needs one: add it \
                         to the screen"
                    .into(),
            },
            &[],
        ));
    }
    if wanted.assignee.account_id().is_some() && on_screen("assignee").is_none() {
        problems.push(problem(
            "assignee",
            "Assignee",
            FieldProblemKind::AssigneeNotOnScreen,
            &[],
        ));
    }
    if !fitted.description_on_screen {
        fitted.warnings.push(SaveWarning::DescriptionNotOnScreen {
            project_key: wanted.project_key.to_owned(),
            issue_type: wanted.issue_type.to_owned(),
        });
    }

    // Configured values.
    for (id, value) in wanted.fields {
        if FIELDS_FILLED_BY_CRATE.contains(&id.as_str()) {
            let name = on_screen(id).map_or(id.as_str(), |f| f.name.as_str());
            problems.push(problem(id, name, FieldProblemKind::FilledByCrate, &[]));
            continue;
        }
        let Some(field) = on_screen(id) else {
            problems.push(problem(id, id, FieldProblemKind::NotOnScreen, &[]));
            continue;
        };
        let allowed = field.allowed_values.as_deref().unwrap_or(&[]);
        match resolve(field, value) {
            Ok((body, users)) => {
                fitted
                    .users
                    .extend(users.into_iter().map(|u| (id.clone(), u)));
                fitted.values.insert(id.clone(), body);
            }
            Err(kind) => problems.push(problem(id, &field.name, kind, allowed)),
        }
    }

    // Required fields left empty.
    for field in screen.iter().filter(|f| f.needs_value()) {
        let filled = match field.id.as_str() {
            "project" | "issuetype" | "summary" | "description" | "labels" => true,
            "assignee" => wanted.assignee.account_id().is_some(),
            "reporter" => false,
            id => wanted.fields.contains_key(id),
        };
        if filled {
            continue;
        }
        let allowed = field.allowed_values.as_deref().unwrap_or(&[]);
        let kind = if field.filled_by_crate || settable(&field.schema) {
            FieldProblemKind::RequiredWithoutValue
        } else {
            FieldProblemKind::Unsupported {
                schema: field.schema.describe(),
            }
        };
        problems.push(problem(&field.id, &field.name, kind, allowed));
    }
    (fitted, problems)
}

/// Whether the crate can send values of this kind.
fn settable(schema: &FieldSchema) -> bool {
    !matches!(schema, FieldSchema::Other { .. })
}

fn invalid(reason: impl Into<String>) -> FieldProblemKind {
    FieldProblemKind::InvalidValue {
        reason: reason.into(),
    }
}

/// The create body's value for a configured value, and the account ids it names.
fn resolve(
    field: &CreateField,
    value: &FieldValue,
) -> Result<(Value, Vec<String>), FieldProblemKind> {
    let items = value.items();
    if items.is_empty() {
        return Err(invalid("the configured value is empty: remove it instead"));
    }
    let multi = field.schema.is_multi_valued();
    if !multi && items.len() > 1 {
        return Err(invalid(format!(
            "takes one value, and {} are configured",
            items.len()
        )));
    }
    let one = items[0];
    let mut users = Vec::new();
    let body = match &field.schema {
        FieldSchema::Text => {
            if jira_len(one) > MAX_TEXT {
                return Err(invalid(format!(
                    "holds at most {MAX_TEXT} characters, and the value has {}",
                    jira_len(one)
                )));
            }
            if one.chars().any(char::is_control) {
                return Err(invalid("holds one line, without control characters"));
            }
            Value::from(one)
        }
        FieldSchema::RichText => rich_text(one)?,
        FieldSchema::Number => number(one)?,
        FieldSchema::Date => {
            check_date(one).map_err(invalid)?;
            Value::from(one)
        }
        FieldSchema::DateTime => {
            check_date_time(one).map_err(invalid)?;
            Value::from(one)
        }
        FieldSchema::Option
        | FieldSchema::Priority
        | FieldSchema::Version
        | FieldSchema::Component => json!({ "id": choose(field, one)? }),
        FieldSchema::Options | FieldSchema::Versions | FieldSchema::Components => {
            let mut ids: Vec<String> = Vec::new();
            for item in &items {
                let id = choose(field, item)?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Value::Array(ids.into_iter().map(|id| json!({ "id": id })).collect())
        }
        FieldSchema::User => {
            let id = account_id(one)?;
            users.push(id.clone());
            json!({ "accountId": id })
        }
        FieldSchema::Users => {
            let mut ids: Vec<String> = Vec::new();
            for item in &items {
                let id = account_id(item)?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            users.extend(ids.iter().cloned());
            Value::Array(
                ids.into_iter()
                    .map(|id| json!({ "accountId": id }))
                    .collect(),
            )
        }
        FieldSchema::Labels => {
            let mut labels: Vec<&str> = Vec::new();
            for item in &items {
                check_label("fields", item).map_err(|e| invalid(label_reason(&e)))?;
                if !labels.contains(item) {
                    labels.push(item);
                }
            }
            json!(labels)
        }
        other => {
            return Err(FieldProblemKind::Unsupported {
                schema: other.describe(),
            })
        }
    };
    Ok((body, users))
}

fn label_reason(e: &crate::error::Error) -> String {
    match e {
        crate::error::Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The allowed value's id for a value given by id or name: the id first, then the exact
/// name, then the one name equal without regard to case.
fn choose(field: &CreateField, given: &str) -> Result<String, FieldProblemKind> {
    let Some(allowed) = &field.allowed_values else {
        // Jira lists no values: only an id can be sent blind.
        if !given.is_empty() && given.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(given.to_owned());
        }
        return Err(invalid(format!(
            "Jira lists no allowed values for this field, so {given:?} cannot be looked up by \
             name: give its id"
        )));
    };
    let found = allowed
        .iter()
        .find(|v| v.id == given)
        .or_else(|| allowed.iter().find(|v| v.name == given))
        .or_else(|| {
            let mut matching = allowed
                .iter()
                .filter(|v| v.name.to_lowercase() == given.to_lowercase());
            match (matching.next(), matching.next()) {
                (Some(v), None) => Some(v),
                _ => None,
            }
        });
    match found {
        Some(v) => Ok(v.id.clone()),
        None => Err(FieldProblemKind::ValueNotAllowed {
            value: given.to_owned(),
        }),
    }
}

fn account_id(given: &str) -> Result<String, FieldProblemKind> {
    if given.len() > MAX_ACCOUNT_ID || given.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!("{given:?} is not an Atlassian account id")));
    }
    Ok(given.to_owned())
}

fn number(given: &str) -> Result<Value, FieldProblemKind> {
    if let Ok(n) = given.parse::<i64>() {
        return Ok(Value::from(n));
    }
    given
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| invalid(format!("{given:?} is not a number")))
}

/// Text as an ADF document: one paragraph per non-blank line.
fn rich_text(given: &str) -> Result<Value, FieldProblemKind> {
    let text = printable(given);
    if jira_len(&text) > MAX_RICH_TEXT {
        return Err(invalid(format!("holds at most {MAX_RICH_TEXT} characters")));
    }
    let paragraphs: Vec<Value> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(|l| json!({"type": "paragraph", "content": [{"type": "text", "text": l}]}))
        .collect();
    if paragraphs.is_empty() {
        return Err(invalid("the configured text is blank"));
    }
    Ok(json!({"version": 1, "type": "doc", "content": paragraphs}))
}

/// `YYYY-MM-DD`, a real day.
fn check_date(given: &str) -> Result<(), String> {
    let bad = || format!("{given:?} is not a date of the form YYYY-MM-DD");
    let b = given.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let digits = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (
        digits(&given[..4]),
        digits(&given[5..7]),
        digits(&given[8..10]),
    ) else {
        return Err(bad());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year == 0 || day == 0 || day > days {
        return Err(bad());
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]`.
fn check_date_time(given: &str) -> Result<(), String> {
    let bad =
        || format!("{given:?} is not a date and time of the form 2024-05-01T10:00:00.000+0000");
    if given.len() < 16 || !given.is_char_boundary(10) || !given.is_char_boundary(11) {
        return Err(bad());
    }
    check_date(&given[..10]).map_err(|_| bad())?;
    if !matches!(&given[10..11], "T" | " ") {
        return Err(bad());
    }
    let rest = &given[11..];
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (clock, fraction) = match time.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (time, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let two = |s: &str, max: u32| {
        s.len() == 2
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| n <= max)
    };
    let clock_ok = match parts.as_slice() {
        [h, m] => two(h, 23) && two(m, 59) && fraction.is_none(),
        [h, m, s] => two(h, 23) && two(m, 59) && two(s, 59),
        _ => false,
    };
    let fraction_ok = fraction
        .is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    let zone_ok = match zone {
        "" | "Z" => true,
        z if !z.is_ascii() => false,
        z => {
            let digits = z[1..].replace(':', "");
            digits.len() == 4
                && two(&digits[..2], 23)
                && two(&digits[2..], 59)
                && (z.len() == 5 || (z.len() == 6 && &z[3..4] == ":"))
        }
    };
    if clock_ok && fraction_ok && zone_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: &str, name: &str, schema: FieldSchema) -> CreateField {
        CreateField {
            id: id.into(),
            name: name.into(),
            required: false,
            has_default: false,
            schema,
            allowed_values: None,
            filled_by_crate: FIELDS_FILLED_BY_CRATE.contains(&id),
        }
    }

    fn with_allowed(mut f: CreateField, values: &[(&str, &str)]) -> CreateField {
        f.allowed_values = Some(
            values
                .iter()
                .map(|(id, name)| AllowedValue::new(*id, *name))
                .collect(),
        );
        f
    }

    fn required(mut f: CreateField) -> CreateField {
        f.required = true;
        f
    }

    /// The screen of a project with every usual field.
    fn full() -> Vec<CreateField> {
        vec![
            required(field(
                "project",
                "Project",
                FieldSchema::Other {
                    type_name: "project".into(),
                    items: None,
                },
            )),
            required(field(
                "issuetype",
                "Issue Type",
                FieldSchema::Other {
                    type_name: "issuetype".into(),
                    items: None,
                },
            )),
            required(field("summary", "Summary", FieldSchema::Text)),
            field("description", "Description", FieldSchema::RichText),
            field("labels", "Labels", FieldSchema::Labels),
            field("assignee", "Assignee", FieldSchema::User),
        ]
    }

    fn wanted<'a>(assignee: &'a Assignee, fields: &'a BTreeMap<String, FieldValue>) -> Wanted<'a> {
        Wanted {
            project_key: "QA",
            issue_type: "Bug",
            assignee,
            fields,
        }
    }

    fn values(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn a_full_screen_without_values_fits_as_before() {
        let none = BTreeMap::new();
        let (fitted, problems) = fit(&full(), &wanted(&Assignee::user("a"), &none));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(fitted.description_on_screen);
        assert!(fitted.values.is_empty());
        assert!(fitted.warnings.is_empty());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut screen: Vec<CreateField> = full()
            .into_iter()
            .filter(|f| !["labels", "assignee", "description"].contains(&f.id.as_str()))
            .collect();
        screen.push(required(with_allowed(
            field("components", "Component/s", FieldSchema::Components),
            &[("10100", "Backend"), ("10101", "Frontend")],
        )));
        screen.push(with_allowed(
            field("priority", "Priority", FieldSchema::Priority),
            &[("1", "High"), ("2", "Low")],
        ));
        let configured = values(&[
            ("priority", FieldValue::one("Urgent")),
            ("customfield_9", FieldValue::one("x")),
            ("labels", FieldValue::one("x")),
        ]);
        let (fitted, problems) = fit(&screen, &wanted(&Assignee::user("a"), &configured));
        let kinds: Vec<(&str, &FieldProblemKind)> = problems
            .iter()
            .map(|p| (p.field_id.as_str(), &p.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("labels", &FieldProblemKind::LabelsNotOnScreen),
                ("assignee", &FieldProblemKind::AssigneeNotOnScreen),
                ("customfield_9", &FieldProblemKind::NotOnScreen),
                ("labels", &FieldProblemKind::FilledByCrate),
                (
                    "priority",
                    &FieldProblemKind::ValueNotAllowed {
                        value: "Urgent".into()
                    }
                ),
                ("components", &FieldProblemKind::RequiredWithoutValue),
            ]
        );
        let components = problems.last().unwrap();
        assert_eq!(
            components.to_string(),
            "components (Component/s): required, without a default in Jira, and no value is \
             configured: configure a value (allowed: Backend, Frontend)"
        );
        assert!(problems[0].to_string().contains("duplicate check"));
        assert!(!fitted.description_on_screen);
        assert_eq!(fitted.warnings.len(), 1);
    }

    #[test]
    fn values_take_the_shape_of_their_schema() {
        let mut screen = full();
        let opts = [("10", "Red"), ("11", "Blue"), ("12", "red team")];
        for f in [
            with_allowed(field("o", "O", FieldSchema::Option), &opts),
            with_allowed(field("os", "Os", FieldSchema::Options), &opts),
            with_allowed(field("p", "P", FieldSchema::Priority), &[("3", "Medium")]),
            with_allowed(field("c", "C", FieldSchema::Components), &[("7", "API")]),
            with_allowed(field("v", "V", FieldSchema::Versions), &[("8", "1.0")]),
            with_allowed(field("v1", "V1", FieldSchema::Version), &[("8", "1.0")]),
            field("t", "T", FieldSchema::Text),
            field("r", "R", FieldSchema::RichText),
            field("n", "N", FieldSchema::Number),
            field("f", "F", FieldSchema::Number),
            field("d", "D", FieldSchema::Date),
            field("dt", "DT", FieldSchema::DateTime),
            field("u", "U", FieldSchema::User),
            field("us", "Us", FieldSchema::Users),
            field("l", "L", FieldSchema::Labels),
        ] {
            screen.push(f);
        }
        let configured = values(&[
            ("o", FieldValue::one("red")),
            ("os", FieldValue::many(["Blue", "10", "Blue"])),
            ("p", FieldValue::one("medium")),
            ("c", FieldValue::one("API")),
            ("v", FieldValue::many(["1.0"])),
            ("v1", FieldValue::one("8")),
            ("t", FieldValue::one("a, b")),
            ("r", FieldValue::one("line 1\n\nline 2")),
            ("n", FieldValue::one("42")),
            ("f", FieldValue::number(2.5)),
            ("d", FieldValue::one("2024-02-29")),
            ("dt", FieldValue::one("2024-05-01T10:00:00.000+0000")),
            ("u", FieldValue::one("acc-1")),
            ("us", FieldValue::many(["acc-1", "acc-2"])),
            ("l", FieldValue::many(["a", "b", "a"])),
        ]);
        let (fitted, problems) = fit(&screen, &wanted(&Assignee::Auto, &configured));
        assert!(problems.is_empty(), "{problems:?}");
        let v = &fitted.values;
        // "red" matches no name exactly, and "Red" and "red team" differ: case-insensitive
        // matching finds the one.
        assert_eq!(v["o"], json!({"id": "10"}));
        assert_eq!(v["os"], json!([{"id": "11"}, {"id": "10"}]));
        assert_eq!(v["p"], json!({"id": "3"}));
        assert_eq!(v["c"], json!([{"id": "7"}]));
        assert_eq!(v["v"], json!([{"id": "8"}]));
        assert_eq!(v["v1"], json!({"id": "8"}));
        assert_eq!(v["t"], json!("a, b"));
        assert_eq!(v["r"]["content"].as_array().unwrap().len(), 2);
        assert_eq!(v["r"]["type"], "doc");
        assert_eq!(v["n"], json!(42));
        assert_eq!(v["f"], json!(2.5));
        assert_eq!(v["d"], json!("2024-02-29"));
        assert_eq!(v["u"], json!({"accountId": "acc-1"}));
        assert_eq!(
            v["us"],
            json!([{"accountId": "acc-1"}, {"accountId": "acc-2"}])
        );
        assert_eq!(v["l"], json!(["a", "b"]));
        assert_eq!(
            fitted.users,
            [
                ("u".to_owned(), "acc-1".to_owned()),
                ("us".to_owned(), "acc-1".to_owned()),
                ("us".to_owned(), "acc-2".to_owned())
            ]
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let mut screen = full();
        screen.push(with_allowed(
            field("o", "O", FieldSchema::Option),
            &[("1", "Red"), ("2", "RED")],
        ));
        screen.push(field("n", "N", FieldSchema::Number));
        screen.push(field("d", "D", FieldSchema::Date));
        screen.push(field("dt", "DT", FieldSchema::DateTime));
        screen.push(field("l", "L", FieldSchema::Labels));
        screen.push(field("t", "T", FieldSchema::Text));
        screen.push(field("x", "X", FieldSchema::Option));
        screen.push(field(
            "casc",
            "Cascade",
            FieldSchema::Other {
                type_name: "option-with-child".into(),
                items: None,
            },
        ));
        for (id, value) in [
            ("o", FieldValue::one("red")),
            ("o", FieldValue::many(["Red", "RED"])),
            ("n", FieldValue::one("1e999")),
            ("n", FieldValue::one("NaN")),
            ("d", FieldValue::one("2023-02-29")),
            ("d", FieldValue::one("2023-2-1")),
            ("dt", FieldValue::one("2024-05-01 25:00")),
            ("dt", FieldValue::one("2024-05-01T10:00:00+25:00")),
            ("l", FieldValue::one("two words")),
            ("t", FieldValue::one("x".repeat(256))),
            ("t", FieldValue::one("a\nb")),
            ("t", FieldValue::one("  ")),
            ("x", FieldValue::one("Red")),
            ("casc", FieldValue::one("a")),
        ] {
            let configured = values(&[(id, value.clone())]);
            let (_, problems) = fit(&screen, &wanted(&Assignee::Auto, &configured));
            assert_eq!(problems.len(), 1, "{id} = {value:?}: {problems:?}");
            assert_eq!(problems[0].field_id, id);
        }
        // An id is sent blind when Jira lists nothing.
        let configured = values(&[("x", FieldValue::one("10001"))]);
        let (fitted, problems) = fit(&screen, &wanted(&Assignee::Auto, &configured));
        assert!(problems.is_empty());
        assert_eq!(fitted.values["x"], json!({"id": "10001"}));
    }

    #[test]
    fn required_fields_need_a_value_unless_they_have_a_default() {
        let mut screen = full();
        let mut with_default = required(field("p", "Priority", FieldSchema::Priority));
        with_default.has_default = true;
        screen.push(with_default);
        screen.push(required(field("assignee", "Assignee", FieldSchema::User)));
        screen.retain(|f| f.id != "assignee" || f.required);
        screen.push(required(field(
            "casc",
            "Cascade",
            FieldSchema::Other {
                type_name: "option-with-child".into(),
                items: None,
            },
        )));
        let none = BTreeMap::new();
        let (_, problems) = fit(&screen, &wanted(&Assignee::Auto, &none));
        let ids: Vec<&str> = problems.iter().map(|p| p.field_id.as_str()).collect();
        assert_eq!(ids, ["assignee", "casc"]);
        assert!(matches!(
            problems[1].kind,
            FieldProblemKind::Unsupported { .. }
        ));
        let (_, problems) = fit(&screen, &wanted(&Assignee::user("a"), &none));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn dates_and_times() {
        for ok in ["2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(check_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "2024/01/01",
            "２０２４-01-01",
        ] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
        for ok in [
            "2024-05-01T10:00",
            "2024-05-01T10:00:59",
            "2024-05-01T10:00:00.000+0000",
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.5-05:30",
        ] {
            assert!(check_date_time(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2024-05-01",
            "2024-05-01T24:00",
            "2024-05-01T10:00.5",
            "2024-05-01T10:00:00+5",
            "2024-05-01T10:00:00+05:3",
            "2024-05-01é10:00",
        ] {
            assert!(check_date_time(bad).is_err(), "{bad}");
        }
    }
}
