//! Webhooks as `/metrics` shows them: the senders running, attempts by result, the
//! delay from a write to its delivery, and webhooks disabled.

use std::time::Duration;

use tasklane_check::receiver::Fault;

use crate::scrape::{Metrics, scrape};
use crate::support::{Hooked, await_hook, received};

/// Scrapes until `until` holds (the ledger and the senders settle within moments).
async fn scrape_until(hooked: &Hooked, until: impl Fn(&Metrics) -> bool) -> Metrics {
    for _ in 0..100 {
        let metrics = scrape(&hooked.app).await;
        if until(&metrics) {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the metrics never showed what was awaited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_metrics_count_senders_attempts_and_disabled_webhooks() {
    // Three attempts at a change, then the webhook is disabled (100 ms and 600 ms apart).
    let hooked = Hooked::start_with(&["--webhook-attempts", "3"]).await;
    let (app, receiver) = (&hooked.app, &hooked.receiver);
    let start = scrape(app).await;
    assert_eq!(start.get("tasklane_webhook_senders", &[]), 0.0);
    let hook = hooked.hook("counted", None).await;
    // Three changes, the first failing once: four attempts, three delivered.
    receiver.fail_next(1, Fault::Status(500));
    for n in 0..3 {
        app.create_titled(&format!("task {n}")).await;
    }
    received(receiver, "counted", 3).await;
    let delivered = [("result", "delivered")];
    let failed = [("result", "failed")];
    let metrics = scrape_until(&hooked, |m| {
        m.get("tasklane_webhook_attempts_total", &delivered) == 3.0
    })
    .await;
    assert_eq!(metrics.get("tasklane_webhook_attempts_total", &failed), 1.0);
    assert_eq!(metrics.get("tasklane_webhook_senders", &[]), 1.0);
    assert_eq!(
        metrics.get("tasklane_webhook_attempt_duration_seconds_count", &[]),
        4.0
    );
    assert_eq!(
        metrics.get("tasklane_webhook_delivery_delay_seconds_count", &[]),
        3.0
    );

    // Every attempt at the next change fails: the webhook is disabled, its sender gone.
    receiver.fail_next(100, Fault::Status(503));
    app.create_titled("refused").await;
    await_hook(app, &hook["id"], "disabled", |h| h["status"] == "disabled").await;
    let metrics = scrape_until(&hooked, |m| m.get("tasklane_webhook_senders", &[]) == 0.0).await;
    assert_eq!(metrics.get("tasklane_webhook_disabled_total", &[]), 1.0);
    assert_eq!(
        metrics.get("tasklane_webhook_attempts_total", &delivered),
        3.0
    );
}
