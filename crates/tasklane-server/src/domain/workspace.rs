//! Workspaces: the tenants, and the unit a cache generation counts writes for.

use std::fmt;
use std::str::FromStr;

/// A workspace: every task belongs to exactly one, every list query runs inside one,
/// and each has its own cache generation, so a write in one workspace leaves every
/// other workspace's cached lists warm. Its name is part of every row, every cache key
/// and every ETag.
///
/// A name given by a person (`tasklane token create --workspace`) is parsed: 1 to 64
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter or a digit.
/// Names the server already holds (a token's, a row's) are taken as they are
/// ([`Workspace::named`]). Without authentication every request acts in
/// [`Workspace::default`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workspace(String);

impl Workspace {
    /// The workspace of a name the server already holds.
    pub fn named(name: impl Into<String>) -> Self {
        Workspace(name.into())
    }

    /// The workspace's name, as stored in the database and in cache keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Workspace {
    /// `default`: where every request acts without authentication.
    fn default() -> Self {
        Workspace("default".to_owned())
    }
}

impl FromStr for Workspace {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if name.len() > 64 || !starts_well || !name.chars().all(allowed) {
            return Err(
                "a workspace name is 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter or a digit"
                    .to_owned(),
            );
        }
        Ok(Workspace(name.to_owned()))
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_are_slugs() {
        for good in ["acme", "team-42", "a", "0_x"] {
            assert!(good.parse::<Workspace>().is_ok(), "{good}");
        }
        for bad in ["", "-acme", "Acme", "a b", "ü", &"a".repeat(65)] {
            assert!(bad.parse::<Workspace>().is_err(), "{bad:?}");
        }
    }
}
