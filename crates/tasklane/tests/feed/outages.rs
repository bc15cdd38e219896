//! The services going away under open streams: PostgreSQL restarted abruptly, Redis
//! flushed and restarted empty. Each stream goes on (or is resumed) with every change
//! exactly once, and its instance hears of other instances' writes again at once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use tasklane_check::supervisor::redis_command;

use crate::common::{TestRedis, fresh_database, own_postgres, start_redis};
use crate::helpers::{TestApp, spawn_app_configured};
use crate::support::{assert_events_are, change_log, follow_through, subscribe};

/// Creates a task on `app`, retrying while the database is not back yet.
async fn create_when_back(app: &TestApp, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.post_task(&json!({ "title": title })).await;
        if response.status() == StatusCode::CREATED {
            return;
        }
        assert!(Instant::now() < deadline, "{:?}", response.text().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_goes_on_across_a_postgresql_restart_with_every_change_once() {
    if std::env::var("TASKLANE_TEST_STORE").as_deref() != Ok("postgres") {
        eprintln!("a PostgreSQL leg runs this test");
        return;
    }
    let postgres = own_postgres().await;
    // A's subscriber is woken by B's notifications only: no poll within the test. Its
    // listener must come back with the database, and catch up on what it missed.
    let a = spawn_app_configured(&postgres.database, |args| args.feed_poll_ms = 60_000).await;
    let b = spawn_app_configured(&postgres.database, |_| {}).await;
    let stream = subscribe(&a, "").await;
    b.create_titled("before").await;

    postgres.server.crash().await.unwrap();
    postgres.server.start_server().await.unwrap();
    for n in 0..5 {
        create_when_back(&b, &format!("after {n}")).await;
    }

    let followed = follow_through(&a, stream, 0, 6).await;
    println!("resumed {} times", followed.resumed);
    assert_events_are(&followed.events, &change_log(&b, 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_goes_on_across_a_redis_flush_and_restart_with_every_change_once() {
    // A redis-server of the test's own: flushing and restarting it hurts no other test.
    let mut server = start_redis().await;
    let redis = TestRedis::on(&server);
    let database = fresh_database().await;
    let a = spawn_app_configured(&database, |args| redis.apply(args)).await;
    // B hears of A's writes through NOTIFY or, on SQLite, Redis pub/sub, not its poll.
    let b = spawn_app_configured(&database, |args| {
        redis.apply(args);
        args.feed_poll_ms = 60_000;
    })
    .await;
    let stream = subscribe(&b, "").await;
    for n in 0..2 {
        a.create_titled(&format!("before {n}")).await;
    }
    redis_command(&server.url(), &["FLUSHALL"]).await.unwrap();
    for n in 0..2 {
        a.create_titled(&format!("flushed {n}")).await;
    }
    server.restart().await.unwrap();
    for n in 0..2 {
        create_when_back(&a, &format!("restarted {n}")).await;
    }

    let followed = follow_through(&b, stream, 0, 6).await;
    println!("resumed {} times", followed.resumed);
    assert_events_are(&followed.events, &change_log(&a, 0).await);
    // Announced, so read: the last change is in a list read from B.
    let titles = b.titles("sort=title").await;
    assert!(titles.contains(&"restarted 1".to_owned()), "{titles:?}");
}
