//! The change log's vocabulary: what one write did to one task, and where it stands in
//! its workspace's log.
//!
//! Every write appends exactly one [`Change`] in its own transaction, numbered by a
//! per-workspace [`seq`](Change::seq) that has no gaps and follows commit order. A list
//! or a task read reports the `seq` it reflects, so a client can load a list and then
//! apply the changes after that `seq`, missing none and applying none twice.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::query::invalid;
use super::{QueryError, Task, TaskId, Timestamp};

/// What a write did to its task (ordered as listed, for sets of kinds).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum ChangeKind {
    /// The task was created (or restored after a delete).
    #[serde(rename = "task.created")]
    Created,
    /// The task was changed.
    #[serde(rename = "task.updated")]
    Updated,
    /// The task was deleted.
    #[serde(rename = "task.deleted")]
    Deleted,
}

impl ChangeKind {
    /// The name stored and sent (`task.created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "task.created",
            ChangeKind::Updated => "task.updated",
            ChangeKind::Deleted => "task.deleted",
        }
    }

    /// The kind named `text`, as [`ChangeKind::as_str`] writes it.
    pub fn parse(text: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Deleted,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// One entry of a workspace's change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// The change's position in its workspace's log: 1 for the first write, +1 for each
    /// later one, in commit order, with no gaps.
    pub seq: u64,
    /// What the write did.
    pub kind: ChangeKind,
    /// The task it did it to.
    #[schema(value_type = String, format = Uuid)]
    pub task_id: TaskId,
    /// The task's version after the write (for a delete: the version deleted).
    pub version: i64,
    /// The task as the write left it; null for a delete.
    #[schema(required = true)]
    pub task: Option<Task>,
    /// When the write committed (the server's clock).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A task and the log position it was read at: the body of `GET /v1/tasks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskAt {
    /// The task.
    #[serde(flatten)]
    pub task: Task,
    /// The workspace's log position this read reflects: every change up to it, none
    /// after it. Follow `/v1/changes` from here.
    pub seq: u64,
}

/// What a store read from a workspace's change log, from one snapshot.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    /// Changes after the position asked for, in order.
    pub changes: Vec<Change>,
    /// The workspace's latest `seq` (0 before its first write).
    pub head: u64,
    /// The oldest `seq` still kept: retention has pruned every change before it (`head +
    /// 1` when none is kept).
    pub first_kept: u64,
}

impl ChangeLog {
    /// Whether the log still holds every change after `since`: `since` is neither older
    /// than what retention kept nor ahead of the log (a position from another
    /// database, or from before a restore from backup).
    pub fn continues(&self, since: u64) -> bool {
        since.saturating_add(1) >= self.first_kept && since <= self.head
    }
}

/// The query of a read of the change log: a position and a page size. Each route takes
/// the parameters it names (`since` and `limit` for the workspace's log, `before` and
/// `limit` for a task's history, `since` for the stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// `since`: the position after which to read.
    pub since: Option<u64>,
    /// `before`: the position before which to read (newest first).
    pub before: Option<u64>,
    /// `limit`: at most this many changes.
    pub limit: u32,
}

impl LogQuery {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 1000;
    /// Largest position a client may name (the largest both databases store).
    pub const MAX_POSITION: u64 = i64::MAX as u64;

    /// Parses a raw query string, taking only `parameters`; unknown, repeated, empty and
    /// bad values are refused, naming the parameter.
    pub fn parse(raw: &str, parameters: &[&str]) -> Result<LogQuery, QueryError> {
        let mut query = LogQuery {
            since: None,
            before: None,
            limit: Self::DEFAULT_LIMIT,
        };
        let mut seen = BTreeSet::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let name = name.as_ref();
            if !parameters.contains(&name) {
                return Err(invalid(
                    name,
                    format!("unknown parameter; known: {}", parameters.join(", ")),
                ));
            }
            if !seen.insert(name.to_owned()) {
                return Err(invalid(name, "given more than once"));
            }
            let position = || {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|seq| *seq <= Self::MAX_POSITION)
                    .ok_or_else(|| {
                        invalid(
                            name,
                            format!(
                                "must be a log position: a whole number from 0 to {}",
                                Self::MAX_POSITION
                            ),
                        )
                    })
            };
            match name {
                "since" => query.since = Some(position()?),
                "before" => query.before = Some(position()?),
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=Self::MAX_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            invalid(name, format!("must be from 1 to {}", Self::MAX_LIMIT))
                        })?;
                }
                _ => unreachable!("every parameter a route names is parsed here"),
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_query_takes_only_what_its_route_names() {
        let both = ["since", "limit"];
        assert_eq!(
            LogQuery::parse("since=5&limit=7", &both).unwrap(),
            LogQuery {
                since: Some(5),
                before: None,
                limit: 7
            }
        );
        assert_eq!(
            LogQuery::parse("", &both).unwrap().limit,
            LogQuery::DEFAULT_LIMIT
        );
        for (raw, parameter) in [
            ("before=3", "before"),
            ("since=1&since=2", "since"),
            ("since=-1", "since"),
            ("since=", "since"),
            ("since=9223372036854775808", "since"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
        ] {
            assert_eq!(
                LogQuery::parse(raw, &both).unwrap_err().parameter,
                parameter,
                "{raw}"
            );
        }
    }

    #[test]
    fn kinds_read_back_as_written() {
        for kind in [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Deleted,
        ] {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(ChangeKind::parse("task.moved"), None);
    }

    #[test]
    fn a_log_continues_only_from_what_it_kept() {
        let log = |first_kept, head| ChangeLog {
            changes: Vec::new(),
            head,
            first_kept,
        };
        // Nothing pruned: every position from 0 to the head.
        assert!(log(1, 5).continues(0));
        assert!(log(1, 5).continues(5));
        assert!(!log(1, 5).continues(6));
        // 1 to 3 pruned: from 3 on (the next change, 4, is kept).
        assert!(!log(4, 5).continues(2));
        assert!(log(4, 5).continues(3));
        // Everything pruned: only the head itself.
        assert!(!log(6, 5).continues(4));
        assert!(log(6, 5).continues(5));
        // A fresh workspace.
        assert!(log(1, 0).continues(0));
    }
}
