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
//! - [`Consistency::Local`] keeps it in the process: nothing to read per request,
//!   correct while one process serves the database.
//! - [`Consistency::Redis`] keeps it in Redis ([`RedisTier`]), shared by every
//!   instance: one round trip per read returns the generation and the entry filed
//!   under it.
//! - [`Consistency::Strict`] reads it from a row that each write's own transaction
//!   advances, so commit and advance are a single atomic step that survives even a
//!   Redis that loses writes, at one indexed database read per request.
//!
//! Entries live in this process (which also coalesces misses) and, with a Redis, in
//! Redis too, where every instance finds what any of them filled. Both are keyed by
//! generation, so neither can serve an entry of an older one.
//!
//! # When Redis fails
//!
//! A read that cannot obtain a generation it can trust goes to the database and caches
//! nothing; for a second after a failed call, reads do not even ask Redis. A write whose
//! advance cannot be confirmed is reported as unconfirmed (a `503`), never as a success,
//! and from then on this instance reads only from the database until an advance lands
//! again.
//!
//! # Monotonic reads
//!
//! Between a write's commit and its advance, two entries under one generation could
//! disagree (one filled before the commit, one after), and a client could see the
//! write, then not. So while a write is in flight in this process, reads of its scope
//! here bypass the cache and read the database, which never goes back. In strict
//! consistency commit and advance are one step, so there is no such window (reads never
//! bypass) and this holds across instances too;
//! with Redis generations another instance may, for the length of that one round trip,
//! still serve the entry from before a write that is not yet acknowledged.
//!
//! A write in one scope leaves every other scope's entries current. A list's ETag is
//! derived from the generation and the query digest, so `If-None-Match` is answered
//! with `304` without touching the store.

mod generation;
mod redis;
mod snapshot;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use moka::{future::Cache, policy::EvictionPolicy};
use sha2::{Digest, Sha256};

use crate::domain::{
    CursorKey, ListQuery, NewTask, Scope, Task, TaskId, TaskList, TaskPatch, Timestamp,
};
use crate::store::{Idempotency, Precondition, Store, StoreError};

pub use generation::{Generation, InProcessGenerations};
pub use redis::RedisTier;
pub use snapshot::{ETag, Snapshot};

use redis::EntryKey;

/// How the cache keeps itself fresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Design {
    /// Tasklane's design: the generation is part of every key.
    #[default]
    Generational,
    /// Test-only baseline: the plain cache-aside of the incident report. Keys carry no
    /// generation and a write deletes every entry. Loses the race described above.
    #[cfg(feature = "baselines")]
    DeleteOnWrite,
    /// Test-only baseline: the incident report's single version for everything. Keys
    /// embed one generation that every write, in any scope, advances, so a write in
    /// one workspace empties every workspace's cache. Fresh, but wasteful; in-process
    /// generations only.
    #[cfg(feature = "baselines")]
    GlobalGeneration,
}

/// Where scope generations live, and so which deployments the cache is correct for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Consistency {
    /// In this process: correct while one process serves the database; nothing to read
    /// per request.
    Local,
    /// In Redis: correct for any number of processes sharing the Redis; one Redis round
    /// trip per request.
    Redis,
    /// In the database: correct for any number of processes on one database, even if
    /// Redis loses writes; one indexed database read per request.
    Strict,
}

/// A cache set-up that cannot keep the freshness contract.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Redis generations without a Redis.
    #[error("consistency `redis` needs a Redis URL")]
    RedisWithoutUrl,
    /// In-process generations in front of a shared tier: the incident report's design.
    #[error(
        "consistency `local` cannot be combined with a Redis: each instance would keep its own \
         generation in front of shared entries; use `redis` or `strict`"
    )]
    LocalWithShared,
    /// The single-generation baseline is only built for in-process generations.
    #[cfg(feature = "baselines")]
    #[error("the `global-generation` design needs consistency `local` without a Redis")]
    GlobalNeedsLocal,
}

/// Sizing and behaviour of the cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Upper bound on the bytes of cached bodies (and their keys) in this process; 0
    /// turns caching off (every read queries the database; nothing is kept anywhere).
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
            consistency: Consistency::Local,
            design: Design::default(),
        }
    }
}

/// Why a cached operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write reached the store, but its generation could not be advanced, so it
    /// must not be acknowledged.
    #[error("the write was committed but its generation could not be advanced")]
    Unconfirmed,
}

/// The outcome of a conditional list read.
#[derive(Debug, Clone)]
pub enum ListRead {
    /// The client's `If-None-Match` names the current list: answer `304`.
    NotModified(ETag),
    /// The current list.
    Fresh(Snapshot),
}

/// The state of the cache, for readiness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// Serving from the cache.
    Ok,
    /// Serving from the database only (Redis is not answering, or an advance has not
    /// been confirmed since it failed).
    Degraded,
}

/// A generation, the key of an entry under it, and the entry if a shared tier returned
/// it in the same step.
struct Located {
    generation: Generation,
    key: String,
    entry: Option<Snapshot>,
}

/// Counters of reads, for the hit ratio.
#[derive(Default)]
struct ReadStats {
    reads: AtomicU64,
    loads: AtomicU64,
}

/// Where this cache reads and advances generations: [`Consistency`], resolved.
enum Generations {
    Local(InProcessGenerations),
    Redis(Arc<RedisTier>),
    /// The store's generation row, advanced by each write's own transaction.
    Strict,
}

/// Tasks, read through the generation-keyed cache and written with commit-then-advance.
pub struct TaskCache {
    store: Arc<dyn Store>,
    generations: Generations,
    entries: Cache<String, Snapshot>,
    shared: Option<Arc<RedisTier>>,
    design: Design,
    /// Caching is off: every read goes to the store.
    off: bool,
    /// Reads served, and how many of them queried the store.
    stats: ReadStats,
    /// Writes in flight in this process, per scope: their scope's reads bypass the
    /// cache until they have advanced (see "Monotonic reads" above).
    writing: DashMap<Scope, usize>,
    /// Whether `writing` is kept: not for strict generations (commit and advance are one
    /// step, so there is no window to cover) nor for the plain cache-aside baseline
    /// (which must keep its race).
    tracks_writes: bool,
    /// An advance failed: no cached read is trusted until one lands.
    unconfirmed: AtomicBool,
    /// When the last call to Redis failed (`None` once one succeeds again).
    redis_failed_at: Mutex<Option<Instant>>,
}

/// How long reads and fills leave Redis alone after a call to it failed, so that an
/// outage costs each request a database read, not a Redis timeout too. Writes still try
/// their advance every time, which is also how recovery is noticed.
const REDIS_BACKOFF: Duration = Duration::from_secs(1);

impl TaskCache {
    /// A cache in front of `store`, with entries shared through `shared` if given.
    pub fn new(
        store: Arc<dyn Store>,
        shared: Option<Arc<RedisTier>>,
        config: &CacheConfig,
    ) -> Result<Self, ConfigError> {
        let generations = match (config.consistency, &shared) {
            (Consistency::Local, None) => Generations::Local(InProcessGenerations::default()),
            (Consistency::Local, Some(_)) => return Err(ConfigError::LocalWithShared),
            (Consistency::Redis, Some(tier)) => Generations::Redis(tier.clone()),
            (Consistency::Redis, None) => return Err(ConfigError::RedisWithoutUrl),
            (Consistency::Strict, _) => Generations::Strict,
        };
        #[cfg(feature = "baselines")]
        if config.design == Design::GlobalGeneration
            && !matches!(generations, Generations::Local(_))
        {
            return Err(ConfigError::GlobalNeedsLocal);
        }
        let tracks_writes = !matches!(generations, Generations::Strict);
        #[cfg(feature = "baselines")]
        let tracks_writes = tracks_writes && config.design != Design::DeleteOnWrite;
        let entries = Cache::builder()
            // Every write strands its scope's entries under the old generation's keys;
            // no read asks for them again. Least-recently-used eviction drops those
            // first. Moka's default, TinyLFU, admits a key only once it is more popular
            // than the victim, so a full cache would keep the stranded entries (read
            // often before the write) and refuse the new generation's (never seen).
            .eviction_policy(EvictionPolicy::lru())
            .max_capacity(config.capacity_bytes)
            .weigher(|key: &String, snapshot: &Snapshot| snapshot.weight(key))
            .time_to_live(config.ttl)
            .build();
        Ok(TaskCache {
            store,
            generations,
            entries,
            shared,
            design: config.design,
            off: config.capacity_bytes == 0,
            stats: ReadStats::default(),
            writing: DashMap::new(),
            tracks_writes,
            unconfirmed: AtomicBool::new(false),
            redis_failed_at: Mutex::new(None),
        })
    }

    /// One page of tasks, or `NotModified` when `client_has` accepts the current ETag.
    pub async fn list(
        &self,
        scope: &Scope,
        query: &ListQuery,
        client_has: impl FnOnce(&ETag) -> bool,
    ) -> Result<ListRead, CacheError> {
        let digest = digest(scope, &query.canonical());
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let load = |etag: Option<ETag>| async move {
            self.stats.loads.fetch_add(1, Ordering::Relaxed);
            let (rows, total) = self.store.list(scope, query).await?;
            let page = TaskList::new(query, rows, total, self.store.cursor_key());
            let body = serde_json::to_vec(&page).expect("a task list always serialises");
            // Without a generation, the ETag names the content itself.
            let etag = etag.unwrap_or_else(|| {
                ETag::weak(&format!("c-{}", hex::encode(&Sha256::digest(&body)[..16])))
            });
            Ok(Snapshot {
                etag,
                body: body.into(),
            })
        };
        // 1. The generation, before anything that reads the store.
        let Some(found) = self.locate(scope, "tasks", &digest).await? else {
            let snapshot = load(None).await?;
            return Ok(conditional(snapshot, client_has));
        };
        let etag = ETag::weak(&format!("{}-{digest}", found.generation));
        if client_has(&etag) {
            return Ok(ListRead::NotModified(etag));
        }
        if let Some(entry) = found.entry {
            return Ok(ListRead::Fresh(entry));
        }
        // 2. On a miss, query; 3. fill the key of the generation read in step 1.
        Ok(ListRead::Fresh(
            self.fill(found.key, load(Some(etag))).await?,
        ))
    }

    /// One task, or `None` if the scope has no task with that id.
    pub async fn get(&self, scope: &Scope, id: TaskId) -> Result<Option<Snapshot>, CacheError> {
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let load = async {
            self.stats.loads.fetch_add(1, Ordering::Relaxed);
            let task = self
                .store
                .get(scope, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            Ok(Snapshot::of_task(&task))
        };
        let read = match self.locate(scope, "task", &id.to_string()).await? {
            None => load.await,
            Some(Located {
                entry: Some(entry), ..
            }) => Ok(entry),
            Some(found) => self.fill(found.key, load).await,
        };
        match read {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(StoreError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Creates a task; returns once it is committed and the generation has advanced.
    ///
    /// A retry under the same `Idempotency-Key` returns the first result, also only
    /// after an advance: the first attempt may have committed without one.
    pub async fn create(
        &self,
        scope: &Scope,
        new: NewTask,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, CacheError> {
        let task = new.into_task(Timestamp::now());
        let in_flight = self.in_flight(scope);
        let written = self.store.insert(scope, &task, idempotency).await;
        in_flight.settle(self.written(scope, &written).await)?;
        Ok(written?)
    }

    /// Applies a merge patch; returns once it is committed and the generation advanced
    /// (retries under an `Idempotency-Key` as for [`TaskCache::create`]).
    pub async fn update(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, CacheError> {
        let in_flight = self.in_flight(scope);
        let written = self
            .store
            .update(scope, id, expected, patch, idempotency)
            .await;
        in_flight.settle(self.written(scope, &written).await)?;
        Ok(written?)
    }

    /// Deletes a task; returns once it is committed and the generation has advanced.
    pub async fn delete(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), CacheError> {
        let in_flight = self.in_flight(scope);
        let written = self.store.delete(scope, id, expected).await;
        in_flight.settle(self.written(scope, &written).await)?;
        Ok(written?)
    }

    /// Reads served since start (lists and single tasks, `304`s included), and how
    /// many of them queried the database; the rest were answered from the cache.
    pub fn read_counts(&self) -> (u64, u64) {
        (
            self.stats.reads.load(Ordering::Relaxed),
            self.stats.loads.load(Ordering::Relaxed),
        )
    }

    /// Whether the database serves reads now; if not, why.
    pub async fn ping_database(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The key `cursor` parameters must be signed with: the store's, so that every
    /// instance on one database accepts the cursors of every other.
    pub fn cursor_key(&self) -> &CursorKey {
        self.store.cursor_key()
    }

    /// Whether reads are being served through the cache right now.
    pub async fn health(&self) -> CacheHealth {
        if let Some(shared) = &self.shared {
            self.redis(shared.ping().await);
        }
        let redis_down = self.redis_failed_at.lock().expect("not poisoned").is_some();
        if self.unconfirmed.load(Ordering::SeqCst) || redis_down {
            CacheHealth::Degraded
        } else {
            CacheHealth::Ok
        }
    }

    /// Reads the scope's generation (and, from Redis, the entry under it in the same
    /// round trip). `None`: there is no generation this instance can trust right now,
    /// so the read must bypass every cache.
    async fn locate(
        &self,
        scope: &Scope,
        kind: &str,
        item: &str,
    ) -> Result<Option<Located>, StoreError> {
        if self.off || self.unconfirmed.load(Ordering::SeqCst) || self.write_in_flight(scope) {
            return Ok(None);
        }
        let before = format!("{kind}:{scope}:g");
        let after = format!(":{item}");
        let (generation, entry) = match &self.generations {
            Generations::Local(local) => (local.current(self.counted(scope)), None),
            Generations::Strict => {
                let generation = Generation::new(0, self.store.generation(scope).await?);
                let entry = match &self.shared {
                    Some(shared) if !self.redis_resting() => self
                        .redis(shared.get(&self.key(&before, generation, &after)).await)
                        .flatten(),
                    _ => None,
                };
                (generation, entry)
            }
            Generations::Redis(tier) => {
                let entry_key = EntryKey {
                    before: &before,
                    after: &after,
                };
                let entry_key = (self.design == Design::Generational).then_some(entry_key);
                if self.redis_resting() {
                    return Ok(None);
                }
                match self.redis(tier.lookup(scope, entry_key).await) {
                    Some(found) => found,
                    None => return Ok(None),
                }
            }
        };
        let key = self.key(&before, generation, &after);
        Ok(Some(Located {
            generation,
            key,
            entry,
        }))
    }

    /// On a miss: one load per key at a time in this process, its result kept here and
    /// filed in the shared tier for the other instances.
    async fn fill(
        &self,
        key: String,
        load: impl Future<Output = Result<Snapshot, StoreError>>,
    ) -> Result<Snapshot, StoreError> {
        let shared_key = key.clone();
        let load_and_share = async {
            let snapshot = load.await?;
            if let Some(shared) = &self.shared
                && !self.redis_resting()
            {
                self.redis(shared.put(&shared_key, &snapshot).await);
            }
            Ok(snapshot)
        };
        self.entries
            .try_get_with(key, load_and_share)
            .await
            .map_err(unshare)
    }

    /// The step between commit and response: advance the scope's generation. If the
    /// advance cannot be confirmed, the write is not reported as a success.
    ///
    /// Only an error that proves nothing was written (no such task, failed
    /// precondition, a key used for another request, a lost race, a task that does not
    /// read back) skips it; a database error may have come after the commit, so the
    /// generation advances then too.
    async fn written<T>(
        &self,
        scope: &Scope,
        outcome: &Result<T, StoreError>,
    ) -> Result<(), CacheError> {
        if matches!(
            outcome,
            Err(StoreError::NotFound
                | StoreError::VersionMismatch { .. }
                | StoreError::IdempotencyMismatch
                | StoreError::Conflict
                | StoreError::Unreadable(_)
                | StoreError::Unstorable(_))
        ) {
            return Ok(());
        }
        let advanced = match &self.generations {
            Generations::Local(local) => {
                local.advance(self.counted(scope));
                Some(())
            }
            Generations::Strict => Some(()), // the write's own transaction advanced it
            Generations::Redis(tier) => self.redis(tier.advance(scope).await),
        };
        if advanced.is_none() {
            self.unconfirmed.store(true, Ordering::SeqCst);
            return Err(CacheError::Unconfirmed);
        }
        self.unconfirmed.store(false, Ordering::SeqCst);
        #[cfg(feature = "baselines")]
        if self.design == Design::DeleteOnWrite {
            self.entries.invalidate_all();
        }
        Ok(())
    }

    /// Whether a write is in flight in `scope` here, so its reads must bypass the cache.
    fn write_in_flight(&self, scope: &Scope) -> bool {
        self.tracks_writes && self.writing.contains_key(scope)
    }

    /// Marks a write as started; see [`InFlight`].
    fn in_flight<'a>(&'a self, scope: &'a Scope) -> InFlight<'a> {
        if self.tracks_writes {
            *self.writing.entry(scope.clone()).or_insert(0) += 1;
        }
        InFlight {
            cache: self,
            scope,
            settled: false,
        }
    }

    /// Notes how a call to Redis went; `None` if it failed (logged once per outage).
    fn redis<T>(&self, outcome: Result<T, ::redis::RedisError>) -> Option<T> {
        let mut failed_at = self.redis_failed_at.lock().expect("not poisoned");
        match outcome {
            Ok(value) => {
                if failed_at.take().is_some() {
                    tracing::info!("Redis answers again");
                }
                Some(value)
            }
            Err(error) => {
                if failed_at.replace(Instant::now()).is_none() {
                    tracing::warn!(%error, "Redis is not answering; serving from the database");
                }
                None
            }
        }
    }

    /// Whether a Redis call failed less than [`REDIS_BACKOFF`] ago.
    fn redis_resting(&self) -> bool {
        let failed_at = self.redis_failed_at.lock().expect("not poisoned");
        failed_at.is_some_and(|at| at.elapsed() < REDIS_BACKOFF)
    }

    /// The scope whose generation counts writes to `scope`: itself, except in the
    /// single-generation baseline.
    fn counted<'a>(&self, scope: &'a Scope) -> &'a Scope {
        #[cfg(feature = "baselines")]
        if self.design == Design::GlobalGeneration {
            static EVERYTHING: std::sync::OnceLock<Scope> = std::sync::OnceLock::new();
            return EVERYTHING.get_or_init(|| Scope::named("*"));
        }
        scope
    }

    fn key(&self, before: &str, generation: Generation, after: &str) -> String {
        match self.design {
            Design::Generational => format!("{before}{generation}{after}"),
            #[cfg(feature = "baselines")]
            Design::GlobalGeneration => format!("{before}{generation}{after}"),
            #[cfg(feature = "baselines")]
            Design::DeleteOnWrite => format!("{before}{after}"),
        }
    }
}

/// A write between its start and its advance. If its future is dropped there (the
/// server stopping mid-request; HTTP requests otherwise run to their end, even without
/// their client), the commit may have happened without
/// the advance that must follow it, so dropping this makes up for it: in-process
/// generations advance at once; with Redis generations the instance stops trusting its
/// cache until an advance lands, as when an advance fails. (Strict generations advance
/// inside the write's own transaction: nothing to make up.)
struct InFlight<'a> {
    cache: &'a TaskCache,
    scope: &'a Scope,
    settled: bool,
}

impl InFlight<'_> {
    /// The write ran to its end (advanced, or reported unconfirmed).
    fn settle<T>(mut self, outcome: T) -> T {
        self.settled = true;
        outcome
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.settled {
            match &self.cache.generations {
                Generations::Local(local) => local.advance(self.cache.counted(self.scope)),
                Generations::Redis(_) => self.cache.unconfirmed.store(true, Ordering::SeqCst),
                Generations::Strict => {}
            }
        }
        let writing = &self.cache.writing;
        if let Some(mut count) = writing.get_mut(self.scope) {
            *count -= 1;
        }
        writing.remove_if(self.scope, |_, count| *count == 0);
    }
}

/// Answers a conditional read from a snapshot already in hand.
fn conditional(snapshot: Snapshot, client_has: impl FnOnce(&ETag) -> bool) -> ListRead {
    if client_has(&snapshot.etag) {
        ListRead::NotModified(snapshot.etag)
    } else {
        ListRead::Fresh(snapshot)
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
