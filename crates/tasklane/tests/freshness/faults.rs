//! Redis faults, each against a `redis-server` of the test's own: flushed, restarted,
//! killed, paused, down from the start. Whatever Redis does, no read misses an
//! acknowledged write, and no write is acknowledged unless its advance is confirmed.

use std::sync::Arc;
use std::time::Duration;

use tasklane_server::cache::{CacheError, CacheHealth, TaskCache};
use tasklane_server::domain::{ListQuery, Workspace};
use tasklane_server::store::Idempotency;

use crate::common::{Proxy, closed_port, start_redis, start_redis_on};
use crate::support::{
    InstrumentedStore, instrumented_store, list, new_task, one_task, redis_instance, rename, titles,
};
use tasklane_check::supervisor::redis_command;

/// A Redis-consistency cache over a fresh store and the Redis at `url`.
async fn redis_cache(url: &str) -> (Arc<TaskCache>, Arc<InstrumentedStore>) {
    let store = instrumented_store(Duration::ZERO).await;
    (redis_instance(&store, url, Duration::from_secs(60)), store)
}

/// Redis loses every generation between two writes; the counter starts again and the
/// second write brings it back to a value it had. A counter alone would make the list
/// cached under that value current again; the epoch drawn after the loss does not.
#[tokio::test]
async fn losing_redis_state_never_revives_an_old_generation() {
    for restart in [false, true] {
        let mut redis = start_redis().await;
        let (cache, store) = redis_cache(&redis.url()).await;
        let (workspace, query, task) = one_task(&cache).await; // counter 1
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // cached under 1

        if restart {
            redis.restart().await.unwrap();
        } else {
            redis_command(&redis.url(), &["FLUSHALL"]).await.unwrap();
        }
        rename(&cache, &workspace, task.id, "after").await.unwrap(); // counter 1 again

        let reads = store.hooks().reads();
        assert_eq!(
            titles(&list(&cache, &workspace, &query).await),
            ["after"],
            "restart: {restart}"
        );
        assert_eq!(
            store.hooks().reads(),
            reads + 1,
            "read from the database, not from the old entry"
        );
        drop(redis);
    }
}

/// Redis stops answering mid-run (killed, or frozen so calls time out), right after a
/// write committed: the write is not acknowledged, reads come from the database,
/// readiness says degraded, and further writes are not even attempted. Once Redis
/// answers, the owed advance is made and the cache is trusted again.
#[tokio::test]
async fn redis_going_away_mid_run_costs_availability_not_freshness() {
    for freeze in [false, true] {
        let mut redis = start_redis().await;
        let (cache, store) = redis_cache(&redis.url()).await;
        let (workspace, query, task) = one_task(&cache).await;
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["before"]); // cached

        let paused = store.hooks().pause_after_next_write();
        let writer = tokio::spawn({
            let (cache, workspace) = (cache.clone(), workspace.clone());
            async move { rename(&cache, &workspace, task.id, "during").await }
        });
        paused.reached.await.unwrap(); // committed, not yet advanced
        if freeze {
            redis.freeze().unwrap();
        } else {
            redis.kill();
        }
        paused.release.send(()).unwrap();
        let write = writer.await.unwrap();
        assert!(
            matches!(write, Err(CacheError::Unconfirmed)),
            "freeze {freeze}: {write:?}"
        );
        assert_eq!(cache.health().await, CacheHealth::Degraded);
        // The write committed; no cache may hide it, even though it was not acknowledged.
        let reads = store.hooks().reads();
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["during"]);
        assert_eq!(store.hooks().reads(), reads + 1, "served from the database");

        let refused = rename(&cache, &workspace, task.id, "never").await;
        assert!(
            matches!(refused, Err(CacheError::NotAnnounced)),
            "freeze {freeze}: {refused:?}"
        );
        assert_eq!(
            titles(&list(&cache, &workspace, &query).await),
            ["during"],
            "a write that could not be announced is not attempted"
        );

        if freeze {
            redis.thaw().unwrap();
        } else {
            redis.restart().await.unwrap();
        }
        assert_eq!(
            cache.health().await,
            CacheHealth::Ok,
            "the owed advance made"
        );
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["during"]);
        let reads = store.hooks().reads();
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["during"]);
        assert_eq!(store.hooks().reads(), reads, "cached again");
        rename(&cache, &workspace, task.id, "after").await.unwrap();
        assert_eq!(titles(&list(&cache, &workspace, &query).await), ["after"]);
        drop(redis);
    }
}

/// No Redis at all when the server starts: it serves from the database, reports
/// degraded, and attempts no write it could not confirm.
#[tokio::test]
async fn redis_down_at_start_serves_from_the_database() {
    let port = closed_port();
    let (cache, store) = redis_cache(&format!("redis://127.0.0.1:{port}")).await;
    let (workspace, query) = (Workspace::default(), ListQuery::default());
    assert_eq!(cache.health().await, CacheHealth::Degraded);
    assert!(titles(&list(&cache, &workspace, &query).await).is_empty());
    let write = cache.create(&workspace, new_task("refused"), None).await;
    assert!(matches!(write, Err(CacheError::NotAnnounced)), "{write:?}");
    assert!(
        titles(&list(&cache, &workspace, &query).await).is_empty(),
        "nothing was written"
    );
    assert!(store.hooks().reads() >= 2, "the database answers");

    let _redis = start_redis_on(port).await;
    cache
        .create(&workspace, new_task("confirmed"), None)
        .await
        .unwrap();
    assert_eq!(cache.health().await, CacheHealth::Ok);
    assert_eq!(
        titles(&list(&cache, &workspace, &query).await),
        ["confirmed"]
    );
}

/// The write a client was told is unconfirmed (Redis lost after its commit) is retried
/// with its `Idempotency-Key` once Redis answers: it is acknowledged once, after an
/// advance, and exists once.
#[tokio::test]
async fn an_unconfirmed_write_retried_with_its_key_is_applied_once() {
    let mut redis = start_redis().await;
    let (cache, store) = redis_cache(&redis.url()).await;
    let (workspace, query) = (Workspace::default(), ListQuery::default());
    let key = Idempotency {
        key: "retry-me".to_owned(),
        fingerprint: "f".repeat(64),
    };
    let paused = store.hooks().pause_after_next_write();
    let first = tokio::spawn({
        let (cache, workspace, key) = (cache.clone(), workspace.clone(), key.clone());
        async move { cache.create(&workspace, new_task("once"), Some(&key)).await }
    });
    paused.reached.await.unwrap(); // committed
    redis.kill();
    paused.release.send(()).unwrap();
    let first = first.await.unwrap();
    assert!(matches!(first, Err(CacheError::Unconfirmed)), "{first:?}");

    redis.restart().await.unwrap();
    let retry = cache
        .create(&workspace, new_task("once"), Some(&key))
        .await
        .unwrap();
    let listed = list(&cache, &workspace, &query).await;
    assert_eq!(titles(&listed), ["once"], "one task, not two");
    assert_eq!(
        listed.data[0].id, retry.id,
        "the retry answered with the first attempt's task"
    );
}

/// One instance loses Redis (a proxy between them is cut) just after a write through it
/// committed; another instance had the list cached. The write is unconfirmed, yet no
/// client can see it and then not: the other instance, finding the write still
/// announced, reads the database too. When the partition heals, the writer makes the
/// advance it owes and both instances cache again; the window ends there, not when an
/// entry's TTL runs out.
#[tokio::test]
async fn a_partition_after_a_commit_shows_the_write_everywhere_and_heals_with_it() {
    let redis = start_redis().await;
    let proxy = Proxy::start(([127, 0, 0, 1], redis.port).into()).await;
    let store = instrumented_store(Duration::ZERO).await;
    let lease = Duration::from_secs(60);
    let here = redis_instance(&store, &format!("redis://127.0.0.1:{}", proxy.port), lease);
    let there = redis_instance(&store, &redis.url(), lease);
    let partitioned = unconfirmed_write_behind_a_cut(&here, &there, &store, &proxy).await;

    proxy.restore();
    assert_eq!(
        here.health().await,
        CacheHealth::Ok,
        "the owed advance made"
    );
    cached_again(&there, &store, &partitioned).await;
    cached_again(&here, &store, &partitioned).await;
}

/// As above, but the writer is gone before the partition heals (restarted, say), and
/// with it the memory of the advance it owed: the announcement it left in Redis keeps
/// every instance off the cache for that workspace until its lease runs out, and then
/// the first read makes the advance in its place.
#[tokio::test]
async fn a_writer_lost_with_its_owed_advance_is_repaired_by_a_reader() {
    let redis = start_redis().await;
    let proxy = Proxy::start(([127, 0, 0, 1], redis.port).into()).await;
    let store = instrumented_store(Duration::ZERO).await;
    let lease = Duration::from_secs(1);
    let here = redis_instance(&store, &format!("redis://127.0.0.1:{}", proxy.port), lease);
    let there = redis_instance(&store, &redis.url(), lease);
    let partitioned = unconfirmed_write_behind_a_cut(&here, &there, &store, &proxy).await;
    drop(here);
    proxy.restore();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reads = store.hooks().reads();
        assert_eq!(
            titles(&list(&there, &partitioned.workspace, &partitioned.query).await),
            ["after"]
        );
        if store.hooks().reads() == reads {
            break; // served from the cache: repaired
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired announcement was never repaired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The workspace and list of a write left unconfirmed by a partition.
struct Partitioned {
    workspace: Workspace,
    query: ListQuery,
}

/// `there` caches the list; a rename to "after" through `here` commits; the proxy
/// between `here` and Redis is cut before the advance. Checks that both instances then
/// show the write on every read, from the database.
async fn unconfirmed_write_behind_a_cut(
    here: &Arc<TaskCache>,
    there: &Arc<TaskCache>,
    store: &Arc<InstrumentedStore>,
    proxy: &Proxy,
) -> Partitioned {
    let (workspace, query, task) = one_task(here).await;
    assert_eq!(titles(&list(there, &workspace, &query).await), ["before"]); // cached there
    let reads = store.hooks().reads();
    assert_eq!(titles(&list(there, &workspace, &query).await), ["before"]);
    assert_eq!(store.hooks().reads(), reads, "served from the cache");

    let paused = store.hooks().pause_after_next_write();
    let writer = tokio::spawn({
        let (here, workspace) = (here.clone(), workspace.clone());
        async move { rename(&here, &workspace, task.id, "after").await }
    });
    paused.reached.await.unwrap(); // committed, not yet advanced
    proxy.cut();
    paused.release.send(()).unwrap();
    let write = writer.await.unwrap();
    assert!(matches!(write, Err(CacheError::Unconfirmed)), "{write:?}");

    for instance in [here, there, here, there] {
        let reads = store.hooks().reads();
        assert_eq!(titles(&list(instance, &workspace, &query).await), ["after"]);
        assert_eq!(store.hooks().reads(), reads + 1, "from the database");
        let task = instance.get(&workspace, task.id).await.unwrap().unwrap();
        assert!(
            std::str::from_utf8(&task.body)
                .unwrap()
                .contains("\"after\"")
        );
    }
    assert_eq!(here.health().await, CacheHealth::Degraded);
    Partitioned { workspace, query }
}

/// The list shows the write, and a second read is served from `instance`'s cache.
async fn cached_again(instance: &TaskCache, store: &InstrumentedStore, at: &Partitioned) {
    assert_eq!(
        titles(&list(instance, &at.workspace, &at.query).await),
        ["after"]
    );
    let reads = store.hooks().reads();
    assert_eq!(
        titles(&list(instance, &at.workspace, &at.query).await),
        ["after"]
    );
    assert_eq!(store.hooks().reads(), reads, "cached again");
}
