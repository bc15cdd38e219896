//! The shared tier: workspace generations, write announcements and cache entries in Redis,
//! for many instances.
//!
//! Every key starts with a prefix (`tasklane` by default), so deployments can share a
//! Redis; `RedisKeys` writes them all. A workspace's generation is a hash with a counter
//! `c`, advanced with `HINCRBY` after every committed write, and an epoch `e`, a random
//! value the first reader to find none sets. If Redis loses the hash (a `FLUSHALL`, a
//! restart without persistence), the next reader draws a new epoch, so the counter
//! starting again from 0 never reproduces a key an earlier epoch filled: the incident's
//! `cacheVersion = 0` after a restart (docs/incident.md) cannot happen here.
//!
//! Its partitions by status are fields `s:{letter}` of the same hash (`s:t` for `todo`),
//! each advanced with the counter by a write whose task left or entered that status.
//!
//! The same hash holds one field `w:{id}` per write in flight in the workspace, on any
//! instance: its announcement, valued with the time (Redis's clock, in milliseconds)
//! until which it holds. A write announces itself before it commits and the script that
//! advances the generation withdraws it, in one step; a write whose advance never comes
//! (its instance died or lost Redis) leaves its announcement until it expires, and the
//! first read that finds it expired advances the generation in its place. Keeping the
//! announcements in the generation's own hash means Redis can only lose them together
//! with the generation, which draws a new epoch.
//!
//! A read takes the generation, whether a write is in flight and the entry filed under
//! that generation in one round trip (a Lua script), so a hit costs exactly one call. A
//! fill is a check-and-set in one script too: stored only if the generation is the one
//! the read saw and no write is in flight. Every entry has a TTL; every call has a
//! timeout; one multiplexed connection, re-established by itself, serves them all.
//!
//! The scripts are in [`scripts`]; how this instance finds Redis (and backs off after a
//! failed call) is [`RedisHealth`].

mod health;
mod metrics;
mod scripts;

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, ScriptInvocation};
use uuid::Uuid;

use self::metrics::{Call, RedisMetrics};
use super::generation::{Generation, Scope};
use super::key::{CacheKey, RedisKeys};
use super::snapshot::{ETag, Snapshot};
use crate::domain::{StatusSet, Workspace};
use crate::store::GenerationCounters;
use crate::telemetry::Registry;
use scripts::Scripts;

pub(super) use health::RedisHealth;

/// What a lookup found.
#[derive(Clone)]
pub(super) struct Lookup {
    /// The workspace's generation.
    pub(super) generation: Generation,
    /// A write is in flight in the workspace (on any instance): the read must go to the
    /// database and fill nothing.
    pub(super) writing: bool,
    /// The entry filed under `generation`, if no write is in flight.
    pub(super) entry: Option<Snapshot>,
}

/// A write's announcement: its field in the workspace's generation hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Announcement(String);

impl Announcement {
    /// A new write's announcement (a random id), not yet made.
    pub(super) fn draw() -> Self {
        Announcement(format!("w:{}", Uuid::new_v4().simple()))
    }
}

/// Generations, write announcements and entries in one Redis.
pub struct RedisTier {
    client: redis::Client,
    connection: ConnectionManager,
    scripts: Scripts,
    keys: RedisKeys,
    ttl: Duration,
    metrics: RedisMetrics,
}

impl RedisTier {
    /// A tier on the Redis at `url`, with its metrics in `registry`. Connects lazily: a
    /// Redis that is down at start only makes the first calls fail (and the cache stand
    /// aside) until it answers.
    pub fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
        timeout: Duration,
        registry: &Registry,
    ) -> Result<Self, RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(RedisTier {
            client,
            connection,
            scripts: Scripts::new(),
            keys: RedisKeys::new(prefix),
            ttl,
            metrics: RedisMetrics::register(registry),
        })
    }

    /// The generation of `key`'s workspace, whether a write is in flight in it, and, if
    /// none is, what is filed under `key` at that generation.
    pub(super) async fn lookup(&self, key: &CacheKey<'_>) -> Result<Lookup, RedisError> {
        let fresh_epoch = Generation::epoch_text(Uuid::new_v4().as_u64_pair().0);
        let (before, after) = self.keys.entry_around_generation(key);
        let scope = key.scope();
        let read = match scope {
            Scope::Workspace => StatusSet::NONE,
            Scope::Statuses(statuses) => statuses,
        };
        let mut invocation = self
            .scripts
            .lookup
            .key(self.keys.generation(key.workspace()));
        invocation
            .arg(fresh_epoch)
            .arg(before)
            .arg(after)
            .arg(Generation::partition_letters(read));
        let (epoch, counter, writing, value, partitions): (
            String,
            u64,
            u8,
            Option<Vec<u8>>,
            String,
        ) = self.run(Call::Lookup, &invocation).await?;
        let epoch = u64::from_str_radix(&epoch, 16).map_err(|_| corrupt("generation epoch"))?;
        let mut counters = GenerationCounters {
            counter,
            ..GenerationCounters::default()
        };
        let mut values = partitions.split(',').filter(|text| !text.is_empty());
        for status in read.iter() {
            counters.by_status[status as usize] = values
                .next()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| corrupt("generation partition"))?;
        }
        Ok(Lookup {
            generation: Generation::taken(epoch, counters, scope),
            writing: writing != 0,
            entry: value.map(decode).transpose()?,
        })
    }

    /// Announces a write in `workspace` to every instance, for `lease` at most: until it is
    /// withdrawn, reads of the workspace go to the database and fill nothing. A call that
    /// failed may still have landed (a frozen Redis runs it when it thaws): only a
    /// withdrawal settles it.
    pub(super) async fn announce(
        &self,
        workspace: &Workspace,
        announcement: &Announcement,
        lease: Duration,
    ) -> Result<(), RedisError> {
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.scripts.announce.key(self.keys.generation(workspace));
        invocation.arg(&announcement.0).arg(lease_ms);
        let _: i64 = self.run(Call::Announce, &invocation).await?;
        Ok(())
    }

    /// Moves the workspace to its next generation, with the partitions of `touched`, and
    /// withdraws `announcements`, in one step.
    pub(super) async fn advance(
        &self,
        workspace: &Workspace,
        touched: StatusSet,
        announcements: &[Announcement],
    ) -> Result<(), RedisError> {
        let mut invocation = self.scripts.advance.key(self.keys.generation(workspace));
        invocation.arg(Generation::partition_letters(touched));
        for announcement in announcements {
            invocation.arg(&announcement.0);
        }
        let _: i64 = self.run(Call::Advance, &invocation).await?;
        Ok(())
    }

    /// Withdraws the announcement of a write that changed nothing (a failed
    /// precondition, no such task), leaving the generation where it is.
    pub(super) async fn withdraw(
        &self,
        workspace: &Workspace,
        announcement: &Announcement,
    ) -> Result<(), RedisError> {
        let (key, field) = (&self.keys.generation(workspace), &announcement.0);
        let _: i64 = self
            .retried(Call::Withdraw, |mut connection| async move {
                connection.hdel(key, field).await
            })
            .await?;
        Ok(())
    }

    /// Files `snapshot` under `key` (which embeds `generation`) for the tier's TTL, only
    /// if its workspace is still at `generation` and no write is in flight in it. Returns
    /// whether it was filed.
    pub(super) async fn fill(
        &self,
        generation: Generation,
        key: &CacheKey<'_>,
        snapshot: &Snapshot,
    ) -> Result<bool, RedisError> {
        let mut invocation = self.scripts.fill.key(self.keys.generation(key.workspace()));
        invocation
            .key(self.keys.entry(key))
            .arg(Generation::epoch_text(generation.epoch()))
            .arg(generation.counter())
            .arg(encode(snapshot))
            .arg(self.ttl_ms());
        let filed: i64 = self.run(Call::Fill, &invocation).await?;
        Ok(filed == 1)
    }

    /// Runs a script invocation, [retried](Self::retried) as every call here is.
    async fn run<T: redis::FromRedisValue>(
        &self,
        call: Call,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.retried(call, |mut connection| async move {
            invocation.invoke_async(&mut connection).await
        })
        .await
    }

    /// Runs `call`, once more if the connection had dropped (after a Redis restart the
    /// first call fails while the manager reconnects). Only for calls that may safely
    /// run twice: an extra advance never weakens freshness, an announcement or a
    /// withdrawal sets or clears the same field again, a fill stores the same value, and
    /// a lookup's `HSETNX` sets nothing the first run set.
    async fn retried<T, F, Fut>(&self, call: Call, run: F) -> Result<T, RedisError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        let retried = async {
            match run(self.connection.clone()).await {
                Err(error) if error.is_connection_dropped() => run(self.connection.clone()).await,
                outcome => outcome,
            }
        };
        self.metrics.measure(call, retried).await
    }

    /// The entry under `key`, if any (for generations that live elsewhere).
    pub(super) async fn get(&self, key: &CacheKey<'_>) -> Result<Option<Snapshot>, RedisError> {
        let value: Option<Vec<u8>> = self
            .metrics
            .measure(Call::Get, self.connection.clone().get(self.keys.entry(key)))
            .await?;
        value.map(decode).transpose()
    }

    /// Files `snapshot` under `key`, for the tier's TTL (for generations that live
    /// elsewhere: there is nothing here to check a fill against).
    pub(super) async fn put(
        &self,
        key: &CacheKey<'_>,
        snapshot: &Snapshot,
    ) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        let put = connection.pset_ex(self.keys.entry(key), encode(snapshot), self.ttl_ms());
        let _: () = self.metrics.measure(Call::Put, put).await?;
        Ok(())
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Tells every instance subscribed to the change feed's channel that `workspace`'s
    /// log has grown (a hint: see [`crate::feed`]).
    pub async fn publish_change(&self, workspace: &Workspace) -> Result<(), RedisError> {
        let channel = self.keys.changes_channel();
        let mut connection = self.connection.clone();
        let publish = connection.publish(channel, workspace.as_str());
        let _: i64 = self.metrics.measure(Call::Publish, publish).await?;
        Ok(())
    }

    /// A connection subscribed to the change feed's channel, whose messages name the
    /// workspaces whose logs grew.
    pub async fn subscribe_changes(&self) -> Result<redis::aio::PubSub, RedisError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.keys.changes_channel()).await?;
        Ok(pubsub)
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let (mut connection, command) = (self.connection.clone(), redis::cmd("PING"));
        let ping = command.query_async(&mut connection);
        let _: String = self.metrics.measure(Call::Ping, ping).await?;
        Ok(())
    }
}

/// An entry is stored as `{etag}\n{seq}\n{body}`, `seq` empty when there is none (an
/// ETag never contains a newline, nor does a number).
fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let seq = snapshot.seq.map(|seq| seq.to_string()).unwrap_or_default();
    let etag = snapshot.etag.as_str();
    let mut value = Vec::with_capacity(etag.len() + seq.len() + 2 + snapshot.body.len());
    for line in [etag, &seq] {
        value.extend_from_slice(line.as_bytes());
        value.push(b'\n');
    }
    value.extend_from_slice(&snapshot.body);
    value
}

/// Reads back what [`encode`] stored.
fn decode(value: Vec<u8>) -> Result<Snapshot, RedisError> {
    let mut lines = value.splitn(3, |&b| b == b'\n');
    let (Some(etag), Some(seq), Some(body)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(corrupt("cache entry"));
    };
    let etag = ETag::from_stored(std::str::from_utf8(etag).map_err(|_| corrupt("cache entry"))?);
    let seq = match seq {
        [] => None,
        digits => Some(
            std::str::from_utf8(digits)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| corrupt("cache entry"))?,
        ),
    };
    let start = value.len() - body.len();
    let body = Bytes::from(value).slice(start..);
    Ok(Snapshot { etag, seq, body })
}

fn corrupt(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, "unreadable value", what.to_owned()))
}
