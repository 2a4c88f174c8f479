//! `cutover db …`: database dumps.

pub mod rewrite;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Rewrite a dump from stdin to stdout: URLs (serialization-safe) and Laravel encrypted values.
    Rewrite(rewrite::RewriteArgs),
}
