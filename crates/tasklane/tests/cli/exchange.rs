//! A workspace leaves and comes back: `tasklane export` writes it as JSON lines,
//! `tasklane import` loads them into another database, which then answers the API as
//! the first did; importing again changes nothing; a conflict or a broken line refuses
//! the whole file. CSV imports report each rejected row. Runs on the test store
//! (SQLite or PostgreSQL).

use serde_json::{Value, json};

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, TestApp};
use crate::support::Session;

/// A workspace with tasks in every state: done, reopened, relabelled, deleted.
async fn workspace(app: &TestApp) {
    app.create(json!({"title": "open", "labels": ["a", "b"], "due_at": "2026-12-01T17:00:00Z"}))
        .await;
    app.create(json!({"title": "done at birth", "status": "done", "assignee": "ana"}))
        .await;
    let edited = app
        .create(json!({"title": "edited", "priority": "urgent"}))
        .await;
    let id = edited["id"].as_str().unwrap();
    for patch in [
        json!({"status": "done"}),
        json!({"title": "edited twice", "labels": ["z"]}),
    ] {
        assert_eq!(app.patch_task(id, &patch, None).await.status(), 200);
    }
    let gone = app.create(json!({"title": "deleted"})).await;
    let gone = gone["id"].as_str().unwrap();
    assert_eq!(app.delete_task(gone, None).await.status(), 204);
}

/// What the API answers, but the log positions (a database's own history).
async fn answers(app: &TestApp) -> Vec<Value> {
    let mut answers = Vec::new();
    for query in [
        "",
        "sort=-completed_at",
        "status_not=done",
        "unassigned=true",
        "sort=title&limit=2",
    ] {
        let mut page = app.list(query).await;
        let page_members = page.as_object_mut().unwrap();
        page_members.remove("seq");
        // Each database signs cursors with its own key: whether there is one is the
        // answer, not its text.
        let more = !page_members["next_cursor"].is_null();
        page_members.insert("next_cursor".to_owned(), Value::Bool(more));
        answers.push(page);
    }
    let ids: Vec<String> = answers[0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    for id in ids {
        let mut task = app.get_ok(&format!("/v1/tasks/{id}")).await;
        task.as_object_mut().unwrap().remove("seq");
        answers.push(task);
    }
    answers
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_gives_the_same_answers() {
    let session = Session::start().await;
    workspace(&session.app).await;
    let file = session.config.path().join("default.jsonl");
    let file = file.to_str().unwrap();
    let export = session.run(&[
        "export",
        "--database-url",
        &session.database.url,
        "-o",
        file,
    ]);
    assert_eq!(export.code(), 0, "{}", export.stderr());
    let lines = std::fs::read_to_string(file).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");

    // Another database, served meanwhile in strict consistency, which reads the
    // generation rows an import advances: its cached lists are replaced.
    let other = fresh_database().await;
    let strict = ["--consistency".to_owned(), "strict".to_owned()];
    let server = ServerProcess::start(&other.url, &strict).await;
    let app = TestApp::of(&server.base);
    let dry = session.run(&[
        "import",
        file,
        "--workspace",
        "default",
        "--dry-run",
        "--database-url",
        &other.url,
    ]);
    assert_eq!(dry.code(), 0, "{}", dry.stderr());
    assert!(dry.stderr().contains("Would add 3"), "{}", dry.stderr());
    assert_eq!(app.list("").await["total"], 0, "a dry run writes nothing");

    let listed_before = app.list("").await; // cached: the import must replace it
    assert_eq!(listed_before["total"], 0);
    let import = session.run(&[
        "import",
        file,
        "--workspace",
        "default",
        "--database-url",
        &other.url,
    ]);
    assert_eq!(import.code(), 0, "{}", import.stderr());
    assert_eq!(answers(&app).await, answers(&session.app).await);
    // The imports are changes like any write's: the feed has them.
    let changes = app.changes("since=0").await;
    assert_eq!(changes["data"].as_array().unwrap().len(), 3);

    // Again: nothing changes.
    let again = session.run(&[
        "import",
        file,
        "--workspace",
        "default",
        "--database-url",
        &other.url,
    ]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(
        again.stderr().contains("Added 0") && again.stderr().contains("3 already there"),
        "{}",
        again.stderr()
    );
    assert_eq!(
        app.changes("since=0").await["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A task changed here since: the file would overwrite it, so nothing is imported.
    let id = app.list("sort=title").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.patch_task(&id, &json!({"title": "changed here"}), None)
            .await
            .status(),
        200
    );
    let conflict = session.run(&[
        "import",
        file,
        "--workspace",
        "default",
        "--database-url",
        &other.url,
    ]);
    assert_eq!(conflict.code(), 1);
    assert!(
        conflict.stderr().contains(&id) && conflict.stderr().contains("nothing imported"),
        "{}",
        conflict.stderr()
    );
    assert_eq!(
        app.get_ok(&format!("/v1/tasks/{id}")).await["title"],
        "changed here"
    );
}

#[tokio::test]
async fn a_file_that_does_not_parse_whole_writes_nothing() {
    let session = Session::start().await;
    workspace(&session.app).await;
    let file = session.config.path().join("broken.jsonl");
    let export = session.run(&[
        "export",
        "--database-url",
        &session.database.url,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(export.code(), 0, "{}", export.stderr());
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"title\": \"no id\"}\n");
    std::fs::write(&file, text).unwrap();
    let other = fresh_database().await;
    let server = ServerProcess::start(&other.url, &[]).await;
    let import = session.run(&[
        "import",
        file.to_str().unwrap(),
        "--workspace",
        "default",
        "--database-url",
        &other.url,
    ]);
    assert_eq!(import.code(), 1);
    assert!(import.stderr().contains("line 4"), "{}", import.stderr());
    assert_eq!(TestApp::of(&server.base).list("").await["total"], 0);
}

#[tokio::test]
async fn a_csv_reports_each_rejected_row_and_loads_only_when_told() {
    let session = Session::start().await;
    let file = session.config.path().join("tasks.csv");
    std::fs::write(
        &file,
        "title,status,priority,assignee,labels,due\n\
         Write docs,todo,high,ana,docs;release,2026-12-01\n\
         ,todo,low,,,\n\
         Ship,doing,low,,,\n\
         Plan,in_progress,medium,,,\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // `tasklane import FILE` into this session's workspace, with `extra` options.
    let import = |file: &str, extra: &[&str]| {
        let mut args = vec!["import", file, "--workspace", "default"];
        args.extend_from_slice(extra);
        args.extend(["--database-url", &session.database.url]);
        session.run(&args)
    };
    let refused = import(path, &[]);
    assert_eq!(refused.code(), 1);
    let said = refused.stderr();
    assert!(
        said.contains("line 3: ") && said.contains("title"),
        "{said}"
    );
    assert!(
        said.contains("line 4: ") && said.contains("doing"),
        "{said}"
    );
    assert_eq!(session.app.list("").await["total"], 0, "nothing written");
    let partial = import(path, &["--partial"]);
    assert_eq!(partial.code(), 0, "{}", partial.stderr());
    assert_eq!(
        session.app.titles("sort=title").await,
        ["Plan", "Write docs"]
    );
    // A file cut inside a quoted field is refused whole, even with --partial.
    std::fs::write(&file, "title,status\nShip,todo\n\"Plan the\nwinter,todo\n").unwrap();
    let cut = import(path, &["--partial"]);
    assert_eq!(cut.code(), 1, "{}", cut.stderr());
    assert!(cut.stderr().contains("line 3"), "{}", cut.stderr());
    // (A query not asked before: this server's cache is not told of imports.)
    assert_eq!(
        session.app.titles("sort=-title").await,
        ["Write docs", "Plan"],
        "nothing more written"
    );
    // --partial is for CSV: given a JSON lines file, it is a usage error.
    let jsonl = session.config.path().join("tasks.jsonl");
    std::fs::write(&jsonl, "").unwrap();
    let misused = import(jsonl.to_str().unwrap(), &["--partial"]);
    assert_eq!(misused.code(), 2, "{}", misused.stderr());
}
