//! What an exchange gives: a [`Response`] (its head, and the body as it streamed by: counted, only
//! its first bytes kept, refused past a limit, so an endless answer costs a fixed amount of
//! memory), or a [`Fail`] saying why there was no usable one.

use std::time::Duration;

use cutover_config::human;

use crate::Failure;

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

    pub(crate) fn permanent(kind: Failure, reason: impl Into<String>) -> Fail {
        Fail { permanent: true, ..Fail::new(kind, reason) }
    }
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

/// The status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Names as they arrived (lowercased by the parser), values without surrounding spaces.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The body as it streamed by: its length, its first bytes and (when asked) its last ones.
#[derive(Debug, Default)]
pub struct Body {
    pub kept: Vec<u8>,
    pub total: u64,
    keep: usize,
    max: u64,
    /// The last bytes that arrived: between `keep_tail` and twice that once as many arrived
    /// (trimmed in bulk, so each byte is copied at most twice).
    tail: Vec<u8>,
    keep_tail: usize,
}

impl Body {
    /// A body that keeps its first `keep` bytes and fails past `max`.
    pub fn new(keep: usize, max: u64) -> Body {
        Body { keep, max, ..Body::default() }
    }

    /// A body that also keeps its last `keep_tail` bytes, for what looks at how a body ends.
    pub fn with_tail(keep: usize, keep_tail: usize, max: u64) -> Body {
        Body { keep_tail, ..Body::new(keep, max) }
    }

    /// The end of the body and where it starts: the whole body when it was all kept, else its
    /// last `keep_tail` bytes (none when no tail was asked for).
    pub fn end(&self) -> (u64, &[u8]) {
        if !self.truncated() {
            return (0, &self.kept);
        }
        let tail = &self.tail[self.tail.len().saturating_sub(self.keep_tail)..];
        (self.total - tail.len() as u64, tail)
    }

    /// Whether more arrived than was kept.
    pub fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    /// The next bytes of the body as they arrive (the client's, or a test's body to judge): counted,
    /// kept as far as asked, a failure past the limit.
    pub fn push(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.total += data.len() as u64;
        if self.total > self.max {
            return Err(Fail::new(
                Failure::TooLarge,
                format!("the body is larger than {}; stopped reading", human::bytes(self.max)),
            ));
        }
        let room = self.keep.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        if self.keep_tail > 0 {
            self.tail.extend_from_slice(&data[data.len().saturating_sub(self.keep_tail)..]);
            if self.tail.len() > 2 * self.keep_tail {
                self.tail.drain(..self.tail.len() - self.keep_tail);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_tail_is_the_last_bytes_and_where_they_start() {
        let mut body = Body::with_tail(4, 3, 100);
        body.push(b"ab").unwrap();
        assert_eq!(body.end(), (0, &b"ab"[..]), "all kept: the end is the whole body");
        for piece in [&b"cdefg"[..], b"h", b"ij", b"klmnopq"] {
            body.push(piece).unwrap();
        }
        assert_eq!(body.kept, b"abcd");
        assert_eq!(body.end(), (14, &b"opq"[..]));
        body.push(b"r").unwrap();
        assert_eq!(body.end(), (15, &b"pqr"[..]));
        let without = Body::new(1, 10);
        assert_eq!(without.end(), (0, &b""[..]));
    }
}
