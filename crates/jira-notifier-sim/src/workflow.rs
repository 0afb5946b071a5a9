//! Workflows: the statuses an issue of a project can be in, and the transitions between them,
//! with the screen each transition shows (if any) and whether that screen asks for a
//! resolution.
//!
//! A status belongs to one of the three fixed categories ([`StatusCategory`]); its name is
//! the workflow's own. Status names are site-wide in Jira (one status "Done" with one id,
//! shared by every workflow that uses it), so the simulator gives each name one id when a
//! workflow first uses it; the default statuses keep the ids `10000` (To Do), `10001`
//! (In Progress) and `10002` (Done).
//!
//! # The default workflow
//!
//! [`Workflow::simplified`] is what every project starts with, modelled on the simplified
//! workflow of Jira's company-managed software templates: To Do, In Progress and Done, each
//! reachable from any status by a *global* transition named after it (ids `11`, `21`, `31`),
//! none with a screen. Nothing on the "Done" transition sets a resolution, so an issue
//! moved there stays unresolved (`resolution` `null`, no `resolutiondate`) while its status
//! category is Done. Atlassian's "Best practices on using the Resolution field" (Cloud KB)
//! warns that this is what workflows without a resolve screen or post function do, which is
//! why clients must decide "open" by `statusCategory`, never by `resolution`. A workflow
//! whose Done transition does set one is built with
//! [`WorkflowTransition::setting_resolution`] (a post function) or a screen
//! ([`Workflow::with_resolve_screen`]).

use super::model::StatusCategory;

/// Whether a transition's screen shows the Resolution field, and whether it must be filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolutionField {
    /// The screen has no Resolution field: setting one is refused ("Field 'resolution'
    /// cannot be set. It is not on the appropriate screen, or unknown.").
    Absent,
    /// On the screen, may be left empty.
    Optional,
    /// On the screen and required: leaving it out is refused ("Resolution is required.").
    Required,
}

/// One transition of a [`Workflow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowTransition {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The statuses it leaves from, by name; `None` for a global transition (from any).
    pub(crate) from: Option<Vec<String>>,
    pub(crate) to: String,
    /// The screen's Resolution field; `None` when the transition has no screen at all.
    pub(crate) screen: Option<ResolutionField>,
    /// The resolution a post function sets when no screen sets one.
    pub(crate) sets_resolution: Option<String>,
}

impl WorkflowTransition {
    /// A global transition: available from every status but its target.
    pub fn global(id: &str, name: &str, to_status: &str) -> Self {
        WorkflowTransition {
            id: id.to_owned(),
            name: name.to_owned(),
            from: None,
            to: to_status.to_owned(),
            screen: None,
            sets_resolution: None,
        }
    }

    /// A transition available only from these statuses (by name).
    pub fn between(id: &str, name: &str, from_statuses: &[&str], to_status: &str) -> Self {
        WorkflowTransition {
            from: Some(from_statuses.iter().map(|s| (*s).to_owned()).collect()),
            ..WorkflowTransition::global(id, name, to_status)
        }
    }

    /// Gives the transition a screen, with or without the Resolution field on it. Every
    /// site resolution is allowed on it.
    pub fn with_screen(mut self, resolution: ResolutionField) -> Self {
        self.screen = Some(resolution);
        self
    }

    /// A post function that sets this resolution (by name) when the screen does not.
    pub fn setting_resolution(mut self, resolution_name: &str) -> Self {
        self.sets_resolution = Some(resolution_name.to_owned());
        self
    }

    /// The transition's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The transition's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the status it leads to.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// Whether it is available from every status.
    pub fn is_global(&self) -> bool {
        self.from.is_none()
    }

    /// Whether it shows a screen.
    pub fn has_screen(&self) -> bool {
        self.screen.is_some()
    }

    /// The screen's Resolution field ([`ResolutionField::Absent`] without a screen).
    pub fn resolution_field(&self) -> ResolutionField {
        self.screen.unwrap_or(ResolutionField::Absent)
    }

    pub(crate) fn leaves_from(&self, status: &str) -> bool {
        match &self.from {
            None => !self.to.eq_ignore_ascii_case(status),
            Some(from) => from.iter().any(|s| s.eq_ignore_ascii_case(status)),
        }
    }
}

/// A project's workflow: statuses (the first is where new issues start) and transitions.
///
/// ```
/// use jira_notifier_sim::{ResolutionField, StatusCategory, Workflow, WorkflowTransition};
///
/// let classic = Workflow::new("Classic")
///     .status("Open", StatusCategory::ToDo)
///     .status("Closed", StatusCategory::Done)
///     .transition(
///         WorkflowTransition::between("2", "Close Issue", &["Open"], "Closed")
///             .with_screen(ResolutionField::Required),
///     )
///     .transition(WorkflowTransition::between("3", "Reopen Issue", &["Closed"], "Open"));
/// assert_eq!(classic.statuses().count(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub(crate) name: String,
    pub(crate) statuses: Vec<(String, StatusCategory)>,
    pub(crate) transitions: Vec<WorkflowTransition>,
}

impl Workflow {
    /// A workflow with no statuses yet.
    pub fn new(name: &str) -> Self {
        Workflow {
            name: name.to_owned(),
            statuses: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// Adds a status; the first one added is where new issues start.
    pub fn status(mut self, name: &str, category: StatusCategory) -> Self {
        self.statuses.push((name.to_owned(), category));
        self
    }

    /// Adds a transition.
    pub fn transition(mut self, transition: WorkflowTransition) -> Self {
        self.transitions.push(transition);
        self
    }

    /// Every project's workflow until [`SimJira::set_workflow`](crate::SimJira::set_workflow)
    /// replaces it: To Do, In Progress, Done, with global transitions "To Do" (`11`),
    /// "In Progress" (`21`) and "Done" (`31`), no screens, and no resolution set on the
    /// way to Done.
    pub fn simplified() -> Self {
        Workflow::three_statuses("Software Simplified Workflow")
            .transition(WorkflowTransition::global("11", "To Do", "To Do"))
            .transition(WorkflowTransition::global(
                "21",
                "In Progress",
                "In Progress",
            ))
            .transition(WorkflowTransition::global("31", "Done", "Done"))
    }

    /// The simplified workflow, but its way into Done ("Resolve issue", `31`) shows a
    /// screen on which a resolution is required.
    pub fn with_resolve_screen() -> Self {
        Workflow::three_statuses("Resolve Screen Workflow")
            .transition(WorkflowTransition::global("11", "To Do", "To Do"))
            .transition(WorkflowTransition::global(
                "21",
                "In Progress",
                "In Progress",
            ))
            .transition(
                WorkflowTransition::global("31", "Resolve issue", "Done")
                    .with_screen(ResolutionField::Required),
            )
    }

    /// To Do, In Progress and Done, but no transition leads into Done: a client cannot
    /// close its issues (a person or an admin still can, with
    /// [`SimJira::set_status`](crate::SimJira::set_status)).
    pub fn without_done_transition() -> Self {
        Workflow::three_statuses("No Done Workflow")
            .transition(WorkflowTransition::global("11", "To Do", "To Do"))
            .transition(WorkflowTransition::global(
                "21",
                "In Progress",
                "In Progress",
            ))
    }

    fn three_statuses(name: &str) -> Self {
        let mut workflow = Workflow::new(name);
        for category in StatusCategory::ALL {
            workflow = workflow.status(category.name(), category);
        }
        workflow
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The statuses, by name, with their categories, the initial one first.
    pub fn statuses(&self) -> impl Iterator<Item = (&str, StatusCategory)> {
        self.statuses.iter().map(|(n, c)| (n.as_str(), *c))
    }

    /// The transitions, in the order they were added.
    pub fn transitions(&self) -> &[WorkflowTransition] {
        &self.transitions
    }

    /// Whether the workflow can be used: a status to start in, unique status names and
    /// transition ids, and transitions that name its statuses.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.statuses.is_empty() {
            return Err(format!("Workflow '{}' has no status.", self.name));
        }
        for (i, (name, _)) in self.statuses.iter().enumerate() {
            if self.statuses[..i]
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(format!("Status '{name}' is listed twice."));
            }
        }
        for (i, t) in self.transitions.iter().enumerate() {
            if self.transitions[..i].iter().any(|o| o.id == t.id) {
                return Err(format!("Transition id '{}' is used twice.", t.id));
            }
            let names = std::iter::once(&t.to).chain(t.from.iter().flatten());
            for name in names {
                if self.status_named(name).is_none() {
                    return Err(format!(
                        "Transition '{}' names the status '{name}', which is not in the workflow.",
                        t.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn initial(&self) -> Option<(&str, StatusCategory)> {
        self.statuses().next()
    }

    pub(crate) fn status_named(&self, name: &str) -> Option<(&str, StatusCategory)> {
        self.statuses().find(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The transitions an issue in this status can take, in workflow order. Global
    /// transitions are offered from every status but the one they lead to, as Jira does.
    pub(crate) fn available(&self, status: &str) -> impl Iterator<Item = &WorkflowTransition> {
        let status = status.to_owned();
        self.transitions
            .iter()
            .filter(move |t| t.leaves_from(&status))
    }
}

impl Default for Workflow {
    fn default() -> Self {
        Workflow::simplified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_transitions_skip_their_own_target() {
        let w = Workflow::simplified();
        let from_todo: Vec<&str> = w.available("To Do").map(|t| t.id()).collect();
        assert_eq!(from_todo, ["21", "31"]);
        let from_done: Vec<&str> = w.available("done").map(|t| t.id()).collect();
        assert_eq!(from_done, ["11", "21"]);
        assert!(w.check().is_ok());
        assert!(Workflow::with_resolve_screen().check().is_ok());
        assert!(Workflow::without_done_transition()
            .available("To Do")
            .all(|t| t.to() != "Done"));
    }

    #[test]
    fn refuses_inconsistent_workflows() {
        assert!(Workflow::new("empty").check().is_err());
        let dangling = Workflow::new("w")
            .status("Open", StatusCategory::ToDo)
            .transition(WorkflowTransition::global("1", "Close", "Closed"));
        assert!(dangling.check().unwrap_err().contains("'Closed'"));
        let twice = Workflow::new("w")
            .status("Open", StatusCategory::ToDo)
            .status("open", StatusCategory::Done);
        assert!(twice.check().is_err());
        let same_id = Workflow::new("w")
            .status("Open", StatusCategory::ToDo)
            .transition(WorkflowTransition::global("1", "A", "Open"))
            .transition(WorkflowTransition::global("1", "B", "Open"));
        assert!(same_id.check().is_err());
    }
}
