//! Whether Redis answers, as this instance last found it, and the back-off after a
//! failed call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::RedisError;

use crate::telemetry::Registry;

/// How long reads and fills leave Redis alone after a call to it failed, so that an
/// outage costs each request a database read, not a Redis timeout too. Writes still try
/// their announcement every time, which is also how recovery is noticed.
const BACKOFF: Duration = Duration::from_secs(1);

/// The outcome of the last call to Redis.
#[derive(Default)]
pub(in crate::cache) struct RedisHealth {
    /// When the last call failed (`None` once one succeeds again).
    failed_at: Mutex<Option<Instant>>,
    /// When the current outage began: the first failure after a success.
    down_since: Mutex<Option<Instant>>,
}

impl RedisHealth {
    /// Records how a call to Redis went; its value if it succeeded, `None` if it failed
    /// (an outage is logged once, when it starts and when it ends).
    pub(in crate::cache) fn record<T>(&self, outcome: Result<T, RedisError>) -> Option<T> {
        let mut failed_at = self.failed_at.lock().expect("not poisoned");
        match outcome {
            Ok(value) => {
                if failed_at.take().is_some() {
                    *self.down_since.lock().expect("not poisoned") = None;
                    tracing::info!("Redis answers again");
                }
                Some(value)
            }
            Err(error) => {
                if failed_at.replace(Instant::now()).is_none() {
                    *self.down_since.lock().expect("not poisoned") = Some(Instant::now());
                    tracing::warn!(%error, "Redis is not answering; serving from the database");
                }
                None
            }
        }
    }

    /// Whether reads and fills leave Redis alone: a call failed less than [`BACKOFF`]
    /// ago.
    pub(in crate::cache) fn backing_off(&self) -> bool {
        let failed_at = self.failed_at.lock().expect("not poisoned");
        failed_at.is_some_and(|at| at.elapsed() < BACKOFF)
    }

    /// Reports, at each scrape, whether Redis answered the last call and how long the
    /// current outage has lasted.
    pub(in crate::cache) fn report(self: &Arc<Self>, registry: &Registry) {
        let none: &[(&str, &str)] = &[];
        let up = registry.gauge(
            "tasklane_redis_up",
            "1 if Redis answered this instance's last call, 0 if it failed",
            none,
        );
        let down = registry.gauge(
            "tasklane_redis_down_seconds",
            "How long Redis has been failing this instance's calls (0 while it answers); reads bypass it meanwhile",
            none,
        );
        let health = Arc::downgrade(self);
        registry.on_scrape(move || {
            if let Some(health) = health.upgrade() {
                let since = *health.down_since.lock().expect("not poisoned");
                up.set(if since.is_some() { 0.0 } else { 1.0 });
                down.set(since.map_or(0.0, |since| since.elapsed().as_secs_f64()));
            }
        });
    }

    /// Whether the last call to Redis failed.
    pub(in crate::cache) fn is_down(&self) -> bool {
        self.failed_at.lock().expect("not poisoned").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Result<(), RedisError> {
        Err(RedisError::from((redis::ErrorKind::Io, "refused")))
    }

    #[test]
    fn a_failure_backs_off_until_a_call_succeeds() {
        let health = RedisHealth::default();
        assert!(!health.is_down() && !health.backing_off());
        assert_eq!(health.record(failure()), None);
        assert!(health.is_down() && health.backing_off());
        assert_eq!(health.record(Ok(3)), Some(3));
        assert!(!health.is_down() && !health.backing_off());
    }
}
