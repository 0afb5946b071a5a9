//! The recorded answers load as recorded: a change of line endings or a truncated copy
//! would otherwise make other tests pass for the wrong reason.

use crate::support::Recorded;

#[test]
fn recorded_answers_keep_status_content_type_and_body() {
    let retired = Recorded::load("search_retired");
    assert_eq!(retired.status, 410);
    assert_eq!(retired.content_type(), "application/json;charset=UTF-8");
    assert!(retired
        .body_str()
        .starts_with(r#"{"errorMessages":["The requested API has been removed."#));
    assert!(
        retired.body_str().ends_with(r#""errors":{}}"#),
        "{:?}",
        retired.body_str()
    );

    let html = Recorded::load("site_unknown");
    assert_eq!(html.status, 404);
    assert_eq!(html.content_type(), "text/html");
    assert!(html.body_str().starts_with("<!DOCTYPE html>"));
    assert!(
        html.body_str().ends_with("</html>"),
        "the body keeps no added LF"
    );

    let token = Recorded::load("token_unreadable");
    assert_eq!(token.status, 400);
    assert_eq!(
        token.header("content-length"),
        Some(token.body.len().to_string().as_str())
    );
}
