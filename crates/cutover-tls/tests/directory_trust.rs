//! The extra CA adds trust for the ACME directory; it does not replace the system's roots.
//!
//! Alone in its test binary: it points `SSL_CERT_FILE` (read by the system-roots loader) at the
//! CA of Pebble's HTTPS certificate, which no other test may see.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use cutover_remote::Target;
use cutover_testkit::pebble::{self, Pebble};
use cutover_testkit::require;
use cutover_tls::{Challenge, Plan, Reporter, TlsIssueError, issue};

#[derive(Debug)]
struct DirHost(PathBuf);

impl Target for DirHost {
    fn name(&self) -> &str {
        "web"
    }

    fn command(&self, marker: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(cutover_remote::shell::BOOTSTRAP)
            .arg("cutover")
            .arg(marker)
            .env("HOME", &self.0)
            .current_dir(&self.0);
        cmd
    }
}

#[derive(Debug, Default)]
struct Log(Mutex<Vec<String>>);

impl Reporter for Log {
    fn step(&self, _: Option<&str>, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
    fn hook_line(&self, _: &str, _: &str) {}
    fn warn(&self, _: Option<&str>, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
    fn upload_start(&self, _: &str, _: usize, _: u64) {}
    fn upload_progress(&self, _: &str, _: u64) {}
    fn upload_done(&self, _: &str) {}
}

#[test]
#[allow(unsafe_code)] // set_var: rustls-native-certs reads SSL_CERT_FILE from the environment
fn the_system_roots_still_count_when_an_extra_ca_is_set() {
    if !require("pebble", pebble::available()) {
        return;
    }
    let pebble = Pebble::start();
    // SAFETY: the only test in this binary, set before any TLS client exists; no other thread
    // reads the environment now.
    unsafe { std::env::set_var("SSL_CERT_FILE", pebble.https_ca_path()) };
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("web");
    std::fs::create_dir_all(&home).unwrap();
    let unrelated = cutover_testkit::certs::Ca::new("not pebble's").write(root.path(), "unrelated");
    // The hook fails on purpose: reaching it means the account was registered over HTTPS.
    let challenge = Challenge::Dns01 { hook: "exit 7".into(), workdir: None };
    let mut plan = Plan::new(vec!["trust.cutover.test".into()], challenge, "~/c.pem", "~/k.pem", root.path().join("s"));
    plan.directory = pebble.directory_url();
    plan.directory_ca = Some(unrelated);
    let log = Log::default();
    let err = issue(&plan, &[&DirHost(home) as &dyn Target], &log).unwrap_err();
    let steps = log.0.lock().unwrap().join("\n");
    assert!(matches!(err, TlsIssueError::Hook { .. }), "{err}\n{steps}");
    assert!(steps.contains("trying the system's roots") && steps.contains("ACME account stored"), "{steps}");
}
