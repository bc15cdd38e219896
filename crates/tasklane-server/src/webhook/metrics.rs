//! Webhook metrics: senders running, attempts by result and their duration, webhooks
//! disabled, and how long after its write a change is delivered (the webhooks' lag).
//! Aggregated over the instance's webhooks: each webhook's own state and attempts are
//! in `GET /v1/webhooks/{id}/deliveries`.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::domain::Timestamp;
use crate::telemetry::Registry;

/// The webhooks' handles.
pub(super) struct WebhookMetrics {
    pub(super) senders: Gauge,
    delivered: Counter,
    failed: Counter,
    pub(super) disabled: Counter,
    attempt: Histogram,
    delay: Histogram,
}

impl WebhookMetrics {
    /// Registers the webhooks' metrics in `registry`.
    pub(super) fn register(registry: &Registry) -> Self {
        let none: &[(&str, &str)] = &[];
        let attempts = |result: &'static str| {
            registry.counter(
                "tasklane_webhook_attempts_total",
                "Delivery attempts, by result: delivered (a 2xx) or failed",
                &[("result", result)],
            )
        };
        WebhookMetrics {
            senders: registry.gauge(
                "tasklane_webhook_senders",
                "Webhooks this instance delivers to (holds the lease of)",
                none,
            ),
            delivered: attempts("delivered"),
            failed: attempts("failed"),
            disabled: registry.counter(
                "tasklane_webhook_disabled_total",
                "Webhooks this instance disabled after every attempt at a change failed",
                none,
            ),
            attempt: registry.histogram(
                "tasklane_webhook_attempt_duration_seconds",
                "Time from sending a delivery to the end of the receiver's answer",
                none,
            ),
            delay: registry.histogram(
                "tasklane_webhook_delivery_delay_seconds",
                "Time from a change's write to its delivery (a 2xx): the webhooks' lag",
                none,
            ),
        }
    }

    /// An attempt that took `latency_ms` ended; `written` is the delivered change's
    /// commit time, if it was delivered.
    pub(super) fn attempted(&self, latency_ms: f64, written: Option<Timestamp>) {
        self.attempt.record(latency_ms / 1000.0);
        match written {
            Some(at) => {
                self.delivered.increment(1);
                let micros = Timestamp::now().as_micros().saturating_sub(at.as_micros());
                self.delay
                    .record(Duration::from_micros(u64::try_from(micros).unwrap_or(0)));
            }
            None => self.failed.increment(1),
        }
    }
}
