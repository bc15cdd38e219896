//! The read path: read the workspace's generation, query the store on a miss, fill under
//! the generation read first (see "The protocol" in the cache's documentation).

use std::future::Future;

use super::generation::{Generation, Scope};
use super::key::{CacheKey, query_digest};
use super::metrics::{Bypass, Lookup};
use super::redis::{Lookup as Found, RedisTier};
use super::snapshot::{ETag, Snapshot};
use super::{CacheError, Generations, TaskCache};
use crate::domain::{ListQuery, TaskId, TaskList, Workspace};
use crate::store::StoreError;

/// The outcome of a conditional list read.
#[derive(Debug, Clone)]
pub enum ListRead {
    /// The client's `If-None-Match` names the current list: answer `304`.
    NotModified(ETag),
    /// The current list.
    Fresh(Snapshot),
}

/// A generation, the key of an entry under it, and the entry if a shared tier returned
/// it in the same step.
struct Located<'a> {
    generation: Generation,
    key: CacheKey<'a>,
    entry: Option<Snapshot>,
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

impl TaskCache {
    /// One page of tasks, or `NotModified` when `client_has` accepts the current ETag.
    pub async fn list(
        &self,
        workspace: &Workspace,
        query: &ListQuery,
        client_has: impl FnOnce(&ETag) -> bool,
    ) -> Result<ListRead, CacheError> {
        let digest = query_digest(workspace, &query.canonical());
        self.metrics.reads.increment(1);
        let load = |etag: Option<ETag>| async move {
            self.metrics.loads.increment(1);
            let stored = self.store.list(workspace, query).await?;
            let page = TaskList::new(query, stored, self.store.cursor_key());
            let body = serde_json::to_vec(&page).expect("a task list always serialises");
            // Without a generation, the ETag names the content itself.
            let etag = etag.unwrap_or_else(|| ETag::of_content(&body));
            Ok(Snapshot {
                etag,
                seq: Some(page.seq),
                body: body.into(),
            })
        };
        // 1. The generation, before anything that reads the store.
        let key = CacheKey::list(workspace, &digest, self.design.scope(Scope::of(query)));
        let found = match self.locate(key).await? {
            Ok(found) => found,
            Err(bypass) => {
                self.metrics.bypassed(bypass);
                let snapshot = load(None).await?;
                return Ok(conditional(snapshot, client_has));
            }
        };
        let etag = ETag::weak(&format!("{}-{digest}", found.generation));
        if client_has(&etag) {
            self.metrics.looked_up(Lookup::NotModified);
            return Ok(ListRead::NotModified(etag));
        }
        if let Some(entry) = found.entry {
            self.metrics.looked_up(Lookup::Hit);
            return Ok(ListRead::Fresh(entry));
        }
        // 2. On a miss, query; 3. fill the key of the generation read in step 1. A fill
        // refused is named by its content: the generation's tag may name another body.
        let snapshot = self
            .fill(found, load(Some(etag)), Snapshot::named_by_content)
            .await?;
        Ok(ListRead::Fresh(snapshot))
    }

    /// One task, or `None` if the workspace has no task with that id.
    pub async fn get(
        &self,
        workspace: &Workspace,
        id: TaskId,
    ) -> Result<Option<Snapshot>, CacheError> {
        self.metrics.reads.increment(1);
        let load = async {
            self.metrics.loads.increment(1);
            let task = self
                .store
                .get(workspace, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            Ok(Snapshot::of_read(&task))
        };
        let read = match self.locate(CacheKey::task(workspace, id)).await? {
            Err(bypass) => {
                self.metrics.bypassed(bypass);
                load.await
            }
            Ok(Located {
                entry: Some(entry), ..
            }) => {
                self.metrics.looked_up(Lookup::Hit);
                Ok(entry)
            }
            // A task's tag is its version, whoever read it.
            Ok(found) => self.fill(found, load, |snapshot| snapshot).await,
        };
        match read {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(StoreError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads the generation of `key`'s workspace and places `key` under it (and, from
    /// Redis, reads the entry there in the same round trip). A [`Bypass`]: there is no
    /// generation this instance can trust right now, or a write is announced in the
    /// workspace, so the read must bypass every cache.
    async fn locate<'a>(
        &self,
        key: CacheKey<'a>,
    ) -> Result<Result<Located<'a>, Bypass>, StoreError> {
        if self.off {
            return Ok(Err(Bypass::Disabled));
        }
        let workspace = key.workspace();
        let (generation, entry) = match &self.generations {
            Generations::Local(local) => {
                if self.in_flight.writing(workspace) {
                    return Ok(Err(Bypass::WriteInFlight));
                }
                (
                    local.current(self.design.counted(workspace), key.scope()),
                    None,
                )
            }
            Generations::Strict => {
                // Shared with the readers of the workspace that arrive together (`batch.rs`).
                let counters = self
                    .strict_lookups
                    .lookup(workspace, || self.store.generation(workspace))
                    .await?;
                let generation = Generation::taken(self.store.epoch(), counters, key.scope());
                let entry = self
                    .shared_entry(&self.design.key_at(key.clone(), generation))
                    .await;
                (generation, entry)
            }
            Generations::Redis(tier) => match self.redis_lookup(tier, &key).await {
                Ok(found) => (found.generation, found.entry),
                Err(bypass) => return Ok(Err(bypass)),
            },
        };
        Ok(Ok(Located {
            generation,
            key: self.design.key_at(key, generation),
            entry,
        }))
    }

    /// Redis generations: the workspace's generation and the entry under it, unless this
    /// instance cannot trust Redis for the workspace right now or a write is announced in it.
    async fn redis_lookup(&self, tier: &RedisTier, key: &CacheKey<'_>) -> Result<Found, Bypass> {
        if self.redis_health.backing_off() {
            return Err(Bypass::RedisDown);
        }
        // Only a read of an owed workspace tries the repair: reads of every other workspace cost
        // no extra call while some workspace is owed.
        if self.owed.owes(key.workspace()) {
            self.owed.repair(tier, &self.redis_health).await;
            if self.owed.owes(key.workspace()) {
                return Err(Bypass::Unconfirmed);
            }
        }
        // Shared with the readers of the same key that arrive together (`batch.rs`).
        let lookup = || async { self.redis_health.record(tier.lookup(key).await) };
        match self.redis_lookups.lookup(&key.to_string(), lookup).await {
            Some(Found { writing: true, .. }) => Err(Bypass::WriteInFlight),
            Some(found) => Ok(found),
            None => Err(Bypass::RedisDown),
        }
    }

    /// Strict generations: the entry under `key` in the shared tier, if this process
    /// does not hold it already (then Redis is not asked: the key names the generation,
    /// so either copy is as fresh as the other), and Redis is not being left alone.
    async fn shared_entry(&self, key: &CacheKey<'_>) -> Option<Snapshot> {
        let shared = self.shared.as_ref()?;
        if self.redis_health.backing_off() || self.entries.contains_key(&key.to_string()) {
            return None;
        }
        self.redis_health.record(shared.get(key).await).flatten()
    }

    /// On a miss: one load per key at a time in this process; its result is kept here
    /// (and filed in the shared tier for the other instances) only if the fill passes
    /// its check (see "Monotonic reads"), and served through `refused` if it does not.
    async fn fill(
        &self,
        found: Located<'_>,
        load: impl Future<Output = Result<Snapshot, StoreError>>,
        refused: impl FnOnce(Snapshot) -> Snapshot,
    ) -> Result<Snapshot, StoreError> {
        let Located {
            generation, key, ..
        } = found;
        let written = key.to_string();
        if let Some(entry) = self.entries.get(&written).await {
            self.metrics.looked_up(Lookup::Hit);
            return Ok(entry);
        }
        // Whether this read ran the load, or waited for an identical one's.
        let mut loaded = false;
        let load_and_file = async {
            loaded = true;
            let snapshot = load.await.map_err(Unfiled::Store)?;
            if self.admit(generation, &key, &snapshot).await {
                self.metrics.fills_stored.increment(1);
                Ok(snapshot)
            } else {
                self.metrics.fills_refused.increment(1);
                Err(Unfiled::Refused(snapshot))
            }
        };
        let outcome = self.entries.try_get_with(written, load_and_file).await;
        // Not loaded here: an identical read was loading (or had just filled the key).
        self.metrics.looked_up(if loaded {
            Lookup::Miss
        } else {
            Lookup::Coalesced
        });
        match outcome {
            Ok(snapshot) => Ok(snapshot),
            Err(unfiled) => match &*unfiled {
                Unfiled::Store(error) => Err(error.clone()),
                Unfiled::Refused(snapshot) => Ok(refused(snapshot.clone())),
            },
        }
    }

    /// A fill's check (and, with a shared tier, its filing there): whether `snapshot`,
    /// read at `generation`, may be kept under `key`.
    async fn admit(&self, generation: Generation, key: &CacheKey<'_>, snapshot: &Snapshot) -> bool {
        let workspace = key.workspace();
        match &self.generations {
            Generations::Local(local) => {
                !self.design.announces()
                    || (!self.in_flight.writing(workspace)
                        && local.unchanged_since(self.design.counted(workspace), generation))
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

/// Answers a conditional read from a snapshot already in hand.
fn conditional(snapshot: Snapshot, client_has: impl FnOnce(&ETag) -> bool) -> ListRead {
    if client_has(&snapshot.etag) {
        ListRead::NotModified(snapshot.etag)
    } else {
        ListRead::Fresh(snapshot)
    }
}
