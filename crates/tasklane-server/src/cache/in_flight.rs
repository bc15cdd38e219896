//! Writes in flight in this process, per workspace: the announcements of in-process
//! generations (see "Monotonic reads" in the cache's documentation). Only this process
//! writes through its generations, so only its own writes need counting.

use dashmap::DashMap;

use crate::domain::Workspace;

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
}
