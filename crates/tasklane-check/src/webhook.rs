//! `--webhooks`: in every scenario, a webhook in the workspace the scenario writes to,
//! delivering to the check's own [`Receiver`] on 127.0.0.1, as an application that
//! mirrors its tasks elsewhere does.
//!
//! It is registered before the workload starts ([`Webhooks::register`]), so it owes
//! every change the scenario makes. Meanwhile the receiver may fail now and then (an
//! error status, a closed connection), never twice in a row, on top of the scenario's
//! own faults. After the read-back, the log is read up to its head, the webhook is
//! given time to deliver it all ([`Registered::finish`]), and it is deleted; what the
//! receiver got and what the log holds ([`Watched`]) are then judged
//! (`verdict/webhook.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Logged, Target, Webhook};
use crate::history::Cause;
use crate::receiver::{Fault, Receiver, Summary};

/// How long a webhook is given, once the read-back is over, to deliver the log up to
/// its head.
const CATCH_UP: Duration = Duration::from_secs(30);

/// Every this many requests, the receiver fails one (when its faults are on)...
const FAULT_EVERY: usize = 10;

/// ...and no more often than this: a webhook delivers one change at a time, so a failure
/// (and the retry's wait) costs it a share of its time, and it must still keep up with a
/// soak's writes.
const FAULT_SPACING: Duration = Duration::from_secs(1);

/// The check's receiver, and whether it misbehaves.
#[derive(Clone)]
pub struct Webhooks {
    /// The receiver every scenario's webhook delivers to.
    pub receiver: Arc<Receiver>,
    /// Whether it fails a request now and then: only for instances the check started,
    /// whose retries it makes quick (`--webhook-first-retry`).
    pub faults: bool,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Webhooks {{ port: {}, faults: {} }}",
            self.receiver.port(),
            self.faults
        )
    }
}

/// What one scenario's webhook did, for the checks and the report.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// Its endpoint on the receiver.
    pub endpoint: String,
    /// The log position it started after.
    pub position: u64,
    /// The log's head once the run was over, which it had to reach.
    pub head: Option<u64>,
    /// The log's changes after its position up to the head, as the server keeps them.
    pub log: Vec<Logged>,
    /// What the receiver got.
    pub summary: Summary,
    /// Why it could not be judged, if it could not.
    pub unjudged: Option<String>,
}

/// A scenario's webhook, registered.
pub struct Registered {
    webhook: Webhook,
    endpoint: String,
}

impl Webhooks {
    /// `tasklane serve` options for instances the check starts: loopback targets
    /// allowed (the receiver is on 127.0.0.1); quick retries, and a short lease and
    /// attempt timeout, so that a killed instance's endpoint moves on within the run.
    pub fn serve_options() -> Vec<String> {
        [
            "--webhook-allow-private",
            "--webhook-first-retry",
            "100ms",
            "--webhook-timeout",
            "1s",
            "--webhook-lease",
            "3s",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Registers a webhook for scenario `name`'s workspace, on the first instance of
    /// `target` that takes it (its endpoint named after the scenario and its marker),
    /// and turns the receiver's faults on; why not, if no instance took it.
    pub async fn register(
        &self,
        client: &Client,
        target: &Target,
        name: &str,
    ) -> Result<Registered, String> {
        let endpoint = format!("{name}-{}", target.marker);
        let url = self.receiver.url(&endpoint);
        let mut failure = String::new();
        for attempt in 0..20 {
            match client
                .create_webhook(target, attempt % target.instances.len(), &url)
                .await
            {
                Ok(webhook) => {
                    self.receiver
                        .trust(&endpoint, &webhook.secret)
                        .map_err(|error| format!("{error:#}"))?;
                    if self.faults {
                        self.receiver.fail_every(
                            FAULT_EVERY,
                            FAULT_SPACING,
                            vec![Fault::Status(500), Fault::Close, Fault::Status(503)],
                        );
                    }
                    return Ok(Registered { webhook, endpoint });
                }
                // The URL refused (Tasklane answers 422; a 400 is as plain).
                Err((Cause::Status(400 | 422), why)) => {
                    return Err(format!(
                        "{url} was refused: {why} (instances checked with --url must run \
                         with --webhook-allow-private, as the receiver is on 127.0.0.1)"
                    ));
                }
                Err((Cause::Status(code), why)) if (400..500).contains(&code) && code != 429 => {
                    return Err(why);
                }
                Err((_, why)) => failure = why,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(failure)
    }
}

impl Registered {
    /// After the read-back: reads the log from the webhook's position to its head,
    /// waits (for [`CATCH_UP`] at most) until the webhook has delivered up to it, then
    /// deletes the webhook; what it did.
    pub async fn finish(self, webhooks: &Webhooks, client: &Client, target: &Target) -> Watched {
        let receiver = &webhooks.receiver;
        receiver.heal();
        let mut watched = Watched {
            endpoint: self.endpoint.clone(),
            position: self.webhook.position,
            ..Watched::default()
        };
        let mut log = Err(String::new());
        for attempt in 0..20 {
            let read = client.log(target, attempt % target.instances.len(), watched.position);
            log = read.await.map_err(|(_, why)| why);
            if log.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        match log {
            Ok((log, head)) => {
                watched.log = log;
                watched.head = Some(head);
                // Every change up to the head acknowledged (each delivered change is
                // the next, or the receiver reports it out of order).
                let owed = usize::try_from(head.saturating_sub(watched.position));
                let owed = owed.unwrap_or(usize::MAX);
                let reached = |summary: &Summary| summary.acknowledged() >= owed;
                receiver.wait_until(&self.endpoint, CATCH_UP, reached).await;
            }
            Err(why) => watched.unjudged = Some(format!("the log could not be read: {why}")),
        }
        watched.summary = receiver.summary(&self.endpoint);
        for attempt in 0..target.instances.len() {
            let deleted = client.delete_webhook(target, attempt, &self.webhook.id);
            if deleted.await.is_ok() {
                break;
            }
        }
        // Judged from its summary: what it received goes (a delivery still on its way
        // from before the deletion may arrive, and is all that stays).
        receiver.forget(&self.endpoint);
        watched
    }
}
