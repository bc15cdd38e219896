//! The change feed: a workspace's change log, read by clients (`/v1/changes`, the event
//! stream) without ever announcing a change too early.
//!
//! # The contract
//!
//! Every committed change of a workspace reaches every subscriber exactly once, in `seq`
//! order, with the state the write produced; none is announced before a read that
//! starts after the announcement would reflect it.
//!
//! # Why the log holds every change, once, in order
//!
//! Each write appends its change in its own transaction, numbered by the value it
//! advances the workspace's generation row to (see the store's `log.rs`): no
//! acknowledged write without its change, no change without a committed write, no gap,
//! and commit order. Readers only ever ask the log for "the changes after `seq`", so
//! what they missed (a lost wake-up, a dropped connection, a restart) is read again,
//! and what they saw is never read twice.
//!
//! # Advance before announce
//!
//! A write advances its cache generation *after* its commit, and that advance can fail
//! (Redis away: the write answers `503`, the change stays committed). A reader of the
//! log may then see a change whose generation has not moved. For an ordinary reader the
//! write's announcement covers that window (see "Monotonic reads" in [`crate::cache`]):
//! while it stands, reads go to the database. But an announcement can be gone while the
//! generation has still not moved: Redis lost it (a restart from a snapshot taken before
//! it, a failover to a replica it had not reached) while the generation and an entry
//! filled before the commit survived, or the write committed only after its lease
//! expired and a reader withdrew it. A `503` write is indeterminate to an ordinary
//! reader, so that is no stale read; but a client that received its change *knows* it
//! committed. Sent as it is, that client could read the list on another instance and
//! be served the entry from before the commit. So before this instance hands out
//! changes it read from the log, it advances the generation of their workspace itself
//! ([`Feed::read`] calls [`TaskCache::advance`]); if it cannot, it hands out nothing
//! and tries again later.
//! One advance covers every change up to the head its read saw, so changes already
//! covered by an earlier advance here (a subscriber catching up, a client polling) are
//! handed out without another.
//!
//! Why that suffices: the advance happens after the read of the log, so after the
//! changes committed. A read that starts after the event was received starts after that
//! advance, so it sees a generation at least as new, whose entries were all filled by
//! queries that started after the advance began, hence after the changes committed
//! (the cache's own argument, with this advance in place of the write's). Strict
//! consistency needs no extra step: its generation is the very row whose value is the
//! change's `seq`, advanced in the write's transaction. Advancing is always safe: it
//! only costs misses.
//!
//! The test-only baseline that leaves the step out is `FeedDesign::AnnounceFirst`
//! (`baselines` builds); the freshness tests' `feed.rs` and `tasklane check`'s
//! `redis-rollback` scenario show it failing.

mod design;
mod hub;
mod metrics;
mod retention;
pub mod wake;

use std::sync::Arc;

use dashmap::DashMap;

use crate::cache::{CacheError, TaskCache};
use crate::domain::{Change, ChangeLog, TaskId, Workspace};
use crate::store::Store;

pub use self::metrics::Source;
pub use design::FeedDesign;
pub use hub::{Event, Hub, HubConfig, Item};
pub use retention::{Pruner, Retention};

/// Why a read of the log answered nothing.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The position asked for is older than what retention kept, or ahead of the log:
    /// the client must reload its list and follow from the list's `seq`.
    #[error("the change log no longer holds every change after {since}")]
    Gone {
        /// The position asked for.
        since: u64,
        /// The oldest change kept.
        first_kept: u64,
        /// The latest change.
        head: u64,
    },
    /// The store failed, or the workspace's generation could not be advanced before
    /// the changes were handed out.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Reads of the change log, through the one gate that advances before it announces.
pub struct Feed {
    store: Arc<dyn Store>,
    cache: Arc<TaskCache>,
    /// Per workspace, the latest `seq` this instance has advanced the generation past:
    /// a change at or before it needs no advance again (so that ten thousand
    /// subscribers catching up, or a client polling the same position, cost one).
    advanced: DashMap<Workspace, u64>,
    /// Whether changes wait for an advance (always, but in the test-only baseline).
    design: FeedDesign,
}

impl Feed {
    /// The log of `store`, whose writes go through `cache`.
    pub fn new(store: Arc<dyn Store>, cache: Arc<TaskCache>) -> Self {
        Feed {
            store,
            cache,
            advanced: DashMap::new(),
            design: FeedDesign::default(),
        }
    }

    /// The same feed, handing changes out as `design` says.
    pub fn with_design(self, design: FeedDesign) -> Self {
        Feed { design, ..self }
    }

    /// Up to `limit` changes of the workspace after `since`, in order; [`FeedError::Gone`]
    /// if the log no longer continues from `since`. Without `since`, from the oldest
    /// change the log keeps: a client that names no position has none to continue. The
    /// workspace's generation has advanced past every change returned (see "Advance
    /// before announce").
    pub async fn read(
        &self,
        workspace: &Workspace,
        since: Option<u64>,
        limit: u32,
    ) -> Result<ChangeLog, FeedError> {
        let log = self
            .store
            .changes(workspace, since.unwrap_or(0), limit)
            .await
            .map_err(CacheError::from)?;
        if let Some(since) = since
            && !log.continues(since)
        {
            return Err(FeedError::Gone {
                since,
                first_kept: log.first_kept,
                head: log.head,
            });
        }
        if let Some(last) = log.changes.last()
            && self.design.advances()
            && self
                .advanced
                .get(workspace)
                .is_none_or(|past| *past < last.seq)
        {
            self.cache.advance(workspace).await?;
            // The advance came after the read, so after every change up to the head
            // the read saw had committed.
            let mut past = self.advanced.entry(workspace.clone()).or_insert(0);
            *past = (*past).max(log.head);
        }
        Ok(log)
    }

    /// The workspace's latest `seq`.
    pub async fn head(&self, workspace: &Workspace) -> Result<u64, CacheError> {
        Ok(self.store.generation(workspace).await?.counter)
    }

    /// Up to `limit` changes of one task, before `before` if given, newest first. A
    /// task's history is for people to read, not to follow: it is not held back by
    /// "advance before announce".
    pub async fn history(
        &self,
        workspace: &Workspace,
        id: TaskId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Change>, CacheError> {
        Ok(self.store.history(workspace, id, before, limit).await?)
    }
}
