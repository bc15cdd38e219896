//! `tasklane check`: the freshness contract, checked against running servers.
//!
//! Many concurrent [clients](client) send a mix of creates, updates, deletes, single
//! reads and filtered, paginated list reads ([`workload`]) to one or more instances,
//! while a [scenario] may inject faults into the [deployment]
//! (Redis flushed, restarted, frozen or rolled back; an instance killed; PostgreSQL
//! restarted), and [subscribers](subscriber) follow the change feed's event stream on
//! random instances, resuming where a stream is cut. Every operation is recorded with
//! its start and end time, and every event with the time it arrived ([`history`]);
//! after the run, every acknowledged write is read back, the subscribers catch up with
//! the log, and the whole history is [judged](verdict): fresh reads, monotonic reads
//! per client, no lost write; every change delivered to every subscriber once, in
//! order, as its write left the task, and traced to a write that may have been applied;
//! no read that started after a subscriber received a change misses it. A run that
//! judged too little (too few requests answered: a wrong URL, a missing token; a
//! subscriber that never got a stream) is not a pass but inconclusive, with its failed
//! requests counted by cause ([`tally`]).
//!
//! Its [supervisor] starts, kills, freezes and restarts the processes of a deployment
//! it runs itself (and rolls a Redis back to a snapshot); the integration tests use it
//! too.
//!
//! The checker can fail: run against a `baselines` build with
//! `--serve-option=--cache-design=delete-on-write` (the cache-aside of the incident,
//! `docs/incident.md`) or with `--consistency local` on two instances (the in-process
//! counter first proposed for it), it reports stale reads within seconds; with
//! `--serve-option=--feed-design=announce-first` (a feed that hands changes out before
//! it advances the cache), `redis-rollback` reports reads behind events already
//! received. The test suite shows all three.

mod args;
pub mod backoff;
pub mod client;
pub mod deployment;
pub mod figures;
pub mod history;
pub mod receiver;
pub mod record;
pub mod recovery;
mod report_file;
pub mod scenario;
pub mod subscriber;
pub mod supervisor;
pub mod tally;
pub mod verdict;
pub mod webhook;
pub mod workload;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tasklane_server::cache::Consistency;
use tasklane_server::config::default_consistency;
use tasklane_server::store::Backend;

pub use args::{CheckArgs, EXIT_STATUS, parse_duration};
use deployment::{Deployment, Spawn};
use history::{Cause, seconds};
use receiver::Receiver;
use record::Recorder;
use scenario::{Scenario, ScenarioReport, Settings};
use webhook::Webhooks;

/// How many violations of each scenario the report prints in full.
const SHOWN: usize = 10;

/// The exit status of `tasklane check` that found violations.
pub const EXIT_VIOLATIONS: u8 = 1;
/// The exit status of `tasklane check` that reached no verdict: too few requests
/// answered, or the check could not run (clap's usage errors exit 2 too).
pub const EXIT_INCONCLUSIVE: u8 = 2;

/// What a whole check found.
#[derive(Debug)]
pub struct Summary {
    /// The rounds asked for (`--rounds`).
    pub rounds: usize,
    /// Each scenario that ran.
    pub scenarios: Vec<ScenarioReport>,
    /// How long everything took, starting the deployment included.
    pub duration: Duration,
}

impl Summary {
    /// Violations in every scenario.
    pub fn violations(&self) -> usize {
        self.scenarios.iter().map(|s| s.violation_count).sum()
    }

    /// Operations in every scenario.
    pub fn operations(&self) -> usize {
        self.scenarios.iter().map(|s| s.operations).sum()
    }

    /// Why the run judged too little to pass, one reason per line; empty when it
    /// judged enough.
    pub fn inconclusive(&self) -> Vec<String> {
        if self.scenarios.is_empty() {
            return vec!["no scenario could run on this deployment".to_owned()];
        }
        self.scenarios
            .iter()
            .filter_map(|report| {
                let tally = &report.tally;
                let shortfall = report.shortfall()?;
                let mut reason = format!("{}: {shortfall}", report.scenario.name());
                if tally.failures() > 0 {
                    reason += &format!("; failed: {}", tally.failure_causes());
                }
                Some(reason)
            })
            .collect()
    }

    /// The exit status: 1 with violations, 2 without a verdict, else 0.
    pub fn exit_status(&self) -> u8 {
        if self.violations() > 0 {
            EXIT_VIOLATIONS
        } else if !self.inconclusive().is_empty() {
            EXIT_INCONCLUSIVE
        } else {
            0
        }
    }
}

/// Runs the scenarios `args` names and prints the report to `out`.
pub async fn run(args: &CheckArgs, out: &mut impl Write) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut deployment = deploy(args).await?;
    let chosen = if args.scenario.is_empty() {
        // Flushing a Redis the check did not start empties every database and key
        // prefix on it, others' too: against live instances, only when named.
        Scenario::ALL
            .into_iter()
            .filter(|scenario| args.url.is_empty() || *scenario != Scenario::RedisFlush)
            .collect()
    } else {
        // A scenario asked for by name that cannot run is refused before any other
        // runs: a report without it would read as if its fault had been survived.
        for &scenario in &args.scenario {
            if let Some(reason) = scenario::cannot_run(scenario, &deployment, args.subscribers) {
                anyhow::bail!(
                    "--scenario {} cannot run here: it {reason}",
                    scenario.name()
                );
            }
        }
        args.scenario.clone()
    };
    // Before either file is touched: refused, a run leaves an earlier history as it was.
    if let (Some(history), Some(json)) = (&args.history, &args.json)
        && report_file::same_file(history, json)
    {
        anyhow::bail!(
            "--history and --json name the same file ({}): each report needs a file of its own",
            json.display()
        );
    }
    let mut settings = Settings {
        clients: args.clients,
        duration: args.duration,
        mix: args.mix,
        seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
        stale_fill_gap: Duration::from_millis(args.stale_fill_gap_ms),
        token: args.token.clone(),
        subscribers: args.subscribers,
        webhooks: if args.webhooks {
            Some(Webhooks {
                receiver: Arc::new(Receiver::start().await?),
                // Only instances it started retry quickly enough to be failed on.
                faults: args.url.is_empty(),
            })
        } else {
            None
        },
        recorder: None,
    };
    writeln!(
        out,
        "Checking {} instance(s): {}; {} clients, {} subscribers, {} per scenario, seed {}",
        deployment.urls.len(),
        deployment.urls.join(", "),
        settings.clients,
        settings.subscribers,
        seconds(settings.duration.as_micros() as u64),
        settings.seed
    )?;
    let mut summary = Summary {
        rounds: args.rounds,
        scenarios: Vec::new(),
        duration: started.elapsed(),
    };
    // Written before the first scenario (a path that cannot be written stops the check
    // at once) and again after each, so that an interrupted run keeps what it judged.
    let figures = args.json.as_deref();
    write_json(figures, &deployment, &settings, &summary, false)?;
    // Only then is the history created (or emptied): a check that cannot write its figures
    // leaves an earlier history as it was.
    let recorder = match &args.history {
        Some(path) => Some(Arc::new(Recorder::create(path)?)),
        None => None,
    };
    settings.recorder = recorder.clone();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            writeln!(out, "Round {round} of {}", args.rounds)?;
        }
        // Each round its own random choices, repeatable from the one seed.
        let round_settings = Settings {
            seed: settings.seed.wrapping_add((round as u64 - 1) << 32),
            ..settings.clone()
        };
        for &scenario in &chosen {
            if let Some(reason) = scenario::cannot_run(scenario, &deployment, args.subscribers) {
                writeln!(out, "{}: skipped ({reason})", scenario.name())?;
                continue;
            }
            let progress = ProgressBar::new(round_settings.duration.as_millis() as u64)
                .with_style(
                    ProgressStyle::with_template("{prefix:>14} [{bar:30}] {msg}")
                        .expect("a valid template")
                        .progress_chars("=> "),
                )
                .with_prefix(scenario.name());
            let report = scenario::run(
                (scenario, round),
                &mut deployment,
                &round_settings,
                &progress,
            )
            .await?;
            progress.finish_and_clear();
            print_scenario(out, &report)?;
            summary.scenarios.push(report);
            summary.duration = started.elapsed();
            write_json(figures, &deployment, &settings, &summary, false)?;
        }
    }
    if let Some(recorder) = &recorder {
        recorder.finish()?;
    }
    summary.duration = started.elapsed();
    write_json(figures, &deployment, &settings, &summary, true)?;
    print_totals(out, &summary, settings.token.is_some())?;
    Ok(summary)
}

/// The instances `args` names, or starts.
async fn deploy(args: &CheckArgs) -> anyhow::Result<Deployment> {
    if !args.url.is_empty() {
        return Deployment::live(args.url.clone(), args.redis_url.clone()).await;
    }
    let postgres_bin = match (args.with_postgres, &args.postgres_bin) {
        (false, _) => None,
        (true, Some(bin)) => Some(bin.clone()),
        (true, None) => Some(supervisor::find_postgres_bin().context(
            "--with-postgres: no PostgreSQL server binaries (initdb, pg_ctl) found; \
             install them or name their directory with --postgres-bin",
        )?),
    };
    let backend = match (&args.database_url, &postgres_bin) {
        (Some(url), _) => url.backend(),
        (None, Some(_)) => Backend::Postgres,
        (None, None) => Backend::Sqlite,
    };
    // The instances' own Redis (--with-redis) shares entries only: generations stay
    // where the database puts them unless `--consistency redis` says otherwise.
    let consistency = args
        .consistency
        .unwrap_or_else(|| default_consistency(backend, false));
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
        serve_options: if args.webhooks {
            [Webhooks::serve_options(), args.serve_option.clone()].concat()
        } else {
            args.serve_option.clone()
        },
    };
    Deployment::start(&spawn).await
}

fn print_scenario(out: &mut impl Write, report: &ScenarioReport) -> std::io::Result<()> {
    let tally = &report.tally;
    writeln!(
        out,
        "{}: {} operations ({} reads, {} acknowledged writes, {} failed) in {}, {} faults, {} \
         violations",
        report.scenario.name(),
        report.operations,
        tally.reads,
        tally.writes,
        tally.failures(),
        seconds(report.duration.as_micros() as u64),
        report.faults.len(),
        report.violation_count
    )?;
    if tally.failures() > 0 {
        writeln!(out, "  failed: {}", tally.failure_causes())?;
    }
    if !report.received.is_empty() {
        let each: Vec<String> = report.received.iter().map(usize::to_string).collect();
        writeln!(
            out,
            "  feed: {} subscribers, {} events received ({}), {} reconnections",
            report.received.len(),
            report.figures.events,
            each.join(" + "),
            report.figures.reconnections
        )?;
    }
    if let Some(webhook) = &report.figures.webhook {
        writeln!(
            out,
            "  webhook: {} changes delivered ({} requests, {} repeats) to {}",
            webhook.changes, webhook.requests, webhook.repeats, webhook.endpoint
        )?;
    }
    if let Some(leftovers) = &report.leftovers {
        writeln!(
            out,
            "  not every task of the scenario could be deleted ({}); they carry the word {} \
             (GET /v1/tasks?q={} finds them)",
            leftovers.reason, leftovers.marker, leftovers.marker
        )?;
    }
    for fault in &report.faults {
        writeln!(out, "  fault at {}: {}", seconds(fault.at_us), fault.fault)?;
    }
    for violation in report.violations.iter().take(SHOWN) {
        writeln!(out, "  {violation}")?;
    }
    if report.violation_count > SHOWN {
        writeln!(
            out,
            "  ... and {} more (--history FILE keeps every operation)",
            report.violation_count - SHOWN
        )?;
    }
    Ok(())
}

/// The totals, and when the run judged too little, why and what may fix it (`token`:
/// whether the check sent one).
fn print_totals(out: &mut impl Write, summary: &Summary, token: bool) -> std::io::Result<()> {
    let (succeeded, failed) = summary
        .scenarios
        .iter()
        .map(|report| &report.tally)
        .fold((0, 0), |(s, f), t| (s + t.succeeded(), f + t.failures()));
    writeln!(out, "Scenarios run: {}", summary.scenarios.len())?;
    writeln!(
        out,
        "Operations: {} ({succeeded} succeeded, {failed} failed)",
        summary.operations()
    )?;
    writeln!(out, "Duration: {}s", summary.duration.as_secs())?;
    writeln!(out, "Violations: {}", summary.violations())?;
    // Violations are a verdict however little else was judged.
    let inconclusive = summary.inconclusive();
    if summary.violations() > 0 || inconclusive.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "Inconclusive: too few requests succeeded to judge the freshness contract"
    )?;
    for reason in &inconclusive {
        writeln!(out, "  {reason}")?;
    }
    let mut causes: Vec<Cause> = summary
        .scenarios
        .iter()
        .flat_map(|report| report.tally.failed.keys().copied())
        .collect();
    causes.sort();
    causes.dedup();
    for hint in tally::hints(&causes, token, succeeded > 0) {
        writeln!(out, "  hint: {hint}")?;
    }
    Ok(())
}

/// `--json FILE`: the deployment, the settings and each scenario's
/// [figures](figures::Figures) so far, as one JSON document, with the rounds asked for;
/// `finished` once the run is over. Nothing without a path.
fn write_json(
    path: Option<&Path>,
    deployment: &Deployment,
    settings: &Settings,
    summary: &Summary,
    finished: bool,
) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let scenarios: Vec<serde_json::Value> = summary
        .scenarios
        .iter()
        .map(|report| {
            serde_json::json!({
                "scenario": report.scenario.name(),
                "round": report.round,
                "duration_s": report.duration.as_secs_f64(),
                "inconclusive": report.shortfall(),
                "figures": report.figures,
            })
        })
        .collect();
    let document = serde_json::json!({
        "instances": deployment.urls.len(),
        "consistency": deployment
            .consistency()
            .and_then(|c| clap::ValueEnum::to_possible_value(&c))
            .map(|value| value.get_name().to_owned()),
        "clients": settings.clients,
        "subscribers": settings.subscribers,
        "workload_s": settings.duration.as_secs_f64(),
        "rounds": summary.rounds,
        "seed": settings.seed,
        "operations": summary.operations(),
        "violations": summary.violations(),
        "duration_s": summary.duration.as_secs_f64(),
        "finished": finished,
        "scenarios": scenarios,
    });
    let text = serde_json::to_string_pretty(&document).context("writing the report")?;
    // Replaced whole, never left half-written by an interruption.
    report_file::replace(path, &text).with_context(|| format!("writing {}", path.display()))
}
