//! The shared tier: scope generations and cache entries in Redis, for many instances.
//!
//! Every key starts with a prefix (`tasklane` by default), so deployments can share a
//! Redis. A scope's generation is a hash `{prefix}:gen:{scope}` with a counter `c`, advanced
//! with `HINCRBY` after every committed write, and an epoch `e`, a random value the
//! first reader to find none sets. If Redis loses the hash (a `FLUSHALL`, a restart
//! without persistence), the next reader draws a new epoch, so the counter starting
//! again from 0 never reproduces a key an earlier epoch filled: the report's
//! `cacheVersion = 0` after a restart cannot happen here.
//!
//! A read takes the generation and the entry filed under it in one round trip (a Lua
//! script), so a hit costs exactly one call. Every entry has a TTL; every call has a
//! timeout; one multiplexed connection, re-established by itself, serves them all.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script};
use uuid::Uuid;

use super::generation::Generation;
use super::snapshot::{ETag, Snapshot};
use crate::domain::Scope;

/// Reads a scope's generation (drawing an epoch if it has none) and, optionally, the
/// entry filed under that generation, atomically.
///
/// KEYS[1]: the generation hash. ARGV[1]: a fresh epoch, used only if the hash has
/// none. ARGV[2], ARGV[3]: the entry's key before and after its generation; empty
/// ARGV[2]: no entry wanted.
const LOOKUP: &str = r"
redis.call('HSETNX', KEYS[1], 'e', ARGV[1])
local g = redis.call('HMGET', KEYS[1], 'e', 'c')
local counter = g[2] or '0'
local entry = false
if ARGV[2] ~= '' then
  entry = redis.call('GET', ARGV[2] .. g[1] .. '.' .. counter .. ARGV[3])
end
return {g[1], counter, entry}
";

/// Generations and entries in one Redis.
pub struct RedisTier {
    connection: ConnectionManager,
    lookup: Script,
    prefix: String,
    ttl: Duration,
}

/// Where an entry's key puts the generation: `{before}{generation}{after}`.
pub struct EntryKey<'a> {
    /// `{kind}:{scope}:g`
    pub before: &'a str,
    /// `:{item}`
    pub after: &'a str,
}

impl RedisTier {
    /// A tier on the Redis at `url`. Connects lazily: a Redis that is down at start only
    /// makes the first calls fail (and the cache stand aside) until it answers.
    pub fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
        timeout: Duration,
    ) -> Result<Self, RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisTier {
            connection,
            lookup: Script::new(LOOKUP),
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    fn generation_key(&self, scope: &Scope) -> String {
        format!("{}:gen:{scope}", self.prefix)
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// The scope's generation and, if `entry` is given, what is filed under it.
    pub async fn lookup(
        &self,
        scope: &Scope,
        entry: Option<EntryKey<'_>>,
    ) -> Result<(Generation, Option<Snapshot>), RedisError> {
        let fresh_epoch = format!("{:016x}", Uuid::new_v4().as_u64_pair().0);
        let (before, after) = entry.map_or((String::new(), ""), |key| {
            (self.entry_key(key.before), key.after)
        });
        let mut invocation = self.lookup.key(self.generation_key(scope));
        invocation.arg(fresh_epoch).arg(before).arg(after);
        let invocation = &invocation;
        let (epoch, counter, value): (String, u64, Option<Vec<u8>>) = self
            .retried(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await?;
        let epoch = u64::from_str_radix(&epoch, 16).map_err(|_| corrupt("generation epoch"))?;
        Ok((
            Generation::new(epoch, counter),
            value.map(decode).transpose()?,
        ))
    }

    /// Moves the scope to its next generation.
    pub async fn advance(&self, scope: &Scope) -> Result<(), RedisError> {
        let key = &self.generation_key(scope);
        let _: i64 = self
            .retried(|mut connection| async move { connection.hincr(key, "c", 1).await })
            .await?;
        Ok(())
    }

    /// Runs `call`, once more if the connection had dropped (after a Redis restart the
    /// first call fails while the manager reconnects). Only for calls that may safely
    /// run twice: an extra advance never weakens freshness, a lookup only reads (its
    /// `HSETNX` sets nothing the first run set).
    async fn retried<T, F, Fut>(&self, call: F) -> Result<T, RedisError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        match call(self.connection.clone()).await {
            Err(error) if error.is_connection_dropped() => call(self.connection.clone()).await,
            outcome => outcome,
        }
    }

    /// The entry under `key`, if any (for generations that live elsewhere).
    pub async fn get(&self, key: &str) -> Result<Option<Snapshot>, RedisError> {
        let value: Option<Vec<u8>> = self.connection.clone().get(self.entry_key(key)).await?;
        value.map(decode).transpose()
    }

    /// Files `snapshot` under `key`, for the tier's TTL.
    pub async fn put(&self, key: &str, snapshot: &Snapshot) -> Result<(), RedisError> {
        let mut value = Vec::with_capacity(snapshot.etag.as_str().len() + 1 + snapshot.body.len());
        value.extend_from_slice(snapshot.etag.as_str().as_bytes());
        value.push(b'\n');
        value.extend_from_slice(&snapshot.body);
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let _: () = self
            .connection
            .clone()
            .pset_ex(self.entry_key(key), value, ttl)
            .await?;
        Ok(())
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }
}

/// An entry is stored as `{etag}\n{body}` (an ETag never contains a newline).
fn decode(value: Vec<u8>) -> Result<Snapshot, RedisError> {
    let split = value
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("cache entry"))?;
    let etag = std::str::from_utf8(&value[..split]).map_err(|_| corrupt("cache entry"))?;
    let etag = ETag::from_stored(etag);
    let body = Bytes::from(value).slice(split + 1..);
    Ok(Snapshot { etag, body })
}

fn corrupt(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, "unreadable value", what.to_owned()))
}
