//! A scenario's figures, for `--json FILE` and the reliability report `scripts/soak`
//! writes from it: what ran, what was injected, what the verdict found, and how the
//! guarantees were exercised: acknowledged writes read back, indeterminate writes and
//! how many turned out applied, operations in flight when a fault struck, tasks
//! written on both sides of one, and after each fault how long until the deployment was
//! ready, its reads used the cache, and it answered reads and acknowledged writes
//! again.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::history::{FaultEvent, Operation, Outcome, Phase};
use crate::recovery::Watched;
use crate::verdict::Verdict;

/// What one scenario did and found, in numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Operations, workload and read-back.
    pub operations: usize,
    /// Reads answered.
    pub reads: usize,
    /// Writes acknowledged.
    pub acknowledged_writes: usize,
    /// Requests without a usable answer, by cause.
    pub failed: BTreeMap<String, usize>,
    /// Writes left indeterminate (no acknowledgement, yet maybe applied), by cause.
    pub indeterminate: BTreeMap<String, usize>,
    /// Of those, the ones whose change a subscriber received: applied after all.
    pub indeterminate_applied: usize,
    /// Acknowledged writes of the tasks the read-back read after the run.
    pub acknowledged_writes_read_back: usize,
    /// Violations, by kind.
    pub violations: BTreeMap<String, usize>,
    /// Each fault, and how the deployment came back from it.
    pub faults: Vec<Recovery>,
    /// `stale-fill`: rounds of the incident's interleaving (a write while a list read
    /// that will fill the cache is in flight, then a read on every instance).
    pub stale_fill_rounds: usize,
    /// `redis-rollback`: rounds in which Redis lost a committed write's announcement.
    pub rollbacks: usize,
    /// Changes the subscribers received, all of them together.
    pub events: usize,
    /// Event streams opened again after one was cut.
    pub reconnections: usize,
    /// Seconds the workload ran, faults included.
    pub workload_s: f64,
    /// Seconds judging the history took, once the run was over.
    pub judged_s: f64,
    /// What its webhook delivered, with `--webhooks`, if it could be judged.
    pub webhook: Option<Webhook>,
    /// The check's own peak resident memory so far, MiB, read once this scenario was
    /// judged (none where the system does not say).
    pub checker_peak_mib: Option<f64>,
}

/// What a scenario's webhook delivered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Webhook {
    /// Its endpoint on the receiver.
    pub endpoint: String,
    /// Changes delivered, each counted once.
    pub changes: usize,
    /// Changes the log held for it, from the position it was registered at to the
    /// log's head once the run was over (none if the head could not be read).
    pub owed: Option<u64>,
    /// Requests that arrived, repeats included.
    pub requests: usize,
    /// Repeats of a delivery already received.
    pub repeats: usize,
}

/// The peak resident memory of this process so far, MiB (`getrusage`; its children,
/// the servers it starts, are not counted).
pub fn peak_memory_mib() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    // Linux reports kibibytes.
    Some(usage.max_rss() as f64 / 1024.0)
}

/// A fault, and the time from its start until the deployment was healthy again (each
/// none if it was not seen, or, for reads and writes, if none failed after it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovery {
    /// What was done.
    pub fault: String,
    /// Seconds since the scenario began.
    pub at_s: f64,
    /// Operations in flight when it struck.
    pub in_flight: usize,
    /// Tasks with an acknowledged write before it and another after it (before the
    /// next fault).
    pub written_across: usize,
    /// Seconds until every instance was ready.
    pub ready_s: Option<f64>,
    /// Seconds until reads looked in the cache again, rather than bypassing it.
    pub cache_s: Option<f64>,
    /// Seconds until reads were answered again: the end of the first read answered
    /// that started after the last one that failed before the next fault.
    pub reads_s: Option<f64>,
    /// The same for writes and their acknowledgements.
    pub writes_s: Option<f64>,
}

/// The figures of a scenario's `history`, with its `faults` (each with what was
/// watched after it, if anything was) and `verdict`.
pub fn of(
    history: &[Operation],
    faults: &[(FaultEvent, Option<Watched>)],
    verdict: &Verdict,
) -> Figures {
    let mut figures = Figures {
        operations: history.len(),
        indeterminate_applied: verdict.applied,
        ..Figures::default()
    };
    for violation in &verdict.violations {
        *figures
            .violations
            .entry(violation.kind.label().to_owned())
            .or_default() += 1;
    }
    let mut read_back: HashSet<&str> = HashSet::new();
    for op in history {
        match &op.outcome {
            Outcome::Failed { cause, .. } => {
                *figures.failed.entry(cause.to_string()).or_default() += 1;
                if op.request.is_write() && op.indeterminate() {
                    *figures.indeterminate.entry(cause.to_string()).or_default() += 1;
                }
            }
            _ if op.acknowledged() => figures.acknowledged_writes += 1,
            _ if !op.request.is_write() => {
                figures.reads += 1;
                if op.phase == Phase::ReadBack {
                    read_back.extend(op.task());
                }
            }
            _ => {}
        }
    }
    figures.acknowledged_writes_read_back = history
        .iter()
        .filter(|op| op.acknowledged() && op.task().is_some_and(|id| read_back.contains(id)))
        .count();
    let ends: Vec<u64> = faults
        .iter()
        .skip(1)
        .map(|(fault, _)| fault.at_us)
        .chain([u64::MAX])
        .collect();
    let mut since = 0;
    for ((fault, watched), &until) in faults.iter().zip(&ends) {
        figures
            .faults
            .push(recovery(history, fault, *watched, (since, until)));
        since = fault.at_us;
    }
    figures
}

/// How the deployment came back from `fault`, the window `(since, until)` running from
/// the fault before it to the one after it.
fn recovery(
    history: &[Operation],
    fault: &FaultEvent,
    watched: Option<Watched>,
    (since, until): (u64, u64),
) -> Recovery {
    let at = fault.at_us;
    let run = || history.iter().filter(|op| op.phase == Phase::Run);
    let after = |micros: Option<u64>| micros.map(|us| us.saturating_sub(at) as f64 / 1e6);
    let answered_again = |writes: bool| {
        let kind = |op: &&Operation| op.request.is_write() == writes;
        let last_failure = run()
            .filter(kind)
            // A request the next fault failed is that fault's.
            .filter(|op| op.start_us >= at && op.end_us < until)
            .filter(|op| matches!(op.outcome, Outcome::Failed { .. }))
            .map(|op| op.start_us)
            .max()?;
        run()
            .filter(kind)
            .filter(|op| {
                op.start_us > last_failure && !matches!(op.outcome, Outcome::Failed { .. })
            })
            .map(|op| op.end_us)
            .min()
    };
    let written = |from: u64, to: u64| -> HashSet<&str> {
        run()
            .filter(|op| op.acknowledged() && op.start_us >= from && op.end_us <= to)
            .filter_map(Operation::task)
            .collect()
    };
    let before = written(since, at);
    let written_across = written(at, until).intersection(&before).count();
    Recovery {
        fault: fault.fault.clone(),
        at_s: at as f64 / 1e6,
        in_flight: run()
            .filter(|op| op.start_us < at && op.end_us > at)
            .count(),
        written_across,
        ready_s: after(watched.and_then(|w| w.ready_us)),
        cache_s: after(watched.and_then(|w| w.cache_us)),
        reads_s: after(answered_again(false)),
        writes_s: after(answered_again(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Request, Seen};

    fn op(span: (u64, u64), request: Request, outcome: Outcome) -> Operation {
        Operation {
            start_us: span.0,
            end_us: span.1,
            ..Operation::of(request, outcome)
        }
    }

    fn update() -> Request {
        Request::Update {
            id: "t".to_owned(),
            status: "done".to_owned(),
            assignee: None,
        }
    }

    fn written() -> Outcome {
        Outcome::Written {
            task: Seen {
                id: "t".to_owned(),
                version: 2,
                status: "done".to_owned(),
                assignee: None,
            },
            body: serde_json::Value::Null,
        }
    }

    #[test]
    fn writes_are_answered_again_at_the_first_acknowledgement_after_the_last_failure() {
        let get = || Request::Get { id: "t".to_owned() };
        let found = || Outcome::Found {
            task: Seen {
                id: "t".to_owned(),
                version: 2,
                status: "done".to_owned(),
                assignee: None,
            },
        };
        let history = [
            op((500_000, 900_000), update(), written()),
            op((900_000, 1_100_000), get(), found()),
            op((1_200_000, 1_300_000), update(), Outcome::unavailable()),
            op((1_400_000, 1_500_000), update(), Outcome::unavailable()),
            op((1_600_000, 1_900_000), update(), written()),
            op((1_700_000, 1_800_000), get(), found()),
        ];
        let fault = FaultEvent {
            at_us: 1_000_000,
            fault: "Redis killed".to_owned(),
        };
        let watched = Watched {
            ready_us: Some(1_250_000),
            cache_us: None,
        };
        let figures = of(&history, &[(fault, Some(watched))], &Verdict::default());
        let recovery = &figures.faults[0];
        assert_eq!(recovery.writes_s, Some(0.9));
        assert_eq!(recovery.reads_s, None, "no read failed");
        assert_eq!(recovery.ready_s, Some(0.25));
        assert_eq!(recovery.cache_s, None);
        assert_eq!(recovery.in_flight, 1);
        assert_eq!(recovery.written_across, 1);
        assert_eq!(figures.indeterminate["HTTP 503 Service Unavailable"], 2);
        assert_eq!((figures.reads, figures.acknowledged_writes), (2, 2));
    }
}
