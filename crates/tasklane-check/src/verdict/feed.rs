//! The checks of the change feed, against the writes of the history:
//!
//! - each subscriber received the changes after its start position once each, in `seq`
//!   order, with no gap, each event's `id` its change's `seq`, and the same change for
//!   a `seq` as every other subscriber;
//! - once the run was over, each caught up with the log's head;
//! - every change of the scenario's tasks traces back to a write that was acknowledged
//!   or indeterminate (never to one that was refused, or never sent), by task and
//!   version; within a task, versions follow each other (a create is version 1, an
//!   update the next version, a delete the version deleted);
//! - every acknowledged write reached every subscriber, with the state its answer
//!   showed.
//!
//! The changes traced to writes are what the read checks then learn from
//! ([`Learned`]): the first receipt of each is when its state became known.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::knowledge::Learned;
use super::{Evidence, Kind, Violation};
use crate::client::author;
use crate::history::{ChangeKind, Operation, Outcome, Received, Request, Seen};
use crate::subscriber::Following;

/// The feed's violations, and the changes traced to writes.
pub(super) fn check<'a>(
    history: &'a [Operation],
    following: &'a Following,
) -> (Vec<Violation>, Vec<Learned<'a>>) {
    let mut violations = Vec::new();
    if following.followed.is_empty() {
        return (violations, Vec::new());
    }
    let received: Vec<HashSet<u64>> = following
        .followed
        .iter()
        .map(|followed| {
            violations.extend(in_order(&followed.received, following.since));
            followed.received.iter().map(|r| r.change.seq).collect()
        })
        .collect();
    let first = first_receipts(following, &mut violations);
    if let Some(head) = following.head {
        for (n, followed) in following.followed.iter().enumerate() {
            let last = followed.received.iter().map(|r| r.change.seq).max();
            let last = last.unwrap_or(following.since);
            if last < head {
                violations.push(Violation {
                    kind: Kind::Behind,
                    task: first
                        .get(&(last + 1))
                        .map_or_else(|| "?".to_owned(), |r| r.change.task_id.clone()),
                    detail: format!(
                        "subscriber {n} had received the log up to seq {last} when it was \
                         stopped; the log's head after the run was {head}"
                    ),
                    read: None,
                    evidence: Vec::new(),
                });
            }
        }
    }
    let mut writes = Writes::index(history);
    let mut learned = Vec::new();
    let mut ours: HashSet<&str> = history.iter().filter_map(Operation::task).collect();
    let mut versions: HashMap<&str, i64> = HashMap::new();
    for received in first.values() {
        let change = &received.change;
        let id = change.task_id.as_str();
        let marked = change
            .task
            .as_ref()
            .is_some_and(|task| task["description"] == following.marker.as_str());
        if marked {
            ours.insert(id);
        }
        if !ours.contains(id) {
            continue; // another scenario's task, or someone else's
        }
        let previous = versions.insert(id, change.version);
        let expected = match (change.kind, previous) {
            (ChangeKind::Created, None) => Some(1),
            (ChangeKind::Updated, Some(version)) => Some(version + 1),
            (ChangeKind::Deleted, Some(version)) => Some(version),
            _ => None,
        };
        if expected != Some(change.version) {
            violations.push(mismatch(
                received,
                format!(
                    "{} at version {}, after {}",
                    change.kind.as_str(),
                    change.version,
                    previous.map_or("no earlier change of the task".to_owned(), |v| {
                        format!("its change to version {v}")
                    })
                ),
                Vec::new(),
            ));
        }
        let Some(write) = writes.trace(received) else {
            violations.push(Violation {
                kind: Kind::Phantom,
                task: id.to_owned(),
                detail: format!(
                    "seq {} ({} to version {}) traces to no write that was acknowledged or may \
                     have been applied",
                    change.seq,
                    change.kind.as_str(),
                    change.version
                ),
                read: None,
                evidence: vec![Evidence::Event((*received).clone())],
            });
            continue;
        };
        let op = &history[write];
        if let Outcome::Written { body, .. } = &op.outcome
            && change.task.as_ref() != Some(body)
        {
            violations.push(mismatch(
                received,
                "its task is not the task the write's answer showed".to_owned(),
                vec![Evidence::Operation(op.clone())],
            ));
        }
        learned.push(Learned {
            receipt: received,
            write: Some(write),
        });
    }
    for (i, op) in history.iter().enumerate() {
        if !(op.request.is_write() && op.acknowledged()) {
            continue;
        }
        let task = op.task().unwrap_or("?").to_owned();
        let undelivered = |detail: String| Violation {
            kind: Kind::Undelivered,
            task: task.clone(),
            detail,
            read: None,
            evidence: vec![Evidence::Operation(op.clone())],
        };
        match writes.delivered.get(&i) {
            None => violations.push(undelivered("no subscriber received its change".to_owned())),
            Some(seq) => {
                for (n, received) in received.iter().enumerate() {
                    if !received.contains(seq) {
                        violations.push(undelivered(format!(
                            "subscriber {n} never received its change (seq {seq})"
                        )));
                    }
                }
            }
        }
    }
    (violations, learned)
}

/// One subscriber's changes, in the order received: each the next `seq`, each event's
/// `id` its `seq`.
fn in_order(received: &[Received], since: u64) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut last = since;
    let mut seen = HashSet::new();
    for event in received {
        let seq = event.change.seq;
        if event.id != seq.to_string() {
            violations.push(mismatch(
                event,
                format!("its event id is {:?}, not its seq {seq}", event.id),
                Vec::new(),
            ));
        }
        let wrong = if !seen.insert(seq) {
            Some((Kind::Repeated, format!("seq {seq} received again")))
        } else if seq <= last {
            Some((
                Kind::Repeated,
                format!("seq {seq} received after seq {last}"),
            ))
        } else if seq > last + 1 {
            let skipped = if seq == last + 2 {
                format!("seq {}", last + 1)
            } else {
                format!("seqs {} to {}", last + 1, seq - 1)
            };
            Some((
                Kind::Skipped,
                format!("{skipped} skipped: seq {seq} came after seq {last}"),
            ))
        } else {
            None
        };
        if let Some((kind, detail)) = wrong {
            violations.push(Violation {
                kind,
                task: event.change.task_id.clone(),
                detail: format!("subscriber {}: {detail}", event.subscriber),
                read: None,
                evidence: vec![Evidence::Event(event.clone())],
            });
        }
        last = last.max(seq);
    }
    violations
}

/// The first receipt of each `seq` by any subscriber; every other copy must be the same
/// change.
fn first_receipts<'a>(
    following: &'a Following,
    violations: &mut Vec<Violation>,
) -> BTreeMap<u64, &'a Received> {
    let mut first: BTreeMap<u64, &Received> = BTreeMap::new();
    let mut all: Vec<&Received> = following
        .followed
        .iter()
        .flat_map(|followed| &followed.received)
        .collect();
    all.sort_by_key(|received| received.received_us);
    for received in all {
        match first.get(&received.change.seq) {
            None => {
                first.insert(received.change.seq, received);
            }
            Some(earlier) if earlier.change != received.change => {
                violations.push(mismatch(
                    received,
                    format!(
                        "subscribers {} and {} received different changes as seq {}",
                        earlier.subscriber, received.subscriber, received.change.seq
                    ),
                    vec![Evidence::Event((*earlier).clone())],
                ));
            }
            Some(_) => {}
        }
    }
    first
}

fn mismatch(received: &Received, detail: String, mut evidence: Vec<Evidence>) -> Violation {
    evidence.insert(0, Evidence::Event(received.clone()));
    Violation {
        kind: Kind::Mismatch,
        task: received.change.task_id.clone(),
        detail: format!("seq {}: {detail}", received.change.seq),
        read: None,
        evidence,
    }
}

/// The writes a change may trace to, each traced to at most one change.
struct Writes<'a> {
    history: &'a [Operation],
    /// Acknowledged creates and updates, by the task and version their answers showed
    /// (an update that changed nothing shows the version it found, and makes no change
    /// of its own).
    acknowledged: HashMap<(&'a str, i64), Vec<usize>>,
    /// Creates that may have been applied, unanswered, by their client, status and
    /// assignee (a create names no task until it is answered).
    creates: HashMap<(usize, String, Option<String>), Vec<usize>>,
    /// Updates that may have been applied, unanswered, by task.
    updates: HashMap<&'a str, Vec<usize>>,
    /// Deletes that were acknowledged or may have been applied, by task.
    deletes: HashMap<&'a str, Vec<usize>>,
    /// The `seq` of the change each write was traced to.
    delivered: HashMap<usize, u64>,
}

impl<'a> Writes<'a> {
    fn index(history: &'a [Operation]) -> Self {
        let mut writes = Writes {
            history,
            acknowledged: HashMap::new(),
            creates: HashMap::new(),
            updates: HashMap::new(),
            deletes: HashMap::new(),
            delivered: HashMap::new(),
        };
        for (i, op) in history.iter().enumerate() {
            match (&op.request, &op.outcome) {
                (_, Outcome::Written { task, .. }) => {
                    let key = (task.id.as_str(), task.version);
                    writes.acknowledged.entry(key).or_default().push(i);
                }
                (Request::Delete { id }, _) if op.acknowledged() || op.indeterminate() => {
                    writes.deletes.entry(id).or_default().push(i);
                }
                (Request::Create { status, assignee }, _) if op.indeterminate() => {
                    let key = (op.client, status.clone(), assignee.clone());
                    writes.creates.entry(key).or_default().push(i);
                }
                (Request::Update { id, .. }, _) if op.indeterminate() => {
                    writes.updates.entry(id).or_default().push(i);
                }
                _ => {}
            }
        }
        writes
    }

    /// The write that made `received`'s change, taken so that no other change traces
    /// to it; every acknowledged write the change delivers (that one, and updates that
    /// changed nothing after it) is noted as delivered.
    fn trace(&mut self, received: &Received) -> Option<usize> {
        let write = self.find(received)?;
        let change = &received.change;
        let twins = match change.kind {
            ChangeKind::Deleted => None,
            _ => self
                .acknowledged
                .get(&(change.task_id.as_str(), change.version)),
        };
        for &i in twins.into_iter().flatten().chain([&write]) {
            self.delivered.insert(i, change.seq);
        }
        Some(write)
    }

    fn find(&mut self, received: &Received) -> Option<usize> {
        let change = &received.change;
        let id = change.task_id.as_str();
        if change.kind == ChangeKind::Deleted {
            let deletes = self.deletes.get_mut(id)?;
            let acknowledged = deletes.iter().position(|&i| self.history[i].acknowledged());
            let index = acknowledged.unwrap_or(0);
            return (index < deletes.len()).then(|| deletes.remove(index));
        }
        let wanted = |request: &Request| {
            matches!(
                (change.kind, request),
                (ChangeKind::Created, Request::Create { .. })
                    | (ChangeKind::Updated, Request::Update { .. })
            )
        };
        let acknowledged = self.acknowledged.get(&(id, change.version));
        if let Some(&i) = acknowledged
            .into_iter()
            .flatten()
            .find(|&&i| wanted(&self.history[i].request) && !self.delivered.contains_key(&i))
        {
            return Some(i);
        }
        let state: Seen = change.seen()?;
        let asked = |request: &Request| match request {
            Request::Create { status, assignee }
            | Request::Update {
                status, assignee, ..
            } => *status == state.status && *assignee == state.assignee,
            _ => false,
        };
        let candidates = match change.kind {
            ChangeKind::Created => {
                let title = change.task.as_ref()?["title"].as_str()?;
                let key = (author(title)?, state.status.clone(), state.assignee.clone());
                self.creates.get_mut(&key)?
            }
            _ => self.updates.get_mut(id)?,
        };
        let index = candidates
            .iter()
            .position(|&i| asked(&self.history[i].request))?;
        Some(candidates.remove(index))
    }
}
