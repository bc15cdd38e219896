//! The scale-out store: PostgreSQL, shared by any number of Tasklane processes.
//!
//! One pool serves reads and writes. A write locks the row of the task it is about
//! (`SELECT ... FOR UPDATE`) before checking its precondition, so two concurrent
//! `If-Match` writes cannot both pass; a list reads its page and its total in one
//! `REPEATABLE READ` snapshot. The pool reconnects by itself when the database comes
//! back after an outage; meanwhile requests fail with `503`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres};

use super::open::{OpenError, Opening};
use super::sql::{Dialect, SqlStore, runner};

runner!(Postgres);

/// Tasks in a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://user:password@host:5432/database`) and applies the
    /// embedded migrations; with [`Opening::Existing`], only to a database that already
    /// has them.
    pub async fn connect(url: &str, opening: Opening) -> Result<Self, OpenError> {
        probe(url, opening).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let dialect = Dialect {
            lock_for_write: " FOR UPDATE",
            snapshot: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        };
        Ok(SqlStore {
            writer: pool.clone(),
            readers: pool,
            dialect,
        })
    }
}

/// How long the first connection may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one connection first: a pool retries a refused connection until its acquire
/// timeout and then reports only that it timed out, where this reports at once why
/// (connection refused, no such database, authentication failed).
async fn probe(url: &str, opening: Opening) -> Result<(), OpenError> {
    let options = PgConnectOptions::from_str(url)?;
    let mut connection = tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| OpenError::NoAnswer(PROBE_TIMEOUT))??;
    if opening == Opening::Existing {
        let migrated: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut connection)
                .await?;
        if !migrated {
            return Err(OpenError::NotMigrated);
        }
    }
    connection.close().await?;
    Ok(())
}
