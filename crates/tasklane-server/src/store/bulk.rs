//! Loading many tasks at once, for `tasklane seed` and `tasklane import`: multi-row
//! inserts in one transaction per batch, each task's creation appended to the change
//! log like any write's (so the workspace's generation advances with the load, and a
//! cache in front of the database never keeps a list from before it); then the
//! query planner's statistics are refreshed. Before a load, it tells whether the
//! workspaces already hold tasks, so that seeding twice is a choice, not an accident,
//! and which of the tasks to import are there already. Reading a workspace whole, in
//! id order, is `tasklane export`'s; copying a SQLite database while it serves is
//! `tasklane backup`'s.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::StoreError;
use super::log::Entry;
use super::row::{COLUMNS, storable};
use super::sql::{Bind, Runner, SqlStore, insert_labels, upsert_tasks};
use crate::domain::{ChangeKind, StatusSet, Task, TaskId, UnreadableTask, Workspace};

/// Rows per `INSERT`: 14 values a task keeps every statement well under both
/// databases' limits on bound parameters.
const ROWS_PER_STATEMENT: usize = 200;

/// Workspaces per `IN (...)` list, well under both databases' limits on bound parameters.
const WORKSPACES_PER_STATEMENT: usize = 500;

/// Where many tasks can be loaded at once.
#[async_trait]
pub trait BulkLoad: Send + Sync + 'static {
    /// Stores `tasks` (new ones) in `workspace`, in one transaction.
    async fn load(&self, workspace: &Workspace, tasks: &[Task]) -> Result<(), StoreError>;

    /// One of `workspaces` that already holds a task, if any does.
    async fn occupied(&self, workspaces: &[Workspace]) -> Result<Option<Workspace>, StoreError>;

    /// Refreshes the query planner's statistics once loading is done. PostgreSQL's
    /// autovacuum would, in a while; until then the loaded table looks nearly empty to
    /// the planner, which then sorts every matching row where an index would read one
    /// page of them. (SQLite's store refreshes them itself when it opens.)
    async fn analyze(&self) -> Result<(), StoreError>;

    /// Up to `limit` of the workspace's tasks with ids after `after`, in id order; a
    /// row that does not read back is its error.
    async fn export(
        &self,
        workspace: &Workspace,
        after: Option<TaskId>,
        limit: u32,
    ) -> Result<Vec<Result<Task, UnreadableTask>>, StoreError>;

    /// Which of `ids` the database holds: the workspace's tasks among them (a row that
    /// does not read back is its error), and any id another workspace holds.
    async fn present(&self, workspace: &Workspace, ids: &[TaskId]) -> Result<Present, StoreError>;

    /// Writes a consistent copy of a SQLite database to `path` (a new file) while it
    /// serves: `VACUUM INTO`, one read transaction's snapshot. SQLite only (the caller
    /// checks): PostgreSQL's own tools (`pg_dump`) copy a PostgreSQL database.
    async fn backup(&self, path: &str) -> Result<(), StoreError>;
}

/// What [`BulkLoad::present`] found.
#[derive(Debug, Default)]
pub struct Present {
    /// The workspace's tasks with these ids.
    pub here: Vec<Result<Task, UnreadableTask>>,
    /// Ids held by another workspace.
    pub elsewhere: Vec<String>,
}

#[async_trait]
impl<DB> BulkLoad for SqlStore<DB>
where
    DB: Runner,
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<String>: Bind<DB>,
    Option<i64>: Bind<DB>,
{
    async fn load(&self, workspace: &Workspace, tasks: &[Task]) -> Result<(), StoreError> {
        // As every write: nothing is stored that would not read back.
        tasks.iter().try_for_each(storable)?;
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        for chunk in tasks.chunks(ROWS_PER_STATEMENT) {
            DB::execute(&mut *tx, upsert_tasks(workspace, chunk)).await?;
            if let Some(labels) = insert_labels(workspace, chunk) {
                DB::execute(&mut *tx, labels).await?;
            }
            let created: Vec<_> = chunk
                .iter()
                .map(|task| Entry::of(ChangeKind::Created, task))
                .collect();
            // A loaded task may replace one whose status is not read here: every
            // partition moves.
            self.log(&mut tx, workspace, &created, StatusSet::ALL)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn occupied(&self, workspaces: &[Workspace]) -> Result<Option<Workspace>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        for chunk in workspaces.chunks(WORKSPACES_PER_STATEMENT) {
            let mut sql = QueryBuilder::<DB>::new("SELECT scope FROM tasks WHERE scope IN (");
            let mut names = sql.separated(", ");
            for workspace in chunk {
                names.push_bind(workspace.as_str().to_owned());
            }
            sql.push(") LIMIT 1");
            if let Some(name) = DB::fetch_text(&mut conn, sql).await? {
                return Ok(Some(Workspace::named(name)));
            }
        }
        Ok(None)
    }

    async fn analyze(&self) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        DB::execute(&mut conn, QueryBuilder::new("ANALYZE")).await
    }

    async fn export(
        &self,
        workspace: &Workspace,
        after: Option<TaskId>,
        limit: u32,
    ) -> Result<Vec<Result<Task, UnreadableTask>>, StoreError> {
        let mut sql =
            QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM tasks WHERE scope = "));
        sql.push_bind(workspace.as_str().to_owned());
        if let Some(after) = after {
            sql.push(" AND id > ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        let mut conn = self.readers.acquire().await?;
        let rows = DB::fetch_rows(&mut conn, sql).await?;
        Ok(rows.into_iter().map(Task::try_from).collect())
    }

    async fn present(&self, workspace: &Workspace, ids: &[TaskId]) -> Result<Present, StoreError> {
        let mut present = Present::default();
        let mut conn = self.readers.acquire().await?;
        for chunk in ids.chunks(WORKSPACES_PER_STATEMENT) {
            let list = |sql: &mut QueryBuilder<'_, DB>| {
                let mut names = sql.separated(", ");
                for id in chunk {
                    names.push_bind(id.to_string());
                }
                sql.push(")");
            };
            let mut here =
                QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM tasks WHERE scope = "));
            here.push_bind(workspace.as_str().to_owned())
                .push(" AND id IN (");
            list(&mut here);
            let rows = DB::fetch_rows(&mut conn, here).await?;
            present.here.extend(rows.into_iter().map(Task::try_from));
            let mut elsewhere = QueryBuilder::<DB>::new("SELECT id FROM tasks WHERE scope <> ");
            elsewhere
                .push_bind(workspace.as_str().to_owned())
                .push(" AND id IN (");
            list(&mut elsewhere);
            elsewhere.push(" LIMIT 1");
            if let Some(id) = DB::fetch_text(&mut conn, elsewhere).await? {
                present.elsewhere.push(id);
            }
        }
        Ok(present)
    }

    async fn backup(&self, path: &str) -> Result<(), StoreError> {
        let mut sql = QueryBuilder::<DB>::new("VACUUM INTO ");
        sql.push_bind(path.to_owned());
        let mut conn = self.readers.acquire().await?;
        DB::execute(&mut conn, sql).await?;
        // The copy will be restored some day, its generation rows back where they stand
        // now: without an epoch of its own, the generations its server counts would
        // name lists (ETags, strict cache entries) this database has since served.
        // Without the row, the first server that opens the copy draws a new epoch.
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let mut copy = sqlx::SqliteConnection::connect_with(&options).await?;
        sqlx::query("DELETE FROM server_secrets WHERE name = 'epoch'")
            .execute(&mut copy)
            .await?;
        copy.close().await?;
        Ok(())
    }
}
