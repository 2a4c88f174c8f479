//! `cutover db copy` and `cutover db snapshot` against the raw pipes they replace, on the same
//! real SSH hosts and the same MariaDB server, in one run (issue 13).
//!
//! Run (as root, with OpenSSH server and client, a MariaDB server at 127.0.0.1:3306 that root
//! reaches without a password, mariadb-client, zstd and python3; at the default size about 4 GB
//! free on the server's disk):
//!
//! ```text
//! cargo build --release -p cutover && cargo bench -p cutover --bench vs_mysqldump
//! CUTOVER_BENCH_DB_MB=50 CUTOVER_BENCH_RUNS=1 cargo bench -p cutover --bench vs_mysqldump   # a quick check
//! ```
//!
//! `CUTOVER_BENCH_DB_MB` (default 1000) is the size of the generated database's dump in MB;
//! `CUTOVER_BENCH_RUNS` (default 3) the timed runs of each command; `CUTOVER_BENCH_ONLY=copy` or
//! `snapshot` runs one of the two; `CUTOVER_BENCH_POOL_MB` sets the server's InnoDB buffer
//! pool to that many MB for the run (given back on exit; unset: the server's own, 128 MB on a
//! stock Debian MariaDB, a tenth of the database). The binary is
//! `$CUTOVER_BIN` if set, else the one cargo built for this bench.
//!
//! 1. A WordPress-shaped staging database is generated: `bench/gen_wp_dump.py --url-encoded`
//!    (posts with long block-editor HTML holding the staging URL, postmeta with PHP-serialized,
//!    JSON and URL-encoded values, comments, options with serialized arrays and JSON transients)
//!    piped straight into `mariadb` (nothing on disk), in a database of the bench's own.
//! 2. Two sshd hosts on loopback: h1 is staging's db host, h2 production's; both reach the
//!    server at 127.0.0.1:3306. The project has `[env.staging]` and `[env.production]` (not
//!    gated) with `database = "mysql://root@127.0.0.1:3306/<db>"`, and `[ssh] persist = "0s"`, so
//!    every cutover command connects afresh, as each raw pipe does.
//! 3. Copy, `RUNS` rounds, the order alternating each round, the target database dropped and
//!    created empty before each command:
//!    - `cutover db copy --from staging --to production --overwrite -y --json`;
//!    - `ssh -F CFG h1 mariadb-dump -h 127.0.0.1 -u root --single-transaction --quick SRC |
//!      ssh -F CFG h2 mariadb -h 127.0.0.1 -u root DST` (bash, `pipefail`).
//!
//!    After each, the target's tables and row counts are checked against the source's, and the
//!    staging URL in `wp_options` (gone after cutover, there after the raw pipe).
//! 4. Snapshot (when the binary has `db snapshot`), the same way:
//!    - `cutover --env staging db snapshot --id bench-N --json`;
//!    - `ssh -F CFG h1 'mariadb-dump … SRC | zstd -q > FILE'`;
//!
//!    each file removed after its run, its size kept.
//!
//! Before every timed command the bench waits (up to 30 s) until InnoDB has flushed what the
//! last one left dirty, so no command pays for its predecessor's writes. Each command is timed wall
//! clock from spawn to exit. The cutover process's peak RSS is its `VmHWM` (the kernel's
//! high-water mark of its resident set) read from `/proc/PID/status` every 10 ms until it
//! exits; its CPU time (all threads) from `/proc/PID/stat` the same way. The server's CPU time
//! (`mariadbd`) and the whole machine's busy time (`/proc/stat`) are read before and after.
//!
//! Prints markdown on stdout, progress on stderr. Every loop has a fixed count or a deadline,
//! every child process a timeout; the bench's databases are dropped at the end (and on a panic).

// A benchmark runs the tools it compares, prints its figures and exits when it cannot run.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr, clippy::exit)]

#[allow(dead_code)]
#[path = "../tests/support/hosts.rs"]
mod hosts;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hosts::{MOUNT_POINT, SshHosts};

const STAGING_URL: &str = "https://staging.example.test";
const PRODUCTION_URL: &str = "https://www.example.com";
const DEFAULT_MB: u64 = 1000;
const DEFAULT_RUNS: usize = 3;
/// Any one copy, snapshot or generation; generous for 1 GB on a busy 2-core machine.
const LONG_TIMEOUT: Duration = Duration::from_secs(1800);
const SQL_TIMEOUT: Duration = Duration::from_secs(600);
const SHORT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for InnoDB to flush before a timed command.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);
/// Linux's `USER_HZ`, the unit of `/proc/PID/stat` and `/proc/stat` times (100 on every
/// architecture Linux runs on).
const USER_HZ: f64 = 100.0;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, and must
    // not spend minutes here. A filter argument that does not match this bench's name skips it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("vs_mysqldump: not run (no --bench); run it with `cargo bench -p cutover --bench vs_mysqldump`");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "vs_mysqldump".contains(f.as_str())) {
        return;
    }
    let started = Instant::now();
    preflight();
    let size_mb = env_number("CUTOVER_BENCH_DB_MB", DEFAULT_MB);
    let runs = usize::try_from(env_number("CUTOVER_BENCH_RUNS", DEFAULT_RUNS as u64)).expect("a run count");
    let bin = cutover_bin();
    eprintln!("vs_mysqldump: cutover binary {}", bin.display());
    let version = ok(run(Command::new(&bin).arg("--version"), SHORT_TIMEOUT), "cutover --version").stdout;
    let version = format!("{}, {}", version.trim(), source_revision());

    let pool = Pool::set(env_number("CUTOVER_BENCH_POOL_MB", 0));
    let dbs = Databases::new();
    let generated = generate(&dbs.source, size_mb);
    let hosts = SshHosts::start(2);
    let bench = Bench::new(&hosts, &bin, &dbs);
    // The source's pages in the page cache before the first timed dump, whichever it is.
    ok(run(&mut bash(&format!("{} > /dev/null", raw_dump(&dbs.source))), LONG_TIMEOUT), "warming the source");

    let only = std::env::var("CUTOVER_BENCH_ONLY").unwrap_or_default();
    let copy = (only != "snapshot").then(|| bench.copy_rounds(runs));
    let snapshot = (only != "copy" && bench.has_snapshot()).then(|| bench.snapshot_rounds(runs));
    print!("{}", report(&version, &generated, copy.as_ref(), snapshot.as_ref()));
    println!("\nInnoDB buffer pool: {} MB{}.", pool.mb, if pool.old.is_some() { " (set for this run)" } else { "" });
    drop(bench);
    drop(hosts);
    drop(dbs);
    drop(pool);
    eprintln!("vs_mysqldump: done in {:.0?}", started.elapsed());
}

/// The server's InnoDB buffer pool for the run: set to `mb` (0: left as it is) and given
/// back when this is dropped.
struct Pool {
    mb: u64,
    old: Option<u64>,
}

impl Pool {
    fn set(mb: u64) -> Self {
        let now: u64 = sql("SELECT @@innodb_buffer_pool_size").trim().parse().expect("the pool size");
        if mb == 0 || mb * 1024 * 1024 == now {
            return Self { mb: now / 1024 / 1024, old: None };
        }
        Self::resize(mb * 1024 * 1024);
        Self { mb, old: Some(now) }
    }

    /// Sets the pool to `bytes` and waits (at most 60 s) until the server says it is that size.
    fn resize(bytes: u64) {
        sql(&format!("SET GLOBAL innodb_buffer_pool_size = {bytes}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        // The status is empty before any resize and "Completed resizing …" after one.
        let done = || {
            let status = sql("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'");
            let status = status.split_once('\t').map_or("", |(_, v)| v.trim());
            sql("SELECT @@innodb_buffer_pool_size").trim() == bytes.to_string()
                && (status.is_empty() || status.starts_with("Completed"))
        };
        while !done() {
            assert!(
                Instant::now() < deadline,
                "vs_mysqldump: the buffer pool did not become {bytes} bytes within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(old) = self.old {
            Self::resize(old);
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("vs_mysqldump: {name}={v} is not a number");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------------
// The databases

/// The bench's databases (`cbench_PID_…`): dropped when this is, with whatever a cutover load
/// left next to them.
struct Databases {
    prefix: String,
    source: String,
    target: String,
}

impl Databases {
    fn new() -> Self {
        let prefix = format!("cbench_{}_", std::process::id());
        let dbs = Self { source: format!("{prefix}staging"), target: format!("{prefix}production"), prefix };
        dbs.drop_all();
        sql(&format!("CREATE DATABASE `{}`", dbs.source));
        dbs
    }

    fn drop_all(&self) {
        let like = self.prefix.replace('_', "\\\\_");
        let names =
            sql(&format!("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{like}%'"));
        for name in names.lines().filter(|n| !n.is_empty()) {
            sql(&format!("DROP DATABASE IF EXISTS `{name}`"));
        }
    }

    /// Drops the target and creates it empty.
    fn reset_target(&self) {
        sql(&format!("DROP DATABASE IF EXISTS `{0}`; CREATE DATABASE `{0}`", self.target));
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        self.drop_all();
    }
}

/// Runs `query` on the server as root; its output (tab-separated, no column names).
fn sql(query: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args(["-h", "127.0.0.1", "-u", "root", "--batch", "--skip-column-names", "-e", query]);
    ok(run(&mut cmd, SQL_TIMEOUT), &format!("mariadb -e {query:?}")).stdout
}

/// Tables of `db` with their exact row counts, in name order.
fn row_counts(db: &str) -> Vec<(String, u64)> {
    let tables = sql(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' ORDER BY table_name"
    ));
    tables
        .lines()
        .map(|t| {
            let n = sql(&format!("SELECT COUNT(*) FROM `{db}`.`{t}`"));
            (t.to_owned(), n.trim().parse().expect("a count"))
        })
        .collect()
}

/// Rows of `db`'s `wp_options` whose value holds the staging URL's host.
fn staging_urls_in_options(db: &str) -> u64 {
    sql(&format!("SELECT COUNT(*) FROM `{db}`.wp_options WHERE option_value LIKE '%staging.example.test%'"))
        .trim()
        .parse()
        .expect("a count")
}

struct Generated {
    mb: u64,
    seconds: f64,
    tables: Vec<(String, u64)>,
    /// InnoDB's data + index bytes, after `ANALYZE TABLE`.
    on_disk: u64,
}

/// Fills `db` from the generator, piped into the client.
fn generate(db: &str, size_mb: u64) -> Generated {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/gen_wp_dump.py");
    eprintln!("vs_mysqldump: generating a {size_mb} MB WordPress-shaped database into {db} …");
    let started = Instant::now();
    let pipe = format!(
        "python3 {} --size-mb {size_mb} --url {STAGING_URL} --url-encoded --out - | mariadb -h 127.0.0.1 -u root {db}",
        script.display()
    );
    ok(run(&mut bash(&pipe), LONG_TIMEOUT), "generating the database");
    let seconds = started.elapsed().as_secs_f64();
    let tables = row_counts(db);
    for (t, _) in &tables {
        sql(&format!("ANALYZE TABLE `{db}`.`{t}`"));
    }
    let on_disk = sql(&format!(
        "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = '{db}'"
    ))
    .trim()
    .parse()
    .expect("a size");
    eprintln!("vs_mysqldump: generated in {seconds:.1} s: {tables:?}, {on_disk} bytes in InnoDB");
    Generated { mb: size_mb, seconds, tables, on_disk }
}

/// The peer's dump: the same client options a user would type.
fn raw_dump(db: &str) -> String {
    format!("mariadb-dump -h 127.0.0.1 -u root --single-transaction --quick {db}")
}

/// InnoDB's dirty pages, and all its pages.
fn dirty_pages() -> (u64, u64) {
    let out = sql("SELECT variable_name, variable_value FROM information_schema.global_status WHERE variable_name IN \
         ('INNODB_BUFFER_POOL_PAGES_DIRTY', 'INNODB_BUFFER_POOL_PAGES_TOTAL')");
    let get = |name: &str| {
        out.lines()
            .find_map(|l| l.split_once('\t').filter(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("INNODB_BUFFER_POOL_PAGES_DIRTY"), get("INNODB_BUFFER_POOL_PAGES_TOTAL"))
}

/// Waits until InnoDB's dirty pages are under 5% of its pool (the server is shared with other
/// work, which keeps a few dirty), or [`SETTLE_TIMEOUT`]; says how long it waited.
fn settle() -> Duration {
    let started = Instant::now();
    loop {
        let (dirty, total) = dirty_pages();
        if dirty * 20 <= total || started.elapsed() >= SETTLE_TIMEOUT {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

struct Bench<'a> {
    hosts: &'a SshHosts,
    bin: &'a Path,
    dbs: &'a Databases,
    dir: tempfile::TempDir,
    mariadbd: Option<u32>,
}

/// One timed command, measured.
#[derive(Debug, Clone)]
struct Sample {
    wall: Duration,
    /// The measured process's own peak RSS (`VmHWM`), KiB: cutover's, not a shell's.
    peak_rss_kib: Option<u64>,
    /// The measured process's CPU time, all threads.
    cpu: Option<Duration>,
    /// The server's CPU time during the command.
    server_cpu: Option<Duration>,
    /// The whole machine's busy CPU time during the command (both cores; other work included).
    machine_cpu: Duration,
    /// What cutover said about it (`--json`), for cutover's samples.
    json: Option<serde_json::Value>,
    /// The snapshot file's size, for the snapshot samples.
    file_bytes: Option<u64>,
}

struct Pair {
    cutover: Vec<Sample>,
    raw: Vec<Sample>,
}

impl<'a> Bench<'a> {
    fn new(hosts: &'a SshHosts, bin: &'a Path, dbs: &'a Databases) -> Self {
        let dir = tempfile::Builder::new().prefix("cutover-bench-db.").tempdir().expect("tempdir");
        let database = |db: &str| format!("mysql://root@127.0.0.1:3306/{db}");
        write(&dir.path().join("project/app/index.html"), "bench\n");
        write(
            &dir.path().join("project/cutover.toml"),
            &format!(
                "version = 1\n\
                 [app]\nname = \"bench\"\nsource = \"app\"\n\
                 [ssh]\nconfig = \"{ssh_config}\"\nconnect_timeout = \"5s\"\npersist = \"0s\"\n\
                 [env.staging]\nhosts = [\"h1\"]\npath = \"{path}\"\nurl = \"{STAGING_URL}\"\ndatabase = \"{src}\"\n\
                 [env.production]\ngated = false\nhosts = [\"h2\"]\npath = \"{path}\"\nurl = \"{PRODUCTION_URL}\"\n\
                 database = \"{dst}\"\n",
                ssh_config = hosts.config_path().display(),
                path = hosts::DEPLOY_PATH,
                src = database(&dbs.source),
                dst = database(&dbs.target),
            ),
        );
        let pid_file = sql("SELECT @@pid_file");
        let mariadbd = fs::read_to_string(pid_file.trim()).ok().and_then(|p| p.trim().parse().ok());
        Self { hosts, bin, dbs, dir, mariadbd }
    }

    fn cutover(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .current_dir(self.dir.path().join("project"))
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"));
        fs::create_dir_all(self.dir.path().join("run")).expect("runtime dir");
        cmd
    }

    fn ssh(&self, host: &str, command: &str) -> String {
        format!("ssh -F {} {host} {}", self.hosts.config_path().display(), shell_quote(command))
    }

    fn has_snapshot(&self) -> bool {
        let help = run(&mut self.cutover(&["db", "snapshot", "--help"]), SHORT_TIMEOUT);
        if help.code != 0 {
            eprintln!("vs_mysqldump: this cutover has no `db snapshot`; the snapshot half is not run");
        }
        help.code == 0
    }

    /// Times `cmd` after the server settled, with the server's and the machine's CPU around it.
    fn timed(&self, cmd: &mut Command, what: &str) -> (Sample, Run) {
        let waited = settle();
        if waited > Duration::from_secs(1) {
            eprintln!("vs_mysqldump: waited {:.1} s for InnoDB to flush before {what}", waited.as_secs_f64());
        }
        let server_before = self.mariadbd.and_then(process_cpu);
        let machine_before = machine_busy();
        let (measured, usage) = run_measured(cmd, LONG_TIMEOUT);
        let machine_cpu = machine_busy().saturating_sub(machine_before);
        let server_cpu = match (server_before, self.mariadbd.and_then(process_cpu)) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let measured = ok(measured, what);
        let sample = Sample {
            wall: measured.wall,
            peak_rss_kib: usage.peak_rss_kib,
            cpu: usage.cpu,
            server_cpu,
            machine_cpu,
            json: None,
            file_bytes: None,
        };
        (sample, measured)
    }

    fn copy_rounds(&self, runs: usize) -> Pair {
        let source = row_counts(&self.dbs.source);
        let mut pair = Pair { cutover: Vec::new(), raw: Vec::new() };
        for round in 0..runs {
            let order = if round % 2 == 0 { [true, false] } else { [false, true] };
            for cutover in order {
                self.dbs.reset_target();
                let sample = if cutover { self.copy_cutover() } else { self.copy_raw() };
                assert_eq!(row_counts(&self.dbs.target), source, "the target after a copy has the source's rows");
                let left = staging_urls_in_options(&self.dbs.target);
                if cutover {
                    assert_eq!(left, 0, "cutover db copy left the staging URL in wp_options");
                } else {
                    assert!(left > 0, "the raw pipe copied wp_options as it was");
                }
                eprintln!(
                    "vs_mysqldump: copy round {}: {} {:.1} s",
                    round + 1,
                    if cutover { "cutover" } else { "raw" },
                    sample.wall.as_secs_f64()
                );
                let list = if cutover { &mut pair.cutover } else { &mut pair.raw };
                list.push(sample);
            }
        }
        self.dbs.reset_target();
        pair
    }

    fn copy_cutover(&self) -> Sample {
        let mut cmd =
            self.cutover(&["db", "copy", "--from", "staging", "--to", "production", "--overwrite", "-y", "--json"]);
        let (mut sample, run) = self.timed(&mut cmd, "cutover db copy");
        sample.json = Some(serde_json::from_str(&run.stdout).expect("cutover db copy --json"));
        sample
    }

    fn copy_raw(&self) -> Sample {
        let pipe = format!(
            "{} | {}",
            self.ssh("h1", &raw_dump(&self.dbs.source)),
            self.ssh("h2", &format!("mariadb -h 127.0.0.1 -u root {}", self.dbs.target))
        );
        self.timed(&mut bash(&pipe), "the raw pipe").0
    }

    fn snapshot_rounds(&self, runs: usize) -> Pair {
        let mut pair = Pair { cutover: Vec::new(), raw: Vec::new() };
        let snapshots = self.hosts.root(1).join("app/.cutover/snapshots");
        for round in 0..runs {
            let order = if round % 2 == 0 { [true, false] } else { [false, true] };
            for cutover in order {
                let sample = if cutover {
                    let id = format!("bench-{round}");
                    let mut cmd = self.cutover(&["--env", "staging", "db", "snapshot", "--id", &id, "--json"]);
                    let (mut sample, run) = self.timed(&mut cmd, "cutover db snapshot");
                    sample.json = Some(serde_json::from_str(&run.stdout).expect("cutover db snapshot --json"));
                    let file = snapshots.join(format!("{id}.sql.zst"));
                    sample.file_bytes = Some(fs::metadata(&file).expect("the snapshot file").len());
                    for ext in ["sql.zst", "json"] {
                        fs::remove_file(snapshots.join(format!("{id}.{ext}"))).expect("remove the snapshot");
                    }
                    sample
                } else {
                    let file = format!("{MOUNT_POINT}/raw-snapshot.sql.zst");
                    let remote = format!("set -o pipefail; {} | zstd -q > {file}", raw_dump(&self.dbs.source));
                    let (mut sample, _) = self.timed(
                        &mut bash(&self.ssh("h1", &format!("bash -c {}", shell_quote(&remote)))),
                        "the raw snapshot",
                    );
                    let local = self.hosts.root(1).join("raw-snapshot.sql.zst");
                    sample.file_bytes = Some(fs::metadata(&local).expect("the raw snapshot file").len());
                    fs::remove_file(&local).expect("remove the raw snapshot");
                    sample
                };
                eprintln!(
                    "vs_mysqldump: snapshot round {}: {} {:.1} s",
                    round + 1,
                    if cutover { "cutover" } else { "raw" },
                    sample.wall.as_secs_f64()
                );
                let list = if cutover { &mut pair.cutover } else { &mut pair.raw };
                list.push(sample);
            }
        }
        pair
    }
}

// ---------------------------------------------------------------------------------------------
// The report

fn report(version: &str, generated: &Generated, copy: Option<&Pair>, snapshot: Option<&Pair>) -> String {
    let mut s = String::new();
    let dump_bytes =
        copy.and_then(|c| c.cutover.first()).and_then(|c| c.json.as_ref()).and_then(|j| j["bytes_in"].as_u64());
    let rows: u64 = generated.tables.iter().map(|(_, n)| n).sum();
    let _ =
        writeln!(s, "cutover: {version}; {} cores; {}; load average at the end: {}", cores(), uname(), load_average());
    let _ = writeln!(
        s,
        "\nDatabase: generated as a {} MB dump in {:.0} s; {} tables, {} rows ({}); {:.0} MB in InnoDB (data + \
         indexes); mariadb-dump writes {} of it.",
        generated.mb,
        generated.seconds,
        generated.tables.len(),
        rows,
        generated.tables.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "),
        generated.on_disk as f64 / 1e6,
        dump_bytes.map_or_else(|| "?".to_owned(), |b| format!("{:.1} MB ({b} bytes)", b as f64 / 1e6)),
    );
    let runs = copy.or(snapshot).map_or(0, |p| p.cutover.len());
    let _ = writeln!(s, "\n{runs} runs of each, alternating; medians.");
    let Some(copy) = copy else {
        let _ = writeln!(s, "\nCopy: not run (CUTOVER_BENCH_ONLY=snapshot).");
        return snapshot_part(s, snapshot);
    };
    table(
        &mut s,
        "Copy",
        "`cutover db copy --from staging --to production --overwrite -y`",
        "`ssh h1 mariadb-dump … \\| ssh h2 mariadb …`",
        copy,
        1.15,
    );
    if let Some(j) = copy.cutover.last().and_then(|c| c.json.as_ref()) {
        let _ = writeln!(
            s,
            "\ncutover's last copy: {} values, {} plain, {} serialized, {} JSON, {} URL-encoded rewritten, {} left \
             as they were; its own timing of dump to swap: {:.1} s.",
            j["values"],
            j["changed_plain"],
            j["changed_serialized"],
            j["changed_json"],
            j["changed_url_encoded"],
            j["reported"],
            j["seconds"].as_f64().unwrap_or(0.0),
        );
    }
    snapshot_part(s, snapshot)
}

fn snapshot_part(mut s: String, snapshot: Option<&Pair>) -> String {
    if let Some(snapshot) = snapshot {
        table(
            &mut s,
            "Snapshot",
            "`cutover --env staging db snapshot`",
            "`ssh h1 'mariadb-dump … \\| zstd -q > FILE'`",
            snapshot,
            1.1,
        );
        let size = |v: &[Sample]| v.iter().filter_map(|x| x.file_bytes).max().unwrap_or(0);
        let _ = writeln!(
            s,
            "\nSnapshot files: cutover {:.1} MB, raw {:.1} MB.",
            size(&snapshot.cutover) as f64 / 1e6,
            size(&snapshot.raw) as f64 / 1e6
        );
    } else {
        let _ = writeln!(s, "\nSnapshot: not run (CUTOVER_BENCH_ONLY=copy, or this cutover has no `db snapshot`).");
    }
    s
}

fn table(s: &mut String, title: &str, ours: &str, theirs: &str, pair: &Pair, target: f64) {
    let wall = |v: &[Sample]| median(&v.iter().map(|x| x.wall).collect::<Vec<_>>());
    let (a, b) = (wall(&pair.cutover), wall(&pair.raw));
    let ratio = a.as_secs_f64() / b.as_secs_f64();
    let _ = writeln!(s, "\n### {title}\n");
    let _ = writeln!(
        s,
        "| command | median wall | runs (s, in order) | its CPU | server CPU | machine CPU | peak RSS |\n\
         |---|---:|---|---:|---:|---:|---:|"
    );
    for (name, v, is_cutover) in [(ours, &pair.cutover, true), (theirs, &pair.raw, false)] {
        let med = |f: &dyn Fn(&Sample) -> Option<Duration>| {
            let d: Vec<Duration> = v.iter().filter_map(f).collect();
            if d.is_empty() { "—".to_owned() } else { format!("{:.1} s", median(&d).as_secs_f64()) }
        };
        let rss = v.iter().filter_map(|x| x.peak_rss_kib).max();
        let _ = writeln!(
            s,
            "| {name} | {:.1} s | {} | {} | {} | {} | {} |",
            wall(v).as_secs_f64(),
            v.iter().map(|x| format!("{:.1}", x.wall.as_secs_f64())).collect::<Vec<_>>().join(", "),
            if is_cutover { med(&|x| x.cpu) } else { "—".to_owned() },
            med(&|x| x.server_cpu),
            med(&|x| Some(x.machine_cpu)),
            if is_cutover {
                rss.map_or_else(|| "—".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
            } else {
                "—".to_owned()
            },
        );
    }
    let verdict = if ratio <= target { "met" } else { "missed" };
    let _ = writeln!(s, "\ncutover / raw: **{ratio:.3}×** (target ≤ {target}×: {verdict}).");
}

fn median(samples: &[Duration]) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn uname() -> String {
    run(Command::new("uname").arg("-sr"), SHORT_TIMEOUT).stdout.trim().to_owned()
}

/// The workspace's commit, and the tracked files that differ from it.
fn source_revision() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = |args: &[&str]| {
        let out = run(Command::new("git").arg("-C").arg(&root).args(args), SHORT_TIMEOUT);
        (out.code == 0).then(|| out.stdout.trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else { return "commit unknown".into() };
    match git(&["diff", "--name-only", "HEAD"]) {
        Some(changed) if !changed.is_empty() => {
            format!("commit {commit} with uncommitted changes to {}", changed.lines().collect::<Vec<_>>().join(", "))
        }
        _ => format!("commit {commit}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// What the kernel said about a process while it ran.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    peak_rss_kib: Option<u64>,
    cpu: Option<Duration>,
}

fn run(cmd: &mut Command, timeout: Duration) -> Run {
    run_measured(cmd, timeout).0
}

/// Runs `cmd` with stdin closed and its output in files, killed after `timeout`; reads its
/// `VmHWM` and CPU time every [`POLL`] until it exits.
fn run_measured(cmd: &mut Command, timeout: Duration) -> (Run, Usage) {
    use std::os::unix::process::ExitStatusExt as _;
    let out = tempfile::tempfile().expect("tempfile");
    let err = tempfile::tempfile().expect("tempfile");
    cmd.stdin(Stdio::null()).stdout(out.try_clone().expect("dup")).stderr(err.try_clone().expect("dup"));
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child: Child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut usage = Usage::default();
    let status = loop {
        // Read before reaping: until then the pid is this child's (a zombie has no VmHWM, so
        // the last reading stands).
        if let Some(kib) = peak_rss(child.id()) {
            usage.peak_rss_kib = Some(kib);
        }
        if let Some(cpu) = process_cpu(child.id()) {
            usage.cpu = Some(cpu);
        }
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {timeout:?}; killed");
            }
            None => std::thread::sleep(POLL),
        }
    };
    let wall = start.elapsed();
    let read = |mut f: fs::File| {
        use std::io::{Read as _, Seek as _};
        let mut s = String::new();
        f.rewind().expect("rewind");
        f.read_to_string(&mut s).expect("read output");
        s
    };
    let run = Run {
        code: status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: read(out),
        stderr: read(err),
        wall,
    };
    (run, usage)
}

/// `VmHWM` of process `pid`, KiB.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of process `pid`, all its threads (not its children).
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name's closing parenthesis: fields 3 on; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / USER_HZ))
}

/// The machine's busy CPU time so far (all cores: everything but idle and iowait).
fn machine_busy() -> Duration {
    let stat = fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu = stat.lines().next().expect("the cpu line");
    let fields: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user).
    let busy: u64 = fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    Duration::from_secs_f64(busy as f64 / USER_HZ)
}

fn bash(script: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &format!("set -o pipefail; {script}")]);
    cmd
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[track_caller]
fn ok(run: Run, what: &str) -> Run {
    assert_eq!(run.code, 0, "{what} failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn preflight() {
    let mut missing = Vec::new();
    if !SshHosts::available() {
        missing.push("root with OpenSSH server and client, ssh-keygen, unshare and /run/sshd".to_owned());
    }
    for program in ["mariadb", "mariadb-dump", "zstd", "python3", "bash"] {
        if Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            missing.push(program.to_owned());
        }
    }
    let server = Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-u", "root", "-e", "SELECT 1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !server.is_ok_and(|s| s.success()) {
        missing.push("a MariaDB server at 127.0.0.1:3306 that root reaches without a password".to_owned());
    }
    if !missing.is_empty() {
        eprintln!("vs_mysqldump: cannot run; missing: {}", missing.join(", "));
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
            "vs_mysqldump: no cutover binary at {}; run `cargo build --release -p cutover` or set CUTOVER_BIN",
            bin.display()
        );
        std::process::exit(1);
    }
    bin
}
