//! The `tasklane` command line: one binary for the server and the tools around it.
//!
//! - [`cli`]: the subcommands and their dispatch: `serve` runs the server library
//!   (crate `tasklane-server`), `check` the checker (crate `tasklane-check`);
//! - [`client`]: `tasklane task ...` and `tasklane login`, the terminal client;
//! - [`token`]: `tasklane token create`, API tokens into the server's database;
//! - [`seed`]: `tasklane seed`, a realistic dataset for benchmarks and trials;
//! - [`export`], [`import`], [`backup`]: a workspace out of the database and back
//!   (JSON lines, CSV), and a consistent copy of a SQLite database;
//! - [`private_file`]: the files those and `login` write, their owner's alone.
//!
//! Each subcommand's options live beside the code that runs it.

pub mod backup;
pub mod cli;
pub mod client;
pub mod export;
pub mod import;
pub mod private_file;
pub mod seed;
pub mod token;
