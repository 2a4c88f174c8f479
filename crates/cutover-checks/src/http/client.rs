//! One HTTP/1.1 request and its response, by hand over a `TcpStream` (and rustls, ring only):
//! resolve, connect, handshake, send, read the head and the body (Content-Length, chunked, or
//! until close). Every read and write is bounded by one deadline, so a server that hangs or
//! trickles costs at most the check's timeout; the body is counted as it streams by and only its
//! first bytes are kept, so an endless answer costs a fixed amount of memory.
//!
//! Every request says `Connection: close` and no `Accept-Encoding`, so the server sends the body
//! as it is (no compression to undo) and a connection is never reused.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use url::{Host, Position, Url};

use super::verifier::Verifier;
use super::{Failure, fmt_duration};
use crate::tls::Trust;
use crate::tls::http::{ResponseHead, parse_head};

/// Why an exchange gave no usable response, with what was known by then.
#[derive(Debug)]
pub(crate) struct Fail {
    pub kind: Failure,
    pub reason: String,
    /// The response's status, when its head had arrived.
    pub status: Option<u16>,
    /// From the first byte of the request until the failure, when a response head had arrived.
    pub latency: Option<Duration>,
}

impl Fail {
    fn new(kind: Failure, reason: impl Into<String>) -> Fail {
        Fail { kind, reason: reason.into(), status: None, latency: None }
    }
}

/// What every exchange of one check shares.
pub(crate) struct Context<'a> {
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
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    /// Connect to this address instead of resolving the URL's host.
    pub connect_to: Option<IpAddr>,
    /// Do not read the body of a redirect (3xx with a `Location`): it is about to be followed.
    pub skip_redirect_body: bool,
}

/// One response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub head: ResponseHead,
    pub body: Body,
    /// From the first byte of the request to the last byte of the body (k6's
    /// `http_req_duration`: sending + waiting + receiving; DNS, connect and TLS not included).
    pub latency: Duration,
}

/// The body as it streamed by: its length and its first bytes.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub kept: Vec<u8>,
    pub total: u64,
    keep: usize,
    max: u64,
}

impl Body {
    /// Whether more arrived than was kept.
    pub fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.total += data.len() as u64;
        if self.total > self.max {
            return Err(Fail::new(
                Failure::TooLarge,
                format!("the body is larger than {}; stopped reading", super::fmt_bytes(self.max)),
            ));
        }
        let room = self.keep.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        Ok(())
    }
}

/// Sends `request` and reads its response, all before `ctx.deadline`.
pub(crate) fn exchange(request: &Request<'_>, ctx: &Context<'_>) -> Result<Response, Fail> {
    let mut stream = open(request, ctx)?;
    let sent = Instant::now();
    let bytes = request_bytes(request);
    stream
        .write_all(&bytes)
        .and_then(|()| stream.flush())
        .map_err(|e| io_fail(&e, "sending the request", ctx.timeout))?;
    let with_latency = |mut fail: Fail, status: u16| {
        fail.status = Some(status);
        fail.latency = Some(sent.elapsed());
        fail
    };
    let mut input = Input::new(&mut stream);
    let head = read_head(&mut input, ctx.timeout)?;
    let framing = framing(request.method, &head).map_err(|f| with_latency(f, head.status))?;
    let mut body = Body { keep: ctx.keep, max: ctx.max_body, ..Body::default() };
    let redirect = (300..400).contains(&head.status) && head.header("Location").is_some();
    if !(request.skip_redirect_body && redirect) {
        read_body(&mut input, framing, &mut body, ctx.timeout).map_err(|f| with_latency(f, head.status))?;
    }
    Ok(Response { status: head.status, head, body, latency: sent.elapsed() })
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
    if matches!(request.method, "POST" | "PUT" | "PATCH") {
        out.push_str("Content-Length: 0\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
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
    let host = url.host().ok_or_else(|| Fail::new(Failure::Protocol, format!("{url} has no host")))?;
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
            .map_err(|e| Fail::new(Failure::Tls, format!("`{name}` cannot be sent as a TLS server name: {e}")))?,
        Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
    };
    handshake(timed, name, ctx).map(|s| Stream::Tls(Box::new(s)))
}

/// The system resolver (`getaddrinfo`, so `/etc/hosts` and the resolver config apply), in a
/// thread of its own so that a resolver that does not answer costs no more than the deadline.
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
            format!("no answer from the resolver for `{name}` within {}", fmt_duration(ctx.timeout)),
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
        return Err(Fail::new(Failure::Dns, format!("resolving took the whole {}", fmt_duration(ctx.timeout))));
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
        TimedOut | WouldBlock => (false, format!("no answer within {}", fmt_duration(waited))),
        NetworkUnreachable => (false, "network unreachable".to_string()),
        HostUnreachable => (false, "no route to host".to_string()),
        _ => (false, crate::tls::probe::io_reason(e)),
    }
}

fn handshake(
    mut timed: Timed,
    name: ServerName<'static>,
    ctx: &Context<'_>,
) -> Result<StreamOwned<ClientConnection, Timed>, Fail> {
    let verifier = Arc::new(Verifier::new(ctx.trust.clone(), ctx.provider.clone()));
    let setup = |e: rustls::Error| Fail::new(Failure::Tls, format!("TLS setup: {e}"));
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
            let reason = match (verifier.rejection(), e.kind()) {
                (Some(reason), _) => reason,
                (None, io::ErrorKind::TimedOut) => {
                    return Err(Fail::new(
                        Failure::Timeout,
                        format!("the TLS handshake did not complete within {}", fmt_duration(ctx.timeout)),
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
                    None => format!("TLS handshake failed: {}", crate::tls::probe::io_reason(&e)),
                },
            };
            return Err(Fail::new(Failure::Tls, reason));
        }
    }
    Ok(StreamOwned::new(conn, timed))
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// What a failed read or write means.
fn io_fail(e: &io::Error, doing: &str, timeout: Duration) -> Fail {
    if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
        return Fail::new(
            Failure::Timeout,
            format!("timed out {doing} (the check's timeout is {})", fmt_duration(timeout)),
        );
    }
    if let Some(tls) = rustls_error(e) {
        return Fail::new(Failure::Tls, format!("TLS error {doing}: {tls}"));
    }
    Fail::new(Failure::Protocol, format!("{doing}: {}", crate::tls::probe::io_reason(e)))
}

/// Buffered reads from the stream, for the head, chunk lines and body.
struct Input<'s, R: Read> {
    stream: &'s mut R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<'s, R: Read> Input<'s, R> {
    fn new(stream: &'s mut R) -> Input<'s, R> {
        Input { stream, buf: vec![0; 16 * 1024], start: 0, end: 0 }
    }

    /// Makes bytes available; `false` at the end of the stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start < self.end {
            return Ok(true);
        }
        let n = self.stream.read(&mut self.buf)?;
        self.start = 0;
        self.end = n;
        Ok(n > 0)
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }
}

/// The response head, skipping interim (1xx) responses.
fn read_head(input: &mut Input<'_, impl Read>, timeout: Duration) -> Result<ResponseHead, Fail> {
    loop {
        let mut head = Vec::new();
        let head = loop {
            let more = input.fill().map_err(|e| io_fail(&e, "waiting for the response", timeout))?;
            if !more {
                let reason = if head.is_empty() {
                    "the server closed the connection without a response"
                } else {
                    "the server closed the connection in the middle of the response head"
                };
                return Err(Fail::new(Failure::Protocol, reason));
            }
            let old = head.len();
            head.extend_from_slice(input.available());
            let from = old.saturating_sub(3);
            match memchr::memmem::find(&head[from..], b"\r\n\r\n") {
                Some(pos) => {
                    let end = from + pos + 4;
                    input.consume(end - old);
                    head.truncate(end);
                    match parse_head(&head) {
                        Ok(Some(parsed)) => break parsed,
                        Ok(None) => unreachable!("a head with its blank line parses or fails"),
                        Err(reason) => return Err(Fail::new(Failure::Protocol, reason)),
                    }
                }
                None => {
                    input.consume(head.len() - old);
                    if let Err(reason) = parse_head(&head) {
                        return Err(Fail::new(Failure::Protocol, reason));
                    }
                }
            }
        };
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        return Ok(head);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn framing(method: &str, head: &ResponseHead) -> Result<Framing, Fail> {
    if method == "HEAD" || matches!(head.status, 101 | 204 | 304) {
        return Ok(Framing::Empty);
    }
    if let Some(te) = head.header("Transfer-Encoding") {
        let last = te.rsplit(',').next().unwrap_or_default().trim();
        return Ok(if last.eq_ignore_ascii_case("chunked") { Framing::Chunked } else { Framing::UntilClose });
    }
    let lengths: Vec<&str> = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, v)| v.as_str())
        .collect();
    match lengths.first() {
        None => Ok(Framing::UntilClose),
        Some(first) => {
            let n = first
                .parse::<u64>()
                .map_err(|_| Fail::new(Failure::Protocol, format!("bad Content-Length `{first}`")))?;
            if lengths.iter().any(|l| l != first) {
                return Err(Fail::new(Failure::Protocol, "conflicting Content-Length headers"));
            }
            Ok(Framing::Length(n))
        }
    }
}

fn read_body(
    input: &mut Input<'_, impl Read>,
    framing: Framing,
    body: &mut Body,
    timeout: Duration,
) -> Result<(), Fail> {
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(n) => {
            if n > body.max {
                return Err(Fail::new(
                    Failure::TooLarge,
                    format!("Content-Length {n} is over the limit of {}; not read", super::fmt_bytes(body.max)),
                ));
            }
            read_exactly(input, n, body, timeout)
        }
        Framing::Chunked => read_chunked(input, body, timeout),
        Framing::UntilClose => loop {
            match input.fill() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // A TLS server that closes without close_notify: the body ends with the connection.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(body_fail(&e, body, timeout)),
            }
            let n = input.available().len();
            body.push(input.available())?;
            input.consume(n);
        },
    }
}

fn body_fail(e: &io::Error, body: &Body, timeout: Duration) -> Fail {
    io_fail(e, &format!("reading the body, after {}", super::fmt_bytes(body.total)), timeout)
}

fn read_exactly(input: &mut Input<'_, impl Read>, n: u64, body: &mut Body, timeout: Duration) -> Result<(), Fail> {
    let mut left = n;
    while left > 0 {
        match input.fill() {
            Ok(true) => {}
            Ok(false) => {
                return Err(Fail::new(
                    Failure::Protocol,
                    format!("the server closed the connection after {} of {n} body bytes", n - left),
                ));
            }
            Err(e) => return Err(body_fail(&e, body, timeout)),
        }
        let take = input.available().len().min(usize::try_from(left).unwrap_or(usize::MAX));
        body.push(&input.available()[..take])?;
        input.consume(take);
        left -= take as u64;
    }
    Ok(())
}

fn read_chunked(input: &mut Input<'_, impl Read>, body: &mut Body, timeout: Duration) -> Result<(), Fail> {
    loop {
        let line = read_line(input, body, timeout)?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size).unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            Fail::new(Failure::Protocol, format!("bad chunk size line {:?}", String::from_utf8_lossy(&line)))
        })?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(input, body, timeout)?.is_empty() {}
            return Ok(());
        }
        read_exactly(input, size, body, timeout)?;
        if !read_line(input, body, timeout)?.is_empty() {
            return Err(Fail::new(Failure::Protocol, "a chunk is longer than its size line says"));
        }
    }
}

/// One line (without its CRLF) of a chunked body, at most 4 KiB.
fn read_line(input: &mut Input<'_, impl Read>, body: &Body, timeout: Duration) -> Result<Vec<u8>, Fail> {
    let mut line = Vec::new();
    loop {
        match input.fill() {
            Ok(true) => {}
            Ok(false) => {
                return Err(Fail::new(
                    Failure::Protocol,
                    "the server closed the connection in the middle of a chunked body",
                ));
            }
            Err(e) => return Err(body_fail(&e, body, timeout)),
        }
        let available = input.available();
        match memchr::memchr(b'\n', available) {
            Some(i) => {
                line.extend_from_slice(&available[..i]);
                input.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            None => {
                let n = available.len();
                line.extend_from_slice(available);
                input.consume(n);
            }
        }
        if line.len() > 4096 {
            return Err(Fail::new(Failure::Protocol, "a chunk size line longer than 4 KiB"));
        }
    }
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

    fn head(headers: &[(&str, &str)], status: u16) -> ResponseHead {
        ResponseHead { status, headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let f =
            |method, status, headers: &[(&str, &str)]| framing(method, &head(headers, status)).map_err(|e| e.reason);
        assert_eq!(f("GET", 200, &[("Content-Length", "12")]), Ok(Framing::Length(12)));
        assert_eq!(f("HEAD", 200, &[("Content-Length", "12")]), Ok(Framing::Empty));
        assert_eq!(f("GET", 204, &[]), Ok(Framing::Empty));
        assert_eq!(f("GET", 304, &[("Content-Length", "12")]), Ok(Framing::Empty));
        assert_eq!(
            f("GET", 200, &[("Transfer-Encoding", "gzip, Chunked"), ("Content-Length", "3")]),
            Ok(Framing::Chunked)
        );
        assert_eq!(f("GET", 200, &[("Transfer-Encoding", "gzip")]), Ok(Framing::UntilClose));
        assert_eq!(f("GET", 200, &[]), Ok(Framing::UntilClose));
        assert_eq!(f("GET", 200, &[("Content-Length", "3"), ("content-length", "3")]), Ok(Framing::Length(3)));
        assert!(
            f("GET", 200, &[("Content-Length", "3"), ("Content-Length", "4")]).unwrap_err().contains("conflicting")
        );
        assert!(f("GET", 200, &[("Content-Length", "-1")]).unwrap_err().contains("bad Content-Length"));
    }

    #[test]
    fn the_body_keeps_its_start_and_stops_at_the_limit() {
        let mut body = Body { keep: 4, max: 10, ..Body::default() };
        body.push(b"abc").unwrap();
        body.push(b"defg").unwrap();
        assert_eq!(body.kept, b"abcd");
        assert!(body.truncated());
        let fail = body.push(b"hijk").unwrap_err();
        assert_eq!(fail.kind, Failure::TooLarge);
        assert_eq!(fail.reason, "the body is larger than 10 bytes; stopped reading");
    }

    /// Hands out `data` in pieces of the given sizes (cycling), as a socket might.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.turn % self.sizes.len()].max(1);
            self.turn += 1;
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Reads one response from `wire`, delivered in pieces of `sizes`.
    fn read_response(wire: &[u8], sizes: Vec<usize>, method: &str) -> Result<(u16, Vec<u8>), String> {
        let mut src = Pieces { data: wire.to_vec(), at: 0, sizes, turn: 0 };
        let mut input = Input::new(&mut src);
        let timeout = Duration::from_secs(1);
        let head = read_head(&mut input, timeout).map_err(|f| f.reason)?;
        let mut body = Body { keep: usize::MAX, max: u64::MAX, ..Body::default() };
        let framing = framing(method, &head).map_err(|f| f.reason)?;
        read_body(&mut input, framing, &mut body, timeout).map_err(|f| f.reason)?;
        Ok((head.status, body.kept))
    }

    proptest::proptest! {
        #[test]
        fn responses_read_the_same_however_they_are_split(
            parts in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..300), 0..8),
            sizes in proptest::collection::vec(1usize..50, 1..6),
            interim in proptest::bool::ANY,
        ) {
            let body: Vec<u8> = parts.concat();
            let mut chunked = Vec::new();
            if interim {
                chunked.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
            }
            chunked.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for part in &parts {
                chunked.extend_from_slice(format!("{:X};ext=1\r\n", part.len()).as_bytes());
                chunked.extend_from_slice(part);
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
            proptest::prop_assert_eq!(read_response(&chunked, sizes.clone(), "GET"), Ok((200, body.clone())));

            let mut sized = format!("HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            sized.extend_from_slice(&body);
            sized.extend_from_slice(b"trailing garbage is not read");
            proptest::prop_assert_eq!(read_response(&sized, sizes.clone(), "GET"), Ok((404, body.clone())));

            let mut until_close = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
            until_close.extend_from_slice(&body);
            proptest::prop_assert_eq!(read_response(&until_close, sizes, "GET"), Ok((200, body)));
        }
    }

    #[test]
    fn broken_responses_say_why() {
        let read = |wire: &str| read_response(wire.as_bytes(), vec![7], "GET").unwrap_err();
        assert_eq!(read(""), "the server closed the connection without a response");
        assert_eq!(read("HTTP/1.1 200 OK\r\n"), "the server closed the connection in the middle of the response head");
        assert!(read("SSH-2.0-OpenSSH_9.2\r\n").starts_with("not an HTTP response"));
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            "the server closed the connection after 3 of 10 body bytes"
        );
        assert!(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").starts_with("bad chunk size line"));
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n"),
            "a chunk is longer than its size line says"
        );
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"),
            "the server closed the connection after 2 of 3 body bytes"
        );
        assert_eq!(
            read_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", vec![3], "HEAD"),
            Ok((200, Vec::new()))
        );
    }
}
