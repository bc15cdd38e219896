//! Several `tasklane serve` processes on one database (PostgreSQL, or one SQLite file):
//! one sender per endpoint at a time, through the lease on the endpoint's row. An
//! instance killed (SIGKILL) in the middle of a delivery holds its lease to the end;
//! another then resumes, redelivering what the dead one never saw answered; two
//! instances competing never have two deliveries of one endpoint in flight at once
//! (the receiver holds every answer back, to widen the window) and every endpoint
//! still gets its exact sequence.

use std::time::Duration;

use tasklane_check::receiver::Receiver;

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, TestApp};
use crate::support::{assert_all_delivered, hook, serve_options};

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
