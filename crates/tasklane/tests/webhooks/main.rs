//! Webhooks, delivered by real `tasklane serve` processes to a receiver that records
//! and verifies every request and can be told to fail (`tasklane_check::receiver`):
//! the resource and its validation, every change in order with its state, failures of
//! every kind survived in order, `Retry-After`, redirects, disabling and resuming,
//! pausing, moving, rotating secrets, test events, the attempts list, the guard
//! against private targets, one sender per endpoint across instances killed or
//! competing, and what `/metrics` shows of it.
//!
//! A test binary of its own: its servers are processes (some are killed), and
//! several tests wait out retries and leases.

#[path = "../common/mod.rs"]
mod common;
mod crud;
mod delivery;
mod faults;
#[allow(dead_code)] // the API suite's helpers; this suite uses a few of them
#[path = "../api/helpers.rs"]
mod helpers;
mod instances;
mod lifecycle;
mod metrics;
#[allow(dead_code)] // the API suite's scrapes; this suite reads part of them
#[path = "../api/scrape.rs"]
mod scrape;
mod ssrf;
mod support;
