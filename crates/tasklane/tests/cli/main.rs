//! The terminal client and the admin commands around a workspace, driven as people
//! and scripts drive them: the real binary (`CARGO_BIN_EXE_tasklane`) against a real
//! `tasklane serve` on the test database (SQLite, or PostgreSQL with
//! `TASKLANE_TEST_STORE=postgres`).
//!
//! - `tasks.rs`: add, ls (table, `--json`, `--ndjson`, `--fields`, filters), show,
//!   edit, done, start, rm, restore; ids by prefix; exit statuses; login;
//! - `conflict.rs`: an edit decided on an old version is refused and shows what changed;
//! - `retry.rs`: a write whose answer is lost is sent again and applied once;
//! - `watch.rs`: `task watch` prints another client's change as it happens;
//! - `exchange.rs`: export, import (JSON lines and CSV) and their guarantees;
//! - `backup.rs`: a SQLite copy taken during writes, served, and restored safely;
//! - `tokens.rs`: `token list` and `token revoke`.

mod backup;
#[path = "../common/mod.rs"]
mod common;
mod conflict;
mod exchange;
#[allow(dead_code)] // the API suite's helpers; this suite uses a few of them
#[path = "../api/helpers.rs"]
mod helpers;
mod retry;
mod support;
mod tasks;
mod tokens;
mod watch;
