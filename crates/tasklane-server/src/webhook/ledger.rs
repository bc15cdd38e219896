//! Where this instance's senders report their progress, written for all of them in one
//! transaction at most every [`PERSIST_EVERY`](super::PERSIST_EVERY).
//!
//! A sender reports after every change it handles; writing each report at once would
//! cost a write transaction per delivery per webhook, which on SQLite's one writer
//! would take the place of task writes. So reports wait here, the latest per webhook
//! (with every attempt since the last write, up to the number kept), and are written
//! together. A sender that must know its report is written (it is about to wait for
//! a retry, to stop, or to renew its lease before an attempt) writes everything
//! waiting at once, under the same lock as the periodic writes, so that no older
//! report of a webhook is ever written after a newer one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::dispatch::micros;
use crate::domain::{Attempt, Timestamp};
use crate::store::{KEPT_ATTEMPTS, Report, StoreError, StoredWebhook, WebhookStore};

/// Reports waiting to be written.
pub(super) struct Ledger {
    store: Arc<dyn WebhookStore>,
    /// This instance's name on its leases.
    owner: String,
    /// How long a lease lasts from a write that keeps it.
    lease: Duration,
    waiting: Mutex<HashMap<Uuid, Report>>,
    /// Held while reports are written: one write at a time, in order.
    writing: tokio::sync::Mutex<()>,
}

/// What one write of the ledger came to: per webhook written, the row as it now is, or
/// `None` if the lease was lost; and until when (by this instance's clock) the leases
/// it kept surely hold.
pub(super) struct Written {
    pub rows: HashMap<Uuid, Option<StoredWebhook>>,
    pub valid_until: Instant,
}

impl Ledger {
    /// A ledger writing to `store` under `owner`'s leases of length `lease`.
    pub fn new(store: Arc<dyn WebhookStore>, owner: String, lease: Duration) -> Self {
        Ledger {
            store,
            owner,
            lease,
            waiting: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Keeps `report` as its webhook's latest, with the attempts of earlier reports not
    /// yet written. Its `lease_until`, if any, only says to keep the lease: the write
    /// extends it from the moment it is made.
    pub fn report(&self, mut report: Report) {
        let mut waiting = self.waiting.lock().expect("never poisoned");
        if let Some(earlier) = waiting.remove(&report.id) {
            let mut attempts = earlier.attempts;
            attempts.append(&mut report.attempts);
            report.attempts = attempts;
        }
        keep_newest(&mut report.attempts);
        waiting.insert(report.id, report);
    }

    /// Whether reports are waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.lock().expect("never poisoned").is_empty()
    }

    /// Writes `report` and every report waiting, now; what was written (nothing if the
    /// write failed: the reports wait for the next one).
    pub async fn write_now(&self, report: Report) -> Result<Written, StoreError> {
        let _writing = self.writing.lock().await;
        self.report(report);
        self.write_waiting().await
    }

    /// Writes every report waiting.
    pub async fn write(&self) -> Result<Written, StoreError> {
        let _writing = self.writing.lock().await;
        self.write_waiting().await
    }

    async fn write_waiting(&self) -> Result<Written, StoreError> {
        let started = Instant::now();
        let now = Timestamp::now();
        let until = Timestamp::from_micros(now.as_micros().saturating_add(micros(self.lease)))
            .unwrap_or(Timestamp::MAX);
        let mut reports: Vec<Report> = {
            let mut waiting = self.waiting.lock().expect("never poisoned");
            waiting.drain().map(|(_, report)| report).collect()
        };
        for report in &mut reports {
            if report.progress.lease_until.is_some() {
                report.progress.lease_until = Some(until);
            }
        }
        let valid_until = started + self.lease;
        if reports.is_empty() {
            return Ok(Written {
                rows: HashMap::new(),
                valid_until,
            });
        }
        match self.store.progress(&self.owner, &reports).await {
            Ok(rows) => Ok(Written {
                rows: reports.iter().map(|r| r.id).zip(rows).collect(),
                valid_until,
            }),
            Err(error) => {
                // Put them back behind anything reported meanwhile.
                let mut waiting = self.waiting.lock().expect("never poisoned");
                for mut report in reports {
                    if let Some(newer) = waiting.remove(&report.id) {
                        report.attempts.extend(newer.attempts);
                        report.progress = newer.progress;
                    }
                    keep_newest(&mut report.attempts);
                    waiting.insert(report.id, report);
                }
                Err(error)
            }
        }
    }
}

/// Drops all but the newest attempts a webhook keeps.
fn keep_newest(attempts: &mut Vec<Attempt>) {
    let kept = KEPT_ATTEMPTS as usize;
    if attempts.len() > kept {
        attempts.drain(..attempts.len() - kept);
    }
}
