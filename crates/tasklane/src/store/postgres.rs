//! The scale-out store: PostgreSQL, shared by any number of Tasklane processes.
//!
//! One pool serves reads and writes. A write locks the row of the task it is about
//! (`SELECT ... FOR UPDATE`) before checking its precondition, so two concurrent
//! `If-Match` writes cannot both pass; a list reads its page and its total in one
//! `REPEATABLE READ` snapshot. The pool reconnects by itself when the database comes
//! back after an outage; meanwhile requests fail with `503`.

use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::PgPoolOptions;

use super::sql::{Dialect, SqlStore, runner};

runner!(Postgres);

/// Tasks in a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://user:password@host:5432/database`) and applies the
    /// embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
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
