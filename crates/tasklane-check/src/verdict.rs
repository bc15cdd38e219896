//! The checks a recorded history must pass.
//!
//! 1. **Freshness.** Every read reflects every write acknowledged before the read
//!    started: it shows no task at a version older than one acknowledged by then, and
//!    no task whose deletion was acknowledged by then. A single read answers `404`, or
//!    a complete list leaves a task out, only if the task may really be gone or changed:
//!    a deletion of it was sent before the read ended, or (for lists) a write to it was
//!    still unacknowledged when the read started.
//! 2. **Monotonic reads.** One client never sees a task at an older version than it
//!    already saw.
//! 3. **No lost write.** The read-back after the run (freshness judged in the same way)
//!    finds every acknowledged write.
//!
//! A write that failed or timed out is indeterminate: it may have happened or not. It
//! never counts as acknowledged, and while one is outstanding a task's state is
//! unknown, so it is never evidence against a read either. Lists are also checked
//! against their own filters: a task that does not match them must not be on the page.

use std::collections::HashMap;

use crate::history::{Operation, Outcome, Phase, Request, Seen};

/// What kind of rule a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A read showed a task older than an acknowledged write.
    Stale,
    /// A read showed a task whose deletion was acknowledged before it started.
    Resurrected,
    /// A read left out a task that an acknowledged write put there.
    Missing,
    /// A list showed a task that does not match its filters.
    Unmatched,
    /// A client saw a task go back to an older version.
    NonMonotonic,
    /// The read-back after the run did not find an acknowledged write.
    Lost,
    /// The read-back could not read a task at all, so its writes cannot be confirmed.
    Unverified,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Stale => "stale read",
            Kind::Resurrected => "deleted task seen",
            Kind::Missing => "acknowledged task missing",
            Kind::Unmatched => "task outside the list's filters",
            Kind::NonMonotonic => "non-monotonic read",
            Kind::Lost => "lost write",
            Kind::Unverified => "write not verifiable",
        }
    }
}

/// A broken rule, with the operations that show it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule.
    pub kind: Kind,
    /// The task concerned.
    pub task: String,
    /// What was expected, and what was seen instead.
    pub detail: String,
    /// The read that broke the rule.
    pub read: Option<Operation>,
    /// The operation that shows what it should have seen.
    pub evidence: Option<Operation>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: task {}: {}",
            self.kind.label(),
            self.task,
            self.detail
        )?;
        if let Some(read) = &self.read {
            write!(f, "\n      read:     {read}")?;
        }
        if let Some(evidence) = &self.evidence {
            write!(f, "\n      evidence: {evidence}")?;
        }
        Ok(())
    }
}

/// Every violation in a history.
pub fn check(history: &[Operation]) -> Vec<Violation> {
    let writes = writes_by_task(history);
    let mut violations = Vec::new();
    for read in history.iter().filter(|op| !op.request.is_write()) {
        match (&read.request, &read.outcome) {
            (Request::Get { id }, Outcome::Found { task }) => {
                violations.extend(check_seen(read, task, writes.get(id.as_str())));
            }
            (Request::Get { id }, Outcome::Absent) => {
                let writes = writes.get(id.as_str()).map_or(&[][..], Vec::as_slice);
                violations.extend(check_absent(read, id, writes, |_| true));
            }
            (
                Request::List { filter, .. },
                Outcome::Listed {
                    tasks, complete, ..
                },
            ) => {
                for task in tasks {
                    violations.extend(check_seen(read, task, writes.get(task.id.as_str())));
                    if !filter.matches(task) {
                        violations.push(Violation {
                            kind: Kind::Unmatched,
                            task: task.id.clone(),
                            detail: format!(
                                "listed with status {} and assignee {:?}",
                                task.status, task.assignee
                            ),
                            read: Some(read.clone()),
                            evidence: None,
                        });
                    }
                }
                if *complete {
                    for (id, writes) in &writes {
                        if !tasks.iter().any(|task| task.id == *id) {
                            violations.extend(check_absent(read, id, writes, |state| {
                                settled(writes, read) && filter.matches(state)
                            }));
                        }
                    }
                }
            }
            _ => {} // a failed read observed nothing
        }
    }
    violations.extend(monotonic(history));
    violations
}

/// The writes to each task, in the order they were sent.
fn writes_by_task(history: &[Operation]) -> HashMap<&str, Vec<&Operation>> {
    let mut writes: HashMap<&str, Vec<&Operation>> = HashMap::new();
    for op in history.iter().filter(|op| op.request.is_write()) {
        if let Some(id) = op.task() {
            writes.entry(id).or_default().push(op);
        }
    }
    for list in writes.values_mut() {
        list.sort_by_key(|op| op.start_us);
    }
    writes
}

/// The newest state of a task acknowledged before `instant`, with its write.
fn acknowledged_state<'a>(
    writes: &[&'a Operation],
    instant: u64,
) -> Option<(&'a Seen, &'a Operation)> {
    writes
        .iter()
        .filter(|op| op.acknowledged_before(instant))
        .filter_map(|op| match &op.outcome {
            Outcome::Written { task } => Some((task, *op)),
            _ => None,
        })
        .max_by_key(|(task, _)| task.version)
}

/// Judges a task a read showed against the writes acknowledged before it started.
fn check_seen(
    read: &Operation,
    seen: &Seen,
    writes: Option<&Vec<&Operation>>,
) -> Option<Violation> {
    let writes = writes?;
    let violation = |kind, detail: String, evidence: &Operation| Violation {
        kind: in_phase(read, kind),
        task: seen.id.clone(),
        detail,
        read: Some(read.clone()),
        evidence: Some(evidence.clone()),
    };
    if let Some(deletion) = writes.iter().find(|op| {
        matches!(op.request, Request::Delete { .. }) && op.acknowledged_before(read.start_us)
    }) {
        return Some(violation(
            Kind::Resurrected,
            format!(
                "seen at version {} after its deletion was acknowledged",
                seen.version
            ),
            deletion,
        ));
    }
    let (acknowledged, write) = acknowledged_state(writes, read.start_us)?;
    (seen.version < acknowledged.version).then(|| {
        violation(
            Kind::Stale,
            format!(
                "expected version {} or later (acknowledged before the read started), saw version {}",
                acknowledged.version, seen.version
            ),
            write,
        )
    })
}

/// Judges a read that did not show a task: a violation if an acknowledged write put it
/// there, no deletion of it had been sent by the time the read ended, and `belongs`
/// holds for its acknowledged state.
fn check_absent(
    read: &Operation,
    id: &str,
    writes: &[&Operation],
    belongs: impl Fn(&Seen) -> bool,
) -> Option<Violation> {
    let (state, write) = acknowledged_state(writes, read.start_us)?;
    let deletion_sent = writes
        .iter()
        .any(|op| matches!(op.request, Request::Delete { .. }) && op.start_us < read.end_us);
    (!deletion_sent && belongs(state)).then(|| Violation {
        kind: in_phase(read, Kind::Missing),
        task: id.to_owned(),
        detail: format!(
            "expected version {} (acknowledged before the read started, never deleted), found nothing",
            state.version
        ),
        read: Some(read.clone()),
        evidence: Some(write.clone()),
    })
}

/// Whether every write to a task sent before `read` ended was acknowledged before it
/// started, so that the task's state during the read is known.
fn settled(writes: &[&Operation], read: &Operation) -> bool {
    writes
        .iter()
        .filter(|op| op.start_us < read.end_us)
        .all(|op| op.acknowledged_before(read.start_us))
}

/// In the read-back, missing or outdated data is a lost write.
fn in_phase(read: &Operation, kind: Kind) -> Kind {
    match (read.phase, kind) {
        (Phase::ReadBack, Kind::Stale | Kind::Missing) => Kind::Lost,
        _ => kind,
    }
}

/// Each client's reads of each task, in order: versions never go back.
fn monotonic(history: &[Operation]) -> Vec<Violation> {
    let mut by_client: HashMap<usize, Vec<&Operation>> = HashMap::new();
    for op in history {
        by_client.entry(op.client).or_default().push(op);
    }
    let mut violations = Vec::new();
    for ops in by_client.values_mut() {
        ops.sort_by_key(|op| op.start_us);
        let mut newest: HashMap<&str, (i64, &Operation)> = HashMap::new();
        for op in ops.iter() {
            let seen: &[Seen] = match &op.outcome {
                Outcome::Found { task } => std::slice::from_ref(task),
                Outcome::Listed { tasks, .. } => tasks,
                _ => &[],
            };
            for task in seen {
                match newest.get(task.id.as_str()) {
                    Some(&(version, earlier)) if task.version < version => {
                        violations.push(Violation {
                            kind: Kind::NonMonotonic,
                            task: task.id.clone(),
                            detail: format!(
                                "saw version {} after this client had seen version {version}",
                                task.version
                            ),
                            read: Some((*op).clone()),
                            evidence: Some(earlier.clone()),
                        });
                    }
                    Some(&(version, _)) if task.version == version => {}
                    _ => {
                        newest.insert(&task.id, (task.version, op));
                    }
                }
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Cause, Filter};

    fn task(version: i64, status: &str) -> Seen {
        Seen {
            id: "t".to_owned(),
            version,
            status: status.to_owned(),
            assignee: None,
        }
    }

    fn op(client: usize, span: (u64, u64), request: Request, outcome: Outcome) -> Operation {
        Operation {
            client,
            instance: 0,
            start_us: span.0,
            end_us: span.1,
            phase: Phase::Run,
            request,
            outcome,
        }
    }

    fn created(span: (u64, u64)) -> Operation {
        let request = Request::Create {
            status: "todo".to_owned(),
            assignee: None,
        };
        op(
            0,
            span,
            request,
            Outcome::Written {
                task: task(1, "todo"),
            },
        )
    }

    fn updated(span: (u64, u64), outcome: Outcome) -> Operation {
        let request = Request::Update {
            id: "t".to_owned(),
            status: "done".to_owned(),
            assignee: None,
        };
        op(0, span, request, outcome)
    }

    fn deleted(span: (u64, u64), outcome: Outcome) -> Operation {
        op(0, span, Request::Delete { id: "t".to_owned() }, outcome)
    }

    fn listed(client: usize, span: (u64, u64), filter: Filter, tasks: Vec<Seen>) -> Operation {
        let request = Request::List {
            query: "q=x&limit=100".to_owned(),
            filter,
        };
        let outcome = Outcome::Listed {
            tasks,
            complete: true,
            next_cursor: None,
        };
        op(client, span, request, outcome)
    }

    fn kinds(history: &[Operation]) -> Vec<Kind> {
        check(history).into_iter().map(|v| v.kind).collect()
    }

    fn done() -> Outcome {
        Outcome::Written {
            task: task(2, "done"),
        }
    }

    fn failed() -> Outcome {
        Outcome::Failed {
            cause: Cause::Timeout,
            reason: "timed out".to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn a_read_that_misses_an_update_acknowledged_before_it_started_is_stale() {
        let history = [
            created((0, 10)),
            updated((20, 30), done()),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::Stale]);
    }

    #[test]
    fn a_read_overlapping_the_update_may_show_either_version() {
        for seen in [task(1, "todo"), task(2, "done")] {
            let history = [
                created((0, 10)),
                updated((20, 45), done()),
                listed(1, (40, 50), Filter::default(), vec![seen]),
            ];
            assert_eq!(kinds(&history), []);
        }
    }

    #[test]
    fn an_indeterminate_update_is_never_evidence() {
        for seen in [task(1, "todo"), task(2, "done")] {
            let history = [
                created((0, 10)),
                updated((20, 30), failed()),
                listed(1, (40, 50), Filter::default(), vec![seen]),
            ];
            assert_eq!(kinds(&history), []);
        }
        // Nor does it let a task drop out of a list it matched before the update.
        let history = [
            created((0, 10)),
            updated((20, 30), failed()),
            listed(1, (40, 50), Filter::default(), vec![]),
        ];
        assert_eq!(kinds(&history), []);
    }

    #[test]
    fn a_task_deleted_before_the_read_must_be_gone() {
        let history = [
            created((0, 10)),
            deleted((20, 30), Outcome::Deleted),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::Resurrected]);
        let in_flight = [
            created((0, 10)),
            deleted((20, 45), Outcome::Deleted),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&in_flight), []);
    }

    #[test]
    fn a_complete_list_must_hold_every_known_task_that_matches_it() {
        let todo = Filter {
            statuses: vec!["todo".to_owned()],
            assignee: None,
        };
        let history = [created((0, 10)), listed(1, (40, 50), todo.clone(), vec![])];
        assert_eq!(kinds(&history), [Kind::Missing]);
        // Once an acknowledged update took it out of the filter, it must stay out.
        let history = [
            created((0, 10)),
            updated((20, 30), done()),
            listed(1, (40, 50), todo.clone(), vec![]),
        ];
        assert_eq!(kinds(&history), []);
        let history = [
            created((0, 10)),
            listed(1, (40, 50), todo, vec![task(2, "done")]),
        ];
        assert_eq!(kinds(&history), [Kind::Unmatched]);
    }

    #[test]
    fn one_client_never_sees_a_task_go_back() {
        let history = [
            created((0, 10)),
            updated((20, 100), done()),
            listed(1, (30, 40), Filter::default(), vec![task(2, "done")]),
            listed(1, (50, 60), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::NonMonotonic]);
    }

    #[test]
    fn the_read_back_reports_an_acknowledged_write_it_cannot_find_as_lost() {
        let mut read_back = op(
            9,
            (40, 50),
            Request::Get { id: "t".to_owned() },
            Outcome::Absent,
        );
        read_back.phase = Phase::ReadBack;
        assert_eq!(kinds(&[created((0, 10)), read_back.clone()]), [Kind::Lost]);
        let deletion_sent = deleted((20, 30), failed());
        assert_eq!(kinds(&[created((0, 10)), deletion_sent, read_back]), []);
    }
}
