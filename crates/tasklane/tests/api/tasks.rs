//! Creating, reading, patching and deleting single tasks.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{etag, spawn_app};

#[tokio::test]
async fn create_returns_the_task_its_location_and_etag() {
    let app = spawn_app().await;
    let response = app
        .post_task(&json!({
            "title": "Write the release notes", "description": "for 1.0", "status": "in_progress",
            "priority": "high", "assignee": "ana", "labels": ["docs", "release"],
            "due_at": "2026-12-01T10:00:00+01:00"
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(etag(&response), "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/tasks/{}", task["id"].as_str().unwrap())
    );
    assert_eq!(task["title"], "Write the release notes");
    assert_eq!(task["description"], "for 1.0");
    assert_eq!(
        (task["status"].as_str(), task["priority"].as_str()),
        (Some("in_progress"), Some("high"))
    );
    assert_eq!(
        (task["assignee"].as_str(), task["labels"].clone()),
        (Some("ana"), json!(["docs", "release"]))
    );
    assert_eq!(task["due_at"], "2026-12-01T09:00:00Z", "normalised to UTC");
    assert_eq!(task["version"], 1);
    assert_eq!(task["created_at"], task["updated_at"]);
    let id = task["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);

    let fetched = app.get_task(id).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(etag(&fetched), "\"1\"");
    assert_eq!(
        fetched.headers()["tasklane-seq"],
        "1",
        "the workspace's first change"
    );
    let mut read = fetched.json::<serde_json::Value>().await.unwrap();
    assert_eq!(read["seq"], 1, "the log position, in the body too");
    read.as_object_mut().unwrap().remove("seq");
    assert_eq!(read, task);
}

#[tokio::test]
async fn defaults_apply_to_everything_but_the_title() {
    let app = spawn_app().await;
    let task = app.create_titled("Only a title").await;
    assert_eq!(task["description"], "");
    assert_eq!(
        (task["status"].as_str(), task["priority"].as_str()),
        (Some("todo"), Some("medium"))
    );
    assert_eq!(
        (
            task["assignee"].clone(),
            task["labels"].clone(),
            task["due_at"].clone()
        ),
        (json!(null), json!([]), json!(null))
    );
}

#[tokio::test]
async fn merge_patch_changes_clears_and_counts_versions() {
    let app = spawn_app().await;
    let task = app.create(json!({"title": "t", "assignee": "ana", "labels": ["a"], "due_at": "2026-01-01T00:00:00Z"})).await;
    let id = task["id"].as_str().unwrap();

    let response = app
        .patch_task(
            id,
            &json!({"status": "done", "assignee": null, "labels": null, "due_at": null}),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(etag(&response), "\"2\"");
    let patched: serde_json::Value = response.json().await.unwrap();
    assert_eq!(patched["status"], "done");
    assert_eq!(
        (
            patched["assignee"].clone(),
            patched["labels"].clone(),
            patched["due_at"].clone()
        ),
        (json!(null), json!([]), json!(null))
    );
    assert_eq!(
        (patched["title"].as_str(), patched["version"].as_i64()),
        (Some("t"), Some(2))
    );
    assert_ne!(patched["updated_at"], task["updated_at"]);
    assert_eq!(patched["created_at"], task["created_at"]);

    // A patch that changes nothing is not a change.
    let same = app.patch_task(id, &json!({"status": "done"}), None).await;
    assert_eq!(etag(&same), "\"2\"");

    // application/json is accepted for patches too.
    let plain = app
        .client
        .patch(app.url(&format!("/v1/tasks/{id}")))
        .json(&json!({"title": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(etag(&plain), "\"3\"");
    assert_eq!(
        app.get_task(id)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["title"],
        "u"
    );
}

#[tokio::test]
async fn delete_removes_the_task() {
    let app = spawn_app().await;
    let id = app.create_titled("doomed").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete_task(&id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get_task(&id).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete_task(&id, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.list("").await["total"], 0);
}

#[tokio::test]
async fn healthz_openapi_and_docs_are_served() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (health.status(), health.text().await.unwrap()),
        (StatusCode::OK, "ok".to_owned())
    );

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["database"].as_str()),
        (Some("ready"), Some("ok"))
    );

    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/v1/tasks", "get"),
        ("/v1/tasks", "post"),
        ("/v1/tasks/{id}", "get"),
        ("/v1/tasks/{id}", "patch"),
        ("/v1/tasks/{id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    for schema in ["Task", "NewTask", "TaskPatch", "TaskList", "ProblemBody"] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "{schema} is documented"
        );
    }

    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "an interactive page"
    );
}
