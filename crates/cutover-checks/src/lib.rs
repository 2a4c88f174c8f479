//! Checks against live services, the ground the readiness and smoke stages stand on. Each check
//! talks to one server with a bounded time and returns what it saw; deciding what that means for a
//! launch is the caller's job.

pub mod dns;
