//! The change feed as `/metrics` shows it: streams open, the workspaces followed, the
//! events sent, what woke the followers, and how late changes went out.

use std::time::Duration;

use crate::helpers::{TestApp, spawn_app_with};
use crate::scrape::{Metrics, scrape};
use crate::support::subscribe;

/// Scrapes `app` until `until` holds of the scrape (a bounded wait for the server to
/// notice something), and returns that scrape.
async fn scrape_until(app: &TestApp, until: impl Fn(&Metrics) -> bool) -> Metrics {
    for _ in 0..100 {
        let metrics = scrape(app).await;
        if until(&metrics) {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the metrics never showed what was awaited");
}

#[tokio::test]
async fn the_feed_metrics_count_streams_events_and_wake_ups() {
    // No poll within the test: only a wake-up makes the follower read. A heartbeat a
    // second, so that the server finds a closed stream soon.
    let app = spawn_app_with(|args| {
        args.feed_poll_ms = 60_000;
        args.stream_heartbeat_secs = 1;
    })
    .await;
    let start = scrape(&app).await;
    let mut stream = subscribe(&app, "").await;
    app.create_titled("one").await;
    stream.event().await;
    let before = scrape_until(&app, |m| m.get("tasklane_feed_followers", &[]) == 1.0).await;
    assert_eq!(before.get("tasklane_feed_subscribers", &[]), 1.0);

    app.create_titled("two").await;
    stream.event().await;
    let after = scrape(&app).await;
    let sent = "tasklane_feed_events_sent_total";
    assert_eq!(after.moved(&start, sent, &[]), 2.0);
    // The second write woke the follower, which broadcast its change (through this
    // instance, and through PostgreSQL or Redis too when the run has them): none was a
    // poll.
    let wakeups = "tasklane_feed_wakeups_total";
    let woken = after.moved(&before, wakeups, &[("source", "notify")]);
    assert!(woken >= 1.0, "{woken}");
    assert_eq!(after.moved(&start, wakeups, &[("source", "poll")]), 0.0);
    let local = [("source", "local")];
    assert!(after.moved(&start, "tasklane_feed_notifications_total", &local) >= 1.0);
    let delay = "tasklane_feed_delivery_delay_seconds_count";
    assert!(after.moved(&before, delay, &[]) >= 1.0);

    drop(stream);
    scrape_until(&app, |m| m.get("tasklane_feed_subscribers", &[]) == 0.0).await;
}
