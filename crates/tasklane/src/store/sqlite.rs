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
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use super::sql::{self, TaskRow};
use super::{Precondition, Store, StoreError};
use crate::domain::{ListQuery, Scope, Task, TaskId, TaskPatch, Timestamp};

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

async fn fetch_task(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: TaskId,
) -> Result<Option<Task>, StoreError> {
    let row: Option<TaskRow> = sql::select_task::<Sqlite>(scope, id)
        .build_query_as()
        .fetch_optional(conn)
        .await?;
    row.map(Task::try_from).transpose()
}

/// The task a write is about, inside the write's transaction: it must exist and pass
/// the write's precondition. (The single writer connection is the lock.)
async fn fetch_for_write(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: TaskId,
    expected: &Precondition,
) -> Result<Task, StoreError> {
    let current = fetch_task(conn, scope, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    expected.check(current.version)?;
    Ok(current)
}

/// Writes `task`'s row and label rows, and advances the scope's generation.
async fn write_task(
    conn: &mut SqliteConnection,
    scope: &Scope,
    task: &Task,
) -> Result<(), StoreError> {
    sql::upsert_task::<Sqlite>(scope, task)
        .build()
        .execute(&mut *conn)
        .await?;
    sql::delete_labels::<Sqlite>(task.id)
        .build()
        .execute(&mut *conn)
        .await?;
    if let Some(mut labels) = sql::insert_labels::<Sqlite>(scope, task) {
        labels.build().execute(&mut *conn).await?;
    }
    sql::advance_generation::<Sqlite>(scope)
        .build()
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, scope: &Scope, task: &Task) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        write_task(&mut tx, scope, task).await?;
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
        sql::delete_task::<Sqlite>(scope, id)
            .build()
            .execute(&mut *tx)
            .await?;
        sql::advance_generation::<Sqlite>(scope)
            .build()
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn generation(&self, scope: &Scope) -> Result<u64, StoreError> {
        let generation: Option<i64> = sql::read_generation::<Sqlite>(scope)
            .build_query_scalar()
            .fetch_optional(&self.readers)
            .await?;
        Ok(generation.unwrap_or(0) as u64)
    }

    async fn list(&self, scope: &Scope, query: &ListQuery) -> Result<(Vec<Task>, u64), StoreError> {
        let mut tx = self.readers.begin().await?;
        let total: i64 = sql::count::<Sqlite>(scope, query)
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<TaskRow> = sql::page::<Sqlite>(scope, query)
            .build_query_as()
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let tasks = rows
            .into_iter()
            .map(Task::try_from)
            .collect::<Result<_, _>>()?;
        Ok((tasks, total as u64))
    }
}
