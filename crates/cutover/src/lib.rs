//! The `cutover` binary: argument parsing, printing and exit codes. Commands are thin: each
//! resolves its settings and calls one function of a library crate. Only this crate prints.

mod cli;
mod commands;
mod context;
mod demo;
mod error;
mod output;

use clap::Parser;

pub use error::CliError;

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { error::EXIT_USAGE } else { 0 };
        }
    };
    let out = output::Output::new(&cli.global);
    commands::run(cli, &out)
}
