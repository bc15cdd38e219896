//! No request holds a database connection past its time: a server's store has the
//! database itself stop what runs longer than the request timeout (PostgreSQL's
//! `statement_timeout` on every pooled connection, a progress handler armed for each
//! list on SQLite), so the connection goes back to the pool and the database stops
//! working for a client that has already been answered.

use std::sync::Arc;
use std::time::Duration;

use crate::common::open_store;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;
use tasklane_server::domain::{ListQuery, NewTask, Timestamp, Workspace};
use tasklane_server::store::{Opening, PostgresStore, SqliteStore, Store, StoreError};

use crate::common::fresh_database;
use crate::helpers::{problem, spawn_app_configured};

fn on_postgres() -> bool {
    std::env::var("TASKLANE_TEST_STORE").as_deref() == Ok("postgres")
}

/// A workspace of `count` tasks, loaded without a time limit.
async fn workspace(url: &str, count: usize) -> Workspace {
    let workspace = Workspace::named("big");
    let unlimited = open_store(url).await.unwrap();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let new: NewTask =
                serde_json::from_value(json!({"title": format!("task {i}"), "description": "d"}))
                    .unwrap();
            new.into_task(Timestamp::now())
        })
        .collect();
    unlimited.bulk.load(&workspace, &tasks).await.unwrap();
    unlimited.tasks.close().await;
    workspace
}

#[tokio::test]
async fn a_list_past_the_limit_is_stopped_by_the_database() {
    let database = fresh_database().await;
    let workspace = workspace(&database.url, 20_000).await;
    // A limit no list over 20,000 tasks can meet: a text search counts every one.
    let limit = Duration::from_millis(1);
    let store: Arc<dyn Store> = if on_postgres() {
        let store = PostgresStore::connect(&database.url, Opening::Create, Some(limit))
            .await
            .unwrap();
        let shown: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(store.read_pool())
            .await
            .unwrap();
        assert_eq!(shown, "1ms", "the limit is set on the pool's connections");
        Arc::new(store)
    } else {
        Arc::new(
            SqliteStore::connect(&database.url, Opening::Create, Some(limit))
                .await
                .unwrap(),
        )
    };
    let query = ListQuery::parse("q=absent", store.cursor_key()).unwrap();
    let listed = tokio::time::timeout(Duration::from_secs(60), store.list(&workspace, &query))
        .await
        .expect("the list ends");
    let error = listed.expect_err("the list ran past the limit");
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
