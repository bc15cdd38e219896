//! The processes a check or a test starts, stops and hurts: `tasklane serve`
//! instances, a throwaway `redis-server`, a throwaway PostgreSQL cluster.
//!
//! One supervisor for `tasklane check` and the integration tests alike. Every process
//! it touches is one it started, on 127.0.0.1, and every one is stopped when its handle
//! is dropped (a frozen one is thawed first: a stopped process cannot die).

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A process this supervisor started, and how to start it again.
pub struct Process {
    child: Child,
    command: Vec<String>,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl Process {
    /// Starts `command` (program, then arguments) with `env` added to its environment,
    /// its output appended to `log` (or discarded without one). A secret (a database
    /// URL with its password) goes in `env`: every local user can read a command line.
    pub fn start(
        command: &[String],
        env: &[(String, String)],
        log: Option<&Path>,
    ) -> anyhow::Result<Process> {
        let (stdout, stderr) = match log {
            Some(path) => {
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&command[0])
            .args(&command[1..])
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", command[0]))?;
        Ok(Process {
            child,
            command: command.to_vec(),
            env: env.to_vec(),
            log: log.map(Path::to_owned),
        })
    }

    /// Starts the same command again (after [`Process::kill`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        *self = Process::start(&self.command, &self.env, self.log.as_deref())?;
        Ok(())
    }

    /// Stops it at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Freezes it (SIGSTOP): its connections stay open and nothing answers.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Thaws it (SIGCONT).
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.signal(Signal::SIGCONT)
    }

    fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits an i32"));
        kill(pid, signal).with_context(|| format!("sending {signal} to {}", self.command[0]))
    }

    /// Waits until `ready` answers, failing early if the process exits.
    pub async fn wait_until<F: Future<Output = bool>>(
        &mut self,
        ready: impl Fn() -> F,
    ) -> anyhow::Result<()> {
        for _ in 0..200 {
            if ready().await {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before answering{}",
                    self.command[0],
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "{} did not answer within 10 s{}",
            self.command[0],
            self.log_tail()
        )
    }

    /// The last lines of its log, to quote in an error. Quoted, not pointed to: a
    /// deployment's logs live in a directory removed when the run ends, error or not.
    fn log_tail(&self) -> String {
        const LINES: usize = 10;
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
        else {
            return String::new();
        };
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        match &lines[lines.len().saturating_sub(LINES)..] {
            [] => String::new(),
            tail => format!("; its last output:\n  {}", tail.join("\n  ")),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.thaw();
        self.kill();
    }
}

/// A `redis-server` of its own on a loopback port. It never saves by itself, so a
/// restart starts empty; only [`RedisServer::save`] writes a snapshot (into a data
/// directory of its own), which [`RedisServer::roll_back`] restarts from.
pub struct RedisServer {
    process: Process,
    /// The port it listens on.
    pub port: u16,
    /// Its data directory, where `SAVE` writes [`SNAPSHOT`].
    data: tempfile::TempDir,
}

/// The file name of a [`RedisServer`]'s snapshot in its data directory.
const SNAPSHOT: &str = "snapshot.rdb";

impl RedisServer {
    /// Starts `binary` on `port` and waits until it answers.
    pub async fn start(binary: &str, port: u16, log: Option<&Path>) -> anyhow::Result<Self> {
        let data = tempfile::Builder::new()
            .prefix("tasklane-redis.")
            .tempdir()
            .context("creating Redis's data directory")?;
        let command = [
            binary,
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &data.path().display().to_string(),
            "--dbfilename",
            SNAPSHOT,
        ]
        .map(str::to_owned);
        let mut server = RedisServer {
            process: Process::start(&command, &[], log)?,
            port,
            data,
        };
        server.wait().await?;
        Ok(server)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts it again, empty, on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.process.kill();
        if let Err(error) = std::fs::remove_file(self.data.path().join(SNAPSHOT))
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(error).context("removing Redis's snapshot");
        }
        self.process.restart()?;
        self.wait().await
    }

    /// Writes a snapshot of everything it holds now (`SAVE`), for
    /// [`RedisServer::roll_back`].
    pub async fn save(&self) -> anyhow::Result<()> {
        redis_command(&self.url(), &["SAVE"]).await
    }

    /// Kills it and starts it again on the same port from its last snapshot: whatever it
    /// was told since [`RedisServer::save`] is lost, as after a failover to a replica
    /// that had not received it.
    pub async fn roll_back(&mut self) -> anyhow::Result<()> {
        if !self.data.path().join(SNAPSHOT).exists() {
            bail!("no Redis snapshot to roll back to");
        }
        self.process.restart()?;
        self.wait().await
    }

    /// Stops it at once (SIGKILL); everything it held is gone.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.process.freeze()
    }

    /// Thaws it (SIGCONT).
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.process.thaw()
    }

    async fn wait(&mut self) -> anyhow::Result<()> {
        let url = self.url();
        self.process
            .wait_until(|| async { redis_command(&url, &["PING"]).await.is_ok() })
            .await
    }
}

/// A connection to a Redis for the commands that stop it applying writes and tell
/// what it applied.
pub struct RedisAdmin(redis::aio::MultiplexedConnection);

impl RedisAdmin {
    /// Connects to the Redis at `url`, within a second.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("the Redis URL")?;
        let connection = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection(),
        )
        .await
        .context("connecting to Redis timed out")??;
        Ok(RedisAdmin(connection))
    }

    /// How many changes it has applied since its last snapshot (`INFO persistence`'s
    /// `rdb_changes_since_last_save`).
    pub async fn changes_since_save(&mut self) -> anyhow::Result<u64> {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query_async(&mut self.0)
            .await?;
        info.lines()
            .find_map(|line| line.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|count| count.trim().parse().ok())
            .context("INFO persistence names no rdb_changes_since_last_save")
    }

    /// Stops it applying any client's writes (`CLIENT PAUSE ... WRITE`): they wait, and
    /// their callers time out; reads such as `INFO` still answer.
    pub async fn pause_writes(&mut self) -> anyhow::Result<()> {
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(60_000)
            .arg("WRITE")
            .query_async::<()>(&mut self.0)
            .await?;
        Ok(())
    }

    /// Lets the writes paused by [`RedisAdmin::pause_writes`] go on.
    pub async fn unpause(&mut self) -> anyhow::Result<()> {
        redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async::<()>(&mut self.0)
            .await?;
        Ok(())
    }
}

/// How long [`redis_command`] waits to connect, and then for the answer: a loaded
/// machine's Redis holding a soak's entries takes its time.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one command, given as its words (`["PING"]`, `["FLUSHALL", "ASYNC"]`), on the
/// Redis at `url`, within [`REDIS_COMMAND_TIMEOUT`] to connect and as long again to
/// answer.
pub async fn redis_command(url: &str, command: &[&str]) -> anyhow::Result<()> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let mut connection = tokio::time::timeout(
        REDIS_COMMAND_TIMEOUT,
        client.get_multiplexed_async_connection(),
    )
    .await
    .context("connecting to Redis timed out")??;
    let (name, args) = command.split_first().context("no Redis command")?;
    let mut invocation = redis::cmd(name);
    invocation.arg(args);
    let _: redis::Value = tokio::time::timeout(
        REDIS_COMMAND_TIMEOUT,
        invocation.query_async(&mut connection),
    )
    .await
    .with_context(|| format!("Redis {} timed out", command.join(" ")))??;
    Ok(())
}

/// A throwaway PostgreSQL cluster in a working directory.
pub struct Postgres {
    /// `pg_ctl`, run as the cluster's owner.
    pg_ctl: Vec<String>,
    data: PathBuf,
    /// Server options: port, socket directory, loopback only.
    options: String,
    log: PathBuf,
}

impl Postgres {
    /// Creates a cluster with `initdb` from `bin` under `workdir` and starts it on a
    /// free port; returns it and its URL. As root, the cluster belongs to the
    /// `postgres` user (PostgreSQL refuses to run as root).
    pub async fn start(bin: &Path, workdir: &Path) -> anyhow::Result<(Postgres, String)> {
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

    /// Stops it abruptly (`pg_ctl stop -m immediate`, as a crash: its next start
    /// recovers from the write-ahead log).
    pub async fn crash(&self) -> anyhow::Result<()> {
        self.control(&["-m", "immediate", "stop"]).await
    }

    /// Starts it again.
    pub async fn start_server(&self) -> anyhow::Result<()> {
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

/// A loopback port nothing listens on (free when asked: bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
