//! The checks of reads: each against what was known of its tasks when it started (see
//! [`knowledge`](super::knowledge)), each list against its own filters, and each
//! client's reads of a task against each other.

use std::collections::{HashMap, HashSet};

use super::knowledge::{Knowledge, Source, Timeline};
use super::{Kind, Violation};
use crate::history::{Filter, Operation, Outcome, Phase, Request, Seen};

/// Every violation among the reads of `history`.
pub(super) fn check(history: &[Operation], knowledge: &Knowledge) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut complete = Vec::new();
    for read in history.iter().filter(|op| !op.request.is_write()) {
        match (&read.request, &read.outcome) {
            (Request::Get { id }, Outcome::Found { task }) => {
                violations.extend(knowledge.get(id).and_then(|t| seen(read, task, t)));
            }
            (Request::Get { id }, Outcome::Absent) => {
                violations.extend(
                    knowledge
                        .get(id)
                        .and_then(|t| absent(read, id, t, |_| true)),
                );
            }
            (
                Request::List { filter, .. },
                Outcome::Listed {
                    tasks,
                    complete: all,
                    ..
                },
            ) => {
                for task in tasks {
                    violations.extend(knowledge.get(&task.id).and_then(|t| seen(read, task, t)));
                    if !filter.matches(task) {
                        violations.push(Violation {
                            kind: Kind::Unmatched,
                            task: task.id.clone(),
                            detail: format!(
                                "listed with status {} and assignee {:?}",
                                task.status, task.assignee
                            ),
                            read: Some(read.clone()),
                            evidence: Vec::new(),
                        });
                    }
                }
                if *all {
                    complete.push((read, filter, tasks.as_slice()));
                }
            }
            _ => {} // a failed read observed nothing
        }
    }
    violations.extend(left_out(complete, knowledge));
    violations.extend(monotonic(history));
    violations
}

/// Complete lists, each against the tasks that existed when it started: swept in the
/// order the reads started, so that each looks only at the tasks alive then.
fn left_out(
    mut lists: Vec<(&Operation, &Filter, &[Seen])>,
    knowledge: &Knowledge,
) -> Vec<Violation> {
    lists.sort_by_key(|(read, ..)| read.start_us);
    let mut born: Vec<(u64, &str)> = Vec::new();
    let mut doomed: Vec<(u64, &str)> = Vec::new();
    for (id, first_known, deletion_sent) in knowledge.lifetimes() {
        born.push((first_known, id));
        doomed.extend(deletion_sent.map(|sent| (sent, id)));
    }
    born.sort_unstable();
    doomed.sort_unstable();
    let (mut born, mut doomed) = (born.into_iter().peekable(), doomed.into_iter().peekable());
    let mut alive: HashSet<&str> = HashSet::new();
    let mut violations = Vec::new();
    for (read, filter, tasks) in lists {
        while let Some((_, id)) = born.next_if(|(at, _)| *at < read.start_us) {
            alive.insert(id);
        }
        // A task whose deletion was sent before the read started may be gone.
        while let Some((_, id)) = doomed.next_if(|(at, _)| *at < read.start_us) {
            alive.remove(id);
        }
        let listed: HashSet<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        for id in alive.iter().filter(|id| !listed.contains(*id)) {
            let Some(timeline) = knowledge.get(id) else {
                continue;
            };
            violations.extend(absent(read, id, timeline, |state| {
                timeline.settled_for(read) && filter.matches(state)
            }));
        }
    }
    violations
}

/// Judges a task a read showed against what was known before the read started.
fn seen(read: &Operation, seen: &Seen, timeline: &Timeline) -> Option<Violation> {
    let violation = |kind, detail: String, source: Source| Violation {
        kind: judged(read, source, kind),
        task: seen.id.clone(),
        detail,
        read: Some(read.clone()),
        evidence: vec![source.evidence()],
    };
    if let Some(source) = timeline.deletion_before(read.start_us) {
        return Some(violation(
            Kind::Resurrected,
            format!(
                "seen at version {} after its deletion was {}",
                seen.version,
                how(source)
            ),
            source,
        ));
    }
    let known = timeline.state_before(read.start_us)?;
    (seen.version < known.state.version).then(|| {
        violation(
            Kind::Stale,
            format!(
                "expected version {} or later ({} before the read started), saw version {}",
                known.state.version,
                how(known.source),
                seen.version
            ),
            known.source,
        )
    })
}

/// Judges a read that did not show a task: a violation if a state of it was known
/// before the read started, no deletion of it had been sent by the time the read
/// ended, and `belongs` holds for that state.
fn absent(
    read: &Operation,
    id: &str,
    timeline: &Timeline,
    belongs: impl Fn(&Seen) -> bool,
) -> Option<Violation> {
    let known = timeline.state_before(read.start_us)?;
    if timeline.deletion_sent_before(read.end_us) || !belongs(&known.state) {
        return None;
    }
    Some(Violation {
        kind: judged(read, known.source, Kind::Missing),
        task: id.to_owned(),
        detail: format!(
            "expected version {} ({} before the read started, never deleted), found nothing",
            known.state.version,
            how(known.source)
        ),
        read: Some(read.clone()),
        evidence: vec![known.source.evidence()],
    })
}

/// The rule a read broke, by how what it missed was known: from a change a subscriber
/// had received, the feed's rule; from an acknowledgement, the plain rule (in the
/// read-back, missing or outdated data is a lost write).
fn judged(read: &Operation, source: Source, kind: Kind) -> Kind {
    match (source, read.phase, kind) {
        (Source::Event(_), ..) => Kind::Unreflected,
        (Source::Write(_), Phase::ReadBack, Kind::Stale | Kind::Missing) => Kind::Lost,
        _ => kind,
    }
}

fn how(source: Source) -> &'static str {
    match source {
        Source::Write(_) => "acknowledged",
        Source::Event(_) => "received by a subscriber",
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
                            evidence: vec![super::Evidence::Operation(earlier.clone())],
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
