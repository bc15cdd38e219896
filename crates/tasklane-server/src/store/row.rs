//! How a task is kept as a `tasks` row, and read back: the one encoding both stores
//! use, the round trip every write passes before it is sent, and what a row that does
//! not read back becomes.
//!
//! A task once committed must be readable by every later request: one that is not
//! would answer `500` on every read of it, and of every list page holding it, on every
//! instance, for good. So a write first reads its task back from the exact row and the
//! exact response body it would become ([`storable`]) and is refused (`422`, nothing
//! committed) unless both equal it. A row that still does not read back, edited by hand
//! or written by an older version, decodes to an [`UnreadableTask`] naming it: its own
//! reads answer that problem, and lists leave it out and name it.

use sqlx::FromRow;

use super::StoreError;
use crate::domain::{
    Assignee, Description, Labels, Priority, SortKey, SortValue, Task, Timestamp, Title,
    UnreadableTask, parse_variant,
};

/// The columns of a [`TaskRow`], in `SELECT` order.
pub(super) const COLUMNS: &str = "id, title, description, status, priority, assignee, labels, due_at, created_at, updated_at, completed_at, version";

/// A `tasks` row as either database stores and returns it.
#[derive(Debug, Clone, FromRow)]
pub struct TaskRow {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) status: String,
    pub(super) priority: i64,
    pub(super) assignee: Option<String>,
    /// A JSON array, in the order given.
    pub(super) labels: String,
    pub(super) due_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) completed_at: Option<i64>,
    pub(super) version: i64,
    /// The workspace's log position, read in the same statement by a read that reports
    /// it (absent from every other `SELECT`).
    #[sqlx(default)]
    pub(super) seq: Option<i64>,
}

impl TaskRow {
    /// The row that stores `task`.
    pub(super) fn of(task: &Task) -> TaskRow {
        TaskRow {
            id: task.id.to_string(),
            title: task.title.clone(),
            description: task.description.clone(),
            status: task.status.as_str().to_owned(),
            priority: task.priority.rank(),
            assignee: task.assignee.clone(),
            labels: serde_json::to_string(&task.labels).expect("strings serialise"),
            due_at: task.due_at.map(Timestamp::as_micros),
            created_at: task.created_at.as_micros(),
            updated_at: task.updated_at.as_micros(),
            completed_at: task.completed_at.map(Timestamp::as_micros),
            version: task.version,
            seq: None,
        }
    }

    /// Where this row sits in `key`'s order, exactly as the database compares it (the
    /// columns of `ORDER BY`; `due_sort` puts no due date at [`SortKey::NO_DUE_DATE`]).
    pub(super) fn sort_value(&self, key: SortKey) -> SortValue {
        match key {
            SortKey::CreatedAt => SortValue::Int(self.created_at),
            SortKey::UpdatedAt => SortValue::Int(self.updated_at),
            SortKey::DueAt => SortValue::Int(self.due_at.unwrap_or(SortKey::NO_DUE_DATE)),
            SortKey::Priority => SortValue::Int(self.priority),
            SortKey::Title => SortValue::Text(self.title.clone()),
            SortKey::CompletedAt => {
                SortValue::Int(self.completed_at.unwrap_or(SortKey::NO_DUE_DATE))
            }
        }
    }
}

impl TryFrom<TaskRow> for Task {
    type Error = UnreadableTask;

    fn try_from(row: TaskRow) -> Result<Task, UnreadableTask> {
        let unreadable = |field: &'static str, reason: &str| UnreadableTask {
            id: row.id.clone(),
            field,
            reason: reason.to_owned(),
        };
        let time = |field, micros| {
            Timestamp::from_micros(micros).ok_or_else(|| {
                unreadable(
                    field,
                    &format!("holds {micros} µs, outside the years 1 to 9999"),
                )
            })
        };
        Ok(Task {
            id: row
                .id
                .parse()
                .map_err(|_| unreadable("id", "is not a UUID"))?,
            status: parse_variant(&row.status).map_err(|e: String| unreadable("status", &e))?,
            priority: Priority::from_rank(row.priority)
                .ok_or_else(|| unreadable("priority", "is not a rank from 0 to 3"))?,
            labels: serde_json::from_str::<Vec<String>>(&row.labels)
                .map_err(|_| "is not a JSON array of strings".to_owned())
                .and_then(Labels::try_from)
                .map_err(|e| unreadable("labels", &e))?
                .into_inner(),
            due_at: row.due_at.map(|due| time("due_at", due)).transpose()?,
            created_at: time("created_at", row.created_at)?,
            updated_at: time("updated_at", row.updated_at)?,
            completed_at: row
                .completed_at
                .map(|at| time("completed_at", at))
                .transpose()?,
            // Held to the rules a write is held to, so a hand-edited row that breaks
            // them is flagged, not served as if a client had written it.
            title: Title::try_from(row.title)
                .map_err(|e| unreadable("title", &e))?
                .into_inner(),
            description: Description::try_from(row.description)
                .map_err(|e| unreadable("description", &e))?
                .into_inner(),
            assignee: row
                .assignee
                .map(Assignee::try_from)
                .transpose()
                .map_err(|e| unreadable("assignee", &e))?
                .map(Assignee::into_inner),
            version: Some(row.version)
                .filter(|version| *version >= 1)
                .ok_or_else(|| unreadable("version", "is not 1 or more"))?,
        })
    }
}

/// Refuses a task that would not read back exactly as it is, from its row or from the
/// response body that serves it: the round trip of every write, before it is sent.
pub fn storable(task: &Task) -> Result<(), StoreError> {
    let from_row = Task::try_from(TaskRow::of(task)).map_err(StoreError::Unstorable)?;
    let body = serde_json::to_vec(task).map_err(|e| unstorable(task, "task", e.to_string()))?;
    let from_body: Task =
        serde_json::from_slice(&body).map_err(|e| unstorable(task, "task", e.to_string()))?;
    for (read, how) in [(from_row, "stored"), (from_body, "served")] {
        if read != *task {
            let field = first_difference(task, &read);
            return Err(unstorable(
                task,
                field,
                format!("would read back differently once {how}"),
            ));
        }
    }
    Ok(())
}

fn unstorable(task: &Task, field: &'static str, reason: String) -> StoreError {
    StoreError::Unstorable(UnreadableTask {
        id: task.id.to_string(),
        field,
        reason,
    })
}

/// The first member in which two tasks differ, by their JSON representations.
fn first_difference(a: &Task, b: &Task) -> &'static str {
    const MEMBERS: [&str; 12] = [
        "id",
        "title",
        "description",
        "status",
        "priority",
        "assignee",
        "labels",
        "due_at",
        "created_at",
        "updated_at",
        "completed_at",
        "version",
    ];
    let (a, b) = (serde_json::to_value(a), serde_json::to_value(b));
    let (Ok(a), Ok(b)) = (a, b) else {
        return "task";
    };
    MEMBERS
        .into_iter()
        .find(|member| a.get(member) != b.get(member))
        .unwrap_or("task")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewTask;

    fn task() -> Task {
        let new: NewTask = serde_json::from_value(serde_json::json!({
            "title": "t", "labels": ["a", "b"], "assignee": "ann",
            "due_at": "9999-12-31T23:59:59.999999Z"
        }))
        .unwrap();
        new.into_task(Timestamp::now())
    }

    #[test]
    fn a_valid_task_round_trips() {
        let task = task();
        storable(&task).unwrap();
        assert_eq!(Task::try_from(TaskRow::of(&task)), Ok(task));
    }

    #[test]
    fn a_row_that_does_not_read_back_names_its_task_and_member() {
        let task = task();
        let row = TaskRow::of(&task);
        let beyond = TaskRow {
            due_at: Some(Timestamp::MAX.as_micros() + 1),
            ..row.clone()
        };
        let error = Task::try_from(beyond).unwrap_err();
        assert_eq!((error.id, error.field), (task.id.to_string(), "due_at"));
        for (damage, field) in [
            (
                TaskRow {
                    labels: "[1]".to_owned(),
                    ..row.clone()
                },
                "labels",
            ),
            (
                TaskRow {
                    status: "doing".to_owned(),
                    ..row.clone()
                },
                "status",
            ),
            (
                TaskRow {
                    priority: 9,
                    ..row.clone()
                },
                "priority",
            ),
            (
                TaskRow {
                    created_at: i64::MIN,
                    ..row.clone()
                },
                "created_at",
            ),
            (
                TaskRow {
                    id: "x".to_owned(),
                    ..row
                },
                "id",
            ),
        ] {
            assert_eq!(Task::try_from(damage).unwrap_err().field, field);
        }
    }

    #[test]
    fn the_sort_value_of_no_due_date_is_after_every_date() {
        let mut task = task();
        let dated = TaskRow::of(&task).sort_value(SortKey::DueAt);
        task.due_at = None;
        assert!(dated < TaskRow::of(&task).sort_value(SortKey::DueAt));
    }
}
