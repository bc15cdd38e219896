//! The task domain: what a task is, what a valid input looks like, what a list query means,
//! and who a request acts for. Everything here is plain data and pure functions; the HTTP
//! layer parses into these types and the stores and the cache only ever see valid values.

mod account;
mod change;
mod cursor;
mod query;
mod task;
mod timestamp;
mod webhook;
mod workspace;

pub use account::{ApiToken, Member, NewToken, TokenSecret};
pub use change::{Change, ChangeKind, ChangeLog, LogQuery, TaskAt};
pub use cursor::{Cursor, CursorKey, SortValue};
pub use query::{
    Filter, ListQuery, PageRow, Position, QueryError, Sort, SortKey, StoredPage, TaskList,
    fold_case,
};
pub use task::{
    Assignee, Description, Labels, NewTask, Priority, Status, StatusSet, Task, TaskId, TaskPatch,
    Title, UnreadableTask,
};
pub use timestamp::Timestamp;
pub use webhook::{
    Attempt, EventKinds, NewWebhook, RequestedStatus, SigningSecret, Skipped, Webhook,
    WebhookDescription, WebhookPatch, WebhookStatus, WebhookUrl,
};
pub use workspace::Workspace;

pub(crate) use task::parse_variant;
