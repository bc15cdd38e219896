//! Durable storage of tasks behind one trait, so the HTTP layer and the cache never know
//! which database they run on.
//!
//! A store answers exactly the queries the domain defines and enforces optimistic
//! concurrency atomically (a version precondition is checked inside the write's
//! transaction, never before it). Every write transaction also advances its workspace's
//! generation row, which strict consistency reads (see [`crate::cache`]).
//!
//! What reaches a store is bounded, and what it keeps can be read back: a task is
//! written only after it has been read back from the very row and body it would become
//! (so no write can leave a task that later reads fail on), a row that still does not
//! read back (edited by hand, or left by an older version) fails only the reads of that
//! one task, and a server's store has the database stop work that runs past the
//! request timeout (every statement on PostgreSQL, every list on SQLite, where nothing
//! else grows with the data), so that no request can hold a connection for longer.
//!
//! In the schema, the column `scope` (and the table `scope_generations`) holds a
//! workspace's name: the tables predate the word. Renaming a column would stop a
//! rolled-back binary from reading its own database, which no word is worth.

mod bulk;
mod counts;
#[cfg(feature = "baselines")]
mod hooked;
mod log;
mod measured;
mod open;
mod pool;
mod postgres;
mod row;
mod sql;
mod sqlite;
mod tokens;
mod url;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    Change, ChangeLog, CursorKey, ListQuery, StatusSet, StoredPage, Task, TaskAt, TaskId,
    TaskPatch, Timestamp, UnreadableTask, Workspace,
};

pub use bulk::{BulkLoad, Present};
#[cfg(feature = "baselines")]
pub use hooked::{Hooked, Hooks, ReadDelay, Write};
pub use measured::Measured;
pub use open::{OpenError, Opening, Storage};
pub use postgres::PostgresStore;
pub use row::storable;
pub use sql::SqlStore;
pub use sqlite::SqliteStore;
pub use tokens::{TokenStore, issue};
pub use url::{Backend, DatabaseUrl};
pub use webhooks::{
    EndpointChange, KEPT_ATTEMPTS, NewEndpoint, Progress, Report, Rotation, StoredWebhook,
    WebhookStore,
};

/// What a write requires of the task's current version (from `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match`: apply whatever the version.
    #[default]
    None,
    /// `If-Match: *`: the task must exist (it always must).
    Exists,
    /// `If-Match: "3", "4"`: the current version must be one of these.
    VersionIn(Vec<i64>),
}

impl Precondition {
    /// Whether a task at `version` may be written.
    fn check(&self, version: i64) -> Result<(), StoreError> {
        match self {
            Precondition::VersionIn(versions) if !versions.contains(&version) => {
                Err(StoreError::VersionMismatch { current: version })
            }
            _ => Ok(()),
        }
    }
}

/// An `Idempotency-Key` and the fingerprint of the request it came with.
///
/// The first successful write under a key is recorded in the write's own transaction; for
/// [`Idempotency::LIFETIME_MICROS`] (24 hours) afterwards, the same request under the same
/// key is answered with that first result instead of being applied again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's key.
    pub key: String,
    /// What the request was (method, path, preconditions, body), hashed.
    pub fingerprint: String,
}

impl Idempotency {
    /// How long a key is remembered.
    pub const LIFETIME_MICROS: i64 = 24 * 60 * 60 * 1_000_000;
}

/// Why a store operation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No task with that id in that workspace.
    #[error("no such task")]
    NotFound,
    /// The task exists but its version failed the write's precondition.
    #[error("the task is at version {current}")]
    VersionMismatch {
        /// The task's version when the write was refused.
        current: i64,
    },
    /// A restore found the task present: there is nothing to restore.
    #[error("the task exists")]
    TaskExists,
    /// The `Idempotency-Key` was first used for a different request.
    #[error("the Idempotency-Key was used for a different request")]
    IdempotencyMismatch,
    /// A concurrent transaction wrote the same unique key first (for keyed writes: a
    /// concurrent request with the same `Idempotency-Key`).
    #[error("a concurrent request wrote the same key")]
    Conflict,
    /// The database could not be reached in time (pool exhausted, I/O, locked).
    #[error("the database is unavailable: {0}")]
    Unavailable(Arc<sqlx::Error>),
    /// A statement ran past the store's time limit and the database stopped it.
    #[error("the database stopped a statement at the time limit: {0}")]
    TimedOut(Arc<sqlx::Error>),
    /// The database reports its own data damaged (a corrupt SQLite file, a corrupt
    /// PostgreSQL page or index): no retry helps until an operator restores it.
    #[error("the database is damaged: {0}")]
    Damaged(Arc<sqlx::Error>),
    /// The stored task does not read back as a valid task.
    #[error(transparent)]
    Unreadable(UnreadableTask),
    /// The task would not read back as written, so it was not written.
    #[error("not written: {0}")]
    Unstorable(UnreadableTask),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let wrap = match classify(&error) {
            Fault::Conflict => return StoreError::Conflict,
            Fault::Unavailable => StoreError::Unavailable,
            Fault::TimedOut => StoreError::TimedOut,
            Fault::Damaged => StoreError::Damaged,
            Fault::Other => StoreError::Database,
        };
        wrap(Arc::new(error))
    }
}

/// What a database error means for the request that met it.
enum Fault {
    /// A unique key was taken first.
    Conflict,
    /// The database cannot serve right now; retry: no connection, a connection lost, a
    /// server shutting down or out of connections, SQLite's lock wait expired.
    Unavailable,
    /// The statement ran past the time limit (PostgreSQL's `statement_timeout`,
    /// SQLite's progress handler).
    TimedOut,
    /// The database's own data is damaged.
    Damaged,
    /// A fault in the statement.
    Other,
}

fn classify(error: &sqlx::Error) -> Fault {
    let db = match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            return Fault::Unavailable;
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => return Fault::Conflict,
        sqlx::Error::Database(db) => db,
        _ => return Fault::Other,
    };
    let code = db.code().unwrap_or_default();
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes; the primary code is the low byte. SQLITE_BUSY (5),
        // SQLITE_INTERRUPT (9), SQLITE_CORRUPT (11), SQLITE_NOTADB (26).
        match code.parse::<i32>().map_or(0, |code| code & 0xff) {
            5 => Fault::Unavailable,
            9 => Fault::TimedOut,
            11 | 26 => Fault::Damaged,
            _ => Fault::Other,
        }
    } else if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
        // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutting down,
        // crashed, cannot connect now), 53300 (too many connections).
        Fault::Unavailable
    } else if code == "57014" {
        // query_canceled: `statement_timeout` (nothing else here cancels statements).
        Fault::TimedOut
    } else if code == "XX001" || code == "XX002" {
        // data_corrupted, index_corrupted.
        Fault::Damaged
    } else {
        Fault::Other
    }
}

/// How one connection pool is used, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// Which pool: `shared`, or `writer` and `readers` where they are apart.
    pub name: &'static str,
    /// Connections open.
    pub size: u32,
    /// Connections open and unused.
    pub idle: usize,
    /// Most connections it opens.
    pub max: u32,
}

/// What a write returns, and the statuses its task left or entered: the partitions of
/// the workspace's generation the write moves (see "Partitions by status" in
/// [`crate::cache`]).
#[derive(Debug, Clone)]
pub struct Written<T> {
    /// What the write returns.
    pub value: T,
    /// The task's status before the write, if it existed, and after it, if it still
    /// does; every status for a replay under an `Idempotency-Key`, whose first request's
    /// statuses are not kept. None only for a patch that changed nothing, which wrote
    /// nothing.
    pub touched: StatusSet,
}

/// A workspace's generation row: how many changes its log has had (0 before the first
/// write), which is also its latest `seq`, and, for each status in the order of
/// [`Status::ALL`](crate::domain::Status::ALL), the row's value after the last change
/// whose task left or entered that status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationCounters {
    /// The whole row.
    pub counter: u64,
    /// Its partitions by status.
    pub by_status: [u64; 4],
}

/// What a write tells the moment before it commits: from then on, readers may see it.
/// The cache announces in-process writes here (see "Monotonic reads" in
/// [`crate::cache`]), so that reads bypass the cache only while a write may be committed
/// and not yet advanced, not while it waits for the database's writer. A write may tell
/// it more than once (an attempt retried), or not at all if it commits nothing.
pub trait BeforeCommit: Sync {
    /// The write is about to commit.
    fn committing(&self);
}

/// Writes nobody needs to hear of before they commit.
impl BeforeCommit for () {
    fn committing(&self) {}
}

/// Durable task storage.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new task (already built by the domain, version 1) and returns it; under
    /// an `Idempotency-Key` already used for the same request, stores nothing and
    /// returns the task the first request created.
    async fn insert(
        &self,
        workspace: &Workspace,
        task: &Task,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError>;

    /// One task and the log position it reflects (the workspace's latest `seq`, read in
    /// the same snapshot), or `None`.
    async fn get(&self, workspace: &Workspace, id: TaskId) -> Result<Option<TaskAt>, StoreError>;

    /// Applies a merge patch in one transaction: load, check `expected`, apply, write.
    /// Returns the task as it now is (unchanged, at the same version, when the patch
    /// changed nothing); under an `Idempotency-Key` already used for the same request,
    /// applies nothing and returns what the first request returned.
    async fn update(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        patch: &TaskPatch,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError>;

    /// Deletes a task if `expected` allows.
    async fn delete(
        &self,
        workspace: &Workspace,
        id: TaskId,
        expected: &Precondition,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<()>, StoreError>;

    /// Brings a deleted task back from the state its delete's change kept, at the next
    /// version; [`StoreError::NotFound`] when the log keeps no delete as the task's last
    /// change, [`StoreError::TaskExists`] when it is not deleted. Keyed as `insert`.
    async fn restore(
        &self,
        workspace: &Workspace,
        id: TaskId,
        idempotency: Option<&Idempotency>,
        before_commit: &dyn BeforeCommit,
    ) -> Result<Written<Task>, StoreError>;

    /// Up to `limit` changes of the workspace after `since`, in order, with the log's head
    /// and the oldest change it keeps, read from one snapshot.
    async fn changes(
        &self,
        workspace: &Workspace,
        since: u64,
        limit: u32,
    ) -> Result<ChangeLog, StoreError>;

    /// Up to `limit` changes of one task (before `before`, if given), newest first.
    async fn history(
        &self,
        workspace: &Workspace,
        id: TaskId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError>;

    /// Forgets the changes committed before `cutoff`, and those more than `keep` behind
    /// their workspace's head, in small batches; how many were forgotten.
    async fn prune_changes(&self, cutoff: Timestamp, keep: u64) -> Result<u64, StoreError>;

    /// The workspace's generation row, with its partitions by status.
    async fn generation(&self, workspace: &Workspace) -> Result<GenerationCounters, StoreError>;

    /// Reads as a list does, cheaply: the first row of the task table through its
    /// primary index, so a database that answers but whose task table cannot be read
    /// (a damaged file) fails it too. For readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The key this database's cursors are signed with, the same for every instance
    /// that opens it.
    fn cursor_key(&self) -> &CursorKey;

    /// The epoch this database's generation rows count in: drawn when the database is
    /// created, and again for a restored copy (see `tasklane backup`).
    fn epoch(&self) -> u64;

    /// Waits for in-flight operations, then closes every connection.
    async fn close(&self);

    /// How the connection pools the store runs on are used right now.
    fn pools(&self) -> Vec<PoolUsage>;

    /// Measures, from now on, how long operations wait for the pools' connections, in
    /// `registry`.
    fn observe_pools(&self, registry: &crate::telemetry::Registry);

    /// Up to `query.limit + 1` matching rows in order from the query's position, and
    /// how many match in all, read from one snapshot. A row that does not read back as
    /// a task is returned as such, not as an error for the whole list.
    async fn list(
        &self,
        workspace: &Workspace,
        query: &ListQuery,
    ) -> Result<StoredPage, StoreError>;
}
