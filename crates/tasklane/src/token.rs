//! `tasklane token`: API tokens, issued straight into the server's database.

use clap::{Args, Subcommand};
use tasklane_server::domain::{Member, Workspace};
use tasklane_server::store::{Opening, issue};

use crate::cli::ServerDatabase;

/// `tasklane token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a member of a workspace (the workspace exists from its first
    /// token on) and print its secret, which is shown this once.
    Create(TokenCreateArgs),
}

/// `tasklane token create` options.
#[derive(Debug, Clone, Args)]
pub struct TokenCreateArgs {
    /// The workspace: 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter or a
    /// digit. Requests with the token act in it and see only its tasks.
    #[arg(long, value_name = "NAME")]
    pub workspace: Workspace,

    /// Who the token is for: 1 to 100 characters, not blank.
    #[arg(long, value_name = "NAME", default_value = "owner",
          value_parser = |name: &str| Member::try_from(name.to_owned()))]
    pub member: Member,

    /// The database to issue it in.
    #[command(flatten)]
    pub database: ServerDatabase,
}

/// Runs a `tasklane token` subcommand.
pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => create(args).await,
    }
}

async fn create(args: TokenCreateArgs) -> anyhow::Result<()> {
    let storage = args.database.open(Opening::Existing).await?;
    let (token, secret) = issue(&*storage.tokens, &args.workspace, args.member).await?;
    eprintln!(
        "Token {} for {} in workspace `{}`; its secret, shown this once:",
        token.id, token.member, token.workspace
    );
    println!("{}", secret.reveal());
    Ok(())
}
