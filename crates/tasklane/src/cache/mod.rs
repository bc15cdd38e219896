//! The generation-keyed read-through cache: why a list served from it is never stale.
//!
//! # The race it closes
//!
//! A plain cache-aside (read: miss, query, fill; write: commit, delete) loses this way:
//!
//! 1. a reader misses and queries the database (old rows);
//! 2. a writer commits and deletes the cache entry;
//! 3. the reader fills the entry with its old rows, and every later reader gets them.
//!
//! Coalescing loads does not help: the loader's result is inserted whatever happened
//! while it ran, and a delete does not reach a load in flight.
//!
//! # The protocol
//!
//! Every scope has a [generation](generation::Generation) that only moves forward.
//!
//! - **Read** ([`TaskCache::list`], [`TaskCache::get`]): read the scope's generation `g`
//!   *first*; the key embeds it (`tasks:{scope}:g{g}:{digest of the normalised query}`);
//!   on a miss, query the store and fill *that* key. Concurrent misses on one key are
//!   coalesced into one store query.
//! - **Write** ([`TaskCache::create`], [`TaskCache::update`], [`TaskCache::delete`]):
//!   commit to the store *first*, then advance the generation, then return, so the
//!   client's `2xx` is sent only after the advance.
//!
//! # Why no stale entry is ever served
//!
//! An entry under `g` was filled by a query that started after `g` was read, so after
//! every write whose advance produced a generation `<= g` had committed. A write that a
//! client saw acknowledged before a read started had already advanced the generation,
//! so that read sees a generation at least as new, and its key can only hold data
//! queried after the write. The stale fill of step 3 still happens, but under the old
//! generation, which no reader asks for again; the TTL and the size bound reclaim it.
//! Nothing is ever deleted to stay correct, so nothing can be deleted too early.
//!
//! Coalescing is safe for the same reason: every reader that joins a load in flight for
//! the key of `g` has read `g` itself, and the load's query started after its initiator
//! read `g`, so after every write up to `g` had committed. Whoever joins gets a result
//! at least as new as the generation they saw.
//!
//! # Where the generation lives
//!
//! [`Consistency::Local`] keeps it in the process: nothing to read per request, correct
//! while one process serves the database. [`Consistency::Strict`] reads it from a row
//! that each write's own transaction advances, so commit and advance are a single
//! atomic step and any number of processes on one database agree on it, at one indexed
//! read per request.
//!
//! A write in one scope leaves every other scope's entries current. A list's ETag is
//! derived from the generation and the query digest, so `If-None-Match` is answered
//! with `304` without touching the store.

mod generation;
mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::domain::{ListQuery, NewTask, Scope, Task, TaskId, TaskList, TaskPatch, Timestamp};
use crate::store::{Precondition, Store, StoreError};

pub use generation::{DatabaseGenerations, Generation, Generations, InProcessGenerations};
pub use snapshot::{ETag, Snapshot};

/// How the cache keeps itself fresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Design {
    /// Tasklane's design: the generation is part of every key.
    #[default]
    Generational,
    /// Test-only baseline: the plain cache-aside of the incident report. Keys carry no
    /// generation and a write deletes every entry. Loses the race described above.
    #[cfg(feature = "baselines")]
    DeleteOnWrite,
}

/// Where scope generations live, and so which deployments the cache is correct for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Consistency {
    /// In this process ([`InProcessGenerations`]): correct while one process serves the
    /// database; nothing to read per request.
    #[default]
    Local,
    /// In the database ([`DatabaseGenerations`]): correct for any number of processes
    /// on one database; one indexed read per request.
    Strict,
}

/// Sizing and behaviour of the cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Upper bound on the bytes of cached bodies (and their keys).
    pub capacity_bytes: u64,
    /// How long an entry may live; old generations' entries are reclaimed by it.
    pub ttl: Duration,
    /// Where generations live.
    pub consistency: Consistency,
    /// Freshness design (always [`Design::Generational`] outside tests).
    pub design: Design,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity_bytes: 64 << 20,
            ttl: Duration::from_secs(300),
            consistency: Consistency::default(),
            design: Design::default(),
        }
    }
}

/// The outcome of a conditional list read.
#[derive(Debug, Clone)]
pub enum ListRead {
    /// The client's `If-None-Match` names the current list: answer `304`.
    NotModified(ETag),
    /// The current list.
    Fresh(Snapshot),
}

/// Tasks, read through the generation-keyed cache and written with commit-then-advance.
pub struct TaskCache {
    store: Arc<dyn Store>,
    generations: Arc<dyn Generations>,
    entries: Cache<String, Snapshot>,
    design: Design,
}

impl TaskCache {
    /// A cache in front of `store`.
    pub fn new(store: Arc<dyn Store>, config: &CacheConfig) -> Self {
        let entries = Cache::builder()
            .max_capacity(config.capacity_bytes)
            .weigher(|key: &String, snapshot: &Snapshot| snapshot.weight(key))
            .time_to_live(config.ttl)
            .build();
        let generations: Arc<dyn Generations> = match config.consistency {
            Consistency::Local => Arc::new(InProcessGenerations::default()),
            Consistency::Strict => Arc::new(DatabaseGenerations(store.clone())),
        };
        TaskCache {
            store,
            generations,
            entries,
            design: config.design,
        }
    }

    /// One page of tasks, or `NotModified` when `client_has` accepts the current ETag.
    pub async fn list(
        &self,
        scope: &Scope,
        query: &ListQuery,
        client_has: impl FnOnce(&ETag) -> bool,
    ) -> Result<ListRead, StoreError> {
        // 1. The generation, before anything that reads the store.
        let generation = self.generations.current(scope).await?;
        let digest = digest(scope, &query.canonical());
        let etag = ETag::weak(&format!("{generation}-{digest}"));
        if client_has(&etag) {
            return Ok(ListRead::NotModified(etag));
        }
        // 2. On a miss, query; 3. fill the key of the generation read in step 1.
        let key = self.key("tasks", scope, generation, &digest);
        let load = async {
            let (tasks, total) = self.store.list(scope, query).await?;
            let page = TaskList::new(query, tasks, total);
            let body = serde_json::to_vec(&page).expect("a task list always serialises");
            Ok(Snapshot {
                etag,
                body: body.into(),
            })
        };
        let snapshot = self
            .entries
            .try_get_with(key, load)
            .await
            .map_err(unshare)?;
        Ok(ListRead::Fresh(snapshot))
    }

    /// One task, or `None` if the scope has no task with that id.
    pub async fn get(&self, scope: &Scope, id: TaskId) -> Result<Option<Snapshot>, StoreError> {
        let generation = self.generations.current(scope).await?;
        let key = self.key("task", scope, generation, &id.to_string());
        let load = async {
            self.store
                .get(scope, id)
                .await?
                .map(|task| Snapshot::of_task(&task))
                .ok_or(StoreError::NotFound)
        };
        match self.entries.try_get_with(key, load).await.map_err(unshare) {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(StoreError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates a task; returns once it is committed and the generation has advanced.
    pub async fn create(&self, scope: &Scope, new: NewTask) -> Result<Task, StoreError> {
        let task = new.into_task(Timestamp::now());
        let written = self.store.insert(scope, &task).await;
        self.written(scope, &written).await?;
        written.map(|()| task)
    }

    /// Applies a merge patch; returns once it is committed and the generation advanced.
    pub async fn update(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
    ) -> Result<Task, StoreError> {
        let written = self.store.update(scope, id, expected, patch).await;
        self.written(scope, &written).await?;
        written
    }

    /// Deletes a task; returns once it is committed and the generation has advanced.
    pub async fn delete(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), StoreError> {
        let written = self.store.delete(scope, id, expected).await;
        self.written(scope, &written).await?;
        written
    }

    /// The step between commit and response: advance the scope's generation. If the
    /// advance cannot be confirmed, the write is not reported as a success.
    ///
    /// Only an error that proves nothing was written (no such task, failed
    /// precondition) skips it; a database error may have come after the commit, so the
    /// generation advances then too.
    async fn written<T>(
        &self,
        scope: &Scope,
        outcome: &Result<T, StoreError>,
    ) -> Result<(), StoreError> {
        if matches!(
            outcome,
            Err(StoreError::NotFound | StoreError::VersionMismatch { .. })
        ) {
            return Ok(());
        }
        self.generations.advance(scope).await?;
        #[cfg(feature = "baselines")]
        if self.design == Design::DeleteOnWrite {
            self.entries.invalidate_all();
        }
        Ok(())
    }

    fn key(&self, kind: &str, scope: &Scope, generation: Generation, item: &str) -> String {
        match self.design {
            Design::Generational => format!("{kind}:{scope}:g{generation}:{item}"),
            #[cfg(feature = "baselines")]
            Design::DeleteOnWrite => format!("{kind}:{scope}:{item}"),
        }
    }
}

/// The digest of a normalised query within a scope: the scope is hashed in so that two
/// scopes asking the same question never share a key or an ETag.
fn digest(scope: &Scope, canonical_query: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(canonical_query.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

/// Coalesced loads share one error; every waiter gets its own copy.
fn unshare(error: Arc<StoreError>) -> StoreError {
    StoreError::clone(&error)
}
