//! `/v1/tokens`: the caller's workspace's API tokens: issue one (its secret shown once),
//! list them (never a secret), revoke one. The routes and their OpenAPI description.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json_body::JsonBody;
use super::path_id::PathId;
use super::problem::Problem;
use crate::domain::{ApiToken, NewToken, Workspace};
use crate::store::{StoreError, issue};

/// The routes of `/v1/tokens`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list).post(create))
        .route("/v1/tokens/{id}", delete(revoke))
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(list, create, revoke),
    components(schemas(ApiToken, NewToken, IssuedToken)),
    tags((name = "tokens", description = "The workspace's API tokens"))
)]
pub(super) struct TokensApi;

/// A newly issued token and its secret, which is shown this once.
#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`. Only its digest is stored: it cannot
    /// be shown again.
    pub secret: String,
}

/// List the workspace's tokens.
#[utoipa::path(get, path = "/v1/tokens", operation_id = "listTokens", tag = "tokens", security(("bearer" = [])), responses(
    (status = 200, description = "Every token of the caller's workspace, oldest first", body = Vec<ApiToken>),
))]
pub async fn list(State(app): State<AppState>, workspace: Workspace) -> Result<Response, Problem> {
    let tokens = app.auth.tokens().list(&workspace).await?;
    Ok(Json(tokens).into_response())
}

/// Issue another token in the caller's workspace.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "createToken", tag = "tokens", security(("bearer" = [])), request_body = NewToken, responses(
    (status = 201, description = "Issued; the secret is shown this once", body = IssuedToken),
    (status = 400, description = "Malformed JSON"),
    (status = 422, description = "Missing, unknown or invalid member"),
))]
pub async fn create(
    State(app): State<AppState>,
    workspace: Workspace,
    JsonBody { value: new, .. }: JsonBody<NewToken>,
) -> Result<Response, Problem> {
    let (token, secret) = issue(app.auth.tokens(), &workspace, new.member).await?;
    let issued = IssuedToken {
        token,
        secret: secret.reveal().to_owned(),
    };
    // The secret is shown this once: no cache may keep a copy.
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    Ok((StatusCode::CREATED, no_store, Json(issued)).into_response())
}

/// Revoke a token of the caller's workspace (the caller's own included).
#[utoipa::path(delete, path = "/v1/tokens/{id}", operation_id = "revokeToken", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked: it is refused from now on"),
        (status = 404, description = "No such token in this workspace"),
    )
)]
pub async fn revoke(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
) -> Result<Response, Problem> {
    let missing = || Problem::new(StatusCode::NOT_FOUND, format!("no token with id `{id}`"));
    let token = id.parse().map_err(|_| missing())?;
    match app.auth.tokens().revoke(&workspace, token).await {
        Err(StoreError::NotFound) => Err(missing()),
        outcome => {
            outcome?;
            app.auth.forget_verified();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}
