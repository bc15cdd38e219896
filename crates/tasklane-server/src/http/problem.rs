//! Errors as RFC 9457 problem details: the one place a failure becomes a response.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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

    /// `413` for a body over [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES), whether its
    /// `Content-Length` says so at once or a chunked body runs past it while read.
    pub fn body_too_large() -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than {} bytes, the most accepted",
                super::MAX_BODY_BYTES
            ),
        )
    }

    /// `404` for a task id that names nothing in this workspace.
    pub fn no_task(id: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, format!("no task with id `{id}`"))
    }

    /// `404` for a restore of a task whose delete the change log does not keep.
    pub fn not_restorable(id: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!(
                "the change log keeps no delete of task `{id}`: no task had that id, or it \
                 was deleted longer ago than the log keeps changes"
            ),
        )
    }

    /// `503` for a write that was committed but whose cache generation could not be
    /// advanced: it is applied, and the client must be told how to retry it safely.
    pub fn unconfirmed(retry: Retry) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the cache could not confirm the write; {}", retry.advice()),
        )
    }
}

/// How a client can safely retry a request whose outcome it does not know (it ran out
/// of time, or its write could not be confirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read: retrying changes nothing.
    Read,
    /// An idempotent write (`DELETE`): applying it twice is applying it once.
    Idempotent,
    /// A write sent with an `Idempotency-Key`: a retry under the same key is applied at
    /// most once.
    SameKey,
    /// A write sent without an `Idempotency-Key`: a blind retry could apply it twice.
    Unsafe,
}

impl Retry {
    /// How a request with this method and these headers can be retried.
    pub fn of(method: &Method, headers: &HeaderMap) -> Retry {
        if method.is_safe() {
            Retry::Read
        } else if method.is_idempotent() {
            Retry::Idempotent
        } else if headers.contains_key("idempotency-key") {
            Retry::SameKey
        } else {
            Retry::Unsafe
        }
    }

    /// As [`Retry::of`] for a write that a repeat cannot apply twice, even without a key
    /// (a restore: a repeat finds the task back and answers `409`).
    pub fn of_repeatable(headers: &HeaderMap) -> Retry {
        if headers.contains_key("idempotency-key") {
            Retry::SameKey
        } else {
            Retry::Idempotent
        }
    }

    /// The advice a problem's detail ends with.
    pub fn advice(self) -> &'static str {
        match self {
            Retry::Read => "retry it shortly",
            Retry::Idempotent => "it may or may not have been applied; repeating it is safe",
            Retry::SameKey => {
                "it may or may not have been applied; retry it with the same \
                 Idempotency-Key, which applies it at most once"
            }
            Retry::Unsafe => {
                "it may or may not have been applied, and without an Idempotency-Key a \
                 retry could apply it twice: check before retrying, and send an \
                 Idempotency-Key with each write (POST /v1/tasks, PATCH /v1/tasks/{id}) so \
                 that a retry is safe"
            }
        }
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
            StoreError::TaskExists => Problem::new(
                StatusCode::CONFLICT,
                "the task exists: only a deleted task can be restored",
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
            // The handlers that know how the write was sent say so (`Problem::unconfirmed`);
            // without that, the cautious advice.
            CacheError::Unconfirmed => Problem::unconfirmed(Retry::Unsafe),
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
        // An error is about this attempt only: no browser or proxy may keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(problem: Problem) -> String {
        problem.detail
    }

    #[test]
    fn an_unconfirmed_write_is_retried_with_its_key_or_looked_for() {
        let mut keyed = HeaderMap::new();
        keyed.insert("idempotency-key", HeaderValue::from_static("k-1"));
        assert_eq!(Retry::of(&Method::POST, &keyed), Retry::SameKey);
        assert_eq!(Retry::of(&Method::PATCH, &HeaderMap::new()), Retry::Unsafe);
        assert_eq!(Retry::of(&Method::DELETE, &keyed), Retry::Idempotent);
        assert_eq!(Retry::of(&Method::GET, &keyed), Retry::Read);
        // A repeated restore finds the task back: safe to repeat, a key or not.
        assert_eq!(Retry::of_repeatable(&keyed), Retry::SameKey);
        assert_eq!(Retry::of_repeatable(&HeaderMap::new()), Retry::Idempotent);

        let with_key = detail(Problem::unconfirmed(Retry::SameKey));
        assert!(
            with_key.contains("with the same Idempotency-Key"),
            "{with_key}"
        );
        // Without a key there is no "same" key to retry with: say how to make the
        // next retry safe instead.
        let without = detail(Problem::unconfirmed(Retry::Unsafe));
        assert!(!without.contains("same Idempotency-Key"), "{without}");
        assert!(without.contains("send an Idempotency-Key"), "{without}");
        assert_eq!(
            detail(CacheError::Unconfirmed.into()),
            without,
            "without knowing how the write was sent, the cautious advice"
        );
    }
}
