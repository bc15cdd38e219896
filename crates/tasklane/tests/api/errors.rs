//! Every class of client mistake gets its own status and a problem document naming the
//! culprit; none is a 500, and the server keeps serving afterwards.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tasklane_server::server::MAX_HEAD_BYTES;

use crate::helpers::{TestApp, connect_and_send, problem, read_response, spawn_app};

async fn post_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/v1/tasks")).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in [
        "{\"title\": ",
        "{\"title\": \"x\"} trailing",
        "not json",
        "",
    ] {
        let detail = problem(
            post_raw(&app, Some("application/json"), body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            detail["detail"]
                .as_str()
                .unwrap()
                .starts_with("malformed JSON"),
            "{body}: {detail}"
        );
    }
}

#[tokio::test]
async fn invalid_tasks_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), None, "missing field `title`"),
        (json!({"title": ""}), Some("title"), "1 to 500"),
        (json!({"title": "x".repeat(501)}), Some("title"), "1 to 500"),
        (
            json!({"title": "t", "description": "d".repeat(20_001)}),
            Some("description"),
            "20000",
        ),
        (
            json!({"title": "t", "status": "doing"}),
            Some("status"),
            "unknown variant `doing`",
        ),
        (
            json!({"title": "t", "priority": "asap"}),
            Some("priority"),
            "unknown variant `asap`",
        ),
        (
            json!({"title": "t", "assignee": "a".repeat(101)}),
            Some("assignee"),
            "1 to 100",
        ),
        (
            json!({"title": "t", "labels": ["a", "a"]}),
            Some("labels"),
            "distinct",
        ),
        (
            json!({"title": "t", "labels": vec!["l"; 21]}),
            Some("labels"),
            "at most 20",
        ),
        (
            json!({"title": "t", "due_at": "next week"}),
            Some("due_at"),
            "RFC 3339",
        ),
        (json!({"title": 5}), Some("title"), "invalid type"),
        (
            json!({"title": "t", "colour": "red"}),
            Some("colour"),
            "unknown field `colour`",
        ),
        (
            json!({"title": "t", "version": 9}),
            Some("version"),
            "unknown field `version`",
        ),
        (json!(["title"]), None, "must be a JSON object"),
    ];
    for (body, field, message) in cases {
        let detail = problem(app.post_task(&body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            detail["detail"].as_str().unwrap().contains(message),
            "{body}: {detail}"
        );
        assert_eq!(detail["field"].as_str(), field, "{body}");
    }
    let id = app.create_titled("t").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (patch, field) in [
        (json!({"title": null}), "title"),
        (json!({"status": null}), "status"),
        (json!({"labels": [""]}), "labels"),
    ] {
        let detail = problem(
            app.patch_task(&id, &patch, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(detail["field"], field);
    }
    problem(
        app.patch_task(&id, &json!({"id": "x"}), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(app.list("").await["total"], 1, "nothing invalid was stored");
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, parameter) in [
        ("colour=red", "colour"),
        ("status=doing", "status"),
        ("status=todo&status=done", "status"),
        ("priority=", "priority"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("page=0", "page"),
        ("sort=size", "sort"),
        ("due_before=soon", "due_before"),
        ("due_after=2026-13-01T00:00:00Z", "due_after"),
        ("cursor=bm9wZQ", "cursor"),
        ("page=2&cursor=x", "cursor"),
    ] {
        let detail = problem(app.list_raw(query).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(detail["field"], parameter, "{query}");
    }
    let bad_header = app
        .client
        .get(app.url("/v1/tasks"))
        .header("if-none-match", "unquoted")
        .send()
        .await
        .unwrap();
    problem(bad_header, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let unknown = "01900000-0000-7000-8000-000000000000";
    problem(app.get_task(unknown).await, StatusCode::NOT_FOUND).await;
    problem(app.get_task("not-a-uuid").await, StatusCode::NOT_FOUND).await;
    problem(
        app.patch_task(unknown, &json!({"title": "x"}), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.delete_task(unknown, None).await, StatusCode::NOT_FOUND).await;
    problem(
        app.client.get(app.url("/v2/tasks")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let put = app.client.put(app.url("/v1/tasks")).send().await.unwrap();
    assert_eq!(put.headers()["allow"], "GET,HEAD,POST");
    problem(put, StatusCode::METHOD_NOT_ALLOWED).await;

    // The change log's routes, and restore.
    problem(
        app.history_raw("not-a-uuid", "").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.restore(unknown, None).await, StatusCode::NOT_FOUND).await;
    for (method, path, allow) in [
        (reqwest::Method::POST, "/v1/changes".to_owned(), "GET,HEAD"),
        (
            reqwest::Method::DELETE,
            format!("/v1/tasks/{unknown}/changes"),
            "GET,HEAD",
        ),
        (
            reqwest::Method::GET,
            format!("/v1/tasks/{unknown}/restore"),
            "POST",
        ),
    ] {
        let wrong = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.headers()["allow"], allow, "{method} {path}");
        problem(wrong, StatusCode::METHOD_NOT_ALLOWED).await;
    }
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_413_and_415() {
    let app = spawn_app().await;
    let huge = json!({"title": "t", "description": "x".repeat(1 << 20)}).to_string();
    problem(
        post_raw(&app, Some("application/json"), huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    problem(
        post_raw(&app, Some("text/plain"), "{\"title\": \"t\"}").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        post_raw(&app, None, "{\"title\": \"t\"}").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let form = post_raw(&app, Some("application/x-www-form-urlencoded"), "title=t").await;
    problem(form, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    // After every mistake above, the server is still serving.
    assert_eq!(app.create_titled("still here").await["title"], "still here");
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_answered_503_and_still_finishes() {
    let database = crate::common::fresh_database().await;
    let app = crate::helpers::spawn_app_configured(&database, |args| {
        args.request_timeout_secs = 1;
        args.baselines.read_delay_ms = 1_500; // every database read takes longer
    })
    .await;
    let response = app.list_raw("").await;
    assert_eq!(response.headers()["retry-after"], "1");
    let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("longer than 1 s"), "{body}");
    // A read has nothing to apply twice: no Idempotency-Key advice.
    assert!(!detail.contains("Idempotency-Key"), "{body}");

    // The request went on without its client and filled the cache: the same read now
    // answers at once. (Dropped with its client, as handlers once were, it would query
    // again and run out of time again, and a request dropped inside a transaction could
    // leave its database connection unusable.)
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(app.list_raw("").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_refused_with_431() {
    let app = spawn_app().await;
    let mut request = app.client.get(app.url("/v1/tasks"));
    for n in 0..101 {
        request = request.header(format!("x-header-{n}"), "v");
    }
    assert_eq!(
        request.send().await.unwrap().status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Just past the documented size (the connection's buffer alone would let it by),
    // and far past it.
    for size in [MAX_HEAD_BYTES + 1, 512 * 1024] {
        let response = app
            .client
            .get(app.url("/v1/tasks"))
            .header("x-large", "x".repeat(size))
            .send()
            .await;
        assert_eq!(
            response.unwrap().status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{size}"
        );
    }
    // Comfortably inside it.
    let response = app
        .client
        .get(app.url("/v1/tasks"))
        .header("x-large", "x".repeat(MAX_HEAD_BYTES / 2))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_doubled_host_is_400_naming_it() {
    let app = spawn_app().await;
    for head in [
        "GET /healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let mut stream = connect_and_send(&app.base, head).await;
        let (status, body) = read_response(&mut stream, Duration::from_secs(10))
            .await
            .expect("an answer");
        assert_eq!(status, 400, "{head:?}: {body}");
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["field"], "Host", "{head:?}");
    }
    // HTTP/1.0 has no Host requirement.
    let mut stream = connect_and_send(&app.base, "GET /healthz HTTP/1.0\r\n\r\n").await;
    let (status, _) = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_compressed_body_is_415_naming_the_content_encoding() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/tasks"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body("{\"title\": \"t\"}")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body["field"], "Content-Encoding");
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_query_that_is_not_utf8_is_400_naming_the_parameter() {
    let app = spawn_app().await;
    app.create_titled("caf\u{FFFD}").await;
    let body = problem(app.list_raw("q=%FF").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["field"], "q");
    // U+FFFD itself, sent as UTF-8, is an ordinary search.
    assert_eq!(app.titles("q=%EF%BF%BD").await, ["caf\u{FFFD}"]);
}

#[tokio::test]
async fn a_member_named_twice_is_400_naming_it() {
    let app = spawn_app().await;
    let body = problem(
        post_raw(
            &app,
            Some("application/json"),
            r#"{"title": "first", "title": "second"}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["field"], "title");
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_title_of_invisible_characters_is_blank() {
    let app = spawn_app().await;
    for title in ["\u{200B}", "\u{200B} \u{FEFF}\u{2060}", "\u{3164}"] {
        let body = problem(
            app.post_task(&json!({ "title": title })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(body["field"], "title", "{title:?}");
        assert!(body["detail"].as_str().unwrap().contains("blank"), "{body}");
    }
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

/// Every answer says how it may be cached: errors are about one attempt and are never
/// stored; anything else may be kept but is revalidated before each use.
#[tokio::test]
async fn every_response_says_how_it_may_be_cached() {
    let app = spawn_app().await;
    let created = app.post_task(&json!({"title": "t"})).await;
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let etag = crate::helpers::etag(&app.get_task(&id).await);
    let live = app.create_titled("never deleted").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cached = |response: &reqwest::Response| {
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let revalidated = [
        app.list_raw("").await,
        app.get_task(&id).await,
        app.client
            .get(app.url(&format!("/v1/tasks/{id}")))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap(),
        app.post_task(&json!({"title": "u"})).await,
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        app.changes_raw("").await,
        app.history_raw(&id, "").await,
        app.delete_task(&id, None).await,
        app.restore(&id, None).await,
        app.delete_task(&id, None).await,
    ];
    for response in &revalidated {
        assert!(response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED);
        assert_eq!(cached(response), "private, no-cache", "{}", response.url());
    }
    let errors = [
        app.get_task(&id).await,
        app.list_raw("colour=red").await,
        post_raw(&app, Some("text/plain"), "x").await,
        app.client.put(app.url("/v1/tasks")).send().await.unwrap(),
        app.client.get(app.url("/nowhere")).send().await.unwrap(),
        app.changes_raw("since=99").await,
        app.restore(&live, None).await,
    ];
    for response in &errors {
        assert!(response.status().is_client_error(), "{}", response.status());
        assert_eq!(cached(response), "no-store", "{}", response.status());
    }
}

#[tokio::test]
async fn an_oversize_chunked_body_is_the_same_413_as_a_declared_one() {
    let app = spawn_app().await;
    let huge = json!({"title": "t", "description": "x".repeat(1 << 20)}).to_string();
    let declared = problem(
        post_raw(&app, Some("application/json"), huge.clone()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    // No Content-Length: the limit is only met while the body is read.
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{huge}\r\n0\r\n\r\n",
        huge.len()
    );
    let mut stream = connect_and_send(&app.base, &head).await;
    let (status, answer) = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status, 413, "{answer}");
    let chunked: serde_json::Value = serde_json::from_str(&answer).expect("a problem");
    assert_eq!(chunked["detail"], declared["detail"]);
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_501_and_nothing_is_stored() {
    let app = spawn_app().await;
    let body = "{\"title\": \"t\"}";
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: gzip, chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut stream = connect_and_send(&app.base, &head).await;
    let (status, answer) = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status, 501, "{answer}");
    let problem: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(problem["field"], "Transfer-Encoding");
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn two_idempotency_keys_are_400_naming_the_header() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/tasks"))
        .header("content-type", "application/json")
        .header("idempotency-key", "y1")
        .header("idempotency-key", "y2")
        .body("{\"title\": \"t\"}")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["field"], "idempotency-key");
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_status_or_priority_in_any_form_but_its_name_is_422() {
    let app = spawn_app().await;
    for body in [
        json!({"title": "t", "priority": {"urgent": null}}),
        json!({"title": "t", "status": {"done": null}}),
        json!({"title": "t", "status": ["done"]}),
    ] {
        let response = app.post_task(&body).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("expected a string"),
            "{body}: {problem}"
        );
    }
    assert_eq!(app.list("").await["total"], 0, "nothing was stored");
    let task = app.create_titled("t").await;
    let response = app
        .client
        .patch(app.url(&format!("/v1/tasks/{}", task["id"].as_str().unwrap())))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"status": {"todo": null}}"#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}
