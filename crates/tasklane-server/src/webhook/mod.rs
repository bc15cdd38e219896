//! Webhooks: every change of a workspace's log, sent to each endpoint that asked for
//! its kind, signed, in order, at least once, by one sender at a time.
//!
//! # The contract
//!
//! Every change committed after a webhook was created and whose kind it names is
//! delivered to it, in `seq` order, with the state the write produced; the next is not
//! sent before the previous got a `2xx`. Deliveries of one change share one
//! `webhook-id`, so a receiver that deduplicates by it sees exactly the workspace's
//! sequence of matching changes.
//!
//! # Why
//!
//! - **Nothing missed, nothing out of order.** A webhook's `position` is the last
//!   change it has handled; it starts at the workspace's head when the webhook is
//!   created. A sender follows the change log from that position through the feed's
//!   hub ([`crate::feed::Hub::subscribe`]), which yields every change after it once,
//!   in `seq` order, whatever wake-ups are lost. The sender delivers one change at a
//!   time and moves the position past it only on a `2xx` (past a change of another
//!   kind, at once), so the next change waits for the previous one's success.
//! - **The state the write produced.** A change carries the task as its write left
//!   it, read in the write's own transaction (see [`crate::store`]'s log), not the
//!   task as it is when the delivery is made.
//! - **Never announced too early.** The hub reads the log through
//!   [`crate::feed::Feed::read`], which advances the workspace's cache generation
//!   before it hands a change out: a receiver that reads the list on hearing of a
//!   change sees it ("advance before announce", in [`crate::feed`]).
//! - **At least once, across crashes.** The position is written after deliveries
//!   (within [`PERSIST_EVERY`], every sender's in one transaction, and whenever a
//!   sender waits or stops), never before: a sender that dies after a delivery and
//!   before writing the position makes the next sender deliver that change again,
//!   under the same `webhook-id`.
//! - **One sender per webhook.** A sender holds a lease on the webhook's row
//!   ([`crate::store::WebhookStore`]), taken with one conditional statement and
//!   renewed every third of its length; every write of its progress is conditional on
//!   still holding it. It stops before an attempt that could outlast the lease as it
//!   last confirmed it, so a sender that cannot reach the database (and so cannot
//!   renew) stops sending before another instance may take over. An instance killed
//!   mid-delivery loses its leases when they expire; another takes them and resumes
//!   from the last position written. Leases are compared with the instances' clocks:
//!   instances must keep them synchronised (NTP) to well within the lease.
//! - **Settings apply from the next change.** A client's change to a webhook (its URL,
//!   events, secret, a pause) that was answered before a change committed applies to
//!   that change, whichever instance sends it: a sender reads the settings of its
//!   webhooks after it takes a change from the log and before it delivers it (one
//!   read for all the senders of an instance that ask together).
//! - **No endpoint delays another.** Each webhook has a sender of its own; a slow or
//!   failing receiver holds only its own.
//!
//! Failed attempts are retried on a [`schedule`] of exponential back-off (about a day
//! in all, honouring `Retry-After`); then the webhook is disabled, with the reason,
//! until a client resumes it, from where it stopped. If retention pruned changes it had
//! not delivered in the meantime, it continues after them and says which it skipped.
//!
//! # Safe to point at the internet
//!
//! Targets must be public addresses, checked after name resolution at every
//! connection ([`target`]); redirects are not followed; each attempt has a time limit
//! and a cap on what is read back (`deliver.rs`). Signing secrets are sealed at rest
//! under the server key when one is configured (`seal.rs`).

mod deliver;
mod dispatch;
mod ledger;
mod metrics;
pub mod schedule;
mod seal;
mod sender;
mod signature;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use self::metrics::WebhookMetrics;
use crate::domain::{
    Attempt, NewWebhook, SigningSecret, Timestamp, Webhook, WebhookPatch, Workspace,
};
use crate::feed::Hub;
use crate::store::{
    EndpointChange, KEPT_ATTEMPTS, NewEndpoint, Rotation, StoreError, WebhookStore,
};
use crate::telemetry::Registry;

use deliver::{Deliverer, Event};
use seal::Sealer;

pub use dispatch::Dispatcher;
pub use schedule::Schedule;
pub use seal::{ServerKey, UnsealError};
pub use target::TargetError;

/// The most webhooks one workspace may have.
pub const MAX_PER_WORKSPACE: u32 = 100;

/// How long a rotated secret keeps signing beside its successor.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// How often the progress of this instance's senders is written (all of them in one
/// transaction).
pub const PERSIST_EVERY: Duration = Duration::from_millis(200);

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// When failed attempts are retried, and how many there are.
    pub schedule: Schedule,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How long a sender's lease lasts unless renewed.
    pub lease: Duration,
    /// How often due webhooks are looked for without a wake-up.
    pub poll: Duration,
    /// Whether targets on private addresses are allowed.
    pub allow_private: bool,
}

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The store failed, or has no such webhook.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The URL's host may not be reached.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The workspace has [`MAX_PER_WORKSPACE`] webhooks already.
    #[error("a workspace has at most {MAX_PER_WORKSPACE} webhooks; delete one first")]
    TooMany,
    /// A stored secret cannot be read.
    #[error(transparent)]
    Unseal(#[from] UnsealError),
}

/// Webhooks as the HTTP layer uses them: endpoints managed, test events sent, and the
/// dispatcher told of changes.
pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    sealer: Sealer,
    deliverer: Deliverer,
    dispatcher: Arc<Dispatcher>,
}

impl Webhooks {
    /// Webhooks kept in `store`, delivered from the changes `hub` follows. Checks that
    /// this instance has the deployment's server key, if it has one (a missing or
    /// different key is refused at start, not discovered at a delivery).
    pub async fn new(
        store: Arc<dyn WebhookStore>,
        hub: Arc<Hub>,
        key: Option<ServerKey>,
        config: WebhookConfig,
        registry: &Registry,
    ) -> Result<Self, WebhookError> {
        let sealer = Sealer::new(key);
        sealer.check(store.as_ref()).await?;
        let deliverer = Deliverer::new(config.timeout, config.allow_private);
        let dispatcher = Dispatcher::new(
            store.clone(),
            hub,
            deliverer.clone(),
            sealer.clone(),
            config,
            WebhookMetrics::register(registry),
        );
        Ok(Webhooks {
            store,
            sealer,
            deliverer,
            dispatcher,
        })
    }

    /// The dispatcher, to start and stop with the server.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Creates a webhook, positioned at the workspace's latest change; it and its
    /// secret, to show once.
    pub async fn create(
        &self,
        workspace: &Workspace,
        new: NewWebhook,
    ) -> Result<(Webhook, SigningSecret), WebhookError> {
        self.check_target(&new.url.parsed()).await?;
        let id = Uuid::now_v7();
        let secret = SigningSecret::generate();
        let endpoint = NewEndpoint {
            id,
            url: new.url,
            events: new.events,
            description: new.description.into_inner(),
            secret: self.sealer.seal(id, &secret),
            now: Timestamp::now(),
        };
        let created = self
            .store
            .create(workspace, &endpoint, MAX_PER_WORKSPACE)
            .await?
            .ok_or(WebhookError::TooMany)?;
        self.dispatcher.wake();
        Ok((created.webhook, secret))
    }

    /// Every webhook of the workspace, oldest first.
    pub async fn list(&self, workspace: &Workspace) -> Result<Vec<Webhook>, StoreError> {
        let stored = self.store.webhooks(workspace).await?;
        Ok(stored.into_iter().map(|stored| stored.webhook).collect())
    }

    /// One webhook of the workspace.
    pub async fn get(
        &self,
        workspace: &Workspace,
        id: Uuid,
    ) -> Result<Option<Webhook>, StoreError> {
        Ok(self
            .store
            .webhook(workspace, id)
            .await?
            .map(|stored| stored.webhook))
    }

    /// Applies a client's change; the webhook as it now is, and its new secret if the
    /// change rotated it. It applies to every change committed after it (see the
    /// module's "Settings apply from the next change"); an idle sender here stops at
    /// once when paused, one elsewhere within a third of the lease.
    pub async fn change(
        &self,
        workspace: &Workspace,
        id: Uuid,
        patch: WebhookPatch,
    ) -> Result<(Webhook, Option<SigningSecret>), WebhookError> {
        let nothing = patch.url.is_none()
            && patch.events.is_none()
            && patch.description.is_none()
            && patch.status.is_none()
            && !patch.rotate_secret;
        if nothing {
            let current = self.store.webhook(workspace, id).await?;
            return Ok((current.ok_or(StoreError::NotFound)?.webhook, None));
        }
        if let Some(url) = &patch.url {
            self.check_target(&url.parsed()).await?;
        }
        let now = Timestamp::now();
        let (rotation, secret) = if patch.rotate_secret {
            let current = self
                .store
                .webhook(workspace, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let secret = SigningSecret::generate();
            // Sealed again: a secret stored before the server key was set is sealed
            // now, for the day it keeps signing.
            let previous = self.sealer.unseal(id, &current.secret)?;
            let rotation = Rotation {
                secret: self.sealer.seal(id, &secret),
                previous: self.sealer.seal(id, &previous),
                until: Timestamp::from_micros(
                    now.as_micros() + ROTATION_OVERLAP.as_micros() as i64,
                )
                .expect("a day from now is a valid instant"),
            };
            (Some(rotation), Some(secret))
        } else {
            (None, None)
        };
        let change = EndpointChange {
            url: patch.url,
            events: patch.events,
            description: patch.description.map(|d| d.into_inner()),
            status: patch.status,
            rotation,
            now,
        };
        let changed = self.store.change(workspace, id, &change).await?;
        self.dispatcher.renew_now();
        Ok((changed.webhook, secret))
    }

    /// Deletes a webhook; its sender stops.
    pub async fn remove(&self, workspace: &Workspace, id: Uuid) -> Result<(), StoreError> {
        self.store.remove(workspace, id).await?;
        self.dispatcher.renew_now();
        Ok(())
    }

    /// The webhook and its latest attempts, newest first.
    pub async fn deliveries(
        &self,
        workspace: &Workspace,
        id: Uuid,
    ) -> Result<Option<(Webhook, Vec<Attempt>)>, StoreError> {
        let Some(stored) = self.store.webhook(workspace, id).await? else {
            return Ok(None);
        };
        let attempts = self.store.attempts(id, KEPT_ATTEMPTS as u32).await?;
        Ok(Some((stored.webhook, attempts)))
    }

    /// Sends a signed `webhook.test` event now and records the attempt; `None` if the
    /// workspace has no such webhook.
    pub async fn test(
        &self,
        workspace: &Workspace,
        id: Uuid,
    ) -> Result<Option<Attempt>, WebhookError> {
        let Some(stored) = self.store.webhook(workspace, id).await? else {
            return Ok(None);
        };
        let secrets = sender::secrets(&self.sealer, &stored, Timestamp::now())?;
        let outcome = self
            .deliverer
            .attempt(&stored.webhook.url, &secrets, &Event::test(id))
            .await;
        let mut attempt = outcome.attempt;
        attempt.id = self.store.record(id, &attempt).await?;
        Ok(Some(attempt))
    }

    async fn check_target(&self, url: &url::Url) -> Result<(), TargetError> {
        if self.deliverer.allows_private() {
            return Ok(());
        }
        let host = url.host().expect("a webhook URL names a host");
        target::check_host(&host).await
    }
}
