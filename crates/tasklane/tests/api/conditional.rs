//! ETags: `304` while unchanged, a new tag after any write, `412` for a stale `If-Match`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{etag, problem, spawn_app};

#[tokio::test]
async fn a_list_etag_answers_304_until_any_write() {
    let app = spawn_app().await;
    let task = app.create_titled("one").await;
    let first = app.list_raw("status=todo").await;
    let tag = etag(&first);
    assert!(tag.starts_with("W/\""), "list ETags are weak: {tag}");
    assert_eq!(first.headers()["cache-control"], "private, no-cache");

    let revalidate = |query: &'static str, tag: String| {
        let request = app
            .client
            .get(app.url(&format!("/v1/tasks?{query}")))
            .header("if-none-match", tag);
        async move { request.send().await.unwrap() }
    };
    let unchanged = revalidate("status=todo", tag.clone()).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&unchanged), tag);
    // The same query spelled differently has the same tag.
    assert_eq!(
        revalidate("limit=20&status=todo&page=1", tag.clone())
            .await
            .status(),
        StatusCode::NOT_MODIFIED
    );
    // Another query has another tag.
    assert_eq!(
        revalidate("status=done", tag.clone()).await.status(),
        StatusCode::OK
    );

    app.patch_task(
        task["id"].as_str().unwrap(),
        &json!({"title": "changed"}),
        None,
    )
    .await;
    let changed = revalidate("status=todo", tag.clone()).await;
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "a write makes every earlier list tag stale"
    );
    assert_ne!(etag(&changed), tag);
    assert_eq!(
        changed.json::<serde_json::Value>().await.unwrap()["data"][0]["title"],
        "changed"
    );
}

#[tokio::test]
async fn a_task_etag_is_its_version() {
    let app = spawn_app().await;
    let id = app.create_titled("one").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |tag: &'static str| {
        let request = app
            .client
            .get(app.url(&format!("/v1/tasks/{id}")))
            .header("if-none-match", tag);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(get("\"1\"").await.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        get("W/\"1\"").await.status(),
        StatusCode::NOT_MODIFIED,
        "If-None-Match compares weakly"
    );
    assert_eq!(get("\"7\", \"1\"").await.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(get("*").await.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(get("\"2\"").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_match_refuses_to_lose_an_update() {
    let app = spawn_app().await;
    let id = app.create_titled("draft").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two clients read version 1; the first to write wins, the second learns it lost.
    let first = app
        .patch_task(&id, &json!({"title": "first"}), Some("\"1\""))
        .await;
    assert_eq!(
        (first.status(), etag(&first)),
        (StatusCode::OK, "\"2\"".to_owned())
    );
    let second = app
        .patch_task(&id, &json!({"title": "second"}), Some("\"1\""))
        .await;
    let body = problem(second, StatusCode::PRECONDITION_FAILED).await;
    assert!(
        body["detail"].as_str().unwrap().contains("\"2\""),
        "names the current ETag: {body}"
    );
    assert_eq!(
        app.get_task(&id)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["title"],
        "first"
    );

    // Strong comparison: a weak tag never matches.
    problem(
        app.patch_task(&id, &json!({"title": "x"}), Some("W/\"2\""))
            .await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    assert_eq!(
        app.patch_task(&id, &json!({"title": "third"}), Some("*"))
            .await
            .status(),
        StatusCode::OK
    );

    problem(
        app.delete_task(&id, Some("\"2\"")).await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    assert_eq!(
        app.delete_task(&id, Some("\"1\", \"3\"")).await.status(),
        StatusCode::NO_CONTENT
    );
}
