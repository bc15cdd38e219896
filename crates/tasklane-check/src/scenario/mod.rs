//! Named scenarios: a workload, sometimes a fault injected into it while it runs, then
//! a read-back and the checks. In every one, [subscribers](crate::subscriber) follow
//! the change feed from the log position the scenario starts at until they have caught
//! up with the log after the read-back.
//!
//! Every scenario marks its tasks with a fresh word (see [`Target::marker`]), so the
//! scenarios of one run, or of runs against the same database, never judge each
//! other's data, and once judged it deletes every task carrying its word, so a
//! database in use is left as it was found.

mod rollback;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;
use tasklane_server::domain::TokenSecret;

use crate::backoff::{Backoff, Failure};
use crate::client::{Client, Target};
use crate::deployment::{Deployment, Fault};
use crate::figures::{self, Figures};
use crate::history::{Cause, Clock, FaultEvent, Filter, Operation, Outcome, Phase, Request};
use crate::record::Recorder;
use crate::recovery;
use crate::subscriber::{Following, Subscribers};
use crate::tally::Tally;
use crate::verdict::{Kind, Violation, judge};
use crate::webhook::{Watched, Webhooks};
use crate::workload::{LiveTasks, Mix, Step, next_step};

/// A named scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The incident's interleaving (`docs/incident.md`), round after round: a list read misses and
    /// queries; while it is in flight a write to a listed task is acknowledged; then
    /// every instance is read. A cache that fills the old rows after the write serves
    /// them to the reads that follow.
    StaleFill,
    /// The random mix of reads and writes from every client, no fault.
    Mixed,
    /// The mix, with the Redis flushed (`FLUSHALL`) now and then.
    RedisFlush,
    /// The mix, with the Redis killed and restarted empty now and then.
    RedisRestart,
    /// The mix, with the Redis frozen (SIGSTOP) for a while now and then.
    RedisPause,
    /// Round after round, Redis loses exactly one committed write's announcement
    /// (restarted from a snapshot taken just before it), keeping the generation and an
    /// entry filled before the write; once a subscriber has received the write's
    /// change, another instance is read, and must not serve that entry. Driven by two
    /// clients, not the mix, under which Redis would lose acknowledged writes too.
    /// Needs `--consistency redis`.
    RedisRollback,
    /// The mix, with an instance killed (SIGKILL) and restarted now and then.
    InstanceKill,
    /// The mix, with the PostgreSQL stopped abruptly and restarted now and then.
    PostgresRestart,
}

impl Scenario {
    /// Every scenario, in the order `--scenario all` runs them.
    pub const ALL: [Scenario; 8] = [
        Scenario::StaleFill,
        Scenario::Mixed,
        Scenario::RedisFlush,
        Scenario::RedisRestart,
        Scenario::RedisPause,
        Scenario::RedisRollback,
        Scenario::InstanceKill,
        Scenario::PostgresRestart,
    ];

    /// The name `--scenario` takes.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .expect("no scenario is skipped")
            .get_name()
            .to_owned()
    }

    /// The fault injected now and then while the mix runs, if any.
    fn fault(self) -> Option<Fault> {
        match self {
            Scenario::StaleFill | Scenario::Mixed | Scenario::RedisRollback => None,
            Scenario::RedisFlush => Some(Fault::RedisFlush),
            Scenario::RedisRestart => Some(Fault::RedisRestart),
            Scenario::RedisPause => Some(Fault::RedisPause),
            Scenario::InstanceKill => Some(Fault::InstanceKill),
            Scenario::PostgresRestart => Some(Fault::PostgresRestart),
        }
    }
}

/// How hard and how long each scenario runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Concurrent clients.
    pub clients: usize,
    /// How long the workload of each scenario runs.
    pub duration: Duration,
    /// The operation mix.
    pub mix: Mix,
    /// Seed of every random choice.
    pub seed: u64,
    /// `stale-fill`: how long after the list read is sent the write is sent.
    pub stale_fill_gap: Duration,
    /// The bearer token of every request, if the servers require one.
    pub token: Option<TokenSecret>,
    /// Clients that follow the change feed (0: none).
    pub subscribers: usize,
    /// The receiver each scenario's webhook delivers to, with `--webhooks`.
    pub webhooks: Option<Webhooks>,
    /// Where the history is written as it is made (`--history`), if anywhere.
    pub recorder: Option<Arc<Recorder>>,
}

/// What one scenario did and found.
#[derive(Debug)]
pub struct ScenarioReport {
    /// Which scenario.
    pub scenario: Scenario,
    /// Which round of `--rounds` it ran in, from 1.
    pub round: usize,
    /// How many operations it performed, workload and read-back (the operations
    /// themselves are judged, written to the history file if there is one, and let go).
    pub operations: usize,
    /// Its operations, counted by what came of them.
    pub tally: Tally,
    /// Its figures, for `--json`.
    pub figures: Figures,
    /// Every fault injected.
    pub faults: Vec<FaultEvent>,
    /// How many violations the checks found.
    pub violation_count: usize,
    /// The first [`KEPT`] violations of each kind, in full (the rest are counted, in
    /// the figures too): a run of many rounds does not hold every violation's reads.
    pub violations: Vec<Violation>,
    /// How long it ran, read-back included.
    pub duration: Duration,
    /// What deleting its tasks afterwards left behind, if anything.
    pub leftovers: Option<Leftovers>,
    /// How many changes each subscriber received (empty: the feed was not followed).
    pub received: Vec<usize>,
    /// Why its feed or its webhook was judged too little to pass, if it was.
    pub delivery_shortfall: Option<String>,
    /// `redis-rollback`: the rounds in which Redis lost a committed write's
    /// announcement, a subscriber received the write's change and reads followed it
    /// (none for the other scenarios).
    pub rollbacks: usize,
}

impl ScenarioReport {
    /// Why it judged too little to pass, if it did: too few requests answered (for
    /// `redis-rollback`, whose writes are meant to fail, too few reads, or no round that
    /// lost an announcement), or its feed could not be judged.
    pub fn shortfall(&self) -> Option<String> {
        let tally = &self.tally;
        let requests = match self.scenario {
            Scenario::RedisRollback => tally.read_shortfall().or_else(|| {
                (self.rollbacks == 0).then(|| {
                    "no round lost a committed write's announcement and had its change \
                     received before the reads"
                        .to_owned()
                })
            }),
            _ => tally.shortfall(),
        };
        requests.or_else(|| self.delivery_shortfall.clone())
    }
}

/// How many violations of each kind a report keeps in full.
pub const KEPT: usize = 10;

/// The first [`KEPT`] of `violations` of each kind, in their order.
fn first_of_each_kind(violations: Vec<Violation>) -> Vec<Violation> {
    let mut kept: HashMap<Kind, usize> = HashMap::new();
    violations
        .into_iter()
        .filter(|violation| {
            let n = kept.entry(violation.kind).or_default();
            *n += 1;
            *n <= KEPT
        })
        .collect()
}

/// Why a scenario's feed was judged too little to pass, if it was followed at all: it
/// could not be followed, or a subscriber never got a stream.
fn feed_shortfall(following: &Following) -> Option<String> {
    if let Some(why) = &following.unjudged {
        return Some(format!("the change feed was not judged: {why}"));
    }
    let (n, never) = following
        .followed
        .iter()
        .enumerate()
        .find(|(_, followed)| !followed.connected())?;
    let why = never
        .streams
        .last()
        .map_or("", |stream| stream.ended.as_str());
    let hint = if why.starts_with("404") {
        " (a server without the change feed is checked with --subscribers 0)"
    } else {
        ""
    };
    Some(format!(
        "subscriber {n} never opened an event stream: {why}{hint}"
    ))
}

/// Why a scenario's webhook was judged too little to pass, if it had one: it could not
/// be registered or its log read, or it delivered nothing.
fn webhook_shortfall(watched: &Watched) -> Option<String> {
    if let Some(why) = &watched.unjudged {
        return Some(format!("the webhook was not judged: {why}"));
    }
    watched
        .summary
        .delivered
        .is_empty()
        .then(|| "the webhook received nothing".to_owned())
}

/// Tasks of a scenario that could not be deleted after it.
#[derive(Debug, Clone)]
pub struct Leftovers {
    /// The word in their description (`q=` finds them).
    pub marker: String,
    /// Why the last attempt failed.
    pub reason: String,
}

type History = Arc<Mutex<Vec<Operation>>>;

/// Everything the clients of one scenario share.
struct Run {
    /// The scenario's name, in every line of the history file.
    name: String,
    /// Its round of `--rounds`, in every line of the history file too.
    round: usize,
    /// Where the history is written, if anywhere.
    recorder: Option<Arc<Recorder>>,
    target: Target,
    clock: Clock,
    history: History,
    live: LiveTasks,
    done: AtomicUsize,
    /// The clients following the feed, if any.
    subscribers: Option<Subscribers>,
}

impl Run {
    /// Client number `n` of this run, on its clock, with its token.
    fn client(&self, n: usize) -> Client {
        Client::new(n, self.clock, self.target.token.as_ref())
    }

    async fn perform(&self, client: &Client, instance: usize, request: Request) -> Operation {
        let op = client
            .perform(&self.target, instance, Phase::Run, request)
            .await;
        self.live.record(&op.outcome, &op.request);
        self.keep(op.clone());
        self.done.fetch_add(1, Ordering::Relaxed);
        op
    }

    /// Adds `op` to the history, and to the history file.
    fn keep(&self, op: Operation) {
        if let Some(recorder) = &self.recorder {
            recorder.lines((&self.name, self.round), std::slice::from_ref(&op));
        }
        self.history.lock().expect("not poisoned").push(op);
    }
}

/// Why `scenario` cannot run on `deployment` with `subscribers` following the feed, if
/// it cannot.
pub fn cannot_run(
    scenario: Scenario,
    deployment: &Deployment,
    subscribers: usize,
) -> Option<&'static str> {
    if scenario == Scenario::RedisRollback && subscribers == 0 {
        return Some(
            "needs subscribers (--subscribers 1 or more): it judges reads against the changes \
             they receive",
        );
    }
    match scenario {
        Scenario::RedisRollback => deployment.cannot_roll_back(),
        _ => scenario.fault().and_then(|fault| deployment.cannot(fault)),
    }
}

/// Runs one scenario against `deployment` in `round`, showing progress on `progress`.
pub async fn run(
    (scenario, round): (Scenario, usize),
    deployment: &mut Deployment,
    settings: &Settings,
    progress: &ProgressBar,
) -> anyhow::Result<ScenarioReport> {
    let started = Instant::now();
    let target = Target {
        instances: deployment.urls.clone(),
        token: settings.token.clone(),
        marker: format!("chk{:012x}", fastrand::u64(..) >> 16),
    };
    let clock = Clock::start();
    let (subscribers, following) = follow(&target, clock, settings).await;
    // Registered before any write, so that it owes every change of the scenario.
    let registered = match &settings.webhooks {
        None => None,
        Some(webhooks) => {
            let client = Client::new(usize::MAX, clock, target.token.as_ref());
            Some(webhooks.register(&client, &target, &scenario.name()).await)
        }
    };
    let run = Arc::new(Run {
        name: scenario.name(),
        round,
        recorder: settings.recorder.clone(),
        target,
        clock,
        history: History::default(),
        live: LiveTasks::default(),
        done: AtomicUsize::new(0),
        subscribers,
    });
    let deadline = Instant::now() + settings.duration;
    let mut faults = Vec::new();
    let mut watched = Vec::new();
    let mut rollbacks = 0;
    if scenario == Scenario::RedisRollback {
        let redis = deployment.redis().context("no Redis process")?;
        rollbacks = rollback::rounds(&run, redis, deadline, &mut faults).await?;
    } else {
        workload(
            scenario,
            &run,
            deployment,
            settings,
            deadline,
            (&mut faults, &mut watched),
            progress,
        )
        .await?;
    }
    let worked = started.elapsed();
    if !faults.is_empty() {
        deployment.settle().await;
    }
    // Its own client number: after the workload's, and after stale-fill's three.
    let own = settings.clients.max(3);
    let unverified = read_back(&run, own).await;
    let following = caught_up(&run, following, own).await;
    let webhook = match (registered, &settings.webhooks) {
        (Some(Ok(registered)), Some(webhooks)) => {
            let client = run.client(own);
            Some(registered.finish(webhooks, &client, &run.target).await)
        }
        (Some(Err(why)), _) => Some(Watched {
            unjudged: Some(format!("it could not be registered: {why}")),
            ..Watched::default()
        }),
        _ => None,
    };
    let leftovers = if may_have_created(&run) {
        clean_up(&run, own).await
    } else {
        None
    };

    let operations = std::mem::take(&mut *run.history.lock().expect("not poisoned"));
    let judging = Instant::now();
    let mut verdict = judge(&operations, &following, webhook.as_ref());
    let judged = judging.elapsed();
    verdict.violations.extend(unverified);
    let mut watched = watched.into_iter();
    let faults_watched: Vec<_> = faults
        .iter()
        .map(|fault| (fault.clone(), watched.next().flatten()))
        .collect();
    let mut figures = figures::of(&operations, &faults_watched, &verdict);
    if scenario == Scenario::StaleFill {
        figures.stale_fill_rounds = operations
            .iter()
            .filter(|op| matches!(op.request, Request::Update { .. }))
            .count();
    }
    figures.rollbacks = rollbacks;
    figures.workload_s = worked.as_secs_f64();
    figures.judged_s = judged.as_secs_f64();
    figures.checker_peak_mib = figures::peak_memory_mib();
    figures.webhook = webhook
        .as_ref()
        .filter(|watched| watched.unjudged.is_none())
        .map(|watched| figures::Webhook {
            endpoint: watched.endpoint.clone(),
            changes: watched.summary.seqs().len(),
            owed: watched
                .head
                .map(|head| head.saturating_sub(watched.position)),
            requests: watched.summary.arrivals,
            repeats: watched.summary.duplicates,
        });
    figures.events = following.followed.iter().map(|f| f.received.len()).sum();
    figures.reconnections = following
        .followed
        .iter()
        .map(crate::subscriber::Followed::reconnections)
        .sum();
    if let Some(recorder) = &run.recorder {
        recorder.lines((&run.name, run.round), &faults);
        for followed in &following.followed {
            recorder.lines((&run.name, run.round), &followed.received);
            recorder.lines((&run.name, run.round), &followed.streams);
        }
    }
    // The history, the changes received and the deliveries are judged, recorded and
    // let go here: the report keeps numbers, so a run of many scenarios holds one
    // scenario's history at a time.
    let delivery_shortfall =
        feed_shortfall(&following).or_else(|| webhook.as_ref().and_then(webhook_shortfall));
    Ok(ScenarioReport {
        scenario,
        round,
        operations: operations.len(),
        tally: Tally::of(&operations),
        figures,
        faults,
        violation_count: verdict.violations.len(),
        violations: first_of_each_kind(verdict.violations),
        duration: started.elapsed(),
        leftovers,
        received: following
            .followed
            .iter()
            .map(|followed| followed.received.len())
            .collect(),
        delivery_shortfall,
        rollbacks,
    })
}

/// The clients of `scenario` until `deadline`, with its fault a few times meanwhile
/// (recorded in `faults`, each with what was [watched](recovery) after it), and the
/// progress bar.
async fn workload(
    scenario: Scenario,
    run: &Arc<Run>,
    deployment: &mut Deployment,
    settings: &Settings,
    deadline: Instant,
    (faults, watched): (&mut Vec<FaultEvent>, &mut Vec<Option<recovery::Watched>>),
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let clients: Vec<_> = match scenario {
        Scenario::StaleFill => vec![tokio::spawn(stale_fill(
            run.clone(),
            settings.stale_fill_gap,
            deadline,
        ))],
        _ => (0..settings.clients)
            .map(|n| tokio::spawn(mixed(run.clone(), n, settings.clone(), deadline)))
            .collect(),
    };
    let period = settings.duration / 4;
    let mut next_fault = Instant::now() + period;
    let mut watching = Vec::new();
    while Instant::now() < deadline {
        progress.set_position(started.elapsed().as_millis() as u64);
        progress.set_message(format!(
            "{} operations, {} faults",
            run.done.load(Ordering::Relaxed),
            faults.len()
        ));
        if let Some(fault) = scenario.fault()
            && Instant::now() >= next_fault
            && Instant::now() + period / 2 < deadline
        {
            let at_us = run.clock.now();
            let what = deployment.inject(fault, faults.len()).await?;
            faults.push(FaultEvent { at_us, fault: what });
            let urls = deployment.urls.clone();
            watching.push(tokio::spawn(recovery::watch(urls, run.clock, deadline)));
            next_fault = Instant::now() + period;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for client in clients {
        client.await?;
    }
    for watcher in watching {
        watched.push(Some(watcher.await?));
    }
    Ok(())
}

/// How long the subscribers are given, once the read-back is over, to catch up with
/// the log.
const CATCH_UP: Duration = Duration::from_secs(10);

/// Starts `settings.subscribers` subscribers of `target`'s feed, from the position a
/// list read reflects before the scenario writes anything (the feed's own recipe for
/// following a list); what they will have followed, so far.
async fn follow(
    target: &Target,
    clock: Clock,
    settings: &Settings,
) -> (Option<Subscribers>, Following) {
    let mut following = Following {
        marker: target.marker.clone(),
        ..Following::default()
    };
    if settings.subscribers == 0 {
        return (None, following);
    }
    let client = Client::new(usize::MAX, clock, target.token.as_ref());
    let since = retried(target, |instance| client.position(target, instance)).await;
    match since {
        Ok(since) => {
            following.since = since;
            let seed = settings.seed.rotate_left(32);
            let subscribers = Subscribers::start(settings.subscribers, target, clock, since, seed);
            (Some(subscribers), following)
        }
        Err(why) => {
            following.unjudged = Some(format!("the log's position could not be read: {why}"));
            (None, following)
        }
    }
}

/// After the read-back: waits (for [`CATCH_UP`] at most) until every subscriber has
/// received the log up to its head, then stops them; what they followed.
async fn caught_up(run: &Run, mut following: Following, client: usize) -> Following {
    let Some(subscribers) = &run.subscribers else {
        return following;
    };
    let client = run.client(client);
    let target = &run.target;
    let since = following.since;
    match retried(target, |instance| client.head(target, instance, since)).await {
        Ok(head) => {
            following.head = Some(head);
            subscribers.catch_up(head, CATCH_UP).await;
        }
        Err(why) => {
            following.unjudged = Some(format!("the log's head could not be read: {why}"));
        }
    }
    following.followed = subscribers.stop().await;
    following
}

/// `read` on the first instance that answers, trying each in turn for about five
/// seconds; the last failure if none does, or the first refusal (a `4xx` other than
/// `429`: asking again changes nothing).
async fn retried<T, F: Future<Output = Result<T, (Cause, String)>>>(
    target: &Target,
    read: impl Fn(usize) -> F,
) -> Result<T, String> {
    let mut failure = String::new();
    for attempt in 0..20 {
        match read(attempt % target.instances.len()).await {
            Ok(value) => return Ok(value),
            Err((Cause::Status(code), why)) if (400..500).contains(&code) && code != 429 => {
                return Err(why);
            }
            Err((_, why)) => failure = why,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(failure)
}

/// Client `n`'s share of the random mix, until the deadline.
async fn mixed(run: Arc<Run>, n: usize, settings: Settings, deadline: Instant) {
    let client = run.client(n);
    let mut rng = fastrand::Rng::with_seed(settings.seed.wrapping_add(n as u64));
    let instances = run.target.instances.len();
    let mut backoff = Backoff::default();
    while Instant::now() < deadline {
        let instance = rng.usize(..instances);
        let failure = match next_step(&settings.mix, &run.live, &run.target, &mut rng) {
            Step::One(request) => Failure::of(&run.perform(&client, instance, request).await),
            Step::Walk { query, filter } => {
                let mut page = query.clone();
                let mut first_failure = None;
                for _ in 0..3 {
                    let request = Request::List {
                        query: page.clone(),
                        filter: filter.clone(),
                    };
                    let op = run.perform(&client, instance, request).await;
                    first_failure = first_failure.or(Failure::of(&op));
                    match op.outcome {
                        Outcome::Listed {
                            next_cursor: Some(cursor),
                            ..
                        } => page = format!("{query}&cursor={cursor}"),
                        _ => break,
                    }
                }
                first_failure
            }
        };
        backoff.pause(failure, deadline).await;
    }
}

/// The incident's interleaving, round after round, driven by one set of clients:
/// `reader` lists (on one instance), `writer` changes a listed task once the list has
/// been in flight for the gap (through the next instance), then `follower` reads
/// through every instance. Every read by `follower` starts after the write was
/// acknowledged, so each must show it. After a round with a failed request the three
/// pause as every client does ([`Backoff`]).
async fn stale_fill(run: Arc<Run>, gap: Duration, deadline: Instant) {
    let [reader, writer, follower] = [0, 1, 2].map(|n| run.client(n));
    let instances = run.target.instances.len();
    let mut backoff = Backoff::default();
    let Some(id) = create_one(&run, &writer, deadline).await else {
        return;
    };
    let statuses = ["in_progress", "blocked", "done", "todo"];
    let mut round = 0;
    while Instant::now() < deadline {
        let read_on = round % instances;
        let write_on = (round + 1) % instances;
        // A query no one has asked since the last write, so the reader misses and
        // queries; the followers then ask exactly the question it filled.
        let list = || Request::List {
            query: format!("q={}&limit={}", run.target.marker, 100 - round % 90),
            filter: Filter::default(),
        };
        let write = Request::Update {
            id: id.clone(),
            status: statuses[round % statuses.len()].to_owned(),
            assignee: None,
        };
        let (read, written) = tokio::join!(run.perform(&reader, read_on, list()), async {
            tokio::time::sleep(gap).await;
            run.perform(&writer, write_on, write).await
        });
        let mut failure = Failure::of(&read).or(Failure::of(&written));
        for instance in 0..instances {
            let listed = run.perform(&follower, instance, list()).await;
            let got = run
                .perform(&follower, instance, Request::Get { id: id.clone() })
                .await;
            failure = failure.or(Failure::of(&listed)).or(Failure::of(&got));
        }
        backoff.pause(failure, deadline).await;
        round += 1;
    }
}

/// The task a driven scenario works on: created through the first instance again (each
/// failure in the history) until a create is acknowledged, as an instance may refuse
/// the first one for a moment; none if `deadline` passes first.
async fn create_one(run: &Run, writer: &Client, deadline: Instant) -> Option<String> {
    let mut backoff = Backoff::default();
    while Instant::now() < deadline {
        let create = Request::Create {
            status: "todo".to_owned(),
            assignee: None,
        };
        let created = run.perform(writer, 0, create).await;
        if let Some(id) = created.task() {
            return Some(id.to_owned());
        }
        backoff.pause(Failure::of(&created), deadline).await;
    }
    None
}

/// After the run: every task whose creation was acknowledged, read once more through
/// the first instance that answers. Returns the tasks that could not be read at all.
async fn read_back(run: &Run, client: usize) -> Vec<Violation> {
    let client = run.client(client);
    let created: Vec<String> = {
        let history = run.history.lock().expect("not poisoned");
        history
            .iter()
            .filter(|op| {
                matches!(
                    (&op.request, &op.outcome),
                    (Request::Create { .. }, Outcome::Written { .. })
                )
            })
            .filter_map(|op| op.task().map(str::to_owned))
            .collect()
    };
    let instances = run.target.instances.len();
    let mut unverified = Vec::new();
    for id in created {
        let mut read = false;
        for attempt in 0..20 {
            let op = client
                .perform(
                    &run.target,
                    attempt % instances,
                    Phase::ReadBack,
                    Request::Get { id: id.clone() },
                )
                .await;
            read = Failure::of(&op).is_none();
            run.keep(op);
            if read {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if !read {
            unverified.push(Violation {
                kind: Kind::Unverified,
                task: id,
                detail: "every read-back attempt failed".to_owned(),
                read: None,
                evidence: Vec::new(),
            });
        }
    }
    unverified
}

/// Whether any create of the run may have been applied: acknowledged, or failed in a
/// way that leaves it open (a timeout, a lost connection, a `5xx`). A refused
/// connection or a `4xx` applied nothing.
fn may_have_created(run: &Run) -> bool {
    let history = run.history.lock().expect("not poisoned");
    history.iter().any(|op| match (&op.request, &op.outcome) {
        (Request::Create { .. }, Outcome::Failed { cause, .. }) => cause.may_have_applied(),
        (Request::Create { .. }, _) => true,
        _ => false,
    })
}

/// How many rounds of "list what is left, delete it" the clean-up may take.
const CLEANUP_ROUNDS: usize = 20;

/// After the read-back: deletes every task carrying this scenario's word, found by
/// listing them rather than from the history, so that the tasks of creates that failed
/// but were applied go too. Returns what was left, if anything.
async fn clean_up(run: &Run, client: usize) -> Option<Leftovers> {
    let client = run.client(client);
    let instances = run.target.instances.len();
    let mut failure = None;
    for round in 0..CLEANUP_ROUNDS {
        let instance = round % instances;
        let list = Request::List {
            query: format!("q={}&limit=100", run.target.marker),
            filter: Filter::default(),
        };
        let listed = client
            .perform(&run.target, instance, Phase::Cleanup, list)
            .await;
        failure = None;
        match listed.outcome {
            Outcome::Listed { tasks, .. } if tasks.is_empty() => return None,
            Outcome::Listed { tasks, .. } => {
                for task in tasks {
                    let delete = Request::Delete { id: task.id };
                    let deleted = client
                        .perform(&run.target, instance, Phase::Cleanup, delete)
                        .await;
                    if let Outcome::Failed { reason, .. } = deleted.outcome {
                        failure = Some(reason);
                    }
                }
            }
            Outcome::Failed { reason, .. } => failure = Some(reason),
            _ => {}
        }
        if failure.is_some() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Some(Leftovers {
        marker: run.target.marker.clone(),
        reason: failure.unwrap_or_else(|| "more tasks than it could delete".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Stream;
    use crate::subscriber::Followed;

    fn report(scenario: Scenario) -> ScenarioReport {
        let read = Operation {
            client: 0,
            instance: 0,
            start_us: 0,
            end_us: 1,
            phase: Phase::Run,
            request: Request::Get { id: "t".into() },
            outcome: Outcome::Absent,
        };
        let write = Operation {
            request: Request::Delete { id: "t".into() },
            outcome: Outcome::Deleted,
            ..read.clone()
        };
        let operations = [vec![read; 10], vec![write; 10]].concat();
        ScenarioReport {
            scenario,
            round: 1,
            operations: operations.len(),
            tally: Tally::of(&operations),
            figures: Figures::default(),
            faults: Vec::new(),
            violation_count: 0,
            violations: Vec::new(),
            duration: Duration::ZERO,
            leftovers: None,
            received: Vec::new(),
            delivery_shortfall: None,
            rollbacks: 0,
        }
    }

    fn stream(opened: bool, ended: &str) -> Stream {
        Stream {
            subscriber: 0,
            instance: 0,
            start_us: 0,
            end_us: 1,
            after: 0,
            opened,
            ended: ended.to_owned(),
        }
    }

    #[test]
    fn a_subscriber_that_never_got_a_stream_leaves_no_verdict() {
        let connected = Followed {
            received: Vec::new(),
            streams: vec![stream(true, "stopped")],
        };
        let refused = Followed {
            received: Vec::new(),
            streams: vec![stream(false, "404 Not Found: ")],
        };
        let following = |followed: Vec<Followed>| Following {
            followed,
            ..Following::default()
        };
        assert_eq!(feed_shortfall(&following(vec![connected.clone()])), None);
        let why = feed_shortfall(&following(vec![connected, refused]))
            .expect("a subscriber never connected");
        assert!(
            why.starts_with("subscriber 1 never opened an event stream: 404"),
            "{why}"
        );
        assert!(why.contains("--subscribers 0"), "{why}");
        // The report keeps the reason once the events are let go.
        let mut judged = report(Scenario::Mixed);
        assert_eq!(judged.shortfall(), None);
        judged.delivery_shortfall = Some(why.clone());
        assert_eq!(judged.shortfall(), Some(why));
    }

    #[test]
    fn a_webhook_that_received_nothing_leaves_no_verdict() {
        let why = webhook_shortfall(&Watched::default()).expect("nothing delivered");
        assert_eq!(why, "the webhook received nothing");
        let unregistered = Watched {
            unjudged: Some("it could not be registered: 400".to_owned()),
            ..Watched::default()
        };
        let why = webhook_shortfall(&unregistered).expect("not registered");
        assert!(
            why.starts_with("the webhook was not judged: it could not"),
            "{why}"
        );
    }

    #[test]
    fn a_rollback_that_lost_no_announcement_leaves_no_verdict() {
        let mut rolled = report(Scenario::RedisRollback);
        let why = rolled.shortfall().expect("no round judged");
        assert!(why.starts_with("no round lost"), "{why}");
        rolled.rollbacks = 1;
        assert_eq!(rolled.shortfall(), None);
    }
}
