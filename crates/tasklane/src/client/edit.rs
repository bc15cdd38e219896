//! `tasklane task edit`, `done`, `start`, `rm` and `restore`: writes to one task.
//!
//! Every edit names the version it was decided on (`If-Match`): the version this
//! command read, or the one `--if-version` states (a script's earlier `show --json`).
//! When somebody changed the task since, the server refuses (`412`), and the client
//! prints what changed on the server, member by member, instead of trying again: the
//! edit may no longer be what its author wants.

use std::collections::HashMap;

use clap::Args;
use serde_json::{Map, Value, json};
use tasklane_client::{Api, ApiError};
use tasklane_server::domain::{Priority, Status, Task};

use super::add::{description, due_at};
use super::remote::Server;
use super::{Failure, ids};

/// The id of the task a command is about.
#[derive(Debug, Clone, Args)]
pub struct IdArgs {
    /// The task's id, or any unique start of it.
    pub id: String,

    /// Apply only if the task is still at this version (default: the version read
    /// just before).
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
}

/// `task edit` options.
#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    /// Which task, and which version.
    #[command(flatten)]
    pub target: IdArgs,

    /// A new title.
    #[arg(long, short, value_name = "TEXT")]
    pub title: Option<String>,

    /// todo, in_progress, blocked or done.
    #[arg(long, short, value_name = "S")]
    pub status: Option<Status>,

    /// low, medium, high or urgent.
    #[arg(long, short, value_name = "P")]
    pub priority: Option<Priority>,

    /// Who it is for.
    #[arg(long, short, value_name = "A", conflicts_with = "unassign")]
    pub assignee: Option<String>,

    /// Nobody.
    #[arg(long)]
    pub unassign: bool,

    /// The labels, replacing all of them; repeat for more.
    #[arg(long = "label", short, value_name = "L", conflicts_with = "no_labels")]
    pub labels: Vec<String>,

    /// No labels.
    #[arg(long)]
    pub no_labels: bool,

    /// When it is due (as for `task add`).
    #[arg(long, value_name = "WHEN", conflicts_with = "no_due")]
    pub due: Option<String>,

    /// No due date.
    #[arg(long)]
    pub no_due: bool,

    /// The description; `-` reads it from standard input.
    #[arg(long, short, value_name = "TEXT")]
    pub description: Option<String>,
}

impl EditArgs {
    /// The merge patch these options ask for.
    fn patch(&self) -> Result<Map<String, Value>, Failure> {
        let mut patch = Map::new();
        let mut set = |name: &str, value: Value| {
            patch.insert(name.to_owned(), value);
        };
        if let Some(title) = &self.title {
            set("title", json!(title));
        }
        if let Some(status) = &self.status {
            set("status", json!(status));
        }
        if let Some(priority) = &self.priority {
            set("priority", json!(priority));
        }
        if let Some(assignee) = &self.assignee {
            set("assignee", json!(assignee));
        }
        if self.unassign {
            set("assignee", Value::Null);
        }
        if !self.labels.is_empty() {
            set("labels", json!(self.labels));
        }
        if self.no_labels {
            set("labels", Value::Null);
        }
        if let Some(due) = &self.due {
            set("due_at", json!(due_at(due)?));
        }
        if self.no_due {
            set("due_at", Value::Null);
        }
        if let Some(text) = &self.description {
            set("description", json!(description(text)?));
        }
        Ok(patch)
    }
}

pub(super) async fn edit(server: &Server, args: EditArgs) -> Result<(), Failure> {
    let patch = args.patch()?;
    if patch.is_empty() {
        return Err(Failure::Usage(
            "nothing to change: give --title, --status, --priority, --assignee, --label, \
             --due, --description or one of their --no-/--un- forms"
                .to_owned(),
        ));
    }
    apply(server, &args.target, Value::Object(patch)).await
}

pub(super) async fn set_status(
    server: &Server,
    target: IdArgs,
    status: &str,
) -> Result<(), Failure> {
    apply(server, &target, json!({ "status": status })).await
}

/// Reads the task (for its version, unless `--if-version` gives it) and patches it.
async fn apply(server: &Server, target: &IdArgs, patch: Value) -> Result<(), Failure> {
    let api = server.api();
    let id = ids::resolve(&api, &target.id).await?.to_string();
    let (version, seen) = match target.if_version {
        Some(version) => (version, None),
        None => {
            let read = api.get(&id).await?;
            (read.task.version, Some(read.task))
        }
    };
    match api.update(&id, &patch, version).await {
        Err(ApiError::Refused(problem)) if problem.status == 412 => {
            Err(conflict(&api, &id, version, seen).await)
        }
        outcome => outcome.map(|_| ()).map_err(Failure::from),
    }
}

pub(super) async fn remove(server: &Server, target: IdArgs) -> Result<(), Failure> {
    let api = server.api();
    let id = ids::resolve(&api, &target.id).await?.to_string();
    let (version, seen) = match target.if_version {
        Some(version) => (version, None),
        None => {
            let read = api.get(&id).await?;
            (read.task.version, Some(read.task))
        }
    };
    match api.delete(&id, version).await {
        Err(ApiError::Refused(problem)) if problem.status == 412 => {
            Err(conflict(&api, &id, version, seen).await)
        }
        outcome => outcome.map_err(Failure::from),
    }
}

/// `task restore` options: a deleted task has no version to check.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The deleted task's id, or any unique start of it.
    pub id: String,
}

pub(super) async fn restore(server: &Server, target: RestoreArgs) -> Result<(), Failure> {
    let api = server.api();
    let id = match target.id.parse::<tasklane_server::domain::TaskId>() {
        Ok(id) => id.to_string(),
        Err(_) => deleted(&api, &target.id).await?,
    };
    api.restore(&id).await?;
    Ok(())
}

/// The id of the deleted task `given` starts: among the tasks the change log keeps a
/// delete of (with no later creation), named by the last state the log shows them in
/// (a delete's change carries none).
async fn deleted(api: &Api, given: &str) -> Result<String, Failure> {
    let mut last: HashMap<String, Task> = HashMap::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut since = 0;
    loop {
        let (changes, next) = api.changes(since).await?;
        for change in changes {
            let id = change["task_id"].as_str().unwrap_or_default().to_owned();
            if change["kind"] == "task.deleted" {
                deleted.retain(|known| *known != id);
                deleted.push(id);
            } else if let Ok(task) = serde_json::from_value::<Task>(change["task"].clone()) {
                deleted.retain(|known| *known != id);
                last.insert(id, task);
            }
        }
        match next {
            Some(next) => since = next,
            None => break,
        }
    }
    let candidates: Vec<&Task> = deleted.iter().filter_map(|id| last.get(id)).collect();
    match ids::pick(given, candidates) {
        Ok(task) => Ok(task.id.to_string()),
        // A task that is there is not one to restore: say so, rather than "no task".
        Err(Failure::Refused(_)) if let Ok(live) = ids::resolve(api, given).await => {
            Err(Failure::Refused(format!(
                "task {live} is not deleted: only a deleted task can be restored"
            )))
        }
        Err(failure) => Err(failure),
    }
}

/// What a `412` means to the person who asked: what changed on the server since the
/// version the edit was decided on, member by member.
async fn conflict(api: &Api, id: &str, version: i64, seen: Option<Task>) -> Failure {
    let current = match api.get(id).await {
        Ok(read) => read.task,
        Err(ApiError::Refused(problem)) if problem.status == 404 => {
            return Failure::Refused(format!(
                "the task was deleted since version {version} was read; nothing was written"
            ));
        }
        Err(error) => return error.into(),
    };
    if version > current.version || version < 1 {
        return Failure::Usage(format!(
            "--if-version {version}: the task never had that version (it is at version {}); \
             nothing was written",
            current.version
        ));
    }
    // The state the edit was decided on: the one read, or the one its history keeps.
    let before = match seen {
        Some(task) => Some(task),
        None => api.history(id).await.ok().and_then(|changes| {
            changes
                .into_iter()
                .find(|change| change["version"] == version)
                .and_then(|change| serde_json::from_value::<Task>(change["task"].clone()).ok())
        }),
    };
    let mut lines = vec![format!(
        "the task changed on the server since version {version} (it is at version {} now); \
         nothing was written. What changed:",
        current.version
    )];
    match before {
        Some(before) => lines.extend(differences(&before, &current)),
        None => lines.push(format!(
            "  (version {version} is no longer in its history; now:)\n{}",
            super::show::describe(&current)
        )),
    }
    lines.push("Run the command again to apply it to the current version.".to_owned());
    Failure::Refused(lines.join("\n"))
}

/// `  member: before -> after` for each member that differs.
fn differences(before: &Task, after: &Task) -> Vec<String> {
    changed_members(before, after)
        .into_iter()
        .filter(|(name, _, _)| !matches!(name.as_str(), "version" | "updated_at"))
        .map(|(name, before, after)| format!("  {name}: {before} -> {after}"))
        .collect()
}

/// Each member (as the API spells it) whose value differs between two tasks: its name,
/// its value in `before`, and in `after`.
pub(crate) fn changed_members(before: &Task, after: &Task) -> Vec<(String, Value, Value)> {
    let (Value::Object(before), Value::Object(mut after)) = (
        serde_json::to_value(before).expect("a task serialises"),
        serde_json::to_value(after).expect("a task serialises"),
    ) else {
        unreachable!("a task serialises as an object")
    };
    before
        .into_iter()
        .filter_map(|(name, value)| {
            let other = after.remove(&name).unwrap_or(Value::Null);
            (other != value).then_some((name, value, other))
        })
        .collect()
}
