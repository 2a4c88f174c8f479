//! A real PHP-FPM (Debian's `php-fpm`) with a pool of its own on a unix socket in a temporary
//! directory, OPcache on as production runs it (`opcache.validate_timestamps=0`: a file is
//! compiled once and never looked at again). Stopped by its pid on drop.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The php-fpm binary Debian installs (`php-fpm8.2`, …), if any.
pub fn binary() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("php-fpm")))
        .collect();
    found.sort();
    found.pop()
}

pub fn available() -> bool {
    binary().is_some()
}

/// A running PHP-FPM master and its pool.
#[derive(Debug)]
pub struct PhpFpm {
    child: Child,
    dir: tempfile::TempDir,
}

impl PhpFpm {
    /// Starts a pool of `workers` static workers (run as root, `-R`, as the tests run) with
    /// OPcache on and timestamps never revalidated; waits (up to 10 s) for its socket.
    pub fn start(workers: u32) -> io::Result<PhpFpm> {
        Self::start_with(workers, None, None)
    }

    /// Like [`start`](Self::start), its workers and its socket `user`'s (a name, and a group
    /// of the same name or `nogroup`): PHP-FPM as hosts run it, the master root and the workers
    /// a deploy user's, whose `cgi-fcgi` may reach the socket (0660) through its directory (0711).
    pub fn start_as(workers: u32, user: &str, group: &str) -> io::Result<PhpFpm> {
        Self::start_with(workers, None, Some((user, group)))
    }

    /// Like [`start`](Self::start), in a mount namespace of its own where `root` is bind-mounted
    /// at `at` (an existing directory): a host's own PHP-FPM, which sees the host's files at the
    /// paths the host's own tools (`php artisan config:cache`, …) wrote into them, and every other
    /// path as this machine does. Needs root (`unshare --mount`).
    pub fn start_on(workers: u32, root: &Path, at: &Path) -> io::Result<PhpFpm> {
        Self::start_with(workers, Some((root, at)), None)
    }

    fn start_with(workers: u32, mount: Option<(&Path, &Path)>, user: Option<(&str, &str)>) -> io::Result<PhpFpm> {
        let bin = binary().ok_or_else(|| io::Error::other("php-fpm is not installed"))?;
        let dir = tempfile::Builder::new().prefix("cutover-fpm-").tempdir()?;
        let d = dir.path().display();
        let pool_user = match user {
            Some((user, group)) => {
                std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
                format!(
                    "user = {user}\ngroup = {group}\nlisten.owner = {user}\nlisten.group = {group}\nlisten.mode = 0660\n"
                )
            }
            None => String::new(),
        };
        let conf = format!(
            "[global]\npid = {d}/fpm.pid\nerror_log = {d}/error.log\ndaemonize = no\n\
             [app]\n{pool_user}listen = {d}/fpm.sock\npm = static\npm.max_children = {workers}\ncatch_workers_output = yes\n\
             php_admin_value[opcache.enable] = 1\nphp_admin_value[opcache.validate_timestamps] = 0\n\
             php_admin_value[opcache.revalidate_freq] = 0\nphp_admin_value[display_errors] = Off\n\
             php_admin_value[log_errors] = On\n"
        );
        let conf_path = dir.path().join("fpm.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = match mount {
            None => Command::new(&bin),
            // `unshare` without `--fork` execs `sh`, which execs php-fpm: the child's pid is
            // the master's, which `drop` stops.
            Some((root, at)) => {
                let mut cmd = Command::new("unshare");
                cmd.args([
                    "--mount",
                    "sh",
                    "-c",
                    "mount --bind \"$1\" \"$2\" && exec \"$0\" \"$3\" \"$4\" \"$5\" \"$6\"",
                ])
                .arg(&bin)
                .arg(root)
                .arg(at);
                cmd
            }
        };
        let child = cmd
            .arg("-F")
            .arg("-R")
            .arg("-y")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut fpm = PhpFpm { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fpm.socket().exists() {
            if let Some(status) = fpm.child.try_wait()? {
                return Err(io::Error::other(format!("php-fpm exited ({status}): {}", fpm.error_log())));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("php-fpm made no socket: {}", fpm.error_log())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(fpm)
    }

    /// The master's pid (its workers are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("fpm.sock")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        // SIGQUIT: a graceful stop of the master and its workers.
        let _ = Command::new("kill").arg("-QUIT").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
