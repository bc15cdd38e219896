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
/// order the reads started, so that each looks only at the tasks alive then, and of
/// those only at the ones whose state then (status and assignee) its filter admits,
/// found by that state in [`Classes`]. A list costs the tasks it holds or misses, not
/// every task alive beside them.
fn left_out<'k>(
    mut lists: Vec<(&Operation, &Filter, &[Seen])>,
    knowledge: &'k Knowledge,
) -> Vec<Violation> {
    lists.sort_by_key(|(read, ..)| read.start_us);
    let mut born: Vec<(u64, &'k str)> = Vec::new();
    let mut doomed: Vec<(u64, &'k str)> = Vec::new();
    for (id, first_known, deletion_sent) in knowledge.lifetimes() {
        born.push((first_known, id));
        doomed.extend(deletion_sent.map(|sent| (sent, id)));
    }
    let mut changes: Vec<(u64, &'k str)> = knowledge.changes().collect();
    born.sort_unstable();
    doomed.sort_unstable();
    changes.sort_unstable();
    let mut born = born.into_iter().peekable();
    let mut doomed = doomed.into_iter().peekable();
    let mut changes = changes.into_iter().peekable();
    let mut alive = Classes::default();
    let mut touched: Vec<&'k str> = Vec::new();
    let mut violations = Vec::new();
    for (read, filter, tasks) in lists {
        while let Some((_, id)) = born.next_if(|(at, _)| *at < read.start_us) {
            alive.members.entry(id).or_insert(None);
            touched.push(id);
        }
        // A task whose deletion was sent before the read started may be gone.
        while let Some((_, id)) = doomed.next_if(|(at, _)| *at < read.start_us) {
            alive.remove(id);
        }
        while let Some((_, id)) = changes.next_if(|(at, _)| *at < read.start_us) {
            touched.push(id);
        }
        // Each task whose state may have changed is filed again under its state now.
        for id in touched.drain(..) {
            let state = knowledge
                .get(id)
                .and_then(|t| t.state_before(read.start_us));
            if let Some(known) = state {
                alive.file(id, &known.state);
            }
        }
        let listed: HashSet<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        for id in alive.admitted(filter).filter(|id| !listed.contains(*id)) {
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

/// A status and an assignee: all a list's filter looks at.
type Class<'k> = (&'k str, Option<&'k str>);

/// The tasks alive at a point of the sweep, filed by the class of their newest known
/// state.
#[derive(Default)]
struct Classes<'k> {
    /// Each alive task's class (none until it is filed).
    members: HashMap<&'k str, Option<Class<'k>>>,
    /// The alive tasks of each class.
    by_class: HashMap<Class<'k>, HashSet<&'k str>>,
}

impl<'k> Classes<'k> {
    /// Files alive task `id` under the class of `state`; a task no longer alive stays
    /// out.
    fn file(&mut self, id: &'k str, state: &'k Seen) {
        let Some(class) = self.members.get_mut(id) else {
            return;
        };
        let new = (state.status.as_str(), state.assignee.as_deref());
        if let Some(old) = class.replace(new)
            && let Some(members) = self.by_class.get_mut(&old)
        {
            members.remove(id);
        }
        self.by_class.entry(new).or_default().insert(id);
    }

    /// Takes task `id` out.
    fn remove(&mut self, id: &str) {
        if let Some(Some(class)) = self.members.remove(id)
            && let Some(members) = self.by_class.get_mut(&class)
        {
            members.remove(id);
        }
    }

    /// The alive tasks whose class `filter` admits.
    fn admitted<'s>(&'s self, filter: &'s Filter) -> impl Iterator<Item = &'k str> + 's {
        self.by_class
            .iter()
            .filter(|((status, assignee), _)| filter.admits(status, *assignee))
            .flat_map(|(_, members)| members.iter().copied())
    }
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

#[cfg(test)]
mod tests {
    use super::super::feed;
    use super::super::synthetic::{Shape, generate};
    use super::*;

    /// The rule as it reads, without an index: each complete list against every task
    /// known before it started whose deletion had not been sent by then.
    fn left_out_by_scan(
        lists: &[(&Operation, &Filter, &[Seen])],
        knowledge: &Knowledge,
    ) -> Vec<Violation> {
        let mut violations = Vec::new();
        for &(read, filter, tasks) in lists {
            let listed: HashSet<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
            for (id, born, doomed) in knowledge.lifetimes() {
                let alive = born < read.start_us && doomed.is_none_or(|sent| sent >= read.start_us);
                let Some(timeline) = knowledge.get(id).filter(|_| alive) else {
                    continue;
                };
                if !listed.contains(id) {
                    violations.extend(absent(read, id, timeline, |state| {
                        timeline.settled_for(read) && filter.matches(state)
                    }));
                }
            }
        }
        violations
    }

    fn found(violations: Vec<Violation>) -> Vec<(Kind, String, u64, usize)> {
        let mut found: Vec<_> = violations
            .into_iter()
            .map(|v| {
                let read = v.read.expect("a read");
                (v.kind, v.task, read.start_us, read.client)
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_indexed_sweep_finds_what_a_scan_of_every_task_finds() {
        // Many live tasks and narrow filters, so that most live tasks are off each list.
        let made = generate(Shape {
            operations: 12_000,
            live: 300,
            lie_every: 20,
            fail_every: 30,
            seed: 7,
        });
        let (_, learned) = feed::check(&made.history, &made.following);
        let knowledge = Knowledge::build(&made.history, &learned);
        let lists: Vec<(&Operation, &Filter, &[Seen])> = made
            .history
            .iter()
            .filter_map(|op| match (&op.request, &op.outcome) {
                (
                    Request::List { filter, .. },
                    Outcome::Listed {
                        tasks,
                        complete: true,
                        ..
                    },
                ) => Some((op, filter, tasks.as_slice())),
                _ => None,
            })
            .collect();
        let expected = found(left_out_by_scan(&lists, &knowledge));
        assert!(expected.len() > 20, "only {} left out", expected.len());
        assert_eq!(found(left_out(lists, &knowledge)), expected);
    }
}
