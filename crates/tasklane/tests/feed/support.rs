//! What the feed tests share: opening a workspace's event stream, reading its change
//! log, and comparing what one delivered with what the other holds.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::sse::{EventStream, Frame, PROMPTLY, SseEvent};

/// The stream of `app`'s workspace, opened with this query string (`since=...`, or "").
pub async fn subscribe(app: &TestApp, query: &str) -> EventStream {
    let url = app.url(&format!("/v1/changes/stream?{query}"));
    EventStream::open(app.client.get(url)).await
}

/// The stream of `app`'s workspace, resumed after the event `last_event_id`.
pub async fn resume(app: &TestApp, last_event_id: u64) -> EventStream {
    let request = app
        .client
        .get(app.url("/v1/changes/stream"))
        .header("last-event-id", last_event_id.to_string());
    EventStream::open(request).await
}

/// Every change of `app`'s workspace log after `since`, read page by page.
pub async fn change_log(app: &TestApp, since: u64) -> Vec<Value> {
    let mut changes = Vec::new();
    let mut since = since;
    loop {
        let url = app.url(&format!("/v1/changes?since={since}&limit=1000"));
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        changes.extend(page["data"].as_array().unwrap().iter().cloned());
        let next = page["next_since"].as_u64().unwrap();
        if next == page["head"].as_u64().unwrap() {
            return changes;
        }
        since = next;
    }
}

/// Asserts that `events` are exactly the changes of `log`, in its order: each event's
/// `id` is its change's `seq`, its name the change's kind, its data the change.
pub fn assert_events_are(events: &[SseEvent], log: &[Value]) {
    let ids: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    let seqs: Vec<u64> = log.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(ids, seqs, "the events' ids against the log's seqs");
    for (event, change) in events.iter().zip(log) {
        assert_eq!(event.event, change["kind"].as_str().unwrap(), "{event:?}");
        assert_eq!(&event.json(), change, "{event:?}");
    }
}

/// Asserts that `events` are the changes right after `since`, each once, in order.
pub fn assert_consecutive(events: &[SseEvent], since: u64) {
    let ids: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    let expected: Vec<u64> = (since + 1..=since + events.len() as u64).collect();
    assert_eq!(ids, expected, "every change after {since}, once, in order");
}

/// The events of `stream` through change `last`, resuming on `app` after the last one
/// received whenever the stream ends (each change is expected within
/// [`PROMPTLY`]); returns them and how many times the stream was resumed.
pub async fn follow_through(
    app: &TestApp,
    mut stream: EventStream,
    since: u64,
    last: u64,
) -> (Vec<SseEvent>, usize) {
    const RESUMPTIONS: usize = 20;
    let (mut events, mut resumed) = (Vec::<SseEvent>::new(), 0);
    loop {
        let next = tokio::time::timeout(PROMPTLY, stream.next()).await;
        match next.unwrap_or_else(|_| panic!("no change within {PROMPTLY:?} after {events:?}")) {
            Some(Frame::Event(event)) => {
                let seq = event.seq();
                events.push(event);
                if seq >= last {
                    return (events, resumed);
                }
            }
            Some(Frame::Comment(_)) => {}
            None => {
                resumed += 1;
                assert!(
                    resumed <= RESUMPTIONS,
                    "the stream keeps ending: {events:?}"
                );
                let after = events.last().map_or(since, SseEvent::seq);
                stream = resume(app, after).await;
            }
        }
    }
}
