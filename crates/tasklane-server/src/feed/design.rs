//! The seam between the feed's "advance before announce" and the test-only baseline
//! that leaves it out, so that the tests and `tasklane check` can show what the step
//! buys: a client that received an event, then read a list served from a cache entry
//! filled before the change committed.
//!
//! The baseline exists only in `baselines` builds, and only here (and in the
//! configuration that selects it).

/// When the feed hands out changes it read from the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedDesign {
    /// Tasklane's design: advance the workspace's generation first, then hand the
    /// changes out (see "Advance before announce" in the feed's documentation).
    #[default]
    AdvanceFirst,
    /// Test-only baseline: hand the changes out as soon as they are read, without the
    /// advance. Fresh as long as Redis keeps every write's announcement; a Redis that
    /// loses one (a failover to a replica that had not received it, a restart from an
    /// older snapshot) lets a read that starts after the event be served an entry
    /// filled before the change.
    #[cfg(feature = "baselines")]
    AnnounceFirst,
}

impl FeedDesign {
    /// Whether changes wait for an advance of their workspace's generation.
    pub(super) fn advances(self) -> bool {
        match self {
            FeedDesign::AdvanceFirst => true,
            #[cfg(feature = "baselines")]
            FeedDesign::AnnounceFirst => false,
        }
    }
}
