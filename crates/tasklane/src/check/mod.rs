//! `tasklane check`: the freshness contract, checked against running servers.
//!
//! Many concurrent [clients](client) send a mix of creates, updates, deletes, single
//! reads and filtered, paginated list reads ([`workload`]) to one or more instances,
//! while a [scenario](scenario) may inject faults into the [deployment](deployment)
//! (Redis flushed, restarted or frozen; an instance killed; PostgreSQL restarted). Every operation is
//! recorded with its start and end time ([`history`]); after the run, every
//! acknowledged write is read back, and the whole history is [judged](verdict):
//! fresh reads, monotonic reads per client, no lost write.
//!
//! The checker can fail: run against a `baselines` build with
//! `--serve-option=--cache-design=delete-on-write` (the incident report's cache-aside)
//! or with `--consistency local` on two instances (the report's in-process counter), it
//! reports stale reads within seconds; the test suite shows both.

pub mod client;
pub mod deployment;
pub mod history;
pub mod scenario;
pub mod verdict;
pub mod workload;

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cache::Consistency;
use crate::config::CheckArgs;
use deployment::{Deployment, Spawn};
use history::seconds;
use scenario::{Scenario, ScenarioReport, Settings};

/// How many violations of each scenario the report prints in full.
const SHOWN: usize = 10;

/// What a whole check found.
#[derive(Debug)]
pub struct Summary {
    /// Each scenario that ran.
    pub scenarios: Vec<ScenarioReport>,
    /// How long everything took, starting the deployment included.
    pub duration: Duration,
}

impl Summary {
    /// Violations in every scenario.
    pub fn violations(&self) -> usize {
        self.scenarios.iter().map(|s| s.violations.len()).sum()
    }

    /// Operations in every scenario.
    pub fn operations(&self) -> usize {
        self.scenarios.iter().map(|s| s.operations.len()).sum()
    }
}

/// Runs the scenarios `args` names and prints the report to `out`.
pub async fn run(args: &CheckArgs, out: &mut impl Write) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut deployment = deploy(args).await?;
    let settings = Settings {
        clients: args.clients,
        duration: Duration::from_secs_f64(args.duration_secs),
        mix: args.mix,
        seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
        stale_fill_gap: Duration::from_millis(args.stale_fill_gap_ms),
        token: args.token.clone(),
    };
    writeln!(
        out,
        "Checking {} instance(s): {}; {} clients, {} per scenario, seed {}",
        deployment.urls.len(),
        deployment.urls.join(", "),
        settings.clients,
        seconds(settings.duration.as_micros() as u64),
        settings.seed
    )?;
    let mut history = match &args.history {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let chosen = if args.scenario.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenario.clone()
    };
    let mut reports = Vec::new();
    for scenario in chosen {
        if let Some(reason) = scenario::cannot_run(scenario, &deployment) {
            writeln!(out, "{}: skipped ({reason})", scenario.name())?;
            continue;
        }
        let progress = ProgressBar::new(settings.duration.as_millis() as u64)
            .with_style(
                ProgressStyle::with_template("{prefix:>14} [{bar:30}] {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            )
            .with_prefix(scenario.name());
        let report = scenario::run(scenario, &mut deployment, &settings, &progress).await?;
        progress.finish_and_clear();
        if let Some(file) = &mut history {
            write_history(file, &report).context("writing the history")?;
        }
        print_scenario(out, &report)?;
        reports.push(report);
    }
    if let Some(mut file) = history {
        file.flush().context("writing the history")?;
    }
    let summary = Summary {
        scenarios: reports,
        duration: started.elapsed(),
    };
    writeln!(out, "Scenarios run: {}", summary.scenarios.len())?;
    writeln!(out, "Operations: {}", summary.operations())?;
    writeln!(out, "Duration: {}s", summary.duration.as_secs())?;
    writeln!(out, "Violations: {}", summary.violations())?;
    Ok(summary)
}

/// The instances `args` names, or starts.
async fn deploy(args: &CheckArgs) -> anyhow::Result<Deployment> {
    if !args.url.is_empty() {
        let urls = args
            .url
            .iter()
            .map(|url| url.trim_end_matches('/').to_owned())
            .collect();
        return Ok(Deployment::live(urls, args.redis_url.clone()));
    }
    let postgres_bin = match (args.with_postgres, &args.postgres_bin) {
        (false, _) => None,
        (true, Some(bin)) => Some(bin.clone()),
        (true, None) => Some(deployment::find_postgres_bin().context(
            "--with-postgres: no PostgreSQL server binaries (initdb, pg_ctl) found; \
             install them or name their directory with --postgres-bin",
        )?),
    };
    let postgres = postgres_bin.is_some()
        || args
            .database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres"));
    let consistency = args.consistency.unwrap_or(if postgres {
        Consistency::Strict
    } else {
        Consistency::Local
    });
    let server = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding the tasklane binary")?,
    };
    let spawn = Spawn {
        server,
        instances: args
            .instances
            .unwrap_or(if consistency == Consistency::Local {
                1
            } else {
                2
            }),
        database_url: args.database_url.clone(),
        postgres_bin,
        consistency,
        with_redis: args.with_redis,
        redis_server: args.redis_server.clone(),
        serve_options: args.serve_option.clone(),
    };
    Deployment::start(&spawn).await
}

fn print_scenario(out: &mut impl Write, report: &ScenarioReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} operations in {}, {} faults, {} violations",
        report.scenario.name(),
        report.operations.len(),
        seconds(report.duration.as_micros() as u64),
        report.faults.len(),
        report.violations.len()
    )?;
    for fault in &report.faults {
        writeln!(out, "  fault at {}: {}", seconds(fault.at_us), fault.fault)?;
    }
    for violation in report.violations.iter().take(SHOWN) {
        writeln!(out, "  {violation}")?;
    }
    if report.violations.len() > SHOWN {
        writeln!(
            out,
            "  ... and {} more (--history FILE keeps every operation)",
            report.violations.len() - SHOWN
        )?;
    }
    Ok(())
}

/// One JSON line per operation and per fault, each naming its scenario.
fn write_history(out: &mut impl Write, report: &ScenarioReport) -> std::io::Result<()> {
    let scenario = report.scenario.name();
    write_lines(out, &scenario, &report.operations)?;
    write_lines(out, &scenario, &report.faults)
}

fn write_lines<T: Serialize>(
    out: &mut impl Write,
    scenario: &str,
    records: &[T],
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a, T> {
        scenario: &'a str,
        #[serde(flatten)]
        record: &'a T,
    }
    for record in records {
        serde_json::to_writer(&mut *out, &Line { scenario, record })?;
        writeln!(out)?;
    }
    Ok(())
}
