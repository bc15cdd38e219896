//! A healthy receiver gets every change a webhook asks for, once each in `seq` order,
//! as a Standard Webhooks request (its headers and signature), with the state its write
//! produced; changes it did not ask for are skipped, and its position still passes
//! them; another workspace's changes never reach it.

use std::time::SystemTime;

use serde_json::Value;

use crate::helpers::token;
use crate::support::{
    Hooked, assert_all_delivered, await_hook, change_log, every_kind_of_write, hook,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_in_order_with_the_state_its_write_produced() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    app.create_titled("before the webhook").await;
    let hook = hooked.hook("all", None).await;
    every_kind_of_write(app).await;
    let summary = assert_all_delivered(app, &hooked.receiver, "all", &hook).await;
    assert_eq!(summary.seqs(), [2, 3, 4, 5, 6]);
    let kinds: Vec<&str> = summary
        .delivered
        .iter()
        .map(|d| d.event.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "task.created",
            "task.updated",
            "task.deleted",
            "task.created",
            "task.created"
        ]
    );
    assert_eq!(summary.delivered[2].event.data["task"], Value::Null);

    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for arrival in hooked.receiver.arrivals("all") {
        assert_eq!(arrival.header("content-type"), Some("application/json"));
        let agent = arrival.header("user-agent").unwrap_or_default();
        assert!(agent.starts_with("Tasklane/"), "{agent}");
        let timestamp: i64 = arrival
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (timestamp - now).abs() < 300,
            "{timestamp} is not about now ({now})"
        );
        assert_eq!(arrival.signatures().len(), 1);
        assert!(arrival.signatures()[0].starts_with("v1,"));
    }
    let head = change_log(app, 0).await.len() as u64;
    await_hook(app, &hook["id"], "at the head", |h| {
        h["position"] == head && h["status"] == "active" && h["attempts"] == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_a_webhook_did_not_ask_for_are_skipped_and_its_position_passes_them() {
    let hooked = Hooked::start().await;
    let app = &hooked.app;
    let deletes = hooked.hook("deletes", Some(&["task.deleted"])).await;
    let others = hooked
        .hook("others", Some(&["task.created", "task.updated"]))
        .await;
    every_kind_of_write(app).await;
    let summary = assert_all_delivered(app, &hooked.receiver, "deletes", &deletes).await;
    assert_eq!(summary.seqs(), [3]);
    let summary = assert_all_delivered(app, &hooked.receiver, "others", &others).await;
    assert_eq!(summary.seqs(), [1, 2, 4, 5]);
    // The last change is no delete: the position passes it all the same.
    for hook in [&deletes, &others] {
        await_hook(app, &hook["id"], "at the head", |h| h["position"] == 5).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_only_its_own_workspace_s_changes() {
    let hooked = Hooked::start_with(&["--auth", "token"]).await;
    let ours = hooked
        .app
        .as_holder_of(&token(&hooked.database, "ours", "ana").await);
    let theirs = hooked
        .app
        .as_holder_of(&token(&hooked.database, "theirs", "bo").await);
    let receiver = &hooked.receiver;
    let our_hook = hook(&ours, receiver, "ours", None).await;
    let their_hook = hook(&theirs, receiver, "theirs", None).await;
    theirs.create_titled("theirs 1").await;
    theirs.create_titled("theirs 2").await;
    ours.create_titled("ours").await;
    // Both logs start at seq 1: a change sent to the wrong endpoint would show as a
    // second delivery, or a repeat of msg_..._1 with another body.
    assert_all_delivered(&theirs, receiver, "theirs", &their_hook).await;
    let summary = assert_all_delivered(&ours, receiver, "ours", &our_hook).await;
    assert_eq!(summary.seqs(), [1]);
    assert_eq!(summary.delivered[0].event.data["task"]["title"], "ours");
}
