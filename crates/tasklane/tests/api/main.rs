//! The HTTP API, exercised through a real server on a random port: every endpoint,
//! every filter, both kinds of pagination, ETags and every class of client error.

mod auth;
mod before_commit;
mod changes;
#[path = "../common/mod.rs"]
mod common;
mod conditional;
mod cors;
mod counts;
mod damaged;
mod errors;
mod first_run;
mod helpers;
mod hostile;
mod idempotency;
mod lifecycle;
mod list;
mod logs;
mod metrics;
mod outage;
mod scale_out;
mod scrape;
mod seed;
mod shared_file;
mod tasks;
mod time_limits;
mod ui;
