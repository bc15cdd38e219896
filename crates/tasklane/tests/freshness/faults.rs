//! Redis faults, each against a `redis-server` of the test's own: flushed, restarted,
//! killed, paused, down from the start. Whatever Redis does, no read misses an
//! acknowledged write, and no write is acknowledged unless its advance is confirmed.

use std::sync::Arc;
use std::time::Duration;

use tasklane::cache::{CacheConfig, CacheError, CacheHealth, Consistency, RedisTier, TaskCache};
use tasklane::domain::{ListQuery, Scope};
use tasklane::store::Idempotency;

use crate::common::RedisServer;
use crate::support::{InstrumentedStore, list, new_task, one_task, rename, titles};

/// A Redis-consistency cache over a fresh store and the Redis at `url`.
async fn redis_cache(url: &str) -> (Arc<TaskCache>, Arc<InstrumentedStore>) {
    let store = InstrumentedStore::new(Duration::ZERO).await;
    let tier = RedisTier::connect(
        url,
        "fault",
        Duration::from_secs(300),
        Duration::from_millis(200),
    )
    .unwrap();
    let config = CacheConfig {
        consistency: Consistency::Redis,
        ..CacheConfig::default()
    };
    (
        Arc::new(TaskCache::new(store.clone(), Some(Arc::new(tier)), &config).unwrap()),
        store,
    )
}

/// Redis loses every generation between two writes; the counter starts again and the
/// second write brings it back to a value it had. A counter alone would make the list
/// cached under that value current again; the epoch drawn after the loss does not.
#[tokio::test]
async fn losing_redis_state_never_revives_an_old_generation() {
    for restart in [false, true] {
        let mut redis = RedisServer::start().await;
        let (cache, store) = redis_cache(&redis.url()).await;
        let (scope, query, task) = one_task(&cache).await; // counter 1
        assert_eq!(titles(&list(&cache, &scope, &query).await), ["before"]); // cached under 1

        if restart {
            let port = redis.port;
            redis.kill();
            redis = RedisServer::start_on(port).await;
        } else {
            redis.command("FLUSHALL").await.unwrap();
        }
        rename(&cache, &scope, task.id, "after").await.unwrap(); // counter 1 again

        let reads = store.reads();
        assert_eq!(
            titles(&list(&cache, &scope, &query).await),
            ["after"],
            "restart: {restart}"
        );
        assert_eq!(
            store.reads(),
            reads + 1,
            "read from the database, not from the old entry"
        );
        drop(redis);
    }
}

/// Redis stops answering mid-run (killed, or frozen so calls time out): a write is
/// committed but not acknowledged, reads come from the database, readiness says
/// degraded; once Redis answers and an advance lands, the cache is trusted again.
#[tokio::test]
async fn redis_going_away_mid_run_costs_availability_not_freshness() {
    for freeze in [false, true] {
        let mut redis = RedisServer::start().await;
        let (cache, store) = redis_cache(&redis.url()).await;
        let (scope, query, task) = one_task(&cache).await;
        assert_eq!(titles(&list(&cache, &scope, &query).await), ["before"]); // cached

        let port = redis.port;
        if freeze {
            redis.pause();
        } else {
            redis.kill();
        }
        let write = rename(&cache, &scope, task.id, "during").await;
        assert!(
            matches!(write, Err(CacheError::Unconfirmed)),
            "freeze {freeze}: {write:?}"
        );
        assert_eq!(cache.health().await, CacheHealth::Degraded);
        // The write committed; no cache may hide it, even though it was not acknowledged.
        let reads = store.reads();
        assert_eq!(titles(&list(&cache, &scope, &query).await), ["during"]);
        assert_eq!(store.reads(), reads + 1, "served from the database");

        if freeze {
            redis.resume();
        } else {
            redis = RedisServer::start_on(port).await;
        }
        rename(&cache, &scope, task.id, "after").await.unwrap();
        assert_eq!(cache.health().await, CacheHealth::Ok);
        assert_eq!(titles(&list(&cache, &scope, &query).await), ["after"]);
        let reads = store.reads();
        assert_eq!(titles(&list(&cache, &scope, &query).await), ["after"]);
        assert_eq!(store.reads(), reads, "cached again");
        drop(redis);
    }
}

/// No Redis at all when the server starts: it serves from the database, reports
/// degraded, and acknowledges no write it cannot confirm.
#[tokio::test]
async fn redis_down_at_start_serves_from_the_database() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (cache, store) = redis_cache(&format!("redis://127.0.0.1:{port}")).await;
    let (scope, query) = (Scope::default(), ListQuery::default());
    assert_eq!(cache.health().await, CacheHealth::Degraded);
    assert!(titles(&list(&cache, &scope, &query).await).is_empty());
    let write = cache.create(&scope, new_task("unconfirmed"), None).await;
    assert!(matches!(write, Err(CacheError::Unconfirmed)), "{write:?}");
    assert_eq!(
        titles(&list(&cache, &scope, &query).await),
        ["unconfirmed"],
        "the database answers"
    );
    assert!(store.reads() >= 2);

    let _redis = RedisServer::start_on(port).await;
    cache
        .create(&scope, new_task("confirmed"), None)
        .await
        .unwrap();
    assert_eq!(cache.health().await, CacheHealth::Ok);
}

/// The write a client was told is unconfirmed (Redis away) is retried with its
/// `Idempotency-Key` once Redis answers: it is acknowledged once, after an advance, and
/// exists once.
#[tokio::test]
async fn an_unconfirmed_write_retried_with_its_key_is_applied_once() {
    let mut redis = RedisServer::start().await;
    let (cache, _store) = redis_cache(&redis.url()).await;
    let (scope, query) = (Scope::default(), ListQuery::default());
    let key = Idempotency {
        key: "retry-me".to_owned(),
        fingerprint: "f".repeat(64),
    };
    let port = redis.port;
    redis.kill();
    let first = cache.create(&scope, new_task("once"), Some(&key)).await;
    assert!(matches!(first, Err(CacheError::Unconfirmed)), "{first:?}");

    let _redis = RedisServer::start_on(port).await;
    let retry = cache
        .create(&scope, new_task("once"), Some(&key))
        .await
        .unwrap();
    let listed = list(&cache, &scope, &query).await;
    assert_eq!(titles(&listed), ["once"], "one task, not two");
    assert_eq!(
        listed.data[0].id, retry.id,
        "the retry answered with the first attempt's task"
    );
}
