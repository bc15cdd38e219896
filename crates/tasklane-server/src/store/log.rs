//! The change log's statements: appending a write's change in its transaction, reading
//! a workspace's log and a task's history, pruning by age and count.
//!
//! A change's `seq` is the value its write advanced the workspace's generation row to
//! (`advance_generation` returns it). Every write transaction advances that row exactly
//! once per change it appends, and holds the row's lock until it commits (SQLite
//! serialises every write), so within a workspace the `seq`s have no gaps and follow
//! commit order: a snapshot that holds change `n` holds every change before it. That is
//! what lets a reader of the log take "after `seq`" as "everything it has not seen".

use sqlx::{Database, FromRow, QueryBuilder};

use super::StoreError;
use crate::domain::{Change, ChangeKind, Status, StatusSet, Task, TaskId, Timestamp, Workspace};

use super::sql::Bind;

type Builder<'args, DB> = QueryBuilder<'args, DB>;

/// The columns of a [`ChangeRow`], in `SELECT` order.
const CHANGE_COLUMNS: &str = "seq, kind, task_id, version, task, at";

/// One change a write appends.
pub(super) struct Entry<'t> {
    pub kind: ChangeKind,
    pub task_id: TaskId,
    pub version: i64,
    /// The task as the write left it (for a delete: as it was deleted, if it read back).
    pub state: Option<&'t Task>,
}

impl<'t> Entry<'t> {
    /// A create or an update of `task`.
    pub fn of(kind: ChangeKind, task: &'t Task) -> Self {
        Entry {
            kind,
            task_id: task.id,
            version: task.version,
            state: Some(task),
        }
    }
}

/// A `task_changes` row as either database returns it.
#[derive(Debug, FromRow)]
pub struct ChangeRow {
    seq: i64,
    kind: String,
    task_id: String,
    version: i64,
    task: Option<String>,
    at: i64,
}

impl ChangeRow {
    /// The state the row keeps: after the write, or as deleted.
    pub(super) fn state(&self) -> Result<Option<Task>, StoreError> {
        self.task
            .as_deref()
            .map(|json| serde_json::from_str(json).map_err(|e| undecodable("task", e)))
            .transpose()
    }

    /// Whether the row is a delete's.
    pub(super) fn is_delete(&self) -> bool {
        self.kind == ChangeKind::Deleted.as_str()
    }
}

impl TryFrom<ChangeRow> for Change {
    type Error = StoreError;

    fn try_from(row: ChangeRow) -> Result<Change, StoreError> {
        let kind = ChangeKind::parse(&row.kind).ok_or_else(|| undecodable("kind", &row.kind))?;
        Ok(Change {
            seq: u64::try_from(row.seq).map_err(|e| undecodable("seq", e))?,
            kind,
            task_id: row.task_id.parse().map_err(|e| undecodable("task_id", e))?,
            version: row.version,
            // A delete keeps the deleted state for restore; the feed shows none.
            task: match kind {
                ChangeKind::Deleted => None,
                _ => row.state()?,
            },
            at: Timestamp::from_micros(row.at).ok_or_else(|| undecodable("at", row.at))?,
        })
    }
}

fn undecodable(field: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::from(sqlx::Error::Decode(
        format!("a stored change's `{field}`: {reason}").into(),
    ))
}

/// The columns of a workspace's generation row that hold its partitions by status, in
/// the order of [`Status::ALL`]: each is the row's value after the last change whose
/// task left or entered that status (0 before the first).
const PARTITIONS: [&str; 4] = [
    "todo_generation",
    "in_progress_generation",
    "blocked_generation",
    "done_generation",
];

/// Advances the workspace's generation row by `by` (one per change the transaction
/// appends) and moves the partitions of the statuses in `touched` to its new value;
/// returns that value, the last change's `seq`. Part of every write transaction.
pub(super) fn advance_generation<'args, DB: Database>(
    workspace: &Workspace,
    by: i64,
    touched: StatusSet,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new("INSERT INTO scope_generations (scope, generation");
    for column in PARTITIONS {
        sql.push(", ").push(column);
    }
    sql.push(") VALUES (")
        .push_bind(workspace.as_str().to_owned())
        .push(", ")
        .push_bind(by);
    for status in Status::ALL {
        sql.push(", ")
            .push_bind(if touched.contains(status) { by } else { 0 });
    }
    // Every right-hand side reads the row as it was before this statement.
    sql.push(") ON CONFLICT (scope) DO UPDATE SET generation = scope_generations.generation + excluded.generation");
    for (status, column) in Status::ALL.into_iter().zip(PARTITIONS) {
        if touched.contains(status) {
            sql.push(format!(
                ", {column} = scope_generations.generation + excluded.generation"
            ));
        }
    }
    sql.push(" RETURNING generation");
    sql
}

/// Reads the workspace's generation row (no row: 0), which is also its log's head.
pub(super) fn read_generation<'args, DB: Database>(workspace: &Workspace) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new("SELECT generation FROM scope_generations WHERE scope = ");
    sql.push_bind(workspace.as_str().to_owned());
    sql
}

/// Reads the workspace's generation row with its partitions by status.
pub(super) fn read_generation_row<'args, DB: Database>(workspace: &Workspace) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new("SELECT generation");
    for column in PARTITIONS {
        sql.push(", ").push(column);
    }
    sql.push(" FROM scope_generations WHERE scope = ")
        .push_bind(workspace.as_str().to_owned());
    sql
}

/// A workspace's generation row, as [`read_generation_row`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct GenerationRow {
    generation: i64,
    todo_generation: i64,
    in_progress_generation: i64,
    blocked_generation: i64,
    done_generation: i64,
}

impl From<GenerationRow> for super::GenerationCounters {
    fn from(row: GenerationRow) -> Self {
        let counter = |value: i64| u64::try_from(value).unwrap_or(0);
        super::GenerationCounters {
            counter: counter(row.generation),
            by_status: [
                row.todo_generation,
                row.in_progress_generation,
                row.blocked_generation,
                row.done_generation,
            ]
            .map(counter),
        }
    }
}

/// Appends `entries`, numbered up to `last_seq`, committed at `at`.
pub(super) fn append_changes<'args, DB: Database>(
    workspace: &Workspace,
    last_seq: i64,
    entries: &[Entry<'_>],
    at: Timestamp,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<String>: Bind<DB>,
{
    let first = last_seq - entries.len() as i64 + 1;
    let mut sql = QueryBuilder::new(
        "INSERT INTO task_changes (scope, seq, kind, task_id, version, task, at) ",
    );
    sql.push_values(entries.iter().zip(first..), |mut row, (entry, seq)| {
        row.push_bind(workspace.as_str().to_owned())
            .push_bind(seq)
            .push_bind(entry.kind.as_str().to_owned())
            .push_bind(entry.task_id.to_string())
            .push_bind(entry.version)
            .push_bind(
                entry
                    .state
                    .map(|task| serde_json::to_string(task).expect("a task always serialises")),
            )
            .push_bind(at.as_micros());
    });
    sql
}

/// Up to `limit` changes of the workspace after `since`, oldest first.
pub(super) fn changes_after<'args, DB: Database>(
    workspace: &Workspace,
    since: u64,
    limit: u32,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(format!(
        "SELECT {CHANGE_COLUMNS} FROM task_changes WHERE scope = "
    ));
    sql.push_bind(workspace.as_str().to_owned())
        .push(" AND seq > ")
        .push_bind(i64::try_from(since).unwrap_or(i64::MAX))
        .push(" ORDER BY seq LIMIT ")
        .push_bind(i64::from(limit));
    sql
}

/// The oldest `seq` the workspace's log still keeps (no row when it keeps none). Not
/// `MIN(seq)`: over no rows that is one row holding NULL, which SQLite reads back as 0
/// (a log that kept everything) and PostgreSQL refuses to read as a number.
pub(super) fn first_kept<'args, DB: Database>(workspace: &Workspace) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new("SELECT seq FROM task_changes WHERE scope = ");
    sql.push_bind(workspace.as_str().to_owned())
        .push(" ORDER BY seq LIMIT 1");
    sql
}

/// Up to `limit` changes of one task before `before` (if given), newest first.
pub(super) fn task_history<'args, DB: Database>(
    workspace: &Workspace,
    id: TaskId,
    before: Option<u64>,
    limit: u32,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(format!(
        "SELECT {CHANGE_COLUMNS} FROM task_changes WHERE scope = "
    ));
    sql.push_bind(workspace.as_str().to_owned())
        .push(" AND task_id = ")
        .push_bind(id.to_string());
    if let Some(before) = before {
        sql.push(" AND seq < ")
            .push_bind(i64::try_from(before).unwrap_or(i64::MAX));
    }
    sql.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    sql
}

/// Changes, at most `batch` of them, committed before `cutoff` (microseconds).
pub(super) fn prune_older<'args, DB: Database>(cutoff: i64, batch: i64) -> Builder<'args, DB>
where
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(
        "DELETE FROM task_changes WHERE (scope, seq) IN \
         (SELECT scope, seq FROM task_changes WHERE at < ",
    );
    sql.push_bind(cutoff)
        .push(" LIMIT ")
        .push_bind(batch)
        .push(")");
    sql
}

/// Changes, at most `batch` of them, that are more than `keep` behind their workspace's
/// head.
pub(super) fn prune_beyond<'args, DB: Database>(keep: i64, batch: i64) -> Builder<'args, DB>
where
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(
        "DELETE FROM task_changes WHERE (scope, seq) IN \
         (SELECT c.scope, c.seq FROM task_changes c JOIN scope_generations g \
         ON g.scope = c.scope WHERE c.seq <= g.generation - ",
    );
    sql.push_bind(keep)
        .push(" LIMIT ")
        .push_bind(batch)
        .push(")");
    sql
}
