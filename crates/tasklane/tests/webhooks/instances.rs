//! Several `tasklane serve` processes on one database (PostgreSQL, or one SQLite file):
//! one sender per endpoint at a time, through the lease on the endpoint's row. An
//! instance killed (SIGKILL) in the middle of a delivery holds its lease to the end;
//! another then resumes, redelivering what the dead one never saw answered; two
//! instances competing never have two deliveries of one endpoint in flight at once
//! (the receiver holds every answer back, to widen the window) and every endpoint
//! still gets its exact sequence. A setting changed through one instance (a pause, a
//! rotated secret) applies to the next change another instance sends.

use std::time::Duration;

use serde_json::json;
use tasklane_check::receiver::Receiver;

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, TestApp};
use crate::support::{assert_all_delivered, hook, patch, received, serve_options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_delivery_is_replaced_once_its_lease_expires() {
    let database = fresh_database().await;
    let options = serve_options(&database, &[]);
    let mut doomed = ServerProcess::start(&database.url, &options).await;
    let receiver = Receiver::start().await.unwrap();
    let on_doomed = TestApp::of(&doomed.base);
    let created = hook(&on_doomed, &receiver, "survivor", None).await;
    // Every answer takes 500 ms (within the 1 s attempt timeout): a kill soon after
    // an arrival lands in the middle of its delivery.
    receiver.hold(Duration::from_millis(500));
    for n in 0..4 {
        on_doomed.create_titled(&format!("task {n}")).await;
    }
    let in_flight = |summary: &tasklane_check::receiver::Summary| summary.seqs().len() >= 2;
    assert!(
        receiver
            .wait_until("survivor", crate::support::PATIENCE, in_flight)
            .await
    );
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    let interrupted = receiver.summary("survivor").seqs();
    println!(
        "the instance was killed while delivering seq {:?}",
        interrupted.last()
    );

    let heir = ServerProcess::start(&database.url, &options).await;
    let on_heir = TestApp::of(&heir.base);
    for n in 4..6 {
        on_heir.create_titled(&format!("task {n}")).await;
    }
    let summary = assert_all_delivered(&on_heir, &receiver, "survivor", &created).await;
    assert_eq!(summary.seqs(), [1, 2, 3, 4, 5, 6]);
    // The change whose answer the killed instance never read came again.
    assert!(summary.duplicates >= 1, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_deliver_to_one_endpoint_at_once() {
    let database = fresh_database().await;
    let options = serve_options(&database, &[]);
    let a = ServerProcess::start(&database.url, &options).await;
    let b = ServerProcess::start(&database.url, &options).await;
    let (on_a, on_b) = (TestApp::of(&a.base), TestApp::of(&b.base));
    let receiver = Receiver::start().await.unwrap();
    receiver.hold(Duration::from_millis(20));
    let mut hooks = Vec::new();
    for n in 0..3 {
        let on = if n % 2 == 0 { &on_a } else { &on_b };
        hooks.push(hook(on, &receiver, &format!("endpoint-{n}"), None).await);
    }
    let writers = [on_a, on_b].map(|app| {
        tokio::spawn(async move {
            for n in 0..15 {
                app.create_titled(&format!("task {n}")).await;
            }
            app
        })
    });
    let mut apps = Vec::new();
    for writer in writers {
        apps.push(writer.await.unwrap());
    }
    for (n, created) in hooks.iter().enumerate() {
        let endpoint = format!("endpoint-{n}");
        let summary = assert_all_delivered(&apps[0], &receiver, &endpoint, created).await;
        assert_eq!(summary.seqs().len(), 30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_through_another_instance_apply_to_the_next_change() {
    let database = fresh_database().await;
    let options = serve_options(&database, &[]);
    // The first instance alone: it takes both webhooks and keeps sending them.
    let sender = ServerProcess::start(&database.url, &options).await;
    let on_sender = TestApp::of(&sender.base);
    let receiver = Receiver::start().await.unwrap();
    let rotated = hook(&on_sender, &receiver, "rotated", None).await;
    let paused = hook(&on_sender, &receiver, "paused", None).await;
    let witness = hook(&on_sender, &receiver, "witness", None).await;
    on_sender.create_titled("before").await;
    for endpoint in ["rotated", "paused", "witness"] {
        received(&receiver, endpoint, 1).await;
    }

    let other = ServerProcess::start(&database.url, &options).await;
    let on_other = TestApp::of(&other.base);
    let new = patch(&on_other, &rotated["id"], &json!({ "rotate_secret": true })).await;
    let new = new["secret"].as_str().unwrap().to_owned();
    receiver.trust("rotated", &new).unwrap();
    patch(&on_other, &paused["id"], &json!({ "status": "paused" })).await;
    on_other.create_titled("after").await;

    let summary = assert_all_delivered(&on_other, &receiver, "witness", &witness).await;
    assert_eq!(summary.seqs(), [1, 2]);
    let arrivals = receiver.arrivals("paused");
    let seqs: Vec<Option<u64>> = arrivals.iter().map(|a| a.event.as_ref()?.seq()).collect();
    assert_eq!(seqs, [Some(1)], "a change written after the pause was sent");
    received(&receiver, "rotated", 2).await;
    let after = receiver.arrivals("rotated").pop().unwrap();
    assert!(
        after.verified_by.contains(&new),
        "a change written after the rotation was not signed with the new secret: {:?}",
        after.signatures()
    );
}
