//! Freshness of the cache, proven against a real SQLite store: the incident's race
//! (`docs/incident.md`) replayed deterministically, single-flight, per-workspace
//! generations, the change feed's advance before it announces, and a concurrent
//! history checked for stale reads. Each property is also shown failing on a baseline
//! (the plain delete-on-write cache-aside, the feed that announces before it
//! advances), so the tests are known to be able to fail.

#[path = "../common/mod.rs"]
mod common;
mod faults;
mod feed;
mod monotonic;
mod partitions;
mod race;
mod stress;
mod support;
