//! Pebble, Let's Encrypt's ACME test server, with `pebble-challtestsrv` as the DNS server its
//! validation authority asks: a real ACME CA on a loopback address of its own.
//!
//! Pebble serves its directory over HTTPS with a certificate made here (an ECDSA P-256 CA and a
//! leaf for the listen address and `localhost`); [`Pebble::https_ca_path`] is that CA, for the
//! client under test to trust. What Pebble issues chains to a root it makes at start, fetched
//! from its management interface: [`Pebble::root_pem`]. Names resolve through challtestsrv:
//! [`Pebble::add_a`] points a name at a test web server (HTTP-01 connects to that address on
//! [`Pebble::http_port`]), and a DNS-01 hook posts TXT records to
//! [`Pebble::challtestsrv_url`]`/set-txt`. Unknown names resolve to Pebble's own address, where
//! nothing serves HTTP: validation fails fast instead of reaching some other test's server.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::{loopback_addr, on_path};

/// Whether this machine can run [`Pebble`]: `pebble`, `pebble-challtestsrv` and `openssl` (used
/// to fetch the issuing root over HTTPS) on `PATH`.
pub fn available() -> bool {
    on_path("pebble") && on_path("pebble-challtestsrv") && on_path("openssl")
}

/// A running Pebble and its challtestsrv, both stopped (by pid) on drop.
#[derive(Debug)]
pub struct Pebble {
    dir: tempfile::TempDir,
    addr: Ipv4Addr,
    acme_port: u16,
    management_port: u16,
    http_port: u16,
    dns_port: u16,
    challtestsrv_port: u16,
    pebble: Option<Child>,
    challtestsrv: Option<Child>,
    root_pem: String,
}

impl Pebble {
    /// Starts challtestsrv, then Pebble, and waits until both answer; panics (with the servers'
    /// logs) if they do not within 15 s.
    pub fn start() -> Pebble {
        let addr = loopback_addr();
        let dir = tempfile::tempdir().expect("temp dir for pebble");
        let [acme_port, management_port, dns_port, challtestsrv_port] = free_ports(addr);
        // The port Pebble's VA connects to for HTTP-01, on whatever address a name resolves to:
        // free on the wildcard address, so free on every test's own loopback address too.
        let [http_port, tls_port] = free_ports(Ipv4Addr::UNSPECIFIED);

        let (ca_pem, cert_pem, key_pem) = https_certificates(addr);
        std::fs::write(dir.path().join("https-ca.pem"), ca_pem).unwrap();
        std::fs::write(dir.path().join("https-cert.pem"), cert_pem).unwrap();
        std::fs::write(dir.path().join("https-key.pem"), key_pem).unwrap();
        let config = format!(
            r#"{{"pebble": {{
  "listenAddress": "{addr}:{acme_port}",
  "managementListenAddress": "{addr}:{management_port}",
  "certificate": "{cert}",
  "privateKey": "{key}",
  "httpPort": {http_port},
  "tlsPort": {tls_port},
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false
}}}}
"#,
            cert = dir.path().join("https-cert.pem").display(),
            key = dir.path().join("https-key.pem").display(),
        );
        std::fs::write(dir.path().join("pebble-config.json"), config).unwrap();

        let base = dir.path().to_owned();
        let log = |name: &str| {
            let file = std::fs::File::create(base.join(name)).expect("log file");
            (Stdio::from(file.try_clone().expect("log file")), Stdio::from(file))
        };
        let (out, err) = log("challtestsrv.log");
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", &addr.to_string(), "-defaultIPv6", ""])
            .args(["-dns01", &format!("{addr}:{dns_port}")])
            .args(["-management", &format!("{addr}:{challtestsrv_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start pebble-challtestsrv");
        let mut pebble = Pebble {
            dir,
            addr,
            acme_port,
            management_port,
            http_port,
            dns_port,
            challtestsrv_port,
            pebble: None,
            challtestsrv: Some(challtestsrv),
            root_pem: String::new(),
        };
        pebble.wait_for("challtestsrv", challtestsrv_port);

        let (out, err) = log("pebble.log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(pebble.dir.path().join("pebble-config.json"))
            .args(["-dnsserver", &format!("{addr}:{dns_port}"), "-strict=false"])
            // No random 0-15 s sleeps before validation; no rejected nonces.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start pebble");
        pebble.pebble = Some(child);
        pebble.wait_for("pebble", acme_port);
        pebble.wait_for("pebble management", management_port);
        pebble.root_pem = pebble.fetch_root();
        pebble
    }

    /// The ACME directory, `https://ADDR:PORT/dir`.
    pub fn directory_url(&self) -> String {
        format!("https://{}:{}/dir", self.addr, self.acme_port)
    }

    /// PEM file of the CA that signs Pebble's HTTPS certificate (not what Pebble issues).
    pub fn https_ca_path(&self) -> PathBuf {
        self.dir.path().join("https-ca.pem")
    }

    /// The root that certificates issued by this Pebble chain to (PEM).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The port Pebble's validation authority connects to for HTTP-01, on the address a name
    /// resolves to.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The address Pebble and challtestsrv listen on.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The DNS server Pebble resolves names with (challtestsrv).
    pub fn dns_server(&self) -> SocketAddr {
        SocketAddr::from((self.addr, self.dns_port))
    }

    /// challtestsrv's management API, `http://ADDR:PORT` (POST `/set-txt` with
    /// `{"host":"_acme-challenge.NAME.","value":"…"}` adds a TXT value, `/clear-txt` with
    /// `{"host":…}` removes all of a name's).
    pub fn challtestsrv_url(&self) -> String {
        format!("http://{}:{}", self.addr, self.challtestsrv_port)
    }

    /// Makes `name` resolve to `ip` for Pebble's validation authority.
    pub fn add_a(&self, name: &str, ip: Ipv4Addr) {
        let name = name.trim_end_matches('.');
        self.challtestsrv_post("/add-a", &format!(r#"{{"host":"{name}.","addresses":["{ip}"]}}"#));
    }

    /// POSTs `body` (JSON) to challtestsrv's management API; panics unless it answers 200.
    pub fn challtestsrv_post(&self, path: &str, body: &str) {
        let mut stream = TcpStream::connect((self.addr, self.challtestsrv_port)).expect("connect to challtestsrv");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("challtestsrv answer");
        let status = answer.lines().next().unwrap_or_default();
        assert!(status.contains(" 200"), "challtestsrv {path} {body}: {status}");
    }

    /// Pebble's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// Stops both servers now (a test that proves the ACME server is not contacted); drop does
    /// the same.
    pub fn stop(&mut self) {
        for child in [self.pebble.take(), self.challtestsrv.take()].into_iter().flatten() {
            stop_child(child);
        }
    }

    fn wait_for(&mut self, what: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect_timeout(&SocketAddr::from((self.addr, port)), Duration::from_millis(200)).is_ok() {
                return;
            }
            let exited = [self.pebble.as_mut(), self.challtestsrv.as_mut()]
                .into_iter()
                .flatten()
                .any(|child| !matches!(child.try_wait(), Ok(None)));
            if exited || Instant::now() > deadline {
                let logs = self.logs();
                self.stop();
                panic!("{what} did not start on {}:{port}\n{logs}", self.addr);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("--- pebble.log\n{}--- challtestsrv.log\n{}", read("pebble.log"), read("challtestsrv.log"))
    }

    /// `GET /roots/0` on the management interface (HTTPS with the CA made here), via
    /// `openssl s_client`, so this kit needs no TLS client of its own.
    fn fetch_root(&mut self) -> String {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_return_error", "-verify_ip", &self.addr.to_string()])
            .arg("-CAfile")
            .arg(self.https_ca_path())
            .args(["-connect", &format!("{}:{}", self.addr, self.management_port)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openssl s_client");
        let request = format!("GET /roots/0 HTTP/1.0\r\nHost: {}:{}\r\n\r\n", self.addr, self.management_port);
        child.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
        let output = child.wait_with_output().expect("openssl s_client");
        let text = String::from_utf8_lossy(&output.stdout);
        let begin = text.find("-----BEGIN CERTIFICATE-----");
        let end = text.find("-----END CERTIFICATE-----");
        match (begin, end) {
            (Some(b), Some(e)) if b < e => format!("{}-----END CERTIFICATE-----\n", &text[b..e]),
            _ => {
                let logs = self.logs();
                self.stop();
                panic!("no root from pebble's /roots/0: {text}\n{}\n{logs}", String::from_utf8_lossy(&output.stderr));
            }
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stop_child(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `N` distinct TCP ports nothing listens on at `addr` right now: all held until all are
/// chosen (one released before the next is asked for may be handed out again, as CI saw
/// with Pebble's management port and the DNS server's).
fn free_ports<const N: usize>(addr: Ipv4Addr) -> [u16; N] {
    let held: Vec<TcpListener> = (0..N).map(|_| TcpListener::bind((addr, 0)).expect("free port")).collect();
    std::array::from_fn(|i| held[i].local_addr().expect("a bound port").port())
}

/// (CA PEM, leaf certificate PEM, leaf key PEM): Pebble's HTTPS identity for `addr` and
/// `localhost`, ECDSA P-256, valid from yesterday for 30 days.
fn https_certificates(addr: Ipv4Addr) -> (String, String, String) {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "cutover test: pebble HTTPS CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(30);
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec![addr.to_string(), "localhost".to_owned()]).expect("leaf names");
    leaf.distinguished_name.push(DnType::CommonName, "pebble");
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(30);
    let cert = leaf.signed_by(&key, &issuer).expect("leaf certificate");
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        if !crate::require("pebble", available()) {
            return;
        }
        let mut pebble = Pebble::start();
        assert!(pebble.root_pem().starts_with("-----BEGIN CERTIFICATE-----"), "{}", pebble.root_pem());
        assert!(pebble.directory_url().ends_with("/dir"));
        pebble.add_a("example.test", Ipv4Addr::new(127, 0, 0, 9));
        pebble.challtestsrv_post("/set-txt", r#"{"host":"_acme-challenge.example.test.","value":"x"}"#);
        let addr = SocketAddr::from((pebble.addr(), pebble.acme_port));
        pebble.stop();
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
    }
}
