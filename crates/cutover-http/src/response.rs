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
}
