//! What wakes a follower up: this instance's own writes, and every instance's through
//! PostgreSQL's `NOTIFY` or, on SQLite with a Redis (several instances on one file),
//! Redis pub/sub. Wake-ups are hints that save a follower its poll interval; the log is
//! the source of truth, so a wake-up lost (a dropped listener connection, a full queue,
//! a publish that failed) delays changes by at most one poll and loses none. Where a
//! wake-up source may have missed some, it wakes every follower.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use super::Hub;
use crate::cache::RedisTier;
use crate::domain::Workspace;
use crate::store::CHANGES_CHANNEL;

/// Wakes the follower of each workspace this instance writes to, and tells the other
/// instances through `publish` if given.
pub fn on_local_writes(
    hub: Arc<Hub>,
    mut writes: broadcast::Receiver<Workspace>,
    publish: Option<Arc<RedisTier>>,
) {
    tokio::spawn(async move {
        loop {
            match writes.recv().await {
                Ok(workspace) => {
                    hub.wake(&workspace);
                    if let Some(tier) = &publish
                        && let Err(error) = tier.publish_change(&workspace).await
                    {
                        tracing::debug!(%error, "could not publish a change to the other instances; they poll");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => hub.wake_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Wakes the follower of each workspace another instance publishes a write to (see
/// [`on_local_writes`]), until the hub closes.
pub fn on_redis_messages(hub: Arc<Hub>, tier: Arc<RedisTier>) {
    tokio::spawn(async move {
        let mut closed = hub.closed();
        tokio::select! {
            () = subscribe(&hub, &tier) => {}
            _ = closed.wait_for(|closed| *closed) => {}
        }
    });
}

async fn subscribe(hub: &Hub, tier: &RedisTier) {
    const RECONNECT: Duration = Duration::from_secs(1);
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
                hub.wake(&Workspace::named(workspace));
            }
        }
        tracing::debug!("lost the subscription to other instances' changes; subscribing again");
        tokio::time::sleep(RECONNECT).await;
    }
}

/// Wakes the follower of each workspace any instance commits a write to, from the
/// notifications the write transactions send (`{seq} {workspace}` on
/// [`CHANGES_CHANNEL`]), until the hub closes. PostgreSQL delivers a notification only
/// once its transaction has committed.
pub fn on_postgres_notifications(hub: Arc<Hub>, url: String) {
    tokio::spawn(async move {
        let mut closed = hub.closed();
        tokio::select! {
            () = listen(&hub, &url) => {}
            _ = closed.wait_for(|closed| *closed) => {}
        }
    });
}

async fn listen(hub: &Hub, url: &str) {
    const RECONNECT: Duration = Duration::from_secs(1);
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
                    if let Some((_seq, workspace)) = notification.payload().split_once(' ') {
                        hub.wake(&Workspace::named(workspace.to_owned()));
                    }
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
