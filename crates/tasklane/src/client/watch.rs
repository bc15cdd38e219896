//! `tasklane task watch`: each change to the workspace's tasks, printed as it
//! happens, from the change feed's event stream (`GET /v1/changes/stream`).
//!
//! It starts at the position a list read reflects (or `--since`), and after a cut
//! (the server restarting, the network, a `lagged` end) it reconnects with
//! `Last-Event-ID` set to the last change printed, so nothing is printed twice or
//! skipped. A `reset` (the position is older than the log keeps) is said on standard
//! error, and watching goes on from the log's head.

use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;
use tasklane_client::{Resume, encode};

use super::output::{emit, printable};
use super::remote::Server;
use super::{Failure, list};

/// How long to wait before reconnecting after a failure.
const RECONNECT: Duration = Duration::from_secs(1);

/// `task watch` options.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Only changes that leave a task in one of these statuses (comma list). Deletes
    /// are always shown.
    #[arg(long, value_name = "LIST")]
    pub status: Option<String>,

    /// Only changes that leave a task assigned to this person; repeat for several.
    #[arg(long = "assignee", short, value_name = "A")]
    pub assignees: Vec<String>,

    /// Only changes that leave a task carrying this label.
    #[arg(long = "label", short, value_name = "L")]
    pub labels: Vec<String>,

    /// Start after this log position (a list's `seq`) instead of now.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,

    /// Print each change as one line of JSON, as the API sends it.
    #[arg(long)]
    pub ndjson: bool,
}

impl WatchArgs {
    /// Checks the filters by the rules `task ls` holds them to.
    fn check(&self) -> Result<(), Failure> {
        let mut query: Vec<String> = Vec::new();
        if let Some(status) = &self.status {
            query.push(format!("status={}", encode(status)));
        }
        for assignee in &self.assignees {
            query.push(format!("assignee={}", encode(assignee)));
        }
        for label in &self.labels {
            query.push(format!("label={}", encode(label)));
        }
        list::checked(query.join("&")).map(drop)
    }

    /// Whether the change is one to print.
    fn shows(&self, change: &Value) -> bool {
        let task = &change["task"];
        if task.is_null() {
            return true;
        }
        let statuses: Vec<&str> = self.status.iter().flat_map(|s| s.split(',')).collect();
        let status_ok = statuses.is_empty() || statuses.iter().any(|s| task["status"] == *s);
        let assignee_ok = self.assignees.is_empty()
            || self
                .assignees
                .iter()
                .any(|a| task["assignee"] == a.as_str());
        let labels = task["labels"].as_array();
        let labels_ok = self
            .labels
            .iter()
            .all(|label| labels.is_some_and(|labels| labels.iter().any(|l| l == label.as_str())));
        status_ok && assignee_ok && labels_ok
    }
}

/// One change as a line of text.
fn line(change: &Value) -> String {
    let task = &change["task"];
    let text = |value: &Value| printable(value.as_str().unwrap_or("-"));
    let kind = text(&change["kind"]);
    format!(
        "{}  {:<12}  {}  v{}  {}  {}",
        change["seq"],
        kind.strip_prefix("task.").unwrap_or(&kind),
        text(&change["task_id"]),
        change["version"],
        if task.is_null() {
            "-".to_owned()
        } else {
            text(&task["status"])
        },
        if task.is_null() {
            String::new()
        } else {
            text(&task["title"])
        },
    )
}

pub(super) async fn run(server: &Server, args: WatchArgs) -> Result<(), Failure> {
    args.check()?;
    let api = server.streams();
    let mut from = match args.since {
        Some(since) => Resume::Since(since),
        None => Resume::Since(server.api().list("limit=1&total=false").await?.seq),
    };
    eprintln!("Watching {} after change {}", server.url, from.position());
    loop {
        let mut events = match api.stream(from).await {
            Ok(events) => events,
            // Refused (a revoked token, a bad position): no reconnection will help.
            Err(error @ tasklane_client::ApiError::Refused(_)) => return Err(error.into()),
            Err(error) => {
                eprintln!("({error}; retrying)");
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
        };
        while let Some(event) = events.next().await {
            let Ok(event) = event else { break };
            match event.event.as_str() {
                "reset" => {
                    let head: Value = serde_json::from_str(&event.data).unwrap_or_default();
                    let head = head["head"].as_u64().unwrap_or(0);
                    if head < from.position() {
                        eprintln!(
                            "(the log ends at change {head}, before {}; watching from {head})",
                            from.position()
                        );
                    } else {
                        eprintln!(
                            "(changes after {} are no longer kept; watching from {head})",
                            from.position()
                        );
                    }
                    from = Resume::Since(head);
                    break;
                }
                "lagged" => break,
                _ if event.data.is_empty() => {}
                _ => {
                    let Ok(change) = serde_json::from_str::<Value>(&event.data) else {
                        continue;
                    };
                    if let Some(seq) = change["seq"].as_u64() {
                        from = Resume::After(seq);
                    }
                    if args.shows(&change) {
                        if args.ndjson {
                            emit(&format!("{}\n", event.data))?;
                        } else {
                            emit(&format!("{}\n", line(&change)))?;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
