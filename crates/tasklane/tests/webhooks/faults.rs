//! A receiver that fails (error statuses, answers too late, connections closed without
//! an answer, gone altogether for a while) still gets every change, in order, once it
//! is healthy; while a change fails, nothing after it is sent (the receiver judges the
//! order of first arrivals, and that each change was answered with a 2xx before the
//! next arrived). `Retry-After` holds the next attempt back; a redirect is a failure
//! and is not followed.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use tasklane_check::receiver::{Fault, RetryAfter};

use crate::support::{Hooked, assert_all_delivered, await_hook, deliveries, received};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_every_change_in_order_once_it_is_healthy() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("flaky", None).await;
    // The first change fails twice with error statuses; then two attempts time out or
    // find their connection closed; then the receiver goes away for a while. No change
    // fails four times in a row, so none waits longer than 2.4 s for its next attempt.
    receiver.fail_next(1, Fault::Status(500));
    receiver.fail_next(1, Fault::Status(503));
    for n in 0..6 {
        app.create_titled(&format!("task {n}")).await;
    }
    received(receiver, "flaky", 1).await;
    receiver.fail_next(1, Fault::Delay(Duration::from_millis(1500)));
    receiver.fail_next(1, Fault::Close);
    received(receiver, "flaky", 3).await;
    receiver.down().await;
    // Down until an attempt has found it so (a refused connection), which the
    // webhook's state shows while it lasts.
    refused_once(app, &hook["id"]).await;
    await_hook(app, &hook["id"], "retrying", |h| {
        h["status"] == "retrying"
            && h["attempts"].as_u64() >= Some(1)
            && h["failing_since"].is_string()
            && h["next_attempt_at"].is_string()
    })
    .await;
    receiver.up().await.unwrap();

    let summary = assert_all_delivered(app, receiver, "flaky", &hook).await;
    // Every failed attempt was repeated: 2 error statuses, 1 timeout, 1 closed
    // connection (a refused one never arrives).
    assert!(summary.duplicates >= 4, "{summary:#?}");
    await_hook(app, &hook["id"], "healthy again", |h| {
        h["status"] == "active" && h["attempts"] == 0 && h["failing_since"].is_null()
    })
    .await;
    let attempts = deliveries(app, &hook["id"]).await;
    let attempts = attempts["data"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    for code in [500, 503] {
        assert!(codes.contains(&&Value::from(code)), "{attempts:#?}");
    }
    let errors = attempts
        .iter()
        .filter(|a| a["status_code"].is_null() && a["error"].is_string())
        .count();
    // The timeout, the closed connection and at least one refused connection.
    assert!(errors >= 3, "{attempts:#?}");
}

/// Waits until an attempt at the webhook could not connect.
async fn refused_once(app: &crate::helpers::TestApp, id: &Value) {
    for _ in 0..200 {
        let attempts = deliveries(app, id).await;
        let refused = attempts["data"].as_array().unwrap().iter().any(|a| {
            a["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("could not connect"))
        });
        if refused {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no attempt found the receiver down within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_holds_the_next_attempt_back() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("paced", None).await;
    receiver.fail_next(1, Fault::RetryAfter(503, RetryAfter::Seconds(2)));
    app.create_titled("paced in seconds").await;
    received(receiver, "paced", 1).await;
    let date = SystemTime::now() + Duration::from_secs(3);
    receiver.fail_next(1, Fault::RetryAfter(429, RetryAfter::Date(date)));
    app.create_titled("paced to a date").await;
    assert_all_delivered(app, receiver, "paced", &hook).await;

    let arrivals = receiver.arrivals("paced");
    assert_eq!(arrivals.len(), 4, "{arrivals:#?}");
    // Asked to wait 2 s after its answer, which came after the request arrived.
    let waited = arrivals[1].at - arrivals[0].at;
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    // An HTTP date has whole seconds: not before the second it names.
    let named = date
        - Duration::from_nanos(u64::from(
            date.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        ));
    assert!(
        arrivals[3].wall >= named,
        "retried before the date it was given"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("moved", None).await;
    receiver.fail_next(1, Fault::Redirect(307));
    receiver.fail_next(1, Fault::Redirect(301));
    app.create_titled("redirected").await;
    let summary = assert_all_delivered(app, receiver, "moved", &hook).await;
    assert_eq!(summary.arrivals, 3);
    assert!(receiver.arrivals("moved/moved").is_empty());
    // Attempts are written with the position.
    await_hook(app, &hook["id"], "past the change", |h| h["position"] == 1).await;
    let attempts = deliveries(app, &hook["id"]).await;
    let codes: Vec<&Value> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(
        codes,
        [&Value::from(200), &Value::from(301), &Value::from(307)]
    );
}
