//! The JSON request-body extractor: content type, size, syntax and shape, each refused
//! with its own status code and a detail that names the offending member.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::problem::Problem;

/// A request body parsed as JSON into `T`.
///
/// - not `application/json` (or another `application/*+json`, such as
///   `application/merge-patch+json`): `415`;
/// - larger than the router's body limit: `413`;
/// - not well-formed JSON: `400`;
/// - well-formed but not a valid `T` (missing or unknown member, wrong type, bad
///   value): `422`, naming the member.
///
/// The second field is the SHA-256 of the body as sent (an `Idempotency-Key` retry must
/// send the same bytes).
pub struct JsonBody<T>(pub T, pub [u8; 32]);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "expected a JSON body (Content-Type: application/json), got {}",
                    content_type.map_or("no Content-Type".to_owned(), |t| format!("`{t}`"))
                ),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| Problem::new(rejection.status(), rejection.body_text()))?;
        let digest = Sha256::digest(&bytes).into();
        parse(&bytes).map(|value| JsonBody(value, digest))
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses in two steps so each failure gets its status: syntax (`400`), then shape
/// (`422`). Every Tasklane body is an object; serde would otherwise also accept an
/// array and fill the members by position.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {error}"))
    })?;
    if !value.is_object() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, inner.to_string())
        } else {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{path}`: {inner}"),
            )
            .at(path)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        title: String,
    }

    #[test]
    fn syntax_is_400_and_shape_is_422() {
        assert_eq!(
            parse::<Body>(b"{\"title\": ").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse::<Body>(b"[\"t\"]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            parse::<Body>(b"{\"title\": 1}")
                .unwrap_err()
                .field
                .as_deref(),
            Some("title")
        );
        assert_eq!(parse::<Body>(b" {\"title\": \"t\"} ").unwrap().title, "t");
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
