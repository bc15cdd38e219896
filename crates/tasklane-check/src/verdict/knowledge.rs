//! What the checks know of each task, and from when, indexed so that each read is judged
//! with a few binary searches rather than a scan of the history.
//!
//! A state becomes known when an acknowledged write's answer arrives (its end), or when
//! the first subscriber receives the change that carries it: an event proves its write
//! committed, so from its receipt on it is knowledge like an acknowledgement, and a
//! write that failed but whose change was received is no longer indeterminate.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::Evidence;
use crate::history::{ChangeKind, Operation, Outcome, Received, Request, Seen};

/// How a state or a deletion became known.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'a> {
    /// An acknowledged write's answer.
    Write(&'a Operation),
    /// A subscriber's receipt of the change.
    Event(&'a Received),
}

impl Source<'_> {
    /// The evidence a violation shows.
    pub(super) fn evidence(self) -> Evidence {
        match self {
            Source::Write(op) => Evidence::Operation(op.clone()),
            Source::Event(received) => Evidence::Event(received.clone()),
        }
    }

    /// Of two sources of the same state, the acknowledgement is the one reported.
    fn rank(self) -> u8 {
        match self {
            Source::Write(_) => 1,
            Source::Event(_) => 0,
        }
    }
}

/// A state of a task, and when and how it became known.
#[derive(Debug, Clone)]
pub(super) struct Known<'a> {
    /// Microseconds since the scenario began.
    pub(super) at: u64,
    /// The state.
    pub(super) state: Seen,
    /// How.
    pub(super) source: Source<'a>,
}

/// A change a subscriber received, with the write it was traced to, if any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Learned<'a> {
    /// The first receipt of the change by any subscriber.
    pub(super) receipt: &'a Received,
    /// The index in the history of the write that made it.
    pub(super) write: Option<usize>,
}

/// Everything known of one task.
#[derive(Debug, Default)]
pub(super) struct Timeline<'a> {
    /// Its states, in the order they became known.
    known: Vec<Known<'a>>,
    /// For each prefix of `known`, the index of its newest state.
    newest: Vec<usize>,
    /// When its deletion first became known, and how.
    deleted: Option<(u64, Source<'a>)>,
    /// When the first deletion of it was sent.
    deletion_sent: Option<u64>,
    /// Each write to it: when it was sent and when its outcome became known
    /// (`u64::MAX`: never), in the order they were sent.
    writes: Vec<(u64, u64)>,
    /// For each prefix of `writes`, the latest of those outcomes.
    settled: Vec<u64>,
}

impl<'a> Timeline<'a> {
    /// The newest state known before `instant`.
    pub(super) fn state_before(&self, instant: u64) -> Option<&Known<'a>> {
        let count = self.known.partition_point(|known| known.at < instant);
        count
            .checked_sub(1)
            .map(|last| &self.known[self.newest[last]])
    }

    /// How its deletion was known before `instant`, if it was.
    pub(super) fn deletion_before(&self, instant: u64) -> Option<Source<'a>> {
        self.deleted
            .filter(|(at, _)| *at < instant)
            .map(|(_, source)| source)
    }

    /// Whether a deletion of it was sent before `instant`.
    pub(super) fn deletion_sent_before(&self, instant: u64) -> bool {
        self.deletion_sent.is_some_and(|sent| sent < instant)
    }

    /// Whether the outcome of every write to it sent before `read` ended was known
    /// before `read` started, so that its state during the read is known.
    pub(super) fn settled_for(&self, read: &Operation) -> bool {
        let count = self.writes.partition_point(|(sent, _)| *sent < read.end_us);
        count == 0 || self.settled[count - 1] < read.start_us
    }

    /// Notes that its deletion became known at `at`; the earliest is kept.
    fn learn_deletion(&mut self, at: u64, source: Source<'a>) {
        let key = |at: u64, source: Source| (at, Reverse(source.rank()));
        if self
            .deleted
            .is_none_or(|(known, known_source)| key(at, source) < key(known, known_source))
        {
            self.deleted = Some((at, source));
        }
    }

    /// Sorts what was gathered and computes the prefixes.
    fn index(&mut self) {
        self.known
            .sort_by_key(|known| (known.at, Reverse(known.source.rank())));
        let mut newest = 0;
        self.newest = (0..self.known.len())
            .map(|i| {
                let (candidate, best) = (&self.known[i], &self.known[newest]);
                let key = |k: &Known| (k.state.version, k.source.rank());
                if i == 0 || key(candidate) > key(best) {
                    newest = i;
                }
                newest
            })
            .collect();
        self.writes.sort_unstable();
        let mut latest = 0;
        self.settled = self
            .writes
            .iter()
            .map(|(_, settled)| {
                latest = latest.max(*settled);
                latest
            })
            .collect();
    }
}

/// Every task's timeline.
pub(super) struct Knowledge<'a> {
    tasks: HashMap<&'a str, Timeline<'a>>,
}

impl<'a> Knowledge<'a> {
    /// What `history` and the changes subscribers received (`learned`) tell.
    pub(super) fn build(history: &'a [Operation], learned: &[Learned<'a>]) -> Self {
        let mut tasks: HashMap<&'a str, Timeline<'a>> = HashMap::new();
        // When each write's outcome became known: its answer, unless it left the write
        // indeterminate, or the receipt of its change, whichever came first.
        let mut settled: Vec<u64> = history
            .iter()
            .map(|op| {
                if op.indeterminate() {
                    u64::MAX
                } else {
                    op.end_us
                }
            })
            .collect();
        // The task of each write; a create that failed is known only by its change.
        let mut task_of: Vec<Option<&'a str>> = history.iter().map(Operation::task).collect();
        for learned in learned {
            let received = learned.receipt;
            let change = &received.change;
            let timeline = tasks.entry(change.task_id.as_str()).or_default();
            let (at, source) = (received.received_us, Source::Event(received));
            match (change.kind, change.seen()) {
                (ChangeKind::Deleted, _) => timeline.learn_deletion(at, source),
                (_, Some(state)) => timeline.known.push(Known { at, state, source }),
                (_, None) => {}
            }
            if let Some(write) = learned.write {
                settled[write] = settled[write].min(at);
                task_of[write].get_or_insert(change.task_id.as_str());
            }
        }
        for (i, op) in history.iter().enumerate() {
            let Some(id) = task_of[i].filter(|_| op.request.is_write()) else {
                continue;
            };
            let timeline = tasks.entry(id).or_default();
            timeline.writes.push((op.start_us, settled[i]));
            match (&op.request, &op.outcome) {
                (_, Outcome::Written { task, .. }) => timeline.known.push(Known {
                    at: op.end_us,
                    state: task.clone(),
                    source: Source::Write(op),
                }),
                (Request::Delete { .. }, outcome) => {
                    if *outcome == Outcome::Deleted {
                        timeline.learn_deletion(op.end_us, Source::Write(op));
                    }
                    let first = timeline.deletion_sent.get_or_insert(op.start_us);
                    *first = (*first).min(op.start_us);
                }
                _ => {}
            }
        }
        for timeline in tasks.values_mut() {
            timeline.index();
        }
        Knowledge { tasks }
    }

    /// The timeline of task `id`, if anything is known of it.
    pub(super) fn get(&self, id: &str) -> Option<&Timeline<'a>> {
        self.tasks.get(id)
    }

    /// Every task with a known state: when its first state became known, and when its
    /// first deletion was sent, if one was.
    pub(super) fn lifetimes(&self) -> impl Iterator<Item = (&'a str, u64, Option<u64>)> + '_ {
        self.tasks.iter().filter_map(|(id, timeline)| {
            let born = timeline.known.first()?.at;
            Some((*id, born, timeline.deletion_sent))
        })
    }

    /// When each state of each task became known, and which task's it is.
    pub(super) fn changes(&self) -> impl Iterator<Item = (u64, &'a str)> + '_ {
        self.tasks
            .iter()
            .flat_map(|(id, timeline)| timeline.known.iter().map(|known| (known.at, *id)))
    }
}
