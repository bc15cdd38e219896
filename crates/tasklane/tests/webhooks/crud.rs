//! Webhooks as a resource: created with a secret shown once, listed oldest first,
//! changed, deleted; every invalid body refused with a problem naming its field; another
//! workspace's webhook not found; the attempts list keeping the last 100; a bounded
//! number of webhooks per workspace.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, token};
use crate::support::{self, Hooked, INVALID, create_raw, get, patch, patch_raw, ping, refused};

const ALL_EVENTS: [&str; 3] = ["task.created", "task.updated", "task.deleted"];

/// Asserts that `secret` is `whsec_` and the base64 of at least 24 bytes.
fn assert_secret(secret: &Value) {
    let secret = secret.as_str().expect("a secret");
    let key = secret.strip_prefix("whsec_").expect("whsec_ first");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("base64");
    assert!(bytes.len() >= 24, "{} bytes", bytes.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_created_with_its_secret_shown_once_and_listed_oldest_first() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    app.create_titled("before").await;
    let url = hooked.receiver.url("created");
    let response = create_raw(app, &json!({ "url": url, "description": "the board" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = &created["id"];
    assert_eq!(location, format!("/v1/webhooks/{}", id.as_str().unwrap()));
    assert_secret(&created["secret"]);
    assert_eq!(created["url"], url);
    assert_eq!(created["events"], json!(ALL_EVENTS));
    assert_eq!(created["description"], "the board");
    assert_eq!(created["status"], "active");
    // It starts at the workspace's head: the task written before is not owed.
    assert_eq!(created["position"], 1);
    assert_eq!(created["attempts"], 0);
    for none in [
        "failing_since",
        "next_attempt_at",
        "disabled_reason",
        "skipped",
    ] {
        assert_eq!(created[none], Value::Null, "{none}");
    }
    for time in ["created_at", "updated_at"] {
        assert!(created[time].is_string(), "{time}");
    }

    let read = get(app, id).await;
    assert_eq!(read.get("secret"), None, "the secret is shown only once");
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(read, without_secret);

    let later = [
        support::hook(app, &hooked.receiver, "second", Some(&["task.deleted"])).await,
        support::hook(app, &hooked.receiver, "third", None).await,
    ];
    assert_ne!(later[0]["secret"], created["secret"]);
    assert_ne!(later[0]["secret"], later[1]["secret"]);
    let listed = app.get_ok("/v1/webhooks").await;
    let ids: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(ids, [id, &later[0]["id"], &later[1]["id"]]);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h.get("secret").is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_changes_only_what_it_names_and_a_delete_removes_the_webhook() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    let created = hooked.hook("patched", None).await;
    let id = &created["id"];
    let patched = patch(app, id, &json!({ "description": "renamed" })).await;
    assert_eq!(patched["description"], "renamed");
    assert_eq!(patched["events"], created["events"]);
    assert_eq!(patched["url"], created["url"]);
    assert_eq!(patched.get("secret"), None);
    // Plain JSON is a merge patch too.
    let url = app.url(&format!("/v1/webhooks/{}", id.as_str().unwrap()));
    let response = app
        .client
        .patch(&url)
        .json(&json!({ "events": ["task.deleted", "task.created"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let patched: Value = response.json().await.unwrap();
    let mut events: Vec<&str> = patched["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    events.sort_unstable();
    assert_eq!(events, ["task.created", "task.deleted"]);
    assert_eq!(patched["description"], "renamed");

    let deleted = app.client.delete(&url).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        app.get_raw(&format!("/v1/webhooks/{}", id.as_str().unwrap()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let again = app.client.delete(&url).send().await.unwrap();
    problem(again, StatusCode::NOT_FOUND).await;
    let listed = app.get_ok("/v1/webhooks").await;
    assert_eq!(listed["data"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_webhooks_are_refused_naming_the_field() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    let good = hooked.receiver.url("good");
    let long = format!("{good}/{}", "a".repeat(2048));
    // A missing member is named in the detail only, as for tasks.
    let missing = problem(create_raw(app, &json!({})).await, INVALID).await;
    assert!(
        missing["detail"].as_str().unwrap().contains("`url`"),
        "{missing}"
    );
    let cases = [
        (json!({ "url": null }), "url"),
        (json!({ "url": 7 }), "url"),
        (json!({ "url": "" }), "url"),
        (json!({ "url": "not a url" }), "url"),
        (json!({ "url": "ftp://127.0.0.1/hook" }), "url"),
        (json!({ "url": "file:///etc/passwd" }), "url"),
        (json!({ "url": long }), "url"),
        (
            json!({ "url": good.replace("http://", "http://ana:secret@") }),
            "url",
        ),
        (json!({ "url": good, "events": [] }), "events"),
        (
            json!({ "url": good, "events": ["task.exploded"] }),
            "events",
        ),
        (json!({ "url": good, "events": "task.created" }), "events"),
        (json!({ "url": good, "events": ["webhook.test"] }), "events"),
        (json!({ "url": good, "colour": "red" }), "colour"),
        (
            json!({ "url": good, "description": "d".repeat(1001) }),
            "description",
        ),
    ];
    for (body, field) in &cases {
        refused(create_raw(app, body).await, field, &body.to_string()).await;
    }
    let created = hooked.hook("good", None).await;
    let id = &created["id"];
    for (body, field) in [
        (json!({ "url": "ftp://127.0.0.1/hook" }), "url"),
        (json!({ "events": [] }), "events"),
        (json!({ "events": ["task.exploded"] }), "events"),
        (json!({ "status": "disabled" }), "status"),
        (json!({ "status": "retrying" }), "status"),
        (json!({ "status": "on" }), "status"),
        (json!({ "secret": "whsec_AAAA" }), "secret"),
        (json!({ "position": 0 }), "position"),
    ] {
        refused(patch_raw(app, id, &body).await, field, &body.to_string()).await;
    }
    // Nothing refused changed anything.
    let mut unchanged = created.clone();
    unchanged.as_object_mut().unwrap().remove("secret");
    assert_eq!(get(app, id).await, unchanged);
    let listed = app.get_ok("/v1/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_s_webhook_is_not_found() {
    let hooked = Hooked::start_with(&["--auth", "token"]).await;
    let ours = hooked
        .app
        .as_holder_of(&token(&hooked.database, "ours", "ana").await);
    let theirs = hooked
        .app
        .as_holder_of(&token(&hooked.database, "theirs", "bo").await);
    let created = support::hook(&ours, &hooked.receiver, "ours", None).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/webhooks/{id}");
    for (method, path) in [
        (reqwest::Method::GET, path.clone()),
        (reqwest::Method::PATCH, path.clone()),
        (reqwest::Method::DELETE, path.clone()),
        (reqwest::Method::GET, format!("{path}/deliveries")),
        (reqwest::Method::POST, format!("{path}/test")),
    ] {
        let mut request = theirs.client.request(method.clone(), theirs.url(&path));
        if method == reqwest::Method::PATCH {
            request = request.json(&json!({ "description": "taken" }));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let listed = theirs.get_ok("/v1/webhooks").await;
    assert_eq!(listed["data"], json!([]));
    // Still there, untouched, for its own workspace; and nothing was sent.
    let mut unchanged = created.clone();
    unchanged.as_object_mut().unwrap().remove("secret");
    assert_eq!(get(&ours, &created["id"]).await, unchanged);
    assert!(hooked.receiver.arrivals("ours").is_empty());
    // Without a token, nothing at all.
    let anonymous = TestApp::of(&hooked.app.base);
    let response = anonymous.get_raw(&path).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempts_list_keeps_the_last_100_newest_first() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    let created = hooked.hook("pinged", None).await;
    let mut sent = Vec::new();
    for _ in 0..101 {
        let response = ping(app, &created["id"]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let attempt: Value = response.json().await.unwrap();
        sent.push(attempt["event_id"].clone());
    }
    let listed = support::deliveries(app, &created["id"]).await;
    assert_eq!(listed["webhook"]["id"], created["id"]);
    let shown: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["event_id"])
        .collect();
    let newest: Vec<&Value> = sent.iter().rev().take(100).collect();
    assert_eq!(shown, newest);
    assert_eq!(hooked.receiver.summary("pinged").delivered.len(), 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_holds_a_bounded_number_of_webhooks() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    let most = tasklane_server::webhook::MAX_PER_WORKSPACE as usize;
    let mut created = Vec::new();
    for n in 0..most {
        let url = hooked.receiver.url(&format!("hook-{n}"));
        let response = create_raw(app, &json!({ "url": url })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "webhook {n}");
        created.push(response.json::<Value>().await.unwrap());
    }
    let url = hooked.receiver.url("one-too-many");
    problem(
        create_raw(app, &json!({ "url": url })).await,
        StatusCode::CONFLICT,
    )
    .await;
    let path = format!("/v1/webhooks/{}", created[0]["id"].as_str().unwrap());
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = create_raw(app, &json!({ "url": url })).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let listed = app.get_ok("/v1/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), most);
}
