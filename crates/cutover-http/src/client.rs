//! One HTTP/1.1 request and its response, by hand over a `TcpStream` (and rustls, ring only):
//! resolve, connect, handshake, send, then read the response ([`crate::response`]). Every read
//! and write is bounded by one deadline, so a server that hangs or trickles costs at most the
//! check's timeout.
//!
//! Every request says `Connection: close` and no `Accept-Encoding`, so the server sends the body
//! as it is (no compression to undo) and a connection is never reused. A request body, when there
//! is one, goes with its `Content-Type` and `Content-Length`.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cutover_config::human;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use url::{Host, Position, Url};

use crate::Failure;
use crate::head::ResponseHead;
use crate::response::{Body, Input, framing, io_fail, read_body, read_head, rustls_error};
use crate::text::io_reason;
use crate::trust::Trust;
use crate::verifier::Verifier;

/// Why an exchange gave no usable response, with what was known by then.
#[derive(Debug)]
pub struct Fail {
    pub kind: Failure,
    pub reason: String,
    /// What had arrived when the response failed after its head (a body that broke off, was too
    /// large or too slow): the head, the body so far, and the latency until the failure.
    pub partial: Option<Box<Response>>,
    /// Another attempt cannot go better: the server's certificate was refused, or the request
    /// cannot be made as given.
    pub permanent: bool,
}

impl Fail {
    pub fn new(kind: Failure, reason: impl Into<String>) -> Fail {
        Fail { kind, reason: reason.into(), partial: None, permanent: false }
    }

    fn permanent(kind: Failure, reason: impl Into<String>) -> Fail {
        Fail { permanent: true, ..Fail::new(kind, reason) }
    }
}

/// What every exchange of one check shares.
#[derive(Debug)]
pub struct Context<'a> {
    pub trust: &'a Trust,
    pub provider: &'a Arc<CryptoProvider>,
    /// The end of the check: DNS, connect, handshake and every read and write stop here.
    pub deadline: Instant,
    /// The check's whole timeout, for messages.
    pub timeout: Duration,
    /// How many bytes of the body to keep (0 when nothing looks at it).
    pub keep: usize,
    /// A body longer than this is a failure (and reading stops).
    pub max_body: u64,
}

/// One request.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    /// Sent with `Content-Length` and its `Content-Type` (unless `headers` has one). Without a
    /// body, `POST`, `PUT` and `PATCH` send `Content-Length: 0` and other methods neither.
    pub body: Option<Payload<'a>>,
    /// Connect to this address instead of resolving the URL's host.
    pub connect_to: Option<IpAddr>,
    /// Do not read the body of a redirect (3xx with a `Location`): it is about to be followed.
    pub skip_redirect_body: bool,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub content_type: &'a str,
    pub data: &'a [u8],
}

/// One response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line's reason phrase (`Not Found`), as the server wrote it.
    pub reason: String,
    pub head: ResponseHead,
    pub body: Body,
    /// From the first byte of the request to the last byte of the body (k6's
    /// `http_req_duration`: sending + waiting + receiving; DNS, connect and TLS not included).
    pub latency: Duration,
}

/// Sends `request` and reads its response, all before `ctx.deadline`.
pub fn exchange(request: &Request<'_>, ctx: &Context<'_>) -> Result<Response, Fail> {
    let mut stream = open(request, ctx)?;
    let sent = Instant::now();
    let bytes = request_bytes(request);
    stream
        .write_all(&bytes)
        .and_then(|()| stream.flush())
        .map_err(|e| io_fail(&e, "sending the request", ctx.timeout))?;
    let mut input = Input::new(&mut stream);
    let (head, reason) = read_head(&mut input, ctx.timeout)?;
    let mut body = Body::new(ctx.keep, ctx.max_body);
    let redirect = (300..400).contains(&head.status) && head.header("Location").is_some();
    let read = framing(request.method, &head).and_then(|framing| {
        if request.skip_redirect_body && redirect {
            return Ok(());
        }
        read_body(&mut input, framing, &mut body, ctx.timeout)
    });
    let response = Response { status: head.status, reason, head, body, latency: sent.elapsed() };
    match read {
        Ok(()) => Ok(response),
        Err(mut fail) => {
            fail.partial = Some(Box::new(response));
            Err(fail)
        }
    }
}

fn request_bytes(request: &Request<'_>) -> Vec<u8> {
    let url = request.url;
    let has = |name: &str| request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method, &url[Position::BeforePath..Position::AfterQuery]);
    if !has("Host") {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => out.push_str(&format!("Host: {host}:{port}\r\n")),
            None => out.push_str(&format!("Host: {host}\r\n")),
        }
    }
    if !has("User-Agent") {
        out.push_str(concat!("User-Agent: cutover/", env!("CARGO_PKG_VERSION"), "\r\n"));
    }
    if !has("Accept") {
        out.push_str("Accept: */*\r\n");
    }
    for (name, value) in request.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    match request.body {
        Some(body) => {
            if !has("Content-Type") {
                out.push_str(&format!("Content-Type: {}\r\n", body.content_type));
            }
            out.push_str(&format!("Content-Length: {}\r\n", body.data.len()));
        }
        None if matches!(request.method, "POST" | "PUT" | "PATCH") => out.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(request.body.map_or(&[][..], |body| body.data));
    out
}

/// A socket whose every read and write stops at the deadline (a timeout, never a hang).
struct Timed {
    sock: TcpStream,
    deadline: Instant,
}

impl Timed {
    fn left(&self) -> io::Result<Duration> {
        match self.deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A timed-out read shows as `WouldBlock` on Linux; rustls would take that for a non-blocking
/// socket, so it becomes `TimedOut`.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock { io::ErrorKind::TimedOut.into() } else { e }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.sock.set_read_timeout(Some(left))?;
        self.sock.read(buf).map_err(timed_out)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.sock.set_write_timeout(Some(left))?;
        self.sock.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

enum Stream {
    Plain(Timed),
    Tls(Box<StreamOwned<ClientConnection, Timed>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Resolves (unless told where to connect), connects and, for `https`, completes the handshake.
fn open(request: &Request<'_>, ctx: &Context<'_>) -> Result<Stream, Fail> {
    let url = request.url;
    let host = url.host().ok_or_else(|| Fail::permanent(Failure::Protocol, format!("{url} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = match (request.connect_to, &host) {
        (Some(ip), _) => vec![SocketAddr::new(ip, port)],
        (None, Host::Ipv4(ip)) => vec![SocketAddr::new((*ip).into(), port)],
        (None, Host::Ipv6(ip)) => vec![SocketAddr::new((*ip).into(), port)],
        (None, Host::Domain(name)) => resolve(name, port, ctx)?,
    };
    let sock = connect(&addrs, ctx)?;
    let _ = sock.set_nodelay(true);
    let timed = Timed { sock, deadline: ctx.deadline };
    if url.scheme() != "https" {
        return Ok(Stream::Plain(timed));
    }
    let name = match host {
        Host::Domain(name) => ServerName::try_from(name.to_string())
            .map_err(|e| Fail::permanent(Failure::Tls, format!("`{name}` cannot be sent as a TLS server name: {e}")))?,
        Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
    };
    handshake(timed, name, ctx).map(|s| Stream::Tls(Box::new(s)))
}

/// The system resolver (`getaddrinfo`, so `/etc/hosts` and the resolver config apply), in a
/// thread of its own so that a resolver that does not answer costs no more than the deadline.
/// That thread is left to finish on its own (getaddrinfo gives up after the resolver config's
/// timeouts and attempts); its answer then goes nowhere.
fn resolve(name: &str, port: u16, ctx: &Context<'_>) -> Result<Vec<SocketAddr>, Fail> {
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    let spawned = std::thread::Builder::new().name("cutover-dns".into()).spawn(move || {
        let _ = tx.send((owned.as_str(), port).to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    if let Err(e) = spawned {
        return Err(Fail::new(Failure::Dns, format!("cannot start a resolver thread: {e}")));
    }
    let left = ctx.deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Fail::new(Failure::Dns, format!("`{name}` resolves to no address"))),
        Ok(Err(e)) => {
            let text = e.to_string();
            let text = text.strip_prefix("failed to lookup address information: ").unwrap_or(&text);
            Err(Fail::new(Failure::Dns, format!("`{name}` does not resolve: {text}")))
        }
        Err(_) => Err(Fail::new(
            Failure::Dns,
            format!("no answer from the resolver for `{name}` within {}", human::duration(ctx.timeout)),
        )),
    }
}

/// Tries each address in turn, each with an equal share of the time left.
fn connect(addrs: &[SocketAddr], ctx: &Context<'_>) -> Result<TcpStream, Fail> {
    let mut reasons = Vec::new();
    let mut answered = false;
    for (i, addr) in addrs.iter().enumerate() {
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let share = left / (addrs.len() - i) as u32;
        match TcpStream::connect_timeout(addr, share) {
            Ok(sock) => return Ok(sock),
            Err(e) => {
                let (host_answered, reason) = connect_error(&e, share);
                answered |= host_answered;
                reasons.push(format!("{addr}: {reason}"));
            }
        }
    }
    if reasons.is_empty() {
        return Err(Fail::new(Failure::Dns, format!("resolving took the whole {}", human::duration(ctx.timeout))));
    }
    let kind = if answered { Failure::Connect } else { Failure::Unreachable };
    Err(Fail::new(kind, format!("cannot connect: {}", reasons.join("; "))))
}

/// Whether the far side answered a failed connection attempt (a refusal or reset: the network
/// works), and why it failed.
fn connect_error(e: &io::Error, waited: Duration) -> (bool, String) {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => (true, "connection refused".to_string()),
        ConnectionReset => (true, "connection reset".to_string()),
        TimedOut | WouldBlock => (false, format!("no answer within {}", human::duration(waited))),
        NetworkUnreachable => (false, "network unreachable".to_string()),
        HostUnreachable => (false, "no route to host".to_string()),
        _ => (false, io_reason(e)),
    }
}

fn handshake(
    mut timed: Timed,
    name: ServerName<'static>,
    ctx: &Context<'_>,
) -> Result<StreamOwned<ClientConnection, Timed>, Fail> {
    let verifier = Arc::new(Verifier::new(ctx.trust.clone(), ctx.provider.clone()));
    let setup = |e: rustls::Error| Fail::permanent(Failure::Tls, format!("TLS setup: {e}"));
    let mut config = ClientConfig::builder_with_provider(ctx.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(setup)?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut timed) {
            let rejection = verifier.rejection();
            let refused = rejection.is_some() || matches!(rustls_error(&e), Some(rustls::Error::InvalidCertificate(_)));
            let reason = match (rejection, e.kind()) {
                (Some(reason), _) => reason,
                (None, io::ErrorKind::TimedOut) => {
                    return Err(Fail::new(
                        Failure::Timeout,
                        format!("the TLS handshake did not complete within {}", human::duration(ctx.timeout)),
                    ));
                }
                (None, io::ErrorKind::UnexpectedEof) => {
                    "the server closed the connection during the TLS handshake".into()
                }
                (None, _) => match rustls_error(&e) {
                    Some(rustls::Error::AlertReceived(alert)) => {
                        format!("the server refused the handshake ({alert:?})")
                    }
                    Some(rustls::Error::InvalidMessage(_)) => "the server does not speak TLS on this port".into(),
                    Some(other) => format!("TLS handshake failed: {other}"),
                    None => format!("TLS handshake failed: {}", io_reason(&e)),
                },
            };
            return Err(Fail { permanent: refused, ..Fail::new(Failure::Tls, reason) });
        }
    }
    Ok(StreamOwned::new(conn, timed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_or_reset_shows_the_network_works() {
        let wait = Duration::from_secs(2);
        let answered = |kind: io::ErrorKind| connect_error(&kind.into(), wait).0;
        assert!(answered(io::ErrorKind::ConnectionRefused));
        assert!(answered(io::ErrorKind::ConnectionReset));
        assert!(!answered(io::ErrorKind::TimedOut));
        assert!(!answered(io::ErrorKind::NetworkUnreachable));
        assert!(!answered(io::ErrorKind::HostUnreachable));
        assert!(!answered(io::ErrorKind::AddrNotAvailable));
        assert_eq!(connect_error(&io::ErrorKind::TimedOut.into(), wait).1, "no answer within 2 s");
    }

    fn request(url: &str, method: &str, headers: &[(String, String)], body: Option<Payload<'_>>) -> String {
        let url = Url::parse(url).unwrap();
        let request = Request { method, url: &url, headers, body, connect_to: None, skip_redirect_body: false };
        String::from_utf8(request_bytes(&request)).unwrap()
    }

    #[test]
    fn a_body_goes_with_its_type_and_length() {
        let json = Some(Payload { content_type: "application/json", data: "{\"é\":1}".as_bytes() });
        let post = request("https://hooks.example.test:8443/services/a/b?x=1", "POST", &[], json);
        assert!(post.starts_with("POST /services/a/b?x=1 HTTP/1.1\r\nHost: hooks.example.test:8443\r\n"), "{post}");
        assert!(
            post.ends_with("Content-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"é\":1}"),
            "{post}"
        );
        let own = [("content-type".to_string(), "application/x-ndjson".to_string())];
        let put = request("http://a.test/x", "PUT", &own, json);
        assert!(put.contains("content-type: application/x-ndjson\r\nContent-Length: 8\r\n"), "{put}");
        assert!(!put.contains("application/json"), "{put}");
        // Without a body, as before: POST says it has none, GET and HEAD say nothing.
        let post = request("https://hooks.example.test", "POST", &[], None);
        assert!(post.starts_with("POST / HTTP/1.1\r\nHost: hooks.example.test\r\n"), "{post}");
        assert!(post.ends_with("Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), "{post}");
        for method in ["GET", "HEAD"] {
            let plain = request("http://a.test:8080/", method, &[], None);
            assert_eq!(
                plain,
                format!(
                    "{method} / HTTP/1.1\r\nHost: a.test:8080\r\nUser-Agent: cutover/{}\r\nAccept: */*\r\n\
                     Connection: close\r\n\r\n",
                    env!("CARGO_PKG_VERSION")
                )
            );
        }
    }
}
