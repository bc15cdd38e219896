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
//!   under it (a miss adds the fill's check-and-set).
//! - [`Consistency::Strict`] reads it from a row that each write's own transaction
//!   advances, so commit and advance are a single atomic step that survives even a
//!   Redis that loses writes, at one indexed database read per request.
//!
//! Entries live in this process (which also coalesces misses) and, with a Redis, in
//! Redis too, where every instance finds what any of them filled. Both are keyed by
//! generation, so neither can serve an entry of an older one.
//!
//! # Monotonic reads
//!
//! Freshness alone allows a client to see a write and then not: between a write's
//! commit and its advance, one generation can hold entries filled before the commit and
//! entries filled after it. So every write is first *announced* to every reader that
//! could serve its scope from a cache, and these two rules hold:
//!
//! 1. a read that finds a write announced in its scope goes to the database and fills
//!    nothing;
//! 2. a fill is stored only if, when it is stored, the scope is still at the generation
//!    the read saw and no write is announced (a check-and-set, as memcache's leases).
//!
//! Why they suffice: a write is announced before it commits and withdrawn only by the
//! step that advances its generation. So from the moment a write is announced, no read
//! is served from its scope's current generation `g` (rule 1) until `g` is dead, and no
//! fill lands under `g` (rule 2) unless its read and its query both began before the
//! announcement, hence before the commit. Every entry under one generation shows the
//! same committed state. A client that has seen a write saw it after its commit, so its
//! next read starts while the write is announced (the database answers) or after the
//! advance (a generation whose entries were all queried after the commit): never
//! before the write again.
//!
//! Where announcements live:
//!
//! - [`Consistency::Local`]: a count of writes in flight per scope in this process
//!   (`InFlight`), which only this process writes to; a fill checks it and the
//!   in-process generation after its query, before it is stored.
//! - [`Consistency::Redis`]: a field per write in the scope's generation hash
//!   (`RedisTier::announce`), read in the same script as the generation, checked in
//!   the script that stores a fill, withdrawn by the script that advances. An
//!   announcement carries a deadline (the write's lease, longer than any request may
//!   take); one whose write never advanced (its instance died, or lost Redis after the
//!   commit) is withdrawn at its deadline by the first read that finds it, with an
//!   advance in its writer's place. The fact that a repair is owed lives in Redis, so an
//!   instance restart cannot forget it.
//! - [`Consistency::Strict`]: commit and advance are one step, so there is no window
//!   and nothing to announce; this holds across instances for free.
//!
//! # When Redis fails
//!
//! A read that cannot obtain a generation it can trust goes to the database and caches
//! nothing; for a second after a failed call, reads do not even ask Redis. A write that
//! cannot be announced is refused before it touches the database (`503`, nothing
//! written). A write whose advance cannot be confirmed after its commit is reported as
//! unconfirmed (a `503`), never as a success; its announcement stays in Redis, so no
//! instance serves its scope from the cache, and this instance owes the scope a *repair
//! advance* (`OwedAdvances`), which it makes as soon as Redis answers again (on the next
//! request or readiness probe) before it trusts that scope's cache again. A scope's
//! trouble stays in that scope: other scopes keep their cache. How this instance last
//! found Redis, and the back-off, is `RedisHealth`.
//!
//! A write in one scope leaves every other scope's entries current. A list's ETag is
//! derived from the generation and the query digest, so `If-None-Match` is answered
//! with `304` without touching the store.
//!
//! # Baselines
//!
//! The tests measure this design against the incident report's (a plain cache-aside
//! and a single global generation). They differ in the key an entry is filed under,
//! the scope whose generation a write advances, whether writes are announced and what
//! a write does to the entries: the [`Design`] chosen at construction answers each, so
//! the read and write paths are the same for all of them.

mod config;
mod design;
mod generation;
mod in_flight;
mod key;
mod owed;
mod redis;
mod redis_url;
mod snapshot;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::{future::Cache, policy::EvictionPolicy};
use sha2::{Digest, Sha256};

use key::{CacheKey, query_digest};

use crate::domain::{
    CursorKey, ListQuery, NewTask, Scope, Task, TaskId, TaskList, TaskPatch, Timestamp,
};
use crate::store::{Idempotency, Precondition, Store, StoreError};

pub use config::{CacheConfig, ConfigError, Consistency};
pub use design::Design;
pub use generation::{Generation, InProcessGenerations};
pub use redis::RedisTier;
pub use redis_url::RedisUrl;
pub use snapshot::{ETag, Snapshot};

use in_flight::InFlight;
use owed::OwedAdvances;
use redis::{Announcement, Lookup, RedisHealth};

/// The entries this process holds, by their [key](key::CacheKey) as written.
type Entries = Cache<String, Snapshot>;

/// Why a cached operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write could not be announced to the other instances (Redis is not
    /// answering), so it was not attempted: nothing was written.
    #[error("the write could not be announced, so nothing was written")]
    NotAnnounced,
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
    /// Serving from the database only, for some scopes or all (Redis is not answering,
    /// or a write's advance is still owed).
    Degraded,
}

/// A generation, the key of an entry under it, and the entry if a shared tier returned
/// it in the same step.
struct Located<'a> {
    generation: Generation,
    key: CacheKey<'a>,
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

/// A fill that was not stored, and why.
enum Unfiled {
    /// The store failed: nothing to serve.
    Store(StoreError),
    /// The read's generation moved or a write was announced meanwhile (or Redis could
    /// not tell): the rows are served to the reads that waited for them, and kept
    /// nowhere.
    Refused(Snapshot),
}

/// Tasks, read through the generation-keyed cache and written with
/// announce-commit-advance.
pub struct TaskCache {
    store: Arc<dyn Store>,
    generations: Generations,
    entries: Entries,
    shared: Option<Arc<RedisTier>>,
    design: Design,
    /// Caching is off: every read goes to the store.
    off: bool,
    /// Reads served, and how many of them queried the store.
    stats: ReadStats,
    /// In-process generations: writes in flight here, per scope (their announcements).
    in_flight: InFlight,
    /// How long a write's announcement holds in Redis.
    write_lease: Duration,
    /// Redis generations: advances this instance owes.
    owed: OwedAdvances,
    /// How this instance last found Redis.
    redis_health: RedisHealth,
}

impl TaskCache {
    /// A cache in front of `store`, with entries shared through `shared` if given.
    pub fn new(
        store: Arc<dyn Store>,
        shared: Option<Arc<RedisTier>>,
        config: &CacheConfig,
    ) -> Result<Self, ConfigError> {
        config.check(shared.is_some())?;
        let generations = match (config.consistency, &shared) {
            (Consistency::Local, _) => Generations::Local(InProcessGenerations::default()),
            (Consistency::Redis, Some(tier)) => Generations::Redis(tier.clone()),
            (Consistency::Redis, None) => unreachable!("refused by CacheConfig::check"),
            (Consistency::Strict, _) => Generations::Strict,
        };
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
            in_flight: InFlight::default(),
            write_lease: config.write_lease,
            owed: OwedAdvances::default(),
            redis_health: RedisHealth::default(),
        })
    }

    /// One page of tasks, or `NotModified` when `client_has` accepts the current ETag.
    pub async fn list(
        &self,
        scope: &Scope,
        query: &ListQuery,
        client_has: impl FnOnce(&ETag) -> bool,
    ) -> Result<ListRead, CacheError> {
        let digest = query_digest(scope, &query.canonical());
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
        let Some(found) = self.locate(CacheKey::list(scope, &digest)).await? else {
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
        Ok(ListRead::Fresh(self.fill(found, load(Some(etag))).await?))
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
        let read = match self.locate(CacheKey::task(scope, id)).await? {
            None => load.await,
            Some(Located {
                entry: Some(entry), ..
            }) => Ok(entry),
            Some(found) => self.fill(found, load).await,
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
        self.write(scope, self.store.insert(scope, &task, idempotency))
            .await
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
        self.write(
            scope,
            self.store.update(scope, id, expected, patch, idempotency),
        )
        .await
    }

    /// Deletes a task; returns once it is committed and the generation has advanced.
    pub async fn delete(
        &self,
        scope: &Scope,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), CacheError> {
        self.write(scope, self.store.delete(scope, id, expected))
            .await
    }

    /// Reads served since start (lists and single tasks, `304`s included), and how
    /// many of them queried the database; the rest were answered from the cache.
    pub fn read_counts(&self) -> (u64, u64) {
        (
            self.stats.reads.load(Ordering::Relaxed),
            self.stats.loads.load(Ordering::Relaxed),
        )
    }

    /// How many entries this process holds (every generation's, until evicted).
    pub async fn cached_entries(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
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

    /// Whether reads are being served through the cache right now. With Redis
    /// generations, a probe that finds Redis answering again also makes the advances
    /// this instance owes, so recovery does not wait for the next request.
    pub async fn health(&self) -> CacheHealth {
        if let Some(shared) = &self.shared
            && self.redis_health.record(shared.ping().await).is_some()
            && let Generations::Redis(tier) = &self.generations
        {
            self.owed.repair(tier, &self.redis_health).await;
        }
        let redis_down = self.redis_health.is_down();
        let owing = self.owed.any();
        if redis_down || owing {
            CacheHealth::Degraded
        } else {
            CacheHealth::Ok
        }
    }

    /// Runs a write: announce, commit (`write`), advance. Only an error that proves
    /// nothing was written (no such task, failed precondition, a key used for another
    /// request, a lost race, a task that does not read back) skips the advance; a database error may have come after
    /// the commit, so the generation advances then too. If the advance cannot be
    /// confirmed, the write is not reported as a success.
    async fn write<T>(
        &self,
        scope: &Scope,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, CacheError> {
        let announced = self.announce(scope).await?;
        let written = write.await;
        let wrote_nothing = matches!(
            written,
            Err(StoreError::NotFound
                | StoreError::VersionMismatch { .. }
                | StoreError::IdempotencyMismatch
                | StoreError::Conflict
                | StoreError::Unreadable(_)
                | StoreError::Unstorable(_))
        );
        announced.advance(wrote_nothing).await?;
        if !wrote_nothing {
            self.design.after_write(&self.entries);
        }
        Ok(written?)
    }

    /// Announces a write in `scope` before it touches the store (see "Monotonic reads").
    async fn announce<'a>(&'a self, scope: &'a Scope) -> Result<AnnouncedWrite<'a>, CacheError> {
        let (announcement, counted_here) = match &self.generations {
            Generations::Redis(tier) => {
                // Owed advances first, unless Redis just failed: then the announcement
                // alone tries it (one timeout per write, not two).
                if !self.redis_health.backing_off() {
                    self.owed.repair(tier, &self.redis_health).await;
                }
                let announcement = Announcement::draw();
                let sent = tier.announce(scope, &announcement, self.write_lease).await;
                if self.redis_health.record(sent).is_none() {
                    // It may land yet: withdraw it with the advances owed.
                    self.owed.owe(scope, announcement);
                    return Err(CacheError::NotAnnounced);
                }
                (Some(announcement), false)
            }
            Generations::Local(_) => {
                let announces = self.design.announces();
                if announces {
                    self.in_flight.begin(scope);
                }
                (None, announces)
            }
            Generations::Strict => (None, false),
        };
        Ok(AnnouncedWrite {
            cache: self,
            scope,
            announcement,
            counted_here,
            settled: false,
        })
    }

    /// Reads the generation of `key`'s scope and places `key` under it (and, from
    /// Redis, reads the entry there in the same round trip). `None`: there is no
    /// generation this instance can trust right now, or a write is announced in the
    /// scope, so the read must bypass every cache.
    async fn locate<'a>(&self, key: CacheKey<'a>) -> Result<Option<Located<'a>>, StoreError> {
        if self.off {
            return Ok(None);
        }
        let scope = key.scope();
        let (generation, entry) = match &self.generations {
            Generations::Local(local) => {
                if self.in_flight.writing(scope) {
                    return Ok(None);
                }
                (local.current(self.design.counted(scope)), None)
            }
            Generations::Strict => {
                let generation = Generation::new(0, self.store.generation(scope).await?);
                let entry = self
                    .shared_entry(&self.design.key_at(key.clone(), generation))
                    .await;
                (generation, entry)
            }
            Generations::Redis(tier) => match self.redis_lookup(tier, &key).await {
                Some(found) => (found.generation, found.entry),
                None => return Ok(None),
            },
        };
        Ok(Some(Located {
            generation,
            key: self.design.key_at(key, generation),
            entry,
        }))
    }

    /// Redis generations: the scope's generation and the entry under it, unless this
    /// instance cannot trust Redis for the scope right now or a write is announced in it.
    async fn redis_lookup(&self, tier: &RedisTier, key: &CacheKey<'_>) -> Option<Lookup> {
        if self.redis_health.backing_off() {
            return None;
        }
        // Only a read of an owed scope tries the repair: reads of every other scope cost
        // no extra call while some scope is owed.
        if self.owed.owes(key.scope()) {
            self.owed.repair(tier, &self.redis_health).await;
            if self.owed.owes(key.scope()) {
                return None;
            }
        }
        match self.redis_health.record(tier.lookup(key).await) {
            Some(Lookup { writing: true, .. }) | None => None,
            found => found,
        }
    }

    /// Strict generations: the entry under `key` in the shared tier, if there is one
    /// and Redis is not being left alone.
    async fn shared_entry(&self, key: &CacheKey<'_>) -> Option<Snapshot> {
        let shared = self.shared.as_ref()?;
        if self.redis_health.backing_off() {
            return None;
        }
        self.redis_health.record(shared.get(key).await).flatten()
    }

    /// On a miss: one load per key at a time in this process; its result is kept here
    /// (and filed in the shared tier for the other instances) only if the fill passes
    /// its check (see "Monotonic reads").
    async fn fill(
        &self,
        found: Located<'_>,
        load: impl Future<Output = Result<Snapshot, StoreError>>,
    ) -> Result<Snapshot, StoreError> {
        let Located {
            generation, key, ..
        } = found;
        let load_and_file = async {
            let snapshot = load.await.map_err(Unfiled::Store)?;
            if self.admit(generation, &key, &snapshot).await {
                Ok(snapshot)
            } else {
                Err(Unfiled::Refused(snapshot))
            }
        };
        match self
            .entries
            .try_get_with(key.to_string(), load_and_file)
            .await
        {
            Ok(snapshot) => Ok(snapshot),
            Err(unfiled) => match &*unfiled {
                Unfiled::Store(error) => Err(error.clone()),
                Unfiled::Refused(snapshot) => Ok(snapshot.clone()),
            },
        }
    }

    /// A fill's check (and, with a shared tier, its filing there): whether `snapshot`,
    /// read at `generation`, may be kept under `key`.
    async fn admit(&self, generation: Generation, key: &CacheKey<'_>, snapshot: &Snapshot) -> bool {
        let scope = key.scope();
        match &self.generations {
            Generations::Local(local) => {
                !self.design.announces()
                    || (!self.in_flight.writing(scope)
                        && local.current(self.design.counted(scope)) == generation)
            }
            Generations::Redis(tier) => self
                .redis_health
                .record(tier.fill(generation, key, snapshot).await)
                .unwrap_or(false),
            Generations::Strict => {
                if let Some(shared) = &self.shared
                    && !self.redis_health.backing_off()
                {
                    self.redis_health.record(shared.put(key, snapshot).await);
                }
                true
            }
        }
    }
}

/// A write between its announcement and its advance. If its future is dropped there
/// (the server stopping mid-request; HTTP requests otherwise run to their end, even
/// without their client), the commit may have happened without the advance that must
/// follow it, so dropping this makes up for it: in-process generations advance at once;
/// with Redis generations the scope is owed an advance (its announcement stays in Redis
/// meanwhile). Strict generations advance inside the write's own transaction: nothing
/// to make up.
struct AnnouncedWrite<'a> {
    cache: &'a TaskCache,
    scope: &'a Scope,
    /// The write's announcement in Redis (Redis generations).
    announcement: Option<Announcement>,
    /// The write is counted in this process's writes in flight (in-process generations).
    counted_here: bool,
    /// The advance was attempted: nothing for a drop to make up.
    settled: bool,
}

impl AnnouncedWrite<'_> {
    /// The step between commit and response: advance the scope's generation and
    /// withdraw the announcement (only withdraw it if the write changed nothing).
    async fn advance(mut self, wrote_nothing: bool) -> Result<(), CacheError> {
        self.settled = true;
        let cache = self.cache;
        match &cache.generations {
            Generations::Local(local) => {
                if !wrote_nothing {
                    local.advance(cache.design.counted(self.scope));
                }
                Ok(())
            }
            Generations::Strict => Ok(()), // the write's own transaction advanced it
            Generations::Redis(tier) => {
                let announcement = self.announcement.take().expect("announced");
                let done = if wrote_nothing {
                    tier.withdraw(self.scope, &announcement).await
                } else {
                    tier.advance(self.scope, std::slice::from_ref(&announcement))
                        .await
                };
                if cache.redis_health.record(done).is_some() {
                    return Ok(());
                }
                cache.owed.owe(self.scope, announcement);
                if wrote_nothing {
                    Ok(())
                } else {
                    Err(CacheError::Unconfirmed)
                }
            }
        }
    }
}

impl Drop for AnnouncedWrite<'_> {
    fn drop(&mut self) {
        let cache = self.cache;
        if !self.settled {
            match &cache.generations {
                Generations::Local(local) => local.advance(cache.design.counted(self.scope)),
                Generations::Redis(_) => {
                    if let Some(announcement) = self.announcement.take() {
                        cache.owed.owe(self.scope, announcement);
                    }
                }
                Generations::Strict => {}
            }
        }
        // Withdrawn only after the advance: no read may find the scope neither
        // announced nor advanced once the write may have committed.
        if self.counted_here {
            cache.in_flight.end(self.scope);
        }
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
