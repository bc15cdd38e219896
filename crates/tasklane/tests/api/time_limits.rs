//! No request holds a database connection past its time: a server's store has the
//! database itself stop what runs longer than the request timeout (PostgreSQL's
//! `statement_timeout` on every pooled connection, a progress handler on SQLite's), so
//! the connection goes back to the pool and the database stops working for a client
//! that has already been answered.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;
use tasklane::store::{PostgresStore, SqliteStore, StoreError};

use crate::common::fresh_database;
use crate::helpers::{problem, spawn_app_configured};

fn on_postgres() -> bool {
    std::env::var("TASKLANE_TEST_STORE").as_deref() == Ok("postgres")
}

/// Waits for `work`, failing the test (rather than hanging) if the database never
/// stops it.
async fn bounded<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("the database did not stop the statement at its limit")
}

#[tokio::test]
async fn the_database_stops_a_statement_at_the_limit() {
    let database = fresh_database().await;
    let limit = Duration::from_secs(1);
    let outcome = if on_postgres() {
        let store = PostgresStore::connect(&database.url, Some(limit))
            .await
            .unwrap();
        let pool = store.read_pool();
        let shown: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(shown, "1s", "the limit is set on the pool's connections");
        let outcome = bounded(sqlx::query("SELECT pg_sleep(3600)").execute(pool)).await;
        let after: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(after, 1, "the connection serves again");
        outcome.map(|_| ())
    } else {
        let store = SqliteStore::connect(&database.url, Some(limit))
            .await
            .unwrap();
        let pool = store.read_pool();
        // Counts for ever: only an interrupt ends it.
        let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) \
                       SELECT max(x) FROM n";
        let outcome = bounded(sqlx::query(endless).execute(pool)).await;
        let after: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(after, 1, "the connection serves again, with a new deadline");
        outcome.map(|_| ())
    };
    let error = outcome.expect_err("the statement ran past the limit");
    let error = StoreError::from(error);
    assert!(matches!(error, StoreError::TimedOut(_)), "{error}");
}

#[tokio::test]
async fn a_request_past_its_time_gives_its_connection_back() {
    if !on_postgres() {
        eprintln!(
            "a_request_past_its_time_gives_its_connection_back: a PostgreSQL leg runs this test"
        );
        return;
    }
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| args.request_timeout_secs = 1).await;
    let task = app.create_titled("locked").await;
    let id = task["id"].as_str().unwrap();

    // Another client holds the task's row, so a write to it waits.
    let mut holder = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT id FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut holder)
        .await
        .unwrap();
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let response = app.patch_task(id, &json!({"title": "changed"}), None).await;
    problem(response, StatusCode::SERVICE_UNAVAILABLE).await;

    // The server's statement does not go on waiting for the lock: PostgreSQL stops it,
    // while the row is still held.
    let mut observer = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let mut waiting = i64::MAX;
    for _ in 0..100 {
        waiting = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        )
        .bind(holder_pid)
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(waiting, 0, "a statement still waits for the row");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();

    let task = app
        .get_task(id)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        (&task["title"], &task["version"]),
        (&json!("locked"), &json!(1)),
        "the stopped write left nothing"
    );
}
