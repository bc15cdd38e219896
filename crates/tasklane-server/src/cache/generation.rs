//! Workspace generations: a counter per workspace that every acknowledged write advances,
//! partitioned by status (see "Partitions by status" in the cache's documentation).

use std::fmt;

use dashmap::DashMap;
use uuid::Uuid;

use crate::domain::{ListQuery, Status, StatusSet, Workspace};
use crate::store::GenerationCounters;

/// What a cached read depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Every write of its workspace: a single task, a list of every status.
    Workspace,
    /// Only the writes whose task left or entered one of these statuses: a list whose
    /// filter names them (and not every status).
    Statuses(StatusSet),
}

impl Scope {
    /// What a list read with `query` depends on.
    pub(super) fn of(query: &ListQuery) -> Self {
        let statuses = StatusSet::of(query.filter.statuses.iter().copied());
        if statuses == StatusSet::NONE || statuses == StatusSet::ALL {
            Scope::Workspace
        } else {
            Scope::Statuses(statuses)
        }
    }
}

/// A workspace's generation as one read took it: how many writes the workspace has seen,
/// within an epoch, and, for a read restricted to some statuses, those statuses'
/// partitions.
///
/// The epoch keeps a counter that can start again from 0 (in-process counters after a
/// restart, Redis after a flush) from ever producing a key or an ETag that an earlier run
/// produced for different data: the incident's `cacheVersion = 0` (docs/incident.md) after
/// a restart would make every old ETag current again. Counters kept in a database row
/// use the database's own epoch, which a copy made to be restored does not share
/// (`tasklane backup`): a restore sets the rows back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    epoch: u64,
    counter: u64,
    /// A status-restricted read's partitions, by position in [`Status::ALL`]; `None` for
    /// a status outside it.
    partitions: Option<[Option<u64>; 4]>,
}

impl Generation {
    /// The generation `counter` of `epoch`, for a read of the whole workspace.
    pub fn new(epoch: u64, counter: u64) -> Self {
        Generation {
            epoch,
            counter,
            partitions: None,
        }
    }

    /// The generation a read with `scope` takes from a workspace's `counters`.
    pub(super) fn taken(epoch: u64, counters: GenerationCounters, scope: Scope) -> Self {
        let partitions = match scope {
            Scope::Workspace => None,
            Scope::Statuses(statuses) => Some(Status::ALL.map(|status| {
                statuses
                    .contains(status)
                    .then(|| counters.by_status[status as usize])
            })),
        };
        Generation {
            epoch,
            counter: counters.counter,
            partitions,
        }
    }

    /// The epoch this generation's counter counts in.
    pub fn epoch(self) -> u64 {
        self.epoch
    }

    /// An epoch as keys and Redis write it: 16 hexadecimal digits.
    pub(super) fn epoch_text(epoch: u64) -> String {
        format!("{epoch:016x}")
    }

    /// How many writes the workspace has seen in this epoch.
    pub fn counter(self) -> u64 {
        self.counter
    }

    /// The letter a status's partition is written with, in keys and in Redis.
    pub(super) fn partition_letter(status: Status) -> char {
        match status {
            Status::Todo => 't',
            Status::InProgress => 'i',
            Status::Blocked => 'b',
            Status::Done => 'd',
        }
    }

    /// The letters of a scope's partitions (none for the whole workspace), as the Redis
    /// scripts take them.
    pub(super) fn partition_letters(statuses: StatusSet) -> String {
        statuses.iter().map(Generation::partition_letter).collect()
    }
}

impl fmt::Display for Generation {
    /// `{epoch}.{counter}` for a read of the whole workspace; `{epoch}.t{n}.d{m}` (a letter
    /// and a counter for each partition) for a read restricted to statuses. Keys and
    /// ETags embed it, and the Redis lookup script joins it the same way: a test in
    /// `tests/freshness/monotonic.rs` fails if the two differ.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Generation::epoch_text(self.epoch))?;
        let Some(partitions) = self.partitions else {
            return write!(f, ".{}", self.counter);
        };
        for (status, partition) in Status::ALL.into_iter().zip(partitions) {
            if let Some(counter) = partition {
                write!(f, ".{}{counter}", Generation::partition_letter(status))?;
            }
        }
        Ok(())
    }
}

/// Generations held in this process (`--consistency local`): correct while one process
/// serves the database, because the cache they guard lives and dies with them.
///
/// Reads and advances go through the map's shard locks, so an advance that returned
/// before a read began is seen by that read, with every partition it moved.
#[derive(Debug)]
pub struct InProcessGenerations {
    epoch: u64,
    counters: DashMap<Workspace, GenerationCounters>,
}

impl Default for InProcessGenerations {
    fn default() -> Self {
        InProcessGenerations {
            epoch: Uuid::new_v4().as_u64_pair().0,
            counters: DashMap::new(),
        }
    }
}

impl InProcessGenerations {
    /// The workspace's generation now, as a read with `scope` takes it.
    pub(super) fn current(&self, workspace: &Workspace, scope: Scope) -> Generation {
        let counters = self
            .counters
            .get(workspace)
            .map_or_else(GenerationCounters::default, |counters| *counters);
        Generation::taken(self.epoch, counters, scope)
    }

    /// Whether no write has advanced the workspace since `generation` was taken.
    pub(super) fn unchanged_since(&self, workspace: &Workspace, generation: Generation) -> bool {
        self.current(workspace, Scope::Workspace)
            == Generation::new(generation.epoch, generation.counter)
    }

    /// Moves the workspace to its next generation, and the partitions of `touched`.
    pub fn advance(&self, workspace: &Workspace, touched: StatusSet) {
        let mut counters = self.counters.entry(workspace.clone()).or_default();
        counters.counter += 1;
        for status in touched.iter() {
            counters.by_status[status as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_advance_independently_and_epochs_differ() {
        let generations = InProcessGenerations::default();
        let (a, b) = (Workspace::default(), Workspace::named("other"));
        let before = generations.current(&a, Scope::Workspace);
        generations.advance(&a, StatusSet::NONE);
        assert_ne!(generations.current(&a, Scope::Workspace), before);
        assert_eq!(generations.current(&b, Scope::Workspace).counter, 0);
        assert_ne!(
            InProcessGenerations::default().current(&a, Scope::Workspace),
            before,
            "a new epoch"
        );
    }

    #[test]
    fn a_write_moves_only_the_partitions_it_touched() {
        let generations = InProcessGenerations::default();
        let workspace = Workspace::default();
        let todo = Scope::Statuses(StatusSet::NONE.with(Status::Todo));
        let open = Scope::Statuses(StatusSet::of([Status::Todo, Status::Blocked]));
        let done = Scope::Statuses(StatusSet::NONE.with(Status::Done));
        // What keys and ETags embed.
        let taken = |scope| generations.current(&workspace, scope).to_string();
        let before = [Scope::Workspace, todo, open, done].map(taken);
        generations.advance(&workspace, StatusSet::of([Status::Blocked, Status::Done]));
        let after = [Scope::Workspace, todo, open, done].map(taken);
        assert_ne!(after[0], before[0], "the workspace moved");
        assert_eq!(after[1], before[1], "todo was not touched");
        assert_ne!(after[2], before[2], "blocked was");
        assert_ne!(after[3], before[3], "done was");
        assert_eq!(after[1], format!("{:016x}.t0", generations.epoch));
        assert_eq!(after[2], format!("{:016x}.t0.b1", generations.epoch));
        assert_eq!(after[0], format!("{:016x}.1", generations.epoch));
        let now = generations.current(&workspace, done);
        assert!(generations.unchanged_since(&workspace, now));
        generations.advance(&workspace, StatusSet::NONE);
        assert!(
            !generations.unchanged_since(&workspace, now),
            "a fill checks the whole workspace, whatever partitions its read took"
        );
    }
}
