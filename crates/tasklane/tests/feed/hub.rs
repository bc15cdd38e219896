//! The hub's own interleavings, replayed in process on a store whose timing the test
//! controls: a subscription joining a follower that is just starting must not leave a
//! change to nobody.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tasklane_server::cache::{CacheConfig, Consistency, TaskCache};
use tasklane_server::domain::{NewTask, Workspace};
use tasklane_server::feed::{Feed, Hub, HubConfig, Item, wake};
use tasklane_server::store::{Hooked, Hooks, Store};
use tokio::sync::mpsc;

use crate::common::{fresh_database, open_store};
use crate::sse::PROMPTLY;

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
    let cache = Arc::new(TaskCache::new(store.clone(), None, &config).unwrap());
    let hub = Hub::new(
        Arc::new(Feed::new(store, cache.clone())),
        // No poll comes to the rescue within the test.
        HubConfig {
            poll: Duration::from_secs(600),
            buffer: 64,
        },
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
