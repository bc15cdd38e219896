//! The `Idempotency-Key` request header: which requests it covers, and the fingerprint
//! that tells a retry from a different request reusing the key. A write takes it with
//! its body, through the [`Idempotent`] extractor; a write that takes no body, through
//! [`Bodiless`].

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::json_body::{JsonBody, read_body};
use super::problem::Problem;
use crate::store::Idempotency;

/// Longest key accepted.
pub(super) const MAX_KEY_LEN: usize = 255;

/// A write's JSON body (as [`JsonBody`] takes it) and the request's `Idempotency-Key`,
/// if it sent one, fingerprinted with that body. A body that is refused is answered
/// before a malformed key.
pub struct Idempotent<T> {
    /// The body, parsed.
    pub body: T,
    /// The key and the request's fingerprint; `None` without an `Idempotency-Key`.
    pub idempotency: Option<Idempotency>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Idempotent<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let headers = request.headers().clone();
        let JsonBody { value, digest } = JsonBody::from_request(request, state).await?;
        Ok(Idempotent {
            body: value,
            idempotency: idempotency(&headers, &method, &path, &digest)?,
        })
    }
}

/// The `Idempotency-Key` of a write that takes no body, fingerprinted as
/// [`Idempotent`]'s is, with the empty body's digest. A request that sends a body anyway
/// is refused (`415`) rather than applied as if it had not: its sender meant something
/// the route does not do.
pub struct Bodiless {
    /// The key and the request's fingerprint; `None` without an `Idempotency-Key`.
    pub idempotency: Option<Idempotency>,
}

impl<S: Send + Sync> FromRequest<S> for Bodiless {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let headers = request.headers().clone();
        let body = read_body(request, state).await?;
        if !body.is_empty() {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{method} {path} takes no body; send it without one"),
            ));
        }
        let empty = Sha256::digest(b"").into();
        Ok(Bodiless {
            idempotency: idempotency(&headers, &method, &path, &empty)?,
        })
    }
}

/// The request's `Idempotency-Key`, if it sent one, fingerprinted by everything that
/// makes the request what it is: method, path, `If-Match` and the body's digest.
fn idempotency(
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body_digest: &[u8; 32],
) -> Result<Option<Idempotency>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN)
        .filter(|key| key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("Idempotency-Key: expected 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID works)"),
            )
            .at("Idempotency-Key")
        })?;
    let mut fingerprint = Sha256::new();
    for part in [method.as_str().as_bytes(), path.as_bytes()] {
        fingerprint.update(part);
        fingerprint.update([0]);
    }
    for value in headers.get_all(header::IF_MATCH) {
        fingerprint.update(value.as_bytes());
        fingerprint.update([0]);
    }
    fingerprint.update(body_digest);
    Ok(Some(Idempotency {
        key: key.to_owned(),
        fingerprint: hex::encode(fingerprint.finalize()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", key.parse().unwrap());
        headers
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_and_any_difference_changes_it() {
        let headers = with_key("k-1");
        let one = idempotency(&headers, &Method::POST, "/v1/tasks", &[1; 32])
            .unwrap()
            .unwrap();
        assert_eq!(
            idempotency(&headers, &Method::POST, "/v1/tasks", &[1; 32])
                .unwrap()
                .unwrap(),
            one
        );
        assert_ne!(
            idempotency(&headers, &Method::POST, "/v1/tasks", &[2; 32])
                .unwrap()
                .unwrap(),
            one
        );
        assert_ne!(
            idempotency(&headers, &Method::PATCH, "/v1/tasks", &[1; 32])
                .unwrap()
                .unwrap(),
            one
        );
        let mut guarded = headers.clone();
        guarded.insert(header::IF_MATCH, "\"1\"".parse().unwrap());
        assert_ne!(
            idempotency(&guarded, &Method::POST, "/v1/tasks", &[1; 32])
                .unwrap()
                .unwrap(),
            one
        );
        assert_eq!(
            idempotency(&HeaderMap::new(), &Method::POST, "/", &[0; 32]).unwrap(),
            None
        );
    }

    #[test]
    fn keys_must_be_visible_ascii() {
        assert!(idempotency(&with_key("has space"), &Method::POST, "/", &[0; 32]).is_err());
        assert!(idempotency(&with_key(&"k".repeat(256)), &Method::POST, "/", &[0; 32]).is_err());
        assert!(idempotency(&with_key("9f1c-OK_~"), &Method::POST, "/", &[0; 32]).is_ok());
    }
}
