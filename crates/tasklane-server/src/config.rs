//! `tasklane serve`'s options: every one also reads a `TASKLANE_*` environment
//! variable. The defaults a deployment gets when an option is not given are decided
//! here, once (see [`default_consistency`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU64;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::builder::TypedValueParser;
use clap::{Args, ValueEnum};

use crate::cache::{CacheConfig, Consistency, Design, RedisUrl};
use crate::feed::{FeedDesign, Retention};
use crate::http::AuthMode;
use crate::store::{Backend, DatabaseUrl};
use crate::telemetry::LogFormat;
use crate::webhook::{Schedule, ServerKey, WebhookConfig};

/// `tasklane serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on: `IP:PORT`; `localhost:PORT` and `:PORT` are
    /// PORT on the loopback address (127.0.0.1). To listen on every interface, name it:
    /// `0.0.0.0:PORT` (which then requires tokens).
    #[arg(
        long,
        env = "TASKLANE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    /// Authentication: `token` (every `/v1` request needs `Authorization: Bearer
    /// <token>`, from `tasklane token create`, and acts in that token's workspace) or
    /// `none` (every request acts in the workspace `default`; refused on an address
    /// other than loopback). Default: `none` on loopback, else `token`.
    #[arg(long, env = "TASKLANE_AUTH", value_name = "MODE", value_enum)]
    pub auth: Option<AuthMode>,

    /// Requests per second each token may make (a burst of as many is allowed);
    /// beyond it, `429` with `Retry-After`. 0: no limit.
    #[arg(
        long,
        env = "TASKLANE_RATE_LIMIT",
        value_name = "PER_SECOND",
        default_value_t = 100
    )]
    pub rate_limit: u32,

    /// Failed authentications (unknown or revoked tokens) per minute each client address
    /// may make (a burst of as many is allowed); beyond it, `429` with `Retry-After`, and
    /// only tokens verified in the last 10 s are accepted from that address until then.
    /// Behind a proxy every client shares its address. 0: no limit.
    #[arg(
        long,
        env = "TASKLANE_AUTH_FAILURE_LIMIT",
        value_name = "PER_MINUTE",
        default_value_t = 60
    )]
    pub auth_failure_limit: u32,

    /// How long a client waits, in seconds, before it is answered `503`. The request
    /// still runs to its end, so a write may or may not have been applied: a retry is
    /// safe with the Idempotency-Key the write was sent with.
    #[arg(long, env = "TASKLANE_REQUEST_TIMEOUT_SECS", value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// How long, in seconds, a client has to send a request body in full, counted from
    /// its headers; beyond it, `408`.
    #[arg(long, env = "TASKLANE_BODY_READ_TIMEOUT_SECS", value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_secs: u64,

    /// How long, in seconds, a client has to send a request's headers in full, counted
    /// from the connection's opening or, on a kept-alive connection, from the request's
    /// first byte; beyond it the connection is closed.
    #[arg(long, env = "TASKLANE_HEADER_READ_TIMEOUT_SECS", value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// How long, in seconds, a kept-alive connection may wait for its next request (or a
    /// client may leave a response unread) before it is closed. Longer than a load
    /// balancer's usual 60 s, so that the balancer closes first.
    #[arg(long, env = "TASKLANE_IDLE_TIMEOUT_SECS", value_name = "SECONDS", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,

    /// Most client connections open at once; beyond it new connections wait (in the
    /// listen backlog) until one closes. Lowered at start if the file descriptor limit
    /// leaves less room.
    #[arg(long, env = "TASKLANE_MAX_CONNECTIONS", value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|n| n as usize))]
    pub max_connections: usize,

    /// A web origin (`https://tasks.example.com`) whose pages may call the API from a
    /// browser (repeatable; CORS). None by default: browsers refuse cross-origin calls.
    #[arg(long, env = "TASKLANE_CORS_ORIGIN", value_name = "ORIGIN", value_delimiter = ',',
          value_parser = parse_origin)]
    pub cors_origin: Vec<HeaderValue>,

    /// Database URL: `sqlite://PATH` (the file is created on first start, in a
    /// directory that must exist) or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    /// Migrations run at start. An empty path or an in-memory SQLite database is
    /// refused: it would lose every write.
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        value_name = "URL",
        // Its value may hold a password: `--help` names the variable, never its value.
        hide_env_values = true,
        default_value = "sqlite://tasklane.db",
        value_parser = clap::value_parser!(DatabaseUrl)
    )]
    pub database_url: DatabaseUrl,

    /// Redis URL (`redis://HOST:PORT/DB`): cache generations and entries shared by every
    /// instance. Optional; without it each instance caches in its own memory only.
    #[arg(long, env = "TASKLANE_REDIS_URL", value_name = "URL", hide_env_values = true,
          value_parser = clap::value_parser!(RedisUrl))]
    pub redis_url: Option<RedisUrl>,

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

    /// Where cache generations live: `local` (in this process; correct while one process
    /// serves the database), `redis` (shared by every instance; one Redis round trip per
    /// cached read, two on a miss or a write) or `strict` (a database row; correct even if
    /// Redis loses writes, at one indexed database read per request). Reads that arrive
    /// together share their generation's round trip or read. Default: `redis` with
    /// a Redis URL, else `local` for SQLite and `strict` for PostgreSQL.
    #[arg(long, env = "TASKLANE_CONSISTENCY", value_name = "MODE", value_enum)]
    pub consistency: Option<Consistency>,

    /// Upper bound on the in-process cache, in MiB; when full, the least recently used
    /// entries go first. 0 turns caching off (every read queries the database), for
    /// comparison.
    #[arg(long, env = "TASKLANE_CACHE_MIB", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    pub cache_mib: u64,

    /// How often, in milliseconds, each workspace followed by an event stream or a
    /// webhook reads its change log's head without being woken: the most a change can
    /// be delayed when a wake-up is lost (this instance's writes and, on PostgreSQL,
    /// every instance's wake their followers at once). Also how often due webhooks
    /// (a retry's time come, a lease expired) are looked for. 10 to 60,000.
    #[arg(long, env = "TASKLANE_FEED_POLL_MS", value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub feed_poll_ms: u64,

    /// How many changes each workspace followed by an event stream keeps in memory for
    /// the streams that are behind, shared by them all: a stream further behind (its
    /// client reads too slowly) is ended with a `lagged` event, and resumes from the log
    /// when its client reconnects. 512 (a follower hands out up to 500 changes at once)
    /// to 1,048,576.
    #[arg(long, env = "TASKLANE_FEED_BUFFER", value_name = "CHANGES", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(512..=1 << 20))]
    pub feed_buffer: u64,

    /// Most event streams open at once on this instance (default: half of
    /// `--max-connections`); beyond it a new stream is answered `503` with `Retry-After`.
    /// A stream holds its connection for as long as it lasts: without a bound, streams
    /// could take every connection and lock ordinary requests out.
    #[arg(long, env = "TASKLANE_MAX_STREAMS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: Option<u32>,

    /// How long, in seconds, an event stream may stay silent before a heartbeat comment
    /// is sent. 1 to 15.
    #[arg(long, env = "TASKLANE_STREAM_HEARTBEAT_SECS", value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=15))]
    pub stream_heartbeat_secs: u64,

    /// How long a cache entry may live, in seconds. Freshness never depends on it:
    /// entries of past generations are never served, this only reclaims their memory.
    #[arg(long, env = "TASKLANE_CACHE_TTL_SECS", value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_ttl_secs: u64,

    /// How long the change log keeps a change (`7d`, `12h`, `30m`, `90s`, or combined:
    /// `1h30m`). `/v1/changes` answers `410` for a position older than that, and a task
    /// whose delete is older can no longer be restored. At least 1s.
    #[arg(long, env = "TASKLANE_CHANGES_RETENTION", value_name = "DURATION", default_value = "7d",
          value_parser = parse_retention)]
    pub changes_retention: Duration,

    /// Most changes the log keeps per workspace: older ones go first, whatever their age.
    /// At least 1.
    #[arg(long, env = "TASKLANE_CHANGES_RETENTION_COUNT", value_name = "N", default_value = "100000",
          value_parser = parse_retention_count)]
    pub changes_retention_count: NonZeroU64,

    /// Let webhooks reach addresses that are not public: loopback, private networks,
    /// link-local (where cloud metadata services answer), and the like. Off by default,
    /// so that a client cannot make the server call its own network; turn it on only
    /// where every client is trusted with that (receivers on the same machine, tests).
    #[arg(long, env = "TASKLANE_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// How long one webhook delivery attempt may take, from connecting to the end of
    /// the receiver's answer (`10s`, `500ms`). 100ms to 5m.
    #[arg(long, env = "TASKLANE_WEBHOOK_TIMEOUT", value_name = "DURATION", default_value = "10s",
          value_parser = parse_webhook_duration)]
    pub webhook_timeout: Duration,

    /// How long a webhook's sender holds it without renewing (renewed every third of
    /// it): after an instance dies, how long its webhooks wait for another instance to
    /// take them over. Longer than `--webhook-timeout` plus 2s. 100ms to 5m.
    #[arg(long, env = "TASKLANE_WEBHOOK_LEASE", value_name = "DURATION", default_value = "30s",
          value_parser = parse_webhook_duration)]
    pub webhook_lease: Duration,

    /// The wait after a webhook's first failed attempt at a change; later waits grow
    /// from it (x6, x24, x120, ... x8640: with 5s, about 22 hours in all). 100ms to 5m.
    #[arg(long, env = "TASKLANE_WEBHOOK_FIRST_RETRY", value_name = "DURATION", default_value = "5s",
          value_parser = parse_webhook_duration)]
    pub webhook_first_retry: Duration,

    /// Attempts at one change before a webhook is disabled. 1 to 10.
    #[arg(long, env = "TASKLANE_WEBHOOK_ATTEMPTS", value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub webhook_attempts: u32,

    /// The key webhook signing secrets are sealed with at rest: 32 bytes as base64
    /// (`openssl rand -base64 32`), the same on every instance. Without it, secrets are
    /// stored as issued. Prefer the environment variable to the option, which other
    /// users of the machine can read in the process list.
    #[arg(long, env = "TASKLANE_SECRET_KEY", value_name = "BASE64", hide_env_values = true,
          value_parser = keep_secret)]
    pub secret_key: Option<SecretText>,

    /// Also serve `/metrics` (and only it) on this address, `IP:PORT` as for `--listen`,
    /// so that scrapers can reach it on a private interface. It needs no token: keep it
    /// where only your monitoring can connect. `/metrics` stays on `--listen` too.
    #[arg(
        long,
        env = "TASKLANE_METRICS_LISTEN",
        value_name = "ADDR",
        value_parser = parse_listen
    )]
    pub metrics_listen: Option<SocketAddr>,

    /// A request that takes longer than this, in milliseconds, is logged at WARN
    /// (every request is logged at DEBUG).
    #[arg(long, env = "TASKLANE_LOG_SLOW_MS", value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub log_slow_ms: u64,

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

    /// Benchmark switches (`bench` builds only).
    #[cfg(feature = "bench")]
    #[command(flatten)]
    pub bench: BenchArgs,

    /// Test-only reference designs and timing hooks (`baselines` builds only).
    #[cfg(feature = "baselines")]
    #[command(flatten)]
    pub baselines: BaselineArgs,
}

/// `tasklane serve` options that exist only in `bench` builds, for `scripts/bench` to
/// measure what a feature costs against the same build without it. Never in a release.
#[cfg(feature = "bench")]
#[derive(Debug, Clone, Default, Args)]
pub struct BenchArgs {
    /// Benchmark-only: no metrics (every handle a no-op, no request measured), for the
    /// cost of metrics on the cached list read.
    #[arg(long)]
    pub bench_no_metrics: bool,
}

/// `tasklane serve` options that exist only in `baselines` builds, for the freshness
/// tests and `tasklane check` to show what a broken cache does. Never in a release.
#[cfg(feature = "baselines")]
#[derive(Debug, Clone, Default, Args)]
pub struct BaselineArgs {
    /// Test-only: the cache's design; `delete-on-write` is the plain cache-aside of the
    /// incident (docs/incident.md), which serves stale lists.
    #[arg(
        long,
        env = "TASKLANE_CACHE_DESIGN",
        value_name = "DESIGN",
        value_enum,
        default_value_t
    )]
    pub cache_design: Design,

    /// Test-only: when the change feed hands out a change; `announce-first` leaves out
    /// the advance of the workspace's generation before it, which a Redis that loses a
    /// write's announcement turns into reads that miss an event already received.
    #[arg(
        long,
        env = "TASKLANE_FEED_DESIGN",
        value_name = "DESIGN",
        value_enum,
        default_value_t
    )]
    pub feed_design: FeedDesign,

    /// Test-only: hold every database read back this long after its query, before the
    /// cache sees its rows (the window of the incident's stale fill).
    #[arg(
        long,
        env = "TASKLANE_READ_DELAY_MS",
        value_name = "MS",
        default_value_t = 0
    )]
    pub read_delay_ms: u64,
}

impl ServeArgs {
    /// The authentication mode these options ask for; `none` only on loopback.
    pub fn auth_mode(&self) -> Result<AuthMode, String> {
        let loopback = self.listen.ip().is_loopback();
        match self.auth {
            Some(AuthMode::None) if !loopback => Err(format!(
                "refusing to serve {} without authentication: `--auth none` is only for \
                 loopback addresses; issue tokens with `tasklane token create` and use \
                 `--auth token`",
                self.listen
            )),
            Some(mode) => Ok(mode),
            None if loopback => Ok(AuthMode::None),
            None => Ok(AuthMode::Token),
        }
    }

    /// The cache settings these options describe.
    pub fn cache(&self) -> CacheConfig {
        let consistency = self.consistency.unwrap_or_else(|| {
            default_consistency(self.database_url.backend(), self.redis_url.is_some())
        });
        CacheConfig {
            capacity_bytes: self.cache_mib << 20,
            ttl: Duration::from_secs(self.cache_ttl_secs),
            // A write runs to its end even past the request timeout, each of its
            // statements within it; twice the timeout leaves room for a slow commit.
            write_lease: Duration::from_secs(2 * self.request_timeout_secs),
            consistency,
            design: self.design(),
        }
    }

    /// How webhooks are delivered; refused when the lease could end during an attempt.
    pub fn webhooks(&self) -> Result<WebhookConfig, String> {
        if self.webhook_lease < self.webhook_timeout + Duration::from_secs(2) {
            return Err(format!(
                "--webhook-lease ({}) must be longer than --webhook-timeout ({}) plus 2s: a \
                 sender must be able to finish an attempt within its lease",
                humantime::format_duration(self.webhook_lease),
                humantime::format_duration(self.webhook_timeout)
            ));
        }
        Ok(WebhookConfig {
            schedule: Schedule {
                first: self.webhook_first_retry,
                attempts: self.webhook_attempts,
            },
            timeout: self.webhook_timeout,
            lease: self.webhook_lease,
            poll: Duration::from_millis(self.feed_poll_ms),
            allow_private: self.webhook_allow_private,
        })
    }

    /// The server key, if one is given; refused without repeating it.
    pub fn server_key(&self) -> Result<Option<ServerKey>, String> {
        self.secret_key
            .as_ref()
            .map(|SecretText(text)| {
                ServerKey::parse(text)
                    .map_err(|reason| format!("--secret-key (TASKLANE_SECRET_KEY) {reason}"))
            })
            .transpose()
    }

    /// How long, and how much, the change log keeps.
    pub fn retention(&self) -> Retention {
        Retention {
            age: self.changes_retention,
            count: self.changes_retention_count,
        }
    }

    /// The cache's design: Tasklane's own, except where a `baselines` build asks for
    /// one of the incident's.
    #[cfg(feature = "baselines")]
    fn design(&self) -> Design {
        self.baselines.cache_design
    }

    #[cfg(not(feature = "baselines"))]
    fn design(&self) -> Design {
        Design::Generational
    }

    /// The change feed's design: Tasklane's own, except where a `baselines` build asks
    /// for the baseline that announces before it advances.
    #[cfg(feature = "baselines")]
    pub fn feed_design(&self) -> FeedDesign {
        self.baselines.feed_design
    }

    /// The change feed's design: Tasklane's own (a release build has no other).
    #[cfg(not(feature = "baselines"))]
    pub fn feed_design(&self) -> FeedDesign {
        FeedDesign::AdvanceFirst
    }

    /// Whether the server keeps metrics: always, except where a `bench` build is asked
    /// not to (to measure their cost).
    pub fn metrics(&self) -> bool {
        #[cfg(feature = "bench")]
        if self.bench.bench_no_metrics {
            return false;
        }
        true
    }
}

/// A mode's name as the command line takes it (`--consistency redis`, `--auth none`).
pub fn spelled(mode: impl ValueEnum) -> String {
    mode.to_possible_value()
        .expect("no mode is skipped")
        .get_name()
        .to_owned()
}

/// The consistency a deployment gets when none is asked for: `redis` when its
/// instances are given a Redis, else what the database suits: `local` for a SQLite file
/// (which one process serves), `strict` for PostgreSQL (which any number may).
pub fn default_consistency(backend: Backend, redis: bool) -> Consistency {
    match (redis, backend) {
        (true, _) => Consistency::Redis,
        (false, Backend::Sqlite) => Consistency::Local,
        (false, Backend::Postgres) => Consistency::Strict,
    }
}

/// `tasklane serve --listen`: `IP:PORT`, or `localhost:PORT` and `:PORT` for a port on
/// the loopback address. `:PORT` conventionally means every interface; here it keeps
/// the default's loopback address, so that changing the port never exposes the server
/// (every interface is `0.0.0.0:PORT`, said in so many words).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    let port = text
        .strip_prefix(':')
        .or_else(|| text.strip_prefix("localhost:"));
    if let Some(Ok(port)) = port.map(str::parse::<u16>) {
        return Ok((Ipv4Addr::LOCALHOST, port).into());
    }
    // A number after the last `:` that no port can be: say so, not the generic advice.
    if let Some((_, digits)) = text.rsplit_once(':')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u16>().is_err()
    {
        return Err(format!("port {digits} is out of range (1-65535)"));
    }
    let port = text
        .parse::<u16>()
        .map_or_else(|_| "8080".to_owned(), |port| port.to_string());
    Err(format!(
        "expected an IP address and a port, such as `127.0.0.1:{port}` (`:{port}` or \
         `localhost:{port}` for that port on loopback, `0.0.0.0:{port}` for every interface)"
    ))
}

/// `--changes-retention`: a duration as people write it (`7d`, `12h`, `1h30m`), of at
/// least a second (a log that keeps nothing could follow no client, nor restore a task).
fn parse_retention(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text).map_err(|error| {
        format!("`{text}` is not a duration such as `7d`, `12h`, `30m` or `90s` ({error})")
    })?;
    if age < Duration::from_secs(1) {
        return Err(format!(
            "`{text}` would keep changes for less than a second; give at least `1s`"
        ));
    }
    Ok(age)
}

/// A webhook duration option: from 100ms to 5 minutes.
fn parse_webhook_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| {
        format!("`{text}` is not a duration such as `10s` or `500ms` ({error})")
    })?;
    if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&duration) {
        return Err(format!("`{text}` is outside 100ms to 5m"));
    }
    Ok(duration)
}

/// Text that must not be shown: kept as given, and checked by the code that uses it,
/// whose errors never repeat it (a parser that refused it would have it printed).
#[derive(Clone)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

fn keep_secret(text: &str) -> Result<SecretText, String> {
    Ok(SecretText(text.to_owned()))
}

/// `--changes-retention-count`: a positive number of changes.
fn parse_retention_count(text: &str) -> Result<NonZeroU64, String> {
    let count: u64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of changes"))?;
    NonZeroU64::new(count).ok_or_else(|| {
        "0 would keep no change at all (every read of /v1/changes would answer 410, and no \
         task could be restored); give at least 1"
            .to_owned()
    })
}

/// An origin as browsers send it: scheme, host and optional port, nothing else.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let shape = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .is_some_and(|host| !host.is_empty() && !host.contains('/'));
    if !shape {
        return Err("expected an origin such as `https://tasks.example.com` (no path)".to_owned());
    }
    HeaderValue::from_str(text).map_err(|_| "not a valid header value".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_address_is_ip_and_port_or_a_port_on_loopback() {
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert_eq!(
            parse_listen("0.0.0.0:8080"),
            Ok("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::1]:8080"),
            Ok("[::1]:8080".parse().unwrap())
        );
        assert_eq!(parse_listen("localhost:9000"), Ok(loopback(9000)));
        assert_eq!(parse_listen(":9000"), Ok(loopback(9000)));
        let error = parse_listen("9000").unwrap_err();
        assert!(error.contains("such as `127.0.0.1:9000`"), "{error}");
        for bad in ["example.com:80", ":http", ""] {
            let error = parse_listen(bad).unwrap_err();
            assert!(error.contains("such as `127.0.0.1:8080`"), "{bad}: {error}");
        }
        for bad in [
            "localhost:99999",
            ":65536",
            "127.0.0.1:99999",
            "[::1]:123456",
        ] {
            let error = parse_listen(bad).unwrap_err();
            assert!(error.contains("out of range (1-65535)"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_retention_is_a_duration_of_at_least_a_second() {
        let hours = |h: u64| Ok(Duration::from_secs(h * 3600));
        assert_eq!(parse_retention("7d"), hours(7 * 24));
        assert_eq!(parse_retention("12h"), hours(12));
        assert_eq!(parse_retention("30m"), Ok(Duration::from_secs(30 * 60)));
        assert_eq!(parse_retention("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_retention("1h30m"), Ok(Duration::from_secs(5400)));
        for short in ["0", "0s", "500ms"] {
            let error = parse_retention(short).unwrap_err();
            assert!(error.contains("at least `1s`"), "{short}: {error}");
        }
        for bad in ["7", "week", "", "-1d"] {
            let error = parse_retention(bad).unwrap_err();
            assert!(error.contains("such as `7d`"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_retention_count_keeps_at_least_one_change() {
        assert_eq!(parse_retention_count("100000").unwrap().get(), 100_000);
        let error = parse_retention_count("0").unwrap_err();
        assert!(error.contains("give at least 1"), "{error}");
        assert!(parse_retention_count("-1").is_err());
        assert!(parse_retention_count("many").is_err());
    }

    #[test]
    fn a_cors_origin_is_a_scheme_and_a_host_only() {
        assert!(parse_origin("https://tasks.example.com").is_ok());
        assert!(parse_origin("http://localhost:5173").is_ok());
        for bad in [
            "tasks.example.com",
            "https://",
            "https://a.example/path",
            "*",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
