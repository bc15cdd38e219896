//! How a checking client paces itself after failed requests.
//!
//! An instance or its database is down, or the server refuses this client: without a
//! pause, each client would send a failing request every few milliseconds, and those
//! failures would outnumber everything the run checked (a run with more failures than
//! successes has no verdict). So a client pauses 20 ms after a failure, doubling up to
//! 200 ms while failures go on, and after a `429` waits as long as the server's
//! `Retry-After` says (a second when it says nothing: Tasklane's per-token limit
//! refills within one). A `503`'s `Retry-After` is not honoured: an outage is what a
//! fault scenario checks through, so its clients keep probing at the short pace.
//! Every workload loop uses this one policy.

use std::time::{Duration, Instant};

use crate::history::{Cause, Operation, Outcome};

/// The first and the longest pause after failed requests.
const MIN_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(200);
/// The pause after a `429` that did not say how long to wait.
const RATE_LIMITED_PAUSE: Duration = Duration::from_secs(1);

/// Why a step of a workload failed: its first failed request's cause, and the server's
/// `Retry-After`, if it gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    cause: Cause,
    retry_after: Option<Duration>,
}

impl Failure {
    /// A failure for `cause`, without a `Retry-After`.
    pub fn caused_by(cause: Cause) -> Failure {
        Failure {
            cause,
            retry_after: None,
        }
    }

    /// Why `op` failed, if it did.
    pub fn of(op: &Operation) -> Option<Failure> {
        match op.outcome {
            Outcome::Failed {
                cause, retry_after, ..
            } => Some(Failure { cause, retry_after }),
            _ => None,
        }
    }
}

/// One client's pause, growing while its steps fail.
#[derive(Debug, Default)]
pub struct Backoff {
    pause: Duration,
}

impl Backoff {
    /// How long to pause after a step that ended with `failure` (none: it succeeded).
    pub fn next(&mut self, failure: Option<Failure>) -> Duration {
        self.pause = match failure {
            None => Duration::ZERO,
            Some(Failure {
                cause: Cause::Status(429),
                retry_after,
            }) => retry_after.unwrap_or(RATE_LIMITED_PAUSE),
            Some(_) => (self.pause * 2).clamp(MIN_PAUSE, MAX_PAUSE),
        };
        self.pause
    }

    /// Pauses after a step that ended with `failure`, but never past `deadline`: a long
    /// `Retry-After` must not hold the scenario beyond its duration.
    pub async fn pause(&mut self, failure: Option<Failure>, deadline: Instant) {
        let until = (Instant::now() + self.next(failure)).min(deadline);
        tokio::time::sleep_until(until.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(cause: Cause, retry_after: Option<u64>) -> Option<Failure> {
        Some(Failure {
            cause,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn failures_double_the_pause_up_to_a_ceiling_and_a_success_resets_it() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u128> = (0..6)
            .map(|_| backoff.next(failed(Cause::Refused, None)).as_millis())
            .collect();
        assert_eq!(pauses, [20, 40, 80, 160, 200, 200]);
        assert_eq!(backoff.next(None), Duration::ZERO);
        assert_eq!(backoff.next(failed(Cause::Timeout, None)), MIN_PAUSE);
    }

    #[test]
    fn a_refusal_waits_as_long_as_the_server_says() {
        let mut backoff = Backoff::default();
        let limited = Cause::Status(429);
        assert_eq!(
            backoff.next(failed(limited, Some(7))),
            Duration::from_secs(7)
        );
        assert_eq!(backoff.next(failed(limited, None)), RATE_LIMITED_PAUSE);
        // A 503's Retry-After is left alone: the short pace probes the outage.
        let unavailable = Cause::Status(503);
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next(failed(unavailable, Some(1))), MIN_PAUSE);
    }
}
