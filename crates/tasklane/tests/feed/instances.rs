//! Several instances on one database: a subscriber on one receives the writes made on
//! another at once, woken by PostgreSQL's `NOTIFY` or, on SQLite, by their Redis's
//! pub/sub (not by its poll), and a subscriber whose instance is killed resumes on
//! another with every change exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{TestRedis, fresh_database, start_redis};
use crate::helpers::{ServerProcess, TestApp, spawn_app_configured};
use crate::sse::{PROMPTLY, events_of};
use crate::support::{assert_consecutive, assert_events_are, change_log, resume, subscribe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_reaches_a_subscriber_on_another_without_its_poll() {
    let database = fresh_database().await;
    // On SQLite, instances on one file tell each other through the Redis they share:
    // the run's, or one of the test's own.
    let postgres = database.url.starts_with("postgres");
    let own = match (&database.redis, postgres) {
        (None, false) => Some(start_redis().await),
        _ => None,
    };
    let redis = database.redis.clone().or(own.as_ref().map(TestRedis::on));
    let shared = |args: &mut tasklane_server::config::ServeArgs| {
        if let Some(redis) = &redis {
            redis.apply(args);
        }
    };
    let a = spawn_app_configured(&database, shared).await;
    // B does not poll within the test: only a wake-up from A brings it A's writes.
    let b = spawn_app_configured(&database, |args| {
        shared(args);
        args.feed_poll_ms = 60_000;
    })
    .await;
    let mut stream = subscribe(&b, "").await;
    // B's own write shows that its subscription follows the broadcast: from now on
    // only a wake-up brings B the log's new changes.
    b.create_titled("on b").await;
    assert_eq!(stream.event().await.seq(), 1);

    let mut written = Vec::new();
    for n in 0..3 {
        written.push(a.create_titled(&format!("on a {n}")).await);
    }
    let events = stream.events(3).await;
    assert_consecutive(&events, 1);
    let tasks: Vec<_> = events.iter().map(|e| e.json()["task"].clone()).collect();
    assert_eq!(tasks, written);
}

/// `serve` options for instances on `database`'s Redis (if any), polling their feed
/// every 200 ms (SQLite has no notifications).
fn options(redis: Option<&TestRedis>) -> Vec<String> {
    let mut options = vec!["--feed-poll-ms".to_owned(), "200".to_owned()];
    options.extend(redis.iter().flat_map(|redis| redis.options()));
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_instance_is_killed_resumes_on_another_with_every_change_once() {
    let database = fresh_database().await;
    let options = options(database.redis.as_ref());
    let mut a = ServerProcess::start(&database.url, &options).await;
    let b = ServerProcess::start(&database.url, &options).await;
    let (on_a, on_b) = (TestApp::of(&a.base), TestApp::of(&b.base));
    for n in 0..3 {
        on_a.create_titled(&format!("on a {n}")).await;
    }
    let mut stream = subscribe(&on_a, "since=0").await;
    assert_consecutive(&stream.events(3).await, 0);

    // B writes on while A's subscriber reads; A is killed in the middle of it.
    const WRITES: usize = 40;
    let written = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let written = written.clone();
        async move {
            for n in 0..WRITES {
                on_b.create_titled(&format!("on b {n}")).await;
                written.fetch_add(1, Ordering::SeqCst);
            }
            on_b
        }
    });
    let reader = tokio::spawn(async move { events_of(&stream.rest_within(PROMPTLY * 3).await) });
    while written.load(Ordering::SeqCst) < WRITES / 4 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    a.child.kill().unwrap();
    let before_kill = reader.await.unwrap();
    let on_b = writer.await.unwrap();

    let last = before_kill.last().map_or(3, |event| event.seq());
    println!("A's subscriber had changes 1 to {last} when A was killed");
    let head = 3 + WRITES as u64;
    assert!(
        last < head,
        "A was killed before its subscriber had every change"
    );
    let mut resumed = resume(&on_b, last).await;
    let after = resumed.events((head - last) as usize).await;
    let mut events = before_kill;
    events.extend(after);
    assert_events_are(&events, &change_log(&on_b, 3).await);
}
