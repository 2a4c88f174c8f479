//! DNS queries against a real server: dnsmasq serving a test zone with authority on a loopback
//! port, and a socket that never answers.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutover_checks::dns::{self, DnsError, Kind};

/// A dnsmasq serving `example.test` with authority; stopped (by its pid) on drop.
struct Zone {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Zone {
    fn start() -> Option<Self> {
        let available = std::path::Path::new("/usr/sbin/dnsmasq").exists();
        if !available {
            assert!(
                std::env::var("CUTOVER_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "dnsmasq is not available, and CUTOVER_REQUIRE_SERVICES=1 requires it (set up with .ci/setup)"
            );
            eprintln!("skipping: dnsmasq is not available (set up with .ci/setup)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("/usr/sbin/dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"])
            .args(["--listen-address=127.0.0.1", "--user=root", "--auth-server=ns1.example.test,127.0.0.1"])
            .args(["--auth-zone=example.test", "--auth-ttl=600"])
            .args([
                "--host-record=shop.example.test,127.0.0.5,600",
                "--host-record=www.shop.example.test,127.0.0.5,::5",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let zone = Self { child, addr: ([127, 0, 0, 1], port).into(), _dir: dir };
        let start = Instant::now();
        while dns::query(zone.addr, "shop.example.test", Kind::A, false, Duration::from_millis(200)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "dnsmasq did not start answering");
        }
        Some(zone)
    }
}

impl Drop for Zone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const T: Duration = Duration::from_secs(2);

#[test]
fn answers_carry_addresses_ttls_and_authority() {
    let Some(zone) = Zone::start() else { return };
    let a = dns::query(zone.addr, "shop.example.test", Kind::A, false, T).unwrap();
    assert!(a.authoritative);
    assert_eq!(a.addresses(), [IpAddr::from([127, 0, 0, 5])]);
    assert_eq!(a.min_ttl(), Some(600));
    let aaaa = dns::query(zone.addr, "www.shop.example.test", Kind::Aaaa, false, T).unwrap();
    assert_eq!(aaaa.addresses(), ["::5".parse::<IpAddr>().unwrap()]);
    assert_eq!(aaaa.min_ttl(), Some(600), "dnsmasq answers its zone with --auth-ttl");
    // A name with only an IPv4 address has no AAAA: an empty answer, not an error.
    let none = dns::query(zone.addr, "shop.example.test", Kind::Aaaa, false, T).unwrap();
    assert!(none.addresses().is_empty() && !none.is_nxdomain());
}

#[test]
fn a_missing_name_is_nxdomain_and_the_zone_and_its_servers_are_found() {
    let Some(zone) = Zone::start() else { return };
    let missing = dns::query(zone.addr, "nothere.example.test", Kind::A, false, T).unwrap();
    assert!(missing.is_nxdomain(), "{missing:?}");
    assert_eq!(missing.zone.as_deref(), Some("example.test"));
    let (name, servers) = dns::authoritative_servers(zone.addr, "www.shop.example.test", T).unwrap();
    assert_eq!((name.as_str(), servers), ("example.test", vec!["ns1.example.test".to_owned()]));
}

#[test]
fn a_server_that_never_answers_times_out_and_a_bad_name_is_an_error() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let start = Instant::now();
    let err = dns::query(addr, "shop.example.test", Kind::A, true, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, DnsError::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "a timeout never hangs");
    assert_eq!(err.to_string(), format!("DNS server {addr} did not answer within 300ms"));
    let err = dns::query(addr, "a..b", Kind::A, true, T).unwrap_err();
    assert!(matches!(err, DnsError::BadName { .. }), "{err}");
}
