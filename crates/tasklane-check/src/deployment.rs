//! The deployment under check, and the faults injected into it.
//!
//! Either live instances given by URL (the only fault then is flushing the Redis they
//! share, if its URL is given), or instances `tasklane check` starts itself from a
//! `tasklane` binary, on one database and, if asked (always for `redis` consistency),
//! a throwaway `redis-server` of its own; the database may be a throwaway PostgreSQL of
//! its own too. Only then can it kill an instance or stop its Redis or PostgreSQL:
//! every process it touches is one it started, on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tasklane_server::cache::{Consistency, RedisUrl};
use tasklane_server::config::spelled;
use tasklane_server::store::DatabaseUrl;

use crate::client::cause_of;
use crate::history::Cause;
use crate::supervisor::{Postgres, Process, RedisServer, free_port, redis_command};
use crate::tally::hint;

/// A fault `tasklane check` can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `FLUSHALL` on the Redis: every generation and entry it held is gone.
    RedisFlush,
    /// The Redis killed (SIGKILL) and started again, empty.
    RedisRestart,
    /// The Redis frozen (SIGSTOP) for a while, then thawed (SIGCONT): connections stay
    /// open and nothing answers.
    RedisPause,
    /// An instance killed (SIGKILL) mid-request and started again on the same port.
    InstanceKill,
    /// The PostgreSQL stopped abruptly (`pg_ctl stop -m immediate`, as a crash: its
    /// next start recovers from the write-ahead log) and started again.
    PostgresRestart,
}

/// How long a paused Redis stays frozen, and a killed process stays down.
const OUTAGE: Duration = Duration::from_millis(800);

/// Where to start instances.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The `tasklane` binary.
    pub server: PathBuf,
    /// How many instances.
    pub instances: usize,
    /// Their database (`None`: a fresh SQLite file of the run's own, or the
    /// throwaway PostgreSQL).
    pub database_url: Option<DatabaseUrl>,
    /// Start a throwaway PostgreSQL from the binaries in this directory, as their
    /// database.
    pub postgres_bin: Option<PathBuf>,
    /// `--consistency` for every instance.
    pub consistency: Consistency,
    /// Start a throwaway Redis for the instances (always, for `redis` consistency).
    pub with_redis: bool,
    /// The `redis-server` binary to start.
    pub redis_server: String,
    /// More `tasklane serve` options, passed as they are.
    pub serve_options: Vec<String>,
}

/// The instances under check and what can be done to them.
pub struct Deployment {
    /// Base URL of every instance.
    pub urls: Vec<String>,
    instances: Vec<Process>,
    redis_url: Option<String>,
    redis: Option<RedisServer>,
    postgres: Option<Postgres>,
    /// The consistency of the instances it started (none for live instances).
    consistency: Option<Consistency>,
    /// The run's own files (SQLite database, logs), removed at the end.
    _workdir: Option<tempfile::TempDir>,
}

impl Deployment {
    /// Live instances, and the Redis URL they use (for `FLUSHALL`), if given. Each
    /// must answer `/healthz` first: a wrong URL is said at once, not after every
    /// scenario has failed against it.
    pub async fn live(urls: Vec<String>, redis_url: Option<RedisUrl>) -> anyhow::Result<Self> {
        for url in &urls {
            if let Err(why) = answers(url).await {
                bail!("{url} does not answer: {why}");
            }
        }
        Ok(Deployment {
            urls,
            instances: Vec::new(),
            redis_url: redis_url.map(|url| url.as_str().to_owned()),
            redis: None,
            postgres: None,
            consistency: None,
            _workdir: None,
        })
    }

    /// Starts the instances `spawn` describes (and their Redis), and waits until every
    /// one answers.
    pub async fn start(spawn: &Spawn) -> anyhow::Result<Self> {
        let workdir = tempfile::Builder::new()
            .prefix("tasklane-check.")
            .tempdir()
            .context("creating a working directory")?;
        let mut deployment = Deployment {
            urls: Vec::new(),
            instances: Vec::new(),
            redis_url: None,
            redis: None,
            postgres: None,
            consistency: Some(spawn.consistency),
            _workdir: None,
        };
        let database_url = match (&spawn.database_url, &spawn.postgres_bin) {
            (Some(url), _) => url.as_str().to_owned(),
            (None, Some(bin)) => {
                let (postgres, url) = Postgres::start(bin, workdir.path()).await?;
                deployment.postgres = Some(postgres);
                url
            }
            (None, None) => format!("sqlite://{}", workdir.path().join("tasklane.db").display()),
        };
        // In the environment, not on the command line, where any local user could read
        // a password in it.
        let env = [("TASKLANE_DATABASE_URL".to_owned(), database_url)];
        let mut serve = vec![
            spawn.server.display().to_string(),
            "serve".to_owned(),
            "--consistency".to_owned(),
            spelled(spawn.consistency),
            "--redis-timeout-ms".to_owned(),
            "200".to_owned(),
            // Subscribers catch up within a tenth of a second where no wake-up reaches
            // an instance (SQLite has no notifications between instances).
            "--feed-poll-ms".to_owned(),
            "100".to_owned(),
            "--log".to_owned(),
            "warn".to_owned(),
        ];
        if spawn.with_redis || spawn.consistency == Consistency::Redis {
            let log = workdir.path().join("redis.log");
            let redis = RedisServer::start(&spawn.redis_server, free_port()?, Some(&log)).await?;
            serve.extend(["--redis-url".to_owned(), redis.url()]);
            deployment.redis_url = Some(redis.url());
            deployment.redis = Some(redis);
        }
        serve.extend(spawn.serve_options.iter().cloned());
        for n in 0..spawn.instances {
            let port = free_port()?;
            let mut command = serve.clone();
            command.extend(["--listen".to_owned(), format!("127.0.0.1:{port}")]);
            let log = workdir.path().join(format!("instance-{n}.log"));
            let mut instance = Process::start(&command, &env, Some(&log))?;
            let url = format!("http://127.0.0.1:{port}");
            instance.wait_until(|| healthy(&url)).await?;
            deployment.urls.push(url);
            deployment.instances.push(instance);
        }
        deployment._workdir = Some(workdir);
        Ok(deployment)
    }

    /// Why `fault` cannot be injected here, if it cannot.
    pub fn cannot(&self, fault: Fault) -> Option<&'static str> {
        match fault {
            Fault::RedisFlush if self.redis_url.is_none() => {
                Some("needs a Redis (--redis-url, --with-redis or --consistency redis)")
            }
            Fault::RedisRestart | Fault::RedisPause if self.redis.is_none() => Some(
                "needs a Redis started by tasklane check (--with-redis or --consistency redis, \
                 without --url): it kills or freezes that process",
            ),
            Fault::InstanceKill if self.instances.is_empty() => {
                Some("needs instances started by tasklane check (without --url): it kills them")
            }
            Fault::PostgresRestart if self.postgres.is_none() => Some(
                "needs a PostgreSQL started by tasklane check (--with-postgres, without --url): \
                 it stops that cluster",
            ),
            _ => None,
        }
    }

    /// Injects `fault` (the `round`-th time), returns once the deployment is whole
    /// again, and says what was done.
    pub async fn inject(&mut self, fault: Fault, round: usize) -> anyhow::Result<String> {
        match fault {
            Fault::RedisFlush => {
                let url = self.redis_url.as_deref().context("no Redis")?;
                // ASYNC: the keys are gone at once, their memory freed in the background
                // (a soak's worth of entries takes Redis seconds to free).
                redis_command(url, &["FLUSHALL", "ASYNC"]).await?;
                Ok("Redis flushed (FLUSHALL ASYNC)".to_owned())
            }
            Fault::RedisRestart => {
                let redis = self.redis.as_mut().context("no Redis process")?;
                redis.kill();
                tokio::time::sleep(OUTAGE).await;
                redis.restart().await?;
                Ok(format!(
                    "Redis killed (SIGKILL), restarted empty after {OUTAGE:?}"
                ))
            }
            Fault::RedisPause => {
                let redis = self.redis.as_ref().context("no Redis process")?;
                redis.freeze()?;
                tokio::time::sleep(OUTAGE).await;
                redis.thaw()?;
                Ok(format!(
                    "Redis paused (SIGSTOP) for {OUTAGE:?}, then resumed (SIGCONT)"
                ))
            }
            Fault::InstanceKill => {
                let n = round % self.instances.len();
                let instance = &mut self.instances[n];
                instance.kill();
                tokio::time::sleep(OUTAGE).await;
                instance.restart()?;
                let url = self.urls[n].clone();
                instance.wait_until(|| healthy(&url)).await?;
                Ok(format!(
                    "instance {n} killed (SIGKILL), restarted after {OUTAGE:?}"
                ))
            }
            Fault::PostgresRestart => {
                let postgres = self.postgres.as_ref().context("no PostgreSQL")?;
                postgres.crash().await?;
                tokio::time::sleep(OUTAGE).await;
                postgres.start_server().await?;
                Ok(format!(
                    "PostgreSQL stopped abruptly (pg_ctl stop -m immediate), restarted after {OUTAGE:?}"
                ))
            }
        }
    }

    /// Why Redis cannot be rolled back under these instances, if it cannot: it must be
    /// one `tasklane check` started, and hold the writes' announcements.
    pub fn cannot_roll_back(&self) -> Option<&'static str> {
        self.cannot(Fault::RedisRestart).or_else(|| {
            (self.consistency != Some(Consistency::Redis)).then_some(
                "needs --consistency redis: in the other modes Redis holds no announcement of \
                 a write to lose",
            )
        })
    }

    /// The consistency of the instances it started (none for live instances).
    pub fn consistency(&self) -> Option<Consistency> {
        self.consistency
    }

    /// The Redis it started, if it started one.
    pub fn redis(&mut self) -> Option<&mut RedisServer> {
        self.redis.as_mut()
    }

    /// Waits until every instance answers `/healthz` (after a fault, before the
    /// read-back).
    pub async fn settle(&self) {
        for url in &self.urls {
            for _ in 0..100 {
                if healthy(url).await {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why an instance does not answer its health check, if it does not.
async fn answers(url: &str) -> Result<(), String> {
    let cause = match reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => return Ok(()),
        Ok(response) => Cause::Status(response.status().as_u16()),
        Err(error) => cause_of(&error),
    };
    Err(match (cause, hint(cause)) {
        (Cause::Status(_), _) => {
            format!("its /healthz answered {cause}: is it a Tasklane instance?")
        }
        (_, Some(hint)) => format!("{cause} ({hint})"),
        (_, None) => cause.to_string(),
    })
}

async fn healthy(url: &str) -> bool {
    let health = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    health.is_ok_and(|response| response.status().is_success())
}
