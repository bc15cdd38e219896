//! The HTTP API: the application router, assembled from one router per resource
//! (`tasks`, `changes` and its `stream`, `tokens`, `webhooks`, the operations routes in
//! `health`; each with its handlers and its part of the OpenAPI document), the
//! document's own (`openapi`) and the web app's files (`ui`), under the middleware every
//! request passes through; the shared state and the request-wide limits.
//!
//! Every error, including the router's own (unknown route, wrong method, a panic),
//! leaves as an RFC 9457 problem-details document.

mod access_log;
mod auth;
#[cfg(feature = "bench")]
mod ceiling;
mod changes;
mod conditional;
mod deadline;
mod framing;
mod health;
mod idempotency;
mod json_body;
mod metrics;
mod openapi;
mod path_id;
mod problem;
mod stream;
mod tasks;
mod tokens;
mod ui;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;

use crate::cache::TaskCache;
use crate::feed::{Feed, Hub};
use crate::telemetry::Registry;
use crate::webhook::Webhooks;

pub use auth::{AuthMode, Authenticator};
pub use openapi::ApiDoc;
pub use problem::{Problem, ProblemBody};

/// Largest request body accepted (`413` beyond it).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Tasks, through the cache.
    pub tasks: Arc<TaskCache>,
    /// The change log.
    pub feed: Arc<Feed>,
    /// This instance's followers of the change log, for event streams.
    pub hub: Arc<Hub>,
    /// How long an event stream may stay silent before a heartbeat comment is sent.
    pub heartbeat: Duration,
    /// One permit per event stream this instance may have open at once.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Who each request acts for.
    pub auth: Arc<Authenticator>,
    /// Webhook endpoints, and the test events sent to them.
    pub webhooks: Arc<Webhooks>,
}

/// Browsers on these origins may call the API.
fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    use axum::http::Method;
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static(changes::SEQ_HEADER),
        ])
        .max_age(Duration::from_secs(600))
}

/// Request-wide limits and permissions, from the command line.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Browser origins that may call the API (none: no CORS headers are sent, and
    /// browsers refuse cross-origin calls).
    pub cors_origins: Vec<HeaderValue>,
    /// How long a request may take before it is answered `503`.
    pub request_timeout: Duration,
    /// How long a request body may take to arrive before it is answered `408`.
    pub body_read_timeout: Duration,
    /// A request that takes longer is logged at `WARN`.
    pub slow_request: Duration,
}

/// Runs the rest of the request as a task of its own, which finishes even when the
/// client goes away or [`deadline`](deadline::deadline) answers first. A handler dropped
/// in the middle of a database transaction could hand its connection back to the pool
/// with the transaction still open, and the next request to use that connection would
/// fail; seen on PostgreSQL as "SET TRANSACTION ISOLATION LEVEL must be called before
/// any query" after a load generator closed its connections mid-request.
async fn detached(request: Request<Body>, next: Next) -> Response {
    // The task carries the request's span, which authentication records the workspace in.
    match tokio::spawn(next.run(request).in_current_span()).await {
        Ok(response) => response,
        // The panic goes on to the panic layer, which answers `500`.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
        .into_response(),
    }
}

/// A router that serves `/metrics` alone, for `--metrics-listen`.
pub fn metrics_router(metrics: Arc<Registry>) -> Router {
    health::metrics_only(metrics)
}

/// Longest `x-request-id` a client may choose; a longer one is replaced by a generated
/// id, so that no client, authenticated or not, can make every log line of its requests
/// as long as it likes.
const MAX_REQUEST_ID_BYTES: usize = 128;

async fn bounded_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let too_long = request
        .headers()
        .get("x-request-id")
        .is_some_and(|id| id.len() > MAX_REQUEST_ID_BYTES);
    if too_long {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// The whole application router, with `metrics` at `/metrics` (outside the state every
/// other route shares: a request clones that state, and only `/metrics` needs them).
pub fn router(state: AppState, limits: Limits, metrics: Arc<Registry>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // Every request measured, unless metrics are off (a benchmark's comparison).
    let measured = metrics
        .enabled()
        .then(|| self::metrics::HttpMetrics::register(&metrics));
    let router = Router::new()
        .merge(tasks::router())
        .merge(changes::router())
        .merge(stream::router())
        .merge(tokens::router())
        .merge(webhooks::router())
        .merge(health::router())
        .route_service("/metrics", health::metrics_only(metrics))
        .merge(openapi::router())
        .merge(ui::router());
    #[cfg(feature = "bench")]
    let router = router.merge(ceiling::router());
    let router = router
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(detached))
        .layer(axum::middleware::from_fn_with_state(
            deadline::Deadlines {
                request: limits.request_timeout,
                body: limits.body_read_timeout,
            },
            deadline::deadline,
        ))
        .layer(axum::middleware::from_fn(framing::framing))
        .layer(CatchPanicLayer::custom(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server failed to handle this request",
            )
            .into_response()
        }))
        .layer(tower::util::option_layer(measured))
        // Every success may be kept, but revalidated (cheaply, with its ETag) before each
        // use: a cache Tasklane does not control cannot keep its freshness contract.
        // Errors say `no-store` themselves (`Problem`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(access_log::layer(limits.slow_request))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(bounded_request_id))
        .with_state(state);
    if limits.cors_origins.is_empty() {
        router
    } else {
        router.layer(cors(limits.cors_origins))
    }
}
