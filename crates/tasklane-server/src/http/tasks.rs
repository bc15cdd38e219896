//! `/v1/tasks`: the routes, one handler each, and their OpenAPI description. Each
//! handler parses the request into domain types, asks the cache, and shapes the
//! response; none decides anything about freshness.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use utoipa::OpenApi;

use super::AppState;
use super::changes::SEQ_HEADER;
use super::conditional::{if_match, if_none_match};
use super::idempotency::{Bodiless, Idempotent};
use super::path_id::PathId;
use super::problem::{Problem, Retry};
use crate::cache::{CacheError, ETag, ListRead, Snapshot};
use crate::domain::{
    Assignee, Labels, ListQuery, NewTask, Priority, Status, Task, TaskAt, TaskId, TaskList,
    TaskPatch, Timestamp, Workspace,
};
use crate::store::{Idempotency, StoreError};

/// The `500` of a read or an update whose task's row does not read back.
const UNREADABLE_TASK: &str =
    "The task is stored in a form the server cannot read back (a damaged row); DELETE removes it";

/// The routes of `/v1/tasks`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tasks", get(list).post(create))
        .route("/v1/tasks/{id}", get(read).patch(update).delete(delete))
        .route("/v1/tasks/{id}/restore", post(restore))
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(list, create, read, update, delete, restore),
    components(schemas(Task, TaskAt, NewTask, TaskPatch, TaskList, Status, Priority)),
    tags((name = "tasks", description = "Tasks and task lists, in the caller's workspace"))
)]
pub(super) struct TasksApi;

/// A `200`/`201` carrying a cached or fresh JSON body and its validator.
fn respond(status: StatusCode, snapshot: Snapshot) -> Response {
    let mut response = (status, snapshot.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    set_validators(headers, &snapshot.etag);
    if let Some(seq) = snapshot.seq {
        headers.insert(SEQ_HEADER, HeaderValue::from(seq));
    }
    response
}

/// `respond`, with the task's own URL as `Location`.
fn respond_at(status: StatusCode, task: &Task) -> Response {
    let mut response = respond(status, Snapshot::of_task(task));
    let location = HeaderValue::from_str(&format!("/v1/tasks/{}", task.id)).expect("ids are ASCII");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// A `304`: the client's copy is current.
fn not_modified(etag: &ETag) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_validators(response.headers_mut(), etag);
    response
}

/// `ETag`, the validator a client revalidates its copy with (every success carries
/// `Cache-Control: private, no-cache`, set by the router).
fn set_validators(headers: &mut HeaderMap, etag: &ETag) {
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag.as_str()).expect("ETags are ASCII"),
    );
}

fn task_id(text: &str) -> Result<TaskId, Problem> {
    text.parse().map_err(|_| Problem::no_task(text))
}

/// Maps a write's failure: a missing task is a `404` naming `id`; a write the cache
/// could not confirm says how this request can be retried safely.
fn write_failed(id: Option<&str>, retry: Retry) -> impl FnOnce(CacheError) -> Problem + '_ {
    move |error| match (error, id) {
        (CacheError::Store(StoreError::NotFound), Some(id)) => Problem::no_task(id),
        (CacheError::Unconfirmed, _) => Problem::unconfirmed(retry),
        (other, _) => other.into(),
    }
}

/// List tasks: filtered, sorted and paginated (by page number or by cursor).
#[utoipa::path(
    get,
    path = "/v1/tasks",
    operation_id = "listTasks",
    tag = "tasks",
    params(
        ("status" = Option<String>, Query, description = format!("Comma list of at most {} statuses; any matches (`todo,in_progress`).", ListQuery::MAX_CHOICES)),
        ("status_not" = Option<String>, Query, description = format!("Comma list of at most {} statuses; none of them matches (`done`). With `status`, both hold; leaving no status is a `400`.", ListQuery::MAX_CHOICES)),
        ("priority" = Option<String>, Query, description = format!("Comma list of at most {} priorities; any matches (`high,urgent`).", ListQuery::MAX_CHOICES)),
        ("assignee" = Option<Vec<String>>, Query, explode, description = format!("Repeatable, at most {} times, each {} to {} characters; any of them matches (exact). Unassigned tasks match only with `unassigned=true`.", ListQuery::MAX_ASSIGNEES, Assignee::MIN_CHARS, Assignee::MAX_CHARS)),
        ("unassigned" = Option<bool>, Query, description = "`true`: tasks with no assignee match (alone, only they do; with `assignee`, they match too). `false`: only assigned tasks."),
        ("label" = Option<Vec<String>>, Query, explode, description = format!("Repeatable, at most {} times (a task carries no more), each 1 to {} characters; a task must carry every label given.", ListQuery::MAX_LABELS, Labels::MAX_CHARS)),
        ("due_before" = Option<String>, Query, description = format!("RFC 3339, or a date (`2026-12-01`: the start of that day in `tz`), from {} to {} once in UTC: due strictly before. Tasks with no due date never match.", Timestamp::MIN, Timestamp::MAX)),
        ("due_after" = Option<String>, Query, description = format!("RFC 3339, or a date (the start of that day in `tz`), from {} to {} once in UTC: due at or after. Tasks with no due date never match.", Timestamp::MIN, Timestamp::MAX)),
        ("completed_before" = Option<String>, Query, description = "As `due_before`, on `completed_at`: completed strictly before. Tasks not done never match."),
        ("completed_after" = Option<String>, Query, description = "As `due_after`, on `completed_at`: completed at or after. Tasks not done never match."),
        ("tz" = Option<String>, Query, description = format!("IANA time zone name (`Europe/Paris`; at most {} characters) in which the dates of the four bounds are read; default `UTC`. Instants are not affected.", ListQuery::MAX_ZONE_CHARS)),
        ("q" = Option<String>, Query, description = format!("Case-insensitive substring of the title or the description (at most {} characters); both sides are compared in full Unicode case folding (`Σ`, `σ`, `ς` alike; `SS` matches `ß`).", ListQuery::MAX_TEXT_CHARS)),
        ("sort" = Option<String>, Query, description = "`created_at` (default), `updated_at`, `due_at` (no due date counts as later than any date), `priority` (low < medium < high < urgent), `title` (by code point) or `completed_at` (not completed counts as later than any time); prefix `-` for descending. Ties are broken by id in the same direction."),
        ("page" = Option<i32>, Query, description = "1-based page number (default 1). Not with `cursor`."),
        ("limit" = Option<i32>, Query, description = format!("Page size, 1 to {} (default {}).", ListQuery::MAX_LIMIT, ListQuery::DEFAULT_LIMIT)),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` from the previous page of the same query: keyset pagination, as fast on page 10,000 as on page 1. Not with `page`. Signed by the server: any other text is refused."),
        ("total" = Option<bool>, Query, description = "`false` leaves out `total` and `total_pages`, so the database does not count every match: on a large workspace the count costs far more than the page. Default `true`."),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An ETag from an earlier response: `304` if the list has not changed since."),
    ),
    responses(
        (status = 200, description = "One page of tasks", body = TaskList, headers(
            ("ETag" = String, description = "Derived from the workspace's generation (its status partitions, for a list of some statuses) and the normalised query; a read that overlapped a write is named by its content instead (`W/\"c-...\"`), so one ETag never stands for two lists"),
            ("Tasklane-Seq" = u64, description = "The change-log position the page reflects, as its `seq`: read `GET /v1/changes` since it to follow the list"),
        )),
        (status = 304, description = "Unchanged since the ETag given in `If-None-Match`"),
        (status = 400, description = "Unknown, repeated or invalid query parameter"),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    workspace: Workspace,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let query = ListQuery::parse(raw.as_deref().unwrap_or(""), app.tasks.cursor_key())?;
    let client = if_none_match(&headers)?;
    let client_has = |etag: &ETag| client.as_ref().is_some_and(|tags| tags.has_weakly(etag));
    Ok(
        match app.tasks.list(&workspace, &query, client_has).await? {
            ListRead::NotModified(etag) => not_modified(&etag),
            ListRead::Fresh(snapshot) => respond(StatusCode::OK, snapshot),
        },
    )
}

/// Create a task.
#[utoipa::path(
    post,
    path = "/v1/tasks",
    operation_id = "createTask",
    tag = "tasks",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]+$", description = format!("Any unique string (a UUID): a retry with the same key and the same request within {} hours is applied once and answered with the first result; the same key with a different request is a `422`.", Idempotency::LIFETIME_MICROS / 3_600_000_000)),
    ),
    request_body = NewTask,
    responses(
        (status = 201, description = "Created", body = Task, headers(
            ("Location" = String, description = "/v1/tasks/{id}"),
            ("ETag" = String, description = "The quoted version"),
        )),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "A request with the same Idempotency-Key is still being processed"),
        (status = 422, description = "Missing, unknown or invalid member; or an Idempotency-Key reused for a different request"),
        (status = 503, description = "The database is unavailable, or the write could not be confirmed: a retry is safe with the same Idempotency-Key"),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    workspace: Workspace,
    method: Method,
    headers: HeaderMap,
    Idempotent {
        body: new,
        idempotency,
    }: Idempotent<NewTask>,
) -> Result<Response, Problem> {
    let task = app
        .tasks
        .create(&workspace, new, idempotency.as_ref())
        .await
        .map_err(write_failed(None, Retry::of(&method, &headers)))?;
    Ok(respond_at(StatusCode::CREATED, &task))
}

/// Read one task.
#[utoipa::path(
    get,
    path = "/v1/tasks/{id}",
    operation_id = "getTask",
    tag = "tasks",
    params(
        ("id" = String, Path, description = "Task id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The task's ETag: `304` while it is current."),
    ),
    responses(
        (status = 200, description = "The task, and the change-log position the read reflects (`seq`)", body = TaskAt, headers(
            ("ETag" = String, description = "The quoted version"),
            ("Tasklane-Seq" = u64, description = "The change-log position the read reflects, as its `seq`"),
        )),
        (status = 304, description = "Unchanged"),
        (status = 400, description = "Malformed If-None-Match"),
        (status = 404, description = "No such task"),
        (status = 500, description = UNREADABLE_TASK),
    )
)]
pub async fn read(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let client = if_none_match(&headers)?;
    let snapshot = app
        .tasks
        .get(&workspace, task_id(&id)?)
        .await?
        .ok_or_else(|| Problem::no_task(&id))?;
    if client.is_some_and(|tags| tags.has_weakly(&snapshot.etag)) {
        return Ok(not_modified(&snapshot.etag));
    }
    Ok(respond(StatusCode::OK, snapshot))
}

/// Change a task with a JSON merge patch (RFC 7396).
#[utoipa::path(
    patch,
    path = "/v1/tasks/{id}",
    operation_id = "updateTask",
    tag = "tasks",
    params(
        ("id" = String, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag last seen: `412` if the task has changed since."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]+$", description = "As for `POST /v1/tasks`: a retried patch is applied once and answered with the first result."),
    ),
    request_body(content = TaskPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The task as it now is", body = Task, headers(("ETag" = String, description = "The quoted version"))),
        (status = 400, description = "Malformed JSON or If-Match"),
        (status = 404, description = "No such task"),
        (status = 412, description = "If-Match does not name the current version"),
        (status = 409, description = "A request with the same Idempotency-Key is still being processed"),
        (status = 422, description = "Unknown or invalid member; or an Idempotency-Key reused for a different request"),
        (status = 500, description = UNREADABLE_TASK),
        (status = 503, description = "The database is unavailable, or the write could not be confirmed: a retry is safe with the same Idempotency-Key"),
    )
)]
pub async fn update(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    method: Method,
    headers: HeaderMap,
    Idempotent {
        body: patch,
        idempotency,
    }: Idempotent<TaskPatch>,
) -> Result<Response, Problem> {
    let expected = if_match(&headers)?;
    let task: Task = app
        .tasks
        .update(
            &workspace,
            task_id(&id)?,
            &expected,
            &patch,
            idempotency.as_ref(),
        )
        .await
        .map_err(write_failed(Some(&id), Retry::of(&method, &headers)))?;
    Ok(respond(StatusCode::OK, Snapshot::of_task(&task)))
}

/// Delete a task.
#[utoipa::path(
    delete,
    path = "/v1/tasks/{id}",
    operation_id = "deleteTask",
    tag = "tasks",
    params(
        ("id" = String, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag last seen: `412` if the task has changed since."),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed If-Match"),
        (status = 404, description = "No such task"),
        (status = 412, description = "If-Match does not name the current version"),
    )
)]
pub async fn delete(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let expected = if_match(&headers)?;
    app.tasks
        .delete(&workspace, task_id(&id)?, &expected)
        .await
        .map_err(write_failed(Some(&id), Retry::Idempotent))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a deleted task back.
#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/restore",
    operation_id = "restoreTask",
    tag = "tasks",
    description = "Brings a deleted task back as its delete left it, at the next version, from the state the change log kept with the delete; a `task.created` change carrying the restored task is appended to the log. Possible while the log keeps the delete (`--changes-retention`, `--changes-retention-count`). Takes no body.",
    params(
        ("id" = String, Path, description = "The deleted task's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]+$", description = "As for `POST /v1/tasks`: a retried restore is applied once and answered with the first result. Without a key a repeat is safe too: it finds the task back and answers `409`."),
    ),
    responses(
        (status = 200, description = "Restored: the task, at its deleted version + 1", body = Task, headers(
            ("Location" = String, description = "/v1/tasks/{id}"),
            ("ETag" = String, description = "The quoted version"),
        )),
        (status = 400, description = "Malformed Idempotency-Key"),
        (status = 404, description = "The change log keeps no delete of this task: no task had this id, or its delete is older than the log keeps"),
        (status = 409, description = "The task exists (it was never deleted, or is restored already); or a request with the same Idempotency-Key is still being processed"),
        (status = 415, description = "A body was sent: this route takes none"),
        (status = 422, description = "An Idempotency-Key reused for a different request"),
        (status = 503, description = "The database is unavailable, or the write could not be confirmed: repeating it is safe (with the same Idempotency-Key, if it was sent with one)"),
    )
)]
pub async fn restore(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    headers: HeaderMap,
    Bodiless { idempotency }: Bodiless,
) -> Result<Response, Problem> {
    let task = app
        .tasks
        .restore(&workspace, task_id(&id)?, idempotency.as_ref())
        .await
        .map_err(|error| match error {
            CacheError::Store(StoreError::NotFound) => Problem::not_restorable(&id),
            other => write_failed(None, Retry::of_repeatable(&headers))(other),
        })?;
    Ok(respond_at(StatusCode::OK, &task))
}
