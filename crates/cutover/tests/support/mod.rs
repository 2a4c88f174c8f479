//! Shared support for the integration tests: real services (SSH hosts, ...) and the rule for
//! what a test does when one of them is not installed on this machine.
//!
//! Each test file includes it with `mod support;`, so items a given file does not use are
//! marked `#[allow(dead_code)]`.

#[allow(dead_code)]
pub mod cli;
#[allow(dead_code)]
pub mod db;
#[allow(dead_code)]
pub mod hosts;
#[allow(dead_code)]
pub mod php;
#[allow(dead_code)]
pub mod stack;

#[allow(unused_imports)]
pub use cutover_testkit::require;

/// `n` SSH hosts where sshd is installed; `None` otherwise (a skip, which
/// `CUTOVER_REQUIRE_SERVICES=1` makes a failure).
#[allow(dead_code)]
pub fn ssh_hosts(n: usize) -> Option<hosts::SshHosts> {
    require("sshd", hosts::SshHosts::available()).then(|| hosts::SshHosts::start(n))
}

/// A project deploying to every one of `hosts` through their ssh config; `extra` is appended
/// to its config (hooks, more `[ssh]` keys, …).
#[allow(dead_code)]
pub fn ssh_project(hosts: &hosts::SshHosts, extra: &str) -> cli::Project {
    ssh_project_on(hosts, &hosts.aliases(), extra)
}

/// Like [`ssh_project`], production on `aliases` only (the other hosts left for staging, …).
#[allow(dead_code)]
pub fn ssh_project_on(hosts: &hosts::SshHosts, aliases: &[String], extra: &str) -> cli::Project {
    let ssh = format!("[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n{extra}", hosts.config_path().display());
    cli::Project::new(aliases, hosts::SshHosts::DEPLOY_PATH, &ssh, 5)
}

/// Polls `done` until it holds, failing the test with `what` (formatted only then) after
/// `timeout`: how a test waits for another process to reach a state, never a fixed sleep.
#[allow(dead_code)]
pub fn wait_for(what: impl std::fmt::Display, timeout: std::time::Duration, done: impl FnMut() -> bool) {
    wait_for_every(what, timeout, std::time::Duration::from_millis(20), done)
}

/// Like [`wait_for`], asking `done` at most once per `every`: for a state a server refreshes
/// only when nobody asked for a while (InnoDB's `INNODB_TRX`, after 100 ms without a reader).
#[allow(dead_code)]
pub fn wait_for_every(
    what: impl std::fmt::Display,
    timeout: std::time::Duration,
    every: std::time::Duration,
    mut done: impl FnMut() -> bool,
) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}

/// Waits for `child` to end, failing the test after `timeout`; its exit code (-1 if killed).
#[allow(dead_code)]
pub fn wait_exit(child: &mut std::process::Child, timeout: std::time::Duration) -> i32 {
    let mut code = None;
    wait_for("the child process to end", timeout, || {
        code = child.try_wait().expect("wait for the child").map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    code.expect("it ended")
}
