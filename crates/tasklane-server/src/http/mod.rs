//! The HTTP API: routes, shared state, request-wide limits and the OpenAPI document.
//!
//! Every error, including the router's own (unknown route, wrong method, a panic),
//! leaves as an RFC 9457 problem-details document.

mod auth;
#[cfg(feature = "bench")]
mod ceiling;
mod conditional;
mod deadline;
mod framing;
mod idempotency;
mod json_body;
mod openapi;
mod path_id;
mod problem;
mod tasks;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::cache::{CacheHealth, TaskCache};

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
    /// Who each request acts for.
    pub auth: Arc<Authenticator>,
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
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
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
}

/// Runs the rest of the request as a task of its own, which finishes even when the
/// client goes away or [`deadline`](deadline::deadline) answers first. A handler dropped
/// in the middle of a database transaction could hand its connection back to the pool
/// with the transaction still open, and the next request to use that connection would
/// fail; seen on PostgreSQL as "SET TRANSACTION ISOLATION LEVEL must be called before
/// any query" after a load generator closed its connections mid-request.
async fn detached(request: Request<Body>, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
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

/// The whole application router.
pub fn router(state: AppState, limits: Limits) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let router = Router::new()
        .route("/v1/tasks", get(tasks::list).post(tasks::create))
        .route("/v1/tasks/{id}", get(tasks::get).patch(tasks::update).delete(tasks::delete))
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/healthz", get(healthz))
        .merge(bench_routes())
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(openapi::routes())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method")
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
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the server failed to handle this request").into_response()
        }))
        // Every success may be kept, but revalidated (cheaply, with its ETag) before each
        // use: a cache Tasklane does not control cannot keep its freshness contract.
        // Errors say `no-store` themselves (`Problem`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        })
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state);
    if limits.cors_origins.is_empty() {
        router
    } else {
        router.layer(cors(limits.cors_origins))
    }
}

/// The HTTP ceiling's route, in benchmark builds only.
#[cfg(feature = "bench")]
fn bench_routes() -> Router<AppState> {
    Router::new().route("/bench/fixed", get(ceiling::fixed))
}

#[cfg(not(feature = "bench"))]
fn bench_routes() -> Router<AppState> {
    Router::new()
}

/// Readiness, as `/readyz` reports it.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready`, `degraded` (serving, but from the database only) or `unavailable`.
    status: &'static str,
    /// `ok`, `unavailable` (not answering) or `damaged` (answering, but its task table
    /// cannot be read: an operator must restore it).
    database: &'static str,
    /// `ok` or `degraded` (Redis not answering, or a write not yet confirmed).
    cache: &'static str,
}

/// Readiness: whether the database serves reads.
///
/// `200` while the database serves reads (`degraded` when the cache stands aside), `503`
/// when it does not: not answering, or damaged. It reads a row of the task table as a
/// list would, so a database that answers but cannot serve a list is not reported ready.
#[utoipa::path(get, path = "/readyz", operation_id = "checkReadiness", tag = "operations", security(()), responses(
    (status = 200, description = "Serving", body = Readiness),
    (status = 503, description = "The database is not answering, or it is damaged", body = Readiness),
))]
async fn readyz(State(app): State<AppState>) -> Response {
    let database = match app.tasks.ping_database().await {
        Ok(()) => "ok",
        Err(crate::store::StoreError::Damaged(cause)) => {
            tracing::error!(error = %cause, "not ready: the database is damaged; restore it from a backup");
            "damaged"
        }
        Err(_) => "unavailable",
    };
    let cache = app.tasks.health().await;
    let readiness = Readiness {
        status: match (database, cache) {
            ("ok", CacheHealth::Degraded) => "degraded",
            ("ok", CacheHealth::Ok) => "ready",
            _ => "unavailable",
        },
        database,
        cache: if cache == CacheHealth::Ok {
            "ok"
        } else {
            "degraded"
        },
    };
    let status = if database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

/// Cache counters, in the Prometheus text format.
///
/// Reads served, and the reads among them that queried the database (the hit ratio is
/// `1 - loads / reads`).
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations", security(()), responses(
    (status = 200, description = "Counters since the process started", body = String, content_type = "text/plain"),
))]
async fn metrics(State(app): State<AppState>) -> Response {
    let (reads, loads) = app.tasks.read_counts();
    let text = format!(
        "# HELP tasklane_reads_total Task and list reads served (304s included).\n\
         # TYPE tasklane_reads_total counter\n\
         tasklane_reads_total {reads}\n\
         # HELP tasklane_read_loads_total Reads that queried the database (cache misses and bypasses).\n\
         # TYPE tasklane_read_loads_total counter\n\
         tasklane_read_loads_total {loads}\n"
    );
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    )];
    (content_type, text).into_response()
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", operation_id = "checkLiveness", tag = "operations", security(()), responses((status = 200, description = "Serving", body = String)))]
async fn healthz() -> Response {
    "ok".into_response()
}
