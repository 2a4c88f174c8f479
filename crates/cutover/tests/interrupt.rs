//! Interruption against real SSH hosts (issue 11, point 3): SIGINT and SIGTERM during a deploy,
//! a rollback or a monitor finish or undo the step in flight, leave every host on one complete
//! release, journal `interrupted`, give the lock back and exit 130; a hook has a timeout; a hook
//! that leaves a background child does not hold the deploy or the lock.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use support::cli::{Project, Run, assert_complete, current};
use support::hosts::{MOUNT_POINT, SshHosts};
use support::wait_for;

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(".cutover/journal.jsonl")).unwrap_or_default();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("journal line")).collect()
}

/// The `interrupted` events of a host's journal.
fn interrupted_events(dir: &Path) -> Vec<serde_json::Value> {
    journal(dir).into_iter().filter(|e| e["event"] == "interrupted").collect()
}

/// Waits for `child` with a deadline; kills it and fails when it does not end. A process
/// ended by a signal gives minus the signal's number (never 130, which cutover must say itself).
fn finish(mut child: Child, what: &str, timeout: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            return status.code().unwrap_or_else(|| -status.signal().unwrap_or(0));
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
        let lock = hosts.deploy_dir(i).join(".cutover/lock");
        assert!(!lock.exists(), "h{i} still has a lock: {:?}", std::fs::read_to_string(&lock));
    }
}

/// A hook running past `[hooks] timeout` is stopped, the step fails naming host, hook and
/// timeout, and the deploy does what a failing before_switch hook does: nothing switches.
#[test]
fn a_hook_past_its_timeout_is_stopped_and_fails_the_deploy() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, "[hooks]\ntimeout = \"2s\"\nbefore_switch = [\"sleep 30\"]\n");
    let (run, took) = cutover_within(&project, &["deploy"], "timeout", Duration::from_secs(25));
    let run = run
        .code(1)
        .stderr_has("before_switch hook `sleep 30` failed on `h")
        .stderr_has("cutover: the hook did not finish within 2 s ([hooks] timeout) and was stopped");
    assert!(took < Duration::from_secs(15), "took {took:?}:\n{}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)), None, "h{i} switched");
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
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let hooks = "[hooks]\nbefore_switch = [\"sleep 300 >/dev/null 2>&1 &\", \"echo started; sleep 301 & echo left\"]\n\
                 after_switch = [\"nohup sleep 302 & printf no-newline\"]\n";
    let project = support::ssh_project(&hosts, hooks);
    let (run, took) = cutover_within(&project, &["deploy"], "background", Duration::from_secs(60));
    let run = run.ok();
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{}", run.stderr);
    for needle in ["started", "left", "no-newline"] {
        assert!(run.stderr.contains(needle), "hook output {needle:?} missing:\n{}", run.stderr);
    }
    for i in 1..=2 {
        assert_complete(&hosts.deploy_dir(i));
    }
    no_lock_left(&hosts, 2);
    // The next command needs no unlock.
    project.write("app/index.html", "v2\n");
    let (run, _) = cutover_within(&project, &["rollback"], "after", Duration::from_secs(30));
    run.code(1).stderr_has("nothing to roll back to");
}

/// A hook that, while `MOUNT_POINT/slow` exists on a host, says it started (`in-hook`) and waits
/// (at most 60 s) for `MOUNT_POINT/go`.
fn slow_hook() -> String {
    format!(
        "if [ -e {m}/slow ]; then touch {m}/in-hook; i=0; \
         while [ ! -e {m}/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi",
        m = MOUNT_POINT
    )
}

/// Makes the slow hook wait on hosts `1..=n`.
fn hold(hosts: &SshHosts, n: usize) {
    for i in 1..=n {
        for f in ["in-hook", "go"] {
            let _ = std::fs::remove_file(hosts.root(i).join(f));
        }
        std::fs::write(hosts.root(i).join("slow"), "").unwrap();
    }
}

/// Waits until the slow hook runs on hosts `1..=n`, signals `child`, then lets the hooks end.
fn signal_in_hook(hosts: &SshHosts, n: usize, child: &Child, signal: Signal, what: &str) {
    wait_for(format!("{what} in its hook"), Duration::from_secs(30), || {
        (1..=n).all(|i| hosts.root(i).join("in-hook").exists())
    });
    // Our child, not reaped yet: its pid is still its own.
    kill_process(Pid::from_child(child), signal).unwrap();
    for i in 1..=n {
        std::fs::remove_file(hosts.root(i).join("slow")).unwrap();
        std::fs::write(hosts.root(i).join("go"), "").unwrap();
    }
}

fn deploy(project: &Project, page: &str) -> String {
    project.write("app/index.html", &format!("{page}\n"));
    let run = project.cutover(&["deploy", "--json"]).ok();
    run.json()["release"].as_str().expect("release id").to_owned()
}

/// SIGINT or SIGTERM while a before_switch hook runs: the hook finishes, no host switches,
/// the release is journaled `interrupted`, the lock is given back, exit 130.
fn deploy_interrupted_before_the_switch(signal: Signal, name: &str) {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &format!("[hooks]\nbefore_switch = [\"{}\"]\n", slow_hook()));
    let r1 = deploy(&project, "v1");
    hold(&hosts, 2);
    project.write("app/index.html", "v2\n");
    let child = project.spawn(&["deploy"], "v2");
    signal_in_hook(&hosts, 2, &child, signal, "deploy v2");
    let code = finish(child, "the interrupted deploy", Duration::from_secs(30));
    let log = project.log("v2");
    assert_eq!(code, 130, "exit code; stderr:\n{log}");
    assert!(log.contains(&format!("interrupted by {name}")), "{log}");
    assert!(log.contains(&format!("every host is still on {r1}")), "{log}");
    for i in 1..=2 {
        let dir = hosts.deploy_dir(i);
        assert_eq!(assert_complete(&dir), r1, "h{i} is on its complete release");
        let events = interrupted_events(&dir);
        assert_eq!(events.len(), 1, "h{i}: {events:?}");
        let r2 = events[0]["release"].as_str().expect("the interrupted release");
        assert_ne!(r2, r1);
        assert!(events[0]["reason"].as_str().unwrap().contains("no host switched"), "{events:?}");
    }
    no_lock_left(&hosts, 2);
    // A following deploy needs no unlock.
    let r3 = deploy(&project, "v3");
    for i in 1..=2 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r3);
    }
}

#[test]
fn sigint_during_a_before_switch_hook_switches_no_host_and_gives_the_lock_back() {
    deploy_interrupted_before_the_switch(Signal::INT, "SIGINT");
}

#[test]
fn sigterm_during_a_before_switch_hook_switches_no_host_and_gives_the_lock_back() {
    deploy_interrupted_before_the_switch(Signal::TERM, "SIGTERM");
}

/// SIGTERM while an after_rollback hook runs: the switch in flight finished, every host is on
/// the release rolled back to, the journal says `interrupted`, the lock is given back, exit 130.
#[test]
fn sigterm_during_a_rollback_finishes_its_switch_and_gives_the_lock_back() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &format!("[hooks]\nafter_rollback = [\"{}\"]\n", slow_hook()));
    let r1 = deploy(&project, "v1");
    let _r2 = deploy(&project, "v2");
    hold(&hosts, 2);
    let child = project.spawn(&["rollback"], "rollback");
    signal_in_hook(&hosts, 2, &child, Signal::TERM, "rollback");
    let code = finish(child, "the interrupted rollback", Duration::from_secs(30));
    let log = project.log("rollback");
    assert_eq!(code, 130, "exit code; stderr:\n{log}");
    assert!(log.contains("interrupted by SIGTERM") && log.contains(&format!("every host is on {r1}")), "{log}");
    for i in 1..=2 {
        let dir = hosts.deploy_dir(i);
        assert_eq!(assert_complete(&dir), r1);
        let events = interrupted_events(&dir);
        assert_eq!(events.len(), 1, "h{i}: {events:?}");
        assert!(events[0]["reason"].as_str().unwrap().contains(&format!("every host is on {r1}")), "{events:?}");
    }
    no_lock_left(&hosts, 2);
    let r3 = deploy(&project, "v3");
    assert_eq!(assert_complete(&hosts.deploy_dir(1)), r3);
}

/// SIGINT while an after_switch hook runs: the switch is done, so the hooks finish and the
/// release stays live on every host (no checks to stop here), the journal says `interrupted`,
/// the lock is given back, exit 130.
#[test]
fn sigint_during_an_after_switch_hook_lets_the_switch_finish_on_every_host() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let hooks = format!("[hooks]\nafter_switch = [\"{}\", \"touch {MOUNT_POINT}/second-hook-ran\"]\n", slow_hook());
    let project = support::ssh_project(&hosts, &hooks);
    let r1 = deploy(&project, "v1");
    hold(&hosts, 2);
    for i in 1..=2 {
        let _ = std::fs::remove_file(hosts.root(i).join("second-hook-ran"));
    }
    project.write("app/index.html", "v2\n");
    let child = project.spawn(&["deploy"], "v2");
    signal_in_hook(&hosts, 2, &child, Signal::INT, "deploy v2");
    let code = finish(child, "the interrupted deploy", Duration::from_secs(30));
    let log = project.log("v2");
    assert_eq!(code, 130, "exit code; stderr:\n{log}");
    let r2 = assert_complete(&hosts.deploy_dir(1));
    assert_ne!(r2, r1);
    assert!(log.contains(&format!("{r2} is live on every host and its after_switch hooks ran")), "{log}");
    for i in 1..=2 {
        let dir = hosts.deploy_dir(i);
        assert_eq!(assert_complete(&dir), r2, "h{i}");
        assert!(hosts.root(i).join("second-hook-ran").exists(), "h{i}: after_switch did not finish");
        let events = interrupted_events(&dir);
        assert_eq!(events.len(), 1, "h{i}: {events:?}");
        assert!(events[0]["reason"].as_str().unwrap().contains(&format!("after {r2} went live")), "{events:?}");
    }
    no_lock_left(&hosts, 2);
    project.cutover(&["rollback"]).ok();
    assert_eq!(assert_complete(&hosts.deploy_dir(2)), r1);
}

/// A second SIGINT stops cutover at once, as a kill would (the README says so): the hook in
/// flight is not waited for, and `current` is still on a complete release everywhere.
#[test]
fn a_second_sigint_stops_at_once_and_current_stays_complete() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &format!("[hooks]\nbefore_switch = [\"{}\"]\n", slow_hook()));
    let r1 = deploy(&project, "v1");
    hold(&hosts, 2);
    project.write("app/index.html", "v2\n");
    let child = project.spawn(&["deploy"], "v2");
    wait_for("deploy v2 in its hook", Duration::from_secs(30), || {
        (1..=2).all(|i| hosts.root(i).join("in-hook").exists())
    });
    let pid = Pid::from_child(&child);
    kill_process(pid, Signal::INT).unwrap();
    wait_for("cutover to say it stops after the step in flight", Duration::from_secs(10), || {
        project.log("v2").contains("SIGINT: stopping once the step in flight")
    });
    kill_process(pid, Signal::INT).unwrap();
    // The hooks still wait for `go`: only a process that stopped at once ends now.
    let code = finish(child, "cutover after a second SIGINT", Duration::from_secs(10));
    assert_eq!(code, -2, "ended by the second SIGINT; stderr:\n{}", project.log("v2"));
    for i in 1..=2 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r1);
        std::fs::write(hosts.root(i).join("go"), "").unwrap();
    }
}
