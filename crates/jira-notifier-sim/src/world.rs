//! The simulator's state: the auth host's tokens, the sites, and each site's Jira data.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::time::Instant;

use super::clock::WallClock;
use super::faults::FaultQueue;
use super::model::{RecordedRequest, SimComment, SimIssue, StatusCategory};
use super::ratelimit::Limiter;
use super::screens::{self, SimField};
use super::workflow::Workflow;
use jira_notifier::Site;

/// The first numeric id Jira Cloud hands out for projects, issues and issue types.
const FIRST_ID: u64 = 10_000;
/// Search page tokens live this long in Jira Cloud.
const PAGE_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Bounds the memory page tokens take in long runs; the oldest go first.
const PAGE_TOKEN_CAP: usize = 10_000;

pub(crate) const SERVICE_ACCOUNT_ID: &str = "712020:sim-service-account";
const SERVICE_ACCOUNT_NAME: &str = "Sim Service Account";

/// Everything behind the simulated hosts. Deliberately not `Debug`: it holds the client
/// secret and live tokens.
pub(crate) struct World {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) token_lifetime: Duration,
    /// Issued bearer tokens, with when each was issued and how long it lives (kept apart
    /// so that no lifetime, however long, can overflow an `Instant`), and its scopes.
    pub(crate) tokens: HashMap<String, IssuedToken>,
    /// The scopes the credential is granted: what tokens issued from now on carry.
    pub(crate) scopes: Vec<String>,
    /// Entries `accessible-resources` lists besides the sites (other products, a site
    /// listed twice), as JSON objects.
    pub(crate) extra_resources: Vec<Value>,
    /// Whether `accessible-resources` leaves the sites out (lists nothing of its own).
    pub(crate) discovery_hidden: bool,
    /// Sites that exist (their host answers `tenant_info`) but that the credential cannot
    /// reach: the gateway knows no such cloud id for it.
    pub(crate) foreign_sites: Vec<Site>,
    pub(crate) search_lag: Duration,
    pub(crate) latency: Duration,
    pub(crate) limiter: Limiter,
    pub(crate) sites: Vec<SiteEntry>,
    /// Data added while no site exists yet; it becomes the first site's.
    pub(crate) unsited: JiraData,
    pub(crate) faults: FaultQueue,
    /// The API tokens accepted (basic auth): service accounts' scoped ones, people's.
    pub(crate) api_tokens: super::api_tokens::ApiTokens,
    pub(crate) record_requests: bool,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) request_count: usize,
    /// The wall clock every site's issue dates are told on (one for all, so that dates
    /// of two sites compare).
    pub(crate) clock: WallClock,
}

#[derive(Debug)]
pub(crate) struct SiteEntry {
    pub(crate) site: Site,
    pub(crate) jira: JiraData,
}

impl World {
    pub(crate) fn new(client_id: &str, client_secret: &str) -> Self {
        let clock = WallClock::start();
        World {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            token_lifetime: Duration::from_secs(3600),
            tokens: HashMap::new(),
            scopes: super::scopes::DEFAULT.map(str::to_owned).to_vec(),
            extra_resources: Vec::new(),
            discovery_hidden: false,
            foreign_sites: Vec::new(),
            search_lag: Duration::ZERO,
            latency: Duration::ZERO,
            limiter: Limiter::default(),
            sites: Vec::new(),
            unsited: JiraData::new(clock),
            faults: FaultQueue::default(),
            api_tokens: Default::default(),
            record_requests: true,
            requests: Vec::new(),
            request_count: 0,
            clock,
        }
    }

    /// The data the control API works on: the first site's.
    pub(crate) fn primary(&self) -> &JiraData {
        self.sites.first().map_or(&self.unsited, |s| &s.jira)
    }

    pub(crate) fn primary_mut(&mut self) -> &mut JiraData {
        match self.sites.first_mut() {
            Some(entry) => &mut entry.jira,
            None => &mut self.unsited,
        }
    }

    pub(crate) fn add_site(&mut self, cloud_id: String, name: String) -> Site {
        let url = format!("https://{name}.atlassian.net");
        let site = Site::new(cloud_id, name, url);
        if let Some(entry) = self
            .sites
            .iter_mut()
            .find(|e| e.site.cloud_id == site.cloud_id)
        {
            entry.site = site.clone();
            return site;
        }
        let jira = if self.sites.is_empty() {
            std::mem::replace(&mut self.unsited, JiraData::new(self.clock))
        } else {
            JiraData::new(self.clock)
        };
        self.sites.push(SiteEntry {
            site: site.clone(),
            jira,
        });
        site
    }

    pub(crate) fn site_index(&self, cloud_id: &str) -> Option<usize> {
        self.sites.iter().position(|e| e.site.cloud_id == cloud_id)
    }

    /// The token, if it was issued here and has not expired.
    pub(crate) fn live_token(&self, token: &str, now: Instant) -> Option<&IssuedToken> {
        self.tokens.get(token).filter(|t| t.live(now))
    }
}

/// A bearer token the auth host issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) issued: Instant,
    pub(crate) lifetime: Duration,
    pub(crate) scopes: Vec<String>,
}

impl IssuedToken {
    pub(crate) fn live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.issued) < self.lifetime
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    /// Ids of the issue types that can be created in the project, in display order.
    pub(crate) issue_type_ids: Vec<String>,
    pub(crate) issues_created: u64,
    /// The create screen of each issue type, by issue type id.
    pub(crate) screens: HashMap<String, Vec<SimField>>,
    /// The project permissions the service account has.
    pub(crate) granted: BTreeSet<String>,
    /// The workflow of every issue type of the project.
    pub(crate) workflow: Workflow,
}

#[derive(Debug, Clone)]
pub(crate) struct IssueType {
    pub(crate) id: String,
    pub(crate) name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) account_id: String,
    pub(crate) display_name: String,
    pub(crate) active: bool,
    pub(crate) email: Option<String>,
    /// `atlassian` for people, `app` for the service account.
    pub(crate) account_type: &'static str,
    /// Keys of the projects the user can be assigned issues in.
    pub(crate) assignable_in: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) project: usize,
    /// The number in the key, for sorting keys as Jira does (`QA-9` before `QA-10`).
    pub(crate) number: u64,
    pub(crate) issue_type_id: String,
    pub(crate) summary: String,
    pub(crate) description: Value,
    pub(crate) labels: Vec<String>,
    pub(crate) assignee: Option<String>,
    /// Values of the other fields of the screen, as sent (or their defaults).
    pub(crate) fields: BTreeMap<String, Value>,
    /// Comments, oldest first.
    pub(crate) comments: Vec<StoredComment>,
    pub(crate) created: SystemTime,
    /// The workflow state after each change, with when it happened (on tokio's clock, for
    /// the search lag); the first is the creation.
    pub(crate) history: Vec<(Instant, IssueState)>,
    /// Deleted: gone from every answer, its id and keys unknown.
    pub(crate) deleted: bool,
    /// Moved to another project since it was created (its old keys still lead to it).
    pub(crate) moved: bool,
}

/// A status as issues refer to it: site-wide id, name and category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusRef {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) category: StatusCategory,
}

/// A resolution of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) default: bool,
}

/// Where an issue is in its workflow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IssueState {
    pub(crate) status: StatusRef,
    /// Index into the site's resolutions; only ever set in a Done-category status.
    pub(crate) resolution: Option<usize>,
    /// `statuscategorychangedate`: when the status category last changed (or creation).
    pub(crate) category_changed: SystemTime,
    /// `resolutiondate`: when the resolution was set; `None` while there is none.
    pub(crate) resolved: Option<SystemTime>,
}

/// A comment as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredComment {
    pub(crate) id: u64,
    pub(crate) body: Value,
    pub(crate) created: SystemTime,
}

impl Issue {
    /// The current workflow state.
    pub(crate) fn state(&self) -> &IssueState {
        // Never empty: `create_issue` records the initial state.
        &self.history[self.history.len() - 1].1
    }

    pub(crate) fn status(&self) -> StatusCategory {
        self.state().status.category
    }

    /// The state as a search index `lag` behind sees it, or `None` if the issue is too new
    /// to be indexed yet.
    pub(crate) fn state_seen(&self, now: Instant, lag: Duration) -> Option<&IssueState> {
        self.history
            .iter()
            .rev()
            .find(|(at, _)| now.saturating_duration_since(*at) >= lag)
            .map(|(_, state)| state)
    }
}

/// What `POST /issue` has validated.
#[derive(Debug)]
pub(crate) struct NewIssue {
    pub(crate) project: usize,
    pub(crate) issue_type_id: String,
    pub(crate) summary: String,
    pub(crate) description: Value,
    pub(crate) labels: Vec<String>,
    pub(crate) assignee: Option<String>,
    pub(crate) fields: BTreeMap<String, Value>,
}

/// One Jira site's content.
#[derive(Debug)]
pub(crate) struct JiraData {
    pub(crate) projects: Vec<Project>,
    pub(crate) issue_types: Vec<IssueType>,
    pub(crate) users: Vec<User>,
    /// Issue `i` has id `FIRST_ID + i`.
    pub(crate) issues: Vec<Issue>,
    /// Upper-cased key to index (a moved issue's old keys included).
    pub(crate) key_index: HashMap<String, usize>,
    /// Lower-cased label to the indexes of the issues carrying it, oldest first: search
    /// compares labels without regard to case, and a storm needs label lookups to be cheap.
    label_index: HashMap<String, Vec<usize>>,
    pub(crate) page_tokens: PageTokens,
    /// The most UTF-16 units a description may take as JSON (Jira's 32,767 by default).
    pub(crate) description_limit: usize,
    /// Every status any workflow of the site uses; a name has one id site-wide.
    pub(crate) statuses: Vec<StatusRef>,
    pub(crate) resolutions: Vec<Resolution>,
    /// Comment ids are site-wide, as in Jira.
    pub(crate) next_comment_id: u64,
    pub(crate) clock: WallClock,
    pub(crate) attachments: super::attachments::Attachments,
}

impl JiraData {
    pub(crate) fn new(clock: WallClock) -> Self {
        JiraData {
            projects: Vec::new(),
            issue_types: Vec::new(),
            users: vec![User {
                account_id: SERVICE_ACCOUNT_ID.to_owned(),
                display_name: SERVICE_ACCOUNT_NAME.to_owned(),
                active: true,
                email: None,
                account_type: "app",
                assignable_in: Vec::new(),
            }],
            issues: Vec::new(),
            key_index: HashMap::new(),
            label_index: HashMap::new(),
            page_tokens: PageTokens::default(),
            description_limit: super::adf::MAX_TEXT,
            statuses: StatusCategory::ALL
                .iter()
                .map(|c| StatusRef {
                    id: c.status_id().to_owned(),
                    name: c.name().to_owned(),
                    category: *c,
                })
                .collect(),
            resolutions: super::resolutions::site_defaults(),
            next_comment_id: FIRST_ID,
            clock,
            attachments: Default::default(),
        }
    }

    /// The id of the site-wide issue type of this name, created if new: company-managed
    /// projects share issue types, so `Bug` has one id in every project that offers it.
    fn issue_type_id(&mut self, name: &str) -> String {
        if let Some(t) = self.issue_types.iter().find(|t| t.name == name) {
            return t.id.clone();
        }
        let id = (FIRST_ID + 1 + self.issue_types.len() as u64).to_string();
        self.issue_types.push(IssueType {
            id: id.clone(),
            name: name.to_owned(),
        });
        id
    }

    pub(crate) fn issue_type(&self, id: &str) -> Option<&IssueType> {
        self.issue_types.iter().find(|t| t.id == id)
    }

    pub(crate) fn add_project(&mut self, key: &str, name: &str, issue_types: &[&str]) -> String {
        let type_ids: Vec<String> = issue_types.iter().map(|n| self.issue_type_id(n)).collect();
        if let Some(p) = self.projects.iter_mut().find(|p| p.key == key) {
            p.name = name.to_owned();
            for id in type_ids {
                if !p.issue_type_ids.contains(&id) {
                    p.screens
                        .entry(id.clone())
                        .or_insert_with(screens::default_screen);
                    p.issue_type_ids.push(id);
                }
            }
            return p.id.clone();
        }
        let id = (FIRST_ID + self.projects.len() as u64).to_string();
        self.projects.push(Project {
            id: id.clone(),
            key: key.to_owned(),
            name: name.to_owned(),
            screens: type_ids
                .iter()
                .map(|t| (t.clone(), screens::default_screen()))
                .collect(),
            issue_type_ids: type_ids,
            issues_created: 0,
            granted: screens::all_permissions(),
            workflow: Workflow::simplified(),
        });
        id
    }

    /// A project by key (exact, as Jira's REST resources want it) or numeric id.
    pub(crate) fn project_index(&self, id_or_key: &str) -> Option<usize> {
        self.projects
            .iter()
            .position(|p| p.key == id_or_key || p.id == id_or_key)
    }

    pub(crate) fn add_user(&mut self, user: User) {
        match self
            .users
            .iter_mut()
            .find(|u| u.account_id == user.account_id)
        {
            Some(existing) => *existing = user,
            None => self.users.push(user),
        }
    }

    pub(crate) fn user(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub(crate) fn service_account(&self) -> Option<&User> {
        self.user(SERVICE_ACCOUNT_ID)
    }

    /// The users assignable in a project, active or not, in the order they were added.
    pub(crate) fn assignable_users(&self, project_key: &str) -> Vec<&User> {
        self.users
            .iter()
            .filter(|u| u.assignable_in.iter().any(|k| k == project_key))
            .collect()
    }

    pub(crate) fn create_issue(&mut self, new: NewIssue, now: Instant) -> usize {
        let index = self.issues.len();
        let wall = self.clock.at(now);
        let initial = self
            .projects
            .get(new.project)
            .and_then(|p| p.workflow.initial())
            .and_then(|(name, _)| self.status_named(name))
            .unwrap_or_else(|| self.default_status(StatusCategory::ToDo));
        let Some(project) = self.projects.get_mut(new.project) else {
            return index;
        };
        project.issues_created += 1;
        let number = project.issues_created;
        let key = format!("{}-{}", project.key, number);
        for label in &new.labels {
            self.label_index
                .entry(label.to_lowercase())
                .or_default()
                .push(index);
        }
        self.key_index.insert(key.to_uppercase(), index);
        self.issues.push(Issue {
            id: FIRST_ID + index as u64,
            key,
            project: new.project,
            number,
            issue_type_id: new.issue_type_id,
            summary: new.summary,
            description: new.description,
            labels: new.labels,
            assignee: new.assignee,
            fields: new.fields,
            comments: Vec::new(),
            created: wall,
            history: vec![(
                now,
                IssueState {
                    status: initial,
                    resolution: None,
                    category_changed: wall,
                    resolved: None,
                },
            )],
            deleted: false,
            moved: false,
        });
        index
    }

    /// An issue by key (any case, as Jira accepts) or numeric id; not a deleted one.
    pub(crate) fn issue_index(&self, id_or_key: &str) -> Option<usize> {
        let index = if super::reply::is_numeric(id_or_key) {
            let id: u64 = id_or_key.parse().ok()?;
            usize::try_from(id.checked_sub(FIRST_ID)?).ok()?
        } else {
            *self.key_index.get(&id_or_key.to_uppercase())?
        };
        self.issues
            .get(index)
            .is_some_and(|i| !i.deleted)
            .then_some(index)
    }

    /// The index of an issue id ever handed out, deleted or not.
    pub(crate) fn any_index_of_id(&self, id: i64) -> Option<usize> {
        let index = usize::try_from(u64::try_from(id).ok()?.checked_sub(FIRST_ID)?).ok()?;
        (index < self.issues.len()).then_some(index)
    }

    pub(crate) fn index_of_id(&self, id: i64) -> Option<usize> {
        self.any_index_of_id(id)
            .filter(|i| self.issues.get(*i).is_some_and(|issue| !issue.deleted))
    }

    /// Indexes of the issues carrying a label, compared without regard to case.
    pub(crate) fn issues_labelled(&self, lowercase_label: &str) -> &[usize] {
        self.label_index
            .get(lowercase_label)
            .map_or(&[], Vec::as_slice)
    }

    /// Moves an issue to the first status of its workflow in this category (the site's
    /// default status of the category if the workflow has none), as an admin would,
    /// without a transition: no resolution is set, and leaving Done clears it.
    pub(crate) fn set_status(
        &mut self,
        index: usize,
        category: StatusCategory,
        now: Instant,
    ) -> bool {
        let Some(issue) = self.issues.get(index) else {
            return false;
        };
        if issue.status() == category {
            return true;
        }
        let target = self
            .projects
            .get(issue.project)
            .and_then(|p| p.workflow.statuses().find(|(_, c)| *c == category))
            .and_then(|(name, _)| self.status_named(name))
            .unwrap_or_else(|| self.default_status(category));
        self.change_state(index, target, None, now)
    }

    /// Records a new workflow state: the status, and the resolution (kept only in a
    /// Done-category status, as Jira's reopen clears it), with the dates that follow.
    pub(crate) fn change_state(
        &mut self,
        index: usize,
        status: StatusRef,
        resolution: Option<usize>,
        now: Instant,
    ) -> bool {
        let wall = self.clock.at(now);
        let Some(issue) = self.issues.get_mut(index) else {
            return false;
        };
        let old = issue.state();
        let resolution = resolution.filter(|_| status.category == StatusCategory::Done);
        if old.status == status && old.resolution == resolution {
            return true;
        }
        let category_changed = if old.status.category == status.category {
            old.category_changed
        } else {
            wall
        };
        let resolved = match resolution {
            None => None,
            Some(_) if old.resolution == resolution => old.resolved,
            Some(_) => Some(wall),
        };
        let state = IssueState {
            status,
            resolution,
            category_changed,
            resolved,
        };
        issue.history.push((now, state));
        true
    }

    /// A status of the site by name (any case) or id.
    pub(crate) fn status_named(&self, name_or_id: &str) -> Option<StatusRef> {
        self.statuses
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name_or_id) || s.id == name_or_id)
            .cloned()
    }

    /// The status the site was made with for a category (`To Do`, `In Progress`, `Done`).
    pub(crate) fn default_status(&self, category: StatusCategory) -> StatusRef {
        StatusRef {
            id: category.status_id().to_owned(),
            name: category.name().to_owned(),
            category,
        }
    }

    /// Registers a workflow's statuses site-wide (new names get new ids) after checking
    /// that a name already known keeps its category, since Jira's statuses are shared.
    pub(crate) fn register_statuses(&mut self, workflow: &Workflow) -> Result<(), String> {
        for (name, category) in workflow.statuses() {
            if let Some(known) = self.status_named(name) {
                if known.category != category {
                    return Err(format!(
                        "Status '{}' is in the category '{}' on this site.",
                        known.name,
                        known.category.name()
                    ));
                }
            }
        }
        for (name, category) in workflow.statuses() {
            if self.status_named(name).is_none() {
                let id = (FIRST_ID + self.statuses.len() as u64).to_string();
                self.statuses.push(StatusRef {
                    id,
                    name: name.to_owned(),
                    category,
                });
            }
        }
        Ok(())
    }

    /// A resolution by name (any case) or id.
    pub(crate) fn resolution_index(&self, name_or_id: &str) -> Option<usize> {
        self.resolutions
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name_or_id) || r.id == name_or_id)
    }

    /// Stores a comment (already validated) and returns it.
    pub(crate) fn add_comment(
        &mut self,
        index: usize,
        body: Value,
        now: Instant,
    ) -> Option<StoredComment> {
        let created = self.clock.at(now);
        let issue = self.issues.get_mut(index)?;
        let comment = StoredComment {
            id: self.next_comment_id,
            body,
            created,
        };
        self.next_comment_id += 1;
        issue.comments.push(comment.clone());
        Some(comment)
    }

    /// An issue's comments as the control API shows them.
    pub(crate) fn comments_of(&self, index: usize) -> Option<Vec<SimComment>> {
        let issue = self.issues.get(index).filter(|i| !i.deleted)?;
        Some(
            issue
                .comments
                .iter()
                .map(|c| SimComment {
                    id: c.id.to_string(),
                    body: c.body.clone(),
                    created: c.created,
                })
                .collect(),
        )
    }

    pub(crate) fn snapshot(&self, index: usize) -> Option<SimIssue> {
        let issue = self.issues.get(index).filter(|i| !i.deleted)?;
        let project = self.projects.get(issue.project)?;
        Some(SimIssue {
            id: issue.id.to_string(),
            key: issue.key.clone(),
            project_key: project.key.clone(),
            issue_type_id: issue.issue_type_id.clone(),
            issue_type_name: self
                .issue_type(&issue.issue_type_id)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            summary: issue.summary.clone(),
            description: issue.description.clone(),
            labels: issue.labels.clone(),
            assignee: issue.assignee.clone(),
            fields: issue.fields.clone(),
            comments: issue.comments.iter().map(|c| c.body.clone()).collect(),
            status_category: issue.status(),
            status: issue.state().status.name.clone(),
            resolution: issue
                .state()
                .resolution
                .and_then(|r| self.resolutions.get(r))
                .map(|r| r.name.clone()),
        })
    }
}

/// Where a search continues: page tokens are opaque to callers and bound to their query.
#[derive(Debug, Clone)]
pub(crate) struct PageState {
    pub(crate) jql: String,
    pub(crate) offset: usize,
    issued: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct PageTokens {
    states: HashMap<String, PageState>,
    order: VecDeque<String>,
}

impl PageTokens {
    pub(crate) fn issue(&mut self, jql: &str, offset: usize, now: Instant) -> String {
        while self.order.len() >= PAGE_TOKEN_CAP {
            if let Some(old) = self.order.pop_front() {
                self.states.remove(&old);
            }
        }
        let token: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
        self.states.insert(
            token.clone(),
            PageState {
                jql: jql.to_owned(),
                offset,
                issued: now,
            },
        );
        self.order.push_back(token.clone());
        token
    }

    /// The offset a token stands for, if this service issued it for this query and it
    /// has not expired.
    pub(crate) fn resolve(&self, token: &str, jql: &str, now: Instant) -> Option<usize> {
        let state = self.states.get(token)?;
        let fresh = now.saturating_duration_since(state.issued) < PAGE_TOKEN_LIFETIME;
        (state.jql == jql && fresh).then_some(state.offset)
    }
}
