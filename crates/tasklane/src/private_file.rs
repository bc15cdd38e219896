//! Files only their owner can read: the stored login (a token), exports and backups
//! (every task, and a backup the server's secrets too). Each is created with mode
//! 0600, so its contents never sit in a file others can read, not even for a moment.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Options that create a file readable and writable by its owner only.
fn owner_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `path` as a new file; an existing one is an `AlreadyExists` error, never
/// overwritten.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    owner_only().create_new(true).open(path)
}

/// Creates `path`, or empties it if it exists, and makes it its owner's alone (an
/// existing file keeps its mode through `open`, so the mode is set as well).
pub fn create(path: &Path) -> std::io::Result<File> {
    let file = owner_only().create(true).truncate(true).open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(file)
}

/// Writes `bytes` to `path` (see [`create`]), making its directory if need be.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    create(path)?.write_all(bytes)
}
