//! Cache keys: the one place their layout is written, in this process and in Redis.
//!
//! An entry's key is `{kind}:{workspace}:g{generation}:{item}`: what it holds, whose it is,
//! the generation it was read at and which one it is (a query's digest, a task's id).
//! In Redis every key starts with the deployment's prefix, so deployments can share a
//! Redis: an entry is `{prefix}:{key}`, a workspace's generation hash `{prefix}:gen:{workspace}`.

use std::fmt;

use sha2::{Digest, Sha256};

use super::generation::{Generation, Scope};
use crate::domain::{TaskId, Workspace};

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    /// One page of a task list; the item is the digest of its normalised query.
    List,
    /// One task; the item is its id.
    Task,
}

impl EntryKind {
    /// Named apart from releases before the change log (`tasks`, `task`), whose entries
    /// carry no log position: instances of both releases can share one Redis during a
    /// rolling upgrade without reading each other's entries.
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::List => "list",
            EntryKind::Task => "one",
        }
    }
}

/// The key of one cache entry. Built without a generation (the read has not taken it
/// yet), then [placed under](CacheKey::under) the generation the read took; a key left
/// without one (the delete-on-write baseline) leaves the generation's place empty.
#[derive(Debug, Clone)]
pub(super) struct CacheKey<'a> {
    kind: EntryKind,
    workspace: &'a Workspace,
    item: String,
    /// Which writes of the workspace can change the entry.
    scope: Scope,
    generation: Option<Generation>,
}

impl<'a> CacheKey<'a> {
    /// The key of a list page in `workspace`, by the [digest](query_digest) of its query,
    /// which depends on the writes `scope` names.
    pub(super) fn list(workspace: &'a Workspace, digest: &str, scope: Scope) -> Self {
        CacheKey::new(EntryKind::List, workspace, digest.to_owned(), scope)
    }

    /// The key of one task in `workspace`: any write may have moved it, from any status.
    pub(super) fn task(workspace: &'a Workspace, id: TaskId) -> Self {
        CacheKey::new(EntryKind::Task, workspace, id.to_string(), Scope::Workspace)
    }

    fn new(kind: EntryKind, workspace: &'a Workspace, item: String, scope: Scope) -> Self {
        CacheKey {
            kind,
            workspace,
            item,
            scope,
            generation: None,
        }
    }

    /// The workspace the entry belongs to.
    pub(super) fn workspace(&self) -> &'a Workspace {
        self.workspace
    }

    /// Which writes of the workspace can change the entry.
    pub(super) fn scope(&self) -> Scope {
        self.scope
    }

    /// The same entry, read at `generation`.
    pub(super) fn under(self, generation: Generation) -> Self {
        CacheKey {
            generation: Some(generation),
            ..self
        }
    }

    /// The key up to its generation, and from it on.
    fn around_generation(&self) -> (String, String) {
        (
            format!("{}:{}:g", self.kind.as_str(), self.workspace),
            format!(":{}", self.item),
        )
    }
}

impl fmt::Display for CacheKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, tail) = self.around_generation();
        match self.generation {
            Some(generation) => write!(f, "{head}{generation}{tail}"),
            None => write!(f, "{head}{tail}"),
        }
    }
}

/// Where keys live in a Redis that deployments may share: behind the deployment's
/// prefix.
pub(super) struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    pub(super) fn new(prefix: &str) -> Self {
        RedisKeys {
            prefix: prefix.to_owned(),
        }
    }

    /// An entry's key in Redis.
    pub(super) fn entry(&self, key: &CacheKey<'_>) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// An entry's key in Redis up to its generation, and from it on, for a script that
    /// learns the generation in the same step as it reads the entry (see
    /// [`Generation`]'s `Display`, which the script writes between them).
    pub(super) fn entry_around_generation(&self, key: &CacheKey<'_>) -> (String, String) {
        let (head, tail) = key.around_generation();
        (format!("{}:{head}", self.prefix), tail)
    }

    /// The key of `workspace`'s generation hash.
    pub(super) fn generation(&self, workspace: &Workspace) -> String {
        format!("{}:gen:{workspace}", self.prefix)
    }

    /// The channel the change feed's wake-ups are published on.
    pub(super) fn changes_channel(&self) -> String {
        format!("{}:changes", self.prefix)
    }
}

/// The digest of a normalised query within a workspace: the workspace is hashed in so that two
/// workspaces asking the same question never share a key or an ETag.
pub(super) fn query_digest(workspace: &Workspace, canonical_query: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(workspace.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(canonical_query.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_embed_kind_workspace_generation_and_item() {
        let workspace = Workspace::named("team");
        let generation = Generation::new(0xab, 7);
        let list = CacheKey::list(&workspace, "d1g", Scope::Workspace);
        assert_eq!(list.to_string(), "list:team:g:d1g");
        assert_eq!(
            list.clone().under(generation).to_string(),
            "list:team:g00000000000000ab.7:d1g"
        );
        let redis = RedisKeys::new("tl");
        assert_eq!(
            redis.entry(&list.clone().under(generation)),
            "tl:list:team:g00000000000000ab.7:d1g"
        );
        let (head, tail) = redis.entry_around_generation(&list);
        assert_eq!(
            format!("{head}{generation}{tail}"),
            redis.entry(&list.under(generation))
        );
        assert_eq!(redis.generation(&workspace), "tl:gen:team");
        let id = TaskId::generate();
        assert_eq!(
            CacheKey::task(&workspace, id).under(generation).to_string(),
            format!("one:team:g{generation}:{id}")
        );
    }
}
