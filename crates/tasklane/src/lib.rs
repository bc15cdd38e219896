//! The `tasklane` command line: one binary for the server and the tools around it.
//!
//! - [`cli`]: the subcommands and their dispatch: `serve` runs the server library
//!   (crate `tasklane-server`), `check` the checker (crate `tasklane-check`);
//! - [`token`]: `tasklane token create`, API tokens into the server's database;
//! - [`seed`]: `tasklane seed`, a realistic dataset for benchmarks and trials.
//!
//! Each subcommand's options live beside the code that runs it.

pub mod cli;
pub mod seed;
pub mod token;
