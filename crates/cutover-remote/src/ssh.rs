//! A host reached with the system OpenSSH client: one master connection per host (ControlMaster),
//! every script a new session over it. The user's ssh config, agent, ProxyJump and known_hosts
//! apply exactly as in a terminal; host keys are always verified and nothing ever prompts.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Output, RemoteError, Target, shell};

#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Passed as `-F FILE`.
    pub config_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The ssh client to run; `ssh` from `PATH` unless set.
    pub program: PathBuf,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self { config_file: None, connect_timeout: Duration::from_secs(10), program: "ssh".into() }
    }
}

#[derive(Debug)]
pub struct SshTarget {
    dest: String,
    options: SshOptions,
    control_path: PathBuf,
    // Holds the control socket; removed when the target is dropped.
    _control_dir: tempfile::TempDir,
}

/// How long an idle master lingers if cutover dies without closing it (SIGKILL).
const CONTROL_PERSIST_SECS: u32 = 60;

impl SshTarget {
    /// Starts the master connection; returns once the host is authenticated and the socket is up.
    pub fn connect(dest: &str, options: &SshOptions) -> Result<Self, RemoteError> {
        let spawn_err = |source| RemoteError::Spawn {
            host: dest.to_owned(),
            program: options.program.display().to_string(),
            source,
        };
        // Unix socket paths are short (108 bytes): keep the directory in /tmp.
        let control_dir = tempfile::Builder::new().prefix("cutover-ssh-").tempdir_in("/tmp").map_err(spawn_err)?;
        let target = Self {
            dest: dest.to_owned(),
            options: options.clone(),
            control_path: control_dir.path().join("mux"),
            _control_dir: control_dir,
        };
        let log_path = target._control_dir.path().join("master.log");
        let log = std::fs::File::create(&log_path).map_err(spawn_err)?;
        let mut cmd = target.base_command();
        cmd.args(["-o", "ControlMaster=yes"])
            .arg("-o")
            .arg(format!("ControlPersist={CONTROL_PERSIST_SECS}"))
            .args(["-f", "-N", "-T"])
            .arg(dest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // `-f`: ssh goes to the background only after authentication succeeded.
        let status = cmd.status().map_err(spawn_err)?;
        if !status.success() {
            let detail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let detail = detail.trim().lines().filter(|l| !l.starts_with("@@@")).collect::<Vec<_>>().join("\n");
            return Err(if is_host_key_failure(&detail) {
                RemoteError::HostKey { host: dest.to_owned(), detail }
            } else {
                RemoteError::Connect { host: dest.to_owned(), detail }
            });
        }
        Ok(target)
    }

    fn base_command(&self) -> Command {
        let mut cmd = Command::new(&self.options.program);
        if let Some(file) = &self.options.config_file {
            cmd.arg("-F").arg(file);
        }
        cmd.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("ConnectTimeout={}", self.options.connect_timeout.as_secs().max(1)))
            .args(["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"])
            .arg("-o")
            .arg(format!("ControlPath={}", self.control_path.display()));
        cmd
    }
}

fn is_host_key_failure(detail: &str) -> bool {
    detail.contains("Host key verification failed")
        || detail.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || detail.contains("No ED25519 host key is known")
        || detail.contains("host key for")
}

impl Target for SshTarget {
    fn name(&self) -> &str {
        &self.dest
    }

    fn command(&self, script: &str) -> Command {
        let mut cmd = self.base_command();
        // The remote login shell may be anything; `sh -c` gives every script the same shell.
        cmd.args(["-o", "ControlMaster=no", "-T"]).arg(&self.dest).arg(format!("sh -c {}", shell::quote(script)));
        cmd
    }

    fn failure(&self, step: &str, output: &Output) -> RemoteError {
        // ssh itself exits 255 when the connection fails or drops.
        if output.code() == Some(255) {
            let detail = output.stderr.trim().to_owned();
            if is_host_key_failure(&detail) {
                return RemoteError::HostKey { host: self.dest.clone(), detail };
            }
            return RemoteError::Connect {
                host: self.dest.clone(),
                detail: format!("connection lost during {step}: {detail}"),
            };
        }
        RemoteError::Failed {
            host: self.dest.clone(),
            step: step.to_owned(),
            status: output.describe_status(),
            detail: output.tail(),
        }
    }
}

impl Drop for SshTarget {
    fn drop(&mut self) {
        let _ = self
            .base_command()
            .args(["-O", "exit"])
            .arg(&self.dest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
