//! Real SSH hosts for the integration tests: several `sshd`s on loopback, each in its own mount
//! namespace with its own directory bind-mounted at `/srv/cutover-test`, so a deploy to
//! [`DEPLOY_PATH`] lands in a different directory per host, which the test can inspect.
//!
//! [`SshHosts::start`] also writes an `ssh_config` with one alias per host (`h1`, `h2`, ...), plus
//! `dead` (accepts TCP connections and never answers) and `badkey` (a real host whose key does
//! not match `known_hosts`). Host keys are always verified against the generated `known_hosts`.
//! A host can be given a login like a hosting account's ([`SshHosts::login_as`]) or a login user
//! that is not root, for whom mode bits hold ([`SshHosts::add_user`]).
//! Needs root (for `unshare --mount` and `mount --bind`); see [`SshHosts::available`].
//!
//! [`SshHosts::start_linked`] puts chosen hosts in a network namespace of their own too, reached
//! over a veth link with link-local addresses (traffic stays on this machine), so a test can cut
//! the link ([`SshHosts::cut_link`]): open connections stay, silent, as when a network drops.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// Where every host's own directory is bind-mounted, in that host's mount namespace.
pub const MOUNT_POINT: &str = "/srv/cutover-test";

/// The path a test config deploys to. It is inside [`MOUNT_POINT`] on every host, so host `i`'s
/// deploy directory is `hosts.root(i).join("app")` as seen from the test.
pub const DEPLOY_PATH: &str = "/srv/cutover-test/app";

const SSHD: &str = "/usr/sbin/sshd";
/// sshd's privilege-separation directory; `.ci/setup` creates it.
const PRIVSEP_DIR: &str = "/run/sshd";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);
/// Attempts at starting one sshd when its port was taken between picking and binding it.
const START_ATTEMPTS: usize = 5;

/// Runs in the new mount namespace (`unshare` without `--fork` execs `sh`, which execs sshd, so
/// the spawned child's pid is sshd's). `$1` is the host's directory, `$2` its `sshd_config`.
/// Like a fresh server, a host's root gets Debian's stock `.bashrc` (which returns at once in a
/// non-interactive shell), not this machine's, which starts pyenv and costs ~140 ms a session.
const NAMESPACE_SCRIPT: &str = r#"mount --bind "$1" /srv/cutover-test &&
{ [ ! -f /root/.bashrc ] || [ ! -f /etc/skel/.bashrc ] || mount --bind /etc/skel/.bashrc /root/.bashrc; } &&
exec /usr/sbin/sshd -D -e -f "$2""#;

/// Runs first in a linked host's new network namespace: waits (bounded) for the test to move its
/// side of the link in, then brings up `lo` and the link with address `$3`.
const LINK_SCRIPT: &str = r#"i=0; until ip link show dev cutover0 >/dev/null 2>&1; do
  i=$((i+1)); [ "$i" -le 500 ] || { echo "the link never arrived" >&2; exit 1; }; sleep 0.02; done
ip link set dev lo up && ip addr add "$3/30" dev cutover0 && ip link set dev cutover0 up &&"#;

/// Several SSH hosts on this machine; they are stopped, and their directory removed, on drop.
#[derive(Debug)]
pub struct SshHosts {
    // Fields drop in this order: the processes first, then the directory they use.
    hosts: Vec<Host>,
    dead: DeadListener,
    config: PathBuf,
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Host {
    port: u16,
    /// The host's own loopback address (sshd also listens on 127.0.0.1): what `ssh -G` gives for
    /// its alias, so servers the test starts for this host can listen there.
    addr: Ipv4Addr,
    root: PathBuf,
    /// `None` once [`SshHosts::stop_host`] stopped it.
    sshd: Mutex<Option<Sshd>>,
    /// For a host in its own network namespace: the link to it (dropped after `sshd`).
    link: Option<Link>,
}

/// One running sshd; dropping it stops it and its sessions.
#[derive(Debug)]
struct Sshd {
    child: Child,
    /// sshd's mount namespace: every process in it is sshd or one of its sessions.
    mnt_ns: MountNamespace,
}

/// A mount namespace, held open: while it is, its inode number cannot be reused by a new
/// namespace (they are, promptly), so matching processes against it never matches a stranger.
#[derive(Debug)]
struct MountNamespace {
    _pin: File,
    id: (u64, u64),
}

impl SshHosts {
    /// The deploy path, also available as [`DEPLOY_PATH`].
    pub const DEPLOY_PATH: &str = DEPLOY_PATH;

    /// Whether this machine can run the hosts: OpenSSH server and client, `ssh-keygen`, `unshare`,
    /// sshd's privilege-separation directory, and root.
    pub fn available() -> bool {
        Path::new(SSHD).is_file()
            && Path::new(PRIVSEP_DIR).is_dir()
            && on_path("ssh-keygen")
            && on_path("ssh")
            && on_path("unshare")
            && is_root()
    }

    /// Starts `n` hosts (`h1` ..= `hn`), each answering on its own loopback port.
    ///
    /// # Panics
    /// When any step fails, with what failed (and the sshd log when sshd did not come up).
    pub fn start(n: usize) -> SshHosts {
        Self::start_linked(n, &[])
    }

    /// Like [`start`](Self::start), with each host in `linked` (1-based) in a network namespace
    /// of its own behind a veth link, which [`cut_link`](Self::cut_link) cuts. The link and the
    /// namespace are removed when the hosts are dropped.
    pub fn start_linked(n: usize, linked: &[usize]) -> SshHosts {
        let dir = tempfile::Builder::new()
            .prefix("cutover-hosts.")
            .tempdir()
            .unwrap_or_else(|e| panic!("SshHosts: cannot create a temporary directory: {e}"));
        let base = dir.path().to_path_buf();
        check_config_safe(&base);
        fs::create_dir_all(MOUNT_POINT).unwrap_or_else(|e| panic!("SshHosts: cannot create {MOUNT_POINT}: {e}"));

        let client_key = base.join("client_key");
        keygen(&client_key, "cutover-test-client");
        let authorized_keys = base.join("authorized_keys");
        write(&authorized_keys, &format!("{}\n", public_key(&client_key)));

        // Declared after `dir`, so if a later step panics these are stopped before it is removed.
        let mut hosts = Vec::with_capacity(n);
        let mut known_hosts = String::new();
        for i in 1..=n {
            let (host, key) = start_host(&base, i, &authorized_keys, linked.contains(&i));
            writeln!(known_hosts, "[127.0.0.1]:{} {key}", host.port).unwrap();
            writeln!(known_hosts, "[{}]:{} {key}", host.addr, host.port).unwrap();
            hosts.push(host);
        }
        let dead = DeadListener::start();

        let mut config = String::new();
        let known_hosts_path = base.join("known_hosts");
        let client = |alias: &str, addr: Ipv4Addr, port: u16, connect_timeout: u32, extra: &str| {
            client_block(&base, alias, addr, port, connect_timeout, extra)
        };
        for (i, host) in hosts.iter().enumerate() {
            config.push_str(&client(&format!("h{}", i + 1), host.addr, host.port, 3, ""));
        }
        config.push_str(&client("dead", Ipv4Addr::LOCALHOST, dead.port, 2, ""));
        // Destinations written as `ssh://root@127.0.0.1:PORT` or `root@127.0.0.1` match this block
        // (ssh matches the name as given); port and user come from the destination itself.
        config.push_str(&format!(
            "Host 127.0.0.1\n    IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {known}\n\
             \x20   GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    UpdateHostKeys no\n\n",
            key = client_key.display(),
            known = known_hosts_path.display(),
        ));
        if let Some(first) = hosts.first() {
            // The first host, under an alias whose known_hosts key is some other key.
            let wrong_key = base.join("badkey_key");
            keygen(&wrong_key, "cutover-test-badkey");
            writeln!(known_hosts, "badkey {}", public_key(&wrong_key)).unwrap();
            config.push_str(&client("badkey", first.addr, first.port, 3, "    HostKeyAlias badkey\n"));
        }
        write(&known_hosts_path, &known_hosts);
        let config_path = base.join("ssh_config");
        write(&config_path, &config);

        SshHosts { hosts, dead, config: config_path, dir }
    }

    /// The `ssh_config` to pass as `ssh -F`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// A `Host` block of an ssh config that names host `i` `alias` (its address, port, user,
    /// the client key and the known hosts), for a test that writes an ssh config of its own.
    pub fn config_block(&self, alias: &str, i: usize) -> String {
        let host = self.host(i);
        client_block(self.dir.path(), alias, host.addr, host.port, 3, "")
    }

    /// Host `i`'s alias in [`config_path`](Self::config_path): `h1`, `h2`, ... (`i` is 1-based).
    pub fn alias(&self, i: usize) -> String {
        self.host(i);
        format!("h{i}")
    }

    /// All hosts' aliases, in order.
    pub fn aliases(&self) -> Vec<String> {
        (1..=self.hosts.len()).map(|i| format!("h{i}")).collect()
    }

    /// Host `i`'s filesystem at [`MOUNT_POINT`], as seen from the test process.
    /// Where host `i`'s releases go: [`Self::DEPLOY_PATH`] inside its own root.
    pub fn deploy_dir(&self, i: usize) -> PathBuf {
        self.root(i).join("app")
    }

    pub fn root(&self, i: usize) -> PathBuf {
        self.host(i).root.clone()
    }

    /// Host `i`'s own loopback address, where its alias points (sshd listens there and on
    /// 127.0.0.1).
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        self.host(i).addr
    }

    /// Host `i`'s sshd port on 127.0.0.1.
    pub fn port(&self, i: usize) -> u16 {
        self.host(i).port
    }

    /// Stops host `i`: kills its sshd and any session it is serving, so connections to it are
    /// refused and open (multiplexed) connections break. Stopping a stopped host does nothing.
    pub fn stop_host(&self, i: usize) {
        let sshd = self.host(i).sshd.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(sshd);
    }

    /// Cuts the link to host `i` (started with [`start_linked`](Self::start_linked)): its side
    /// of the link goes down, so open connections stay open and hear nothing, and new ones find
    /// no route.
    pub fn cut_link(&self, i: usize) {
        self.set_link(i, "down");
    }

    /// Brings the link to host `i` back up and returns once its sshd accepts connections again;
    /// open connections that were not given up go on.
    pub fn restore_link(&self, i: usize) {
        self.set_link(i, "up");
        let host = self.host(i);
        let addr = SocketAddr::from((host.addr, host.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
            assert!(
                Instant::now() < deadline,
                "SshHosts: host {i} did not answer within {READY_TIMEOUT:?} of its link coming back"
            );
            thread::sleep(POLL);
        }
    }

    fn set_link(&self, i: usize, state: &str) {
        let host = self.host(i);
        let link = host.link.as_ref().unwrap_or_else(|| panic!("SshHosts: host {i} was not started linked"));
        let sshd = host.sshd.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = sshd.as_ref().expect("host is running").child.id();
        let status = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--net", "--", "ip", "link", "set", "dev", &link.inner, state])
            .status()
            .expect("run nsenter");
        assert!(status.success(), "SshHosts: cannot set host {i}'s link {state}");
    }

    /// Gives host `i` a login like a hosting account's, inside its mount namespace only: root's
    /// login shell becomes `shell` (its `/etc/passwd` line), and its home is a fresh directory
    /// whose startup files print `banner` on stdout, for bash (`.bashrc`, which bash reads in
    /// sshd's non-interactive sessions too), csh and tcsh (`.cshrc`) and fish (`config.fish`).
    pub fn login_as(&self, i: usize, shell: &str, banner: &str) {
        let host = self.host(i);
        let host_dir = host.root.parent().expect("a host's root has a parent");
        let home = host_dir.join("home");
        let echo = format!("echo '{banner}'\n");
        fs::create_dir_all(home.join(".config/fish")).expect("a host's home");
        write(&home.join(".bashrc"), &echo);
        write(&home.join(".cshrc"), &echo);
        write(&home.join(".config/fish/config.fish"), &echo);
        let passwd = fs::read_to_string("/etc/passwd").expect("/etc/passwd");
        let passwd: String = passwd
            .lines()
            .map(|l| match l.strip_prefix("root:") {
                Some(rest) => format!("root:{}:{shell}\n", rest.rsplit_once(':').expect("a passwd line").0),
                None => format!("{l}\n"),
            })
            .collect();
        let passwd_path = host_dir.join("passwd");
        write(&passwd_path, &passwd);
        let sshd = host.sshd.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = sshd.as_ref().expect("host is running").child.id();
        let status = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--mount", "--", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/passwd && mount --bind "$2" /root"#)
            .arg("sh")
            .arg(&passwd_path)
            .arg(&home)
            .status()
            .expect("run nsenter");
        assert!(status.success(), "SshHosts: cannot give host {i} the login shell {shell}");
    }

    /// Takes the program at `program` (absolute) away from host `i`, inside its mount namespace
    /// only: `/dev/null` bound over it, which no `command -v` takes for a program.
    pub fn hide_program(&self, i: usize, program: &str) {
        let host = self.host(i);
        let sshd = host.sshd.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = sshd.as_ref().expect("host is running").child.id();
        let status = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--mount", "--", "mount", "--bind", "/dev/null", program])
            .status()
            .expect("run nsenter");
        assert!(status.success(), "SshHosts: cannot hide {program} on host {i}");
    }

    /// Puts a `/bin/sh` script in place of the program at `program` (absolute) on host `i`,
    /// inside its mount namespace only (a bind mount over it); the script finds the real
    /// program, copied aside, at `$real`. Returns nothing: the host's commands run the script.
    pub fn replace_program(&self, i: usize, program: &str, script: &str) {
        let host = self.host(i);
        let name = Path::new(program).file_name().expect("a program's name").to_string_lossy().into_owned();
        let tools = host.root.join(".replaced");
        fs::create_dir_all(&tools).expect("a host's tools directory");
        let real = tools.join(format!("{name}.real"));
        fs::copy(program, &real).unwrap_or_else(|e| panic!("SshHosts: cannot copy {program}: {e}"));
        let fake = tools.join(&name);
        write(&fake, &format!("#!/bin/sh\nreal={MOUNT_POINT}/.replaced/{name}.real\n{script}"));
        fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod the script");
        let sshd = host.sshd.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = sshd.as_ref().expect("host is running").child.id();
        let status = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--mount", "--", "mount", "--bind"])
            .arg(&fake)
            .arg(program)
            .status()
            .expect("run nsenter");
        assert!(status.success(), "SshHosts: cannot put a script in place of {program} on host {i}");
    }

    /// Adds a login user `name` (not root: mode bits hold for it) to host `i`, inside its mount
    /// namespace only (its `/etc/passwd` and `/etc/group`), with a home of its own, the test's
    /// client key, `/bin/sh` as its shell, and [`MOUNT_POINT`] as its own, so it can create the
    /// deploy path. Returns its destination, `name@hI`, for a config's `hosts`.
    pub fn add_user(&self, i: usize, name: &str) -> String {
        /// One uid for every such user: each host has its own `/etc/passwd`.
        const UID: u32 = 61_000;
        let host = self.host(i);
        let host_dir = host.root.parent().expect("a host's root has a parent");
        let sshd = host.sshd.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = sshd.as_ref().expect("host is running").child.id();
        // The host's own view of its files (another helper may have changed them already).
        let etc = |file: &str| {
            let path = format!("/proc/{pid}/root/etc/{file}");
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("SshHosts: cannot read {path}: {e}"))
        };
        let home = host_dir.join(format!("home-{name}"));
        fs::create_dir_all(&home).expect("a user's home");
        let passwd = host_dir.join(format!("passwd-{name}"));
        write(&passwd, &format!("{}{name}:x:{UID}:{UID}::{}:/bin/sh\n", etc("passwd"), home.display()));
        let group = host_dir.join(format!("group-{name}"));
        write(&group, &format!("{}{name}:x:{UID}:\n", etc("group")));
        for dir in [&home, &host.root] {
            std::os::unix::fs::chown(dir, Some(UID), Some(UID))
                .unwrap_or_else(|e| panic!("SshHosts: cannot give {} to {name}: {e}", dir.display()));
        }
        // sshd reads `authorized_keys` as the user: it must be able to reach it.
        fs::set_permissions(self.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711))
            .expect("SshHosts: cannot open the hosts' directory to other users");
        let status = Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--mount", "--", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group"#)
            .arg("sh")
            .arg(&passwd)
            .arg(&group)
            .status()
            .expect("run nsenter");
        assert!(status.success(), "SshHosts: cannot add the user {name} to host {i}");
        format!("{name}@h{i}")
    }

    /// The temporary directory holding keys, configs, logs and the hosts' directories.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, i: usize) -> &Host {
        assert!(
            (1..=self.hosts.len()).contains(&i),
            "SshHosts: no host {i}; hosts are numbered 1..={}",
            self.hosts.len()
        );
        &self.hosts[i - 1]
    }
}

/// The ssh config block for `alias` at `addr:port`, with the client key and known hosts under
/// `base` (as [`SshHosts::start`] writes them).
fn client_block(base: &Path, alias: &str, addr: Ipv4Addr, port: u16, connect_timeout: u32, extra: &str) -> String {
    format!(
        "Host {alias}\n\
         \x20   HostName {addr}\n\
         \x20   Port {port}\n\
         \x20   User root\n\
         \x20   IdentityFile {key}\n\
         \x20   IdentitiesOnly yes\n\
         \x20   UserKnownHostsFile {known}\n\
         \x20   GlobalKnownHostsFile /dev/null\n\
         \x20   StrictHostKeyChecking yes\n\
         \x20   UpdateHostKeys no\n\
         \x20   ConnectTimeout {connect_timeout}\n\
         {extra}\n",
        key = base.join("client_key").display(),
        known = base.join("known_hosts").display(),
    )
}

/// Starts host `i` under `base`; returns it with its public host key (`type base64`).
fn start_host(base: &Path, i: usize, authorized_keys: &Path, linked: bool) -> (Host, String) {
    let host_dir = base.join(format!("host{i}"));
    let root = host_dir.join("root");
    fs::create_dir_all(&root).unwrap_or_else(|e| panic!("SshHosts: cannot create {}: {e}", root.display()));
    let host_key = host_dir.join("ssh_host_ed25519_key");
    keygen(&host_key, &format!("cutover-test-h{i}"));
    let config = host_dir.join("sshd_config");
    let pid_file = host_dir.join("sshd.pid");
    let log = host_dir.join("sshd.log");

    let link_addrs = linked.then(Link::addresses);
    let addr = link_addrs.map_or_else(cutover_testkit::loopback_addr, |(_, inner)| inner);
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        // In a namespace of its own, sshd listens on its side of the link only.
        let loopback = if linked { String::new() } else { "ListenAddress 127.0.0.1\n".to_owned() };
        write(
            &config,
            &format!(
                "Port {port}\n\
                 {loopback}\
                 ListenAddress {addr}\n\
                 HostKey {host_key}\n\
                 AuthorizedKeysFile {authorized_keys}\n\
                 PermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 PidFile {pid_file}\n\
                 MaxSessions 200\n\
                 MaxStartups 200\n\
                 LogLevel ERROR\n\
                 Subsystem sftp internal-sftp\n",
                host_key = host_key.display(),
                authorized_keys = authorized_keys.display(),
                pid_file = pid_file.display(),
            ),
        );
        match fs::remove_file(&pid_file) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                panic!("SshHosts: cannot remove {}: {e}", pid_file.display())
            }
            _ => {}
        }
        let log_file = File::create(&log).unwrap_or_else(|e| panic!("SshHosts: cannot create {}: {e}", log.display()));
        let mut unshare = Command::new("unshare");
        unshare.args(["--mount", "--propagation", "private"]);
        if linked {
            unshare.arg("--net");
        }
        let script = if linked { format!("{LINK_SCRIPT}\n{NAMESPACE_SCRIPT}") } else { NAMESPACE_SCRIPT.to_owned() };
        let child = unshare
            .args(["sh", "-c"])
            .arg(script)
            .arg("sh")
            .arg(&root)
            .arg(&config)
            .arg(link_addrs.map(|(_, inner)| inner.to_string()).unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("SshHosts: cannot run unshare for host {i}: {e}"));
        let (child, link) = match link_addrs {
            Some(addrs) => match Link::add(child, addrs) {
                Ok((child, link)) => (child, Some(link)),
                Err(failure) => panic!("SshHosts: host {i}'s link: {failure}"),
            },
            None => (child, None),
        };
        match wait_ready(child, SocketAddr::from((if linked { addr } else { Ipv4Addr::LOCALHOST }, port)), &pid_file) {
            Ok(sshd) => {
                let host = Host { port, addr, root, sshd: Mutex::new(Some(sshd)), link };
                return (host, public_key(&host_key));
            }
            Err(failure) => {
                let log_text = fs::read_to_string(&log).unwrap_or_default();
                // Another process took the port between our probe and sshd's bind: pick another.
                if attempt < START_ATTEMPTS && log_text.contains("Address already in use") {
                    continue;
                }
                panic!("SshHosts: sshd for host {i} (port {port}) {failure}; its log ({}):\n{log_text}", log.display());
            }
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// Waits until sshd has bound its port (it writes its pid file after that) and accepts a TCP
/// connection. On failure the child is gone and the error says why.
fn wait_ready(mut child: Child, addr: SocketAddr, pid_file: &Path) -> Result<Sshd, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("exited ({status}) before it was ready")),
            Ok(None) => {}
            Err(e) => {
                reap(&mut child);
                return Err(format!("could not be waited for: {e}"));
            }
        }
        let pid_written = fs::read_to_string(pid_file).is_ok_and(|s| !s.trim().is_empty());
        if pid_written && TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            reap(&mut child);
            return Err(format!("did not accept connections within {READY_TIMEOUT:?}"));
        }
        thread::sleep(POLL);
    }
    let own_ns = namespace_id("self");
    match MountNamespace::of(child.id()) {
        // Killing "every process in sshd's namespace" must never mean every process here.
        Some(ns) if own_ns.is_some_and(|own| own != ns.id) => Ok(Sshd { child, mnt_ns: ns }),
        ns => {
            reap(&mut child);
            Err(format!("is not in a mount namespace of its own (its {ns:?}, ours {own_ns:?})"))
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Our child, not reaped yet, so its pid cannot have been reused by another process.
        let _ = kill_process(Pid::from_child(&self.child), Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        reap(&mut self.child);
        // Sessions (forked by sshd, in its namespace, no longer its children) outlive a
        // listening sshd; kill them so the host really stops answering.
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            let sessions = self.mnt_ns.processes();
            if sessions.is_empty() || Instant::now() >= deadline {
                break;
            }
            // Each pid was in sshd's namespace just now.
            for pid in sessions.into_iter().filter_map(Pid::from_raw) {
                let _ = kill_process(pid, Signal::KILL);
            }
            thread::sleep(POLL);
        }
    }
}

/// Kills `child` if it still runs, and reaps it.
fn reap(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
    }
    let _ = child.wait();
}

impl MountNamespace {
    /// The mount namespace process `pid` is in now.
    fn of(pid: u32) -> Option<MountNamespace> {
        let pin = File::open(format!("/proc/{pid}/ns/mnt")).ok()?;
        let meta = pin.metadata().ok()?;
        Some(MountNamespace { _pin: pin, id: (meta.dev(), meta.ino()) })
    }

    /// The live processes in this namespace (zombies have none, so they are not listed).
    fn processes(&self) -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .filter(|pid: &i32| namespace_id(&pid.to_string()) == Some(self.id))
            .collect()
    }
}

/// The (device, inode) of `/proc/<pid>`'s mount namespace, if it can be read.
fn namespace_id(pid: &str) -> Option<(u64, u64)> {
    let meta = fs::metadata(format!("/proc/{pid}/ns/mnt")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The veth pair to a host in its own network namespace: `outer` here, with a link-local
/// address, and `cutover0` inside. Deleting either end deletes both; drop deletes it (the
/// namespace itself goes with its last process, sshd's sessions).
#[derive(Debug)]
struct Link {
    outer: String,
    inner: String,
}

impl Link {
    /// A /30 of 169.254.0.0/16 (link-local: never routed off this link) no other link of this
    /// process has, and unlikely to be another test process's: (this side, the host's side).
    fn addresses() -> (Ipv4Addr, Ipv4Addr) {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let slot = (std::process::id() % 2000) * 8 + NEXT.fetch_add(1, Ordering::Relaxed) % 8;
        // Third octet 1..=250, never 169 (169.254.169.254 is a cloud's metadata address).
        let third = match 1 + slot / 64 {
            169 => 251,
            n => n as u8,
        };
        let fourth = (slot % 64) as u8 * 4 + 1;
        (Ipv4Addr::new(169, 254, third, fourth), Ipv4Addr::new(169, 254, third, fourth + 1))
    }

    /// Waits until `child` (unshare, then `sh`) is in a network namespace of its own, then
    /// makes the pair with its end in there; on failure the child is gone and the error says why.
    fn add(mut child: Child, (outer_addr, _): (Ipv4Addr, Ipv4Addr)) -> Result<(Child, Link), String> {
        let own = net_namespace_id("self");
        let deadline = Instant::now() + READY_TIMEOUT;
        while net_namespace_id(&child.id().to_string()) == own {
            if Instant::now() >= deadline || matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                reap(&mut child);
                return Err("the host never got a network namespace of its own".into());
            }
            thread::sleep(POLL);
        }
        let link = Link {
            outer: format!("cvt{}-{}", std::process::id(), outer_addr.octets()[3] / 4),
            inner: "cutover0".into(),
        };
        let ip = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
            }
        };
        let pid = child.id().to_string();
        let addr = format!("{outer_addr}/30");
        let made = ip(&["link", "add", &link.outer, "type", "veth", "peer", "name", &link.inner, "netns", &pid])
            .and_then(|()| ip(&["addr", "add", &addr, "dev", &link.outer]))
            .and_then(|()| ip(&["link", "set", "dev", &link.outer, "up"]));
        match made {
            Ok(()) => Ok((child, link)),
            Err(e) => {
                reap(&mut child);
                drop(link);
                Err(e)
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let gone = || !Path::new("/sys/class/net").join(&self.outer).exists();
        if !gone() {
            let _ = Command::new("ip").args(["link", "del", "dev", &self.outer]).stderr(Stdio::null()).status();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while !gone() && Instant::now() < deadline {
            thread::sleep(POLL);
        }
    }
}

/// The (device, inode) of `/proc/<pid>`'s network namespace, if it can be read.
fn net_namespace_id(pid: &str) -> Option<(u64, u64)> {
    let meta = fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// A loopback port that accepts TCP connections and never says anything: `ssh` to it hangs
/// until its `ConnectTimeout`. The accepting thread stops when this is dropped.
#[derive(Debug)]
struct DeadListener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DeadListener {
    fn start() -> DeadListener {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("SshHosts: cannot bind the dead host's port: {e}"));
        let port = listener.local_addr().expect("bound listener has an address").port();
        listener.set_nonblocking(true).expect("SshHosts: cannot make the dead host's listener non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new()
            .name("ssh-dead-host".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    // Accepted connections stay open, unanswered, until this thread stops.
                    let mut held = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            Ok((stream, _)) => held.push(stream),
                            Err(_) => thread::sleep(POLL),
                        }
                    }
                }
            })
            .unwrap_or_else(|e| panic!("SshHosts: cannot start the dead host's thread: {e}"));
        DeadListener { port, stop, thread: Some(thread) }
    }
}

impl Drop for DeadListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback port that was free just now (bound to port 0, then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("SshHosts: cannot pick a free port: {e}"))
        .port()
}

/// Generates an ed25519 key pair without passphrase at `path` and `path.pub`.
fn keygen(path: &Path, comment: &str) {
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("SshHosts: cannot run ssh-keygen: {e}"));
    assert!(
        output.status.success(),
        "SshHosts: ssh-keygen for {} failed ({}): {}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The public half of the key at `path`, as `type base64` (without the comment).
fn public_key(path: &Path) -> String {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    let text =
        fs::read_to_string(&pub_path).unwrap_or_else(|e| panic!("SshHosts: cannot read {}: {e}", pub_path.display()));
    let fields: Vec<&str> = text.split_whitespace().take(2).collect();
    assert!(fields.len() == 2, "SshHosts: {} is not a public key: {text:?}", pub_path.display());
    fields.join(" ")
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("SshHosts: cannot write {}: {e}", path.display()));
}

/// The generated configs name paths under `dir` unquoted, and ssh expands `%` in some of them.
fn check_config_safe(dir: &Path) {
    let text = dir.to_string_lossy();
    assert!(
        text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)),
        "SshHosts: temporary directory {text:?} has characters ssh configs cannot take \
         unquoted; set TMPDIR to a plain path"
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
