//! Hostile input, in every position the API takes it: for each list parameter, each
//! change-log parameter and each body member (create and patch), the largest and the
//! most numerous values allowed and one past them, timestamps at both ends of the range
//! with the extreme offsets, NUL and invalid UTF-8 in every text and every path id, and
//! tampered cursors. Every answer is the documented
//! one (a `4xx` naming the culprit, or a `2xx` for what is allowed), never a `5xx`, and
//! every request is answered within its time limit.
//!
//! The limits come from the constants the server enforces, never restated here.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tasklane_server::domain::{
    Assignee, Description, Labels, ListQuery, LogQuery, Member, Timestamp, Title,
};

use crate::helpers::{TestApp, problem, spawn_configured};

/// The server's request timeout: every request must be answered within it.
const REQUEST_TIMEOUT_SECS: u64 = 10;

/// A server whose client gives up (and fails the test) on any request not answered
/// within the server's own time limit, plus a margin for a loaded machine.
async fn hostile_app() -> TestApp {
    let mut app = spawn_configured(|args| args.request_timeout_secs = REQUEST_TIMEOUT_SECS).await;
    app.client = reqwest::Client::builder()
        .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS + 20))
        .build()
        .unwrap();
    app
}

/// Sends a request, failing the test if it is not answered in time or answers `5xx`.
async fn send(request: reqwest::RequestBuilder, what: &str) -> Response {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: not answered within its time limit: {e}"));
    assert!(
        !response.status().is_server_error(),
        "{what}: {} {:?}",
        response.status(),
        response.text().await
    );
    response
}

async fn list(app: &TestApp, query: &str) -> Response {
    send(
        app.client.get(app.url(&format!("/v1/tasks?{query}"))),
        query,
    )
    .await
}

/// `200`, and the page.
async fn allowed(app: &TestApp, query: &str) -> Value {
    let response = list(app, query).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

/// `400` naming `parameter`.
async fn refused(app: &TestApp, query: &str, parameter: &str) {
    let body = problem(list(app, query).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["field"], parameter, "{query}: {body}");
}

async fn create(app: &TestApp, body: &Value) -> Response {
    let request = app.client.post(app.url("/v1/tasks")).json(body);
    send(request, &format!("POST {body}")).await
}

async fn patch(app: &TestApp, id: &str, body: &Value) -> Response {
    let request = app
        .client
        .patch(app.url(&format!("/v1/tasks/{id}")))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    send(request, &format!("PATCH {body}")).await
}

/// `422` naming `member`.
async fn invalid(response: Response, member: &str) {
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["field"], member, "{body}");
}

/// `n` characters, each taking four bytes in UTF-8 (so a limit is in characters).
fn chars(n: usize) -> String {
    "🦀".repeat(n)
}

/// `n` distinct labels of the longest length.
fn labels(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{i:0>width$}", width = Labels::MAX_CHARS))
        .collect()
}

/// Percent-encodes a query value.
fn encoded(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Every body member at its largest and most numerous, then one past each.
fn members_at_their_limits() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "title",
            json!(chars(Title::MAX_CHARS)),
            json!(chars(Title::MAX_CHARS + 1)),
        ),
        (
            "description",
            json!(chars(Description::MAX_CHARS)),
            json!(chars(Description::MAX_CHARS + 1)),
        ),
        (
            "assignee",
            json!(chars(Assignee::MAX_CHARS)),
            json!(chars(Assignee::MAX_CHARS + 1)),
        ),
        (
            "labels",
            json!(labels(Labels::MAX_COUNT)),
            json!(labels(Labels::MAX_COUNT + 1)),
        ),
        (
            "labels",
            json!([chars(Labels::MAX_CHARS)]),
            json!([chars(Labels::MAX_CHARS + 1)]),
        ),
        (
            "due_at",
            json!(Timestamp::MAX.to_string()),
            json!("9999-12-31T23:59:59-00:01"),
        ),
        (
            "due_at",
            json!(Timestamp::MIN.to_string()),
            json!("0001-01-01T00:00:00+00:01"),
        ),
        (
            "due_at",
            json!("9999-12-31T23:59:59+23:59"),
            json!("9999-12-31T23:59:59-23:59"),
        ),
        (
            "due_at",
            json!("0001-01-01T00:00:00-23:59"),
            json!("0001-01-01T23:58:59+23:59"),
        ),
    ]
}

/// Reads a task back and checks that `member` holds exactly what was sent (times in
/// their UTC form).
async fn reads_back(app: &TestApp, id: &str, member: &str, sent: &Value) {
    let response = send(app.client.get(app.url(&format!("/v1/tasks/{id}"))), id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let task: Value = response.json().await.unwrap();
    let expected = match sent.as_str() {
        Some(text) if member == "due_at" => json!(Timestamp::parse(text).unwrap().to_string()),
        _ => sent.clone(),
    };
    assert_eq!(task[member], expected, "{member}");
}

#[tokio::test]
async fn every_body_member_at_and_past_its_limit() {
    let app = hostile_app().await;
    let target = create(&app, &json!({"title": "target"})).await;
    let target: Value = target.json().await.unwrap();
    let id = target["id"].as_str().unwrap();
    for (member, largest, past) in members_at_their_limits() {
        let mut body = json!({"title": "t"});
        body[member] = largest.clone();
        let created = create(&app, &body).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{member}: {largest}");
        let created: Value = created.json().await.unwrap();
        reads_back(&app, created["id"].as_str().unwrap(), member, &largest).await;

        let patched = patch(&app, id, &json!({ member: largest })).await;
        assert_eq!(patched.status(), StatusCode::OK, "{member}: {largest}");
        reads_back(&app, id, member, &largest).await;

        body[member] = past.clone();
        invalid(create(&app, &body).await, member).await;
        invalid(patch(&app, id, &json!({ member: past })).await, member).await;
    }
    // The lists that hold them all serve, and nothing refused was stored.
    let page = allowed(&app, "limit=100").await;
    assert_eq!(
        page["total"],
        members_at_their_limits().len() + 1,
        "one task per allowed value, and the target"
    );
}

#[tokio::test]
async fn nul_and_invalid_utf8_in_every_body_text() {
    let app = hostile_app().await;
    let target: Value = create(&app, &json!({"title": "target"}))
        .await
        .json()
        .await
        .unwrap();
    let id = target["id"].as_str().unwrap();
    for (member, value) in [
        ("title", json!("a\u{0}b")),
        ("description", json!("a\u{0}b")),
        ("assignee", json!("a\u{0}b")),
        ("labels", json!(["a\u{0}b"])),
    ] {
        let mut body = json!({"title": "t"});
        body[member] = value.clone();
        invalid(create(&app, &body).await, member).await;
        invalid(patch(&app, id, &json!({ member: value })).await, member).await;
    }
    let member = send(
        app.client
            .post(app.url("/v1/tokens"))
            .json(&json!({"member": "a\u{0}b"})),
        "token member",
    )
    .await;
    invalid(member, "member").await;
    let longest = send(
        app.client
            .post(app.url("/v1/tokens"))
            .json(&json!({"member": chars(Member::MAX_CHARS + 1)})),
        "token member",
    )
    .await;
    invalid(longest, "member").await;

    // Bytes that are not UTF-8 are not JSON.
    for bytes in [&b"{\"title\": \"\xff\"}"[..], b"{\"title\": \"\xc3\"}"] {
        let request = app
            .client
            .post(app.url("/v1/tasks"))
            .header("content-type", "application/json")
            .body(bytes.to_vec());
        problem(
            send(request, "invalid UTF-8").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let page = allowed(&app, "").await;
    assert_eq!(page["total"], 1, "only the target was stored");
}

#[tokio::test]
async fn every_list_parameter_at_and_past_its_limit() {
    let app = hostile_app().await;
    create(
        &app,
        &json!({"title": "t", "labels": labels(Labels::MAX_COUNT)}),
    )
    .await;

    // Lists of choices: as many values as there are, then one more.
    let statuses = ["todo", "in_progress", "blocked", "done"];
    assert_eq!(statuses.len(), ListQuery::MAX_CHOICES);
    allowed(&app, &format!("status={}", statuses.join(","))).await;
    refused(
        &app,
        &format!("status={},todo", statuses.join(",")),
        "status",
    )
    .await;
    allowed(&app, "priority=low,medium,high,urgent").await;
    refused(&app, "priority=low,medium,high,urgent,low", "priority").await;

    // Every label a task can carry, at the longest: the task that has them all matches.
    let all = labels(ListQuery::MAX_LABELS);
    let query = |labels: &[String]| {
        labels
            .iter()
            .map(|label| format!("label={}", encoded(label)))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(allowed(&app, &query(&all)).await["total"], 1);
    refused(&app, &query(&labels(ListQuery::MAX_LABELS + 1)), "label").await;
    refused(
        &app,
        &format!("label={}", chars(Labels::MAX_CHARS + 1)),
        "label",
    )
    .await;

    allowed(
        &app,
        &format!("assignee={}", encoded(&chars(Assignee::MAX_CHARS))),
    )
    .await;
    refused(
        &app,
        &format!("assignee={}", encoded(&chars(Assignee::MAX_CHARS + 1))),
        "assignee",
    )
    .await;
    // As many assignees as allowed, each at the longest; then one more.
    let assignees = |n: usize| {
        (0..n)
            .map(|i| {
                format!(
                    "assignee={}",
                    encoded(&format!("{i:03}{}", chars(Assignee::MAX_CHARS - 3)))
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    allowed(&app, &assignees(ListQuery::MAX_ASSIGNEES)).await;
    refused(&app, &assignees(ListQuery::MAX_ASSIGNEES + 1), "assignee").await;
    allowed(&app, &format!("status_not={}", statuses[1..].join(","))).await;
    refused(
        &app,
        &format!("status_not={},todo", statuses.join(",")),
        "status_not",
    )
    .await;
    // A zone name as long as allowed names no zone; longer is refused for its length.
    refused(
        &app,
        &format!("tz={}", chars(ListQuery::MAX_ZONE_CHARS)),
        "tz",
    )
    .await;
    refused(
        &app,
        &format!("tz={}", chars(ListQuery::MAX_ZONE_CHARS + 1)),
        "tz",
    )
    .await;
    allowed(
        &app,
        "tz=America/Argentina/ComodRivadavia&due_before=2026-01-01",
    )
    .await;
    allowed(
        &app,
        &format!("q={}", encoded(&chars(ListQuery::MAX_TEXT_CHARS))),
    )
    .await;
    refused(
        &app,
        &format!("q={}", encoded(&chars(ListQuery::MAX_TEXT_CHARS + 1))),
        "q",
    )
    .await;
    allowed(&app, &format!("limit={}", ListQuery::MAX_LIMIT)).await;
    refused(
        &app,
        &format!("limit={}", ListQuery::MAX_LIMIT + 1),
        "limit",
    )
    .await;
    let last = allowed(&app, &format!("page={}", ListQuery::MAX_PAGE)).await;
    assert_eq!(last["data"], json!([]));
    refused(
        &app,
        &format!("page={}", u64::from(ListQuery::MAX_PAGE) + 1),
        "page",
    )
    .await;
    refused(&app, &format!("page={}", u64::MAX), "page").await;
    refused(
        &app,
        &format!("cursor={}", "a".repeat(ListQuery::MAX_CURSOR_CHARS)),
        "cursor",
    )
    .await;
    refused(
        &app,
        &format!("cursor={}", "a".repeat(ListQuery::MAX_CURSOR_CHARS + 1)),
        "cursor",
    )
    .await;
}

#[tokio::test]
async fn extreme_timestamps_with_extreme_offsets() {
    let app = hostile_app().await;
    let due = |at: &str| json!({"title": at, "due_at": at});
    for at in [
        Timestamp::MIN.to_string(),
        Timestamp::MAX.to_string(),
        "9999-12-31T23:59:59+23:59".to_owned(),
        "0001-01-01T00:00:00-23:59".to_owned(),
    ] {
        assert_eq!(create(&app, &due(&at)).await.status(), StatusCode::CREATED);
    }
    for parameter in [
        "due_before",
        "due_after",
        "completed_before",
        "completed_after",
    ] {
        for at in [
            Timestamp::MIN.to_string(),
            Timestamp::MAX.to_string(),
            "9999-12-31T23:59:59+23:59".to_owned(),
            "0001-01-01T00:00:00-23:59".to_owned(),
        ] {
            allowed(&app, &format!("{parameter}={}", encoded(&at))).await;
        }
        for at in [
            "9999-12-31T23:59:59-00:01",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01T00:00:00+23:59",
            "0000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "9999-12-31T24:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00+24:00",
            // Days: the first one in a zone ahead of UTC starts before the first
            // instant kept; no year 10000, no February 30th.
            "0001-01-01&tz=Asia/Tokyo",
            "10000-01-01",
            "2026-02-30",
            "-0001-01-01",
        ] {
            refused(
                &app,
                &format!("{parameter}={}", encoded(at).replace("%26tz%3D", "&tz=")),
                parameter,
            )
            .await;
        }
        for day in [
            "0001-01-01",
            "9999-12-31&tz=Pacific/Kiritimati",
            "9999-12-31&tz=Etc/GMT%2B12",
        ] {
            allowed(&app, &format!("{parameter}={day}")).await;
        }
    }
    // Every list that holds the extremes serves, in every order over them.
    for sort in ["due_at", "-due_at", "created_at", "title", "-completed_at"] {
        let page = allowed(&app, &format!("sort={sort}")).await;
        assert_eq!(page["total"], 4, "{sort}");
    }
}

#[tokio::test]
async fn nul_and_invalid_utf8_in_every_query_text() {
    let app = hostile_app().await;
    app.create(json!({"title": "t"})).await;
    for parameter in ["assignee", "label", "q"] {
        refused(&app, &format!("{parameter}=a%00b"), parameter).await;
    }
    for parameter in [
        "status",
        "status_not",
        "priority",
        "unassigned",
        "due_before",
        "due_after",
        "completed_before",
        "completed_after",
        "tz",
        "sort",
        "page",
        "limit",
        "cursor",
        "total",
    ] {
        refused(&app, &format!("{parameter}=a%00b"), parameter).await;
        refused(&app, &format!("{parameter}=%FF"), parameter).await;
    }
    // Invalid UTF-8 where any text is allowed is refused by the HTTP layer, or read as
    // the replacement character; either way it is a client's answer, never a 5xx.
    for parameter in ["assignee", "label", "q"] {
        let response = list(&app, &format!("{parameter}=%FF")).await;
        assert!(
            response.status() == StatusCode::OK || response.status() == StatusCode::BAD_REQUEST,
            "{parameter}: {}",
            response.status()
        );
    }
    // And in the path: NUL names no task; bytes that are not UTF-8 are no text at all.
    for id in ["%00", "a%00b"] {
        let response = send(app.client.get(app.url(&format!("/v1/tasks/{id}"))), id).await;
        problem(response, StatusCode::NOT_FOUND).await;
    }
    for path in ["/v1/tasks/%FF", "/v1/tokens/%FF"] {
        let method = if path.starts_with("/v1/tokens") {
            app.client.delete(app.url(path))
        } else {
            app.client.get(app.url(path))
        };
        let response = send(method, path).await;
        assert_eq!(
            problem(response, StatusCode::BAD_REQUEST).await["field"],
            "id",
            "{path}"
        );
    }
}

/// `GET` of a change-log route (`/v1/changes`, a task's history) with `query`.
async fn log(app: &TestApp, path: &str, query: &str) -> Response {
    let url = app.url(&format!("{path}?{query}"));
    send(app.client.get(url), &format!("{path}?{query}")).await
}

#[tokio::test]
async fn every_log_parameter_at_and_past_its_limit() {
    let app = hostile_app().await;
    let task: Value = create(&app, &json!({"title": "t"}))
        .await
        .json()
        .await
        .unwrap();
    let history = format!("/v1/tasks/{}/changes", task["id"].as_str().unwrap());
    let largest = LogQuery::MAX_POSITION;
    for (path, position) in [("/v1/changes", "since"), (history.as_str(), "before")] {
        let page = log(&app, path, &format!("limit={}", LogQuery::MAX_LIMIT)).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        for past in [
            format!("limit={}", LogQuery::MAX_LIMIT + 1),
            format!("limit={}", u64::MAX),
            format!("{position}={}", largest + 1),
            format!("{position}={}", u64::MAX),
            format!("{position}={}", "9".repeat(1_000)),
            format!("{position}=-0"),
            format!("{position}=1e3"),
            format!("{position}=0x10"),
        ] {
            let body = problem(log(&app, path, &past).await, StatusCode::BAD_REQUEST).await;
            let named = past.split('=').next().unwrap();
            assert_eq!(body["field"], named, "{path}?{past}: {body}");
        }
        for parameter in [position, "limit"] {
            for value in ["a%00b", "%00", "%FF"] {
                let query = format!("{parameter}={value}");
                let body = problem(log(&app, path, &query).await, StatusCode::BAD_REQUEST).await;
                assert_eq!(body["field"], parameter, "{path}?{query}");
            }
        }
    }
    // The largest position there is: a history page before it; a log position ahead
    // of this workspace's log, which is gone, not a server error.
    let before = log(&app, &history, &format!("before={largest}")).await;
    assert_eq!(before.status(), StatusCode::OK);
    let ahead = log(&app, "/v1/changes", &format!("since={largest}")).await;
    assert_eq!(problem(ahead, StatusCode::GONE).await["field"], "since");

    // And in the path: NUL names no task; bytes that are not UTF-8 are no text at all.
    for (method, suffix) in [
        (reqwest::Method::GET, "changes"),
        (reqwest::Method::POST, "restore"),
    ] {
        for (id, status) in [
            ("%00", StatusCode::NOT_FOUND),
            ("a%00b", StatusCode::NOT_FOUND),
            ("%FF", StatusCode::BAD_REQUEST),
        ] {
            let path = format!("/v1/tasks/{id}/{suffix}");
            let request = app.client.request(method.clone(), app.url(&path));
            let body = problem(send(request, &path).await, status).await;
            if status == StatusCode::BAD_REQUEST {
                assert_eq!(body["field"], "id", "{path}");
            }
        }
    }
}

/// The cursor of the first page of `query`, with three tasks to walk.
async fn issued_cursor(app: &TestApp, query: &str) -> String {
    let page = allowed(app, query).await;
    page["next_cursor"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tampered_cursors_are_refused() {
    let app = hostile_app().await;
    for title in ["a", "b", "c"] {
        app.create_titled(title).await;
    }
    let query = "sort=title&limit=1";
    let cursor = issued_cursor(&app, query).await;
    assert_eq!(
        allowed(&app, &format!("{query}&cursor={cursor}")).await["data"][0]["title"],
        "b",
        "the cursor as issued continues"
    );
    let (payload, tag) = cursor.split_once('.').expect("payload.tag");
    let decoded: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut changed = decoded.clone();
        change(&mut changed);
        let bytes = serde_json::to_vec(&changed).unwrap();
        format!("{}.{tag}", URL_SAFE_NO_PAD.encode(bytes))
    };
    let mut flipped = cursor.clone().into_bytes();
    flipped[3] ^= 0x01;
    let mut flipped_tag = cursor.clone().into_bytes();
    let last = flipped_tag.len() - 2;
    flipped_tag[last] = if flipped_tag[last] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = [
        // Another type where a title is expected, a NUL in it, in the id, another page.
        with(&|c| c["k"] = json!(12345)),
        with(&|c| c["k"] = json!("a\u{0}b")),
        with(&|c| c["k"] = json!(null)),
        with(&|c| c["i"] = json!("\u{0}")),
        with(&|c| c["i"] = json!(7)),
        with(&|c| c["p"] = json!(-1)),
        with(&|c| c["f"] = json!("0000000000000000")),
        // Flipped bits, truncated, base64 garbage, the old unsigned form.
        String::from_utf8(flipped).unwrap(),
        String::from_utf8(flipped_tag).unwrap(),
        cursor[..cursor.len() - 1].to_owned(),
        cursor[..cursor.len() / 2].to_owned(),
        payload.to_owned(),
        format!("{payload}."),
        format!(".{tag}"),
        "!!!!.????".to_owned(),
        "%FF%FE".to_owned(),
        URL_SAFE_NO_PAD.encode(b"{\"p\":2,\"k\":1,\"i\":\"x\",\"f\":\"y\"}"),
    ];
    for forged in tampered {
        refused(
            &app,
            &format!("{query}&cursor={}", encoded(&forged)),
            "cursor",
        )
        .await;
    }
    // A cursor of another query, or of this one under another sort, is refused too.
    refused(
        &app,
        &format!("sort=created_at&limit=1&cursor={cursor}"),
        "cursor",
    )
    .await;
    refused(
        &app,
        &format!("sort=title&limit=2&cursor={cursor}"),
        "cursor",
    )
    .await;
}
