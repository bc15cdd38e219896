//! What an operator sees: structured logs (`logs.rs`, set up once per process) and
//! metrics (`registry.rs`, one [`Registry`] per [`Application`](crate::startup::Application)).
//!
//! Metrics are kept per application rather than in the `metrics` crate's global
//! recorder: a process (the integration tests, above all) may run several servers, and
//! each one's `/metrics` must count its own traffic only. So nothing here uses the
//! `metrics` macros. Each subsystem registers its handles once, at construction, in a
//! small struct of its own beside its code (`cache/metrics.rs`, `feed/metrics.rs`, ...):
//! the hot path only increments handles it already holds. A new subsystem adds such a
//! struct and one line in `startup.rs`.

mod logs;
mod registry;

pub use logs::{LogFormat, init};
pub use registry::{Registry, UPKEEP, status_class};
