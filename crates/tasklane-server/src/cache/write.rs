//! The write path: announce, commit, advance, respond (see "The protocol" and
//! "Monotonic reads" in the cache's documentation).

use std::future::Future;

use super::in_flight::LocalAnnouncement;
use super::redis::Announcement;
use super::{CacheError, Generations, TaskCache};
use crate::domain::{NewTask, Status, StatusSet, Task, TaskId, TaskPatch, Timestamp, Workspace};
use crate::store::{Idempotency, Precondition, StoreError, Written};

impl TaskCache {
    /// Creates a task; returns once it is committed and the generation has advanced.
    ///
    /// A retry under the same `Idempotency-Key` returns the first result, also only
    /// after an advance: the first attempt may have committed without one.
    pub async fn create(
        &self,
        workspace: &Workspace,
        new: NewTask,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, CacheError> {
        let task = new.into_task(Timestamp::now());
        let local = self.local_announcement(workspace);
        let insert = self.store.insert(workspace, &task, idempotency, &local);
        self.write(workspace, &local, insert).await
    }

    /// Applies a merge patch; returns once it is committed and the generation advanced
    /// (retries under an `Idempotency-Key` as for [`TaskCache::create`]).
    pub async fn update(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, CacheError> {
        let local = self.local_announcement(workspace);
        let update = self
            .store
            .update(workspace, id, expected, patch, idempotency, &local);
        self.write(workspace, &local, update).await
    }

    /// Restores a deleted task from the state its delete kept; returns once it is
    /// committed and the generation advanced (retries under an `Idempotency-Key` as for
    /// [`TaskCache::create`]).
    pub async fn restore(
        &self,
        workspace: &Workspace,
        id: TaskId,
        idempotency: Option<&Idempotency>,
    ) -> Result<Task, CacheError> {
        let local = self.local_announcement(workspace);
        let restore = self.store.restore(workspace, id, idempotency, &local);
        self.write(workspace, &local, restore).await
    }

    /// Deletes a task; returns once it is committed and the generation has advanced.
    pub async fn delete(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
    ) -> Result<(), CacheError> {
        let local = self.local_announcement(workspace);
        let delete = self.store.delete(workspace, id, expected, &local);
        self.write(workspace, &local, delete).await
    }

    /// Advances the workspace's generation, every partition of it, outside a write: the
    /// change feed does, before it hands out changes it read from the log (see "Advance
    /// before announce" in [`crate::feed`]). Strict generations have already advanced
    /// with each change. [`CacheError::Unconfirmed`] when Redis did not confirm it.
    pub async fn advance(&self, workspace: &Workspace) -> Result<(), CacheError> {
        match &self.generations {
            Generations::Local(local) => {
                local.advance(self.design.counted(workspace), StatusSet::ALL);
            }
            Generations::Strict => return Ok(()),
            Generations::Redis(tier) => {
                let done = if self.redis_health.backing_off() {
                    None
                } else {
                    let advance = tier.advance(workspace, StatusSet::ALL, &[]);
                    self.redis_health.record(advance.await)
                };
                if done.is_none() {
                    self.metrics.advance_failures.increment(1);
                    return Err(CacheError::Unconfirmed);
                }
            }
        }
        self.metrics.advances.increment(1);
        Ok(())
    }

    /// The announcement of a write in `workspace` with in-process generations, which its
    /// store makes the moment before it commits (see `in_flight.rs`); nothing otherwise.
    fn local_announcement<'a>(&'a self, workspace: &'a Workspace) -> LocalAnnouncement<'a> {
        let announces =
            matches!(self.generations, Generations::Local(_)) && self.design.announces();
        LocalAnnouncement::new(&self.in_flight, workspace, announces)
    }

    /// Runs a write: announce (with in-process generations, `local`, told by `write`
    /// before its commit), commit (`write`), advance. Only a patch that changed nothing
    /// or an error that proves
    /// nothing was written (no such task, failed precondition, a key used for another
    /// request, a lost race, a task that does not read back) skips the advance; a
    /// database error may have come after the commit, so the generation advances then
    /// too. If the advance cannot be confirmed, the write is not reported as a success.
    async fn write<T: Left>(
        &self,
        workspace: &Workspace,
        local: &LocalAnnouncement<'_>,
        write: impl Future<Output = Result<Written<T>, StoreError>>,
    ) -> Result<T, CacheError> {
        let announced = self.announce(workspace, local).await?;
        let written = write.await;
        let wrote_nothing = match &written {
            // A patch that changed nothing touched no status: it appended no change.
            Ok(written) => written.touched == StatusSet::NONE,
            Err(error) => matches!(
                error,
                StoreError::NotFound
                    | StoreError::VersionMismatch { .. }
                    | StoreError::IdempotencyMismatch
                    | StoreError::TaskExists
                    | StoreError::Conflict
                    | StoreError::Unreadable(_)
                    | StoreError::Unstorable(_)
            ),
        };
        // What a write that failed after its commit touched is not known: every status.
        let touched = written.as_ref().map_or(StatusSet::ALL, |written| {
            let left = written.value.status();
            self.design.partitions_advanced(written.touched, left)
        });
        let advanced = announced.advance(wrote_nothing, touched).await;
        if !wrote_nothing {
            // Committed (or possibly so): wake this instance's change feed, confirmed or not.
            let _ = self.written.send(workspace.clone());
            match &advanced {
                Ok(()) => self.metrics.advances.increment(1),
                Err(_) => self.metrics.advance_failures.increment(1),
            }
        }
        advanced?;
        if !wrote_nothing {
            self.design.after_write(&self.entries);
        }
        Ok(written?.value)
    }

    /// Announces a write in `workspace` (see "Monotonic reads"): in Redis before it touches
    /// the store; in this process (`local`) it is the store that announces it, before its
    /// commit.
    async fn announce<'a>(
        &'a self,
        workspace: &'a Workspace,
        local: &'a LocalAnnouncement<'a>,
    ) -> Result<AnnouncedWrite<'a>, CacheError> {
        let announcement = match &self.generations {
            Generations::Redis(tier) => {
                // Owed advances first, unless Redis just failed: then the announcement
                // alone tries it (one timeout per write, not two).
                if !self.redis_health.backing_off() {
                    self.owed.repair(tier, &self.redis_health).await;
                }
                let announcement = Announcement::draw();
                let sent = tier
                    .announce(workspace, &announcement, self.write_lease)
                    .await;
                if self.redis_health.record(sent).is_none() {
                    // It may land yet: withdraw it with the advances owed.
                    self.owed.owe(workspace, announcement);
                    return Err(CacheError::NotAnnounced);
                }
                Some(announcement)
            }
            Generations::Local(_) | Generations::Strict => None,
        };
        Ok(AnnouncedWrite {
            cache: self,
            workspace,
            announcement,
            local,
            settled: false,
        })
    }
}

/// A write between its announcement and its advance. If its future is dropped there
/// (the server stopping mid-request; HTTP requests otherwise run to their end, even
/// without their client), the commit may have happened without the advance that must
/// follow it, so dropping this makes up for it: in-process generations advance at once;
/// with Redis generations the workspace is owed an advance (its announcement stays in Redis
/// meanwhile). Strict generations advance inside the write's own transaction: nothing
/// to make up.
struct AnnouncedWrite<'a> {
    cache: &'a TaskCache,
    workspace: &'a Workspace,
    /// The write's announcement in Redis (Redis generations).
    announcement: Option<Announcement>,
    /// Its announcement in this process, if its store made it (in-process generations).
    local: &'a LocalAnnouncement<'a>,
    /// The advance was attempted: nothing for a drop to make up.
    settled: bool,
}

impl AnnouncedWrite<'_> {
    /// The step between commit and response: advance the workspace's generation and the
    /// partitions of `touched`, and withdraw the announcement (only withdraw it if the
    /// write changed nothing).
    async fn advance(mut self, wrote_nothing: bool, touched: StatusSet) -> Result<(), CacheError> {
        self.settled = true;
        let cache = self.cache;
        match &cache.generations {
            Generations::Local(local) => {
                if !wrote_nothing {
                    local.advance(cache.design.counted(self.workspace), touched);
                }
                Ok(())
            }
            Generations::Strict => Ok(()), // the write's own transaction advanced it
            Generations::Redis(tier) => {
                let announcement = self.announcement.take().expect("announced");
                let done = if wrote_nothing {
                    tier.withdraw(self.workspace, &announcement).await
                } else {
                    let announcements = std::slice::from_ref(&announcement);
                    tier.advance(self.workspace, touched, announcements).await
                };
                if cache.redis_health.record(done).is_some() {
                    return Ok(());
                }
                cache.owed.owe(self.workspace, announcement);
                if wrote_nothing {
                    Ok(())
                } else {
                    Err(CacheError::Unconfirmed)
                }
            }
        }
    }
}

impl Drop for AnnouncedWrite<'_> {
    fn drop(&mut self) {
        let cache = self.cache;
        if !self.settled {
            match &cache.generations {
                // What the write touched is not known here: every partition.
                Generations::Local(local) => {
                    local.advance(cache.design.counted(self.workspace), StatusSet::ALL);
                }
                Generations::Redis(_) => {
                    if let Some(announcement) = self.announcement.take() {
                        cache.owed.owe(self.workspace, announcement);
                    }
                }
                Generations::Strict => {}
            }
        }
        // Withdrawn only after the advance: no read may find the workspace neither
        // announced nor advanced once the write may have committed.
        self.local.withdraw();
    }
}

/// What a write leaves: a task in some status, or (a delete) none.
trait Left {
    /// The task's status after the write, if it still exists.
    fn status(&self) -> Option<Status>;
}

impl Left for Task {
    fn status(&self) -> Option<Status> {
        Some(self.status)
    }
}

impl Left for () {
    fn status(&self) -> Option<Status> {
        None
    }
}
