//! `/v1/webhooks`: the caller's workspace's webhook endpoints: create one (its signing
//! secret shown once), list, read, change (pause, resume, events, URL, a new secret),
//! delete, read its recent delivery attempts, send it a test event. The routes and
//! their OpenAPI description; delivery itself is [`crate::webhook`]'s.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::idempotency::Bodiless;
use super::json_body::JsonBody;
use super::path_id::PathId;
use super::problem::Problem;
use crate::domain::{
    Attempt, ChangeKind, NewWebhook, RequestedStatus, Skipped, Webhook, WebhookPatch,
    WebhookStatus, Workspace,
};
use crate::store::StoreError;
use crate::webhook::WebhookError;

/// The routes of `/v1/webhooks`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", get(read).patch(change).delete(remove))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
        .route("/v1/webhooks/{id}/test", post(test))
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(list, create, read, change, remove, deliveries, test),
    components(schemas(
        Webhook, WebhookStatus, Skipped, NewWebhook, WebhookPatch, RequestedStatus, Attempt,
        ChangeKind,
        WebhookWithSecret, WebhookList, Deliveries
    )),
    tags((name = "webhooks", description = "Changes sent to your endpoints as they commit: \
        Standard Webhooks signatures, at least once, in order per endpoint"))
)]
pub(super) struct WebhooksApi;

/// A webhook and its signing secret, shown this once (at creation and rotation).
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and base64: the key of the deliveries' signatures. Shown only now.
    pub secret: String,
}

/// Every webhook of the workspace.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub data: Vec<Webhook>,
}

/// A webhook and its recent delivery attempts.
#[derive(Serialize, ToSchema)]
pub struct Deliveries {
    /// The webhook, with where delivery stands.
    pub webhook: Webhook,
    /// The latest attempts (at most 100), newest first.
    pub data: Vec<Attempt>,
}

fn missing(id: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("no webhook with id `{id}`"))
}

/// The webhook id in the path; any id that is not one is simply not found.
fn webhook_id(id: &str) -> Result<Uuid, Problem> {
    id.parse().map_err(|_| missing(id))
}

impl From<WebhookError> for Problem {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Target(error) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, format!("url: {error}")).at("url")
            }
            WebhookError::TooMany => Problem::new(StatusCode::CONFLICT, error.to_string()),
            WebhookError::Store(error) => error.into(),
            WebhookError::Unseal(error) => {
                tracing::error!(%error, "a webhook's signing secret cannot be read");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
            }
        }
    }
}

/// A secret in the body: no cache may keep a copy.
fn with_secret(status: StatusCode, webhook: Webhook, secret: String) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    (
        status,
        no_store,
        Json(WebhookWithSecret { webhook, secret }),
    )
        .into_response()
}

/// List the workspace's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "listWebhooks", tag = "webhooks", security(("bearer" = [])), responses(
    (status = 200, description = "Every webhook of the caller's workspace, oldest first", body = WebhookList),
))]
pub async fn list(State(app): State<AppState>, workspace: Workspace) -> Result<Response, Problem> {
    let data = app.webhooks.list(&workspace).await?;
    Ok(Json(WebhookList { data }).into_response())
}

/// Create a webhook.
///
/// It is sent every change committed from now on whose kind it names, in order.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "createWebhook", tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook, responses(
    (status = 201, description = "Created; the signing secret is shown this once", body = WebhookWithSecret,
     headers(("location" = String, description = "The webhook's URL"))),
    (status = 400, description = "Malformed JSON, or an Idempotency-Key (a create is not repeatable)"),
    (status = 409, description = "The workspace has 100 webhooks already"),
    (status = 422, description = "Missing, unknown or invalid member; a URL whose host is not a public address (unless the server allows private ones)"),
))]
pub async fn create(
    State(app): State<AppState>,
    workspace: Workspace,
    headers: HeaderMap,
    JsonBody { value: new, .. }: JsonBody<NewWebhook>,
) -> Result<Response, Problem> {
    if headers.contains_key("idempotency-key") {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "POST /v1/webhooks takes no Idempotency-Key: a create is not repeated safely; \
             after a failure, list the webhooks (GET /v1/webhooks) to see whether it was made",
        )
        .at("Idempotency-Key"));
    }
    let (webhook, secret) = app.webhooks.create(&workspace, new).await?;
    let location = format!("/v1/webhooks/{}", webhook.id);
    let mut response = with_secret(StatusCode::CREATED, webhook, secret.reveal().to_owned());
    response.headers_mut().insert(
        header::LOCATION,
        location.parse().expect("an id makes a valid header"),
    );
    Ok(response)
}

/// Read a webhook.
#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "getWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook, with where delivery stands", body = Webhook),
        (status = 404, description = "No such webhook in this workspace"),
    )
)]
pub async fn read(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
) -> Result<Response, Problem> {
    let webhook = app
        .webhooks
        .get(&workspace, webhook_id(&id)?)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Json(webhook).into_response())
}

/// Change a webhook.
///
/// Its URL, events or description; pause it (`"status": "paused"`) or resume it
/// (`"status": "active"`, also after it was disabled: delivery continues from where it
/// stopped); or issue a new signing secret (`"rotate_secret": true`: the one it
/// replaces keeps signing beside it for 24 hours, or until the next rotation).
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "updateWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    request_body(content = WebhookPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed; with `secret` when it was rotated", body = Webhook),
        (status = 400, description = "Malformed JSON"),
        (status = 404, description = "No such webhook in this workspace"),
        (status = 422, description = "Unknown or invalid member; a URL whose host is not a public address"),
    )
)]
pub async fn change(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    JsonBody { value: patch, .. }: JsonBody<WebhookPatch>,
) -> Result<Response, Problem> {
    let webhook = webhook_id(&id)?;
    match app.webhooks.change(&workspace, webhook, patch).await {
        Err(WebhookError::Store(StoreError::NotFound)) => Err(missing(&id)),
        Err(error) => Err(error.into()),
        Ok((webhook, Some(secret))) => Ok(with_secret(
            StatusCode::OK,
            webhook,
            secret.reveal().to_owned(),
        )),
        Ok((webhook, None)) => Ok(Json(webhook).into_response()),
    }
}

/// Delete a webhook.
///
/// Nothing more is sent to it.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "deleteWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such webhook in this workspace"),
    )
)]
pub async fn remove(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
) -> Result<Response, Problem> {
    match app.webhooks.remove(&workspace, webhook_id(&id)?).await {
        Err(StoreError::NotFound) => Err(missing(&id)),
        outcome => {
            outcome?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

/// A webhook's recent delivery attempts, with where its delivery stands.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook and its latest attempts, newest first", body = Deliveries),
        (status = 404, description = "No such webhook in this workspace"),
    )
)]
pub async fn deliveries(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
) -> Result<Response, Problem> {
    let (webhook, data) = app
        .webhooks
        .deliveries(&workspace, webhook_id(&id)?)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Json(Deliveries { webhook, data }).into_response())
}

/// Send the webhook a test event.
///
/// A signed `webhook.test` event, sent now; the answer says how it went.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", operation_id = "testWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The attempt: `error` says why it failed, if it did", body = Attempt),
        (status = 404, description = "No such webhook in this workspace"),
        (status = 415, description = "A body was sent: the route takes none"),
    )
)]
pub async fn test(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    _: Bodiless,
) -> Result<Response, Problem> {
    let attempt = app
        .webhooks
        .test(&workspace, webhook_id(&id)?)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Json(attempt).into_response())
}
