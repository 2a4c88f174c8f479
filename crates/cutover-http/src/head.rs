//! `GET /` for a response head over a connection that is already open ([`get_head`]): the
//! readiness checks' redirect and HSTS answers, read over their own probe's connection. hyper
//! frames it, as it does the client's exchanges ([`crate::wire`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use cutover_config::human;

use crate::response::ResponseHead;
use crate::wire::{self, Broke, Failed, Limits, Read, Seen};

/// Sends `GET /` with `Host: host`, `User-Agent: user_agent`, `Accept: */*` and
/// `Connection: close` over `stream` (plain, or TLS after its handshake) and reads the response
/// head, within `timeout` overall; the body is not read. `set_timeout` sets the read timeout of
/// the socket under `stream`. Errors are in the readiness checks' words: `no response within
/// 5 s`, `the server closed the connection without a response`, `not an HTTP response: …`.
pub fn get_head<S: io::Read + io::Write>(
    stream: &mut S,
    host: &str,
    user_agent: &str,
    timeout: Duration,
    set_timeout: impl Fn(&mut S, Duration),
) -> Result<ResponseHead, String> {
    let deadline = Instant::now() + timeout;
    let headers = [("Host", host), ("User-Agent", user_agent), ("Accept", "*/*"), ("Connection", "close")];
    let request = wire::request("GET", "/", &headers, &[])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    let seen = Arc::new(Seen::default());
    let io = Blocking {
        stream,
        set_timeout: &set_timeout,
        deadline,
        seen: seen.clone(),
        written: false,
        reader: None,
        tail: Vec::new(),
        head_read: false,
    };
    let limits = Limits { deadline, keep: 0, keep_tail: 0, max_body: u64::MAX, read: Read::Nothing };
    let broke = match runtime.block_on(wire::exchange(io, &seen, request, &limits)) {
        Ok(response) => return Ok(response.head),
        Err(Failed::Body(response, _) | Failed::TooLarge(response, _)) => return Ok(response.head),
        Err(Failed::Head(broke)) => broke,
    };
    Err(match broke {
        Broke::TimedOut => format!("no response within {}", human::duration(timeout)),
        Broke::Closed if seen.any() => "the server closed the connection in the middle of the response head".into(),
        Broke::Closed => "the server closed the connection without a response".into(),
        Broke::Framing(reason) | Broke::Io { reason, .. } => reason,
    })
}

/// A blocking stream as hyper's I/O: every read waits (up to the deadline, through the socket's
/// read timeout) and is ready when it returns, so the runtime it runs on has nothing else to do
/// meanwhile; nothing is read before the request is written, and nothing after the head's
/// blank line: the stream then ends for hyper, so a body the server is slow to send (or never
/// sends) cannot hold the check to its deadline.
struct Blocking<'s, S, F> {
    stream: &'s mut S,
    set_timeout: &'s F,
    deadline: Instant,
    seen: Arc<Seen>,
    written: bool,
    reader: Option<Waker>,
    /// The last bytes read, to find `\r\n\r\n` across reads.
    tail: Vec<u8>,
    head_read: bool,
}

impl<S: io::Read, F: Fn(&mut S, Duration)> hyper::rt::Read for Blocking<'_, S, F> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.written {
            this.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if this.head_read {
            return Poll::Ready(Ok(()));
        }
        let left = match wire::left(this.deadline) {
            Ok(left) => left,
            Err(e) => return Poll::Ready(Err(e)),
        };
        (this.set_timeout)(this.stream, left);
        let mut chunk = [0u8; 8192];
        let want = chunk.len().min(buf.remaining());
        match this.stream.read(&mut chunk[..want]) {
            Ok(n) => {
                this.seen.record(&chunk[..n]);
                buf.put_slice(&chunk[..n]);
                this.tail.extend_from_slice(&chunk[..n]);
                this.head_read = this.tail.windows(4).any(|w| w == b"\r\n\r\n");
                let keep = this.tail.len().saturating_sub(3);
                this.tail.drain(..keep);
                Poll::Ready(Ok(()))
            }
            // A TLS server that closes without close_notify: the stream ends there.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            // A timed-out read shows as `WouldBlock` on Linux.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl<S: io::Write, F> hyper::rt::Write for Blocking<'_, S, F> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = this.stream.write(buf);
        if matches!(written, Ok(n) if n > 0) {
            this.written = true;
            if let Some(reader) = this.reader.take() {
                reader.wake();
            }
        }
        Poll::Ready(written)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().stream.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that answers `answer` and records what was written to it.
    struct Wire {
        answer: io::Cursor<Vec<u8>>,
        written: Vec<u8>,
        stall: bool,
        reads_past_answer: usize,
    }

    impl io::Read for Wire {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.answer.read(buf)?;
            // The answer spent: a server that keeps the connection open and says nothing more
            // (on a socket, such a read waits for the whole timeout).
            if n == 0 && self.stall {
                self.reads_past_answer += 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }
    }

    impl io::Write for Wire {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn parse_head(answer: &[u8]) -> Result<ResponseHead, String> {
        let mut wire =
            Wire { answer: io::Cursor::new(answer.to_vec()), written: Vec::new(), stall: false, reads_past_answer: 0 };
        let head = get_head(&mut wire, "a.test:8080", "cutover-ready", Duration::from_secs(1), |_, _| {});
        assert_eq!(
            String::from_utf8_lossy(&wire.written),
            "GET / HTTP/1.1\r\nHost: a.test:8080\r\nUser-Agent: cutover-ready\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        head
    }

    /// Headers, then a body that does not come: the head is the answer, not a timeout.
    #[test]
    fn a_head_is_enough_whatever_the_body_does() {
        for answer in [
            &b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://a.test/\r\nContent-Length: 100\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000\r\nContent-Length: 5\r\n\r\nab",
        ] {
            let answer = io::Cursor::new(answer.to_vec());
            let mut wire = Wire { answer, written: Vec::new(), stall: true, reads_past_answer: 0 };
            let head = get_head(&mut wire, "a.test", "cutover-ready", Duration::from_secs(1), |_, _| {});
            assert!(matches!(head, Ok(ref h) if h.status == 301 || h.status == 200), "{head:?}");
            assert_eq!(wire.reads_past_answer, 0, "nothing is read past the head's blank line");
        }
    }

    #[test]
    fn heads() {
        let middle = Err("the server closed the connection in the middle of the response head".to_string());
        assert_eq!(parse_head(b"HTTP/1.1 301 Moved"), middle);
        assert_eq!(parse_head(b""), Err("the server closed the connection without a response".to_string()));
        assert_eq!(parse_head(b"HT"), middle);
        let head =
            parse_head(b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nlocation:  https://a.test/x \r\n\r\nbody")
                .unwrap();
        assert_eq!(head.status, 301);
        assert_eq!(head.header("Location"), Some("https://a.test/x"));
        assert_eq!(head.header("server"), Some("nginx"));
        // An SSH banner, a broken status line and a TLS alert are each said as what they are.
        let err = |answer: &[u8]| parse_head(answer).unwrap_err();
        assert_eq!(err(b"SSH-2.0-OpenSSH_9.2\r\n"), r#"not an HTTP response: "SSH-2.0-OpenSSH_9.2..""#);
        assert_eq!(err(b"HTTP/1.1 abc\r\n\r\n"), r#"bad status line "HTTP/1.1 abc""#);
        assert_eq!(err(b"\x15\x03\x01\x00\x02\x02\x46"), r#"not an HTTP response: "......F""#);
    }
}
