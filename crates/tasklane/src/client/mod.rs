//! `tasklane task ...` and `tasklane login`: the terminal client, over HTTP through the
//! typed API client (`tasklane-client`). One file per command group:
//!
//! - [`remote`]: which server and token (options, environment, `tasklane login`'s file);
//! - [`add`], [`list`], [`show`], [`edit`] (edit, done, start, rm, restore), [`watch`];
//! - [`ids`]: ids by unique prefix, and the short ids printed;
//! - [`due`]: `--due` and the date filters as people write them;
//! - [`output`]: tables that fit the terminal, JSON and JSON lines, colour or not.
//!
//! Exit statuses tell a script what happened without parsing a message: see
//! [`EXIT_STATUS`].

pub mod add;
pub mod due;
pub mod edit;
pub mod ids;
pub mod list;
pub mod output;
pub mod remote;
pub mod show;
pub mod watch;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tasklane_client::ApiError;

pub use remote::{LoginArgs, Remote};

/// A usage error: a bad option, an ambiguous id prefix.
pub const EXIT_USAGE: u8 = 2;
/// The server refused the request (its problem is printed), or named no such task.
pub const EXIT_REFUSED: u8 = 3;
/// The server could not be reached, or a write was sent and never answered.
pub const EXIT_UNREACHABLE: u8 = 4;

/// The exit statuses, as `--help` states them.
pub const EXIT_STATUS: &str = "Exit status: 0 done; 1 a local failure (a file, the \
configuration); 2 a usage error (a bad option or value, an ambiguous id prefix); 3 the \
server refused (its problem's title and detail are printed; a 412 shows what changed), \
or no task has that id; 4 the server could not be reached, or a write was sent and never \
answered (it may or may not have been applied).";

/// `tasklane task` and its options.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Which server, with which token.
    #[command(flatten)]
    pub remote: Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: TaskCommand,
}

/// `tasklane task` subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task; prints its short id.
    #[command(after_help = EXIT_STATUS)]
    Add(add::AddArgs),
    /// List tasks: a table that fits the terminal, or JSON for scripts.
    #[command(after_help = EXIT_STATUS)]
    Ls(list::ListArgs),
    /// Show one task.
    #[command(after_help = EXIT_STATUS)]
    Show(show::ShowArgs),
    /// Change a task (only if nobody changed it since it was read).
    #[command(after_help = EXIT_STATUS)]
    Edit(edit::EditArgs),
    /// Mark a task done.
    #[command(after_help = EXIT_STATUS)]
    Done(edit::IdArgs),
    /// Mark a task in progress.
    #[command(after_help = EXIT_STATUS)]
    Start(edit::IdArgs),
    /// Delete a task (`task restore` brings it back).
    #[command(after_help = EXIT_STATUS)]
    Rm(edit::IdArgs),
    /// Bring a deleted task back.
    #[command(after_help = EXIT_STATUS)]
    Restore(edit::RestoreArgs),
    /// Print each change to the workspace's tasks as it happens, until interrupted.
    #[command(after_help = EXIT_STATUS)]
    Watch(watch::WatchArgs),
}

/// Why a command failed, and so with which status it exits.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
    /// No task, or the server refused.
    #[error("{0}")]
    Refused(String),
    /// A call to the server failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Anything local.
    #[error(transparent)]
    Local(#[from] anyhow::Error),
    /// Whoever read the output stopped reading (`tasklane task ls | head`): not a
    /// failure, and nothing to say.
    #[error("the output was closed")]
    OutputClosed,
}

impl Failure {
    /// The exit status that tells a script what happened.
    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused(_) | Failure::Api(ApiError::Refused(_) | ApiError::Unexpected(_)) => {
                EXIT_REFUSED
            }
            Failure::Api(ApiError::Unreachable(_) | ApiError::Unanswered { .. }) => {
                EXIT_UNREACHABLE
            }
            Failure::Local(_) => 1,
            Failure::OutputClosed => 0,
        }
    }

    /// The message printed: a refusal's title and detail, an unreachable server's URL
    /// and cause.
    pub fn message(&self) -> String {
        match self {
            Failure::Api(ApiError::Refused(problem)) => {
                let field = problem
                    .field
                    .as_deref()
                    .map(|field| format!(" (field `{field}`)"))
                    .unwrap_or_default();
                format!(
                    "{} {}: {}{field}",
                    problem.status, problem.title, problem.detail
                )
            }
            Failure::Api(error) => tasklane_server::errors::describe(error),
            Failure::Local(error) => tasklane_server::errors::describe(error.as_ref()),
            other => other.to_string(),
        }
    }
}

/// Runs a `tasklane task` subcommand.
pub async fn run(args: TaskArgs) -> ExitCode {
    finish(execute(args).await)
}

/// Runs `tasklane login`.
pub async fn login(args: LoginArgs) -> ExitCode {
    finish(remote::login(args).await)
}

/// The exit status of an outcome, after printing what went wrong.
fn finish(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::OutputClosed) => ExitCode::SUCCESS,
        Err(failure) => {
            // A server's problem text, like every text from a server, is shown as
            // text: it cannot drive the terminal.
            let message = failure.message();
            let shown: Vec<String> = message.lines().map(output::printable).collect();
            eprintln!("error: {}", shown.join("\n"));
            ExitCode::from(failure.exit_status())
        }
    }
}

async fn execute(args: TaskArgs) -> Result<(), Failure> {
    let remote = args.remote.resolve()?;
    match args.command {
        TaskCommand::Add(add) => add::run(&remote, add).await,
        TaskCommand::Ls(list) => list::run(&remote, list).await,
        TaskCommand::Show(show) => show::run(&remote, show).await,
        TaskCommand::Edit(edit) => edit::edit(&remote, edit).await,
        TaskCommand::Done(id) => edit::set_status(&remote, id, "done").await,
        TaskCommand::Start(id) => edit::set_status(&remote, id, "in_progress").await,
        TaskCommand::Rm(id) => edit::remove(&remote, id).await,
        TaskCommand::Restore(id) => edit::restore(&remote, id).await,
        TaskCommand::Watch(watch) => watch::run(&remote, watch).await,
    }
}
