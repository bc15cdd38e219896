//! Opening a store: `serve` creates and migrates its database; every other tool
//! (`token create`, `seed`) requires one that `serve` has already created, so that a
//! mistyped URL is an error, not a new database that the server never reads.

use std::path::PathBuf;
use std::time::Duration;

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
}

const HOW_TO_CREATE: &str = "run `tasklane serve` once with this --database-url to create \
                             it, or name the database the server uses";
