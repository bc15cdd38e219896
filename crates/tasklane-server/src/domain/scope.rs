//! Cache and data scopes: the unit a generation counts writes for.

use std::fmt;

/// The unit of isolation: every task belongs to exactly one scope, every list query runs
/// inside one, and every scope has its own cache generation, so a write in one scope
/// leaves every other scope's cached lists warm.
///
/// Until workspaces exist there is a single scope, [`Scope::default`]; the scope is
/// already part of every row, every cache key and every ETag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// A scope with the given name.
    pub fn named(name: impl Into<String>) -> Self {
        Scope(name.into())
    }

    /// The scope's name, as stored in the database and in cache keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope("default".to_owned())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
