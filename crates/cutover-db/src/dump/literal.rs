//! String literals: outside INSERT values copied as they are; inside, a value, copied straight
//! from the read buffer when no rule can touch it, rewritten in its escaped text when it is plain,
//! or decoded, rewritten and escaped again.

use std::io::{Read, Write};

use super::report::At;
use super::sqlite::replace_bytes;
use super::{MAX_VALUE, NewValue, Scanner};
use crate::DumpError;
use crate::dialect::{Dialect, Quoting, trailing_backslashes};
use crate::rules::{Form, InsideEscape};
use crate::value::Change;

impl<R: Read, W: Write> Scanner<'_, R, W> {
    /// A string literal: a value when inside INSERT … VALUES, otherwise copied as it is.
    pub(super) fn literal(&mut self, quoting: Quoting) -> Result<(), DumpError> {
        let quote = quoting.quote();
        let open = self.input.bump();
        self.out.put(&[open])?;
        self.keep_head(b"'");
        let binary = self.tail.trim_ascii_end().ends_with(b"_binary");
        let in_replace = self.dialect == Dialect::Sqlite && self.tail.to_ascii_lowercase().ends_with(b"replace(");
        if !in_replace && self.copy_untouched_literal(quoting)? {
            return Ok(());
        }
        let line = self.input.line();
        self.raw.clear();
        let mut overflow = false;
        // Backslashes right before the scan position: an odd count escapes the next quote.
        let mut trailing = 0usize;
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Err(DumpError::Truncated { line, what: "string" });
            }
            let stop = memchr::memchr(quote, chunk);
            let n = stop.unwrap_or(chunk.len());
            let run = &chunk[..n];
            if quoting.has_backslash() {
                let tail = trailing_backslashes(run);
                trailing = if tail == run.len() { trailing + tail } else { tail };
            }
            if overflow {
                self.out.put(run)?;
            } else {
                self.raw.extend_from_slice(run);
            }
            self.input.advance(n);
            if stop.is_none() {
                if !overflow && self.raw.len() > MAX_VALUE {
                    overflow = true;
                    self.out.put(&self.raw)?;
                }
                continue;
            }
            self.input.bump();
            // An escaped quote, or a doubled one, is part of the value; else it ends the literal.
            let part = if trailing % 2 == 1 {
                &[quote][..]
            } else if self.input.peek()? == Some(quote) {
                self.input.bump();
                &[quote, quote][..]
            } else {
                break;
            };
            trailing = 0;
            if overflow {
                self.out.put(part)?;
            } else {
                self.raw.extend_from_slice(part);
            }
        }
        self.keep_tail(&[quote]);
        self.keep_head(b"'");
        if overflow {
            self.out.put(&[quote])?;
            if self.in_values() {
                self.stats.values += 1;
                self.left_alone(
                    At::Insert { line },
                    format!("value larger than {} MiB: copied as it is, not rewritten", MAX_VALUE >> 20),
                );
            }
            return Ok(());
        }
        let raw = std::mem::take(&mut self.raw);
        // sqlite3 writes newlines as `replace('a\nb','\n',char(10))`: the value is the literal
        // with those tokens turned back into the characters, and is written back the same way.
        let tokens = if in_replace && self.in_values() { self.sqlite_replace_tokens()? } else { Vec::new() };
        let new = if self.in_values() { self.literal_value(&raw, quoting, binary, &tokens, line) } else { None };
        match new {
            Some(NewValue::Encoded(encoded)) => self.out.put(&encoded)?,
            Some(NewValue::Decoded(mut value)) => {
                for (token, ch) in tokens.iter().rev() {
                    value = replace_bytes(&value, &[*ch], token);
                }
                self.encoded.clear();
                quoting.encode(&value, &mut self.encoded);
                let encoded = std::mem::take(&mut self.encoded);
                self.out.put(&encoded)?;
                self.encoded = encoded;
            }
            None => self.out.put(&raw)?,
        }
        self.out.put(&[quote])?;
        self.raw = raw;
        Ok(())
    }

    /// The common case, fast: the whole literal (after its opening quote) is in the read buffer
    /// and no rule can touch it, so it is copied straight from the buffer, with no decoding.
    /// Returns false, having consumed nothing, when the full path must run.
    fn copy_untouched_literal(&mut self, quoting: Quoting) -> Result<bool, DumpError> {
        let quote = quoting.quote();
        let in_values = self.in_values();
        let look = in_values && !self.rewriter.is_noop();
        // Whether a value could change is read from its escaped text: sound only when every rule
        // has a URL-safe key (escaping leaves those bytes alone).
        if look && !self.rewriter.rules().has_keys() {
            return Ok(false);
        }
        let skipped = look && self.is_skipped();
        let chunk = self.input.chunk()?;
        let mut i = 0;
        let end = loop {
            // Only quotes stop the scan; a backslash matters only right before one (HTML's many
            // `\"` inside a '…' string are passed over at memchr speed).
            let Some(k) = memchr::memchr(quote, &chunk[i..]) else { return Ok(false) };
            let at = i + k;
            // The byte after the quote must be in the buffer too: it tells a doubled quote.
            if at + 1 >= chunk.len() {
                return Ok(false);
            }
            let escaped = quoting.has_backslash() && trailing_backslashes(&chunk[..at]) % 2 == 1;
            if escaped || chunk[at + 1] == quote {
                i = at + if escaped { 1 } else { 2 };
                continue;
            }
            break at;
        };
        let body = &chunk[..end];
        if look && !skipped && self.rewriter.candidate(body) {
            return Ok(false);
        }
        if body.len() > MAX_VALUE {
            return Ok(false);
        }
        self.out.put(body)?;
        self.out.put(&[quote])?;
        self.input.advance(end + 1);
        if in_values {
            self.stats.values += 1;
            self.stats.skipped += u64::from(skipped);
        }
        self.keep_tail(&[quote]);
        self.keep_head(b"'");
        Ok(true)
    }

    fn literal_value(
        &mut self,
        raw: &[u8],
        quoting: Quoting,
        binary: bool,
        tokens: &[(Vec<u8>, u8)],
        line: u64,
    ) -> Option<NewValue> {
        self.stats.values += 1;
        if self.rewriter.is_noop() || self.column_skipped() {
            return None;
        }
        // An escape at the start (`\n{…}`) could hide a JSON or serialized value from a look at
        // the escaped text: such a value takes the decoding path.
        let escaped_start = quoting.has_backslash() && raw.trim_ascii_start().first() == Some(&b'\\');
        if tokens.is_empty() && !binary && !escaped_start && self.rewriter.plain_shaped(raw) {
            match self.fast_plain(raw, quoting) {
                Ok(None) => return None,
                Ok(Some(encoded)) => return Some(NewValue::Encoded(encoded)),
                Err(InsideEscape) => {}
            }
        }
        let escaped = memchr::memchr(quoting.quote(), raw).is_some()
            || (quoting.has_backslash() && memchr::memchr(b'\\', raw).is_some());
        let mut decoded;
        let mut value = if escaped {
            decoded = quoting.decode(raw);
            &decoded[..]
        } else {
            raw
        };
        if !tokens.is_empty() {
            decoded = value.to_vec();
            for (token, ch) in tokens {
                decoded = replace_bytes(&decoded, token, &[*ch]);
            }
            value = &decoded[..];
        }
        let new = self.rewrite(value, At::Insert { line }, binary)?;
        // The tokens stand for characters only while the text itself holds none of them.
        if tokens.iter().any(|(token, _)| memchr::memmem::find(&new, token).is_some()) {
            self.left_alone(
                At::Insert { line },
                "the rewritten value would contain sqlite3's newline token; left as it was".into(),
            );
            return None;
        }
        Some(NewValue::Decoded(new))
    }

    /// A plain value rewritten in its escaped text. `Err` when that cannot be done safely (a
    /// match would start inside an escape): the caller decodes the value instead.
    fn fast_plain(&mut self, raw: &[u8], quoting: Quoting) -> Result<Option<Vec<u8>>, InsideEscape> {
        if !self.rewriter.rules().might_match(raw) {
            return Ok(None);
        }
        let rules = match self.fast.iter().position(|(q, _)| *q == quoting) {
            Some(i) => &self.fast[i].1,
            None => {
                let escape = |v: &[u8]| {
                    let mut out = Vec::new();
                    quoting.encode(v, &mut out);
                    out
                };
                let rules = self.rewriter.rules().escaped(&escape, quoting.quote());
                self.fast.push((quoting, rules));
                &self.fast.last().expect("just pushed").1
            }
        };
        let Some(rules) = rules else { return Err(InsideEscape) };
        let (out, forms) = match rules.apply_escaped(raw)? {
            Some(hit) => hit,
            None => return Ok(None),
        };
        let mut change = Change::default();
        for form in forms {
            match form {
                Form::Raw => change.plain = true,
                Form::JsonEscaped => change.json = true,
                Form::UrlEncoded => change.url_encoded = true,
            }
        }
        self.count(&change);
        Ok(Some(out))
    }
}
