//! The one store implementation, generic over the database.
//!
//! Every statement is built with [`QueryBuilder`], so the placeholders come out right
//! for each database (`?` for SQLite, `$1` for PostgreSQL) while the text stays the
//! same, and every transaction is written once in [`SqlStore`]: the two stores cannot
//! drift apart in what a filter, a sort or a write means. What does differ (row locks,
//! snapshot isolation, pools and pragmas) is a [`Dialect`] and a constructor in
//! `sqlite.rs` and `postgres.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Database, Encode, Pool, QueryBuilder, Type};

use super::counts::count;
use super::log::{
    Entry, GenerationRow, advance_generation, append_changes, changes_after, first_kept,
    prune_beyond, prune_older, read_generation, read_generation_row, task_history,
};
use super::pool::MeteredPool;
use super::row::{COLUMNS, TaskRow, storable};
use super::{
    BeforeCommit, GenerationCounters, Idempotency, OpenError, PoolUsage, Precondition, Store,
    StoreError, Written,
};
use crate::domain::{
    Change, ChangeKind, ChangeLog, CursorKey, Filter, ListQuery, PageRow, Position, SortKey,
    SortValue, StatusSet, StoredPage, Task, TaskAt, TaskId, TaskPatch, Timestamp, Workspace,
    fold_case,
};
use crate::telemetry::Registry;

/// A value both stores can bind.
pub trait Bind<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> + Send + 'static {}
impl<DB: Database, T: for<'q> Encode<'q, DB> + Type<DB> + Send + 'static> Bind<DB> for T {}

type Builder<'args, DB> = QueryBuilder<'args, DB>;

/// `{statement} WHERE id = ? AND workspace = ?`: one task, never another workspace's.
fn one_task<'args, DB: Database>(
    statement: &str,
    workspace: &Workspace,
    id: TaskId,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new(format!("{statement} WHERE id = "));
    sql.push_bind(id.to_string())
        .push(" AND scope = ")
        .push_bind(workspace.as_str().to_owned());
    sql
}

/// `SELECT` one task (the caller may append a locking clause).
pub(super) fn select_task<'args, DB: Database>(
    workspace: &Workspace,
    id: TaskId,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    one_task(&format!("SELECT {COLUMNS} FROM tasks"), workspace, id)
}

/// `SELECT` one task and its workspace's log position (`seq`), in one statement, hence
/// one snapshot.
fn select_task_at<'args, DB: Database>(workspace: &Workspace, id: TaskId) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new(format!(
        "SELECT {COLUMNS}, (SELECT generation FROM scope_generations WHERE scope = "
    ));
    sql.push_bind(workspace.as_str().to_owned())
        .push(") AS seq FROM tasks WHERE id = ")
        .push_bind(id.to_string())
        .push(" AND scope = ")
        .push_bind(workspace.as_str().to_owned());
    sql
}

/// Inserts tasks or replaces their rows.
pub(super) fn upsert_tasks<'args, DB: Database>(
    workspace: &Workspace,
    tasks: &[Task],
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<String>: Bind<DB>,
    Option<i64>: Bind<DB>,
{
    let mut sql = QueryBuilder::new(
        "INSERT INTO tasks (id, scope, title, description, status, priority, assignee, labels, due_at, \
         created_at, updated_at, completed_at, version, title_folded, description_folded) ",
    );
    sql.push_values(tasks, |mut row, task| {
        let stored = TaskRow::of(task);
        row.push_bind(stored.id)
            .push_bind(workspace.as_str().to_owned())
            .push_bind(stored.title)
            .push_bind(stored.description)
            .push_bind(stored.status)
            .push_bind(stored.priority)
            .push_bind(stored.assignee)
            .push_bind(stored.labels)
            .push_bind(stored.due_at)
            .push_bind(stored.created_at)
            .push_bind(stored.updated_at)
            .push_bind(stored.completed_at)
            .push_bind(stored.version)
            .push_bind(fold_case(&task.title))
            .push_bind(fold_case(&task.description));
    });
    sql.push(
        " ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, \
         status = excluded.status, priority = excluded.priority, assignee = excluded.assignee, \
         labels = excluded.labels, due_at = excluded.due_at, updated_at = excluded.updated_at, \
         completed_at = excluded.completed_at, version = excluded.version, title_folded = excluded.title_folded, \
         description_folded = excluded.description_folded",
    );
    sql
}

/// Removes a task's label rows (before writing them anew, or with the task).
pub(super) fn delete_labels<'args, DB: Database>(id: TaskId) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    let mut sql = QueryBuilder::new("DELETE FROM task_labels WHERE task_id = ");
    sql.push_bind(id.to_string());
    sql
}

/// Writes the label rows of tasks; `None` when they have no labels.
pub(super) fn insert_labels<'args, DB: Database>(
    workspace: &Workspace,
    tasks: &[Task],
) -> Option<Builder<'args, DB>>
where
    String: Bind<DB>,
{
    let rows: Vec<(&Task, &String)> = tasks
        .iter()
        .flat_map(|task| task.labels.iter().map(move |label| (task, label)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut sql = QueryBuilder::new("INSERT INTO task_labels (scope, label, task_id) ");
    sql.push_values(rows, |mut row, (task, label)| {
        row.push_bind(workspace.as_str().to_owned())
            .push_bind(label.clone())
            .push_bind(task.id.to_string());
    });
    Some(sql)
}

/// Deletes a task's row (its label rows go with it).
pub(super) fn delete_task<'args, DB: Database>(
    workspace: &Workspace,
    id: TaskId,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
{
    one_task("DELETE FROM tasks", workspace, id)
}

/// The recorded first result of a keyed write, as `{fingerprint} {task JSON}` (the
/// fingerprint is hexadecimal, so the first space separates them), if it
/// was recorded at or after `cutoff`.
pub(super) fn find_idempotency<'args, DB: Database>(
    workspace: &Workspace,
    key: &str,
    cutoff: i64,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql =
        QueryBuilder::new("SELECT fingerprint || ' ' || task FROM idempotency_keys WHERE scope = ");
    sql.push_bind(workspace.as_str().to_owned())
        .push(" AND key = ")
        .push_bind(key.to_owned())
        .push(" AND created_at >= ")
        .push_bind(cutoff);
    sql
}

/// Records a keyed write's result.
pub(super) fn record_idempotency<'args, DB: Database>(
    workspace: &Workspace,
    idempotency: &Idempotency,
    task: &Task,
    now: i64,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, task, created_at) ",
    );
    sql.push_values([task], |mut row, task| {
        row.push_bind(workspace.as_str().to_owned())
            .push_bind(idempotency.key.clone())
            .push_bind(idempotency.fingerprint.clone())
            .push_bind(serde_json::to_string(task).expect("a task always serialises"))
            .push_bind(now);
    });
    sql
}

/// Forgets keys recorded before `cutoff`.
pub(super) fn purge_idempotency<'args, DB: Database>(cutoff: i64) -> Builder<'args, DB>
where
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new("DELETE FROM idempotency_keys WHERE created_at < ");
    sql.push_bind(cutoff);
    sql
}

/// `LIKE` pattern for a substring, with `\` as the escape character.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Appends the `WHERE` clause of `query`'s filters (not its position).
pub(super) fn push_filter<'args, DB: Database>(
    sql: &mut Builder<'args, DB>,
    workspace: &Workspace,
    query: &ListQuery,
) where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let filter = &query.filter;
    sql.push(" WHERE scope = ")
        .push_bind(workspace.as_str().to_owned());
    push_group_filter(sql, filter);
    // Every label given: one index scan per label and one grouping, so the cost grows
    // with the number of labels. (One `IN (subquery)` per label made PostgreSQL plan a
    // join of as many relations, whose planning time grows much faster: 200 labels took
    // over 30 s.) A task's label rows are distinct, so a count equal to the number of
    // labels asked for means it carries all of them.
    if !filter.labels.is_empty() {
        sql.push(" AND id IN (SELECT task_id FROM task_labels WHERE scope = ")
            .push_bind(workspace.as_str().to_owned())
            .push(" AND label IN (");
        let mut list = sql.separated(", ");
        for label in &filter.labels {
            list.push_bind(label.clone());
        }
        let count = i64::try_from(filter.labels.len()).expect("a bounded number of labels");
        sql.push(") GROUP BY task_id HAVING COUNT(*) = ")
            .push_bind(count)
            .push(")");
    }
    // `due_sort` (indexed) is `due_at` with no due date as `SortKey::NO_DUE_DATE`, the
    // largest value: exact for "before"; "at or after" excludes undated tasks explicitly.
    if let Some(before) = filter.due_before {
        sql.push(" AND due_sort < ").push_bind(before.as_micros());
    }
    if let Some(after) = filter.due_after {
        sql.push(" AND due_sort >= ")
            .push_bind(after.as_micros())
            .push(" AND due_at IS NOT NULL");
    }
    // `completed_sort` is `completed_at` the same way.
    if let Some(before) = filter.completed_before {
        sql.push(" AND completed_sort < ")
            .push_bind(before.as_micros());
    }
    if let Some(after) = filter.completed_after {
        sql.push(" AND completed_sort >= ")
            .push_bind(after.as_micros())
            .push(" AND completed_at IS NOT NULL");
    }
    // Both sides are case-folded by the server (`fold_case`, identically for both
    // stores); LIKE only finds the substring, with its wildcards escaped.
    if let Some(text) = &filter.text {
        let pattern = contains_pattern(text);
        sql.push(" AND (title_folded LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR description_folded LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

/// Appends ` AND` a predicate for each of the filters on status, priority and assignee:
/// the columns the tasks table and `task_counts` share, so the same text filters both.
pub(super) fn push_group_filter<'args, DB: Database>(sql: &mut Builder<'args, DB>, filter: &Filter)
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    if !filter.statuses.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str().to_owned());
        }
        sql.push(")");
    }
    if !filter.priorities.is_empty() {
        sql.push(" AND priority IN (");
        let mut list = sql.separated(", ");
        for priority in &filter.priorities {
            list.push_bind(priority.rank());
        }
        sql.push(")");
    }
    // Any of the assignees, and unassigned tasks when asked for: `assignee IN (...)`
    // never matches a NULL, so those are named on their own.
    match (filter.assignees.is_empty(), filter.unassigned) {
        (true, None) => {}
        (true, Some(true)) => {
            sql.push(" AND assignee IS NULL");
        }
        (true, Some(false)) => {
            sql.push(" AND assignee IS NOT NULL");
        }
        (false, unassigned) => {
            sql.push(" AND (assignee IN (");
            let mut list = sql.separated(", ");
            for assignee in &filter.assignees {
                list.push_bind(assignee.clone());
            }
            sql.push(if unassigned == Some(true) {
                ") OR assignee IS NULL)"
            } else {
                "))"
            });
        }
    }
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "created_at",
        SortKey::UpdatedAt => "updated_at",
        SortKey::DueAt => "due_sort",
        SortKey::Priority => "priority",
        SortKey::Title => "title",
        SortKey::CompletedAt => "completed_sort",
    }
}

/// Up to `limit + 1` matching tasks in order, from the query's page or cursor.
pub(super) fn page<'args, DB: Database>(
    workspace: &Workspace,
    query: &ListQuery,
) -> Builder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks"));
    push_filter(&mut sql, workspace, query);
    let column = sort_column(query.sort.key);
    let (direction, beyond) = if query.sort.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let offset = match &query.position {
        Position::Page(number) => i64::from(number - 1) * i64::from(query.limit),
        Position::After(cursor) => {
            sql.push(format!(" AND ({column}, id) {beyond} ("));
            match &cursor.key {
                SortValue::Int(value) => sql.push_bind(*value),
                SortValue::Text(value) => sql.push_bind(value.clone()),
            };
            sql.push(", ").push_bind(cursor.id.clone()).push(")");
            0
        }
    };
    sql.push(format!(
        " ORDER BY {column} {direction}, id {direction} LIMIT "
    ))
    .push_bind(i64::from(query.limit) + 1)
    .push(" OFFSET ")
    .push_bind(offset);
    sql
}

/// What differs between the databases once the SQL is shared.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    /// Appended to the `SELECT` of the task a write is about, to lock its row until the
    /// write commits (empty where writes are already serialised).
    pub lock_for_write: &'static str,
    /// Run first in a list's transaction, so the page and its total share one snapshot
    /// (`None` where every transaction already reads one snapshot).
    pub snapshot: Option<&'static str>,
    /// Opens a write's transaction. SQLite's `BEGIN IMMEDIATE` takes the write lock at
    /// once: a deferred transaction that read first could not upgrade its lock after
    /// another process wrote (`SQLITE_BUSY_SNAPSHOT`, with no wait), which is what two
    /// instances on one file would meet.
    pub begin_write: &'static str,
    /// Appended to the selection of webhooks a sender claims, so that two instances
    /// claiming at once take different ones without waiting (empty where writes are
    /// already serialised).
    pub skip_locked: &'static str,
    /// Whether writes and reads run on pools of their own (SQLite: one writer, several
    /// readers) or share one.
    pub split_pools: bool,
}

/// Tasks in a SQL database: the one implementation of [`Store`], the shared SQL over a
/// writer pool and a reader pool (one pool, twice, where the database needs no split).
#[derive(Debug)]
pub struct SqlStore<DB: Database> {
    pub(super) writer: MeteredPool<DB>,
    pub(super) readers: MeteredPool<DB>,
    pub(super) dialect: Dialect,
    pub(super) cursor_key: CursorKey,
    /// The database's epoch ([`epoch`]).
    pub(super) epoch: u64,
    /// How long a list may run (a server's request timeout), if limited.
    pub(super) limit: Option<Duration>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            readers: self.readers.clone(),
            dialect: self.dialect,
            cursor_key: self.cursor_key.clone(),
            epoch: self.epoch,
            limit: self.limit,
        }
    }
}

impl<DB: Database> SqlStore<DB> {
    /// The pool reads run on (each connection under the store's time limit on
    /// PostgreSQL), for a tool or a test that runs a statement of its own.
    pub fn read_pool(&self) -> &Pool<DB> {
        &self.readers
    }
}

/// Folds again the text of the tasks `refold_pending` lists (written when `q` compared
/// lower-cased text; see that migration), a batch per transaction, so an interrupted
/// run resumes where it stopped and a database with none left costs one empty read.
pub(super) async fn refold_text<DB: Runner>(conn: &mut DB::Connection) -> Result<(), StoreError>
where
    String: Bind<DB>,
{
    const BATCH: usize = 500;
    loop {
        let select = QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM tasks WHERE id IN \
             (SELECT id FROM refold_pending ORDER BY id LIMIT {BATCH})"
        ));
        let rows = DB::fetch_rows(&mut *conn, select).await?;
        if rows.is_empty() {
            return Ok(());
        }
        DB::execute(&mut *conn, QueryBuilder::new("BEGIN")).await?;
        for row in &rows {
            let mut update = QueryBuilder::new("UPDATE tasks SET title_folded = ");
            update
                .push_bind(fold_case(&row.title))
                .push(", description_folded = ")
                .push_bind(fold_case(&row.description))
                .push(" WHERE id = ")
                .push_bind(row.id.clone())
                // A write since the read above folded its new text itself.
                .push(" AND title = ")
                .push_bind(row.title.clone())
                .push(" AND description = ")
                .push_bind(row.description.clone());
            DB::execute(&mut *conn, update).await?;
        }
        let mut done = QueryBuilder::new("DELETE FROM refold_pending WHERE id IN (");
        let mut ids = done.separated(", ");
        for row in &rows {
            ids.push_bind(row.id.clone());
        }
        done.push(")");
        DB::execute(&mut *conn, done).await?;
        DB::execute(&mut *conn, QueryBuilder::new("COMMIT")).await?;
    }
}

/// The key cursors are signed with, from the `server_secrets` table: the first store
/// to open a database generates it, every later one (any instance, any restart) reads
/// that one, so they all accept each other's cursors. Two instances starting at once
/// both insert, one insert wins, and both read the winner's.
pub(super) async fn cursor_key<DB: Runner>(
    conn: &mut DB::Connection,
) -> Result<CursorKey, OpenError>
where
    String: Bind<DB>,
{
    let mut insert =
        QueryBuilder::new("INSERT INTO server_secrets (name, secret) VALUES ('cursor', ");
    insert
        .push_bind(CursorKey::generate().to_hex())
        .push(") ON CONFLICT (name) DO NOTHING");
    let select = QueryBuilder::new("SELECT secret FROM server_secrets WHERE name = 'cursor'");
    DB::execute(&mut *conn, insert)
        .await
        .map_err(OpenError::CursorKey)?;
    let stored = DB::fetch_text(conn, select)
        .await
        .map_err(OpenError::CursorKey)?;
    CursorKey::from_hex(stored.as_deref().unwrap_or_default()).ok_or(OpenError::DamagedCursorKey)
}

/// This database's epoch, from the `server_secrets` table (drawn by the first store to
/// open it, as the cursor key is). Strict consistency counts generations in the
/// database's generation rows, which a restored copy sets back: a copy made to be
/// restored (`tasklane backup`) has the row removed, so the first server that opens it
/// draws another epoch, and no ETag or cache entry from before the restore names a list
/// after it.
pub(super) async fn epoch<DB: Runner>(conn: &mut DB::Connection) -> Result<u64, OpenError>
where
    String: Bind<DB>,
{
    let drawn = uuid::Uuid::new_v4().as_u64_pair().0;
    let mut insert =
        QueryBuilder::new("INSERT INTO server_secrets (name, secret) VALUES ('epoch', ");
    insert
        .push_bind(format!("{drawn:016x}"))
        .push(") ON CONFLICT (name) DO NOTHING");
    let select = QueryBuilder::new("SELECT secret FROM server_secrets WHERE name = 'epoch'");
    DB::execute(&mut *conn, insert)
        .await
        .map_err(OpenError::Epoch)?;
    let stored = DB::fetch_text(conn, select)
        .await
        .map_err(OpenError::Epoch)?;
    stored
        .filter(|text| text.len() == 16)
        .and_then(|text| u64::from_str_radix(&text, 16).ok())
        .ok_or(OpenError::DamagedEpoch)
}

/// How a driver stops a list that runs past the store's limit.
///
/// A list is the one read whose cost grows with the data and the query (a count, a
/// text search over a workspace); every other statement reads or writes rows by key.
#[async_trait]
pub trait Interrupt: Database {
    /// Stops whatever runs on `conn` once `limit` has passed, until the returned guard
    /// is dropped. The default arms nothing: for a database that already ends every
    /// statement of the pool's past the limit by itself.
    async fn arm(
        _conn: &mut Self::Connection,
        _limit: Duration,
    ) -> Result<Option<Armed>, StoreError> {
        Ok(None)
    }
}

/// A deadline armed on a connection for one list: dropping it when the list is done
/// disarms it, without another round trip to the connection, so the connection's
/// later users never meet a deadline long past.
pub struct Armed(Arc<AtomicBool>);

impl Armed {
    /// A new, live guard and the flag its deadline checks.
    pub(super) fn new() -> (Armed, Arc<AtomicBool>) {
        let live = Arc::new(AtomicBool::new(true));
        (Armed(live.clone()), live)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// How the store runs a built statement, for one concrete driver.
///
/// The statements and transactions are generic, but running a [`QueryBuilder`] borrows
/// its arguments in a way generic code cannot name (the driver's argument type is an
/// associated type, so its lifetime cannot be shortened), so each driver gets these
/// four from one macro, [`runner!`].
#[async_trait]
pub trait Runner: Database + Interrupt {
    /// Runs a statement for its effect.
    async fn execute(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<(), StoreError>;
    /// Runs a statement for its effect; how many rows it touched.
    async fn execute_counted(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<u64, StoreError>;
    /// Every task row the statement returns.
    async fn fetch_rows(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Vec<TaskRow>, StoreError>;
    /// Every change-log row the statement returns.
    async fn fetch_changes(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Vec<super::log::ChangeRow>, StoreError>;
    /// Every API token the statement returns.
    async fn fetch_tokens(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Vec<crate::domain::ApiToken>, StoreError>;
    /// Every webhook the statement returns.
    async fn fetch_webhooks(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Vec<super::webhooks::StoredWebhook>, StoreError>;
    /// Every webhook attempt the statement returns.
    async fn fetch_attempts(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Vec<crate::domain::Attempt>, StoreError>;
    /// A single text value, if a row came back.
    async fn fetch_text(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Option<String>, StoreError>;
    /// A workspace's generation row, if there is one.
    async fn fetch_generation_row(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Option<GenerationRow>, StoreError>;
    /// A single integer, if a row came back.
    async fn fetch_integer(
        conn: &mut Self::Connection,
        sql: QueryBuilder<'_, Self>,
    ) -> Result<Option<i64>, StoreError>;
}

macro_rules! runner {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::sql::Runner for $db {
            async fn execute(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<(), $crate::store::StoreError> {
                sql.build().execute(conn).await?;
                Ok(())
            }

            async fn execute_counted(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<u64, $crate::store::StoreError> {
                Ok(sql.build().execute(conn).await?.rows_affected())
            }

            async fn fetch_changes(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Vec<$crate::store::log::ChangeRow>, $crate::store::StoreError> {
                Ok(sql.build_query_as().fetch_all(conn).await?)
            }

            async fn fetch_rows(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Vec<$crate::store::row::TaskRow>, $crate::store::StoreError> {
                Ok(sql.build_query_as().fetch_all(conn).await?)
            }

            async fn fetch_tokens(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Vec<$crate::domain::ApiToken>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::tokens::TokenRow> =
                    sql.build_query_as().fetch_all(conn).await?;
                rows.into_iter()
                    .map($crate::domain::ApiToken::try_from)
                    .collect()
            }

            async fn fetch_webhooks(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Vec<$crate::store::webhooks::StoredWebhook>, $crate::store::StoreError>
            {
                let rows: Vec<$crate::store::webhooks::WebhookRow> =
                    sql.build_query_as().fetch_all(conn).await?;
                rows.into_iter()
                    .map($crate::store::webhooks::StoredWebhook::try_from)
                    .collect()
            }

            async fn fetch_attempts(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Vec<$crate::domain::Attempt>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::webhooks::AttemptRow> =
                    sql.build_query_as().fetch_all(conn).await?;
                rows.into_iter()
                    .map($crate::domain::Attempt::try_from)
                    .collect()
            }

            async fn fetch_text(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(sql.build_query_scalar().fetch_optional(conn).await?)
            }

            async fn fetch_generation_row(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Option<$crate::store::log::GenerationRow>, $crate::store::StoreError> {
                Ok(sql.build_query_as().fetch_optional(conn).await?)
            }

            async fn fetch_integer(
                conn: &mut <$db as sqlx::Database>::Connection,
                mut sql: sqlx::QueryBuilder<'_, $db>,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                Ok(sql.build_query_scalar().fetch_optional(conn).await?)
            }
        }
    };
}
pub(super) use runner;

impl<DB> SqlStore<DB>
where
    DB: Runner,
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<String>: Bind<DB>,
    Option<i64>: Bind<DB>,
{
    /// One task, or `None`; a row that does not read back is an error naming it.
    async fn fetch_task(
        conn: &mut DB::Connection,
        sql: QueryBuilder<'_, DB>,
    ) -> Result<Option<Task>, StoreError> {
        DB::fetch_rows(conn, sql)
            .await?
            .pop()
            .map(Self::readable)
            .transpose()
    }

    /// The task a row holds; a row that does not read back is an error naming it.
    fn readable(row: TaskRow) -> Result<Task, StoreError> {
        Task::try_from(row).map_err(|error| {
            tracing::error!(%error, "a stored task does not read back");
            StoreError::Unreadable(error)
        })
    }

    /// The task a write is about, locked and checked inside the write's transaction.
    async fn fetch_for_write(
        &self,
        conn: &mut DB::Connection,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<Task, StoreError> {
        let mut sql = select_task(workspace, id);
        sql.push(self.dialect.lock_for_write);
        let current = Self::fetch_task(conn, sql)
            .await?
            .ok_or(StoreError::NotFound)?;
        expected.check(current.version)?;
        Ok(current)
    }

    /// What an earlier request under the same key returned, if it is still remembered;
    /// an error if that request was a different one. Which statuses the first request
    /// touched is not kept, so a replay counts as touching every one.
    async fn replay(
        &self,
        conn: &mut DB::Connection,
        workspace: &Workspace,
        idempotency: Option<&Idempotency>,
    ) -> Result<Option<Written<Task>>, StoreError> {
        let Some(idempotency) = idempotency else {
            return Ok(None);
        };
        let cutoff = Timestamp::now().as_micros() - Idempotency::LIFETIME_MICROS;
        let found =
            DB::fetch_text(conn, find_idempotency(workspace, &idempotency.key, cutoff)).await?;
        let Some((fingerprint, task)) = found.as_deref().and_then(|text| text.split_once(' '))
        else {
            return Ok(None);
        };
        if fingerprint != idempotency.fingerprint {
            return Err(StoreError::IdempotencyMismatch);
        }
        let task = serde_json::from_str(task).map_err(|e| {
            StoreError::from(sqlx::Error::Decode(format!("recorded task: {e}").into()))
        })?;
        Ok(Some(Written {
            value: task,
            touched: StatusSet::ALL,
        }))
    }

    /// Records a keyed write's result in its transaction (forgetting expired keys).
    async fn record(
        &self,
        conn: &mut DB::Connection,
        workspace: &Workspace,
        idempotency: Option<&Idempotency>,
        task: &Task,
    ) -> Result<(), StoreError> {
        let Some(idempotency) = idempotency else {
            return Ok(());
        };
        let now = Timestamp::now().as_micros();
        DB::execute(
            &mut *conn,
            purge_idempotency(now - Idempotency::LIFETIME_MICROS),
        )
        .await?;
        DB::execute(
            &mut *conn,
            record_idempotency(workspace, idempotency, task, now),
        )
        .await
    }

    /// A keyed write that lost a race to a concurrent request with the same key (its
    /// record collided, so its transaction rolled back) answers with the winner's result.
    async fn settle(
        &self,
        workspace: &Workspace,
        idempotency: Option<&Idempotency>,
        outcome: Result<Written<Task>, StoreError>,
    ) -> Result<Written<Task>, StoreError> {
        match outcome {
            Err(StoreError::Conflict) if idempotency.is_some() => {
                let mut conn = self.writer.acquire().await?;
                self.replay(&mut conn, workspace, idempotency)
                    .await?
                    .ok_or(StoreError::Conflict)
            }
            outcome => outcome,
        }
    }

    /// Writes `task`'s row and label rows and appends its change (`kind`); refuses a task
    /// that would not read back as it is.
    /// `touched` holds the task's status before the write, if it had one; returns it with
    /// the status after.
    async fn write_task(
        &self,
        conn: &mut DB::Connection,
        workspace: &Workspace,
        task: &Task,
        kind: ChangeKind,
        touched: StatusSet,
    ) -> Result<StatusSet, StoreError> {
        storable(task)?;
        let tasks = std::slice::from_ref(task);
        DB::execute(&mut *conn, upsert_tasks(workspace, tasks)).await?;
        DB::execute(&mut *conn, delete_labels(task.id)).await?;
        if let Some(labels) = insert_labels(workspace, tasks) {
            DB::execute(&mut *conn, labels).await?;
        }
        let touched = touched.with(task.status);
        self.log(conn, workspace, &[Entry::of(kind, task)], touched)
            .await?;
        Ok(touched)
    }

    /// Appends `entries` to the workspace's change log, advancing its generation row by
    /// one for each (so the row's value is the last change's `seq`), and the partitions
    /// of the statuses the changes' tasks left or entered (`touched`) to that value.
    /// Part of every write transaction. (Other instances are woken after the commit, by the feed: a
    /// `NOTIFY` here would serialise the commits of every workspace on PostgreSQL's
    /// notification queue lock while this one holds its generation row.)
    pub(super) async fn log(
        &self,
        conn: &mut DB::Connection,
        workspace: &Workspace,
        entries: &[Entry<'_>],
        touched: StatusSet,
    ) -> Result<(), StoreError> {
        let count = i64::try_from(entries.len()).expect("a bounded batch");
        let seq = DB::fetch_integer(&mut *conn, advance_generation(workspace, count, touched))
            .await?
            .expect("an upsert returns its row");
        DB::execute(
            &mut *conn,
            append_changes(workspace, seq, entries, Timestamp::now()),
        )
        .await
    }
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Runner,
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<String>: Bind<DB>,
    Option<i64>: Bind<DB>,
{
    async fn insert(
        &self,
        workspace: &Workspace,
        task: &Task,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError> {
        let attempt = async {
            let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
            if let Some(first) = self.replay(&mut tx, workspace, idempotency).await? {
                return Ok(first);
            }
            let touched = self
                .write_task(
                    &mut tx,
                    workspace,
                    task,
                    ChangeKind::Created,
                    StatusSet::NONE,
                )
                .await?;
            self.record(&mut tx, workspace, idempotency, task).await?;
            before_commit.committing();
            tx.commit().await?;
            Ok(Written {
                value: task.clone(),
                touched,
            })
        };
        self.settle(workspace, idempotency, attempt.await).await
    }

    async fn get(&self, workspace: &Workspace, id: TaskId) -> Result<Option<TaskAt>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let Some(row) = DB::fetch_rows(&mut conn, select_task_at(workspace, id))
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let seq = row.seq.map_or(0, |seq| seq as u64);
        Ok(Some(TaskAt {
            task: Self::readable(row)?,
            seq,
        }))
    }

    async fn update(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError> {
        let attempt = async {
            let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
            // Before the precondition: a retried `If-Match` write whose first attempt
            // committed would no longer match.
            if let Some(first) = self.replay(&mut tx, workspace, idempotency).await? {
                return Ok(first);
            }
            let current = self
                .fetch_for_write(&mut tx, workspace, id, expected)
                .await?;
            let next = patch.apply(&current, Timestamp::now());
            let mut touched = StatusSet::NONE;
            if let Some(next) = &next {
                let before = StatusSet::NONE.with(current.status);
                touched = self
                    .write_task(&mut tx, workspace, next, ChangeKind::Updated, before)
                    .await?;
            }
            let task = next.unwrap_or(current);
            self.record(&mut tx, workspace, idempotency, &task).await?;
            before_commit.committing();
            tx.commit().await?;
            Ok(Written {
                value: task,
                touched,
            })
        };
        self.settle(workspace, idempotency, attempt.await).await
    }

    async fn delete(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<()>, StoreError> {
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut sql = select_task(workspace, id);
        sql.push(self.dialect.lock_for_write);
        let row = DB::fetch_rows(&mut tx, sql)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        let version = row.version;
        expected.check(version)?;
        // A task whose row does not read back can still be deleted (which is how a user
        // gets rid of one); its change then keeps no state to restore.
        let deleted = Task::try_from(row).ok();
        // A row that does not read back has no status to name: every partition moves.
        let touched = deleted
            .as_ref()
            .map_or(StatusSet::ALL, |task| StatusSet::NONE.with(task.status));
        DB::execute(&mut *tx, delete_task(workspace, id)).await?;
        let entry = Entry {
            kind: ChangeKind::Deleted,
            task_id: id,
            version,
            state: deleted.as_ref(),
        };
        self.log(&mut tx, workspace, &[entry], touched).await?;
        before_commit.committing();
        tx.commit().await?;
        Ok(Written { value: (), touched })
    }

    async fn restore(
        &self,
        workspace: &Workspace,
        id: TaskId,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError> {
        let attempt = async {
            let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
            if let Some(first) = self.replay(&mut tx, workspace, idempotency).await? {
                return Ok(first);
            }
            // The workspace's writes queue behind this one from here (on its generation
            // row's lock), so two restores of one task cannot both find it absent. The
            // task's row is then read without a lock: every write takes its task's row
            // before the generation row, so waiting for a row here could deadlock, and
            // only a write of this workspace (queued behind this one) could create it.
            let mut lock = read_generation(workspace);
            lock.push(self.dialect.lock_for_write);
            DB::fetch_integer(&mut tx, lock).await?;
            let exists = one_task("SELECT version FROM tasks", workspace, id);
            if DB::fetch_integer(&mut tx, exists).await?.is_some() {
                return Err(StoreError::TaskExists);
            }
            let last = DB::fetch_changes(&mut tx, task_history(workspace, id, None, 1))
                .await?
                .pop()
                .filter(|change| change.is_delete());
            let Some(deleted) = last.map(|change| change.state()).transpose()?.flatten() else {
                return Err(StoreError::NotFound);
            };
            let task = Task {
                version: deleted.version + 1,
                updated_at: Timestamp::now().max(deleted.updated_at),
                ..deleted
            };
            let touched = self
                .write_task(
                    &mut tx,
                    workspace,
                    &task,
                    ChangeKind::Created,
                    StatusSet::NONE,
                )
                .await?;
            self.record(&mut tx, workspace, idempotency, &task).await?;
            before_commit.committing();
            tx.commit().await?;
            Ok(Written {
                value: task,
                touched,
            })
        };
        self.settle(workspace, idempotency, attempt.await).await
    }

    async fn changes(
        &self,
        workspace: &Workspace,
        since: u64,
        limit: u32,
    ) -> Result<ChangeLog, StoreError> {
        let mut tx = self.readers.begin().await?;
        if let Some(statement) = self.dialect.snapshot {
            DB::execute(&mut *tx, QueryBuilder::new(statement)).await?;
        }
        let head = DB::fetch_integer(&mut tx, read_generation(workspace)).await?;
        let first = DB::fetch_integer(&mut tx, first_kept(workspace)).await?;
        let rows = DB::fetch_changes(&mut tx, changes_after(workspace, since, limit)).await?;
        tx.commit().await?;
        let head = head.map_or(0, |head| head as u64);
        Ok(ChangeLog {
            changes: rows
                .into_iter()
                .map(Change::try_from)
                .collect::<Result<_, _>>()?,
            head,
            first_kept: first.map_or(head + 1, |first| first as u64),
        })
    }

    async fn history(
        &self,
        workspace: &Workspace,
        id: TaskId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        DB::fetch_changes(&mut conn, task_history(workspace, id, before, limit))
            .await?
            .into_iter()
            .map(Change::try_from)
            .collect()
    }

    async fn prune_changes(&self, cutoff: Timestamp, keep: u64) -> Result<u64, StoreError> {
        // Small batches, each its own statement on a connection taken for it alone:
        // SQLite has a single writer connection, so a write waits for one batch at most,
        // never for the whole prune.
        const BATCH: i64 = 1_000;
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let mut pruned = 0;
        for by_age in [true, false] {
            loop {
                let batch = if by_age {
                    prune_older(cutoff.as_micros(), BATCH)
                } else {
                    prune_beyond(keep, BATCH)
                };
                let deleted =
                    DB::execute_counted(&mut *self.writer.acquire().await?, batch).await?;
                pruned += deleted;
                if deleted < BATCH as u64 {
                    break;
                }
            }
        }
        Ok(pruned)
    }

    /// For SQLite, closing also checkpoints the write-ahead log into the database file.
    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn generation(&self, workspace: &Workspace) -> Result<GenerationCounters, StoreError> {
        let row = DB::fetch_generation_row(
            &mut *self.readers.acquire().await?,
            read_generation_row(workspace),
        )
        .await?;
        Ok(row.map(GenerationCounters::from).unwrap_or_default())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let probe = QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks ORDER BY id LIMIT 1"));
        DB::fetch_rows(&mut *self.readers.acquire().await?, probe).await?;
        Ok(())
    }

    fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn observe_pools(&self, registry: &Registry) {
        if self.dialect.split_pools {
            self.writer.observe(registry, "writer");
            self.readers.observe(registry, "readers");
        } else {
            self.writer.observe(registry, "shared");
        }
    }

    fn pools(&self) -> Vec<PoolUsage> {
        let usage = |name, pool: &MeteredPool<DB>| PoolUsage {
            name,
            size: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        };
        if self.dialect.split_pools {
            vec![
                usage("writer", &self.writer),
                usage("readers", &self.readers),
            ]
        } else {
            vec![usage("shared", &self.writer)]
        }
    }

    async fn list(
        &self,
        workspace: &Workspace,
        query: &ListQuery,
    ) -> Result<StoredPage, StoreError> {
        let mut tx = self.readers.begin().await?;
        let _armed = match self.limit {
            Some(limit) => DB::arm(&mut tx, limit).await?,
            None => None,
        };
        if let Some(statement) = self.dialect.snapshot {
            DB::execute(&mut *tx, QueryBuilder::new(statement)).await?;
        }
        let total = if query.counts_total {
            let total = DB::fetch_integer(&mut tx, count(workspace, query)).await?;
            Some(total.unwrap_or(0) as u64)
        } else {
            None
        };
        let rows = DB::fetch_rows(&mut tx, page(workspace, query)).await?;
        let seq = DB::fetch_integer(&mut tx, read_generation(workspace)).await?;
        tx.commit().await?;
        let rows = rows
            .into_iter()
            .map(|row| PageRow {
                key: row.sort_value(query.sort.key),
                id: row.id.clone(),
                task: Task::try_from(row).inspect_err(|error| {
                    tracing::error!(%error, "a stored task does not read back; lists leave it out");
                }),
            })
            .collect();
        Ok(StoredPage {
            rows,
            total,
            seq: seq.map_or(0, |seq| seq as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both databases sort a task with no due date where the domain says it stands.
    #[test]
    fn due_sort_puts_no_due_date_where_the_domain_does() {
        let rule = format!("COALESCE(due_at, {})", SortKey::NO_DUE_DATE);
        for migration in [
            include_str!("../../migrations/sqlite/0001_tasks.sql"),
            include_str!("../../migrations/postgres/0001_tasks.sql"),
        ] {
            let due_sort = migration
                .lines()
                .find(|line| line.trim_start().starts_with("due_sort"))
                .expect("a due_sort column");
            assert!(due_sort.contains(&rule), "{due_sort}");
        }
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern(r"100%_\x"), r"%100\%\_\\x%");
    }
}
