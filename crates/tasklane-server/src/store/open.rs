//! Opening a store: `serve` creates and migrates its database; every other tool
//! (`token create`, `seed`) requires one that `serve` has already created, so that a
//! mistyped URL is an error, not a new database that the server never reads.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::{BulkLoad, DatabaseUrl, PostgresStore, SqliteStore, Store, TokenStore, WebhookStore};

/// What a database URL opens: the task store, the token store and bulk loading, all on
/// the same database.
pub struct Storage {
    /// Tasks.
    pub tasks: Arc<dyn Store>,
    /// API tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Bulk loading, for `tasklane seed`.
    pub bulk: Arc<dyn BulkLoad>,
    /// Webhook endpoints and their delivery state.
    pub webhooks: Arc<dyn WebhookStore>,
}

impl Storage {
    /// Opens the database `url` names, as `opening` says. With a `limit` (a server's),
    /// the database stops any statement that runs longer (on SQLite, any list, the one
    /// read whose cost grows with the data; a write waits no longer for the lock), so
    /// that no request holds a connection past its timeout; tools run without one.
    pub async fn open(
        url: &DatabaseUrl,
        opening: Opening,
        limit: Option<Duration>,
    ) -> anyhow::Result<Storage> {
        Ok(match url {
            DatabaseUrl::Sqlite { .. } => Storage::of(
                SqliteStore::connect(url.as_str(), opening, limit)
                    .await
                    .with_context(|| format!("opening the SQLite database {url}"))?,
            ),
            DatabaseUrl::Postgres { .. } => Storage::of(
                PostgresStore::connect(url.as_str(), opening, limit)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {url}"))?,
            ),
        })
    }

    fn of<S: Store + TokenStore + BulkLoad + WebhookStore + Clone + 'static>(store: S) -> Storage {
        Storage {
            tasks: Arc::new(store.clone()),
            tokens: Arc::new(store.clone()),
            bulk: Arc::new(store.clone()),
            webhooks: Arc::new(store),
        }
    }
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Create the database if it is missing (SQLite) and apply the migrations: what
    /// `tasklane serve` does.
    Create,
    /// The database must exist and hold Tasklane's tables; newer migrations are
    /// applied, as `serve` would. For tools that write to the server's database.
    Existing,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The SQLite file would be created in a directory that does not exist.
    #[error(
        "the directory {} does not exist; create it, or name a database file in an \
         existing directory",
        .0.display()
    )]
    NoDirectory(PathBuf),
    /// A tool was pointed at a SQLite file that does not exist.
    #[error("the file {} does not exist; {HOW_TO_CREATE}", .0.display())]
    Missing(PathBuf),
    /// A tool was pointed at a database without Tasklane's tables.
    #[error("the database has no Tasklane tables (it was never migrated); {HOW_TO_CREATE}")]
    NotMigrated,
    /// PostgreSQL accepted no connection in time.
    #[error("PostgreSQL did not answer within {} s", .0.as_secs())]
    NoAnswer(Duration),
    /// A migration could not be applied.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// What the database reported.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The text of tasks written before `q` compared case folds could not be folded again.
    #[error("folding the text of existing tasks for `q`: {0}")]
    Refold(#[from] super::StoreError),
    /// The key cursors are signed with could not be stored or read.
    #[error("reading the cursor key from `server_secrets`: {0}")]
    CursorKey(super::StoreError),
    /// The stored cursor key is not a key.
    #[error("`server_secrets`: the cursor key is not 64 hexadecimal digits")]
    DamagedCursorKey,
    /// The database's epoch could not be stored or read.
    #[error("reading the database's epoch from `server_secrets`: {0}")]
    Epoch(super::StoreError),
    /// The stored epoch is not one.
    #[error("`server_secrets`: the epoch is not 16 hexadecimal digits")]
    DamagedEpoch,
}

const HOW_TO_CREATE: &str = "run `tasklane serve` once with this --database-url to create \
                             it, or name the database the server uses";
