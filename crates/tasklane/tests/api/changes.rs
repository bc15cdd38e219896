//! The change log through the API: lists and reads say which `seq` they reflect, and
//! `/v1/changes` follows from there with exactly the later writes; every write appends
//! one change (a replayed or empty one none); a task's history, newest first; restoring
//! a deleted task; retention by age and by count.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane_server::domain::{NewTask, Timestamp, Workspace};
use tasklane_server::feed::{Pruner, Retention};

use crate::common::{fresh_database, open_store};
use crate::helpers::{TestApp, etag, problem, spawn_app, spawn_app_configured, spawn_app_with};

/// The kinds, seqs and task ids of a page of changes, in its order.
fn summary(page: &Value) -> Vec<(String, u64, String)> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["kind"].as_str().unwrap().to_owned(),
                change["seq"].as_u64().unwrap(),
                change["task_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The workspace's latest `seq`.
async fn head(app: &TestApp) -> u64 {
    app.changes("").await["head"].as_u64().unwrap()
}

fn id_of(task: &Value) -> String {
    task["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn lists_and_reads_report_the_seq_they_reflect_in_body_and_header() {
    let app = spawn_app().await;
    let empty = app.list_raw("").await;
    assert_eq!(empty.headers()["tasklane-seq"], "0", "no write yet");
    assert_eq!(empty.json::<Value>().await.unwrap()["seq"], 0);

    let first = app.create_titled("first").await;
    let second = app.create_titled("second").await;
    let list = app.list_raw("").await;
    assert_eq!(list.headers()["tasklane-seq"], "2");
    assert_eq!(list.json::<Value>().await.unwrap()["seq"], 2);

    // A task read reflects the whole workspace's log, not only its own changes: its
    // ETag is still its version.
    let read = app.get_task(&id_of(&first)).await;
    assert_eq!(read.headers()["tasklane-seq"], "2");
    assert_eq!(etag(&read), "\"1\"");
    assert_eq!(read.json::<Value>().await.unwrap()["seq"], 2);
    app.delete_task(&id_of(&second), None).await;
    let read = app.get_task(&id_of(&first)).await;
    assert_eq!(read.headers()["tasklane-seq"], "3");
    assert_eq!(read.json::<Value>().await.unwrap()["seq"], 3);
}

#[tokio::test]
async fn the_changes_after_a_lists_seq_are_exactly_the_writes_after_it() {
    let app = spawn_app().await;
    let before = app.create_titled("before the list").await;
    let seq = app.list("").await["seq"].as_u64().unwrap();
    assert_eq!(seq, 1);

    let patched: Value = app
        .patch_task(&id_of(&before), &json!({"status": "done"}), None)
        .await
        .json()
        .await
        .unwrap();
    let created = app.create_titled("after the list").await;

    let page = app.changes(&format!("since={seq}")).await;
    assert_eq!(
        summary(&page),
        [
            ("task.updated".to_owned(), 2, id_of(&before)),
            ("task.created".to_owned(), 3, id_of(&created)),
        ]
    );
    // Each with the state its write produced, as the write answered it.
    assert_eq!(page["data"][0]["task"], patched);
    assert_eq!(page["data"][0]["version"], 2);
    assert_eq!(page["data"][1]["task"], created);
    assert_eq!(page["data"][1]["version"], 1);
    assert_eq!(page["next_since"], 3);
    assert_eq!(page["head"], 3);

    // From `next_since`: nothing more, and the position stays where it is.
    let caught_up = app.changes("since=3").await;
    assert_eq!(caught_up["data"], json!([]));
    assert_eq!(caught_up["next_since"], 3);
    assert_eq!(caught_up["head"], 3);

    // Page by page, from the start: every change once, in order.
    let mut seen = Vec::new();
    let mut since = 0;
    loop {
        let page = app.changes(&format!("since={since}&limit=2")).await;
        assert_eq!(page["head"], 3);
        if page["data"] == json!([]) {
            break;
        }
        seen.extend(summary(&page).into_iter().map(|(_, seq, _)| seq));
        since = page["next_since"].as_u64().unwrap();
    }
    assert_eq!(seen, [1, 2, 3]);
}

#[tokio::test]
async fn a_replayed_write_or_a_patch_that_changes_nothing_appends_no_change() {
    let app = spawn_app().await;
    let create = || {
        app.client
            .post(app.url("/v1/tasks"))
            .header("idempotency-key", "create-once")
            .json(&json!({"title": "once"}))
            .send()
    };
    let first: Value = create().await.unwrap().json().await.unwrap();
    let replay: Value = create().await.unwrap().json().await.unwrap();
    assert_eq!(replay, first);
    assert_eq!(head(&app).await, 1, "the replay appended nothing");

    let id = id_of(&first);
    let patch = || {
        app.client
            .patch(app.url(&format!("/v1/tasks/{id}")))
            .header("content-type", "application/merge-patch+json")
            .header("idempotency-key", "patch-once")
            .body(r#"{"priority": "high"}"#)
            .send()
    };
    assert_eq!(patch().await.unwrap().status(), StatusCode::OK);
    assert_eq!(patch().await.unwrap().status(), StatusCode::OK);
    assert_eq!(head(&app).await, 2, "one patch, one change");

    let same = app
        .patch_task(&id, &json!({"title": "once", "priority": "high"}), None)
        .await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(same.json::<Value>().await.unwrap()["version"], 2);
    assert_eq!(
        head(&app).await,
        2,
        "a patch that changes nothing is no change"
    );
}

#[tokio::test]
async fn a_delete_appends_the_version_it_deleted_and_no_task() {
    let app = spawn_app().await;
    let task = app.create_titled("short-lived").await;
    let id = id_of(&task);
    app.patch_task(&id, &json!({"title": "shorter-lived"}), None)
        .await;
    assert_eq!(
        app.delete_task(&id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let page = app.changes("since=2").await;
    let deleted = &page["data"][0];
    assert_eq!(deleted["kind"], "task.deleted");
    assert_eq!(deleted["seq"], 3);
    assert_eq!(deleted["task_id"], id.as_str());
    assert_eq!(deleted["version"], 2, "the version deleted");
    assert!(
        deleted.as_object().unwrap().contains_key("task") && deleted["task"].is_null(),
        "{deleted}"
    );
    assert!(
        deleted["at"]
            .as_str()
            .is_some_and(|at| Timestamp::parse(at).is_ok())
    );
}

#[tokio::test]
async fn a_tasks_history_is_newest_first_and_pages_by_before() {
    let app = spawn_app().await;
    let task = app.create_titled("v1").await;
    let id = id_of(&task);
    app.create_titled("someone else's").await;
    for title in ["v2", "v3"] {
        app.patch_task(&id, &json!({ "title": title }), None).await;
    }
    app.delete_task(&id, None).await;

    let all = app.history(&id, "").await;
    let kinds: Vec<(String, u64, i64)> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["kind"].as_str().unwrap().to_owned(),
                change["seq"].as_u64().unwrap(),
                change["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("task.deleted".to_owned(), 5, 3),
            ("task.updated".to_owned(), 4, 3),
            ("task.updated".to_owned(), 3, 2),
            ("task.created".to_owned(), 1, 1),
        ]
    );
    assert_eq!(all["data"][1]["task"]["title"], "v3");
    assert_eq!(all["next_before"], Value::Null, "not a full page: no more");

    // Two by two: each full page says where the next one starts.
    let first = app.history(&id, "limit=2").await;
    assert_eq!(
        summary(&first).iter().map(|c| c.1).collect::<Vec<_>>(),
        [5, 4]
    );
    assert_eq!(first["next_before"], 4);
    let second = app.history(&id, "before=4&limit=2").await;
    assert_eq!(
        summary(&second).iter().map(|c| c.1).collect::<Vec<_>>(),
        [3, 1]
    );
    assert_eq!(second["next_before"], 1);
    let last = app.history(&id, "before=1&limit=2").await;
    assert_eq!(last["data"], json!([]));
    assert_eq!(last["next_before"], Value::Null);

    // An id that never named a task has no history, which is not an error; a text that
    // is no id names no task.
    let never = app
        .history("01900000-0000-7000-8000-000000000000", "")
        .await;
    assert_eq!(never, json!({"data": [], "next_before": null}));
    problem(
        app.history_raw("not-a-uuid", "").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_deleted_task_is_restored_once_at_its_next_version() {
    let app = spawn_app().await;
    let task = app
        .create(json!({"title": "keep me", "labels": ["a", "b"], "assignee": "ana"}))
        .await;
    let id = id_of(&task);
    let patched: Value = app
        .patch_task(&id, &json!({"status": "blocked"}), None)
        .await
        .json()
        .await
        .unwrap();
    app.delete_task(&id, None).await;
    problem(app.get_task(&id).await, StatusCode::NOT_FOUND).await;

    let restored = app.restore(&id, None).await;
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(etag(&restored), "\"3\"");
    assert_eq!(restored.headers()["location"], format!("/v1/tasks/{id}"));
    let restored: Value = restored.json().await.unwrap();
    assert_eq!(restored["version"], 3, "the deleted version + 1");
    let mut expected = patched.clone();
    expected["version"] = json!(3);
    expected["updated_at"] = restored["updated_at"].clone();
    assert_eq!(restored, expected, "as its delete left it");
    assert_eq!(app.get_task(&id).await.status(), StatusCode::OK);

    let page = app.changes("since=3").await;
    assert_eq!(summary(&page), [("task.created".to_owned(), 4, id.clone())]);
    assert_eq!(page["data"][0]["task"], restored);
    assert_eq!(page["data"][0]["version"], 3);

    let again = problem(app.restore(&id, None).await, StatusCode::CONFLICT).await;
    assert!(
        again["detail"].as_str().unwrap().contains("exists"),
        "{again}"
    );
    problem(
        app.restore("01900000-0000-7000-8000-000000000000", None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.restore("not-a-uuid", None).await, StatusCode::NOT_FOUND).await;
    // A task that was never deleted has nothing to restore either.
    let alive = app.create_titled("alive").await;
    problem(
        app.restore(&id_of(&alive), None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        head(&app).await,
        5,
        "only the one restore appended a change"
    );
}

#[tokio::test]
async fn a_restore_retried_with_its_key_is_applied_once() {
    let app = spawn_app().await;
    let id = id_of(&app.create_titled("gone and back").await);
    app.delete_task(&id, None).await;
    let first = app.restore(&id, Some("restore-1")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let replay = app.restore(&id, Some("restore-1")).await;
    assert_eq!(replay.status(), StatusCode::OK, "the first result, again");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(head(&app).await, 3, "create, delete, one restore");

    // The key is the restore's: used for another request, it is refused.
    let other = app
        .client
        .post(app.url("/v1/tasks"))
        .header("idempotency-key", "restore-1")
        .json(&json!({"title": "t"}))
        .send()
        .await
        .unwrap();
    problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn a_restore_with_a_body_is_refused_and_restores_nothing() {
    let app = spawn_app().await;
    let id = id_of(&app.create_titled("deleted").await);
    app.delete_task(&id, None).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{id}/restore")))
        .json(&json!({"title": "changed on the way back"}))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    problem(app.get_task(&id).await, StatusCode::NOT_FOUND).await;
    assert_eq!(head(&app).await, 2);
}

#[tokio::test]
async fn the_log_routes_refuse_unknown_repeated_and_invalid_parameters() {
    let app = spawn_app().await;
    let id = id_of(&app.create_titled("t").await);
    let beyond = (i64::MAX as u64) + 1;
    for (query, parameter) in [
        ("colour=red".to_owned(), "colour"),
        ("before=3".to_owned(), "before"),
        ("since=1&since=2".to_owned(), "since"),
        ("since=-1".to_owned(), "since"),
        ("since=".to_owned(), "since"),
        ("since=one".to_owned(), "since"),
        (format!("since={beyond}"), "since"),
        ("limit=0".to_owned(), "limit"),
        ("limit=1001".to_owned(), "limit"),
        ("limit=1&limit=2".to_owned(), "limit"),
    ] {
        let body = problem(app.changes_raw(&query).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["field"], parameter, "/v1/changes?{query}");
    }
    for (query, parameter) in [
        ("since=1".to_owned(), "since"),
        ("colour=red".to_owned(), "colour"),
        ("before=1&before=2".to_owned(), "before"),
        ("before=x".to_owned(), "before"),
        (format!("before={beyond}"), "before"),
        ("limit=0".to_owned(), "limit"),
        ("limit=1001".to_owned(), "limit"),
    ] {
        let body = problem(app.history_raw(&id, &query).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["field"], parameter, "history?{query}");
    }
    // Ahead of the log: a position from another database, say. Gone, naming `since`.
    let ahead = problem(app.changes_raw("since=2").await, StatusCode::GONE).await;
    assert_eq!(ahead["field"], "since");
    assert!(
        ahead["detail"].as_str().unwrap().contains("ahead"),
        "{ahead}"
    );
    // The largest position there is is a position, and the largest page a page.
    app.history(&id, &format!("before={}&limit=1000", i64::MAX))
        .await;
    app.changes("since=1&limit=1000").await;
}

/// Waits (a bounded time) until `GET /v1/changes?since={since}` answers `410`: the
/// pruner has forgotten the change after `since`. Returns the problem.
async fn pruned(app: &TestApp, since: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.changes_raw(&format!("since={since}")).await;
        if response.status() == StatusCode::GONE {
            return problem(response, StatusCode::GONE).await;
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "nothing was pruned in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn changes_older_than_the_retention_are_forgotten() {
    let app = spawn_app_with(|args| args.changes_retention = Duration::from_secs(3)).await;
    let kept = id_of(&app.create_titled("kept").await);
    let deleted = id_of(&app.create_titled("deleted").await);
    app.delete_task(&deleted, None).await;

    // Every change, the last one too (a prune may fall between two of them).
    pruned(&app, 2).await;
    let gone = problem(app.changes_raw("since=0").await, StatusCode::GONE).await;
    assert_eq!(gone["field"], "since");
    assert!(
        gone["detail"].as_str().unwrap().contains("reload the list"),
        "{gone}"
    );
    // The tasks themselves are untouched; their history is gone, and so is the delete
    // a restore would need.
    assert_eq!(app.get_task(&kept).await.status(), StatusCode::OK);
    assert_eq!(app.history(&kept, "").await["data"], json!([]));
    // Without `since`: nothing kept, so nothing to read, and the next page is from the
    // head.
    let nothing_kept = app.changes("").await;
    assert_eq!(nothing_kept["data"], json!([]));
    assert_eq!(nothing_kept["next_since"], 3);
    problem(app.restore(&deleted, None).await, StatusCode::NOT_FOUND).await;

    // A client at the head follows on as before.
    let list = app.list("").await;
    let seq = list["seq"].as_u64().unwrap();
    assert_eq!(seq, 3);
    let later = app.create_titled("later").await;
    let page = app.changes(&format!("since={seq}")).await;
    assert_eq!(
        summary(&page),
        [("task.created".to_owned(), 4, id_of(&later))]
    );
}

#[tokio::test]
async fn each_workspace_keeps_at_most_the_retention_count() {
    let keep_three = |args: &mut tasklane_server::config::ServeArgs| {
        args.changes_retention_count = NonZeroU64::new(3).unwrap();
    };
    let app = spawn_app_with(keep_three).await;
    for n in 1..=5 {
        app.create_titled(&format!("task {n}")).await;
    }
    let database = app.stop().await;
    // Another workspace with fewer changes than the bound keeps them all.
    let storage = open_store(&database.url).await.unwrap();
    let other = Workspace::named("other");
    for title in ["one", "two"] {
        let task: NewTask = serde_json::from_value(json!({ "title": title })).unwrap();
        storage
            .tasks
            .insert(&other, &task.into_task(Timestamp::now()), None, &())
            .await
            .unwrap();
    }

    // The pruner runs as the server starts.
    let app = spawn_app_configured(&database, keep_three).await;
    pruned(&app, 1).await;
    let kept = app.changes("since=2").await;
    assert_eq!(
        summary(&kept).iter().map(|c| c.1).collect::<Vec<_>>(),
        [3, 4, 5],
        "the last three"
    );
    // Without `since`, the log is read from the oldest change it keeps; an explicit
    // `since=0` still says that the changes after it are gone.
    let oldest = app.changes("").await;
    assert_eq!(
        summary(&oldest).iter().map(|c| c.1).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(oldest["next_since"], 5);
    problem(app.changes_raw("since=0").await, StatusCode::GONE).await;
    let others = storage.tasks.changes(&other, 0, 10).await.unwrap();
    assert_eq!(
        others.changes.len(),
        2,
        "another workspace's log is its own"
    );
}

#[tokio::test]
async fn pruning_lets_writes_through_between_its_batches() {
    const CHANGES: usize = 30_000;
    let database = fresh_database().await;
    let storage = open_store(&database.url).await.unwrap();
    let crowded = Workspace::named("crowded");
    let tasks: Vec<_> = (0..CHANGES)
        .map(|n| {
            let task: NewTask =
                serde_json::from_value(json!({ "title": format!("t{n}") })).unwrap();
            task.into_task(Timestamp::now())
        })
        .collect();
    for chunk in tasks.chunks(5_000) {
        storage.bulk.load(&crowded, chunk).await.unwrap();
    }
    let remaining = || count_changes(&database.url, &crowded);
    assert_eq!(remaining().await, CHANGES as i64);

    // Forget everything, in batches, while a write waits its turn.
    let store = storage.tasks.clone();
    let prune = tokio::spawn(async move { store.prune_changes(Timestamp::MAX, 1).await });
    let quiet = Workspace::named("quiet");
    loop {
        let task: NewTask = serde_json::from_value(json!({"title": "in between"})).unwrap();
        storage
            .tasks
            .insert(&quiet, &task.into_task(Timestamp::now()), None, &())
            .await
            .unwrap();
        let left = remaining().await;
        if left < CHANGES as i64 {
            // The prune had begun when the write went in: it must not have waited for
            // the whole of it.
            assert!(left > 0, "the write waited until the prune was over");
            break;
        }
    }
    assert!(prune.await.unwrap().unwrap() >= CHANGES as u64);
}

/// Rows in the workspace's change log, counted behind the server's back.
async fn count_changes(url: &str, workspace: &Workspace) -> i64 {
    let statement = format!(
        "SELECT COUNT(*) FROM task_changes WHERE scope = '{}'",
        workspace.as_str()
    );
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_scalar(&statement)
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_scalar(&statement)
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_pruner_stops_at_once_when_told_even_between_two_prunes() {
    let database = fresh_database().await;
    let storage = open_store(&database.url).await.unwrap();
    let week = Retention {
        age: Duration::from_secs(7 * 86_400),
        count: NonZeroU64::new(100_000).unwrap(),
    };
    let pruner = Pruner::start(storage.tasks.clone(), week);
    // Let it prune once and settle into its minute's wait.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(5), pruner.stop())
        .await
        .expect("stopped without waiting for the next prune");
}
