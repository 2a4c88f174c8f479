//! The README's first two commands are the newcomer's contract: `.ci/run` must run the test
//! command exactly as the README writes it, so CI proves what a newcomer types.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

fn repo_file(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// The command part (before the `#` comment) of the README line that runs the tests.
fn readme_test_command() -> String {
    let readme = repo_file("README.md");
    let line =
        readme.lines().find(|l| l.contains("cargo test")).expect("the README names the command that runs every test");
    line.split('#').next().unwrap().trim().to_owned()
}

#[test]
fn ci_runs_the_readme_test_command_as_written() {
    let command = readme_test_command();
    assert!(!command.starts_with("sudo"), "a fresh Debian machine has no sudo: {command}");
    assert!(command.contains("--workspace") && command.contains("--locked"), "{command}");
    let run = repo_file(".ci/run");
    assert!(run.contains(&command), ".ci/run does not run the README's `{command}`");
    assert!(run.contains("cargo clippy --workspace --all-targets --locked -- -D warnings"));
}

/// On a machine without sudo, a non-root user is told to run setup as root before anything is
/// installed (root itself never goes near sudo: the line above proves the README has none).
#[test]
fn setup_without_root_or_sudo_says_so_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    if !cutover_testkit::require("root (to run setup as another user)", cutover_testkit::is_root()) {
        return;
    }
    // A directory the other user can read, holding the script and a PATH with `id` and nothing
    // else: no sudo, no apt-get.
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/usr/bin/id", bin.path().join("id")).unwrap();
    let setup = bin.path().join("setup");
    std::fs::write(&setup, repo_file(".ci/setup")).unwrap();
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash"])
        .arg(&setup)
        .env_clear()
        .env("PATH", bin.path())
        .output()
        .expect("run setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("must run as root (and sudo is not installed)"), "{stderr}");
    assert!(!stderr.contains("installing"), "{stderr}");
}
