//! Self-test of the SSH test hosts in `support::hosts`: the other integration tests rely on each
//! host having its own filesystem at the deploy path, and on `dead` and `badkey` failing.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::hosts::{MOUNT_POINT, SshHosts};

fn ssh(hosts: &SshHosts, alias: &str, command: &str) -> Output {
    Command::new("ssh")
        .arg("-F")
        .arg(hosts.config_path())
        .args(["-o", "BatchMode=yes", alias, command])
        .stdin(Stdio::null())
        .output()
        .expect("run ssh")
}

#[track_caller]
fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}): stdout {:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

#[test]
fn each_host_has_its_own_filesystem_at_the_mount_point() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    let hosts = SshHosts::start(3);
    assert_eq!(hosts.aliases(), ["h1", "h2", "h3"]);
    assert!(SshHosts::DEPLOY_PATH.starts_with(MOUNT_POINT));

    for i in 1..=3 {
        let out = ssh(&hosts, &hosts.alias(i), "echo hi > /srv/cutover-test/marker; hostname");
        assert_ok(&out, &format!("ssh h{i}"));
        assert!(!out.stdout.is_empty(), "h{i}: hostname printed nothing");
        let marker = hosts.root(i).join("marker");
        assert_eq!(fs::read_to_string(&marker).unwrap_or_else(|e| panic!("{}: {e}", marker.display())), "hi\n");
    }

    let only_h1 = unique("only-h1");
    let out = ssh(&hosts, "h1", &format!("touch /srv/cutover-test/{only_h1}"));
    assert_ok(&out, "ssh h1 touch");
    assert!(hosts.root(1).join(&only_h1).exists());
    assert!(!hosts.root(2).join(&only_h1).exists(), "h1's write is visible on h2");
    assert!(!hosts.root(3).join(&only_h1).exists(), "h1's write is visible on h3");
    assert!(!Path::new(MOUNT_POINT).join(&only_h1).exists(), "h1's write leaked into the test's own {MOUNT_POINT}");

    // The deploy path a config names is root(i)/app on host i.
    let out = ssh(&hosts, "h2", &format!("mkdir -p {}", SshHosts::DEPLOY_PATH));
    assert_ok(&out, "ssh h2 mkdir");
    assert!(hosts.deploy_dir(2).is_dir());
    assert!(!hosts.deploy_dir(1).exists());
}

#[test]
fn dead_host_times_out_and_badkey_fails_verification() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    let hosts = SshHosts::start(1);

    let started = Instant::now();
    let out = ssh(&hosts, "dead", "true");
    let took = started.elapsed();
    assert!(!out.status.success(), "ssh dead succeeded");
    assert!(took < Duration::from_secs(10), "ssh dead took {took:?}");

    let out = ssh(&hosts, "badkey", "true");
    assert!(!out.status.success(), "ssh badkey succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Host key verification failed"), "ssh badkey stderr: {stderr}");

    // badkey is the same sshd as h1, which does verify.
    assert_ok(&ssh(&hosts, "h1", "true"), "ssh h1");
}

#[test]
fn stopped_host_refuses_connections_and_drops_open_sessions() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    let hosts = SshHosts::start(2);
    let mut session = Command::new("ssh")
        .arg("-F")
        .arg(hosts.config_path())
        .args(["-o", "BatchMode=yes", "h1", "echo up; exec sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ssh");
    // Wait for the session to be established before stopping the host.
    let mut stdout = session.stdout.take().unwrap();
    let mut first = [0u8; 3];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("session prints up");
    assert_eq!(&first, b"up\n");

    hosts.stop_host(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = session.kill();
            let _ = session.wait();
            panic!("the open session to h1 survived stop_host(1)");
        }
        thread::sleep(Duration::from_millis(20));
    }

    let out = ssh(&hosts, "h1", "true");
    assert!(!out.status.success(), "ssh h1 succeeded after stop_host(1)");
    assert_ok(&ssh(&hosts, "h2", "true"), "ssh h2 after stop_host(1)");
    hosts.stop_host(1);
}

#[test]
fn host_sets_in_parallel_threads_are_independent() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                let hosts = SshHosts::start(2);
                for alias in hosts.aliases() {
                    let out = ssh(&hosts, &alias, &format!("echo {t}-{alias} > /srv/cutover-test/who"));
                    assert_ok(&out, &format!("thread {t}: ssh {alias}"));
                }
                for i in 1..=2 {
                    let who = fs::read_to_string(hosts.root(i).join("who")).unwrap();
                    assert_eq!(who, format!("{t}-h{i}\n"));
                }
            });
        }
    });
}
