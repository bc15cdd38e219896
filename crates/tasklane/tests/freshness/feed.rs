//! The change feed's "advance before announce" (see the feed's module documentation),
//! replayed step by step on the one interleaving where it matters: Redis loses a
//! write's announcement after the write committed, and keeps the generation and an
//! entry filled before it (a failover to a replica that had not received the
//! announcement, a restart from an older snapshot).
//!
//! 1. instance C lists: the entry is filled under the workspace's generation;
//! 2. Redis writes a snapshot (`SAVE`);
//! 3. instance A's write announces itself and commits; Redis is killed before the
//!    write's advance, so the write is unconfirmed (a `503`), yet committed;
//! 4. Redis restarts from the snapshot: the generation and C's entry are back, the
//!    announcement is gone;
//! 5. instance B's feed reads the change from the log, and a subscriber receives it;
//! 6. a list read on C, started after the event was received, must show the change.
//!
//! The test-only announce-first feed must fail step 6 (so the test can fail): nothing
//! moved the generation past C's entry. Tasklane's feed advanced it at step 5, before
//! it handed the change out.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tasklane_server::cache::{CacheError, CacheHealth};
use tasklane_server::domain::ChangeKind;
use tasklane_server::feed::{Feed, FeedDesign, Hub, HubConfig, Item};
use tasklane_server::store::Store;
use tasklane_server::telemetry::Registry;

use crate::common::start_redis;
use crate::support::{instrumented_store, list, one_task, redis_instance, rename, titles};

/// Runs the interleaving with a feed of `design`; returns what the list read of step 6
/// saw.
async fn list_after_the_event(design: FeedDesign) -> Vec<String> {
    let mut redis = start_redis().await;
    let store = instrumented_store(Duration::ZERO).await;
    let lease = Duration::from_secs(60);
    let [a, b, c] = [(); 3].map(|()| redis_instance(&store, &redis.url(), lease));
    let (workspace, query, task) = one_task(&a).await;
    let since = store.generation(&workspace).await.unwrap().counter;

    assert_eq!(titles(&list(&c, &workspace, &query).await), ["before"]); // 1.
    let reads = store.hooks().reads();
    assert_eq!(titles(&list(&c, &workspace, &query).await), ["before"]);
    assert_eq!(
        store.hooks().reads(),
        reads,
        "C serves the list from its cache"
    );
    redis.save().await.unwrap(); // 2.

    let paused = store.hooks().pause_after_next_write();
    let writer = tokio::spawn({
        let (a, workspace) = (a.clone(), workspace.clone());
        async move { rename(&a, &workspace, task.id, "after").await }
    });
    paused.reached.await.unwrap(); // 3. announced and committed, not yet advanced
    redis.kill();
    paused.release.send(()).unwrap();
    let write = writer.await.unwrap();
    assert!(matches!(write, Err(CacheError::Unconfirmed)), "{write:?}");
    redis.roll_back().await.unwrap(); // 4.

    let store: Arc<dyn Store> = store;
    let feed = Feed::new(store, b).with_design(design);
    let hub = Hub::new(
        Arc::new(feed),
        HubConfig {
            poll: Duration::from_millis(50),
            buffer: 16,
        },
        &Registry::new(),
    );
    let mut events = std::pin::pin!(hub.subscribe(workspace.clone(), since));
    let received = tokio::time::timeout(Duration::from_secs(10), events.next()).await; // 5.
    let Ok(Some(Item::Change(event))) = received else {
        panic!("no event for the write: {received:?}");
    };
    assert_eq!((event.seq, event.kind), (since + 1, ChangeKind::Updated));

    // C's connection went with the killed Redis: once it has one to the restarted
    // Redis, its reads ask Redis again instead of standing aside.
    for _ in 0..100 {
        if c.health().await == CacheHealth::Ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.health().await, CacheHealth::Ok);
    titles(&list(&c, &workspace, &query).await) // 6.
}

#[tokio::test]
async fn a_list_read_after_an_event_shows_its_change_though_redis_lost_the_announcement() {
    assert_eq!(
        list_after_the_event(FeedDesign::AdvanceFirst).await,
        ["after"]
    );
}

#[tokio::test]
async fn a_feed_that_announces_before_it_advances_lets_a_read_miss_the_event() {
    assert_eq!(
        list_after_the_event(FeedDesign::AnnounceFirst).await,
        ["before"],
        "the race is real"
    );
}
