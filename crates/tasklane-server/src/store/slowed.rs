//! Test-only (`baselines` feature): a store whose reads take longer, as a loaded
//! database's do. The pause falls after the query and before its rows reach the cache,
//! which is exactly the window of the incident's stale fill; `tasklane check` widens it
//! so that its `stale-fill` scenario hits a broken cache in a short run.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Idempotency, Precondition, Store, StoreError};
use crate::domain::{CursorKey, ListQuery, PageRow, Scope, Task, TaskId, TaskPatch};

/// Another store, with every read (list or single task) held back by `delay` after
/// its query.
pub struct SlowedReads {
    inner: Arc<dyn Store>,
    delay: Duration,
}

impl SlowedReads {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, delay: Duration) -> Self {
        SlowedReads { inner, delay }
    }
}

#[async_trait]
impl Store for SlowedReads {
    async fn insert(
        &self,
        scope: &Scope,
        task: &Task,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, StoreError> {
        self.inner.insert(scope, task, idempotency).await
    }

    async fn get(&self, scope: &Scope, id: TaskId) -> Result<Option<Task>, StoreError> {
        let read = self.inner.get(scope, id).await;
        tokio::time::sleep(self.delay).await;
        read
    }

    async fn update(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, StoreError> {
        self.inner
            .update(scope, id, expected, patch, idempotency)
            .await
    }

    async fn delete(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), StoreError> {
        self.inner.delete(scope, id, expected).await
    }

    async fn generation(&self, scope: &Scope) -> Result<u64, StoreError> {
        self.inner.generation(scope).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn cursor_key(&self) -> &CursorKey {
        self.inner.cursor_key()
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn list(
        &self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<(Vec<PageRow>, Option<u64>), StoreError> {
        let read = self.inner.list(scope, query).await;
        tokio::time::sleep(self.delay).await;
        read
    }
}
