//! Advances this instance owes (Redis generations): writes that may have committed
//! without the advance that must follow, because Redis did not confirm it or the write
//! was dropped midway. Until an owed advance lands, reads of its workspace here bypass the
//! cache; the write's announcement stays in Redis meanwhile, so no other instance
//! serves the workspace from its cache either.

use std::collections::HashMap;
use std::sync::Mutex;

use metrics::{Counter, Gauge};

use super::redis::{Announcement, RedisHealth, RedisTier};
use crate::domain::{StatusSet, Workspace};

/// Workspaces whose advance is owed, with the announcements it must withdraw.
pub(super) struct OwedAdvances {
    owed: Mutex<HashMap<Workspace, Vec<Announcement>>>,
    /// Owed advances made.
    repairs: Counter,
    /// How many workspaces are owed one.
    owing: Gauge,
}

impl OwedAdvances {
    /// None owed yet; `repairs` counts the advances made, `owing` the workspaces owed.
    pub(super) fn new(repairs: Counter, owing: Gauge) -> Self {
        OwedAdvances {
            owed: Mutex::default(),
            repairs,
            owing,
        }
    }

    /// Records that `workspace` is owed an advance that withdraws `announcement`.
    pub(super) fn owe(&self, workspace: &Workspace, announcement: Announcement) {
        let mut owed = self.owed.lock().expect("not poisoned");
        owed.entry(workspace.clone())
            .or_default()
            .push(announcement);
        self.owing.set(owed.len() as f64);
    }

    /// Whether `workspace` is owed an advance, so its cache cannot be trusted here.
    pub(super) fn owes(&self, workspace: &Workspace) -> bool {
        self.owed
            .lock()
            .expect("not poisoned")
            .contains_key(workspace)
    }

    /// Whether any workspace is owed an advance.
    pub(super) fn any(&self) -> bool {
        !self.owed.lock().expect("not poisoned").is_empty()
    }

    /// Makes the owed advances, if Redis answers; each one that lands settles its workspace
    /// (unless more became owed there meanwhile).
    pub(super) async fn repair(&self, tier: &RedisTier, health: &RedisHealth) {
        let owed: Vec<(Workspace, Vec<Announcement>)> = {
            let owed = self.owed.lock().expect("not poisoned");
            if owed.is_empty() {
                return;
            }
            owed.iter()
                .map(|(workspace, announcements)| (workspace.clone(), announcements.clone()))
                .collect()
        };
        // Every partition: the statuses the owed writes touched are not kept.
        for (workspace, announcements) in owed {
            if health
                .record(
                    tier.advance(&workspace, StatusSet::ALL, &announcements)
                        .await,
                )
                .is_some()
            {
                tracing::info!(%workspace, "owed advance made; the workspace's cache is trusted again");
                self.repairs.increment(1);
                self.settle(&workspace, &announcements);
            }
        }
    }

    /// Forgets the owed advance that withdrew `announcements` in `workspace`.
    fn settle(&self, workspace: &Workspace, announcements: &[Announcement]) {
        let mut owed = self.owed.lock().expect("not poisoned");
        if let Some(pending) = owed.get_mut(workspace) {
            pending.retain(|announcement| !announcements.contains(announcement));
            if pending.is_empty() {
                owed.remove(workspace);
            }
        }
        self.owing.set(owed.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_owed_until_every_announcement_is_settled() {
        let owed = OwedAdvances::new(Counter::noop(), Gauge::noop());
        let workspace = Workspace::named("team");
        let announcements = [Announcement::draw(), Announcement::draw()];
        for announcement in &announcements {
            owed.owe(&workspace, announcement.clone());
        }
        assert!(!owed.owes(&Workspace::default()), "only its own workspace");
        owed.settle(&workspace, &announcements[..1]);
        assert!(owed.any() && owed.owes(&workspace));
        owed.settle(&workspace, &announcements[1..]);
        assert!(!owed.any() && !owed.owes(&workspace));
    }
}
