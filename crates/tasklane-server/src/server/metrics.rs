//! Connections as metrics: how many are open, how many were accepted, and how often
//! the cap held new ones back.

use metrics::{Counter, Gauge};

use crate::telemetry::Registry;

/// The server's connection handles.
#[derive(Clone)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub(super) open: Gauge,
    /// Connections accepted since start.
    pub(super) accepted: Counter,
    /// Times every connection was taken, so new ones waited in the listen backlog.
    pub(super) waits_at_cap: Counter,
    /// The cap.
    pub(super) max: Gauge,
}

impl ConnectionMetrics {
    /// Registers the connection metrics of the listener named `listener` in `registry`.
    pub fn register(registry: &Registry, listener: &'static str) -> Self {
        let labels = [("listener", listener)];
        ConnectionMetrics {
            open: registry.gauge("tasklane_http_connections_open", "Connections open", &labels),
            accepted: registry.counter(
                "tasklane_http_connections_accepted_total",
                "Connections accepted",
                &labels,
            ),
            waits_at_cap: registry.counter(
                "tasklane_http_connections_at_cap_total",
                "Times every connection was taken and new ones were left waiting (see --max-connections)",
                &labels,
            ),
            max: registry.gauge(
                "tasklane_http_connections_max",
                "Most connections open at once (--max-connections, within the descriptor limit)",
                &labels,
            ),
        }
    }
}
