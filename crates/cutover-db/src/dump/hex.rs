//! Binary values written in hex in an INSERT (`0x…` from mysqldump --hex-blob, `X'…'`): decoded,
//! rewritten as binary, and written back in uppercase hex.

use std::io::{Read, Write};

use super::report::At;
use super::{MAX_VALUE, Scanner};
use crate::DumpError;

impl<R: Read, W: Write> Scanner<'_, R, W> {
    /// `0x…` in a MySQL INSERT (mysqldump --hex-blob).
    pub(super) fn hex_literal(&mut self) -> Result<(), DumpError> {
        // `0x` or `0X`, written back as it was.
        let prefix = [self.input.bump(), self.input.bump()];
        self.keep_tail(b"0");
        if self.hex_run(&prefix)? {
            let new = self.hex_value();
            self.out.put(&prefix)?;
            self.put_hex(new)?;
        }
        Ok(())
    }

    /// `X'…'` in an INSERT: a binary value in hex, rewritten like `0x…`.
    pub(super) fn hex_string(&mut self) -> Result<(), DumpError> {
        let line = self.input.line();
        let open = self.input.bump();
        self.out.put(&[open])?;
        if self.hex_run(b"")? {
            let new = self.hex_value();
            self.put_hex(new)?;
        }
        match self.input.peek()? {
            None => return Err(DumpError::Truncated { line, what: "hex string" }),
            Some(b'\'') => {
                self.input.bump();
                self.out.put(b"'")?;
            }
            // Not hex after all: the rest is read as statement text.
            Some(_) => {}
        }
        self.keep_tail(b"'");
        Ok(())
    }

    /// Reads a run of hex digits into `raw`. A run longer than a value may be is written through
    /// (after `prefix`) as it comes, reported, and `false` returned.
    fn hex_run(&mut self, prefix: &[u8]) -> Result<bool, DumpError> {
        let line = self.input.line();
        self.raw.clear();
        let mut overflow = false;
        loop {
            let chunk = self.input.chunk()?;
            let n = chunk.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(chunk.len());
            let done = n < chunk.len() || chunk.is_empty();
            if overflow {
                self.out.put(&chunk[..n])?;
            } else {
                self.raw.extend_from_slice(&chunk[..n]);
            }
            self.input.advance(n);
            if !overflow && self.raw.len() > 2 * MAX_VALUE {
                overflow = true;
                self.out.put(prefix)?;
                self.out.put(&self.raw)?;
            }
            if done {
                break;
            }
        }
        if overflow && self.in_values() {
            self.stats.values += 1;
            self.left_alone(
                At::Insert { line },
                format!("binary value larger than {} MiB: copied as it is, not rewritten", MAX_VALUE >> 20),
            );
        }
        Ok(!overflow)
    }

    /// The hex digits in `raw` as a value: rewritten, or `None` to keep them.
    fn hex_value(&mut self) -> Option<Vec<u8>> {
        if !self.raw.len().is_multiple_of(2) {
            return None;
        }
        let decoded: Vec<u8> = self
            .raw
            .chunks(2)
            .map(|p| Some(((p[0] as char).to_digit(16)? * 16 + (p[1] as char).to_digit(16)?) as u8))
            .collect::<Option<_>>()?;
        self.binary_value(&decoded)
    }

    /// Writes `new` in uppercase hex, or the digits read (`raw`) when there is nothing new.
    fn put_hex(&mut self, new: Option<Vec<u8>>) -> Result<(), DumpError> {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        match new {
            Some(bytes) => {
                let hex: Vec<u8> =
                    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]).collect();
                self.out.put(&hex)?;
            }
            None => self.out.put(&self.raw)?,
        }
        Ok(())
    }

    /// A binary value written in hex (`0x…`, `X'…'`).
    fn binary_value(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        self.stats.values += 1;
        if self.rewriter.is_noop() || self.column_skipped() {
            return None;
        }
        let line = self.input.line();
        self.rewrite(value, At::Insert { line }, true)
    }
}
