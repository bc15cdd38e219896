//! The operations routes: liveness (`/healthz`), readiness (`/readyz`) and metrics
//! (`/metrics`), none behind a token, and their OpenAPI description.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use super::AppState;
use crate::cache::CacheHealth;
use crate::store::StoreError;
use crate::telemetry::Registry;

/// The operations routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics` alone, with the registry as its state: merged into the application's
/// router, and on `--metrics-listen`'s listener, where anything else is `404`.
pub(super) fn metrics_only(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async {
            super::Problem::new(StatusCode::NOT_FOUND, "only /metrics is served here")
        })
        .with_state(registry)
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics),
    tags((name = "operations", description = "Liveness and readiness"))
)]
pub(super) struct OperationsApi;

/// Readiness, as `/readyz` reports it.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    /// Whether this instance serves requests, and how.
    status: Serving,
    /// Whether the database serves reads.
    database: DatabaseState,
    /// Whether reads are served through the cache.
    cache: CacheState,
}

/// Whether an instance serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Serving {
    /// Serving, through the cache.
    Ready,
    /// Serving, but from the database only.
    Degraded,
    /// Not serving: the database does not.
    Unavailable,
}

/// Whether the database serves reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum DatabaseState {
    /// It answers and its task table can be read.
    Ok,
    /// It does not answer.
    Unavailable,
    /// It answers, but its task table cannot be read: an operator must restore it.
    Damaged,
}

/// Whether reads are served through the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum CacheState {
    /// They are.
    Ok,
    /// They are not: Redis does not answer, or a write's advance is still owed.
    Degraded,
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
        Ok(()) => DatabaseState::Ok,
        Err(StoreError::Damaged(cause)) => {
            tracing::error!(error = %cause, "not ready: the database is damaged; restore it from a backup");
            DatabaseState::Damaged
        }
        Err(_) => DatabaseState::Unavailable,
    };
    let cache = match app.tasks.health().await {
        CacheHealth::Ok => CacheState::Ok,
        CacheHealth::Degraded => CacheState::Degraded,
    };
    let readiness = Readiness {
        status: match (database, cache) {
            (DatabaseState::Ok, CacheState::Ok) => Serving::Ready,
            (DatabaseState::Ok, CacheState::Degraded) => Serving::Degraded,
            _ => Serving::Unavailable,
        },
        database,
        cache,
    };
    let status = if database == DatabaseState::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

/// Metrics, in the Prometheus text format.
///
/// Requests by route, the cache (reads, hits, bypasses and why, generation advances),
/// the database, Redis, the change feed, authentication refusals and the process; the
/// README's "Operating Tasklane" lists them. `tasklane_reads_total` and
/// `tasklane_read_loads_total` give the hit ratio: `1 - loads / reads`.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations", security(()), responses(
    (status = 200, description = "Metrics since the process started", body = String, content_type = "text/plain"),
))]
async fn metrics(State(registry): State<Arc<Registry>>) -> Response {
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    )];
    (content_type, registry.render()).into_response()
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", operation_id = "checkLiveness", tag = "operations", security(()), responses((status = 200, description = "Serving", body = String)))]
async fn healthz() -> Response {
    "ok".into_response()
}
