//! `Idempotency-Key`: a retried write is applied once and answered with the first result.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, etag, problem, spawn_app};

async fn post_keyed(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/tasks"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_create_is_applied_once() {
    let app = spawn_app().await;
    let body = json!({"title": "pay the invoice"});
    let first = post_keyed(&app, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();

    let retry = post_keyed(&app, "key-1", &body).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(
        retry.json::<Value>().await.unwrap(),
        first,
        "the first result, replayed"
    );
    assert_eq!(app.list("").await["total"], 1);

    // Another key is another request.
    assert_eq!(
        post_keyed(&app, "key-2", &body).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.list("").await["total"], 2);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let app = spawn_app().await;
    assert_eq!(
        post_keyed(&app, "key", &json!({"title": "a"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let reused = problem(
        post_keyed(&app, "key", &json!({"title": "b"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(reused["field"], "Idempotency-Key");
    assert_eq!(app.list("").await["total"], 1);
}

#[tokio::test]
async fn a_retried_conditional_patch_replays_instead_of_failing_its_precondition() {
    let app = spawn_app().await;
    let id = app.create_titled("draft").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |key: &'static str| {
        let request = app
            .client
            .patch(app.url(&format!("/v1/tasks/{id}")))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .header("idempotency-key", key)
            .body(json!({"status": "done"}).to_string());
        async move { request.send().await.unwrap() }
    };
    let first = patch("p-1").await;
    assert_eq!(
        (first.status(), etag(&first)),
        (StatusCode::OK, "\"2\"".to_owned())
    );
    // The first attempt committed: without the key, If-Match "1" would now fail.
    let retry = patch("p-1").await;
    assert_eq!(
        (retry.status(), etag(&retry)),
        (StatusCode::OK, "\"2\"".to_owned())
    );
    problem(patch("p-2").await, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(
        app.get_task(&id).await.json::<Value>().await.unwrap()["version"],
        2
    );
}

#[tokio::test]
async fn concurrent_identical_requests_create_one_task() {
    let app = spawn_app().await;
    let body = json!({"title": "once"});
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/v1/tasks"))
                .header("idempotency-key", "burst")
                .json(&body);
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    let mut ids = HashSet::new();
    for request in requests {
        let response = request.await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.insert(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1, "every response names the one task created");
    assert_eq!(app.list("").await["total"], 1);
}

#[tokio::test]
async fn malformed_keys_are_400() {
    let app = spawn_app().await;
    for key in ["with space", &"k".repeat(256)] {
        let response = post_keyed(&app, key, &json!({"title": "t"})).await;
        assert_eq!(
            problem(response, StatusCode::BAD_REQUEST).await["field"],
            "Idempotency-Key"
        );
    }
    assert_eq!(app.list("").await["total"], 0);
}
