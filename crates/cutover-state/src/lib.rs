//! `.cutover/state.db` next to `cutover.toml`: what happened on this machine. For now the audit
//! log of every command; gate results, attestations and monitor samples join it later.
//!
//! Migrations are append-only and tracked by `pragma user_version`; each is applied in one
//! transaction. The database is created with mode 0600 inside a 0700 directory.

mod error;
mod migrations;
mod store;

pub use error::StateError;
pub use store::{AuditEntry, State};

/// The directory, next to the config file, that holds local state. Never committed.
pub const DIR: &str = ".cutover";
