//! The operations routes: liveness (`/healthz`), readiness (`/readyz`) and the cache
//! counters (`/metrics`), none behind a token, and their OpenAPI description.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use super::AppState;
use crate::cache::CacheHealth;
use crate::store::StoreError;

/// The operations routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
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
        Err(StoreError::Damaged(cause)) => {
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
