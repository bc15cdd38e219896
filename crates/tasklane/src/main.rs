//! The `tasklane` binary: parse the command line, set up logging, run.

use clap::Parser;
use tasklane::config::{Cli, Command};
use tasklane::startup::Application;
use tasklane::{shutdown, telemetry};

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
    }
}
