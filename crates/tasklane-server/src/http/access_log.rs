//! The request log: a span per request (its route template, request id, and, once
//! authenticated, its workspace and token id), and one line when it is answered, at a
//! level that says whether an operator should read it:
//!
//! - `ERROR` for a `5xx`;
//! - `WARN` for a request slower than `--log-slow-ms`;
//! - `INFO` for a client error (`4xx`) other than `429`: a client or a deployment
//!   mistake worth seeing; `429`s are counted in the metrics instead, since a client
//!   over its rate would otherwise write a line per refused request;
//! - `DEBUG` for everything else, with the request's path and query first (also only
//!   at `DEBUG`: a query can hold search text, which is user data).

use std::time::Duration;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Request, Response, StatusCode};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing::field::Empty;

/// The layer that logs every request; a request slower than `slow` is logged at `WARN`.
#[allow(clippy::type_complexity)]
pub(super) fn layer(
    slow: Duration,
) -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> Span + Clone,
    impl Fn(&Request<Body>, &Span) + Clone,
    impl Fn(&Response<Body>, Duration, &Span) + Clone,
    (),
    (),
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(span)
        .on_request(|request: &Request<Body>, _: &Span| {
            let uri = request.uri();
            tracing::debug!(path = uri.path(), query = uri.query(), "request");
        })
        .on_response(
            move |response: &Response<Body>, latency: Duration, _: &Span| {
                answered(response.status(), latency, slow);
            },
        )
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// A request's span: the route template (never the path, which carries ids), not the
/// query; the workspace and token are recorded by authentication.
fn span(request: &Request<Body>) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id = id,
        workspace = Empty,
        token = Empty,
    )
}

/// The line a request is answered with, at the level its outcome deserves.
fn answered(status: StatusCode, latency: Duration, slow: Duration) {
    let latency_ms = latency.as_secs_f64() * 1e3;
    let status = status.as_u16();
    if status >= 500 {
        tracing::error!(status, latency_ms, "answered with a server error");
    } else if latency >= slow {
        tracing::warn!(status, latency_ms, "slow request");
    } else if status >= 400 && status != 429 {
        tracing::info!(status, latency_ms, "answered with a client error");
    } else {
        tracing::debug!(status, latency_ms, "answered");
    }
}
