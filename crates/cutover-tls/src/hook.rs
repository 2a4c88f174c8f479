//! The DNS-01 hook: a local `sh -c` command that publishes or removes one TXT record.

use std::path::Path;
use std::time::Duration;

use cutover_process::ProcessError;
use cutover_remote::Reporter;

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
/// exit, a signal or `timeout` is an error naming the hook. Output lines go to the reporter as
/// they come.
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
    let mut cmd = cutover_process::command("sh");
    cmd.arg("-c")
        .arg(hook)
        .env("CUTOVER_ACME_ACTION", action)
        .env("CUTOVER_ACME_DOMAIN", &record.domain)
        .env("CUTOVER_ACME_NAME", &record.name)
        .env("CUTOVER_ACME_VALUE", &record.value);
    if let Some(dir) = workdir {
        cmd.current_dir(dir);
    }
    // Its own process group, so a timeout stops the hook and everything it started, and a
    // background process holding its output open cannot make this wait.
    let mut lines = Vec::new();
    let result = cutover_process::run_streaming(cmd, timeout, &mut |_, line| {
        progress.hook_line("dns hook", line);
        lines.push(line.to_owned());
    });
    let tail = || {
        let text = lines.join("\n");
        let lines: Vec<&str> = text.trim_end().lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    };
    match result {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(fail(cutover_process::describe(status), tail())),
        Err(ProcessError::Timeout { .. }) => {
            Err(fail(format!("no exit within {} s, stopped", timeout.as_secs()), tail()))
        }
        Err(ProcessError::Start { source, .. }) => Err(fail("could not start `sh`".into(), source.to_string())),
        Err(ProcessError::Wait { source, .. }) => Err(fail("could not wait for it".into(), source.to_string())),
    }
}
