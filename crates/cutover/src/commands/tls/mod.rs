//! `cutover tls …`: TLS certificates on the hosts.

pub mod issue;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Get a certificate for the environment's names by ACME (Let's Encrypt by default) and
    /// install it on every host; a trusted one with more than 30 days left is reused.
    Issue(issue::IssueArgs),
}
