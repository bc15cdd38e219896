//! The command line: `tasklane serve`, `check`, `token` and `seed`, each with its own
//! options (kept beside the code that runs it); every option also reads a
//! `TASKLANE_*` environment variable. Errors in options name where a bad value came
//! from.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use tasklane_check::{CheckArgs, EXIT_STATUS};
use tasklane_server::config::ServeArgs;
use tasklane_server::startup::Application;
use tasklane_server::store::{DatabaseUrl, Opening, Storage};
use tasklane_server::telemetry::{self, LogFormat};
use tasklane_server::{errors, shutdown};

use crate::backup::{self, BackupArgs};
use crate::client::{self, LoginArgs, TaskArgs};
use crate::export::{self, ExportArgs};
use crate::import::{self, ImportArgs};
use crate::seed::{self, SeedArgs};
use crate::token::{self, TokenCommand};

/// Tasklane: a task-management API server whose cache never serves a stale task list.
#[derive(Debug, Parser)]
#[command(name = "tasklane", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses this process's command line, or exits with clap's usage error (status 2).
    /// Its messages name the fix: a bad value taken from the environment names the
    /// variable, not only the option it stands for, and `--port` points to `--listen`.
    pub fn from_env() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::try_parse_from(&args).unwrap_or_else(|error| explained(error, &args).exit())
    }
}

/// `error` with what clap cannot know: where a bad value came from, and what a
/// familiar but absent option is called here.
fn explained(mut error: clap::Error, args: &[OsString]) -> clap::Error {
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    // `--listen <ADDR>` or `--port`: the option itself.
    let option = invalid
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_owned();
    match error.kind() {
        ErrorKind::UnknownArgument if option == "--port" => {
            let tip = "the port is part of --listen: `tasklane serve --listen 127.0.0.1:9000` \
                       (or `--listen :9000`)";
            error.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![tip.into()]),
            );
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            if let Some(variable) = environment_source(&option, args) {
                error.insert(
                    ContextKind::InvalidArg,
                    ContextValue::String(format!("{variable}, which sets {option}")),
                );
            }
        }
        _ => {}
    }
    error
}

/// Who set `option`'s value, for a message about it: the environment variable that did
/// (`TASKLANE_DATABASE_URL, which sets --database-url`), or the option itself.
fn named_source(option: &str) -> String {
    let args: Vec<OsString> = std::env::args_os().collect();
    environment_source(option, &args).map_or_else(
        || option.to_owned(),
        |variable| format!("{variable}, which sets {option}"),
    )
}

/// The environment variable that supplied `option`'s value: the one behind it, when it
/// is set and the option is not on the command line.
fn environment_source(option: &str, args: &[OsString]) -> Option<String> {
    let given = args.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg == option || arg.starts_with(&format!("{option}=")))
    });
    if given {
        return None;
    }
    let command = Cli::command();
    let variable = command
        .get_subcommands()
        .flat_map(|sub| sub.get_subcommands().chain([sub]))
        .flat_map(|sub| sub.get_arguments())
        .filter(|arg| {
            arg.get_long()
                .is_some_and(|long| option == format!("--{long}"))
        })
        .find_map(|arg| arg.get_env())?
        .to_str()?
        .to_owned();
    std::env::var_os(&variable).map(|_| variable)
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (SQLite file and in-process cache by default: no set-up).
    Serve(ServeArgs),
    /// Check the freshness contract: drive concurrent clients against instances (started
    /// here, or live ones with --url), follow the change feed with subscribers, inject
    /// faults, and judge every read and every event; exits 1 on any violation, 2 when too
    /// few requests succeeded to judge.
    #[command(after_help = EXIT_STATUS)]
    Check(CheckArgs),
    /// Work with tasks on a server, from the terminal (`task add`, `task ls`, ...).
    #[command(after_help = client::EXIT_STATUS)]
    Task(TaskArgs),
    /// Store a server's URL and token for `tasklane task` (checked against the server
    /// first; the file is readable by you only).
    #[command(after_help = client::EXIT_STATUS)]
    Login(LoginArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Fill a database with realistic tasks spread over many workspaces (for
    /// benchmarks and trials), with a progress bar.
    Seed(SeedArgs),
    /// Write a workspace's tasks as JSON lines (every member, ids and versions), from
    /// the server's database.
    Export(ExportArgs),
    /// Load tasks into a workspace of the server's database: JSON lines from `export`
    /// (idempotent by id), or CSV with a header row.
    Import(ImportArgs),
    /// Copy a SQLite database, consistently, while the server runs.
    Backup(BackupArgs),
}

/// `--database-url` of a tool that works on the server's database (`token`, `seed`).
#[derive(Debug, Clone, Args)]
pub struct ServerDatabase {
    /// The database the server uses (as for `tasklane serve`); it must exist:
    /// `tasklane serve` creates it.
    #[arg(
        long = "database-url",
        env = "TASKLANE_DATABASE_URL",
        value_name = "URL",
        // Its value may hold a password: `--help` names the variable, never its value.
        hide_env_values = true,
        default_value = "sqlite://tasklane.db",
        value_parser = clap::value_parser!(DatabaseUrl)
    )]
    pub url: DatabaseUrl,
}

impl ServerDatabase {
    /// Opens it, without a statement time limit; an error names where the URL came
    /// from (the option, or the environment variable behind it).
    pub async fn open(&self, opening: Opening) -> anyhow::Result<Storage> {
        Storage::open(&self.url, opening, None)
            .await
            .context(named_source("--database-url"))
    }
}

/// A mistake in how a command was called that its options alone cannot show (a CSV-only
/// option given a JSON lines file): it exits with status 2, as clap's usage errors do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Misuse(pub String);

impl Command {
    /// Runs the command; the exit status says how it went.
    pub async fn run(self) -> ExitCode {
        // The terminal client has exit statuses of its own (see `client::EXIT_STATUS`).
        let command = match self {
            Command::Task(args) => return client::run(args).await,
            Command::Login(args) => return client::login(args).await,
            command => command,
        };
        let check = matches!(command, Command::Check(_));
        match command.execute().await {
            Ok(status) => status,
            Err(error) => {
                eprintln!("error: {}", errors::describe(error.as_ref()));
                // A check that could not run reached no verdict, which is not "violations".
                ExitCode::from(if check {
                    tasklane_check::EXIT_INCONCLUSIVE
                } else if error.is::<Misuse>() {
                    2
                } else {
                    1
                })
            }
        }
    }

    async fn execute(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Serve(args) => {
                telemetry::init(args.log_format, &args.log)?;
                Application::build(&args)
                    .await?
                    .run_until(shutdown::signal())
                    .await?;
            }
            Command::Token(command) => token::run(command).await?,
            Command::Task(_) | Command::Login(_) => unreachable!("run by `Command::run`"),
            Command::Seed(args) => {
                // A bulk load's statements (and the ANALYZE after it) are slow by nature;
                // sqlx's slow-statement warnings would only interleave with the progress bar.
                telemetry::init(LogFormat::Text, "warn,sqlx::query=error")?;
                seed::run(&args).await?;
            }
            Command::Export(args) => {
                let count = export::run(&args).await?;
                eprintln!(
                    "Exported {count} task(s) of `{}`{}",
                    args.workspace,
                    if count == 0 {
                        " (it holds none: is that the workspace's name?)"
                    } else {
                        ""
                    }
                );
            }
            Command::Import(args) => {
                let report = import::run(&args).await?;
                eprintln!("{}", report.summary(&args));
            }
            Command::Backup(args) => backup::run(&args).await?,
            Command::Check(args) => {
                telemetry::init(LogFormat::Text, "warn")?;
                // Interrupted (SIGINT or SIGTERM), the run is dropped: every process it
                // started is stopped.
                let mut out = std::io::stdout();
                let summary = tokio::select! {
                    summary = tasklane_check::run(&args, &mut out) => summary?,
                    () = shutdown::signal() => anyhow::bail!("interrupted"),
                };
                return Ok(ExitCode::from(summary.exit_status()));
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "pa55word";

    /// Debug output of a command line carries no password and no token secret, so a
    /// configuration printed whole (a log line, a panic) keeps them.
    #[test]
    fn options_printed_whole_show_no_secret() {
        let token = format!("tl_{}", "ab".repeat(32));
        let database = format!("postgres://tasklane:{PASSWORD}@db.internal:5432/tasklane");
        let redis = format!("redis://:{PASSWORD}@cache.internal:6379/0");
        let lines: [&[&str]; 5] = [
            &[
                "tasklane",
                "serve",
                "--database-url",
                &database,
                "--redis-url",
                &redis,
            ],
            &[
                "tasklane",
                "check",
                "--url",
                "http://10.0.0.5:8080",
                "--token",
                &token,
                "--redis-url",
                &redis,
            ],
            &["tasklane", "check", "--database-url", &database],
            &[
                "tasklane",
                "token",
                "create",
                "--workspace",
                "acme",
                "--database-url",
                &database,
            ],
            &["tasklane", "seed", "--database-url", &database],
        ];
        for line in lines {
            let shown = format!("{:?}", Cli::try_parse_from(line).unwrap());
            assert!(!shown.contains(PASSWORD), "{shown}");
            assert!(!shown.contains(&token[3..]), "{shown}");
        }
    }

    /// clap's own checks of the command line's definition (conflicts that name real
    /// options, no two options with one name, ...), which it runs only when asked.
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The terminal client's options after its subcommand, from the environment too.
    #[test]
    fn task_options_go_anywhere_and_come_from_the_environment() {
        let line = [
            "tasklane",
            "task",
            "ls",
            "--url",
            "http://h:1",
            "--status",
            "todo",
        ];
        let Command::Task(args) = Cli::try_parse_from(line).unwrap().command else {
            unreachable!("the command is `task`")
        };
        assert_eq!(args.remote.url.as_deref(), Some("http://h:1"));
        assert!(Cli::try_parse_from(["tasklane", "task", "ls", "--limit", "101"]).is_err());
        assert!(Cli::try_parse_from(["tasklane", "task", "ls", "--all", "--limit", "5"]).is_err());
        assert!(Cli::try_parse_from(["tasklane", "task", "ls", "--fields", "title,nope"]).is_err());
    }

    /// The change log's retention, in durations as people write them; when none is
    /// given, a week and a hundred thousand changes per workspace.
    #[test]
    fn serve_takes_the_retention_as_people_write_it() {
        let retention = |options: &[&str]| {
            let line = [&["tasklane", "serve"], options].concat();
            let Command::Serve(args) = Cli::try_parse_from(line).unwrap().command else {
                unreachable!("the command is `serve`")
            };
            args.retention()
        };
        let default = retention(&[]);
        assert_eq!(default.age, std::time::Duration::from_secs(7 * 86_400));
        assert_eq!(default.count.get(), 100_000);
        let given = retention(&[
            "--changes-retention",
            "12h",
            "--changes-retention-count",
            "500",
        ]);
        assert_eq!(given.age, std::time::Duration::from_secs(12 * 3_600));
        assert_eq!(given.count.get(), 500);
    }

    /// `--help` shows the value of an option's environment variable unless told not to:
    /// every variable that can hold a password or a token is hidden.
    #[test]
    fn help_shows_no_secret_from_the_environment() {
        const SECRET: [&str; 3] = [
            "TASKLANE_DATABASE_URL",
            "TASKLANE_REDIS_URL",
            "TASKLANE_TOKEN",
        ];
        fn visit(command: &clap::Command, seen: &mut usize) {
            for arg in command.get_arguments() {
                if arg
                    .get_env()
                    .is_some_and(|env| SECRET.iter().any(|s| env == *s))
                {
                    assert!(
                        arg.is_hide_env_values_set(),
                        "`{} --{}` shows its variable's value in --help",
                        command.get_name(),
                        arg.get_long().unwrap_or_default()
                    );
                    *seen += 1;
                }
            }
            command.get_subcommands().for_each(|sub| visit(sub, seen));
        }
        let mut seen = 0;
        visit(&Cli::command(), &mut seen);
        // serve's database and Redis, check's token, the database of token create, list
        // and revoke, seed, export, import and backup, and the token of task and login.
        assert_eq!(seen, 12);
    }
}
