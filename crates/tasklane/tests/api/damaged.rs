//! Data that cannot be served: a value that would not read back is never stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn a_due_date_past_the_range_in_utc_is_refused_before_it_is_stored() {
    let app = spawn_app().await;
    // In range as written, in the year 10000 in UTC: it used to be stored, then every
    // read of it (and of every list page holding it) failed for good.
    let poison = "9999-12-31T23:59:59-00:01";
    let body = problem(
        app.post_task(&json!({"title": "p", "due_at": poison}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["field"], "due_at");
    assert!(body["detail"].as_str().unwrap().contains("UTC"), "{body}");

    let task = app.create_titled("t").await;
    let id = task["id"].as_str().unwrap();
    let patched = app.patch_task(id, &json!({"due_at": poison}), None).await;
    assert_eq!(
        problem(patched, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "due_at"
    );
    let filtered = app.list_raw("due_before=9999-12-31T23:59:59-23:59").await;
    assert_eq!(
        problem(filtered, StatusCode::BAD_REQUEST).await["field"],
        "due_before"
    );
    assert_eq!(app.titles("").await, ["t"], "nothing else was stored");
}
