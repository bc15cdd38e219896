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

use super::open::{OpenError, Opening};
use super::sql::{Dialect, SqlStore, runner};
use super::url::missing_directory;

runner!(Sqlite);

/// Tasks in a SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens the database at `url` (`sqlite://tasklane.db`,
    /// `sqlite:///var/lib/tasklane.db`), creating the file if `opening` allows, and
    /// applies the embedded migrations.
    pub async fn connect(url: &str, opening: Opening) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::from_str(url)?;
        // SQLite's own message for both is "unable to open database file", which names
        // neither the file nor what is wrong with it.
        let file = options.get_filename();
        if let Some(directory) = missing_directory(file) {
            return Err(OpenError::NoDirectory(directory));
        }
        if opening == Opening::Existing && !file.exists() {
            return Err(OpenError::Missing(file.to_owned()));
        }
        let options = options
            .create_if_missing(opening == Opening::Create)
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
        if opening == Opening::Existing {
            let migrated: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')",
            )
            .fetch_one(&writer)
            .await?;
            if !migrated {
                return Err(OpenError::NotMigrated);
            }
        }
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
