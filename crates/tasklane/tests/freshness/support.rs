//! A real store wrapped so a test can count reads, pause a reader between its database
//! query and its cache fill, or slow every read down: a [`Hooked`] store whose hooks are
//! [`Instruments`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::open_store;
use async_trait::async_trait;
use serde_json::json;
use tasklane_server::cache::{
    CacheConfig, CacheError, Consistency, Design, ListRead, RedisTier, TaskCache,
};
use tasklane_server::domain::{ListQuery, NewTask, Task, TaskId, TaskList, TaskPatch, Workspace};
use tasklane_server::store::{Hooked, Hooks, Precondition, StoreError, Write};
use tasklane_server::telemetry::Registry;
use tokio::sync::oneshot;

use crate::common::{TestDatabase, fresh_database};

/// The two ends a test holds while an operation is paused.
pub struct Paused {
    /// Resolves once the operation has reached its pause point.
    pub reached: oneshot::Receiver<()>,
    /// Send to let the operation go on.
    pub release: oneshot::Sender<()>,
}

/// A one-shot pause point: armed by the test, passed by the next operation.
#[derive(Default)]
pub struct Gate(Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>);

impl Gate {
    pub fn arm(&self) -> Paused {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        *self.0.lock().unwrap() = Some((reached_tx, release_rx));
        Paused { reached, release }
    }

    pub async fn pass(&self) {
        let armed = self.0.lock().unwrap().take();
        if let Some((reached, release)) = armed {
            reached.send(()).unwrap();
            release.await.unwrap();
        }
    }
}

/// A real store on a fresh database, instrumented.
pub type InstrumentedStore = Hooked<Instruments>;

/// What a test observes and controls of an [`InstrumentedStore`], and the database it
/// runs on (kept as long as the store).
pub struct Instruments {
    delay: Duration,
    reads: AtomicUsize,
    before_read: Gate,
    after_read: Gate,
    before_update: Gate,
    after_write: Gate,
    after_generation: Gate,
    fail_after_commit: AtomicBool,
    pub database: TestDatabase,
}

/// A store on a fresh database whose reads take `delay` longer after their query.
pub async fn instrumented_store(delay: Duration) -> Arc<InstrumentedStore> {
    let database = fresh_database().await;
    let inner = open_store(&database.url).await.unwrap().tasks;
    let instruments = Instruments {
        delay,
        reads: AtomicUsize::new(0),
        before_read: Gate::default(),
        after_read: Gate::default(),
        before_update: Gate::default(),
        after_write: Gate::default(),
        after_generation: Gate::default(),
        fail_after_commit: AtomicBool::new(false),
        database,
    };
    Arc::new(Hooked::new(inner, instruments))
}

impl Instruments {
    /// Database reads (lists and single tasks) served so far.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Makes the next read stop after its query, before returning its rows.
    pub fn pause_next_read(&self) -> Paused {
        self.after_read.arm()
    }

    /// Makes the next read stop before its query (after its cache lookup).
    pub fn pause_before_next_read(&self) -> Paused {
        self.before_read.arm()
    }

    /// Makes the next update stop before it touches the database.
    pub fn pause_next_update(&self) -> Paused {
        self.before_update.arm()
    }

    /// Makes the next create or update stop after it has committed, before it returns.
    pub fn pause_after_next_write(&self) -> Paused {
        self.after_write.arm()
    }

    /// Makes the next generation read (strict generations) stop after it has read,
    /// before it returns.
    pub fn pause_after_next_generation(&self) -> Paused {
        self.after_generation.arm()
    }

    /// Makes the next update commit and then report a lost connection, as a network
    /// failure between the commit and its acknowledgement does.
    pub fn fail_next_update_after_commit(&self) {
        self.fail_after_commit.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Hooks for Instruments {
    async fn before_read(&self) {
        self.before_read.pass().await;
    }

    async fn after_read(&self) {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.after_read.pass().await;
    }

    async fn before_write(&self, write: Write) {
        if write == Write::Update {
            self.before_update.pass().await;
        }
    }

    async fn after_write(&self, write: Write) -> Result<(), StoreError> {
        if write == Write::Delete {
            return Ok(());
        }
        self.after_write.pass().await;
        if write == Write::Update && self.fail_after_commit.swap(false, Ordering::SeqCst) {
            return Err(
                sqlx::Error::Io(std::io::Error::other("connection lost after commit")).into(),
            );
        }
        Ok(())
    }

    async fn after_generation(&self) {
        self.after_generation.pass().await;
    }
}

/// A cache of the given design and consistency over an instrumented store.
pub async fn cache_with(
    design: Design,
    consistency: Consistency,
    delay: Duration,
) -> (Arc<TaskCache>, Arc<InstrumentedStore>) {
    let store = instrumented_store(delay).await;
    (instance(&store, design, consistency), store)
}

/// Tasklane's cache with in-process generations over an instrumented store.
pub async fn cache(design: Design, delay: Duration) -> (Arc<TaskCache>, Arc<InstrumentedStore>) {
    cache_with(design, Consistency::Local, delay).await
}

/// Another server process's cache over the same database (and the same Redis, for
/// consistencies that share one).
pub fn instance(
    store: &Arc<InstrumentedStore>,
    design: Design,
    consistency: Consistency,
) -> Arc<TaskCache> {
    let config = CacheConfig {
        design,
        consistency,
        ..CacheConfig::default()
    };
    let shared = match consistency {
        Consistency::Local => None,
        Consistency::Strict | Consistency::Redis => store
            .hooks()
            .database
            .redis
            .as_ref()
            .map(|redis| redis.tier()),
    };
    Arc::new(TaskCache::new(store.clone(), shared, &config, &Registry::new()).unwrap())
}

/// An instance with Redis generations over `store`, on the Redis at `url` (key prefix
/// `fault`, calls time out after 200 ms), whose writes' announcements hold for `lease`.
pub fn redis_instance(
    store: &Arc<InstrumentedStore>,
    url: &str,
    lease: Duration,
) -> Arc<TaskCache> {
    let tier = RedisTier::connect(
        url,
        "fault",
        Duration::from_secs(300),
        Duration::from_millis(200),
        &Registry::new(),
    )
    .unwrap();
    let config = CacheConfig {
        consistency: Consistency::Redis,
        write_lease: lease,
        ..CacheConfig::default()
    };
    Arc::new(
        TaskCache::new(
            store.clone(),
            Some(Arc::new(tier)),
            &config,
            &Registry::new(),
        )
        .unwrap(),
    )
}

/// The default workspace and list query, after one task titled "before" was created through
/// `cache`: where most freshness tests start.
pub async fn one_task(cache: &TaskCache) -> (Workspace, ListQuery, Task) {
    let workspace = Workspace::default();
    let task = cache
        .create(&workspace, new_task("before"), None)
        .await
        .unwrap();
    (workspace, ListQuery::default(), task)
}

/// Changes a task's title through `cache`, with no precondition.
pub async fn rename(
    cache: &TaskCache,
    workspace: &Workspace,
    id: TaskId,
    title: &str,
) -> Result<Task, CacheError> {
    cache
        .update(workspace, id, &Precondition::None, &retitle(title), None)
        .await
}

pub fn new_task(title: &str) -> NewTask {
    serde_json::from_value(json!({ "title": title })).unwrap()
}

fn retitle(title: &str) -> TaskPatch {
    serde_json::from_value(json!({ "title": title })).unwrap()
}

/// A full, uncached-by-the-client list read (no `If-None-Match`).
pub async fn list(cache: &TaskCache, workspace: &Workspace, query: &ListQuery) -> TaskList {
    match cache.list(workspace, query, |_| false).await.unwrap() {
        ListRead::Fresh(snapshot) => decode(&snapshot.body),
        ListRead::NotModified(_) => unreachable!("the client sent no ETag"),
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> T {
    serde_json::from_slice(body).unwrap()
}

/// Every task on one page, as (title, version).
pub fn titles(list: &TaskList) -> Vec<String> {
    list.data.iter().map(|task| task.title.clone()).collect()
}
