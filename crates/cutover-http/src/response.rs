//! Reading a response from a stream: the head (interim 1xx answers skipped), then the body as
//! RFC 9112 frames it (nothing, Content-Length, chunked, or until close). The body is counted as
//! it streams by and only its first bytes are kept, so an endless answer costs a fixed amount of
//! memory; reading stops past the check's `max_body`.

use std::io::{self, Read};
use std::time::Duration;

use cutover_config::human;

use crate::Failure;
use crate::client::Fail;
use crate::head::{ResponseHead, parse_head};
use crate::text::io_reason;

/// The body as it streamed by: its length and its first bytes.
#[derive(Debug, Default)]
pub struct Body {
    pub kept: Vec<u8>,
    pub total: u64,
    keep: usize,
    max: u64,
}

impl Body {
    /// A body that keeps its first `keep` bytes and fails past `max`.
    pub fn new(keep: usize, max: u64) -> Body {
        Body { keep, max, ..Body::default() }
    }

    /// Whether more arrived than was kept.
    pub fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.total += data.len() as u64;
        if self.total > self.max {
            return Err(Fail::new(
                Failure::TooLarge,
                format!("the body is larger than {}; stopped reading", human::bytes(self.max)),
            ));
        }
        let room = self.keep.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        Ok(())
    }
}

pub(crate) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// What a failed read or write means.
pub(crate) fn io_fail(e: &io::Error, doing: &str, timeout: Duration) -> Fail {
    if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
        return Fail::new(
            Failure::Timeout,
            format!("timed out {doing} (the check's timeout is {})", human::duration(timeout)),
        );
    }
    if let Some(tls) = rustls_error(e) {
        return Fail::new(Failure::Tls, format!("TLS error {doing}: {tls}"));
    }
    Fail::new(Failure::Protocol, format!("{doing}: {}", io_reason(e)))
}

/// Buffered reads from the stream, for the head, chunk lines and body.
pub(crate) struct Input<'s, R: Read> {
    stream: &'s mut R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<'s, R: Read> Input<'s, R> {
    pub fn new(stream: &'s mut R) -> Input<'s, R> {
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

/// The response head, skipping interim (1xx) responses, and its status line's reason phrase.
pub(crate) fn read_head(input: &mut Input<'_, impl Read>, timeout: Duration) -> Result<(ResponseHead, String), Fail> {
    loop {
        let mut head = Vec::new();
        let (head, reason) = loop {
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
                        Ok(Some(parsed)) => break (parsed, reason_phrase(&head)),
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
        return Ok((head, reason));
    }
}

/// What follows the code on the status line of a head that parsed (`Not Found`).
fn reason_phrase(head: &[u8]) -> String {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.splitn(3, ' ').nth(2).unwrap_or_default().trim().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

pub(crate) fn framing(method: &str, head: &ResponseHead) -> Result<Framing, Fail> {
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

pub(crate) fn read_body(
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
                    format!("Content-Length {n} is over the limit of {}; not read", human::bytes(body.max)),
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
    io_fail(e, &format!("reading the body, after {}", human::bytes(body.total)), timeout)
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
        let mut body = Body::new(4, 10);
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
        let (head, reason) = read_head(&mut input, timeout).map_err(|f| f.reason)?;
        assert_eq!(reason, if head.status == 200 { "OK" } else { "Not Found" });
        let mut body = Body::new(usize::MAX, u64::MAX);
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
