//! A webhook receiver that can be told to misbehave, for `tasklane check --webhooks`
//! and the webhook tests.
//!
//! An axum server on 127.0.0.1 (a free port) that accepts a `POST` on any path, the
//! path naming the endpoint ([`Receiver::url`]), so one receiver serves every webhook
//! of a check. It records every request ([`Arrival`]: when, headers, raw body, how it
//! was answered) and verifies its signature with the Standard Webhooks reference
//! implementation against the secrets it was given ([`Receiver::trust`]); the
//! [`Summary`] of an endpoint deduplicates by `webhook-id` and names every delivery
//! that broke the sending rules (out of order, overlapping, badly signed).
//!
//! At run time it can be told to fail ([`Fault`]): answer an error status, or
//! `429`/`503` with `Retry-After`, answer only after a delay, close the connection
//! without answering, answer a redirect; for the next few requests
//! ([`Receiver::fail_next`]), every `n`th ([`Receiver::fail_every`]) or until healed
//! ([`Receiver::fail_until_healed`]). It can
//! also go away altogether ([`Receiver::down`]: the listener and every open
//! connection closed) and come back on the same port ([`Receiver::up`]).
//!
//! It serves each connection itself (hyper, with the axum router as the service)
//! rather than through `axum::serve`, so that a request can close its own connection
//! and `down` can cut the connections a sender keeps alive.

mod ledger;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tower::ServiceExt;

pub use ledger::{Answer, Arrival, Delivered, Event, Summary};
use ledger::{Ledger, Ticket};

/// How the receiver misbehaves on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (a `5xx`, say).
    Status(u16),
    /// Answer with this status (`429`, `503`) and a `Retry-After`.
    RetryAfter(u16, RetryAfter),
    /// Answer `200` only after this long: past the sender's attempt timeout, the
    /// sender has given up by then.
    Delay(Duration),
    /// Close the connection without answering.
    Close,
    /// Answer with this redirect status (`301`, `302`, `307`, `308`), to the endpoint's
    /// path followed by `/moved`, on this receiver.
    Redirect(u16),
}

/// A `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delay seconds.
    Seconds(u64),
    /// An HTTP date.
    Date(SystemTime),
}

impl RetryAfter {
    fn header(self) -> HeaderValue {
        let text = match self {
            RetryAfter::Seconds(seconds) => seconds.to_string(),
            RetryAfter::Date(date) => httpdate::fmt_http_date(date),
        };
        HeaderValue::from_str(&text).expect("digits or an HTTP date")
    }
}

/// How often [`Receiver::wait_until`] looks again while requests keep arriving, once
/// the endpoint has more than [`RECHECK_ABOVE`] arrivals.
const RECHECK: Duration = Duration::from_millis(100);

/// Arrivals past which [`Receiver::wait_until`] looks no more often than [`RECHECK`].
const RECHECK_ABOVE: usize = 1000;

/// The faults still to come.
#[derive(Debug, Default)]
struct Faults {
    /// For the next requests, one each.
    next: VecDeque<Fault>,
    /// For every request after those, until healed.
    standing: Option<Fault>,
    /// Otherwise, now and then, these in turn.
    every: Option<Every>,
    /// How long every answer is held back, fault or not.
    hold: Duration,
}

/// Faults met now and then: by a request at least `n` after the last one that met one,
/// and at least `spacing` after it.
#[derive(Debug)]
struct Every {
    n: usize,
    spacing: Duration,
    faults: Vec<Fault>,
    /// Faults met so far.
    met: usize,
    /// Requests since the last fault (or the start).
    since: usize,
    /// When the last fault was met.
    last: Option<Duration>,
}

impl Every {
    /// The fault a request arriving `now` meets, if any.
    fn next(&mut self, now: Duration) -> Option<Fault> {
        self.since += 1;
        let spaced = self
            .last
            .is_none_or(|last| now.saturating_sub(last) >= self.spacing);
        if self.since < self.n || !spaced {
            return None;
        }
        let fault = self.faults[self.met % self.faults.len()].clone();
        self.met += 1;
        self.since = 0;
        self.last = Some(now);
        Some(fault)
    }
}

/// What the server's requests share with the [`Receiver`].
struct Shared {
    started: Instant,
    ledger: Mutex<Ledger>,
    faults: Mutex<Faults>,
    /// Counts arrivals and answers, for [`Receiver::wait_until`].
    changed: watch::Sender<u64>,
}

impl Shared {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("not poisoned")
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().expect("not poisoned")
    }

    fn answer(&self, ticket: &Ticket, status: Option<u16>) {
        let answer = Answer {
            status,
            at: self.now(),
        };
        self.ledger().answer(ticket, answer);
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The listener and the connections of a receiver that is up.
struct Serving {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

/// A webhook receiver on 127.0.0.1; stopped when dropped.
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    serving: Mutex<Option<Serving>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start() -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the webhook receiver")?;
        let port = listener.local_addr()?.port();
        let receiver = Receiver {
            port,
            shared: Arc::new(Shared {
                started: Instant::now(),
                ledger: Mutex::default(),
                faults: Mutex::default(),
                changed: watch::Sender::new(0),
            }),
            serving: Mutex::default(),
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    /// The port it listens on (the same after [`Receiver::up`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of endpoint `name` (a path without spaces, `/` allowed).
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Deliveries to `endpoint` are signed with `secret` (`whsec_...`); what already
    /// arrived is checked against it too. An endpoint may have several (a rotation).
    pub fn trust(&self, endpoint: &str, secret: &str) -> anyhow::Result<()> {
        standardwebhooks::Webhook::new(secret)
            .map_err(|error| anyhow::anyhow!("an unusable webhook secret: {error}"))?;
        self.shared.ledger().trust(endpoint, secret);
        Ok(())
    }

    /// The next `times` requests meet `fault` (after any queued before).
    pub fn fail_next(&self, times: usize, fault: Fault) {
        let mut faults = self.shared.faults();
        faults.next.extend(std::iter::repeat_n(fault, times));
    }

    /// Every request meets `fault` (once those queued are spent) until
    /// [`Receiver::heal`].
    pub fn fail_until_healed(&self, fault: Fault) {
        self.shared.faults().standing = Some(fault);
    }

    /// Every `n`th request (`n` of 2 or more), and no more often than once per
    /// `spacing`, meets the next of `faults` in turn, until [`Receiver::heal`]: a
    /// delivery is never failed twice in a row by it, as the retry is the next request,
    /// and however fast requests come, failures cost the sender a bounded share of its
    /// time.
    pub fn fail_every(&self, n: usize, spacing: Duration, faults: Vec<Fault>) {
        assert!(
            n >= 2 && !faults.is_empty(),
            "every 2nd request or fewer, some fault"
        );
        self.shared.faults().every = Some(Every {
            n,
            spacing,
            faults,
            met: 0,
            since: 0,
            last: None,
        });
    }

    /// No more faults: every request is answered `200` from now on.
    pub fn heal(&self) {
        let mut faults = self.shared.faults();
        faults.next.clear();
        faults.standing = None;
        faults.every = None;
    }

    /// Every answer is held back this long (shorter than the sender's timeout: not a
    /// failure), which widens the window in which a second send would overlap.
    pub fn hold(&self, hold: Duration) {
        self.shared.faults().hold = hold;
    }

    /// Goes away: the listener closes (connections are refused) and every open
    /// connection is cut, answered or not.
    pub async fn down(&self) {
        let serving = self.serving.lock().expect("not poisoned").take();
        if let Some(serving) = serving {
            serving.accept.abort();
            // The listener is gone once its task is.
            let _ = serving.accept.await;
            for connection in serving.connections.lock().expect("not poisoned").drain(..) {
                connection.abort();
            }
        }
    }

    /// Comes back on the same port after [`Receiver::down`].
    pub async fn up(&self) -> anyhow::Result<()> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(address).await {
                Ok(listener) => break listener,
                // The old listener's socket may take a moment to be released.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("re-binding port {}", self.port));
                }
            }
        };
        self.serve(listener);
        Ok(())
    }

    /// Every request `endpoint` received, in order of arrival.
    pub fn arrivals(&self, endpoint: &str) -> Vec<Arrival> {
        self.shared.ledger().arrivals(endpoint)
    }

    /// The endpoints that received anything, in order of their first request.
    pub fn endpoints(&self) -> Vec<String> {
        self.shared.ledger().endpoints()
    }

    /// Lets go of everything `endpoint` received, once it is judged: a receiver serving
    /// endpoint after endpoint holds only those not yet judged.
    pub fn forget(&self, endpoint: &str) {
        self.shared.ledger().forget(endpoint);
    }

    /// What `endpoint` received, deduplicated and judged.
    pub fn summary(&self, endpoint: &str) -> Summary {
        self.shared.ledger().summary(endpoint)
    }

    /// Waits until `done` holds of `endpoint`'s summary, for `limit` at most; whether
    /// it did. The summary is made again as a request arrives or is answered; past
    /// [`RECHECK_ABOVE`] arrivals (it costs every one of them), no more often than every
    /// [`RECHECK`]: a webhook catching up with thousands of changes is not slowed by the
    /// receiver judging each one, and a short one is seen the moment it is done.
    pub async fn wait_until(
        &self,
        endpoint: &str,
        limit: Duration,
        mut done: impl FnMut(&Summary) -> bool,
    ) -> bool {
        let mut changed = self.shared.changed.subscribe();
        let waited = tokio::time::timeout(limit, async {
            loop {
                let looked = tokio::time::Instant::now();
                let summary = self.summary(endpoint);
                if done(&summary) {
                    return;
                }
                if changed.changed().await.is_err() {
                    return;
                }
                if summary.arrivals > RECHECK_ABOVE {
                    tokio::time::sleep_until(looked + RECHECK).await;
                }
            }
        });
        waited.await.is_ok() && done(&self.summary(endpoint))
    }

    fn serve(&self, listener: TcpListener) {
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let router = Router::new()
            .fallback(receive)
            .with_state(self.shared.clone());
        let accept = tokio::spawn({
            let connections = connections.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let connection = tokio::spawn(connection(stream, router.clone()));
                    let mut open = connections.lock().expect("not poisoned");
                    open.retain(|handle| !handle.is_finished());
                    open.push(connection.abort_handle());
                }
            }
        });
        *self.serving.lock().expect("not poisoned") = Some(Serving {
            accept,
            connections,
        });
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.lock().expect("not poisoned").take() {
            serving.accept.abort();
            for connection in serving.connections.lock().expect("not poisoned").drain(..) {
                connection.abort();
            }
        }
    }
}

/// What a request uses to close its own connection.
#[derive(Clone)]
struct HangUp(Arc<Notify>);

/// Serves one connection until it ends, or until one of its requests hangs up.
async fn connection(stream: tokio::net::TcpStream, router: Router) {
    let hang_up = Arc::new(Notify::new());
    let service = hyper::service::service_fn({
        let hang_up = hang_up.clone();
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(HangUp(hang_up.clone()));
            router.clone().oneshot(request.map(axum::body::Body::new))
        }
    });
    let serving =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        () = hang_up.notified() => {}
    }
}

/// Records a request's connection as cut if the request is dropped before it is
/// answered (the ledger keeps an arrival's first answer only).
struct Unanswered {
    shared: Arc<Shared>,
    ticket: Ticket,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        self.shared.answer(&self.ticket, None);
    }
}

/// Every request: recorded, then answered as the faults say.
async fn receive(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let hang_up = parts.extensions.get::<HangUp>().cloned();
    let endpoint = parts.uri.path().trim_start_matches('/').to_owned();
    let body = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(body) => body,
        Err(_) => Bytes::new(),
    };
    let ticket = shared
        .ledger()
        .arrive(endpoint.clone(), shared.now(), parts.headers, body);
    shared.changed.send_modify(|n| *n += 1);
    let unanswered = Unanswered {
        shared: shared.clone(),
        ticket,
    };
    let (fault, hold) = {
        let mut faults = shared.faults();
        let now = shared.now();
        let fault = faults.next.pop_front().or_else(|| faults.standing.clone());
        let periodic = faults.every.as_mut().and_then(|every| every.next(now));
        (fault.or(periodic), faults.hold)
    };
    tokio::time::sleep(hold).await;
    let response = match fault {
        None => StatusCode::OK.into_response(),
        Some(Fault::Status(code)) => status(code).into_response(),
        Some(Fault::RetryAfter(code, after)) => {
            (status(code), [(header::RETRY_AFTER, after.header())]).into_response()
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK.into_response()
        }
        Some(Fault::Redirect(code)) => {
            let location = format!("/{endpoint}/moved");
            let mut headers = HeaderMap::new();
            headers.insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("a path the request had"),
            );
            (status(code), headers).into_response()
        }
        Some(Fault::Close) => {
            drop(unanswered);
            if let Some(HangUp(hang_up)) = hang_up {
                hang_up.notify_one();
            }
            // The connection ends under this request, which is dropped with it.
            return std::future::pending().await;
        }
    };
    shared.answer(&unanswered.ticket, Some(response.status().as_u16()));
    drop(unanswered);
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
