//! The change feed's metrics: streams open, events sent, what wakes the followers, and
//! how long after its write a change goes out.

use metrics::{Counter, Gauge, Histogram};

use crate::domain::Timestamp;
use crate::telemetry::Registry;

/// What told this instance that a workspace's log grew, as the `source` label spells
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A write on this instance.
    Local,
    /// Another instance, through PostgreSQL's `NOTIFY`.
    Postgres,
    /// Another instance, through Redis pub/sub.
    Redis,
}

/// The feed's handles.
pub(super) struct FeedMetrics {
    pub(super) subscribers: Gauge,
    pub(super) followers: Gauge,
    pub(super) sent: Counter,
    pub(super) lagged: Counter,
    pub(super) resets: Counter,
    /// Follower wake-ups: by a notification, or at the poll interval.
    pub(super) woken: Counter,
    pub(super) polled: Counter,
    notifications: [Counter; 3],
    delay: Histogram,
}

impl FeedMetrics {
    /// Registers the feed's metrics in `registry`.
    pub(super) fn register(registry: &Registry) -> Self {
        let none: &[(&str, &str)] = &[];
        let wakeups = |source: &'static str| {
            registry.counter(
                "tasklane_feed_wakeups_total",
                "Times a follower read its workspace's log, by what woke it",
                &[("source", source)],
            )
        };
        FeedMetrics {
            subscribers: registry.gauge(
                "tasklane_feed_subscribers",
                "Event streams open on this instance",
                none,
            ),
            followers: registry.gauge(
                "tasklane_feed_followers",
                "Workspaces this instance follows for its streams (one log reader each)",
                none,
            ),
            sent: registry.counter(
                "tasklane_feed_events_sent_total",
                "Changes sent to event streams (one per stream it went to)",
                none,
            ),
            lagged: registry.counter(
                "tasklane_feed_lagged_total",
                "Streams ended because their client read too slowly (told where to resume)",
                none,
            ),
            resets: registry.counter(
                "tasklane_feed_resets_total",
                "Streams ended because the log no longer held their position (told to reload)",
                none,
            ),
            woken: wakeups("notify"),
            polled: wakeups("poll"),
            notifications: ["local", "postgres", "redis"].map(|source| {
                registry.counter(
                    "tasklane_feed_notifications_total",
                    "Notices that a workspace's log grew, by where they came from",
                    &[("source", source)],
                )
            }),
            delay: registry.histogram(
                "tasklane_feed_delivery_delay_seconds",
                "Time from a change's write to its broadcast to this instance's streams: the feed's lag",
                none,
            ),
        }
    }

    /// A notice that a log grew came from `source`.
    pub(super) fn notified(&self, source: Source) {
        self.notifications[source as usize].increment(1);
    }

    /// A change written `at` is being broadcast now.
    pub(super) fn broadcasting(&self, at: Timestamp) {
        let micros = Timestamp::now().as_micros().saturating_sub(at.as_micros());
        self.delay.record(std::time::Duration::from_micros(
            u64::try_from(micros).unwrap_or(0),
        ));
    }
}
