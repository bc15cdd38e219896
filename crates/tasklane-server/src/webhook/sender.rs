//! One webhook's sender: follows its workspace's log from the webhook's position and
//! delivers each matching change in turn, while it holds the webhook's lease.
//!
//! A change is attempted until it gets a `2xx`; the position moves past it only then.
//! After a failure the sender writes when the next attempt is due and waits for it,
//! keeping the lease; after the last attempt it disables the webhook and gives the
//! lease up. It reports its position after every change, to be written with the other
//! senders' within [`PERSIST_EVERY`](super::PERSIST_EVERY) ([`super::ledger`]), and
//! writes it at once whenever it waits or stops: a change delivered and not yet written
//! is delivered again by whoever sends next (at least once). It never starts an attempt
//! that could outlast its lease as last confirmed.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::dispatch::{Dispatcher, micros};
use super::schedule::jitter;
use super::{Event, Sealer, UnsealError};
use crate::domain::{Attempt, Change, SigningSecret, Skipped, Timestamp, WebhookStatus, Workspace};
use crate::feed::{FeedError, Item};
use crate::store::{Progress, Report, StoredWebhook};

use std::sync::Arc;

/// What the dispatcher tells a sender: until when its lease surely holds (by this
/// instance's clock), and the webhook's settings as the lease's last renewal read them.
#[derive(Debug, Clone)]
pub(super) struct Lease {
    pub valid_until: Instant,
    pub webhook: StoredWebhook,
}

/// The margin kept between an attempt's time limit and the lease's end.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// The signing secrets of `webhook` at `now`: its secret, and the one it replaced while
/// that still signs.
pub(super) fn secrets(
    sealer: &Sealer,
    webhook: &StoredWebhook,
    now: Timestamp,
) -> Result<Vec<SigningSecret>, UnsealError> {
    let id = webhook.webhook.id;
    let mut secrets = vec![sealer.unseal(id, &webhook.secret)?];
    if let (Some(previous), Some(until)) = (&webhook.previous_secret, webhook.previous_until)
        && until > now
    {
        secrets.push(sealer.unseal(id, previous)?);
    }
    Ok(secrets)
}

/// Completes when the server is stopping.
async fn stopping(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|closed| *closed).await;
}

/// Why a sender stopped.
enum Stop {
    /// Told to stop (paused, deleted, lease lost or not renewed): give the lease up.
    Released,
    /// The server is stopping.
    Closed,
    /// Every attempt at a change failed, or its secret cannot be read.
    Disabled(String),
}

/// What a sender does after what the log handed out.
enum Flow {
    /// Take the next.
    Next,
    /// Follow the log again from the position (after a retry's wait, a gap, a lag).
    Again,
    /// Stop.
    Stop(Stop),
}

/// What a sender does after a change.
enum Next {
    /// Take the next change.
    Continue,
    /// Wait for the next attempt, then follow the log again from the position.
    Retry,
    /// Stop.
    Stop(Stop),
}

struct Sender {
    dispatcher: Arc<Dispatcher>,
    webhook: StoredWebhook,
    secrets: Vec<SigningSecret>,
    position: u64,
    attempts: u32,
    failing_since: Option<Timestamp>,
    next_attempt_at: Option<Timestamp>,
    skipped: Option<Skipped>,
    /// Attempts not yet reported.
    pending: Vec<Attempt>,
    valid_until: Instant,
}

/// Runs webhook `id`'s sender until it stops, then gives its lease up.
pub(super) async fn run(
    dispatcher: Arc<Dispatcher>,
    id: Uuid,
    token: u64,
    mut control: watch::Receiver<Lease>,
) {
    let lease = control.borrow_and_update().clone();
    let webhook = &lease.webhook.webhook;
    let mut sender = Sender {
        position: webhook.position,
        attempts: webhook.attempts,
        failing_since: webhook.failing_since,
        next_attempt_at: webhook.next_attempt_at,
        skipped: None,
        pending: Vec::new(),
        valid_until: lease.valid_until,
        secrets: Vec::new(),
        webhook: lease.webhook,
        dispatcher: dispatcher.clone(),
    };
    let stop = match secrets(&dispatcher.sealer, &sender.webhook, Timestamp::now()) {
        Ok(secrets) => {
            sender.secrets = secrets;
            sender.deliver(&mut control).await
        }
        Err(error) => Stop::Disabled(error.to_string()),
    };
    // Give the lease up before the dispatcher forgets this sender: until then it will
    // not start another for the webhook (which could then overlap this one's last
    // write), and a lease it claims meanwhile is adopted at the next renewal.
    sender.finish(stop).await;
    dispatcher.forget(id, token);
}

impl Sender {
    fn workspace(&self) -> &Workspace {
        &self.webhook.workspace
    }

    fn id(&self) -> Uuid {
        self.webhook.webhook.id
    }

    async fn deliver(&mut self, control: &mut watch::Receiver<Lease>) -> Stop {
        let mut closed = self.dispatcher.closed.subscribe();
        loop {
            // Wait for the next attempt, if one is scheduled.
            while let Some(due) = self.next_attempt_at {
                let wait = due.as_micros() - Timestamp::now().as_micros();
                if wait <= 0 {
                    break;
                }
                tokio::select! {
                    () = stopping(&mut closed) => return Stop::Closed,
                    changed = control.changed() => {
                        if let Some(stop) = self.take_lease(changed.is_ok(), control) {
                            return stop;
                        }
                    }
                    () = tokio::time::sleep(Duration::from_micros(wait as u64)) => break,
                }
            }
            let changes = self
                .dispatcher
                .hub
                .subscribe(self.workspace().clone(), self.position);
            let mut changes = std::pin::pin!(changes);
            loop {
                tokio::select! {
                    biased;
                    () = stopping(&mut closed) => return Stop::Closed,
                    changed = control.changed() => {
                        if let Some(stop) = self.take_lease(changed.is_ok(), control) {
                            return stop;
                        }
                    }
                    // Only ever polled to completion here: a poll left pending may
                    // have begun a read of the log, which holds a connection until the
                    // stream is polled again.
                    item = changes.next() => {
                        match self.take(item, Instant::now()).await {
                            Flow::Next => {}
                            Flow::Again => break,
                            Flow::Stop(stop) => return stop,
                        }
                    }
                }
            }
        }
    }

    /// Handles what the log handed out, with the webhook's settings as they were after
    /// it was pulled (at `pulled`): a client's change to the webhook that was answered
    /// before a change committed applies to that change. The senders of this instance
    /// that pulled a change before a read of the settings began share that read.
    async fn take(&mut self, item: Option<Item>, pulled: Instant) -> Flow {
        if matches!(item, Some(Item::Change(_))) {
            match self.dispatcher.settings_after(pulled).await {
                Ok(settings) => {
                    let Some(webhook) = settings.webhooks.get(&self.id()) else {
                        // Deleted, or its lease lost.
                        return Flow::Stop(Stop::Released);
                    };
                    if let Some(stop) = self.adopt(webhook.clone()) {
                        return Flow::Stop(stop);
                    }
                }
                Err(error) => {
                    tracing::warn!(webhook = %self.id(), %error, "cannot read a webhook's settings; stopping its sender until it can");
                    return Flow::Stop(Stop::Released);
                }
            }
        }
        match item {
            None => Flow::Stop(Stop::Closed),
            Some(Item::Change(event)) => {
                let change: Change = match serde_json::from_str(&event.data) {
                    Ok(change) => change,
                    Err(error) => {
                        tracing::error!(%error, seq = event.seq, "a change does not read back");
                        return Flow::Stop(Stop::Released);
                    }
                };
                match self.handle(&change).await {
                    Next::Continue => Flow::Next,
                    Next::Retry => Flow::Again,
                    Next::Stop(stop) => Flow::Stop(stop),
                }
            }
            Some(Item::Reset { .. }) => {
                self.skip_pruned().await;
                Flow::Again
            }
            // Fell behind the broadcast: follow the log again from the position.
            Some(Item::Lagged { .. }) => Flow::Again,
        }
    }

    /// Takes a renewal from the dispatcher; a reason to stop if there is one.
    fn take_lease(&mut self, renewed: bool, control: &mut watch::Receiver<Lease>) -> Option<Stop> {
        if !renewed {
            return Some(Stop::Released);
        }
        let lease = control.borrow_and_update().clone();
        self.valid_until = self.valid_until.max(lease.valid_until);
        self.adopt(lease.webhook)
    }

    /// Takes a webhook's settings as a renewal or a write of progress read them (newer
    /// settings only: two reads may arrive out of order).
    fn adopt(&mut self, webhook: StoredWebhook) -> Option<Stop> {
        if !webhook.webhook.status.delivers() {
            return Some(Stop::Released);
        }
        if webhook.config_version > self.webhook.config_version {
            match secrets(&self.dispatcher.sealer, &webhook, Timestamp::now()) {
                Ok(secrets) => self.secrets = secrets,
                Err(error) => return Some(Stop::Disabled(error.to_string())),
            }
            self.webhook = webhook;
        }
        None
    }

    /// Delivers `change` if the webhook is sent its kind, and moves the position past it.
    async fn handle(&mut self, change: &Change) -> Next {
        if change.seq <= self.position {
            return Next::Continue;
        }
        if !self.webhook.webhook.events.includes(change.kind) {
            self.position = change.seq;
            self.report();
            return Next::Continue;
        }
        if !self.lease_covers_an_attempt().await {
            return Next::Stop(Stop::Released);
        }
        // A rotated secret stops signing once its 24 hours are over.
        if self.secrets.len() > 1
            && self
                .webhook
                .previous_until
                .is_none_or(|until| until <= Timestamp::now())
        {
            self.secrets.truncate(1);
        }
        let event = Event::of_change(self.id(), change);
        let attempt =
            self.dispatcher
                .deliverer
                .attempt(&self.webhook.webhook.url, &self.secrets, &event);
        let mut closed = self.dispatcher.closed.subscribe();
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            () = stopping(&mut closed) => return Next::Stop(Stop::Closed),
        };
        let attempted_at = outcome.attempt.attempted_at;
        let error = outcome.attempt.error.clone();
        self.dispatcher.metrics.attempted(
            outcome.attempt.latency_ms,
            error.is_none().then_some(change.at),
        );
        self.pending.push(outcome.attempt);
        let Some(error) = error else {
            self.position = change.seq;
            self.attempts = 0;
            self.failing_since = None;
            self.next_attempt_at = None;
            self.report();
            return Next::Continue;
        };
        self.attempts += 1;
        let since = *self.failing_since.get_or_insert(attempted_at);
        let schedule = self.dispatcher.config.schedule;
        match schedule.wait(self.attempts, outcome.retry_after, jitter()) {
            Some(wait) => {
                let due = Timestamp::now().as_micros().saturating_add(micros(wait));
                self.next_attempt_at = Some(Timestamp::from_micros(due).unwrap_or(Timestamp::MAX));
                if self.write(true).await {
                    Next::Retry
                } else {
                    Next::Stop(Stop::Released)
                }
            }
            None => Next::Stop(Stop::Disabled(format!(
                "{} attempts at change {} failed, from {since} to {attempted_at}; the last: {error}",
                self.attempts, change.seq
            ))),
        }
    }

    /// Whether the lease surely holds for the length of an attempt, renewing it first
    /// if it might not.
    async fn lease_covers_an_attempt(&mut self) -> bool {
        let needed = self.dispatcher.config.timeout + LEASE_MARGIN;
        if Instant::now() + needed < self.valid_until {
            return true;
        }
        self.write(true).await && Instant::now() + needed < self.valid_until
    }

    /// Continues after changes retention pruned before they were delivered (or, when
    /// the log is behind the position, a database restored from an older copy, from
    /// the log's head).
    async fn skip_pruned(&mut self) {
        let read = self
            .dispatcher
            .feed
            .read(self.workspace(), Some(self.position), 1)
            .await;
        let Err(FeedError::Gone {
            first_kept, head, ..
        }) = read
        else {
            return;
        };
        if self.position > head {
            tracing::warn!(webhook = %self.id(), position = self.position, head,
                "the change log is behind this webhook's position (a database restored from a copy?); continuing from its head");
            self.position = head;
        } else {
            let through = first_kept.saturating_sub(1);
            tracing::warn!(webhook = %self.id(), after = self.position, through,
                "retention pruned changes this webhook had not been sent; continuing after them");
            self.skipped = Some(Skipped {
                after: self.position,
                through,
            });
            self.position = through;
        }
        self.write(true).await;
    }

    /// Where delivery stands, with the attempts made since the last report.
    fn progress(&mut self, status: WebhookStatus, reason: Option<String>, keep: bool) -> Report {
        let skipped = self.skipped.take();
        Report {
            id: self.id(),
            progress: Progress {
                position: self.position,
                status,
                attempts: self.attempts,
                failing_since: self.failing_since,
                next_attempt_at: self.next_attempt_at,
                disabled_reason: reason,
                skipped,
                // The ledger extends the lease from the moment it writes.
                lease_until: keep.then_some(Timestamp::MAX),
            },
            attempts: std::mem::take(&mut self.pending),
        }
    }

    fn status(&self) -> WebhookStatus {
        if self.next_attempt_at.is_some() {
            WebhookStatus::Retrying
        } else {
            WebhookStatus::Active
        }
    }

    /// Reports where delivery stands, to be written with the other senders'.
    fn report(&mut self) {
        let report = self.progress(self.status(), None, true);
        self.dispatcher.report(report);
    }

    /// Writes where delivery stands now, keeping the lease (renewed) or giving it up;
    /// `false` if the lease is lost or the webhook no longer delivers. A failed write
    /// is tried again with the next.
    async fn write(&mut self, keep: bool) -> bool {
        self.write_as(self.status(), None, keep).await
    }

    async fn write_as(
        &mut self,
        status: WebhookStatus,
        reason: Option<String>,
        keep: bool,
    ) -> bool {
        let report = self.progress(status, reason, keep);
        match self.dispatcher.write_now(report).await {
            Ok(written) => match written.rows.get(&self.id()) {
                Some(Some(webhook)) => {
                    if keep {
                        self.valid_until = self.valid_until.max(written.valid_until);
                    }
                    self.adopt(webhook.clone()).is_none()
                }
                Some(None) => false,
                None => true,
            },
            Err(error) => {
                tracing::warn!(webhook = %self.id(), %error, "cannot write a webhook's progress; trying again");
                true
            }
        }
    }

    /// Writes where the sender stopped and gives the lease up.
    async fn finish(&mut self, stop: Stop) {
        match stop {
            Stop::Released | Stop::Closed => {
                self.write(false).await;
            }
            Stop::Disabled(reason) => {
                tracing::warn!(webhook = %self.id(), %reason, "webhook disabled");
                self.dispatcher.metrics.disabled.increment(1);
                self.next_attempt_at = None;
                self.write_as(WebhookStatus::Disabled, Some(reason), false)
                    .await;
            }
        }
    }
}
