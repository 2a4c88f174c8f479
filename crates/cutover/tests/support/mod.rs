//! Shared support for the integration tests: real services (SSH hosts, ...) and the rule for
//! what a test does when one of them is not installed on this machine.
//!
//! Each test file includes it with `mod support;`, so items a given file does not use are
//! marked `#[allow(dead_code)]`.

#[allow(dead_code)]
pub mod cli;
#[allow(dead_code)]
pub mod hosts;
#[allow(dead_code)]
pub mod php;

/// Whether a test that needs `service` should run.
///
/// Returns `true` when the service is available. When it is not, a test skips (this returns
/// `false` after saying so on stderr), unless `CUTOVER_REQUIRE_SERVICES=1` is set: CI sets it, so
/// a missing install step fails the run instead of silently skipping tests.
#[allow(dead_code)]
pub fn require(service: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CUTOVER_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "{service} is not available, and CUTOVER_REQUIRE_SERVICES=1 requires it \
             (set up with .ci/setup)"
        );
    }
    eprintln!("skipping: {service} is not available (set up with .ci/setup)");
    false
}
