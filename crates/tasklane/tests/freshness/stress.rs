//! Many concurrent writers and readers straight on the cache (no HTTP), their history
//! judged by the same checks as `tasklane check` ([`verdict::check`]): every read must
//! reflect every write acknowledged before it started, and no client may see a task go
//! back to an older version.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tasklane_check::history::{Clock, Filter, Operation, Outcome, Phase, Request, Seen};
use tasklane_check::subscriber::Following;
use tasklane_check::verdict::{self, Violation};
use tasklane_server::cache::{Consistency, Design, ListRead, TaskCache};
use tasklane_server::domain::{ListQuery, Task, TaskId, TaskPatch, Workspace};
use tasklane_server::store::Precondition;

use crate::common::consistencies;
use crate::support::{cache_with, new_task};

const WRITERS: usize = 4;
const WRITES_EACH: usize = 120;
const READERS: usize = 6;
const STATUSES: [&str; 4] = ["todo", "in_progress", "blocked", "done"];

/// The cache under test, every operation so far, and every task ever created.
struct Run {
    cache: Arc<TaskCache>,
    clock: Clock,
    history: Mutex<Vec<Operation>>,
    created: Mutex<Vec<String>>,
}

impl Run {
    /// Times `action` on the run's clock and records it as client `client`'s.
    async fn record(
        &self,
        client: usize,
        request: Request,
        action: impl Future<Output = Outcome>,
    ) -> Outcome {
        let start_us = self.clock.now();
        let outcome = action.await;
        let op = Operation {
            client,
            instance: 0,
            start_us,
            end_us: self.clock.now(),
            phase: Phase::Run,
            request,
            outcome: outcome.clone(),
        };
        self.history.lock().unwrap().push(op);
        outcome
    }
}

fn written(task: &Task) -> Outcome {
    Outcome::written(serde_json::to_value(task).unwrap())
}

async fn writer(run: Arc<Run>, client: usize) {
    let workspace = Workspace::default();
    let mut rng = fastrand::Rng::with_seed(client as u64);
    let mut live: Vec<TaskId> = Vec::new();
    for _ in 0..WRITES_EACH {
        let roll = rng.u8(..100);
        if live.len() < 3 || (roll < 15 && live.len() < 6) {
            let request = Request::Create {
                status: "todo".to_owned(),
                assignee: None,
            };
            let outcome = run
                .record(client, request, async {
                    let task = run.cache.create(&workspace, new_task("t"), None).await;
                    written(&task.unwrap())
                })
                .await;
            if let Outcome::Written { task, .. } = outcome {
                live.push(task.id.parse().unwrap());
                run.created.lock().unwrap().push(task.id);
            }
        } else if roll < 25 {
            let id = live.swap_remove(rng.usize(..live.len()));
            let request = Request::Delete { id: id.to_string() };
            run.record(client, request, async {
                run.cache
                    .delete(&workspace, id, &Precondition::None)
                    .await
                    .unwrap();
                Outcome::Deleted
            })
            .await;
        } else {
            let id = live[rng.usize(..live.len())];
            let status = STATUSES[rng.usize(..STATUSES.len())];
            let patch: TaskPatch = serde_json::from_value(json!({ "status": status })).unwrap();
            let request = Request::Update {
                id: id.to_string(),
                status: status.to_owned(),
                assignee: None,
            };
            run.record(client, request, async {
                let task = run
                    .cache
                    .update(&workspace, id, &Precondition::None, &patch, None);
                written(&task.await.unwrap())
            })
            .await;
        }
    }
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Seen>,
    next_cursor: Option<String>,
}

/// Lists and single reads, alternating at random, until the writers are done.
async fn reader(run: Arc<Run>, client: usize, writers_done: Arc<tokio::sync::Notify>) {
    let workspace = Workspace::default();
    // Every task, or the open ones nobody has: the filters added last (`unassigned`,
    // `status_not`) held to the same contract as the first.
    let lists = [
        ("limit=100", Filter::default()),
        (
            "limit=100&unassigned=true&status_not=done",
            Filter {
                excluded: vec!["done".to_owned()],
                unassigned: true,
                ..Filter::default()
            },
        ),
    ]
    .map(|(text, filter)| {
        let query = ListQuery::parse(text, run.cache.cursor_key()).unwrap();
        (text, query, filter)
    });
    let mut rng = fastrand::Rng::with_seed(client as u64);
    let done = writers_done.notified();
    tokio::pin!(done);
    loop {
        let known = run.created.lock().unwrap().clone();
        if rng.bool() || known.is_empty() {
            let (text, query, filter) = &lists[rng.usize(..lists.len())];
            let request = Request::List {
                query: (*text).to_owned(),
                filter: filter.clone(),
            };
            run.record(client, request, async {
                let ListRead::Fresh(snapshot) =
                    run.cache.list(&workspace, query, |_| false).await.unwrap()
                else {
                    unreachable!("the reader sent no ETag")
                };
                let page: Page = serde_json::from_slice(&snapshot.body).unwrap();
                Outcome::Listed {
                    complete: page.next_cursor.is_none(),
                    tasks: page.data,
                    next_cursor: page.next_cursor,
                }
            })
            .await;
        } else {
            let id = known[rng.usize(..known.len())].clone();
            let request = Request::Get { id: id.clone() };
            run.record(client, request, async {
                match run
                    .cache
                    .get(&workspace, id.parse().unwrap())
                    .await
                    .unwrap()
                {
                    Some(snapshot) => Outcome::Found {
                        task: serde_json::from_slice(&snapshot.body).unwrap(),
                    },
                    None => Outcome::Absent,
                }
            })
            .await;
        }
        tokio::select! {
            () = &mut done => return,
            () = tokio::task::yield_now() => {}
        }
    }
}

/// Runs the writers and readers against one cache; returns the reads made and what the
/// checks found.
async fn run(
    design: Design,
    consistency: Consistency,
    read_delay: Duration,
) -> (usize, Vec<Violation>) {
    let (cache, _store) = cache_with(design, consistency, read_delay).await;
    let run = Arc::new(Run {
        cache,
        clock: Clock::start(),
        history: Mutex::default(),
        created: Mutex::default(),
    });
    let writers_done = Arc::new(tokio::sync::Notify::new());
    let readers: Vec<_> = (0..READERS)
        .map(|n| tokio::spawn(reader(run.clone(), WRITERS + n, writers_done.clone())))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| tokio::spawn(writer(run.clone(), n)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    writers_done.notify_waiters();
    for reader in readers {
        reader.await.unwrap();
    }
    let history = run.history.lock().unwrap();
    let reads = history.iter().filter(|op| !op.request.is_write()).count();
    (reads, verdict::check(&history, &Following::default(), None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generation_cache_shows_no_stale_read_under_concurrency() {
    let runs = consistencies()
        .into_iter()
        .map(|c| [(c, Duration::ZERO), (c, Duration::from_millis(2))]);
    for (consistency, read_delay) in runs.flatten() {
        let (reads, violations) = run(Design::Generational, consistency, read_delay).await;
        assert!(reads > 100, "only {reads} reads were checked");
        assert!(
            violations.is_empty(),
            "{} violations, e.g.\n{}",
            violations.len(),
            violations
                .iter()
                .take(3)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        println!(
            "generation cache, {consistency:?}, read delay {read_delay:?}: {reads} reads checked, 0 violations"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_cache_aside_shows_stale_reads_under_concurrency() {
    // The slowed reads widen the window between query and fill, as a loaded database does.
    let (reads, violations) = run(
        Design::DeleteOnWrite,
        Consistency::Local,
        Duration::from_millis(2),
    )
    .await;
    println!(
        "plain cache-aside: {reads} reads checked, {} violations, e.g. {:?}",
        violations.len(),
        violations.first().map(ToString::to_string)
    );
    assert!(
        violations.iter().any(|v| v.kind == verdict::Kind::Stale),
        "the checker must catch the plain cache-aside"
    );
}
