//! The `cutover` binary: argument parsing, printing and exit codes.
//!
//! Commands are thin: each resolves its settings and calls one function of a library crate. Only this crate prints.

mod cli;
mod commands;
mod context;
mod demo;
mod error;
mod output;

use std::io::Write;

use clap::Parser;

pub use error::CliError;

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // A usage error, on stderr: a failed write there has nowhere to be told.
            let _ = e.print();
            return error::EXIT_USAGE;
        }
        Err(e) => {
            // `--help` and `--version` are data: written to stdout, checked like any other.
            return match e.print().and_then(|()| std::io::stdout().flush()) {
                Err(source) if source.kind() != std::io::ErrorKind::BrokenPipe => {
                    let err = CliError::Io { what: "failed to write to stdout".into(), source };
                    let _ = writeln!(std::io::stderr().lock(), "{}", output::error_text(&err));
                    err.exit_code()
                }
                _ => 0,
            };
        }
    };
    let out = output::Output::new(&cli.global);
    commands::run(cli, &out)
}
