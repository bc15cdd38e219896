//! The task domain: what a task is, what a valid input looks like, and what a list query
//! means. Everything here is plain data and pure functions; the HTTP layer parses into
//! these types and the stores and the cache only ever see valid values.

mod query;
mod scope;
mod task;
mod timestamp;

pub use query::{
    Cursor, Filter, ListQuery, Position, QueryError, Sort, SortKey, SortValue, TaskList,
};
pub use scope::Scope;
pub use task::{
    Assignee, Description, Labels, NewTask, Priority, Status, Task, TaskId, TaskPatch, Title,
};
pub use timestamp::Timestamp;

pub(crate) use task::parse_variant;
