//! The cache's metrics: what each read found (and why one bypassed the cache), fills,
//! evictions, and the generation advances every freshness argument rests on.

use metrics::{Counter, Gauge};

use crate::telemetry::Registry;

/// Why a read went to the database without the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bypass {
    /// Caching is off (`--cache-mib 0`).
    Disabled,
    /// A write is announced in the workspace (see "Monotonic reads").
    WriteInFlight,
    /// Redis did not answer, or failed less than a back-off ago.
    RedisDown,
    /// This instance owes the workspace an advance Redis has not confirmed.
    Unconfirmed,
}

impl Bypass {
    const ALL: [Bypass; 4] = [
        Bypass::Disabled,
        Bypass::WriteInFlight,
        Bypass::RedisDown,
        Bypass::Unconfirmed,
    ];

    /// As the `reason` label and the logs spell it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Bypass::Disabled => "disabled",
            Bypass::WriteInFlight => "write_in_flight",
            Bypass::RedisDown => "redis_down",
            Bypass::Unconfirmed => "unconfirmed",
        }
    }
}

/// How a read that used the cache was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// An entry was served.
    Hit,
    /// The client's ETag was current: `304`, from the generation alone.
    NotModified,
    /// No entry: this read queried the database.
    Miss,
    /// No entry, but an identical read was querying already: this one waited for it.
    Coalesced,
}

impl Lookup {
    const ALL: [Lookup; 4] = [
        Lookup::Hit,
        Lookup::NotModified,
        Lookup::Miss,
        Lookup::Coalesced,
    ];

    /// As the `result` label and the logs spell it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::NotModified => "not_modified",
            Lookup::Miss => "miss",
            Lookup::Coalesced => "coalesced",
        }
    }
}

/// The cache's handles.
pub(super) struct CacheMetrics {
    /// Reads served (lists and single tasks, `304`s included): the name `/metrics` has
    /// always had.
    pub(super) reads: Counter,
    /// Reads that queried the database: misses and bypasses.
    pub(super) loads: Counter,
    lookups: [Counter; 4],
    bypasses: [Counter; 4],
    /// Reads whose generation lookup another read sent, after they arrived (`batch.rs`).
    pub(super) shared_lookups: Counter,
    /// Fills stored, and fills refused by their check (the workspace moved meanwhile).
    pub(super) fills_stored: Counter,
    pub(super) fills_refused: Counter,
    /// Entries this process dropped for room, and at their TTL.
    pub(super) evicted_for_size: Counter,
    pub(super) expired: Counter,
    /// Generation advances confirmed, and those that could not be (the write's `503`).
    pub(super) advances: Counter,
    pub(super) advance_failures: Counter,
    /// Owed advances made once Redis answered again.
    pub(super) repairs: Counter,
    /// Workspaces owed an advance.
    pub(super) owed: Gauge,
    /// Entries held by this process, and their weight in bytes.
    pub(super) entries: Gauge,
    pub(super) bytes: Gauge,
}

impl CacheMetrics {
    /// Registers the cache's metrics in `registry`.
    pub(super) fn register(registry: &Registry) -> Self {
        let none: &[(&str, &str)] = &[];
        CacheMetrics {
            reads: registry.counter(
                "tasklane_reads_total",
                "Task and list reads served (304s included)",
                none,
            ),
            loads: registry.counter(
                "tasklane_read_loads_total",
                "Reads that queried the database (cache misses and bypasses)",
                none,
            ),
            lookups: Lookup::ALL.map(|lookup| {
                registry.counter(
                    "tasklane_cache_lookups_total",
                    "Reads that used the cache, by what they found",
                    &[("result", lookup.as_str())],
                )
            }),
            bypasses: Bypass::ALL.map(|bypass| {
                registry.counter(
                    "tasklane_cache_bypasses_total",
                    "Reads that went to the database without the cache, by reason",
                    &[("reason", bypass.as_str())],
                )
            }),
            shared_lookups: registry.counter(
                "tasklane_cache_shared_lookups_total",
                "Reads whose generation lookup (strict or Redis generations) was sent for a batch of reads that arrived together, by another read of the batch",
                none,
            ),
            fills_stored: registry.counter(
                "tasklane_cache_fills_total",
                "Database results offered to the cache, by whether their check let them in",
                &[("result", "stored")],
            ),
            fills_refused: registry.counter(
                "tasklane_cache_fills_total",
                "Database results offered to the cache, by whether their check let them in",
                &[("result", "refused")],
            ),
            evicted_for_size: registry.counter(
                "tasklane_cache_evictions_total",
                "Entries this process dropped, for room or at their TTL",
                &[("cause", "size")],
            ),
            expired: registry.counter(
                "tasklane_cache_evictions_total",
                "Entries this process dropped, for room or at their TTL",
                &[("cause", "expired")],
            ),
            advances: registry.counter(
                "tasklane_generation_advances_total",
                "Workspace generation advances confirmed (after writes, and by the change feed)",
                none,
            ),
            advance_failures: registry.counter(
                "tasklane_generation_advance_failures_total",
                "Generation advances Redis did not confirm: each is a write answered 503 or a change held back",
                none,
            ),
            repairs: registry.counter(
                "tasklane_generation_repair_advances_total",
                "Owed advances made once Redis answered again",
                none,
            ),
            owed: registry.gauge(
                "tasklane_generation_owed_workspaces",
                "Workspaces this instance owes an advance: their reads bypass the cache meanwhile",
                none,
            ),
            entries: registry.gauge(
                "tasklane_cache_entries",
                "Entries held by this process (every generation's, until evicted; approximate: the cache applies inserts in batches)",
                none,
            ),
            bytes: registry.gauge(
                "tasklane_cache_bytes",
                "Approximate size of the entries held by this process",
                none,
            ),
        }
    }

    /// A read that used the cache found `lookup`.
    pub(super) fn looked_up(&self, lookup: Lookup) {
        self.lookups[lookup as usize].increment(1);
        tracing::debug!(cache = lookup.as_str(), "cache lookup");
    }

    /// A read bypassed the cache, for `why`.
    pub(super) fn bypassed(&self, why: Bypass) {
        self.bypasses[why as usize].increment(1);
        tracing::debug!(
            cache = "bypass",
            reason = why.as_str(),
            "read from the database without the cache"
        );
    }
}
