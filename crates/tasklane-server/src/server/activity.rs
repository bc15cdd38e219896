//! What one connection is doing, and when it has gone unused for too long.
//!
//! A connection is always in one of three phases, and each has its own limit:
//!
//! - **awaiting a request** (just accepted, or the first bytes of its next request have
//!   arrived): the request's head must be complete within the header read timeout, however
//!   its bytes are spaced, so a client that drips a header every few seconds is cut off
//!   like one that sends nothing;
//! - **idle** between requests (kept alive): closed after the idle timeout;
//! - **serving** a request: no limit of its own, since each request has its limits (body
//!   read time, request time) and a long-lived response such as an event stream may last
//!   as long as it sends. A response the client has stopped reading (no write progress
//!   for the idle timeout) is cut off, or it would hold its connection for ever.
//!
//! hyper's own `header_read_timeout` is not used: it counts from the end of the previous
//! response, so on a kept-alive connection it is also the idle timeout, and the two
//! limits could not be set apart.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a connection may wait in each phase.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From a connection's acceptance, or from the first byte of a request on a
    /// kept-alive one, until the request's head is complete.
    pub header_read: Duration,
    /// Between requests, and with a response the client has stopped reading.
    pub idle: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingRequest {
        since: Instant,
    },
    Idle {
        since: Instant,
    },
    Serving {
        requests: usize,
        write_stalled_since: Option<Instant>,
    },
}

/// Why a connection was closed for want of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unused {
    /// A request's head did not arrive in full within the header read timeout.
    SlowRequestHead,
    /// No request came within the idle timeout.
    Idle,
    /// The client stopped reading a response.
    StalledResponse,
}

/// One connection's phase, shared by its socket ([`Watched`]), its requests
/// ([`InFlight`]) and the task that serves it ([`Activity::unused`]).
#[derive(Clone)]
pub struct Activity(Arc<watch::Sender<Phase>>);

impl Activity {
    /// A connection just accepted: awaiting its first request.
    pub fn new() -> Self {
        let (phase, _) = watch::channel(Phase::AwaitingRequest {
            since: Instant::now(),
        });
        Activity(Arc::new(phase))
    }

    /// Bytes arrived: on an idle connection, the next request has begun.
    fn received(&self) {
        if matches!(*self.0.borrow(), Phase::Idle { .. }) {
            self.0.send_replace(Phase::AwaitingRequest {
                since: Instant::now(),
            });
        }
    }

    /// A write could not proceed (the client is not reading) or proceeded again.
    fn write_progress(&self, blocked: bool) {
        let stalled = match *self.0.borrow() {
            Phase::Serving {
                write_stalled_since,
                ..
            } => write_stalled_since.is_some(),
            _ => return,
        };
        if stalled != blocked {
            self.0.send_modify(|phase| {
                if let Phase::Serving {
                    write_stalled_since,
                    ..
                } = phase
                {
                    *write_stalled_since = blocked.then(Instant::now);
                }
            });
        }
    }

    /// A request has been received; the connection serves it until the returned guard
    /// is dropped (with its response's body).
    pub fn begin(&self) -> InFlight {
        self.0.send_modify(|phase| {
            *phase = match *phase {
                Phase::Serving {
                    requests,
                    write_stalled_since,
                } => Phase::Serving {
                    requests: requests + 1,
                    write_stalled_since,
                },
                _ => Phase::Serving {
                    requests: 1,
                    write_stalled_since: None,
                },
            }
        });
        InFlight(self.clone())
    }

    fn end(&self) {
        self.0.send_modify(|phase| {
            if let Phase::Serving {
                requests,
                write_stalled_since,
            } = *phase
            {
                *phase = match requests {
                    0 | 1 => Phase::Idle {
                        since: Instant::now(),
                    },
                    more => Phase::Serving {
                        requests: more - 1,
                        write_stalled_since,
                    },
                };
            }
        });
    }

    /// Completes when the connection has stayed too long in a phase with a limit.
    pub async fn unused(&self, timeouts: Timeouts) -> Unused {
        let mut changes = self.0.subscribe();
        loop {
            let limit = match *changes.borrow_and_update() {
                Phase::AwaitingRequest { since } => {
                    Some((since + timeouts.header_read, Unused::SlowRequestHead))
                }
                Phase::Idle { since } => Some((since + timeouts.idle, Unused::Idle)),
                Phase::Serving {
                    write_stalled_since: Some(since),
                    ..
                } => Some((since + timeouts.idle, Unused::StalledResponse)),
                Phase::Serving { .. } => None,
            };
            match limit {
                // The sender lives in `self`: `changed` cannot fail while this runs.
                None => {
                    let _ = changes.changed().await;
                }
                Some((deadline, reason)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => return reason,
                        _ = changes.changed() => {}
                    }
                }
            }
        }
    }
}

/// A request being served; dropped with the end of its response (or when the
/// connection goes away), which may leave the connection idle.
pub struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that holds its request's [`InFlight`] until it has been sent.
pub struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    /// `body`, keeping `in_flight` alive as long as it is.
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, reporting what moves through it to its [`Activity`].
pub struct Watched<IO> {
    io: IO,
    activity: Activity,
}

impl<IO> Watched<IO> {
    /// `io`, reporting to `activity`.
    pub fn new(io: IO, activity: Activity) -> Self {
        Watched { io, activity }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        poll
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.activity.write_progress(poll.is_pending());
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.activity.write_progress(poll.is_pending());
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    /// Whether `unused` completes within `within` of (paused) time.
    async fn closes_within(activity: &Activity, within: Duration) -> Option<Unused> {
        tokio::time::timeout(within, activity.unused(TIMEOUTS))
            .await
            .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn each_phase_has_its_own_limit() {
        let activity = Activity::new();
        assert_eq!(
            closes_within(&activity, Duration::from_secs(6)).await,
            Some(Unused::SlowRequestHead)
        );

        let request = activity.begin();
        assert_eq!(
            closes_within(&activity, Duration::from_secs(600)).await,
            None
        );
        drop(request);
        assert_eq!(
            closes_within(&activity, Duration::from_secs(59)).await,
            None
        );
        assert_eq!(
            closes_within(&activity, Duration::from_secs(2)).await,
            Some(Unused::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_request_head_counts_from_its_first_byte() {
        let activity = Activity::new();
        drop(activity.begin());
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.received();
        // The idle limit no longer applies; the head limit counts from now.
        assert_eq!(
            closes_within(&activity, Duration::from_secs(6)).await,
            Some(Unused::SlowRequestHead)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_the_client_stops_reading_is_cut_off() {
        let activity = Activity::new();
        let _first = activity.begin();
        let _second = activity.begin();
        activity.write_progress(true);
        activity.write_progress(false);
        assert_eq!(
            closes_within(&activity, Duration::from_secs(120)).await,
            None
        );
        activity.write_progress(true);
        assert_eq!(
            closes_within(&activity, Duration::from_secs(61)).await,
            Some(Unused::StalledResponse)
        );
    }
}
