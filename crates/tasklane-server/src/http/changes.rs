//! `/v1/changes`: the workspace's change log, read page by page (incremental sync); and
//! `/v1/tasks/{id}/changes`: one task's history, newest first.
//!
//! The sync recipe: take a list (its body and `Tasklane-Seq` carry the `seq` it
//! reflects), then ask for the changes `since` that `seq`, and again from `next_since`:
//! no change is missed and none is applied twice.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, response::IntoResponse};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::path_id::PathId;
use super::problem::Problem;
use crate::domain::{Change, ChangeKind, LogQuery, TaskId, Workspace};
use crate::feed::FeedError;

/// The header that carries the log position a read reflects.
pub const SEQ_HEADER: &str = "tasklane-seq";

/// The query parameters of `GET /v1/changes`.
pub(super) const LOG_PARAMETERS: [&str; 2] = ["since", "limit"];

/// The query parameters of `GET /v1/tasks/{id}/changes`.
pub(super) const HISTORY_PARAMETERS: [&str; 2] = ["before", "limit"];

/// The routes of the change log: the workspace's and each task's.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/changes", get(changes))
        .route("/v1/tasks/{id}/changes", get(history))
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(changes, history),
    components(schemas(Change, ChangeKind, ChangePage, HistoryPage)),
    tags((name = "changes", description = "The workspace's change log: every write, in commit order"))
)]
pub(super) struct ChangesApi;

/// One page of the change log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    /// The changes after `since`, oldest first, at most `limit`.
    pub data: Vec<Change>,
    /// Pass as `since` for the changes after these: the last change's `seq`, or `since`
    /// itself when there were none.
    pub next_since: u64,
    /// The workspace's latest `seq` when the page was read: fewer changes than `limit`
    /// and `next_since == head` mean the client is up to date.
    pub head: u64,
}

/// Read the changes after a position.
#[utoipa::path(
    get,
    path = "/v1/changes",
    operation_id = "listChanges",
    tag = "changes",
    params(
        ("since" = Option<u64>, Query, description = "The position after which to read: a list's `seq`, or a previous page's `next_since` (default: from the oldest change the log keeps; an explicit `0` is a `410` once retention has forgotten any change)."),
        ("limit" = Option<u32>, Query, description = format!("At most this many changes (1 to {}, default {}).", LogQuery::MAX_LIMIT, LogQuery::DEFAULT_LIMIT)),
    ),
    responses(
        (status = 200, description = "The changes after `since`, in order", body = ChangePage),
        (status = 400, description = "Unknown, repeated or invalid query parameter"),
        (status = 410, description = "Retention no longer holds every change after `since` (or `since` is ahead of the log): reload the list and follow from its `seq`"),
        (status = 503, description = "The database is unavailable, or the cache could not be advanced before the changes were handed out; retry"),
    )
)]
pub async fn changes(
    State(app): State<AppState>,
    workspace: Workspace,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, Problem> {
    let query = LogQuery::parse(raw.as_deref().unwrap_or(""), &LOG_PARAMETERS)?;
    let log = app.feed.read(&workspace, query.since, query.limit).await?;
    // Read without `since`, the page starts after the last change retention forgot.
    let since = query
        .since
        .unwrap_or_else(|| log.first_kept.saturating_sub(1));
    Ok(Json(ChangePage {
        next_since: log.changes.last().map_or(since, |change| change.seq),
        head: log.head,
        data: log.changes,
    }))
}

/// One page of a task's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// The task's changes before `before`, newest first, at most `limit`.
    pub data: Vec<Change>,
    /// Pass as `before` for the next, older page: the `seq` of this page's last change;
    /// null when the page is not full, so there is no older change.
    #[schema(required = true)]
    pub next_before: Option<u64>,
}

/// Read a task's history.
#[utoipa::path(
    get,
    path = "/v1/tasks/{id}/changes",
    operation_id = "listTaskChanges",
    tag = "changes",
    description = "The task's changes that the log still keeps (see `--changes-retention`), newest first: its creation, every update, its delete and restores, each with the state it left. An id whose changes the log no longer keeps, or that never named a task, answers an empty page, not a `404`: the log cannot tell the two apart, and a task that still exists may have outlived all of its changes.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("before" = Option<u64>, Query, description = "Only changes before this position: a previous page's `next_before` (default: from the newest)."),
        ("limit" = Option<u32>, Query, description = format!("At most this many changes (1 to {}, default {}).", LogQuery::MAX_LIMIT, LogQuery::DEFAULT_LIMIT)),
    ),
    responses(
        (status = 200, description = "The task's changes, newest first", body = HistoryPage),
        (status = 400, description = "Unknown, repeated or invalid query parameter"),
        (status = 404, description = "Not a task id"),
    )
)]
pub async fn history(
    State(app): State<AppState>,
    workspace: Workspace,
    PathId(id): PathId,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, Problem> {
    let query = LogQuery::parse(raw.as_deref().unwrap_or(""), &HISTORY_PARAMETERS)?;
    let task: TaskId = id.parse().map_err(|_| Problem::no_task(&id))?;
    let changes = app
        .feed
        .history(&workspace, task, query.before, query.limit)
        .await?;
    let full = changes.len() == query.limit as usize;
    Ok(Json(HistoryPage {
        next_before: changes.last().filter(|_| full).map(|change| change.seq),
        data: changes,
    }))
}

impl From<FeedError> for Problem {
    fn from(error: FeedError) -> Self {
        match error {
            FeedError::Gone {
                since,
                first_kept,
                head,
            } => {
                let why = if since > head {
                    format!("position {since} is ahead of the log (its latest change is {head})")
                } else if first_kept > head {
                    format!(
                        "the changes after {since} are no longer kept (none is: the latest was {head})"
                    )
                } else {
                    format!(
                        "the changes after {since} are no longer kept (the oldest kept is {first_kept})"
                    )
                };
                Problem::new(
                    StatusCode::GONE,
                    format!("{why}: reload the list and follow the changes from its `seq`"),
                )
                .at("since")
            }
            FeedError::Cache(error) => error.into(),
        }
    }
}
