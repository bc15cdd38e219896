//! The change feed's event stream (`/v1/changes/stream`), followed by real clients
//! against real servers: every change once and in order, resumed across disconnections,
//! instance kills, database restarts, Redis flushes and restarts; `reset`, `lagged`,
//! heartbeats, revoked tokens, workspaces kept apart, and shutdown with streams open.
//!
//! A test binary of its own: streams stay open for seconds, and several tests start
//! `tasklane serve` processes or a PostgreSQL cluster of their own.

mod auth;
#[path = "../common/mod.rs"]
mod common;
mod delivery;
#[allow(dead_code)] // the API suite's helpers; this suite uses a few of them
#[path = "../api/helpers.rs"]
mod helpers;
mod hub;
mod instances;
mod lifetime;
mod metrics;
mod outages;
#[allow(dead_code)] // the API suite's scrapes; this suite reads part of them
#[path = "../api/scrape.rs"]
mod scrape;
mod slow;
mod sse;
mod support;
mod sync;
