//! Data that cannot be served: a value that would not read back is never stored; a
//! damaged database file is reported, not served as `500`s.

use std::io::{Seek, SeekFrom, Write};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{TestApp, problem, spawn_app, spawn_app_on};

#[tokio::test]
async fn a_due_date_past_the_range_in_utc_is_refused_before_it_is_stored() {
    let app = spawn_app().await;
    // In range as written, in the year 10000 in UTC: it used to be stored, then every
    // read of it (and of every list page holding it) failed for good.
    let poison = "9999-12-31T23:59:59-00:01";
    let body = problem(
        app.post_task(&json!({"title": "p", "due_at": poison}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["field"], "due_at");
    assert!(body["detail"].as_str().unwrap().contains("UTC"), "{body}");

    let task = app.create_titled("t").await;
    let id = task["id"].as_str().unwrap();
    let patched = app.patch_task(id, &json!({"due_at": poison}), None).await;
    assert_eq!(
        problem(patched, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "due_at"
    );
    let filtered = app.list_raw("due_before=9999-12-31T23:59:59-23:59").await;
    assert_eq!(
        problem(filtered, StatusCode::BAD_REQUEST).await["field"],
        "due_before"
    );
    assert_eq!(app.titles("").await, ["t"], "nothing else was stored");
}

/// Creates tasks titled `titles`, returning their ids.
async fn create_all(app: &TestApp, titles: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for title in titles {
        let task = app.create_titled(title).await;
        ids.push(task["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Overwrites the first page of `table`'s b-tree in the SQLite file at `url` with
/// garbage, as a failing disk or a stray write would.
async fn damage_table(url: &str, table: &str) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let (root, page_size): (i64, i64) = sqlx::query_as(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size()) FROM sqlite_schema \
         WHERE name = ?",
    )
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let path = url.strip_prefix("sqlite://").unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(((root - 1) * page_size) as u64))
        .unwrap();
    file.write_all(&vec![0xa5; page_size as usize]).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test]
async fn a_damaged_database_file_is_not_ready_and_answers_503() {
    if std::env::var("TASKLANE_TEST_STORE").is_ok_and(|store| store != "sqlite") {
        eprintln!(
            "a_damaged_database_file_is_not_ready_and_answers_503: a SQLite leg runs this test"
        );
        return;
    }
    let app = spawn_app().await;
    create_all(&app, &["a", "b", "c"]).await;
    // Stopped, its log checkpointed into the file: the rows now live in the file only.
    let database = app.stop().await;
    let app = spawn_app_on(&database).await;
    // Damaged under the running server, before it read any task.
    damage_table(&database.url, "tasks").await;

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (&ready["status"], &ready["database"]),
        (&json!("unavailable"), &json!("damaged"))
    );
    let body = problem(app.list_raw("").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["detail"].as_str().unwrap().contains("damaged"),
        "{body}"
    );
}
