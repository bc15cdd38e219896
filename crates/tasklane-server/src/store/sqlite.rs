//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in-process
//! and a read-modify-write transaction can never fail to upgrade its lock (no row lock
//! is needed); reads use a separate pool of read-only connections that WAL lets run
//! beside the writer. A SQLite transaction reads one snapshot, so a list's page and its
//! total always agree.
//!
//! SQLite has no statement timeout. A server's store arms a deadline on the connection
//! of each list instead (the one read whose cost grows with the data and the query): a
//! progress handler that interrupts it past the limit (`SQLITE_INTERRUPT`, a `503`), so
//! a list holds its connection for at most the limit, count and page together. Every
//! other statement reads or writes rows by key, and a write's wait for the database
//! lock is held to the limit by the busy timeout. (Arming every connection the pools
//! hand out cost two round trips to the connection's thread per request, which under
//! load slowed serialised writes several times over.)

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};

use super::StoreError;
use super::open::{OpenError, Opening};
use super::pool::MeteredPool;
use super::sql::{Armed, Dialect, Interrupt, SqlStore, cursor_key, epoch, refold_text, runner};
use super::url::missing_directory;

runner!(Sqlite);

#[async_trait]
impl Interrupt for Sqlite {
    async fn arm(
        conn: &mut SqliteConnection,
        limit: Duration,
    ) -> Result<Option<Armed>, StoreError> {
        let deadline = Instant::now() + limit;
        let (armed, live) = Armed::new();
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_CHECK, move || {
                !live.load(Ordering::Relaxed) || Instant::now() < deadline
            });
        Ok(Some(armed))
    }
}

/// Tasks in a SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

/// Longest wait for another connection's lock (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Virtual machine steps between two looks at the clock: often enough to stop within a
/// millisecond or so of the deadline, rarely enough to cost nothing measurable.
const STEPS_PER_CHECK: i32 = 10_000;

impl SqlStore<Sqlite> {
    /// Opens the database at `url` (`sqlite://tasklane.db`,
    /// `sqlite:///var/lib/tasklane.db`), creating the file if `opening` allows, and
    /// applies the embedded migrations. With a `limit`, a list that runs longer is
    /// interrupted, and no write waits longer for the lock.
    pub async fn connect(
        url: &str,
        opening: Opening,
        limit: Option<Duration>,
    ) -> Result<Self, OpenError> {
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
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Keep the query planner's statistics current (it picks between the per-sort
            // and per-filter indexes with them).
            .optimize_on_close(true, None);
        // Migrations (and the statistics) on a connection of their own, without the
        // limit: one may take longer than any request.
        let mut setup = SqliteConnection::connect_with(&options).await?;
        if opening == Opening::Existing {
            let migrated: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')",
            )
            .fetch_one(&mut setup)
            .await?;
            if !migrated {
                return Err(OpenError::NotMigrated);
            }
        }
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut setup)
            .await?;
        sqlx::query("PRAGMA optimize=0x10002")
            .execute(&mut setup)
            .await?;
        refold_text::<Sqlite>(&mut setup).await?;
        let cursor_key = cursor_key::<Sqlite>(&mut setup).await?;
        let epoch = epoch::<Sqlite>(&mut setup).await?;
        setup.close().await?;
        // A write waiting for another's lock is not running SQL, so no progress handler
        // could stop it: the wait is held to the limit instead.
        let options = match limit {
            Some(limit) => options.busy_timeout(limit.min(BUSY_TIMEOUT)),
            None => options,
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let dialect = Dialect {
            lock_for_write: "",
            snapshot: None,
            begin_write: "BEGIN IMMEDIATE",
            skip_locked: "",
            split_pools: true,
        };
        Ok(SqlStore {
            writer: MeteredPool::new(writer),
            readers: MeteredPool::new(readers),
            dialect,
            cursor_key,
            epoch,
            limit,
        })
    }
}
