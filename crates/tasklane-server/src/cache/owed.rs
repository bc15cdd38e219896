//! Advances this instance owes (Redis generations): writes that may have committed
//! without the advance that must follow, because Redis did not confirm it or the write
//! was dropped midway. Until an owed advance lands, reads of its scope here bypass the
//! cache; the write's announcement stays in Redis meanwhile, so no other instance
//! serves the scope from its cache either.

use std::collections::HashMap;
use std::sync::Mutex;

use super::redis::{Announcement, RedisHealth, RedisTier};
use crate::domain::Scope;

/// Scopes whose advance is owed, with the announcements it must withdraw.
#[derive(Default)]
pub(super) struct OwedAdvances {
    owed: Mutex<HashMap<Scope, Vec<Announcement>>>,
}

impl OwedAdvances {
    /// Records that `scope` is owed an advance that withdraws `announcement`.
    pub(super) fn owe(&self, scope: &Scope, announcement: Announcement) {
        let mut owed = self.owed.lock().expect("not poisoned");
        owed.entry(scope.clone()).or_default().push(announcement);
    }

    /// Whether `scope` is owed an advance, so its cache cannot be trusted here.
    pub(super) fn owes(&self, scope: &Scope) -> bool {
        self.owed.lock().expect("not poisoned").contains_key(scope)
    }

    /// Whether any scope is owed an advance.
    pub(super) fn any(&self) -> bool {
        !self.owed.lock().expect("not poisoned").is_empty()
    }

    /// Makes the owed advances, if Redis answers; each one that lands settles its scope
    /// (unless more became owed there meanwhile).
    pub(super) async fn repair(&self, tier: &RedisTier, health: &RedisHealth) {
        let owed: Vec<(Scope, Vec<Announcement>)> = {
            let owed = self.owed.lock().expect("not poisoned");
            if owed.is_empty() {
                return;
            }
            owed.iter()
                .map(|(scope, announcements)| (scope.clone(), announcements.clone()))
                .collect()
        };
        for (scope, announcements) in owed {
            if health
                .record(tier.advance(&scope, &announcements).await)
                .is_some()
            {
                tracing::info!(%scope, "owed advance made; the scope's cache is trusted again");
                self.settle(&scope, &announcements);
            }
        }
    }

    /// Forgets the owed advance that withdrew `announcements` in `scope`.
    fn settle(&self, scope: &Scope, announcements: &[Announcement]) {
        let mut owed = self.owed.lock().expect("not poisoned");
        if let Some(pending) = owed.get_mut(scope) {
            pending.retain(|announcement| !announcements.contains(announcement));
            if pending.is_empty() {
                owed.remove(scope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_owed_until_every_announcement_is_settled() {
        let owed = OwedAdvances::default();
        let scope = Scope::named("team");
        let announcements = [Announcement::draw(), Announcement::draw()];
        for announcement in &announcements {
            owed.owe(&scope, announcement.clone());
        }
        assert!(!owed.owes(&Scope::default()), "only its own scope");
        owed.settle(&scope, &announcements[..1]);
        assert!(owed.any() && owed.owes(&scope));
        owed.settle(&scope, &announcements[1..]);
        assert!(!owed.any() && !owed.owes(&scope));
    }
}
