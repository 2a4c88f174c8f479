//! HTTP checks against real servers on loopback: nginx (HTTPS with a test CA, plain HTTP that
//! redirects) and the testkit's small servers for delays, chunks, redirects, echoes, endless
//! bodies and silence.

// Tests start the programs they need and say what they saw.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cutover_checks::smoke::{self, Check, Regex, Sample, StatusSet};
use cutover_http::{Failure, Trust, Url, Via};
use cutover_testkit::certs::{Ca, Leaf};
use cutover_testkit::http_app::{App, Reply, RunningApp, Silent};
use cutover_testkit::nginx::{NGINX, Nginx, Site, free_port};
use cutover_testkit::{loopback_addr, on_path, require};

const NAME: &str = "shop.example.test";

fn nginx_available() -> bool {
    require("nginx", on_path(NGINX))
}

fn check(url: &str) -> Check {
    let mut check = Check::new("home", Url::parse(url).unwrap());
    check.timeout = Duration::from_secs(5);
    check
}

fn show(sample: &Sample) -> String {
    format!(
        "{} via {} {}: ok={} status={:?} latency={:?} elapsed={:?} {:?} {:?}",
        sample.check,
        sample.via,
        sample.url,
        sample.ok,
        sample.status,
        sample.latency,
        sample.elapsed,
        sample.failure,
        sample.reason
    )
}

#[track_caller]
fn assert_ok(sample: &Sample, status: u16) {
    eprintln!("{}", show(sample));
    assert!(sample.ok, "{}", show(sample));
    assert_eq!(sample.status, Some(status), "{}", show(sample));
    assert_eq!((sample.failure, sample.reason.as_deref()), (None, None));
    assert!(sample.latency.is_some_and(|l| l <= sample.elapsed), "{}", show(sample));
}

#[track_caller]
fn assert_failed(sample: &Sample, failure: Failure, reason_has: &str) {
    eprintln!("{}", show(sample));
    assert!(!sample.ok, "{}", show(sample));
    assert_eq!(sample.failure, Some(failure), "{}", show(sample));
    let reason = sample.reason.as_deref().unwrap_or_default();
    assert!(reason.contains(reason_has), "reason {reason:?} lacks {reason_has:?}");
}

fn no_extra_trust() -> Trust {
    Trust::load(None).unwrap()
}

/// One nginx on a loopback address of its own: `NAME` over HTTPS with a certificate from a test
/// CA (trusted through the extra CA file), plain HTTP redirecting to it, and three broken HTTPS
/// sites (self-signed, for another name, expired).
struct Web {
    _dir: tempfile::TempDir,
    _nginx: Nginx,
    ip: IpAddr,
    https: u16,
    http: u16,
    self_signed: u16,
    wrong_name: u16,
    expired: u16,
    trust: Trust,
}

impl Web {
    fn start() -> Web {
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::new("cutover http test root");
        let inter = root.intermediate("cutover http test intermediate");
        let root_pem: PathBuf = root.write(dir.path(), "root");
        let good = inter.issue(&[NAME]).write(dir.path(), "good");
        let own = Leaf::self_signed(&[NAME]).write(dir.path(), "self");
        let other = inter.issue(&["other.example.test"]).write(dir.path(), "other");
        let old = inter.issue_expiring(&[NAME], -3).write(dir.path(), "old");
        let ip: IpAddr = loopback_addr().into();
        let (https, http, self_signed, wrong_name, expired) =
            (free_port(ip), free_port(ip), free_port(ip), free_port(ip), free_port(ip));
        let sites = [
            Site::new(ip, https, &[NAME], &good.chain, &good.key).http_port(http),
            Site::new(ip, self_signed, &[NAME], &own.chain, &own.key),
            Site::new(ip, wrong_name, &[NAME], &other.chain, &other.key),
            Site::new(ip, expired, &[NAME], &old.chain, &old.key),
        ];
        let nginx = Nginx::start(&sites).unwrap();
        let trust = Trust::load(Some(&root_pem)).unwrap();
        Web { _dir: dir, _nginx: nginx, ip, https, http, self_signed, wrong_name, expired, trust }
    }

    fn via(&self) -> Via {
        Via::host("web1", self.ip)
    }

    fn https_url(&self, port: u16, path: &str) -> String {
        format!("https://{NAME}:{port}{path}")
    }
}

#[test]
fn https_page_through_a_hosts_address_with_the_public_name() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let mut c = check(&web.https_url(web.https, "/"));
    c.body_contains = vec!["ok".into()];
    c.body_regex = Some(Regex::new(r"^ok\n$").unwrap());
    c.max_latency = Some(Duration::from_secs(2));
    let sample = smoke::run(&c, &web.via(), &web.trust);
    assert_ok(&sample, 200);
    assert_eq!(sample.via, "web1");
    assert_eq!(sample.check, "home");
    assert_eq!(sample.url, format!("https://{NAME}:{}/", web.https));

    // The same URL through the public name: it does not resolve anywhere.
    let public = smoke::run(&c, &Via::public(), &web.trust);
    assert_failed(&public, Failure::Dns, NAME);
    assert!(public.failure.unwrap().is_local_network());
}

#[test]
fn status_outside_expect_status_fails_and_ranges_match() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let mut c = check(&web.https_url(web.https, "/"));
    c.expect_status = StatusSet::parse("204").unwrap();
    assert_failed(&smoke::run(&c, &web.via(), &web.trust), Failure::Status, "status 200, expected 204");
    c.expect_status = StatusSet::parse("201-204, 200").unwrap();
    assert_ok(&smoke::run(&c, &web.via(), &web.trust), 200);
}

#[test]
fn body_contains_and_body_regex_misses_fail() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let mut c = check(&web.https_url(web.https, "/"));
    c.body_contains = vec!["Welcome".into()];
    assert_failed(&smoke::run(&c, &web.via(), &web.trust), Failure::Body, "body does not contain \"Welcome\"");
    c.body_contains = Vec::new();
    c.body_regex = Some(Regex::new("(?i)welcome|hello").unwrap());
    assert_failed(&smoke::run(&c, &web.via(), &web.trust), Failure::Body, "body does not match /(?i)welcome|hello/");
}

#[test]
fn redirect_to_https_followed_or_judged_as_it_is() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let mut c = check(&format!("http://{NAME}:{}/x?y=1", web.http));
    let not_followed = smoke::run(&c, &web.via(), &web.trust);
    assert_ok(&not_followed, 301);
    c.expect_status = StatusSet::parse("200").unwrap();
    assert_failed(&smoke::run(&c, &web.via(), &web.trust), Failure::Status, "status 301, expected 200");

    // Followed: same host name, so still straight to the host's address, now over HTTPS.
    c.follow_redirects = true;
    c.body_contains = vec!["ok".into()];
    let followed = smoke::run(&c, &web.via(), &web.trust);
    assert_ok(&followed, 200);
    assert_eq!(followed.url, format!("https://{NAME}:{}/x?y=1", web.https));
}

#[test]
fn certificate_problems_are_tls_failures_with_the_reason() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let run = |port: u16, trust: &Trust| smoke::run(&check(&web.https_url(port, "/")), &web.via(), trust);
    assert_failed(&run(web.self_signed, &web.trust), Failure::Tls, "self-signed certificate");
    assert_failed(&run(web.wrong_name, &web.trust), Failure::Tls, &format!("does not cover {NAME}"));
    assert_failed(&run(web.expired, &web.trust), Failure::Tls, "certificate expired on");
    // Without the extra CA the good site is not trusted.
    assert_failed(
        &run(web.https, &no_extra_trust()),
        Failure::Tls,
        "certificate not trusted: incomplete chain or unknown issuer: the server sent 2 certificates",
    );
    // Plain HTTP spoken to on the HTTPS port.
    let sample = smoke::run(&check(&format!("https://{NAME}:{}/", web.http)), &web.via(), &web.trust);
    assert_failed(&sample, Failure::Tls, "does not speak TLS");
    assert!(!sample.failure.unwrap().is_local_network());
}

#[test]
fn head_and_post_to_nginx_and_an_app() {
    if !nginx_available() {
        return;
    }
    let web = Web::start();
    let mut c = check(&web.https_url(web.https, "/"));
    c.method = "HEAD".into();
    // nginx says Content-Length: 3 and sends no body: the check must not wait for one.
    let head = smoke::run(&c, &web.via(), &web.trust);
    assert_ok(&head, 200);
    assert!(head.elapsed < Duration::from_secs(1), "{}", show(&head));
    c.method = "POST".into();
    assert_ok(&smoke::run(&c, &web.via(), &web.trust), 200);

    let app = App::new().route("/echo", Reply::echo()).start_on(loopback_addr().into()).unwrap();
    let mut c = check(&app.url("/echo"));
    c.method = "POST".into();
    c.body_contains = vec!["POST /echo\n".into()];
    assert_ok(&smoke::run(&c, &Via::public(), &web.trust), 200);
    c.method = "HEAD".into();
    c.body_contains = Vec::new();
    assert_ok(&smoke::run(&c, &Via::public(), &web.trust), 200);
    let methods: Vec<_> =
        app.requests().into_iter().map(|r| (r.method.clone(), r.header("content-length").map(String::from))).collect();
    assert_eq!(methods, [("POST".to_string(), Some("0".to_string())), ("HEAD".to_string(), None)]);
}

#[test]
fn headers_are_sent_and_host_comes_from_the_url() {
    let ip: IpAddr = loopback_addr().into();
    let app = App::new().route("/echo", Reply::echo()).start_on(ip).unwrap();
    let port = app.addr().port();
    let mut c = check(&format!("http://{NAME}:{port}/echo?q=1"));
    c.headers = vec![("X-Token".into(), "s3cret".into()), ("User-Agent".into(), "smoke/1".into())];
    c.body_contains = vec!["x-token: s3cret".into()];
    assert_ok(&smoke::run(&c, &Via::host("web1", ip), &no_extra_trust()), 200);
    let request = &app.requests()[0];
    assert_eq!(request.target, "/echo?q=1");
    assert_eq!(request.header("host"), Some(format!("{NAME}:{port}").as_str()));
    assert_eq!(request.header("user-agent"), Some("smoke/1"));
    assert_eq!(request.header("accept"), Some("*/*"));
    assert_eq!(request.header("connection"), Some("close"));
}

fn app() -> RunningApp {
    App::new()
        .route("/ok", Reply::text(200, "fine\n"))
        .route("/old", Reply::redirect(302, "new?from=old"))
        .route("/new", Reply::text(200, "new page\n"))
        .route("/loop", Reply::redirect(307, "/loop"))
        .route("/bad-location", Reply::redirect(301, "ftp://elsewhere/"))
        .route("/see-other", Reply::redirect(303, "/echo"))
        .route("/echo", Reply::echo())
        .route("/broken", Reply::text(500, "oops\n"))
        .route("/parts", Reply::chunked(200, &["<p>hel", "lo wor", "ld</p>"]))
        .route("/slow", Reply::text(200, "late\n").delay(Duration::from_millis(400)))
        .route("/very-slow", Reply::text(200, "late\n").delay(Duration::from_secs(4)))
        .route("/big", Reply::text(200, &"x".repeat(5000)))
        .route("/endless", Reply::endless())
        .start_on(loopback_addr().into())
        .unwrap()
}

#[test]
fn relative_redirects_loops_and_303() {
    let app = app();
    let trust = no_extra_trust();
    let mut c = check(&app.url("/old"));
    c.follow_redirects = true;
    c.body_contains = vec!["new page".into()];
    let sample = smoke::run(&c, &Via::public(), &trust);
    assert_ok(&sample, 200);
    assert_eq!(sample.url, app.url("/new?from=old"));

    c.url = Url::parse(&app.url("/loop")).unwrap();
    c.body_contains = Vec::new();
    let looped = smoke::run(&c, &Via::public(), &trust);
    assert_failed(&looped, Failure::Status, "more than 5 redirects");
    assert_eq!(looped.status, Some(307));

    c.url = Url::parse(&app.url("/bad-location")).unwrap();
    assert_failed(&smoke::run(&c, &Via::public(), &trust), Failure::Protocol, "cannot be followed");

    c.url = Url::parse(&app.url("/see-other")).unwrap();
    c.method = "POST".into();
    c.body_contains = vec!["GET /echo\n".into()];
    assert_ok(&smoke::run(&c, &Via::public(), &trust), 200);
}

#[test]
fn a_500_fails_with_its_status() {
    let app = app();
    let sample = smoke::run(&check(&app.url("/broken")), &Via::public(), &no_extra_trust());
    assert_failed(&sample, Failure::Status, "status 500, expected 200-399");
    assert_eq!(sample.status, Some(500));
    assert!(sample.latency.is_some());
}

#[test]
fn chunked_body_is_matched_across_chunks() {
    let app = app();
    let mut c = check(&app.url("/parts"));
    c.body_contains = vec!["hello world".into()];
    c.body_regex = Some(Regex::new("^<p>hello world</p>$").unwrap());
    assert_ok(&smoke::run(&c, &Via::public(), &no_extra_trust()), 200);
}

#[test]
fn max_latency_exceeded() {
    let app = app();
    let mut c = check(&app.url("/slow"));
    c.max_latency = Some(Duration::from_millis(100));
    let sample = smoke::run(&c, &Via::public(), &no_extra_trust());
    assert_failed(&sample, Failure::Latency, "over max_latency 100 ms");
    assert!(sample.latency.unwrap() >= Duration::from_millis(400), "{}", show(&sample));
    c.max_latency = Some(Duration::from_secs(3));
    assert_ok(&smoke::run(&c, &Via::public(), &no_extra_trust()), 200);
}

#[test]
fn a_name_that_does_not_resolve_fails_fast_with_dns() {
    let mut c = check("https://nothing.invalid/");
    c.timeout = Duration::from_secs(3);
    let sample = smoke::run(&c, &Via::public(), &no_extra_trust());
    assert_failed(&sample, Failure::Dns, "nothing.invalid");
    assert!(sample.elapsed < c.timeout + Duration::from_millis(200), "{}", show(&sample));
    assert_eq!((sample.status, sample.latency), (None, None));
}

#[test]
fn a_refused_connection_is_connect_not_local() {
    let ip: IpAddr = loopback_addr().into();
    let port = free_port(ip);
    let sample = smoke::run(&check(&format!("http://{NAME}:{port}/")), &Via::host("web1", ip), &no_extra_trust());
    assert_failed(&sample, Failure::Connect, "connection refused");
    assert!(!sample.failure.unwrap().is_local_network());
}

#[test]
fn a_server_that_never_answers_times_out_on_time() {
    let ip: IpAddr = loopback_addr().into();
    let silent = Silent::start(ip).unwrap();
    let port = silent.addr().port();
    for (url, says) in [
        (format!("http://{NAME}:{port}/"), "timed out waiting for the response"),
        (format!("https://{NAME}:{port}/"), "the TLS handshake did not complete within 1 s"),
    ] {
        let mut c = check(&url);
        c.timeout = Duration::from_secs(1);
        let sample = smoke::run(&c, &Via::host("web1", ip), &no_extra_trust());
        assert_failed(&sample, Failure::Timeout, says);
        assert!(
            sample.elapsed >= c.timeout && sample.elapsed < c.timeout + Duration::from_millis(300),
            "{}",
            show(&sample)
        );
    }
    // An answer that starts too late.
    let app = app();
    let mut c = check(&app.url("/very-slow"));
    c.timeout = Duration::from_millis(500);
    let sample = smoke::run(&c, &Via::public(), &no_extra_trust());
    assert_failed(&sample, Failure::Timeout, "waiting for the response");
    assert!(sample.elapsed < Duration::from_millis(800), "{}", show(&sample));
}

#[test]
fn a_body_over_max_body_is_too_large() {
    let app = app();
    let mut c = check(&app.url("/big"));
    c.max_body = 1000;
    let sample = smoke::run(&c, &Via::public(), &no_extra_trust());
    assert_failed(&sample, Failure::TooLarge, "Content-Length 5000 is over the limit of 1000 bytes");
    assert_eq!(sample.status, Some(200));
}

/// VmRSS and VmHWM (peak) of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// An endless answer stops at `max_body` (16 MiB by default) within a bounded time, and costs
/// at most the kept 1 MiB plus buffers. Memory is measured in a process of its own (this test
/// runs itself again alone), so other tests' allocations do not blur it.
#[test]
fn an_endless_answer_costs_bounded_time_and_memory() {
    const CHILD: &str = "CUTOVER_TEST_HTTP_MEMORY_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let name = "an_endless_answer_costs_bounded_time_and_memory";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("{text}");
        assert!(out.status.success() && text.contains("1 passed"), "the measuring run failed:\n{text}");
        return;
    }
    let app = app();
    let trust = no_extra_trust();
    // Warm up (threads, TLS provider, regex, allocator arenas) before measuring.
    let mut warm = check(&app.url("/parts"));
    warm.body_contains = vec!["hello".into()];
    assert_ok(&smoke::run(&warm, &Via::public(), &trust), 200);
    let (before, _) = memory_kib();
    for matched in [true, false, true] {
        let mut c = check(&app.url("/endless"));
        c.timeout = Duration::from_secs(20);
        if matched {
            c.body_contains = vec!["needle".into()];
        }
        let sample = smoke::run(&c, &Via::public(), &trust);
        assert_failed(&sample, Failure::TooLarge, "the body is larger than 16 MiB; stopped reading");
        assert!(sample.elapsed < Duration::from_secs(10), "{}", show(&sample));
    }
    // With a short timeout the same answer is a timeout, on time.
    let mut c = check(&app.url("/endless"));
    c.max_body = u64::MAX;
    c.timeout = Duration::from_millis(500);
    let sample = smoke::run(&c, &Via::public(), &trust);
    assert_failed(&sample, Failure::Timeout, "reading the body");
    assert!(sample.elapsed < Duration::from_millis(800), "{}", show(&sample));
    let (after, peak) = memory_kib();
    eprintln!("VmRSS before {before} KiB, after {after} KiB, peak {peak} KiB");
    assert!(peak.saturating_sub(before) < 8 * 1024, "peak grew from {before} KiB to {peak} KiB");
}

#[test]
fn ipv6_literal_and_localhost_through_the_system_resolver() {
    let trust = no_extra_trust();
    if let Ok(listener) = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) {
        drop(listener);
        let app = App::new().route("/", Reply::text(200, "v6\n")).start_on(Ipv6Addr::LOCALHOST.into()).unwrap();
        let mut c = check(&format!("http://[::1]:{}/", app.addr().port()));
        c.body_contains = vec!["v6".into()];
        assert_ok(&smoke::run(&c, &Via::public(), &trust), 200);
        assert_eq!(app.requests()[0].header("host"), Some(format!("[::1]:{}", app.addr().port()).as_str()));
    } else {
        eprintln!("no IPv6 loopback here; only localhost is checked");
    }
    let app = App::new().route("/", Reply::text(200, "v4\n")).start_on([127, 0, 0, 1].into()).unwrap();
    let mut c = check(&format!("http://localhost:{}/", app.addr().port()));
    c.body_contains = vec!["v4".into()];
    assert_ok(&smoke::run(&c, &Via::public(), &trust), 200);
}

#[test]
fn run_all_asks_every_check_through_the_public_url_and_each_host() {
    // Three hosts serving the same app on the same port; the public URL names the first.
    let ips: Vec<IpAddr> = (0..3).map(|_| loopback_addr().into()).collect();
    let port = free_port(ips[0]);
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    let mut app = App::new().route("/slow", Reply::text(200, "slow page\n").delay(Duration::from_secs(1)));
    for i in 0..49 {
        app = app.route(&format!("/page/{i}"), Reply::text(200, &format!("page {i}\n")));
    }
    let app = app.start(&addrs).unwrap();
    let mut checks: Vec<Check> = (0..49)
        .map(|i| {
            let mut c = check(&format!("http://{}:{port}/page/{i}", ips[0]));
            c.name = format!("page {i}");
            c.body_contains = vec![format!("page {i}\n")];
            c.every_host = true;
            c
        })
        .collect();
    let mut slow = check(&format!("http://{}:{port}/slow", ips[0]));
    slow.name = "slow".into();
    slow.every_host = true;
    checks.insert(17, slow);
    // One check for the public URL only.
    let mut only_public = check(&format!("http://{}:{port}/page/3", ips[0]));
    only_public.name = "public only".into();
    checks.push(only_public);
    let hosts: Vec<Via> = ips.iter().enumerate().map(|(i, ip)| Via::host(format!("web{}", i + 1), *ip)).collect();

    let samples = smoke::run_all(&checks, &hosts, &no_extra_trust());
    assert_eq!(samples.len(), 50 * 4 + 1);
    let mut expected = Vec::new();
    for c in &checks {
        expected.push((c.name.clone(), "public".to_string()));
        if c.every_host {
            expected.extend(hosts.iter().map(|h| (c.name.clone(), h.label.clone())));
        }
    }
    let got: Vec<_> = samples.iter().map(|s| (s.check.clone(), s.via.clone())).collect();
    assert_eq!(got, expected);
    for sample in &samples {
        assert_ok(sample, 200);
    }
    // Each host got each every_host check once, the first host the public ones too.
    let requests = app.requests();
    assert_eq!(requests.len(), samples.len());
    for (i, ip) in ips.iter().enumerate() {
        let got = requests.iter().filter(|r| r.local_addr.ip() == *ip).count();
        assert_eq!(got, if i == 0 { 50 + 51 } else { 50 }, "requests to {ip}");
    }
}

#[test]
fn run_many_keeps_the_order_and_an_invalid_check_is_a_failed_sample() {
    let app = app();
    let good = check(&app.url("/ok"));
    let mut bad = check(&app.url("/ok"));
    bad.name = "bad".into();
    bad.headers = vec![("X-A".into(), "1\r\n2".into())];
    let public = Via::public();
    let started = Instant::now();
    let samples = smoke::run_many(&[(&bad, &public), (&good, &public)], &no_extra_trust());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_failed(&samples[0], Failure::Protocol, "invalid check: header `X-A`");
    assert_ok(&samples[1], 200);
}
