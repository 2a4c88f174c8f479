//! DNS queries against a real server: dnsmasq serving a test zone with authority, and a socket
//! that never answers.

use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

use cutover_checks::dns::{self, DnsError, Kind};
use cutover_testkit::dnsmasq::{Dnsmasq, Record};

fn zone() -> Option<Dnsmasq> {
    if !cutover_testkit::require("dnsmasq", Dnsmasq::available()) {
        return None;
    }
    let v4: IpAddr = [127, 0, 0, 5].into();
    let v6: IpAddr = "::5".parse().unwrap();
    Some(Dnsmasq::start(
        "example.test",
        600,
        &[Record::new("shop.example.test", &[v4]), Record::new("www.shop.example.test", &[v4, v6])],
    ))
}

const T: Duration = Duration::from_secs(2);

#[test]
fn answers_carry_addresses_ttls_and_authority() {
    let Some(zone) = zone() else { return };
    let a = dns::query(zone.addr(), "shop.example.test", Kind::A, false, T).unwrap();
    assert!(a.authoritative && a.is_noerror());
    assert_eq!(a.addresses(), [IpAddr::from([127, 0, 0, 5])]);
    assert_eq!(a.min_ttl(), Some(600));
    let aaaa = dns::query(zone.addr(), "www.shop.example.test", Kind::Aaaa, false, T).unwrap();
    assert_eq!(aaaa.addresses(), ["::5".parse::<IpAddr>().unwrap()]);
    assert_eq!(aaaa.min_ttl(), Some(600));
    // A name with only an IPv4 address has no AAAA: an empty answer, not an error.
    let none = dns::query(zone.addr(), "shop.example.test", Kind::Aaaa, false, T).unwrap();
    assert!(none.addresses().is_empty() && !none.is_nxdomain());
}

#[test]
fn a_missing_name_is_nxdomain_and_the_zone_and_its_servers_are_found() {
    let Some(zone) = zone() else { return };
    let missing = dns::query(zone.addr(), "nothere.example.test", Kind::A, false, T).unwrap();
    assert!(missing.is_nxdomain(), "{missing:?}");
    assert_eq!(missing.zone.as_deref(), Some("example.test"));
    let (name, servers) = dns::authoritative_servers(zone.addr(), "www.shop.example.test", T).unwrap();
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
