//! `tasklane export`: a workspace's tasks as JSON lines, one task a line with every
//! member (id, version, times included), in id order: what `tasklane import` loads
//! back. Read straight from the database, like `seed` and `token create`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tasklane_server::domain::{TaskId, Workspace};
use tasklane_server::store::Opening;

use crate::cli::ServerDatabase;

/// Tasks read per statement.
const PAGE: u32 = 1_000;

/// `tasklane export` options.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The workspace to export.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub workspace: Workspace,

    /// Write to this file instead of standard output (readable by its owner only).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The database to read.
    #[command(flatten)]
    pub database: ServerDatabase,
}

/// Writes the workspace's tasks; how many. A task whose row does not read back stops
/// the export, naming it: an export that left it out would lose it silently.
pub async fn run(args: &ExportArgs) -> anyhow::Result<u64> {
    let storage = args.database.open(Opening::Existing).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            crate::private_file::create(path)
                .with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut after: Option<TaskId> = None;
    let mut count = 0;
    loop {
        let page = storage
            .bulk
            .export(&args.workspace, after, PAGE)
            .await
            .context("reading the workspace's tasks")?;
        let full = page.len() == PAGE as usize;
        for task in page {
            let task = task.context("a stored task does not read back (fix or delete it first)")?;
            serde_json::to_writer(&mut out, &task)?;
            out.write_all(b"\n")?;
            after = Some(task.id);
            count += 1;
        }
        if !full {
            break;
        }
    }
    out.flush()?;
    Ok(count)
}
