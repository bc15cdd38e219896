//! `/v1/changes/stream`: the workspace's changes as server-sent events, live.
//!
//! Each change is an event whose `id` is its `seq`, whose `event` is its kind and whose
//! `data` is the change as JSON (as in `/v1/changes`). A client that reconnects with
//! `Last-Event-ID` (as browsers' `EventSource` does by itself) resumes right after the
//! last event it received, or right after where the stream started when no event came
//! (the first block names that position as an `id`, with no data, so it is no event).
//! Two events end a stream: `reset` (the position is older
//! than retention kept: reload the list) and `lagged` (the client read too slowly:
//! reconnect to resume). A comment line is sent whenever nothing else was for the
//! heartbeat interval, so proxies and clients can tell a quiet stream from a dead one.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::StreamExt;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::framing::one_header;
use super::problem::Problem;
use crate::domain::{LogQuery, Workspace};
use crate::feed::Item;

/// How often a stream checks that its token is still valid.
const TOKEN_CHECK: Duration = Duration::from_secs(1);

/// How long a client refused for want of a stream slot is asked to wait.
const STREAMS_FULL: Duration = Duration::from_secs(5);

/// How long a client should wait before reconnecting (the `retry` field).
const RECONNECT: Duration = Duration::from_secs(1);

/// The route of `/v1/changes/stream`.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/changes/stream", get(stream))
}

/// The OpenAPI description of [`router`]'s route.
#[derive(OpenApi)]
#[openapi(paths(stream), components(schemas(StreamEvent)))]
pub(super) struct StreamApi;

/// Follow the workspace's changes as they commit (server-sent events).
#[utoipa::path(
    get,
    path = "/v1/changes/stream",
    operation_id = "streamChanges",
    tag = "changes",
    params(
        ("since" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_u64, description = "Send the changes after this position first (a list's `seq`); default: only changes from now on."),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, description = "The `id` of the last event received: resume right after it (takes precedence over `since`)."),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: first the starting position as an `id` without data (no event: the id a reconnection sends as `Last-Event-ID`), then one event per change (`id: <seq>`, `event: task.created | task.updated | task.deleted`, `data: <change as JSON>`), a comment line as heartbeat; ended by `event: reset` (`data: {\"head\": <seq>}`: the position is older than retention keeps, or ahead of the log; reload the list) or `event: lagged` (`data: {\"resume_after\": <seq>}`: too slow a reader, reconnect), by the server stopping, or within seconds of the token's revocation. The schema is each event's.", content_type = "text/event-stream", body = StreamEvent),
        (status = 400, description = "Unknown, repeated or invalid `since`, or an invalid `Last-Event-ID`"),
        (status = 503, description = "This instance has as many streams open as `--max-streams` allows: retry after `Retry-After`, or on another instance"),
    )
)]
pub async fn stream(
    State(app): State<AppState>,
    workspace: Workspace,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Problem> {
    let query = LogQuery::parse(raw.as_deref().unwrap_or(""), &["since"])?;
    // Held for as long as the stream lasts.
    let permit = app.streams.clone().try_acquire_owned().map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this instance has as many event streams open as it allows (--max-streams); \
             reconnect later, or to another instance",
        )
        .retry_after(STREAMS_FULL)
    })?;
    let since = match last_event_id(&headers)?.or(query.since) {
        Some(since) => since,
        None => app.feed.head(&workspace).await?,
    };
    let items = app.hub.subscribe(workspace, since);
    let token = app.auth.presented(&headers);
    let auth = app.auth.clone();
    let events = async_stream::stream! {
        let _permit = permit;
        // The starting position as an `id` without data: no event, but an `EventSource`
        // cut before the first change still reconnects with `Last-Event-ID`, so a stream
        // opened at the head misses nothing written while it was away.
        yield Ok::<_, Infallible>(Event::default().retry(RECONNECT).id(since.to_string()));
        yield Ok(Event::default().comment(format!("following after {since}")));
        let mut items = std::pin::pin!(items);
        let mut check = tokio::time::interval(TOKEN_CHECK);
        loop {
            tokio::select! {
                item = items.next() => match item {
                    Some(item) => yield Ok(event(item)),
                    None => break,
                },
                // Without a token (`--auth none`) there is nothing to check.
                _ = check.tick(), if token.is_some() => {
                    if !auth.still_valid(token.as_ref()).await {
                        break;
                    }
                }
            }
        }
    };
    // nginx buffers a proxied response unless told not to: events must pass at once.
    let unbuffered = [(HeaderName::from_static("x-accel-buffering"), "no")];
    Ok((
        unbuffered,
        Sse::new(events).keep_alive(KeepAlive::new().interval(app.heartbeat)),
    ))
}

/// The position in `Last-Event-ID`, if the header is sent.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = one_header(headers, "Last-Event-ID")? else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|seq| *seq <= i64::MAX as u64)
        .map(Some)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID must be the id of an event of this stream (a whole number)",
            )
            .at("Last-Event-ID")
        })
}

/// One event of the stream: a change, or the `reset` or `lagged` that ends it. The
/// OpenAPI document describes each event with this.
#[derive(ToSchema)]
struct StreamEvent<'a> {
    /// The change's `seq` (none on `reset` and `lagged`): what a reconnection sends as
    /// `Last-Event-ID`.
    #[schema(value_type = Option<String>, pattern = "^[0-9]+$")]
    id: Option<u64>,
    /// `task.created`, `task.updated` or `task.deleted`; `reset` or `lagged` last.
    #[schema(pattern = "^(task\\.(created|updated|deleted)|reset|lagged)$")]
    event: &'a str,
    /// As JSON: the change (as in `/v1/changes`); `{"head": <seq>}` for `reset`;
    /// `{"resume_after": <seq>}` for `lagged`.
    #[schema(value_type = String, content_media_type = "application/json")]
    data: &'a str,
}

impl From<StreamEvent<'_>> for Event {
    fn from(framed: StreamEvent<'_>) -> Event {
        let event = Event::default().event(framed.event).data(framed.data);
        match framed.id {
            Some(id) => event.id(id.to_string()),
            None => event,
        }
    }
}

/// The event that carries `item`.
fn event(item: Item) -> Event {
    match item {
        Item::Change(change) => StreamEvent {
            id: Some(change.seq),
            event: change.kind.as_str(),
            data: &change.data,
        }
        .into(),
        Item::Reset { head } => StreamEvent {
            id: None,
            event: "reset",
            data: &format!("{{\"head\":{head}}}"),
        }
        .into(),
        Item::Lagged { resume_after } => StreamEvent {
            id: None,
            event: "lagged",
            data: &format!("{{\"resume_after\":{resume_after}}}"),
        }
        .into(),
    }
}
