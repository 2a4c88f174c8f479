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
//! 1. Rollback time, 1 host and 10 hosts: an app of a few hundred files is deployed three times
//!    by each tool (cutover to `/srv/cutover-test/app`, Capistrano to `/srv/cutover-test/cap`),
//!    then for `ROUNDS` rounds, alternating which tool goes first: each tool rolls back from the
//!    release it deployed last to the previous one (timed; `current` checked on every host before
//!    and after), then each deploys a new release so there is again something to roll back to.
//! 2. Bytes sent by a redeploy that changes 1 file of a 10,000-file app (1-8 KiB files): the tar
//!    stream cutover reports (`hosts[0].sent_bytes`) and the loopback traffic (`lo` in
//!    /proc/net/dev) during each tool's redeploy.
//!
//! Prints markdown tables on stdout; progress on stderr. Every loop has a fixed count and every
//! child process a timeout.

#[allow(dead_code)]
#[path = "../tests/support/hosts.rs"]
mod hosts;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hosts::{MOUNT_POINT, SshHosts};

/// Timed rollbacks per tool and host count.
const ROUNDS: usize = 5;
/// Files in the app of the rollback benchmark.
const SMALL_APP_FILES: usize = 300;
/// Files in the app of the bytes benchmark.
const BIG_APP_FILES: usize = 10_000;
const CUTOVER_PATH: &str = "/srv/cutover-test/app";
const CAP_PATH: &str = "/srv/cutover-test/cap";

const CUTOVER_TIMEOUT: Duration = Duration::from_secs(120);
const CAP_TIMEOUT: Duration = Duration::from_secs(300);
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

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

    let mut rollbacks = Vec::new();
    for n in [1, 10] {
        rollbacks.push(rollback_bench(&bin, n));
    }
    let bytes = bytes_bench(&bin);

    print!("{}", report(&version, &rollbacks, &bytes));
    eprintln!("vs_capistrano: done in {:.0?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Rollback benchmark

struct RollbackResult {
    hosts: usize,
    cutover: Vec<Duration>,
    cap: Vec<Duration>,
    cutover_deploy: Vec<Duration>,
    cap_deploy: Vec<Duration>,
    /// `ssh hN true` to every host at once, with OpenSSH's default key exchange.
    ssh_default: Vec<Duration>,
    /// The same with `KexAlgorithms=curve25519-sha256`.
    ssh_curve25519: Vec<Duration>,
    /// `cap -T`: Ruby and Capistrano starting, no host contacted.
    cap_startup: Vec<Duration>,
}

fn rollback_bench(bin: &Path, n: usize) -> RollbackResult {
    eprintln!("vs_capistrano: rollback, {n} host(s): starting hosts and deploying 3 releases");
    let hosts = SshHosts::start(n);
    let mut bench = Bench::new(&hosts, bin, SMALL_APP_FILES, "rollback");
    let mut result = RollbackResult {
        hosts: n,
        cutover: vec![],
        cap: vec![],
        cutover_deploy: vec![],
        cap_deploy: vec![],
        ssh_default: vec![],
        ssh_curve25519: vec![],
        cap_startup: vec![],
    };
    for _ in 0..3 {
        bench.new_version();
        bench.deploy_cutover();
        bench.deploy_cap();
    }
    for round in 0..ROUNDS {
        let cutover_first = round % 2 == 0;
        for tool in if cutover_first { [Tool::Cutover, Tool::Cap] } else { [Tool::Cap, Tool::Cutover] } {
            let t = bench.rollback(tool);
            eprintln!("vs_capistrano:   {n} host(s), round {}: {tool:?} rollback {t:.1?}", round + 1);
            match tool {
                Tool::Cutover => result.cutover.push(t),
                Tool::Cap => result.cap.push(t),
            }
        }
        // Floors, measured in the same rounds: connecting alone, and Capistrano starting alone.
        result.ssh_default.push(ssh_all(&hosts, None));
        result.ssh_curve25519.push(ssh_all(&hosts, Some("curve25519-sha256")));
        result.cap_startup.push(ok(capture(&mut bench.cap_cmd_args(&["-T"]), CAP_TIMEOUT), "cap -T").wall);
        // Again something to roll back to: a new release from each tool.
        bench.new_version();
        for tool in if cutover_first { [Tool::Cutover, Tool::Cap] } else { [Tool::Cap, Tool::Cutover] } {
            match tool {
                Tool::Cutover => result.cutover_deploy.push(bench.deploy_cutover().wall),
                Tool::Cap => result.cap_deploy.push(bench.deploy_cap()),
            }
        }
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
                 [env.production]\nhosts = [{}]\npath = \"{CUTOVER_PATH}\"\n",
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
            .env_remove("CUTOVER_ENV");
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
        Deployed { wall: run.wall, json }
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
}

/// Wall time of `ssh hN true` run to every host at once (as cutover connects), with the
/// benchmark's ssh_config; `kex` overrides the key exchange.
fn ssh_all(hosts: &SshHosts, kex: Option<&str>) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        let runs: Vec<_> = hosts
            .aliases()
            .into_iter()
            .map(|alias| {
                s.spawn(move || {
                    let mut cmd = Command::new("ssh");
                    cmd.arg("-F").arg(hosts.config_path()).args(["-o", "BatchMode=yes"]);
                    if let Some(kex) = kex {
                        cmd.arg("-o").arg(format!("KexAlgorithms={kex}"));
                    }
                    cmd.arg(&alias).arg("true");
                    ok(capture(&mut cmd, CUTOVER_TIMEOUT), &format!("ssh {alias} true"));
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
}

fn file_path(i: usize) -> String {
    format!("lib/d{:03}/f{i:05}.txt", i / 100)
}

// ---------------------------------------------------------------------------------------------
// Bytes benchmark

struct BytesResult {
    files: u64,
    app_bytes: u64,
    changed_bytes: u64,
    sent_files: u64,
    sent_bytes: u64,
    linked_files: u64,
    /// The new release's manifest as stored on the host (the base one is about as large).
    manifest_bytes: u64,
    /// The NUL-separated list of the files to link, as sent.
    link_list_bytes: u64,
    cutover_lo: Traffic,
    cutover_wall: Duration,
    cap_lo: Traffic,
    cap_wall: Duration,
    idle_lo_per_sec: u64,
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
    bench.deploy_cutover();
    bench.deploy_cap();

    // One file changes: new content, a size in the same range.
    let changed = bench.app().join(file_path(4242));
    let len = 1024 + (bench.rng.next() % (7 * 1024 + 1)) as usize;
    let content = bench.rng.text(len);
    fs::write(&changed, &content).expect("write");
    bench.commit("change one file");

    let idle_lo_per_sec = {
        let before = lo();
        std::thread::sleep(Duration::from_secs(1));
        lo().tx - before.tx
    };

    eprintln!("vs_capistrano: bytes: cutover redeploy");
    let before = lo();
    let deployed = bench.deploy_cutover();
    let after = lo();
    let cutover_lo = Traffic { rx: after.rx - before.rx, tx: after.tx - before.tx };
    let host = &deployed.json["hosts"][0];
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"));

    eprintln!("vs_capistrano: bytes: cap redeploy");
    let before = lo();
    let cap_wall = bench.deploy_cap();
    let after = lo();
    let cap_lo = Traffic { rx: after.rx - before.rx, tx: after.tx - before.tx };

    let id = bench.cutover.1.clone().unwrap();
    let on_host = fs::read(hosts.root(1).join("app/releases").join(&id).join(file_path(4242))).expect("changed file");
    assert_eq!(on_host, content, "the changed file reached the host");
    let manifest_bytes = fs::metadata(hosts.root(1).join("app/.cutover/manifests").join(format!("{id}.json")))
        .expect("manifest on the host")
        .len();
    let link_list_bytes = (0..BIG_APP_FILES).filter(|&i| i != 4242).map(|i| file_path(i).len() as u64 + 1).sum::<u64>()
        + "index.html".len() as u64
        + 1;

    BytesResult {
        files: num(&deployed.json["files"]),
        app_bytes: num(&deployed.json["app_bytes"]),
        changed_bytes: len as u64,
        sent_files: num(&host["sent_files"]),
        sent_bytes: num(&host["sent_bytes"]),
        linked_files: num(&host["linked_files"]),
        manifest_bytes,
        link_list_bytes,
        cutover_lo,
        cutover_wall: deployed.wall,
        cap_lo,
        cap_wall,
        idle_lo_per_sec,
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
    let _ = writeln!(s, "{version}; {ROUNDS} timed rollbacks per tool and host count, tools alternating.\n");
    let _ = writeln!(s, "### Rollback wall time ({SMALL_APP_FILES}-file app)\n");
    let _ = writeln!(
        s,
        "| hosts | `cutover rollback` median | min | `cap production deploy:rollback` median | min | \
         cap / cutover (median) | cap / cutover (min) |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for r in rollbacks {
        let (cm, cn) = (median(&r.cutover), min(&r.cutover));
        let (pm, pn) = (median(&r.cap), min(&r.cap));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1}x | {:.1}x |",
            r.hosts,
            ms(cm),
            ms(cn),
            ms(pm),
            ms(pn),
            pm.as_secs_f64() / cm.as_secs_f64(),
            pn.as_secs_f64() / cn.as_secs_f64()
        );
    }
    let _ = writeln!(s, "\nAll samples (ms, in order):\n");
    for r in rollbacks {
        let _ = writeln!(s, "- {} host(s): cutover {}; cap {}", r.hosts, list(&r.cutover), list(&r.cap));
    }
    let _ = writeln!(s, "\nContext, measured in the same rounds (median; min):\n");
    let _ = writeln!(
        s,
        "| hosts | `ssh hN true` to every host at once | same, `KexAlgorithms=curve25519-sha256` | \
         `cap -T` (no host contacted) | `cutover deploy` (new `index.html`) | `cap production deploy` |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
    for r in rollbacks {
        let both = |v: &[Duration]| format!("{}; {}", ms(median(v)), ms(min(v)));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.hosts,
            both(&r.ssh_default),
            both(&r.ssh_curve25519),
            both(&r.cap_startup),
            both(&r.cutover_deploy),
            both(&r.cap_deploy)
        );
    }

    let pct = |x: u64| 100.0 * x as f64 / b.app_bytes as f64;
    let _ = writeln!(s, "\n### Redeploy after changing 1 file of {} (1 host)\n", b.files);
    let _ = writeln!(s, "| | bytes | % of app |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| app ({} files, 1-8 KiB each) | {} | 100% |", b.files, b.app_bytes);
    let _ = writeln!(s, "| the changed file | {} | {:.4}% |", b.changed_bytes, pct(b.changed_bytes));
    let _ = writeln!(
        s,
        "| cutover `sent_bytes`: the tar stream ({} file sent, {} hard-linked on the host) | {} | {:.4}% |",
        b.sent_files,
        b.linked_files,
        b.sent_bytes,
        pct(b.sent_bytes)
    );
    let _ = writeln!(
        s,
        "| cutover redeploy, all loopback traffic (`lo` tx delta; rx delta {}) | {} | {:.2}% |",
        b.cutover_lo.rx,
        b.cutover_lo.tx,
        pct(b.cutover_lo.tx)
    );
    let _ = writeln!(
        s,
        "| of which, at least: base manifest read + new manifest written (2 × {}) and the link list ({}) | {} | {:.2}% |",
        b.manifest_bytes,
        b.link_list_bytes,
        2 * b.manifest_bytes + b.link_list_bytes,
        pct(2 * b.manifest_bytes + b.link_list_bytes)
    );
    let _ = writeln!(
        s,
        "| cap redeploy, all loopback traffic (`lo` tx delta; rx delta {}); its git fetch is host-local | {} | {:.2}% |",
        b.cap_lo.rx,
        b.cap_lo.tx,
        pct(b.cap_lo.tx)
    );
    let _ = writeln!(
        s,
        "\nRedeploy wall time: cutover {}, cap {}. Loopback traffic in 1 s of idle just before: {} bytes.",
        ms(b.cutover_wall),
        ms(b.cap_wall),
        b.idle_lo_per_sec
    );
    s
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
            // SAFETY: kill(2) has no memory-safety preconditions; the child is not reaped yet
            // (the waiter has not returned), so its pid is still ours.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
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
