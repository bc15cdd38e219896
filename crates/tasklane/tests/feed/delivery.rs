//! What one stream delivers: every change in order, as the write left its task; where
//! it starts (`since`, `Last-Event-ID`, the head); what it refuses; and `reset`, which
//! ends a stream whose position the log does not continue from (ahead of it, or older
//! than retention kept).

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane_server::config::ServeArgs;

use crate::helpers::{problem, spawn_app, spawn_app_configured, spawn_app_with};
use crate::sse::{PROMPTLY, events_of};
use crate::support::{assert_consecutive, assert_events_are, change_log, resume, subscribe};

#[tokio::test]
async fn every_change_arrives_in_order_with_its_seq_kind_and_the_state_it_wrote() {
    let app = spawn_app().await;
    let mut stream = subscribe(&app, "").await;

    let first = app.create(json!({"title": "first", "labels": ["a"]})).await;
    let second = app.create_titled("second").await;
    let id = first["id"].as_str().unwrap();
    let patched = app
        .patch_task(id, &json!({"status": "done", "assignee": "ana"}), None)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.json().await.unwrap();
    let second_id = second["id"].as_str().unwrap();
    let deleted = app.delete_task(second_id, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let events = stream.events(4).await;
    assert_consecutive(&events, 0);
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "task.created",
            "task.created",
            "task.updated",
            "task.deleted"
        ]
    );
    // Each carries the task exactly as its write answered it; a delete, none.
    let states: Vec<Value> = events.iter().map(|e| e.json()["task"].clone()).collect();
    assert_eq!(states, [first, second.clone(), patched, Value::Null]);
    let gone = events[3].json();
    assert_eq!(gone["task_id"], second["id"]);
    assert_eq!(gone["version"], second["version"]);
    // The very changes `/v1/changes` holds.
    assert_events_are(&events, &change_log(&app, 0).await);

    // Nothing in between: the next write is the next event.
    let third = app.create_titled("third").await;
    let next = stream.event().await;
    assert_eq!(next.seq(), 5);
    assert_eq!(next.json()["task"], third);
}

#[tokio::test]
async fn since_replays_from_there_and_without_it_the_stream_starts_at_the_head() {
    let app = spawn_app().await;
    for title in ["one", "two", "three"] {
        app.create_titled(title).await;
    }
    let mut from_one = subscribe(&app, "since=1").await;
    let mut from_start = subscribe(&app, "since=0").await;
    let mut from_head = subscribe(&app, "").await;

    assert_consecutive(&from_one.events(2).await, 1);
    assert_consecutive(&from_start.events(3).await, 0);
    let four = app.create_titled("four").await;
    for stream in [&mut from_one, &mut from_start, &mut from_head] {
        // The head-started stream's first event is the write after it opened.
        let event = stream.event().await;
        assert_eq!(event.seq(), 4);
        assert_eq!(event.json()["task"], four);
    }
}

#[tokio::test]
async fn a_stream_cut_before_its_first_change_resumes_without_a_gap() {
    let app = spawn_app().await;
    app.create_titled("before the stream").await;
    // Opened at the head, as an `EventSource` without `since` is, and cut before any
    // change came: the position it started at is still the id it resumes after.
    let mut stream = subscribe(&app, "").await;
    let opening = stream.next().await;
    assert_eq!(
        opening,
        Some(crate::sse::Frame::Comment("following after 1".into()))
    );
    let last = stream
        .last_event_id()
        .expect("the stream names its starting position as an id");
    assert_eq!(last, 1);
    drop(stream);

    let missed = app.create_titled("while the client was away").await;
    let event = resume(&app, last).await.event().await;
    assert_eq!(event.seq(), 2);
    assert_eq!(event.json()["task"], missed);
}

#[tokio::test]
async fn last_event_id_resumes_right_after_it_and_wins_over_since() {
    let app = spawn_app().await;
    let mut stream = subscribe(&app, "").await;
    for n in 1..=3 {
        app.create_titled(&format!("task {n}")).await;
    }
    let seen = stream.events(3).await;
    assert_consecutive(&seen, 0);
    drop(stream);

    // Written while the client was away.
    for n in 4..=6 {
        app.create_titled(&format!("task {n}")).await;
    }
    let last = seen.last().unwrap().seq();
    let mut resumed = resume(&app, last).await;
    let missed = resumed.events(3).await;
    assert_events_are(&missed, &change_log(&app, last).await);

    // With both, Last-Event-ID decides: after 2, not after 5.
    let request = app
        .client
        .get(app.url("/v1/changes/stream?since=5"))
        .header("last-event-id", "2");
    let mut both = crate::sse::EventStream::open(request).await;
    assert_consecutive(&both.events(4).await, 2);

    // And both go on live.
    app.create_titled("task 7").await;
    assert_eq!(resumed.event().await.seq(), 7);
    assert_eq!(both.event().await.seq(), 7);
}

#[tokio::test]
async fn a_bad_since_or_last_event_id_is_a_400_problem_naming_it() {
    let app = spawn_app().await;
    app.create_titled("one").await;
    let stream = app.url("/v1/changes/stream");
    for query in [
        "since=abc",
        "since=-1",
        "since=",
        "since=1.5",
        "since=9223372036854775808",
        "since=1&since=1",
    ] {
        let response = app
            .client
            .get(format!("{stream}?{query}"))
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["field"], "since", "{query}: {body}");
    }
    // `limit` belongs to `/v1/changes`, not to the stream.
    let response = app
        .client
        .get(format!("{stream}?limit=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response, StatusCode::BAD_REQUEST).await["field"],
        "limit"
    );
    for id in ["abc", "-1", "1.5", "", "9223372036854775808"] {
        let response = app
            .client
            .get(&stream)
            .header("last-event-id", id)
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["field"], "Last-Event-ID", "{id:?}: {body}");
    }
    let twice = app
        .client
        .get(&stream)
        .header("last-event-id", "1")
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    problem(twice, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_position_ahead_of_the_log_is_told_to_reset_and_the_stream_ends() {
    let app = spawn_app().await;
    app.create_titled("one").await;
    app.create_titled("two").await;
    // Head is 2: a position from another database (or from before a restore) is not.
    let ahead = subscribe(&app, "since=3").await;
    let ahead_by_id = resume(&app, 7).await;
    for mut stream in [ahead, ahead_by_id] {
        let frames = stream.rest_within(PROMPTLY).await;
        let events = events_of(&frames);
        assert_eq!(events.len(), 1, "one reset, then the end: {frames:?}");
        assert_eq!(events[0].event, "reset");
        assert_eq!(events[0].id, None);
        assert_eq!(events[0].json(), json!({"head": 2}));
    }
    // The head itself is no reset: the stream waits there for the next change.
    let mut at_head = subscribe(&app, "since=2").await;
    app.create_titled("three").await;
    assert_eq!(at_head.event().await.seq(), 3);
}

#[tokio::test]
async fn a_position_older_than_retention_is_told_to_reset_and_a_kept_one_follows_on() {
    let keep_three = |args: &mut ServeArgs| {
        args.changes_retention_count = NonZeroU64::new(3).unwrap();
    };
    let app = spawn_app_with(keep_three).await;
    for n in 1..=5 {
        app.create_titled(&format!("task {n}")).await;
    }
    // The pruner runs as a server starts: changes 1 and 2 go.
    let database = app.stop().await;
    let app = spawn_app_configured(&database, keep_three).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (reset, mut stream) = loop {
        let mut stream = subscribe(&app, "since=1").await;
        let first = stream.event().await;
        if first.event == "reset" {
            break (first, stream);
        }
        assert!(Instant::now() < deadline, "nothing was pruned in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reset.json(), json!({"head": 5}));
    let rest = stream.rest_within(PROMPTLY).await;
    assert_eq!(events_of(&rest), [], "the end after the reset");
    let frames = resume(&app, 0).await.rest_within(PROMPTLY).await;
    assert_eq!(events_of(&frames)[0].event, "reset", "{frames:?}");

    // Right after the last change forgotten, the stream follows on.
    let mut kept = subscribe(&app, "since=2").await;
    assert_events_are(&kept.events(3).await, &change_log(&app, 2).await);
}
