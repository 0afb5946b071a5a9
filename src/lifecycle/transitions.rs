//! Which workflow transition resolves or reopens an issue, and which resolution it sets.
//!
//! Status names are per workflow and localised; status categories are not (the API
//! notes). So the default choice goes by the target's category, and a configured name,
//! compared without regard to case, wins over it.

/// A transition an issue offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offered {
    pub id: String,
    pub name: String,
    pub to_status: String,
    /// Whether the target status is in the Done category.
    pub to_done: bool,
    pub has_screen: bool,
    /// The resolution field of the transition's screen, when read with the screen.
    pub resolution: Option<ResolutionField>,
}

/// A transition screen's resolution field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolutionField {
    pub required: bool,
    /// Allowed values, `(id, name)`, in Jira's order.
    pub allowed: Vec<(String, String)>,
}

/// Where the issue should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Goal {
    /// A status in the Done category (resolve).
    Done,
    /// A status outside it (reopen).
    Open,
}

impl Goal {
    pub(crate) fn wanted(self, name: Option<&str>) -> String {
        match (name, self) {
            (Some(n), _) => format!("the transition {n:?}"),
            (None, Goal::Done) => "a status in the Done category".to_owned(),
            (None, Goal::Open) => "a status outside the Done category".to_owned(),
        }
    }
}

/// The transition to make: the one named (if a name is configured), else the first whose
/// target fits the goal. `None` when there is none.
pub(crate) fn choose<'a>(
    offered: &'a [Offered],
    goal: Goal,
    name: Option<&str>,
) -> Option<&'a Offered> {
    match name.map(str::trim) {
        Some(n) => offered
            .iter()
            .find(|t| t.name.trim().eq_ignore_ascii_case(n)),
        None => offered.iter().find(|t| t.to_done == (goal == Goal::Done)),
    }
}

/// What the transition's resolution should be set to, by id: the configured one when the
/// screen has the field, else Jira's first allowed value when the screen requires one,
/// else none. A configured name the screen does not allow is an error naming those it
/// does.
pub(crate) fn resolution_for(
    t: &Offered,
    configured: Option<&str>,
) -> Result<Option<String>, Vec<String>> {
    let Some(field) = &t.resolution else {
        // Not on the screen: Jira refuses a resolution it cannot set, so send none.
        return Ok(None);
    };
    match configured.map(str::trim) {
        Some(name) => field
            .allowed
            .iter()
            .find(|(_, n)| n.trim().eq_ignore_ascii_case(name))
            .map(|(id, _)| Some(id.clone()))
            .ok_or_else(|| field.allowed.iter().map(|(_, n)| n.clone()).collect()),
        None if field.required => Ok(field.allowed.first().map(|(id, _)| id.clone())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, name: &str, to_done: bool) -> Offered {
        Offered {
            id: id.into(),
            name: name.into(),
            to_status: name.into(),
            to_done,
            has_screen: false,
            resolution: None,
        }
    }

    #[test]
    fn the_category_decides_unless_a_name_is_configured() {
        let offered = [
            t("11", "To Do", false),
            t("31", "Done", true),
            t("41", "Closed", true),
        ];
        assert_eq!(choose(&offered, Goal::Done, None).unwrap().id, "31");
        assert_eq!(choose(&offered, Goal::Open, None).unwrap().id, "11");
        assert_eq!(
            choose(&offered, Goal::Done, Some(" closed ")).unwrap().id,
            "41"
        );
        assert_eq!(choose(&offered, Goal::Done, Some("Nope")), None);
        assert_eq!(choose(&offered[..1], Goal::Done, None), None);
    }

    #[test]
    fn the_resolution_is_filled_when_the_screen_asks_for_it() {
        let mut r = t("31", "Resolve", true);
        assert_eq!(
            resolution_for(&r, Some("Done")),
            Ok(None),
            "not on the screen"
        );
        r.resolution = Some(ResolutionField {
            required: true,
            allowed: vec![
                ("1".into(), "Fixed".into()),
                ("2".into(), "Won't Do".into()),
            ],
        });
        assert_eq!(resolution_for(&r, None), Ok(Some("1".into())));
        assert_eq!(resolution_for(&r, Some("won't do")), Ok(Some("2".into())));
        assert_eq!(
            resolution_for(&r, Some("Duplicate")),
            Err(vec!["Fixed".to_owned(), "Won't Do".to_owned()])
        );
        r.resolution.as_mut().unwrap().required = false;
        assert_eq!(resolution_for(&r, None), Ok(None));
    }
}
