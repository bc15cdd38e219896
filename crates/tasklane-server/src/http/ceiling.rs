//! Benchmark builds only (`bench` feature): `GET /bench/fixed`, a constant response of
//! a list page's size and headers that touches neither the cache nor the database. Its
//! throughput is the HTTP ceiling `scripts/bench` compares the cached list read to.

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use super::AppState;

/// The HTTP ceiling's route.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/bench/fixed", get(fixed))
}

/// A body the size of a page of 20 typical tasks.
fn body() -> Bytes {
    static BODY: OnceLock<Bytes> = OnceLock::new();
    BODY.get_or_init(|| {
        let task = serde_json::json!({
            "id": "01a21394-ef01-70bc-9f43-bedf3cc579ae", "title": "Fix search index #49824",
            "description": "Fix search index #49824: see the backup job notes.",
            "status": "done", "priority": "urgent", "assignee": "jun",
            "labels": ["bug", "ops"], "due_at": "2027-01-06T01:47:08.890153Z",
            "created_at": "2026-04-11T17:27:52.847971Z",
            "updated_at": "2026-05-05T16:37:59.167475Z", "version": 2
        });
        let page = serde_json::json!({
            "data": vec![task; 20], "page": 1, "limit": 20, "total": 20,
            "total_pages": 1, "next_cursor": null
        });
        Bytes::from(serde_json::to_vec(&page).expect("serialises"))
    })
    .clone()
}

/// The fixed response, with a list's headers.
async fn fixed() -> Response {
    let mut response = body().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ETAG, HeaderValue::from_static("W/\"fixed\""));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}
