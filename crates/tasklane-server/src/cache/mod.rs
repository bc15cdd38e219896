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
//! Every workspace has a generation (`Generation`) that only moves forward.
//!
//! - **Read** ([`TaskCache::list`], [`TaskCache::get`], in `read.rs`): read the workspace's
//!   generation `g` *first* (`TaskCache::locate`); the key embeds it (a `CacheKey`,
//!   `list:{workspace}:g{g}:{digest of the normalised query}`); on a miss, query the store
//!   and fill *that* key (`TaskCache::fill`). Concurrent misses on one key are coalesced
//!   into one store query.
//! - **Write** ([`TaskCache::create`], [`TaskCache::update`], [`TaskCache::delete`], in
//!   `write.rs`): announce the write (`TaskCache::announce`, which returns an
//!   `AnnouncedWrite`; in this process, the store announces it just before its commit),
//!   commit to the store, then advance the generation
//!   (`AnnouncedWrite::advance`), then return, so the client's `2xx` is sent only after
//!   the advance.
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
//! Generation lookups are shared too (strict and Redis generations, `batch.rs`), but on
//! a stricter rule, because the argument needs each read's generation to be read *after
//! that read started*: a reader that finds a lookup in flight waits for the next one,
//! sent once the one in flight has answered, and that one answers every reader that
//! queued meanwhile, as a group commit answers every transaction that queued during the
//! last flush. Its answer was sent after each of them started, so it is as good as each
//! one's own lookup, made a moment later: it sees every write acknowledged before any of
//! them started. A lookup already in flight when a reader arrives is not: it may have read
//! the generation before a write that was acknowledged before the reader started, and
//! would hand that reader the old generation and its entry (the test-only design
//! `JoinInFlight` does, and the freshness tests' race replay catches it).
//!
//! # Partitions by status
//!
//! A workspace's generation is partitioned by status: besides its counter, each status
//! has a partition, and a write advances the counter and the partitions of its task's
//! status *before* the write (if the task existed) and *after* it (if it still does).
//! A list whose filter names statuses `S` (and not every status) is keyed by the
//! partitions of `S` alone; every other read (a single task, a list of every status)
//! by the counter, as above. So a task moving from `todo` to `done` cools the `todo` and
//! `done` columns of a board and the unfiltered list, and leaves `blocked` warm.
//!
//! Why a list restricted to `S` can only change through a write that advances one of
//! its partitions: such a list shows only tasks whose status is in `S`, so what it holds
//! (its rows, their order, its count) depends only on which tasks are in `S` and their
//! states. A write changes one task. If the task is in `S` neither before nor after the
//! write, no task in `S` was added, removed or changed, and the list is as it was. If
//! it is in `S` before or after, the write advances that status's partition: a create
//! advances its new status, a delete the status it deleted the task from, a restore the
//! status it brought it back in, an update both (the same one if it stayed). Where the
//! statuses are not known the write counts as touching every status: a replay under an
//! `Idempotency-Key` (the first request's statuses are not kept), a write that failed
//! after it may have committed, a write dropped between commit and advance, an
//! advance owed since Redis failed or made in an expired announcement's place, and the
//! change feed's advance before it announces. The argument of "Why no stale entry is ever
//! served" then holds per partition: a write acknowledged before a read started has
//! advanced every partition its task touched, so a read of a list it can change asks
//! for a key no stale fill can hold, and a list it cannot change holds nothing it
//! altered. An ETag is derived from the same partitions, so it changes exactly when the
//! list can have. (The list's `seq` may then be older than the log's head: the changes
//! after it are of tasks outside `S`, which a client following the feed from it finds
//! to change nothing it shows.)
//!
//! Announcements stay per workspace, and a fill's check-and-set compares the
//! workspace's whole counter: stricter than the partitions need, so "Monotonic reads"
//! below holds unchanged (two fills under one set of partitions either saw no write
//! between them or only writes outside `S`, which change nothing the list shows).
//!
//! # Where the generation lives
//!
//! - [`Consistency::Local`] keeps it in the process: nothing to read per request,
//!   correct while one process serves the database.
//! - [`Consistency::Redis`] keeps it in Redis ([`RedisTier`]), shared by every
//!   instance: one round trip returns the generation and the entry filed under it (a
//!   miss adds the fill's check-and-set), shared by the readers of one key that arrive
//!   together. Partitions are fields of the same hash, advanced by the same script as
//!   the counter.
//! - [`Consistency::Strict`] reads it from a row that each write's own transaction
//!   advances, so commit and advance are a single atomic step that survives even a
//!   Redis that loses writes, at one indexed database read, shared by the readers of one
//!   workspace that arrive together. Partitions are columns of the same row, set by the
//!   same statement to the row's new value.
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
//! could serve its workspace from a cache, and these two rules hold:
//!
//! 1. a read that finds a write announced in its workspace goes to the database and fills
//!    nothing (`TaskCache::locate` finds no generation to trust);
//! 2. a fill is stored only if, when it is stored, the workspace is still at the generation
//!    the read saw and no write is announced (a check-and-set, as memcache's leases:
//!    `TaskCache::admit`).
//!
//! Why they suffice: a write is announced before it commits and withdrawn only by the
//! step that advances its generation (`AnnouncedWrite` withdraws it after its advance,
//! or after making up for it when dropped). So from the moment a write is announced, no
//! read is served from its workspace's current generation `g` (rule 1) until `g` is dead,
//! and no fill lands under `g` (rule 2) unless its read and its query both began before
//! the announcement, hence before the commit. Every entry under one generation shows
//! the same committed state. A client that has seen a write saw it after its commit, so
//! its next read starts while the write is announced (the database answers) or after
//! the advance (a generation whose entries were all queried after the commit): never
//! before the write again.
//!
//! Where announcements live:
//!
//! - [`Consistency::Local`]: a count of writes in flight per workspace in this process
//!   (`InFlight`), which only this process writes to; a fill checks it and the
//!   in-process generation after its query, before it is stored (`TaskCache::admit`).
//!   The store makes the announcement (`LocalAnnouncement`, a
//!   [`BeforeCommit`](crate::store::BeforeCommit)) the moment before it commits, not
//!   when the write starts: the argument above needs only that it precede the commit,
//!   and reads of the workspace then go to the database for the commit and the advance,
//!   not for as long as the write waits for the database's writer.
//! - [`Consistency::Redis`]: a field per write in the workspace's generation hash
//!   (`RedisTier::announce`), read in the same script as the generation
//!   (`RedisTier::lookup`), checked in the script that stores a fill
//!   (`RedisTier::fill`), withdrawn by the script that advances. An
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
//! instance serves its workspace from the cache, and this instance owes the workspace a *repair
//! advance* (`OwedAdvances`), which it makes as soon as Redis answers again (on the next
//! request or readiness probe) before it trusts that workspace's cache again. A workspace's
//! trouble stays in that workspace: other workspaces keep their cache. How this instance last
//! found Redis, and the back-off, is `RedisHealth`.
//!
//! A write in one workspace leaves every other workspace's entries current. A list's ETag is
//! derived from the generation (its partitions, for a list of some statuses) and the query
//! digest, so `If-None-Match` is answered with `304` without touching the store. A list
//! whose fill was refused is named by its content instead: its query may have seen a write
//! the generation does not cover, and the generation's tag may already name another body.
//!
//! # Baselines
//!
//! The tests measure this design against the incident's (`docs/incident.md`: a plain
//! cache-aside and a single global generation). They differ in the key an entry is
//! filed under, the workspace whose generation a write advances, whether writes are
//! announced and what a write does to the entries: the [`Design`] chosen at
//! construction answers each, so the read and write paths are the same for all.

mod batch;
mod config;
mod design;
mod generation;
mod in_flight;
mod key;
mod metrics;
mod owed;
mod read;
mod redis;
mod redis_url;
mod snapshot;
mod write;

use std::sync::Arc;
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::{future::Cache, policy::EvictionPolicy};

use crate::domain::{CursorKey, Workspace};
use crate::store::{GenerationCounters, Store, StoreError};
use crate::telemetry::Registry;

pub use config::{CacheConfig, ConfigError, Consistency};
pub use design::Design;
use generation::InProcessGenerations;
pub use read::ListRead;
pub use redis::RedisTier;
pub use redis_url::RedisUrl;
pub use snapshot::{ETag, Snapshot};

use self::batch::Batcher;
use self::metrics::CacheMetrics;
use in_flight::InFlight;
use owed::OwedAdvances;
use redis::RedisHealth;

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

/// The state of the cache, for readiness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// Serving from the cache.
    Ok,
    /// Serving from the database only, for some workspaces or all (Redis is not answering,
    /// or a write's advance is still owed).
    Degraded,
}

/// Where this cache reads and advances generations: [`Consistency`], resolved.
enum Generations {
    Local(InProcessGenerations),
    Redis(Arc<RedisTier>),
    /// The store's generation row, advanced by each write's own transaction.
    Strict,
}

/// Tasks, read through the generation-keyed cache and written with
/// announce-commit-advance.
pub struct TaskCache {
    store: Arc<dyn Store>,
    generations: Generations,
    /// Strict generations: generation row reads shared by the readers of a workspace that
    /// arrive together.
    strict_lookups: Batcher<Workspace, Result<GenerationCounters, StoreError>>,
    /// Redis generations: lookups shared by the readers of one key that arrive together.
    redis_lookups: Batcher<String, Option<redis::Lookup>>,
    entries: Entries,
    shared: Option<Arc<RedisTier>>,
    design: Design,
    /// Caching is off: every read goes to the store.
    off: bool,
    /// What reads found, fills, advances.
    metrics: CacheMetrics,
    /// In-process generations: writes in flight here, per workspace (their announcements).
    in_flight: InFlight,
    /// How long a write's announcement holds in Redis.
    write_lease: Duration,
    /// Redis generations: advances this instance owes.
    owed: OwedAdvances,
    /// How this instance last found Redis.
    redis_health: Arc<RedisHealth>,
    /// The workspace of each write this instance made (or may have made), for the
    /// change feed's wake-ups.
    written: tokio::sync::broadcast::Sender<Workspace>,
}

impl TaskCache {
    /// A cache in front of `store`, with entries shared through `shared` if given, and
    /// its metrics in `registry`.
    pub fn new(
        store: Arc<dyn Store>,
        shared: Option<Arc<RedisTier>>,
        config: &CacheConfig,
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        config.check(shared.is_some())?;
        let generations = match (config.consistency, &shared) {
            (Consistency::Local, _) => Generations::Local(InProcessGenerations::default()),
            (Consistency::Redis, Some(tier)) => Generations::Redis(tier.clone()),
            (Consistency::Redis, None) => unreachable!("refused by CacheConfig::check"),
            (Consistency::Strict, _) => Generations::Strict,
        };
        let metrics = CacheMetrics::register(registry);
        let entries = Cache::builder()
            // Every write strands its workspace's entries under the old generation's keys;
            // no read asks for them again. Least-recently-used eviction drops those
            // first. Moka's default, TinyLFU, admits a key only once it is more popular
            // than the victim, so a full cache would keep the stranded entries (read
            // often before the write) and refuse the new generation's (never seen).
            .eviction_policy(EvictionPolicy::lru())
            .max_capacity(config.capacity_bytes)
            .weigher(|key: &String, snapshot: &Snapshot| snapshot.weight(key))
            .time_to_live(config.ttl)
            .eviction_listener({
                let (size, expired) = (metrics.evicted_for_size.clone(), metrics.expired.clone());
                move |_, _, cause| match cause {
                    RemovalCause::Size => size.increment(1),
                    RemovalCause::Expired => expired.increment(1),
                    RemovalCause::Explicit | RemovalCause::Replaced => {}
                }
            })
            .build();
        registry.on_scrape({
            let (entries, count, bytes) = (
                entries.clone(),
                metrics.entries.clone(),
                metrics.bytes.clone(),
            );
            move || {
                count.set(entries.entry_count() as f64);
                bytes.set(entries.weighted_size() as f64);
            }
        });
        let redis_health = Arc::new(RedisHealth::default());
        if shared.is_some() {
            redis_health.report(registry);
        }
        let joins_in_flight = config.design.joins_lookups_in_flight();
        Ok(TaskCache {
            store,
            generations,
            strict_lookups: Batcher::new(joins_in_flight, metrics.shared_lookups.clone()),
            redis_lookups: Batcher::new(joins_in_flight, metrics.shared_lookups.clone()),
            entries,
            shared,
            design: config.design,
            off: config.capacity_bytes == 0,
            owed: OwedAdvances::new(metrics.repairs.clone(), metrics.owed.clone()),
            metrics,
            in_flight: InFlight::default(),
            write_lease: config.write_lease,
            redis_health,
            written: tokio::sync::broadcast::Sender::new(1024),
        })
    }

    /// The workspace of every write this instance makes from now on (or may have made:
    /// an unconfirmed one too). A receiver that falls behind is told it lagged.
    pub fn writes(&self) -> tokio::sync::broadcast::Receiver<Workspace> {
        self.written.subscribe()
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
        if self.redis_health.is_down() || self.owed.any() {
            CacheHealth::Degraded
        } else {
            CacheHealth::Ok
        }
    }
}
