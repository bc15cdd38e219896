//! `tasklane task ls`: the filters of `GET /v1/tasks` as options, a page (or, with
//! `--all`, every page, walked by cursor), printed as a table or as JSON.

use clap::Args;
use tasklane_client::encode;

use super::Failure;
use super::due;
use super::output::{self, Format};
use super::remote::Server;

/// `task ls` options.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only these statuses (comma list: todo,in_progress,blocked,done).
    #[arg(long, value_name = "LIST")]
    pub status: Option<String>,

    /// None of these statuses (`--not-status done`: everything open).
    #[arg(long, value_name = "LIST")]
    pub not_status: Option<String>,

    /// Only these priorities (comma list: low,medium,high,urgent).
    #[arg(long, value_name = "LIST")]
    pub priority: Option<String>,

    /// Assigned to this person; repeat for any of several.
    #[arg(long = "assignee", short, value_name = "A")]
    pub assignees: Vec<String>,

    /// Unassigned tasks (beside --assignee: theirs and nobody's).
    #[arg(long)]
    pub unassigned: bool,

    /// Carrying this label; repeat: carrying all of them.
    #[arg(long = "label", short, value_name = "L")]
    pub labels: Vec<String>,

    /// Due before (a day: before it starts, here): 2026-12-01, today, +3d, friday, or
    /// an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub due_before: Option<String>,

    /// Due at or after (a day: from its start, here).
    #[arg(long, value_name = "WHEN")]
    pub due_after: Option<String>,

    /// Completed before (a day: before it starts, here).
    #[arg(long, value_name = "WHEN")]
    pub completed_before: Option<String>,

    /// Completed at or after (a day: from its start, here).
    #[arg(long, value_name = "WHEN")]
    pub completed_after: Option<String>,

    /// Words in the title or description (case-insensitive).
    #[arg(long, short = 'q', value_name = "TEXT")]
    pub search: Option<String>,

    /// created_at (default), updated_at, due_at, priority, title or completed_at; a
    /// leading `-` for descending.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub sort: Option<String>,

    /// How many tasks at most (1 to 100).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100, conflicts_with = "all",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,

    /// Every matching task, page after page.
    #[arg(long)]
    pub all: bool,

    /// How to print them.
    #[command(flatten)]
    pub format: Format,
}

impl ListArgs {
    /// The query string of these filters and sort (no page, no limit).
    pub fn query(&self) -> Result<String, Failure> {
        let mut query: Vec<String> = Vec::new();
        let mut push = |name: &str, value: &str| query.push(format!("{name}={}", encode(value)));
        if let Some(status) = &self.status {
            push("status", status);
        }
        if let Some(status) = &self.not_status {
            push("status_not", status);
        }
        if let Some(priority) = &self.priority {
            push("priority", priority);
        }
        for assignee in &self.assignees {
            push("assignee", assignee);
        }
        if self.unassigned {
            push("unassigned", "true");
        }
        for label in &self.labels {
            push("label", label);
        }
        let now = jiff::Zoned::now();
        let mut days = false;
        for (name, given) in [
            ("due_before", &self.due_before),
            ("due_after", &self.due_after),
            ("completed_before", &self.completed_before),
            ("completed_after", &self.completed_after),
        ] {
            if let Some(given) = given {
                let when = due::parse(given, &now)
                    .map_err(|m| Failure::Usage(format!("--{}: {m}", name.replace('_', "-"))))?;
                days |= matches!(when, due::When::Day(_));
                push(name, &when.bound());
            }
        }
        // Days are read in the local zone by the server; without a name for it, UTC.
        if days && let Some(zone) = due::local_zone_name() {
            push("tz", &zone);
        }
        if let Some(text) = &self.search {
            push("q", text);
        }
        if let Some(sort) = &self.sort {
            push("sort", sort);
        }
        Ok(query.join("&"))
    }
}

pub(super) async fn run(server: &Server, args: ListArgs) -> Result<(), Failure> {
    let filters = args.query()?;
    let api = server.api();
    let tasks = if args.all {
        api.list_all(&format!("{filters}&limit=100&total=false"))
            .await?
    } else {
        let page = api
            .list(&format!("{filters}&limit={}&total=false", args.limit))
            .await?;
        // On standard error: a script reading the tasks is not disturbed.
        if page.next_cursor.is_some() {
            eprintln!("(more tasks match: --all lists every one)");
        }
        page.data
    };
    output::print(&tasks, &args.format)
}
