//! The body of a response as it streams by: counted, only its first bytes kept, and refused past
//! a limit, so an endless answer costs a fixed amount of memory.

use cutover_config::human;

use crate::Failure;
use crate::client::Fail;

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
