//! A task, the validated inputs that create and change one, and the merge-patch rules.
//!
//! Inputs are parsed straight into newtypes that can only hold valid values (`Title`,
//! `Labels`, ...), so a body that deserialises is a body that may be stored. Every rule
//! of the API reference lives here, once.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserializer, IntoDeserializer};
use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Timestamp;

/// A task's identity: a UUIDv7, so ids sort in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId(Uuid);

impl TaskId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        TaskId(Uuid::now_v7())
    }
}

impl FromStr for TaskId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(TaskId)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Where a task stands.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not started (the default).
    #[default]
    Todo,
    /// Being worked on.
    InProgress,
    /// Waiting on something else.
    Blocked,
    /// Finished.
    Done,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 4] = [
        Status::Todo,
        Status::InProgress,
        Status::Blocked,
        Status::Done,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Done => "done",
        }
    }
}

/// A set of statuses, small enough to copy: which statuses a write moved its task out
/// of and into, which are the parts of its workspace's generation it advances (see
/// "Partitions by status" in the cache's documentation).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusSet(u8);

impl StatusSet {
    /// No status.
    pub const NONE: StatusSet = StatusSet(0);
    /// Every status: what a write whose statuses are not known must count as.
    pub const ALL: StatusSet = StatusSet(0b1111);

    /// The set of `statuses`.
    pub fn of(statuses: impl IntoIterator<Item = Status>) -> Self {
        statuses
            .into_iter()
            .fold(StatusSet::NONE, |set, status| set.with(status))
    }

    /// This set and `status`.
    pub fn with(self, status: Status) -> Self {
        StatusSet(self.0 | 1 << status as u8)
    }

    /// Whether `status` is in the set.
    pub fn contains(self, status: Status) -> bool {
        self.0 & 1 << status as u8 != 0
    }

    /// The statuses in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Status> {
        Status::ALL
            .into_iter()
            .filter(move |status| self.contains(*status))
    }
}

/// How urgent a task is. Declared in rank order, which is also the sort order.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Least urgent.
    Low,
    /// The default.
    #[default]
    Medium,
    /// More urgent than most.
    High,
    /// Drop everything.
    Urgent,
}

impl Priority {
    /// Every priority, least urgent first.
    pub const BY_RANK: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// The stored form: 0 (low) to 3 (urgent), so that SQL sorts by urgency.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// The inverse of [`Priority::rank`]; `None` for a rank no priority has.
    pub fn from_rank(rank: i64) -> Option<Self> {
        usize::try_from(rank)
            .ok()
            .and_then(|i| Self::BY_RANK.get(i).copied())
    }
}

/// Reads a status or a priority from its wire spelling, a string, and nothing else:
/// serde's derived implementation would also take the map form (`{"done": null}`),
/// which is not the API's.
fn from_wire<'de, D, T>(
    deserializer: D,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Copy,
{
    let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
    all.iter()
        .copied()
        .find(|variant| spelling(*variant) == text)
        .ok_or_else(|| {
            let expected: Vec<String> = all
                .iter()
                .map(|variant| format!("`{}`", spelling(*variant)))
                .collect();
            serde::de::Error::custom(format!(
                "unknown variant `{text}`, expected one of {}",
                expected.join(", ")
            ))
        })
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_wire(deserializer, &Status::ALL, Status::as_str)
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_wire(deserializer, &Priority::BY_RANK, Priority::as_str)
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_variant(text)
    }
}

impl FromStr for Priority {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_variant(text)
    }
}

/// Parses a unit enum (`Status`, `Priority`) from its wire spelling, with serde's message
/// (`unknown variant `x`, expected one of ...`) on failure.
pub(crate) fn parse_variant<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, String> {
    T::deserialize(text.into_deserializer()).map_err(|e: serde::de::value::Error| e.to_string())
}

/// Checks a string's length in characters (Unicode scalar values) and content.
///
/// NUL characters are refused everywhere: PostgreSQL cannot store them in text, and a
/// task must read back exactly as it was written on either store.
pub(crate) fn checked(text: String, min: usize, max: usize) -> Result<String, String> {
    let chars = text.chars().count();
    if text.contains('\0') {
        Err("must not contain NUL characters".to_owned())
    } else if chars < min || chars > max {
        Err(if min == 0 {
            format!("must be at most {max} characters (got {chars})")
        } else {
            format!("must be {min} to {max} characters (got {chars})")
        })
    } else if min > 0 && text.chars().all(is_blank) {
        Err("must not be blank (only spaces or invisible characters)".to_owned())
    } else {
        Ok(text)
    }
}

/// Whether `c` shows nothing on its own: white space, a control character, a mark that
/// only decorates a base character (a combining accent on nothing), a blank that is a
/// glyph (the Braille pattern blank, the object replacement character), or a character
/// Unicode says to render as nothing when unsupported (`Default_Ignorable_Code_Point`:
/// zero-width spaces and joiners, direction marks, variation selectors, fillers, tags,
/// the BOM ...).
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || c.general_category_group() == GeneralCategoryGroup::Mark
        || matches!(c, '\u{2800}' | '\u{FFFC}')
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Declares a validated string newtype: deserialises from a string and is refused unless
/// its length (in characters) is within bounds.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            /// Smallest length, in characters.
            pub const MIN_CHARS: usize = $min;
            /// Largest length, in characters.
            pub const MAX_CHARS: usize = $max;

            /// The validated text.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                $crate::domain::task::checked(text, Self::MIN_CHARS, Self::MAX_CHARS).map($name)
            }
        }
    };
}

pub(crate) use bounded_text;

bounded_text!(
    /// A task's title, not blank.
    Title, 1, 500
);
bounded_text!(
    /// A task's description, possibly empty.
    Description, 0, 20_000
);
bounded_text!(
    /// Who a task is assigned to, not blank.
    Assignee, 1, 100
);

/// A task's labels: at most [`Labels::MAX_COUNT`] distinct strings of 1 to
/// [`Labels::MAX_CHARS`] characters, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Labels(Vec<String>);

impl Labels {
    /// Most labels a task may carry.
    pub const MAX_COUNT: usize = 20;
    /// Longest label, in characters.
    pub const MAX_CHARS: usize = 50;

    /// Validates one label (also used for the `label` list filter).
    pub fn check_one(label: String) -> Result<String, String> {
        checked(label, 1, Self::MAX_CHARS)
    }

    /// The validated labels.
    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

impl TryFrom<Vec<String>> for Labels {
    type Error = String;

    fn try_from(labels: Vec<String>) -> Result<Self, String> {
        if labels.len() > Self::MAX_COUNT {
            return Err(format!(
                "at most {} labels (got {})",
                Self::MAX_COUNT,
                labels.len()
            ));
        }
        let mut valid: Vec<String> = Vec::with_capacity(labels.len());
        for label in labels {
            let label = Self::check_one(label).map_err(|e| format!("each label {e}"))?;
            if valid.contains(&label) {
                return Err(format!("labels must be distinct (`{label}` appears twice)"));
            }
            valid.push(label);
        }
        Ok(Labels(valid))
    }
}

/// A task as stored and as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    /// Server-assigned UUIDv7.
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    /// Not blank.
    pub title: String,
    /// Possibly empty.
    pub description: String,
    /// Where the task stands.
    pub status: Status,
    /// How urgent it is.
    pub priority: Priority,
    /// Who it is assigned to, if anyone.
    #[schema(required = true)]
    pub assignee: Option<String>,
    /// Distinct labels, in the order given.
    pub labels: Vec<String>,
    /// When it is due (RFC 3339, UTC), if ever.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub due_at: Option<Timestamp>,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// When it entered `done` (set by the server; null while it is not done). Absent
    /// from states recorded before the member existed, which read as null.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub completed_at: Option<Timestamp>,
    /// 1 at creation, +1 on every change; the task's ETag.
    pub version: i64,
}

/// A stored task that does not read back as a valid [`Task`]: a row edited by hand, or
/// written by an older version that let an invalid value through. It names the task and
/// the member at fault, so that one task answers a problem and the rest of its workspace
/// stays readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task `{id}` is stored in a form this server cannot read back: `{field}` {reason}")]
pub struct UnreadableTask {
    /// The task's id, as stored.
    pub id: String,
    /// The member that does not read back.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// The body of `POST /v1/tasks`: a valid new task. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Required; not blank.
    #[schema(value_type = String)]
    pub title: Title,
    /// Default "".
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: Description,
    /// Default `todo`.
    #[serde(default)]
    pub status: Status,
    /// Default `medium`.
    #[serde(default)]
    pub priority: Priority,
    /// Not blank, or null (the default).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Assignee>,
    /// Distinct labels; default [].
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub labels: Labels,
    /// RFC 3339 timestamp, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z
    /// once in UTC, or null (the default).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
}

impl NewTask {
    /// The task this input creates at `now`: a fresh id, version 1.
    pub fn into_task(self, now: Timestamp) -> Task {
        Task {
            id: TaskId::generate(),
            title: self.title.into_inner(),
            description: self.description.into_inner(),
            status: self.status,
            priority: self.priority,
            assignee: self.assignee.map(Assignee::into_inner),
            labels: self.labels.into_inner(),
            due_at: self.due_at,
            created_at: now,
            updated_at: now,
            completed_at: (self.status == Status::Done).then_some(now),
            version: 1,
        }
    }
}

/// The body of `PATCH /v1/tasks/{id}`: a JSON merge patch (RFC 7396).
///
/// A member left out is unchanged; a member set to `null` is cleared (`assignee` and
/// `due_at` to null, `description` to "", `labels` to []). `title`, `status` and
/// `priority` cannot be cleared. Unknown members are refused.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    /// Not blank; cannot be null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub title: Option<Title>,
    /// Null clears it to "".
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<Description>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Status)]
    pub status: Option<Status>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Priority)]
    pub priority: Option<Priority>,
    /// Not blank; null unassigns.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<Assignee>>,
    /// Replaces all labels; null clears them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub labels: Option<Option<Labels>>,
    /// RFC 3339 timestamp, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z
    /// once in UTC; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Option<Timestamp>>,
}

/// A member that, when present, must hold a value (`null` is refused).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A member that, when present, may be `null` (`Some(None)`): merge patch's "clear".
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl TaskPatch {
    /// The task after this patch, or `None` when the patch changes nothing (then neither
    /// the version nor `updated_at` moves).
    pub fn apply(&self, task: &Task, now: Timestamp) -> Option<Task> {
        let mut next = task.clone();
        if let Some(title) = &self.title {
            next.title = title.0.clone();
        }
        if let Some(description) = &self.description {
            next.description = description.clone().unwrap_or_default().into_inner();
        }
        if let Some(status) = self.status {
            next.status = status;
        }
        if let Some(priority) = self.priority {
            next.priority = priority;
        }
        if let Some(assignee) = &self.assignee {
            next.assignee = assignee.clone().map(Assignee::into_inner);
        }
        if let Some(labels) = &self.labels {
            next.labels = labels.clone().unwrap_or_default().into_inner();
        }
        if let Some(due_at) = self.due_at {
            next.due_at = due_at;
        }
        if next == *task {
            return None;
        }
        next.version = task.version + 1;
        next.updated_at = now.max(task.updated_at);
        // Completion follows the status: set when the task enters `done`, kept while it
        // stays there, cleared when it leaves.
        next.completed_at = match (task.status, next.status) {
            (_, status) if status != Status::Done => None,
            (Status::Done, _) => task.completed_at,
            _ => Some(next.updated_at),
        };
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new_task(body: serde_json::Value) -> Result<NewTask, String> {
        serde_json::from_value(body).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_fill_everything_but_the_title() {
        let task = new_task(json!({"title": "Write docs"}))
            .unwrap()
            .into_task(Timestamp::now());
        assert_eq!(task.description, "");
        assert_eq!(
            (task.status, task.priority),
            (Status::Todo, Priority::Medium)
        );
        assert_eq!(
            (task.assignee, task.labels, task.due_at),
            (None, vec![], None)
        );
        assert_eq!(task.version, 1);
    }

    #[test]
    fn every_bound_is_enforced() {
        assert!(
            new_task(json!({}))
                .unwrap_err()
                .contains("missing field `title`")
        );
        assert!(
            new_task(json!({"title": ""}))
                .unwrap_err()
                .contains("1 to 500")
        );
        assert!(
            new_task(json!({"title": "   "}))
                .unwrap_err()
                .contains("blank")
        );
        for invisible in [
            "\u{200B}",
            "\u{FEFF}\u{200D} \u{2060}",
            "\u{3164}",
            "\u{E0041}",
            "\u{2800}",
            "\u{FFFC}",
            "\u{0301}\u{0301}",
            "\u{0001}\u{0007}",
            " \u{20DD} ",
        ] {
            assert!(
                new_task(json!({ "title": invisible }))
                    .unwrap_err()
                    .contains("blank"),
                "{invisible:?}"
            );
        }
        assert!(new_task(json!({"title": "\u{200B}a"})).is_ok());
        assert!(
            new_task(json!({"title": "e\u{0301}"})).is_ok(),
            "an accent on a letter"
        );
        assert!(new_task(json!({"title": "x".repeat(500)})).is_ok());
        assert!(new_task(json!({"title": "é".repeat(501)})).is_err());
        assert!(
            new_task(json!({"title": "a\u{0}b"}))
                .unwrap_err()
                .contains("NUL")
        );
        let long = "d".repeat(20_001);
        assert!(new_task(json!({"title": "t", "description": long})).is_err());
        assert!(new_task(json!({"title": "t", "assignee": ""})).is_err());
        assert!(new_task(json!({"title": "t", "assignee": "a".repeat(101)})).is_err());
        assert!(
            new_task(json!({"title": "t", "status": "doing"}))
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(new_task(json!({"title": "t", "priority": "ASAP"})).is_err());
        assert!(new_task(json!({"title": "t", "due_at": "tomorrow"})).is_err());
        assert!(
            new_task(json!({"title": "t", "id": "x"}))
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn labels_are_bounded_and_distinct() {
        let twenty: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
        assert!(new_task(json!({"title": "t", "labels": twenty})).is_ok());
        let twenty_one: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(new_task(json!({"title": "t", "labels": twenty_one})).is_err());
        assert!(
            new_task(json!({"title": "t", "labels": ["a", "a"]}))
                .unwrap_err()
                .contains("distinct")
        );
        assert!(new_task(json!({"title": "t", "labels": [""]})).is_err());
        assert!(new_task(json!({"title": "t", "labels": ["x".repeat(51)]})).is_err());
    }

    fn patch(body: serde_json::Value) -> Result<TaskPatch, String> {
        serde_json::from_value(body).map_err(|e| e.to_string())
    }

    #[test]
    fn merge_patch_sets_clears_and_leaves_alone() {
        let created = Timestamp::from_micros(1).unwrap();
        let task = new_task(json!({
            "title": "t", "description": "d", "assignee": "ann", "labels": ["x"],
            "due_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
        .into_task(created);
        let now = Timestamp::from_micros(2).unwrap();

        let next =
            patch(json!({"assignee": null, "labels": null, "description": null, "due_at": null}))
                .unwrap()
                .apply(&task, now)
                .unwrap();
        assert_eq!(
            (next.assignee, next.labels, next.description, next.due_at),
            (None, vec![], String::new(), None)
        );
        assert_eq!(
            (next.title.as_str(), next.version, next.updated_at),
            ("t", 2, now)
        );

        let retitled = patch(json!({"title": "u"}))
            .unwrap()
            .apply(&task, now)
            .unwrap();
        assert_eq!(
            (retitled.title.as_str(), retitled.assignee.as_deref()),
            ("u", Some("ann"))
        );
    }

    #[test]
    fn completion_follows_the_status() {
        let at = |micros| Timestamp::from_micros(micros).unwrap();
        let status = |s: &str| patch(json!({ "status": s })).unwrap();
        let open = new_task(json!({"title": "t"})).unwrap().into_task(at(1));
        assert_eq!(open.completed_at, None);
        let done = status("done").apply(&open, at(2)).unwrap();
        assert_eq!(done.completed_at, Some(at(2)));
        // Staying done keeps the time it was done at.
        let retitled = patch(json!({"title": "u"}))
            .unwrap()
            .apply(&done, at(3))
            .unwrap();
        assert_eq!(retitled.completed_at, Some(at(2)));
        let reopened = status("in_progress").apply(&retitled, at(4)).unwrap();
        assert_eq!(reopened.completed_at, None);
        let created_done = new_task(json!({"title": "t", "status": "done"}))
            .unwrap()
            .into_task(at(5));
        assert_eq!(created_done.completed_at, Some(at(5)));
    }

    #[test]
    fn a_patch_that_changes_nothing_is_not_a_change() {
        let task = new_task(json!({"title": "t"}))
            .unwrap()
            .into_task(Timestamp::from_micros(1).unwrap());
        assert!(
            patch(json!({}))
                .unwrap()
                .apply(&task, Timestamp::now())
                .is_none()
        );
        assert!(
            patch(json!({"title": "t", "status": "todo"}))
                .unwrap()
                .apply(&task, Timestamp::now())
                .is_none()
        );
    }

    #[test]
    fn required_members_cannot_be_cleared() {
        for member in ["title", "status", "priority"] {
            let err = patch(json!({ member: null })).unwrap_err();
            assert!(err.contains("invalid type: null"), "{member}: {err}");
        }
    }

    #[test]
    fn priority_rank_round_trips_and_orders_by_urgency() {
        for p in Priority::BY_RANK {
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert!(Priority::Low.rank() < Priority::Urgent.rank());
        assert_eq!(Priority::from_rank(4), None);
        assert_eq!(
            parse_variant::<Status>("in_progress"),
            Ok(Status::InProgress)
        );
        assert!(parse_variant::<Status>("nope").is_err());
    }
}
