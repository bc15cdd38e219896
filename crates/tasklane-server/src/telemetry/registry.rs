//! One application's metrics, rendered in the Prometheus text format.
//!
//! A [`Registry`] owns a Prometheus recorder of its own (never installed as the
//! process's global one, see the module above). Subsystems register their counters,
//! gauges and histograms here once and keep the handles; incrementing one is an atomic
//! add. What is cheaper to read when scraped than to keep up to date (pool sizes, cache
//! entries, process figures) is read by a sampler registered with
//! [`Registry::on_scrape`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use metrics::{Counter, Gauge, Histogram, IntoLabels, Key, KeyName, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds of every histogram's buckets, in seconds: durations from half a
/// millisecond (a cached read) to half a minute (the longest a request may take by
/// default).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histograms' recent samples are folded into their buckets between scrapes,
/// so that an instance nobody scrapes keeps bounded memory.
pub const UPKEEP: Duration = Duration::from_secs(5);

/// Where registrations say they come from (the recorder ignores it).
static METADATA: Metadata<'static> =
    Metadata::new("tasklane", metrics::Level::INFO, Some(module_path!()));

type Sampler = Box<dyn Fn() + Send + Sync>;

/// One application's metrics.
pub struct Registry {
    /// Whether handles count (see [`Registry::disabled`]).
    enabled: bool,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    samplers: Mutex<Vec<Sampler>>,
    process: metrics_process::Collector,
}

impl Registry {
    /// An empty registry, with the process's own figures (CPU, memory, descriptors).
    pub fn new() -> Arc<Self> {
        Self::build(true)
    }

    /// A registry whose handles count nothing and that renders nothing: the same code
    /// paths at the cost of a no-op, for benchmarks to measure what metrics cost.
    pub fn disabled() -> Arc<Self> {
        Self::build(false)
    }

    /// Whether this registry's handles count.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn build(enabled: bool) -> Arc<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(&recorder, || process.describe());
        Arc::new(Registry {
            enabled,
            recorder,
            handle,
            samplers: Mutex::new(Vec::new()),
            process,
        })
    }

    /// The counter `name` with `labels`, described by `help`.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: impl IntoLabels,
    ) -> Counter {
        if !self.enabled {
            return Counter::noop();
        }
        self.recorder
            .describe_counter(KeyName::from_const_str(name), None, help.into());
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// The gauge `name` with `labels`, described by `help`.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: impl IntoLabels) -> Gauge {
        if !self.enabled {
            return Gauge::noop();
        }
        self.recorder
            .describe_gauge(KeyName::from_const_str(name), None, help.into());
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    /// The histogram `name` with `labels` (durations, in seconds), described by `help`.
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: impl IntoLabels,
    ) -> Histogram {
        if !self.enabled {
            return Histogram::noop();
        }
        self.recorder
            .describe_histogram(KeyName::from_const_str(name), None, help.into());
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// Runs `sampler` before each scrape, to set the gauges it owns.
    pub fn on_scrape(&self, sampler: impl Fn() + Send + Sync + 'static) {
        self.samplers
            .lock()
            .expect("not poisoned")
            .push(Box::new(sampler));
    }

    /// Every metric, in the Prometheus text format.
    pub fn render(&self) -> String {
        if !self.enabled {
            return String::new();
        }
        for sampler in self.samplers.lock().expect("not poisoned").iter() {
            sampler();
        }
        metrics::with_local_recorder(&self.recorder, || self.process.collect());
        self.handle.render()
    }

    /// Folds histograms' recent samples into their buckets (see [`UPKEEP`]).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// A status code's class, as the `status` label spells it.
pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
