//! Requests as metrics: by route template (never the raw path, which carries ids and
//! would make a series per task), method and status class; latency by route; requests
//! in flight.
//!
//! A tower layer rather than an axum `from_fn` middleware: `from_fn` clones the whole
//! stack beneath it and boxes it for every request, which cost the cached list read
//! several percent; this one calls the service beneath and wraps its future. A route's
//! handles are registered the first time it is requested and found again by its
//! template (a shard lookup), so a request formats no label.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, StatusCode};
use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram};
use tower::{Layer, Service};

use crate::telemetry::{Registry, status_class};

/// The route label of a request no route matched (a `404`), so that scanners cannot
/// make a series per path they try.
const UNMATCHED: &str = "unmatched";

/// The methods the API answers to, as labels; anything else is `other`.
const METHODS: [(&Method, &str); 5] = [
    (&Method::GET, "GET"),
    (&Method::POST, "POST"),
    (&Method::PATCH, "PATCH"),
    (&Method::DELETE, "DELETE"),
    (&Method::OPTIONS, "OPTIONS"),
];

/// Status classes, `1xx` to `5xx`.
const CLASSES: usize = 5;

/// The handles of one route (and what registering its counters takes).
struct Route {
    template: String,
    registry: Arc<Registry>,
    in_flight: Gauge,
    duration: Histogram,
    /// By method (the `METHODS` index, `other` last) and status class.
    requests: [[OnceLock<Counter>; CLASSES]; METHODS.len() + 1],
}

/// The HTTP server's request metrics, as a layer around every route.
#[derive(Clone)]
pub(super) struct HttpMetrics(Arc<Handles>);

struct Handles {
    registry: Arc<Registry>,
    routes: DashMap<String, Arc<Route>>,
    in_flight: Gauge,
}

impl HttpMetrics {
    /// Registers the request metrics in `registry`.
    pub(super) fn register(registry: &Arc<Registry>) -> Self {
        HttpMetrics(Arc::new(Handles {
            in_flight: registry.gauge(
                "tasklane_http_requests_in_flight",
                "Requests being handled (their response not yet begun)",
                &[] as &[(&str, &str)],
            ),
            registry: registry.clone(),
            routes: DashMap::new(),
        }))
    }
}

impl Handles {
    fn route(&self, template: &str) -> Arc<Route> {
        if let Some(route) = self.routes.get(template) {
            return route.clone();
        }
        self.routes
            .entry(template.to_owned())
            .or_insert_with(|| {
                Arc::new(Route {
                    template: template.to_owned(),
                    registry: self.registry.clone(),
                    in_flight: self.in_flight.clone(),
                    duration: self.registry.histogram(
                        "tasklane_http_request_duration_seconds",
                        "Time from a request's arrival to its response's head, by route",
                        &[("route", template.to_owned())],
                    ),
                    requests: Default::default(),
                })
            })
            .clone()
    }
}

impl Route {
    fn count(&self, method: usize, status: StatusCode) {
        let class = status_class(status);
        let slot = usize::from(class.as_bytes()[0] - b'1');
        self.requests[method][slot]
            .get_or_init(|| {
                let method = METHODS.get(method).map_or("other", |(_, label)| label);
                self.registry.counter(
                    "tasklane_http_requests_total",
                    "Requests answered, by route template, method and status class",
                    &[
                        ("route", self.template.clone()),
                        ("method", (*method).to_owned()),
                        ("status", class.to_owned()),
                    ],
                )
            })
            .increment(1);
    }
}

impl<S> Layer<S> for HttpMetrics {
    type Service = Measure<S>;

    fn layer(&self, inner: S) -> Measure<S> {
        Measure {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// A service whose every request is counted and timed.
#[derive(Clone)]
pub(super) struct Measure<S> {
    inner: S,
    metrics: Arc<Handles>,
}

impl<S, A, B> Service<Request<A>> for Measure<S>
where
    S: Service<Request<A>, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Measured<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<A>) -> Self::Future {
        let route = self.metrics.route(
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or(UNMATCHED, MatchedPath::as_str),
        );
        let method = METHODS
            .iter()
            .position(|(known, _)| *known == request.method())
            .unwrap_or(METHODS.len());
        route.in_flight.increment(1.0);
        Measured {
            response: self.inner.call(request),
            started: Instant::now(),
            request: Some(InFlight { route, method }),
        }
    }
}

/// A request in flight: counted as such until it is answered or dropped (its client
/// gone), then counted by its outcome.
struct InFlight {
    route: Arc<Route>,
    method: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.route.in_flight.decrement(1.0);
    }
}

pin_project_lite::pin_project! {
    /// A response on its way, timed.
    pub(super) struct Measured<F> {
        #[pin]
        response: F,
        started: Instant,
        request: Option<InFlight>,
    }
}

impl<F, B, E> Future for Measured<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answered = ready!(this.response.poll(cx));
        if let Some(request) = this.request.take()
            && let Ok(response) = &answered
        {
            request.route.duration.record(this.started.elapsed());
            request.route.count(request.method, response.status());
        }
        Poll::Ready(answered)
    }
}
