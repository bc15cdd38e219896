//! A connection pool that tells how long operations wait for its connections, and how
//! many are waiting: what a saturated pool looks like from outside, which the pool's
//! own figures (open, idle) cannot show.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use metrics::{Gauge, Histogram};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};

use crate::telemetry::Registry;

/// The handles of one pool, once it is [observed](MeteredPool::observe).
struct Handles {
    waiting: Gauge,
    acquire: Histogram,
}

/// A pool whose acquisitions are measured once a registry observes it (before that,
/// as for the tools that open a database, they cost an empty check).
pub(super) struct MeteredPool<DB: Database> {
    pool: Pool<DB>,
    handles: Arc<OnceLock<Handles>>,
}

impl<DB: Database> Clone for MeteredPool<DB> {
    fn clone(&self) -> Self {
        MeteredPool {
            pool: self.pool.clone(),
            handles: self.handles.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for MeteredPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pool.fmt(f)
    }
}

impl<DB: Database> Deref for MeteredPool<DB> {
    type Target = Pool<DB>;

    fn deref(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: Database> MeteredPool<DB> {
    /// `pool`, not yet observed.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        MeteredPool {
            pool,
            handles: Arc::default(),
        }
    }

    /// Registers the pool's acquisition metrics in `registry`, as the pool `name`
    /// (once: a second call, for a pool shared by reads and writes, changes nothing).
    pub(super) fn observe(&self, registry: &Registry, name: &'static str) {
        self.handles.get_or_init(|| {
            let labels = [("pool", name)];
            Handles {
                waiting: registry.gauge(
                    "tasklane_store_pool_waiting",
                    "Operations waiting for a connection",
                    &labels,
                ),
                acquire: registry.histogram(
                    "tasklane_store_pool_acquire_duration_seconds",
                    "Time an operation waited for a connection (for a transaction, its BEGIN too)",
                    &labels,
                ),
            }
        });
    }

    /// A connection.
    pub(super) async fn acquire(&self) -> Result<PoolConnection<DB>, sqlx::Error> {
        self.metered(self.pool.acquire()).await
    }

    /// A connection in a transaction.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.metered(self.pool.begin()).await
    }

    /// A connection in a transaction begun with `statement`.
    pub(super) async fn begin_with(
        &self,
        statement: impl Into<Cow<'static, str>>,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.metered(self.pool.begin_with(statement)).await
    }

    async fn metered<T>(&self, acquire: impl Future<Output = T>) -> T {
        let Some(handles) = self.handles.get() else {
            return acquire.await;
        };
        let started = Instant::now();
        let waiting = Waiting::begin(&handles.waiting);
        let acquired = acquire.await;
        drop(waiting);
        handles.acquire.record(started.elapsed());
        acquired
    }
}

/// An operation counted as waiting until it has its connection or is dropped.
struct Waiting<'a>(&'a Gauge);

impl<'a> Waiting<'a> {
    fn begin(gauge: &'a Gauge) -> Self {
        gauge.increment(1.0);
        Waiting(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
