//! `cutover config …`: the config file itself.

pub mod check;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config; errors point at file:line:col.
    Check(check::CheckArgs),
}
