//! `tasklane token`: API tokens, issued, listed and revoked straight in the server's
//! database.

use clap::{Args, Subcommand};
use tasklane_server::domain::{Member, Workspace};
use tasklane_server::store::{Opening, StoreError, issue};

use crate::cli::ServerDatabase;

/// `tasklane token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a member of a workspace (the workspace exists from its first
    /// token on) and print its secret, which is shown this once.
    Create(TokenCreateArgs),
    /// List a workspace's tokens (never their secrets): id, member, issue time.
    List(TokenListArgs),
    /// Revoke a token: requests with it are refused from then on, and its open event
    /// streams end within seconds.
    Revoke(TokenRevokeArgs),
}

/// `tasklane token list` options.
#[derive(Debug, Clone, Args)]
pub struct TokenListArgs {
    /// The workspace whose tokens to list.
    #[arg(long, value_name = "NAME")]
    pub workspace: Workspace,

    /// One JSON object per token, per line.
    #[arg(long)]
    pub ndjson: bool,

    /// The database to read.
    #[command(flatten)]
    pub database: ServerDatabase,
}

/// `tasklane token revoke` options.
#[derive(Debug, Clone, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (as `token create` and `token list` print it).
    pub id: uuid::Uuid,

    /// The workspace the token belongs to.
    #[arg(long, value_name = "NAME")]
    pub workspace: Workspace,

    /// The database to revoke it in.
    #[command(flatten)]
    pub database: ServerDatabase,
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
        TokenCommand::List(args) => list(args).await,
        TokenCommand::Revoke(args) => revoke(args).await,
    }
}

async fn list(args: TokenListArgs) -> anyhow::Result<()> {
    let storage = args.database.open(Opening::Existing).await?;
    let tokens = storage.tokens.list(&args.workspace).await?;
    for token in tokens {
        if args.ndjson {
            println!("{}", serde_json::to_string(&token)?);
        } else {
            println!("{}  {}  {}", token.id, token.created_at, token.member);
        }
    }
    Ok(())
}

async fn revoke(args: TokenRevokeArgs) -> anyhow::Result<()> {
    let storage = args.database.open(Opening::Existing).await?;
    match storage.tokens.revoke(&args.workspace, args.id).await {
        Err(StoreError::NotFound) => anyhow::bail!(
            "workspace `{}` has no token {} (see `tasklane token list`)",
            args.workspace,
            args.id
        ),
        outcome => outcome?,
    }
    eprintln!(
        "Revoked token {} of workspace `{}`",
        args.id, args.workspace
    );
    Ok(())
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
