//! Data that cannot be served: a value that would not read back is never stored; a row
//! that still does not read back (edited by hand, or left by an older version) fails
//! only its own reads; a damaged database file is reported, not served as `500`s.

use std::io::{Seek, SeekFrom, Write};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use tasklane_server::domain::Timestamp;

use crate::helpers::{TestApp, execute_sql, problem, spawn_app, spawn_app_on, titles};

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

#[tokio::test]
async fn a_row_that_does_not_read_back_fails_only_its_own_reads() {
    let app = spawn_app().await;
    let ids = create_all(&app, &["a", "b", "c"]).await;
    // Damaged behind the server's back (nothing was read yet, so nothing is cached):
    // a due date in the year 10000, as an older version let through.
    let database = app.stop().await;
    let beyond = Timestamp::MAX.as_micros() + 60_000_000;
    execute_sql(
        &database.url,
        &format!("UPDATE tasks SET due_at = {beyond} WHERE id = '{}'", ids[1]),
    )
    .await;
    let app = spawn_app_on(&database).await;

    // The list serves the rest, counts it and names it.
    let page = app.list("sort=title").await;
    assert_eq!(titles(&page), ["a", "c"]);
    assert_eq!(page["unreadable"], json!([ids[1]]));
    assert_eq!(page["total"], 3);

    // A cursor walk, one row a page, passes over it.
    let mut walked: Vec<Value> = Vec::new();
    let mut page = app.list("sort=title&limit=1").await;
    loop {
        walked.push(json!([titles(&page), page["unreadable"]]));
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = app
            .list(&format!("sort=title&limit=1&cursor={cursor}"))
            .await;
    }
    assert_eq!(
        walked,
        [
            json!([["a"], null]),
            json!([[], [ids[1]]]),
            json!([["c"], null])
        ]
    );

    // Its own reads and writes answer a problem that names it and what is wrong.
    for response in [
        app.get_task(&ids[1]).await,
        app.patch_task(&ids[1], &json!({"due_at": null}), None)
            .await,
    ] {
        let body = problem(response, StatusCode::INTERNAL_SERVER_ERROR).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&ids[1]) && detail.contains("due_at"),
            "{detail}"
        );
    }
    // Deleting it is the way out.
    assert_eq!(
        app.delete_task(&ids[1], Some("\"1\"")).await.status(),
        StatusCode::NO_CONTENT
    );
    let page = app.list("sort=title").await;
    assert_eq!(
        (titles(&page), &page["unreadable"]),
        (vec!["a".to_owned(), "c".to_owned()], &Value::Null)
    );
}

/// Rows edited by hand into what no write could store (an empty title, a version below
/// 1, a label too long) are flagged like any unreadable row, not served as tasks.
#[tokio::test]
async fn a_row_edited_past_the_write_rules_is_flagged_not_served() {
    for (edit, field) in [
        ("title = ''", "title"),
        ("version = -5", "version"),
        (&*format!("labels = '[\"{}\"]'", "x".repeat(51)), "labels"),
    ] {
        let app = spawn_app().await;
        let ids = create_all(&app, &["a", "b"]).await;
        let database = app.stop().await;
        execute_sql(
            &database.url,
            &format!("UPDATE tasks SET {edit} WHERE id = '{}'", ids[1]),
        )
        .await;
        let app = spawn_app_on(&database).await;
        let page = app.list("sort=title").await;
        assert_eq!(page["unreadable"], json!([ids[1]]), "{edit}");
        let body = problem(
            app.get_task(&ids[1]).await,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{edit}: {detail}");
    }
}

/// Overwrites the first page of `table`'s b-tree in the SQLite file at `url` with
/// garbage, as a failing disk or a stray write would.
async fn damage_table(url: &str, table: &str) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    // Every page into the file first, the log emptied: a page still in the log would be
    // read from there, undamaged (a stopped server's connections may not all have
    // finished their own checkpoint yet).
    let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(busy, 0, "the log could not be emptied into the file");
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
