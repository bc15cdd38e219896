//! Where `--json` goes: through symlinks to the file they name, written in place when
//! that is not a regular file (`/dev/null`, a pipe), and never the `--history` file.
//! (The history is written as it is opened, which follows links itself.)

use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many links a path may go through, as the kernel allows (`ELOOP` beyond).
const MOST_LINKS: usize = 40;

/// The path `path` names once every symlink on its last component is followed, whether
/// or not the file at the end exists yet (a dangling link names the file it would create).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_owned();
    for _ in 0..MOST_LINKS {
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                // An absolute target replaces the whole path; a relative one is read
                // from the link's directory.
                path = path.parent().unwrap_or(Path::new("")).join(target);
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other(format!(
        "more than {MOST_LINKS} symbolic links (a loop?)"
    )))
}

/// Whether `a` and `b` name one file, whether or not it exists yet: the same file (device
/// and inode: a hard link or a bind mount too) if both exist, else the same path once
/// links, `.`, `..` and relative paths are resolved.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return (a.dev(), a.ino()) == (b.dev(), b.ino());
    }
    let resolve = |path: &Path| -> Option<PathBuf> {
        let path = follow_links(path).ok()?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let parent = std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()?;
        Some(parent.join(path.file_name()?))
    };
    a == b || matches!((resolve(a), resolve(b)), (Some(a), Some(b)) if a == b)
}

/// Replaces the file `path` names with `text` and a newline, whole: a new file, made as
/// the umask allows, renamed over the old, so that no reader ever finds it half-written.
/// What is not a regular file (a device, a pipe) is written in place instead: renaming
/// over it would replace it.
pub(crate) fn replace(path: &Path, text: &str) -> io::Result<()> {
    // Links followed as the kernel does (`/dev/stdout` goes through `/proc`), unless
    // nothing is there yet: then to the file a dangling link would create.
    let target = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(io::Error::other("it is a directory"));
        }
        Ok(metadata) if !metadata.is_file() => {
            let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
            return writeln!(file, "{text}");
        }
        Ok(_) => std::fs::canonicalize(path)?,
        Err(_) => follow_links(path)?,
    };
    let directory = target.parent().filter(|d| !d.as_os_str().is_empty());
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(directory.unwrap_or(Path::new(".")))?;
    writeln!(file, "{text}")?;
    file.persist(&target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_followed_to_files_that_do_not_exist_yet_and_loops_refused() {
        let directory = tempfile::tempdir().unwrap();
        let at = |name: &str| directory.path().join(name);
        std::os::unix::fs::symlink("report.json", at("latest.json")).unwrap();
        std::os::unix::fs::symlink(at("latest.json"), at("chain.json")).unwrap();
        assert_eq!(follow_links(&at("chain.json")).unwrap(), at("report.json"));
        replace(&at("chain.json"), "{}").unwrap();
        assert_eq!(std::fs::read_to_string(at("report.json")).unwrap(), "{}\n");
        assert!(
            std::fs::symlink_metadata(at("latest.json"))
                .unwrap()
                .is_symlink()
        );
        std::os::unix::fs::symlink("two", at("one")).unwrap();
        std::os::unix::fs::symlink("one", at("two")).unwrap();
        assert!(replace(&at("one"), "{}").is_err(), "a loop");
        assert!(std::fs::symlink_metadata(at("one")).unwrap().is_symlink());
    }

    #[test]
    fn what_is_not_a_regular_file_is_written_in_place() {
        replace(Path::new("/dev/null"), "{}").unwrap();
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(!null.is_file(), "/dev/null was replaced");
        // A pipe, reached through `/proc`'s links as `/dev/stdout` is.
        let (reader, writer) = std::io::pipe().unwrap();
        let through_proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&writer));
        replace(Path::new(&through_proc), "{}").unwrap();
        drop(writer);
        assert_eq!(std::io::read_to_string(reader).unwrap(), "{}\n");
        let directory = tempfile::tempdir().unwrap();
        assert!(replace(directory.path(), "{}").is_err());
    }

    #[test]
    fn one_file_is_known_under_every_name() {
        let directory = tempfile::tempdir().unwrap();
        let at = |name: &str| directory.path().join(name);
        std::fs::write(at("history"), "").unwrap();
        std::fs::hard_link(at("history"), at("hard")).unwrap();
        std::os::unix::fs::symlink("figures", at("dangling")).unwrap();
        assert!(same_file(&at("history"), &at("hard")));
        assert!(
            same_file(&at("figures"), &at("dangling")),
            "before either exists"
        );
        std::fs::create_dir(at("sub")).unwrap();
        assert!(same_file(&at("figures"), &at("sub/../figures")));
        assert!(!same_file(&at("history"), &at("figures")));
    }
}
