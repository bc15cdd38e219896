//! The receiver itself: signatures checked by the reference implementation (against the
//! Standard Webhooks test vector), every fault as a sender meets it, and the summary's
//! judgement of order, repeats and overlaps.

use std::time::{Duration, SystemTime};

use serde_json::json;
use standardwebhooks::Webhook;

use super::*;

/// The test vector of the Standard Webhooks reference libraries.
const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const VECTOR_TIMESTAMP: i64 = 1_649_367_553;
const VECTOR_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn now() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    i64::try_from(since.unwrap().as_secs()).unwrap()
}

/// A change event's body for `seq`.
fn event(seq: u64) -> String {
    json!({
        "type": "task.updated",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": { "seq": seq, "task_id": "t", "version": seq, "task": { "id": "t" } },
    })
    .to_string()
}

/// Sends `body` to `endpoint` as delivery `id`, signed now with each of `secrets`.
async fn deliver(
    receiver: &Receiver,
    endpoint: &str,
    id: &str,
    body: &str,
    secrets: &[&str],
) -> reqwest::Result<reqwest::Response> {
    let timestamp = now();
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let webhook = Webhook::new(secret).unwrap();
            webhook.sign(id, timestamp, body.as_bytes()).unwrap()
        })
        .collect();
    client()
        .post(receiver.url(endpoint))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures.join(" "))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

/// Delivers change `seq` as `msg_{seq}`, signed with the vector's secret; its status.
async fn change(receiver: &Receiver, endpoint: &str, seq: u64) -> u16 {
    let id = format!("msg_{seq}");
    let response = deliver(receiver, endpoint, &id, &event(seq), &[VECTOR_SECRET]).await;
    response.unwrap().status().as_u16()
}

async fn started() -> Receiver {
    let receiver = Receiver::start().await.unwrap();
    receiver.trust("e", VECTOR_SECRET).unwrap();
    receiver
}

#[test]
fn the_reference_implementation_signs_the_spec_test_vector() {
    let webhook = Webhook::new(VECTOR_SECRET).unwrap();
    let signature = webhook.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY.as_bytes());
    assert_eq!(signature.unwrap(), VECTOR_SIGNATURE);
}

#[tokio::test]
async fn the_test_vector_sent_as_it_is_is_refused_as_too_old_and_verifies_when_fresh() {
    let receiver = started().await;
    let response = client()
        .post(receiver.url("e"))
        .header("webhook-id", VECTOR_ID)
        .header("webhook-timestamp", VECTOR_TIMESTAMP.to_string())
        .header("webhook-signature", VECTOR_SIGNATURE)
        .body(VECTOR_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let failures = receiver.summary("e").signature_failures;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("too old"), "{failures:?}");

    deliver(&receiver, "f", VECTOR_ID, VECTOR_BODY, &[VECTOR_SECRET])
        .await
        .unwrap();
    receiver.trust("f", VECTOR_SECRET).unwrap();
    let arrival = &receiver.arrivals("f")[0];
    assert_eq!(arrival.verified_by, [VECTOR_SECRET]);
    assert!(receiver.summary("f").signature_failures.is_empty());
}

#[tokio::test]
async fn a_signature_verifies_only_with_the_secret_and_the_body_it_was_made_with() {
    let receiver = started().await;
    deliver(&receiver, "e", "msg_1", &event(1), &[VECTOR_SECRET])
        .await
        .unwrap();
    deliver(&receiver, "e", "msg_2", &event(2), &[OTHER_SECRET])
        .await
        .unwrap();
    // Signed over one body, sent with another.
    let timestamp = now();
    let signature = Webhook::new(VECTOR_SECRET)
        .unwrap()
        .sign("msg_3", timestamp, event(3).as_bytes())
        .unwrap();
    client()
        .post(receiver.url("e"))
        .header("webhook-id", "msg_3")
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(event(4))
        .send()
        .await
        .unwrap();
    let summary = receiver.summary("e");
    assert_eq!(summary.delivered.len(), 3);
    let failures = &summary.signature_failures;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].starts_with("msg_2 "), "{failures:?}");
    assert!(failures[1].starts_with("msg_3 "), "{failures:?}");
    assert!(failures.iter().all(|f| f.contains("signature invalid")));
}

#[tokio::test]
async fn a_rotation_s_two_signatures_verify_with_either_secret() {
    let receiver = started().await;
    deliver(
        &receiver,
        "e",
        "msg_1",
        &event(1),
        &[OTHER_SECRET, VECTOR_SECRET],
    )
    .await
    .unwrap();
    receiver.trust("e", OTHER_SECRET).unwrap();
    let arrival = &receiver.arrivals("e")[0];
    assert_eq!(arrival.signatures().len(), 2);
    assert_eq!(arrival.verified_by, [VECTOR_SECRET, OTHER_SECRET]);
    assert_eq!(arrival.verify_with(OTHER_SECRET), Ok(()));
    let unknown = "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldCB1c2Vk";
    assert!(arrival.verify_with(unknown).is_err());
}

#[tokio::test]
async fn it_fails_the_next_requests_then_answers_200() {
    let receiver = started().await;
    receiver.fail_next(2, Fault::Status(503));
    let mut statuses = vec![change(&receiver, "e", 1).await];
    assert_eq!(
        receiver.summary("e").acknowledged(),
        0,
        "arrived, not acknowledged"
    );
    statuses.push(change(&receiver, "e", 1).await);
    statuses.push(change(&receiver, "e", 1).await);
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(receiver.summary("e").acknowledged(), 1);
    let summary = receiver.summary("e");
    assert_eq!((summary.arrivals, summary.duplicates), (3, 2));
    assert_eq!(summary.seqs(), [1]);
    assert!(summary.breaches().is_empty(), "{:?}", summary.breaches());
}

#[tokio::test]
async fn it_fails_until_healed() {
    let receiver = started().await;
    receiver.fail_until_healed(Fault::Status(500));
    for _ in 0..3 {
        assert_eq!(change(&receiver, "e", 1).await, 500);
    }
    receiver.heal();
    assert_eq!(change(&receiver, "e", 1).await, 200);
}

#[tokio::test]
async fn it_fails_every_nth_request_with_each_fault_in_turn() {
    let receiver = started().await;
    receiver.fail_every(
        2,
        Duration::ZERO,
        vec![Fault::Status(500), Fault::Status(503)],
    );
    let mut statuses = Vec::new();
    for seq in 1..=6 {
        statuses.push(change(&receiver, "e", seq).await);
    }
    assert_eq!(statuses, [200, 500, 200, 503, 200, 500]);
    receiver.heal();
    assert_eq!(change(&receiver, "e", 7).await, 200);
    assert_eq!(change(&receiver, "e", 8).await, 200);
}

#[tokio::test]
async fn it_fails_no_more_often_than_its_spacing_allows() {
    let receiver = started().await;
    let spacing = Duration::from_millis(400);
    receiver.fail_every(2, spacing, vec![Fault::Status(500)]);
    let mut statuses = Vec::new();
    for seq in 1..=6 {
        statuses.push(change(&receiver, "e", seq).await);
    }
    // The first failure comes at the second request; the next waits for the spacing.
    assert_eq!(statuses, [200, 500, 200, 200, 200, 200]);
    tokio::time::sleep(spacing).await;
    assert_eq!(change(&receiver, "e", 7).await, 500);
    assert_eq!(change(&receiver, "e", 8).await, 200);
}

#[tokio::test]
async fn it_asks_for_a_pause_in_seconds_or_until_a_date() {
    let receiver = started().await;
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    receiver.fail_next(1, Fault::RetryAfter(429, RetryAfter::Seconds(7)));
    receiver.fail_next(1, Fault::RetryAfter(503, RetryAfter::Date(date)));
    for (status, after) in [(429, "7"), (503, "Sun, 17 Mar 2030 17:46:40 GMT")] {
        let response = deliver(&receiver, "e", "msg_1", &event(1), &[VECTOR_SECRET]).await;
        let response = response.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["retry-after"], after);
    }
}

#[tokio::test]
async fn it_closes_the_connection_without_an_answer() {
    let receiver = started().await;
    receiver.fail_next(1, Fault::Close);
    let failed = deliver(&receiver, "e", "msg_1", &event(1), &[VECTOR_SECRET]).await;
    let error = failed.expect_err("no answer");
    assert!(!error.is_timeout(), "{error}");
    let arrival = &receiver.arrivals("e")[0];
    assert_eq!(arrival.answer.map(|answer| answer.status), Some(None));
    assert_eq!(change(&receiver, "e", 1).await, 200);
}

#[tokio::test]
async fn it_redirects_elsewhere_on_itself() {
    let receiver = started().await;
    receiver.fail_next(1, Fault::Redirect(307));
    let response = deliver(&receiver, "e", "msg_1", &event(1), &[VECTOR_SECRET]).await;
    let response = response.unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], "/e/moved");
    assert!(receiver.arrivals("e/moved").is_empty());
}

#[tokio::test]
async fn a_delayed_answer_comes_after_the_sender_gave_up() {
    let receiver = started().await;
    receiver.fail_next(1, Fault::Delay(Duration::from_millis(500)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = impatient
        .post(receiver.url("e"))
        .body(event(1))
        .send()
        .await;
    assert!(error.unwrap_err().is_timeout());
    // The sender's hang-up cuts the request short, or it answers late: either way not
    // within the sender's patience.
    assert!(
        receiver
            .wait_until("e", Duration::from_secs(5), |s| s.arrivals == 1)
            .await
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let arrival = &receiver.arrivals("e")[0];
    let answer = arrival.answer.expect("answered or cut by now");
    assert!(answer.status.is_none() || answer.at >= arrival.at + Duration::from_millis(500));
}

#[tokio::test]
async fn down_refuses_and_cuts_connections_and_up_serves_the_same_port() {
    let receiver = started().await;
    let kept_alive = client();
    let send = |n: u64| {
        kept_alive
            .post(receiver.url("e"))
            .header("webhook-id", format!("msg_{n}"))
            .body(event(n))
            .send()
    };
    assert_eq!(send(1).await.unwrap().status(), 200);
    receiver.down().await;
    // Both a new connection and the one kept alive fail.
    assert!(change_fails(&receiver).await);
    assert!(send(2).await.is_err());
    receiver.up().await.unwrap();
    assert_eq!(send(2).await.unwrap().status(), 200);
    assert_eq!(receiver.summary("e").seqs(), [1, 2]);
}

async fn change_fails(receiver: &Receiver) -> bool {
    deliver(receiver, "e", "msg_9", &event(9), &[VECTOR_SECRET])
        .await
        .is_err()
}

#[tokio::test]
async fn a_change_after_a_later_one_or_before_an_answer_of_2xx_is_out_of_order() {
    let in_order = started().await;
    // A repeat of changes already acknowledged, after later ones, is a replay.
    for seq in [1, 2, 2, 3, 4, 2, 3, 4, 5] {
        change(&in_order, "e", seq).await;
    }
    let summary = in_order.summary("e");
    assert!(
        summary.out_of_order.is_empty(),
        "{:?}",
        summary.out_of_order
    );
    assert_eq!(
        (summary.seqs(), summary.duplicates),
        (vec![1, 2, 3, 4, 5], 4)
    );

    let regressed = started().await;
    for seq in [1, 3, 2] {
        change(&regressed, "e", seq).await;
    }
    let summary = regressed.summary("e");
    assert_eq!(summary.out_of_order.len(), 1, "{:?}", summary.out_of_order);
    assert!(summary.out_of_order[0].contains("seq 2 first arrived after seq 3"));

    let premature = started().await;
    premature.fail_next(1, Fault::Status(503));
    for seq in [1, 2] {
        change(&premature, "e", seq).await;
    }
    let summary = premature.summary("e");
    assert_eq!(summary.seqs(), [1, 2]);
    assert_eq!(summary.out_of_order.len(), 1, "{:?}", summary.out_of_order);
    assert!(summary.out_of_order[0].contains("before seq 1 had been answered with a 2xx"));
}

#[tokio::test]
async fn two_changes_in_flight_at_once_overlap_and_a_test_event_beside_one_does_not() {
    let receiver = started().await;
    receiver.hold(Duration::from_millis(300));
    let test = json!({ "type": "webhook.test", "timestamp": "x", "data": {} }).to_string();
    let (a, b, c) = tokio::join!(
        change(&receiver, "e", 1),
        change(&receiver, "e", 2),
        async {
            deliver(&receiver, "e", "msg_test_1", &test, &[VECTOR_SECRET])
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    );
    assert_eq!([a, b, c], [200; 3]);
    let summary = receiver.summary("e");
    assert_eq!(summary.overlaps.len(), 1, "{:?}", summary.overlaps);
}

#[tokio::test]
async fn a_change_after_the_one_before_was_answered_or_cut_does_not_overlap() {
    let receiver = started().await;
    receiver.trust("f", VECTOR_SECRET).unwrap();
    receiver.hold(Duration::from_millis(300));
    // One change in flight on each of two endpoints at once.
    let (a, b) = tokio::join!(change(&receiver, "e", 1), change(&receiver, "f", 1));
    assert_eq!([a, b], [200; 2]);
    receiver.fail_next(1, Fault::Close);
    let cut = deliver(&receiver, "e", "msg_2", &event(2), &[VECTOR_SECRET]).await;
    cut.expect_err("no answer");
    assert_eq!(change(&receiver, "e", 2).await, 200);
    assert_eq!(change(&receiver, "e", 3).await, 200);
    for endpoint in ["e", "f"] {
        let summary = receiver.summary(endpoint);
        assert!(
            summary.overlaps.is_empty(),
            "{endpoint}: {:?}",
            summary.overlaps
        );
    }
}

#[tokio::test]
async fn a_forgotten_endpoint_keeps_nothing() {
    let receiver = started().await;
    receiver.trust("f", VECTOR_SECRET).unwrap();
    assert_eq!(change(&receiver, "e", 1).await, 200);
    assert_eq!(change(&receiver, "f", 1).await, 200);
    assert_eq!(receiver.endpoints(), ["e", "f"]);
    receiver.forget("e");
    assert!(receiver.arrivals("e").is_empty());
    assert_eq!(receiver.summary("e").arrivals, 0);
    assert_eq!(receiver.endpoints(), ["f"]);
    assert_eq!(receiver.summary("f").seqs(), [1]);
}

#[tokio::test]
async fn a_repeat_with_another_body_conflicts() {
    let receiver = started().await;
    deliver(&receiver, "e", "msg_1", &event(1), &[VECTOR_SECRET])
        .await
        .unwrap();
    deliver(&receiver, "e", "msg_1", &event(5), &[VECTOR_SECRET])
        .await
        .unwrap();
    let summary = receiver.summary("e");
    assert_eq!(summary.conflicts.len(), 1);
    assert_eq!(summary.delivered.len(), 1);
}
