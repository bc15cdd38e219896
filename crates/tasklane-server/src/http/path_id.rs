//! The `{id}` path parameter extractor: a path axum cannot read (an id whose
//! percent-decoded bytes are not UTF-8) is refused as a problem naming `id`, not with
//! axum's plain-text rejection.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::problem::Problem;

/// The `{id}` segment of a route, percent-decoded.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(PathId(id)),
            Err(rejection) => Err(Problem::new(rejection.status(), rejection.body_text()).at("id")),
        }
    }
}
