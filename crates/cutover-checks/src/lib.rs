//! Checks against live services: DNS, TLS readiness, smoke checks, k6 thresholds, the monitor's judgement.
//!
//! The ground the readiness and smoke stages stand on. Each check talks to one server with a bounded time and returns what it saw as [`Finding`]s or samples:
//! DNS per server, TLS readiness per host, the smoke checks, k6 thresholds, and the monitor's
//! judgement of a round.

pub mod dns;
mod finding;
pub mod monitor;
pub mod readiness;
pub mod smoke;
pub mod thresholds;
pub mod tls;

pub use finding::{Finding, Status};
