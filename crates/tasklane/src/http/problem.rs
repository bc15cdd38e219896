//! Errors as RFC 9457 problem details: the one place a failure becomes a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cache::CacheError;
use crate::domain::QueryError;
use crate::store::StoreError;

/// A failed request, answered as `application/problem+json`.
#[derive(Debug)]
pub struct Problem {
    pub(super) status: StatusCode,
    detail: String,
    pub(super) field: Option<String>,
    /// Seconds for `Retry-After` (a `503` says 1 unless told otherwise).
    retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// Always `about:blank`: the status code says what kind of problem this is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status code's reason phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, naming the offending field, parameter or header.
    pub detail: String,
    /// The offending body member or query parameter, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem with this status and explanation.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            field: None,
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(1),
        }
    }

    /// Says when to try again (`Retry-After`, in whole seconds, at least 1).
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// Names the body member or query parameter at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// `404` for a task id that names nothing in this scope.
    pub fn no_task(id: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, format!("no task with id `{id}`"))
    }
}

impl From<QueryError> for Problem {
    fn from(error: QueryError) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, error.to_string()).at(error.parameter)
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Problem::new(StatusCode::NOT_FOUND, "no such task"),
            StoreError::VersionMismatch { current } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "If-Match does not name the task's current version (its ETag is \"{current}\")"
                ),
            ),
            StoreError::IdempotencyMismatch => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was first used for a different request; use a new key",
            )
            .at("Idempotency-Key"),
            StoreError::Conflict => Problem::new(
                StatusCode::CONFLICT,
                "a request with the same Idempotency-Key is still being processed; retry",
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; retry shortly",
                )
            }
            StoreError::TimedOut(cause) => {
                tracing::warn!(error = %cause, "a statement ran past the time limit");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database stopped this request's query at the request timeout; retry, \
                     or narrow the query",
                )
            }
            StoreError::Damaged(cause) => {
                tracing::error!(error = %cause, "the database is damaged; restore it from a backup");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is damaged and cannot serve this request; an operator must \
                     restore it",
                )
                .retry_after(std::time::Duration::from_secs(60))
            }
            StoreError::Unreadable(task) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "{task}; delete it (DELETE /v1/tasks/{}) or have an operator repair the row",
                    task.id
                ),
            ),
            StoreError::Unstorable(task) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "`{}` {}: the task would not read back as sent, so nothing was written",
                    task.field, task.reason
                ),
            )
            .at(task.field),
            StoreError::Database(cause) => {
                tracing::error!(error = %cause, "database error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database reported an error",
                )
            }
        }
    }
}

impl From<CacheError> for Problem {
    fn from(error: CacheError) -> Self {
        match error {
            CacheError::Store(error) => error.into(),
            CacheError::NotAnnounced => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the cache's Redis is not answering, so the write was not attempted: nothing \
                 was written; retry shortly",
            ),
            CacheError::Unconfirmed => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the write may have been applied, but the cache could not confirm it; retry it \
                 with the same Idempotency-Key (it is then applied at most once)",
            ),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
