//! What a check run records: every operation a client performed, when it started and
//! ended (microseconds since the run began), what it asked and what it saw; every event
//! a subscriber received from the change feed, and when; every fault injected.
//! `--history FILE` writes it as JSON lines for offline analysis.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
/// What a write did to its task, as the change feed names it: the server's own type.
pub use tasklane_server::domain::ChangeKind;

/// A task as a client saw it: what the checks compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The task's id.
    pub id: String,
    /// Its version: 1 at creation, +1 on every change.
    pub version: i64,
    /// Its status (`todo`, `in_progress`, `blocked`, `done`).
    pub status: String,
    /// Its assignee.
    pub assignee: Option<String>,
}

/// The conditions of a list read that the checker can evaluate itself, to tell which
/// known tasks a complete list must contain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// Any of these statuses (empty: any).
    pub statuses: Vec<String>,
    /// None of these statuses (`status_not`).
    pub excluded: Vec<String>,
    /// Any of these assignees (`assignee`, repeated).
    pub assignees: Vec<String>,
    /// Tasks with no assignee match too (`unassigned=true`); with no assignee named,
    /// only they do.
    pub unassigned: bool,
}

impl Filter {
    /// Whether a task in this state belongs in the list.
    pub fn matches(&self, task: &Seen) -> bool {
        self.admits(&task.status, task.assignee.as_deref())
    }

    /// Whether a task with this status and assignee belongs in the list: all that
    /// [`Filter::matches`] looks at.
    pub fn admits(&self, status: &str, assignee: Option<&str>) -> bool {
        let status_ok = (self.statuses.is_empty() || self.statuses.iter().any(|s| s == status))
            && !self.excluded.iter().any(|s| s == status);
        let assignee_ok = (self.assignees.is_empty() && !self.unassigned)
            || match assignee {
                None => self.unassigned,
                Some(assignee) => self.assignees.iter().any(|a| a == assignee),
            };
        status_ok && assignee_ok
    }
}

/// What a client asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// `POST /v1/tasks`.
    Create {
        /// The new task's status.
        status: String,
        /// Its assignee.
        assignee: Option<String>,
    },
    /// `PATCH /v1/tasks/{id}` setting status and assignee.
    Update {
        /// The task.
        id: String,
        /// Its new status.
        status: String,
        /// Its new assignee.
        assignee: Option<String>,
    },
    /// `DELETE /v1/tasks/{id}`.
    Delete {
        /// The task.
        id: String,
    },
    /// `GET /v1/tasks/{id}`.
    Get {
        /// The task.
        id: String,
    },
    /// `GET /v1/tasks?{query}`.
    List {
        /// The query string sent.
        query: String,
        /// Its filters, as the checker evaluates them.
        filter: Filter,
    },
}

impl Request {
    /// The task a write or single read names (a create names none until it is answered).
    pub fn task(&self) -> Option<&str> {
        match self {
            Request::Update { id, .. } | Request::Delete { id } | Request::Get { id } => Some(id),
            Request::Create { .. } | Request::List { .. } => None,
        }
    }

    /// Whether this request changes data.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. } | Request::Update { .. } | Request::Delete { .. }
        )
    }
}

/// What the client got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A create or update was acknowledged (2xx); the task as it then was.
    Written {
        /// The task.
        task: Seen,
        /// The whole body, which the change feed's event must repeat.
        #[serde(skip)]
        body: serde_json::Value,
    },
    /// A delete was acknowledged (`204`).
    Deleted,
    /// The server answered that the task does not exist (`404`).
    Absent,
    /// A single read found the task.
    Found {
        /// The task.
        task: Seen,
    },
    /// A list read answered.
    Listed {
        /// The tasks on the page.
        tasks: Vec<Seen>,
        /// Whether the page holds every matching task (the first page, and no next one).
        complete: bool,
        /// The cursor of the next page, if there is one.
        next_cursor: Option<String>,
    },
    /// No acknowledgement: an error status, a timeout or a lost connection. A write
    /// that ends so is indeterminate: it may or may not have happened.
    Failed {
        /// What kind of failure, for the report's counts.
        cause: Cause,
        /// What went wrong, in full.
        reason: String,
        /// How long the server asked to be left alone (`Retry-After`), if it did;
        /// it paces the client, and is not part of the history.
        #[serde(skip)]
        retry_after: Option<Duration>,
    },
}

#[cfg(test)]
impl Outcome {
    /// A `503`: what the unit tests use for a write whose outcome is unknown.
    pub(crate) fn unavailable() -> Outcome {
        Outcome::Failed {
            cause: Cause::Status(503),
            reason: "503".to_owned(),
            retry_after: None,
        }
    }
}

impl Outcome {
    /// A create or update acknowledged with `body`; `Failed` as unreadable if the body
    /// is not a task.
    pub fn written(body: serde_json::Value) -> Outcome {
        match serde_json::from_value(body.clone()) {
            Ok(task) => Outcome::Written { task, body },
            Err(error) => Outcome::Failed {
                cause: Cause::Unreadable,
                reason: format!("an acknowledgement that is not a task: {error}"),
                retry_after: None,
            },
        }
    }
}

/// Why a request got no usable answer. The report counts failures by cause, and a run
/// in which too many requests failed judges too little to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// Nothing accepted the connection: no server at that address and port.
    Refused,
    /// No answer within the client's time limit.
    Timeout,
    /// Any other failure to connect or to read the answer (unknown host, connection
    /// reset or closed mid-answer).
    Connection,
    /// The server answered with this error status.
    Status(u16),
    /// A success status with a body that is not what the API answers.
    Unreadable,
}

impl Cause {
    /// Whether a write that failed so may still have been applied: anything but a
    /// refused connection (nothing was sent) or a `4xx` (the server refused it).
    pub fn may_have_applied(self) -> bool {
        match self {
            Cause::Refused => false,
            Cause::Status(code) => code >= 500,
            Cause::Timeout | Cause::Connection | Cause::Unreadable => true,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Refused => f.write_str("connection refused"),
            Cause::Timeout => f.write_str("timed out"),
            Cause::Connection => f.write_str("connection failed"),
            Cause::Status(code) => {
                let reason = reqwest::StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|status| status.canonical_reason());
                match reason {
                    Some(reason) => write!(f, "HTTP {code} {reason}"),
                    None => write!(f, "HTTP {code}"),
                }
            }
            Cause::Unreadable => f.write_str("unreadable answer"),
        }
    }
}

impl Serialize for Cause {
    /// As the report shows it: `connection refused`, `HTTP 503 Service Unavailable`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Which part of a scenario an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The concurrent workload (and its faults).
    Run,
    /// The read-back after the run, which must find every acknowledged write.
    ReadBack,
    /// Deleting the scenario's tasks once it is judged; not part of the history.
    Cleanup,
}

/// One operation, from the moment its request was sent to the moment its answer (or
/// failure) arrived.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// Which client performed it; a client performs one operation at a time.
    pub client: usize,
    /// Which instance it was sent to (an index into the instance list).
    pub instance: usize,
    /// Microseconds since the scenario began, when the request was sent.
    pub start_us: u64,
    /// Microseconds since the scenario began, when the answer arrived.
    pub end_us: u64,
    /// The part of the scenario it belongs to.
    pub phase: Phase,
    /// What was asked.
    #[serde(flatten)]
    pub request: Request,
    /// What came back.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Operation {
    /// An operation of client 0 on instance 0 in the run phase, lasting a microsecond:
    /// what the unit tests need when only the request and its outcome matter.
    #[cfg(test)]
    pub(crate) fn of(request: Request, outcome: Outcome) -> Operation {
        Operation {
            client: 0,
            instance: 0,
            start_us: 0,
            end_us: 1,
            phase: Phase::Run,
            request,
            outcome,
        }
    }

    /// The task this operation wrote or read singly, if known.
    pub fn task(&self) -> Option<&str> {
        match (&self.request, &self.outcome) {
            (Request::Create { .. }, Outcome::Written { task, .. }) => Some(&task.id),
            (request, _) => request.task(),
        }
    }

    /// Whether the write was acknowledged.
    pub fn acknowledged(&self) -> bool {
        matches!(self.outcome, Outcome::Written { .. } | Outcome::Deleted)
    }

    /// Whether the write is indeterminate: it got no acknowledgement, yet may have been
    /// applied.
    pub fn indeterminate(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { cause, .. } if cause.may_have_applied())
    }
}

/// A change as the feed sent it: an event's `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Its position in the workspace's log.
    pub seq: u64,
    /// What the write did.
    pub kind: ChangeKind,
    /// The task it did it to.
    pub task_id: String,
    /// The task's version after the write (for a delete: the version deleted).
    pub version: i64,
    /// The task as the write left it; none for a delete.
    pub task: Option<serde_json::Value>,
}

impl Change {
    /// The task's state as the checks compare it, if the change carries one.
    pub fn seen(&self) -> Option<Seen> {
        serde_json::from_value(self.task.clone()?).ok()
    }
}

/// One change a subscriber received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Which subscriber.
    pub subscriber: usize,
    /// The instance whose stream sent it.
    pub instance: usize,
    /// Microseconds since the scenario began, when it arrived.
    pub received_us: u64,
    /// The event's `id`, which must be the change's `seq`.
    pub id: String,
    /// The change.
    pub change: Change,
}

/// One event stream a subscriber held, from its request to its end.
#[derive(Debug, Clone, Serialize)]
pub struct Stream {
    /// Which subscriber.
    pub subscriber: usize,
    /// The instance it was opened on.
    pub instance: usize,
    /// Microseconds since the scenario began, when it was requested.
    pub start_us: u64,
    /// When it ended.
    pub end_us: u64,
    /// The position it asked to follow from (`?since=` or `Last-Event-ID`).
    pub after: u64,
    /// Whether the server answered with a stream at all.
    pub opened: bool,
    /// Why it ended (`stopped` for the scenario's own end).
    pub ended: String,
}

/// A fault injected during a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct FaultEvent {
    /// Microseconds since the scenario began.
    pub at_us: u64,
    /// What was done.
    pub fault: String,
}

/// The clock every record of one scenario is timed by.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        Clock(Instant::now())
    }

    /// Microseconds since the clock started.
    pub fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// Seconds, for reports: `1.234s`.
pub fn seconds(micros: u64) -> String {
    format!("{:.3}s", micros as f64 / 1e6)
}

impl std::fmt::Display for Operation {
    /// `client 3 on instance 1, PATCH /v1/tasks/{id} (status done), 1.234s-1.240s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.request {
            Request::Create { .. } => "POST /v1/tasks".to_owned(),
            Request::Update {
                id,
                status,
                assignee,
            } => format!(
                "PATCH /v1/tasks/{id} (status {status}, assignee {})",
                assignee.as_deref().unwrap_or("none")
            ),
            Request::Delete { id } => format!("DELETE /v1/tasks/{id}"),
            Request::Get { id } => format!("GET /v1/tasks/{id}"),
            Request::List { query, .. } => format!("GET /v1/tasks?{query}"),
        };
        write!(
            f,
            "client {} on instance {}, {what}, {}-{}",
            self.client,
            self.instance,
            seconds(self.start_us),
            seconds(self.end_us)
        )
    }
}
