//! When a failed delivery is tried again: exponential back-off with jitter, from
//! seconds to hours, and never sooner than the receiver's `Retry-After`.
//!
//! With the default first delay of 5 s the waits after each failed attempt are about
//! 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h and 12 h (22 h 42 min in all), each
//! moved by up to a fifth either way so that endpoints failing together do not retry
//! together. After the last attempt (10 by default) the webhook is disabled.

use std::time::Duration;

/// Each wait, as a multiple of the first.
const STEPS: [u32; 9] = [1, 6, 24, 120, 360, 720, 2160, 4320, 8640];

/// The longest `Retry-After` honoured: a receiver cannot park a webhook for longer.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The wait after the first failed attempt.
    pub first: Duration,
    /// Attempts at one change before the webhook is disabled.
    pub attempts: u32,
}

impl Schedule {
    /// The wait after the `failed`-th failed attempt at a change (1 for the first),
    /// or `None` when that was the last attempt. `jitter` is in `[-1, 1]`.
    pub fn wait(
        &self,
        failed: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if failed >= self.attempts {
            return None;
        }
        let step = STEPS[(failed.max(1) as usize - 1).min(STEPS.len() - 1)];
        let base = self.first.saturating_mul(step);
        let wait = base.mul_f64(1.0 + jitter.clamp(-1.0, 1.0) / 5.0);
        Some(wait.max(retry_after.unwrap_or_default().min(LONGEST_RETRY_AFTER)))
    }

    /// The sum of every wait without jitter: how long a webhook keeps trying one change.
    pub fn total(&self) -> Duration {
        (1..self.attempts)
            .map(|failed| self.wait(failed, None, 0.0).unwrap_or_default())
            .sum()
    }
}

/// A random jitter in `[-1, 1]`.
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Schedule = Schedule {
        first: Duration::from_secs(5),
        attempts: 10,
    };

    #[test]
    fn the_default_keeps_trying_for_about_a_day() {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(DEFAULT.wait(1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(DEFAULT.wait(2, None, 0.0), Some(Duration::from_secs(30)));
        assert_eq!(DEFAULT.wait(9, None, 0.0), Some(minutes(12 * 60)));
        assert_eq!(DEFAULT.wait(10, None, 0.0), None);
        assert_eq!(
            DEFAULT.total(),
            minutes(22 * 60 + 42) + Duration::from_secs(35)
        );
    }

    #[test]
    fn jitter_moves_a_wait_by_a_fifth_at_most() {
        assert_eq!(DEFAULT.wait(2, None, 1.0), Some(Duration::from_secs(36)));
        assert_eq!(DEFAULT.wait(2, None, -1.0), Some(Duration::from_secs(24)));
        for _ in 0..100 {
            assert!((-1.0..=1.0).contains(&jitter()));
        }
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_a_day() {
        let hour = Duration::from_secs(3600);
        assert_eq!(DEFAULT.wait(1, Some(hour), 0.0), Some(hour));
        assert_eq!(
            DEFAULT.wait(1, Some(Duration::from_secs(1)), 0.0),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            DEFAULT.wait(1, Some(hour * 100), 0.0),
            Some(LONGEST_RETRY_AFTER)
        );
    }
}
