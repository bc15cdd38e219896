//! Loading many tasks at once, for `tasklane seed`: multi-row inserts in one
//! transaction per batch, each task's creation appended to the change log like any
//! write's (so the workspace's generation advances with the load, and a cache in front
//! of the database never keeps a list from before it); then the
//! query planner's statistics are refreshed. Before a load, it tells whether the
//! workspaces already hold tasks, so that seeding twice is a choice, not an accident.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::StoreError;
use super::log::Entry;
use super::row::storable;
use super::sql::{Bind, Runner, SqlStore, insert_labels, upsert_tasks};
use crate::domain::{ChangeKind, Task, Workspace};

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
            self.log(&mut tx, workspace, &created).await?;
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
}
