//! Partitions by status: a list restricted to some statuses is cached under those
//! statuses' partitions of its workspace's generation, so it must reflect every write
//! whose task left or entered one of them (creates, moves, deletes, restores), and only
//! those writes may cool it. Shown failing on a baseline that forgets the status a task
//! leaves.

use std::sync::Arc;

use serde_json::json;
use tasklane_server::cache::{Consistency, Design, TaskCache};
use tasklane_server::domain::{ListQuery, Task, TaskPatch, Workspace};
use tasklane_server::store::Precondition;

use crate::common::consistencies;
use crate::support::{InstrumentedStore, cache_with, list, new_task, titles};

/// The lists a board shows, and one of two statuses.
const LISTS: [&str; 5] = [
    "status=todo",
    "status=done",
    "status=blocked",
    "status=todo,in_progress",
    "",
];

async fn move_to(cache: &TaskCache, workspace: &Workspace, task: &Task, status: &str) -> Task {
    let patch: TaskPatch = serde_json::from_value(json!({ "status": status })).unwrap();
    cache
        .update(workspace, task.id, &Precondition::None, &patch, None)
        .await
        .unwrap()
}

/// Reads every list once (caching each), then returns what each shows.
async fn board(cache: &TaskCache, workspace: &Workspace) -> Vec<Vec<String>> {
    let mut seen = Vec::new();
    for query in LISTS {
        let query = ListQuery::parse(query, cache.cursor_key()).unwrap();
        seen.push(titles(&list(cache, workspace, &query).await));
    }
    seen
}

/// A task created, moved, deleted, restored and joined by another, with every list of
/// the board read (and cached) between two writes; what the board showed after each.
async fn boards_after_each_write(
    design: Design,
    consistency: Consistency,
) -> Vec<Vec<Vec<String>>> {
    let (cache, _store) = cache_with(design, consistency, std::time::Duration::ZERO).await;
    let workspace = Workspace::default();
    let mut boards = vec![board(&cache, &workspace).await];
    let a = cache.create(&workspace, new_task("a"), None).await.unwrap();
    boards.push(board(&cache, &workspace).await);
    let a = move_to(&cache, &workspace, &a, "done").await;
    boards.push(board(&cache, &workspace).await);
    cache
        .delete(&workspace, a.id, &Precondition::None)
        .await
        .unwrap();
    boards.push(board(&cache, &workspace).await);
    let a = cache.restore(&workspace, a.id, None).await.unwrap();
    boards.push(board(&cache, &workspace).await);
    move_to(&cache, &workspace, &a, "blocked").await;
    boards.push(board(&cache, &workspace).await);
    cache.create(&workspace, new_task("b"), None).await.unwrap();
    boards.push(board(&cache, &workspace).await);
    boards
}

/// What each board must show: `todo`, `done`, `blocked`, `todo,in_progress`, everything.
fn expected() -> Vec<Vec<Vec<String>>> {
    let board = |lists: [&[&str]; 5]| {
        lists
            .iter()
            .map(|titles| titles.iter().map(|t| t.to_string()).collect())
            .collect::<Vec<Vec<String>>>()
    };
    vec![
        board([&[], &[], &[], &[], &[]]),
        board([&["a"], &[], &[], &["a"], &["a"]]),
        board([&[], &["a"], &[], &[], &["a"]]),
        board([&[], &[], &[], &[], &[]]),
        board([&[], &["a"], &[], &[], &["a"]]),
        board([&[], &[], &["a"], &[], &["a"]]),
        board([&["b"], &[], &["a"], &["b"], &["a", "b"]]),
    ]
}

#[tokio::test]
async fn a_status_list_reflects_every_write_that_moved_a_task_into_or_out_of_it() {
    for consistency in consistencies() {
        assert_eq!(
            boards_after_each_write(Design::Generational, consistency).await,
            expected(),
            "{consistency:?}"
        );
    }
}

#[tokio::test]
async fn partitions_that_forget_the_old_status_serve_a_task_where_it_was() {
    // Baselines are built for in-process generations only.
    let boards = boards_after_each_write(Design::ForgetsOldStatus, Consistency::Local).await;
    assert_eq!(boards[1], expected()[1], "a create is seen");
    assert_eq!(
        boards[2][0],
        ["a"],
        "the todo list still shows the task moved to done"
    );
    assert_eq!(boards[3][1], ["a"], "the done list still shows it deleted");
}

/// One task, `a`, in `todo`, and every list of the board cached (checked: read again
/// without a database read).
async fn warm_board(
    consistency: Consistency,
) -> (Arc<TaskCache>, Arc<InstrumentedStore>, Workspace, Task) {
    let (cache, store) =
        cache_with(Design::Generational, consistency, std::time::Duration::ZERO).await;
    let workspace = Workspace::default();
    let a = cache.create(&workspace, new_task("a"), None).await.unwrap();
    board(&cache, &workspace).await;
    let before = store.hooks().reads();
    board(&cache, &workspace).await;
    assert_eq!(store.hooks().reads(), before, "all cached: {consistency:?}");
    (cache, store, workspace, a)
}

#[tokio::test]
async fn a_write_leaves_the_lists_of_statuses_it_did_not_touch_warm() {
    for consistency in consistencies() {
        let (cache, store, workspace, a) = warm_board(consistency).await;
        move_to(&cache, &workspace, &a, "done").await;
        let moved = store.hooks().reads();
        let seen = board(&cache, &workspace).await;
        assert_eq!(seen, expected()[2], "{consistency:?}");
        // todo, done, todo+in_progress and the whole list were read again; blocked was
        // served from the cache.
        assert_eq!(store.hooks().reads() - moved, 4, "{consistency:?}");
    }
}

#[tokio::test]
async fn a_patch_that_changes_nothing_cools_no_list() {
    for consistency in consistencies() {
        let (cache, store, workspace, a) = warm_board(consistency).await;
        let before = store.hooks().reads();
        let same = move_to(&cache, &workspace, &a, "todo").await;
        assert_eq!(same.version, a.version, "nothing changed: {consistency:?}");
        assert_eq!(
            board(&cache, &workspace).await,
            expected()[1],
            "{consistency:?}"
        );
        assert_eq!(
            store.hooks().reads(),
            before,
            "all still cached: {consistency:?}"
        );
    }
}
