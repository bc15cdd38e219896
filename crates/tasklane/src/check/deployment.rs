//! The deployment under check, and the faults injected into it.
//!
//! Either live instances given by URL (the only fault then is flushing the Redis they
//! share, if its URL is given), or instances `tasklane check` starts itself from a
//! `tasklane` binary, on one database and, if asked (always for `redis` consistency),
//! a throwaway `redis-server` of its own; the database may be a throwaway PostgreSQL of
//! its own too. Only then can it kill an instance or stop its Redis or PostgreSQL:
//! every process it touches is one it started, on 127.0.0.1.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::client::cause_of;
use super::history::Cause;
use super::tally::hint;

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
    pub database_url: Option<String>,
    /// Start a throwaway PostgreSQL from the binaries in this directory, as their
    /// database.
    pub postgres_bin: Option<PathBuf>,
    /// `--consistency` for every instance.
    pub consistency: crate::cache::Consistency,
    /// Start a throwaway Redis for the instances (always, for `redis` consistency).
    pub with_redis: bool,
    /// The `redis-server` binary to start.
    pub redis_server: String,
    /// More `tasklane serve` options, passed as they are.
    pub serve_options: Vec<String>,
}

/// A process this command started: a `tasklane serve` or a `redis-server`.
struct Process {
    child: Child,
    port: u16,
    command: Vec<String>,
    log: PathBuf,
}

impl Process {
    fn start(command: &[String], port: u16, log: &Path) -> anyhow::Result<Process> {
        let output = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(&command[0])
            .args(&command[1..])
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("starting {}", command[0]))?;
        Ok(Process {
            child,
            port,
            command: command.to_vec(),
            log: log.to_owned(),
        })
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits an i32"))
    }

    fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        kill(self.pid(), signal).with_context(|| format!("sending {signal} to {}", self.command[0]))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until `ready` answers, failing early if the process exits.
    async fn wait_until<F: Future<Output = bool>>(
        &mut self,
        ready: impl Fn() -> F,
    ) -> anyhow::Result<()> {
        for _ in 0..200 {
            if ready().await {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before answering; see {}",
                    self.command[0],
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "{} did not answer within 10 s; see {}",
            self.command[0],
            self.log.display()
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.signal(Signal::SIGCONT); // a frozen process cannot die
        self.kill();
    }
}

/// The instances under check and what can be done to them.
pub struct Deployment {
    /// Base URL of every instance.
    pub urls: Vec<String>,
    instances: Vec<Process>,
    redis_url: Option<String>,
    redis: Option<Process>,
    postgres: Option<Postgres>,
    /// The run's own files (SQLite database, logs), removed at the end.
    _workdir: Option<tempfile::TempDir>,
}

impl Deployment {
    /// Live instances, and the Redis URL they use (for `FLUSHALL`), if given. Each
    /// must answer `/healthz` first: a wrong URL is said at once, not after every
    /// scenario has failed against it.
    pub async fn live(urls: Vec<String>, redis_url: Option<String>) -> anyhow::Result<Self> {
        for url in &urls {
            if let Err(why) = answers(url).await {
                bail!("{url} does not answer: {why}");
            }
        }
        Ok(Deployment {
            urls,
            instances: Vec::new(),
            redis_url,
            redis: None,
            postgres: None,
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
            _workdir: None,
        };
        let database_url = match (&spawn.database_url, &spawn.postgres_bin) {
            (Some(url), _) => url.clone(),
            (None, Some(bin)) => {
                let (postgres, url) = Postgres::start(bin, workdir.path()).await?;
                deployment.postgres = Some(postgres);
                url
            }
            (None, None) => format!("sqlite://{}", workdir.path().join("tasklane.db").display()),
        };
        let mut serve = vec![
            spawn.server.display().to_string(),
            "serve".to_owned(),
            "--database-url".to_owned(),
            database_url,
            "--consistency".to_owned(),
            format!("{:?}", spawn.consistency).to_lowercase(),
            "--redis-timeout-ms".to_owned(),
            "200".to_owned(),
            "--log".to_owned(),
            "warn".to_owned(),
        ];
        if spawn.with_redis || spawn.consistency == crate::cache::Consistency::Redis {
            let port = free_port()?;
            let command = vec![
                spawn.redis_server.clone(),
                "--port".to_owned(),
                port.to_string(),
                "--bind".to_owned(),
                "127.0.0.1".to_owned(),
                "--save".to_owned(),
                String::new(),
                "--appendonly".to_owned(),
                "no".to_owned(),
            ];
            let url = format!("redis://127.0.0.1:{port}");
            let mut redis = Process::start(&command, port, &workdir.path().join("redis.log"))?;
            redis.wait_until(|| redis_answers(&url)).await?;
            serve.extend(["--redis-url".to_owned(), url.clone()]);
            deployment.redis_url = Some(url);
            deployment.redis = Some(redis);
        }
        serve.extend(spawn.serve_options.iter().cloned());
        for n in 0..spawn.instances {
            let port = free_port()?;
            let mut command = serve.clone();
            command.extend(["--listen".to_owned(), format!("127.0.0.1:{port}")]);
            let log = workdir.path().join(format!("instance-{n}.log"));
            let mut instance = Process::start(&command, port, &log)?;
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
                redis_command(url, "FLUSHALL").await?;
                Ok("Redis flushed (FLUSHALL)".to_owned())
            }
            Fault::RedisRestart => {
                let redis = self.redis.as_mut().context("no Redis process")?;
                redis.kill();
                tokio::time::sleep(OUTAGE).await;
                *redis = Process::start(&redis.command, redis.port, &redis.log)?;
                let url = self.redis_url.clone().context("no Redis")?;
                redis.wait_until(|| redis_answers(&url)).await?;
                Ok(format!(
                    "Redis killed (SIGKILL), restarted empty after {OUTAGE:?}"
                ))
            }
            Fault::RedisPause => {
                let redis = self.redis.as_ref().context("no Redis process")?;
                redis.signal(Signal::SIGSTOP)?;
                tokio::time::sleep(OUTAGE).await;
                redis.signal(Signal::SIGCONT)?;
                Ok(format!(
                    "Redis paused (SIGSTOP) for {OUTAGE:?}, then resumed (SIGCONT)"
                ))
            }
            Fault::InstanceKill => {
                let n = round % self.instances.len();
                let instance = &mut self.instances[n];
                instance.kill();
                tokio::time::sleep(OUTAGE).await;
                *instance = Process::start(&instance.command, instance.port, &instance.log)?;
                let url = self.urls[n].clone();
                instance.wait_until(|| healthy(&url)).await?;
                Ok(format!(
                    "instance {n} killed (SIGKILL), restarted after {OUTAGE:?}"
                ))
            }
            Fault::PostgresRestart => {
                let postgres = self.postgres.as_ref().context("no PostgreSQL")?;
                postgres.control(&["-m", "immediate", "stop"]).await?;
                tokio::time::sleep(OUTAGE).await;
                postgres.start_server().await?;
                Ok(format!(
                    "PostgreSQL stopped abruptly (pg_ctl stop -m immediate), restarted after {OUTAGE:?}"
                ))
            }
        }
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

/// A throwaway PostgreSQL cluster in the run's working directory.
struct Postgres {
    /// `pg_ctl`, run as the cluster's owner.
    pg_ctl: Vec<String>,
    data: PathBuf,
    /// Server options: port, socket directory, loopback only.
    options: String,
    log: PathBuf,
}

impl Postgres {
    /// Creates a cluster with `initdb` from `bin` and starts it on a free port; returns
    /// it and its URL. As root, the cluster belongs to the `postgres` user (PostgreSQL
    /// refuses to run as root).
    async fn start(bin: &Path, workdir: &Path) -> anyhow::Result<(Postgres, String)> {
        let dir = workdir.join("postgres");
        std::fs::create_dir(&dir)?;
        let mut as_owner = Vec::new();
        if nix::unistd::geteuid().is_root() {
            let owner = nix::unistd::User::from_name("postgres")?
                .context("running as root, PostgreSQL needs a `postgres` user to run as")?;
            std::os::unix::fs::chown(&dir, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))?;
            std::fs::set_permissions(workdir, std::fs::Permissions::from_mode(0o755))?;
            as_owner = ["runuser", "-u", "postgres", "--"]
                .map(str::to_owned)
                .to_vec();
        }
        let data = dir.join("data");
        let log = dir.join("server.log");
        let mut initdb = as_owner.clone();
        initdb.extend([
            bin.join("initdb").display().to_string(),
            "-D".to_owned(),
            data.display().to_string(),
            "-U".to_owned(),
            "postgres".to_owned(),
            "--auth=trust".to_owned(),
            "-E".to_owned(),
            "UTF8".to_owned(),
        ]);
        run_to_completion(&initdb).await?;
        let port = free_port()?;
        let mut pg_ctl = as_owner;
        pg_ctl.push(bin.join("pg_ctl").display().to_string());
        let postgres = Postgres {
            pg_ctl,
            data,
            options: format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                dir.display()
            ),
            log,
        };
        postgres.start_server().await?;
        Ok((
            postgres,
            format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        ))
    }

    async fn start_server(&self) -> anyhow::Result<()> {
        self.control(&["-o", &self.options, "start"]).await
    }

    /// `pg_ctl ACTION` on the cluster, waiting for the action to complete.
    async fn control(&self, action: &[&str]) -> anyhow::Result<()> {
        run_to_completion(&self.pg_ctl_command(action))
            .await
            .with_context(|| format!("see {}", self.log.display()))
    }

    fn pg_ctl_command(&self, action: &[&str]) -> Vec<String> {
        let mut command = self.pg_ctl.clone();
        command.extend(["-D".to_owned(), self.data.display().to_string()]);
        command.extend([
            "-l".to_owned(),
            self.log.display().to_string(),
            "-w".to_owned(),
        ]);
        command.extend(action.iter().map(|arg| (*arg).to_owned()));
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let command = self.pg_ctl_command(&["-m", "immediate", "stop"]);
        let _ = Command::new(&command[0]).args(&command[1..]).output();
    }
}

/// The newest PostgreSQL server binaries installed in Debian's layout, or the
/// directory on the `PATH` that holds `initdb`.
pub fn find_postgres_bin() -> Option<PathBuf> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                    Some((version, entry.path().join("bin")))
                })
                .max()
                .map(|(_, bin)| bin)
        });
    installed
        .filter(|bin| bin.join("initdb").exists())
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path).find(|dir| dir.join("initdb").exists())
        })
}

/// Runs a command to its end, failing with what it printed if it fails.
async fn run_to_completion(command: &[String]) -> anyhow::Result<()> {
    let output = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .output()
        .await
        .with_context(|| format!("running {}", command[0]))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            command.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

async fn redis_answers(url: &str) -> bool {
    redis_command(url, "PING").await.is_ok()
}

async fn redis_command(url: &str, name: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let mut connection = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .context("connecting to Redis timed out")??;
    let () = tokio::time::timeout(
        Duration::from_secs(1),
        redis::cmd(name).query_async(&mut connection),
    )
    .await
    .with_context(|| format!("Redis {name} timed out"))??;
    Ok(())
}
