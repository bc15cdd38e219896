//! A list's `total` is the number of tasks it matches, exactly, after any mix of
//! writes: creates, updates, deletes, restores, bulk loads (seed and import), a load
//! that meets tasks already there, and edits by hand. Lists filtered on status, priority
//! and assignee alone sum the `task_counts` groups; the others count their tasks; both
//! are checked here against the tasks themselves, read back whole and matched in Rust.

use serde_json::{Value, json};
use tasklane_server::domain::{
    Filter, ListQuery, NewTask, Status, Task, TaskId, TaskPatch, Timestamp, Workspace,
};
use tasklane_server::store::{Precondition, Storage};

use crate::common::{fresh_database, open_store};
use crate::helpers::execute_sql;

const ASSIGNEES: [Option<&str>; 4] = [Some("ana"), Some("ben"), Some("cy"), None];
const STATUSES: [&str; 4] = ["todo", "in_progress", "blocked", "done"];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

/// Filters on what `task_counts` groups by (summed), and a few on what it does not
/// (counted), alone and beside them.
const FILTERS: &[&str] = &[
    "",
    "status=todo",
    "status=done",
    "status=in_progress,blocked",
    "status_not=done",
    "priority=urgent",
    "priority=low,medium",
    "assignee=ana",
    "assignee=ana&assignee=ben",
    "unassigned=true",
    "unassigned=false",
    "assignee=cy&unassigned=true",
    "status=todo&priority=high",
    "status_not=done&assignee=ben",
    "status=done&priority=low,urgent&unassigned=true",
    "priority=medium&assignee=ana&assignee=cy&unassigned=true",
    "status=blocked&priority=high&assignee=cy",
    // Counted over the tasks.
    "label=x",
    "status=todo&label=x",
    "q=task&assignee=ana",
];

/// A task with a random status, priority, assignee and label.
fn random_task(rng: &mut fastrand::Rng, title: &str) -> Task {
    let task: NewTask = serde_json::from_value(json!({
        "title": title,
        "status": STATUSES[rng.usize(..4)],
        "priority": PRIORITIES[rng.usize(..4)],
        "assignee": ASSIGNEES[rng.usize(..4)],
        "labels": if rng.bool() { vec!["x"] } else { vec![] },
    }))
    .unwrap();
    task.into_task(Timestamp::now())
}

/// A patch that changes some of status, priority and assignee (or only the title).
fn random_patch(rng: &mut fastrand::Rng) -> TaskPatch {
    let mut patch = serde_json::Map::new();
    if rng.bool() {
        patch.insert("status".into(), json!(STATUSES[rng.usize(..4)]));
    }
    if rng.bool() {
        patch.insert("priority".into(), json!(PRIORITIES[rng.usize(..4)]));
    }
    if rng.bool() {
        patch.insert("assignee".into(), json!(ASSIGNEES[rng.usize(..4)]));
    }
    if patch.is_empty() {
        patch.insert("title".into(), json!(format!("task {}", rng.u32(..))));
    }
    serde_json::from_value(Value::Object(patch)).unwrap()
}

/// Whether `task` matches `filter`, as the API documents each filter.
fn matches(filter: &Filter, task: &Task) -> bool {
    let assignee_ok = match (&task.assignee, filter.assignees.is_empty()) {
        (None, true) => filter.unassigned != Some(false),
        (Some(_), true) => filter.unassigned != Some(true),
        (None, false) => filter.unassigned == Some(true),
        (Some(name), false) => filter.assignees.contains(name),
    };
    (filter.statuses.is_empty() || filter.statuses.contains(&task.status))
        && (filter.priorities.is_empty() || filter.priorities.contains(&task.priority))
        && assignee_ok
        && filter
            .labels
            .iter()
            .all(|label| task.labels.contains(label))
        && filter.text.as_ref().is_none_or(|text| {
            task.title.to_lowercase().contains(text)
                || task.description.to_lowercase().contains(text)
        })
}

/// Every task of the workspace, read back in id order.
async fn every_task(storage: &Storage, workspace: &Workspace) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    loop {
        let after = tasks.last().map(|task| task.id);
        let batch = storage.bulk.export(workspace, after, 500).await.unwrap();
        if batch.is_empty() {
            return tasks;
        }
        tasks.extend(batch.into_iter().map(Result::unwrap));
    }
}

/// Checks every filter's `total` in `workspace` against its tasks.
async fn check_totals(storage: &Storage, workspace: &Workspace, step: usize) {
    let tasks = every_task(storage, workspace).await;
    for filter in FILTERS {
        let query =
            ListQuery::parse(&format!("{filter}&limit=1"), storage.tasks.cursor_key()).unwrap();
        let expected = tasks
            .iter()
            .filter(|task| matches(&query.filter, task))
            .count() as u64;
        let total = storage.tasks.list(workspace, &query).await.unwrap().total;
        assert_eq!(
            total,
            Some(expected),
            "{workspace}, after step {step}: `{filter}`"
        );
    }
}

#[tokio::test]
async fn every_total_equals_the_matching_tasks_after_any_mix_of_writes() {
    let database = fresh_database().await;
    let storage = open_store(&database.url).await.unwrap();
    let workspaces = [Workspace::named("counted"), Workspace::named("beside")];
    let mut rng = fastrand::Rng::with_seed(18);
    // Live and deleted tasks of each workspace, as the writes below leave them.
    let mut live: [Vec<TaskId>; 2] = Default::default();
    let mut deleted: [Vec<TaskId>; 2] = Default::default();
    for step in 0..240 {
        let w = rng.usize(..2);
        let workspace = &workspaces[w];
        match rng.usize(..10) {
            0..=2 => {
                let task = random_task(&mut rng, &format!("task {step}"));
                storage
                    .tasks
                    .insert(workspace, &task, None, &())
                    .await
                    .unwrap();
                live[w].push(task.id);
            }
            3..=4 if !live[w].is_empty() => {
                let id = live[w][rng.usize(..live[w].len())];
                let patch = random_patch(&mut rng);
                storage
                    .tasks
                    .update(workspace, id, &Precondition::None, &patch, None, &())
                    .await
                    .unwrap();
            }
            5 if !live[w].is_empty() => {
                let id = live[w].swap_remove(rng.usize(..live[w].len()));
                storage
                    .tasks
                    .delete(workspace, id, &Precondition::None, &())
                    .await
                    .unwrap();
                deleted[w].push(id);
            }
            6 if !deleted[w].is_empty() => {
                let id = deleted[w].swap_remove(rng.usize(..deleted[w].len()));
                storage
                    .tasks
                    .restore(workspace, id, None, &())
                    .await
                    .unwrap();
                live[w].push(id);
            }
            7 => {
                // `tasklane seed` and `tasklane import` write through this.
                let tasks: Vec<Task> = (0..rng.usize(1..30))
                    .map(|n| random_task(&mut rng, &format!("loaded {step}.{n}")))
                    .collect();
                storage.bulk.load(workspace, &tasks).await.unwrap();
                live[w].extend(tasks.iter().map(|task| task.id));
            }
            8 if !live[w].is_empty() => {
                // A load that meets a task already there (an import racing a write)
                // replaces its row.
                let id = live[w][rng.usize(..live[w].len())];
                let mut task = random_task(&mut rng, &format!("replaced {step}"));
                task.id = id;
                task.labels.clear();
                execute_sql(
                    &database.url,
                    &format!("DELETE FROM task_labels WHERE task_id = '{id}'"),
                )
                .await;
                storage.bulk.load(workspace, &[task]).await.unwrap();
            }
            9 if !live[w].is_empty() => {
                // An edit by hand, behind the store's back (not of the status, which
                // `completed_at` follows).
                let id = live[w][rng.usize(..live[w].len())];
                let priority = rng.usize(..4);
                execute_sql(
                    &database.url,
                    &format!(
                        "UPDATE tasks SET priority = {priority}, assignee = NULL WHERE id = '{id}'"
                    ),
                )
                .await;
            }
            _ => {}
        }
        if step % 20 == 19 {
            for workspace in &workspaces {
                check_totals(&storage, workspace, step).await;
            }
        }
    }
    let statuses: Vec<Status> = every_task(&storage, &workspaces[0])
        .await
        .iter()
        .map(|task| task.status)
        .collect();
    assert!(
        Status::ALL.iter().all(|status| statuses.contains(status)),
        "the mix left some status unused: {statuses:?}"
    );
}
