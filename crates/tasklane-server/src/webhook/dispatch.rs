//! The dispatcher: which webhooks this instance sends, and for how long.
//!
//! One loop per instance claims webhooks that deliver, are due and have no live
//! sender anywhere (their lease is free or expired), starts a [sender](super::sender)
//! for each, and renews the leases of its senders every third of the lease's length,
//! in one statement for all of them. A sender whose webhook did not come back from a
//! renewal (paused, disabled, deleted, or taken over after this instance could not
//! renew in time) is told to stop; a webhook that came back with new settings is
//! handed them. A lease held here with no sender (one that stopped between two
//! renewals) is adopted by a new sender, so no lease is renewed for nothing. The same
//! loop writes the senders' reports ([`super::ledger`]) and, every minute, forgets the
//! attempts beyond what each webhook keeps.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use uuid::Uuid;

use super::ledger::{Ledger, Written};
use super::metrics::WebhookMetrics;
use super::sender::{self, Lease};
use super::{Deliverer, PERSIST_EVERY, Sealer, WebhookConfig};
use crate::domain::Timestamp;
use crate::feed::{Feed, Hub};
use crate::store::{Report, StoreError, StoredWebhook, WebhookStore};

/// How often attempts beyond what each webhook keeps are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The most senders one instance runs at once.
const MAX_SENDERS: usize = 1024;

/// The webhooks held here, as one read found them.
#[derive(Clone)]
pub(super) struct Settings {
    /// When the read started.
    pub read_at: Instant,
    /// Each webhook held, by id.
    pub webhooks: Arc<HashMap<Uuid, StoredWebhook>>,
}

/// A running sender, as the dispatcher knows it.
struct Running {
    /// Tells the sender its lease and settings; dropped to stop it.
    lease: watch::Sender<Lease>,
    /// Which start of a sender for this webhook it is, so that a sender that stops
    /// forgets only itself.
    token: u64,
}

/// Claims webhooks for this instance and runs their senders.
pub struct Dispatcher {
    pub(super) store: Arc<dyn WebhookStore>,
    pub(super) hub: Arc<Hub>,
    pub(super) feed: Arc<Feed>,
    pub(super) deliverer: Deliverer,
    pub(super) sealer: Sealer,
    pub(super) config: WebhookConfig,
    pub(super) metrics: WebhookMetrics,
    /// This instance's name on the leases it holds.
    pub(super) owner: String,
    /// Its senders' progress, written together.
    ledger: Ledger,
    running: Mutex<HashMap<Uuid, Running>>,
    tokens: AtomicU64,
    wake: Notify,
    claim_now: AtomicBool,
    renew_now: AtomicBool,
    /// The latest read of every webhook held here, and when it started.
    settings: tokio::sync::Mutex<Option<Settings>>,
    /// Becomes `true` when the server stops.
    pub(super) closed: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// A dispatcher, not yet started.
    pub(super) fn new(
        store: Arc<dyn WebhookStore>,
        hub: Arc<Hub>,
        deliverer: Deliverer,
        sealer: Sealer,
        config: WebhookConfig,
        metrics: WebhookMetrics,
    ) -> Arc<Self> {
        let owner = Uuid::new_v4().to_string();
        Arc::new(Dispatcher {
            ledger: Ledger::new(store.clone(), owner.clone(), config.lease),
            store,
            feed: hub.feed().clone(),
            hub,
            deliverer,
            sealer,
            config,
            metrics,
            owner,
            running: Mutex::new(HashMap::new()),
            tokens: AtomicU64::new(0),
            wake: Notify::new(),
            claim_now: AtomicBool::new(false),
            renew_now: AtomicBool::new(false),
            settings: tokio::sync::Mutex::new(None),
            closed: watch::Sender::new(false),
            task: Mutex::new(None),
        })
    }

    /// Starts claiming and sending.
    pub fn start(self: &Arc<Self>) {
        let task = tokio::spawn(self.clone().run());
        *self.task.lock().expect("never poisoned") = Some(task);
    }

    /// Stops every sender (each writes its position and gives its lease up, so another
    /// instance can take over at once) and waits for them.
    pub async fn stop(&self) {
        self.closed.send_replace(true);
        let task = self.task.lock().expect("never poisoned").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Looks for due webhooks now (one was just created or resumed).
    pub fn wake(&self) {
        self.claim_now.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Renews now, so that senders here learn of a change to their webhook at once
    /// (and claims, in case it was resumed).
    pub fn renew_now(&self) {
        self.renew_now.store(true, Ordering::Relaxed);
        self.wake();
    }

    async fn run(self: Arc<Self>) {
        let mut senders = JoinSet::new();
        let mut closed = self.closed.subscribe();
        let (mut next_renewal, mut next_claim) = (Instant::now(), Instant::now());
        let mut next_prune = Instant::now() + PRUNE_EVERY;
        while !*closed.borrow() {
            let now = Instant::now();
            if self.renew_now.swap(false, Ordering::Relaxed) || now >= next_renewal {
                next_renewal = now + self.config.lease / 3;
                self.renew(&mut senders).await;
            }
            if self.claim_now.swap(false, Ordering::Relaxed) || now >= next_claim {
                next_claim = now + self.config.poll;
                self.claim(&mut senders).await;
            }
            if !self.ledger.is_empty() {
                match self.ledger.write().await {
                    Ok(written) => self.settle(&written),
                    Err(error) => {
                        tracing::warn!(%error, "cannot write webhooks' progress; trying again")
                    }
                }
            }
            if now >= next_prune {
                next_prune = now + PRUNE_EVERY;
                if let Err(error) = self.store.prune_attempts().await {
                    tracing::warn!(%error, "cannot forget old webhook attempts; trying again later");
                }
            }
            while senders.try_join_next().is_some() {}
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(PERSIST_EVERY) => {}
                _ = closed.changed() => {}
            }
        }
        while senders.join_next().await.is_some() {}
    }

    /// Writes `report` and every report waiting now (for a sender that must know).
    pub(super) async fn write_now(&self, report: Report) -> Result<Written, StoreError> {
        let written = self.ledger.write_now(report).await?;
        self.settle(&written);
        Ok(written)
    }

    /// Hands each sender what a write of the ledger came to: its lease extended and its
    /// webhook's settings, or the order to stop if it lost the lease.
    fn settle(&self, written: &Written) {
        let mut running = self.running.lock().expect("never poisoned");
        for (id, row) in &written.rows {
            match row {
                Some(webhook) => {
                    if let Some(sender) = running.get(id) {
                        sender.lease.send_replace(Lease {
                            valid_until: written.valid_until,
                            webhook: webhook.clone(),
                        });
                    }
                }
                None => {
                    running.remove(id);
                }
            }
        }
    }

    /// The settings of every webhook held here, read after `after`: a read that started
    /// later is shared, so senders that ask together cost one query.
    pub(super) async fn settings_after(&self, after: Instant) -> Result<Settings, StoreError> {
        let mut latest = self.settings.lock().await;
        if let Some(settings) = latest.as_ref().filter(|s| s.read_at > after) {
            return Ok(settings.clone());
        }
        let read_at = Instant::now();
        let held = self.store.held(&self.owner).await?;
        let settings = Settings {
            read_at,
            webhooks: Arc::new(held.into_iter().map(|w| (w.webhook.id, w)).collect()),
        };
        *latest = Some(settings.clone());
        Ok(settings)
    }

    /// Keeps a sender's report, to be written with the others.
    pub(super) fn report(&self, report: Report) {
        self.ledger.report(report);
    }

    /// Takes due webhooks with no live sender, as many as this instance has room for.
    async fn claim(self: &Arc<Self>, senders: &mut JoinSet<()>) {
        let room = MAX_SENDERS.saturating_sub(self.running.lock().expect("never poisoned").len());
        if room == 0 {
            return;
        }
        let now = Timestamp::now();
        let started = Instant::now();
        match self
            .store
            .claim(&self.owner, now, self.lease_end(now), room as u32)
            .await
        {
            Ok(claimed) => {
                for webhook in claimed {
                    self.start_sender(senders, webhook, started);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot claim webhooks to deliver; trying again"),
        }
    }

    /// Extends every lease held here, stops the senders whose webhook did not come
    /// back, hands the others their settings, and adopts leases with no sender.
    async fn renew(self: &Arc<Self>, senders: &mut JoinSet<()>) {
        let started = Instant::now();
        let renewed = match self
            .store
            .renew(&self.owner, self.lease_end(Timestamp::now()))
            .await
        {
            Ok(renewed) => renewed,
            Err(error) => {
                // Senders stop by themselves before their lease runs out.
                tracing::warn!(%error, "cannot renew webhook leases; trying again");
                return;
            }
        };
        let ids: HashSet<Uuid> = renewed.iter().map(|w| w.webhook.id).collect();
        let mut orphans = Vec::new();
        {
            let mut running = self.running.lock().expect("never poisoned");
            running.retain(|id, _| ids.contains(id));
            for webhook in renewed {
                match running.get(&webhook.webhook.id) {
                    Some(sender) => {
                        sender.lease.send_replace(Lease {
                            valid_until: started + self.config.lease,
                            webhook,
                        });
                    }
                    None => orphans.push(webhook),
                }
            }
        }
        for webhook in orphans {
            self.start_sender(senders, webhook, started);
        }
    }

    fn start_sender(
        self: &Arc<Self>,
        senders: &mut JoinSet<()>,
        webhook: StoredWebhook,
        at: Instant,
    ) {
        let id = webhook.webhook.id;
        let mut running = self.running.lock().expect("never poisoned");
        if running.contains_key(&id) {
            // Its sender is still at work (its lease lapsed and came back to it).
            return;
        }
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let (lease, control) = watch::channel(Lease {
            valid_until: at + self.config.lease,
            webhook,
        });
        running.insert(id, Running { lease, token });
        self.metrics.senders.increment(1);
        senders.spawn(sender::run(self.clone(), id, token, control));
    }

    /// Forgets a sender that has stopped and given its lease up.
    pub(super) fn forget(&self, id: Uuid, token: u64) {
        self.metrics.senders.decrement(1);
        let mut running = self.running.lock().expect("never poisoned");
        if running.get(&id).is_some_and(|sender| sender.token == token) {
            running.remove(&id);
        }
    }

    /// When a lease taken `now` ends.
    pub(super) fn lease_end(&self, now: Timestamp) -> Timestamp {
        Timestamp::from_micros(now.as_micros() + micros(self.config.lease))
            .unwrap_or(Timestamp::MAX)
    }
}

/// A duration in microseconds.
pub(super) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
