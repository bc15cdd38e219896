//! Requests as metrics: by route template (never the raw path, which carries ids and
//! would make a series per task), method and status class; latency by route; requests
//! in flight.
//!
//! A route's handles are registered the first time it is requested and found again by
//! its template (a shard lookup), so a request formats no label.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Method, Request};
use axum::middleware::Next;
use axum::response::Response;
use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram};

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

/// The handles of one route.
struct Route {
    template: String,
    duration: Histogram,
    /// By method (the `METHODS` index, `other` last) and status class.
    requests: [[OnceLock<Counter>; CLASSES]; METHODS.len() + 1],
}

/// The HTTP server's request metrics.
#[derive(Clone)]
pub(super) struct HttpMetrics {
    registry: Arc<Registry>,
    routes: Arc<DashMap<String, Arc<Route>>>,
    in_flight: Gauge,
}

impl HttpMetrics {
    /// Registers the request metrics in `registry`.
    pub(super) fn register(registry: &Arc<Registry>) -> Self {
        HttpMetrics {
            in_flight: registry.gauge(
                "tasklane_http_requests_in_flight",
                "Requests being handled (their response not yet begun)",
                &[] as &[(&str, &str)],
            ),
            registry: registry.clone(),
            routes: Arc::default(),
        }
    }

    fn route(&self, template: &str) -> Arc<Route> {
        if let Some(route) = self.routes.get(template) {
            return route.clone();
        }
        self.routes
            .entry(template.to_owned())
            .or_insert_with(|| {
                Arc::new(Route {
                    template: template.to_owned(),
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

    fn count(&self, route: &Route, method: &Method, status: axum::http::StatusCode) {
        let index = METHODS
            .iter()
            .position(|(known, _)| *known == method)
            .unwrap_or(METHODS.len());
        let class = status_class(status);
        let slot = usize::from(class.as_bytes()[0] - b'1');
        route.requests[index][slot]
            .get_or_init(|| {
                let method = METHODS.get(index).map_or("other", |(_, label)| label);
                self.registry.counter(
                    "tasklane_http_requests_total",
                    "Requests answered, by route template, method and status class",
                    &[
                        ("route", route.template.clone()),
                        ("method", (*method).to_owned()),
                        ("status", class.to_owned()),
                    ],
                )
            })
            .increment(1);
    }
}

/// Counts and times every request (as middleware around the router's routes).
pub(super) async fn measure(
    State(metrics): State<HttpMetrics>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = metrics.route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED, MatchedPath::as_str),
    );
    let method = request.method().clone();
    let in_flight = InFlight::begin(&metrics.in_flight);
    let response = next.run(request).await;
    drop(in_flight);
    route.duration.record(started.elapsed());
    metrics.count(&route, &method, response.status());
    response
}

/// A request in flight, counted until it is answered or dropped (its client gone).
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn begin(gauge: &'a Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
