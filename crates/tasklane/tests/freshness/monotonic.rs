//! Monotonic reads, both halves of the announcement protocol pinned (see "Monotonic
//! reads" in the cache's module documentation): a client that has seen a write is never
//! served the state from before it, even while the write is between its commit and its
//! advance and the client reads through another instance.
//!
//! 1. A read that finds a write announced goes to the database and fills nothing.
//! 2. A fill is kept only if its generation is unchanged and no write was announced
//!    meanwhile, so every entry under one generation shows one committed state.
//!
//! And what the rules guard: an entry one instance files in Redis is the one another
//! instance's lookup finds.

use std::sync::Arc;
use std::time::Duration;

use tasklane_server::cache::{Consistency, Design, ListRead, TaskCache};
use tasklane_server::domain::{ListQuery, Task};

use crate::common::{RedisServer, start_redis};
use crate::support::{
    InstrumentedStore, cache_with, decode, instrumented_store, list, one_task, redis_instance,
    rename, titles,
};

/// Two instances with Redis generations over one fresh store and a Redis of their own.
async fn two_instances(
    redis: &RedisServer,
) -> (Arc<TaskCache>, Arc<TaskCache>, Arc<InstrumentedStore>) {
    let store = instrumented_store(Duration::ZERO).await;
    let lease = Duration::from_secs(60);
    let here = redis_instance(&store, &redis.url(), lease);
    let there = redis_instance(&store, &redis.url(), lease);
    (here, there, store)
}

/// The lookup script writes the generation it reads between the two halves of the
/// entry's key; the fill stores under the key `CacheKey` writes whole. If the two ever
/// differed, every lookup would miss: still fresh, but no instance would serve another's
/// entries.
#[tokio::test]
async fn an_entry_one_instance_files_is_served_by_another() {
    let redis = start_redis().await;
    let (here, there, store) = two_instances(&redis).await;
    let (workspace, _, _) = one_task(&here).await;
    // The whole workspace's generation, and partitions by status (one, and two).
    for query in ["", "status=todo", "status=todo,done"] {
        let query = ListQuery::parse(query, here.cursor_key()).unwrap();
        assert_eq!(titles(&list(&here, &workspace, &query).await), ["before"]); // filed in Redis
        let reads = store.hooks().reads();
        assert_eq!(titles(&list(&there, &workspace, &query).await), ["before"]);
        assert_eq!(
            store.hooks().reads(),
            reads,
            "served from Redis, not queried: {query:?}"
        );
    }
}

/// Rule 1: instance `there` has the list cached; a rename through `here` commits and is
/// held before its advance. A client reads the task through `there` (a miss: it sees the
/// rename), then the list through `there`: it must see the rename there too.
#[tokio::test]
async fn a_write_announced_on_one_instance_keeps_every_instance_off_the_cache() {
    let redis = start_redis().await;
    let (here, there, store) = two_instances(&redis).await;
    let (workspace, query, task) = one_task(&here).await;
    assert_eq!(titles(&list(&there, &workspace, &query).await), ["before"]); // cached there

    let paused = store.hooks().pause_after_next_write();
    let writer = tokio::spawn({
        let (here, workspace) = (here.clone(), workspace.clone());
        async move { rename(&here, &workspace, task.id, "after").await }
    });
    paused.reached.await.unwrap(); // committed, announced, not yet advanced

    let seen = there.get(&workspace, task.id).await.unwrap().unwrap();
    assert_eq!(decode::<Task>(&seen.body).title, "after"); // the write, seen
    assert_eq!(
        titles(&list(&there, &workspace, &query).await),
        ["after"],
        "the same client then read the list from before the write"
    );
    paused.release.send(()).unwrap();
    writer.await.unwrap().unwrap();
}

/// Rule 2, where it lives: a list read looks up its generation, then a rename is
/// announced and commits before the read's query runs; the query sees the rename, and
/// its fill must be kept nowhere, because entries filed under that generation before
/// (the task, cached) show the state before the rename. Rule 1 keeps every later read
/// off that generation anyway; rule 2 keeps the generation itself consistent, so the
/// argument needs no reasoning about who could still ask for it. Checked with in-process
/// and with Redis generations, in this process's entries and in Redis.
#[tokio::test]
async fn a_fill_that_raced_a_write_is_kept_nowhere() {
    let redis = start_redis().await;
    let (here, there, store) = two_instances(&redis).await;
    fill_racing_a_write(&here, &there, &store).await;
    let stored = redis_entries(&redis).await;
    assert!(!stored.is_empty(), "the task's entry is in Redis");
    assert!(
        stored.iter().all(|entry| !entry.contains("\"after\"")),
        "an entry filled after the rename was kept under the generation before it: {stored:?}"
    );

    let (local, store) = cache_with(Design::Generational, Consistency::Local, Duration::ZERO).await;
    fill_racing_a_write(&local, &local, &store).await;
}

/// The interleaving of [`a_fill_that_raced_a_write_is_kept_nowhere`]: a write through
/// `writer`, a read through `reader`; checks `reader`'s own entries.
async fn fill_racing_a_write(
    writer: &Arc<TaskCache>,
    reader: &Arc<TaskCache>,
    store: &Arc<InstrumentedStore>,
) {
    let (workspace, query, task) = one_task(writer).await;
    reader.get(&workspace, task.id).await.unwrap().unwrap(); // cached under this generation
    let entries = reader.cached_entries().await;
    // The list's tag under this generation, which a read before the rename is sent with
    // the list as it was (asked as a revalidation: nothing is loaded or filled).
    let mut before = None;
    let read = reader.list(&workspace, &query, |etag| {
        before = Some(etag.clone());
        true
    });
    assert!(matches!(read.await.unwrap(), ListRead::NotModified(_)));

    let paused_read = store.hooks().pause_before_next_read();
    let read = tokio::spawn({
        let (reader, workspace, query) = (reader.clone(), workspace.clone(), query.clone());
        async move {
            match reader.list(&workspace, &query, |_| false).await.unwrap() {
                ListRead::Fresh(snapshot) => snapshot,
                ListRead::NotModified(_) => unreachable!("the client sent no ETag"),
            }
        }
    });
    paused_read.reached.await.unwrap(); // generation looked up, not yet queried
    let paused_write = store.hooks().pause_after_next_write();
    let write = tokio::spawn({
        let (writer, workspace) = (writer.clone(), workspace.clone());
        async move { rename(&writer, &workspace, task.id, "after").await }
    });
    paused_write.reached.await.unwrap(); // announced and committed, not yet advanced
    paused_read.release.send(()).unwrap();
    let read = read.await.unwrap();
    assert_eq!(
        titles(&decode(&read.body)),
        ["after"],
        "the query saw the rename"
    );
    assert_ne!(
        Some(read.etag),
        before,
        "one tag was sent with the list before the rename and with the list after it"
    );
    assert_eq!(
        reader.cached_entries().await,
        entries,
        "the read's rows were kept in process under the generation before the rename"
    );
    paused_write.release.send(()).unwrap();
    write.await.unwrap().unwrap();
}

/// Every cache entry in a test Redis (everything but generation hashes), as text.
async fn redis_entries(redis: &RedisServer) -> Vec<String> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    // Entries of lists (`list:`) and of tasks (`one:`); not the generation hashes.
    let mut keys: Vec<String> = Vec::new();
    for pattern in ["fault:list:*", "fault:one:*"] {
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut connection)
            .await
            .unwrap();
        keys.extend(found);
    }
    let mut entries = Vec::new();
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        entries.push(String::from_utf8_lossy(&value).into_owned());
    }
    entries
}
