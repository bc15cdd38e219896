//! The `tasklane` binary: parse the command line, set up logging, run.

use clap::Parser;
use tasklane::config::{Cli, Command};
use tasklane::startup::Application;
use tasklane::telemetry::LogFormat;
use tasklane::{check, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            telemetry::init(args.log_format, &args.log)?;
            Application::build(&args)
                .await?
                .run_until(shutdown::signal())
                .await
        }
        Command::Check(args) => {
            telemetry::init(LogFormat::Text, "warn")?;
            // Interrupted, the run is dropped: every process it started is stopped.
            let mut out = std::io::stdout();
            let summary = tokio::select! {
                summary = check::run(&args, &mut out) => summary?,
                _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            };
            if summary.violations() > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
