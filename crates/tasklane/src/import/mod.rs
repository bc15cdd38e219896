//! `tasklane import FILE --workspace W`: tasks into a workspace, straight into the
//! database, from JSON lines (what `tasklane export` writes) or from a CSV file with a
//! header row.
//!
//! JSON lines keep every member, ids and versions too, and loading is idempotent by
//! id: a task already there as it is in the file is left alone, a task absent is
//! added as it is, and a task there with other content (or held by another
//! workspace) is a conflict that refuses the whole import. The file is read and every
//! task checked before anything is written (`--dry-run` stops there, saying what would
//! change). So importing twice changes nothing, and an export loaded into an empty
//! database answers every API read as the original did.
//!
//! CSV rows are new tasks (fresh ids, version 1): see [`csv`](crate::import::csv).
//!
//! Why caches and the change feed stay right: tasks are written by the store's bulk
//! loader, which appends each task's creation to the workspace's change log and
//! advances its generation row in the same transaction, as every write does. Servers
//! in `strict` consistency read that row before every list, so no list from before the
//! import is served after it; event streams and `GET /v1/changes` deliver the
//! creations as changes, and the feed advances the cache's generation before it hands
//! them out. Servers in `local` or `redis` consistency keep their generations outside
//! the database: a cached list of the workspace stays until a write there changes what
//! that list can show, or its entry expires, so import into a workspace those serve with
//! the servers stopped, or restart them afterwards (a new process draws a new epoch).

pub mod csv;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use tasklane_server::domain::{Status, Task, TaskId, Workspace};
use tasklane_server::store::{Opening, storable};

use crate::cli::{Misuse, ServerDatabase};
use crate::client::edit::changed_members;

/// Tasks per transaction.
const BATCH: usize = 5_000;

/// `tasklane import` options.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The file: JSON lines (as `tasklane export` writes them), or CSV with a header
    /// row (a name ending in `.csv`, or --csv).
    pub file: PathBuf,

    /// The workspace to load the tasks into.
    #[arg(long, value_name = "NAME")]
    pub workspace: Workspace,

    /// Read the file as CSV whatever its name.
    #[arg(long)]
    pub csv: bool,

    /// Check everything and say what would change, but write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// CSV only: load the valid rows even when others are rejected (each rejected row
    /// is reported either way).
    #[arg(long)]
    pub partial: bool,

    /// The database to load into.
    #[command(flatten)]
    pub database: ServerDatabase,
}

/// What an import did, or would do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Tasks added.
    pub added: usize,
    /// Tasks already there as they are in the file.
    pub unchanged: usize,
    /// CSV rows rejected (with `--partial`).
    pub rejected: usize,
    /// Whether the file was CSV (whose rows are all new tasks).
    pub from_csv: bool,
}

impl Report {
    /// What the import did (or would do), as said when it ends.
    pub fn summary(&self, args: &ImportArgs) -> String {
        let verb = if args.dry_run { "Would add" } else { "Added" };
        let mut text = format!("{verb} {} task(s) to `{}`", self.added, args.workspace);
        if !self.from_csv {
            text += &format!("; {} already there as in the file", self.unchanged);
        } else if self.rejected > 0 {
            text += &format!("; {} row(s) rejected", self.rejected);
        }
        if self.added > 0 && !args.dry_run {
            text += &format!(
                ".\nA server in `local` or `redis` consistency may list `{}` as it was \
                 before until it restarts (with Redis, and its key prefix is flushed; see the README's \
                 \"Leaving and coming back\"); in `strict`, lists show the import at once.",
                args.workspace
            );
        }
        text
    }
}

/// Runs the import; what it did (or, with `--dry-run`, would do).
pub async fn run(args: &ImportArgs) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let is_csv = args.csv
        || args
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if args.partial && !is_csv {
        return Err(Misuse(
            "--partial is for CSV files: a JSON lines file is loaded whole or not at all"
                .to_owned(),
        )
        .into());
    }
    let storage = args.database.open(Opening::Existing).await?;
    if is_csv {
        let rows = csv::read(&text, args.partial)?;
        let report = Report {
            added: rows.tasks.len(),
            unchanged: 0,
            rejected: rows.rejected,
            from_csv: true,
        };
        if !args.dry_run {
            load(&storage, &args.workspace, &rows.tasks).await?;
        }
        return Ok(report);
    }
    let tasks = parse_lines(&text)?;
    let ids: Vec<TaskId> = tasks.iter().map(|(_, task)| task.id).collect();
    let present = storage
        .bulk
        .present(&args.workspace, &ids)
        .await
        .context("looking for the tasks in the database")?;
    if let Some(id) = present.elsewhere.first() {
        bail!(
            "task {id} belongs to another workspace of this database: ids are unique across \
             workspaces, so it cannot be imported into `{}`",
            args.workspace
        );
    }
    let mut here: HashMap<String, Result<Task, String>> = HashMap::new();
    for found in present.here {
        match found {
            Ok(task) => here.insert(task.id.to_string(), Ok(task)),
            Err(unreadable) => here.insert(unreadable.id.clone(), Err(unreadable.to_string())),
        };
    }
    let mut report = Report::default();
    let mut new = Vec::new();
    let mut conflicts = Vec::new();
    for (line, task) in tasks {
        match here.get(&task.id.to_string()) {
            None => new.push(task),
            Some(Ok(existing)) if *existing == task => report.unchanged += 1,
            Some(Ok(existing)) => conflicts.push(format!(
                "line {line}: task {} is already in `{}` with other content ({} differ; \
                 version {} there, {} in the file)",
                task.id,
                args.workspace,
                changed_members(existing, &task)
                    .into_iter()
                    .map(|(name, _, _)| name)
                    .collect::<Vec<_>>()
                    .join(", "),
                existing.version,
                task.version
            )),
            Some(Err(reason)) => conflicts.push(format!("line {line}: {reason}")),
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "nothing imported: {} task(s) would overwrite different ones:\n{}",
            conflicts.len(),
            conflicts.join("\n")
        );
    }
    report.added = new.len();
    if !args.dry_run {
        load(&storage, &args.workspace, &new).await?;
    }
    Ok(report)
}

/// Writes new tasks, a batch per transaction. An interrupted import leaves whole
/// batches behind, which running it again finds unchanged.
async fn load(
    storage: &tasklane_server::store::Storage,
    workspace: &Workspace,
    tasks: &[Task],
) -> anyhow::Result<()> {
    for batch in tasks.chunks(BATCH) {
        storage
            .bulk
            .load(workspace, batch)
            .await
            .with_context(|| format!("loading tasks into `{workspace}`"))?;
    }
    Ok(())
}

/// A member of `line` that `task`, read from it, does not have.
fn unknown_member(line: &serde_json::Value, task: &Task) -> Option<String> {
    let serde_json::Value::Object(task) = serde_json::to_value(task).expect("a task serialises")
    else {
        unreachable!("a task serialises as an object")
    };
    line.as_object()?
        .keys()
        .find(|name| !task.contains_key(*name))
        .cloned()
}

/// The largest version a file may give a task: far beyond any real count of writes,
/// and far below where counting further would overflow.
const MAX_VERSION: i64 = 1 << 53;

/// Whether `task` is one the server could have produced: a version it can go on
/// counting from, `completed_at` exactly when it is done, no change before its creation.
fn consistent(task: &Task) -> Result<(), String> {
    if !(1..=MAX_VERSION).contains(&task.version) {
        return Err(format!(
            "task {} has version {}, outside 1 to {MAX_VERSION}",
            task.id, task.version
        ));
    }
    if task.completed_at.is_some() != (task.status == Status::Done) {
        return Err(format!(
            "task {} is {} but {} a completed_at: a task has one exactly when it is done",
            task.id,
            task.status.as_str(),
            if task.completed_at.is_some() {
                "has"
            } else {
                "lacks"
            }
        ));
    }
    if task.updated_at < task.created_at {
        return Err(format!(
            "task {} was updated before it was created",
            task.id
        ));
    }
    Ok(())
}

/// Every task of a JSON lines text, with its line number; the first line that is not
/// a task the store would keep exactly (or repeats an id) refuses the whole file.
fn parse_lines(text: &str) -> anyhow::Result<Vec<(usize, Task)>> {
    let mut tasks = Vec::new();
    let mut seen: HashMap<TaskId, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        // A byte order mark (some editors write one) is not part of the first line.
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        let value: serde_json::Value = serde_json::from_str(line).with_context(|| {
            format!(
                "line {number}: not JSON; nothing imported{}",
                if number == 1 && line.contains(',') {
                    " (a CSV file? name it .csv or pass --csv)"
                } else {
                    ""
                }
            )
        })?;
        let task: Task = serde_json::from_value(value.clone())
            .with_context(|| format!("line {number}: not a task; nothing imported"))?;
        // A member the task does not have (a typo, `asignee`) would be dropped silently.
        if let Some(unknown) = unknown_member(&value, &task) {
            bail!("line {number}: `{unknown}` is not a member of a task; nothing imported");
        }
        storable(&task).with_context(|| format!("line {number}: nothing imported"))?;
        if let Err(reason) = consistent(&task) {
            bail!("line {number}: {reason}; nothing imported");
        }
        if let Some(first) = seen.insert(task.id, number) {
            bail!(
                "line {number}: task {} is on line {first} already; nothing imported",
                task.id
            );
        }
        tasks.push((number, task));
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(title: &str) -> String {
        let task: Task = serde_json::from_value(serde_json::json!({
            "id": TaskId::generate(), "title": title, "description": "", "status": "done",
            "priority": "low", "assignee": null, "labels": [], "due_at": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
            "completed_at": "2026-01-02T00:00:00Z", "version": 3
        }))
        .unwrap();
        serde_json::to_string(&task).unwrap()
    }

    #[test]
    fn tasks_the_server_could_not_have_produced_are_refused() {
        let changed = |member: &str, value: serde_json::Value| {
            let mut task: serde_json::Value = serde_json::from_str(&line("a")).unwrap();
            task[member] = value;
            task.to_string()
        };
        for (member, value, says) in [
            ("version", serde_json::json!(i64::MAX), "version"),
            ("version", serde_json::json!(0), "version"),
            ("status", serde_json::json!("todo"), "completed_at"),
            ("completed_at", serde_json::Value::Null, "completed_at"),
            (
                "updated_at",
                serde_json::json!("2025-01-01T00:00:00Z"),
                "before it was created",
            ),
        ] {
            let error = format!("{:#}", parse_lines(&changed(member, value)).unwrap_err());
            assert!(
                error.starts_with("line 1:") && error.contains(says),
                "{error}"
            );
        }
    }

    #[test]
    fn a_file_is_read_whole_or_refused_naming_the_line() {
        let good = format!("{}\n\n{}\n", line("a"), line("b"));
        let tasks = parse_lines(&good).unwrap();
        assert_eq!(tasks.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 3]);
        let broken = format!("{}\n{{\"title\": \"x\"}}\n", line("a"));
        let error = format!("{:#}", parse_lines(&broken).unwrap_err());
        assert!(error.contains("line 2"), "{error}");
        let blank = line("a").replace("\"title\":\"a\"", "\"title\":\" \"");
        let error = format!("{:#}", parse_lines(&blank).unwrap_err());
        assert!(
            error.contains("line 1") && error.contains("title"),
            "{error}"
        );
        let first = line("a");
        let repeated = format!("{first}\n{first}\n");
        let error = format!("{:#}", parse_lines(&repeated).unwrap_err());
        assert!(
            error.contains("line 2") && error.contains("line 1"),
            "{error}"
        );
    }
}
