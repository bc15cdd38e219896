//! Calls to Redis as metrics: how long each kind of call takes, and how calls fail.

use std::time::Instant;

use metrics::{Counter, Histogram};
use redis::RedisError;

use crate::telemetry::Registry;

/// What a call to Redis does, as the `call` label spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Lookup,
    Announce,
    Advance,
    Withdraw,
    Fill,
    Get,
    Put,
    Publish,
    Ping,
}

impl Call {
    const ALL: [Call; 9] = [
        Call::Lookup,
        Call::Announce,
        Call::Advance,
        Call::Withdraw,
        Call::Fill,
        Call::Get,
        Call::Put,
        Call::Publish,
        Call::Ping,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Call::Lookup => "lookup",
            Call::Announce => "announce",
            Call::Advance => "advance",
            Call::Withdraw => "withdraw",
            Call::Fill => "fill",
            Call::Get => "get",
            Call::Put => "put",
            Call::Publish => "publish",
            Call::Ping => "ping",
        }
    }
}

/// How a call failed, as the `kind` label spells it.
const KINDS: [&str; 4] = ["timeout", "connection", "response", "other"];

fn kind(error: &RedisError) -> usize {
    if error.is_timeout() {
        0
    } else if error.is_connection_dropped() || error.is_connection_refusal() || error.is_io_error()
    {
        1
    } else if matches!(
        error.kind(),
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType
    ) {
        2
    } else {
        3
    }
}

/// The tier's handles.
pub(super) struct RedisMetrics {
    durations: [Histogram; 9],
    errors: [Counter; 4],
}

impl RedisMetrics {
    /// Registers the tier's metrics in `registry`.
    pub(super) fn register(registry: &Registry) -> Self {
        RedisMetrics {
            durations: Call::ALL.map(|call| {
                registry.histogram(
                    "tasklane_redis_call_duration_seconds",
                    "Time a call to Redis took (a failed one too), by call",
                    &[("call", call.as_str())],
                )
            }),
            errors: KINDS.map(|kind| {
                registry.counter(
                    "tasklane_redis_errors_total",
                    "Calls to Redis that failed, by kind",
                    &[("kind", kind)],
                )
            }),
        }
    }

    /// Awaits `call`, timing it and counting its failure.
    pub(super) async fn measure<T>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisError> {
        let started = Instant::now();
        let outcome = run.await;
        self.durations[call as usize].record(started.elapsed());
        if let Err(error) = &outcome {
            self.errors[kind(error)].increment(1);
        }
        outcome
    }
}
