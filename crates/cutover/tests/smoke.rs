//! Stages 4 and 5 end to end: two real SSH hosts, each served by a real nginx on the host's own
//! address from its `current` release over HTTPS (a release without `index.html` answers 500),
//! the public name resolving to the first host through `/etc/hosts` in a mount namespace of the
//! binary's own. Smoke after deploy with automatic rollback, `cutover smoke`, and the monitor:
//! breach → rollback, resume after a kill, a dead network that never rolls back, notifications
//! to a real webhook receiver and a real SMTP sink.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutover_testkit::certs::Ca;
use cutover_testkit::nginx::{Nginx, Site, free_port};
use support::cli::{Project, Run, current};
use support::hosts::SshHosts;

const NAME: &str = "shop.smoke.test";

fn available() -> bool {
    support::require("python3 (webhook receiver)", cutover_testkit::webhook::available())
        && support::require("aiosmtpd (SMTP sink)", cutover_testkit::smtp::available())
        && support::require("sshd", SshHosts::available())
        && support::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
        && support::require("unshare", cutover_testkit::on_path("unshare"))
}

struct Launch {
    hosts: SshHosts,
    project: Project,
    _nginx: Nginx,
}

impl Launch {
    /// Two hosts, nginx for each, and a project whose checks are `extra_checks` (TOML) plus a
    /// `home` check on every host; `monitor` is the `[monitor]` section's body.
    fn start(monitor: &str) -> Launch {
        Launch::start_with(monitor, None)
    }

    /// [`Launch::start`], nginx passing `*.php` (and `/` through `index.php`) to the PHP-FPM at
    /// `php` (a socket) with `$realpath_root`, when given.
    fn start_with(monitor: &str, php: Option<&Path>) -> Launch {
        let hosts = SshHosts::start(2);
        let ca = Ca::new("smoke test root");
        let dir = hosts.dir().join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        let files = ca.issue(&[NAME]).write(&dir, "site");
        let port = free_port(IpAddr::V4(hosts.addr(1)));
        let sites: Vec<Site> = (1..=2)
            .map(|i| {
                let site = Site::new(IpAddr::V4(hosts.addr(i)), port, &[NAME], &files.chain, &files.key)
                    .root(&hosts.root(i).join("app/current"));
                match php {
                    Some(socket) => site.php(socket, true),
                    None => site,
                }
            })
            .collect();
        let nginx = Nginx::start(&sites).expect("start nginx");
        let ssh = format!(
            "[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n[tls]\nextra_ca = \"ca.pem\"\n\
             [[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = \"v\"\nevery_host = true\ntimeout = \"3s\"\n\
             [monitor]\n{monitor}\n",
            hosts.config_path().display()
        );
        let project = Project::new(&hosts.aliases(), SshHosts::DEPLOY_PATH, &ssh, 3);
        std::fs::write(project.path().join("ca.pem"), ca.cert_pem()).unwrap();
        let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
        project.write("cutover.toml", &format!("{toml}url = \"https://{NAME}:{port}\"\n"));
        project.write("hosts", &format!("127.0.0.1 localhost\n{} {NAME}\n", hosts.addr(1)));
        Launch { hosts, project, _nginx: nginx }
    }

    /// The binary with `/etc/hosts` from the project, in a mount namespace of its own.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "sh", "-c", "mount --bind hosts /etc/hosts && exec \"$0\" \"$@\""])
            .arg(support::cli::bin())
            .args(args)
            .current_dir(self.project.path())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV");
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).stdin(Stdio::null()).output().expect("run cutover");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn spawn(&self, args: &[&str], log: &str) -> Child {
        let out = std::fs::File::create(self.project.path().join(format!("{log}.out"))).unwrap();
        let err = std::fs::File::create(self.project.path().join(format!("{log}.err"))).unwrap();
        self.command(args).stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("spawn cutover")
    }

    fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.project.path().join(format!("{log}.err"))).unwrap_or_default()
    }

    fn deploy_dir(&self, i: usize) -> PathBuf {
        self.hosts.deploy_dir(i)
    }

    /// Breaks the live release on host `i` in place: it answers 500 from now on.
    fn break_host(&self, i: usize) {
        std::fs::remove_file(self.deploy_dir(i).join("current/index.html")).unwrap();
    }
}

/// Routes to `addrs` that fail at once with "no route to host", as when this machine's network
/// is down (the addresses are the test's own; removed on drop).
struct Unreachable(Vec<std::net::Ipv4Addr>);

impl Unreachable {
    fn new(addrs: Vec<std::net::Ipv4Addr>) -> Self {
        for a in &addrs {
            let ok = Command::new("ip")
                .args(["route", "add", "unreachable", &format!("{a}/32"), "table", "local"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot add an unreachable route for {a}");
        }
        Self(addrs)
    }
}

impl Drop for Unreachable {
    fn drop(&mut self) {
        for a in &self.0 {
            let _ =
                Command::new("ip").args(["route", "del", "unreachable", &format!("{a}/32"), "table", "local"]).status();
        }
    }
}

fn release_of(run: &Run) -> String {
    run.json()["release"].as_str().expect("release id").to_owned()
}

fn wait(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(start.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the monitor spawned with log `log` has reported `n` rounds (its `round N:` lines),
/// so a test acts at a known point of the window.
fn wait_for_rounds(launch: &Launch, log: &str, n: usize, limit: Duration) {
    let rounds = || launch.log(log).lines().filter(|l| l.starts_with("round ")).count();
    support::wait_for(MonitorLog { launch, log, n }, limit, || rounds() >= n);
}

/// What a monitor had said when a wait for its rounds ran out.
struct MonitorLog<'a> {
    launch: &'a Launch,
    log: &'a str,
    n: usize,
}

impl std::fmt::Display for MonitorLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rounds of the monitor, which said:\n{}", self.n, self.launch.log(self.log))
    }
}

#[test]
fn a_release_that_answers_500_is_rolled_back_by_the_deploy_and_smoke_reports_per_host() {
    if !available() {
        return;
    }
    let launch = Launch::start("");
    let run = launch.run(&["--json", "deploy"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("smoke checks on"), "{}", run.stderr);
    let r1 = release_of(&run);

    // `cutover smoke`: the public URL and each host directly.
    let smoke = launch.run(&["smoke"]).ok();
    for via in ["public", "h1", "h2"] {
        assert!(
            smoke.stdout.lines().any(|l| l.starts_with("home") && l.contains(via) && l.contains("PASS")),
            "{}",
            smoke.stdout
        );
    }
    let json = launch.run(&["--json", "smoke"]).ok().json();
    assert_eq!(json["samples"].as_array().unwrap().len(), 3, "{json:#}");

    // v2 has no index.html: nginx answers 500 once it is live; the deploy rolls back (exit 5).
    std::fs::remove_file(launch.project.path().join("app/index.html")).unwrap();
    let run = launch.run(&["deploy"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("failed its checks after the switch"), "{}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i} is back on r1");
    }
    let releases = launch.run(&["--json", "releases"]).ok().json();
    let failed = releases.as_array().unwrap().iter().find(|r| r["id"] != r1.as_str()).expect("the failed release");
    assert!(failed["hosts"].as_object().unwrap().values().all(|s| s == "failed"), "{releases:#}");
    launch.run(&["smoke"]).ok();
}

/// Issue 11, point 5: a server's words cannot make the automatic rollback fail. Three checks
/// each end on a redirect whose `Location` is 60 KB (once 180 KB of reason, which took the
/// switch-back script past the kernel's argument limit: "could not be undone", exit 4, the
/// broken release left live). Now the release is rolled back (exit 5), every reason is cut
/// where it is made and where it is stored.
#[test]
fn a_check_failing_with_a_60_kb_answer_still_rolls_back_and_its_reason_is_cut() {
    if !available() {
        return;
    }
    use cutover_testkit::http_app::{App, Reply};
    let launch = Launch::start("");
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());

    let location = format!("/loop?{}", "a".repeat(60_000));
    let app =
        App::new().route("/loop", Reply::redirect(302, &location)).start_on(IpAddr::V4(launch.hosts.addr(1))).unwrap();
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let checks: String = (1..=3)
        .map(|i| format!("\n[[check]]\nname = \"loop{i}\"\nurl = \"{}\"\ntimeout = \"5s\"\n", app.url("/loop")))
        .collect();
    launch.project.write("cutover.toml", &format!("{toml}{checks}"));
    launch.project.write("app/index.html", "v2\n");
    let run = launch.run(&["deploy"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, &run.stderr[..run.stderr.len().min(4000)]);
    assert!(run.stderr.contains("more than 5 redirects"), "{}", &run.stderr[..run.stderr.len().min(4000)]);
    assert!(run.stderr.len() < 20_000, "the reasons were not cut: {} bytes of stderr", run.stderr.len());
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i} is back on r1");
        let journal = std::fs::read_to_string(launch.deploy_dir(i).join(".cutover/journal.jsonl")).unwrap();
        let longest = journal.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < 4_000, "host {i}: a journal line of {longest} bytes");
        assert!(journal.contains("more than 5 redirects"), "host {i}: the reason is journaled:\n{journal}");
    }
    let releases = launch.run(&["--json", "releases"]).ok().json();
    let failed = releases.as_array().unwrap().iter().find(|r| r["id"] != r1.as_str()).expect("the failed release");
    assert!(failed["hosts"].as_object().unwrap().values().all(|s| s == "failed"), "{releases:#}");
}

/// Issue 14: a release whose PHP page dies after 4 KB of output (a 200 cut short, no error text,
/// `display_errors` off) passed a status check; with `complete = true` the deploy's own check
/// after the switch sees it and rolls every host back (exit 5), saying where the page ends.
/// Served as in production: nginx on each host passing PHP to a real PHP-FPM (Debian's, with
/// its production php.ini, OPcache on) with `$realpath_root`, checked through the public URL
/// and each host.
#[test]
fn a_php_page_cut_short_after_the_switch_is_rolled_back_by_the_deploy() {
    use cutover_testkit::php::{CUT_SHORT, WHOLE};
    use cutover_testkit::php_fpm::{self, PhpFpm};
    if !available() || !support::require("php-fpm", php_fpm::available()) {
        return;
    }
    let fpm = PhpFpm::start(2).expect("start php-fpm");
    let launch = Launch::start_with("", Some(&fpm.socket()));
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let check = "\n[[check]]\nname = \"shop\"\nurl = \"/\"\nbody_not_contains = [\"Fatal error\"]\ncomplete = true\n\
                 every_host = true\ntimeout = \"5s\"\n";
    launch.project.write("cutover.toml", &format!("{toml}{check}"));
    launch.project.write("app/index.php", WHOLE);
    let run = launch.run(&["--json", "deploy"]);
    assert_eq!(run.code, 0, "{}\n{}\n{}", run.stdout, run.stderr, fpm.error_log());
    let r1 = release_of(&run);

    // v2's footer calls a function that does not exist: 200, the page stops after ~5 KB.
    launch.project.write("app/index.php", CUT_SHORT);
    let run = launch.run(&["deploy"]);
    assert_eq!(run.code, 5, "{}\n{}\n{}", run.stdout, run.stderr, fpm.error_log());
    assert!(run.stderr.contains("failed its checks after the switch"), "{}", run.stderr);
    assert!(run.stderr.contains("without </html>: cut short"), "{}", run.stderr);
    assert!(!run.stderr.contains("body contains"), "no error text was sent: {}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i} is back on r1");
        let journal = std::fs::read_to_string(launch.deploy_dir(i).join(".cutover/journal.jsonl")).unwrap();
        assert!(journal.contains("cut short"), "host {i}: the reason is journaled:\n{journal}");
    }
    let log = fpm.error_log();
    assert!(log.contains("Call to undefined function"), "the fatal error went to PHP-FPM's log:\n{log}");
    // Back on r1, the page is whole again on every host and `cutover smoke` passes.
    let smoke = launch.run(&["smoke"]).ok();
    for via in ["public", "h1", "h2"] {
        assert!(
            smoke.stdout.lines().any(|l| l.starts_with("shop") && l.contains(via) && l.contains("PASS")),
            "{}",
            smoke.stdout
        );
    }
}

/// The monitor judges a page by the same conditions: a live release whose PHP page starts dying
/// halfway through (a 200 cut short once a flag file appears, as when a dependency goes away)
/// is a breach, and the monitor rolls back (exit 5), saying where the page ends.
#[test]
fn the_monitor_rolls_back_a_php_page_that_starts_being_cut_short() {
    use cutover_testkit::php::{CUT_SHORT, WHOLE};
    use cutover_testkit::php_fpm::{self, PhpFpm};
    if !available()
        || !support::require("php-fpm", php_fpm::available())
        || !support::require("sqlite3", cutover_testkit::on_path("sqlite3"))
    {
        return;
    }
    let fpm = PhpFpm::start(2).expect("start php-fpm");
    let launch = Launch::start_with("failure_limit = 1\n", Some(&fpm.socket()));
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let check = "\n[[check]]\nname = \"shop\"\nurl = \"/\"\ncomplete = true\ntimeout = \"5s\"\n";
    launch.project.write("cutover.toml", &format!("{toml}{check}"));
    launch.project.write("app/index.php", WHOLE);
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    let flag = launch.project.path().join("break-the-footer");
    let flaky =
        CUT_SHORT.replace("theme_footer();", &format!("if (file_exists('{}')) {{ theme_footer(); }}", flag.display()));
    assert_ne!(flaky, CUT_SHORT);
    launch.project.write("app/index.php", &flaky);
    let r2 = release_of(&launch.run(&["--json", "deploy"]).ok());
    let mut monitor = launch.spawn(&["monitor", "--window", "20s", "--interval", "500ms"], "monitor");
    wait_for_rounds(&launch, "monitor", 3, Duration::from_secs(15));
    std::fs::write(&flag, "").unwrap();
    let code = wait(&mut monitor, Duration::from_secs(20));
    let log = launch.log("monitor");
    assert_eq!(code, 5, "{log}");
    assert!(log.contains("breach") && log.contains("rolled back"), "{log}");
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
    }
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["release"], r2.as_str(), "{status:#}");
    // Each failed round's samples keep the reason: the page's end, as the deploy's checks say it.
    let reasons = Command::new("sqlite3")
        .arg(launch.project.path().join(".cutover/state.db"))
        .arg("SELECT DISTINCT reason FROM monitor_samples WHERE check_name = 'shop' AND ok = 0")
        .output()
        .expect("run sqlite3");
    let reasons = String::from_utf8_lossy(&reasons.stdout);
    assert!(
        !reasons.is_empty()
            && reasons.lines().all(|r| r.starts_with("the page ends at byte ") && r.ends_with(": cut short")),
        "{reasons}"
    );
}

#[test]
fn smoke_fails_with_exit_1_and_rolls_back_only_when_asked() {
    if !available() {
        return;
    }
    let launch = Launch::start("");
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.project.write("app/index.html", "v2\n");
    let r2 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.break_host(2);
    let run = launch.run(&["smoke"]).code(1);
    assert!(run.stdout.lines().any(|l| l.contains("h2") && l.contains("FAIL") && l.contains("500")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.contains("h1") && l.contains("PASS")), "{}", run.stdout);
    assert_eq!(current(&launch.deploy_dir(2)).as_deref(), Some(r2.as_str()), "no rollback without the flag");
    launch.run(&["smoke", "--rollback-on-fail"]).code(5);
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()));
    }
}

#[test]
fn the_monitor_rolls_back_when_the_site_starts_failing_halfway() {
    if !available() {
        return;
    }
    let hook = cutover_testkit::webhook::Receiver::start().unwrap();
    let slack = cutover_testkit::webhook::Receiver::start().unwrap();
    let launch = Launch::start(&format!(
        "failure_limit = 1\nnotify = [\"webhook:{}\", \"slack:{}\"]\n",
        hook.url("/cutover"),
        slack.url("/services/T000/B000/secret-token")
    ));
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.project.write("app/index.html", "v2\n");
    let r2 = release_of(&launch.run(&["--json", "deploy"]).ok());
    let mut monitor = launch.spawn(&["monitor", "--window", "20s", "--interval", "500ms"], "monitor");
    // Halfway: the site fails once the monitor has seen it healthy.
    wait_for_rounds(&launch, "monitor", 3, Duration::from_secs(15));
    launch.break_host(1);
    let code = wait(&mut monitor, Duration::from_secs(20));
    let log = launch.log("monitor");
    assert_eq!(code, 5, "{log}");
    assert!(log.contains("breach") && log.contains("rolled back"), "{log}");
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i}");
    }
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["state"], "rolled_back", "{status:#}");
    assert_eq!(status["monitor"]["release"], r2.as_str());
    // The breach and the rollback, to both receivers, as they arrived over HTTP.
    let events: Vec<String> = hook
        .wait_for(2, Duration::from_secs(10))
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(events, ["breach", "rolled_back"], "{:?}", hook.requests());
    assert!(hook.requests()[1].json()["release"] == r2.as_str());
    let texts: Vec<String> =
        slack.wait_for(2, Duration::from_secs(10)).iter().map(|r| r.json()["text"].to_string()).collect();
    assert!(texts[1].contains("rolled back"), "{texts:?}");
    assert!(!log.contains("secret-token"), "a webhook's token is never printed: {log}");
}

#[test]
fn a_restarted_monitor_resumes_its_window_and_passes() {
    if !available() {
        return;
    }
    let sink = cutover_testkit::smtp::Sink::start().unwrap();
    let launch = Launch::start("notify = [\"mailto:ops@shop.smoke.test\"]\n");
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let smtp = format!(
        "[smtp]\nhost = \"{}\"\nport = {}\nfrom = \"cutover@shop.smoke.test\"\ntls = \"none\"\n",
        sink.addr().ip(),
        sink.addr().port()
    );
    launch.project.write("cutover.toml", &toml.replace("[monitor]\n", &format!("{smtp}[monitor]\n")));
    launch.run(&["deploy"]).ok();
    let mut first = launch.spawn(&["monitor", "--window", "5s", "--interval", "500ms"], "first");
    wait_for_rounds(&launch, "first", 3, Duration::from_secs(4));
    // One monitor per environment: a second one is refused while the first samples.
    launch.run(&["monitor", "--window", "5s", "--interval", "500ms"]).code(3).stderr_has("already watching");
    first.kill().unwrap();
    first.wait().unwrap();
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["state"], "running", "{status:#}");
    let id = status["monitor"]["id"].clone();
    let started = status["monitor"]["started_ms"].clone();

    let run = launch.run(&["--json", "monitor", "--window", "5s", "--interval", "500ms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("resuming the monitor"), "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["monitor"]["state"], "passed", "{summary:#}");
    assert!(summary["rounds"]["rounds"].as_i64().unwrap() >= 8, "both runs' rounds count: {summary:#}");
    assert!(run.stderr.contains("passed its window"), "{}", run.stderr);
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!((status["monitor"]["id"].clone(), status["monitor"]["started_ms"].clone()), (id, started));
    assert_eq!(status["monitor"]["state"], "passed");
    let db = cutover_state::State::open(launch.project.path()).unwrap();
    let gate = db.latest_gate("monitor", "production").unwrap().expect("steady state recorded");
    assert!(gate.passed);
    // The window's end, by mail through a real SMTP server.
    let mail = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(mail[0].envelope_to, ["ops@shop.smoke.test"]);
    assert!(mail[0].subject.contains("production") && mail[0].body.contains("steady state"), "{:?}", mail[0]);
}

#[test]
fn a_dead_network_pauses_the_verdict_and_never_rolls_back() {
    if !available() {
        return;
    }
    let launch = Launch::start("consecutive_errors = 2\nfailure_limit = 0\n");
    launch.run(&["deploy"]).ok();
    launch.project.write("app/index.html", "v2\n");
    let run = launch.run(&["--json", "deploy"]).ok();
    let r2 = release_of(&run);
    // This machine loses its network: every check on every target fails to get out. (The
    // monitor reads the current release over SSH first, then the routes go.)
    let mut monitor = launch.spawn(&["monitor", "--window", "4s", "--interval", "500ms"], "monitor");
    wait_for_rounds(&launch, "monitor", 1, Duration::from_secs(3));
    let _down = Unreachable::new(vec![launch.hosts.addr(1), launch.hosts.addr(2)]);
    let code = wait(&mut monitor, Duration::from_secs(20));
    let run = Run { code, stdout: String::new(), stderr: launch.log("monitor") };
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("network down"), "{}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r2.as_str()), "no rollback on host {i}");
    }
}

#[test]
fn a_crossed_threshold_rolls_back_once_enough_samples_are_in() {
    if !available() {
        return;
    }
    // Failed rounds alone would never roll back (limit 100): the error rate does, from 6 samples.
    let launch =
        Launch::start("failure_limit = 100\nmin_samples = 6\nthresholds = { http_req_failed = \"rate<0.5\" }\n");
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.project.write("app/index.html", "v2\n");
    launch.run(&["deploy"]).ok();
    launch.break_host(1);
    launch.break_host(2);
    let run = launch.run(&["monitor", "--window", "20s", "--interval", "300ms"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("threshold crossed") && run.stderr.contains("http_req_failed"), "{}", run.stderr);
    for i in 1..=2 {
        assert_eq!(current(&launch.deploy_dir(i)).as_deref(), Some(r1.as_str()));
    }
}

#[test]
fn a_deploy_whose_checks_cannot_leave_this_machine_stays_live_and_says_so() {
    if !available() {
        return;
    }
    let launch = Launch::start("");
    // SSH over 127.0.0.1 (sshd listens there too); the checks go to the public name only, which
    // resolves to host 1's own address.
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let hosts = format!(
        "hosts = [\"ssh://root@127.0.0.1:{}\", \"ssh://root@127.0.0.1:{}\"]",
        launch.hosts.port(1),
        launch.hosts.port(2)
    );
    let toml = toml.replace("hosts = [\"h1\", \"h2\"]", &hosts).replace("every_host = true", "every_host = false");
    launch.project.write("cutover.toml", &toml);
    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.project.write("app/index.html", "v2\n");
    let _down = Unreachable::new(vec![launch.hosts.addr(1)]);
    let run = launch.run(&["deploy"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("could not reach anything from this machine"), "{}", run.stderr);
    let live = current(&launch.deploy_dir(1)).unwrap();
    assert_ne!(live, r1, "not rolled back: nothing says the release is bad");
    assert_eq!(current(&launch.deploy_dir(2)).unwrap(), live);
}

/// Issue 11, first point: other commands in a second terminal while the monitor runs. Each
/// process has one connection to `state.db` and nothing else opens the file, so no process drops
/// another's locks: the monitor's rounds stay visible to other processes (they stalled, the WAL
/// deleted under the monitor, before), the file stays sound, and the window passes.
#[test]
fn twenty_commands_beside_a_running_monitor_leave_the_state_database_sound() {
    if !available() || !support::require("sqlite3", cutover_testkit::on_path("sqlite3")) {
        return;
    }
    let launch = Launch::start("");
    launch.run(&["deploy"]).ok();
    let mut monitor = launch.spawn(&["monitor", "--window", "12s", "--interval", "300ms"], "monitor");
    wait_for_rounds(&launch, "monitor", 2, Duration::from_secs(10));
    let commands: [&[&str]; 5] = [&["status"], &["--json", "status"], &["log"], &["releases"], &["--json", "smoke"]];
    for args in commands.iter().cycle().take(20) {
        launch.run(args).ok();
    }
    // What another process reads keeps up with what the monitor says it did.
    let printed = launch.log("monitor").lines().filter(|l| l.starts_with("round ")).count() as i64;
    let recorded = || {
        let db = cutover_state::State::open(launch.project.path()).unwrap();
        let monitor = db.latest_monitor("production").unwrap().expect("the running monitor");
        db.round_stats(monitor.id).unwrap().rounds
    };
    support::wait_for(
        format!("state.db to show the {printed} rounds the monitor printed"),
        Duration::from_secs(5),
        || recorded() >= printed,
    );
    let code = wait(&mut monitor, Duration::from_secs(30));
    assert_eq!(code, 0, "{}", launch.log("monitor"));
    let check = Command::new("sqlite3")
        .arg(launch.project.path().join(".cutover/state.db"))
        .arg("pragma integrity_check")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&check.stderr));
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["state"], "passed", "{status:#}");
    let log = launch.run(&["--json", "log", "--limit", "100"]).ok().json();
    // deploy, monitor, the 16 of the 20 that are audited (`log` is not), the last status.
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 19, "every audited command is in the audit log: {log:#}");
    assert!(entries.iter().all(|e| e["exit_code"] == 0), "{log:#}");
}

/// Waits for `child` with a deadline; a process ended by a signal gives minus its number (never
/// 130, which cutover must say itself).
fn exit_code_within(child: &mut Child, limit: Duration) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or_else(|| -status.signal().unwrap_or(0));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 11, point 3: SIGINT while the deploy's checks run (the release answers 500, so they
/// are retrying): the checks stop, the release stays live and is journaled `interrupted`, and
/// `status` and `releases` show it as interrupted, not plainly live; the lock is given back.
#[test]
fn a_deploy_interrupted_during_its_checks_is_live_but_not_plainly_live() {
    if !available() {
        return;
    }
    let launch = Launch::start("");
    launch.run(&["deploy"]).ok();
    // v2 has no index.html: it answers 500, so the checks retry (a second apart).
    std::fs::remove_file(launch.project.path().join("app/index.html")).unwrap();
    let mut deploy = launch.spawn(&["deploy"], "deploy");
    support::wait_for("the deploy's checks", Duration::from_secs(30), || {
        launch.log("deploy").contains("smoke checks on")
    });
    rustix::process::kill_process(rustix::process::Pid::from_child(&deploy), rustix::process::Signal::INT).unwrap();
    let code = exit_code_within(&mut deploy, Duration::from_secs(30));
    let log = launch.log("deploy");
    assert_eq!(code, 130, "{log}");
    assert!(
        log.contains("interrupted by SIGINT") && log.contains("its checks were stopped before they ended"),
        "{log}"
    );
    let r2 = current(&launch.deploy_dir(1)).expect("a release is live");
    assert_eq!(current(&launch.deploy_dir(2)).as_deref(), Some(r2.as_str()), "one release on every host");
    let status = launch.run(&["status"]).ok();
    assert!(
        status.stdout.contains(&format!("current {r2} (interrupted: cutover deploy interrupted by SIGINT")),
        "{}",
        status.stdout
    );
    let json = launch.run(&["--json", "status"]).ok().json();
    assert!(json["hosts"].as_array().unwrap().iter().all(|h| h["interrupted"].is_string()), "{json:#}");
    let releases = launch.run(&["--json", "releases"]).ok().json();
    let row = releases.as_array().unwrap().iter().find(|r| r["id"] == r2.as_str()).expect("r2's row");
    assert!(row["hosts"].as_object().unwrap().values().all(|s| s == "live_interrupted"), "{releases:#}");
    for i in 1..=2 {
        assert!(!launch.deploy_dir(i).join(".cutover/lock").exists(), "h{i} still locked");
    }
    // A release that answers again, deployed with no unlock, is plainly live.
    launch.project.write("app/index.html", "v3\n");
    launch.run(&["deploy"]).ok();
    let json = launch.run(&["--json", "status"]).ok().json();
    assert!(json["hosts"].as_array().unwrap().iter().all(|h| h.get("interrupted").is_none()), "{json:#}");
}

/// Issue 11, point 3: SIGINT between rounds ends the monitor at once (exit 130), its window
/// recorded as interrupted, not passed; started again, it resumes that window.
#[test]
fn an_interrupted_monitor_exits_130_at_once_and_its_window_is_not_passed() {
    if !available() {
        return;
    }
    let launch = Launch::start("");
    launch.run(&["deploy"]).ok();
    let mut monitor = launch.spawn(&["monitor", "--window", "8s", "--interval", "4s"], "monitor");
    wait_for_rounds(&launch, "monitor", 1, Duration::from_secs(10));
    let signalled = Instant::now();
    rustix::process::kill_process(rustix::process::Pid::from_child(&monitor), rustix::process::Signal::INT).unwrap();
    let code = exit_code_within(&mut monitor, Duration::from_secs(10));
    let log = launch.log("monitor");
    assert_eq!(code, 130, "{log}");
    assert!(signalled.elapsed() < Duration::from_secs(2), "took {:?} to stop", signalled.elapsed());
    assert!(log.contains("recorded as interrupted, not passed"), "{log}");
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["state"], "interrupted", "{status:#}");
    let db = cutover_state::State::open(launch.project.path()).unwrap();
    assert!(db.latest_gate("monitor", "production").unwrap().is_none(), "no steady state recorded");
    drop(db);
    let run = launch.run(&["monitor", "--window", "8s", "--interval", "1s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("resuming the monitor"), "{}", run.stderr);
    let status = launch.run(&["--json", "status"]).ok().json();
    assert_eq!(status["monitor"]["state"], "passed", "{status:#}");
}
