//! Structured logging, set up once per process, at start.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. `filter` uses `tracing`'s `EnvFilter` syntax
/// (`info`, `tasklane=debug,tower_http=info`).
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        // The request's span once (`span`), not again in the list of every span
        // (`spans`): a request has one.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
    }
    .map_err(|e| anyhow::anyhow!(e))
}

/// Colours only for a person at a terminal, never into a file or a pipe, and not when
/// `NO_COLOR` is set (non-empty, <https://no-color.org>): `with_ansi` overrides the
/// library's own reading of it.
fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
