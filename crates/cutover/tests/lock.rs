//! The deploy lock and how a rollback marks what it leaves, against real SSH hosts (issue 11,
//! points 2, 6 and 9): a stale lock of this machine never costs a rollback a second command; a
//! lock path that is not a regular file is refused; a deploy whose lock was broken stops before
//! switching and its half-built release is never removed by another; a release rolled back by
//! hand is `rolled back`, not `failed`, and `rollback --to` may return to it.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use support::cli::{Project, Run, current};
use support::hosts::{MOUNT_POINT, SshHosts};
use support::wait_for;

fn deploy(project: &Project, page: &str) -> String {
    project.write("app/index.html", &format!("{page}\n"));
    let run = project.cutover(&["deploy", "--json"]).ok();
    run.json()["release"].as_str().expect("release id").to_owned()
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(".cutover/journal.jsonl")).unwrap_or_default();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("journal line")).collect()
}

/// A `before_switch` hook that, while `MOUNT_POINT/slow` exists on a host, says it started
/// (`in-hook`) and waits (at most 60 s) for `MOUNT_POINT/go`.
fn slow_hook() -> String {
    format!(
        "[hooks]\nbefore_switch = [\"if [ -e {m}/slow ]; then touch {m}/in-hook; i=0; \
         while [ ! -e {m}/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi\"]\n",
        m = MOUNT_POINT
    )
}

/// Starts a deploy of `page` that stops in the slow hook on every host, and waits until it is there.
fn deploy_held_in_hook(hosts: &SshHosts, project: &Project, n: usize, page: &str) -> Child {
    for i in 1..=n {
        for f in ["in-hook", "go"] {
            let _ = std::fs::remove_file(hosts.root(i).join(f));
        }
        std::fs::write(hosts.root(i).join("slow"), "").unwrap();
    }
    project.write("app/index.html", &format!("{page}\n"));
    let child = project.spawn(&["deploy"], page);
    wait_for(format!("deploy {page} in its hook"), Duration::from_secs(30), || {
        (1..=n).all(|i| hosts.root(i).join("in-hook").exists())
    });
    for i in 1..=n {
        std::fs::remove_file(hosts.root(i).join("slow")).unwrap();
    }
    child
}

/// Waits for `child` with a deadline; kills it and fails when it does not end.
fn finish(mut child: Child, what: &str, timeout: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs cutover with `args` in the background and returns its run, or fails the test when it
/// does not end within `timeout` (a command that blocks on a fifo must fail, not hang the suite).
fn cutover_within(project: &Project, args: &[&str], label: &str, timeout: Duration) -> Run {
    let child = project.spawn(args, label);
    let code = finish(child, &format!("`cutover {}`", args.join(" ")), timeout);
    let read = |ext: &str| std::fs::read_to_string(project.path().join(format!("{label}.{ext}"))).unwrap_or_default();
    Run { code, stdout: read("out"), stderr: read("err") }
}

/// Point 2: a deploy killed after taking the lock leaves a stale lock of this machine. `deploy`
/// still refuses (saying it is stale and how to break it); `rollback` breaks it itself, journals
/// that, and rolls back in the same command. A lock of another machine still blocks it.
#[test]
fn rollback_breaks_a_stale_lock_of_this_machine_but_not_one_of_another() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &slow_hook());
    let r1 = deploy(&project, "v1");
    let r2 = deploy(&project, "v2");
    let mut killed = deploy_held_in_hook(&hosts, &project, 2, "v3");
    killed.kill().unwrap();
    killed.wait().unwrap();
    let lock = |i: usize| hosts.deploy_dir(i).join(".cutover/lock");
    let stale = std::fs::read_to_string(lock(2)).expect("the killed deploy's lock");

    project
        .cutover(&["deploy"])
        .code(3)
        .stderr_has("stale: that process is gone")
        .stderr_has("cutover unlock --reason");

    // Another machine's lock on h2: this machine cannot know that process is gone.
    let foreign = r#"{"user":"ana","machine":"elsewhere","pid":4242,"since":"2026-11-26T10:00:00Z","command":"cutover deploy","token":"elsewhere-4242-1"}"#;
    std::fs::write(lock(2), format!("{foreign}\n")).unwrap();
    project.cutover(&["rollback"]).code(3).stderr_has("held by ana@elsewhere").stderr_has("cutover unlock --reason");
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r2.as_str()), "host {i}");
        assert!(journal(&hosts.deploy_dir(i)).iter().all(|e| e["event"] != "unlock"), "host {i}: nothing broken");
    }
    assert!(lock(1).exists(), "h1's stale lock stays while another host's lock blocks the rollback");

    // Only stale locks of this machine: one command breaks them and rolls back.
    std::fs::write(lock(2), &stale).unwrap();
    let user = cutover_remote::Identity::current().user;
    project
        .cutover(&["rollback"])
        .ok()
        .stderr_has("broke the stale deploy lock")
        .stderr_has(&format!("rolled back production from {r2} to {r1} on 2 host(s)"));
    for i in 1..=2 {
        let dir = hosts.deploy_dir(i);
        assert_eq!(current(&dir).as_deref(), Some(r1.as_str()), "host {i}");
        assert!(!lock(i).exists(), "host {i}: the rollback gave its lock back");
        let events = journal(&dir);
        let unlock = events.iter().find(|e| e["event"] == "unlock").unwrap_or_else(|| panic!("host {i}: {events:?}"));
        let reason = unlock["reason"].as_str().unwrap();
        assert!(reason.contains("stale") && reason.contains("cutover deploy"), "{reason}");
        assert!(reason.contains(&format!("broken by {user}@")), "{reason}");
        assert_eq!(unlock["user"], user.as_str());
    }
}

/// Point 6: `.cutover/lock` as a directory (`ln` used to put the lock inside it, so every deploy
/// "held" it), a symlink to one, or a fifo (`cat` used to block on it) is refused, naming the
/// host and what the path is; nothing is written into it and no host changes.
#[test]
fn a_lock_path_that_is_not_a_regular_file_is_refused() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, "");
    let r1 = deploy(&project, "v1");
    let lock = hosts.deploy_dir(2).join(".cutover/lock");
    let elsewhere = hosts.root(2).join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let cases: [(&str, &dyn Fn()); 3] = [
        ("a directory", &|| std::fs::create_dir(&lock).unwrap()),
        ("a symlink", &|| std::os::unix::fs::symlink(format!("{MOUNT_POINT}/elsewhere"), &lock).unwrap()),
        ("a fifo", &|| {
            assert!(std::process::Command::new("mkfifo").arg(&lock).status().unwrap().success());
        }),
    ];
    for (what, make) in cases {
        make();
        project.write("app/index.html", "v2\n");
        let run = cutover_within(&project, &["deploy"], "deploy", Duration::from_secs(60));
        let run = run.code(3).stderr_has("`h2`").stderr_has(&format!(".cutover/lock` is {what}"));
        assert!(!run.stderr.contains("`h1`"), "{}", run.stderr);
        for i in 1..=2 {
            assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "{what}: host {i}");
        }
        assert!(!hosts.deploy_dir(1).join(".cutover/lock").exists(), "{what}: h1's lock was given back");
        let inside = |d: &Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
        assert_eq!(inside(&lock), 0, "{what}: nothing was written into it");
        assert_eq!(inside(&elsewhere), 0, "{what}: nothing was written where it points");
        cutover_within(&project, &["rollback"], "rollback", Duration::from_secs(60))
            .code(3)
            .stderr_has(&format!(".cutover/lock` is {what}"));
        let status = cutover_within(&project, &["status"], "status", Duration::from_secs(60)).ok();
        assert!(status.stdout.contains(&format!("is {what}")), "{what}: {}", status.stdout);
        let _ = std::fs::remove_dir(&lock).or_else(|_| std::fs::remove_file(&lock));
    }
    deploy(&project, "v2");
}

/// Point 6: `cutover unlock` while a deploy prepares, then a second deploy runs to the end. The
/// second never removes the first's half-built release; the first, its lock gone, stops before
/// switching any host and marks only its own release failed.
#[test]
fn a_deploy_whose_lock_was_broken_stops_before_switching() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &slow_hook());
    deploy(&project, "v1");
    let first = deploy_held_in_hook(&hosts, &project, 2, "first");
    let building = std::fs::read_link(hosts.deploy_dir(1).join("current")).unwrap();
    let releases = |i: usize| -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(hosts.deploy_dir(i).join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    };
    let first_id = releases(1).into_iter().find(|id| !building.ends_with(id)).expect("the first deploy's release");

    project.cutover(&["unlock", "--reason", "testing a broken lock"]).ok();
    let second = deploy(&project, "second");
    for i in 1..=2 {
        assert!(releases(i).contains(&first_id), "host {i}: the second deploy removed {first_id}, still being built");
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(second.as_str()));
    }

    for i in 1..=2 {
        std::fs::write(hosts.root(i).join("go"), "").unwrap();
    }
    let code = finish(first, "the first deploy", Duration::from_secs(60));
    let log = project.log("first");
    assert_eq!(code, 3, "{log}");
    assert!(log.contains("no longer holds the deploy lock"), "{log}");
    assert!(log.contains("no host was switched"), "{log}");
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(second.as_str()), "host {i}");
    }
    let rows = project.cutover(&["releases", "--json"]).ok().json();
    let row = |id: &str| rows.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(row(&first_id)["hosts"]["h1"], "failed", "{rows}");
    assert_eq!(row(&second)["hosts"]["h1"], "live", "{rows}");
    project.cutover(&["rollback"]).ok();
}

/// Point 6: the lock broken on one host only (an `unlock` that reached only `h2`): the deploy's
/// switch on `h1`, whose lock is still its own, goes through, `h2` refuses, and `h1` is put back,
/// so every host stays on the release it was on.
#[test]
fn a_deploy_whose_lock_was_broken_on_one_host_puts_the_other_back() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, &slow_hook());
    let r1 = deploy(&project, "v1");
    let running = deploy_held_in_hook(&hosts, &project, 2, "running");
    std::fs::remove_file(hosts.deploy_dir(2).join(".cutover/lock")).unwrap();
    for i in 1..=2 {
        std::fs::write(hosts.root(i).join("go"), "").unwrap();
    }
    let code = finish(running, "the deploy", Duration::from_secs(60));
    let log = project.log("running");
    assert_eq!(code, 3, "{log}");
    assert!(log.contains("no longer holds the deploy lock on `h2`"), "{log}");
    assert!(log.contains("`h1` had switched and went back"), "{log}");
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
        assert!(!hosts.deploy_dir(i).join(".cutover/lock").exists(), "host {i}: no lock left");
    }
    let rows = project.cutover(&["releases", "--json"]).ok().json();
    let failed = rows.as_array().unwrap().iter().find(|r| r["id"] != r1.as_str()).unwrap();
    assert_eq!(failed["hosts"]["h1"], "failed", "{rows}");
    assert_eq!(failed["hosts"]["h2"], "failed", "{rows}");
    deploy(&project, "v3");
}

/// Point 9: `cutover rollback` marks the release it leaves `rolled back` (who, and why when
/// `--reason` says), not `failed`; the default rollback never goes to it, `--to` may (rolling
/// forward again), and `status`/`releases` show it.
#[test]
fn a_release_rolled_back_by_hand_is_rolled_back_and_can_be_rolled_forward() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = support::ssh_project(&hosts, "");
    let r1 = deploy(&project, "v1");
    let r2 = deploy(&project, "v2");
    let r3 = deploy(&project, "v3");
    let user = cutover_remote::Identity::current().user;
    let row = |id: &str| {
        let rows = project.cutover(&["releases", "--json"]).ok().json();
        rows.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("{id}: {rows}"))
    };

    project.cutover(&["rollback"]).ok().stderr_has(&format!("from {r3} to {r2}"));
    let r3_row = row(&r3);
    assert_eq!(r3_row["hosts"]["h1"], "rolled_back", "{r3_row}");
    assert_eq!(r3_row["hosts"]["h2"], "rolled_back", "{r3_row}");
    let why = r3_row["rolled_back"].as_str().unwrap_or_default();
    assert!(why.contains(&format!("rolled back by {user}@")), "{r3_row}");
    assert!(r3_row["failure"].is_null(), "{r3_row}");
    let text = project.cutover(&["releases"]).ok().stdout;
    let line = text.lines().find(|l| l.starts_with(&r3)).unwrap();
    assert!(line.contains("rolled back") && !line.contains("failed"), "{text}");
    let status = project.cutover(&["status"]).ok().stdout;
    assert!(status.contains(&format!("{r3} rolled back")), "{status}");

    // The default target skips it (r3 was live after r2, so it would be next); `--reason` is kept.
    project.cutover(&["rollback", "--reason", "the banner is wrong"]).ok().stderr_has(&format!("from {r2} to {r1}"));
    let why = row(&r2)["rolled_back"].as_str().unwrap_or_default().to_owned();
    assert!(why.contains("the banner is wrong") && why.contains(&format!("{user}@")), "{why}");

    // `--to` rolls forward to it; then nothing is left for the default target.
    project.cutover(&["rollback", "--to", &r3]).ok().stderr_has(&format!("from {r1} to {r3}"));
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r3.as_str()), "host {i}");
    }
    assert_eq!(row(&r3)["hosts"]["h1"], "live");
    assert_eq!(row(&r1)["hosts"]["h1"], "rolled_back");
    project.cutover(&["rollback"]).code(1).stderr_has("nothing to roll back to").stderr_has("--to");
    let events = journal(&hosts.deploy_dir(1));
    let marked = events.iter().rev().find(|e| e["release"] == r1.as_str() && e["event"] == "rolled_back");
    assert!(marked.is_some_and(|e| e["user"] == user.as_str()), "{events:?}");
}

/// Point 9: an automatic rollback (a failing `after_switch` hook) still marks the release failed.
#[test]
fn an_automatic_rollback_still_marks_the_release_failed() {
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let extra = format!("[hooks]\nafter_switch = [\"test ! -e {MOUNT_POINT}/fail\"]\n");
    let project = support::ssh_project(&hosts, &extra);
    let r1 = deploy(&project, "v1");
    std::fs::write(hosts.root(1).join("fail"), "").unwrap();
    project.write("app/index.html", "v2\n");
    project.cutover(&["deploy"]).code(5);
    assert_eq!(current(&hosts.deploy_dir(1)).as_deref(), Some(r1.as_str()));
    let rows = project.cutover(&["releases", "--json"]).ok().json();
    let r2 = rows.as_array().unwrap().iter().find(|r| r["id"] != r1.as_str()).unwrap();
    assert_eq!(r2["hosts"]["h1"], "failed", "{rows}");
    let r2 = r2["id"].as_str().unwrap();
    project.cutover(&["rollback", "--to", r2]).code(1).stderr_has("a failed release is never a rollback target");
}
