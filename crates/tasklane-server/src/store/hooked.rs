//! Test-only (`baselines` feature): another store with hooks around its reads and
//! writes, to stand in for a loaded database or to stop an operation at a chosen point.
//!
//! The read hooks fall on either side of the query, and the second one before its rows
//! reach the cache, which is exactly the window of the incident's stale fill:
//! [`ReadDelay`] holds every read there (as a loaded database does; `tasklane check`
//! widens the window so that its `stale-fill` scenario hits a broken cache in a short
//! run), and the freshness tests pause a reader there while a writer commits. They also
//! hold a generation read after it has read, while a write is acknowledged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    BeforeCommit, GenerationCounters, Idempotency, PoolUsage, Precondition, Store, StoreError,
    Written,
};
use crate::domain::{
    Change, ChangeLog, CursorKey, ListQuery, StoredPage, Task, TaskAt, TaskId, TaskPatch,
    Timestamp, Workspace,
};

/// A write a hook is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// [`Store::insert`].
    Insert,
    /// [`Store::update`].
    Update,
    /// [`Store::delete`].
    Delete,
    /// [`Store::restore`].
    Restore,
}

/// What a [`Hooked`] store does around the operations it passes on. Every hook does
/// nothing unless overridden.
#[async_trait]
pub trait Hooks: Send + Sync + 'static {
    /// Before a read (a list or a single task) queries the database.
    async fn before_read(&self) {}

    /// After a read's query, before its rows are returned.
    async fn after_read(&self) {}

    /// Before a write reaches the database.
    async fn before_write(&self, _write: Write) {}

    /// After a write has committed, before it returns; an error is returned in place of
    /// the write's result (the write stays committed).
    async fn after_write(&self, _write: Write) -> Result<(), StoreError> {
        Ok(())
    }

    /// Before a workspace's generation (its change log's head) is read.
    async fn before_generation(&self) {}

    /// After a workspace's generation was read, before it is returned.
    async fn after_generation(&self) {}
}

/// Holds every read back by a fixed time after its query.
pub struct ReadDelay(pub Duration);

#[async_trait]
impl Hooks for ReadDelay {
    async fn after_read(&self) {
        tokio::time::sleep(self.0).await;
    }
}

/// Another store, with `hooks` run around its reads and writes.
pub struct Hooked<H> {
    inner: Arc<dyn Store>,
    hooks: H,
}

impl<H: Hooks> Hooked<H> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, hooks: H) -> Self {
        Hooked { inner, hooks }
    }

    /// The hooks, for a test to arm or to read.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// Runs `write` between the write hooks.
    async fn write<T>(
        &self,
        kind: Write,
        write: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        self.hooks.before_write(kind).await;
        let written = write.await?;
        self.hooks.after_write(kind).await?;
        Ok(written)
    }

    /// Runs `read` between the read hooks.
    async fn read<T>(&self, read: impl Future<Output = T> + Send) -> T {
        self.hooks.before_read().await;
        let rows = read.await;
        self.hooks.after_read().await;
        rows
    }
}

#[async_trait]
impl<H: Hooks> Store for Hooked<H> {
    async fn insert(
        &self,
        workspace: &Workspace,
        task: &Task,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError> {
        let insert = self
            .inner
            .insert(workspace, task, idempotency, before_commit);
        self.write(Write::Insert, insert).await
    }

    async fn get(&self, workspace: &Workspace, id: TaskId) -> Result<Option<TaskAt>, StoreError> {
        self.read(self.inner.get(workspace, id)).await
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
        let update = self
            .inner
            .update(workspace, id, expected, patch, idempotency, before_commit);
        self.write(Write::Update, update).await
    }

    async fn delete(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<()>, StoreError> {
        let delete = self.inner.delete(workspace, id, expected, before_commit);
        self.write(Write::Delete, delete).await
    }

    async fn restore(
        &self,
        workspace: &Workspace,
        id: TaskId,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError> {
        let restore = self
            .inner
            .restore(workspace, id, idempotency, before_commit);
        self.write(Write::Restore, restore).await
    }

    async fn changes(
        &self,
        workspace: &Workspace,
        since: u64,
        limit: u32,
    ) -> Result<ChangeLog, StoreError> {
        self.inner.changes(workspace, since, limit).await
    }

    async fn history(
        &self,
        workspace: &Workspace,
        id: TaskId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        self.inner.history(workspace, id, before, limit).await
    }

    async fn prune_changes(&self, cutoff: Timestamp, keep: u64) -> Result<u64, StoreError> {
        self.inner.prune_changes(cutoff, keep).await
    }

    async fn generation(&self, workspace: &Workspace) -> Result<GenerationCounters, StoreError> {
        self.hooks.before_generation().await;
        let generation = self.inner.generation(workspace).await;
        self.hooks.after_generation().await;
        generation
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn cursor_key(&self) -> &CursorKey {
        self.inner.cursor_key()
    }

    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn pools(&self) -> Vec<PoolUsage> {
        self.inner.pools()
    }

    fn observe_pools(&self, registry: &crate::telemetry::Registry) {
        self.inner.observe_pools(registry);
    }

    async fn list(
        &self,
        workspace: &Workspace,
        query: &ListQuery,
    ) -> Result<StoredPage, StoreError> {
        self.read(self.inner.list(workspace, query)).await
    }
}
