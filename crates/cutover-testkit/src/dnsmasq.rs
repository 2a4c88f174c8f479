//! A real DNS server for a test zone: Debian's dnsmasq, authoritative for one domain, listening
//! on port 53 of a loopback address of its own (so it can also be the zone's nameserver
//! `ns1.<domain>`, which resolvers reach on port 53). dnsmasq answers with authority only on an
//! address an interface has, so the address is added to `lo` while the server runs (`ip addr`,
//! root) and removed on drop.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A record of the zone: a name (inside the zone) and its addresses.
#[derive(Debug, Clone)]
pub struct Record {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

impl Record {
    pub fn new(name: &str, addrs: &[IpAddr]) -> Self {
        Self { name: name.to_owned(), addrs: addrs.to_vec() }
    }
}

/// dnsmasq serving one zone with authority; stopped (by its pid) on drop.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    domain: String,
    _dir: tempfile::TempDir,
    _lo: LoAddress,
}

/// An address added to `lo`, removed on drop.
#[derive(Debug)]
struct LoAddress(std::net::Ipv4Addr);

impl LoAddress {
    fn add(ip: std::net::Ipv4Addr) -> Self {
        let status = Command::new("ip").args(["addr", "add", &format!("{ip}/32"), "dev", "lo"]).status();
        assert!(status.is_ok_and(|s| s.success()), "cannot add {ip} to lo (needs root and iproute2)");
        Self(ip)
    }
}

impl Drop for LoAddress {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{}/32", self.0), "dev", "lo"])
            .stderr(Stdio::null())
            .status();
    }
}

impl Dnsmasq {
    pub fn available() -> bool {
        std::path::Path::new(DNSMASQ).is_file() && crate::on_path("ip") && crate::is_root()
    }

    /// Starts dnsmasq for `domain` (its nameserver is `ns1.<domain>` at the server's own address)
    /// with `records`, all answered with `ttl` (dnsmasq's `--auth-ttl`: authoritative answers
    /// carry no per-record TTL).
    ///
    /// # Panics
    /// When dnsmasq cannot start or does not answer within 10 s.
    pub fn start(domain: &str, ttl: u32, records: &[Record]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        for attempt in 0.. {
            let ip = crate::loopback_addr();
            let lo = LoAddress::add(ip);
            let mut command = Command::new(DNSMASQ);
            command
                .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts"])
                .args(["--bind-interfaces", "--user=root", "--port=53"])
                .arg(format!("--auth-ttl={ttl}"))
                .arg(format!("--listen-address={ip}"))
                .arg(format!("--auth-server=ns1.{domain},{ip}"))
                .arg(format!("--auth-zone={domain}"))
                .arg(format!("--host-record=ns1.{domain},{ip}"))
                .arg(format!("--pid-file={}", dir.path().join("pid").display()))
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            // One address per `--host-record`: it takes at most one of each family.
            for r in records {
                for a in &r.addrs {
                    command.arg(format!("--host-record={},{a}", r.name));
                }
            }
            let mut child = command.spawn().expect("start dnsmasq");
            let addr = SocketAddr::new(IpAddr::V4(ip), 53);
            // dnsmasq exits at once when the address is taken; give it a moment to say so.
            std::thread::sleep(Duration::from_millis(50));
            if let Ok(Some(status)) = child.try_wait() {
                assert!(attempt < 5, "dnsmasq exited with {status} five times");
                continue;
            }
            let server = Self { child, addr, domain: domain.to_owned(), _dir: dir, _lo: lo };
            server.wait_ready();
            return server;
        }
        unreachable!()
    }

    /// Where to send queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        let socket = UdpSocket::bind("0.0.0.0:0").expect("udp socket");
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        // A minimal query for `ns1.<domain>` A: any reply means dnsmasq is serving.
        let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in format!("ns1.{}", self.domain).split('.') {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut buf = [0u8; 512];
        loop {
            socket.send_to(&query, self.addr).expect("send a DNS query");
            if socket.recv(&mut buf).is_ok() {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "dnsmasq did not start answering on {}", self.addr);
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
