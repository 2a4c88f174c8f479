//! A host reached with the system OpenSSH client: one master connection per host (ControlMaster),
//! every script a new session over it. The user's ssh config, agent, ProxyJump and known_hosts
//! apply exactly as in a terminal; host keys are always verified and nothing ever prompts.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustix::fs::{FlockOperation, flock};

use crate::exec::{self, Sink};
use crate::{Output, RemoteError, Stdin, Target, shell};

#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Passed as `-F FILE`.
    pub config_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How long a connected host may stay silent before ssh gives it up (ServerAlive).
    pub timeout: Duration,
    /// The ssh client to run; `ssh` from `PATH` unless set.
    pub program: PathBuf,
    /// How long a host's master connection stays open after the last command used it, so the
    /// next command (a rollback) starts on an open connection. Zero closes it when cutover exits.
    pub persist: Duration,
    /// How many hosts a command works at once (`[ssh] max_parallel`).
    pub max_parallel: usize,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            config_file: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            program: "ssh".into(),
            persist: Duration::ZERO,
            max_parallel: 128,
        }
    }
}

#[derive(Debug)]
pub struct SshTarget {
    dest: String,
    options: SshOptions,
    control_path: PathBuf,
    /// A private socket directory, removed on drop, when the master does not persist.
    private_dir: Option<tempfile::TempDir>,
    /// The step during which the connection was lost (ssh exited 255: the host stopped
    /// answering for `timeout`, or the connection broke): the host is given up for the rest of
    /// this command, so every later step there fails at once instead of waiting again.
    lost: Mutex<Option<String>>,
}

/// How long an idle, non-persistent master lingers if cutover dies without closing it (SIGKILL).
const ORPHAN_PERSIST_SECS: u64 = 60;

impl SshTarget {
    /// Opens the host's master connection, or reuses one a previous command left open; returns
    /// once the host is authenticated and the socket answers.
    pub fn connect(dest: &str, options: &SshOptions) -> Result<Self, RemoteError> {
        let spawn_err = |source| RemoteError::Spawn {
            host: dest.to_owned(),
            program: options.program.display().to_string(),
            source,
        };
        let (control_path, private_dir) = if options.persist.is_zero() {
            // Unix socket paths are short (108 bytes): keep the directory in /tmp.
            let dir = tempfile::Builder::new().prefix("cutover-ssh-").tempdir_in("/tmp").map_err(spawn_err)?;
            (dir.path().join("mux"), Some(dir))
        } else {
            // One socket per connection as ssh resolves it, in a directory only this user can
            // enter: an alias edited to mean another server, user or key gets a master of its own.
            let key = master_key(dest, options)?;
            (shared_control_dir().map_err(spawn_err)?.join(key), None)
        };
        let target =
            Self { dest: dest.to_owned(), options: options.clone(), control_path, private_dir, lost: Mutex::new(None) };
        // Two cutover processes must not both start a master for the same socket.
        let _guard = FileLock::take(&target.control_path.with_extension("lock")).map_err(spawn_err)?;
        // A socket left by an earlier command is used as it is: checking it would cost an ssh
        // process per host, and if its master has died the first session (ControlMaster=auto)
        // removes the stale socket and becomes the new master.
        if target.private_dir.is_none() && target.control_path.exists() {
            return Ok(target);
        }
        let log_path = target.control_path.with_extension("log");
        let log = std::fs::File::create(&log_path).map_err(spawn_err)?;
        let persist = if options.persist.is_zero() { ORPHAN_PERSIST_SECS } else { options.persist.as_secs().max(1) };
        let mut cmd = target.base_command();
        cmd.args(["-o", "ControlMaster=yes"])
            .arg("-o")
            .arg(format!("ControlPersist={persist}"))
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
        let mut cmd = ssh_command(&self.options);
        cmd.arg("-o").arg(format!("ControlPath={}", self.control_path.display()));
        cmd
    }
}

/// `ssh` with the options every invocation for a host shares: the user's `-F` file, never a
/// prompt, host keys always checked, and how long to wait for the host.
#[allow(clippy::disallowed_methods)] // a target starts its own `ssh`
fn ssh_command(options: &SshOptions) -> Command {
    let mut cmd = Command::new(&options.program);
    if let Some(file) = &options.config_file {
        cmd.arg("-F").arg(file);
    }
    cmd.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("ConnectTimeout={}", options.connect_timeout.as_secs().max(1)))
        .arg("-o")
        .arg(format!("ServerAliveInterval={}", alive_interval(options.timeout)))
        .arg("-o")
        .arg(format!("ServerAliveCountMax={ALIVE_COUNT_MAX}"));
    cmd
}

/// Keepalives a silent host may leave unanswered before ssh gives it up.
const ALIVE_COUNT_MAX: u64 = 2;

/// Seconds between keepalives so that a host silent for `timeout` is given up: ssh sends one
/// after each interval without a packet from the host and gives up at the `ALIVE_COUNT_MAX + 1`th,
/// so after `(ALIVE_COUNT_MAX + 1)` intervals of silence, never later than `timeout` (3 s at
/// least). The master and every session carry it (a session may become the master).
fn alive_interval(timeout: Duration) -> u64 {
    (timeout.as_secs() / (ALIVE_COUNT_MAX + 1)).max(1)
}

/// What `ssh -G` prints for `dest`: every setting ssh would connect with (user, hostname, port,
/// ProxyJump, ProxyCommand, identity files, …), the `-F` file and our own options applied. No
/// connection is made; each destination is resolved once per process.
fn resolve(dest: &str, options: &SshOptions) -> Result<Arc<str>, RemoteError> {
    static RESOLVED: Mutex<BTreeMap<Vec<OsString>, Arc<str>>> = Mutex::new(BTreeMap::new());
    let mut cmd = ssh_command(options);
    cmd.arg("-G").arg(dest).stdin(Stdio::null());
    let key: Vec<OsString> =
        std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(std::ffi::OsStr::to_owned).collect();
    if let Some(text) = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return Ok(Arc::clone(text));
    }
    let out = cmd.output().map_err(|source| RemoteError::Spawn {
        host: dest.to_owned(),
        program: options.program.display().to_string(),
        source,
    })?;
    if !out.status.success() {
        return Err(RemoteError::Failed {
            host: dest.to_owned(),
            step: "`ssh -G` (reading the host's ssh config)".into(),
            status: "error".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let text: Arc<str> = String::from_utf8_lossy(&out.stdout).into();
    RESOLVED.lock().unwrap_or_else(PoisonError::into_inner).insert(key, Arc::clone(&text));
    Ok(text)
}

/// The name of `dest`'s master socket: a hash of what ssh resolves for it (as OpenSSH's `%C`
/// hashes host, port and user, but of every setting), short enough for a socket path.
fn master_key(dest: &str, options: &SshOptions) -> Result<String, RemoteError> {
    let resolved = resolve(dest, options)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(options.program.as_os_str().as_encoded_bytes()).update(b"\0").update(resolved.as_bytes());
    Ok(hasher.finalize().to_hex()[..20].to_owned())
}

/// Where `dest` connects, as ssh itself sees it: the `hostname` that `ssh -G` prints (the user's
/// ssh config applied, no connection made), and its addresses from the system resolver.
pub fn addresses(dest: &str, options: &SshOptions) -> Result<(String, Vec<std::net::IpAddr>), RemoteError> {
    let failed = |detail: String| RemoteError::Failed {
        host: dest.to_owned(),
        step: "`ssh -G` (reading the host's address)".into(),
        status: "error".into(),
        detail,
    };
    let text = resolve(dest, options)?;
    let hostname = text
        .lines()
        .find_map(|l| l.strip_prefix("hostname "))
        .map(str::trim)
        .ok_or_else(|| failed("no `hostname` in its output".into()))?;
    let hostname = hostname.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = hostname.parse() {
        return Ok((hostname.to_owned(), vec![ip]));
    }
    let mut addrs: Vec<std::net::IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(hostname, 0))
        .map_err(|e| failed(format!("cannot resolve `{hostname}`: {e}")))?
        .map(|a| a.ip())
        .collect();
    addrs.sort();
    addrs.dedup();
    Ok((hostname.to_owned(), addrs))
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

    fn command(&self, marker: &str) -> Command {
        let mut cmd = self.base_command();
        if self.private_dir.is_none() {
            cmd.args(["-o", "ControlMaster=auto"])
                .arg("-o")
                .arg(format!("ControlPersist={}", self.options.persist.as_secs().max(1)));
        } else {
            cmd.args(["-o", "ControlMaster=no"]);
        }
        // The login shell (sh, bash, csh, fish, …) parses only this line, the same for every
        // script; the script itself comes on stdin.
        let remote = format!("exec sh -c {} cutover {marker}", shell::quote(shell::BOOTSTRAP));
        cmd.arg("-T").arg(&self.dest).arg(remote);
        cmd
    }

    fn exec(&self, step: &str, script: &str, stdin: Stdin<'_>, sink: Sink<'_>) -> Result<Output, RemoteError> {
        if let Some(during) = self.lost.lock().unwrap_or_else(PoisonError::into_inner).as_deref() {
            return Err(RemoteError::Connect {
                host: self.dest.clone(),
                detail: format!("given up: the connection was lost during {during}, so {step} was not tried"),
            });
        }
        let output = exec::run(&self.dest, step, |marker| self.command(marker), script, stdin, sink)?;
        if output.code() == Some(255) {
            self.lost.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| step.to_owned());
        }
        Ok(output)
    }

    fn failure(&self, step: &str, output: &Output) -> RemoteError {
        // ssh itself exits 255 when the connection fails or drops.
        if output.code() == Some(255) {
            let detail = output.stderr.trim().to_owned();
            if is_host_key_failure(&detail) {
                return RemoteError::HostKey { host: self.dest.clone(), detail };
            }
            // A session over a master that gave the host up ends without a word.
            let detail = if detail.is_empty() {
                format!(
                    "the host did not answer for {} (`[ssh] timeout`), or the connection closed",
                    cutover_config::human::duration(self.options.timeout)
                )
            } else {
                detail
            };
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
    /// A persistent master stays for the next command; a private one is closed now.
    fn drop(&mut self) {
        if self.private_dir.is_none() {
            return;
        }
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

/// `$XDG_RUNTIME_DIR/cutover-ssh`, or `/tmp/cutover-ssh-UID`: created 0700, and refused when it
/// belongs to someone else or others may enter it (they could reach our hosts through it).
fn shared_control_dir() -> std::io::Result<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("cutover-ssh"),
        None => PathBuf::from(format!("/tmp/cutover-ssh-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("`{}` must be a directory owned by you with mode 0700", dir.display()),
        ));
    }
    Ok(dir)
}

/// An exclusive `flock` on a file, held until dropped.
struct FileLock(std::fs::File);

impl FileLock {
    fn take(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        flock(&file, FlockOperation::LockExclusive)?;
        Ok(Self(file))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file would release it too.
        let _ = flock(&self.0, FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The master key of `app` under an ssh config holding `block`, through the real `ssh -G`.
    fn key_of(dir: &Path, name: &str, block: &str) -> String {
        let file = dir.join(name);
        std::fs::write(&file, format!("Host app\n{block}")).unwrap();
        master_key("app", &SshOptions { config_file: Some(file), ..SshOptions::default() }).unwrap()
    }

    #[test]
    fn the_master_key_follows_what_ssh_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let base = "  HostName 127.0.0.9\n  Port 2222\n  User deploy\n";
        let key = key_of(dir.path(), "a", base);
        assert_eq!(key.len(), 20);
        // The same resolution written another way (another file, a comment) keeps the master.
        assert_eq!(key_of(dir.path(), "b", &format!("  # the app server\n{base}")), key);
        for (what, change) in [
            ("user", "  User other\n"),
            ("hostname", "  HostName 127.0.0.10\n"),
            ("port", "  Port 2223\n"),
            ("proxyjump", "  ProxyJump bastion\n"),
            ("proxycommand", "  ProxyCommand nc %h %p\n"),
            ("identity", "  IdentityFile /keys/other\n"),
        ] {
            // ssh takes the first value given, so the change goes first.
            assert_ne!(key_of(dir.path(), what, &format!("{change}{base}")), key, "{what} changed");
        }
    }
}
