//! Checks a parsed query against a site's data (fields, operators, values) and evaluates
//! it on issues.

use std::cmp::Ordering;

use super::lex::Symbol;
use super::parse::{Clause, Expr, Op, Operand, Query};
use crate::model::StatusCategory;
use crate::world::{Issue, IssueState, JiraData};

/// Fields real Jira has that the simulator does not evaluate: a clear refusal beats a
/// misleading "does not exist".
const UNSIMULATED_FIELDS: &[&str] = &[
    "affectedversion",
    "assignee",
    "attachments",
    "comment",
    "component",
    "created",
    "createddate",
    "creator",
    "description",
    "due",
    "duedate",
    "environment",
    "filter",
    "fixversion",
    "lastviewed",
    "parent",
    "priority",
    "reporter",
    "resolution",
    "resolutiondate",
    "resolved",
    "sprint",
    "statuscategorychangeddate",
    "text",
    "updated",
    "updateddate",
    "voter",
    "watcher",
];

/// A resolved condition.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    /// Some label equals one of these (lower-cased); negated, the issue has labels and
    /// none of them is one of these, as JQL's `!=` and `NOT IN` skip empty fields.
    Labels {
        any_of: Vec<String>,
        negated: bool,
    },
    LabelsEmpty(bool),
    Project {
        any_of: Vec<usize>,
        negated: bool,
    },
    Category {
        any_of: Vec<StatusCategory>,
        negated: bool,
    },
    /// Status ids: names are the site's, shared by every workflow that uses them.
    Status {
        any_of: Vec<String>,
        negated: bool,
    },
    IssueType {
        any_of: Vec<String>,
        negated: bool,
    },
    Issue {
        any_of: Vec<usize>,
        negated: bool,
    },
    Summary {
        contains: String,
        negated: bool,
    },
}

/// What a query's sort key sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    Key,
    Created,
}

/// A query ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) pred: Pred,
    pub(crate) order: Vec<(SortField, bool)>,
}

/// An issue as one evaluation sees it: search may see an older workflow state than the
/// current.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) index: usize,
    pub(crate) issue: &'a Issue,
    pub(crate) state: &'a IssueState,
}

/// Why a query cannot run: Jira's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No restriction at all: Jira refuses unbounded queries on this endpoint.
    Unbounded,
    Invalid(Vec<String>),
}

pub(crate) fn plan(query: &Query, jira: &JiraData) -> Result<Plan, Rejection> {
    let mut errors = Vec::new();
    let pred = match &query.filter {
        Some(expr) => resolve(expr, jira, &mut errors),
        None => None,
    };
    let mut order = Vec::new();
    for key in &query.order {
        let lower = key.field.to_lowercase();
        match lower.as_str() {
            "key" | "issuekey" | "id" => order.push((SortField::Key, key.descending)),
            "created" | "createddate" => order.push((SortField::Created, key.descending)),
            other if is_field(other) || UNSIMULATED_FIELDS.contains(&other) => {
                errors.push(format!(
                    "The simulated Jira cannot sort by the field '{}'.",
                    key.field
                ))
            }
            _ => errors.push(format!("Not able to sort using field '{}'.", key.field)),
        }
    }
    if !errors.is_empty() {
        return Err(Rejection::Invalid(errors));
    }
    match pred {
        Some(pred) => Ok(Plan { pred, order }),
        None => Err(Rejection::Unbounded),
    }
}

fn is_field(lower: &str) -> bool {
    matches!(
        lower,
        "labels" | "project" | "statuscategory" | "status" | "issuetype" | "type" | "summary"
    )
}

fn resolve(expr: &Expr, jira: &JiraData, errors: &mut Vec<String>) -> Option<Pred> {
    let all = |items: &[Expr], errors: &mut Vec<String>| -> Option<Vec<Pred>> {
        let resolved: Vec<Option<Pred>> = items.iter().map(|e| resolve(e, jira, errors)).collect();
        resolved.into_iter().collect()
    };
    match expr {
        Expr::And(items) => all(items, errors).map(Pred::And),
        Expr::Or(items) => all(items, errors).map(Pred::Or),
        Expr::Not(inner) => resolve(inner, jira, errors).map(|p| Pred::Not(Box::new(p))),
        Expr::Clause(clause) => {
            let result = resolve_clause(clause, jira);
            match result {
                Ok(pred) => Some(pred),
                Err(mut messages) => {
                    errors.append(&mut messages);
                    None
                }
            }
        }
    }
}

/// Whether an operator asks for a match (`=`, `IN`) or a mismatch (`!=`, `NOT IN`); `None`
/// for the operators the field does not support.
fn equality(op: Op) -> Option<bool> {
    match op {
        Op::Symbol(Symbol::Eq) | Op::In => Some(false),
        Op::Symbol(Symbol::NotEq) | Op::NotIn => Some(true),
        _ => None,
    }
}

fn values(operand: &Operand) -> &[String] {
    match operand {
        Operand::Value(v) => std::slice::from_ref(v),
        Operand::List(vs) => vs,
        Operand::Empty => &[],
    }
}

fn unsupported_operator(clause: &Clause) -> Vec<String> {
    vec![format!(
        "The operator '{}' is not supported by the '{}' field.",
        clause.op.text(),
        clause.field
    )]
}

/// Resolves each value with `find`; every value that names nothing is an error.
fn lookup<T>(
    clause: &Clause,
    find: impl Fn(&str) -> Option<T>,
    missing: impl Fn(&str) -> String,
) -> Result<Vec<T>, Vec<String>> {
    if clause.operand == Operand::Empty {
        return Err(vec![format!(
            "The field '{}' does not support searching for EMPTY values.",
            clause.field
        )]);
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for value in values(&clause.operand) {
        match find(value) {
            Some(item) => found.push(item),
            None => errors.push(missing(value)),
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

fn no_such_value(field: &str) -> impl Fn(&str) -> String + '_ {
    move |value| format!("The value '{value}' does not exist for the field '{field}'.")
}

fn category_named(value: &str) -> Option<StatusCategory> {
    StatusCategory::ALL.into_iter().find(|c| {
        value.eq_ignore_ascii_case(c.key())
            || value.eq_ignore_ascii_case(c.name())
            || value == c.id().to_string()
    })
}

fn resolve_clause(clause: &Clause, jira: &JiraData) -> Result<Pred, Vec<String>> {
    let field = clause.field.to_lowercase();
    let field_name = clause.field.as_str();
    if field == "labels" {
        return resolve_labels(clause);
    }
    if field == "summary" {
        return match (clause.op, &clause.operand) {
            (Op::Symbol(s @ (Symbol::Like | Symbol::NotLike)), Operand::Value(v)) => {
                Ok(Pred::Summary {
                    contains: v.to_lowercase(),
                    negated: s == Symbol::NotLike,
                })
            }
            _ => Err(unsupported_operator(clause)),
        };
    }
    let known = matches!(
        field.as_str(),
        "project"
            | "statuscategory"
            | "status"
            | "issuetype"
            | "type"
            | "key"
            | "issuekey"
            | "id"
            | "issue"
    );
    if !known {
        return Err(vec![if UNSIMULATED_FIELDS.contains(&field.as_str()) {
            format!("The simulated Jira does not support the field '{field_name}' in JQL.")
        } else {
            format!("Field '{field_name}' does not exist or you do not have permission to view it.")
        }]);
    }
    let Some(negated) = equality(clause.op) else {
        return Err(unsupported_operator(clause));
    };
    match field.as_str() {
        "project" => {
            let any_of = lookup(
                clause,
                |v| {
                    jira.projects.iter().position(|p| {
                        p.key.eq_ignore_ascii_case(v) || p.id == v || p.name.eq_ignore_ascii_case(v)
                    })
                },
                no_such_value(field_name),
            )?;
            Ok(Pred::Project { any_of, negated })
        }
        "statuscategory" => {
            let any_of = lookup(clause, category_named, no_such_value(field_name))?;
            Ok(Pred::Category { any_of, negated })
        }
        "status" => {
            let any_of = lookup(
                clause,
                |v| jira.status_named(v).map(|s| s.id),
                no_such_value(field_name),
            )?;
            Ok(Pred::Status { any_of, negated })
        }
        "issuetype" | "type" => {
            let any_of = lookup(
                clause,
                |v| {
                    jira.issue_types
                        .iter()
                        .find(|t| t.name.eq_ignore_ascii_case(v) || t.id == v)
                        .map(|t| t.id.clone())
                },
                no_such_value(field_name),
            )?;
            Ok(Pred::IssueType { any_of, negated })
        }
        _ => {
            let any_of = lookup(
                clause,
                |v| jira.issue_index(v),
                |v| format!("An issue with key '{v}' does not exist for field '{field_name}'."),
            )?;
            Ok(Pred::Issue { any_of, negated })
        }
    }
}

fn resolve_labels(clause: &Clause) -> Result<Pred, Vec<String>> {
    match (clause.op, &clause.operand) {
        (Op::Is | Op::Symbol(Symbol::Eq), Operand::Empty) => Ok(Pred::LabelsEmpty(true)),
        (Op::IsNot | Op::Symbol(Symbol::NotEq), Operand::Empty) => Ok(Pred::LabelsEmpty(false)),
        (op, operand) => match equality(op) {
            Some(negated) => Ok(Pred::Labels {
                any_of: values(operand).iter().map(|v| v.to_lowercase()).collect(),
                negated,
            }),
            None => Err(unsupported_operator(clause)),
        },
    }
}

impl Pred {
    pub(crate) fn matches(&self, s: &Subject<'_>) -> bool {
        match self {
            Pred::And(items) => items.iter().all(|p| p.matches(s)),
            Pred::Or(items) => items.iter().any(|p| p.matches(s)),
            Pred::Not(inner) => !inner.matches(s),
            Pred::Labels { any_of, negated } => {
                let hit = s
                    .issue
                    .labels
                    .iter()
                    .any(|l| any_of.contains(&l.to_lowercase()));
                if *negated {
                    !s.issue.labels.is_empty() && !hit
                } else {
                    hit
                }
            }
            Pred::LabelsEmpty(empty) => s.issue.labels.is_empty() == *empty,
            Pred::Project { any_of, negated } => any_of.contains(&s.issue.project) != *negated,
            Pred::Category { any_of, negated } => {
                any_of.contains(&s.state.status.category) != *negated
            }
            Pred::Status { any_of, negated } => any_of.contains(&s.state.status.id) != *negated,
            Pred::IssueType { any_of, negated } => {
                any_of.contains(&s.issue.issue_type_id) != *negated
            }
            Pred::Issue { any_of, negated } => any_of.contains(&s.index) != *negated,
            Pred::Summary { contains, negated } => {
                s.issue.summary.to_lowercase().contains(contains.as_str()) != *negated
            }
        }
    }

    /// The only issues that can match, when an index narrows them down; `None` means every
    /// issue must be looked at.
    pub(crate) fn candidates(&self, jira: &JiraData) -> Option<Vec<usize>> {
        match self {
            Pred::Labels {
                any_of,
                negated: false,
            } => Some(union(
                any_of.iter().map(|l| jira.issues_labelled(l).to_vec()),
            )),
            Pred::Issue {
                any_of,
                negated: false,
            } => Some(union(std::iter::once(any_of.clone()))),
            Pred::And(items) => items
                .iter()
                .filter_map(|p| p.candidates(jira))
                .min_by_key(Vec::len),
            Pred::Or(items) => {
                let sets: Option<Vec<Vec<usize>>> =
                    items.iter().map(|p| p.candidates(jira)).collect();
                sets.map(|sets| union(sets.into_iter()))
            }
            _ => None,
        }
    }
}

fn union(sets: impl Iterator<Item = Vec<usize>>) -> Vec<usize> {
    let mut all: Vec<usize> = sets.flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Orders matches by the query's sort keys; without any, newest first.
pub(crate) fn compare(
    order: &[(SortField, bool)],
    jira: &JiraData,
    a: usize,
    b: usize,
) -> Ordering {
    if order.is_empty() {
        return b.cmp(&a);
    }
    for (field, descending) in order {
        let ord = match field {
            SortField::Created => a.cmp(&b),
            SortField::Key => {
                let key = |i: usize| {
                    jira.issues.get(i).map(|issue| {
                        let project = jira.projects.get(issue.project).map(|p| p.key.as_str());
                        (project, issue.number)
                    })
                };
                key(a).cmp(&key(b))
            }
        };
        let ord = if *descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
