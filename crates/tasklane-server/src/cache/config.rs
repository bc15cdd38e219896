//! The cache's settings, and the combinations that cannot keep the freshness contract.

use std::time::Duration;

use super::design::Design;

/// Where workspace generations live, and so which deployments the cache is correct for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Consistency {
    /// In this process: correct while one process serves the database; nothing to read
    /// per request.
    Local,
    /// In Redis: correct for any number of processes sharing the Redis; one Redis round
    /// trip per cached read (two on a miss), two per write.
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
    /// In-process generations in front of a shared tier: the design first proposed
    /// for the incident (docs/incident.md).
    #[error(
        "consistency `local` cannot be combined with a Redis: each instance would keep its own \
         generation in front of shared entries; use `redis` or `strict`"
    )]
    LocalWithShared,
    /// The incident's baseline designs are only built for in-process generations.
    #[cfg(feature = "baselines")]
    #[error(
        "the baseline cache designs `delete-on-write` and `global-generation` need consistency \
         `local` without a Redis"
    )]
    BaselineNeedsLocal,
}

/// Sizing and behaviour of the cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Upper bound on the bytes of cached bodies (and their keys) in this process; 0
    /// turns caching off (every read queries the database; nothing is kept anywhere).
    pub capacity_bytes: u64,
    /// How long an entry may live; old generations' entries are reclaimed by it.
    pub ttl: Duration,
    /// How long a write's announcement holds in Redis if its writer never withdraws it:
    /// longer than any write may take between its announcement and its commit.
    pub write_lease: Duration,
    /// Where generations live.
    pub consistency: Consistency,
    /// Freshness design (always [`Design::Generational`] outside tests).
    pub design: Design,
}

impl CacheConfig {
    /// Refuses a set-up that cannot keep the freshness contract, `shared` telling
    /// whether a Redis is given; `tasklane serve` asks before it opens anything.
    pub fn check(&self, shared: bool) -> Result<(), ConfigError> {
        match (self.consistency, shared) {
            (Consistency::Local, true) => return Err(ConfigError::LocalWithShared),
            (Consistency::Redis, false) => return Err(ConfigError::RedisWithoutUrl),
            _ => {}
        }
        #[cfg(feature = "baselines")]
        if self.design.local_only() && self.consistency != Consistency::Local {
            return Err(ConfigError::BaselineNeedsLocal);
        }
        Ok(())
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity_bytes: 64 << 20,
            ttl: Duration::from_secs(300),
            write_lease: Duration::from_secs(60),
            consistency: Consistency::Local,
            design: Design::default(),
        }
    }
}
