//! `tasklane backup`: a consistent copy of a SQLite database taken while the server
//! writes, which a server then serves; and a restored copy never makes an ETag from
//! before the restore current again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::helpers::{ServerProcess, TestApp};
use crate::support::Session;

fn sqlite(session: &Session) -> bool {
    session.database.url.starts_with("sqlite:")
}

#[tokio::test]
async fn a_backup_taken_during_writes_is_consistent_and_served() {
    let session = Session::start().await;
    if !sqlite(&session) {
        return; // PostgreSQL is copied with pg_dump
    }
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let (app, writing) = (TestApp::of(&session.server.base), writing.clone());
        async move {
            let mut written = 0;
            while writing.load(Ordering::SeqCst) || written < 20 {
                app.create(json!({"title": format!("task {written}"), "status": "done"}))
                    .await;
                written += 1;
            }
            written
        }
    });
    // Wait until writes are under way, copy, and let the writer go on a little.
    while session.app.list("limit=1").await["total"].as_u64() < Some(5) {
        tokio::task::yield_now().await;
    }
    let copy = session.config.path().join("copy.db");
    let backup = session.run(&[
        "backup",
        copy.to_str().unwrap(),
        "--database-url",
        &session.database.url,
    ]);
    assert_eq!(backup.code(), 0, "{}", backup.stderr());
    writing.store(false, Ordering::SeqCst);
    let written = writer.await.unwrap();
    let again = session.run(&[
        "backup",
        copy.to_str().unwrap(),
        "--database-url",
        &session.database.url,
    ]);
    assert_eq!(again.code(), 1, "an existing file is never overwritten");
    // The copy holds every task and the server's secrets: its owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    let server = ServerProcess::start(&format!("sqlite://{}", copy.display()), &[]).await;
    let restored = TestApp::of(&server.base);
    let page = restored.list("limit=100").await;
    let total = page["total"].as_u64().unwrap();
    assert!(total >= 5 && total <= written, "{total} of {written}");
    // Consistent: every task in the copy is whole, and the log holds exactly its
    // creations, no more (a torn copy would have one without the other).
    let changes = restored.changes("since=0&limit=1000").await;
    assert_eq!(changes["data"].as_array().unwrap().len() as u64, total);
    assert_eq!(page["seq"], changes["head"]);
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["completed_at"].is_string())
    );
}

#[tokio::test]
async fn a_restored_copy_makes_no_old_etag_current_again() {
    let session = Session::start().await;
    if !sqlite(&session) {
        return;
    }
    let copy = session.config.path().join("copy.db");
    let strict = ["--consistency".to_owned(), "strict".to_owned()];
    let server = ServerProcess::start(&session.database.url, &strict).await;
    let app = TestApp::of(&server.base);
    app.create(json!({"title": "kept"})).await;
    let backup = session.run(&[
        "backup",
        copy.to_str().unwrap(),
        "--database-url",
        &session.database.url,
    ]);
    assert_eq!(backup.code(), 0, "{}", backup.stderr());
    // After the copy: a write the restore will undo, and a list that shows it.
    app.create(json!({"title": "lost in the restore"})).await;
    let before = app.list_raw("").await;
    let old_etag = before.headers()["etag"].to_str().unwrap().to_owned();

    // Restore: the copy is served; a different write brings its generation to where
    // the old list's stood.
    let restored = ServerProcess::start(&format!("sqlite://{}", copy.display()), &strict).await;
    let restored_app = TestApp::of(&restored.base);
    restored_app
        .create(json!({"title": "written after the restore"}))
        .await;
    let response = restored_app
        .client
        .get(restored_app.url("/v1/tasks"))
        .header("if-none-match", &old_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "an ETag from before the restore matched ({old_etag})"
    );
    let page: Value = response.json().await.unwrap();
    let titles: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["kept", "written after the restore"]);
}
