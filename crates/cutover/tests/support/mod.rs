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

#[allow(unused_imports)]
pub use cutover_testkit::require;
