//! The web app: the files of `ui/app/` (HTML, CSS and JavaScript modules, with no build
//! step), embedded in the binary at compile time and served at `/` (the page) and
//! `/ui/{file}` (everything it loads). The app is one more client of the public `/v1`
//! API; nothing here serves data.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from this
//! origin only, no inline script, no framing, Trusted Types required so that no string
//! can become HTML), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer`. The file names carry no hash, so a long cache lifetime would keep an
//! old app after an upgrade: every answer is `no-cache` with a weak ETag (the file's
//! SHA-256, computed at build), and a browser revalidating it gets a `304`. Answers are
//! compressed with gzip when the browser accepts it (the ETag is weak because the bytes
//! differ by coding). The API's own routes, and `/docs/`, are not affected.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::conditional::if_none_match;
use super::problem::Problem;
use crate::cache::ETag;

/// The app's files, from the repository's `ui/app/`.
#[derive(Embed)]
#[folder = "../../ui/app/"]
struct Assets;

/// What a UI page may load and do.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; manifest-src 'self'; \
     form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'";

/// The routes of the web app, with their headers and compression.
pub(super) fn router() -> Router<AppState> {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    let router = Router::new()
        .route("/", get(index))
        .route("/ui/{*file}", get(asset));
    headers
        .into_iter()
        .fold(router, |router, (name, value)| {
            router.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        })
        .layer(CompressionLayer::new())
}

/// `/`: the page, whatever its query string (the app's view lives there).
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `/ui/{file}`: a file the page loads.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(name) else {
        return Problem::new(StatusCode::NOT_FOUND, "no such file in the web app").into_response();
    };
    let etag = ETag::weak(&hex::encode(&file.metadata.sha256_hash()[..16]));
    let current = match if_none_match(request) {
        Ok(tags) => tags.is_some_and(|tags| tags.has_weakly(&etag)),
        Err(problem) => return problem.into_response(),
    };
    let etag_header = (header::ETAG, etag.as_str().to_owned());
    if current {
        return (StatusCode::NOT_MODIFIED, [etag_header]).into_response();
    }
    let content_type = (header::CONTENT_TYPE, with_charset(file.metadata.mimetype()));
    ([etag_header, content_type], file.data).into_response()
}

/// A text type with its character set named (every file of the app is UTF-8).
fn with_charset(mime: &str) -> String {
    if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    }
}
