//! The limits every request is held to, and whose fault it is when one is passed:
//!
//! - a declared body (`Content-Length`) over [`MAX_BODY_BYTES`] is `413` at once, before
//!   the client is asked for any of it (hyper sends `100 Continue` only when the body is
//!   read);
//! - a body that has not arrived in full within the body read timeout, counted from the
//!   request's headers, is `408`: the client's delay, never the server's;
//! - a request that takes longer than the request timeout is `503`, unless it is then
//!   still waiting for its body (`408` again).
//!
//! Either answer leaves the handler running to its end ([`super::detached`]); a write
//! stopped between its commit and its advance would make up for the advance anyway (see
//! the cache's `AnnouncedWrite`), so no stale list outlives it. A body that timed out
//! fails its read, so a handler waiting for it ends too.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Sleep;

use super::MAX_BODY_BYTES;
use super::problem::{Problem, Retry};

/// How long a request, and the upload of its body, may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// The whole request, from its headers to its response.
    pub request: Duration,
    /// The body, from the request's headers to its last byte.
    pub body: Duration,
}

/// Holds a request to its [`Deadlines`] and to the body size limit.
pub async fn deadline(
    State(limits): State<Deadlines>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if declared_length(request.headers()).is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Problem::body_too_large().into_response();
    }
    let retry = Retry::of(request.method(), request.headers());
    let receipt = Arc::new(AtomicU8::new(NOT_READ));
    let request = request.map(|body| {
        Body::new(Upload {
            body,
            due: Box::pin(tokio::time::sleep(limits.body)),
            receipt: receipt.clone(),
        })
    });
    let outcome = tokio::time::timeout(limits.request, next.run(request)).await;
    match (outcome, receipt.load(Ordering::Acquire)) {
        (_, TIMED_OUT) | (Err(_), READING) => too_slow(limits.body),
        (Ok(response), _) => response,
        (Err(_), _) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s; {}",
                limits.request.as_secs(),
                retry.advice()
            ),
        )
        .into_response(),
    }
}

fn too_slow(limit: Duration) -> Response {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request body did not arrive in full within {} s of its headers",
            limit.as_secs()
        ),
    )
    .into_response()
}

/// The `Content-Length` the client declared, if any (hyper has already refused a
/// malformed or contradictory one).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// How far the body's upload has gone.
const NOT_READ: u8 = 0;
const READING: u8 = 1;
const RECEIVED: u8 = 2;
const TIMED_OUT: u8 = 3;

/// A request body that fails once its time is up, and reports how far it got.
struct Upload {
    body: Body,
    due: Pin<Box<Sleep>>,
    receipt: Arc<AtomicU8>,
}

/// The body read timeout passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl http_body::Body for Upload {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.receipt.load(Ordering::Acquire) == TIMED_OUT {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        let _ =
            self.receipt
                .compare_exchange(NOT_READ, READING, Ordering::AcqRel, Ordering::Acquire);
        let poll = Pin::new(&mut self.body).poll_frame(cx);
        match &poll {
            Poll::Ready(None) => self.receipt.store(RECEIVED, Ordering::Release),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => {
                self.receipt.store(RECEIVED, Ordering::Release);
            }
            Poll::Pending if self.due.as_mut().poll(cx).is_ready() => {
                self.receipt.store(TIMED_OUT, Ordering::Release);
                return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
            }
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    /// The `detail` of a request to a handler that outlives the request timeout.
    async fn late_answer(method: &str, idempotency_key: Option<&str>) -> String {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "too late"
        };
        let app = Router::new()
            .route("/", post(slow).delete(slow).get(slow))
            .layer(axum::middleware::from_fn_with_state(
                Deadlines {
                    request: Duration::from_secs(1),
                    body: Duration::from_secs(10),
                },
                deadline,
            ));
        let mut request = Request::builder().method(method).uri("/");
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        problem["detail"].as_str().unwrap().to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_out_of_time_says_how_to_retry_it_safely() {
        let keyed = late_answer("POST", Some("k-1")).await;
        assert!(keyed.contains("with the same Idempotency-Key"), "{keyed}");

        let unkeyed = late_answer("POST", None).await;
        assert!(!unkeyed.contains("same Idempotency-Key"), "{unkeyed}");
        assert!(unkeyed.contains("send an Idempotency-Key"), "{unkeyed}");

        for (method, advice) in [("DELETE", "repeating it is safe"), ("GET", "retry it")] {
            let detail = late_answer(method, None).await;
            assert!(detail.contains(advice), "{method}: {detail}");
            assert!(!detail.contains("Idempotency-Key"), "{method}: {detail}");
        }
    }
}
