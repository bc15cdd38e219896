//! The `tasklane` binary: parse the command line, set up logging, run.

use std::process::ExitCode;

use anyhow::Context;
use tasklane::config::{Cli, Command, TokenCommand, named_source};
use tasklane::domain::Member;
use tasklane::startup::{Application, open_existing};
use tasklane::store::issue;
use tasklane::telemetry::LogFormat;
use tasklane::{check, errors, seed, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::from_env();
    let check = matches!(cli.command, Command::Check(_));
    match run(cli).await {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: {}", errors::describe(error.as_ref()));
            // A check that could not run reached no verdict, which is not "violations".
            ExitCode::from(if check { check::EXIT_INCONCLUSIVE } else { 1 })
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            telemetry::init(args.log_format, &args.log)?;
            Application::build(&args)
                .await?
                .run_until(shutdown::signal())
                .await?;
        }
        Command::Token(TokenCommand::Create(args)) => {
            let member = Member::try_from(args.member)
                .map_err(|problem| anyhow::anyhow!("--member: {problem}"))?;
            let storage = open_existing(&args.database_url)
                .await
                .context(named_source("--database-url"))?;
            let (token, secret) = issue(&*storage.tokens, &args.workspace.scope(), member).await?;
            eprintln!(
                "Token {} for {} in workspace `{}`; its secret, shown this once:",
                token.id, token.member, token.workspace
            );
            println!("{}", secret.reveal());
        }
        Command::Seed(args) => {
            // A bulk load's statements (and the ANALYZE after it) are slow by nature;
            // sqlx's slow-statement warnings would only interleave with the progress bar.
            telemetry::init(LogFormat::Text, "warn,sqlx::query=error")?;
            seed::run(&args).await?;
        }
        Command::Check(args) => {
            telemetry::init(LogFormat::Text, "warn")?;
            // Interrupted, the run is dropped: every process it started is stopped.
            let mut out = std::io::stdout();
            let summary = tokio::select! {
                summary = check::run(&args, &mut out) => summary?,
                _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            };
            return Ok(ExitCode::from(summary.exit_status()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
