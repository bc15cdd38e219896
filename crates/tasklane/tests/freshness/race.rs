//! The incident's interleaving (`docs/incident.md`), replayed step by step:
//!
//! 1. reader: cache miss -> queries the database (old rows) -> paused;
//! 2. writer: commits -> invalidates (plain cache-aside) / advances the generation
//!    (Tasklane) -> is acknowledged;
//! 3. reader: resumes and fills the cache with the old rows;
//! 4. a read that starts after the acknowledgement must see the write.
//!
//! The plain delete-on-write cache-aside must fail step 4 (so the test can fail); the
//! generation-keyed cache must pass it.

use std::sync::Arc;
use std::time::Duration;

use tasklane_server::cache::{CacheConfig, CacheError, Consistency, Design, TaskCache};
use tasklane_server::domain::{ListQuery, Task, Workspace};
use tasklane_server::telemetry::Registry;

use crate::common::{TestRedis, consistencies};
use crate::support::{
    Gate, Paused, cache, cache_with, decode, instance, instrumented_store, list, new_task,
    one_task, rename, titles,
};

/// Runs the interleaving on a list read; returns what a read after the write saw.
async fn stale_fill_on_list(design: Design, consistency: Consistency) -> Vec<String> {
    let (cache, store) = cache_with(design, consistency, Duration::ZERO).await;
    let (workspace, query, task) = one_task(&cache).await;

    let paused = store.hooks().pause_next_read();
    let reader = tokio::spawn({
        let (cache, workspace, query) = (cache.clone(), workspace.clone(), query.clone());
        async move { list(&cache, &workspace, &query).await }
    });
    paused.reached.await.unwrap(); // 1. the reader holds the old rows
    rename(&cache, &workspace, task.id, "after").await.unwrap(); // 2.
    paused.release.send(()).unwrap(); // 3.
    assert_eq!(
        titles(&reader.await.unwrap()),
        ["before"],
        "the reader started before the write"
    );

    titles(&list(&cache, &workspace, &query).await) // 4.
}

/// The same interleaving on a single-task read.
async fn stale_fill_on_get(design: Design, consistency: Consistency) -> String {
    let (cache, store) = cache_with(design, consistency, Duration::ZERO).await;
    let (workspace, _, task) = one_task(&cache).await;

    let paused = store.hooks().pause_next_read();
    let reader = tokio::spawn({
        let (cache, workspace) = (cache.clone(), workspace.clone());
        async move { cache.get(&workspace, task.id).await }
    });
    paused.reached.await.unwrap();
    rename(&cache, &workspace, task.id, "after").await.unwrap();
    paused.release.send(()).unwrap();
    reader.await.unwrap().unwrap();

    let after: Task = decode(&read_task(&cache, &workspace, task).await);
    after.title
}

async fn read_task(cache: &TaskCache, workspace: &Workspace, task: Task) -> bytes::Bytes {
    cache
        .get(workspace, task.id)
        .await
        .unwrap()
        .expect("the task exists")
        .body
}

#[tokio::test]
async fn plain_cache_aside_serves_the_stale_list() {
    assert_eq!(
        stale_fill_on_list(Design::DeleteOnWrite, Consistency::Local).await,
        ["before"],
        "the race is real"
    );
}

#[tokio::test]
async fn generation_cache_serves_the_written_list() {
    for consistency in consistencies() {
        let seen = stale_fill_on_list(Design::Generational, consistency).await;
        assert_eq!(seen, ["after"], "{consistency:?}");
    }
}

#[tokio::test]
async fn plain_cache_aside_serves_the_stale_task() {
    assert_eq!(
        stale_fill_on_get(Design::DeleteOnWrite, Consistency::Local).await,
        "before",
        "the race is real"
    );
}

#[tokio::test]
async fn generation_cache_serves_the_written_task() {
    for consistency in consistencies() {
        let seen = stale_fill_on_get(Design::Generational, consistency).await;
        assert_eq!(seen, "after", "{consistency:?}");
    }
}

#[tokio::test]
async fn concurrent_identical_misses_make_one_database_query() {
    let (cache, store) = cache(Design::Generational, Duration::ZERO).await;
    let workspace = Workspace::default();
    cache
        .create(&workspace, new_task("one"), None)
        .await
        .unwrap();
    let query = ListQuery::parse("status=todo&limit=5", cache.cursor_key()).unwrap();

    let paused = store.hooks().pause_next_read();
    let readers: Vec<_> = (0..32)
        .map(|_| {
            let (cache, workspace, query) = (cache.clone(), workspace.clone(), query.clone());
            tokio::spawn(async move { list(&cache, &workspace, &query).await })
        })
        .collect();
    paused.reached.await.unwrap();
    // Let every reader reach the cache while the first load is held.
    tokio::time::sleep(Duration::from_millis(100)).await;
    paused.release.send(()).unwrap();
    for reader in readers {
        assert_eq!(titles(&reader.await.unwrap()), ["one"]);
    }
    assert_eq!(store.hooks().reads(), 1, "32 concurrent misses, one query");

    // The same query spelled differently is the same entry.
    let respelled = ListQuery::parse("limit=5&status=todo,todo", cache.cursor_key()).unwrap();
    list(&cache, &workspace, &respelled).await;
    assert_eq!(store.hooks().reads(), 1);
}

#[tokio::test]
async fn with_caching_off_every_read_queries_the_database() {
    let store = instrumented_store(Duration::ZERO).await;
    let config = CacheConfig {
        capacity_bytes: 0,
        ..CacheConfig::default()
    };
    let cache = TaskCache::new(store.clone(), None, &config, &Registry::new()).unwrap();
    let (workspace, query, _) = one_task(&cache).await;
    for _ in 0..3 {
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]);
    }
    assert_eq!(store.hooks().reads(), 3);
}

#[tokio::test]
async fn a_full_cache_still_admits_each_new_generations_entry() {
    // Every write leaves its workspace's entries behind under keys of the old generation,
    // never read again. Once the cache is full, each new generation's entry must still
    // displace them: an admission policy that prefers keys it has seen often keeps the
    // popular leftovers and turns every read of the new generation into a miss.
    let store = instrumented_store(Duration::ZERO).await;
    let config = CacheConfig {
        capacity_bytes: 16 << 10,
        ..CacheConfig::default()
    };
    let cache = TaskCache::new(store.clone(), None, &config, &Registry::new()).unwrap();
    let (workspace, query, task) = one_task(&cache).await;
    let generations = 300;
    for generation in 0..generations {
        let title = format!("generation {generation}");
        rename(&cache, &workspace, task.id, &title).await.unwrap();
        for _ in 0..5 {
            assert_eq!(
                titles(&list(&cache, &workspace, &query).await),
                [title.as_str()]
            );
        }
    }
    assert_eq!(
        store.hooks().reads(),
        generations,
        "one database read a generation, however full the cache"
    );
}

#[tokio::test]
async fn a_write_leaves_other_workspaces_warm_and_its_own_cold() {
    assert_eq!(
        reads_of_the_other_workspace_after_a_write(Design::Generational).await,
        0,
        "the other workspace is still served from the cache"
    );
}

#[tokio::test]
async fn one_global_generation_empties_every_workspace_on_any_write() {
    // The incident's single `cacheVersion`: fresh, but one workspace's write costs
    // every other workspace its cache.
    assert_eq!(
        reads_of_the_other_workspace_after_a_write(Design::GlobalGeneration).await,
        1
    );
}

/// Both workspaces' lists cached; a write in one; returns how many database reads the other
/// workspace's next list read took, after checking that both stay fresh.
async fn reads_of_the_other_workspace_after_a_write(design: Design) -> usize {
    let (cache, store) = cache(design, Duration::ZERO).await;
    let (ours, theirs) = (Workspace::named("ours"), Workspace::named("theirs"));
    cache.create(&ours, new_task("ours"), None).await.unwrap();
    cache
        .create(&theirs, new_task("theirs"), None)
        .await
        .unwrap();
    let query = ListQuery::default();

    assert_eq!(titles(&list(&cache, &ours, &query).await), ["ours"]);
    assert_eq!(titles(&list(&cache, &theirs, &query).await), ["theirs"]);
    assert_eq!(store.hooks().reads(), 2);

    cache
        .create(&ours, new_task("ours too"), None)
        .await
        .unwrap();
    assert_eq!(titles(&list(&cache, &theirs, &query).await), ["theirs"]);
    let other_workspace_reads = store.hooks().reads() - 2;
    let before = store.hooks().reads();
    assert_eq!(
        titles(&list(&cache, &ours, &query).await),
        ["ours", "ours too"]
    );
    assert_eq!(
        store.hooks().reads(),
        before + 1,
        "the written workspace is read again"
    );
    other_workspace_reads
}

#[tokio::test]
async fn a_write_whose_outcome_is_unknown_still_advances_the_generation() {
    let (cache, store) = cache(Design::Generational, Duration::ZERO).await;
    let (workspace, query, task) = one_task(&cache).await;
    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // cached

    store.hooks().fail_next_update_after_commit();
    let outcome = rename(&cache, &workspace, task.id, "after").await;
    assert!(
        outcome.is_err(),
        "the client is told the write failed, though it committed"
    );

    // The write is visible, so the cached list of the old generation must not be served.
    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["after"]);
}

/// Readers that arrive together share one generation lookup (`cache/batch.rs`), but
/// only one sent after each of them arrived. Here a reader's lookup (strict generations:
/// the generation row read) has read and is held in flight; a write is acknowledged; a
/// second reader arrives. Returns what the second is served.
async fn read_arriving_during_a_lookup_in_flight(design: Design) -> Vec<String> {
    let (cache, store) = cache_with(design, Consistency::Strict, Duration::ZERO).await;
    let (workspace, query, task) = one_task(&cache).await;
    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // cached

    let paused = store.hooks().pause_after_next_generation();
    second_read_during_a_held_lookup(&cache, &cache, (&workspace, &query, &task), paused).await
}

/// The interleaving both replays share: a list read through `reader` whose lookup is
/// held at `paused`; a rename through `writer`, acknowledged; a second read through
/// `reader`, which must wait for a lookup. Returns what the second read is served.
async fn second_read_during_a_held_lookup(
    reader: &Arc<TaskCache>,
    writer: &Arc<TaskCache>,
    (workspace, query, task): (&Workspace, &ListQuery, &Task),
    paused: Paused,
) -> Vec<String> {
    let read = || {
        let (reader, workspace, query) = (reader.clone(), workspace.clone(), query.clone());
        tokio::spawn(async move { list(&reader, &workspace, &query).await })
    };
    let first = read();
    paused.reached.await.unwrap(); // its lookup has read the old generation
    rename(writer, workspace, task.id, "after").await.unwrap(); // acknowledged
    let second = read();
    // One thread: the second reader runs until it waits on the cache's lookups (it
    // touches nothing else before), then the first lookup answers.
    tokio::task::yield_now().await;
    assert!(
        !second.is_finished(),
        "the second reader waits for a lookup"
    );
    paused.release.send(()).unwrap();
    assert_eq!(
        titles(&first.await.unwrap()),
        ["before"],
        "it began before the write"
    );
    titles(&second.await.unwrap())
}

#[tokio::test]
async fn a_read_is_never_given_a_generation_lookup_sent_before_it_began() {
    assert_eq!(
        read_arriving_during_a_lookup_in_flight(Design::Generational).await,
        ["after"]
    );
}

#[tokio::test]
async fn joining_a_generation_lookup_in_flight_serves_the_list_from_before_the_write() {
    assert_eq!(
        read_arriving_during_a_lookup_in_flight(Design::JoinInFlight).await,
        ["before"],
        "the race is real"
    );
}

/// The same with Redis generations, whose lookup is one script: the reading instance
/// reaches Redis through a proxy that holds the script's reply, the write goes through
/// another instance. `None` without a test Redis.
async fn redis_read_arriving_during_a_lookup_in_flight(design: Design) -> Option<Vec<String>> {
    let store = instrumented_store(Duration::ZERO).await;
    let redis = store.hooks().database.redis.clone()?;
    let (authority, db) = redis
        .url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split_once('/'))
        .expect("the test Redis is redis://HOST:PORT/DB");
    let target = tokio::net::lookup_host(authority)
        .await
        .unwrap()
        .next()
        .unwrap();
    let (port, replies) = hold_replies(target).await;
    let reading = TestRedis {
        url: format!("redis://127.0.0.1:{port}/{db}"),
        ..redis
    };
    let config = CacheConfig {
        design,
        consistency: Consistency::Redis,
        ..CacheConfig::default()
    };
    let here = instance(&store, Design::Generational, Consistency::Redis);
    let there = Arc::new(
        TaskCache::new(
            store.clone(),
            Some(reading.tier()),
            &config,
            &Registry::new(),
        )
        .unwrap(),
    );
    let (workspace, query, task) = one_task(&here).await;
    // Cached under the generation, and the proxied connection made.
    assert_eq!(titles(&list(&there, &workspace, &query).await), ["before"]);

    let paused = replies.arm();
    Some(second_read_during_a_held_lookup(&there, &here, (&workspace, &query, &task), paused).await)
}

/// A TCP proxy to `target` whose replies pass a gate: once it is armed, the next reply
/// waits there. Returns its port and the gate.
async fn hold_replies(target: std::net::SocketAddr) -> (u16, Arc<Gate>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let gate = Arc::new(Gate::default());
    tokio::spawn({
        let gate = gate.clone();
        async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(target).await.unwrap();
                let ((mut from_client, mut to_client), (mut from_server, mut to_server)) =
                    (client.into_split(), server.into_split());
                tokio::spawn(
                    async move { tokio::io::copy(&mut from_client, &mut to_server).await },
                );
                let gate = gate.clone();
                tokio::spawn(async move {
                    let mut reply = vec![0; 64 << 10];
                    while let Ok(read @ 1..) = from_server.read(&mut reply).await {
                        gate.pass().await;
                        if to_client.write_all(&reply[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    });
    (port, gate)
}

#[tokio::test]
async fn a_read_is_never_given_a_redis_lookup_sent_before_it_began() {
    if let Some(seen) = redis_read_arriving_during_a_lookup_in_flight(Design::Generational).await {
        assert_eq!(seen, ["after"]);
    }
}

#[tokio::test]
async fn joining_a_redis_lookup_in_flight_serves_the_list_from_before_the_write() {
    if let Some(seen) = redis_read_arriving_during_a_lookup_in_flight(Design::JoinInFlight).await {
        assert_eq!(seen, ["before"], "the race is real");
    }
}

/// The writer's half of the protocol: the generation advances only after the commit.
/// A reader that runs while a write is in flight (not yet acknowledged) may cache what
/// it reads, but only under a generation the acknowledgement leaves behind.
#[tokio::test]
async fn a_read_during_an_unacknowledged_write_cannot_outlive_it() {
    for consistency in consistencies() {
        read_during_an_unacknowledged_write(consistency).await;
    }
}

async fn read_during_an_unacknowledged_write(consistency: Consistency) {
    let (cache, store) = cache_with(Design::Generational, consistency, Duration::ZERO).await;
    let (workspace, query, task) = one_task(&cache).await;

    let paused = store.hooks().pause_next_update();
    let writer = tokio::spawn({
        let (cache, workspace) = (cache.clone(), workspace.clone());
        async move { rename(&cache, &workspace, task.id, "after").await }
    });
    paused.reached.await.unwrap(); // the write has started, nothing is committed
    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // fills the cache
    paused.release.send(()).unwrap();
    writer.await.unwrap().unwrap(); // committed, advanced, acknowledged

    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["after"]);
}

/// A list of one task, cached; then a rename to "after" that has committed and is held
/// before its advance.
struct HeldAfterCommit {
    cache: Arc<TaskCache>,
    workspace: Workspace,
    query: ListQuery,
    task: Task,
    release: tokio::sync::oneshot::Sender<()>,
    writer: tokio::task::JoinHandle<Result<Task, CacheError>>,
}

async fn held_after_commit(consistency: Consistency) -> HeldAfterCommit {
    let (cache, store) = cache_with(Design::Generational, consistency, Duration::ZERO).await;
    let (workspace, query, task) = one_task(&cache).await;
    assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // cached
    let paused = store.hooks().pause_after_next_write();
    let writer = tokio::spawn({
        let (cache, workspace) = (cache.clone(), workspace.clone());
        async move { rename(&cache, &workspace, task.id, "after").await }
    });
    paused.reached.await.unwrap(); // committed, not yet advanced
    HeldAfterCommit {
        cache,
        workspace,
        query,
        task,
        release: paused.release,
        writer,
    }
}

/// A write abandoned between its commit and its advance (the client hung up, the
/// request ran out of time, so its future was dropped) must not leave the old list
/// cached in front of what it committed.
#[tokio::test]
async fn a_write_abandoned_after_its_commit_leaves_no_stale_list() {
    for consistency in consistencies() {
        let held = held_after_commit(consistency).await;
        held.writer.abort(); // its future is dropped there
        assert!(held.writer.await.unwrap_err().is_cancelled());
        assert_eq!(
            titles(&list(&held.cache, &held.workspace, &held.query).await),
            ["after"],
            "{consistency:?}: the cached list outlived a committed write"
        );
        drop(held.release);
    }
}

/// Monotonic reads: between a write's commit and its advance, a client that has seen
/// the write (through a read that missed) must not then be served an entry of the same
/// generation filled before the commit.
#[tokio::test]
async fn a_client_never_sees_a_write_and_then_not() {
    for consistency in consistencies() {
        let held = held_after_commit(consistency).await;
        let seen = held
            .cache
            .get(&held.workspace, held.task.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decode::<Task>(&seen.body).title, "after"); // the write, seen
        assert_eq!(
            titles(&list(&held.cache, &held.workspace, &held.query).await),
            ["after"],
            "{consistency:?}: the same client then read the list from before the write"
        );
        held.release.send(()).unwrap();
        held.writer.await.unwrap().unwrap();
    }
}

/// Two server processes on one database: a write through one, then a read through the
/// other, of a list the other had cached. Returns what that read saw.
async fn write_here_read_there(consistency: Consistency) -> Vec<String> {
    let (here, store) = cache_with(Design::Generational, consistency, Duration::ZERO).await;
    let there = instance(&store, Design::Generational, consistency);
    let (workspace, query, task) = one_task(&here).await;
    assert_eq!(titles(&list(&there, &workspace, &query).await), ["before"]); // cached there

    rename(&here, &workspace, task.id, "after").await.unwrap();
    titles(&list(&there, &workspace, &query).await)
}

#[tokio::test]
async fn in_process_generations_do_not_reach_a_second_instance() {
    // The incident's `cacheVersion++`: the other process never sees the bump.
    assert_eq!(
        write_here_read_there(Consistency::Local).await,
        ["before"],
        "stale, as the incident's proposed design is"
    );
}

#[tokio::test]
async fn database_generations_reach_every_instance() {
    assert_eq!(write_here_read_there(Consistency::Strict).await, ["after"]);
}
