//! The command line: every option also reads a `TASKLANE_*` environment variable.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::cache::{CacheConfig, Consistency, Design};
use crate::check::scenario::Scenario;
use crate::check::workload::Mix;
use crate::domain::WorkspaceName;
use crate::http::AuthMode;
use crate::store::DatabaseUrl;
use crate::telemetry::LogFormat;

/// Tasklane: a task-management API server whose cache never serves a stale task list.
#[derive(Debug, Parser)]
#[command(name = "tasklane", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses this process's command line, or exits with clap's usage error (status 2).
    /// Its messages name the fix: a bad value taken from the environment names the
    /// variable, not only the option it stands for, and `--port` points to `--listen`.
    pub fn from_env() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::try_parse_from(&args).unwrap_or_else(|error| explained(error, &args).exit())
    }
}

/// `error` with what clap cannot know: where a bad value came from, and what a
/// familiar but absent option is called here.
fn explained(mut error: clap::Error, args: &[OsString]) -> clap::Error {
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    // `--listen <ADDR>` or `--port`: the option itself.
    let option = invalid
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_owned();
    match error.kind() {
        ErrorKind::UnknownArgument if option == "--port" => {
            let tip = "the port is part of --listen: `tasklane serve --listen 127.0.0.1:9000` \
                       (or `--listen :9000`)";
            error.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![tip.into()]),
            );
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            if let Some(variable) = environment_source(&option, args) {
                error.insert(
                    ContextKind::InvalidArg,
                    ContextValue::String(format!("{variable}, which sets {option}")),
                );
            }
        }
        _ => {}
    }
    error
}

/// Who set `option`'s value, for a message about it: the environment variable that did
/// (`TASKLANE_DATABASE_URL, which sets --database-url`), or the option itself.
pub fn named_source(option: &str) -> String {
    let args: Vec<OsString> = std::env::args_os().collect();
    environment_source(option, &args).map_or_else(
        || option.to_owned(),
        |variable| format!("{variable}, which sets {option}"),
    )
}

/// The environment variable that supplied `option`'s value: the one behind it, when it
/// is set and the option is not on the command line.
fn environment_source(option: &str, args: &[OsString]) -> Option<String> {
    let given = args.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg == option || arg.starts_with(&format!("{option}=")))
    });
    if given {
        return None;
    }
    let command = Cli::command();
    let variable = command
        .get_subcommands()
        .flat_map(|sub| sub.get_subcommands().chain([sub]))
        .flat_map(|sub| sub.get_arguments())
        .filter(|arg| {
            arg.get_long()
                .is_some_and(|long| option == format!("--{long}"))
        })
        .find_map(|arg| arg.get_env())?
        .to_str()?
        .to_owned();
    std::env::var_os(&variable).map(|_| variable)
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (SQLite file and in-process cache by default: no set-up).
    Serve(ServeArgs),
    /// Check the freshness contract: drive concurrent clients against instances (started
    /// here, or live ones with --url), inject faults, and judge every read; exits 1 on
    /// any violation, 2 when too few requests succeeded to judge.
    #[command(after_help = CHECK_EXIT_STATUS)]
    Check(CheckArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Fill a database with realistic tasks spread over many workspaces (for
    /// benchmarks and trials), with a progress bar.
    Seed(SeedArgs),
}

/// `tasklane seed` options.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// How many tasks in all.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub tasks: u64,

    /// How many workspaces to spread them over (evenly).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub workspaces: u64,

    /// Workspaces are named `{PREFIX}-0001`, `{PREFIX}-0002`, ...
    #[arg(long, value_name = "PREFIX", default_value = "seed")]
    pub workspace_prefix: String,

    /// Seed of the generator: the same seed gives the same tasks (with fresh ids).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// The database to fill (as for `tasklane serve`); it must exist: `tasklane serve`
    /// creates it.
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        default_value = "sqlite://tasklane.db",
        value_parser = parse_database_url
    )]
    pub database_url: String,

    /// Add tasks to workspaces that already have some. Without it, seeding workspaces
    /// that hold tasks (a second run with the same prefix) is refused.
    #[arg(long)]
    pub append: bool,

    /// Create the database (a SQLite file) and its tables if they do not exist yet, as
    /// `tasklane serve` would: for a dataset of its own. Without it, the database must
    /// be one a server has already created, so that a mistyped URL is refused.
    #[arg(long)]
    pub new: bool,
}

/// `tasklane token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a member of a workspace (the workspace exists from its first
    /// token on) and print its secret, which is shown this once.
    Create(TokenCreateArgs),
}

/// `tasklane token create` options.
#[derive(Debug, Clone, Args)]
pub struct TokenCreateArgs {
    /// The workspace: 1 to 64 of a-z, 0-9, `-` and `_`. Requests with the token act in
    /// it and see only its tasks.
    #[arg(long, value_name = "NAME")]
    pub workspace: WorkspaceName,

    /// Who the token is for.
    #[arg(long, value_name = "NAME", default_value = "owner")]
    pub member: String,

    /// The database the server uses (as for `tasklane serve`); it must exist:
    /// `tasklane serve` creates it.
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        default_value = "sqlite://tasklane.db",
        value_parser = parse_database_url
    )]
    pub database_url: String,
}

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
        default_value = "sqlite://tasklane.db",
        value_parser = parse_database_url
    )]
    pub database_url: String,

    /// Redis URL (`redis://HOST:PORT/DB`): cache generations and entries shared by every
    /// instance. Optional; without it each instance caches in its own memory only.
    #[arg(long, env = "TASKLANE_REDIS_URL", value_name = "URL", value_parser = parse_redis_url)]
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
    /// trip per cached read, two on a miss or a write) or `strict` (a database row; correct even if Redis loses
    /// writes, at one indexed database read per request). Default: `redis` with a Redis
    /// URL, else `local` for SQLite and `strict` for PostgreSQL.
    #[arg(long, env = "TASKLANE_CONSISTENCY", value_name = "MODE", value_enum)]
    pub consistency: Option<Consistency>,

    /// Upper bound on the in-process cache, in MiB; when full, the least recently used
    /// entries go first. 0 turns caching off (every read queries the database), for
    /// comparison.
    #[arg(long, env = "TASKLANE_CACHE_MIB", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
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

    /// Test-only reference designs and timing hooks (`baselines` builds only).
    #[cfg(feature = "baselines")]
    #[command(flatten)]
    pub baselines: BaselineArgs,
}

/// `tasklane serve` options that exist only in `baselines` builds, for the freshness
/// tests and `tasklane check` to show what a broken cache does. Never in a release.
#[cfg(feature = "baselines")]
#[derive(Debug, Clone, Default, Args)]
pub struct BaselineArgs {
    /// Test-only: the cache's design; `delete-on-write` is the incident report's plain
    /// cache-aside, which serves stale lists.
    #[arg(
        long,
        env = "TASKLANE_CACHE_DESIGN",
        value_name = "DESIGN",
        value_enum,
        default_value_t
    )]
    pub cache_design: Design,

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
            // A write runs to its end even past the request timeout, each of its
            // statements within it; twice the timeout leaves room for a slow commit.
            write_lease: Duration::from_secs(2 * self.request_timeout_secs),
            consistency,
            design: self.design(),
        }
    }

    /// The cache's design: Tasklane's own, except where a `baselines` build asks for
    /// the report's.
    #[cfg(feature = "baselines")]
    fn design(&self) -> Design {
        self.baselines.cache_design
    }

    #[cfg(not(feature = "baselines"))]
    fn design(&self) -> Design {
        Design::Generational
    }
}

/// `tasklane check` options.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Scenario to run (repeatable); all of them when not given.
    #[arg(long, value_name = "NAME", value_enum)]
    pub scenario: Vec<Scenario>,

    /// Check these live instances (repeatable) instead of starting some; faults other
    /// than `redis-flush` (which needs --redis-url) then cannot be injected. `HOST:PORT`
    /// means `http://HOST:PORT`. The tasks the check creates are deleted after each
    /// scenario.
    #[arg(long, value_name = "URL", value_parser = parse_instance_url)]
    pub url: Vec<String>,

    /// With --url: the bearer token every request sends (servers with `--auth
    /// token`); the check acts in its workspace.
    #[arg(long, env = "TASKLANE_TOKEN", value_name = "SECRET", requires = "url",
          hide_env_values = true, value_parser = parse_token)]
    pub token: Option<String>,

    /// With --url: the instances' Redis, for `redis-flush`.
    #[arg(long, value_name = "URL", requires = "url", value_parser = parse_redis_url)]
    pub redis_url: Option<String>,

    /// The `tasklane` binary to start instances from (default: this one).
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    pub server: Option<PathBuf>,

    /// How many instances to start (default: 1 with `local` consistency, else 2).
    #[arg(long, value_name = "N", conflicts_with = "url",
          value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from))]
    pub instances: Option<usize>,

    /// Database of the started instances (default: a fresh SQLite file, removed
    /// afterwards). Each scenario marks its own tasks, so a database in use is safe.
    #[arg(long, value_name = "URL", conflicts_with = "url", value_parser = parse_database_url)]
    pub database_url: Option<String>,

    /// Start a throwaway PostgreSQL (in a temporary directory, on a free port) as the
    /// instances' database, so that `postgres-restart` can restart it.
    #[arg(long, conflicts_with_all = ["url", "database_url"])]
    pub with_postgres: bool,

    /// Directory of the PostgreSQL server binaries (`initdb`, `pg_ctl`) for
    /// --with-postgres (default: the newest under /usr/lib/postgresql, else the PATH).
    #[arg(long, value_name = "DIR", requires = "with_postgres")]
    pub postgres_bin: Option<PathBuf>,

    /// Consistency of the started instances (default: `local` for SQLite, `strict` for
    /// PostgreSQL). With `redis`, a throwaway Redis is started for them.
    #[arg(long, value_name = "MODE", value_enum, conflicts_with = "url")]
    pub consistency: Option<Consistency>,

    /// Start a throwaway Redis for the instances (implied by `--consistency redis`);
    /// with `strict`, they share cache entries through it, generations staying in the
    /// database.
    #[arg(long, conflicts_with = "url")]
    pub with_redis: bool,

    /// The `redis-server` binary to start.
    #[arg(long, value_name = "PATH", default_value = "redis-server")]
    pub redis_server: String,

    /// One more option for every started `tasklane serve` (repeatable), e.g.
    /// `--serve-option=--cache-mib=8`.
    #[arg(
        long,
        value_name = "OPTION",
        allow_hyphen_values = true,
        conflicts_with = "url"
    )]
    pub serve_option: Vec<String>,

    /// Concurrent clients.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    pub clients: usize,

    /// How long each scenario's workload runs: seconds (`10`), or with a unit (`500ms`,
    /// `10s`, `2m`, `1h`, `1m30s`); at most a day.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Relative weights of the operations.
    #[arg(long, value_name = "WEIGHTS", default_value_t)]
    pub mix: Mix,

    /// Seed of every random choice, to repeat a run's workload (default: random, and
    /// printed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// `stale-fill`: milliseconds between sending the list read and sending the write.
    #[arg(long, value_name = "MS", default_value_t = 5)]
    pub stale_fill_gap_ms: u64,

    /// Write every operation and fault as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// What `tasklane check --help` says of its exit status.
const CHECK_EXIT_STATUS: &str = "\
Exit status:
  0  every scenario was judged and no violation was found
  1  violations were found
  2  no verdict: too few requests succeeded to judge (fewer than 10 successful reads or
     10 acknowledged writes in a scenario, or more failed requests than successful
     ones), or the check could not run (a wrong option, an instance that does not answer,
     a server that would not start)";

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

/// A database URL that `tasklane serve` can keep data in (see [`DatabaseUrl`]).
fn parse_database_url(text: &str) -> Result<String, String> {
    text.parse::<DatabaseUrl>().map(|_| text.to_owned())
}

/// A Redis URL the Redis client can connect with.
fn parse_redis_url(text: &str) -> Result<String, String> {
    redis::IntoConnectionInfo::into_connection_info(text)
        .map(|_| text.to_owned())
        .map_err(|_| {
            "expected redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB with a password, \
             redis+unix:///PATH for a socket)"
                .to_owned()
        })
}

/// `tasklane check --url`: an instance's base URL; `HOST:PORT` means
/// `http://HOST:PORT`, as a browser reads it.
fn parse_instance_url(text: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected http://HOST:PORT (or https://, and a path if the \
                            instance is served under one)";
    let url = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let parsed = reqwest::Url::parse(&url).map_err(|error| format!("{error}; {EXPECTED}"))?;
    let shape = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if !shape {
        return Err(EXPECTED.to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `tasklane check --duration`: seconds (`10`, `2.5`), or numbers each with a unit
/// (`500ms`, `10s`, `2m`, `1h`, `1m30s`); above 0 and at most a day.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as `10` (seconds), `10s`, `2m` or `1m30s`, \
                            above 0 and at most 24h";
    let duration = match text.trim().parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|_| EXPECTED)?,
        Err(_) => {
            let mut total = Duration::ZERO;
            let mut rest = text.trim();
            while !rest.is_empty() {
                let number_end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .ok_or(EXPECTED)?;
                let (number, tail) = rest.split_at(number_end);
                let unit_end = tail
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(tail.len());
                let (unit, tail) = tail.split_at(unit_end);
                let seconds_per = match unit {
                    "ms" => 0.001,
                    "s" => 1.0,
                    "m" => 60.0,
                    "h" => 3600.0,
                    _ => return Err(EXPECTED.to_owned()),
                };
                let number: f64 = number.parse().map_err(|_| EXPECTED)?;
                total += Duration::try_from_secs_f64(number * seconds_per).map_err(|_| EXPECTED)?;
                rest = tail;
            }
            total
        }
    };
    if duration.is_zero() || duration > Duration::from_secs(86_400) {
        return Err(EXPECTED.to_owned());
    }
    Ok(duration)
}

/// A token secret as `tasklane token create` prints it.
fn parse_token(text: &str) -> Result<String, String> {
    crate::domain::TokenSecret::presented(text)
        .map(|_| text.to_owned())
        .ok_or_else(|| "expected a token secret: `tl_` and 64 hexadecimal digits".to_owned())
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
    fn a_duration_is_seconds_or_numbers_with_units() {
        let secs = Duration::from_secs;
        for (text, expected) in [
            ("10", secs(10)),
            ("2.5", Duration::from_millis(2500)),
            ("10s", secs(10)),
            ("2m", secs(120)),
            ("1h", secs(3600)),
            ("500ms", Duration::from_millis(500)),
            ("1m30s", secs(90)),
            ("24h", secs(86_400)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in [
            "", "0", "0s", "-5", "10x", "s", "2 m", "25h", "1e999", "NaN", "m10",
        ] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.contains("`10s`, `2m`"), "{bad}: {error}");
        }
    }

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
    fn an_instance_url_without_a_scheme_is_http() {
        assert_eq!(
            parse_instance_url("localhost:54827"),
            Ok("http://localhost:54827".to_owned())
        );
        assert_eq!(
            parse_instance_url("https://tasks.example.com/tasklane/"),
            Ok("https://tasks.example.com/tasklane".to_owned())
        );
        for bad in [
            "ftp://host:21",
            "http://",
            "http://h:1/?q=1",
            "http://h:notaport",
        ] {
            assert!(parse_instance_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_redis_url_that_does_not_parse_says_what_is_expected() {
        assert!(parse_redis_url("redis://127.0.0.1:6379/2").is_ok());
        let error = parse_redis_url("127.0.0.1:6379").unwrap_err();
        assert!(
            error.starts_with("expected redis://HOST:PORT/DB"),
            "{error}"
        );
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
