//! What the cache holds: a response body already serialised, with its validator.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::domain::{Task, TaskAt};

/// An entity tag, as sent in the `ETag` header (quotes and `W/` included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(Arc<str>);

impl ETag {
    /// A strong tag: the body is byte-for-byte determined by it (a task's version).
    pub fn strong(opaque: &str) -> Self {
        ETag(format!("\"{opaque}\"").into())
    }

    /// A weak tag: bodies sharing it are equivalent (a list at one generation: writes
    /// that committed but were not yet acknowledged may or may not show in it).
    pub fn weak(opaque: &str) -> Self {
        ETag(format!("W/\"{opaque}\"").into())
    }

    /// A weak tag naming `body` itself, for a list read that no generation names.
    pub fn of_content(body: &[u8]) -> Self {
        ETag::weak(&format!("c-{}", hex::encode(&Sha256::digest(body)[..16])))
    }

    /// An entity tag as [`ETag::as_str`] wrote it, read back from a shared tier.
    pub(super) fn from_stored(text: &str) -> Self {
        ETag(text.into())
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a weak tag.
    pub fn is_weak(&self) -> bool {
        self.0.starts_with("W/")
    }

    /// The quoted part without `W/` or quotes, which weak comparison compares.
    pub fn opaque(&self) -> &str {
        self.0.trim_start_matches("W/").trim_matches('"')
    }
}

/// A serialised JSON body and its ETag: one cache entry, and one `200` response.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The validator to send as `ETag`.
    pub etag: ETag,
    /// The workspace's log position a read reflects (also in its body); none for the
    /// task a write returns.
    pub seq: Option<u64>,
    /// The JSON body, ready to send.
    pub body: Bytes,
}

impl Snapshot {
    /// A task as a write left it; its ETag is its version.
    pub fn of_task(task: &Task) -> Snapshot {
        Snapshot {
            etag: ETag::strong(&task.version.to_string()),
            seq: None,
            body: serde_json::to_vec(task)
                .expect("a task always serialises")
                .into(),
        }
    }

    /// A task as a read found it, with the log position it reflects. Its ETag is still
    /// its version: a later read of the same version may report a later `seq` (other
    /// tasks changed), and the client's copy of the task is as current as before.
    pub fn of_read(read: &TaskAt) -> Snapshot {
        Snapshot {
            etag: ETag::strong(&read.task.version.to_string()),
            seq: Some(read.seq),
            body: serde_json::to_vec(read)
                .expect("a task always serialises")
                .into(),
        }
    }

    /// This list read named by its content rather than by the generation its read took:
    /// what a list gets whose fill was refused (its query may have seen a write that
    /// generation does not cover, so the generation's tag may name another body).
    pub(super) fn named_by_content(self) -> Snapshot {
        Snapshot {
            etag: ETag::of_content(&self.body),
            ..self
        }
    }

    /// Bytes this entry occupies, for the cache's size bound.
    pub(super) fn weight(&self, key: &str) -> u32 {
        u32::try_from(key.len() + self.etag.as_str().len() + self.body.len()).unwrap_or(u32::MAX)
    }
}
