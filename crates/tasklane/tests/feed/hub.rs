//! The hub's own interleavings: a subscription joining a follower that is just starting
//! must not leave a change to nobody (replayed in process, on a store whose timing the
//! test controls), and one joining a follower that is behind must not send a change
//! twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tasklane_server::cache::{CacheConfig, Consistency, TaskCache};
use tasklane_server::domain::{NewTask, Timestamp, Workspace};
use tasklane_server::feed::{Feed, Hub, HubConfig, Item, wake};
use tasklane_server::store::{Hooked, Hooks, Store};
use tasklane_server::telemetry::Registry;
use tokio::sync::mpsc;

use crate::common::{fresh_database, open_store};
use crate::helpers::spawn_app_configured;
use crate::sse::PROMPTLY;
use crate::support::{assert_consecutive, subscribe};

/// Reads of a workspace's log head take this long (a loaded database's).
struct SlowHead(Duration);

#[async_trait]
impl Hooks for SlowHead {
    async fn before_generation(&self) {
        tokio::time::sleep(self.0).await;
    }
}

fn titled(title: &str) -> NewTask {
    serde_json::from_value(serde_json::json!({ "title": title })).unwrap()
}

/// The `seq` of a subscription's next item, which must be a change.
async fn next_seq(items: &mut mpsc::UnboundedReceiver<Item>, within: Duration) -> Option<u64> {
    match tokio::time::timeout(within, items.recv()).await {
        Ok(Some(Item::Change(event))) => Some(event.seq),
        Ok(other) => panic!("a change, not {other:?}"),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_change_committed_while_a_new_follower_starts_reaches_its_first_subscriber() {
    let database = fresh_database().await;
    let slow = Duration::from_secs(1);
    let store: Arc<dyn Store> = Arc::new(Hooked::new(
        open_store(&database.url).await.unwrap().tasks,
        SlowHead(slow),
    ));
    let config = CacheConfig {
        consistency: Consistency::Local,
        ..CacheConfig::default()
    };
    let cache = Arc::new(TaskCache::new(store.clone(), None, &config, &Registry::new()).unwrap());
    let hub = Hub::new(
        Arc::new(Feed::new(store, cache.clone())),
        // No poll comes to the rescue within the test.
        HubConfig {
            poll: Duration::from_secs(600),
            buffer: 64,
        },
        &Registry::new(),
    );
    wake::on_local_writes(hub.clone(), cache.writes(), None);
    let workspace = Workspace::named("team");
    cache.create(&workspace, titled("one"), None).await.unwrap();

    let (sender, mut items) = mpsc::unbounded_channel();
    let subscription = hub.subscribe(workspace.clone(), 0);
    tokio::spawn(async move {
        let mut subscription = std::pin::pin!(subscription);
        while let Some(item) = subscription.next().await {
            if sender.send(item).is_err() {
                return;
            }
        }
    });
    // Change 1 comes from the subscription's own catch-up; it then joins the (new)
    // follower and catches up once more, long before a slow read of the head is done.
    assert_eq!(next_seq(&mut items, PROMPTLY).await, Some(1));
    tokio::time::sleep(slow / 4).await;
    cache.create(&workspace, titled("two"), None).await.unwrap();
    // No further write and no poll: change 2 must come without them.
    assert_eq!(
        next_seq(&mut items, slow * 4).await,
        Some(2),
        "a change committed after the subscription caught up, before its new follower \
         read the head, was left to nobody"
    );
}

#[tokio::test]
async fn a_subscription_joining_a_follower_behind_it_sends_no_change_twice() {
    let database = fresh_database().await;
    // Without a poll, only this instance's writes (and PostgreSQL's notifications) wake
    // its follower.
    let app = spawn_app_configured(&database, |args| args.feed_poll_ms = 60_000).await;
    let mut first = subscribe(&app, "").await;
    app.create_titled("one").await;
    assert_eq!(first.event().await.seq(), 1);

    // Changes 2 to 4 written behind the server's back: on SQLite, its follower does not
    // know of them yet.
    let store = open_store(&database.url).await.unwrap().tasks;
    for title in ["two", "three", "four"] {
        store
            .insert(
                &Workspace::default(),
                &titled(title).into_task(Timestamp::now()),
                None,
                &(),
            )
            .await
            .unwrap();
    }
    // A second subscription reads them from the log, then joins that follower.
    let mut second = subscribe(&app, "since=1").await;
    assert_consecutive(&second.events(3).await, 1);
    // The next write wakes the follower, which broadcasts 2 to 5: the second
    // subscription sends only 5, the first all four.
    app.create_titled("five").await;
    assert_eq!(second.event().await.seq(), 5);
    assert_consecutive(&first.events(4).await, 1);
    app.create_titled("six").await;
    assert_eq!(second.event().await.seq(), 6);
}
