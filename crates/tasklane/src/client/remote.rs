//! Which server the client talks to, with which token: `--url`/`TASKLANE_URL` and
//! `--token`/`TASKLANE_TOKEN`, else what `tasklane login` stored in the user's
//! configuration directory (`$XDG_CONFIG_HOME/tasklane/login.json` on Linux, readable
//! by its owner only), else `http://127.0.0.1:8080` without a token.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use tasklane_client::Api;
use tasklane_server::domain::TokenSecret;

use super::Failure;

/// The server when none is given or stored.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// `--url` and `--token`, for every command that talks to a server.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The server. Default: the one `tasklane login` stored, else http://127.0.0.1:8080.
    #[arg(long, env = "TASKLANE_URL", value_name = "URL", global = true, value_parser = parse_url)]
    pub url: Option<String>,

    /// The API token (`tl_` and 64 hexadecimal digits). Default: the one `tasklane
    /// login` stored, if the server is the one it was stored for; else none (for
    /// servers with `--auth none`).
    #[arg(long, env = "TASKLANE_TOKEN", value_name = "TOKEN", global = true,
          hide_env_values = true, value_parser = parse_token)]
    pub token: Option<TokenSecret>,
}

/// What `tasklane login` keeps.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    url: String,
    token: Option<String>,
}

/// A server to talk to, resolved.
#[derive(Debug, Clone)]
pub struct Server {
    /// Its base URL.
    pub url: String,
    /// The token sent, if any.
    pub token: Option<TokenSecret>,
}

impl Server {
    /// A client of it, for requests.
    pub fn api(&self) -> Api {
        Api::new(&self.url, self.token.as_ref())
    }

    /// A client of it, for event streams.
    pub fn streams(&self) -> Api {
        Api::for_streams(&self.url, self.token.as_ref())
    }
}

impl Remote {
    /// The server and token: given, else stored, else the defaults.
    pub fn resolve(&self) -> Result<Server, Failure> {
        // An empty `TASKLANE_URL=` (set and cleared in a shell) names no server.
        let given = self.url.clone().filter(|url| !url.is_empty());
        // Given both, the stored login is not needed (nor is a broken one in the way).
        let stored = match (&given, &self.token) {
            (Some(_), Some(_)) => None,
            _ => read_stored()?,
        };
        let url = given
            .or_else(|| stored.as_ref().map(|s| normalized(&s.url)))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        // A stored token goes only to the server it was stored for: another `--url`
        // must not receive it.
        let token = match (&self.token, &stored) {
            (Some(token), _) => Some(token.clone()),
            (
                None,
                Some(Stored {
                    token: Some(t),
                    url: stored_url,
                    ..
                }),
            ) if normalized(stored_url) == url => Some(parse_token(t).map_err(|e| {
                Failure::Local(anyhow::anyhow!(
                    "the stored login ({}): {e}",
                    path().display()
                ))
            })?),
            _ => None,
        };
        Ok(Server { url, token })
    }
}

/// `tasklane login` options.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// The server and the token to store.
    #[command(flatten)]
    pub remote: Remote,
}

/// Checks the server and token against the server, then stores them (mode 0600).
pub async fn login(args: LoginArgs) -> Result<(), Failure> {
    let server = Server {
        url: args
            .remote
            .url
            .clone()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned()),
        token: args.remote.token.clone(),
    };
    // A list read needs the token (on a server that asks for one) and names the
    // workspace's position: the cheapest request that proves both work.
    server.api().list("limit=1&total=false").await?;
    let stored = Stored {
        url: server.url.clone(),
        token: server.token.as_ref().map(|t| t.reveal().to_owned()),
    };
    let path = path();
    crate::private_file::replace(
        &path,
        &serde_json::to_vec_pretty(&stored).expect("serialises"),
    )
    .with_context(|| format!("storing the login in {}", path.display()))?;
    eprintln!("Logged in to {}; stored in {}", server.url, path.display());
    Ok(())
}

/// Where the login is kept.
fn path() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tasklane")
        .join("login.json")
}

fn read_stored() -> Result<Option<Stored>, Failure> {
    let path = path();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("reading the stored login {}", path.display()))
            .map_err(Failure::Local),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Failure::Local(
            anyhow::Error::new(error).context(format!("reading {}", path.display())),
        )),
    }
}

/// A `--url`: any spelling of a server's URL, as the one spelling that names it (so a
/// stored login is found whatever its URL's case or trailing slash); empty is none.
fn parse_url(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    tasklane_client::base_url(text)
}

/// A stored URL, as [`parse_url`] spells it (a login stored by an older release may
/// be spelled otherwise).
fn normalized(stored: &str) -> String {
    tasklane_client::base_url(stored).unwrap_or_else(|_| stored.to_owned())
}

/// A token secret as `tasklane token create` prints it.
pub fn parse_token(text: &str) -> Result<TokenSecret, String> {
    TokenSecret::presented(text)
        .ok_or_else(|| "expected a token secret: `tl_` and 64 hexadecimal digits".to_owned())
}
