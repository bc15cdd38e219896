//! Stopping and starting the server: data survives, and no validator issued before a
//! restart is honoured after it.

use reqwest::StatusCode;

use crate::helpers::{etag, spawn_app, spawn_app_on};

#[tokio::test]
async fn data_survives_a_graceful_restart() {
    let app = spawn_app().await;
    let id = app.create_titled("durable").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = app.stop().await.unwrap();

    let again = spawn_app_on(dir.path()).await;
    let task: serde_json::Value = again.get_task(&id).await.json().await.unwrap();
    assert_eq!(
        (task["title"].as_str(), task["version"].as_i64()),
        (Some("durable"), Some(1))
    );
}

#[tokio::test]
async fn a_list_etag_from_before_a_restart_is_not_honoured_after_it() {
    // Before the restart: one write, then a list tagged with the first generation.
    let app = spawn_app().await;
    app.create_titled("before").await;
    let old_tag = etag(&app.list_raw("").await);
    let dir = app.stop().await.unwrap();

    // After it: the generation counter starts again and one write brings it to the same
    // number. A counter alone (the report's `cacheVersion`) would now repeat the old tag.
    let again = spawn_app_on(dir.path()).await;
    again.create_titled("after").await;
    let response = again
        .client
        .get(again.url("/v1/tasks"))
        .header("if-none-match", &old_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(etag(&response), old_tag);
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["total"], 2);
}
