//! 50 HTTP checks × 3 hosts, as `cutover smoke` runs them (`smoke::run_many`: every request at
//! once), side by side with curl doing the same 150 requests: one process per request one after
//! another (a shell loop), and one `curl --parallel` process.
//!
//! Each host is an nginx of its own on a loopback address (HTTPS, a test CA given as the extra
//! CA / `--cacert`), with the same port on every host; 49 checks ask nginx for a page, one asks
//! a small server on the same three addresses that answers after 1 s. Every request goes to its
//! host's address with the public name as SNI and `Host` (`Via::host`; curl's `--connect-to`).
//!
//! `cargo bench -p cutover-checks --bench smoke_checks` (needs nginx and curl). Prints markdown on
//! stdout. ROUNDS rounds of each (default 5), interleaved, so a busy moment hits every tool.

// A benchmark runs the tools it compares, prints its figures and exits when it cannot run.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr, clippy::exit)]

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover_checks::smoke::{self, Check};
use cutover_http::{Trust, Url, Via};
use cutover_testkit::certs::Ca;
use cutover_testkit::http_app::{App, Reply};
use cutover_testkit::nginx::{NGINX, Nginx, Site};
use cutover_testkit::{loopback_addr, on_path};

const NAME: &str = "shop.example.test";
const SLOW: Duration = Duration::from_secs(1);

/// A port free on every address.
fn common_port(ips: &[IpAddr]) -> u16 {
    loop {
        let port = TcpListener::bind((ips[0], 0)).unwrap().local_addr().unwrap().port();
        if ips.iter().all(|ip| TcpListener::bind((*ip, port)).is_ok()) {
            return port;
        }
    }
}

struct Request {
    url: String,
    ip: IpAddr,
    port: u16,
    expect: &'static str,
}

fn main() {
    if !on_path(NGINX) || !on_path("curl") {
        eprintln!("smoke_checks: needs nginx ({NGINX}) and curl");
        std::process::exit(1);
    }
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::new("cutover bench root");
    let root_pem = root.write(dir.path(), "root");
    let leaf = root.issue(&[NAME]).write(dir.path(), "site");
    let ips: Vec<IpAddr> = (0..3).map(|_| loopback_addr().into()).collect();
    let https = common_port(&ips);
    let nginxes: Vec<Nginx> =
        ips.iter().map(|ip| Nginx::start(&[Site::new(*ip, https, &[NAME], &leaf.chain, &leaf.key)]).unwrap()).collect();
    let app_port = common_port(&ips);
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, app_port)).collect();
    let app = App::new().route("/slow", Reply::text(200, "slow page\n").delay(SLOW)).start(&addrs).unwrap();

    let trust = Trust::load(Some(&root_pem)).unwrap();
    let vias: Vec<Via> = ips.iter().enumerate().map(|(i, ip)| Via::host(format!("web{}", i + 1), *ip)).collect();
    println!("{}\n", machine());
    for with_slow in [true, false] {
        let (checks, requests) = plan(&ips, https, app_port, with_slow);
        let jobs: Vec<(&Check, &Via)> = checks.iter().flat_map(|c| vias.iter().map(move |v| (c, v))).collect();
        assert_eq!((jobs.len(), requests.len()), (150, 150));
        let mut cutover = Vec::new();
        let mut seq = Vec::new();
        let mut par = Vec::new();
        let mut slowest = Duration::ZERO;
        for round in 0..rounds {
            eprintln!("{} round {}/{rounds}", if with_slow { "with the slow check" } else { "all fast" }, round + 1);
            let cpu = cpu_ticks();
            let started = Instant::now();
            let samples = smoke::run_many(&jobs, &trust);
            cutover.push((started.elapsed(), cpu_ticks().0 - cpu.0));
            let bad: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
            assert!(bad.is_empty(), "cutover: {} failed samples, first {:?}", bad.len(), bad.first());
            slowest = slowest.max(samples.iter().map(|s| s.elapsed).max().unwrap());

            let cpu = cpu_ticks();
            let started = Instant::now();
            for r in &requests {
                curl_one(r, &root_pem);
            }
            seq.push((started.elapsed(), cpu_ticks().1 - cpu.1));

            let cpu = cpu_ticks();
            let started = Instant::now();
            curl_parallel(&requests, &root_pem);
            par.push((started.elapsed(), cpu_ticks().1 - cpu.1));
        }
        if with_slow {
            println!(
                "### 150 requests: 50 checks × 3 hosts, one check answering after {} s ({rounds} rounds)\n",
                SLOW.as_secs()
            );
        } else {
            println!("### 150 requests, all fast: the cost of the requests themselves ({rounds} rounds)\n");
        }
        println!("| tool | how | median | min | max | median / slowest check | CPU per round (median) |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        let row = |tool: &str, how: &str, runs: &mut Vec<(Duration, u64)>| {
            let mut times: Vec<Duration> = runs.iter().map(|r| r.0).collect();
            let mut cpu: Vec<u64> = runs.iter().map(|r| r.1).collect();
            times.sort();
            cpu.sort();
            let median = times[times.len() / 2];
            let ratio =
                if with_slow { format!("{:.2}x", median.as_secs_f64() / SLOW.as_secs_f64()) } else { "-".into() };
            println!(
                "| {tool} | {how} | {} | {} | {} | {ratio} | {} ms |",
                ms(median),
                ms(times[0]),
                ms(times[times.len() - 1]),
                cpu[cpu.len() / 2] * 10
            );
        };
        row("cutover", "`smoke::run_many`: all 150 at once, in one process", &mut cutover);
        row("curl", "one `curl` process per request, one after another", &mut seq);
        row("curl", "one `curl --parallel --parallel-max 150` process", &mut par);
        println!("\nSlowest single cutover sample (wall time, connection setup included): {}.\n", ms(slowest));
    }
    drop(app);
    drop(nginxes);
}

/// 50 checks (and the same 150 requests for curl): pages from nginx, and with `with_slow` one
/// check (number 25) that answers after [`SLOW`] instead.
fn plan(ips: &[IpAddr], https: u16, app_port: u16, with_slow: bool) -> (Vec<Check>, Vec<Request>) {
    let mut checks = Vec::new();
    let mut requests = Vec::new();
    for i in 0..50 {
        let (url, port, expect) = if i == 25 && with_slow {
            (format!("http://{NAME}:{app_port}/slow"), app_port, "slow page")
        } else {
            (format!("https://{NAME}:{https}/page/{i}"), https, "ok")
        };
        let mut check = Check::new(format!("check {i}"), Url::parse(&url).unwrap());
        check.body_contains = vec![expect.into()];
        checks.push(check);
        requests.extend(ips.iter().map(|ip| Request { url: url.clone(), ip: *ip, port, expect }));
    }
    (checks, requests)
}

/// CPU time (user + system, in clock ticks of 10 ms) of this process, and of its children that
/// have been waited for (the curl processes; nginx is waited for only when it stops).
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name in parentheses: state is field 3; utime, stime, cutime, cstime are 14-17.
    let fields: Vec<u64> =
        stat[stat.rfind(')').unwrap() + 2..].split(' ').skip(11).take(4).map(|f| f.parse().unwrap()).collect();
    (fields[0] + fields[1], fields[2] + fields[3])
}

fn machine() -> String {
    let first_line = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .map(|o| {
                let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
                String::from_utf8_lossy(&text).lines().next().unwrap_or_default().to_string()
            })
            .unwrap_or_default()
    };
    format!(
        "nproc {}, {}, {}, {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        first_line("uname", &["-sr"]),
        first_line(NGINX, &["-v"]),
        first_line("curl", &["--version"]),
    )
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn connect_to(r: &Request) -> String {
    let ip = match r.ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("{NAME}:{}:{ip}:{}", r.port, r.port)
}

fn curl_one(r: &Request, ca: &std::path::Path) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["--connect-to", &connect_to(r), "-w", "\n%{http_code}", &r.url])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n200") && text.contains(r.expect), "curl {}: {text}", r.url);
}

fn curl_parallel(requests: &[Request], ca: &std::path::Path) {
    let mut cmd = Command::new("curl");
    cmd.args(["--parallel", "--parallel-max", "150"]);
    for (i, r) in requests.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "--max-time", "10", "--cacert"]).arg(ca).args([
            "--connect-to",
            &connect_to(r),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            &r.url,
        ]);
    }
    let out = cmd.stderr(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = text.lines().filter(|l| *l == "200").count();
    assert_eq!(ok, requests.len(), "curl --parallel: {text}");
}
