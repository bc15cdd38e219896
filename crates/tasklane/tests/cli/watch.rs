//! `task watch` prints another client's change as it happens, and goes on after the
//! server it follows restarts.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Session;

/// The lines a running command prints, as they come.
fn lines(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

/// The next line, or a failure naming what was awaited (bounded: a stuck command
/// fails the test instead of hanging it).
fn next(lines: &mpsc::Receiver<String>, awaited: &str) -> String {
    lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no line came: awaited {awaited}"))
}

#[tokio::test]
async fn watch_prints_another_clients_change_as_it_happens() {
    let session = Session::start().await;
    let before = session
        .app
        .create(json!({"title": "before watching"}))
        .await;
    let mut watch = session
        .command(&["task", "watch", "--ndjson", "--status", "todo,done"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(watch.stdout.take().unwrap());
    let err = lines(watch.stderr.take().unwrap());
    assert!(next(&err, "the starting position").starts_with("Watching"));

    let created = session.app.create(json!({"title": "made elsewhere"})).await;
    let id = created["id"].as_str().unwrap();
    let change: Value = serde_json::from_str(&next(&out, "the create")).unwrap();
    assert_eq!(change["kind"], "task.created");
    assert_eq!(change["task"]["title"], "made elsewhere");
    // Filtered: a change to in_progress is not printed; the next to done is.
    let patched = session
        .app
        .patch_task(id, &json!({"status": "in_progress"}), None)
        .await;
    assert_eq!(patched.status(), 200);
    let patched = session
        .app
        .patch_task(id, &json!({"status": "done"}), None)
        .await;
    assert_eq!(patched.status(), 200);
    let change: Value = serde_json::from_str(&next(&out, "the update to done")).unwrap();
    assert_eq!(
        (change["kind"].as_str(), change["version"].as_i64()),
        (Some("task.updated"), Some(3))
    );
    assert_ne!(
        change["task_id"], before["id"],
        "nothing from before it started"
    );
    watch.kill().unwrap();
    watch.wait().unwrap();
}

// The proxy runs on the runtime while this thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_a_cut_without_losing_or_repeating_a_change() {
    let session = Session::start().await;
    let address: std::net::SocketAddr = session
        .server
        .base
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = crate::common::Proxy::start(address).await;
    let mut watch = session
        .command(&["task", "watch", "--ndjson"])
        .env("TASKLANE_URL", format!("http://127.0.0.1:{}", proxy.port))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(watch.stdout.take().unwrap());
    let err = lines(watch.stderr.take().unwrap());
    assert!(next(&err, "the starting position").starts_with("Watching"));
    session.app.create(json!({"title": "one"})).await;
    let first: Value = serde_json::from_str(&next(&out, "the first create")).unwrap();
    // Cut: the stream ends; changes made meanwhile must arrive once it is back.
    proxy.cut();
    session.app.create(json!({"title": "two"})).await;
    session.app.create(json!({"title": "three"})).await;
    proxy.restore();
    let second: Value =
        serde_json::from_str(&next(&out, "the change made during the cut")).unwrap();
    let third: Value = serde_json::from_str(&next(&out, "the next one")).unwrap();
    assert_eq!(
        [&first, &second, &third].map(|c| c["task"]["title"].as_str().unwrap().to_owned()),
        ["one", "two", "three"]
    );
    assert_eq!(second["seq"].as_u64(), first["seq"].as_u64().map(|s| s + 1));
    watch.kill().unwrap();
    watch.wait().unwrap();
}
