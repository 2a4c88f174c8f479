//! sqlite3's `.dump` writes newlines as `replace('a\nb','\n',char(10))`: the tokens it uses, read
//! ahead after the literal, and the byte replacement that turns them into characters and back.

use std::io::{Read, Write};

use super::Scanner;
use crate::DumpError;

impl<R: Read, W: Write> Scanner<'_, R, W> {
    /// After a literal inside `replace(`: the `,'TOKEN',char(N))` arguments that follow it
    /// (innermost first), read ahead without consuming them.
    pub(super) fn sqlite_replace_tokens(&mut self) -> Result<Vec<(Vec<u8>, u8)>, DumpError> {
        let mut tokens = Vec::new();
        let mut k = 0;
        loop {
            let mut ahead = Vec::new();
            while ahead.len() < 40 {
                match self.input.peek_at(k + ahead.len())? {
                    Some(b) => ahead.push(b),
                    None => break,
                }
                if ahead.ends_with(b"))") {
                    break;
                }
            }
            let Some(rest) = ahead.strip_prefix(b",'") else { break };
            let Some(end) = rest.iter().position(|&b| b == b'\'') else { break };
            let (token, after) = (&rest[..end], &rest[end + 1..]);
            let Some(num) = after.strip_prefix(b",char(").and_then(|a| a.strip_suffix(b"))")) else { break };
            let Some(ch) = std::str::from_utf8(num).ok().and_then(|n| n.parse::<u8>().ok()) else { break };
            if token.is_empty() {
                break;
            }
            tokens.push((token.to_vec(), ch));
            // An outer `replace(`'s arguments follow this one's closing `))`.
            k += ahead.len();
        }
        Ok(tokens)
    }
}

pub(super) fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut last = 0;
    for i in memchr::memmem::find_iter(haystack, from) {
        if i < last {
            continue;
        }
        out.extend_from_slice(&haystack[last..i]);
        out.extend_from_slice(to);
        last = i + from.len();
    }
    out.extend_from_slice(&haystack[last..]);
    out
}
