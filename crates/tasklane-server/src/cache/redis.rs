//! The shared tier: scope generations, write announcements and cache entries in Redis,
//! for many instances.
//!
//! Every key starts with a prefix (`tasklane` by default), so deployments can share a
//! Redis. A scope's generation is a hash `{prefix}:gen:{scope}` with a counter `c`,
//! advanced with `HINCRBY` after every committed write, and an epoch `e`, a random value
//! the first reader to find none sets. If Redis loses the hash (a `FLUSHALL`, a restart
//! without persistence), the next reader draws a new epoch, so the counter starting
//! again from 0 never reproduces a key an earlier epoch filled: the report's
//! `cacheVersion = 0` after a restart cannot happen here.
//!
//! The same hash holds one field `w:{id}` per write in flight in the scope, on any
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

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script, ScriptInvocation};
use uuid::Uuid;

use super::generation::Generation;
use super::snapshot::{ETag, Snapshot};
use crate::domain::Scope;

/// Redis's clock in milliseconds, for announcements' deadlines: one clock for every
/// instance, so their own clocks may disagree.
const NOW_MS: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// Reads a scope's generation (drawing an epoch if it has none), whether a write is in
/// flight, and, if none is, the entry filed under that generation. Announcements past
/// their deadline are withdrawn with an advance in their writers' place (a repair).
///
/// KEYS[1]: the generation hash. ARGV[1]: a fresh epoch, used only if the hash has
/// none. ARGV[2], ARGV[3]: the entry's key before and after its generation; empty
/// ARGV[2]: no entry wanted. Returns `{epoch, counter, writing (0 or 1), entry}`.
const LOOKUP: &str = r"
redis.call('HSETNX', KEYS[1], 'e', ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local epoch, counter, writing, expired = nil, '0', 0, {}
local now = now_ms()
for i = 1, #fields, 2 do
  local field, value = fields[i], fields[i + 1]
  if field == 'e' then epoch = value
  elseif field == 'c' then counter = value
  elseif tonumber(value) <= now then expired[#expired + 1] = field
  else writing = 1 end
end
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  counter = tostring(redis.call('HINCRBY', KEYS[1], 'c', 1))
end
local entry = false
if writing == 0 and ARGV[2] ~= '' then
  entry = redis.call('GET', ARGV[2] .. epoch .. '.' .. counter .. ARGV[3])
end
return {epoch, counter, writing, entry}
";

/// Announces a write in the scope until a deadline.
///
/// KEYS[1]: the generation hash. ARGV[1]: the announcement's field. ARGV[2]: how long
/// it holds, in milliseconds.
const ANNOUNCE: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], now_ms() + tonumber(ARGV[2]))
return 1
";

/// Advances the scope's generation and withdraws the announcements given, in one step.
///
/// KEYS[1]: the generation hash. ARGV: the announcements' fields (possibly none).
const ADVANCE: &str = r"
redis.call('HINCRBY', KEYS[1], 'c', 1)
if #ARGV > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV)) end
return 1
";

/// Files an entry only if the scope is still at the generation the read saw and no
/// write is in flight: the check-and-set of a fill. Returns 1 if stored.
///
/// KEYS[1]: the generation hash. KEYS[2]: the entry's key. ARGV[1], ARGV[2]: the epoch
/// and counter the read saw. ARGV[3]: the value. ARGV[4]: its TTL in milliseconds.
const FILL: &str = r"
local fields = redis.call('HGETALL', KEYS[1])
local epoch, counter = nil, '0'
for i = 1, #fields, 2 do
  local field = fields[i]
  if field == 'e' then epoch = fields[i + 1]
  elseif field == 'c' then counter = fields[i + 1]
  else return 0 end
end
if epoch ~= ARGV[1] or counter ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
";

/// What a lookup found.
pub struct Lookup {
    /// The scope's generation.
    pub generation: Generation,
    /// A write is in flight in the scope (on any instance): the read must go to the
    /// database and fill nothing.
    pub writing: bool,
    /// The entry filed under `generation`, if one was asked for and no write is in
    /// flight.
    pub entry: Option<Snapshot>,
}

/// A write's announcement: its field in the scope's generation hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement(String);

impl Announcement {
    /// A new write's announcement (a random id), not yet made.
    pub fn draw() -> Self {
        Announcement(format!("w:{}", Uuid::new_v4().simple()))
    }
}

/// Generations, write announcements and entries in one Redis.
pub struct RedisTier {
    connection: ConnectionManager,
    lookup: Script,
    announce: Script,
    advance: Script,
    fill: Script,
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
        let script = |body: &str| Script::new(&format!("{NOW_MS}{body}"));
        Ok(RedisTier {
            connection,
            lookup: script(LOOKUP),
            announce: script(ANNOUNCE),
            advance: script(ADVANCE),
            fill: script(FILL),
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

    /// The scope's generation, whether a write is in flight in it, and, if `entry` is
    /// given and none is, what is filed under the generation.
    pub async fn lookup(
        &self,
        scope: &Scope,
        entry: Option<EntryKey<'_>>,
    ) -> Result<Lookup, RedisError> {
        let fresh_epoch = format!("{:016x}", Uuid::new_v4().as_u64_pair().0);
        let (before, after) = entry.map_or((String::new(), ""), |key| {
            (self.entry_key(key.before), key.after)
        });
        let mut invocation = self.lookup.key(self.generation_key(scope));
        invocation.arg(fresh_epoch).arg(before).arg(after);
        let (epoch, counter, writing, value): (String, u64, u8, Option<Vec<u8>>) =
            self.run(&invocation).await?;
        let epoch = u64::from_str_radix(&epoch, 16).map_err(|_| corrupt("generation epoch"))?;
        Ok(Lookup {
            generation: Generation::new(epoch, counter),
            writing: writing != 0,
            entry: value.map(decode).transpose()?,
        })
    }

    /// Announces a write in `scope` to every instance, for `lease` at most: until it is
    /// withdrawn, reads of the scope go to the database and fill nothing. A call that
    /// failed may still have landed (a frozen Redis runs it when it thaws): only a
    /// withdrawal settles it.
    pub async fn announce(
        &self,
        scope: &Scope,
        announcement: &Announcement,
        lease: Duration,
    ) -> Result<(), RedisError> {
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.announce.key(self.generation_key(scope));
        invocation.arg(&announcement.0).arg(lease_ms);
        let _: i64 = self.run(&invocation).await?;
        Ok(())
    }

    /// Moves the scope to its next generation and withdraws `announcements`, in one step.
    pub async fn advance(
        &self,
        scope: &Scope,
        announcements: &[Announcement],
    ) -> Result<(), RedisError> {
        let mut invocation = self.advance.key(self.generation_key(scope));
        for announcement in announcements {
            invocation.arg(&announcement.0);
        }
        let _: i64 = self.run(&invocation).await?;
        Ok(())
    }

    /// Withdraws the announcement of a write that changed nothing (a failed
    /// precondition, no such task), leaving the generation where it is.
    pub async fn withdraw(
        &self,
        scope: &Scope,
        announcement: &Announcement,
    ) -> Result<(), RedisError> {
        let (key, field) = (&self.generation_key(scope), &announcement.0);
        let _: i64 = self
            .retried(|mut connection| async move { connection.hdel(key, field).await })
            .await?;
        Ok(())
    }

    /// Files `snapshot` under `key` (which embeds `generation`) for the tier's TTL, only
    /// if `scope` is still at `generation` and no write is in flight in it. Returns
    /// whether it was filed.
    pub async fn fill(
        &self,
        scope: &Scope,
        generation: Generation,
        key: &str,
        snapshot: &Snapshot,
    ) -> Result<bool, RedisError> {
        let mut invocation = self.fill.key(self.generation_key(scope));
        invocation
            .key(self.entry_key(key))
            .arg(format!("{:016x}", generation.epoch()))
            .arg(generation.counter())
            .arg(encode(snapshot))
            .arg(self.ttl_ms());
        let filed: i64 = self.run(&invocation).await?;
        Ok(filed == 1)
    }

    /// Runs a script invocation, [retried](Self::retried) as every call here is.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.retried(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    /// Runs `call`, once more if the connection had dropped (after a Redis restart the
    /// first call fails while the manager reconnects). Only for calls that may safely
    /// run twice: an extra advance never weakens freshness, an announcement or a
    /// withdrawal sets or clears the same field again, a fill stores the same value, and
    /// a lookup's `HSETNX` sets nothing the first run set.
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

    /// Files `snapshot` under `key`, for the tier's TTL (for generations that live
    /// elsewhere: there is nothing here to check a fill against).
    pub async fn put(&self, key: &str, snapshot: &Snapshot) -> Result<(), RedisError> {
        let _: () = self
            .connection
            .clone()
            .pset_ex(self.entry_key(key), encode(snapshot), self.ttl_ms())
            .await?;
        Ok(())
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
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
fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let mut value = Vec::with_capacity(snapshot.etag.as_str().len() + 1 + snapshot.body.len());
    value.extend_from_slice(snapshot.etag.as_str().as_bytes());
    value.push(b'\n');
    value.extend_from_slice(&snapshot.body);
    value
}

/// Reads back what [`encode`] stored.
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
