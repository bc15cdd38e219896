//! `redis-rollback`: Redis forgets a write's announcement after the write committed,
//! and keeps the workspace's generation and an entry filled before the write, as after
//! a failover to a replica that had not received the announcement, or a restart from
//! a snapshot taken just before it.
//!
//! That is the one fault under which the change feed's "advance before announce"
//! (see the server's `feed` module) is all that keeps an event from running ahead of
//! the cache: while Redis holds a write's announcement, every instance reads the
//! database; once Redis has lost it, only an advance of the generation retires the
//! entry filled before the write. A feed that hands the change out without advancing
//! first (the test-only `--feed-design=announce-first`) lets a client receive the
//! event, then read the list on another instance and be served that entry.
//!
//! # Why a round of its own, not the mix
//!
//! Rolling Redis back to a snapshot while the random mix runs loses more than one
//! announcement: the advances of writes acknowledged meanwhile, and of the feed, so the
//! generation goes back to values whose entries predate acknowledged writes. Redis
//! consistency does not promise to survive a Redis that loses confirmed writes (strict
//! consistency does); what keeps such a run clean in practice is the second every
//! instance leaves Redis alone after an error, while writers announce and advance
//! again at once. That same second hides the entry a lost announcement left behind:
//! under the mix, the announce-first feed passes (tried, run after run). So each round
//! loses exactly one thing, the announcement of a write no one was told had happened,
//! and then reads where the entry is still there to be served:
//!
//! 1. every instance has made the advances it owed, and every subscriber has caught up
//!    with the log (so no advance is still on its way);
//! 2. the reader lists (and reads the task) on instance C, twice: the entries are filled;
//! 3. Redis writes a snapshot (`SAVE`);
//! 4. the writer updates the task through instance A; as soon as Redis has applied one
//!    change since the snapshot, its writes are paused (`CLIENT PAUSE WRITE`);
//! 5. if Redis applied just that one change (the announcement; the write's advance,
//!    or a feed's, would make more), Redis is killed, the write fails (`503`, yet
//!    committed) and Redis restarts from the snapshot; otherwise its writes resume and
//!    the round is not counted;
//! 6. once C uses Redis again (its readiness says so) and a subscriber has received the
//!    write's change, the reader reads the list and the task on C a few times, without
//!    touching A (whose repair would advance the generation in the feed's place).
//!
//! The checks then judge the reads of step 6 against the event: none may miss it.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::Run;
use crate::history::{FaultEvent, Filter, Outcome, Request};
use crate::supervisor::{RedisAdmin, RedisServer};

/// How long a round waits for what it waits on (instances ready, subscribers caught
/// up, the write's change received).
const PATIENCE: Duration = Duration::from_secs(5);

/// The reads of step 6: this many, this far apart.
const READS: usize = 3;
const READ_GAP: Duration = Duration::from_millis(100);

/// Runs rounds until `deadline`, recording each rollback (or round not rolled back)
/// in `faults`; how many rounds were judged (a committed write's announcement lost,
/// its change received, reads after it).
pub(super) async fn rounds(
    run: &Run,
    redis: &mut RedisServer,
    deadline: Instant,
    faults: &mut Vec<FaultEvent>,
) -> anyhow::Result<usize> {
    let [writer, reader] = [0, 1].map(|n| run.client(n));
    let instances = run.target.instances.len();
    // A writes, C reads: two instances when there are two.
    let (a, c) = (0, 1 % instances);
    let Some(id) = super::create_one(run, &writer, deadline).await else {
        return Ok(0);
    };
    let mut judged = 0;
    let statuses = ["in_progress", "blocked", "done", "todo"];
    let list = || Request::List {
        query: format!("q={}&limit=100", run.target.marker),
        filter: Filter::default(),
    };
    let get = || Request::Get { id: id.clone() };
    for round in 0.. {
        if Instant::now() >= deadline {
            break;
        }
        settle(run).await;
        // 2. The entries C will serve: the second of each read is a hit.
        let mut version = None;
        for request in [list(), list(), get(), get()] {
            if let Outcome::Found { task } = run.perform(&reader, c, request).await.outcome {
                version = Some(task.version);
            }
        }
        let Some(version) = version else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // 3., 4.
        redis.save().await?;
        let mut admin = RedisAdmin::connect(&redis.url()).await?;
        let update = Request::Update {
            id: id.clone(),
            status: statuses[round % statuses.len()].to_owned(),
            assignee: None,
        };
        let mut write = std::pin::pin!(run.perform(&writer, a, update));
        let mut written = None;
        let at_us = run.clock.now();
        let applied = loop {
            tokio::select! {
                biased;
                op = &mut write, if written.is_none() => written = Some(op),
                changes = admin.changes_since_save() => {
                    if changes? > 0 || written.is_some() {
                        admin.pause_writes().await?;
                        break admin.changes_since_save().await?;
                    }
                }
            }
        };
        // 5.
        let lost = applied == 1 && written.is_none();
        if !lost {
            admin.unpause().await?;
            if written.is_none() {
                write.await;
            }
            faults.push(FaultEvent {
                at_us,
                fault: format!(
                    "Redis not rolled back: {applied} changes since the snapshot when its \
                     writes were paused, not just the write's announcement"
                ),
            });
            continue;
        }
        drop(admin);
        redis.kill();
        let failed = write.await.outcome;
        redis
            .roll_back()
            .await
            .context("restarting Redis from its snapshot")?;
        faults.push(FaultEvent {
            at_us,
            fault: "Redis killed after the write's announcement and restarted from the snapshot \
                    taken just before it"
                .to_owned(),
        });
        if !matches!(failed, Outcome::Failed { .. }) {
            continue; // not committed: nothing for an event to announce
        }
        // 6.
        let reader_cached = wait(|| reader.cached(&run.target, c)).await;
        let received = match &run.subscribers {
            Some(subscribers) => subscribers.await_change(&id, version, PATIENCE).await,
            None => false,
        };
        if reader_cached && received {
            for _ in 0..READS {
                run.perform(&reader, c, list()).await;
                run.perform(&reader, c, get()).await;
                tokio::time::sleep(READ_GAP).await;
            }
            judged += 1;
        }
    }
    Ok(judged)
}

/// Step 1: every instance has made the advances it owes (asking each whether it is
/// ready makes it do so), and every subscriber has received the whole log.
async fn settle(run: &Run) {
    let client = run.client(2);
    for instance in 0..run.target.instances.len() {
        wait(|| client.cached(&run.target, instance)).await;
    }
    if let Some(subscribers) = &run.subscribers
        && let Ok(head) = client.head(&run.target, 0, subscribers.since()).await
    {
        subscribers.catch_up(head, PATIENCE).await;
    }
}

/// Asks `ready` every 50 ms until it says yes, for [`PATIENCE`] at most; whether it did.
async fn wait<F: Future<Output = bool>>(ready: impl Fn() -> F) -> bool {
    let until = Instant::now() + PATIENCE;
    while Instant::now() < until {
        if ready().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
