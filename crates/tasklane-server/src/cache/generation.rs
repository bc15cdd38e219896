//! Workspace generations: a counter per workspace that every acknowledged write advances.

use std::fmt;

use dashmap::DashMap;
use uuid::Uuid;

use crate::domain::Workspace;

/// A workspace's generation: how many writes it has seen, within an epoch.
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
}

impl Generation {
    /// The generation `counter` of `epoch`.
    pub fn new(epoch: u64, counter: u64) -> Self {
        Generation { epoch, counter }
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
}

impl fmt::Display for Generation {
    /// `{epoch}.{counter}`, as in cache keys and ETags (and as the Redis lookup script
    /// joins them: a test in `tests/freshness/monotonic.rs` fails if the two differ).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", Generation::epoch_text(self.epoch), self.counter)
    }
}

/// Generations held in this process (`--consistency local`): correct while one process
/// serves the database, because the cache they guard lives and dies with them.
///
/// Reads and advances go through the map's shard locks, so an advance that returned
/// before a read began is seen by that read.
#[derive(Debug)]
pub struct InProcessGenerations {
    epoch: u64,
    counters: DashMap<Workspace, u64>,
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
    /// The workspace's generation now.
    pub fn current(&self, workspace: &Workspace) -> Generation {
        let counter = self.counters.get(workspace).map_or(0, |counter| *counter);
        Generation::new(self.epoch, counter)
    }

    /// Moves the workspace to its next generation.
    pub fn advance(&self, workspace: &Workspace) {
        *self.counters.entry(workspace.clone()).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_advance_independently_and_epochs_differ() {
        let generations = InProcessGenerations::default();
        let (a, b) = (Workspace::default(), Workspace::named("other"));
        let before = generations.current(&a);
        generations.advance(&a);
        assert_ne!(generations.current(&a), before);
        assert_eq!(generations.current(&b).counter, 0);
        assert_ne!(
            InProcessGenerations::default().current(&a),
            before,
            "a new epoch"
        );
    }
}
