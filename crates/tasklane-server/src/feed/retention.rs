//! Retention: a background task that forgets the changes older than `--changes-retention`
//! and those beyond the latest `--changes-retention-count` of each workspace, at start
//! and then periodically, until the server stops.
//!
//! Pruning never holds writes back for long: the store deletes in small batches, each
//! its own statement, so a write waits for one batch at most. Nothing about freshness
//! depends on it: a client that asks for changes retention has forgotten is answered
//! `410` (the log says which changes it still keeps, from the same snapshot as the
//! changes it hands out), and reloads its list.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::domain::Timestamp;
use crate::store::Store;

/// How long, and how much, the change log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Changes committed longer ago than this are forgotten.
    pub age: Duration,
    /// Each workspace keeps at most this many of its latest changes.
    pub count: NonZeroU64,
}

impl Retention {
    /// The longest wait between two prunes.
    const MAX_INTERVAL: Duration = Duration::from_secs(60);
    /// The shortest: a retention of a second is pruned every second, not in a busy loop.
    const MIN_INTERVAL: Duration = Duration::from_secs(1);

    /// How often to prune: every minute, or twice per retention when that is shorter,
    /// so that no change outlives its retention by more than half of it (plus a prune's
    /// own time).
    pub fn interval(&self) -> Duration {
        (self.age / 2).clamp(Self::MIN_INTERVAL, Self::MAX_INTERVAL)
    }

    /// The oldest commit time kept when pruning at `now` (the earliest instant there is,
    /// for a retention longer than the calendar goes back).
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        let age = i64::try_from(self.age.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_micros(now.as_micros().saturating_sub(age)).unwrap_or(Timestamp::MIN)
    }
}

/// The running pruner; [`Pruner::stop`] ends it.
pub struct Pruner {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Pruner {
    /// Starts pruning `store` as `retention` says: once now, then every
    /// [`Retention::interval`].
    pub fn start(store: Arc<dyn Store>, retention: Retention) -> Pruner {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(prune_until(store, retention, stopped));
        Pruner { stop, task }
    }

    /// Stops pruning and waits until the task has ended. A prune under way is dropped
    /// between or within one of its batches: each batch is one statement, committed
    /// whole or not at all, and the next start prunes what is left.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// Prunes at every tick until `stopped` completes (or its sender is dropped).
async fn prune_until(
    store: Arc<dyn Store>,
    retention: Retention,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut ticks = tokio::time::interval(retention.interval());
    // After a slow prune, wait a whole interval again rather than catch up at once.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = ticks.tick() => {}
        }
        let cutoff = retention.cutoff(Timestamp::now());
        let keep = retention.count.get();
        tokio::select! {
            _ = &mut stopped => return,
            pruned = store.prune_changes(cutoff, keep) => match pruned {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, %cutoff, keep, "pruned the change log"),
                Err(error) => tracing::warn!(%error, "pruning the change log failed; retrying at the next interval"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retention(age: Duration) -> Retention {
        Retention {
            age,
            count: NonZeroU64::new(100_000).unwrap(),
        }
    }

    #[test]
    fn a_short_retention_is_pruned_more_often() {
        let every = |age| retention(age).interval();
        assert_eq!(
            every(Duration::from_secs(7 * 86_400)),
            Duration::from_secs(60)
        );
        assert_eq!(every(Duration::from_secs(120)), Duration::from_secs(60));
        assert_eq!(every(Duration::from_secs(30)), Duration::from_secs(15));
        assert_eq!(every(Duration::from_secs(3)), Duration::from_millis(1500));
        assert_eq!(every(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let now = Timestamp::parse("2026-11-26T12:00:00Z").unwrap();
        assert_eq!(
            retention(Duration::from_secs(86_400)).cutoff(now),
            Timestamp::parse("2026-11-25T12:00:00Z").unwrap()
        );
        // Longer than the calendar goes back: everything that has a time is kept.
        let forever = retention(Duration::from_secs(u64::MAX));
        assert_eq!(forever.cutoff(now), Timestamp::MIN);
        assert_eq!(
            retention(Duration::from_secs(3_000 * 365 * 86_400)).cutoff(now),
            Timestamp::MIN
        );
    }
}
