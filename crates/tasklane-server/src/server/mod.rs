//! The HTTP server under the router: accepting connections, at most a fixed number at
//! once, serving each with hyper until it is done or has gone unused too long
//! (`activity.rs`), and stopping gracefully.
//!
//! Why a cap: every connection costs a file descriptor, and a process out of descriptors
//! can neither accept nor open a database connection, so a few thousand slow clients
//! would otherwise refuse service to everyone. At the cap the server stops accepting;
//! new connections wait in the listen backlog until one closes, and the unused-connection
//! limits make sure one does.

mod activity;
mod descriptors;
mod metrics;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

pub use self::metrics::ConnectionMetrics;
pub use activity::Timeouts;
pub use descriptors::{connection_cap, raise_descriptor_limit};

use activity::{Activity, Tracked, Watched};

/// Most header fields a request may have; beyond it, `431`.
pub const MAX_HEADERS: usize = 100;

/// Largest request head (request line and header fields), in bytes; beyond it, `431`.
/// It also bounds what one slow client can make the server buffer before its head is
/// complete.
pub const MAX_HEAD_BYTES: usize = 128 << 10;

/// How many connections may be open at once, and how long each may go unused.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    /// Most connections open at once.
    pub max: usize,
    /// Limits on unused connections.
    pub timeouts: Timeouts,
}

/// Serves `router` on `listener` until `stop` completes, then stops accepting, lets every
/// connection finish the requests it has begun, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    metrics: ConnectionMetrics,
    stop: impl Future<Output = ()>,
) {
    metrics.max.set(connections.max as f64);
    let permits = Arc::new(Semaphore::new(connections.max));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES)
        // The connection's own timers ([`activity`]) keep the head and idle limits apart.
        .header_read_timeout(None);
    let builder = Arc::new(builder);
    let mut saturation = Saturation::default();
    tokio::pin!(stop);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics.waits_at_cap.increment(1);
                saturation.reached(connections.max);
                tokio::select! {
                    permit = permits.clone().acquire_owned() => {
                        permit.expect("the semaphore is never closed")
                    }
                    () = &mut stop => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        saturation.accepted(permits.available_permits(), connections.max);
        metrics.accepted.increment(1);
        let (builder, router, watcher) = (builder.clone(), router.clone(), graceful.watcher());
        let open = metrics.open.clone();
        open.increment(1.0);
        tokio::spawn(async move {
            serve_connection(
                &builder,
                stream,
                peer,
                router,
                connections.timeouts,
                watcher,
            )
            .await;
            open.decrement(1.0);
            drop(permit);
        });
    }
    // Closing the listener refuses new connections at once; the ones open finish what
    // they have begun (an idle one closes now).
    drop(listener);
    graceful.shutdown().await;
}

/// One connection, served until it ends, goes unused too long, or (once shutdown has
/// begun) finishes its requests.
async fn serve_connection(
    builder: &http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    watcher: Watcher,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(stream, activity.clone()));
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_flight = requests.begin();
        let mut request = request.map(Body::new);
        // Who is asking: failed authentications are limited per client address.
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.clone().oneshot(request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Body::new(Tracked::new(body, in_flight))))
        }
    });
    tokio::select! {
        served = watcher.watch(builder.serve_connection(io, service)) => {
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        reason = activity.unused(timeouts) => {
            tracing::debug!(%peer, ?reason, "closing an unused connection");
        }
    }
}

/// An accept that failed: a connection the client gave up on is nothing; anything else
/// (out of file descriptors, above all) is logged, and accepting pauses a moment so as
/// not to spin on it.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Whether the server is at its connection cap, so that reaching it is logged once per
/// episode rather than once per connection.
#[derive(Debug, Default)]
struct Saturation {
    since: Option<std::time::Instant>,
}

impl Saturation {
    /// Every connection is taken; returns whether this begins an episode (and was logged).
    fn reached(&mut self, max: usize) -> bool {
        if self.since.is_some() {
            return false;
        }
        self.since = Some(std::time::Instant::now());
        tracing::warn!(
            max_connections = max,
            "at the connection limit: new connections wait until one closes (see --max-connections)"
        );
        true
    }

    /// A connection was accepted with `free` more available; the episode ends once a
    /// quarter of the cap is free again. Returns whether it ended (and was logged).
    fn accepted(&mut self, free: usize, max: usize) -> bool {
        let Some(since) = self.since else {
            return false;
        };
        if free < max.div_ceil(4) {
            return false;
        }
        self.since = None;
        tracing::info!(
            after = ?since.elapsed(),
            "below the connection limit again"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaching_the_cap_is_logged_once_per_episode() {
        let mut saturation = Saturation::default();
        assert!(!saturation.accepted(0, 100), "no episode to end");
        assert!(saturation.reached(100));
        assert!(!saturation.reached(100), "the same episode");
        assert!(!saturation.accepted(1, 100), "still nearly full");
        assert!(!saturation.reached(100));
        assert!(saturation.accepted(25, 100));
        assert!(saturation.reached(100), "a new episode");
    }
}
