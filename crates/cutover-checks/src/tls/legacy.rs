//! Does a server still accept TLS 1.0 or 1.1? rustls cannot speak them, so this sends a minimal
//! hand-built TLS 1.1 ClientHello (legacy CBC suites for ECDSA and RSA certificates, SNI,
//! supported groups) and reads only the first record of the reply: a ServerHello names the
//! version the server chose, an alert means it refused.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;

/// What the server answered to a TLS 1.1 ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LegacyReply {
    /// A ServerHello with this version (`0x0301` TLS 1.0, `0x0302` TLS 1.1).
    Accepted(u16),
    /// An alert (its description), or a ServerHello for a version it should not have picked.
    Refused(String),
    /// The reply is not a TLS record.
    NotTls,
    /// No usable reply: the connection failed, closed or timed out.
    NoAnswer(String),
}

/// Legacy suites: ECDHE-ECDSA-AES128/256-SHA, ECDHE-RSA-AES128/256-SHA, AES128/256-SHA,
/// DES-CBC3-SHA, and the renegotiation SCSV.
const SUITES: [u16; 8] = [0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035, 0x000a, 0x00ff];

/// A ClientHello record offering at most `version` (0x0302 = TLS 1.1), with SNI `sni` unless it is
/// empty or an IP address.
pub(crate) fn client_hello(sni: &str, version: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(160);
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random());
    body.push(0); // empty session id
    body.extend_from_slice(&((SUITES.len() * 2) as u16).to_be_bytes());
    for suite in SUITES {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression methods: null

    let mut ext = Vec::new();
    if !sni.is_empty() && sni.parse::<std::net::IpAddr>().is_err() {
        let name = sni.trim_end_matches('.').as_bytes();
        let n = name.len() as u16;
        ext.extend_from_slice(&0u16.to_be_bytes()); // server_name
        ext.extend_from_slice(&(n + 5).to_be_bytes());
        ext.extend_from_slice(&(n + 3).to_be_bytes()); // server name list
        ext.push(0); // host_name
        ext.extend_from_slice(&n.to_be_bytes());
        ext.extend_from_slice(name);
    }
    // supported_groups: secp256r1, secp384r1, x25519
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x17, 0x00, 0x18, 0x00, 0x1d]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);

    let mut record = vec![0x16, 0x03, 0x01]; // handshake, record version TLS 1.0
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Reads the start of a server's reply: `None` while more bytes are needed.
pub(crate) fn parse_reply(buf: &[u8], offered: u16) -> Option<LegacyReply> {
    let &content_type = buf.first()?;
    if !(0x14..=0x18).contains(&content_type) || buf.get(1).is_some_and(|&major| major != 3) {
        return Some(LegacyReply::NotTls);
    }
    if buf.len() < 5 {
        return None;
    }
    let record = &buf[5..];
    match content_type {
        0x15 => {
            let &[_level, description, ..] = record else { return None };
            Some(LegacyReply::Refused(format!("alert {}", alert_name(description))))
        }
        0x16 => {
            // handshake: type(1) length(3) server_version(2)
            if record.len() < 6 {
                return None;
            }
            if record[0] != 2 {
                return Some(LegacyReply::Refused(format!("handshake message {} instead of a ServerHello", record[0])));
            }
            let version = u16::from_be_bytes([record[4], record[5]]);
            if (0x0301..=offered).contains(&version) {
                Some(LegacyReply::Accepted(version))
            } else {
                Some(LegacyReply::Refused(format!("ServerHello with version {version:#06x}")))
            }
        }
        other => Some(LegacyReply::Refused(format!("record type {other} before a ServerHello"))),
    }
}

/// The certificates of the server's Certificate message in `buf` (the server's first flight,
/// records from the start): `None` while more bytes are needed, an empty list when the flight
/// ended (ServerHelloDone, an alert, another record type) without one.
pub(crate) fn certificates(buf: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    // The handshake bytes of the complete records so far.
    let mut handshake = Vec::new();
    let mut rest = buf;
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + len {
            break;
        }
        if rest[0] != 0x16 {
            return Some(Vec::new());
        }
        handshake.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
    }
    let mut msgs = handshake.as_slice();
    while msgs.len() >= 4 {
        let len = u32::from_be_bytes([0, msgs[1], msgs[2], msgs[3]]) as usize;
        if msgs.len() < 4 + len {
            return None;
        }
        let body = &msgs[4..4 + len];
        match msgs[0] {
            11 => {
                let mut chain = Vec::new();
                let mut list = body.get(3..).unwrap_or_default();
                while list.len() >= 3 {
                    let n = u32::from_be_bytes([0, list[0], list[1], list[2]]) as usize;
                    let Some(der) = list.get(3..3 + n) else { break };
                    chain.push(CertificateDer::from(der.to_vec()));
                    list = &list[3 + n..];
                }
                return Some(chain);
            }
            14 => return Some(Vec::new()),
            _ => msgs = &msgs[4 + len..],
        }
    }
    None
}

/// Sends the ClientHello to `addr` and reads the reply, within `timeout` overall.
pub(crate) fn probe(addr: SocketAddr, sni: &str, timeout: Duration) -> LegacyReply {
    probe_chain(addr, sni, timeout, false).0
}

/// [`probe`], and when the server accepts and `want_chain`, the certificates it sends (empty when
/// they could not be read).
pub(crate) fn probe_chain(
    addr: SocketAddr,
    sni: &str,
    timeout: Duration,
    want_chain: bool,
) -> (LegacyReply, Vec<CertificateDer<'static>>) {
    let reply = exchange(addr, sni, timeout, |buf| {
        let reply = parse_reply(buf, OFFERED)?;
        if want_chain && matches!(reply, LegacyReply::Accepted(_)) {
            return Some((reply, certificates(buf)?));
        }
        Some((reply, Vec::new()))
    });
    match reply {
        Ok(done) => done,
        // Accepted, but the certificates did not all arrive: the version is known all the same.
        Err((reason, buf)) => match parse_reply(&buf, OFFERED) {
            Some(reply @ LegacyReply::Accepted(_)) => (reply, Vec::new()),
            _ => (LegacyReply::NoAnswer(reason), Vec::new()),
        },
    }
}

const OFFERED: u16 = 0x0302;

/// Sends the ClientHello and reads until `done` says it has seen enough; on failure, the reason
/// and what was read.
fn exchange<T>(
    addr: SocketAddr,
    sni: &str,
    timeout: Duration,
    done: impl Fn(&[u8]) -> Option<T>,
) -> Result<T, (String, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut sock = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => return Err((cutover_http::text::io_reason(&e), Vec::new())),
    };
    let _ = sock.set_write_timeout(Some(timeout));
    if let Err(e) = sock.write_all(&client_hello(sni, OFFERED)) {
        return Err((cutover_http::text::io_reason(&e), Vec::new()));
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            return Err((format!("no answer within {}", cutover_config::human::duration(timeout)), buf));
        };
        let _ = sock.set_read_timeout(Some(left));
        match sock.read(&mut chunk) {
            Ok(0) => return Err(("the server closed the connection".into(), buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err((cutover_http::text::io_reason(&e), buf)),
        }
        if let Some(result) = done(&buf) {
            return Ok(result);
        }
        if buf.len() > 256 * 1024 {
            return Err(("the server's first flight is larger than 256 KiB".into(), buf));
        }
    }
}

pub(crate) fn version_name(version: u16) -> &'static str {
    match version {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "an unknown version",
    }
}

fn alert_name(description: u8) -> String {
    match description {
        40 => "handshake_failure".into(),
        47 => "illegal_parameter".into(),
        50 => "decode_error".into(),
        70 => "protocol_version".into(),
        71 => "insufficient_security".into(),
        80 => "internal_error".into(),
        86 => "inappropriate_fallback".into(),
        112 => "unrecognized_name".into(),
        d => d.to_string(),
    }
}

/// ClientHello.random: uniqueness is all a probe needs.
fn random() -> [u8; 32] {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut out = [0u8; 32];
    let mut x = nanos as u64 ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    for chunk in out.chunks_mut(8) {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        chunk.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_is_well_formed() {
        let hello = client_hello("shop.example.com", 0x0302);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let record_len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1);
        let hs_len = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(hs_len, hello.len() - 9);
        assert_eq!(&hello[9..11], &[0x03, 0x02]);
        assert!(hello.windows(16).any(|w| w == b"shop.example.com"));
        // No SNI for an address.
        assert!(client_hello("127.0.0.1", 0x0302).len() < hello.len() - 16);
    }

    #[test]
    fn replies() {
        // ServerHello TLS 1.1, split over two reads.
        let hello = [0x16, 0x03, 0x02, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x02, 0xaa];
        assert_eq!(parse_reply(&hello[..7], 0x0302), None);
        assert_eq!(parse_reply(&hello, 0x0302), Some(LegacyReply::Accepted(0x0302)));
        let tls10 = [0x16, 0x03, 0x01, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x01];
        assert_eq!(parse_reply(&tls10, 0x0302), Some(LegacyReply::Accepted(0x0301)));
        // A server answering 1.2 to a 1.1 hello is broken, not legacy.
        let tls12 = [0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x03];
        assert!(matches!(parse_reply(&tls12, 0x0302), Some(LegacyReply::Refused(_))));
        let alert = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70];
        assert_eq!(parse_reply(&alert, 0x0302), Some(LegacyReply::Refused("alert protocol_version".into())));
        assert_eq!(parse_reply(&alert[..6], 0x0302), None);
        assert_eq!(parse_reply(b"HTTP/1.1 400 Bad Request\r\n", 0x0302), Some(LegacyReply::NotTls));
        assert_eq!(parse_reply(b"SSH-2.0-OpenSSH", 0x0302), Some(LegacyReply::NotTls));
        assert_eq!(parse_reply(&[], 0x0302), None);
    }

    #[test]
    fn certificates_of_the_first_flight() {
        let record = |payload: &[u8]| {
            let mut r = vec![0x16, 0x03, 0x02];
            r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            r.extend_from_slice(payload);
            r
        };
        let server_hello = [2, 0, 0, 2, 0x03, 0x02];
        // Certificate: list of two (3-byte lengths), split over two records.
        let certificate = [11, 0, 0, 13, 0, 0, 10, 0, 0, 2, 0xaa, 0xbb, 0, 0, 2, 0xcc, 0xdd];
        let mut flight = record(&server_hello);
        flight.extend(record(&certificate[..7]));
        assert_eq!(certificates(&flight), None);
        flight.extend(record(&certificate[7..]));
        let chain = certificates(&flight).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].as_ref(), &[0xaa, 0xbb]);
        assert_eq!(chain[1].as_ref(), &[0xcc, 0xdd]);
        // ServerHelloDone without a Certificate (anonymous suites): no chain.
        let mut done = record(&server_hello);
        done.extend(record(&[14, 0, 0, 0]));
        assert_eq!(certificates(&done), Some(Vec::new()));
        // An incomplete record waits for more.
        assert_eq!(certificates(&record(&server_hello)[..8]), None);
    }
}
