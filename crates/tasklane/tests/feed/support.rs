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
    let seqs: Vec<u64> = log.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_ids(events, &seqs);
    for (event, change) in events.iter().zip(log) {
        assert_eq!(event.event, change["kind"].as_str().unwrap(), "{event:?}");
        assert_eq!(&event.json(), change, "{event:?}");
    }
}

/// Asserts that `events` are the changes right after `since`, each once, in order.
pub fn assert_consecutive(events: &[SseEvent], since: u64) {
    let expected: Vec<u64> = (since + 1..=since + events.len() as u64).collect();
    assert_ids(events, &expected);
}

/// Asserts that the events' ids are `expected`, naming the first difference (the lists
/// may be long).
fn assert_ids(events: &[SseEvent], expected: &[u64]) {
    let ids: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    let differs = ids.iter().zip(expected).position(|(id, seq)| id != seq);
    if let Some(n) =
        differs.or((ids.len() != expected.len()).then_some(ids.len().min(expected.len())))
    {
        let around = |list: &[u64]| list[n.saturating_sub(2)..(n + 3).min(list.len())].to_vec();
        panic!(
            "{} events where {} changes were expected; from position {n}: ids {:?}, expected {:?}",
            ids.len(),
            expected.len(),
            around(&ids),
            around(expected),
        );
    }
}

/// What [`follow_through`] received, and the stream it ended on.
pub struct Followed {
    pub events: Vec<SseEvent>,
    /// How many times the stream was resumed.
    pub resumed: usize,
    pub stream: EventStream,
}

/// The changes `stream` sends through change `last`, resuming on `app` after the last
/// one received whenever the stream ends or says it `lagged` (each change is expected
/// within [`PROMPTLY`]).
pub async fn follow_through(
    app: &TestApp,
    mut stream: EventStream,
    since: u64,
    last: u64,
) -> Followed {
    const RESUMPTIONS: usize = 20;
    let (mut events, mut resumed) = (Vec::<SseEvent>::new(), 0);
    loop {
        let next = tokio::time::timeout(PROMPTLY, stream.next()).await;
        let last_seen = events.last().map_or(since, SseEvent::seq);
        match next.unwrap_or_else(|_| panic!("no change within {PROMPTLY:?} after {last_seen}")) {
            Some(Frame::Event(event)) if event.event == "lagged" => {
                let expected = serde_json::json!({ "resume_after": last_seen });
                assert_eq!(event.json(), expected);
            }
            Some(Frame::Event(event)) => {
                let seq = event.seq();
                events.push(event);
                if seq >= last {
                    return Followed {
                        events,
                        resumed,
                        stream,
                    };
                }
            }
            Some(Frame::Comment(_)) => {}
            None => {
                resumed += 1;
                assert!(resumed <= RESUMPTIONS, "the stream keeps ending");
                stream = resume(app, last_seen).await;
            }
        }
    }
}
