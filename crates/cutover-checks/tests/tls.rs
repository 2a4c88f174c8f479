//! The TLS checks against a real nginx serving certificates made by each test, on a loopback
//! address of its own.

// Tests say what they saw.
#![allow(clippy::print_stderr)]

use std::io::Write;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover_checks::tls::{self, Policy};
use cutover_checks::{Finding, Status};
use cutover_http::Trust;
use cutover_testkit::certs::{Ca, Leaf, LeafFiles};
use cutover_testkit::nginx::{NGINX, Nginx, Protocols, Site, free_port};
use cutover_testkit::{loopback_addr, on_path, require};

const NAME: &str = "shop.example.test";

fn nginx_available() -> bool {
    require("nginx", on_path(NGINX))
}

/// A root and an intermediate under it, the root written to `root.pem` in a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    root: Ca,
    inter: Ca,
    root_pem: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::new("cutover test root");
        let inter = root.intermediate("cutover test intermediate");
        let root_pem = root.write(dir.path(), "root");
        Pki { dir, root, inter, root_pem }
    }

    fn write(&self, leaf: &Leaf, stem: &str) -> LeafFiles {
        leaf.write(self.dir.path(), stem)
    }

    fn policy(&self, https_port: u16, http_port: u16) -> Policy {
        policy(Some(&self.root_pem), https_port, http_port)
    }
}

fn policy(extra_ca: Option<&Path>, https_port: u16, http_port: u16) -> Policy {
    let mut policy = Policy::new(Trust::load(extra_ca).unwrap());
    policy.https_port = https_port;
    policy.http_port = http_port;
    policy.timeout = Duration::from_secs(2);
    policy
}

/// One address, one HTTPS port and one HTTP port.
struct Ports {
    ip: IpAddr,
    https: u16,
    http: u16,
}

fn ports() -> Ports {
    let ip: IpAddr = loopback_addr().into();
    Ports { ip, https: free_port(ip), http: free_port(ip) }
}

fn find<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no finding {check:?} in:\n{}", show(findings)))
}

fn show(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("  {} | {} | {} | {}\n", f.host, f.check, f.status, f.detail)).collect()
}

fn assert_finding(findings: &[Finding], check: &str, status: Status, detail_has: &[&str]) {
    let f = find(findings, check);
    eprintln!("{} | {} | {} | {}", f.host, f.check, f.status, f.detail);
    assert_eq!(f.status, status, "{check}:\n{}", show(findings));
    for part in detail_has {
        assert!(f.detail.contains(part), "{check} detail {:?} lacks {part:?}:\n{}", f.detail, show(findings));
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn valid_chain_via_intermediate_passes_everything() {
    if !nginx_available() {
        return;
    }
    let pki = Pki::new();
    let files = pki.write(&pki.inter.issue(&[NAME, "www.shop.example.test"]), "shop");
    let p = ports();
    let site = Site::new(p.ip, p.https, &[NAME, "www.shop.example.test"], &files.chain, &files.key)
        .http_port(p.http)
        .redirect(true)
        .hsts(true);
    let _nginx = Nginx::start(&[site]).unwrap();

    let findings =
        tls::check_host("web1", p.ip, &names(&[NAME, "www.shop.example.test"]), &pki.policy(p.https, p.http));
    assert!(findings.iter().all(|f| f.status == Status::Pass && f.host == "web1"), "{}", show(&findings));
    assert_eq!(findings.len(), 2 * 6, "{}", show(&findings));
    assert_finding(&findings, &format!("tls version {NAME}"), Status::Pass, &["TLS 1.3", "TLS 1.0/1.1 refused"]);
    assert_finding(&findings, &format!("tls trust {NAME}"), Status::Pass, &["cutover test intermediate"]);
    assert_finding(&findings, &format!("tls expiry {NAME}"), Status::Pass, &["90 days left (until "]);
    assert_finding(&findings, &format!("hsts {NAME}"), Status::Pass, &["max-age=31536000"]);
    assert_finding(&findings, &format!("http redirect {NAME}"), Status::Pass, &["301 -> https://shop.example.test:"]);
    assert_finding(&findings, "tls name www.shop.example.test", Status::Pass, &[]);
}

#[test]
fn expiry_verdicts_and_trust_judged_anyway() {
    if !nginx_available() {
        return;
    }
    let pki = Pki::new();
    let ip: IpAddr = loopback_addr().into();
    let mut sites = Vec::new();
    let mut ports = Vec::new();
    for (stem, days) in [("expired", -3), ("ten", 10), ("three", 3)] {
        let files = pki.write(&pki.inter.issue_expiring(&[NAME], days), stem);
        let port = free_port(ip);
        sites.push(Site::new(ip, port, &[NAME], &files.chain, &files.key));
        ports.push(port);
    }
    let _nginx = Nginx::start(&sites).unwrap();
    let closed = free_port(ip);

    let check = |port| tls::check_host("web1", ip, &names(&[NAME]), &pki.policy(port, closed));
    let expired = check(ports[0]);
    assert_finding(&expired, &format!("tls expiry {NAME}"), Status::Fail, &["expired 3 days ago (on "]);
    assert_finding(&expired, &format!("tls trust {NAME}"), Status::Pass, &["trusted"]);
    assert_finding(&expired, &format!("tls name {NAME}"), Status::Pass, &[]);

    let ten = check(ports[1]);
    assert_finding(&ten, &format!("tls expiry {NAME}"), Status::Warn, &["10 days left"]);
    let three = check(ports[2]);
    assert_finding(&three, &format!("tls expiry {NAME}"), Status::Fail, &["3 days left"]);
    assert_finding(&three, &format!("tls trust {NAME}"), Status::Pass, &[]);
}

#[test]
fn wrong_name_self_signed_and_incomplete_chain_fail() {
    if !nginx_available() {
        return;
    }
    let pki = Pki::new();
    let ip: IpAddr = loopback_addr().into();
    let other = pki.write(&pki.inter.issue(&["other.example.test", "*.other.example.test"]), "other");
    let selfsigned = pki.write(&Leaf::self_signed(&[NAME]), "self");
    let leaf_only = pki.write(&pki.inter.issue(&[NAME]), "leafonly");
    let (p_other, p_self, p_leaf) = (free_port(ip), free_port(ip), free_port(ip));
    let _nginx = Nginx::start(&[
        Site::new(ip, p_other, &[NAME], &other.chain, &other.key),
        Site::new(ip, p_self, &[NAME], &selfsigned.chain, &selfsigned.key),
        // The leaf alone: the server does not send the intermediate.
        Site::new(ip, p_leaf, &[NAME], &leaf_only.cert, &leaf_only.key),
    ])
    .unwrap();
    let closed = free_port(ip);
    let check = |port| tls::check_host("web1", ip, &names(&[NAME]), &pki.policy(port, closed));

    let wrong = check(p_other);
    assert_finding(
        &wrong,
        &format!("tls name {NAME}"),
        Status::Fail,
        &["not covered", "other.example.test, *.other.example.test"],
    );
    assert_finding(&wrong, &format!("tls trust {NAME}"), Status::Pass, &[]);

    let selfs = check(p_self);
    assert_finding(&selfs, &format!("tls trust {NAME}"), Status::Fail, &["self-signed"]);
    assert_finding(&selfs, &format!("tls name {NAME}"), Status::Pass, &[]);

    let incomplete = check(p_leaf);
    assert_finding(
        &incomplete,
        &format!("tls trust {NAME}"),
        Status::Fail,
        &["incomplete chain", "sent only the leaf", "cutover test intermediate", "missing intermediate"],
    );
    assert_finding(&incomplete, &format!("tls expiry {NAME}"), Status::Pass, &[]);
}

#[test]
fn origin_ca_certificate_is_fine_only_when_proxied() {
    if !nginx_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let origin = Ca::origin_ca_like();
    let origin_pem = origin.write(dir.path(), "origin-root");
    let files = origin.issue(&[NAME]).write(dir.path(), "shop");
    let p = ports();
    let _nginx = Nginx::start(&[Site::new(p.ip, p.https, &[NAME], &files.chain, &files.key)]).unwrap();

    let mut policy = policy(Some(&origin_pem), p.https, p.http);
    let direct = tls::check_host("web1", p.ip, &names(&[NAME]), &policy);
    assert_finding(
        &direct,
        &format!("tls trust {NAME}"),
        Status::Fail,
        &["origin-only (Cloudflare Origin CA)", "trusted only by Cloudflare", "not proxied"],
    );
    policy.proxied = true;
    let proxied = tls::check_host("web1", p.ip, &names(&[NAME]), &policy);
    assert_finding(&proxied, &format!("tls trust {NAME}"), Status::Pass, &["origin-only (Cloudflare Origin CA)"]);

    // Named like the Origin CA but not signed by its roots (nor by the extra CA): not trusted.
    let unknown = tls::check_host("web1", p.ip, &names(&[NAME]), &self::policy(None, p.https, p.http));
    assert_finding(&unknown, &format!("tls trust {NAME}"), Status::Fail, &["origin-only", "not signed by Cloudflare"]);
}

#[test]
fn legacy_tls_versions() {
    if !nginx_available() {
        return;
    }
    let pki = Pki::new();
    let files = pki.write(&pki.inter.issue(&[NAME]), "shop");
    let ip: IpAddr = loopback_addr().into();
    let (legacy, both) = (free_port(ip), free_port(ip));
    let _nginx = Nginx::start(&[
        Site::new(ip, legacy, &[NAME], &files.chain, &files.key).protocols(Protocols::LegacyOnly),
        Site::new(ip, both, &[NAME], &files.chain, &files.key).protocols(Protocols::All),
    ])
    .unwrap();
    let closed = free_port(ip);

    let only = tls::check_host("web1", ip, &names(&[NAME]), &pki.policy(legacy, closed));
    assert_finding(&only, &format!("tls connect {NAME}"), Status::Fail, &["refused the handshake"]);
    assert_finding(&only, &format!("tls version {NAME}"), Status::Fail, &["speaks only TLS 1.0/1.1", "TLS 1.1"]);
    // The certificate, read from the legacy handshake, is judged all the same.
    assert_finding(&only, &format!("tls trust {NAME}"), Status::Pass, &[]);
    assert_finding(&only, &format!("tls name {NAME}"), Status::Pass, &[]);
    assert_finding(&only, &format!("tls expiry {NAME}"), Status::Pass, &["90 days left"]);

    let also = tls::check_host("web1", ip, &names(&[NAME]), &pki.policy(both, closed));
    assert_finding(&also, &format!("tls version {NAME}"), Status::Warn, &["TLS 1.3", "also accepts TLS 1.0/1.1"]);
    assert_finding(&also, &format!("tls trust {NAME}"), Status::Pass, &[]);
}

#[test]
fn no_redirect_and_no_hsts_warn() {
    if !nginx_available() {
        return;
    }
    let pki = Pki::new();
    let files = pki.write(&pki.inter.issue(&[NAME]), "shop");
    let p = ports();
    let site = Site::new(p.ip, p.https, &[NAME], &files.chain, &files.key).http_port(p.http).redirect(false);
    let _nginx = Nginx::start(&[site]).unwrap();

    let findings = tls::check_host("web1", p.ip, &names(&[NAME]), &pki.policy(p.https, p.http));
    assert_finding(&findings, &format!("http redirect {NAME}"), Status::Warn, &["status 200"]);
    assert_finding(&findings, &format!("hsts {NAME}"), Status::Warn, &["no Strict-Transport-Security", "status 200"]);
    assert_finding(&findings, &format!("tls trust {NAME}"), Status::Pass, &[]);

    // No HTTP port at all.
    let closed = free_port(p.ip);
    let findings = tls::check_host("web1", p.ip, &names(&[NAME]), &pki.policy(p.https, closed));
    assert_finding(&findings, &format!("http redirect {NAME}"), Status::Warn, &["connection refused"]);
}

#[test]
fn servers_that_are_not_tls_refuse_or_never_answer_fail_promptly() {
    let ip: IpAddr = loopback_addr().into();
    // Answers in plain HTTP.
    let plain = TcpListener::bind((ip, 0)).unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in plain.incoming().flatten() {
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    // Accepts connections (the kernel does) but never answers.
    let silent = TcpListener::bind((ip, 0)).unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let closed = free_port(ip);

    let mut policy = policy(None, plain_port, closed);
    policy.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let not_tls = tls::check_host("web1", ip, &names(&[NAME]), &policy);
    assert_finding(&not_tls, &format!("tls connect {NAME}"), Status::Fail, &["not TLS", "HTTP/1.1 400"]);
    assert!(not_tls.iter().all(|f| !f.check.starts_with("tls trust")), "{}", show(&not_tls));

    policy.https_port = closed;
    let refused = tls::check_host("web1", ip, &names(&[NAME]), &policy);
    assert_finding(&refused, &format!("tls connect {NAME}"), Status::Fail, &["connection refused"]);
    assert_eq!(refused.len(), 2, "connect and redirect only:\n{}", show(&refused));

    let bad_name = tls::check_host("web1", ip, &names(&["not a name!"]), &policy);
    assert_finding(&bad_name, "tls connect not a name!", Status::Fail, &["not a valid server name"]);

    policy.https_port = silent_port;
    let t = Instant::now();
    let timeout = tls::check_host("web1", ip, &names(&[NAME, "www.shop.example.test"]), &policy);
    assert_finding(&timeout, &format!("tls connect {NAME}"), Status::Fail, &["timed out", "no answer"]);
    assert_finding(&timeout, "tls connect www.shop.example.test", Status::Fail, &["timed out"]);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "names are checked in parallel, within the timeout: {:?}",
        t.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(silent);
}

#[test]
fn certificate_files_before_install() {
    let pki = Pki::new();
    let good = pki.write(&pki.inter.issue(&[NAME, "www.shop.example.test"]), "good");
    let other = pki.write(&pki.inter.issue(&[NAME]), "other");
    let policy = pki.policy(443, 80);
    let both = names(&[NAME, "www.shop.example.test"]);

    let ok = tls::check_files(&good.chain, Some(&good.key), &both, &policy);
    assert!(ok.iter().all(|f| f.status == Status::Pass), "{}", show(&ok));
    let checks: Vec<&str> = ok.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks,
        ["tls trust", &format!("tls name {NAME}"), "tls name www.shop.example.test", "tls expiry", "tls key"]
    );
    assert_eq!(ok[0].host, good.chain.display().to_string());

    let mismatch = tls::check_files(&good.chain, Some(&other.key), &both, &policy);
    assert_finding(&mismatch, "tls key", Status::Fail, &["does not match"]);
    assert_finding(&mismatch, "tls trust", Status::Pass, &[]);

    let leaf_only = tls::check_files(&good.cert, None, &both, &policy);
    assert_finding(&leaf_only, "tls trust", Status::Fail, &["the file holds only the leaf", "missing intermediate"]);
    assert!(leaf_only.iter().all(|f| f.check != "tls key"));

    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let bad_cert = tls::check_files(&garbage, Some(&good.key), &both, &policy);
    assert_finding(&bad_cert, "tls cert file", Status::Fail, &["garbage.pem", "not a certificate chain"]);
    assert_finding(&bad_cert, "tls key", Status::Fail, &["not compared"]);

    let bad_key = tls::check_files(&good.chain, Some(&garbage), &both, &policy);
    assert_finding(&bad_key, "tls key", Status::Fail, &["garbage.pem", "not a private key"]);
    assert_finding(&bad_key, "tls trust", Status::Pass, &[]);

    let missing = pki.dir.path().join("missing.pem");
    let gone = tls::check_files(&missing, None, &both, &policy);
    assert_finding(&gone, "tls cert file", Status::Fail, &["missing.pem", "cannot read"]);
    assert_eq!(gone.len(), 1);

    let wrong_name = tls::check_files(&good.chain, None, &names(&["elsewhere.test"]), &policy);
    assert_finding(&wrong_name, "tls name elsewhere.test", Status::Fail, &["not covered"]);

    let _ = &pki.root;
}
