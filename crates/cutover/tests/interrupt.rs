//! Interruption against real SSH hosts (issue 11, point 3): SIGINT and SIGTERM during a deploy,
//! a rollback or a monitor finish or undo the step in flight, leave every host on one complete
//! release, journal `interrupted`, give the lock back and exit 130; a hook has a timeout; a hook
//! that leaves a background child does not hold the deploy or the lock.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use support::cli::{Project, Run, assert_complete, current};
use support::hosts::SshHosts;

fn hosts(n: usize) -> Option<SshHosts> {
    support::require("sshd", SshHosts::available()).then(|| SshHosts::start(n))
}

fn project(hosts: &SshHosts, extra: &str) -> Project {
    let ssh = format!("[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n{extra}", hosts.config_path().display());
    Project::new(&hosts.aliases(), SshHosts::DEPLOY_PATH, &ssh, 5)
}

fn deploy_dir(hosts: &SshHosts, i: usize) -> PathBuf {
    hosts.root(i).join("app")
}

/// Waits for `child` with a deadline; kills it and fails when it does not end.
fn finish(mut child: Child, what: &str, timeout: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            return status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs cutover with `args` in the background and returns its run and how long it took, or
/// fails the test when it does not end within `timeout`.
fn cutover_within(project: &Project, args: &[&str], label: &str, timeout: Duration) -> (Run, Duration) {
    let start = Instant::now();
    let child = project.spawn(args, label);
    let code = finish(child, &format!("`cutover {}`", args.join(" ")), timeout);
    let took = start.elapsed();
    let read = |ext: &str| std::fs::read_to_string(project.path().join(format!("{label}.{ext}"))).unwrap_or_default();
    (Run { code, stdout: read("out"), stderr: read("err") }, took)
}

fn no_lock_left(hosts: &SshHosts, n: usize) {
    for i in 1..=n {
        let lock = deploy_dir(hosts, i).join(".cutover/lock");
        assert!(!lock.exists(), "h{i} still has a lock: {:?}", std::fs::read_to_string(&lock));
    }
}

/// A hook running past `[hooks] timeout` is stopped, the step fails naming host, hook and
/// timeout, and the deploy does what a failing before_switch hook does: nothing switches.
#[test]
fn a_hook_past_its_timeout_is_stopped_and_fails_the_deploy() {
    let Some(hosts) = hosts(2) else { return };
    let project = project(&hosts, "[hooks]\ntimeout = \"2s\"\nbefore_switch = [\"sleep 30\"]\n");
    let (run, took) = cutover_within(&project, &["deploy"], "timeout", Duration::from_secs(25));
    let run = run
        .code(1)
        .stderr_has("before_switch hook `sleep 30` failed on `h")
        .stderr_has("cutover: the hook did not finish within 2 s ([hooks] timeout) and was stopped");
    assert!(took < Duration::from_secs(15), "took {took:?}:\n{}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&deploy_dir(&hosts, i)), None, "h{i} switched");
    }
    no_lock_left(&hosts, 2);
    // The hook's `sleep` was killed with it: no `sleep 30` is left on the hosts.
    let left = std::process::Command::new("pgrep").args(["-f", "-x", "sleep 30"]).output().unwrap();
    assert!(left.stdout.is_empty(), "sleep 30 still runs: {}", String::from_utf8_lossy(&left.stdout));
}

/// A hook that leaves a background child, with or without its output redirected, does not
/// hold the deploy or the lock: the deploy goes on when the hook's own process ends, and the
/// hook's own output still arrives.
#[test]
fn a_hook_that_leaves_a_background_child_does_not_hold_the_deploy() {
    let Some(hosts) = hosts(2) else { return };
    let hooks = "[hooks]\nbefore_switch = [\"sleep 300 >/dev/null 2>&1 &\", \"echo started; sleep 301 & echo left\"]\n\
                 after_switch = [\"nohup sleep 302 & printf no-newline\"]\n";
    let project = project(&hosts, hooks);
    let (run, took) = cutover_within(&project, &["deploy"], "background", Duration::from_secs(60));
    let run = run.ok();
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{}", run.stderr);
    for needle in ["started", "left", "no-newline"] {
        assert!(run.stderr.contains(needle), "hook output {needle:?} missing:\n{}", run.stderr);
    }
    for i in 1..=2 {
        assert_complete(&deploy_dir(&hosts, i));
    }
    no_lock_left(&hosts, 2);
    // The next command needs no unlock.
    project.write("app/index.html", "v2\n");
    let (run, _) = cutover_within(&project, &["rollback"], "after", Duration::from_secs(30));
    run.code(1).stderr_has("nothing to roll back to");
}
