//! How long a stream lives: a quiet one is kept alive by heartbeat comments, and the
//! server stopping (SIGTERM for the real binary, a stop for an in-process server) ends
//! every open stream instead of waiting for them.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, TestApp, spawn_app, spawn_app_with};
use crate::sse::{EventStream, Frame, PROMPTLY, events_of};
use crate::support::subscribe;

/// The next frame within `within`, which must come.
async fn frame_within(stream: &mut EventStream, within: Duration) -> Frame {
    tokio::time::timeout(within, stream.next())
        .await
        .unwrap_or_else(|_| panic!("nothing within {within:?}"))
        .expect("the stream goes on")
}

#[tokio::test]
async fn a_quiet_stream_gets_a_heartbeat_comment_every_interval() {
    let app = spawn_app_with(|args| args.stream_heartbeat_secs = 1).await;
    let mut stream = subscribe(&app, "").await;
    assert_eq!(
        frame_within(&mut stream, PROMPTLY).await,
        Frame::Comment("following after 0".to_owned())
    );
    // The default interval is 10 s: these come from the option.
    for _ in 0..2 {
        let frame = frame_within(&mut stream, Duration::from_secs(4)).await;
        assert_eq!(frame, Frame::Comment(String::new()));
    }
    // A heartbeat is no event: the next event is still the next change.
    app.create_titled("one").await;
    assert_eq!(stream.event().await.seq(), 1);
}

/// Asserts that each of `streams` ends within `within`, with no further event.
async fn assert_ended(streams: Vec<EventStream>, within: Duration) {
    for mut stream in streams {
        let rest = stream.rest_within(within).await;
        assert!(events_of(&rest).is_empty(), "{rest:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_ends_its_streams_and_does_not_wait_for_them() {
    let app = spawn_app().await;
    let mut streams = Vec::new();
    for query in ["", "since=0"] {
        streams.push(subscribe(&app, query).await);
    }
    app.create_titled("one").await;
    for stream in &mut streams {
        assert_eq!(stream.event().await.seq(), 1);
    }
    let started = Instant::now();
    tokio::time::timeout(PROMPTLY, app.stop())
        .await
        .expect("the server stops with streams open");
    println!("stopped in {:?}", started.elapsed());
    assert_ended(streams, PROMPTLY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_streams_and_the_process_exits_cleanly() {
    let database = fresh_database().await;
    let options: Vec<String> = database.redis.iter().flat_map(|r| r.options()).collect();
    let mut server = ServerProcess::start(&database.url, &options).await;
    let app = TestApp::of(&server.base);
    let mut stream = subscribe(&app, "").await;
    app.create_titled("one").await;
    assert_eq!(stream.event().await.seq(), 1);

    let started = Instant::now();
    let signalled = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    assert_ended(vec![stream], PROMPTLY).await;
    let exited = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + PROMPTLY;
        while Instant::now() < deadline {
            if let Some(status) = server.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    })
    .await
    .unwrap();
    let status = exited.expect("the process exits within 10 s of SIGTERM with a stream open");
    assert!(status.success(), "a clean exit: {status}");
    println!("exited in {:?}", started.elapsed());
}

/// Streams hold their connections: beyond `--max-streams`, a new one is refused with a
/// `503` and `Retry-After` (so that streams cannot take every connection), ordinary
/// requests still go through, and a stream that ends gives its slot back.
#[tokio::test]
async fn streams_beyond_their_cap_are_refused_and_a_closed_one_frees_its_slot() {
    let app = spawn_app_with(|args| args.max_streams = Some(2)).await;
    let first = subscribe(&app, "").await;
    let mut second = subscribe(&app, "").await;

    let refused = app
        .client
        .get(app.url("/v1/changes/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "5");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("--max-streams"),
        "{problem}"
    );
    // Ordinary requests are not streams.
    app.create_titled("one").await;
    assert_eq!(second.event().await.seq(), 1);

    drop(first);
    // The slot comes back once the server has seen the stream go.
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let response = app
            .client
            .get(app.url("/v1/changes/stream"))
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::OK {
            // And passes through nginx unbuffered.
            assert_eq!(response.headers()["x-accel-buffering"], "no");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
