//! File descriptors: every connection holds one. At start the process raises its own
//! soft limit to the hard limit (a default soft limit of 1,024 is far below what a server
//! may use), and keeps the connection cap below what the limit leaves, so that clients
//! can never take the descriptors the database and the listener need.

use rlimit::{Resource, getrlimit, setrlimit};

/// Descriptors kept for everything but client connections: the listener, the database
/// pool (a SQLite connection holds three: the database, its WAL and shared memory),
/// Redis, the standard streams and the runtime's own.
const RESERVED: u64 = 128;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, and returns the soft limit now in
/// force (the old one if it could not be raised).
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    match setrlimit(Resource::NOFILE, hard, hard) {
        Ok(()) => Ok(hard),
        Err(error) => {
            tracing::warn!(%error, soft, hard, "could not raise the file descriptor limit");
            Ok(soft)
        }
    }
}

/// How many connections may be open at once: `wanted`, or fewer when `descriptor_limit`
/// leaves less room beside the descriptors the server keeps for itself (never below 1).
pub fn connection_cap(wanted: usize, descriptor_limit: u64) -> usize {
    let room = usize::try_from(descriptor_limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_servers_own_descriptors() {
        assert_eq!(connection_cap(4096, 1 << 20), 4096);
        assert_eq!(connection_cap(4096, 1024), 1024 - 128);
        assert_eq!(connection_cap(4096, 100), 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let limit = raise_descriptor_limit().unwrap();
        assert_eq!(limit, getrlimit(Resource::NOFILE).unwrap().1);
    }
}
