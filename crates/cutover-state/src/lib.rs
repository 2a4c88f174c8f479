//! The local state next to `cutover.toml`: `.cutover/state.db` (SQLite).
//!
//! What happened on this machine: the audit log of every command, each gated stage's verdict
//! with its evidence, each environment's launch path and its changes, attestations, secret rotations, and the monitors with their rounds and samples.
//!
//! Migrations are append-only and tracked by `pragma user_version`; each is applied in one
//! transaction. The database is created with mode 0600 inside a 0700 directory.

mod attestations;
mod error;
mod migrations;
mod monitor;
mod paths;
mod store;

pub use attestations::Attestation;
pub use error::StateError;
pub use monitor::{MonitorRecord, RoundRow, RoundStats, SampleRow};
pub use paths::PathChoice;
pub use store::{AuditEntry, GateRecord, Rotation, State};

/// The directory, next to the config file, that holds local state. Never committed.
pub const DIR: &str = ".cutover";
