//! What the webhook tests share: a `tasklane serve` process with fast webhook timings
//! and a [`Receiver`] on loopback, one helper per webhook call, and the judgement of
//! what an endpoint received against the change log: after deduplication by
//! `webhook-id`, exactly the log's matching changes, in order, each with the state its
//! write produced, every signature verified, none sent out of order or beside another.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tasklane_check::receiver::{Receiver, Summary};

use crate::common::{TestDatabase, fresh_database};
use crate::helpers::{ServerProcess, TestApp, problem};

/// How long a test waits for what a healthy sender does at once.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The webhook timings of the test servers: first retry after 100 ms (then 600 ms,
/// 2.4 s, 12 s...), 1 s per attempt, a 3 s lease, due webhooks looked for every 100 ms.
pub fn fast_retries() -> Vec<String> {
    [
        "--webhook-first-retry",
        "100ms",
        "--webhook-timeout",
        "1s",
        "--webhook-lease",
        "3s",
        "--feed-poll-ms",
        "100",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// [`fast_retries`], with loopback targets allowed (the receiver is on 127.0.0.1).
pub fn options() -> Vec<String> {
    let mut options = vec!["--webhook-allow-private".to_owned()];
    options.extend(fast_retries());
    options
}

/// A server process, a client of it, and a receiver.
pub struct Hooked {
    pub receiver: Receiver,
    pub app: TestApp,
    _server: ServerProcess,
    // Last: the server stops before its database goes.
    pub database: TestDatabase,
}

impl Hooked {
    /// A server on a fresh database with [`options`] (and the run's Redis, if any).
    pub async fn start() -> Hooked {
        Hooked::start_with(&[]).await
    }

    /// As [`Hooked::start`], with `extra` options after the usual ones.
    pub async fn start_with(extra: &[&str]) -> Hooked {
        let database = fresh_database().await;
        let server = ServerProcess::start(&database.url, &serve_options(&database, extra)).await;
        Hooked {
            receiver: Receiver::start().await.unwrap(),
            app: TestApp::of(&server.base),
            _server: server,
            database,
        }
    }

    /// A webhook of this server to `endpoint` on the receiver, for `events` (all, when
    /// none are named); the receiver trusts its secret.
    pub async fn hook(&self, endpoint: &str, events: Option<&[&str]>) -> Value {
        hook(&self.app, &self.receiver, endpoint, events).await
    }
}

/// The options of a webhook test server on `database`: [`options`], the run's Redis
/// if it has one, then `extra`.
pub fn serve_options(database: &TestDatabase, extra: &[&str]) -> Vec<String> {
    let mut options = options();
    options.extend(database.redis.iter().flat_map(|redis| redis.options()));
    options.extend(extra.iter().map(|option| (*option).to_owned()));
    options
}

/// `POST /v1/webhooks` with `body`.
pub async fn create_raw(app: &TestApp, body: &Value) -> Response {
    let url = app.url("/v1/webhooks");
    app.client.post(url).json(body).send().await.unwrap()
}

/// A webhook to `endpoint` on `receiver`, for `events` (all, when none are named),
/// asserting `201`; the receiver trusts its secret.
pub async fn hook(
    app: &TestApp,
    receiver: &Receiver,
    endpoint: &str,
    events: Option<&[&str]>,
) -> Value {
    let mut body = json!({ "url": receiver.url(endpoint) });
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let response = create_raw(app, &body).await;
    let status = response.status();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    receiver
        .trust(endpoint, created["secret"].as_str().expect("a secret"))
        .unwrap();
    created
}

/// `GET /v1/webhooks/{id}`, asserting `200`.
pub async fn get(app: &TestApp, id: &Value) -> Value {
    app.get_ok(&format!("/v1/webhooks/{}", id.as_str().unwrap()))
        .await
}

/// `PATCH /v1/webhooks/{id}` with `body` (as a merge patch).
pub async fn patch_raw(app: &TestApp, id: &Value, body: &Value) -> Response {
    let url = app.url(&format!("/v1/webhooks/{}", id.as_str().unwrap()));
    app.client
        .patch(url)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// `PATCH /v1/webhooks/{id}` with `body`, asserting `200`.
pub async fn patch(app: &TestApp, id: &Value, body: &Value) -> Value {
    let response = patch_raw(app, id, body).await;
    let status = response.status();
    let patched: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}: {patched}");
    patched
}

/// `GET /v1/webhooks/{id}/deliveries`, asserting `200`.
pub async fn deliveries(app: &TestApp, id: &Value) -> Value {
    let path = format!("/v1/webhooks/{}/deliveries", id.as_str().unwrap());
    app.get_ok(&path).await
}

/// `POST /v1/webhooks/{id}/test`.
pub async fn ping(app: &TestApp, id: &Value) -> Response {
    let url = app.url(&format!("/v1/webhooks/{}/test", id.as_str().unwrap()));
    app.client.post(url).send().await.unwrap()
}

/// Waits (for [`PATIENCE`] at most) until webhook `id` satisfies `done`; it then.
pub async fn await_hook(app: &TestApp, id: &Value, what: &str, done: impl Fn(&Value) -> bool) {
    let mut last = Value::Null;
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            last = get(app, id).await;
            if done(&last) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    if waited.await.is_err() {
        panic!("the webhook was not {what} within {PATIENCE:?}: {last}");
    }
}

/// The status of a webhook the server refuses (an invalid member, a private target):
/// `422`, as for an invalid task.
pub const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Asserts an RFC 9457 [`INVALID`] naming `field`.
pub async fn refused(response: Response, field: &str, what: &str) {
    let body = problem(response, INVALID).await;
    assert_eq!(body["field"], field, "{what}: {body}");
}

/// Waits (for [`PATIENCE`] at most) until `endpoint` has acknowledged `count` changes
/// (answered each with a 2xx; test events aside); what it received.
pub async fn received(receiver: &Receiver, endpoint: &str, count: usize) -> Summary {
    let enough = |summary: &Summary| summary.acknowledged() >= count;
    if !receiver.wait_until(endpoint, PATIENCE, enough).await {
        panic!(
            "{endpoint} did not receive {count} changes within {PATIENCE:?}: {:#?}",
            receiver.summary(endpoint)
        );
    }
    receiver.summary(endpoint)
}

/// Every change of `app`'s workspace after `since`, read page by page.
pub async fn change_log(app: &TestApp, since: u64) -> Vec<Value> {
    let mut changes = Vec::new();
    let mut since = since;
    loop {
        let page = app.changes(&format!("since={since}&limit=1000")).await;
        changes.extend(page["data"].as_array().unwrap().iter().cloned());
        let next = page["next_since"].as_u64().unwrap();
        if next == page["head"].as_u64().unwrap() {
            return changes;
        }
        since = next;
    }
}

/// The changes of `app`'s log that webhook `hook` must deliver: those after the
/// position it was created at, of the kinds it asked for.
pub async fn owed(app: &TestApp, hook: &Value) -> Vec<Value> {
    let since = hook["position"].as_u64().expect("a position");
    let events: Vec<&str> = hook["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event.as_str().unwrap())
        .collect();
    let log = change_log(app, since).await;
    log.into_iter()
        .filter(|change| events.contains(&change["kind"].as_str().unwrap()))
        .collect()
}

/// Asserts that what an endpoint of webhook `hook` received is, after deduplication by
/// `webhook-id`, exactly `changes` in order, each event the change (kind, seq, task,
/// version, the task as its write left it, its commit time) under the id Tasklane
/// gives it (`msg_`, the webhook's id without dashes, `_`, the `seq`); and that nothing
/// broke a sending rule (a bad signature, a change out of order or beside another).
pub fn assert_delivered(summary: &Summary, hook: &Value, changes: &[Value]) {
    let breaches = summary.breaches();
    assert!(breaches.is_empty(), "{breaches:#?}");
    let expected: Vec<u64> = changes.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(summary.seqs(), expected, "the changes delivered, in order");
    let endpoint = hook["id"].as_str().unwrap().replace('-', "");
    let events = summary
        .delivered
        .iter()
        .filter(|delivered| delivered.event.seq().is_some());
    for (delivered, change) in events.zip(changes) {
        let (event, seq) = (&delivered.event, &change["seq"]);
        assert_eq!(event.kind, change["kind"].as_str().unwrap(), "seq {seq}");
        assert_eq!(event.timestamp, change["at"].as_str().unwrap(), "seq {seq}");
        for field in ["seq", "task_id", "version", "task"] {
            assert_eq!(event.data[field], change[field], "seq {seq}: {field}");
        }
        assert_eq!(delivered.webhook_id, format!("msg_{endpoint}_{seq}"));
    }
}

/// Waits until `endpoint` has received every change `hook` owes it, and asserts it
/// received exactly those (see [`assert_delivered`]); what it received.
pub async fn assert_all_delivered(
    app: &TestApp,
    receiver: &Receiver,
    endpoint: &str,
    hook: &Value,
) -> Summary {
    let changes = owed(app, hook).await;
    assert!(
        !changes.is_empty(),
        "the test wrote nothing the webhook asks for"
    );
    let summary = received(receiver, endpoint, changes.len()).await;
    assert_delivered(&summary, hook, &changes);
    summary
}

/// A create, an update, a delete and a restore of one task, and a create of another:
/// five changes, each kind of write.
pub async fn every_kind_of_write(app: &TestApp) {
    let first = app.create_titled("first").await;
    let id = first["id"].as_str().unwrap();
    let updated = app
        .patch_task(id, &json!({ "status": "done", "assignee": "ana" }), None)
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let deleted = app.delete_task(id, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let restored = app.restore(id, None).await;
    assert!(restored.status().is_success(), "{restored:?}");
    app.create_titled("second").await;
}
