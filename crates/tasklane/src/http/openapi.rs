//! The OpenAPI document, generated from the handlers and domain types, and the
//! interactive documentation page that renders it (served from the binary itself).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use crate::domain::{ApiToken, NewTask, NewToken, Priority, Status, Task, TaskList, TaskPatch};

/// Tasklane's API, as served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tasklane",
        description = "A task-management API whose cache never serves a stale list: once a write \
                       has been acknowledged, every read that starts afterwards reflects it. \
                       Errors are RFC 9457 problem details."
    ),
    paths(super::tasks::list, super::tasks::create, super::tasks::get, super::tasks::update, super::tasks::delete,
          super::tokens::list, super::tokens::create, super::tokens::revoke, super::healthz, super::readyz),
    components(schemas(Task, NewTask, TaskPatch, TaskList, Status, Priority, ApiToken, NewToken, super::tokens::IssuedToken, super::ProblemBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "tasks", description = "Tasks and task lists, in the caller's workspace"),
         (name = "tokens", description = "The workspace's API tokens"),
         (name = "operations", description = "Liveness and readiness"))
)]
pub struct ApiDoc;

/// Declares the bearer token every `/v1` route takes (unless the server runs with
/// `--auth none`, on loopback only).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `tasklane token create` or `POST /v1/tokens`",
                    ))
                    .build(),
            ),
        );
    }
}

/// `/openapi.json` and the documentation page at `/docs`.
pub fn routes() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}
