//! The seam between Tasklane's freshness design and the test-only baselines it is
//! measured against: which key an entry is filed under, which workspace's generation a
//! write advances, whether writes are announced, and what a write does to the entries.
//!
//! The read and write paths ask the design chosen at construction; the baselines exist
//! only in `baselines` builds, and only here (and in the configuration that selects them).

use std::sync::LazyLock;

use super::Entries;
use super::generation::Generation;
use super::key::CacheKey;
use crate::domain::Workspace;

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
}

impl Design {
    /// What this design answers at each step of the protocol.
    fn rules(self) -> &'static Rules {
        match self {
            Design::Generational => &Rules {
                keyed_by_generation: true,
                one_generation: false,
                announces: true,
                clears_on_write: false,
            },
            #[cfg(feature = "baselines")]
            Design::DeleteOnWrite => &Rules {
                keyed_by_generation: false,
                one_generation: false,
                announces: false,
                clears_on_write: true,
            },
            #[cfg(feature = "baselines")]
            Design::GlobalGeneration => &Rules {
                keyed_by_generation: true,
                one_generation: true,
                announces: true,
                clears_on_write: false,
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

    /// Whether writes are announced and fills checked (see "Monotonic reads" in the
    /// cache's documentation).
    pub(super) fn announces(self) -> bool {
        self.rules().announces
    }

    /// What a write that changed something does to the entries after its advance.
    pub(super) fn after_write(self, entries: &Entries) {
        if self.rules().clears_on_write {
            entries.invalidate_all();
        }
    }
}

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
}
