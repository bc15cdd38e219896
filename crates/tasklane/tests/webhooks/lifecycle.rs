//! A webhook's life: disabled once a change's attempts are exhausted, with the reason
//! shown, and resumed from where it stopped; paused and resumed; moved to another URL;
//! its secret rotated (both signatures sent meanwhile); a test event on demand; its
//! attempts listed with their status codes and errors; behind what retention keeps,
//! it says what it skipped and goes on.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane_check::receiver::{Arrival, Fault};

use crate::support::{
    Hooked, PATIENCE, assert_all_delivered, await_hook, deliveries, get, owed, patch, ping,
    received,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_attempts_disable_the_webhook_and_resuming_starts_where_it_stopped() {
    let hooked = Hooked::start_with(&["--webhook-attempts", "4"]).await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("exhausted", None).await;
    receiver.fail_until_healed(Fault::Status(500));
    for n in 0..3 {
        app.create_titled(&format!("task {n}")).await;
    }
    await_hook(app, &hook["id"], "disabled", |h| h["status"] == "disabled").await;
    let disabled = get(app, &hook["id"]).await;
    let reason = disabled["disabled_reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "{disabled}");
    assert_eq!(
        disabled["position"], hook["position"],
        "nothing was delivered"
    );
    // Four attempts of the first change, nothing of the others.
    let summary = receiver.summary("exhausted");
    assert_eq!(
        (summary.arrivals, summary.seqs()),
        (4, vec![1]),
        "{summary:#?}"
    );
    let attempts = deliveries(app, &hook["id"]).await;
    let codes: Vec<&Value> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&Value::from(500); 4]);

    receiver.heal();
    app.create_titled("written while disabled").await;
    let resumed = patch(app, &hook["id"], &json!({ "status": "active" })).await;
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["disabled_reason"], Value::Null);
    let summary = assert_all_delivered(app, receiver, "exhausted", &hook).await;
    assert_eq!(summary.seqs(), [1, 2, 3, 4]);
    assert_eq!(summary.duplicates, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_webhook_gets_nothing_until_resumed_then_everything_in_order() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let paused = hooked.hook("paused", None).await;
    let witness = hooked.hook("witness", None).await;
    let patched = patch(app, &paused["id"], &json!({ "status": "paused" })).await;
    assert_eq!(patched["status"], "paused");
    for n in 0..3 {
        app.create_titled(&format!("task {n}")).await;
    }
    // The witness, sent the same changes, got them all: the paused one got none.
    assert_all_delivered(app, receiver, "witness", &witness).await;
    assert!(receiver.arrivals("paused").is_empty());
    let still = get(app, &paused["id"]).await;
    assert_eq!(
        (&still["status"], &still["position"]),
        (&json!("paused"), &paused["position"])
    );

    patch(app, &paused["id"], &json!({ "status": "active" })).await;
    let summary = assert_all_delivered(app, receiver, "paused", &paused).await;
    assert_eq!(summary.seqs(), [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_url_receives_the_changes_after_it_was_set() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("old", None).await;
    app.create_titled("to the old url").await;
    received(receiver, "old", 1).await;
    await_hook(app, &hook["id"], "past the first change", |h| {
        h["position"] == 1
    })
    .await;
    let moved = patch(app, &hook["id"], &json!({ "url": receiver.url("new") })).await;
    assert_eq!(moved["url"], receiver.url("new"));
    receiver
        .trust("new", hook["secret"].as_str().unwrap())
        .unwrap();
    app.create_titled("to the new url").await;
    // Wherever it goes first: the old URL must not get it.
    let sent = tokio::time::timeout(PATIENCE, async {
        while receiver.summary("old").seqs().len() < 2 && receiver.summary("new").acknowledged() < 1
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    sent.await
        .expect("the change written after the move was sent");
    let old = receiver.summary("old").seqs();
    assert_eq!(
        old,
        [1],
        "a change written after the move went to the old URL"
    );
    let summary = received(receiver, "new", 1).await;
    assert_eq!(summary.seqs(), [2]);
    assert!(summary.breaches().is_empty(), "{:#?}", summary.breaches());
}

/// `arrival` with only its `n`th signature.
fn with_signature(arrival: &Arrival, n: usize) -> Arrival {
    let mut single = arrival.clone();
    let signature = arrival.signatures()[n].parse().unwrap();
    single.headers.insert("webhook-signature", signature);
    single
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_old_one() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("rotated", None).await;
    let old = hook["secret"].as_str().unwrap().to_owned();
    app.create_titled("before the rotation").await;
    received(receiver, "rotated", 1).await;

    let rotated = patch(app, &hook["id"], &json!({ "rotate_secret": true })).await;
    let new = rotated["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    assert_eq!(get(app, &hook["id"]).await.get("secret"), None);
    receiver.trust("rotated", &new).unwrap();
    app.create_titled("after the rotation").await;
    assert_all_delivered(app, receiver, "rotated", &hook).await;

    let arrivals = receiver.arrivals("rotated");
    let before = &arrivals[0];
    assert_eq!(before.verified_by, [old.as_str()]);
    let after = arrivals.last().unwrap();
    assert_eq!(after.signatures().len(), 2, "{:?}", after.signatures());
    assert_eq!(after.verified_by, [old.as_str(), new.as_str()]);
    // The new secret's signature first.
    assert_eq!(with_signature(after, 0).verify_with(&new), Ok(()));
    assert!(with_signature(after, 0).verify_with(&old).is_err());
    assert_eq!(with_signature(after, 1).verify_with(&old), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_event_arrives_signed_and_is_listed_among_the_attempts() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("tested", None).await;
    let response = ping(app, &hook["id"]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let attempt: Value = response.json().await.unwrap();
    assert_eq!(attempt["type"], "webhook.test");
    assert_eq!(attempt["seq"], Value::Null);
    assert_eq!(attempt["status_code"], 200);
    assert_eq!(attempt["error"], Value::Null);
    let event_id = attempt["event_id"].as_str().unwrap();
    assert!(event_id.starts_with("msg_test_"), "{event_id}");

    let arrivals = receiver.arrivals("tested");
    assert_eq!(arrivals.len(), 1);
    let arrival = &arrivals[0];
    assert_eq!(arrival.webhook_id(), Some(event_id));
    let event = arrival.event.as_ref().expect("an event");
    assert_eq!(event.kind, "webhook.test");
    assert_eq!(event.data["webhook_id"], hook["id"]);
    assert_eq!(arrival.verified_by, [hook["secret"].as_str().unwrap()]);
    let listed = deliveries(app, &hook["id"]).await;
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    // The same attempt; its latency kept to the microsecond.
    let (mut kept, mut answered) = (listed[0].clone(), attempt.clone());
    let latency = |attempt: &mut Value| attempt.as_object_mut().unwrap().remove("latency_ms");
    let (kept_ms, answered_ms) = (latency(&mut kept).unwrap(), latency(&mut answered).unwrap());
    assert_eq!(kept, answered);
    let drift = kept_ms.as_f64().unwrap() - answered_ms.as_f64().unwrap();
    assert!(
        drift.abs() < 0.001,
        "{kept_ms} listed, {answered_ms} answered"
    );
    // A test moves nothing.
    assert_eq!(get(app, &hook["id"]).await["position"], hook["position"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempts_show_status_codes_and_errors_newest_first() {
    let hooked = Hooked::start().await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("attempts", None).await;
    receiver.fail_next(1, Fault::Status(503));
    receiver.fail_next(1, Fault::Close);
    app.create_titled("attempted").await;
    assert_all_delivered(app, receiver, "attempts", &hook).await;
    await_hook(app, &hook["id"], "past the change", |h| h["position"] == 1).await;

    let listed = deliveries(app, &hook["id"]).await;
    assert_eq!(listed["webhook"]["id"], hook["id"]);
    let attempts = listed["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    let ids: Vec<i64> = attempts.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {ids:?}"
    );
    let change = &owed(app, &hook).await[0];
    let event_id = receiver.arrivals("attempts")[0]
        .webhook_id()
        .unwrap()
        .to_owned();
    for attempt in attempts {
        assert_eq!(attempt["seq"], change["seq"]);
        assert_eq!(attempt["type"], change["kind"]);
        assert_eq!(attempt["event_id"], event_id.as_str());
        assert!(attempt["latency_ms"].is_number());
        assert!(attempt["attempted_at"].is_string());
    }
    let (ok, closed, refused) = (&attempts[0], &attempts[1], &attempts[2]);
    assert_eq!(
        (&ok["status_code"], &ok["error"]),
        (&json!(200), &Value::Null)
    );
    assert_eq!(closed["status_code"], Value::Null);
    assert!(
        closed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{closed}"
    );
    assert_eq!(refused["status_code"], 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_behind_what_retention_keeps_says_what_it_skipped_and_goes_on() {
    let hooked = Hooked::start_with(&["--changes-retention", "2s"]).await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let hook = hooked.hook("behind", None).await;
    patch(app, &hook["id"], &json!({ "status": "paused" })).await;
    for n in 0..3 {
        app.create_titled(&format!("pruned {n}")).await;
    }
    // Retention forgets them: the log no longer continues from the webhook's position.
    let pruned = tokio::time::timeout(PATIENCE, async {
        while app.changes_raw("since=0").await.status() != StatusCode::GONE {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    pruned.await.expect("retention pruned the changes");

    patch(app, &hook["id"], &json!({ "status": "active" })).await;
    await_hook(app, &hook["id"], "told what it skipped", |h| {
        h["skipped"].is_object()
    })
    .await;
    let skipped = get(app, &hook["id"]).await["skipped"].clone();
    assert_eq!(
        (&skipped["after"], &skipped["through"]),
        (&json!(0), &json!(3))
    );

    app.create_titled("kept").await;
    let summary = received(receiver, "behind", 1).await;
    assert!(summary.breaches().is_empty(), "{:#?}", summary.breaches());
    assert_eq!(summary.seqs(), [4], "only the change written after the gap");
}
