//! `tasklane backup PATH`: a consistent copy of a SQLite database, taken while the
//! server runs (`VACUUM INTO`: one read snapshot, so every write is in it whole or not
//! at all, and writers are not held up).
//!
//! A copy is made to be restored, and a restored database goes back to generations
//! its servers have already counted past. In `strict` consistency a generation's
//! counter is the database's own, so the copy is given a new epoch (the
//! `server_secrets` row `epoch` is removed from it, and the first server to open it
//! draws another): no ETag or cache entry from before the restore can match a list
//! after it. PostgreSQL is copied with `pg_dump` (see the README's "Backups").

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use tasklane_server::store::{Backend, Opening};

use crate::cli::{Misuse, ServerDatabase};

/// `tasklane backup` options.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where to write the copy: a new file (an existing one is refused).
    pub path: PathBuf,

    /// The SQLite database to copy.
    #[command(flatten)]
    pub database: ServerDatabase,
}

/// Writes the copy.
pub async fn run(args: &BackupArgs) -> anyhow::Result<()> {
    if args.database.url.backend() != Backend::Sqlite {
        return Err(Misuse(
            "tasklane backup copies SQLite databases; copy a PostgreSQL one with pg_dump \
             (see the README's \"Backups\")"
                .to_owned(),
        )
        .into());
    }
    let path = args
        .path
        .to_str()
        .context("the backup's path is not UTF-8")?;
    let storage = args.database.open(Opening::Existing).await?;
    create_private(&args.path)?;
    let copied = storage.bulk.backup(path).await;
    storage.tasks.close().await;
    if let Err(error) = copied {
        // Only the empty file made above is removed: nothing of the copy is kept.
        let _ = std::fs::remove_file(&args.path);
        return Err(error).with_context(|| format!("copying the database to {path}"));
    }
    eprintln!("Copied the database to {path}");
    Ok(())
}

/// Creates the backup's file, empty (`VACUUM INTO` writes into an empty file), its
/// owner's alone. An existing file is refused, never overwritten.
fn create_private(path: &Path) -> anyhow::Result<()> {
    match crate::private_file::create_new(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} exists already: a backup is written to a new file",
            path.display()
        ),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}
