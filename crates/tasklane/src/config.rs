//! The command line: every option also reads a `TASKLANE_*` environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cache::{CacheConfig, Consistency};
use crate::telemetry::LogFormat;

/// Tasklane: a task-management API server whose cache never serves a stale task list.
#[derive(Debug, Parser)]
#[command(name = "tasklane", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (SQLite file and in-process cache by default: no set-up).
    Serve(ServeArgs),
}

/// `tasklane serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "TASKLANE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Database URL: `sqlite://PATH` (the file is created on first start) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Migrations run at start.
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        default_value = "sqlite://tasklane.db"
    )]
    pub database_url: String,

    /// Redis URL (`redis://HOST:PORT/DB`): cache generations and entries shared by every
    /// instance. Optional; without it each instance caches in its own memory only.
    #[arg(long, env = "TASKLANE_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key Tasklane writes, so deployments can share a Redis.
    #[arg(
        long,
        env = "TASKLANE_REDIS_KEY_PREFIX",
        value_name = "PREFIX",
        default_value = "tasklane"
    )]
    pub redis_key_prefix: String,

    /// Timeout of every Redis call, in milliseconds; a call that exceeds it counts as
    /// Redis being down (reads go to the database, writes are not confirmed).
    #[arg(long, env = "TASKLANE_REDIS_TIMEOUT_MS", value_name = "MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub redis_timeout_ms: u64,

    /// Where cache generations live: `local` (in this process; correct while one
    /// process serves the database), `redis` (shared by every instance; one Redis round
    /// trip per request) or `strict` (a database row; correct even if Redis loses
    /// writes, at one indexed database read per request). Default: `redis` with a Redis
    /// URL, else `local` for SQLite and `strict` for PostgreSQL.
    #[arg(long, env = "TASKLANE_CONSISTENCY", value_name = "MODE", value_enum)]
    pub consistency: Option<Consistency>,

    /// Upper bound on the in-process cache, in MiB.
    #[arg(long, env = "TASKLANE_CACHE_MIB", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub cache_mib: u64,

    /// How long a cache entry may live, in seconds. Freshness never depends on it:
    /// entries of past generations are never served, this only reclaims their memory.
    #[arg(long, env = "TASKLANE_CACHE_TTL_SECS", value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_ttl_secs: u64,

    /// Log line format.
    #[arg(long, env = "TASKLANE_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` EnvFilter syntax (`info`, `tasklane=debug`).
    #[arg(
        long,
        env = "TASKLANE_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log: String,
}

impl ServeArgs {
    /// The cache settings these options describe; `database_default` is the
    /// consistency the database suits when neither it nor a Redis URL is given.
    pub fn cache(&self, database_default: Consistency) -> CacheConfig {
        let consistency = self.consistency.unwrap_or(match self.redis_url {
            Some(_) => Consistency::Redis,
            None => database_default,
        });
        CacheConfig {
            capacity_bytes: self.cache_mib << 20,
            ttl: Duration::from_secs(self.cache_ttl_secs),
            consistency,
            ..CacheConfig::default()
        }
    }
}
