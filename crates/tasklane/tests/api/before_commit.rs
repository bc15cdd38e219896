//! A store tells a write's `BeforeCommit` before anyone can see the write: the cache
//! makes its in-process announcement there, and monotonic reads need that announcement
//! to precede the commit (`cache/in_flight.rs`).

use std::sync::{Arc, Mutex};

use serde_json::json;
use tasklane_server::domain::{NewTask, TaskId, TaskPatch, Timestamp, Workspace};
use tasklane_server::store::{BeforeCommit, Precondition, Store};

use crate::common::{fresh_database, open_store};

/// When told, reads the task through another connection of the same store and keeps
/// the version it found (`None`: no such task).
struct Witness {
    store: Arc<dyn Store>,
    workspace: Workspace,
    id: TaskId,
    seen: Mutex<Vec<Option<i64>>>,
}

impl BeforeCommit for Witness {
    fn committing(&self) {
        let read = self.store.get(&self.workspace, self.id);
        let found =
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(read));
        let version = found.unwrap().map(|at| at.task.version);
        self.seen.lock().unwrap().push(version);
    }
}

impl Witness {
    /// What it has seen since it was last asked.
    fn seen(&self) -> Vec<Option<i64>> {
        std::mem::take(&mut self.seen.lock().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_told_before_its_commit_can_be_seen() {
    let database = fresh_database().await;
    let store = open_store(&database.url).await.unwrap().tasks;
    // On a worker thread, where a blocking read may wait for the store.
    tokio::spawn(async move {
        let workspace = Workspace::default();
        let new: NewTask = serde_json::from_value(json!({"title": "witnessed"})).unwrap();
        let task = new.into_task(Timestamp::now());
        let witness = Witness {
            store: store.clone(),
            workspace: workspace.clone(),
            id: task.id,
            seen: Mutex::default(),
        };

        store
            .insert(&workspace, &task, None, &witness)
            .await
            .unwrap();
        assert_eq!(witness.seen(), [None], "a create, told before it");
        let patch: TaskPatch = serde_json::from_value(json!({"status": "done"})).unwrap();
        let updated = store
            .update(
                &workspace,
                task.id,
                &Precondition::None,
                &patch,
                None,
                &witness,
            )
            .await
            .unwrap();
        assert_eq!(updated.value.version, 2);
        assert_eq!(witness.seen(), [Some(1)], "an update, told before it");
        store
            .delete(&workspace, task.id, &Precondition::None, &witness)
            .await
            .unwrap();
        assert_eq!(witness.seen(), [Some(2)], "a delete, told before it");
        store
            .restore(&workspace, task.id, None, &witness)
            .await
            .unwrap();
        assert_eq!(witness.seen(), [None], "a restore, told before it");
        let restored = store.get(&workspace, task.id).await.unwrap().unwrap();
        assert_eq!(restored.task.version, 3, "every write committed");
    })
    .await
    .unwrap();
}
