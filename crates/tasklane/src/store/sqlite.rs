//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in-process
//! and a read-modify-write transaction can never fail to upgrade its lock (no row lock
//! is needed); reads use a separate pool of read-only connections that WAL lets run
//! beside the writer. A SQLite transaction reads one snapshot, so a list's page and its
//! total always agree.
//!
//! SQLite has no statement timeout. A server's store gives each use of a connection a
//! deadline instead: when the pool hands a connection out, a progress handler is set
//! that interrupts whatever runs on it past the limit (`SQLITE_INTERRUPT`, a `503`),
//! and it is removed when the connection comes back. So a request holds a connection
//! for at most the limit, however many statements it runs.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};

use super::sql::{Dialect, SqlStore, cursor_key, runner};

runner!(Sqlite);

/// Tasks in a SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

/// Longest wait for another connection's lock (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Virtual machine steps between two looks at the clock: often enough to stop within a
/// millisecond or so of the deadline, rarely enough to cost nothing measurable.
const STEPS_PER_CHECK: i32 = 10_000;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database at `url` (`sqlite://tasklane.db`,
    /// `sqlite:///var/lib/tasklane.db`) and applies the embedded migrations. With a
    /// `limit`, whatever runs on a connection longer than that after the pool handed
    /// it out is interrupted.
    pub async fn connect(url: &str, limit: Option<Duration>) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a write acknowledged to a client survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            // A write waiting for another's lock is not running SQL, so the progress
            // handler cannot stop it: the wait is held to the limit too.
            .busy_timeout(limit.map_or(BUSY_TIMEOUT, |limit| limit.min(BUSY_TIMEOUT)))
            .foreign_keys(true)
            // Keep the query planner's statistics current (it picks between the per-sort
            // and per-filter indexes with them).
            .optimize_on_close(true, None);
        // Migrations (and the statistics) on a connection of their own, without the
        // limit: one may take longer than any request.
        let mut setup = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut setup)
            .await?;
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&mut setup)
            .await?;
        let cursor_key = cursor_key::<Sqlite>(&mut setup).await?;
        setup.close().await?;
        let writer = limited(SqlitePoolOptions::new().max_connections(1), limit)
            .connect_with(options.clone())
            .await?;
        let readers = limited(SqlitePoolOptions::new().max_connections(4), limit)
            .connect_with(options.read_only(true))
            .await?;
        let dialect = Dialect {
            lock_for_write: "",
            snapshot: None,
        };
        Ok(SqlStore {
            writer,
            readers,
            dialect,
            cursor_key,
        })
    }
}

/// A pool whose connections each get `limit` from the moment they are handed out.
fn limited(pool: SqlitePoolOptions, limit: Option<Duration>) -> SqlitePoolOptions {
    let Some(limit) = limit else {
        return pool;
    };
    // A new connection is handed out without passing `before_acquire`.
    pool.after_connect(move |conn, _| Box::pin(async move { arm(conn, limit).await }))
        .before_acquire(move |conn, _| {
            Box::pin(async move { arm(conn, limit).await.map(|()| true) })
        })
        // Disarmed in the pool, so that nothing it runs there on its own (the
        // statistics on close) meets a deadline long past.
        .after_release(|conn, _| {
            Box::pin(async move {
                conn.lock_handle().await?.remove_progress_handler();
                Ok(true)
            })
        })
}

/// Interrupts whatever runs on `conn` once `limit` has passed from now.
async fn arm(conn: &mut SqliteConnection, limit: Duration) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + limit;
    conn.lock_handle()
        .await?
        .set_progress_handler(STEPS_PER_CHECK, move || Instant::now() < deadline);
    Ok(())
}
