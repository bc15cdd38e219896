//! `bench-feed`: the change feed's figures for `scripts/bench`, against servers it is
//! given (it starts none).
//!
//! - `latency`: a subscriber follows one instance's stream while writes are made, one at
//!   a time, through another; each write's latency is the time from its acknowledgement
//!   to its event's arrival (zero when the event came first, as it may: the event needs
//!   only the commit, the acknowledgement also the writer's advance).
//! - `fanout`: many subscribers follow one instance; for each write, the time from its
//!   acknowledgement until every subscriber has its event, and the server's resident
//!   memory with all of them connected.
//!
//! - `webhooks`: delivery latency and throughput, and writes with 100 webhooks
//!   registered against none ([`webhooks`]).
//!
//! Each prints one line of figures (milliseconds, MiB) for the script to record.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio::sync::mpsc;

mod webhooks;

#[derive(Parser)]
struct Cli {
    /// The bearer token of the workspace written and followed.
    #[arg(long, global = true, default_value = "")]
    token: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write-to-event latency from one instance to another's subscriber. Prints
    /// `p50 p99 max` in milliseconds.
    Latency {
        /// The instance written to.
        #[arg(long)]
        write: String,
        /// The instance followed.
        #[arg(long)]
        follow: String,
        /// How many writes.
        #[arg(long, default_value_t = 500)]
        writes: usize,
    },
    /// One write's fan-out to many subscribers of one instance. Prints `subscribers
    /// p50 p99 rss_mib`: the time until every subscriber has the event (p50 and p99 over
    /// the writes) and the server's resident memory with every subscriber connected.
    Fanout {
        /// The instance followed and written to.
        #[arg(long)]
        url: String,
        /// How many subscribers.
        #[arg(long, default_value_t = 10_000)]
        subscribers: usize,
        /// How many writes, one at a time.
        #[arg(long, default_value_t = 20)]
        writes: usize,
        /// The server's process id, for its resident memory.
        #[arg(long)]
        pid: u32,
    },
    /// Webhook deliveries from one instance (run with `--webhook-allow-private`) to a
    /// receiver of this process. Prints `p50 p99 one_per_s hundred_per_s
    /// writes_without_per_s writes_with_per_s`.
    Webhooks {
        /// The instance.
        #[arg(long)]
        url: String,
        /// Writes, one at a time, for the latency.
        #[arg(long, default_value_t = 300)]
        writes: usize,
        /// Writes delivered to one endpoint for its throughput (a fifth of them to each
        /// of 100 endpoints).
        #[arg(long, default_value_t = 2000)]
        backlog: usize,
        /// Seconds of writes without webhooks, then with 100.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tasklane_server::server::raise_descriptor_limit()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let bench = Bench {
        client,
        token: cli.token,
    };
    match cli.command {
        Command::Latency {
            write,
            follow,
            writes,
        } => bench.latency(&write, &follow, writes).await,
        Command::Fanout {
            url,
            subscribers,
            writes,
            pid,
        } => bench.fanout(&url, subscribers, writes, pid).await,
        Command::Webhooks {
            url,
            writes,
            backlog,
            seconds,
        } => bench.webhooks(&url, writes, backlog, seconds).await,
    }
}

#[derive(Clone)]
struct Bench {
    client: reqwest::Client,
    token: String,
}

/// An event that arrived: the task it names, and when.
struct Arrival {
    task_id: String,
    at: Instant,
}

impl Bench {
    async fn latency(&self, write: &str, follow: &str, writes: usize) -> anyhow::Result<()> {
        let (arrivals, mut arrived) = mpsc::unbounded_channel();
        let (ready, connected) = tokio::sync::oneshot::channel();
        self.subscribe(follow, arrivals, Some(ready)).await?;
        connected.await.context("the stream never opened")?;
        let mut latencies = Vec::with_capacity(writes);
        for _ in 0..writes {
            let (id, acknowledged) = self.create(write).await?;
            let arrival = loop {
                let arrival = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
                    .await
                    .context("no event within 10 s of a write")?
                    .context("the stream ended")?;
                if arrival.task_id == id {
                    break arrival;
                }
            };
            latencies.push(arrival.at.saturating_duration_since(acknowledged));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.sort();
        println!(
            "{:.2} {:.2} {:.2}",
            millis(percentile(&latencies, 50)),
            millis(percentile(&latencies, 99)),
            millis(*latencies.last().expect("writes > 0"))
        );
        Ok(())
    }

    async fn fanout(
        &self,
        url: &str,
        subscribers: usize,
        writes: usize,
        pid: u32,
    ) -> anyhow::Result<()> {
        let (arrivals, mut arrived) = mpsc::unbounded_channel();
        let mut opened = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            let (ready, connected) = tokio::sync::oneshot::channel();
            self.subscribe(url, arrivals.clone(), Some(ready)).await?;
            opened.push(connected);
        }
        for connected in opened {
            connected.await.context("a stream never opened")?;
        }
        let rss = resident_mib(pid)?;
        let mut spans = Vec::with_capacity(writes);
        for _ in 0..writes {
            let (id, acknowledged) = self.create(url).await?;
            let mut reached = 0;
            let mut last = acknowledged;
            while reached < subscribers {
                let arrival = tokio::time::timeout(Duration::from_secs(30), arrived.recv())
                    .await
                    .context("not every subscriber had the event within 30 s")?
                    .context("a stream ended")?;
                if arrival.task_id == id {
                    reached += 1;
                    last = last.max(arrival.at);
                }
            }
            spans.push(last.saturating_duration_since(acknowledged));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        spans.sort();
        println!(
            "{subscribers} {:.1} {:.1} {rss:.0}",
            millis(percentile(&spans, 50)),
            millis(percentile(&spans, 99))
        );
        Ok(())
    }

    /// Creates a task through `base`; its id and when the acknowledgement arrived.
    async fn create(&self, base: &str) -> anyhow::Result<(String, Instant)> {
        let response = self
            .client
            .post(format!("{base}/v1/tasks"))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"title": "feed benchmark"}))
            .send()
            .await?;
        let acknowledged = Instant::now();
        if !response.status().is_success() {
            bail!("a write answered {}", response.status());
        }
        let task: serde_json::Value = response.json().await?;
        let id = task["id"].as_str().context("a task id")?.to_owned();
        Ok((id, acknowledged))
    }

    /// Follows `base`'s stream from now, sending each event's arrival to `arrivals`;
    /// `ready` is told once the stream is open.
    async fn subscribe(
        &self,
        base: &str,
        arrivals: mpsc::UnboundedSender<Arrival>,
        ready: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> anyhow::Result<()> {
        let response = self
            .client
            .get(format!("{base}/v1/changes/stream"))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("the stream answered {}", response.status());
        }
        let mut body = response.bytes_stream();
        tokio::spawn(async move {
            let mut ready = ready;
            let mut pending = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                let at = Instant::now();
                pending.extend_from_slice(&chunk);
                // The stream opens with a comment; events follow, a blank line after each.
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                while let Some(end) = find(&pending, b"\n\n") {
                    let event: Vec<u8> = pending.drain(..end + 2).collect();
                    if let Some(task_id) = task_id(&event) {
                        let _ = arrivals.send(Arrival { task_id, at });
                    }
                }
            }
        });
        Ok(())
    }
}

/// The `task_id` of an event's `data` line, if it has one.
fn task_id(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let data = text.lines().find_map(|line| line.strip_prefix("data: "))?;
    let change: serde_json::Value = serde_json::from_str(data).ok()?;
    change["task_id"].as_str().map(str::to_owned)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The resident memory of process `pid`, in MiB.
fn resident_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading the memory of process {pid}"))?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS in /proc/PID/status")?;
    Ok(kib / 1024.0)
}
