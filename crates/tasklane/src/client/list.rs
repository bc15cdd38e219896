//! `tasklane task ls`: the filters of `GET /v1/tasks` as options, a page (or, with
//! `--all`, every page, walked by cursor), printed as a table or as JSON.

use clap::Args;
use tasklane_client::encode;
use tasklane_server::domain::{CursorKey, ListQuery};

use super::Failure;
use super::due::{self, Local};
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
        let local = Local::get().map_err(|message| Failure::Local(anyhow::anyhow!(message)))?;
        let now = local.now();
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
                let bound = when
                    .bound(&local)
                    .map_err(|m| Failure::Usage(format!("--{}: {m}", name.replace('_', "-"))))?;
                push(name, &bound);
            }
        }
        // Days sent as dates are read by the server in the zone named beside them.
        if days && let Some(zone) = &local.name {
            push("tz", zone);
        }
        if let Some(text) = &self.search {
            push("q", text);
        }
        if let Some(sort) = &self.sort {
            push("sort", sort);
        }
        checked(query.join("&"))
    }
}

/// `query`, if the server's own rules accept it: a bad value is a usage error (exit
/// status 2) that names its option, found before any request.
pub(super) fn checked(query: String) -> Result<String, Failure> {
    ListQuery::parse(&query, &CursorKey::generate()).map_err(|error| {
        Failure::Usage(format!("{}: {}", option(&error.parameter), error.message))
    })?;
    Ok(query)
}

/// The option that sets a query parameter.
fn option(parameter: &str) -> String {
    match parameter {
        "status_not" => "--not-status".to_owned(),
        "q" => "--search".to_owned(),
        "tz" => "the local time zone (TZ)".to_owned(),
        name => format!("--{}", name.replace('_', "-")),
    }
}

/// `filters` and `more` as one query string.
fn joined(filters: &str, more: &str) -> String {
    if filters.is_empty() {
        more.to_owned()
    } else {
        format!("{filters}&{more}")
    }
}

pub(super) async fn run(server: &Server, args: ListArgs) -> Result<(), Failure> {
    let filters = args.query()?;
    let api = server.api();
    let tasks = if args.all {
        api.list_all(&joined(&filters, "limit=100&total=false"))
            .await?
    } else {
        let page = api
            .list(&joined(
                &filters,
                &format!("limit={}&total=false", args.limit),
            ))
            .await?;
        // On standard error: a script reading the tasks is not disturbed.
        if page.next_cursor.is_some() {
            eprintln!("(more tasks match: --all lists every one)");
        }
        page.data
    };
    output::print(&tasks, &args.format)
}
