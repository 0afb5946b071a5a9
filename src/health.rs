//! The integration's health, as the settings screen shows it: when an issue was last
//! created, and whether Jira refused the last one, and why.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The integration's health: see [`JiraNotifier::health`](crate::JiraNotifier::health).
///
/// # How the store keeps it
///
/// Each event ([`HealthEvent`]) is handed to the store with
/// [`ConfigStore::record_health`](crate::ConfigStore::record_health), which applies it to
/// the stored `Health` in one atomic step ([`Health::apply`] says how). Events rather than
/// a whole value, so that replicas sharing a store never need a read-modify-write: a
/// success recorded by one replica and a refusal recorded by another at the same moment
/// both land, and a store can apply each event in a single statement (as `PostgresStore`
/// does; `FileStore` applies it under its file lock, `MemoryStore` under its mutex).
///
/// A store keeps one `Health` per integration, apart from the settings (its own key, row
/// or member): a failure report writes it without rewriting the settings a person may be
/// saving at that moment, and saving settings clears the refusal through an event of its
/// own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Health {
    /// When an issue was last created (a test's issue or a test notification).
    #[serde(default, with = "unix_ms_opt")]
    pub last_success: Option<SystemTime>,
    /// Jira's last refusal of an issue, until an issue is created again or the settings
    /// are saved again.
    #[serde(default)]
    pub last_refusal: Option<Refusal>,
}

impl Health {
    /// Whether no refusal stands.
    pub fn is_ok(&self) -> bool {
        self.last_refusal.is_none()
    }

    /// Applies an event, as every store must:
    ///
    /// - [`Created`](HealthEvent::Created) sets the last success and clears the refusal;
    /// - [`Refused`](HealthEvent::Refused) sets the refusal (the last success stays);
    /// - [`SettingsSaved`](HealthEvent::SettingsSaved) clears the refusal;
    /// - [`OverrideSaved`](HealthEvent::OverrideSaved) clears the refusal if it was met
    ///   reporting that test.
    pub fn apply(&mut self, event: &HealthEvent) {
        match event {
            HealthEvent::Created { at } => {
                self.last_success = Some(*at);
                self.last_refusal = None;
            }
            HealthEvent::Refused(refusal) => self.last_refusal = Some(refusal.clone()),
            HealthEvent::SettingsSaved => self.last_refusal = None,
            HealthEvent::OverrideSaved { test_id } => {
                if self
                    .last_refusal
                    .as_ref()
                    .is_some_and(|r| r.test_id.as_deref() == Some(test_id.as_str()))
                {
                    self.last_refusal = None;
                }
            }
        }
    }
}

/// `ok`, or `refused: ` and the last refusal's reasons, on one line.
impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.last_refusal {
            None => f.write_str("ok"),
            Some(r) => write!(f, "refused: {r}"),
        }
    }
}

/// What happened to the integration; see [`Health::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthEvent {
    /// An issue was created.
    Created {
        /// When.
        #[serde(with = "unix_ms")]
        at: SystemTime,
    },
    /// Jira refused to create an issue.
    Refused(Refusal),
    /// The settings were saved (after Jira accepted them).
    SettingsSaved,
    /// A test's override was saved (after Jira accepted it).
    OverrideSaved {
        /// The test.
        test_id: String,
    },
}

/// Jira refused to create an issue: when, where, and Jira's reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refusal {
    /// When.
    #[serde(with = "unix_ms")]
    pub at: SystemTime,
    /// The test whose issue was refused; `None` for the test notification.
    pub test_id: Option<String>,
    /// The project.
    pub project_key: String,
    /// The issue type.
    pub issue_type: String,
    /// The HTTP status of Jira's answer (`0` when the crate refused before sending,
    /// because the saved settings no longer fit the screen).
    pub status: u16,
    /// Jira's field errors (`errors`), by field id.
    #[serde(default)]
    pub field_errors: BTreeMap<String, String>,
    /// Jira's other messages (`errorMessages`), or the crate's.
    #[serde(default)]
    pub messages: Vec<String>,
    /// What was refused: a create (the default), or moving an issue on a pass or a
    /// repeat failure (see [`Lifecycle`](crate::Lifecycle)).
    #[serde(default, skip_serializing_if = "RefusedAction::is_create")]
    pub action: RefusedAction,
    /// The issue moved, when the refusal is not a create's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_key: Option<String>,
}

/// What Jira refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusedAction {
    /// Creating an issue.
    #[default]
    Create,
    /// Resolving an issue when its test passed.
    Resolve,
    /// Reopening an issue when its test failed again.
    Reopen,
}

impl RefusedAction {
    fn is_create(&self) -> bool {
        *self == RefusedAction::Create
    }
}

/// `Jira refused the issue in QA (Bug): components: Component/s is required.`, on one line.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.action, &self.issue_key) {
            (RefusedAction::Resolve, Some(key)) => write!(f, "Jira refused to resolve {key}")?,
            (RefusedAction::Reopen, Some(key)) => write!(f, "Jira refused to reopen {key}")?,
            _ => write!(
                f,
                "Jira refused the issue in {} ({})",
                self.project_key, self.issue_type
            )?,
        }
        if let Some(t) = &self.test_id {
            write!(f, " for test {t:?}")?;
        }
        let mut sep = ": ";
        for m in &self.messages {
            write!(f, "{sep}{}", crate::issue::text::single_line(m))?;
            sep = "; ";
        }
        for (field, m) in &self.field_errors {
            write!(f, "{sep}{field}: {}", crate::issue::text::single_line(m))?;
            sep = "; ";
        }
        Ok(())
    }
}

/// A time as milliseconds since the Unix epoch: plain and portable in stored JSON.
mod unix_ms {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn to_ms(t: &SystemTime) -> u64 {
        crate::clock::to_ms(*t)
    }

    pub(super) fn from_ms(ms: u64) -> SystemTime {
        crate::clock::from_ms(ms)
    }

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(to_ms(t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(from_ms(u64::deserialize(d)?))
    }
}

mod unix_ms_opt {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        t.as_ref().map(super::unix_ms::to_ms).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(super::unix_ms::from_ms))
    }
}

impl Refusal {
    /// A refusal met now.
    pub(crate) fn now(
        test_id: Option<&str>,
        project_key: &str,
        issue_type: &str,
        status: u16,
        field_errors: BTreeMap<String, String>,
        messages: Vec<String>,
    ) -> Refusal {
        Refusal {
            at: truncate_ms(SystemTime::now()),
            test_id: test_id.map(str::to_owned),
            project_key: project_key.to_owned(),
            issue_type: issue_type.to_owned(),
            status,
            field_errors,
            messages,
            action: RefusedAction::Create,
            issue_key: None,
        }
    }

    /// Marks the refusal as one of moving `issue_key`, not a create.
    pub(crate) fn of_move(mut self, action: RefusedAction, issue_key: &str) -> Refusal {
        self.action = action;
        self.issue_key = Some(issue_key.to_owned());
        self
    }
}

/// A time in milliseconds since the Unix epoch, as stored (for tests of the stores).
#[cfg(test)]
pub(crate) fn tests_ms(t: SystemTime) -> u64 {
    unix_ms::to_ms(&t)
}

/// A time as the stores keep it (milliseconds), so that what is read back equals what
/// was recorded.
pub(crate) fn truncate_ms(t: SystemTime) -> SystemTime {
    unix_ms::from_ms(unix_ms::to_ms(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn refusal(test: Option<&str>) -> Refusal {
        Refusal::now(
            test,
            "QA",
            "Bug",
            400,
            [(
                "components".to_owned(),
                "Component/s is required.".to_owned(),
            )]
            .into(),
            vec![],
        )
    }

    #[test]
    fn events_apply_as_documented() {
        let mut h = Health::default();
        assert!(h.is_ok());
        assert_eq!(h.to_string(), "ok");
        h.apply(&HealthEvent::Refused(refusal(Some("t1"))));
        assert_eq!(
            h.to_string(),
            "refused: Jira refused the issue in QA (Bug) for test \"t1\": components: Component/s is required."
        );
        h.apply(&HealthEvent::OverrideSaved {
            test_id: "t2".into(),
        });
        assert!(!h.is_ok());
        h.apply(&HealthEvent::OverrideSaved {
            test_id: "t1".into(),
        });
        assert!(h.is_ok());
        h.apply(&HealthEvent::Refused(refusal(None)));
        let at = truncate_ms(SystemTime::now());
        h.apply(&HealthEvent::Created { at });
        assert_eq!(h.last_success, Some(at));
        assert!(h.is_ok());
        h.apply(&HealthEvent::Refused(refusal(None)));
        h.apply(&HealthEvent::SettingsSaved);
        assert!(h.is_ok());
        assert_eq!(h.last_success, Some(at));
    }

    #[test]
    fn round_trips_through_json_in_milliseconds() {
        let h = Health {
            last_success: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            last_refusal: Some(refusal(Some("t"))),
        };
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["last_success"], 1_700_000_000_123u64);
        assert_eq!(serde_json::from_value::<Health>(json).unwrap(), h);
        assert_eq!(
            serde_json::from_str::<Health>("{}").unwrap(),
            Health::default()
        );
        let event = HealthEvent::OverrideSaved {
            test_id: "t".into(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"event":"override_saved","test_id":"t"}"#);
        assert_eq!(serde_json::from_str::<HealthEvent>(&json).unwrap(), event);
    }
}
