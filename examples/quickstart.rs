//! The whole story of `jira-notifier`, offline, in a second: connect, list, configure, a
//! test that fails twice (one issue), the issue closed, a third failure (a new issue), a
//! disabled test, a test routed to another project, the test notification, and a project
//! whose create screen requires fields: the save refused naming them, then fixed.
//!
//! It runs against `SimJira`, the simulated Jira Cloud the crate ships behind the `sim`
//! feature, with a search index that lags writes by five seconds, as Jira's does. Time is
//! simulated too (tokio's paused clock), so waiting costs nothing.
//!
//! Reads no environment variables. Run: `cargo run --example quickstart`

use std::sync::Arc;
use std::time::Duration;

use jira_notifier::{
    Assignee, Credentials, FieldValue, JiraNotifier, MemoryStore, Outcome, Settings, TestInfo,
    TestOverride, TestStatus,
};
use jira_notifier_sim::{ScreenKind, SimJira, StatusCategory};

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jira = SimJira::new();
    jira.set_search_lag(Duration::from_secs(5));
    jira.set_latency(Duration::from_millis(80)); // a round trip to Atlassian's cloud

    // The host injects its store (here: in memory) and, for this demo, the transport.
    let notifier = JiraNotifier::builder(Arc::new(MemoryStore::new()))
        .transport(jira.clone())
        .build()?;

    step("Connect with the service account's client id and secret");
    let site = notifier
        .connect(Credentials::new(
            SimJira::CLIENT_ID,
            SimJira::CLIENT_SECRET.to_owned(),
        ))
        .await?;
    println!("  connected to {} ({})", site.name, site.url);

    step("The settings screen lists what Jira offers");
    for p in notifier.projects().await? {
        println!("  project {:<4} {}", p.key, p.name);
    }
    let types: Vec<String> = notifier
        .issue_types("QA")
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    println!("  issue types in QA: {}", types.join(", "));
    let users = notifier.assignable_users("QA", "").await?;
    for u in &users {
        println!("  assignable in QA: {} ({})", u.display_name, u.account_id);
    }

    step("Save the settings (checked against Jira first)");
    let saved = notifier
        .save_settings(
            Settings::new("QA")
                .with_issue_type("Bug")
                .with_assignee(Assignee::Auto)
                .with_labels(["automated-test"]),
        )
        .await?;
    println!(
        "  project {} (id {}), issue type {} (id {}), label prefix {:?}",
        saved.target.project_key,
        saved.target.project_id,
        saved.target.issue_type_name,
        saved.target.issue_type_id,
        saved.settings.label_prefix
    );
    match notifier.save_settings(Settings::new("OPS")).await {
        Err(e) => println!("  refused, nothing saved: {e}"),
        Ok(_) => unreachable!("OPS has no Bug issue type"),
    }

    let login = TestInfo::new(
        "login-works",
        "Login works",
        "https://testclix.example/tests/login-works",
    );
    let error = TestStatus::error("expected status 200, got 500\n  at login.spec.ts:17");

    step("The test fails: one issue (a search, then a create)");
    let outcome = report(&notifier, &jira, &login, &error).await?;
    let first = outcome.issue().expect("created").clone();

    step("It fails again a second later, before Jira's search has caught up");
    tokio::time::sleep(Duration::from_secs(1)).await;
    report(&notifier, &jira, &login, &error).await?;

    step("Ten reports of it at once: they share one trip to Jira");
    let before = jira.request_count();
    let outcomes = futures_join(&notifier, &login, &error, 10).await;
    println!(
        "  {} duplicates of {}, {} requests",
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Duplicate(_)))
            .count(),
        first.key,
        jira.request_count() - before
    );

    step("Someone closes the issue; the next failure opens a new one");
    jira.set_status(&first.key, StatusCategory::Done);
    println!("  {} moved to Done", first.key);
    report(&notifier, &jira, &login, &error).await?;

    step("A test whose issues are switched off");
    notifier
        .set_override("flaky-upload", TestOverride::disabled())
        .await?;
    let upload = TestInfo::new(
        "flaky-upload",
        "Upload retries",
        "https://testclix.example/tests/flaky-upload",
    );
    report(&notifier, &jira, &upload, &error).await?;

    step("A test routed to another project, assignee and extra labels");
    let ops_user = users
        .first()
        .map(|u| u.account_id.clone())
        .unwrap_or_default();
    // OPS has no Bug: the global issue type must exist there too, so use Task globally.
    notifier
        .save_settings(
            Settings::new("QA")
                .with_issue_type("Task")
                .with_labels(["automated-test"]),
        )
        .await?;
    notifier
        .set_override(
            "nightly-backup",
            TestOverride::default()
                .with_project("OPS")
                .with_assignee(Assignee::user(&ops_user))
                .with_labels(["ops-oncall"]),
        )
        .await?;
    let backup = TestInfo::new(
        "nightly-backup",
        "Nightly backup",
        "https://testclix.example/tests/nightly-backup",
    );
    let created = report(
        &notifier,
        &jira,
        &backup,
        &TestStatus::error("backup job exited 3"),
    )
    .await?;
    if let Some(issue) = created.issue().and_then(|i| jira.issue(&i.key)) {
        println!(
            "  {} in {}, assignee {}, labels {}",
            issue.key,
            issue.project_key,
            issue.assignee.as_deref().unwrap_or("(project default)"),
            issue.labels.join(", ")
        );
    }

    step("A passing test is ignored");
    report(&notifier, &jira, &login, &TestStatus::Passed).await?;

    step("The settings screen's test notification");
    let ticket = notifier.send_test_notification().await?;
    println!("  created {} {}", ticket.key, ticket.url);

    step("Another team's project requires fields the crate does not fill");
    // Its create screen has a required "Team" select list and required Component/s,
    // neither with a default: Jira would refuse every issue. The save says so, at once.
    let key = jira.add_screen_project(ScreenKind::RequiredFields);
    let wanted = Settings::new(key).with_labels(["automated-test"]);
    match notifier.save_settings(wanted.clone()).await {
        Err(e) => println!("  refused: {e}"),
        Ok(_) => unreachable!("the project requires Team and Component/s"),
    }

    step("Fix it from what the create screen allows, and save again");
    for f in notifier.create_fields(key, "Bug").await? {
        if f.needs_value() && !f.filled_by_crate {
            println!("  {} ({}): {}", f.id, f.name, f.allowed_names().join(", "));
        }
    }
    notifier
        .save_settings(
            wanted
                .with_field("customfield_10100", FieldValue::one("Red"))
                .with_field("components", FieldValue::one("Backend")),
        )
        .await?;
    println!("  saved");
    let checkout = TestInfo::new(
        "checkout",
        "Checkout completes",
        "https://testclix.example/tests/checkout",
    );
    let created = report(&notifier, &jira, &checkout, &error).await?;
    if let Some(issue) = created.issue().and_then(|i| jira.issue(&i.key)) {
        println!(
            "  {} has Team {} and Component/s {}",
            issue.key, issue.fields["customfield_10100"], issue.fields["components"]
        );
    }
    println!("  health: {}", notifier.health().await?);

    step("Disconnect: nothing is sent any more");
    notifier.disconnect().await?;
    report(&notifier, &jira, &login, &error).await?;

    let open = jira
        .issues()
        .into_iter()
        .filter(|i| i.status_category != StatusCategory::Done)
        .count();
    println!(
        "\nJira now holds {} issues ({open} open), after {} requests in all.",
        jira.issues().len(),
        jira.request_count()
    );
    Ok(())
}

fn step(title: &str) {
    println!("\n{title}");
}

/// Reports one status change and prints the outcome and the requests it cost.
async fn report(
    notifier: &JiraNotifier,
    jira: &SimJira,
    test: &TestInfo,
    status: &TestStatus,
) -> jira_notifier::Result<Outcome> {
    let before = jira.request_count();
    let outcome = notifier.on_test_error(test, status).await?;
    let cost = jira.request_count() - before;
    match &outcome {
        Outcome::Created(i) => println!("  created {} {} ({cost} requests)", i.key, i.url),
        Outcome::Duplicate(i) => println!("  duplicate of {}: still open ({cost} requests)", i.key),
        other => println!("  {other:?} ({cost} requests)"),
    }
    Ok(outcome)
}

/// Reports the same failure `n` times concurrently.
async fn futures_join(
    notifier: &JiraNotifier,
    test: &TestInfo,
    status: &TestStatus,
    n: usize,
) -> Vec<Outcome> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (notifier, test, status) = (notifier.clone(), test.clone(), status.clone());
        tasks.spawn(async move { notifier.on_test_error(&test, &status).await });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.expect("task").expect("report"));
    }
    outcomes
}
