//! Another store, timed: how long each kind of operation takes (waiting for a
//! connection included), how many the database stopped at the time limit, and how its
//! connection pools are used (and waited for: `pool.rs`), as metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use metrics::{Counter, Gauge, Histogram};

use super::{
    BeforeCommit, GenerationCounters, Idempotency, PoolUsage, Precondition, Store, StoreError,
    Written,
};
use crate::domain::{
    Change, ChangeLog, CursorKey, ListQuery, StoredPage, Task, TaskAt, TaskId, TaskPatch,
    Timestamp, Workspace,
};
use crate::telemetry::Registry;

/// What an operation does, as the `operation` label spells it.
#[derive(Debug, Clone, Copy)]
enum Operation {
    List,
    Get,
    Insert,
    Update,
    Delete,
    Restore,
    Changes,
    History,
    Prune,
    Generation,
    Ping,
}

impl Operation {
    const ALL: [Operation; 11] = [
        Operation::List,
        Operation::Get,
        Operation::Insert,
        Operation::Update,
        Operation::Delete,
        Operation::Restore,
        Operation::Changes,
        Operation::History,
        Operation::Prune,
        Operation::Generation,
        Operation::Ping,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Get => "get",
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::Changes => "changes",
            Operation::History => "history",
            Operation::Prune => "prune",
            Operation::Generation => "generation",
            Operation::Ping => "ping",
        }
    }
}

/// One operation's handles.
struct Handles {
    duration: Histogram,
    timeouts: Counter,
}

/// `inner`, with each operation timed.
pub struct Measured {
    inner: Arc<dyn Store>,
    operations: [Handles; 11],
}

impl Measured {
    /// Wraps `inner`, registering its metrics (and a sampler of its pools) in `registry`.
    pub fn new(inner: Arc<dyn Store>, registry: &Registry) -> Self {
        let operations = Operation::ALL.map(|operation| {
            let labels = [("operation", operation.as_str())];
            Handles {
                duration: registry.histogram(
                    "tasklane_store_operation_duration_seconds",
                    "Time a database operation took, waiting for a connection included, by operation",
                    &labels,
                ),
                timeouts: registry.counter(
                    "tasklane_store_timeouts_total",
                    "Statements the database stopped at the time limit (the request timeout), by operation",
                    &labels,
                ),
            }
        });
        inner.observe_pools(registry);
        let pools = Arc::downgrade(&inner);
        let gauges: Vec<[Gauge; 4]> = inner
            .pools()
            .iter()
            .map(|pool| {
                let gauge = |name, help| registry.gauge(name, help, &[("pool", pool.name)]);
                [
                    gauge(
                        "tasklane_store_pool_connections",
                        "Connections the pool has open",
                    ),
                    gauge("tasklane_store_pool_idle", "Connections open and unused"),
                    gauge(
                        "tasklane_store_pool_in_use",
                        "Connections serving an operation",
                    ),
                    gauge("tasklane_store_pool_max", "Most connections the pool opens"),
                ]
            })
            .collect();
        registry.on_scrape(move || {
            let Some(store) = pools.upgrade() else {
                return;
            };
            for (usage, [size, idle, in_use, max]) in store.pools().iter().zip(&gauges) {
                size.set(f64::from(usage.size));
                idle.set(usage.idle as f64);
                in_use.set(f64::from(usage.size.saturating_sub(usage.idle as u32)));
                max.set(f64::from(usage.max));
            }
        });
        Measured { inner, operations }
    }

    /// Runs `run`, timing it as `operation`.
    async fn measure<T>(
        &self,
        operation: Operation,
        run: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        let handles = &self.operations[operation as usize];
        let started = Instant::now();
        let outcome = run.await;
        handles.duration.record(started.elapsed());
        if let Err(StoreError::TimedOut(_)) = &outcome {
            handles.timeouts.increment(1);
        }
        outcome
    }
}

#[async_trait]
impl Store for Measured {
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
        self.measure(Operation::Insert, insert).await
    }

    async fn get(&self, workspace: &Workspace, id: TaskId) -> Result<Option<TaskAt>, StoreError> {
        self.measure(Operation::Get, self.inner.get(workspace, id))
            .await
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
        self.measure(Operation::Update, update).await
    }

    async fn delete(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<()>, StoreError> {
        let delete = self.inner.delete(workspace, id, expected, before_commit);
        self.measure(Operation::Delete, delete).await
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
        self.measure(Operation::Restore, restore).await
    }

    async fn changes(
        &self,
        workspace: &Workspace,
        since: u64,
        limit: u32,
    ) -> Result<ChangeLog, StoreError> {
        let changes = self.inner.changes(workspace, since, limit);
        self.measure(Operation::Changes, changes).await
    }

    async fn history(
        &self,
        workspace: &Workspace,
        id: TaskId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        let history = self.inner.history(workspace, id, before, limit);
        self.measure(Operation::History, history).await
    }

    async fn prune_changes(&self, cutoff: Timestamp, keep: u64) -> Result<u64, StoreError> {
        let prune = self.inner.prune_changes(cutoff, keep);
        self.measure(Operation::Prune, prune).await
    }

    async fn generation(&self, workspace: &Workspace) -> Result<GenerationCounters, StoreError> {
        let generation = self.inner.generation(workspace);
        self.measure(Operation::Generation, generation).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.measure(Operation::Ping, self.inner.ping()).await
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

    fn observe_pools(&self, registry: &Registry) {
        self.inner.observe_pools(registry);
    }

    async fn list(
        &self,
        workspace: &Workspace,
        query: &ListQuery,
    ) -> Result<StoredPage, StoreError> {
        let list = self.inner.list(workspace, query);
        self.measure(Operation::List, list).await
    }
}
