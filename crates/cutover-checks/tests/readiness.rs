//! The DNS half of `cutover ready` against a real authoritative server (dnsmasq on port 53 of
//! its own loopback address, which is also its zone's `ns1`): answers per server, families,
//! TTLs, the proxy, and servers that fail.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use cutover_checks::readiness::{DnsPlan, Expected, Servers, check_dns};
use cutover_checks::{Finding, Status};
use cutover_testkit::dnsmasq::{Dnsmasq, Record};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn zone() -> Option<Dnsmasq> {
    zone_with_ttl(300)
}

fn zone_with_ttl(ttl: u32) -> Option<Dnsmasq> {
    if !cutover_testkit::require("dnsmasq", Dnsmasq::available()) {
        return None;
    }
    Some(Dnsmasq::start(
        "launch.test",
        ttl,
        &[
            Record::new("shop.launch.test", &[ip("203.0.113.5")]),
            Record::new("www.shop.launch.test", &[ip("203.0.113.5"), ip("2001:db8::5")]),
            Record::new("old.launch.test", &[ip("198.51.100.7")]),
            Record::new("cdn.launch.test", &[ip("104.16.132.229")]),
        ],
    ))
}

fn plan(names: &[&str], expected: Expected, servers: Servers) -> DnsPlan {
    DnsPlan {
        names: names.iter().map(|s| s.to_string()).collect(),
        expected,
        servers,
        timeout: Duration::from_millis(800),
    }
}

fn find<'a>(findings: &'a [Finding], check: &str, host_part: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.check == check && f.host.contains(host_part))
        .unwrap_or_else(|| panic!("no finding `{check}` for `{host_part}` in {findings:#?}"))
}

#[test]
fn through_the_system_resolver_every_authoritative_server_is_asked_too() {
    let Some(zone) = zone() else { return };
    let expected = Expected::Addresses(vec![ip("203.0.113.5")]);
    let findings = check_dns(&plan(&["shop.launch.test"], expected, Servers::System(vec![zone.addr()])));
    // The resolver and the zone's nameserver, found by its NS record and asked without recursion.
    let resolver = find(&findings, "dns A shop.launch.test", "resolver");
    assert_eq!((resolver.status, resolver.detail.as_str()), (Status::Pass, "203.0.113.5 (ttl 300s)"));
    let ns = find(&findings, "dns A shop.launch.test", "ns1.launch.test");
    assert_eq!(ns.status, Status::Pass, "{ns:?}");
    assert_eq!(ns.host, format!("ns1.launch.test ({})", zone.addr().ip()));
    // IPv4-only hosts need no AAAA.
    assert_eq!(find(&findings, "dns AAAA shop.launch.test", "ns1").status, Status::Pass);
    assert!(findings.iter().all(|f| f.status == Status::Pass), "{findings:#?}");
}

#[test]
fn wrong_missing_and_slow_names_are_failures_and_warnings() {
    let Some(zone) = zone() else { return };
    let expected = Expected::Addresses(vec![ip("203.0.113.5"), ip("2001:db8::5")]);
    let names = ["shop.launch.test", "www.shop.launch.test", "old.launch.test", "gone.launch.test"];
    let findings = check_dns(&plan(&names, expected.clone(), Servers::Only(vec![zone.addr()])));
    let host = zone.addr().to_string();
    // Dual-stack hosts: a name without AAAA fails that family.
    assert_eq!(find(&findings, "dns A shop.launch.test", &host).status, Status::Pass);
    let aaaa = find(&findings, "dns AAAA shop.launch.test", &host);
    assert_eq!((aaaa.status, aaaa.detail.as_str()), (Status::Fail, "no AAAA record"));
    assert_eq!(find(&findings, "dns AAAA www.shop.launch.test", &host).status, Status::Pass);
    let old = find(&findings, "dns A old.launch.test", &host);
    assert_eq!(old.status, Status::Fail);
    assert!(old.detail.contains("198.51.100.7 is not the environment's"), "{old:?}");
    let gone = find(&findings, "dns A gone.launch.test", &host);
    assert_eq!((gone.status, gone.detail.as_str()), (Status::Fail, "the name does not exist (NXDOMAIN)"));
}

#[test]
fn a_ttl_above_five_minutes_is_a_warning() {
    let Some(zone) = zone_with_ttl(3600) else { return };
    let expected = Expected::Addresses(vec![ip("203.0.113.5")]);
    let findings = check_dns(&plan(&["shop.launch.test"], expected, Servers::Only(vec![zone.addr()])));
    let slow = find(&findings, "dns A shop.launch.test", "");
    assert_eq!(slow.status, Status::Warn);
    assert!(slow.detail.contains("ttl 3600s") && slow.detail.contains("TTL above 300s"), "{slow:?}");
}

#[test]
fn a_proxied_name_must_resolve_to_the_proxy() {
    let Some(zone) = zone() else { return };
    let findings = check_dns(&plan(
        &["cdn.launch.test", "shop.launch.test"],
        Expected::Cloudflare,
        Servers::Only(vec![zone.addr()]),
    ));
    assert_eq!(find(&findings, "dns A cdn.launch.test", "").status, Status::Pass);
    let origin = find(&findings, "dns A shop.launch.test", "");
    assert_eq!(origin.status, Status::Fail);
    assert!(origin.detail.contains("Cloudflare's proxy"), "{origin:?}");
}

#[test]
fn a_silent_server_is_a_failed_finding_within_the_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    let start = Instant::now();
    let expected = Expected::Addresses(vec![ip("203.0.113.5")]);
    let findings = check_dns(&plan(&["shop.launch.test", "www.launch.test"], expected, Servers::Only(vec![addr])));
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    let f = find(&findings, "dns A shop.launch.test", &addr.to_string());
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.detail, format!("DNS server {addr} did not answer within 800ms"));
    // Nothing to ask: also a finding, not a panic.
    let none = check_dns(&plan(&["shop.launch.test"], Expected::Cloudflare, Servers::System(vec![])));
    assert!(none.iter().any(|f| f.status == Status::Fail && f.detail.contains("no DNS server")), "{none:#?}");
}
