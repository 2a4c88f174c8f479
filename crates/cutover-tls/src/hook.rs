//! The DNS-01 hook: a local `sh -c` command that publishes or removes one TXT record.

use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover_release::Reporter;

use crate::error::TlsIssueError;

/// One TXT record the ACME server wants to see.
#[derive(Debug, Clone)]
pub(crate) struct TxtRecord {
    /// The name being validated, without a wildcard's `*.`.
    pub domain: String,
    /// `_acme-challenge.<domain>`.
    pub name: String,
    pub value: String,
}

/// Runs `hook` with `CUTOVER_ACME_ACTION=action` and the record in the environment; a non-zero
/// exit, a signal or `timeout` is an error naming the hook. Output lines go to the reporter.
pub(crate) fn run(
    hook: &str,
    workdir: Option<&Path>,
    action: &str,
    record: &TxtRecord,
    timeout: Duration,
    progress: &dyn Reporter,
) -> Result<(), TlsIssueError> {
    let fail = |status: String, detail: String| TlsIssueError::Hook {
        hook: hook.to_owned(),
        action: action.to_owned(),
        domain: record.domain.clone(),
        status,
        detail,
    };
    // Output to a file, not a pipe: a hook that leaves a background process holding its output
    // open cannot make this wait.
    let mut out = tempfile::tempfile().map_err(|e| fail("could not start".into(), e.to_string()))?;
    let err_file = out.try_clone().map_err(|e| fail("could not start".into(), e.to_string()))?;
    let out_file = out.try_clone().map_err(|e| fail("could not start".into(), e.to_string()))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(hook)
        .env("CUTOVER_ACME_ACTION", action)
        .env("CUTOVER_ACME_DOMAIN", &record.domain)
        .env("CUTOVER_ACME_NAME", &record.name)
        .env("CUTOVER_ACME_VALUE", &record.value)
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file);
    if let Some(dir) = workdir {
        cmd.current_dir(dir);
    }
    // Its own process group, so a timeout stops the hook and everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| fail("could not start `sh`".into(), e.to_string()))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail("could not wait for it".into(), e.to_string())),
        }
    };
    if status.is_none() {
        // SAFETY: kill(2) on the process group this function created for the hook.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.wait();
    }
    let mut text = String::new();
    let _ = out.rewind();
    let _ = out.read_to_string(&mut text);
    for line in text.lines() {
        progress.hook_line("dns hook", line);
    }
    let tail = || {
        let lines: Vec<&str> = text.trim_end().lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    };
    match status {
        None => Err(fail(format!("no exit within {} s, stopped", timeout.as_secs()), tail())),
        Some(status) if status.success() => Ok(()),
        Some(status) => {
            use std::os::unix::process::ExitStatusExt;
            let status = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                _ => "unknown status".to_owned(),
            };
            Err(fail(status, tail()))
        }
    }
}
