//! Large histories made up for the verdict's own tests: a serial store of tasks that
//! clients write and read concurrently, each operation taking effect at one instant
//! inside its span, so the history is correct by construction, except for the reads
//! that are told to lie (a task left out of a complete list, or shown at an older
//! version), which the verdict must report. Some writes time out, applied or not; the
//! applied ones reach two subscribers a moment after they take effect.

use std::collections::{HashMap, HashSet};

use crate::client::title;
use crate::history::{Cause, Change, ChangeKind, Filter, Operation, Outcome, Phase, Received};
use crate::history::{Request, Seen};
use crate::subscriber::{Followed, Following};

const STATUSES: [&str; 4] = ["todo", "in_progress", "blocked", "done"];
const ASSIGNEES: [Option<&str>; 3] = [None, Some("ana"), Some("bo")];
const MARKER: &str = "synthetic";
/// Concurrent clients; each starts an operation every `CLIENTS` instants.
const CLIENTS: u64 = 16;
/// Microseconds between two instants at which operations take effect.
const STEP: u64 = 20;
/// The most an operation's span reaches either side of its instant: less than half a
/// client's period, so one client's operations never overlap.
const REACH: u64 = 150;

/// What to make up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// How many operations.
    pub(super) operations: usize,
    /// Creates give way to updates above this many live tasks.
    pub(super) live: usize,
    /// One read in this many lies (0: none does).
    pub(super) lie_every: usize,
    /// One write in this many times out (applied or not).
    pub(super) fail_every: usize,
    /// Seed of every choice.
    pub(super) seed: u64,
}

/// A history and what its subscribers received.
pub(super) struct Synthetic {
    pub(super) history: Vec<Operation>,
    pub(super) following: Following,
    /// When each read that lied started.
    pub(super) lies: HashSet<u64>,
}

/// The task as the server would send it.
fn body(task: &Seen, client: usize) -> serde_json::Value {
    serde_json::json!({
        "id": task.id,
        "title": title(client),
        "description": MARKER,
        "version": task.version,
        "status": task.status,
        "assignee": task.assignee,
    })
}

/// The filters the workload's lists use, and one of a status and an assignee together
/// (the narrowest, so that many live tasks are left off each list).
fn filter(rng: &mut fastrand::Rng) -> Filter {
    let status = STATUSES[rng.usize(..STATUSES.len())].to_owned();
    match rng.u8(..5) {
        0 => Filter::default(),
        1 => Filter {
            statuses: vec![status],
            ..Filter::default()
        },
        2 => Filter {
            excluded: vec!["done".to_owned(), "blocked".to_owned()],
            ..Filter::default()
        },
        3 => Filter {
            assignees: vec!["bo".to_owned()],
            unassigned: true,
            ..Filter::default()
        },
        _ => Filter {
            statuses: vec![status],
            assignees: vec!["ana".to_owned()],
            ..Filter::default()
        },
    }
}

/// Makes up a history of `shape`.
pub(super) fn generate(shape: Shape) -> Synthetic {
    let mut rng = fastrand::Rng::with_seed(shape.seed);
    // Live tasks in creation order, their states, and each one's state before.
    let mut order: Vec<String> = Vec::new();
    let mut store: HashMap<String, Seen> = HashMap::new();
    let mut before: HashMap<String, Seen> = HashMap::new();
    // The client whose create made each task: the title every state of it carries.
    let mut authors: HashMap<String, usize> = HashMap::new();
    let mut history = Vec::with_capacity(shape.operations);
    let mut received: [Vec<Received>; 2] = [Vec::new(), Vec::new()];
    let mut seq = 0;
    let mut created = 0;
    let mut lies = HashSet::new();
    for i in 0..shape.operations {
        let at = 1_000 + i as u64 * STEP;
        let client = (i as u64 % CLIENTS) as usize;
        let (start_us, end_us) = (at - rng.u64(1..REACH), at + rng.u64(1..REACH));
        let instance = rng.usize(..3);
        let op = |request, outcome| Operation {
            client,
            instance,
            start_us,
            end_us,
            phase: Phase::Run,
            request,
            outcome,
        };
        let roll = rng.u8(..100);
        let lie = shape.lie_every > 0 && rng.usize(..shape.lie_every) == 0;
        let fails = shape.fail_every > 0 && rng.usize(..shape.fail_every) == 0;
        let status = STATUSES[rng.usize(..STATUSES.len())].to_owned();
        let assignee = ASSIGNEES[rng.usize(..ASSIGNEES.len())].map(str::to_owned);
        // A write that fails is applied half the time.
        let applies = !fails || rng.bool();
        let failed = Outcome::Failed {
            cause: Cause::Timeout,
            reason: "timed out".to_owned(),
            retry_after: None,
        };
        let mut change = None;
        let operation = if order.len() < 3 || (roll < 10 && order.len() < shape.live) {
            created += 1;
            let task = Seen {
                id: format!("task-{created:08}"),
                version: 1,
                status: status.clone(),
                assignee: assignee.clone(),
            };
            let outcome = if fails {
                failed
            } else {
                Outcome::written(body(&task, client))
            };
            if applies {
                order.push(task.id.clone());
                store.insert(task.id.clone(), task.clone());
                authors.insert(task.id.clone(), client);
                change = Some((ChangeKind::Created, task));
            }
            op(Request::Create { status, assignee }, outcome)
        } else if roll < 40 {
            let index = rng.usize(..order.len());
            let id = order[index].clone();
            if roll < 35 {
                let old = store[&id].clone();
                let task = Seen {
                    version: old.version + 1,
                    status: status.clone(),
                    assignee: assignee.clone(),
                    ..old.clone()
                };
                let outcome = if fails {
                    failed
                } else {
                    Outcome::written(body(&task, authors[&id]))
                };
                if applies {
                    before.insert(id.clone(), old);
                    store.insert(id.clone(), task.clone());
                    change = Some((ChangeKind::Updated, task));
                }
                op(
                    Request::Update {
                        id,
                        status,
                        assignee,
                    },
                    outcome,
                )
            } else {
                let outcome = if fails { failed } else { Outcome::Deleted };
                if applies {
                    order.remove(index);
                    let task = store.remove(&id).expect("a live task");
                    before.remove(&id);
                    change = Some((ChangeKind::Deleted, task));
                }
                op(Request::Delete { id }, outcome)
            }
        } else if roll < 60 {
            let id = order[rng.usize(..order.len())].clone();
            let task = match before.get(&id) {
                Some(old) if lie => {
                    lies.insert(start_us);
                    old.clone()
                }
                _ => store[&id].clone(),
            };
            op(Request::Get { id }, Outcome::Found { task })
        } else {
            let filter = filter(&mut rng);
            let mut tasks: Vec<Seen> = order
                .iter()
                .map(|id| store[id].clone())
                .filter(|task| filter.matches(task))
                .collect();
            if lie && !tasks.is_empty() {
                lies.insert(start_us);
                tasks.remove(rng.usize(..tasks.len()));
            }
            let request = Request::List {
                query: "q=synthetic&limit=100".to_owned(),
                filter,
            };
            let outcome = Outcome::Listed {
                tasks,
                complete: true,
                next_cursor: None,
            };
            op(request, outcome)
        };
        history.push(operation);
        if let Some((kind, task)) = change {
            seq += 1;
            let author = authors[&task.id];
            let change = Change {
                seq,
                kind,
                task_id: task.id.clone(),
                version: task.version,
                task: (kind != ChangeKind::Deleted).then(|| body(&task, author)),
            };
            for (subscriber, received) in received.iter_mut().enumerate() {
                received.push(Received {
                    subscriber,
                    instance: subscriber,
                    received_us: at + 200 + subscriber as u64,
                    id: seq.to_string(),
                    change: change.clone(),
                });
            }
        }
    }
    let following = Following {
        marker: MARKER.to_owned(),
        since: 0,
        head: Some(seq),
        followed: received
            .into_iter()
            .map(|received| Followed {
                received,
                streams: Vec::new(),
            })
            .collect(),
        unjudged: None,
    };
    Synthetic {
        history,
        following,
        lies,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::verdict::{Kind, check};

    /// How many operations the large test makes up: `TASKLANE_CHECK_SYNTHETIC_OPERATIONS`,
    /// else 100,000 (under half a minute in a debug build).
    fn large() -> usize {
        std::env::var("TASKLANE_CHECK_SYNTHETIC_OPERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000)
    }

    fn shape(operations: usize, lie_every: usize) -> Shape {
        Shape {
            operations,
            live: 40,
            lie_every,
            fail_every: 50,
            seed: 19,
        }
    }

    #[test]
    fn a_made_up_history_that_tells_no_lie_passes() {
        let made = generate(shape(20_000, 0));
        let violations = check(&made.history, &made.following, None);
        assert!(violations.is_empty(), "{}", violations[0]);
    }

    #[test]
    fn a_large_history_is_judged_and_only_its_lies_are_reported() {
        let made = generate(shape(large(), 200));
        let started = Instant::now();
        let violations = check(&made.history, &made.following, None);
        eprintln!(
            "{} operations judged in {:?}: {} violations, {} lies told",
            made.history.len(),
            started.elapsed(),
            violations.len(),
            made.lies.len()
        );
        assert!(!violations.is_empty());
        for violation in &violations {
            let read = violation.read.as_ref().expect("a read broke it");
            assert!(made.lies.contains(&read.start_us), "{violation}");
            assert!(
                [
                    Kind::Stale,
                    Kind::Missing,
                    Kind::NonMonotonic,
                    Kind::Unreflected
                ]
                .contains(&violation.kind),
                "{violation}"
            );
        }
    }
}
