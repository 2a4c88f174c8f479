//! The binary against the `local` target: config errors, init, the demo, and the release cycle
//! (deploy, delta redeploy, rollback, refusals, hooks, locks, a malformed journal) on this machine.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use support::cli::{Project, assert_complete, current};

fn local_project(extra: &str) -> (Project, std::path::PathBuf) {
    let dir = tempfile::Builder::new().prefix("cutover-srv-").tempdir().unwrap().keep();
    let deploy = dir.join("app");
    let project = Project::new(&["local".into()], &deploy.display().to_string(), extra, 30);
    (project, deploy)
}

#[test]
fn config_errors_name_file_line_and_column_and_exit_2_for_every_command() {
    let (project, _) = local_project("");
    let text = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &text.replace("hosts =", "hots ="));
    let line = text.lines().position(|l| l.starts_with("hosts =")).unwrap() + 1;
    for args in [&["config", "check"][..], &["deploy"], &["rollback"], &["status"], &["releases"]] {
        project
            .cutover(args)
            .code(2)
            .stderr_has(&format!("error: cutover.toml:{line}:1: unknown key `hots`"))
            .stderr_has("   | hots = [\"local\"]");
    }
    project.write("cutover.toml", &text.replace("keep_releases = 3", "keep_releases = 1"));
    project.cutover(&["config", "check"]).code(2).stderr_has("cutover.toml:5:17: keep_releases is 1");
    project
        .cutover(&["-c", "missing.toml", "config", "check"])
        .code(2)
        .stderr_has("hint: create one with `cutover init`");
}

/// Issue 14: the body conditions of a `[[check]]` pass `config check`; a bad one is refused at
/// its file:line:col with the line shown.
#[test]
fn config_check_accepts_the_body_conditions_and_refuses_bad_ones_where_they_are() {
    let (project, _) = local_project("");
    let text = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let with = |conditions: &str| {
        format!("{text}url = \"https://shop.example\"\n[[check]]\nname = \"home\"\nurl = \"/\"\n{conditions}")
    };
    project.write(
        "cutover.toml",
        &with(
            "body_contains = \"Shop\"\nbody_not_contains = [\"Fatal error\", \"There has been a critical error\"]\n\
             body_regex = 'id=\"loginform\"|name=\"log\"'\ncomplete = true\n",
        ),
    );
    project.cutover(&["config", "check"]).ok();
    let line = text.lines().count() + 5;
    for (bad, col, says) in [
        ("body_not_contains = [\"Fatal error\", 3]\n", 37, "invalid type: integer `3`, expected a string"),
        ("body_contains = [\"\"]\n", 17, "an empty string is in every body"),
        ("complete = \"yes\"\n", 12, "invalid type: string \"yes\", expected a boolean"),
        ("body_not_contain = \"x\"\n", 1, "unknown key `body_not_contain`"),
    ] {
        project.write("cutover.toml", &with(bad));
        project
            .cutover(&["config", "check"])
            .code(2)
            .stderr_has(&format!("error: cutover.toml:{line}:{col}: {says}"))
            .stderr_has(&format!("   | {}", bad.trim_end()));
    }
}

#[test]
fn init_writes_a_valid_config_for_every_preset_and_never_overwrites_silently() {
    for preset in ["generic", "laravel", "wordpress"] {
        let dir = tempfile::tempdir().unwrap();
        let project = Project { dir };
        project.cutover(&["init", "--preset", preset]).ok();
        let run = project.cutover(&["config", "check", "--json"]).ok();
        assert_eq!(run.json()["environments"], serde_json::json!(["production", "staging"]));
        let log = project.cutover(&["log", "--json"]).ok().json();
        assert!(log[0]["command"].as_str().unwrap().ends_with("config check --json"), "{log}");
        assert_eq!(log[0]["exit_code"], 0);
        project.cutover(&["init"]).code(2).stderr_has("already exists").stderr_has("--force");
        project.cutover(&["init", "--force", "--preset", preset]).ok();
    }
}

#[test]
fn init_writes_the_php_presets_env_templates_and_wp_config_never_over_a_file_and_says_what_nginx_needs() {
    let project = Project { dir: tempfile::tempdir().unwrap() };
    project.write("wp-config.php", "<?php // mine\n");
    let run = project.cutover(&["init", "--preset", "wordpress"]).ok();
    assert!(run.stderr.contains("kept `") && run.stderr.contains("wp-config.php`: it exists"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(project.path().join("wp-config.php")).unwrap(), "<?php // mine\n");
    for line in [
        "fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;",
        "fastcgi_param DOCUMENT_ROOT $realpath_root;",
        "cgi-fcgi",
    ] {
        assert!(run.stderr.contains(line), "{line}: {}", run.stderr);
    }
    let production = std::fs::read_to_string(project.path().join(".env.production.template")).unwrap();
    for line in [
        "DB_PASSWORD=${secret:DB_PASSWORD}",
        "WP_HOME=${env:url}",
        "WP_ENVIRONMENT_TYPE=production",
        "NONCE_SALT=${secret:NONCE_SALT}",
    ] {
        assert!(production.contains(line), "{line}: {production}");
    }
    // A second init keeps the templates it wrote (and the config needs --force).
    project.write(".env.staging.template", "# edited\n");
    let run = project.cutover(&["init", "--force", "--preset", "wordpress"]).ok();
    assert!(run.stderr.contains(".env.staging.template`: it exists"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(project.path().join(".env.staging.template")).unwrap(), "# edited\n");

    // The production audit passes with production's own secrets: the templates are sound.
    let project = Project { dir: tempfile::tempdir().unwrap() };
    project.cutover(&["init", "--preset", "laravel"]).ok();
    let text = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &text.replace("provider = \"vault\"", "provider = \"env\""));
    let mut vars = Vec::new();
    for env in ["STAGING", "PRODUCTION"] {
        vars.push((
            format!("CUTOVER_{env}_APP_KEY"),
            format!(
                "base64:{}",
                if env == "STAGING" {
                    "c3RhZ2luZyBzdGFnaW5nIHN0YWdpbmcgc3RhZ2luZyE="
                } else {
                    "cHJvZHVjdGlvbiBwcm9kdWN0aW9uIHByb2R1Y3Rpb24="
                }
            ),
        ));
        for n in ["DB_PASSWORD", "MAIL_PASSWORD"] {
            vars.push((format!("CUTOVER_{env}_{n}"), format!("{env}-{n}-x9")));
        }
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = project.cutover_with(&["--json", "secrets", "audit"], &vars);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn demo_deploys_checks_rolls_back_and_exits_0() {
    let project = Project { dir: tempfile::tempdir().unwrap() };
    project
        .cutover(&["demo"])
        .ok()
        .stderr_has("says \"hello from v1\"")
        .stderr_has("says \"hello from v2\"")
        .stderr_has("1 file sent")
        .stderr_has("rolled back from")
        .stderr_has("demo complete");
    assert!(!project.path().join("cutover.toml").exists(), "the demo needs and writes no config here");
}

#[test]
fn deploy_redeploy_sends_only_changes_and_rollback_goes_back_then_refuses() {
    let (project, deploy) = local_project("shared = [\"storage/\"]");
    project.write("app/storage/seed.txt", "from the first upload\n");
    let first = project.cutover(&["deploy", "--json"]).ok().json();
    let r1 = first["release"].as_str().unwrap().to_owned();
    assert_eq!(assert_complete(&deploy), r1);
    assert_eq!(first["hosts"][0]["sent_files"], 32);
    // The shared directory was seeded from the first upload and linked into the release.
    assert!(std::fs::symlink_metadata(deploy.join(format!("releases/{r1}/storage"))).unwrap().file_type().is_symlink());
    std::fs::write(deploy.join("shared/storage/user-upload.txt"), "kept across releases").unwrap();

    project.write("app/index.html", "v2\n");
    let second = project.cutover(&["deploy", "--json"]).ok().json();
    let r2 = second["release"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(second["hosts"][0]["sent_files"], 1, "only index.html travels");
    assert_eq!(second["hosts"][0]["linked_files"], 31, "30 files and storage/seed.txt");
    assert_eq!(std::fs::read_to_string(deploy.join("current/index.html")).unwrap(), "v2\n");
    assert_eq!(
        std::fs::read_to_string(deploy.join("current/storage/user-upload.txt")).unwrap(),
        "kept across releases"
    );
    // Unchanged files are hard links into the previous release, not copies.
    use std::os::unix::fs::MetadataExt;
    let ino = |id: &str| std::fs::metadata(deploy.join(format!("releases/{id}/lib/part3/file3.txt"))).unwrap().ino();
    assert_eq!(ino(&r1), ino(&r2));

    let back = project.cutover(&["rollback", "--json"]).ok().json();
    assert_eq!(back["to"], r1.as_str());
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
    assert_eq!(std::fs::read_to_string(deploy.join("current/index.html")).unwrap(), "v1\n");

    // r2 was rolled back by hand: never the default target (only `--to` goes back to it), and
    // nothing earlier than r1 exists.
    project
        .cutover(&["rollback"])
        .code(1)
        .stderr_has("nothing to roll back to on `local`")
        .stderr_has(&format!("rolled back by hand (never the default target): {r2}"));
    project.cutover(&["rollback", "--to", &r1]).code(1).stderr_has("already on");
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()), "refused rollbacks change nothing");

    let releases = project.cutover(&["releases", "--json"]).ok().json();
    let states: Vec<(String, String)> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["hosts"]["local"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(states, [(r1.clone(), "live".to_owned()), (r2.clone(), "rolled_back".to_owned())]);

    let log = project.cutover(&["log", "--json"]).ok().json();
    let codes: Vec<i64> = log.as_array().unwrap().iter().map(|e| e["exit_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [0, 0, 0, 1, 1, 0], "every command is in the audit log with its exit code");
}

#[test]
fn failing_before_switch_hook_switches_nothing() {
    let (project, deploy) = local_project("[hooks]\nbefore_switch = [\"echo checking; test -f must-exist\"]");
    project.write("app/must-exist", "");
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    std::fs::remove_file(project.path().join("app/must-exist")).unwrap();
    project
        .cutover(&["deploy"])
        .code(1)
        .stderr_has("[local] checking")
        .stderr_has("before_switch hook `echo checking; test -f must-exist` failed on `local` (exit 1)");
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
    let releases = project.cutover(&["releases", "--json"]).ok().json();
    assert_eq!(releases[1]["hosts"]["local"], "failed");
}

#[test]
fn failing_after_switch_hook_rolls_back_and_exits_5() {
    let (project, deploy) = local_project(
        "[hooks]\nafter_switch = [\"test ! -f break-me\"]\nafter_rollback = [\"echo rolled back to $CUTOVER_RELEASE\"]",
    );
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    project.write("app/break-me", "");
    project
        .cutover(&["deploy"])
        .code(5)
        .stderr_has("failed after the switch and every host was rolled back")
        .stderr_has(&format!("[local] rolled back to {r1}"));
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
}

#[test]
fn the_build_prints_on_stderr_so_json_deploy_prints_only_json() {
    let (project, deploy) =
        local_project("build = \"echo built on stdout; echo warned on stderr >&2; echo generated > generated.txt\"");
    let run = project.cutover(&["deploy", "--json"]).ok();
    // The whole of stdout is the report: `json()` parses all of it.
    let r1 = run.json()["release"].as_str().unwrap().to_owned();
    assert!(!run.stdout.contains("built on"), "{}", run.stdout);
    let run = run.stderr_has("building: echo built on stdout").stderr_has("[build] built on stdout");
    run.stderr_has("[build] warned on stderr");
    assert_eq!(std::fs::read_to_string(deploy.join(format!("releases/{r1}/generated.txt"))).unwrap(), "generated\n");

    let text = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &text.replace("echo generated > generated.txt", "exit 3"));
    let run = project
        .cutover(&["deploy", "--json"])
        .code(1)
        .stderr_has("[build] built on stdout")
        .stderr_has("failed (exit status: 3)");
    assert!(!run.stdout.contains("built on"), "{}", run.stdout);
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
}

#[test]
fn stale_lock_blocks_with_exit_3_until_unlock_with_a_reason() {
    let (project, deploy) = local_project("");
    project.cutover(&["deploy"]).ok();
    // A lock left by a process on this machine that no longer exists.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let lock = format!(
        r#"{{"user":"ana","machine":"{host}","pid":{dead_pid},"since":"2026-11-26T10:00:00Z","command":"cutover deploy","token":"t"}}"#
    );
    std::fs::write(deploy.join(".cutover/lock"), lock).unwrap();
    project
        .cutover(&["deploy"])
        .code(3)
        .stderr_has(&format!("held by ana@{host} (pid {dead_pid}, `cutover deploy`)"))
        .stderr_has("stale")
        .stderr_has("cutover unlock");
    project.cutover(&["rollback"]).code(3);
    let status = project.cutover(&["status", "--json"]).ok().json()["hosts"].clone();
    assert_eq!(status[0]["lock"]["stale"], true);
    project.cutover(&["unlock", "--reason", ""]).code(1);
    let (fresh, _) = local_project("");
    fresh.cutover(&["unlock", "--reason", "nothing deployed yet"]).ok().stderr_has("no host had a deploy lock");
    project.cutover(&["unlock", "--reason", "deploy was killed"]).ok().stderr_has("broke the lock held by ana@");
    let journal = std::fs::read_to_string(deploy.join(".cutover/journal.jsonl")).unwrap();
    assert!(journal.contains(r#""event":"unlock""#) && journal.contains("deploy was killed"), "{journal}");
    project.cutover(&["deploy"]).ok();
}

#[test]
fn malformed_journal_is_an_error_naming_host_and_line_and_changes_nothing() {
    let (project, deploy) = local_project("");
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    let journal = deploy.join(".cutover/journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.insert_str(0, "{not json\n");
    std::fs::write(&journal, text).unwrap();
    project.write("app/index.html", "v2\n");
    project.cutover(&["deploy"]).code(1).stderr_has("journal on `local` is malformed at line 1");
    project.cutover(&["rollback"]).code(1).stderr_has("journal on `local` is malformed at line 1");
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
    assert!(!deploy.join(".cutover/lock").exists(), "the lock taken before reading is given back");
}

#[test]
fn retention_keeps_the_configured_number_and_never_the_rollback_target() {
    let (project, deploy) = local_project("");
    let mut ids = Vec::new();
    for i in 0..5 {
        project.write("app/index.html", &format!("v{i}\n"));
        ids.push(project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned());
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(deploy.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, ids[2..], "keep_releases = 3");
    project.cutover(&["rollback"]).ok();
    project.cutover(&["rollback"]).ok();
    assert_eq!(current(&deploy).as_deref(), Some(ids[2].as_str()));
}

#[test]
fn home_relative_path_deploys_under_the_users_home() {
    let home = tempfile::tempdir().unwrap();
    let project = Project::new(&["local".into()], "~/sites/shop", "", 3);
    let home_str = home.path().display().to_string();
    project.cutover_with(&["deploy"], &[("HOME", &home_str)]).ok();
    assert_complete(&home.path().join("sites/shop"));
}

#[test]
fn rollback_to_a_named_older_release() {
    let (project, deploy) = local_project("");
    let mut ids = Vec::new();
    for i in 0..3 {
        project.write("app/index.html", &format!("v{i}\n"));
        ids.push(project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned());
    }
    project.cutover(&["rollback", "--to", &ids[0]]).ok();
    assert_eq!(current(&deploy).as_deref(), Some(ids[0].as_str()));
    project.cutover(&["rollback", "--to", "20000101T000000Z"]).code(1).stderr_has("it is not on the host");
    project.cutover(&["rollback", "--to", &ids[0]]).code(1).stderr_has("is already on");
}

#[test]
fn upload_shows_a_progress_bar_on_a_terminal() {
    let (project, _) = local_project("");
    project.write("app/big.bin", &"x".repeat(4 << 20));
    // `script` gives the binary a pseudo-terminal, as a user's shell would.
    let cmd = format!("{} deploy", support::cli::bin().display());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(project.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("local") && text.contains("MiB") && text.contains("[="), "no bar drawn:\n{text}");
    assert!(!text.contains("uploading 32 changed file(s)"), "plain lines are for non-terminals:\n{text}");
}

#[test]
fn the_host_rebuilds_the_manifest_from_a_patch_and_a_lost_cache_is_refetched() {
    let (project, deploy) = local_project("");
    project.cutover(&["deploy"]).ok();
    project.write("app/lib/part1/file1.txt", "changed\n");
    std::fs::remove_file(project.path().join("app/lib/part2/file2.txt")).unwrap();
    project.write("app/new/dir/added.txt", "added\n");
    let run = project.cutover(&["deploy", "--json"]).ok();
    assert!(!run.stderr.contains("sending it whole"), "{}", run.stderr);
    let second = run.json();
    let r2 = second["release"].as_str().unwrap().to_owned();
    assert_eq!(second["hosts"][0]["sent_files"], 2);
    // The manifest the host rebuilt is the one cutover made, byte for byte.
    let hash = second["manifest"].as_str().unwrap();
    let cached = std::fs::read_to_string(project.path().join(format!(".cutover/manifests/{hash}.tsv"))).unwrap();
    let on_host = std::fs::read_to_string(deploy.join(format!(".cutover/manifests/{r2}.tsv"))).unwrap();
    assert_eq!(on_host, cached);
    assert!(!deploy.join(format!("releases/{r2}/lib/part2/file2.txt")).exists(), "removed files are not linked");
    assert_complete(&deploy);

    // Without the local cache (another machine), the base manifest comes from the host.
    std::fs::remove_dir_all(project.path().join(".cutover/manifests")).unwrap();
    project.write("app/index.html", "v3\n");
    let third = project.cutover(&["deploy", "--json", "-v"]).ok();
    assert!(third.stderr.contains(&format!("fetching the manifest of {r2}")), "{}", third.stderr);
    assert_eq!(third.json()["hosts"][0]["sent_files"], 1);
    assert_complete(&deploy);

    // A host manifest that does not match its journal is not trusted: every file travels.
    let r3 = third.json()["release"].as_str().unwrap().to_owned();
    std::fs::remove_dir_all(project.path().join(".cutover/manifests")).unwrap();
    let tampered = deploy.join(format!(".cutover/manifests/{r3}.tsv"));
    let text = std::fs::read_to_string(&tampered).unwrap();
    std::fs::write(&tampered, text.replacen("lib/part3", "lib/partX", 1)).unwrap();
    project.write("app/index.html", "v4\n");
    let fourth = project.cutover(&["deploy", "--json"]).ok();
    assert!(fourth.stderr.contains("does not match its journal; sending every file"), "{}", fourth.stderr);
    assert_eq!(fourth.json()["hosts"][0]["sent_files"], 31);
    assert_complete(&deploy);
}

#[test]
fn a_shared_file_is_never_seeded_from_the_developers_copy() {
    let (project, deploy) = local_project("shared = [\".env\"]");
    project.write("app/.env", "APP_DEBUG=true\nDB_PASSWORD=devpass\n");
    project.cutover(&["deploy"]).code(1).stderr_has("shared file `.env` does not exist on this host");
    assert!(current(&deploy).is_none(), "nothing switched");
    assert!(!deploy.join("shared/.env").exists(), "the developer's .env did not become production's");
    std::fs::write(deploy.join("shared/.env"), "APP_DEBUG=false\n").unwrap();
    let id = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    let link = deploy.join(format!("releases/{id}/.env"));
    assert_eq!(std::fs::read_link(&link).unwrap(), std::path::Path::new("../../shared/.env"));
    assert_eq!(std::fs::read_to_string(deploy.join("current/.env")).unwrap(), "APP_DEBUG=false\n");
}

#[test]
fn a_shared_path_under_a_symlink_the_app_ships_is_refused_and_nothing_outside_is_touched() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("uploads")).unwrap();
    std::fs::write(outside.path().join("uploads/keep.png"), "precious").unwrap();
    let (project, deploy) = local_project("shared = [\"data/uploads/\"]");
    std::os::unix::fs::symlink(outside.path(), project.path().join("app/data")).unwrap();
    project.cutover(&["deploy"]).code(1).stderr_has("a parent directory in the release is a symlink");
    assert_eq!(std::fs::read_to_string(outside.path().join("uploads/keep.png")).unwrap(), "precious");
    assert!(current(&deploy).is_none());
}

#[test]
fn a_base_release_edited_on_the_host_is_not_linked_from() {
    let (project, deploy) = local_project("");
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    // Someone deletes a file in the live release by hand.
    std::fs::remove_file(deploy.join(format!("releases/{r1}/lib/part5/file5.txt"))).unwrap();
    project.write("app/index.html", "v2\n");
    let run = project.cutover(&["deploy", "--json"]).ok();
    assert!(run.stderr.contains("sending every file"), "{}", run.stderr);
    assert_eq!(run.json()["hosts"][0]["sent_files"], 31);
    assert_complete(&deploy);
    assert!(deploy.join("current/lib/part5/file5.txt").exists());
}

#[test]
fn with_unchanged_copy_a_hook_writing_in_place_cannot_touch_the_live_release() {
    let hook =
        "[hooks]\nbefore_switch = [\"if [ -e ../../fail ]; then printf hacked > lib/part1/file1.txt; exit 1; fi\"]";
    let (project, deploy) = local_project(&format!("unchanged = \"copy\"\n{hook}"));
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    std::fs::write(deploy.join("fail"), "").unwrap();
    project.write("app/index.html", "v2\n");
    project.cutover(&["deploy"]).code(1).stderr_has("before_switch hook");
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
    let live = std::fs::read_to_string(deploy.join("current/lib/part1/file1.txt")).unwrap();
    assert_eq!(live, "content of file 1\n", "the failed release's in-place write stayed in its own copy");
}

#[test]
fn an_automatic_rollback_of_a_checked_release_never_takes_down_a_newer_one() {
    let (project, deploy) = local_project("");
    let r1 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    project.write("app/index.html", "v2\n");
    let r2 = project.cutover(&["deploy", "--json"]).ok().json()["release"].as_str().unwrap().to_owned();
    let config = cutover_config::Config::load(&project.path().join("cutover.toml")).unwrap();
    let env = config.env("production").unwrap();
    let options = cutover_remote::SshOptions::default();
    let reporter = cutover_remote::NullReporter;
    let fleet =
        cutover_release::Fleet::connect("production", env.hosts(), env.path.clone(), &options, &reporter).unwrap();
    // The monitor judged r1, but r2 went live meanwhile: refused, nothing changes.
    let request = cutover_release::RollbackRequest {
        to: None,
        hooks: &config.hooks,
        command: "test",
        only_from: Some(&r1),
        mark: cutover_release::Mark::Failed("the monitor judged it"),
        before_switch: None,
    };
    let err = cutover_release::rollback(&fleet, &request, &reporter).unwrap_err();
    assert!(err.to_string().contains(&format!("not on {r1}")), "{err}");
    assert_eq!(current(&deploy).as_deref(), Some(r2.as_str()));
    // Judging r2 itself: rolled back to r1.
    let request = cutover_release::RollbackRequest { only_from: Some(&r2), ..request };
    cutover_release::rollback(&fleet, &request, &reporter).unwrap();
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
}

/// Issue 11, point 1: a rollback never waits on the local state. With `state.db` corrupt, or
/// something that cannot be opened as one, it rolls back from the hosts' journals, says that
/// the audit entry is missing, and exits 0; a deploy still refuses to run unaudited.
#[test]
fn rollback_works_from_the_journals_when_the_state_database_is_corrupt_or_unopenable() {
    let (project, deploy) = local_project("");
    let id = |run: support::cli::Run| run.json()["release"].as_str().unwrap().to_owned();
    let r1 = id(project.cutover(&["deploy", "--json"]).ok());
    project.write("app/index.html", "v2\n");
    let r2 = id(project.cutover(&["deploy", "--json"]).ok());
    let state_dir = project.path().join(".cutover");
    let db = state_dir.join("state.db");
    let remove_db = || {
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let path = state_dir.join(name);
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else if path.exists() {
                std::fs::remove_file(&path).unwrap();
            }
        }
    };

    // Corrupt: what was the database is garbage now.
    remove_db();
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let run = project.cutover(&["rollback"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: the audit entry could not be written"), "{}", run.stderr);
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
    // Other commands are not run unaudited: the deploy stops before touching the host.
    project.write("app/index.html", "v3\n");
    let refused = project.cutover(&["deploy"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));

    // Unopenable: a directory where the file should be.
    remove_db();
    let r3 = id(project.cutover(&["deploy", "--json"]).ok());
    assert_ne!(r3, r2);
    remove_db();
    std::fs::create_dir(&db).unwrap();
    let run = project.cutover(&["rollback", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: the audit entry could not be written"), "{}", run.stderr);
    assert_eq!(run.json()["to"], r1.as_str());
    assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()));
}

/// Issue 11, point 1, continued: `state.db` unreadable, or readable but not writable. The
/// suite runs as root, whom file modes do not stop, so the command runs without the
/// capabilities that bypass them (`setpriv`), as any other user would.
#[test]
fn rollback_works_when_the_state_database_is_unreadable_or_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    if !support::require("setpriv", std::process::Command::new("setpriv").arg("--version").output().is_ok()) {
        return;
    }
    let (project, deploy) = local_project("");
    let id = |run: support::cli::Run| run.json()["release"].as_str().unwrap().to_owned();
    let r1 = id(project.cutover(&["deploy", "--json"]).ok());
    let state_dir = project.path().join(".cutover");
    let unprivileged = |args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all", "--"])
            .arg(support::cli::bin())
            .args(args)
            .current_dir(project.path())
            .stdin(std::process::Stdio::null());
        support::cli::Run::from(cmd.output().unwrap())
    };
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for (case, file_mode, dir_mode) in [("unreadable", 0o000, 0o700), ("not writable", 0o400, 0o500)] {
        project.write("app/index.html", &format!("{case}\n"));
        let r2 = id(project.cutover(&["deploy", "--json"]).ok());
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let path = state_dir.join(name);
            if path.exists() {
                mode(&path, file_mode);
            }
        }
        mode(&state_dir, dir_mode);
        // The modes hold for this process: the check is real.
        let probe = unprivileged(&["log"]);
        assert_ne!(probe.code, 0, "{case}: the state database was usable: {}", probe.stderr);
        let run = unprivileged(&["rollback", "--json"]);
        mode(&state_dir, 0o700);
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let path = state_dir.join(name);
            if path.exists() {
                mode(&path, 0o600);
            }
        }
        assert_eq!(run.code, 0, "{case}: {}", run.stderr);
        assert!(run.stderr.contains("warning: the audit entry could not be written"), "{case}: {}", run.stderr);
        assert_eq!(run.json()["to"], r1.as_str(), "{case}");
        assert_eq!(current(&deploy).as_deref(), Some(r1.as_str()), "{case}");
        assert_ne!(r2, r1);
        // With its modes back, the database is whole and in use again.
        project.cutover(&["log"]).ok();
    }
}

#[test]
fn terminal_control_characters_from_hooks_are_escaped() {
    let (project, _) = local_project(
        "[hooks]\nbefore_switch = [\"printf '\\\\033]0;owned\\\\007\\\\033[2Jcleared\\\\n'; printf '\\\\033[31mred\\\\n' >&2; exit 1\"]",
    );
    let run = project.cutover(&["deploy"]).code(1);
    assert!(!run.stderr.contains('\x1b') && !run.stderr.contains('\x07'), "raw control characters:\n{:?}", run.stderr);
    run.stderr_has("[local] \\x{1b}]0;owned\\x{7}\\x{1b}[2Jcleared").stderr_has("\\x{1b}[31mred");
}

#[test]
fn log_keeps_one_line_per_entry_when_a_reason_holds_newlines_and_tabs() {
    let (project, _) = local_project("");
    project.cutover(&["unlock", "--reason", "first line\nsecond line\twith a tab \\n"]).ok();
    project.cutover(&["status"]).ok();
    let entries = project.cutover(&["--json", "log"]).ok().json();
    let run = project.cutover(&["log"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line per entry (`log` itself is not audited):\n{}", run.stdout);
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let unlock = lines.iter().find(|l| l.contains("unlock")).expect("the unlock entry");
    assert!(unlock.contains("first line\\nsecond line\\twith a tab \\\\n"), "escaped, and a backslash too: {unlock}");
    assert_eq!(unlock.split('\t').count(), 5, "tabs only between the fields: {unlock}");
    // `--json` keeps the text as it was.
    let command =
        entries.as_array().unwrap().iter().find_map(|e| e["command"].as_str().filter(|c| c.contains("unlock")));
    assert!(command.unwrap().ends_with("--reason first line\nsecond line\twith a tab \\n"), "{command:?}");
}

#[test]
fn config_check_fails_naming_the_path_when_source_does_not_exist() {
    let (project, _) = local_project("");
    std::fs::remove_dir_all(project.path().join("app")).unwrap();
    let run = project
        .cutover(&["config", "check"])
        .code(2)
        .stderr_has("error: cutover.toml:4:10: source `app` does not exist (`")
        .stderr_has("   | source = \"app\"");
    assert!(run.stderr.contains(&format!("{}`)", project.path().join("app").display())), "{}", run.stderr);
    project.write("app", "a file, not a directory");
    project.cutover(&["config", "check"]).code(2).stderr_has("source `app` is not a directory");
    // Commands that need no source still run: a rollback must never depend on the build tree.
    project.cutover(&["status"]).ok();
}

#[test]
fn every_preset_leaves_dotenv_files_behind_on_deploy() {
    for preset in ["generic", "laravel", "wordpress"] {
        let project = Project { dir: tempfile::tempdir().unwrap() };
        project.cutover(&["init", "--preset", preset]).ok();
        let deploy = tempfile::Builder::new().prefix("cutover-srv-").tempdir().unwrap().keep().join("app");
        // The preset's own [app] section; staging on this machine, no hooks, no smoke checks.
        let text = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
        let text = text
            .replace("hosts = [\"deploy@staging.example.com\"]", "hosts = [\"local\"]")
            .replace(
                &format!("path = \"~/{}\"", project.path().file_name().unwrap().to_str().unwrap()),
                "path = \"~/x\"",
            )
            .replacen("path = \"~/x\"", &format!("path = \"{}\"", deploy.display()), 1)
            .replace("before_switch = [\"mkdir", "before_switch_unused = [\"mkdir")
            .replace("after_switch = [\"php", "after_switch_unused = [\"php")
            .replace("after_deploy = true", "after_deploy = false");
        let text = text
            .lines()
            .filter(|l| !l.starts_with("before_switch_unused") && !l.starts_with("after_switch_unused"))
            .collect::<Vec<_>>()
            .join("\n");
        // Secrets from the environment (the vault needs a key): the PHP presets render .env.
        let text = text.replace("provider = \"vault\"", "provider = \"env\"");
        // No database here: no migrations, snapshots or seeding (their own tests have them).
        let text = text
            .replace("migrate = [\"php artisan migrate --force\"]", "migrate = []")
            .replace("database = \"env\"\n", "");
        project.write("cutover.toml", &text);
        project.write("index.php", "<?php echo 'v1';\n");
        for env in [".env", ".env.production", ".env.local", "config/.env.staging", ".env.example"] {
            project.write(env, "APP_KEY=base64:c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldCE=\n");
        }
        // WordPress's own loader, standing in: it shows what wp-config.php defined.
        project.write(
            "wp-settings.php",
            "<?php echo json_encode(['DB_NAME' => DB_NAME, 'DB_PASSWORD' => DB_PASSWORD, 'AUTH_SALT' => AUTH_SALT, \
             'WP_HOME' => WP_HOME, 'WP_ENVIRONMENT_TYPE' => WP_ENVIRONMENT_TYPE, 'WP_DEBUG' => WP_DEBUG, \
             'prefix' => $table_prefix]);\n",
        );
        let secrets: Vec<(String, String)> = [
            "APP_KEY",
            "DB_PASSWORD",
            "MAIL_PASSWORD",
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        ]
        .iter()
        .map(|n| {
            (
                format!("CUTOVER_STAGING_{n}"),
                if *n == "APP_KEY" {
                    "base64:c3RhZ2luZyBzdGFnaW5nIHN0YWdpbmcgc3RhZ2luZyE=".to_owned()
                } else {
                    format!("stg-{n}-value")
                },
            )
        })
        .collect();
        let secrets: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        project.cutover_with(&["--env", "staging", "deploy"], &secrets).ok();
        let release = deploy.join("current");
        assert!(release.join("index.php").is_file(), "{preset}: the app was deployed");
        for env in [".env.production", ".env.local", "config/.env.staging", ".env.example"] {
            assert!(!release.join(env).exists(), "{preset}: `{env}` was uploaded");
        }
        // `.env` is never the developer's: the one rendered from staging's template (laravel and
        // wordpress), or none.
        match (preset, std::fs::read_to_string(release.join(".env"))) {
            ("laravel", Ok(text)) => assert!(text.contains("APP_ENV=staging\nAPP_KEY=base64:c3Rh"), "{text}"),
            ("wordpress", Ok(text)) => assert!(text.contains("WP_ENVIRONMENT_TYPE=staging"), "{text}"),
            (_, Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{preset}"),
            (_, Ok(text)) => panic!("{preset}: a .env in the release: {text}"),
        }
        if preset == "wordpress" {
            // wp-config.php ships in the release and reads every value from the rendered .env.
            let out = std::process::Command::new("php").arg(release.join("wp-config.php")).output().unwrap();
            let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
            });
            let app = project.path().file_name().unwrap().to_str().unwrap().to_owned();
            assert_eq!(
                got,
                serde_json::json!({ "DB_NAME": format!("{app}_staging"), "DB_PASSWORD": "stg-DB_PASSWORD-value",
                    "AUTH_SALT": "stg-AUTH_SALT-value", "WP_HOME": "https://staging.example.com",
                    "WP_ENVIRONMENT_TYPE": "staging", "WP_DEBUG": true, "prefix": "wp_" }),
            );
        }
    }
}
