//! The OpenAPI document, generated from the handlers and domain types, and the
//! interactive documentation page that renders it (served from the binary itself).

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use crate::domain::{NewTask, Priority, Status, Task, TaskList, TaskPatch};

/// Tasklane's API, as served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tasklane",
        description = "A task-management API whose cache never serves a stale list: once a write \
                       has been acknowledged, every read that starts afterwards reflects it. \
                       Errors are RFC 9457 problem details."
    ),
    paths(super::tasks::list, super::tasks::create, super::tasks::get, super::tasks::update, super::tasks::delete, super::healthz, super::readyz),
    components(schemas(Task, NewTask, TaskPatch, TaskList, Status, Priority, super::ProblemBody)),
    tags((name = "tasks", description = "Tasks and task lists"), (name = "operations", description = "Liveness and readiness"))
)]
pub struct ApiDoc;

/// `/openapi.json` and the documentation page at `/docs`.
pub fn routes() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}
