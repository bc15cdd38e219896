//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in-process
//! and a read-modify-write transaction can never fail to upgrade its lock (no row lock
//! is needed); reads use a separate pool of read-only connections that WAL lets run
//! beside the writer. A SQLite transaction reads one snapshot, so a list's page and its
//! total always agree.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::{Dialect, SqlStore, runner};

runner!(Sqlite);

/// Tasks in a SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database at `url` (`sqlite://tasklane.db`,
    /// `sqlite:///var/lib/tasklane.db`) and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a write acknowledged to a client survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Keep the query planner's statistics current (it picks between the per-sort
            // and per-filter indexes with them).
            .optimize_on_close(true, None);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&writer)
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
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
        })
    }
}
