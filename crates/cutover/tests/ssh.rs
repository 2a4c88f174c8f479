//! The binary against real SSH hosts: one sshd per host, each in its own mount namespace with
//! its own directory at the deploy path, reached through a generated ssh config with verified
//! host keys. Covers the multi-host promises: all hosts prepared before any switches, delta
//! uploads, rollback, the lock, unreachable hosts, bad host keys, failing hooks and SIGKILL.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::cli::{Project, assert_complete, current};
use support::hosts::SshHosts;
use support::wait_for;

fn project(hosts: &SshHosts, names: &[String], extra: &str, files: usize) -> Project {
    let ssh = format!("[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n{extra}", hosts.config_path().display());
    Project::new(names, SshHosts::DEPLOY_PATH, &ssh, files)
}

fn release_of(run: &support::cli::Run) -> String {
    run.json()["release"].as_str().expect("release id").to_owned()
}

#[test]
fn three_hosts_deploy_redeploy_only_changes_and_roll_back_together() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 200);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    for i in 1..=3 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r1, "host {i}");
    }

    project.write("app/lib/part4/file4.txt", "changed\n");
    let run = project.cutover(&["deploy", "--json"]).ok();
    let r2 = release_of(&run);
    for host in run.json()["hosts"].as_array().unwrap() {
        assert_eq!(host["sent_files"], 1, "{host}");
        assert_eq!(host["linked_files"], 200);
        assert_eq!(host["base"], r1.as_str());
    }
    for i in 1..=3 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r2);
        let text = std::fs::read_to_string(hosts.deploy_dir(i).join("current/lib/part4/file4.txt")).unwrap();
        assert_eq!(text, "changed\n");
    }

    project.cutover(&["rollback"]).ok().stderr_has(&format!("rolled back production from {r2} to {r1} on 3 host(s)"));
    for i in 1..=3 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()));
    }
    project.cutover(&["rollback"]).code(1).stderr_has("nothing to roll back to");
    let status = project.cutover(&["status", "--json"]).ok().json()["hosts"].clone();
    assert!(status.as_array().unwrap().iter().all(|h| h["current"] == r1.as_str()), "{status}");
}

#[test]
fn second_deploy_while_one_runs_is_refused_naming_the_holder() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let marker = format!("{}/in-hook", support::hosts::MOUNT_POINT);
    let extra = format!("[hooks]\nbefore_switch = [\"touch {marker}; sleep 2\"]\n");
    let project = project(&hosts, &hosts.aliases(), &extra, 10);
    let mut first = project.spawn(&["deploy"], "first");
    wait_for("the first deploy's hook", Duration::from_secs(20), || hosts.root(1).join("in-hook").exists());
    let user = std::env::var("USER").unwrap_or_default();
    project.cutover(&["deploy"]).code(3).stderr_has("the deploy lock is held").stderr_has(&format!("held by {user}"));
    project.cutover(&["rollback"]).code(3);
    assert!(first.wait().unwrap().success(), "first deploy: {}", project.log("first"));
    let id = current(&hosts.deploy_dir(1)).unwrap();
    for i in 2..=3 {
        assert_eq!(current(&hosts.deploy_dir(i)), Some(id.clone()));
    }
    project.cutover(&["deploy"]).ok();
}

#[test]
fn unreachable_host_fails_the_deploy_and_no_host_switches() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 10);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    hosts.stop_host(3);
    project.write("app/index.html", "v2\n");
    project.cutover(&["deploy"]).code(1).stderr_has("failed to connect to `h3`");
    for i in 1..=3 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
    }

    // A host that accepts TCP and never speaks SSH: the connect timeout names it.
    let names = vec![hosts.alias(1), "dead".to_owned()];
    let project = self::project(&hosts, &names, "", 3);
    let start = Instant::now();
    project.cutover(&["deploy"]).code(1).stderr_has("connecting failed on `dead`");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(current(&hosts.deploy_dir(1)).as_deref(), Some(r1.as_str()));
}

#[test]
fn host_key_that_does_not_match_is_refused() {
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let project = project(&hosts, &["badkey".to_owned()], "", 3);
    project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("host key of `badkey` could not be verified")
        .stderr_has("hint: check the host's key fingerprint");
    assert!(!hosts.deploy_dir(1).exists(), "nothing was written to the host");
}

#[test]
fn hook_failing_on_one_host_switches_no_host() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let extra = format!(
        "[hooks]\nbefore_switch = [\"echo preparing on $CUTOVER_RELEASE; test ! -e {}/fail-here\"]\n",
        support::hosts::MOUNT_POINT
    );
    let project = project(&hosts, &hosts.aliases(), &extra, 10);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    std::fs::write(hosts.root(2).join("fail-here"), "").unwrap();
    project.write("app/index.html", "v2\n");
    project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("[h1] preparing on")
        .stderr_has("failed on `h2`")
        .stderr_has("before_switch hook");
    for i in 1..=3 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
    }
    let releases = project.cutover(&["releases", "--json"]).ok().json();
    assert_eq!(releases[1]["hosts"]["h1"], "failed", "{releases}");
}

#[test]
fn deploy_killed_at_any_moment_leaves_complete_releases_and_unlock_recovers() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let mount = support::hosts::MOUNT_POINT;
    let extra = format!(
        "[hooks]\nbefore_switch = [\"if [ -e {mount}/slow-prepare ]; then touch {mount}/in-prepare; sleep 5; fi\"]\n\
         after_switch = [\"if [ -e {mount}/slow-switch ]; then touch {mount}/in-switch; sleep 5; fi\"]\n"
    );
    let project = project(&hosts, &hosts.aliases(), &extra, 300);
    let all = 1..=3;
    project.cutover(&["deploy"]).ok();

    let kill_when = |label: &str, flag: Option<&str>, delay: Duration| {
        for i in all.clone() {
            for f in ["slow-prepare", "slow-switch", "in-prepare", "in-switch"] {
                let _ = std::fs::remove_file(hosts.root(i).join(f));
            }
            if let Some(flag) = flag {
                std::fs::write(hosts.root(i).join(format!("slow-{flag}")), "").unwrap();
            }
        }
        project.write("app/index.html", &format!("{label}\n"));
        let mut child = project.spawn(&["deploy"], label);
        match flag {
            Some(flag) => {
                wait_for(label, Duration::from_secs(30), || hosts.root(1).join(format!("in-{flag}")).exists())
            }
            None => std::thread::sleep(delay),
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for i in all.clone() {
            assert_complete(&hosts.deploy_dir(i));
        }
        // The next command sees the lock of the dead process as stale (if the kill came after
        // the lock was taken), and `unlock` clears the way.
        let blocked = project.cutover(&["deploy"]);
        if blocked.code == 3 {
            assert!(blocked.stderr.contains("stale: that process is gone"), "{label}: {}", blocked.stderr);
            project.cutover(&["unlock", "--reason", &format!("killed during {label}")]).ok();
        } else {
            assert_eq!(blocked.code, 0, "{label}: {}", blocked.stderr);
        }
        for i in all.clone() {
            for f in ["slow-prepare", "slow-switch"] {
                let _ = std::fs::remove_file(hosts.root(i).join(f));
            }
        }
        let id = release_of(&project.cutover(&["deploy", "--json"]).ok());
        for i in all.clone() {
            assert_eq!(assert_complete(&hosts.deploy_dir(i)), id, "{label}: host {i}");
            let page = std::fs::read_to_string(hosts.deploy_dir(i).join("current/index.html")).unwrap();
            assert_eq!(page, format!("{label}\n"));
        }
    };
    kill_when("during-prepare", Some("prepare"), Duration::ZERO);
    kill_when("after-switch", Some("switch"), Duration::ZERO);
    for ms in [30, 120, 250, 400] {
        kill_when(&format!("after-{ms}ms"), None, Duration::from_millis(ms));
    }
}

#[test]
fn hosts_written_as_user_at_alias_and_ssh_url_work() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let names = vec![format!("root@{}", hosts.alias(1)), format!("ssh://root@127.0.0.1:{}", hosts.port(2))];
    let project = project(&hosts, &names, "", 5);
    let id = release_of(&project.cutover(&["deploy", "--json"]).ok());
    for i in 1..=2 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), id);
    }
    let status = project.cutover(&["status", "--json"]).ok().json()["hosts"].clone();
    assert_eq!(status[1]["host"], names[1].as_str());
}

#[test]
fn switch_failing_on_one_host_puts_every_host_back() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    let mount = support::hosts::MOUNT_POINT;
    // h1 and h3 hold their prepare step until the test says go; h2 finishes at once.
    let extra = format!(
        "[hooks]\nbefore_switch = [\"if [ -e {mount}/hold ]; then touch {mount}/in-hook; \
         i=0; while [ ! -e {mount}/go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; fi\"]\n"
    );
    let project = project(&hosts, &hosts.aliases(), &extra, 20);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    for i in [1, 3] {
        std::fs::write(hosts.root(i).join("hold"), "").unwrap();
    }
    project.write("app/index.html", "v2\n");
    let mut child = project.spawn(&["deploy"], "second");
    // Once h2 has prepared the new release, take its directory away: its switch must fail
    // while h1 and h3 switch, so they have to be put back.
    let journal = hosts.deploy_dir(2).join(".cutover/journal.jsonl");
    let mut new_id = String::new();
    wait_for("h2 prepared", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let prepared = text.lines().rfind(|l| l.contains(r#""event":"prepared""#)).map(str::to_owned);
        match prepared.and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok()) {
            Some(v) if v["release"] != r1.as_str() => {
                new_id = v["release"].as_str().unwrap().to_owned();
                true
            }
            _ => false,
        }
    });
    wait_for("h1 and h3 in their hook", Duration::from_secs(30), || {
        [1, 3].iter().all(|i| hosts.root(*i).join("in-hook").exists())
    });
    std::fs::remove_dir_all(hosts.deploy_dir(2).join("releases").join(&new_id)).unwrap();
    for i in [1, 3] {
        std::fs::write(hosts.root(i).join("go"), "").unwrap();
    }
    let status = child.wait().unwrap();
    let log = project.log("second");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("switch failed on `h2`; putting every host back"), "{log}");
    assert!(log.contains(&format!("release {new_id} is not on this host")), "{log}");
    for i in 1..=3 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
    }
    let releases = project.cutover(&["releases", "--json"]).ok().json();
    assert_eq!(releases[1]["hosts"]["h1"], "failed", "{releases}");
}

#[test]
fn full_disk_on_one_host_fails_the_upload_and_changes_nothing() {
    let Some(hosts) = support::ssh_hosts(3) else { return };
    // A 2 MiB filesystem at h2's deploy path, mounted inside h2's own namespace.
    let mounted = std::process::Command::new("ssh")
        .args(["-F", &hosts.config_path().display().to_string(), "-o", "BatchMode=yes", &hosts.alias(2)])
        .arg(format!("mkdir -p {p} && mount -t tmpfs -o size=2m tmpfs {p}", p = SshHosts::DEPLOY_PATH))
        .status()
        .unwrap();
    assert!(mounted.success());
    let project = project(&hosts, &hosts.aliases(), "", 20);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    let big: String = (0..60_000).map(|i| format!("{i:x}\n")).collect::<String>().repeat(8);
    project.write("app/big.txt", &big);
    project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("uploading failed on `h2`")
        .stderr_has("No space left on device (0 KiB free in the deploy path)");
    let status = project.cutover(&["status", "--json"]).ok().json()["hosts"].clone();
    for host in status.as_array().unwrap() {
        assert_eq!(host["current"], r1.as_str(), "{status}");
        assert!(host["lock"].is_null(), "the lock is given back: {status}");
    }
}

#[test]
fn connections_persist_between_commands_and_a_dead_master_is_replaced() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 5);
    let runtime = tempfile::tempdir().unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
    project.cutover_with(&["deploy"], &env).ok();
    let dir = runtime.path().join("cutover-ssh");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "only the user may reach the sockets");
    let sockets: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_none()).collect();
    assert_eq!(sockets.len(), 2, "one open master per host: {sockets:?}");
    // Kill the masters outright: their sockets stay behind, stale.
    for socket in &sockets {
        let out = std::process::Command::new("ssh")
            .args(["-F", hosts.config_path().to_str().unwrap(), "-o"])
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-O", "check", "h1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        let pid: i32 =
            text.split("pid=").nth(1).and_then(|p| p.trim_end_matches([')', '\n', '\r']).parse().ok()).unwrap();
        let pid = rustix::process::Pid::from_raw(pid).expect("a master's pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        // Not our child: init reaps it, and then its /proc entry is gone.
        wait_for(format_args!("master {} to die", pid.as_raw_nonzero()), Duration::from_secs(10), || {
            !std::path::Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists()
        });
    }
    assert!(sockets.iter().all(|s| s.exists()), "stale sockets remain");
    project.write("app/index.html", "v2\n");
    project.cutover_with(&["deploy"], &env).ok();
    project.cutover_with(&["rollback"], &env).ok();
    for i in 1..=2 {
        assert_complete(&hosts.deploy_dir(i));
    }
}

#[test]
fn a_hook_exiting_255_is_a_failed_hook_not_a_lost_connection() {
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let project = project(&hosts, &hosts.aliases(), "[hooks]\nbefore_switch = [\"exit 255\"]\n", 3);
    let run =
        project.cutover(&["deploy"]).code(1).stderr_has("before_switch hook `exit 255` failed on `h1` (exit 254)");
    assert!(!run.stderr.contains("failed to connect"), "{}", run.stderr);
}

#[test]
fn hosts_left_on_different_releases_are_joined_with_rollback_to() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 3);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    project.write("app/index.html", "v2\n");
    let r2 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    // h2 went back to r1 on its own (as after a rollback that failed half-way).
    let link = hosts.deploy_dir(2).join("current");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(format!("releases/{r1}"), &link).unwrap();
    project.cutover(&["status"]).code(4).stderr_has("hosts are on different releases");
    project.cutover(&["rollback"]).code(1).stderr_has(&format!("cutover rollback --to {r1}"));
    project.cutover(&["rollback", "--to", &r1]).ok().stderr_has(&format!("from {r2} to {r1}"));
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()));
    }
    project.cutover(&["rollback", "--to", &r1]).code(1).stderr_has("every host is already on");
}

#[test]
fn login_shells_that_print_banners_or_are_not_posix_change_nothing() {
    for shell in ["/bin/bash", "/usr/bin/tcsh", "/usr/bin/csh", "/usr/bin/fish"] {
        if !support::require(shell, std::path::Path::new(shell).exists()) {
            return;
        }
        let Some(hosts) = support::ssh_hosts(1) else { return };
        let banner = "Welcome to your hosting account";
        hosts.login_as(1, shell, banner);
        // The host really is like that: a plain session says the banner and runs `shell`.
        let out = std::process::Command::new("ssh")
            .args(["-F", hosts.config_path().to_str().unwrap(), "h1", "echo $SHELL"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(banner) && said.contains(shell), "{shell}: the login says {said:?}");

        let project = project(&hosts, &hosts.aliases(), "[hooks]\nbefore_switch = [\"echo hook-said-this\"]\n", 20);
        let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
        // Without the local cache, the second deploy reads the base manifest from the host.
        std::fs::remove_dir_all(project.path().join(".cutover/manifests")).unwrap();
        project.write("app/index.html", "v2\n");
        let run = project.cutover(&["deploy", "--json"]).ok();
        assert!(!run.stderr.contains(banner), "{shell}: the banner is not the host's answer:\n{}", run.stderr);
        let run = run.stderr_has("[h1] hook-said-this");
        let host = &run.json()["hosts"][0];
        assert_eq!(host["sent_files"], 1, "{shell}: only the changed file travels: {host}");
        let status = project.cutover(&["status", "--json"]).ok().json();
        assert_eq!(status["hosts"][0]["current"], release_of(&run).as_str(), "{shell}: {status}");
        project.cutover(&["rollback"]).ok();
        assert_eq!(current(&hosts.deploy_dir(1)).as_deref(), Some(r1.as_str()), "{shell}");
    }
}

#[test]
fn sparse_files_stay_sparse_on_the_hosts() {
    use std::os::unix::fs::{FileExt, MetadataExt};
    const SIZE: u64 = 100 << 20;
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 5);
    let sparse = project.path().join("app/data/sparse.img");
    std::fs::create_dir_all(sparse.parent().unwrap()).unwrap();
    let file = std::fs::File::create(&sparse).unwrap();
    file.set_len(SIZE).unwrap();
    file.write_all_at(b"a header", 0).unwrap();
    file.write_all_at(b"a block in the middle", SIZE / 2).unwrap();
    drop(file);
    let local = std::fs::read(&sparse).unwrap();
    let allocated = |path: &std::path::Path| std::fs::metadata(path).unwrap().blocks() * 512;
    assert!(allocated(&sparse) < SIZE / 100, "the test's file has holes");

    let run = project.cutover(&["deploy", "--json"]).ok();
    assert_eq!(run.json()["hosts"][0]["sent_files"], 7);
    let on_host = hosts.deploy_dir(1).join("current/data/sparse.img");
    assert_complete(&hosts.deploy_dir(1));
    assert_eq!(std::fs::metadata(&on_host).unwrap().len(), SIZE);
    assert!(
        allocated(&on_host) < SIZE / 100,
        "{} bytes allocated on the host for a {SIZE}-byte file",
        allocated(&on_host)
    );
    assert!(std::fs::read(&on_host).unwrap() == local, "same content");

    // Unchanged, it is copied on the host (`unchanged = "copy"`) and still has its holes.
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &toml.replace("keep_releases = 3\n", "keep_releases = 3\nunchanged = \"copy\"\n"));
    project.write("app/index.html", "v2\n");
    let run = project.cutover(&["deploy", "--json"]).ok();
    assert_eq!(run.json()["hosts"][0]["sent_files"], 1, "only index.html travels");
    assert_complete(&hosts.deploy_dir(1));
    assert!(allocated(&on_host) < SIZE / 100, "{} bytes allocated after a copy", allocated(&on_host));
}

#[test]
fn a_saved_connection_never_goes_to_the_server_an_alias_no_longer_names() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    // The user's own ssh config: `app` is host 1 …
    let project = Project::new(&["app".to_owned()], SshHosts::DEPLOY_PATH, "", 3);
    let ssh_config = project.path().join("ssh_config");
    std::fs::write(&ssh_config, hosts.config_block("app", 1)).unwrap();
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let ssh = format!("[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\npersist = \"5m\"\n", ssh_config.display());
    project.write("cutover.toml", &format!("{toml}{ssh}"));
    let runtime = tempfile::tempdir().unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
    let r1 = release_of(&project.cutover_with(&["deploy", "--json"], &env).ok());
    assert_eq!(assert_complete(&hosts.deploy_dir(1)), r1);
    assert!(!hosts.deploy_dir(2).exists());

    // … then the user points `app` at host 2 (another address and port), while host 1's master
    // connection is still open for `persist`.
    std::fs::write(&ssh_config, hosts.config_block("app", 2)).unwrap();
    project.write("app/index.html", "v2\n");
    let r2 = release_of(&project.cutover_with(&["deploy", "--json"], &env).ok());
    assert_eq!(assert_complete(&hosts.deploy_dir(2)), r2, "the second deploy landed on host 2");
    assert_eq!(current(&hosts.deploy_dir(1)).as_deref(), Some(r1.as_str()), "host 1 was not touched");
    let journal = std::fs::read_to_string(hosts.deploy_dir(1).join(".cutover/journal.jsonl")).unwrap();
    let switches = journal.lines().filter(|l| l.contains(r#""event":"switched""#)).count();
    assert_eq!(switches, 1, "host 1's journal has one deploy only:\n{journal}");
    let status = project.cutover_with(&["status", "--json"], &env).ok().json();
    assert_eq!(status["hosts"][0]["current"], r2.as_str(), "{status}");
}

/// Every directory and file under `dir` (relative path → mode), as `ls -lR` would show them.
fn modes(dir: &std::path::Path) -> std::collections::BTreeMap<String, u32> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &std::path::Path, rel: &str, out: &mut std::collections::BTreeMap<String, u32>) {
        for entry in std::fs::read_dir(root.join(rel)).unwrap() {
            let entry = entry.unwrap();
            let path = if rel.is_empty() {
                entry.file_name().to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", entry.file_name().to_string_lossy())
            };
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            out.insert(path.clone(), meta.permissions().mode() & 0o7777);
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

#[test]
fn read_only_directories_in_the_app_deploy_redeploy_and_are_removed_by_retention() {
    use std::os::unix::fs::PermissionsExt;
    let Some(hosts) = support::ssh_hosts(1) else { return };
    // A deploy user that is not root, so a directory's mode 555 holds for it.
    let deploy = hosts.add_user(1, "deploy");
    let mount = support::hosts::MOUNT_POINT;
    let extra = format!("[hooks]\nbefore_switch = [\"test ! -e {mount}/fail-here\"]\n");
    let project = project(&hosts, &[deploy], &extra, 5);
    project.write("app/vendor/autoload.php", "<?php // autoload\n");
    project.write("app/vendor/pkg/src/a.php", "<?php // a\n");
    project.write("app/vendor/pkg/src/b.php", "<?php // b\n");
    std::fs::create_dir_all(project.path().join("app/empty-ro")).unwrap();
    let app = project.path().join("app");
    let chmod = |rel: &str, mode: u32| {
        std::fs::set_permissions(app.join(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod("vendor/pkg/src/a.php", 0o444);
    for dir in ["vendor/pkg/src", "vendor/pkg", "vendor", "empty-ro"] {
        chmod(dir, 0o555);
    }
    let source_modes = modes(&app);
    let dir = hosts.deploy_dir(1);
    let deploy = |label: &str| {
        let run = project.cutover(&["deploy", "--json"]).ok();
        assert!(!run.stderr.contains("cleanup of old releases failed"), "{label}: {}", run.stderr);
        assert!(!run.stderr.contains("sending every file"), "{label}: the base is whole: {}", run.stderr);
        assert_eq!(assert_complete(&dir), release_of(&run), "{label}");
        assert_eq!(modes(&dir.join("current")), source_modes, "{label}: the modes on the host are the source's");
        run
    };

    let r1 = release_of(&deploy("first deploy"));
    project.write("app/index.html", "v2\n");
    let run = deploy("redeploy");
    let r2 = release_of(&run);
    assert_eq!(run.json()["hosts"][0]["sent_files"], 1, "only index.html travels: {}", run.stdout);
    // A file inside the read-only directories changes (the source's owner may write there).
    chmod("vendor/pkg/src", 0o755);
    project.write("app/vendor/pkg/src/b.php", "<?php // b, v3\n");
    chmod("vendor/pkg/src", 0o555);
    deploy("a change inside a read-only directory");

    // A release that failed its before_switch hook is left whole, read-only directories and all.
    std::fs::write(hosts.root(1).join("fail-here"), "").unwrap();
    project.write("app/index.html", "v4\n");
    project.cutover(&["deploy"]).code(1).stderr_has("before_switch hook");
    std::fs::remove_file(hosts.root(1).join("fail-here")).unwrap();
    let failed = project.cutover(&["releases", "--json"]).ok().json().as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(dir.join("releases").join(&failed).is_dir(), "the failed release {failed} stays until retention");

    // Retention (keep_releases = 3) removes the failed release first, then the oldest.
    project.write("app/index.html", "v5\n");
    let run = deploy("after the failed one");
    assert_eq!(run.json()["hosts"][0]["removed"], serde_json::json!([failed, r1]), "{}", run.stdout);
    project.write("app/index.html", "v6\n");
    let run = deploy("past keep_releases");
    assert_eq!(run.json()["hosts"][0]["removed"], serde_json::json!([r2]), "{}", run.stdout);
    let on_disk: Vec<_> = std::fs::read_dir(dir.join("releases")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(on_disk.len(), 3, "keep_releases = 3: {on_disk:?}");
    for gone in [&r1, &r2, &failed] {
        assert!(!dir.join("releases").join(gone).exists(), "{gone} is removed");
    }
    project.cutover(&["rollback"]).ok();
    assert_complete(&dir);
}

#[test]
fn a_full_disk_removes_the_partial_release_and_is_reported_as_itself() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let on_h2 = |command: &str| {
        std::process::Command::new("ssh")
            .args(["-F", hosts.config_path().to_str().unwrap(), "-o", "BatchMode=yes", &hosts.alias(2), command])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // A 2 MiB filesystem of 300 inodes at h2's deploy path, mounted inside h2's own namespace.
    let p = SshHosts::DEPLOY_PATH;
    let out = on_h2(&format!("mkdir -p {p} && mount -t tmpfs -o size=2m,nr_inodes=300 tmpfs {p}"));
    assert!(out.status.success(), "{out:?}");
    let project = project(&hosts, &hosts.aliases(), "", 20);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    // h2's deploy path is seen through h2 (the tmpfs is mounted in its namespace only).
    let releases_on_h2 = || {
        let out = on_h2(&format!("ls -A {p}/releases"));
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let unchanged = |label: &str| {
        assert_eq!(releases_on_h2(), std::slice::from_ref(&r1), "{label}: no partial release is left on h2");
        let status = project.cutover(&["status", "--json"]).ok().json()["hosts"].clone();
        for host in status.as_array().unwrap() {
            assert_eq!(host["current"], r1.as_str(), "{label}: {status}");
            assert!(host["lock"].is_null(), "{label}: the lock is given back: {status}");
        }
    };

    // An app larger than the disk: the upload fills it.
    let big: String = (0..60_000).map(|i| format!("{i:x}\n")).collect::<String>().repeat(8);
    project.write("app/big.txt", &big);
    project.cutover(&["deploy"]).code(1).stderr_has("failed on `h2`").stderr_has("No space left on device");
    unchanged("the app is larger than the disk");

    // The disk runs out while linking from the base (every inode but two is taken: one for the
    // lock, one for the release's directory), and that is a full disk, not a base edited by
    // hand (whose release would start over with every file).
    std::fs::remove_file(project.path().join("app/big.txt")).unwrap();
    project.write("app/index.html", "v2\n");
    let out = on_h2(&format!(
        "mkdir {p}/fill && i=0 && while [ $i -lt 1000 ] && : > {p}/fill/$i 2>/dev/null; do i=$((i+1)); done; \
         [ $i -lt 1000 ] && rm {p}/fill/0 {p}/fill/1"
    ));
    assert!(out.status.success(), "{out:?}");
    let run = project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("linking unchanged files failed on `h2`")
        .stderr_has("No space left on device");
    assert!(!run.stderr.contains("sending every file"), "{}", run.stderr);
    unchanged("the disk was full");

    let out = on_h2(&format!("rm -r {p}/fill"));
    assert!(out.status.success(), "{out:?}");

    // Every byte taken before the deploy starts: the lock cannot be written, and says why
    // (the shell itself says only "I/O error").
    let _ = on_h2(&format!("head -c 4M /dev/zero > {p}/filler"));
    project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("taking the deploy lock failed on `h2`")
        .stderr_has("No space left on device");
    unchanged("the disk was full before the deploy");

    // Space freed, the next deploy works, as a delta from the base.
    let out = on_h2(&format!("rm {p}/filler"));
    assert!(out.status.success(), "{out:?}");
    let run = project.cutover(&["deploy", "--json"]).ok();
    for host in run.json()["hosts"].as_array().unwrap() {
        assert_eq!(host["base"], r1.as_str(), "{host}");
        assert_eq!(host["sent_files"], 1, "{host}");
    }
    let r4 = release_of(&run);
    assert_eq!(assert_complete(&hosts.deploy_dir(1)), r4);
    let out = on_h2(&format!("readlink {p}/current; cat {p}/current/index.html"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("releases/{r4}\nv2\n"), "{out:?}");
}

#[test]
fn a_host_whose_link_drops_mid_switch_is_given_up_and_one_command_heals_the_split() {
    let linked = support::require("ip and nsenter", ["ip", "nsenter"].iter().all(|p| cutover_testkit::on_path(p)));
    let Some(hosts) =
        (linked && support::require("sshd", SshHosts::available())).then(|| SshHosts::start_linked(3, &[3]))
    else {
        return;
    };
    let mount = support::hosts::MOUNT_POINT;
    // A host holding `hold` stops in its hook until the test says go, or for 30 s at most.
    let hold = format!(
        "if [ -e {mount}/hold ]; then touch {mount}/in-hook; i=0; \
         while [ ! -e {mount}/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; fi"
    );
    let extra = format!("timeout = \"3s\"\n[hooks]\nafter_switch = [\"{hold}\"]\nafter_rollback = [\"{hold}\"]\n");
    let project = project(&hosts, &hosts.aliases(), &extra, 10);
    let r1 = release_of(&project.cutover(&["deploy", "--json"]).ok());

    // h3 is switched to r2 and in its after_switch hook when its link drops: its connection
    // stays open and silent.
    std::fs::write(hosts.root(3).join("hold"), "").unwrap();
    project.write("app/index.html", "v2\n");
    let mut deploy = project.spawn(&["deploy"], "partitioned");
    wait_for("h3 in its after_switch hook", Duration::from_secs(30), || hosts.root(3).join("in-hook").exists());
    let r2 = current(&hosts.deploy_dir(3)).unwrap();
    assert_ne!(r2, r1);
    hosts.cut_link(3);
    let cut = Instant::now();
    let code = support::wait_exit(&mut deploy, Duration::from_secs(60));
    let took = cut.elapsed();
    let log = project.log("partitioned");
    assert!(took < Duration::from_secs(15), "given up after {took:?}, not within `[ssh] timeout` (3 s):\n{log}");
    assert_eq!(code, 4, "{log}");
    assert!(log.contains("could not be undone on `h3`"), "{log}");
    assert!(log.contains("connection lost during after_switch hook"), "{log}");
    for i in 1..=2 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r1, "reachable host {i} is back on {r1}");
    }
    assert_eq!(current(&hosts.deploy_dir(3)).as_deref(), Some(r2.as_str()), "h3 never heard");
    project.cutover(&["status"]).code(1).stderr_has("`h3`");

    // The link comes back: status shows the split, and one command joins the hosts again.
    hosts.restore_link(3);
    std::fs::remove_file(hosts.root(3).join("hold")).unwrap();
    let status = project.cutover(&["status", "--json"]).code(4).stderr_has("hosts are on different releases");
    let currents: Vec<_> = status.json()["hosts"].as_array().unwrap().iter().map(|h| h["current"].clone()).collect();
    assert_eq!(currents, [r1.as_str(), r1.as_str(), r2.as_str()], "{}", status.stdout);
    project.cutover(&["rollback"]).ok().stderr_has(&format!("to {r1}"));
    let status = project.cutover(&["status", "--json"]).ok().json();
    for (i, host) in status["hosts"].as_array().unwrap().iter().enumerate() {
        assert_eq!(host["current"], r1.as_str(), "{status}");
        assert_complete(&hosts.deploy_dir(i + 1));
    }

    // Mid-rollback: h3 drops while in its after_rollback hook; the rollback ends within the
    // timeout, every host on one release, naming h3.
    project.write("app/index.html", "v3\n");
    let r3 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    std::fs::remove_file(hosts.root(3).join("in-hook")).unwrap();
    std::fs::write(hosts.root(3).join("hold"), "").unwrap();
    let mut rollback = project.spawn(&["rollback"], "rollback");
    wait_for("h3 in its after_rollback hook", Duration::from_secs(30), || hosts.root(3).join("in-hook").exists());
    hosts.cut_link(3);
    let cut = Instant::now();
    let code = support::wait_exit(&mut rollback, Duration::from_secs(60));
    let log = project.log("rollback");
    assert!(cut.elapsed() < Duration::from_secs(15), "given up after {:?}:\n{log}", cut.elapsed());
    assert_eq!(code, 4, "{log}");
    assert!(log.contains(&format!("every host is on {r1}, but after_rollback failed on `h3`")), "{log}");
    for i in 1..=3 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r1, "host {i} left {r3}");
    }
    hosts.restore_link(3);
    project.cutover(&["status"]).ok();
}

#[test]
fn a_current_that_is_not_a_symlink_to_a_release_is_reported_and_deploy_and_rollback_refuse() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let project = project(&hosts, &hosts.aliases(), "", 5);
    project.cutover(&["deploy"]).ok();
    project.write("app/index.html", "v2\n");
    let r2 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    let link = hosts.deploy_dir(2).join("current");
    let path = format!("{}/current", SshHosts::DEPLOY_PATH);
    // What both hosts hold: journals, releases, `current`, locks, manifests.
    let snapshot = || {
        (1..=2)
            .map(|i| {
                let dir = hosts.deploy_dir(i);
                let list = |sub: &str| {
                    let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
                        .unwrap()
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    names
                };
                let journal = std::fs::read_to_string(dir.join(".cutover/journal.jsonl")).unwrap();
                let current = std::fs::read_link(dir.join("current")).ok();
                (journal, list("releases"), list(".cutover"), list(".cutover/manifests"), current)
            })
            .collect::<Vec<_>>()
    };

    let shapes: [(&str, &dyn Fn(), String); 4] = [
        ("a directory", &|| std::fs::create_dir(&link).unwrap(), "current is a directory, not a symlink".to_owned()),
        (
            "a link to /x",
            &|| std::os::unix::fs::symlink("/x", &link).unwrap(),
            "current points outside releases/: /x".to_owned(),
        ),
        (
            "a link to shared/",
            &|| std::os::unix::fs::symlink("shared", &link).unwrap(),
            "current points outside releases/: shared".to_owned(),
        ),
        (
            "a link to a missing release",
            &|| std::os::unix::fs::symlink("releases/20990101T000000Z", &link).unwrap(),
            "current points at releases/20990101T000000Z, which is not a release on this host".to_owned(),
        ),
    ];
    for (label, make, said) in shapes {
        std::fs::remove_file(&link).unwrap();
        make();
        project.write("app/index.html", &format!("{label}\n"));
        let before = snapshot();

        let run = project.cutover(&["status"]).code(1).stderr_has(&format!("`h2`: {said} (`{path}`)"));
        assert!(run.stdout.lines().any(|l| l.starts_with("h2\t") && l.contains(&said)), "{label}: {}", run.stdout);
        let status = project.cutover(&["status", "--json"]).code(1).json();
        assert_eq!(status["hosts"][1]["current_problem"], said.as_str(), "{label}: {status}");
        assert_eq!(status["hosts"][0]["current"], r2.as_str(), "{label}: {status}");
        for command in ["deploy", "rollback"] {
            project
                .cutover(&[command])
                .code(1)
                .stderr_has(&format!("`h2`: {said} (`{path}`)"))
                .stderr_has("cutover does not guess");
            assert_eq!(snapshot(), before, "{label}: `cutover {command}` changed nothing on any host");
        }
        std::fs::remove_dir(&link).or_else(|_| std::fs::remove_file(&link)).unwrap();
        std::os::unix::fs::symlink(format!("releases/{r2}"), &link).unwrap();
    }
    // Put right by hand, the hosts deploy again.
    let r3 = release_of(&project.cutover(&["deploy", "--json"]).ok());
    for i in 1..=2 {
        assert_eq!(assert_complete(&hosts.deploy_dir(i)), r3);
    }
}

/// `[ssh] max_parallel` bounds how many hosts a deploy works at once: each host's
/// `before_switch` hook notes how many hosts are inside it (a directory on the machine the
/// hosts share) and waits, at most 4 s, for all four to be. With `max_parallel = 2` no host
/// ever sees more than two and the four still deploy and switch together; with the default,
/// all four are inside at once.
#[test]
fn max_parallel_bounds_the_hosts_worked_at_once() {
    let Some(hosts) = support::ssh_hosts(4) else { return };
    for (limit, most) in [("max_parallel = 2\n", 2), ("", 4)] {
        let inside = tempfile::tempdir().unwrap();
        let d = inside.path().display();
        let hook = format!(
            "mkdir {d}/in/$$ && ls {d}/in | wc -l >> {d}/seen && i=0 && while [ $(ls {d}/in | wc -l) -lt 4 ] && \
             [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done; rmdir {d}/in/$$"
        );
        std::fs::create_dir(inside.path().join("in")).unwrap();
        let extra = format!("{limit}[hooks]\nbefore_switch = [\"{hook}\"]\n");
        let project = project(&hosts, &hosts.aliases(), &extra, 5);
        let release = release_of(&project.cutover(&["deploy", "--json"]).ok());
        for i in 1..=4 {
            assert_eq!(current(&hosts.deploy_dir(i)).as_deref(), Some(release.as_str()), "host {i}");
        }
        let seen = std::fs::read_to_string(inside.path().join("seen")).unwrap();
        let seen: Vec<usize> = seen.split_whitespace().map(|n| n.parse().unwrap()).collect();
        assert_eq!(seen.len(), 4, "every host ran the hook: {seen:?}");
        assert_eq!(seen.iter().max(), Some(&most), "{limit:?}: hosts inside the hook at once: {seen:?}");
    }
}
