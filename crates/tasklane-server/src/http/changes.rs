//! `/v1/changes`: the workspace's change log, read page by page (incremental sync).
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
use super::problem::Problem;
use crate::domain::{Change, ChangeKind, LogQuery, Workspace};
use crate::feed::FeedError;

/// The header that carries the log position a read reflects.
pub const SEQ_HEADER: &str = "tasklane-seq";

/// The routes of `/v1/changes`.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/changes", get(changes))
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(OpenApi)]
#[openapi(
    paths(changes),
    components(schemas(Change, ChangeKind, ChangePage)),
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
        ("since" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_u64, description = "The position after which to read: a list's `seq`, or a previous page's `next_since` (default 0: from the first change retention kept)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = format!("At most this many changes (1 to {}, default {}).", LogQuery::MAX_LIMIT, LogQuery::DEFAULT_LIMIT)),
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
    let query = LogQuery::parse(raw.as_deref().unwrap_or(""), &["since", "limit"])?;
    let since = query.since.unwrap_or(0);
    let log = app.feed.read(&workspace, since, query.limit).await?;
    Ok(Json(ChangePage {
        next_since: log.changes.last().map_or(since, |change| change.seq),
        head: log.head,
        data: log.changes,
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
