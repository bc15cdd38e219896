//! The sync recipe a client follows: take a list (it says the `seq` it reflects), then
//! follow the stream from that `seq`, applying each change. Writes going on the whole
//! time, the list it keeps is exactly the server's final list: no change missed, none
//! applied twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::sse::SseEvent;
use crate::support::{assert_consecutive, subscribe};

/// Writers, and rounds each: every round creates a task, updates one and deletes
/// another, so the list always fits one page.
const WRITERS: usize = 4;
const ROUNDS: usize = 12;

/// A list page as the client keeps it: task id to task.
type Tasks = BTreeMap<String, Value>;

/// The workspace's whole list (it fits one page) and the `seq` it reflects.
async fn list(app: &TestApp) -> (Tasks, u64) {
    let page = app.list("limit=100").await;
    assert!(page["next_cursor"].is_null(), "one page holds the list");
    let tasks = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| (task["id"].as_str().unwrap().to_owned(), task.clone()))
        .collect();
    (tasks, page["seq"].as_u64().unwrap())
}

/// Applies one event to the client's list, refusing what would be a miss or a double
/// application: a create of a task it has, an update or a delete of one it lacks, an
/// update that does not follow the version it holds.
fn apply(tasks: &mut Tasks, event: &SseEvent) {
    let change = event.json();
    let id = change["task_id"].as_str().unwrap().to_owned();
    match event.event.as_str() {
        "task.created" => {
            let before = tasks.insert(id, change["task"].clone());
            assert!(before.is_none(), "created twice: {event:?}");
        }
        "task.updated" => {
            let held = tasks
                .get_mut(&id)
                .expect("an update of a task the list holds");
            let version = held["version"].as_i64().unwrap();
            assert_eq!(change["version"], version + 1, "{event:?}");
            *held = change["task"].clone();
        }
        "task.deleted" => {
            let held = tasks
                .remove(&id)
                .expect("a delete of a task the list holds");
            assert_eq!(change["version"], held["version"], "{event:?}");
        }
        other => panic!("unexpected event {other}: {event:?}"),
    }
}

/// One writer's rounds.
async fn write(app: TestApp, writer: usize, done: Arc<AtomicUsize>) {
    let mut mine: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let task = app.create_titled(&format!("w{writer} r{round}")).await;
        mine.push(task["id"].as_str().unwrap().to_owned());
        let patch = json!({"title": format!("w{writer} r{round} edited")});
        let response = app.patch_task(&mine[round / 2], &patch, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        if round % 3 == 2 {
            let id = mine.remove(0);
            let response = app.delete_task(&id, None).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_list_and_the_stream_from_its_seq_rebuild_exactly_the_final_list_under_concurrent_writes()
{
    let app = spawn_app().await;
    for n in 0..10 {
        app.create_titled(&format!("before {n}")).await;
    }
    let done = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(write(TestApp::of(&app.base), writer, done.clone())))
        .collect();
    // The list is taken while the writers write.
    while done.load(Ordering::SeqCst) < WRITERS * 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (mut tasks, seq) = list(&app).await;
    let mut stream = subscribe(&app, &format!("since={seq}")).await;
    for writer in writers {
        writer.await.unwrap();
    }
    let (expected, head) = list(&app).await;
    assert!(seq < head, "writes went on after the list");

    let events = stream.events((head - seq) as usize).await;
    assert_consecutive(&events, seq);
    for event in &events {
        apply(&mut tasks, event);
    }
    assert_eq!(tasks, expected);
}
