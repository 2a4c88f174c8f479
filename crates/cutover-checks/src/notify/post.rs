//! One `POST` of a JSON body over HTTP/1.1 (`Connection: close`), plain or over rustls (ring,
//! webpki against the system roots and `[tls] extra_ca`), all of it within one deadline: the name
//! lookup, the connect, the handshake, the request and the response head.
//!
//! Kept to what a webhook needs (no redirects, no proxies, no keep-alive). When the general HTTP
//! client of the smoke checks (`crate::http`) lands, this is meant to become a call to it.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use url::{Host, Position, Url};

use super::error::Failure;
use crate::tls::Trust;

/// How much of a response is read: the head, and this much of the body for an error message.
const MAX_HEAD: usize = 64 * 1024;
const BODY_EXCERPT: usize = 2048;

/// The answer to a POST.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    /// The status line's reason phrase (`Internal Server Error`).
    pub reason: String,
    /// The start of the body, as text.
    pub body: String,
    /// `Retry-After` in seconds, when the server sent one.
    pub retry_after: Option<Duration>,
}

/// A rustls client that verifies servers against the system's roots and the extra CA of `trust`,
/// as [`Trust`] judges certificates.
pub(crate) fn tls_config(trust: &Trust) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = trust.extra_ca() {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        for cert in crate::tls::cert::parse_chain_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))? {
            roots.add(cert).map_err(|e| format!("{}: unusable CA certificate: {e}", path.display()))?;
        }
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// POSTs `body` as `application/json` to `url`, within `timeout` in all.
pub(crate) fn post_json(url: &Url, body: &[u8], tls: &Arc<ClientConfig>, timeout: Duration) -> Result<Answer, Failure> {
    let deadline = Instant::now() + timeout;
    let left = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    let host = url.host().ok_or_else(|| Failure::Setup("the URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = resolve(&host, port, timeout)?;
    let mut sock = None;
    let mut last = String::new();
    for addr in &addrs {
        let Some(left) = left() else { return Err(Failure::Timeout(timeout)) };
        match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) if is_timeout(&e) => last = format!("connecting to {addr}: timed out"),
            Err(e) => last = format!("connecting to {addr}: {}", reason(&e)),
        }
    }
    let Some(sock) = sock else {
        return Err(if left().is_none() {
            Failure::Timeout(timeout)
        } else {
            Failure::Unreachable { reason: last, retry: true }
        });
    };
    let _ = sock.set_nodelay(true);
    let request = request_bytes(url, body);
    if url.scheme() == "https" {
        let name = match &host {
            Host::Domain(d) => ServerName::try_from(d.to_string()),
            Host::Ipv4(ip) => Ok(ServerName::IpAddress(IpAddr::V4(*ip).into())),
            Host::Ipv6(ip) => Ok(ServerName::IpAddress(IpAddr::V6(*ip).into())),
        }
        .map_err(|e| Failure::Setup(format!("not a TLS server name: {e}")))?;
        let conn = ClientConnection::new(tls.clone(), name).map_err(|e| Failure::Setup(format!("TLS setup: {e}")))?;
        let mut stream = StreamOwned::new(conn, sock);
        exchange(&mut stream, &request, deadline, timeout, |s, t| {
            let _ = s.sock.set_read_timeout(Some(t));
            let _ = s.sock.set_write_timeout(Some(t));
        })
    } else {
        let mut sock = sock;
        exchange(&mut sock, &request, deadline, timeout, |s, t| {
            let _ = s.set_read_timeout(Some(t));
            let _ = s.set_write_timeout(Some(t));
        })
    }
}

/// The addresses of `host`; a name is looked up in a thread of its own, so a resolver that does
/// not answer costs at most `timeout`.
fn resolve(host: &Host<&str>, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, Failure> {
    let name = match host {
        Host::Ipv4(ip) => return Ok(vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
        Host::Ipv6(ip) => return Ok(vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
        Host::Domain(d) => d.to_string(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let lookup = name.clone();
    std::thread::spawn(move || {
        let _ = tx.send((lookup.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Failure::Unreachable { reason: format!("`{name}` has no address"), retry: true }),
        Ok(Err(e)) => {
            Err(Failure::Unreachable { reason: format!("cannot resolve `{name}`: {}", reason(&e)), retry: true })
        }
        Err(_) => Err(Failure::Timeout(timeout)),
    }
}

fn request_bytes(url: &Url, body: &[u8]) -> Vec<u8> {
    let target = &url[Position::BeforePath..Position::AfterQuery];
    let target = if target.is_empty() { "/" } else { target };
    let host = &url[Position::BeforeHost..Position::AfterPort];
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cutover/{}\r\nContent-Type: application/json\r\n\
         Accept: */*\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Sends `request` and reads the answer's head and the start of its body, until `deadline`.
fn exchange<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    deadline: Instant,
    timeout: Duration,
    set_timeout: impl Fn(&mut S, Duration),
) -> Result<Answer, Failure> {
    let left = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    let Some(t) = left() else { return Err(Failure::Timeout(timeout)) };
    set_timeout(stream, t);
    stream.write_all(request).and_then(|()| stream.flush()).map_err(|e| io_failure(&e, timeout, "sending"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut head: Option<(Answer, usize, Option<usize>, bool)> = None;
    loop {
        if let Some((_, start, length, _)) = &head {
            let have = buf.len() - start;
            if have >= BODY_EXCERPT || length.is_some_and(|n| have >= n) {
                break;
            }
        }
        let Some(t) = left() else {
            if head.is_some() {
                break;
            }
            return Err(Failure::Timeout(timeout));
        };
        set_timeout(stream, t);
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // Once the head is in, the answer stands whatever happens to the rest of the body (a
            // server closing without TLS close_notify, a slow body).
            Err(_) if head.is_some() => break,
            Err(e) => return Err(io_failure(&e, timeout, "reading the answer")),
        }
        if head.is_none() {
            head = parse_head(&buf)?;
            // A success needs no body.
            if head.as_ref().is_some_and(|(a, ..)| is_success(a.status)) {
                break;
            }
        }
    }
    let Some((mut answer, start, _, chunked)) = head else {
        let reason = if buf.is_empty() {
            "the server closed the connection without an answer"
        } else {
            "the server closed the connection in the middle of the answer"
        };
        return Err(Failure::Unreachable { reason: reason.into(), retry: true });
    };
    let mut body = &buf[start.min(buf.len())..];
    if chunked {
        // The first chunk is enough for an error message.
        if let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
            body = &body[i + 2..];
        }
    }
    let text: String = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    answer.body = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(answer)
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The head from the start of `buf`: the answer, where the body starts, its `Content-Length`, and
/// whether it is chunked. `Ok(None)` while the blank line has not arrived.
#[allow(clippy::type_complexity)]
fn parse_head(buf: &[u8]) -> Result<Option<(Answer, usize, Option<usize>, bool)>, Failure> {
    let bad = |why: String| Failure::Unreachable { reason: why, retry: true };
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if !buf.is_empty() && !b"HTTP/".starts_with(&buf[..buf.len().min(5)]) {
            return Err(bad("the server's answer is not HTTP".into()));
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("the answer's head is larger than 64 KiB".into()));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|c| c.parse::<u16>().ok()).filter(|_| version.starts_with("HTTP/1."));
    let Some(status) = status else {
        return Err(bad(format!("bad status line {:?}", status_line.chars().take(60).collect::<String>())));
    };
    let reason = parts.next().unwrap_or_default().trim().to_string();
    let (mut length, mut chunked, mut retry_after) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    Ok(Some((Answer { status, reason, body: String::new(), retry_after }, end + 4, length, chunked)))
}

fn io_failure(e: &io::Error, timeout: Duration, doing: &str) -> Failure {
    if is_timeout(e) {
        return Failure::Timeout(timeout);
    }
    // rustls reports through io::Error; a certificate that does not verify will not verify on the
    // next attempt either.
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        let retry = !matches!(tls, rustls::Error::InvalidCertificate(_));
        return Failure::Unreachable { reason: format!("TLS: {tls}"), retry };
    }
    Failure::Unreachable { reason: format!("{doing}: {}", reason(e)), retry: true }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// An I/O error in words, without the OS error number.
fn reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        assert!(parse_head(b"HTTP/1.1 500 Intern").unwrap().is_none());
        let buf = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\nContent-Length: 2\r\n\r\nno";
        let (a, start, len, chunked) = parse_head(buf).unwrap().unwrap();
        assert_eq!(
            (a.status, a.reason.as_str(), a.retry_after),
            (429, "Too Many Requests", Some(Duration::from_secs(3)))
        );
        assert_eq!((&buf[start..], len, chunked), (&b"no"[..], Some(2), false));
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }

    #[test]
    fn request_line_and_host() {
        let url = Url::parse("https://hooks.example.test:8443/services/a/b?x=1").unwrap();
        let r = String::from_utf8(request_bytes(&url, b"{}")).unwrap();
        assert!(r.starts_with("POST /services/a/b?x=1 HTTP/1.1\r\nHost: hooks.example.test:8443\r\n"), "{r}");
        assert!(r.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n{}"), "{r}");
        let url = Url::parse("https://hooks.example.test").unwrap();
        let r = String::from_utf8(request_bytes(&url, b"")).unwrap();
        assert!(r.starts_with("POST / HTTP/1.1\r\nHost: hooks.example.test\r\n"), "{r}");
    }
}
