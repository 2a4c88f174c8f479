//! `cutover ready` end to end: the real binary against a real DNS server (dnsmasq, authoritative
//! for a test zone) and real nginx servers, one per host on a loopback address of its own, with
//! certificates made by the test. Hosts are ssh aliases whose `HostName` is that address, as
//! `ssh -G` reports it.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::IpAddr;
use std::path::Path;

use cutover_testkit::certs::{Ca, Leaf};
use cutover_testkit::dnsmasq::{Dnsmasq, Record};
use cutover_testkit::nginx::{Nginx, Site, free_port};
use serde_json::Value;
use support::cli::Project;

fn available() -> bool {
    cutover_testkit::require("dnsmasq", Dnsmasq::available())
        && cutover_testkit::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
}

/// A launch: hosts (ssh aliases → their own loopback address), the project and its config.
struct Launch {
    project: Project,
    hosts: Vec<IpAddr>,
    https_port: u16,
    http_port: u16,
    ca: Ca,
}

impl Launch {
    /// Hosts `web1`… at `hosts`; the config names `shop.ready.test` (+ `www.`), asks only `dns`
    /// and trusts the test CA.
    fn new(hosts: &[IpAddr], env_extra: &str, dns: &Dnsmasq) -> Self {
        let project = Project::new(&[], "/srv/unused", "", 0);
        let hosts = hosts.to_vec();
        let n = hosts.len();
        // Both ports free on every host's address (each address is new, so any free port is).
        let https_port = free_port(hosts[0]);
        let http_port = free_port(hosts[0]);
        let mut ssh_config = String::new();
        for (i, ip) in hosts.iter().enumerate() {
            ssh_config.push_str(&format!("Host web{}\n    HostName {ip}\n\n", i + 1));
        }
        ssh_config.push_str("Host nowhere\n    HostName nowhere.invalid\n\n");
        project.write("ssh_config", &ssh_config);
        let ca = Ca::new("cutover ready test root");
        std::fs::write(project.path().join("ca.pem"), ca.cert_pem()).unwrap();
        let host_list: Vec<String> = (1..=n).map(|i| format!("\"web{i}\"")).collect();
        project.write(
            "cutover.toml",
            &format!(
                "version = 1\n[app]\nname = \"shop\"\n\n[env.production]\nurl = \"https://shop.ready.test\"\n\
                 aliases = [\"www.shop.ready.test\"]\nhosts = [{}]\npath = \"/srv/shop\"\n{env_extra}\n\
                 [ssh]\nconfig = \"ssh_config\"\n[dns]\nresolvers = [\"{}\"]\ntimeout = \"1s\"\n\
                 [tls]\nextra_ca = \"ca.pem\"\nhttps_port = {https_port}\nhttp_port = {http_port}\ntimeout = \"2s\"\n",
                host_list.join(", "),
                dns.addr(),
            ),
        );
        Self { project, hosts, https_port, http_port, ca }
    }

    /// An nginx for host `i` (0-based) serving `leaf` for both names, redirecting HTTP and
    /// sending HSTS.
    fn serve(&self, i: usize, leaf: &Leaf) -> Nginx {
        let files = leaf.write(self.project.path(), &format!("host{i}"));
        let site = Site::new(
            self.hosts[i],
            self.https_port,
            &["shop.ready.test", "www.shop.ready.test"],
            &files.chain,
            &files.key,
        )
        .http_port(self.http_port)
        .hsts(true);
        Nginx::start(&[site]).expect("start nginx")
    }

    fn ready(&self, args: &[&str]) -> support::cli::Run {
        let mut all = vec!["ready"];
        all.extend_from_slice(args);
        self.project.cutover(&all)
    }
}

fn new_hosts(n: usize) -> Vec<IpAddr> {
    (0..n).map(|_| IpAddr::V4(cutover_testkit::loopback_addr())).collect()
}

fn zone(addrs: &[IpAddr], www: &[IpAddr]) -> Dnsmasq {
    Dnsmasq::start("ready.test", 300, &[Record::new("shop.ready.test", addrs), Record::new("www.shop.ready.test", www)])
}

/// The findings of a `--json` run as (check, host, result, detail).
fn findings(json: &Value) -> Vec<(String, String, String, String)> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("check"), s("host"), s("result"), s("detail"))
        })
        .collect()
}

fn result_of(json: &Value, check: &str, host: &str) -> (String, String) {
    findings(json)
        .into_iter()
        .find(|(c, h, _, _)| c == check && h.contains(host))
        .map(|(_, _, r, d)| (r, d))
        .unwrap_or_else(|| panic!("no `{check}` for `{host}` in {json:#}"))
}

#[test]
fn two_hosts_with_dns_and_certificates_right_are_ready_and_the_gate_is_recorded() {
    if !available() {
        return;
    }
    let hosts = new_hosts(2);
    let dns = zone(&hosts, &hosts);
    let launch = Launch::new(&hosts, "", &dns);
    let inter = launch.ca.intermediate("cutover ready test intermediate");
    let leaf = inter.issue(&["shop.ready.test", "www.shop.ready.test"]);
    let _n1 = launch.serve(0, &leaf);
    let _n2 = launch.serve(1, &leaf);

    let run = launch.ready(&[]).ok();
    // A table on stdout, one row per check.
    let header = run.stdout.lines().next().unwrap();
    assert!(header.starts_with("CHECK") && header.contains("HOST") && header.contains("RESULT"), "{}", run.stdout);
    assert!(run.stdout.contains("dns A shop.ready.test"), "{}", run.stdout);
    assert!(run.stderr.contains("ready: "), "{}", run.stderr);

    let run = launch.project.cutover(&["--json", "ready"]).ok();
    let json = run.json();
    assert_eq!(json["passed"], true, "{json:#}");
    assert_eq!(json["names"], serde_json::json!(["shop.ready.test", "www.shop.ready.test"]));
    let all = findings(&json);
    assert!(all.iter().all(|(_, _, r, _)| r == "pass"), "{json:#}");
    // DNS: both names, both hosts' addresses, from the configured server.
    let (result, detail) = result_of(&json, "dns A www.shop.ready.test", &dns.addr().to_string());
    assert_eq!(result, "pass");
    assert!(detail.contains(&hosts[0].to_string()) && detail.contains(&hosts[1].to_string()), "{detail}");
    // TLS: every host is checked on its own address.
    for host in ["web1", "web2"] {
        assert!(all.iter().any(|(c, h, _, _)| c.starts_with("tls") && h == host), "{host}: {json:#}");
        assert!(all.iter().any(|(c, h, _, _)| c.contains("redirect") && h == host), "{host}: {json:#}");
    }

    let state = cutover_state::State::open(launch.project.path()).unwrap();
    let gate = state.latest_gate("ready", "production").unwrap().expect("gate recorded");
    assert!(gate.passed);
    assert!(gate.evidence.contains("dns A shop.ready.test"), "{}", gate.evidence);
}

#[test]
fn wrong_dns_an_expired_certificate_and_a_wrong_name_fail_with_reasons() {
    if !available() {
        return;
    }
    let hosts = new_hosts(2);
    let (web1, web2) = (hosts[0], hosts[1]);
    let elsewhere: IpAddr = "198.51.100.7".parse().unwrap();
    let dns = zone(&[web1], &[elsewhere]);
    let launch = Launch::new(&hosts, "", &dns);
    let _n1 = launch.serve(0, &launch.ca.issue_expiring(&["shop.ready.test", "www.shop.ready.test"], -2));
    let _n2 = launch.serve(1, &launch.ca.issue(&["shop.ready.test"]));

    let table = launch.ready(&[]).code(1);
    assert!(table.stdout.lines().any(|l| l.starts_with("tls expiry") && l.contains("FAIL")), "{}", table.stdout);
    let run = launch.project.cutover(&["--json", "ready"]).code(1);
    let json = run.json();
    assert_eq!(json["passed"], false);
    assert!(run.stderr.contains("not ready"), "{}", run.stderr);
    // www points elsewhere; the apex does not list web2.
    let (result, detail) = result_of(&json, "dns A www.shop.ready.test", "");
    assert_eq!(result, "fail");
    assert!(detail.contains("198.51.100.7"), "{detail}");
    let (result, detail) = result_of(&json, "dns A shop.ready.test", "");
    assert_eq!(result, "warn");
    assert!(detail.contains(&format!("does not list {web2}")), "{detail}");
    // web1's certificate expired; web2's does not cover www.
    let expired: Vec<_> =
        findings(&json).into_iter().filter(|(c, h, r, _)| c.contains("expiry") && h == "web1" && r == "fail").collect();
    assert!(!expired.is_empty(), "{json:#}");
    let names: Vec<_> = findings(&json)
        .into_iter()
        .filter(|(c, h, r, _)| c.contains("www.shop.ready.test") && h == "web2" && r == "fail")
        .collect();
    assert!(!names.is_empty(), "{json:#}");
    // The failed verdict is recorded too.
    let state = cutover_state::State::open(launch.project.path()).unwrap();
    assert!(!state.latest_gate("ready", "production").unwrap().unwrap().passed);
}

#[test]
fn bad_answers_are_failed_checks_never_a_crash_or_a_hang() {
    if !available() {
        return;
    }
    // A DNS server that never answers, a host name that does not resolve, a host that is not
    // TLS and a host with nothing listening.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = zone(&[], &[]);
    let launch = Launch::new(&new_hosts(2), "", &dns);
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    let toml = toml
        .replace(&dns.addr().to_string(), &silent.local_addr().unwrap().to_string())
        .replace("hosts = [\"web1\", \"web2\"]", "hosts = [\"web1\", \"web2\", \"nowhere\"]");
    launch.project.write("cutover.toml", &toml);
    let plain = std::net::TcpListener::bind((launch.hosts[0], launch.https_port)).unwrap();
    let answer = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = plain.accept() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        }
    });
    let start = std::time::Instant::now();
    let run = launch.project.cutover(&["--json", "ready"]).code(1);
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
    let json = run.json();
    let (result, detail) = result_of(&json, "dns A shop.ready.test", "");
    assert_eq!(result, "fail");
    assert!(detail.contains("did not answer within 1s"), "{detail}");
    let (result, detail) = result_of(&json, "host address", "nowhere");
    assert_eq!(result, "fail");
    assert!(detail.contains("nowhere.invalid"), "{detail}");
    for host in ["web1", "web2"] {
        let failed: Vec<_> = findings(&json)
            .into_iter()
            .filter(|(c, h, r, _)| c.starts_with("tls") && h == host && r == "fail")
            .collect();
        assert!(!failed.is_empty(), "{host}: {json:#}");
    }
    answer.join().unwrap();
}

#[test]
fn a_certificate_file_is_checked_before_it_is_installed() {
    if !available() {
        return;
    }
    let dns = zone(&[], &[]);
    let launch = Launch::new(&new_hosts(1), "", &dns);
    let good = launch.ca.issue(&["shop.ready.test", "www.shop.ready.test"]).write(launch.project.path(), "good");
    let other = Leaf::self_signed(&["other.test"]).write(launch.project.path(), "other");
    let json = launch
        .project
        .cutover(&["--json", "ready", "--cert", good.chain.to_str().unwrap(), "--key", good.key.to_str().unwrap()])
        .json();
    let tls: Vec<_> = findings(&json).into_iter().filter(|(c, _, _, _)| c.starts_with("tls")).collect();
    assert!(!tls.is_empty() && tls.iter().all(|(_, _, r, _)| r == "pass"), "{json:#}");
    assert!(tls.iter().any(|(c, _, _, d)| c.contains("key") && d.contains("match")), "{json:#}");
    // The file's check does not open the `ready` gate (that is about the live hosts), but
    // pre-flight's TLS item takes it.
    launch.project.cutover(&["path", "fast"]).ok();
    let report = launch.project.cutover(&["--json", "preflight"]).json();
    let tls_item = report["items"].as_array().unwrap().iter().find(|i| i["number"] == 6).unwrap().clone();
    assert_eq!(tls_item["result"], "pass", "{report:#}");
    assert!(tls_item["detail"].as_str().unwrap().contains("certificate file passed"), "{report:#}");
    assert_eq!(tls_item["evidence"]["ready"]["standing"], "missing", "the ready gate stays closed: {report:#}");

    // The key of another certificate, and a file that is not a certificate.
    let run = launch.project.cutover(&[
        "--json",
        "ready",
        "--cert",
        good.chain.to_str().unwrap(),
        "--key",
        other.key.to_str().unwrap(),
    ]);
    let json = run.code(1).json();
    assert!(findings(&json).iter().any(|(c, _, r, _)| c.contains("key") && r == "fail"), "{json:#}");
    launch.project.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    let garbage = launch.project.path().join("garbage.pem");
    let json = launch.project.cutover(&["--json", "ready", "--cert", garbage.to_str().unwrap()]).code(1).json();
    assert!(
        findings(&json).iter().any(|(c, _, r, d)| c.starts_with("tls") && r == "fail" && d.contains("garbage.pem")),
        "{json:#}"
    );
}

#[test]
fn behind_cloudflare_an_origin_certificate_is_accepted_and_without_the_proxy_it_fails() {
    if !available() {
        return;
    }
    let proxy_ip: IpAddr = "104.16.132.229".parse().unwrap();
    let dns = zone(&[proxy_ip], &[proxy_ip]);
    let launch = Launch::new(&new_hosts(1), "proxy = \"cloudflare\"", &dns);
    let origin = Ca::origin_ca_like();
    std::fs::write(launch.project.path().join("ca.pem"), origin.cert_pem()).unwrap();
    let _n = launch.serve(0, &origin.issue(&["shop.ready.test", "www.shop.ready.test"]));
    let json = launch.project.cutover(&["--json", "ready"]).ok().json();
    assert_eq!(result_of(&json, "dns A shop.ready.test", "").0, "pass");
    let origin_only: Vec<_> =
        findings(&json).into_iter().filter(|(c, _, _, d)| c.starts_with("tls") && d.contains("origin")).collect();
    assert!(!origin_only.is_empty() && origin_only.iter().all(|(_, _, r, _)| r == "pass"), "{json:#}");

    // The same host and certificate with the proxy off: DNS and the origin certificate fail.
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    launch.project.write("cutover.toml", &toml.replace("proxy = \"cloudflare\"", ""));
    let json = launch.project.cutover(&["--json", "ready"]).code(1).json();
    let failed: Vec<_> = findings(&json)
        .into_iter()
        .filter(|(c, _, r, d)| c.starts_with("tls") && r == "fail" && d.to_lowercase().contains("proxied"))
        .collect();
    assert!(!failed.is_empty(), "{json:#}");
}

#[test]
fn without_configured_resolvers_the_system_resolver_and_every_authoritative_server_are_asked() {
    if !available() || !support::require("unshare", cutover_testkit::on_path("unshare")) {
        return;
    }
    let hosts = new_hosts(1);
    let dns = zone(&hosts, &hosts);
    let launch = Launch::new(&hosts, "", &dns);
    let _n = launch.serve(0, &launch.ca.issue(&["shop.ready.test", "www.shop.ready.test"]));
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    launch.project.write("cutover.toml", &toml.replace(&format!("resolvers = [\"{}\"]\n", dns.addr()), ""));
    // This machine's resolver is dnsmasq, in a mount namespace where resolv.conf says so.
    launch.project.write("resolv.conf", &format!("nameserver {}\n", dns.addr().ip()));
    let out = std::process::Command::new("unshare")
        .args(["--mount", "sh", "-c", "mount --bind resolv.conf /etc/resolv.conf && exec \"$0\" --json ready"])
        .arg(support::cli::bin())
        .current_dir(launch.project.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let ip = dns.addr().ip().to_string();
    // Each name from the resolver and from the zone's nameserver, found by its NS record.
    for name in ["shop.ready.test", "www.shop.ready.test"] {
        let check = format!("dns A {name}");
        assert_eq!(result_of(&json, &check, &format!("resolver {ip}")).0, "pass", "{json:#}");
        assert_eq!(result_of(&json, &check, &format!("ns1.ready.test ({ip})")).0, "pass", "{json:#}");
    }
}

#[test]
fn a_url_that_names_its_port_is_checked_on_that_port_and_aliases_on_https_port() {
    if !available() {
        return;
    }
    let hosts = new_hosts(1);
    let dns = zone(&hosts, &hosts);
    let launch = Launch::new(&hosts, "", &dns);
    let url_port = free_port(hosts[0]);
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    launch.project.write(
        "cutover.toml",
        &toml.replace("url = \"https://shop.ready.test\"", &format!("url = \"https://shop.ready.test:{url_port}/\"")),
    );
    // The URL's port serves the URL's name only; `[tls] https_port` serves the alias only.
    let shop = launch.ca.issue(&["shop.ready.test"]).write(launch.project.path(), "shop");
    let www = launch.ca.issue(&["www.shop.ready.test"]).write(launch.project.path(), "www");
    let site = |port: u16, name: &str, files: &cutover_testkit::certs::LeafFiles| {
        Site::new(hosts[0], port, &[name], &files.chain, &files.key).http_port(launch.http_port).hsts(true)
    };
    let _nginx =
        Nginx::start(&[site(url_port, "shop.ready.test", &shop), site(launch.https_port, "www.shop.ready.test", &www)])
            .expect("start nginx");

    let json = launch.project.cutover(&["--json", "ready"]).ok().json();
    for name in ["shop.ready.test", "www.shop.ready.test"] {
        let (result, detail) = result_of(&json, &format!("tls name {name}"), "web1");
        assert_eq!((result.as_str(), detail.as_str()), ("pass", format!("{name} is in the certificate").as_str()));
        assert_eq!(result_of(&json, &format!("hsts {name}"), "web1").0, "pass", "{json:#}");
    }
}

#[test]
fn a_url_whose_host_is_an_ip_address_is_not_looked_up_and_is_matched_against_ip_sans() {
    if !available() {
        return;
    }
    let hosts = new_hosts(1);
    let ip = hosts[0].to_string();
    let dns = zone(&hosts, &hosts);
    let launch = Launch::new(&hosts, "", &dns);
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    launch.project.write(
        "cutover.toml",
        &toml
            .replace("url = \"https://shop.ready.test\"", &format!("url = \"https://{ip}\""))
            .replace("aliases = [\"www.shop.ready.test\"]\n", ""),
    );
    // The certificate holds the address as an IP SAN (and no DNS name at all).
    let files = launch.ca.issue(&[&ip]).write(launch.project.path(), "ip");
    let site =
        Site::new(hosts[0], launch.https_port, &[&ip], &files.chain, &files.key).http_port(launch.http_port).hsts(true);
    let _nginx = Nginx::start(&[site]).expect("start nginx");

    let json = launch.project.cutover(&["--json", "ready"]).ok().json();
    assert_eq!(json["names"], serde_json::json!([ip]));
    let (result, detail) = result_of(&json, &format!("dns {ip}"), "-");
    assert_eq!(result, "pass", "{json:#}");
    assert!(detail.contains("an address, not a name: nothing to look up"), "{detail}");
    assert!(
        findings(&json).iter().all(|(c, _, _, _)| !c.starts_with(&format!("dns A {ip}"))),
        "no DNS question for an address: {json:#}"
    );
    let (result, detail) = result_of(&json, &format!("tls name {ip}"), "web1");
    assert_eq!((result.as_str(), detail.as_str()), ("pass", format!("{ip} is in the certificate").as_str()));
    assert_eq!(result_of(&json, &format!("tls trust {ip}"), "web1").0, "pass", "{json:#}");

    // An address that is not the environment's fails, still without a DNS question.
    let toml = std::fs::read_to_string(launch.project.path().join("cutover.toml")).unwrap();
    launch.project.write(
        "cutover.toml",
        &toml.replace("path = \"/srv/shop\"", "path = \"/srv/shop\"\nexpect_ips = [\"198.51.100.7\"]"),
    );
    let json = launch.project.cutover(&["--json", "ready"]).code(1).json();
    let (result, detail) = result_of(&json, &format!("dns {ip}"), "-");
    assert_eq!(result, "fail", "{json:#}");
    assert!(detail.contains("198.51.100.7"), "{detail}");
}
