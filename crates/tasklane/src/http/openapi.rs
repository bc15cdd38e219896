//! The OpenAPI document, generated from the handlers and domain types, and the
//! interactive documentation page that renders it (served from the binary itself).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
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
          super::tokens::list, super::tokens::create, super::tokens::revoke, super::healthz, super::readyz, super::metrics),
    components(schemas(Task, NewTask, TaskPatch, TaskList, Status, Priority, ApiToken, NewToken, super::tokens::IssuedToken, super::ProblemBody)),
    modifiers(&BearerAuth, &EveryApiRoute),
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

/// The answers every `/v1` route may give whatever it does: no valid token, a token
/// over its rate, the database or the time limit failing.
struct EveryApiRoute;

impl Modify for EveryApiRoute {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let common = [
            ("401", "No valid bearer token (`WWW-Authenticate: Bearer`)"),
            (
                "429",
                "This token is over its rate limit; see `Retry-After`",
            ),
            (
                "503",
                "The database is unavailable or the request ran out of time; see `Retry-After`",
            ),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// A problem-details response.
fn problem(description: &str) -> utoipa::openapi::Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ProblemBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", body)
        .build()
}
