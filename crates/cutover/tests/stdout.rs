//! Writes to stdout are checked: a reader that went away (`| head`) ends the output quietly, with
//! the command's own exit code; any other failed write (a full disk) fails the command.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::process::{Command, Stdio};

use support::cli::Project;

/// A project deploying to this machine, with one release deployed.
fn deployed() -> Project {
    let dir = tempfile::Builder::new().prefix("cutover-srv-").tempdir().unwrap().keep();
    let project = Project::new(&["local".into()], &dir.join("app").display().to_string(), "", 3);
    project.cutover(&["deploy"]).ok();
    project
}

/// Runs the binary with stdout on `stdout` and returns its exit code and stderr.
fn run(project: &Project, args: &[&str], stdout: impl Into<Stdio>, input: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .current_dir(project.path())
        .env_remove("CUTOVER_CONFIG")
        .env_remove("CUTOVER_ENV")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cutover");
    if let Some(input) = input {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait for cutover");
    (output.status.code().expect("exited"), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A pipe whose reader is already gone: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full")
}

/// The audit entry of the last command run with the project's config.
fn last_audit(project: &Project) -> serde_json::Value {
    let entries = project.cutover(&["--json", "log"]).ok().json();
    entries.as_array().and_then(|e| e.last()).cloned().expect("an audit entry")
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_commands_own_exit_code() {
    let project = deployed();
    for args in [&["--json", "releases"][..], &["releases"], &["status"], &["log"], &["--help"], &["--version"]] {
        let (code, stderr) = run(&project, args, closed_pipe(), None);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
    assert_eq!(last_audit(&project)["exit_code"], 0);
    // A failing command keeps its exit code and its error.
    let (code, stderr) = run(&project, &["--json", "rollback", "--to", "nope"], closed_pipe(), None);
    assert_ne!(code, 0);
    assert!(stderr.contains("error:") && !stderr.contains("stdout"), "{stderr}");
    // The rewriter stops quietly too.
    let dump = "INSERT INTO t VALUES('http://old.test/a');\n".repeat(1000);
    let args = ["db", "rewrite", "--dialect", "sqlite", "--replace", "http://old.test", "https://new.test"];
    let (code, stderr) = run(&project, &args, closed_pipe(), Some(&dump));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn a_failed_write_to_stdout_fails_the_command_and_its_audit_entry() {
    let project = deployed();
    for args in [&["--json", "releases"][..], &["status"]] {
        let (code, stderr) = run(&project, args, dev_full(), None);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stderr.contains("error: failed to write to stdout"), "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{args:?}: {stderr}");
        let entry = last_audit(&project);
        assert_eq!(entry["exit_code"], 1, "{entry:#}");
        assert_eq!(entry["summary"], "failed to write to stdout", "{entry:#}");
    }
    let (code, stderr) = run(&project, &["--help"], dev_full(), None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error: failed to write to stdout"), "{stderr}");
    let dump = "INSERT INTO t VALUES('x');\n";
    let (code, stderr) = run(&project, &["db", "rewrite", "--dialect", "sqlite"], dev_full(), Some(dump));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}
