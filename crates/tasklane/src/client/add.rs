//! `tasklane task add TITLE`: creates a task and prints its short id.

use std::io::Read;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value, json};
use tasklane_server::domain::{Priority, Status};

use super::due::{self, Local, When};
use super::remote::Server;
use super::{Failure, ids};

/// `task add` options.
#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// The title.
    pub title: String,

    /// low, medium (the server's default), high or urgent.
    #[arg(long, short, value_name = "P")]
    pub priority: Option<Priority>,

    /// A label; repeat for more.
    #[arg(long = "label", short, value_name = "L")]
    pub labels: Vec<String>,

    /// Who it is for.
    #[arg(long, short, value_name = "A")]
    pub assignee: Option<String>,

    /// When it is due: 2026-12-01 (the end of that day here), today, tomorrow, +3d,
    /// +2w, +4h, friday, or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub due: Option<String>,

    /// The description; `-` reads it from standard input.
    #[arg(long, short, value_name = "TEXT")]
    pub description: Option<String>,

    /// todo (the default), in_progress, blocked or done.
    #[arg(long, short, value_name = "S")]
    pub status: Option<Status>,
}

/// A description as given: `-` is standard input.
pub fn description(given: &str) -> Result<String, Failure> {
    if given != "-" {
        return Ok(given.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the description from standard input")?;
    Ok(text)
}

/// A `--due` value as the API takes it.
pub fn due_at(given: &str) -> Result<String, Failure> {
    let local = Local::get().map_err(|message| Failure::Local(anyhow::anyhow!(message)))?;
    let now = local.now();
    due::parse(given, &now)
        .and_then(|when: When| when.due(&local.zone))
        .map_err(|message| Failure::Usage(format!("--due: {message}")))
}

pub(super) async fn run(server: &Server, args: AddArgs) -> Result<(), Failure> {
    let mut body = Map::new();
    body.insert("title".into(), json!(args.title));
    if let Some(priority) = args.priority {
        body.insert("priority".into(), json!(priority));
    }
    if let Some(status) = args.status {
        body.insert("status".into(), json!(status));
    }
    if !args.labels.is_empty() {
        body.insert("labels".into(), json!(args.labels));
    }
    if let Some(assignee) = args.assignee {
        body.insert("assignee".into(), json!(assignee));
    }
    if let Some(due) = args.due {
        body.insert("due_at".into(), json!(due_at(&due)?));
    }
    if let Some(text) = args.description {
        body.insert("description".into(), json!(description(&text)?));
    }
    let api = server.api();
    let task = api.create(&Value::Object(body)).await?;
    // Ids that share a long prefix with the new one were created about when it was:
    // the newest tasks are the ones its short id must differ from.
    let newest = api.list("sort=-created_at&limit=100&total=false").await?;
    let mut ids: Vec<String> = newest.data.iter().map(|t| t.id.to_string()).collect();
    let id = task.id.to_string();
    if !ids.contains(&id) {
        ids.push(id.clone());
    }
    let shorts = ids::shortest(&ids);
    let short = ids
        .iter()
        .position(|other| *other == id)
        .map_or(id.clone(), |at| shorts[at].clone());
    super::output::emit(&format!("{short}\n"))?;
    Ok(())
}
