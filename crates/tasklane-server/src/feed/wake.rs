//! What wakes a follower up: this instance's own writes, and every instance's through
//! PostgreSQL's `NOTIFY` or, on SQLite with a Redis (several instances on one file),
//! Redis pub/sub. Each instance tells the others of its writes once they have
//! committed. Wake-ups are hints that save a follower its poll interval; the log is the
//! source of truth, so a wake-up lost (a dropped listener connection, a full queue, a
//! notification that failed) delays changes by at most one poll and loses none. Where a
//! wake-up source may have missed some, it wakes every follower.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::broadcast;

use super::Hub;
use super::metrics::Source;
use crate::cache::RedisTier;
use crate::domain::Workspace;

/// The PostgreSQL channel an instance notifies, with the workspace's name as payload,
/// once a write to it has committed.
const CHANGES_CHANNEL: &str = "tasklane_changes";

/// How this instance tells the others of its writes.
pub enum Others {
    /// `NOTIFY` on `CHANGES_CHANNEL`, through a connection of its own.
    Postgres(PgPool),
    /// Redis pub/sub, for instances on one SQLite file.
    Redis(Arc<RedisTier>),
}

impl Others {
    /// Notifications through the PostgreSQL at `url` (connected on first use).
    pub fn postgres(url: &str) -> Result<Others, sqlx::Error> {
        let pool = PgPoolOptions::new().max_connections(1).connect_lazy(url)?;
        Ok(Others::Postgres(pool))
    }

    async fn tell(&self, workspace: &Workspace) -> Result<(), String> {
        match self {
            Others::Postgres(pool) => sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(workspace.as_str())
                .execute(pool)
                .await
                .map(drop)
                .map_err(|error| error.to_string()),
            Others::Redis(tier) => tier
                .publish_change(workspace)
                .await
                .map_err(|error| error.to_string()),
        }
    }
}

/// Wakes the follower of each workspace this instance writes to, and tells `others` if
/// given: after the commit, off the request's path, once for all the writes to one
/// workspace that came meanwhile.
pub fn on_local_writes(
    hub: Arc<Hub>,
    mut writes: broadcast::Receiver<Workspace>,
    others: Option<Others>,
) {
    tokio::spawn(async move {
        loop {
            let mut written = HashSet::new();
            match writes.recv().await {
                Ok(workspace) => {
                    written.insert(workspace);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => hub.wake_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
            while let Ok(workspace) = writes.try_recv() {
                written.insert(workspace);
            }
            for workspace in &written {
                hub.wake(workspace, Source::Local);
                if let Some(others) = &others
                    && let Err(error) = others.tell(workspace).await
                {
                    tracing::debug!(%error, "could not tell the other instances of a change; they poll");
                }
            }
        }
    });
}

/// Wakes the follower of each workspace another instance publishes a write to (see
/// [`on_local_writes`]), until the hub closes.
pub fn on_redis_messages(hub: Arc<Hub>, tier: Arc<RedisTier>) {
    until_closed(hub, move |hub| async move { subscribe(&hub, &tier).await });
}

/// Runs `source` (a loop that never ends by itself) in a task of its own, until the hub
/// closes.
fn until_closed<F: Future<Output = ()> + Send + 'static>(
    hub: Arc<Hub>,
    source: impl FnOnce(Arc<Hub>) -> F,
) {
    let mut closed = hub.closed();
    let source = source(hub);
    tokio::spawn(async move {
        tokio::select! {
            () = source => {}
            _ = closed.wait_for(|closed| *closed) => {}
        }
    });
}

/// How long a lost subscription or listener waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

async fn subscribe(hub: &Hub, tier: &RedisTier) {
    loop {
        let pubsub = match tier.subscribe_changes().await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::debug!(%error, "cannot subscribe to other instances' changes; polling meanwhile");
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
        };
        // Whatever was published before this subscription is unknown.
        hub.wake_all();
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            if let Ok(workspace) = message.get_payload::<String>() {
                hub.wake(&Workspace::named(workspace), Source::Redis);
            }
        }
        tracing::debug!("lost the subscription to other instances' changes; subscribing again");
        tokio::time::sleep(RECONNECT).await;
    }
}

/// Wakes the follower of each workspace any instance writes to, from the notifications
/// on `CHANGES_CHANNEL` (see [`on_local_writes`]), until the hub closes.
pub fn on_postgres_notifications(hub: Arc<Hub>, url: String) {
    until_closed(hub, move |hub| async move { listen(&hub, &url).await });
}

async fn listen(hub: &Hub, url: &str) {
    loop {
        let mut listener = match PgListener::connect(url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other instances' changes; polling meanwhile");
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANGES_CHANNEL).await {
            tracing::warn!(%error, "cannot listen for other instances' changes; polling meanwhile");
            tokio::time::sleep(RECONNECT).await;
            continue;
        }
        // Whatever was notified before this listener was connected is unknown.
        hub.wake_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    hub.wake(
                        &Workspace::named(notification.payload().to_owned()),
                        Source::Postgres,
                    );
                }
                // The connection was lost, and with it any notification meanwhile. The
                // listener has already connected again and listens anew (it reconnects
                // eagerly, before returning `None`; if it could not, the next call errs
                // and the outer loop starts over), so waking every follower now covers
                // every change committed while it was away.
                Ok(None) => hub.wake_all(),
                Err(error) => {
                    tracing::warn!(%error, "lost the listener for other instances' changes; reconnecting");
                    tokio::time::sleep(RECONNECT).await;
                    break;
                }
            }
        }
    }
}
