//! Real servers for the tests of every cutover crate; never shipped.
//!
//! Started on loopback addresses of their own and stopped (by their pid) on drop: a test never talks to a mock where the product talks to a
//! server. Every server records whether this machine can run it; [`require`] decides whether a
//! test without it skips or fails.

// The testkit starts the servers it stands up and says when a test skips.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether a test that needs `service` should run.
///
/// Returns `true` when the service is available. When it is not, a test skips (this returns
/// `false` after saying so on stderr), unless `CUTOVER_REQUIRE_SERVICES=1` is set: CI sets it, so
/// a missing install step fails the run instead of silently skipping tests.
pub fn require(service: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CUTOVER_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{service} is not available, and CUTOVER_REQUIRE_SERVICES=1 requires it (set up with .ci/setup)");
    }
    eprintln!("skipping: {service} is not available (set up with .ci/setup)");
    false
}

/// A loopback address no other caller in this process gets, and unlikely to be used by another
/// test process: `127.X.Y.Z` from this process id and a counter. Linux routes all of 127/8 to
/// `lo`, so a server can bind it without any setup, and every test host gets its own address.
pub fn loopback_addr() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    // 127.<pid bits>.<pid bits ^ counter high>.<counter low>, never .0 or .255 at the end.
    let a = (pid % 250 + 2) as u8;
    let b = ((pid / 250) % 250) as u8 ^ ((n / 250) % 250) as u8;
    let c = (n % 250 + 2) as u8;
    Ipv4Addr::new(127, a, b, c)
}

/// Whether `program` is an executable file on `PATH` (or an existing absolute path).
pub fn on_path(program: &str) -> bool {
    if program.starts_with('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

pub mod certs;
pub mod dnsmasq;
pub mod http_app;
pub mod nginx;
pub mod pebble;
pub mod php;
pub mod php_fpm;
pub mod smtp;
pub mod webhook;

/// Whether this process runs as root (servers here bind port 53, add addresses to `lo`).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // `/proc/self` belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
