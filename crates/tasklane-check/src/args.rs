//! `tasklane check`'s options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser;
use tasklane_server::cache::{Consistency, RedisUrl};
use tasklane_server::domain::TokenSecret;
use tasklane_server::store::DatabaseUrl;

use crate::scenario::Scenario;
use crate::workload::Mix;

/// `tasklane check` options.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Scenario to run (repeatable); all of them when not given.
    #[arg(long, value_name = "NAME", value_enum)]
    pub scenario: Vec<Scenario>,

    /// Check these live instances (repeatable) instead of starting some; faults other
    /// than `redis-flush` (which needs --redis-url) then cannot be injected. `HOST:PORT`
    /// means `http://HOST:PORT`; a user or password is refused (pass --token). The tasks
    /// the check creates are deleted after each scenario.
    #[arg(long, value_name = "URL", value_parser = parse_instance_url)]
    pub url: Vec<String>,

    /// With --url: the bearer token every request sends (servers with `--auth
    /// token`); the check acts in its workspace.
    #[arg(long, env = "TASKLANE_TOKEN", value_name = "SECRET", requires = "url",
          hide_env_values = true, value_parser = parse_token)]
    pub token: Option<TokenSecret>,

    /// With --url: the instances' Redis, for `redis-flush`, which runs only when named
    /// with --scenario: it empties that whole Redis (`FLUSHALL`), every database and
    /// key prefix on it.
    #[arg(long, value_name = "URL", requires = "url", value_parser = clap::value_parser!(RedisUrl))]
    pub redis_url: Option<RedisUrl>,

    /// The `tasklane` binary to start instances from (default: this one).
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    pub server: Option<PathBuf>,

    /// How many instances to start (default: 1 with `local` consistency, else 2).
    #[arg(long, value_name = "N", conflicts_with = "url",
          value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from))]
    pub instances: Option<usize>,

    /// Database of the started instances (default: a fresh SQLite file, removed
    /// afterwards). Each scenario marks its own tasks, so a database in use is safe.
    #[arg(long, value_name = "URL", conflicts_with = "url", value_parser = clap::value_parser!(DatabaseUrl))]
    pub database_url: Option<DatabaseUrl>,

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

    /// Clients that follow the change feed (`GET /v1/changes/stream`) in every scenario,
    /// each on a random instance, opening another stream where one is cut; 0: none (a
    /// server without the feed). Every change must reach each of them once, in order,
    /// as its write left the task, and no read that starts after one received a change
    /// may miss it.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(0..=64).map(usize::from))]
    pub subscribers: usize,

    /// In every scenario, register a webhook (in the workspace the check writes to) to
    /// a receiver of the check's own on 127.0.0.1, and judge what it delivers: every
    /// change once deduplicated, in order, with the state its write produced, signed,
    /// never sent before the one before it was acknowledged. Instances the check starts
    /// get `--webhook-allow-private` and quick retries, and the receiver fails a request
    /// now and then; instances given with --url must allow private targets themselves.
    #[arg(long)]
    pub webhooks: bool,

    /// How long each scenario's workload runs: seconds (`10`), or with a unit (`500ms`,
    /// `10s`, `2m`, `1h`, `1m30s`); at most a day.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Run the scenarios this many times over (1 to 10,000), each judged on its own and
    /// let go before the next: a soak of any length holds one scenario's history at a
    /// time.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=10000).map(usize::from))]
    pub rounds: usize,

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

    /// Write the history to this file as JSON lines while the check runs, each naming
    /// its scenario and round: every operation as it ends, then each scenario's faults,
    /// the changes its subscribers received and the streams they held.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,

    /// Write each scenario's figures to this file as one JSON document: operations,
    /// failures and indeterminate writes by cause (and how many of those turned out
    /// applied), violations by kind, acknowledged writes read back, and after each
    /// fault the seconds until the deployment was ready, its reads used the cache,
    /// answered reads and acknowledged writes again (what `scripts/soak` reports).
    /// Written before the first scenario and replaced after each (`"finished": true`
    /// once the run is over).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What `tasklane check --help` says of its exit status.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  every scenario was judged and no violation was found
  1  violations were found
  2  no verdict: too few requests succeeded to judge (fewer than 10 successful reads or
     10 acknowledged writes in a scenario, or more failed requests than successful
     ones; redis-rollback: fewer than 10 reads, or no round that lost an announcement),
     or a subscriber never got an event stream, or a webhook (--webhooks) delivered
     nothing, or the check could not run (a wrong option, an instance that does not
     answer, a server that would not start, a --json file it cannot write), or it was
     stopped (Ctrl-C, SIGTERM)";

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
    // A password here would be printed with the URL; Tasklane takes a token instead.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "a user or password in the URL is not how Tasklane authenticates: pass the \
             token with --token"
                .to_owned(),
        );
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
fn parse_token(text: &str) -> Result<TokenSecret, String> {
    TokenSecret::presented(text)
        .ok_or_else(|| "expected a token secret: `tl_` and 64 hexadecimal digits".to_owned())
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
            "http://ana:s3cret@h:1",
        ] {
            assert!(parse_instance_url(bad).is_err(), "{bad}");
        }
    }
}
