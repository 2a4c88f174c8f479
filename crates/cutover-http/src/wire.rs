//! The HTTP/1.1 framing of one exchange, done by hyper's `client::conn::http1`: the request written
//! and the response read over a connection someone else opened (the client's [`crate::connect`],
//! or the readiness checks' own), every step stopping at one deadline, the body counted as it
//! streams by ([`Body`]). What broke is classified here ([`Broke`]); the callers word it, each in
//! its own words.
//!
//! Responses are read as leniently as browsers read them (spaces before a header's colon, folded
//! header lines and header lines that do not parse are let through); heads are limited to
//! [`HEAD_MAX`]. Header names are sent title-cased (`Content-Type`), in the order given.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::ext::ReasonPhrase;
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use hyper::{Method, Uri};
use tokio::time::timeout_at;

use crate::response::{Body, Fail, Response, ResponseHead};
use crate::text::io_reason;

/// The longest response head read (status line and headers).
pub(crate) const HEAD_MAX: usize = 64 * 1024;

/// What arrived on a connection, for the words of a failure: how many bytes, and the first of
/// them (the response head, up to [`HEAD_MAX`]).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    bytes: AtomicU64,
    first: Mutex<Vec<u8>>,
}

impl Seen {
    pub fn record(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let before = self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        if before < HEAD_MAX as u64 + 4 {
            let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
            let room = (HEAD_MAX + 4).saturating_sub(first.len()).min(data.len());
            first.extend_from_slice(&data[..room]);
        }
    }

    /// Whether anything arrived.
    pub fn any(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) > 0
    }

    fn first(&self) -> Vec<u8> {
        self.first.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Why an exchange stopped, before its words.
#[derive(Debug)]
pub(crate) enum Broke {
    /// The deadline passed.
    TimedOut,
    /// The connection closed before the head (or, after it, the body) was complete.
    Closed,
    /// What arrived is not a usable response head, or the body's framing is broken: why.
    Framing(String),
    /// Another I/O error: the TLS error inside it if any, and why in a few words.
    Io { tls: Option<rustls::Error>, reason: String },
}

/// How an exchange failed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// No usable response head.
    Head(Broke),
    /// The head arrived, the body broke off: the response so far.
    Body(Box<Response>, Broke),
    /// The body is over the limit (by its `Content-Length` or as it came): the response so far.
    TooLarge(Box<Response>, Fail),
}

/// Which bodies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// Every body.
    All,
    /// Every body but a redirect's (3xx with a `Location`), which is about to be followed.
    NotRedirects,
    /// None: the head is all that is wanted.
    Nothing,
}

/// The bounds of one exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub deadline: Instant,
    /// Bytes of the body kept from its start.
    pub keep: usize,
    /// Bytes of the body kept from its end.
    pub keep_tail: usize,
    /// A longer body fails.
    pub max_body: u64,
    pub read: Read,
}

/// A request as hyper sends it: `headers` in order (names title-cased on the wire), `body` as
/// it is (the caller says its length in `headers`).
pub(crate) fn request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| format!("method `{method}` cannot be sent"))?;
    let uri = Uri::try_from(target).map_err(|e| format!("`{target}` cannot be sent as a request target: {e}"))?;
    let mut request = hyper::Request::new(Full::new(Bytes::copy_from_slice(body)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let map = request.headers_mut();
    for (name, value) in headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header name `{name}` cannot be sent: {e}"))?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|e| format!("header `{name}`: {e}"))?;
        map.append(name, value);
    }
    Ok(request)
}

/// Sends `request` over `io` and reads the response, all before `limits.deadline`. `seen` is
/// what `io` records of what arrives.
pub(crate) async fn exchange<IO>(
    io: IO,
    seen: &Seen,
    request: hyper::Request<Full<Bytes>>,
    limits: &Limits,
) -> Result<Response, Failed>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    let deadline = tokio::time::Instant::from_std(limits.deadline);
    let (mut sender, conn) = http1::Builder::new()
        .title_case_headers(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true)
        .max_headers(1024)
        .max_header_size(HEAD_MAX)
        .handshake(io)
        .await
        .map_err(|e| Failed::Head(Broke::Framing(e.to_string())))?;
    let sent = Instant::now();
    let work = async {
        let answer = match timeout_at(deadline, sender.send_request(request)).await {
            Err(_) => return Err(Failed::Head(Broke::TimedOut)),
            Ok(Err(e)) => return Err(Failed::Head(head_broke(&e, seen))),
            Ok(Ok(answer)) => answer,
        };
        let (parts, mut incoming) = answer.into_parts();
        let status = parts.status.as_u16();
        let reason = match parts.extensions.get::<ReasonPhrase>() {
            Some(phrase) => String::from_utf8_lossy(phrase.as_bytes()).into_owned(),
            None => parts.status.canonical_reason().unwrap_or_default().to_string(),
        };
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let head = ResponseHead { status, headers };
        let redirect = (300..400).contains(&status) && head.header("Location").is_some();
        let length = declared_length(&head);
        let mut response = Response {
            status,
            reason,
            head,
            body: Body::with_tail(limits.keep, limits.keep_tail, limits.max_body),
            latency: sent.elapsed(),
        };
        if limits.read == Read::Nothing || limits.read == Read::NotRedirects && redirect {
            return Ok(response);
        }
        if let Some(n) = length.filter(|&n| n > limits.max_body) {
            let reason = format!(
                "Content-Length {n} is over the limit of {}; not read",
                cutover_config::human::bytes(limits.max_body)
            );
            return Err(Failed::TooLarge(Box::new(response), Fail::new(crate::Failure::TooLarge, reason)));
        }
        loop {
            let frame = timeout_at(deadline, incoming.frame()).await;
            response.latency = sent.elapsed();
            let data = match frame {
                Ok(None) => return Ok(response),
                Ok(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
                Ok(Some(Err(e))) => {
                    let broke = body_broke(&e);
                    return Err(Failed::Body(Box::new(response), broke));
                }
                Err(_) => return Err(Failed::Body(Box::new(response), Broke::TimedOut)),
            };
            if let Err(fail) = response.body.push(&data) {
                return Err(Failed::TooLarge(Box::new(response), fail));
            }
        }
    };
    drive(conn, work).await
}

/// The body's length as the head declares it, when it is framed by one.
pub(crate) fn declared_length(head: &ResponseHead) -> Option<u64> {
    if head.header(TRANSFER_ENCODING.as_str()).is_some() {
        return None;
    }
    head.header(CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse().ok())
}

/// Whether the head frames the body as chunks.
pub(crate) fn chunked(head: &ResponseHead) -> bool {
    head.header(TRANSFER_ENCODING.as_str())
        .is_some_and(|te| te.rsplit(',').next().unwrap_or_default().trim().eq_ignore_ascii_case("chunked"))
}

/// Polls the connection (which does the reading and writing) along with `work` until `work` is
/// done; the connection's own end, an error included, reaches `work` through hyper.
async fn drive<C: Future, W: Future>(conn: C, work: W) -> W::Output {
    let mut conn = pin!(conn);
    let mut work = pin!(work);
    let mut conn_done = false;
    poll_fn(|cx| {
        // `work` first: its request is queued before the connection looks for anything to do.
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if !conn_done && conn.as_mut().poll(cx).is_ready() {
            conn_done = true;
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// The I/O error under a hyper error, if there is one.
fn io_source(e: &hyper::Error) -> Option<&io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = err.source();
    }
    None
}

pub(crate) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn io_broke(e: &io::Error) -> Broke {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Broke::TimedOut,
        io::ErrorKind::UnexpectedEof => Broke::Closed,
        _ => Broke::Io { tls: rustls_error(e).cloned(), reason: io_reason(e) },
    }
}

/// What a failure before the head means.
fn head_broke(e: &hyper::Error, seen: &Seen) -> Broke {
    if e.is_incomplete_message() {
        return Broke::Closed;
    }
    if let Some(io) = io_source(e) {
        return io_broke(io);
    }
    if e.is_parse() || e.is_parse_status() {
        return Broke::Framing(head_reason(&seen.first(), e));
    }
    Broke::Framing(e.to_string())
}

/// Why a head hyper refused is not usable, said by looking at it again.
fn head_reason(first: &[u8], e: &hyper::Error) -> String {
    if !b"HTTP/".starts_with(&first[..first.len().min(5)]) {
        return format!("not an HTTP response: {:?}", preview(first));
    }
    if first.len() >= HEAD_MAX && !first.windows(4).any(|w| w == b"\r\n\r\n") {
        return format!("response head larger than {}", cutover_config::human::bytes(HEAD_MAX as u64));
    }
    let line = String::from_utf8_lossy(first.split(|&b| b == b'\n').next().unwrap_or_default());
    let line = line.trim_end_matches('\r');
    let mut headers = vec![httparse::EMPTY_HEADER; 1024];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(first) {
        Err(httparse::Error::Status | httparse::Error::Version) => format!("bad status line {line:?}"),
        Err(other) => format!("bad response head: {other}"),
        Ok(_) => {
            let lengths: Vec<String> = parsed
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("Content-Length"))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                .collect();
            match lengths.first() {
                Some(first) if first.parse::<u64>().is_err() => format!("bad Content-Length `{first}`"),
                Some(first) if lengths.iter().any(|l| l != first) => "conflicting Content-Length headers".into(),
                _ => format!("bad response head: {e}"),
            }
        }
    }
}

/// What a failure in the body means.
fn body_broke(e: &hyper::Error) -> Broke {
    if e.is_incomplete_message() {
        return Broke::Closed;
    }
    let Some(io) = io_source(e) else {
        return Broke::Framing(format!("reading the body: {e}"));
    };
    let message = io.to_string().to_ascii_lowercase();
    match io.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if message.contains("chunk body") => {
            Broke::Framing("a chunk is longer than its size line says".into())
        }
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
            if message.contains("chunk size") || message.contains("chunk extension") =>
        {
            Broke::Framing("bad chunk size line".into())
        }
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if message.contains("trailer") => {
            Broke::Framing("bad trailers after a chunked body".into())
        }
        _ => io_broke(io),
    }
}

/// The first bytes of an answer, control characters shown as dots.
fn preview(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(40)]).chars().map(|c| if c.is_control() { '.' } else { c }).collect()
}

/// How long is left before `deadline`, or a timeout.
pub(crate) fn left(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::ErrorKind::TimedOut.into()),
    }
}
