//! `cutover report` after a real launch: two real SSH hosts served by a real nginx (as in
//! smoke.rs), secrets set and rotated in the vault, a path chosen, an attestation, three
//! deploys, a rollback by hand, a smoke run, a monitor window that passes and one that breaches
//! and rolls back. The report (summary, `--json`, HTML) must show all of it and no secret
//! value; the HTML page is opened in headless Chromium, its screenshot decoded and its DOM
//! read back. `[report] notify` sends it with the "window passed" mail and webhook; a seeded
//! first release, forced gates and the db host's snapshots (SQLite) show in their sections.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cutover_testkit::certs::Ca;
use cutover_testkit::nginx::{Nginx, Site, free_port};
use support::cli::{Run, current};
use support::hosts::SshHosts;

const NAME: &str = "shop.report.test";
/// Values no other text in the run contains: found in a report, they leaked.
const DB_PASSWORD: &str = "Pw-report-5e1c0a9b77";

fn available() -> bool {
    support::require("sshd", SshHosts::available())
        && support::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
        && support::require("unshare", cutover_testkit::on_path("unshare"))
}

struct Launch {
    hosts: SshHosts,
    project: support::cli::Project,
    identity: PathBuf,
    _nginx: Nginx,
}

impl Launch {
    fn start() -> Launch {
        let hosts = SshHosts::start(2);
        let ca = Ca::new("report test root");
        let dir = hosts.dir().join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        let files = ca.issue(&[NAME]).write(&dir, "site");
        let port = free_port(IpAddr::V4(hosts.addr(1)));
        let sites: Vec<Site> = (1..=2)
            .map(|i| {
                Site::new(IpAddr::V4(hosts.addr(i)), port, &[NAME], &files.chain, &files.key)
                    .root(&hosts.root(i).join("app/current"))
            })
            .collect();
        let nginx = Nginx::start(&sites).expect("start nginx");
        let extra = format!(
            "[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n[tls]\nextra_ca = \"ca.pem\"\n\
             [secrets]\ngenerate = {{ API_TOKEN = \"hex:32\" }}\n\
             [[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = \"v\"\nevery_host = true\ntimeout = \"3s\"\n\
             [monitor]\nfailure_limit = 1\nthresholds = {{ http_req_duration = \"p(95)<800\", http_req_failed = \"rate<0.5\" }}\n",
            hosts.config_path().display()
        );
        let project = support::cli::Project::new(&hosts.aliases(), SshHosts::DEPLOY_PATH, &extra, 3);
        std::fs::write(project.path().join("ca.pem"), ca.cert_pem()).unwrap();
        let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
        project.write(
            "cutover.toml",
            &format!("{toml}url = \"https://{NAME}:{port}\"\nenv_template = \".env.production.template\"\n"),
        );
        project.write(
            ".env.production.template",
            "DB_PASSWORD=\"${secret:DB_PASSWORD}\"\nAPI_TOKEN=${secret:API_TOKEN}\n",
        );
        project.write("hosts", &format!("127.0.0.1 localhost\n{} {NAME}\n", hosts.addr(1)));
        let identity = project.path().join("keys/age.key");
        Launch { hosts, project, identity, _nginx: nginx }
    }

    /// The binary with `/etc/hosts` from the project, in a mount namespace of its own.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "sh", "-c", "mount --bind hosts /etc/hosts && exec \"$0\" \"$@\""])
            .arg(support::cli::bin())
            .args(args)
            .current_dir(self.project.path())
            .env("CUTOVER_AGE_IDENTITY", &self.identity)
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV");
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_input(args, "")
    }

    fn run_input(&self, args: &[&str], input: &str) -> Run {
        support::cli::run_with_input(&mut self.command(args), input)
    }

    fn spawn(&self, args: &[&str], log: &str) -> Child {
        let err = std::fs::File::create(self.project.path().join(format!("{log}.err"))).unwrap();
        self.command(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(err).spawn().expect("spawn cutover")
    }

    fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.project.path().join(format!("{log}.err"))).unwrap_or_default()
    }
}

fn release_of(run: &Run) -> String {
    run.json()["release"].as_str().expect("release id").to_owned()
}

#[test]
fn a_report_after_deploys_a_rollback_smoke_and_two_monitor_windows_shows_them_all_and_no_secret() {
    if !available() {
        return;
    }
    let launch = Launch::start();
    launch.run_input(&["secrets", "set", "DB_PASSWORD"], &format!("{DB_PASSWORD}\n")).ok();
    launch.run(&["secrets", "rotate", "API_TOKEN"]).ok();
    let shown = launch.run(&["secrets", "get", "API_TOKEN", "--reveal"]).ok().stdout;
    let token = shown.trim().trim_start_matches("API_TOKEN=").to_owned();
    assert!(token.len() >= 32, "a rotated token: {token:?}");
    // Recorded whatever its verdict (there is no staging to compare with).
    let audit = launch.run(&["secrets", "audit"]);
    launch.run(&["path", "fast"]).ok();
    launch.run(&["attest", "rollback-plan", "--by", "Ana", "--note", "runbook v2, page 3"]).ok();

    let r1 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.project.write("app/index.html", "v2\n");
    let r2 = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.run(&["rollback", "--reason", "stakeholder demo asks for v1"]).ok();
    launch.run(&["smoke"]).ok();
    launch.run(&["monitor", "--window", "3s", "--interval", "500ms"]).ok();
    launch.project.write("app/index.html", "v3\n");
    let r3 = release_of(&launch.run(&["--json", "deploy"]).ok());
    // The third release starts failing on both hosts halfway through its window.
    let mut monitor = launch.spawn(&["monitor", "--window", "30s", "--interval", "400ms"], "monitor");
    support::wait_for("3 monitor rounds", Duration::from_secs(20), || {
        launch.log("monitor").lines().filter(|l| l.starts_with("round ")).count() >= 3
    });
    for i in 1..=2 {
        std::fs::remove_file(launch.hosts.deploy_dir(i).join("current/index.html")).unwrap();
    }
    assert_eq!(support::wait_exit(&mut monitor, Duration::from_secs(30)), 5, "{}", launch.log("monitor"));
    for i in 1..=2 {
        assert_eq!(current(&launch.hosts.deploy_dir(i)).as_deref(), Some(r1.as_str()), "host {i} back on r1");
    }

    // --json: the same content as data.
    let report = launch.run(&["--json", "report"]).ok().json();
    assert_eq!(report["env"], "production");
    assert_eq!(report["path"]["current"], "fast");
    let stage = |name: &str| report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == name).unwrap().clone();
    assert_eq!(stage("path")["verdict"], "passed");
    assert_eq!(stage("smoke")["verdict"], "passed");
    assert_eq!(stage("monitor")["verdict"], "failed", "the latest window rolled back: {:#}", report["stages"]);
    assert_eq!(stage("deploy")["verdict"], "passed");
    assert!(stage("deploy")["detail"].as_str().unwrap().contains(&r1), "{:#}", stage("deploy"));
    assert_eq!(stage("preflight")["verdict"], "missing");
    let gates: Vec<(String, bool)> = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["stage"].as_str().unwrap().to_owned(), g["passed"].as_bool().unwrap()))
        .collect();
    assert!(gates.contains(&("smoke".into(), true)) && gates.contains(&("monitor".into(), true)), "{gates:?}");
    let smoke = report["gates"].as_array().unwrap().iter().find(|g| g["stage"] == "smoke").unwrap();
    assert!(smoke["by"].as_str().unwrap().contains('@'), "who ran it, from the audit log: {smoke:#}");
    assert_eq!(smoke["this_config"], true);
    assert!(!smoke["findings"].is_null(), "{smoke:#}");
    assert_eq!(report["attestations"][0]["note"], "runbook v2, page 3");
    assert_eq!(report["hosts"].as_array().unwrap().len(), 2);
    for host in report["hosts"].as_array().unwrap() {
        let kinds: Vec<(&str, &str)> = host["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["release"].as_str().unwrap_or("-")))
            .collect();
        for want in [
            ("deploy", r1.as_str()),
            ("deploy", r2.as_str()),
            ("rolled_back", r2.as_str()),
            ("rollback", r1.as_str()),
            ("deploy", r3.as_str()),
            ("failed", r3.as_str()),
        ] {
            assert!(kinds.contains(&want), "{want:?} on {}: {kinds:?}", host["host"]);
        }
        let reasons: Vec<&str> =
            host["events"].as_array().unwrap().iter().filter_map(|e| e["reason"].as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("stakeholder demo asks for v1")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("monitor breach")), "{reasons:?}");
    }
    let monitors = report["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 2, "{monitors:#?}");
    assert_eq!((monitors[0]["state"].as_str(), monitors[0]["breach"].is_null()), (Some("passed"), true));
    assert_eq!(monitors[1]["state"], "rolled_back");
    assert_eq!(monitors[1]["release"], r3.as_str());
    let breach = &monitors[1]["breach"];
    assert!(breach["why"].as_str().unwrap().contains("failed round"), "{breach:#}");
    let rounds = monitors[1]["rounds"].as_array().unwrap();
    assert!(rounds.len() >= 5, "{rounds:#?}");
    assert_eq!(breach["round"], rounds.last().unwrap()["round"]);
    assert!(rounds[0]["p95_ms"].as_f64().unwrap() > 0.0 && rounds[0]["error_rate"] == 0.0, "{:#}", rounds[0]);
    assert_eq!(rounds.last().unwrap()["error_rate"], 1.0);
    let thresholds: Vec<&str> =
        report["thresholds"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
    assert_eq!(thresholds, ["p(95)<800", "rate<0.5"]);
    let rotated: Vec<&str> =
        report["secrets"]["rotations"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(rotated, ["API_TOKEN"]);
    assert_eq!(report["secrets"]["audit"]["exit_code"], audit.code);
    assert_eq!(report["database"]["configured"], false);

    // The terminal summary.
    let summary = launch.run(&["report"]).ok().stdout;
    for want in [
        "path\tfast",
        "gate smoke\tpassed",
        "gate monitor\tpassed",
        "stage monitor\tfailed",
        "rotated\tAPI_TOKEN",
        "breach\t#",
    ] {
        assert!(summary.contains(want), "summary lacks {want:?}:\n{summary}");
    }
    assert!(summary.contains(&format!("rolled_back\t{r2}")), "{summary}");

    // --since: a time after everything leaves the launch's turns out.
    let later = launch.run(&["--json", "report", "--since", "2999-01-01T00:00:00Z"]).ok().json();
    assert!(later["gates"].as_array().unwrap().is_empty() && later["monitors"].as_array().unwrap().is_empty());
    assert!(later["hosts"][0]["events"].as_array().unwrap().is_empty());
    launch.run(&["report", "--since", "yesterday"]).code(2).stderr_has("neither a time");

    // The page: written atomically, self-contained, with the charts.
    let page_path = launch.project.path().join("out/report.html");
    launch.run(&["report", "--html", "out/report.html"]).ok().stderr_has("wrote the production report");
    let page = std::fs::read_to_string(&page_path).unwrap();
    let names: Vec<_> =
        std::fs::read_dir(page_path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["report.html"], "no temporary file left");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("prefers-color-scheme: dark"));
    assert!(
        !page.contains("<script") && !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing fetched"
    );
    for id in ["timeline-chart", "latency-1", "errors-1", "latency-2", "errors-2"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "chart {id} missing");
    }
    assert!(page.matches("<svg").count() >= 5, "five charts");
    assert!(page.matches("<polyline").count() >= 10, "the series are drawn as SVG paths");
    for want in [
        r1.as_str(),
        r3.as_str(),
        "stakeholder demo asks for v1",
        "monitor breach",
        "runbook v2, page 3",
        "API_TOKEN",
        "p(95)&lt;800",
        "<details>",
        ">\nbreach\n</text>",
    ] {
        assert!(page.contains(want), "page lacks {want:?}");
    }

    // No secret value anywhere in what a report says.
    let json = launch.run(&["--json", "report"]).ok().stdout;
    for text in [&page, &summary, &json] {
        assert!(!text.contains(DB_PASSWORD), "the planted secret leaked into a report");
        assert!(!text.contains(&token), "the rotated secret leaked into a report");
    }
    // The hosts do hold it (so it was really deployed, and the check above could fail).
    let env_file = std::fs::read_dir(launch.hosts.deploy_dir(1).join("shared"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".env."))
        .expect("a rendered .env");
    assert!(std::fs::read_to_string(env_file).unwrap().contains(DB_PASSWORD));

    chromium_renders(&page_path);
}

/// Opens the page in headless Chromium: the screenshot is not blank, and the DOM it built
/// holds the charts' SVG.
fn chromium_renders(page: &Path) {
    if !support::require("chromium", cutover_testkit::on_path("chromium")) {
        return;
    }
    let profile = tempfile::tempdir().unwrap();
    let shot = profile.path().join("report.png");
    let chromium = |extra: &[&str]| {
        let out = Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400"])
            .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .output()
            .expect("run chromium");
        assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    chromium(&[&format!("--screenshot={}", shot.display())]);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("a screenshot")));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 2400));
    let step = frame.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(step).map(|p| &p[..3]).collect();
    let background = pixels[0];
    let inked = pixels.iter().filter(|p| **p != background).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(inked > pixels.len() / 20, "the screenshot is nearly blank: {inked} of {} pixels", pixels.len());
    assert!(colours.len() > 50, "a page of text and charts has many colours: {}", colours.len());
    // For docs/report.png: the screenshot, and the page beside it.
    if let Ok(keep) = std::env::var("CUTOVER_REPORT_PNG") {
        std::fs::copy(&shot, &keep).unwrap();
        std::fs::copy(page, Path::new(&keep).with_extension("html")).unwrap();
    }
    let dom = chromium(&["--dump-dom"]);
    assert!(dom.matches("<svg").count() >= 5, "the DOM holds the charts");
    assert!(dom.matches("<polyline").count() >= 10, "and their series");
    assert!(dom.contains("release timeline") && dom.contains("latency per round"), "with their captions");
}

#[test]
fn report_notify_attaches_the_report_to_the_window_passed_mail_and_links_it_in_the_webhook() {
    if !(available()
        && support::require("python3 (webhook receiver)", cutover_testkit::webhook::available())
        && support::require("aiosmtpd (SMTP sink)", cutover_testkit::smtp::available()))
    {
        return;
    }
    let sink = cutover_testkit::smtp::Sink::start().unwrap();
    let hook = cutover_testkit::webhook::Receiver::start().unwrap();
    let launch = Launch::start();
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let settings = format!(
        "[smtp]\nhost = \"{}\"\nport = {}\nfrom = \"cutover@{NAME}\"\ntls = \"none\"\n\
         [report]\nnotify = true\nurl = \"https://ops.report.test/reports/\"\n\
         [monitor]\nnotify = [\"mailto:ops@{NAME}\", \"webhook:{}\"]\n",
        sink.addr().ip(),
        sink.addr().port(),
        hook.url("/cutover")
    );
    launch.project.write("cutover.toml", &toml.replace("[monitor]\n", &settings));
    launch.run_input(&["secrets", "set", "DB_PASSWORD"], &format!("{DB_PASSWORD}\n")).ok();
    launch.run(&["secrets", "rotate", "API_TOKEN"]).ok();
    let release = release_of(&launch.run(&["--json", "deploy"]).ok());
    launch.run(&["monitor", "--window", "2s", "--interval", "500ms"]).ok().stderr_has("wrote the production report");

    let name = format!("report-production-{release}.html");
    let written = std::fs::read_to_string(launch.project.path().join(".cutover/reports").join(&name)).unwrap();
    assert!(written.contains("<svg") && written.contains("passed"), "the report shows the window passed");
    assert!(!written.contains(DB_PASSWORD));
    let events = hook.wait_for(1, Duration::from_secs(10));
    let event = events[0].json();
    assert_eq!(event["event"], "window_passed", "{event:#}");
    assert_eq!(event["report"], format!("https://ops.report.test/reports/{name}"));
    let mail = sink.wait_for(1, Duration::from_secs(10));
    assert!(mail[0].body.contains(&format!("https://ops.report.test/reports/{name}")), "{}", mail[0].body);
    let raw = &mail[0].raw;
    assert!(raw.contains("multipart/mixed") && raw.contains("Content-Disposition: attachment"), "{raw}");
    assert!(raw.contains(&format!("\"{name}\"")), "the attachment's file name: {raw}");
    assert!(raw.contains("text/html"), "{raw}");
    assert!(!raw.contains(DB_PASSWORD), "no secret in the mail");
}

#[test]
fn the_report_shows_the_first_release_seeding_and_every_snapshot_on_the_db_host() {
    use support::db::{Db, Kind};
    if !(support::require("sshd", SshHosts::available()) && Kind::Sqlite.require()) {
        return;
    }
    let hosts = SshHosts::start(1);
    let db = Db::create(Kind::Sqlite);
    let extra = "[smoke]\nafter_deploy = false\n[hooks]\nmigrate = [\"true\"]\n[seed]\ninstaller = \"sh install.sh\"\n";
    let project = support::ssh_project(&hosts, extra);
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write(
        "cutover.toml",
        &toml
            .replacen(
                "[env.production]\n",
                &format!("[env.production]\ndatabase = \"sqlite://{}\"\n", db.sqlite_path().display()),
                1,
            )
            .replace("gated = false\n", "gated = true\n"),
    );
    project.write(
        "app/install.sh",
        &format!(
            "set -e\nsqlite3 -bail {} <<'SQL'\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n\
             INSERT INTO users VALUES (1, 'admin'), (2, 'ana');\nSQL\n",
            db.sqlite_path().display()
        ),
    );
    // Production is gated and no gate passed: both deploys are forced, with their reasons.
    let forced = |args: &[&str], why: &str| {
        let mut all = vec!["--json", "deploy", "--force", "--reason", why];
        all.extend_from_slice(args);
        project.cutover(&all).ok().json()["release"].as_str().unwrap().to_owned()
    };
    let r1 = forced(&["--seed", "fresh"], "first release before the gates exist");
    project.write("app/index.html", "v2\n");
    let r2 = forced(&[], "hotfix past the gates");
    project.cutover(&["db", "snapshot"]).ok();

    let report = project.cutover(&["--json", "report"]).ok().json();
    let database = &report["database"];
    assert_eq!(database["configured"], true);
    let seeds = database["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 1, "{database:#}");
    assert!(seeds[0]["command"].as_str().unwrap().contains("--seed fresh"), "{database:#}");
    let outcome = seeds[0]["summary"].as_str().unwrap();
    assert!(outcome.contains(&r1) && outcome.contains("seeded (fresh)") && outcome.contains("install.sh"), "{outcome}");
    let snapshots = database["snapshots"].as_array().unwrap();
    let taken: Vec<(Option<&str>, bool)> =
        snapshots.iter().map(|s| (s["release"].as_str(), s["manual"].as_bool().unwrap())).collect();
    assert_eq!(
        taken,
        [(Some(r1.as_str()), false), (Some(r2.as_str()), false), (Some(r2.as_str()), true)],
        "before each release's migrate (r1's once seeded), then one by hand"
    );
    assert_eq!(snapshots[0]["rows"], 2);
    assert_eq!(snapshots[0]["tables"], 1);

    let events = report["hosts"][0]["events"].as_array().unwrap();
    let forced: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "forced")
        .map(|e| (e["release"].as_str().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(forced.len(), 2, "{events:#?}");
    assert!(forced[1].0 == r2 && forced[1].1.contains("hotfix past the gates"), "{forced:?}");

    let summary = project.cutover(&["report"]).ok().stdout;
    assert!(summary.lines().any(|l| l.starts_with("seed\t") && l.contains("seeded (fresh)")), "{summary}");
    assert_eq!(summary.lines().filter(|l| l.starts_with("snapshot\t")).count(), 3, "{summary}");
    project.cutover(&["report", "--html", "report.html"]).ok();
    let page = std::fs::read_to_string(project.path().join("report.html")).unwrap();
    let id = snapshots[2]["id"].as_str().unwrap();
    assert!(page.contains("<h3>Seeding</h3>") && page.contains("<h3>Snapshots</h3>") && page.contains(id), "{id}");
    assert!(page.contains("(by hand)"));
    assert!(
        page.contains("badge forced") && page.contains("hotfix past the gates"),
        "the forced gates in the timeline"
    );

    // The host gone: the report still comes, from the state, naming what it could not read.
    hosts.stop_host(1);
    let run = project.cutover(&["--json", "report"]).ok();
    assert!(run.stderr.contains("host `h1` left out of the report"), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["unreadable"][0]["host"], "h1", "{:#}", report["unreadable"]);
    assert!(report["hosts"].as_array().unwrap().is_empty());
    assert!(report["database"]["snapshots_error"].is_string(), "{:#}", report["database"]);
    assert_eq!(report["database"]["seeds"].as_array().unwrap().len(), 1, "the state still has the seed");
}
