//! The `tasklane` binary: parse the command line, run the command.

use std::process::ExitCode;

use tasklane::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    Cli::from_env().command.run().await
}
