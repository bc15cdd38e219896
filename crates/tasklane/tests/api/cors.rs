//! Browsers: only the origins given with `--cors-origin` may call the API.

use reqwest::StatusCode;

use crate::common::fresh_database;
use crate::helpers::spawn_app_configured;

#[tokio::test]
async fn only_the_configured_origins_may_call_from_a_browser() {
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| {
        args.cors_origin = vec!["https://tasks.example.com".parse().unwrap()];
    })
    .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/tasks"))
        .header("origin", "https://tasks.example.com")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "authorization, if-match")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://tasks.example.com"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PATCH")
    );

    let read = |origin: &'static str| {
        app.client
            .get(app.url("/v1/tasks"))
            .header("origin", origin)
            .send()
    };
    let allowed = read("https://tasks.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://tasks.example.com"
    );
    assert!(
        allowed.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("etag")
    );
    let other = read("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_origins_no_cors_headers_are_sent() {
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |_| {}).await;
    let response = app
        .client
        .get(app.url("/v1/tasks"))
        .header("origin", "https://tasks.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_browser_may_restore_a_task_and_read_the_log_position() {
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| {
        args.cors_origin = vec!["https://tasks.example.com".parse().unwrap()];
    })
    .await;
    let id = app.create_titled("t").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url(&format!("/v1/tasks/{id}/restore")),
        )
        .header("origin", "https://tasks.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let allowed = |name: &str| {
        preflight.headers()[name]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
    };
    assert!(allowed("access-control-allow-methods").contains("post"));
    assert!(allowed("access-control-allow-headers").contains("idempotency-key"));

    // A list's position is readable from a page's script, to follow the log from.
    let list = app
        .client
        .get(app.url("/v1/tasks"))
        .header("origin", "https://tasks.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        list.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("tasklane-seq")
    );
}
