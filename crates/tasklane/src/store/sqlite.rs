//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in-process
//! and a read-modify-write transaction can never fail to upgrade its lock; reads use a
//! separate pool of read-only connections that WAL lets run beside the writer. A list's
//! page and its total are read in one transaction, hence from one snapshot.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::{Precondition, Store, StoreError};
use crate::domain::{
    ListQuery, Position, Priority, Scope, SortKey, SortValue, Task, TaskId, TaskPatch, Timestamp,
    parse_variant,
};

const COLUMNS: &str = "id, title, description, status, priority, assignee, labels, due_at, created_at, updated_at, version";

/// Tasks in a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://tasklane.db`,
    /// `sqlite:///var/lib/tasklane.db`) and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a write acknowledged to a client survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Keep the query planner's statistics current (it picks between the per-sort
            // and per-filter indexes with them).
            .optimize_on_close(true, None);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&writer)
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, readers })
    }

    /// Waits for every connection to be returned and closes the file cleanly.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// A `tasks` row as SQLite returns it.
#[derive(sqlx::FromRow)]
struct TaskRow {
    id: String,
    title: String,
    description: String,
    status: String,
    priority: i64,
    assignee: Option<String>,
    labels: String,
    due_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> Result<Task, StoreError> {
        let corrupt = |what: &str| {
            StoreError::from(sqlx::Error::Decode(
                format!("task {}: bad {what}", row.id).into(),
            ))
        };
        Ok(Task {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            status: parse_variant(&row.status).map_err(|_| corrupt("status"))?,
            priority: Priority::from_rank(row.priority).ok_or_else(|| corrupt("priority"))?,
            labels: serde_json::from_str(&row.labels).map_err(|_| corrupt("labels"))?,
            title: row.title,
            description: row.description,
            assignee: row.assignee,
            due_at: row.due_at.map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
            version: row.version,
        })
    }
}

async fn fetch_task(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: TaskId,
) -> Result<Option<Task>, StoreError> {
    let row: Option<TaskRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE id = ? AND scope = ?"
    ))
    .bind(id.to_string())
    .bind(scope.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(Task::try_from).transpose()
}

/// The task a write is about, inside the write's transaction: it must exist and pass
/// the write's precondition.
async fn fetch_for_write(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: TaskId,
    expected: &Precondition,
) -> Result<Task, StoreError> {
    let current = fetch_task(conn, scope, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if !expected.allows(current.version) {
        return Err(StoreError::VersionMismatch {
            current: current.version,
        });
    }
    Ok(current)
}

/// Advances the scope's generation row: called in every write transaction.
async fn advance_generation(conn: &mut SqliteConnection, scope: &Scope) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scope_generations (scope, generation) VALUES (?, 1) \
         ON CONFLICT (scope) DO UPDATE SET generation = generation + 1",
    )
    .bind(scope.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `task`'s row and its label rows (replacing any earlier ones).
async fn write_task(
    conn: &mut SqliteConnection,
    scope: &Scope,
    task: &Task,
) -> Result<(), StoreError> {
    let id = task.id.to_string();
    sqlx::query(
        "INSERT INTO tasks (id, scope, title, description, status, priority, assignee, labels, due_at, \
         created_at, updated_at, version, title_folded, description_folded) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, \
         status = excluded.status, priority = excluded.priority, assignee = excluded.assignee, \
         labels = excluded.labels, due_at = excluded.due_at, updated_at = excluded.updated_at, \
         version = excluded.version, title_folded = excluded.title_folded, \
         description_folded = excluded.description_folded",
    )
    .bind(&id)
    .bind(scope.as_str())
    .bind(&task.title)
    .bind(&task.description)
    .bind(task.status.as_str())
    .bind(task.priority.rank())
    .bind(&task.assignee)
    .bind(serde_json::to_string(&task.labels).expect("labels serialise"))
    .bind(task.due_at.map(Timestamp::as_micros))
    .bind(task.created_at.as_micros())
    .bind(task.updated_at.as_micros())
    .bind(task.version)
    .bind(task.title.to_lowercase())
    .bind(task.description.to_lowercase())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM task_labels WHERE task_id = ?")
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    for label in &task.labels {
        sqlx::query("INSERT INTO task_labels (scope, label, task_id) VALUES (?, ?, ?)")
            .bind(scope.as_str())
            .bind(label)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Appends the `WHERE` clause of `query`'s filters (not its position).
fn push_filter(sql: &mut QueryBuilder<'_, Sqlite>, scope: &Scope, query: &ListQuery) {
    let filter = &query.filter;
    sql.push(" WHERE scope = ")
        .push_bind(scope.as_str().to_owned());
    if !filter.statuses.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str());
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
    if let Some(assignee) = &filter.assignee {
        sql.push(" AND assignee = ").push_bind(assignee.clone());
    }
    for label in &filter.labels {
        sql.push(" AND id IN (SELECT task_id FROM task_labels WHERE scope = ")
            .push_bind(scope.as_str().to_owned())
            .push(" AND label = ")
            .push_bind(label.clone())
            .push(")");
    }
    // `due_sort` (indexed) is `due_at` with no due date as the largest value: exact for
    // "before"; "at or after" excludes undated tasks explicitly.
    if let Some(before) = filter.due_before {
        sql.push(" AND due_sort < ").push_bind(before.as_micros());
    }
    if let Some(after) = filter.due_after {
        sql.push(" AND due_sort >= ")
            .push_bind(after.as_micros())
            .push(" AND due_at IS NOT NULL");
    }
    if let Some(text) = &filter.text {
        sql.push(" AND (instr(title_folded, ")
            .push_bind(text.clone())
            .push(") > 0 OR instr(description_folded, ")
            .push_bind(text.clone())
            .push(") > 0)");
    }
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "created_at",
        SortKey::UpdatedAt => "updated_at",
        SortKey::DueAt => "due_sort",
        SortKey::Priority => "priority",
        SortKey::Title => "title",
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, scope: &Scope, task: &Task) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        write_task(&mut tx, scope, task).await?;
        advance_generation(&mut tx, scope).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, scope: &Scope, id: TaskId) -> Result<Option<Task>, StoreError> {
        fetch_task(&mut *self.readers.acquire().await?, scope, id).await
    }

    async fn update(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
    ) -> Result<Task, StoreError> {
        let mut tx = self.writer.begin().await?;
        let current = fetch_for_write(&mut tx, scope, id, expected).await?;
        let Some(next) = patch.apply(&current, Timestamp::now()) else {
            return Ok(current);
        };
        write_task(&mut tx, scope, &next).await?;
        advance_generation(&mut tx, scope).await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn delete(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        fetch_for_write(&mut tx, scope, id, expected).await?;
        sqlx::query("DELETE FROM tasks WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        advance_generation(&mut tx, scope).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn generation(&self, scope: &Scope) -> Result<u64, StoreError> {
        let generation: Option<i64> =
            sqlx::query_scalar("SELECT generation FROM scope_generations WHERE scope = ?")
                .bind(scope.as_str())
                .fetch_optional(&self.readers)
                .await?;
        Ok(generation.unwrap_or(0) as u64)
    }

    async fn list(&self, scope: &Scope, query: &ListQuery) -> Result<(Vec<Task>, u64), StoreError> {
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM tasks");
        push_filter(&mut count, scope, query);

        let mut page = QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks"));
        push_filter(&mut page, scope, query);
        let column = sort_column(query.sort.key);
        let (direction, beyond) = if query.sort.descending {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let offset = match &query.position {
            Position::Page(number) => i64::from(number - 1) * i64::from(query.limit),
            Position::After(cursor) => {
                page.push(format!(" AND ({column}, id) {beyond} ("));
                match &cursor.key {
                    SortValue::Int(value) => page.push_bind(*value),
                    SortValue::Text(value) => page.push_bind(value.clone()),
                };
                page.push(", ").push_bind(cursor.id.to_string()).push(")");
                0
            }
        };
        page.push(format!(
            " ORDER BY {column} {direction}, id {direction} LIMIT "
        ))
        .push_bind(i64::from(query.limit) + 1)
        .push(" OFFSET ")
        .push_bind(offset);

        let mut tx = self.readers.begin().await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<TaskRow> = page.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let tasks = rows
            .into_iter()
            .map(Task::try_from)
            .collect::<Result<_, _>>()?;
        Ok((tasks, total as u64))
    }
}
