//! Checks against live services, the ground the readiness and smoke stages stand on. Each check
//! talks to one server with a bounded time and returns what it saw as [`Finding`]s.

pub mod dns;
mod finding;
pub mod http;
pub mod monitor;
pub mod notify;
pub mod readiness;
pub mod thresholds;
pub mod tls;

pub use finding::{Finding, Status};
