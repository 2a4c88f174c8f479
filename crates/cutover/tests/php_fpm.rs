//! PHP serves the new release at once after a switch, with OPcache on and
//! `opcache.validate_timestamps=0` as production runs it: real nginx and real PHP-FPM (Debian's)
//! serving a deploy's `current`. With the presets' nginx lines (`$realpath_root`) every worker
//! sees a switch at once; through the symlink (`$document_root`) the old release is served on,
//! which the OPcache reset hook the presets print (`Preset::web_server_note`) ends.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cutover_testkit::certs::Ca;
use cutover_testkit::nginx::{Nginx, Site, free_port};
use cutover_testkit::php_fpm::{self, PhpFpm};
use support::cli::Project;

fn available() -> bool {
    support::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
        && support::require("php-fpm", php_fpm::available())
        && support::require("cgi-fcgi", Command::new("cgi-fcgi").arg("-h").output().is_ok())
}

/// A project deploying to this machine; its page says its version and whether OPcache cached it.
struct Served {
    project: Project,
    addr: IpAddr,
    port: u16,
    deploy: std::path::PathBuf,
    _fpm: PhpFpm,
    _nginx: Nginx,
    _certs: tempfile::TempDir,
}

const PAGE: &str = "<?php\n$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;\n\
                    echo 'VERSION ', ($s && $s['opcache_enabled']) ? 'opcache' : 'no-opcache', \"\\n\";\n";

fn serve(realpath: bool, workers: u32, hooks: &str) -> Served {
    serve_as(realpath, workers, hooks, None)
}

/// With `user`: PHP-FPM's workers and socket are that user's, and so are the project and the
/// deploy path, for [`Served::cutover_as`].
fn serve_as(realpath: bool, workers: u32, hooks: &str, user: Option<&str>) -> Served {
    let fpm = match user {
        Some(user) => PhpFpm::start_as(workers, user, "nogroup"),
        None => PhpFpm::start(workers),
    }
    .expect("start php-fpm");
    let deploy = tempfile::Builder::new().prefix("cutover-fpm-app-").tempdir().unwrap().keep().join("app");
    let hooks = hooks.replace("/run/php/php-fpm.sock", &fpm.socket().display().to_string());
    let project = Project::new(&["local".to_owned()], &deploy.display().to_string(), &hooks, 0);
    project.write("app/index.php", &PAGE.replace("VERSION", "v1"));
    let addr = IpAddr::V4(cutover_testkit::loopback_addr());
    let port = free_port(addr);
    let certs = tempfile::tempdir().unwrap();
    let files = Ca::new("fpm test CA").issue(&["shop.fpm.test"]).write(certs.path(), "shop");
    let site = Site::new(addr, port, &["shop.fpm.test"], &files.chain, &files.key)
        .root(&deploy.join("current"))
        .php(&fpm.socket(), realpath);
    let nginx = Nginx::start(&[site]).expect("start nginx");
    if let Some(user) = user {
        for dir in [project.path(), deploy.parent().unwrap()] {
            run(Command::new("chown").args(["-R", &format!("{user}:nogroup")]).arg(dir));
        }
    }
    Served { project, addr, port, deploy, _fpm: fpm, _nginx: nginx, _certs: certs }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Served {
    fn get(&self) -> String {
        let out = Command::new("curl")
            .args(["-sk", "--max-time", "5"])
            .arg(format!("https://{}:{}/", self.addr, self.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn deploy(&self, version: &str) {
        self.project.write("app/index.php", &PAGE.replace("VERSION", version));
        self.project.cutover(&["deploy"]).ok();
    }

    /// `cutover ARGS` as `user`, with no capability left (no root, no sudo); exit 0 expected.
    fn cutover_as(&self, user: &str, args: &[&str]) {
        let home = self.project.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        run(Command::new("chown").arg(user).arg(&home));
        run(Command::new("setpriv")
            .args(["--reuid", user, "--regid", "nogroup", "--clear-groups", "--inh-caps=-all", "--"])
            .arg(support::cli::bin())
            .args(args)
            .current_dir(self.project.path())
            .env("HOME", &home)
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV"));
    }

    /// The page every request gives within `within` (asked several times: any worker).
    fn serves_within(&self, want: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            // A run of answers, all right: each worker has the new release.
            let answers: Vec<String> = (0..6).map(|_| self.get()).collect();
            if answers.iter().all(|a| a == want) {
                return Ok(());
            }
            last = answers.join(" | ");
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(last)
    }
}

#[test]
fn with_realpath_root_every_worker_serves_the_new_release_within_a_second_of_the_switch() {
    if !available() {
        return;
    }
    let served = serve(true, 3, "");
    served.project.cutover(&["deploy"]).ok();
    served.serves_within("v1 opcache", Duration::from_secs(5)).unwrap();
    for version in ["v2", "v3"] {
        served.deploy(version);
        let want = format!("{version} opcache");
        served.serves_within(&want, Duration::from_secs(1)).unwrap_or_else(|got| panic!("{want} not served: {got}"));
    }
}

#[test]
fn through_the_symlink_the_old_release_is_served_until_the_opcache_reset_hook_runs() {
    if !available() {
        return;
    }
    // Without the hook: OPcache (no timestamp checks) and the realpath cache keep v1.
    let served = serve(false, 1, "");
    served.project.cutover(&["deploy"]).ok();
    served.serves_within("v1 opcache", Duration::from_secs(5)).unwrap();
    served.deploy("v2");
    assert!(
        served.serves_within("v2 opcache", Duration::from_secs(2)).is_err(),
        "v2 was served at once through the symlink: this test would not see a stale release"
    );
    drop(served);

    // With the hook the preset prints, as the deploy user, through PHP-FPM's socket.
    let note = cutover_config::Preset::Wordpress.web_server_note().unwrap();
    assert!(note.contains(cutover_config::OPCACHE_RESET), "{note}");
    let hooks = format!("[hooks]\nafter_switch = ['''{}''']\n", cutover_config::OPCACHE_RESET);
    let served = serve(false, 1, &hooks);
    served.project.cutover(&["deploy"]).ok();
    served.serves_within("v1 opcache", Duration::from_secs(5)).unwrap();
    served.deploy("v2");
    served.serves_within("v2 opcache", Duration::from_secs(1)).unwrap_or_else(|got| panic!("v2 not served: {got}"));
}

/// As the deploy user (here `nobody`: no root, no sudo, no capability): cutover deploys, its
/// OPcache reset hook reaches PHP-FPM's socket, and the new release is served within a second,
/// through the symlink with the hook and with `$realpath_root` without it; the workers run as
/// that user and the release is that user's.
#[test]
fn as_a_deploy_user_without_root_the_new_release_is_served_at_once() {
    if !available() || !support::require("setpriv", Command::new("setpriv").arg("--version").output().is_ok()) {
        return;
    }
    let user = "nobody";
    let hooks = format!("[hooks]\nafter_switch = ['''{}''']\n", cutover_config::OPCACHE_RESET);
    for (realpath, workers, hooks) in [(false, 1, hooks.as_str()), (true, 3, "")] {
        let served = serve_as(realpath, workers, hooks, Some(user));
        served.cutover_as(user, &["deploy"]);
        served.serves_within("v1 opcache", Duration::from_secs(5)).unwrap();
        for version in ["v2", "v3"] {
            served.project.write("app/index.php", &PAGE.replace("VERSION", version));
            run(Command::new("chown").arg(user).arg(served.project.path().join("app/index.php")));
            served.cutover_as(user, &["deploy"]);
            let want = format!("{version} opcache");
            served
                .serves_within(&want, Duration::from_secs(1))
                .unwrap_or_else(|got| panic!("realpath {realpath}: {want} not served: {got}"));
        }
        let current = std::fs::canonicalize(served.deploy.join("current")).unwrap();
        let owner = run(Command::new("stat").args(["-c", "%U"]).arg(current.join("index.php")));
        assert_eq!(owner.trim(), user, "the release is the deploy user's");
        let workers = run(Command::new("ps").args(["-o", "user=", "--ppid", &served._fpm.pid().to_string()]));
        assert!(!workers.trim().is_empty() && workers.lines().all(|w| w.trim() == user), "workers: {workers}");
    }
}
