//! Writes in flight in this process, per workspace: the announcements of in-process
//! generations (see "Monotonic reads" in the cache's documentation). Only this process
//! writes through its generations, so only its own writes need counting.
//!
//! A write is announced the moment before it commits ([`LocalAnnouncement`], which the
//! store tells), not when it starts: until its commit no reader can see it, so nothing a
//! reader holds can be newer than the cache, and reads of its workspace need not bypass
//! the cache while it waits for the database's writer. From the commit on, the argument
//! of "Monotonic reads" holds as for an announcement made earlier: the announcement
//! precedes every read that can see the write, and is withdrawn only after the advance.

use std::sync::atomic::{AtomicBool, Ordering};

use dashmap::DashMap;

use crate::domain::Workspace;
use crate::store::BeforeCommit;

/// How many writes are in flight in each workspace, between their announcement and their
/// advance.
#[derive(Default)]
pub(super) struct InFlight {
    writing: DashMap<Workspace, usize>,
}

impl InFlight {
    /// Announces a write in `workspace`: until it [ends](InFlight::end), reads of the workspace
    /// bypass the cache and fills in it are refused.
    pub(super) fn begin(&self, workspace: &Workspace) {
        *self.writing.entry(workspace.clone()).or_insert(0) += 1;
    }

    /// Withdraws the announcement of one write in `workspace`, once its generation advanced.
    pub(super) fn end(&self, workspace: &Workspace) {
        if let Some(mut count) = self.writing.get_mut(workspace) {
            *count -= 1;
        }
        self.writing.remove_if(workspace, |_, count| *count == 0);
    }

    /// Whether a write is in flight in `workspace`.
    pub(super) fn writing(&self, workspace: &Workspace) -> bool {
        self.writing.contains_key(workspace)
    }
}

/// One write's announcement in this process, made when the store is about to commit it,
/// and withdrawn by [`LocalAnnouncement::withdraw`] once its generation has advanced.
pub(super) struct LocalAnnouncement<'a> {
    in_flight: &'a InFlight,
    workspace: &'a Workspace,
    /// Whether the design announces writes at all (the baselines may not).
    announces: bool,
    made: AtomicBool,
}

impl<'a> LocalAnnouncement<'a> {
    /// An announcement of a write in `workspace`, not made yet (none ever, unless
    /// `announces`).
    pub(super) fn new(in_flight: &'a InFlight, workspace: &'a Workspace, announces: bool) -> Self {
        LocalAnnouncement {
            in_flight,
            workspace,
            announces,
            made: AtomicBool::new(false),
        }
    }

    /// Withdraws the announcement if it was made: after the write's advance.
    pub(super) fn withdraw(&self) {
        if self.made.swap(false, Ordering::AcqRel) {
            self.in_flight.end(self.workspace);
        }
    }
}

impl BeforeCommit for LocalAnnouncement<'_> {
    /// Announces the write, once however often its attempts commit.
    fn committing(&self) {
        if self.announces && !self.made.swap(true, Ordering::AcqRel) {
            self.in_flight.begin(self.workspace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_written_until_its_last_write_ends() {
        let (workspace, in_flight) = (Workspace::default(), InFlight::default());
        in_flight.begin(&workspace);
        in_flight.begin(&workspace);
        assert!(
            !in_flight.writing(&Workspace::named("other")),
            "only its own workspace"
        );
        in_flight.end(&workspace);
        assert!(
            in_flight.writing(&workspace),
            "one write is still in flight"
        );
        in_flight.end(&workspace);
        assert!(!in_flight.writing(&workspace));
    }

    #[test]
    fn a_write_is_announced_from_its_first_commit_until_it_is_withdrawn() {
        let (workspace, in_flight) = (Workspace::default(), InFlight::default());
        let announcement = LocalAnnouncement::new(&in_flight, &workspace, true);
        assert!(!in_flight.writing(&workspace), "not before it commits");
        announcement.committing();
        announcement.committing(); // a retried attempt
        assert!(in_flight.writing(&workspace));
        announcement.withdraw();
        assert!(!in_flight.writing(&workspace), "withdrawn once, for good");
        announcement.withdraw();
        assert!(!in_flight.writing(&workspace));
        let unannounced = LocalAnnouncement::new(&in_flight, &workspace, false);
        unannounced.committing();
        assert!(
            !in_flight.writing(&workspace),
            "a design that does not announce"
        );
    }
}
