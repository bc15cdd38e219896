//! Two server processes on one SQLite file (as `tasklane check --consistency redis`
//! runs them): each has its own writer, so their writes meet in SQLite's file lock. A
//! write must wait for the other's lock, never fail because the other wrote first.

use std::sync::Arc;

use crate::common::open_store;
use serde_json::json;
use tasklane_server::domain::{NewTask, TaskPatch, Timestamp, Workspace};
use tasklane_server::store::{Precondition, Store};

use crate::common::fresh_database;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_wait_for_each_others_writes() {
    let database = fresh_database().await;
    let first = open_store(&database.url).await.unwrap().tasks;
    let second = open_store(&database.url).await.unwrap().tasks;
    let workspace = Workspace::default();
    let new: NewTask = serde_json::from_value(json!({"title": "shared"})).unwrap();
    let task = first
        .insert(&workspace, &new.into_task(Timestamp::now()), None, &())
        .await
        .unwrap()
        .value;

    let writers: Vec<_> = [first, second]
        .into_iter()
        .enumerate()
        .map(|(n, store): (usize, Arc<dyn Store>)| {
            let workspace = workspace.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for i in 0..100 {
                    let patch: TaskPatch =
                        serde_json::from_value(json!({"title": format!("writer {n}, {i}")}))
                            .unwrap();
                    if let Err(error) = store
                        .update(&workspace, task.id, &Precondition::None, &patch, None, &())
                        .await
                    {
                        failures.push(error.to_string());
                    }
                }
                failures
            })
        })
        .collect();
    for writer in writers {
        let failures = writer.await.unwrap();
        assert!(failures.is_empty(), "writes failed: {failures:?}");
    }
}
