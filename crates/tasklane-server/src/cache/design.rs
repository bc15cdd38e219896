//! The seam between Tasklane's freshness design and the test-only baselines it is
//! measured against: which key an entry is filed under, which workspace's generation a
//! write advances and which of its partitions, whether writes are announced, and what a
//! write does to the entries.
//!
//! The read and write paths ask the design chosen at construction; the baselines exist
//! only in `baselines` builds, and only here (and in the configuration that selects them).

use std::sync::LazyLock;

use super::Entries;
use super::generation::{Generation, Scope};
use super::key::CacheKey;
use crate::domain::{Status, StatusSet, Workspace};

/// How the cache keeps itself fresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Design {
    /// Tasklane's design: the generation is part of every key.
    #[default]
    Generational,
    /// Test-only baseline: the plain cache-aside of the incident (docs/incident.md).
    /// Keys carry no generation and a write deletes every entry. Loses the race
    /// described in the cache's documentation.
    #[cfg(feature = "baselines")]
    DeleteOnWrite,
    /// Test-only baseline: the incident's single version for everything. Keys
    /// embed one generation that every write, in any workspace, advances, so a write in
    /// one workspace empties every workspace's cache. Fresh, but wasteful.
    #[cfg(feature = "baselines")]
    GlobalGeneration,
    /// Test-only baseline: partitions by status that forget the status a task leaves.
    /// A write advances only the partition of its task's status after it (none for a
    /// delete), so a list of the status a task left goes on showing it there. (Strict
    /// generations advance inside the store's transaction and are not affected.)
    #[cfg(feature = "baselines")]
    ForgetsOldStatus,
    /// Test-only baseline: one generation per workspace, not partitioned by status (the
    /// design before partitions), measured beside them by `scripts/bench`.
    #[cfg(feature = "baselines")]
    Unpartitioned,
    /// Test-only: Tasklane's design, except that a read finding a generation lookup of its
    /// key in flight takes that lookup's answer, though it may have been sent before a
    /// write acknowledged before the read began (strict and Redis generations; see
    /// `batch.rs`). Serves the list from before that write.
    #[cfg(feature = "baselines")]
    JoinInFlight,
}

impl Design {
    /// What this design answers at each step of the protocol.
    fn rules(self) -> &'static Rules {
        match self {
            Design::Generational => &TASKLANE,
            #[cfg(feature = "baselines")]
            Design::DeleteOnWrite => &Rules {
                keyed_by_generation: false,
                announces: false,
                clears_on_write: true,
                ..TASKLANE
            },
            #[cfg(feature = "baselines")]
            Design::GlobalGeneration => &Rules {
                one_generation: true,
                ..TASKLANE
            },
            #[cfg(feature = "baselines")]
            Design::ForgetsOldStatus => &Rules {
                forgets_old_status: true,
                ..TASKLANE
            },
            #[cfg(feature = "baselines")]
            Design::Unpartitioned => &Rules {
                partitioned: false,
                ..TASKLANE
            },
            #[cfg(feature = "baselines")]
            Design::JoinInFlight => &Rules {
                joins_lookups_in_flight: true,
                ..TASKLANE
            },
        }
    }

    /// The key an entry read at `generation` is filed under.
    pub(super) fn key_at<'a>(self, key: CacheKey<'a>, generation: Generation) -> CacheKey<'a> {
        if self.rules().keyed_by_generation {
            key.under(generation)
        } else {
            key
        }
    }

    /// The workspace whose generation counts writes to `workspace`.
    pub(super) fn counted(self, workspace: &Workspace) -> &Workspace {
        static EVERYTHING: LazyLock<Workspace> = LazyLock::new(|| Workspace::named("*"));
        if self.rules().one_generation {
            &EVERYTHING
        } else {
            workspace
        }
    }

    /// What a read that could be keyed by `scope` is keyed by.
    pub(super) fn scope(self, scope: Scope) -> Scope {
        if self.rules().partitioned {
            scope
        } else {
            Scope::Workspace
        }
    }

    /// The partitions a write advances, of those it `touched`; `left` is its task's
    /// status after it, if the task still exists.
    pub(super) fn partitions_advanced(self, touched: StatusSet, left: Option<Status>) -> StatusSet {
        if self.rules().forgets_old_status {
            StatusSet::of(left)
        } else {
            touched
        }
    }

    /// Whether writes are announced and fills checked (see "Monotonic reads" in the
    /// cache's documentation).
    pub(super) fn announces(self) -> bool {
        self.rules().announces
    }

    /// Whether a read takes the answer of a generation lookup already in flight, instead
    /// of waiting for one sent after it arrived (see `batch.rs`).
    pub(super) fn joins_lookups_in_flight(self) -> bool {
        self.rules().joins_lookups_in_flight
    }

    /// Whether the design is built for in-process generations only.
    #[cfg(feature = "baselines")]
    pub(super) fn local_only(self) -> bool {
        !matches!(self, Design::Generational | Design::JoinInFlight)
    }

    /// What a write that changed something does to the entries after its advance.
    pub(super) fn after_write(self, entries: &Entries) {
        if self.rules().clears_on_write {
            entries.invalidate_all();
        }
    }
}

/// Tasklane's answers, from which each baseline differs in one or two.
const TASKLANE: Rules = Rules {
    keyed_by_generation: true,
    one_generation: false,
    announces: true,
    clears_on_write: false,
    forgets_old_status: false,
    partitioned: true,
    joins_lookups_in_flight: false,
};

/// A design's answers.
struct Rules {
    /// Keys embed the generation the read took (else a write must delete entries).
    keyed_by_generation: bool,
    /// One generation counts the writes of every workspace.
    one_generation: bool,
    /// Writes are announced and fills checked against announcements and the generation.
    announces: bool,
    /// A write deletes every entry.
    clears_on_write: bool,
    /// A write advances only the partition of its task's new status.
    forgets_old_status: bool,
    /// Lists of some statuses are keyed by those statuses' partitions.
    partitioned: bool,
    /// A read takes the answer of a generation lookup in flight (strict and Redis
    /// generations).
    joins_lookups_in_flight: bool,
}
