//! Many concurrent writers and readers; every read is checked against the writes that
//! were acknowledged before it started.
//!
//! Writers record each acknowledged write (the version it produced, or the deletion),
//! and mark a deletion as started before sending it. A reader copies that record
//! *before* its read starts, so everything in the copy was acknowledged before the read:
//! the read must show every such task at that version or later, and no task whose
//! deletion was acknowledged. A task may be missing only if its deletion had started by
//! the time the read ended (a read may reflect writes that overlap it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasklane::cache::{Consistency, Design, TaskCache};
use tasklane::domain::{ListQuery, Scope, Task, TaskId};
use tasklane::store::Precondition;

use crate::common::consistencies;
use crate::support::{cache_with, decode, list, new_task, rename};

/// What the writers know of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Its last acknowledged version.
    Live(i64),
    /// A deletion was sent (it may or may not have happened yet); last acknowledged version.
    Deleting(i64),
    /// Its deletion was acknowledged.
    Deleted,
}

type Acknowledged = Arc<Mutex<HashMap<TaskId, Known>>>;

const WRITERS: usize = 4;
const WRITES_EACH: usize = 120;
const READERS: usize = 6;

struct Outcome {
    reads: usize,
    violations: Vec<String>,
}

async fn writer(cache: Arc<TaskCache>, acknowledged: Acknowledged, seed: u64) {
    let scope = Scope::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut live: Vec<TaskId> = Vec::new();
    for n in 0..WRITES_EACH {
        let roll = rng.u8(..100);
        if live.len() < 3 || (roll < 15 && live.len() < 6) {
            let task = cache
                .create(&scope, new_task(&format!("w{seed}-{n}")), None)
                .await
                .unwrap();
            acknowledged
                .lock()
                .unwrap()
                .insert(task.id, Known::Live(task.version));
            live.push(task.id);
        } else if roll < 25 {
            let id = live.swap_remove(rng.usize(..live.len()));
            {
                let mut known = acknowledged.lock().unwrap();
                let Known::Live(version) = known[&id] else {
                    unreachable!("only live tasks are deleted")
                };
                known.insert(id, Known::Deleting(version));
            }
            cache.delete(&scope, id, &Precondition::None).await.unwrap();
            acknowledged.lock().unwrap().insert(id, Known::Deleted);
        } else {
            let id = live[rng.usize(..live.len())];
            let task = rename(&cache, &scope, id, &format!("w{seed}-{n}"))
                .await
                .unwrap();
            acknowledged
                .lock()
                .unwrap()
                .insert(id, Known::Live(task.version));
        }
    }
}

/// Checks what a read saw (`seen`: version per task present) against what was known
/// before it started (`before`) and after it ended (`after`), for the tasks in `ids`.
fn check(
    ids: &[TaskId],
    before: &HashMap<TaskId, Known>,
    after: &HashMap<TaskId, Known>,
    seen: &HashMap<TaskId, i64>,
    what: &str,
) -> Vec<String> {
    let mut violations = Vec::new();
    for id in ids {
        match (before[id], seen.get(id)) {
            (Known::Live(acked) | Known::Deleting(acked), Some(&seen)) if seen < acked => violations.push(format!(
                "{what}: task {id} at version {seen}, but version {acked} was acknowledged before the read"
            )),
            (Known::Live(acked), None) if matches!(after[id], Known::Live(_)) => violations.push(format!(
                "{what}: task {id} missing, but version {acked} was acknowledged before the read and no deletion was sent"
            )),
            (Known::Deleted, Some(seen)) => violations.push(format!(
                "{what}: task {id} seen at version {seen} after its deletion was acknowledged"
            )),
            _ => {}
        }
    }
    violations
}

async fn reader(
    cache: Arc<TaskCache>,
    acknowledged: Acknowledged,
    writers_done: Arc<tokio::sync::Notify>,
    seed: u64,
) -> Outcome {
    let scope = Scope::default();
    let query = ListQuery::parse("limit=100").unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut outcome = Outcome {
        reads: 0,
        violations: Vec::new(),
    };
    let done = writers_done.notified();
    tokio::pin!(done);
    loop {
        let before = acknowledged.lock().unwrap().clone(); // before the read starts
        let ids: Vec<TaskId> = before.keys().copied().collect();
        let (checked, seen, what) = if rng.bool() || ids.is_empty() {
            let page = list(&cache, &scope, &query).await;
            (
                ids,
                page.data
                    .iter()
                    .map(|task| (task.id, task.version))
                    .collect(),
                "list",
            )
        } else {
            let id = ids[rng.usize(..ids.len())];
            let task = cache
                .get(&scope, id)
                .await
                .unwrap()
                .map(|s| decode::<Task>(&s.body));
            (
                vec![id],
                task.map(|task| (task.id, task.version))
                    .into_iter()
                    .collect(),
                "get",
            )
        };
        let after = acknowledged.lock().unwrap().clone(); // after the read ended
        outcome
            .violations
            .extend(check(&checked, &before, &after, &seen, what));
        outcome.reads += 1;
        tokio::select! {
            () = &mut done => return outcome,
            () = tokio::task::yield_now() => {}
        }
    }
}

async fn run(design: Design, consistency: Consistency, read_delay: Duration) -> Outcome {
    let (cache, _store) = cache_with(design, consistency, read_delay).await;
    let acknowledged: Acknowledged = Arc::default();
    let writers_done = Arc::new(tokio::sync::Notify::new());
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            tokio::spawn(reader(
                cache.clone(),
                acknowledged.clone(),
                writers_done.clone(),
                100 + i as u64,
            ))
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| tokio::spawn(writer(cache.clone(), acknowledged.clone(), i as u64)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    writers_done.notify_waiters();
    let mut total = Outcome {
        reads: 0,
        violations: Vec::new(),
    };
    for reader in readers {
        let outcome = reader.await.unwrap();
        total.reads += outcome.reads;
        total.violations.extend(outcome.violations);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generation_cache_shows_no_stale_read_under_concurrency() {
    let runs = consistencies()
        .into_iter()
        .map(|c| [(c, Duration::ZERO), (c, Duration::from_millis(2))]);
    for (consistency, read_delay) in runs.flatten() {
        let outcome = run(Design::Generational, consistency, read_delay).await;
        assert!(
            outcome.reads > 100,
            "only {} reads were checked",
            outcome.reads
        );
        assert!(
            outcome.violations.is_empty(),
            "{} stale reads, e.g. {:#?}",
            outcome.violations.len(),
            &outcome.violations[..3.min(outcome.violations.len())]
        );
        println!(
            "generation cache, {consistency:?}, read delay {read_delay:?}: {} reads checked, 0 violations",
            outcome.reads
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_cache_aside_shows_stale_reads_under_concurrency() {
    // The slowed reads widen the window between query and fill, as a loaded database does.
    let outcome = run(
        Design::DeleteOnWrite,
        Consistency::Local,
        Duration::from_millis(2),
    )
    .await;
    println!(
        "plain cache-aside: {} reads checked, {} violations, e.g. {:?}",
        outcome.reads,
        outcome.violations.len(),
        outcome.violations.first()
    );
    assert!(
        !outcome.violations.is_empty(),
        "the checker must catch the plain cache-aside"
    );
}
