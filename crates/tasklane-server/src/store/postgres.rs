//! The scale-out store: PostgreSQL, shared by any number of Tasklane processes.
//!
//! One pool serves reads and writes. A write locks the row of the task it is about
//! (`SELECT ... FOR UPDATE`) before checking its precondition, so two concurrent
//! `If-Match` writes cannot both pass; a list reads its page and its total in one
//! `REPEATABLE READ` snapshot. The pool reconnects by itself when the database comes
//! back after an outage; meanwhile requests fail with `503`.
//!
//! A server's pool opens every connection with `statement_timeout` set to its limit, so
//! PostgreSQL itself cancels a statement that runs longer (lock waits included), and
//! the request that sent it answers `503` and gives its connection back; the database
//! does not go on working for a client that has already been answered.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, Postgres};

use super::open::{OpenError, Opening};
use super::pool::MeteredPool;
use super::sql::{Dialect, Interrupt, SqlStore, cursor_key, epoch, refold_text, runner};

runner!(Postgres);

/// Nothing to arm per list: `statement_timeout`, set on every connection, already
/// ends every statement past the limit.
impl Interrupt for Postgres {}

/// Tasks in a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://user:password@host:5432/database`) and applies the
    /// embedded migrations; with [`Opening::Existing`], only to a database that already
    /// has them. With a `limit`, the database cancels any statement of the pool's that
    /// runs longer.
    pub async fn connect(
        url: &str,
        opening: Opening,
        limit: Option<Duration>,
    ) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url)?;
        // One connection first, for the migrations, without the limit (one may take
        // longer than any request). Opening it alone also reports at once why the
        // database cannot be reached (connection refused, no such database,
        // authentication failed), where a pool retries until its acquire timeout and
        // then reports only that it timed out.
        let mut setup = tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| OpenError::NoAnswer(PROBE_TIMEOUT))??;
        if opening == Opening::Existing {
            let migrated: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(&mut setup)
                    .await?;
            if !migrated {
                return Err(OpenError::NotMigrated);
            }
        }
        sqlx::migrate!("./migrations/postgres")
            .run(&mut setup)
            .await?;
        refold_text::<Postgres>(&mut setup).await?;
        let cursor_key = cursor_key::<Postgres>(&mut setup).await?;
        let epoch = epoch::<Postgres>(&mut setup).await?;
        setup.close().await?;
        let options = match limit {
            // Whole milliseconds, at least one (0 would mean no limit at all).
            Some(limit) => options.options([(
                "statement_timeout",
                format!("{}ms", limit.as_millis().max(1)),
            )]),
            None => options,
        };
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let dialect = Dialect {
            lock_for_write: " FOR UPDATE",
            snapshot: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
            begin_write: "BEGIN",
            skip_locked: " FOR UPDATE SKIP LOCKED",
            split_pools: false,
        };
        let pool = MeteredPool::new(pool);
        Ok(SqlStore {
            writer: pool.clone(),
            readers: pool,
            dialect,
            cursor_key,
            epoch,
            limit,
        })
    }
}

/// How long the first connection may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
