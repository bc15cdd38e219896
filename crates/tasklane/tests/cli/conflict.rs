//! An edit decided on a version somebody has changed since is refused by the server
//! (`If-Match`, `412`); the client says what changed and writes nothing.

use serde_json::{Value, json};

use crate::support::Session;

#[tokio::test]
async fn an_edit_of_an_old_version_shows_what_changed_and_writes_nothing() {
    let session = Session::start().await;
    let id = session
        .app
        .create(json!({"title": "draft", "assignee": "ana"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Read at version 1; then another client changes the title and the assignee.
    let read: Value = serde_json::from_str(&session.ok(&["task", "show", &id, "--json"])).unwrap();
    assert_eq!(read["version"], 1);
    let other = session
        .app
        .patch_task(
            &id,
            &json!({"title": "final", "assignee": "bo"}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(other.status(), 200);

    let edit = session.run(&["task", "edit", &id, "--if-version", "1", "--status", "done"]);
    assert_eq!(edit.code(), 3, "{}", edit.stderr());
    let said = edit.stderr();
    assert!(
        said.contains("version 1") && said.contains("version 2"),
        "{said}"
    );
    assert!(said.contains(r#"title: "draft" -> "final""#), "{said}");
    assert!(said.contains(r#"assignee: "ana" -> "bo""#), "{said}");
    assert!(
        !said.contains("status:"),
        "the status did not change: {said}"
    );
    let now: Value = session.app.get_ok(&format!("/v1/tasks/{id}")).await;
    assert_eq!(
        (now["status"].as_str(), now["version"].as_i64()),
        (Some("todo"), Some(2))
    );

    // A delete decided on the old version is refused the same way.
    let rm = session.run(&["task", "rm", &id, "--if-version", "1"]);
    assert_eq!(rm.code(), 3, "{}", rm.stderr());
    assert_eq!(session.app.get_task(&id).await.status(), 200);
    // And on the current one, both go through.
    session.ok(&["task", "edit", &id, "--if-version", "2", "--status", "done"]);
    session.ok(&["task", "rm", &id, "--if-version", "3"]);
}

#[tokio::test]
async fn a_version_the_task_never_had_or_a_live_task_to_restore_is_named_as_such() {
    let session = Session::start().await;
    let id = session.app.create(json!({"title": "live"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for version in ["99", "0"] {
        let edit = session.run(&["task", "edit", &id, "--if-version", version, "--title", "x"]);
        assert_eq!(edit.code(), 2, "{}", edit.stderr());
        assert!(edit.stderr().contains("never had"), "{}", edit.stderr());
    }
    let restore = session.run(&["task", "restore", &id[..13]]);
    assert_eq!(restore.code(), 3, "{}", restore.stderr());
    assert!(
        restore.stderr().contains("not deleted"),
        "{}",
        restore.stderr()
    );
    assert_eq!(session.app.titles("").await, ["live"], "nothing written");
}
