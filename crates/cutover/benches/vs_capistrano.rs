//! cutover against Capistrano 3 on the same real SSH hosts, in one run.
//!
//! Run (as root, with OpenSSH server and client, git and capistrano installed):
//!
//! ```text
//! cargo build --release -p cutover && cargo bench -p cutover --bench vs_capistrano
//! ```
//!
//! The binary is `$CUTOVER_BIN` if set, else the one cargo built for this bench, else
//! `<workspace>/target/release/cutover`.
//!
//! cutover runs with its default `[ssh]` settings, so each host's master connection persists
//! (`persist = "5m"`) in `$XDG_RUNTIME_DIR/cutover-ssh`. The bench points `XDG_RUNTIME_DIR` at a
//! directory of its own, so the masters it finds there are its own: it checks them, closes them
//! for the cold variant, and closes them all before its hosts stop.
//!
//! 1. Rollback time, 1 host and 10 hosts: an app of a few hundred files is deployed twice by each
//!    tool (cutover to `/srv/cutover-test/app`, Capistrano to `/srv/cutover-test/cap`), then for
//!    `ROUNDS` rounds three timed rollbacks, in an order that rotates each round:
//!    - cutover **warm**: right after a `cutover deploy`, whose masters are still open (checked:
//!      one live master per host);
//!    - cutover **cold**: right after a `cutover deploy`, with every master closed first
//!      (`ssh -O exit`, then waited for), so the rollback makes the full SSH handshake;
//!    - Capistrano: right after a `cap production deploy`.
//!
//!    Each rollback goes from the release its tool just deployed to the one before it, with
//!    `current` checked on every host before and after.
//! 2. Bytes sent by a redeploy that changes 1 file of a 10,000-file app (1-8 KiB files): the tar
//!    stream cutover reports (`hosts[0].sent_bytes`) and the loopback traffic (`lo` in
//!    /proc/net/dev) during each tool's redeploy; for cutover once on its open master (warm) and
//!    once, after a second 1-file change, with the master closed first (cold).
//!
//! Prints markdown tables on stdout; progress on stderr. Every loop has a fixed count or a
//! deadline, and every child process a timeout.

// A benchmark runs the tools it compares, prints its figures and exits when it cannot run.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr, clippy::exit)]

#[allow(dead_code)]
#[path = "../tests/support/hosts.rs"]
mod hosts;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hosts::{MOUNT_POINT, SshHosts};

/// Rounds of timed rollbacks (one per variant each round); a multiple of 3, so that each variant
/// takes each place in the rotating order equally often.
const ROUNDS: usize = 6;
/// Files in the app of the rollback benchmark.
const SMALL_APP_FILES: usize = 300;
/// Files in the app of the bytes benchmark.
const BIG_APP_FILES: usize = 10_000;
/// The files the bytes benchmark changes: one for the warm redeploy, one for the cold one.
const CHANGED_WARM: usize = 4242;
const CHANGED_COLD: usize = 1717;
const CUTOVER_PATH: &str = "/srv/cutover-test/app";
const CAP_PATH: &str = "/srv/cutover-test/cap";
/// Pause before every timed command, after its preparation (a deploy, closing masters), so that
/// what the preparation left running on the hosts settles the same way for every variant.
const SETTLE: Duration = Duration::from_millis(300);

const CUTOVER_TIMEOUT: Duration = Duration::from_secs(120);
const CAP_TIMEOUT: Duration = Duration::from_secs(300);
const GIT_TIMEOUT: Duration = Duration::from_secs(120);
const SSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long closed masters may take to be gone (socket removed, process exited).
const MASTER_EXIT_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, and must
    // not spend minutes here. A filter argument that does not match this bench's name skips it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("vs_capistrano: not run (no --bench); run it with `cargo bench -p cutover --bench vs_capistrano`");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "vs_capistrano".contains(f.as_str())) {
        return;
    }
    let started = Instant::now();
    preflight();
    let bin = cutover_bin();
    eprintln!("vs_capistrano: cutover binary {}", bin.display());
    let version = capture(Command::new(&bin).arg("--version"), GIT_TIMEOUT).stdout.trim().to_owned();
    let version = format!("{version}, {}", source_revision());

    let mut rollbacks = Vec::new();
    for n in [1, 10] {
        rollbacks.push(rollback_bench(&bin, n));
    }
    let bytes = bytes_bench(&bin);

    print!("{}", report(&version, &rollbacks, &bytes));
    eprintln!("vs_capistrano: done in {:.0?}", started.elapsed());
}

/// The workspace's commit, and the tracked files that differ from it (the binary may have been
/// built from them).
fn source_revision() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git_out = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&root).args(args);
        let run = capture(&mut cmd, GIT_TIMEOUT);
        (run.code == 0).then(|| run.stdout.trim().to_owned())
    };
    let Some(commit) = git_out(&["rev-parse", "--short", "HEAD"]) else { return "commit unknown".into() };
    match git_out(&["diff", "--name-only", "HEAD"]) {
        Some(changed) if !changed.is_empty() => {
            format!("commit {commit} with uncommitted changes to {}", changed.lines().collect::<Vec<_>>().join(", "))
        }
        _ => format!("commit {commit}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rollback benchmark

struct RollbackResult {
    hosts: usize,
    /// `cutover rollback` on the masters the deploy before it left open.
    warm: Vec<Duration>,
    /// `cutover rollback` with every master closed first.
    cold: Vec<Duration>,
    cap: Vec<Duration>,
    cutover_deploy: Vec<Duration>,
    cap_deploy: Vec<Duration>,
    /// `ssh hN true` to every host at once, with OpenSSH's default key exchange.
    ssh_default: Vec<Duration>,
    /// The same with `KexAlgorithms=curve25519-sha256`.
    ssh_curve25519: Vec<Duration>,
    /// The same over cutover's open masters (a new session each, no handshake).
    ssh_mux: Vec<Duration>,
    /// `cap -T`: Ruby and Capistrano starting, no host contacted.
    cap_startup: Vec<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Warm,
    Cold,
    Cap,
}

impl Variant {
    fn tool(self) -> Tool {
        match self {
            Variant::Warm | Variant::Cold => Tool::Cutover,
            Variant::Cap => Tool::Cap,
        }
    }
}

/// The order of the timed rollbacks, by round.
const ORDERS: [[Variant; 3]; 3] = [
    [Variant::Warm, Variant::Cold, Variant::Cap],
    [Variant::Cold, Variant::Cap, Variant::Warm],
    [Variant::Cap, Variant::Warm, Variant::Cold],
];

fn rollback_bench(bin: &Path, n: usize) -> RollbackResult {
    eprintln!("vs_capistrano: rollback, {n} host(s): starting hosts and deploying 2 releases");
    let hosts = SshHosts::start(n);
    let mut bench = Bench::new(&hosts, bin, SMALL_APP_FILES, "rollback");
    let mut result = RollbackResult {
        hosts: n,
        warm: vec![],
        cold: vec![],
        cap: vec![],
        cutover_deploy: vec![],
        cap_deploy: vec![],
        ssh_default: vec![],
        ssh_curve25519: vec![],
        ssh_mux: vec![],
        cap_startup: vec![],
    };
    for _ in 0..2 {
        bench.new_version();
        bench.deploy_cutover();
        bench.deploy_cap();
    }
    for round in 0..ROUNDS {
        for variant in ORDERS[round % ORDERS.len()] {
            // Something to roll back to: a new release from the tool, just now.
            bench.new_version();
            match variant.tool() {
                Tool::Cutover => result.cutover_deploy.push(bench.deploy_cutover().wall),
                Tool::Cap => result.cap_deploy.push(bench.deploy_cap()),
            }
            match variant {
                Variant::Warm => {
                    bench.expect_warm();
                }
                Variant::Cold => bench.close_masters(),
                Variant::Cap => {}
            }
            std::thread::sleep(SETTLE);
            let t = bench.rollback(variant.tool());
            eprintln!("vs_capistrano:   {n} host(s), round {}: {variant:?} rollback {t:.1?}", round + 1);
            match variant {
                Variant::Warm => result.warm.push(t),
                Variant::Cold => result.cold.push(t),
                Variant::Cap => result.cap.push(t),
            }
        }
        // Floors, measured in the same rounds: connecting alone, a session on an open master
        // alone, and Capistrano starting alone.
        result.ssh_default.push(ssh_all(&hosts, None));
        result.ssh_curve25519.push(ssh_all(&hosts, Some("curve25519-sha256")));
        let masters = bench.expect_warm();
        result.ssh_mux.push(ssh_mux_all(&hosts, &masters));
        result.cap_startup.push(ok(capture(&mut bench.cap_cmd_args(&["-T"]), CAP_TIMEOUT), "cap -T").wall);
    }
    result
}

#[derive(Debug, Clone, Copy)]
enum Tool {
    Cutover,
    Cap,
}

/// One app (a git work tree), its bare repo, a cutover project and a Capistrano project, all
/// aimed at the same hosts, plus which release each tool has live and which is before it.
struct Bench<'a> {
    hosts: &'a SshHosts,
    bin: &'a Path,
    dir: tempfile::TempDir,
    version: usize,
    rng: Rng,
    /// (previous, current) release of each tool, as deployed by this bench.
    cutover: (Option<String>, Option<String>),
    cap: (Option<String>, Option<String>),
}

/// A persisted master connection of cutover's: the host it is for, its socket and its process.
#[derive(Debug, Clone)]
struct Master {
    alias: String,
    socket: PathBuf,
    pid: u32,
}

impl<'a> Bench<'a> {
    fn new(hosts: &'a SshHosts, bin: &'a Path, files: usize, label: &str) -> Self {
        let dir = tempfile::Builder::new().prefix(&format!("cutover-bench-{label}.")).tempdir().expect("tempdir");
        let mut bench = Bench {
            hosts,
            bin,
            dir,
            version: 0,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            cutover: (None, None),
            cap: (None, None),
        };
        fs::create_dir(bench.runtime_dir()).expect("mkdir runtime dir");
        bench.write_app(files);
        bench.write_projects();
        bench
    }

    fn app(&self) -> PathBuf {
        self.dir.path().join("project/app")
    }

    fn bare(&self) -> PathBuf {
        self.dir.path().join("repo.git")
    }

    /// The `XDG_RUNTIME_DIR` cutover runs with (inside the 0700 temporary directory).
    fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Where cutover keeps its persisted master sockets, given that `XDG_RUNTIME_DIR`.
    fn socket_dir(&self) -> PathBuf {
        self.runtime_dir().join("cutover-ssh")
    }

    /// `files` files of 1-8 KiB of text in directories of 100, and `index.html`; committed to a
    /// git repo whose bare clone Capistrano deploys from.
    fn write_app(&mut self, files: usize) {
        let app = self.app();
        for i in 0..files {
            let len = 1024 + (self.rng.next() % (7 * 1024 + 1)) as usize;
            let path = app.join(file_path(i));
            fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
            fs::write(&path, self.rng.text(len)).expect("write app file");
        }
        fs::write(app.join("index.html"), "v0\n").expect("write");
        let bare = self.bare();
        git(&app, &["init", "-q", "-b", "main"]);
        git(&app, &["add", "-A"]);
        git(&app, &["commit", "-q", "-m", "v0"]);
        git(self.dir.path(), &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        git(&app, &["remote", "add", "origin", bare.to_str().unwrap()]);
        git(&app, &["push", "-q", "origin", "main"]);
    }

    /// The cutover project leaves `[ssh] persist` at its default (5m).
    fn write_projects(&self) {
        let names: Vec<String> = self.hosts.aliases();
        let quoted: Vec<String> = names.iter().map(|h| format!("\"{h}\"")).collect();
        let ssh_config = self.hosts.config_path().display().to_string();
        write(
            &self.dir.path().join("project/cutover.toml"),
            &format!(
                "version = 1\n\
                 [app]\nname = \"bench\"\nsource = \"app\"\nkeep_releases = 5\nexclude = [\".git/\"]\n\
                 [ssh]\nconfig = \"{ssh_config}\"\nconnect_timeout = \"5s\"\n\
                 [env.production]\ngated = false\nhosts = [{}]\npath = \"{CUTOVER_PATH}\"\n",
                quoted.join(", ")
            ),
        );
        let cap = self.dir.path().join("cap");
        write(
            &cap.join("Capfile"),
            "require \"capistrano/setup\"\n\
             require \"capistrano/deploy\"\n\
             require \"capistrano/scm/git\"\n\
             install_plugin Capistrano::SCM::Git\n",
        );
        write(
            &cap.join("config/deploy.rb"),
            &format!(
                "set :application, \"bench\"\n\
                 set :repo_url, \"file://{bare}\"\n\
                 set :branch, \"main\"\n\
                 set :deploy_to, \"{CAP_PATH}\"\n\
                 set :keep_releases, 5\n\
                 # Per host, as /tmp would be on real servers (here /tmp is shared by all hosts).\n\
                 set :tmp_dir, \"{MOUNT_POINT}/cap-tmp\"\n\
                 set :ssh_options, {{\n\
                 \x20 config: [\"{ssh_config}\"],\n\
                 \x20 verify_host_key: :always,\n\
                 \x20 non_interactive: true,\n\
                 }}\n",
                bare = self.bare().display(),
            ),
        );
        let servers: String =
            names.iter().map(|h| format!("server \"{h}\", roles: %w[web app]\n")).collect::<Vec<_>>().concat();
        write(&cap.join("config/deploy/production.rb"), &servers);
    }

    /// A new version of the app: `index.html` changes; committed and pushed for Capistrano.
    fn new_version(&mut self) {
        self.version += 1;
        let v = self.version;
        fs::write(self.app().join("index.html"), format!("v{v}\n")).expect("write");
        self.commit(&format!("v{v}"));
    }

    fn commit(&self, message: &str) {
        let app = self.app();
        git(&app, &["commit", "-q", "-a", "-m", message]);
        git(&app, &["push", "-q", "origin", "main"]);
    }

    fn cutover_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .current_dir(self.dir.path().join("project"))
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env_remove("CUTOVER_SSH")
            .env("XDG_RUNTIME_DIR", self.runtime_dir());
        cmd
    }

    fn cap_cmd(&self, task: &str) -> Command {
        self.cap_cmd_args(&["production", task])
    }

    fn cap_cmd_args(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("cap");
        cmd.args(args).current_dir(self.dir.path().join("cap"));
        cmd
    }

    /// Deploys with cutover; checks every host is on the new release.
    fn deploy_cutover(&mut self) -> Deployed {
        let run = ok(capture(&mut self.cutover_cmd(&["deploy", "--json"]), CUTOVER_TIMEOUT), "cutover deploy");
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("cutover deploy --json");
        let id = json["release"].as_str().expect("release id").to_owned();
        self.expect_current(Tool::Cutover, &id, "after cutover deploy");
        self.cutover = (self.cutover.1.take(), Some(id));
        Deployed { wall: run.wall, json, stderr: run.stderr }
    }

    /// Deploys with Capistrano; checks every host is on the same new release.
    fn deploy_cap(&mut self) -> Duration {
        // Capistrano names releases by the second: never two in the same second.
        let run = ok(capture(&mut self.cap_cmd("deploy"), CAP_TIMEOUT), "cap deploy");
        let id = self.current(Tool::Cap, 1).expect("cap current on h1");
        assert_ne!(Some(&id), self.cap.1.as_ref(), "cap deploy made no new release");
        self.expect_current(Tool::Cap, &id, "after cap deploy");
        self.cap = (self.cap.1.take(), Some(id));
        run.wall
    }

    /// Rolls back from the tool's newest release to the one before it, timed; checks `current`
    /// on every host before and after.
    fn rollback(&mut self, tool: Tool) -> Duration {
        let (prev, cur) = match tool {
            Tool::Cutover => self.cutover.clone(),
            Tool::Cap => self.cap.clone(),
        };
        let (prev, cur) = (prev.expect("a previous release"), cur.expect("a current release"));
        self.expect_current(tool, &cur, "before rollback");
        let run = match tool {
            Tool::Cutover => ok(capture(&mut self.cutover_cmd(&["rollback"]), CUTOVER_TIMEOUT), "cutover rollback"),
            Tool::Cap => ok(capture(&mut self.cap_cmd("deploy:rollback"), CAP_TIMEOUT), "cap deploy:rollback"),
        };
        self.expect_current(tool, &prev, "after rollback");
        let state = (None, Some(prev));
        match tool {
            Tool::Cutover => self.cutover = state,
            Tool::Cap => self.cap = state,
        }
        run.wall
    }

    /// The release `current` points at on host `i`.
    fn current(&self, tool: Tool, i: usize) -> Option<String> {
        let dir = match tool {
            Tool::Cutover => CUTOVER_PATH,
            Tool::Cap => CAP_PATH,
        };
        let rel = dir.strip_prefix(MOUNT_POINT).unwrap().trim_start_matches('/');
        let link = fs::read_link(self.hosts.root(i).join(rel).join("current")).ok()?;
        Some(link.file_name()?.to_string_lossy().into_owned())
    }

    #[track_caller]
    fn expect_current(&self, tool: Tool, id: &str, when: &str) {
        for i in 1..=self.hosts.aliases().len() {
            assert_eq!(self.current(tool, i).as_deref(), Some(id), "{tool:?}: `current` on h{i} {when}");
        }
    }

    /// The masters that answer on the sockets in cutover's socket directory, each with the host
    /// it is connected to (the last argument of its command line).
    fn masters(&self) -> Vec<Master> {
        let Ok(entries) = fs::read_dir(self.socket_dir()) else { return vec![] };
        let mut masters = Vec::new();
        for entry in entries {
            let entry = entry.expect("read socket dir");
            if !entry.file_type().is_ok_and(|t| t.is_socket()) {
                continue;
            }
            let socket = entry.path();
            // With `ControlPath` given, the destination only selects the ssh_config block.
            let run = capture(&mut self.mux_cmd(&socket, "check", "h1"), SSH_TIMEOUT);
            if run.code != 0 {
                continue;
            }
            let pid: u32 = run
                .stderr
                .split_once("(pid=")
                .and_then(|(_, rest)| rest.split(')').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("ssh -O check: no pid in {:?}", run.stderr));
            let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { continue };
            let alias = cmdline
                .split(|&b| b == 0)
                .rfind(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .expect("master command line");
            masters.push(Master { alias, socket, pid });
        }
        masters.sort_by(|a, b| a.alias.cmp(&b.alias));
        masters
    }

    /// Checks that every host has exactly one live master, as the last cutover command left it.
    #[track_caller]
    fn expect_warm(&self) -> Vec<Master> {
        let masters = self.masters();
        let mut aliases: Vec<String> = masters.iter().map(|m| m.alias.clone()).collect();
        let mut expected = self.hosts.aliases();
        aliases.sort();
        expected.sort();
        assert_eq!(aliases, expected, "one persisted master per host in {}", self.socket_dir().display());
        masters
    }

    /// Closes every persisted master and waits until each is gone, so the next command connects
    /// from scratch.
    #[track_caller]
    fn close_masters(&self) {
        let masters = self.masters();
        for m in &masters {
            ok(capture(&mut self.mux_cmd(&m.socket, "exit", &m.alias), SSH_TIMEOUT), "ssh -O exit");
        }
        let deadline = Instant::now() + MASTER_EXIT_TIMEOUT;
        let gone = |m: &Master| !m.socket.exists() && !Path::new(&format!("/proc/{}", m.pid)).exists();
        while !masters.iter().all(gone) {
            assert!(Instant::now() < deadline, "masters still there {MASTER_EXIT_TIMEOUT:?} after `ssh -O exit`");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(self.masters().is_empty(), "a master survived `ssh -O exit`");
    }

    /// `ssh -O <op>` on one master's socket.
    fn mux_cmd(&self, socket: &Path, op: &str, alias: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F").arg(self.hosts.config_path()).args(["-o", "BatchMode=yes"]);
        cmd.arg("-o").arg(format!("ControlPath={}", socket.display())).args(["-O", op]).arg(alias);
        cmd
    }
}

impl Drop for Bench<'_> {
    /// The masters would outlive the hosts' sshds only until they notice; close them now.
    fn drop(&mut self) {
        let Ok(entries) = fs::read_dir(self.socket_dir()) else { return };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_socket()) {
                let mut cmd = self.mux_cmd(&entry.path(), "exit", "h1");
                let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
        }
    }
}

/// Wall time of `ssh hN true` run to every host at once (as cutover connects), with the
/// benchmark's ssh_config; `kex` overrides the key exchange.
fn ssh_all(hosts: &SshHosts, kex: Option<&str>) -> Duration {
    let commands = hosts
        .aliases()
        .into_iter()
        .map(|alias| {
            let mut cmd = Command::new("ssh");
            cmd.arg("-F").arg(hosts.config_path()).args(["-o", "BatchMode=yes"]);
            if let Some(kex) = kex {
                cmd.arg("-o").arg(format!("KexAlgorithms={kex}"));
            }
            cmd.arg(alias).arg("true");
            cmd
        })
        .collect();
    run_all(commands)
}

/// Wall time of `ssh hN true` to every host at once over cutover's open masters.
fn ssh_mux_all(hosts: &SshHosts, masters: &[Master]) -> Duration {
    let commands = masters
        .iter()
        .map(|m| {
            let mut cmd = Command::new("ssh");
            cmd.arg("-F").arg(hosts.config_path()).args(["-o", "BatchMode=yes", "-o", "ControlMaster=no"]);
            cmd.arg("-o").arg(format!("ControlPath={}", m.socket.display())).arg(&m.alias).arg("true");
            cmd
        })
        .collect();
    run_all(commands)
}

/// Runs the commands at once; the wall time until the last one exited (each must succeed).
fn run_all(commands: Vec<Command>) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        let runs: Vec<_> = commands
            .into_iter()
            .map(|mut cmd| {
                s.spawn(move || {
                    let what = format!("{cmd:?}");
                    ok(capture(&mut cmd, SSH_TIMEOUT), &what);
                })
            })
            .collect();
        for run in runs {
            run.join().expect("ssh thread");
        }
    });
    start.elapsed()
}

struct Deployed {
    wall: Duration,
    json: serde_json::Value,
    stderr: String,
}

fn file_path(i: usize) -> String {
    format!("lib/d{:03}/f{i:05}.txt", i / 100)
}

// ---------------------------------------------------------------------------------------------
// Bytes benchmark

struct BytesResult {
    files: u64,
    app_bytes: u64,
    warm: Redeploy,
    cold: Redeploy,
    cap_lo: Traffic,
    cap_wall: Duration,
    /// The new release's manifest as stored on the host (the base one is about as large).
    manifest_bytes: u64,
    /// The host's journal when the warm redeploy started; every command reads it whole.
    journal_bytes: u64,
    /// Loopback traffic of one `ssh h1 true` (a handshake and one session).
    ssh_true_lo: Traffic,
}

/// One cutover redeploy of a 1-file change.
struct Redeploy {
    changed_bytes: u64,
    sent_files: u64,
    sent_bytes: u64,
    linked_files: u64,
    /// The manifest patch the host rebuilds the new manifest from: the dropped path and the
    /// added line.
    patch_bytes: u64,
    lo: Traffic,
    /// Loopback traffic in the second just before.
    idle_lo: u64,
    wall: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Traffic {
    rx: u64,
    tx: u64,
}

fn bytes_bench(bin: &Path) -> BytesResult {
    eprintln!("vs_capistrano: bytes, 1 host: writing a {BIG_APP_FILES}-file app and deploying it");
    let hosts = SshHosts::start(1);
    let mut bench = Bench::new(&hosts, bin, BIG_APP_FILES, "bytes");
    bench.new_version();
    let first = bench.deploy_cutover();
    bench.deploy_cap();
    let base_hash = first.json["manifest"].as_str().expect("manifest hash");
    let cached = bench.dir.path().join("project/.cutover/manifests").join(format!("{base_hash}.tsv"));
    assert!(cached.is_file(), "the first deploy cached its manifest at {}", cached.display());
    let journal_bytes =
        fs::metadata(hosts.root(1).join("app/.cutover/journal.jsonl")).expect("journal on the host").len();

    eprintln!("vs_capistrano: bytes: cutover redeploy, warm");
    let changed_bytes = bench.change_file(CHANGED_WARM);
    bench.expect_warm();
    let warm = bench.redeploy(CHANGED_WARM, changed_bytes);

    eprintln!("vs_capistrano: bytes: cap redeploy");
    let before = lo();
    let cap_wall = bench.deploy_cap();
    let after = lo();
    let cap_lo = Traffic { rx: after.rx - before.rx, tx: after.tx - before.tx };

    eprintln!("vs_capistrano: bytes: cutover redeploy, cold");
    let changed_bytes = bench.change_file(CHANGED_COLD);
    bench.close_masters();
    let cold = bench.redeploy(CHANGED_COLD, changed_bytes);

    let before = lo();
    ssh_all(&hosts, None);
    let after = lo();
    let ssh_true_lo = Traffic { rx: after.rx - before.rx, tx: after.tx - before.tx };

    let id = bench.cutover.1.clone().unwrap();
    let manifest_bytes =
        fs::metadata(hosts.root(1).join("app/.cutover/manifests").join(format!("{id}.tsv"))).expect("manifest").len();
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"));
    BytesResult {
        files: num(&first.json["files"]),
        app_bytes: num(&first.json["app_bytes"]),
        warm,
        cold,
        cap_lo,
        cap_wall,
        manifest_bytes,
        journal_bytes,
        ssh_true_lo,
    }
}

impl Bench<'_> {
    /// Rewrites app file `i` with new content of a size in the same range, and commits it;
    /// returns its size.
    fn change_file(&mut self, i: usize) -> u64 {
        let len = 1024 + (self.rng.next() % (7 * 1024 + 1)) as usize;
        let content = self.rng.text(len);
        fs::write(self.app().join(file_path(i)), &content).expect("write");
        self.commit(&format!("change file {i}"));
        len as u64
    }

    /// Redeploys with cutover after app file `i` changed, counting the loopback traffic; checks
    /// the file arrived, that the base manifest came from the local cache and that the host's
    /// rebuild of the new manifest matched.
    fn redeploy(&mut self, i: usize, changed_bytes: u64) -> Redeploy {
        let idle_lo = {
            let before = lo();
            std::thread::sleep(Duration::from_secs(1));
            lo().tx - before.tx
        };
        std::thread::sleep(SETTLE);
        let before = lo();
        let deployed = self.deploy_cutover();
        let after = lo();
        for unexpected in ["fetching the manifest", "sending it whole", "sending every file"] {
            assert!(!deployed.stderr.contains(unexpected), "cutover deploy: {unexpected}\n{}", deployed.stderr);
        }
        let id = self.cutover.1.clone().unwrap();
        let release = self.hosts.root(1).join("app/releases").join(&id);
        let on_host = fs::read(release.join(file_path(i))).expect("changed file on the host");
        assert_eq!(on_host, fs::read(self.app().join(file_path(i))).unwrap(), "the changed file reached the host");
        let manifest = fs::read_to_string(self.hosts.root(1).join("app/.cutover/manifests").join(format!("{id}.tsv")))
            .expect("the new manifest on the host");
        let cached = self
            .dir
            .path()
            .join("project/.cutover/manifests")
            .join(format!("{}.tsv", deployed.json["manifest"].as_str().unwrap()));
        assert_eq!(fs::read_to_string(cached).expect("cached manifest"), manifest, "the host's manifest is cutover's");
        let path = file_path(i);
        let line = manifest.lines().find(|l| l.split('\t').next() == Some(path.as_str())).expect("line of the file");
        let host = &deployed.json["hosts"][0];
        let num = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"));
        let sent_files = num(&host["sent_files"]);
        assert_eq!(sent_files, 1, "a 1-file change sends 1 file");
        Redeploy {
            changed_bytes,
            sent_files,
            sent_bytes: num(&host["sent_bytes"]),
            linked_files: num(&host["linked_files"]),
            patch_bytes: (path.len() + 1 + line.len() + 1) as u64,
            lo: Traffic { rx: after.rx - before.rx, tx: after.tx - before.tx },
            idle_lo,
            wall: deployed.wall,
        }
    }
}

/// The loopback interface's byte counters.
fn lo() -> Traffic {
    let text = fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("lo:") {
            let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().expect("counter")).collect();
            return Traffic { rx: fields[0], tx: fields[8] };
        }
    }
    panic!("no `lo` in /proc/net/dev");
}

// ---------------------------------------------------------------------------------------------
// Report

fn report(version: &str, rollbacks: &[RollbackResult], b: &BytesResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## cutover vs Capistrano 3\n");
    let _ = writeln!(s, "{version}; {ROUNDS} timed rollbacks per variant and host count, in a rotating order.\n");
    let _ = writeln!(s, "### Rollback wall time ({SMALL_APP_FILES}-file app)\n");
    let _ = writeln!(
        s,
        "| hosts | `cutover rollback` | median | min | `cap production deploy:rollback` median | min | \
         cap / cutover (median) | cap / cutover (min) |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|");
    for r in rollbacks {
        let (pm, pn) = (median(&r.cap), min(&r.cap));
        for (name, v) in [("warm (masters open)", &r.warm), ("cold (masters closed)", &r.cold)] {
            let (cm, cn) = (median(v), min(v));
            let _ = writeln!(
                s,
                "| {} | {name} | {} | {} | {} | {} | {:.1}x | {:.1}x |",
                r.hosts,
                ms(cm),
                ms(cn),
                ms(pm),
                ms(pn),
                pm.as_secs_f64() / cm.as_secs_f64(),
                pn.as_secs_f64() / cn.as_secs_f64()
            );
        }
    }
    let _ = writeln!(s, "\nAll samples (ms, in order):\n");
    for r in rollbacks {
        let _ = writeln!(
            s,
            "- {} host(s): cutover warm {}; cutover cold {}; cap {}",
            r.hosts,
            list(&r.warm),
            list(&r.cold),
            list(&r.cap)
        );
    }
    let _ = writeln!(s, "\nContext, measured in the same rounds (median; min):\n");
    let _ = writeln!(
        s,
        "| hosts | `ssh hN true` to every host at once | same, `KexAlgorithms=curve25519-sha256` | \
         same, over cutover's open masters | `cap -T` (no host contacted) | `cutover deploy` (new `index.html`) | \
         `cap production deploy` |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for r in rollbacks {
        let both = |v: &[Duration]| format!("{}; {}", ms(median(v)), ms(min(v)));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.hosts,
            both(&r.ssh_default),
            both(&r.ssh_curve25519),
            both(&r.ssh_mux),
            both(&r.cap_startup),
            both(&r.cutover_deploy),
            both(&r.cap_deploy)
        );
    }

    let pct = |x: u64| 100.0 * x as f64 / b.app_bytes as f64;
    let _ = writeln!(s, "\n### Redeploy after changing 1 file of {} (1 host)\n", n(b.files));
    let _ = writeln!(s, "| | bytes | % of app |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| app ({} files, 1-8 KiB each) | {} | 100% |", n(b.files), n(b.app_bytes));
    for (name, r) in [("warm (master open)", &b.warm), ("cold (master closed first)", &b.cold)] {
        let _ = writeln!(s, "| **cutover redeploy, {name}** | | |");
        let _ = writeln!(s, "| the changed file | {} | {:.4}% |", n(r.changed_bytes), pct(r.changed_bytes));
        let _ = writeln!(
            s,
            "| `sent_bytes`: the tar stream ({} file sent, {} hard-linked on the host) | {} | {:.4}% |",
            r.sent_files,
            n(r.linked_files),
            n(r.sent_bytes),
            pct(r.sent_bytes)
        );
        let _ = writeln!(
            s,
            "| the manifest patch (dropped path + added line) | {} | {:.4}% |",
            n(r.patch_bytes),
            pct(r.patch_bytes)
        );
        let _ = writeln!(
            s,
            "| all loopback traffic (`lo` tx delta; rx delta {}; idle second before: {}) | {} | {:.3}% |",
            n(r.lo.rx),
            n(r.idle_lo),
            n(r.lo.tx),
            pct(r.lo.tx)
        );
    }
    let _ = writeln!(s, "| **for comparison** | | |");
    let _ = writeln!(
        s,
        "| cap redeploy (1st change), all loopback traffic (`lo` tx delta; rx delta {}); its git fetch is host-local | {} | {:.3}% |",
        n(b.cap_lo.rx),
        n(b.cap_lo.tx),
        pct(b.cap_lo.tx)
    );
    let _ = writeln!(
        s,
        "| one `ssh h1 true` (handshake + 1 session), all loopback traffic (rx delta {}) | {} | {:.3}% |",
        n(b.ssh_true_lo.rx),
        n(b.ssh_true_lo.tx),
        pct(b.ssh_true_lo.tx)
    );
    let _ = writeln!(
        s,
        "| the new manifest on the host (not sent) | {} | {:.2}% |",
        n(b.manifest_bytes),
        pct(b.manifest_bytes)
    );
    let _ = writeln!(
        s,
        "| the host's journal before the warm redeploy (read whole by every command) | {} | {:.4}% |",
        n(b.journal_bytes),
        pct(b.journal_bytes)
    );
    let _ = writeln!(
        s,
        "\nRedeploy wall time: cutover warm {}, cutover cold {}, cap {}.",
        ms(b.warm.wall),
        ms(b.cold.wall),
        ms(b.cap_wall)
    );
    s
}

/// A count with thousands separators.
fn n(x: u64) -> String {
    let digits = x.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(samples: &[Duration]) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 }
}

fn min(samples: &[Duration]) -> Duration {
    samples.iter().copied().min().expect("samples")
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn list(samples: &[Duration]) -> String {
    samples.iter().map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Processes

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// Runs `cmd` with stdin closed, output captured, killed after `timeout`; `wall` is from spawn
/// to exit.
fn capture(cmd: &mut Command, timeout: Duration) -> Run {
    use std::os::unix::process::ExitStatusExt as _;
    let out = tempfile::tempfile().expect("tempfile");
    let err = tempfile::tempfile().expect("tempfile");
    cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(err.try_clone().unwrap());
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((status, Instant::now()));
    });
    let (status, end) = match rx.recv_timeout(timeout) {
        Ok(done) => done,
        Err(_) => {
            // The child is not reaped yet (the waiter has not returned), so its pid is still ours.
            if let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let _ = waiter.join();
            panic!("{what} did not finish within {timeout:?}; killed");
        }
    };
    let _ = waiter.join();
    let status = status.expect("wait");
    let read = |mut f: fs::File| {
        use std::io::{Read as _, Seek as _};
        let mut s = String::new();
        f.rewind().expect("rewind");
        f.read_to_string(&mut s).expect("read output");
        s
    };
    Run {
        code: status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: read(out),
        stderr: read(err),
        wall: end - start,
    }
}

#[track_caller]
fn ok(run: Run, what: &str) -> Run {
    assert_eq!(run.code, 0, "{what} failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

fn git(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir);
    ok(capture(&mut cmd, GIT_TIMEOUT), &format!("git {}", args.join(" ")));
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn preflight() {
    let mut missing = Vec::new();
    if !SshHosts::available() {
        missing.push("root with OpenSSH server and client, ssh-keygen, unshare and /run/sshd");
    }
    for (program, what) in [("cap", "capistrano (apt-get install -y capistrano)"), ("git", "git")] {
        if Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            missing.push(what);
        }
    }
    if !missing.is_empty() {
        eprintln!("vs_capistrano: cannot run; missing: {}", missing.join(", "));
        std::process::exit(1);
    }
}

fn cutover_bin() -> PathBuf {
    let bin = std::env::var_os("CUTOVER_BIN")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_BIN_EXE_cutover").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/cutover"));
    if !bin.is_file() {
        eprintln!(
            "vs_capistrano: no cutover binary at {}; run `cargo build --release -p cutover` or set CUTOVER_BIN",
            bin.display()
        );
        std::process::exit(1);
    }
    bin
}

/// A small deterministic generator (xorshift64*), so every run writes the same app.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` bytes of text: lines of 63 pseudo-random letters, digits and spaces.
    fn text(&mut self, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789  ";
        (0..len).map(|i| if i % 64 == 63 { b'\n' } else { ALPHABET[(self.next() >> 58) as usize] }).collect()
    }
}
