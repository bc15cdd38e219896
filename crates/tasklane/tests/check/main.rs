//! `tasklane check`, run for a short while against real `tasklane serve` processes on
//! this run's database: it must find the stale reads of both of the incident's
//! designs, and a change feed that announces before it advances, and none in
//! Tasklane, in every consistency mode, through every scenario and fault, with
//! subscribers following the feed throughout, and webhooks delivered (`--webhooks`)
//! through every fault of strict mode.

#[path = "../common/mod.rs"]
mod common;

use crate::common::open_store;
use clap::Parser;
use tasklane::cli::{Cli, Command};
use tasklane_check::scenario::Scenario;
use tasklane_check::verdict::Kind;
use tasklane_check::{self as check, Summary};
use tasklane_server::domain::{Member, Workspace};
use tasklane_server::startup::Application;
use tasklane_server::store::issue;

use crate::common::{closed_port, fresh_database};

/// Each scenario's workload, in seconds: enough for hundreds of operations and a few
/// faults each.
const SECONDS: &str = "2";

/// Both the baselines and Tasklane run with their database reads slowed this much,
/// which widens the stale-fill window as a loaded database does.
const READ_DELAY: &str = "--serve-option=--read-delay-ms=20";

/// Runs `tasklane check` with these options on a fresh database, printing its report.
async fn check(options: &[&str]) -> Summary {
    let database = fresh_database().await;
    spawned(&[&["--database-url", &database.url], options].concat()).await
}

/// Runs `tasklane check` with these options on a throwaway PostgreSQL it starts itself,
/// and can restart.
async fn check_with_own_postgres(options: &[&str]) -> Summary {
    spawned(&[&["--with-postgres"], options].concat()).await
}

/// Runs `tasklane check` on instances it starts from this build.
async fn spawned(options: &[&str]) -> Summary {
    let server = ["--server", env!("CARGO_BIN_EXE_tasklane"), READ_DELAY];
    run(&[&server[..], options].concat()).await
}

async fn run(options: &[&str]) -> Summary {
    let mut command = vec!["tasklane", "check", "--clients", "6"];
    // SECONDS, unless a test asks for longer.
    if !options
        .iter()
        .any(|option| option.starts_with("--duration"))
    {
        command.extend(["--duration", SECONDS]);
    }
    // The redis-server scripts/test found (or installed), for the modes that start one.
    let redis_server = std::env::var("TASKLANE_TEST_REDIS_SERVER").ok();
    if let Some(path) = &redis_server {
        command.extend(["--redis-server", path]);
    }
    command.extend(options);
    let Command::Check(args) = Cli::try_parse_from(&command).unwrap().command else {
        unreachable!("the command is `check`")
    };
    let mut report = Vec::new();
    let summary = check::run(&args, &mut report).await.unwrap();
    println!("{}", String::from_utf8_lossy(&report));
    summary
}

/// A `tasklane serve` in this process with these options, on a free loopback port.
async fn serve(options: &[&str]) -> (String, RunningServer) {
    let command = [
        "tasklane",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log",
        "warn",
    ];
    let parsed = Cli::try_parse_from([&command[..], options].concat()).unwrap();
    let Command::Serve(args) = parsed.command else {
        unreachable!("the command is `serve`")
    };
    let app = Application::build(&args).await.unwrap();
    let url = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (url, RunningServer { stop, server })
}

struct RunningServer {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.server.await.unwrap().unwrap();
    }
}

/// The changes a scenario's subscribers received, all of them together.
fn events_of(report: &tasklane_check::scenario::ScenarioReport) -> usize {
    report.received.iter().sum()
}

fn kinds(summary: &Summary) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = summary
        .scenarios
        .iter()
        .flat_map(|s| s.violations.iter().map(|v| v.kind))
        .collect();
    kinds.dedup();
    kinds
}

fn assert_clean(summary: &Summary, scenarios: usize) {
    assert_eq!(summary.scenarios.len(), scenarios, "scenarios that ran");
    // Enough to have meant something: tens of stale-fill rounds, hundreds of mixed
    // operations, even on a loaded machine (every read is slowed by READ_DELAY).
    for scenario in &summary.scenarios {
        // redis-rollback's rounds restart Redis each: fewer, and each judged.
        let least = if scenario.scenario == Scenario::RedisRollback {
            20
        } else {
            50
        };
        assert!(
            scenario.operations >= least,
            "{}: only {} operations were checked",
            scenario.scenario.name(),
            scenario.operations
        );
    }
    // The feed was followed and judged: every subscriber received changes.
    for scenario in &summary.scenarios {
        assert_eq!(
            scenario.received.len(),
            2,
            "{}: subscribers",
            scenario.scenario.name()
        );
        assert!(
            scenario.received.iter().all(|&received| received > 0),
            "{}: a subscriber received nothing",
            scenario.scenario.name()
        );
    }
    assert_eq!(summary.violations(), 0, "violations: {:?}", kinds(summary));
    assert_eq!(
        summary.inconclusive(),
        Vec::<String>::new(),
        "judged too little"
    );
    assert_eq!(summary.exit_status(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_finds_the_plain_cache_aside_stale() {
    let summary = check(&[
        "--scenario=stale-fill",
        "--consistency=local",
        "--serve-option=--cache-design=delete-on-write",
    ])
    .await;
    assert!(
        kinds(&summary).contains(&Kind::Stale),
        "the incident's cache-aside must be caught serving stale lists"
    );
    // Every violation is counted (in the figures too); of each kind, the report keeps
    // the first few in full.
    let report = &summary.scenarios[0];
    let counted: usize = report.figures.violations.values().sum();
    assert_eq!(counted, report.violation_count);
    assert!(report.violations.len() <= report.violation_count);
    let stale = report
        .violations
        .iter()
        .filter(|v| v.kind == Kind::Stale)
        .count();
    assert_eq!(
        stale,
        report.figures.violations["stale read"].min(check::scenario::KEPT)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_finds_partitions_that_forget_the_status_a_task_left() {
    // No subscribers: the feed advances every partition of a workspace before it hands
    // out its changes, which would make up for what the baseline forgets. Mostly lists,
    // so that entries are filled between two writes and read again after one.
    // Twice the usual time: a run's random lists can leave few moves read back in two
    // seconds (about one run in ten found nothing then).
    let summary = check(&[
        "--scenario=mixed",
        "--consistency=local",
        "--subscribers=0",
        "--duration=4",
        "--mix=create=2,update=6,delete=2,get=10,list=80",
        "--serve-option=--cache-design=forgets-old-status",
    ])
    .await;
    // The list keeps the task as it was: stale to a client whose read began after the
    // move was acknowledged, going back in time to one that had seen the move.
    let found = kinds(&summary);
    assert!(
        [Kind::Stale, Kind::Unmatched, Kind::NonMonotonic]
            .iter()
            .any(|kind| found.contains(kind)),
        "a status list that keeps a task that left it must be caught: {found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_finds_in_process_counters_stale_across_two_instances() {
    // No subscribers: the feed's follower on an instance advances that instance's
    // counter as changes arrive (PostgreSQL notifies every instance at once), which
    // narrows the window the incident's design loses in, and this is about the design.
    let summary = check(&[
        "--scenario=stale-fill",
        "--consistency=local",
        "--instances=2",
        "--subscribers=0",
    ])
    .await;
    assert!(
        kinds(&summary).contains(&Kind::Stale),
        "the incident's `cacheVersion++` on two instances must be caught"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_finds_a_feed_that_announces_before_it_advances() {
    let summary = check(&[
        "--scenario=redis-rollback",
        "--consistency=redis",
        "--serve-option=--feed-design=announce-first",
    ])
    .await;
    assert!(
        summary.scenarios[0].rollbacks > 0,
        "Redis never lost an announcement"
    );
    assert!(
        kinds(&summary).contains(&Kind::Unreflected),
        "a read after an event must be caught missing it: {:?}",
        kinds(&summary)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_local_mode_passes_every_scenario_it_can_run() {
    // One instance and no Redis: stale-fill, mixed and instance-kill.
    let summary = check(&["--consistency=local"]).await;
    assert_clean(&summary, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_redis_mode_passes_every_scenario() {
    let summary = check(&["--consistency=redis"]).await;
    assert_clean(&summary, 7);
    let rollback = summary
        .scenarios
        .iter()
        .find(|s| s.scenario.name() == "redis-rollback")
        .unwrap();
    assert!(rollback.rollbacks > 0, "Redis never lost an announcement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_strict_mode_passes_every_scenario_even_as_redis_loses_writes() {
    // Every one but redis-rollback: Redis holds no announcement in this mode. A webhook
    // in each, its receiver failing now and then, must get every change through them.
    let summary = check(&["--consistency=strict", "--with-redis", "--webhooks"]).await;
    assert_clean(&summary, 6);
    assert_webhooks_delivered(&summary, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_deployment_is_checked_through_its_urls_and_its_history_kept() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let history = tempfile::NamedTempFile::new().unwrap();
    let history_path = history.path().to_str().unwrap();

    // The figures go through a symlink, to the file it names.
    let directory = tempfile::tempdir().unwrap();
    let (report, link) = (
        directory.path().join("report.json"),
        directory.path().join("link.json"),
    );
    std::fs::write(&report, "").unwrap();
    std::os::unix::fs::symlink(&report, &link).unwrap();
    let figures_path = link.to_str().unwrap();
    let summary = run(&[
        "--url",
        &url,
        "--history",
        history_path,
        "--json",
        figures_path,
        "--rounds",
        "2",
    ])
    .await;
    // No Redis URL and no processes of its own: only the fault-free scenarios can run,
    // each twice over.
    assert_clean(&summary, 4);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(history.path())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kept = |field: &'static str| lines.iter().filter(move |line| line.get(field).is_some());
    assert_eq!(kept("op").count(), summary.operations());
    for line in kept("op") {
        for field in [
            "scenario", "round", "client", "start_us", "end_us", "outcome",
        ] {
            assert!(line.get(field).is_some(), "no `{field}` in {line}");
        }
    }
    let second: usize = summary
        .scenarios
        .iter()
        .filter(|s| s.round == 2)
        .map(|s| s.operations)
        .sum();
    assert!(second > 0, "the second round did nothing");
    assert_eq!(kept("op").filter(|line| line["round"] == 2).count(), second);
    // Every change each subscriber received, and every stream it held.
    let events: usize = summary.scenarios.iter().map(events_of).sum();
    assert!(events > 0, "no event received");
    assert_eq!(kept("change").count(), events);
    for line in kept("change") {
        for field in ["scenario", "subscriber", "instance", "received_us", "id"] {
            assert!(line.get(field).is_some(), "no `{field}` in {line}");
        }
    }
    assert!(kept("ended").count() >= 2 * summary.scenarios.len());
    assert_eq!(
        lines.len(),
        kept("op").count() + events + kept("ended").count()
    );
    // The figures: each scenario's operations, answered and read back.
    assert!(
        link.symlink_metadata().unwrap().is_symlink(),
        "the link was replaced"
    );
    // Made as any file the check creates, as the umask allows (not 0600).
    let reference = directory.path().join("reference");
    std::fs::write(&reference, "").unwrap();
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode()
    };
    assert_eq!(mode(&report), mode(&reference));
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(document["operations"], summary.operations());
    assert_eq!(document["violations"], 0);
    assert_eq!(document["rounds"], 2);
    assert_eq!(document["finished"], true);
    let scenarios = document["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), summary.scenarios.len());
    let rounds: Vec<_> = scenarios.iter().map(|s| s["round"].clone()).collect();
    assert_eq!(rounds, [1, 1, 2, 2]);
    for (scenario, report) in scenarios.iter().zip(&summary.scenarios) {
        let figures = &scenario["figures"];
        assert_eq!(figures["operations"], report.operations);
        assert_eq!(figures["reads"], report.tally.reads);
        assert_eq!(figures["events"], events_of(report));
        assert!(figures["acknowledged_writes_read_back"].as_u64().unwrap() > 0);
        assert!(figures["checker_peak_mib"].as_f64().unwrap() > 0.0);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_requires_tokens_is_checked_within_one_workspace() {
    let database = fresh_database().await;
    let token = issued_token(&database).await;
    let (url, server) = serve(&["--database-url", &database.url, "--auth", "token"]).await;
    let summary = run(&["--url", &url, "--token", &token, "--scenario=mixed"]).await;
    assert_clean(&summary, 1);
    server.stop().await;
}

/// A token for the workspace `checked`, issued straight into the test database.
async fn issued_token(database: &common::TestDatabase) -> String {
    let storage = open_store(&database.url).await.unwrap();
    let member = Member::try_from("checker".to_owned()).unwrap();
    let (_, secret) = issue(&*storage.tokens, &Workspace::named("checked"), member)
        .await
        .unwrap();
    secret.reveal().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_token_check_reaches_a_verdict_under_the_default_rate_limit() {
    // `--auth token` and nothing else: the default 100 requests a second per token,
    // which stale-fill's three clients and mixed's eight outrun within a second.
    let database = fresh_database().await;
    let token = issued_token(&database).await;
    let (url, server) = serve(&["--database-url", &database.url, "--auth", "token"]).await;
    let (status, printed) = binary(&[
        "check",
        "--url",
        &url,
        "--token",
        &token,
        "--duration",
        "2",
        "--scenario",
        "stale-fill",
        "--scenario",
        "mixed",
    ])
    .await;
    assert_eq!(status, Some(0), "{printed}");
    assert!(printed.contains("Violations: 0"), "{printed}");
    assert!(!printed.contains("Inconclusive"), "{printed}");
    // Clients that wait as long as the server asks are refused about once a second
    // each, not on nearly every other request (which a verdict can survive by luck).
    let (succeeded, failed) = printed
        .lines()
        .find_map(|line| {
            let counts = line.strip_prefix("Operations: ")?.split_once(" (")?.1;
            let (succeeded, failed) = counts.split_once(" succeeded, ")?;
            Some((
                succeeded.parse::<usize>().ok()?,
                failed.strip_suffix(" failed)")?.parse::<usize>().ok()?,
            ))
        })
        .expect("an Operations line");
    assert!(4 * failed <= succeeded, "{failed} failed: {printed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_is_named_as_such_and_its_refusals_put_down_to_failed_logins() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url, "--auth", "token"]).await;
    let unknown = format!("tl_{}", "0".repeat(64));
    let (status, printed) = binary(&[
        "check",
        "--url",
        &url,
        "--token",
        &unknown,
        "--duration",
        "2",
        "--scenario",
        "mixed",
    ])
    .await;
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(printed.contains("HTTP 401 Unauthorized"), "{printed}");
    assert!(
        printed.contains("hint: the token is unknown or revoked"),
        "{printed}"
    );
    assert!(!printed.contains("pass --token"), "{printed}");
    // Eight clients for two seconds make more than the default 60 failed
    // authentications a minute, and the server refuses the address after them.
    assert!(printed.contains("HTTP 429 Too Many Requests"), "{printed}");
    assert!(printed.contains("--auth-failure-limit"), "{printed}");
    assert!(!printed.contains("--rate-limit"), "{printed}");
    server.stop().await;
}

#[tokio::test]
async fn a_fault_scenario_against_live_instances_is_refused_at_once() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let (status, printed) = binary(&["check", "--url", &url, "--scenario", "redis-restart"]).await;
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(
        printed.contains(
            "error: --scenario redis-restart cannot run here: it needs a Redis started by \
             tasklane check"
        ),
        "{printed}"
    );
    assert!(printed.contains("without --url"), "{printed}");
    // Refused before anything ran: no scenario, no totals.
    assert!(!printed.contains("Scenarios run"), "{printed}");
    // Rolling Redis back needs the same, and subscribers to judge reads by.
    let rollback = ["check", "--url", &url, "--scenario", "redis-rollback"];
    let (status, printed) = binary(&rollback).await;
    assert_eq!(status, Some(2), "{printed}");
    assert!(printed.contains("needs a Redis started by"), "{printed}");
    let (status, printed) = binary(&[&rollback[..], &["--subscribers", "0"]].concat()).await;
    assert_eq!(status, Some(2), "{printed}");
    assert!(printed.contains("needs subscribers"), "{printed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_deployments_redis_is_flushed_only_when_the_scenario_is_named() {
    let redis = crate::common::start_redis().await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let canary = || {
        let mut get = redis::cmd("GET");
        get.arg("someone-else's");
        get
    };
    let _: () = redis::cmd("SET")
        .arg("someone-else's")
        .arg("data")
        .query_async(&mut connection)
        .await
        .unwrap();
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let options = [
        "--url",
        &url,
        "--redis-url",
        &redis.url(),
        "--subscribers",
        "0",
    ];
    let summary = run(&[&options[..], &["--scenario", "mixed"]].concat()).await;
    assert_eq!(summary.scenarios.len(), 1);
    let summary = run(&options).await;
    let names: Vec<_> = summary
        .scenarios
        .iter()
        .map(|s| s.scenario.name())
        .collect();
    assert!(
        !names.is_empty() && !names.iter().any(|name| name == "redis-flush"),
        "{names:?}"
    );
    let kept: Option<String> = canary().query_async(&mut connection).await.unwrap();
    assert_eq!(kept.as_deref(), Some("data"), "not named: nothing flushed");

    let named = [&options[..], &["--scenario", "redis-flush"]].concat();
    assert!(!run(&named).await.scenarios[0].faults.is_empty(), "flushed");
    let kept: Option<String> = canary().query_async(&mut connection).await.unwrap();
    assert_eq!(
        kept, None,
        "named: the whole Redis flushed, as its help says"
    );
    server.stop().await;
}

/// PostgreSQL crashes and restarts, in every mode; on the PostgreSQL leg of
/// scripts/test only, which provides the server binaries.
async fn postgres_restarts(consistency: &str, options: &[&str]) {
    if std::env::var("TASKLANE_TEST_STORE").as_deref() != Ok("postgres") {
        eprintln!("postgres-restart: runs on the PostgreSQL leg");
        return;
    }
    let consistency = format!("--consistency={consistency}");
    let options = [&["--scenario=postgres-restart", &consistency], options].concat();
    let summary = check_with_own_postgres(&options).await;
    assert_clean(&summary, 1);
    assert!(
        !summary.scenarios[0].faults.is_empty(),
        "PostgreSQL was never restarted"
    );
    if options.contains(&"--webhooks") {
        assert_webhooks_delivered(&summary, false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_local_mode_survives_postgresql_restarts() {
    postgres_restarts("local", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_redis_mode_survives_postgresql_restarts() {
    postgres_restarts("redis", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasklane_in_strict_mode_survives_postgresql_restarts() {
    postgres_restarts("strict", &["--with-redis", "--webhooks"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_ends_with_its_totals_and_fails_on_a_violation() {
    let database = fresh_database().await;
    let url = database.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
            .args(["check", "--scenario=stale-fill", "--consistency=local"])
            .args(["--instances=2", "--subscribers=0", "--duration=1"])
            .args(["--database-url", &url])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert_eq!(output.status.code(), Some(1), "{report}");
    let totals: Vec<&str> = report.lines().rev().take(4).collect();
    assert!(totals[0].starts_with("Violations: "), "{report}");
    assert_ne!(totals[0], "Violations: 0");
    assert!(totals[1].starts_with("Duration: ") && totals[1].ends_with('s'));
    assert!(totals[2].starts_with("Operations: "));
    assert_eq!(totals[3], "Scenarios run: 1");
}

/// Runs the `tasklane` binary with these arguments; returns its exit status and what it
/// printed (standard output, then standard error).
async fn binary(args: &[&str]) -> (Option<i32>, String) {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
            .args(&args)
            .env_remove("TASKLANE_TOKEN")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{printed}");
    (output.status.code(), printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_figures_file_that_cannot_be_written_stops_the_check_before_it_runs() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    // An earlier run's history, which a check that cannot run must leave alone.
    let history = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(history.path(), "earlier\n").unwrap();
    let (status, printed) = binary(&[
        "check",
        "--url",
        &url,
        "--history",
        history.path().to_str().unwrap(),
        "--json",
        "/nonexistent/directory/figures.json",
    ])
    .await;
    assert_refused(
        status,
        &printed,
        "writing /nonexistent/directory/figures.json",
    );
    assert_eq!(
        std::fs::read_to_string(history.path()).unwrap(),
        "earlier\n"
    );
    server.stop().await;
}

/// The check exited with no verdict, saying `why`, before any scenario ran.
fn assert_refused(status: Option<i32>, printed: &str, why: &str) {
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(printed.contains(why), "{printed}");
    assert!(
        !printed.contains("stale-fill:"),
        "a scenario ran: {printed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_figures_file_that_is_the_history_file_is_refused_before_the_check_runs() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let directory = tempfile::tempdir().unwrap();
    let history = directory.path().join("history.jsonl");
    let link = directory.path().join("link.json");
    std::os::unix::fs::symlink(&history, &link).unwrap();
    std::fs::write(&history, "earlier\n").unwrap();
    for json in [&history, &link] {
        let (status, printed) = binary(&[
            "check",
            "--url",
            &url,
            "--history",
            history.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .await;
        assert_refused(status, &printed, "--history and --json name the same file");
        let kept = std::fs::read_to_string(&history).unwrap();
        assert_eq!(kept, "earlier\n", "the history was touched");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_stopped_with_sigterm_stops_the_instances_it_started() {
    use tokio::io::AsyncBufReadExt;
    let figures = tempfile::NamedTempFile::new().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .args(["check", "--scenario", "mixed", "--duration", "60", "--json"])
        .arg(figures.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Its first line names the instance it started, once it answers.
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let url = first
        .split([' ', ',', ';'])
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no instance in {first:?}"))
        .to_owned();
    let healthz = format!("{url}/healthz");
    assert!(reqwest::get(&healthz).await.is_ok(), "{url} answers");
    let signalled = tokio::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    assert!(signalled.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("the check exits within 20 s of SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(i32::from(check::EXIT_INCONCLUSIVE)));
    assert!(
        reqwest::get(&healthz).await.is_err(),
        "{url} still answers after the check was stopped"
    );
    // What it had written of its figures is a whole document, marked unfinished.
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(figures.path()).unwrap()).unwrap();
    assert_eq!(document["finished"], false);
}

#[tokio::test]
async fn a_check_of_a_port_nobody_listens_on_is_inconclusive_and_says_why() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let (status, printed) = binary(&["check", "--url", &url, "--duration", "1"]).await;
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{url} does not answer: connection refused")),
        "{printed}"
    );
    assert!(!printed.contains("Violations: 0"), "{printed}");
}

#[tokio::test]
async fn a_url_without_a_scheme_is_read_as_http() {
    // The first user's `--url localhost:54827`: checked as http://localhost:54827.
    let address = format!("127.0.0.1:{}", closed_port());
    let (status, printed) = binary(&["check", "--url", &address, "--duration", "1"]).await;
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "http://{address} does not answer: connection refused"
        )),
        "{printed}"
    );
    // And what is not a URL at all is refused with the form expected.
    let (status, printed) = binary(&["check", "--url", "ftp://127.0.0.1:21"]).await;
    assert_eq!(status, Some(2), "{printed}");
    assert!(printed.contains("expected http://HOST:PORT"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_server_checked_without_a_token_is_inconclusive_and_says_why() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url, "--auth", "token"]).await;
    let (status, printed) = binary(&["check", "--url", &url, "--duration", "1"]).await;
    assert_eq!(
        status,
        Some(i32::from(check::EXIT_INCONCLUSIVE)),
        "{printed}"
    );
    assert!(printed.contains("Inconclusive:"), "{printed}");
    for scenario in ["stale-fill", "mixed"] {
        assert!(
            printed.contains(&format!(
                "{scenario}: 0 successful reads and 0 acknowledged writes"
            )),
            "{scenario}: {printed}"
        );
    }
    // Each scenario kept trying (stale-fill its first create) and was refused each time.
    for scenario in ["stale-fill", "mixed"] {
        let failed = printed
            .lines()
            .skip_while(|line| !line.starts_with(&format!("{scenario}: ")))
            .nth(1)
            .unwrap_or_default();
        assert!(
            failed.starts_with("  failed: ") && failed.ends_with(" HTTP 401 Unauthorized"),
            "{scenario}: {printed}"
        );
    }
    assert!(
        printed.contains("hint: the server requires a token: pass --token"),
        "{printed}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_of_a_live_server_leaves_none_of_its_tasks_behind() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let client = reqwest::Client::new();
    let tasks = |url: String| {
        let client = client.clone();
        async move {
            let page: serde_json::Value = client
                .get(format!("{url}/v1/tasks?limit=100"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut ids: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|task| task["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    // Someone's own tasks, which the check must neither judge nor touch.
    for title in ["ours", "also ours"] {
        let created = client
            .post(format!("{url}/v1/tasks"))
            .json(&serde_json::json!({ "title": title }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    }
    let before = tasks(url.clone()).await;

    // Given without its scheme, as a first user would.
    let address = url.trim_start_matches("http://");
    let summary = run(&[
        "--url",
        address,
        "--scenario=stale-fill",
        "--scenario=mixed",
    ])
    .await;
    assert_clean(&summary, 2);
    for scenario in &summary.scenarios {
        assert!(
            scenario.tally.writes > 0,
            "the check created nothing to clean up"
        );
        assert!(scenario.leftovers.is_none(), "{:?}", scenario.leftovers);
    }
    assert_eq!(
        tasks(url.clone()).await,
        before,
        "the check left tasks behind"
    );
    server.stop().await;
}

/// Asserts that every scenario of `summary` had a webhook that delivered changes
/// (repeating some, when the receiver failed now and then).
fn assert_webhooks_delivered(summary: &Summary, repeats: bool) {
    for scenario in &summary.scenarios {
        let name = scenario.scenario.name();
        assert_eq!(scenario.shortfall(), None, "{name}");
        let webhook = scenario.figures.webhook.as_ref().expect("a webhook");
        assert!(webhook.changes > 0, "{name}: the webhook received nothing");
        assert_eq!(Some(webhook.changes as u64), webhook.owed, "{name}");
        if repeats {
            assert!(webhook.repeats > 0, "{name}: no delivery failed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_reaches_a_webhook_in_order_through_every_scenario() {
    // One instance: stale-fill, mixed and instance-kill, with a receiver that fails
    // every tenth request.
    let summary = check(&["--consistency=local", "--webhooks"]).await;
    assert_clean(&summary, 3);
    assert_webhooks_delivered(&summary, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_to_a_webhook_in_order_as_one_is_killed() {
    let summary = check(&[
        "--consistency=strict",
        "--instances=2",
        "--scenario=mixed",
        "--scenario=instance-kill",
        "--webhooks",
    ])
    .await;
    assert_clean(&summary, 2);
    assert_webhooks_delivered(&summary, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_server_that_refuses_a_loopback_webhook_is_inconclusive_and_says_why() {
    let database = fresh_database().await;
    let (url, server) = serve(&["--database-url", &database.url]).await;
    let summary = run(&["--url", &url, "--scenario=mixed", "--webhooks"]).await;
    assert_eq!(summary.violations(), 0);
    let inconclusive = summary.inconclusive();
    assert_eq!(inconclusive.len(), 1, "{inconclusive:?}");
    assert!(
        inconclusive[0].contains("the webhook was not judged")
            && inconclusive[0].contains("--webhook-allow-private"),
        "{inconclusive:?}"
    );
    assert_eq!(summary.exit_status(), check::EXIT_INCONCLUSIVE);
    server.stop().await;
}
