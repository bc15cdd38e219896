//! The Tasklane server: a task-management API whose cache can never serve a stale task
//! list. The `tasklane` binary (crate `tasklane`) runs it with `tasklane serve`;
//! `tasklane check` (crate `tasklane-check`) judges it from outside.
//!
//! A request walks these modules, in this order:
//!
//! - [`http`]: the axum router, one router per resource with a handler per route and
//!   its part of the OpenAPI document, problem-details errors. Handlers parse requests
//!   into domain types and nothing else.
//! - [`domain`]: tasks, their validated inputs, list queries and pages. Pure data.
//! - [`cache`]: the generation-keyed read-through cache, the one place where freshness
//!   is decided (in process, and shared through Redis); its module documentation is the
//!   correctness argument.
//! - [`store`]: durable storage behind the [`store::Store`] trait: one SQL
//!   implementation for SQLite and PostgreSQL.
//!
//! Beside the read path, [`feed`] reads each workspace's change log (appended by every
//! write in its own transaction) for `/v1/changes` and the event stream, advancing the
//! cache's generation before it hands a change out; [`webhook`] sends each change to the
//! endpoints that asked for it, following the same log through the feed.
//!
//! Around them: [`config`] (`tasklane serve`'s options and the defaults they imply),
//! [`startup`] (building and running the server), [`server`] (connections: their cap
//! and timeouts), [`shutdown`] (SIGINT/SIGTERM), [`telemetry`] (logs, and each application's metrics) and
//! [`errors`] (an error that stops a command, said once).

pub mod cache;
pub mod config;
pub mod domain;
pub mod errors;
pub mod feed;
pub mod http;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhook;
