//! The streaming dump rewriter. Bytes outside the values of INSERT statements and COPY blocks are
//! copied as they are; each value is decoded as its dialect wrote it, rewritten by kind, and
//! written back the same way. Unchanged values are copied from the input byte for byte, so a run
//! with no rules reproduces the dump exactly. Memory holds one value, never the dump.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use serde::Serialize;

use crate::dialect::{Dialect, Quoting, copy_decode, copy_encode};
use crate::input::Input;
use crate::rules::{Form, InsideEscape, Rules};
use crate::value::{Change, Rewriter};
use crate::{DumpError, head};

/// A value longer than this is copied through unchanged (and reported) to keep memory bounded.
const MAX_VALUE: usize = 16 << 20;
/// How much of a statement's text is kept to learn its table and columns.
const MAX_HEAD: usize = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dialect: Option<Dialect>,
    pub skip_tables: Vec<String>,
    pub only_tables: Vec<String>,
    /// `(table, column)` pairs left as they are.
    pub skip_columns: Vec<(String, String)>,
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub dialect: Option<&'static str>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// String values seen in INSERT statements and COPY rows.
    pub values: u64,
    pub changed_plain: u64,
    pub changed_serialized: u64,
    pub changed_json: u64,
    pub changed_url_encoded: u64,
    pub reencrypted: u64,
    /// Values left as they were because they could not be parsed or opened.
    pub reported: u64,
    /// Values not looked at because of `--skip-tables`, `--only-tables` or `--skip-columns`.
    pub skipped: u64,
}

/// A value left alone, with where it is.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub table: String,
    /// 1-based row of the table in this dump.
    pub row: u64,
    pub column: String,
    pub line: u64,
    pub reason: String,
}

/// Rewrites the dump from `input` to `output`; values left alone are passed to `report`.
pub fn rewrite_dump(
    input: impl Read,
    output: impl Write,
    rewriter: &Rewriter,
    options: &Options,
    report: &mut dyn FnMut(Report),
) -> Result<Stats, DumpError> {
    let mut input = Input::new(input);
    let dialect = match options.dialect {
        Some(d) => d,
        None => {
            let head = input.head(64 * 1024)?;
            if head.is_empty() {
                return Ok(Stats::default());
            }
            Dialect::detect(head).ok_or(DumpError::UnknownDialect)?
        }
    };
    let mut s = Scanner {
        input,
        out: Counting { inner: io::BufWriter::with_capacity(1 << 20, output), count: 0 },
        rewriter,
        options,
        report,
        dialect,
        head: Vec::new(),
        insert: None,
        columns: HashMap::new(),
        rows: HashMap::new(),
        unknown_columns_reported: Default::default(),
        ansi_quotes: false,
        tail: Vec::new(),
        raw: Vec::new(),
        encoded: Vec::new(),
        stats: Stats { dialect: Some(dialect.name()), ..Stats::default() },
        fast: Vec::new(),
    };
    s.run()?;
    s.out.inner.flush()?;
    s.stats.bytes_in = s.input.consumed;
    s.stats.bytes_out = s.out.count;
    Ok(s.stats)
}

struct Counting<W: Write> {
    inner: io::BufWriter<W>,
    count: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.count += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

/// A value's new text: decoded (to be escaped as the dump's tool would) or already escaped.
enum NewValue {
    Decoded(Vec<u8>),
    Encoded(Vec<u8>),
}

/// Where a value is, for a report.
#[derive(Clone, Copy)]
enum At<'a> {
    Insert { line: u64 },
    Copy { table: &'a str, column: Option<&'a str>, index: usize, line: u64 },
}

/// The INSERT statement being read, once its `VALUES` began.
struct Insert {
    table: String,
    columns: Option<Vec<String>>,
    depth: u32,
    column: usize,
    skip_table: bool,
}

struct Scanner<'a, R: Read, W: Write> {
    input: Input<R>,
    out: Counting<W>,
    rewriter: &'a Rewriter,
    options: &'a Options,
    report: &'a mut dyn FnMut(Report),
    dialect: Dialect,
    /// The current statement's text so far (strings as `''`), until its VALUES begin.
    head: Vec<u8>,
    insert: Option<Insert>,
    /// Column names by table, from CREATE TABLE statements.
    columns: HashMap<String, Vec<String>>,
    rows: HashMap<String, u64>,
    unknown_columns_reported: std::collections::HashSet<String>,
    /// MySQL with `ANSI_QUOTES` (mysqldump --compatible=ansi): `"` quotes names, not strings.
    ansi_quotes: bool,
    /// The last few bytes outside strings, to see `_binary` before a literal.
    tail: Vec<u8>,
    raw: Vec<u8>,
    encoded: Vec<u8>,
    stats: Stats,
    /// The rules in each quoting's escaped form, made on first use: a plain value is rewritten
    /// in its escaped text, skipping decode and encode (most of a dump's changed values).
    fast: Vec<(Quoting, Option<Rules>)>,
}

/// Bytes that end a plain run in the statement text.
fn special(b: u8) -> bool {
    matches!(
        b,
        b'\'' | b'"' | b'`' | b'-' | b'#' | b'/' | b'$' | b';' | b'(' | b')' | b',' | b'E' | b'e' | b'X' | b'x' | b'0'
    )
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

impl<R: Read, W: Write> Scanner<'_, R, W> {
    fn run(&mut self) -> Result<(), DumpError> {
        while let Some(b) = self.input.peek()? {
            let next = self.input.peek_at(1)?;
            let prev_ident = self.tail.last().copied().is_some_and(ident_byte);
            match (b, next) {
                (b'\'', _) => {
                    let quoting = match self.dialect {
                        Dialect::Mysql => Quoting::MysqlBackslash(b'\''),
                        _ => Quoting::Standard,
                    };
                    self.literal(quoting)?;
                }
                (b'"', _) if self.dialect == Dialect::Mysql && !self.ansi_quotes => {
                    self.literal(Quoting::MysqlBackslash(b'"'))?
                }
                (b'"' | b'`', _) => self.identifier(b)?,
                (b'-', Some(b'-')) => self.until_newline()?,
                (b'#', _) if self.dialect == Dialect::Mysql => self.until_newline()?,
                (b'/', Some(b'*')) => self.block_comment()?,
                (b'$', _) if self.dialect == Dialect::Postgres => self.dollar()?,
                (b'E' | b'e', Some(b'\'')) if self.dialect == Dialect::Postgres && !prev_ident => {
                    self.normal_byte()?;
                    self.literal(Quoting::PgEscape)?;
                }
                (b'X' | b'x', Some(b'\'')) if !prev_ident => {
                    self.normal_byte()?;
                    if self.in_values() {
                        self.hex_string()?;
                    } else {
                        self.copy_quoted(b'\'')?;
                    }
                }
                (b'0', Some(b'x' | b'X')) if self.dialect == Dialect::Mysql && !prev_ident && self.in_values() => {
                    self.hex_literal()?
                }
                (b';', _) => {
                    self.normal_byte()?;
                    self.end_statement()?;
                }
                (b'(', _) => {
                    self.open_paren();
                    self.normal_byte()?;
                }
                (b')', _) => {
                    if let Some(ins) = &mut self.insert {
                        ins.depth = ins.depth.saturating_sub(1);
                    }
                    self.normal_byte()?;
                }
                (b',', _) => {
                    if let Some(ins) = &mut self.insert
                        && ins.depth == 1
                    {
                        ins.column += 1;
                    }
                    self.normal_byte()?;
                }
                _ => self.normal_run()?,
            }
        }
        Ok(())
    }

    fn in_values(&self) -> bool {
        self.insert.as_ref().is_some_and(|i| i.depth >= 1)
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 32 {
            self.tail.drain(..self.tail.len() - 16);
        }
    }

    fn keep_head(&mut self, bytes: &[u8]) {
        if self.insert.is_none() && self.head.len() < MAX_HEAD {
            self.head.extend_from_slice(bytes);
        }
    }

    fn normal_byte(&mut self) -> Result<(), DumpError> {
        let b = self.input.bump();
        self.out.put(&[b])?;
        self.keep_head(&[b]);
        self.keep_tail(&[b]);
        Ok(())
    }

    /// Copies plain statement text up to the next byte that matters.
    fn normal_run(&mut self) -> Result<(), DumpError> {
        let chunk = self.input.chunk()?;
        let n = chunk.iter().skip(1).position(|&b| special(b)).map_or(chunk.len(), |p| p + 1);
        let run = &chunk[..n];
        self.out.put(run)?;
        if self.insert.is_none() && self.head.len() < MAX_HEAD {
            self.head.extend_from_slice(run);
        }
        self.tail.extend_from_slice(&run[run.len().saturating_sub(16)..]);
        if self.tail.len() > 32 {
            self.tail.drain(..self.tail.len() - 16);
        }
        self.input.advance(n);
        Ok(())
    }

    fn open_paren(&mut self) {
        if let Some(ins) = &mut self.insert {
            ins.depth += 1;
            if ins.depth == 1 {
                ins.column = 0;
                *self.rows.entry(ins.table.clone()).or_default() += 1;
            }
            return;
        }
        let trimmed = self.head.trim_ascii_end();
        if trimmed.len() >= 6
            && trimmed[trimmed.len() - 6..].eq_ignore_ascii_case(b"VALUES")
            && let Some((table, columns)) = head::insert_target(&self.head)
        {
            let skip_table = self.table_skipped(&table) || self.columns_unknown(&table, columns.is_some());
            *self.rows.entry(table.clone()).or_default() += 1;
            self.insert = Some(Insert { table, columns, depth: 1, column: 0, skip_table });
        }
    }

    /// `--skip-columns` names a column of `table`, but the dump names none of its columns (no
    /// CREATE TABLE, no column list): no value of the table is touched, and that is said once.
    fn columns_unknown(&mut self, table: &str, named: bool) -> bool {
        let wanted: Vec<&str> =
            self.options.skip_columns.iter().filter(|(t, _)| t == table).map(|(_, c)| c.as_str()).collect();
        if wanted.is_empty() || named || self.columns.contains_key(table) {
            return false;
        }
        if self.unknown_columns_reported.insert(table.to_owned()) {
            let line = self.input.line();
            (self.report)(Report {
                table: table.to_owned(),
                row: 0,
                column: wanted.join(", "),
                line,
                reason: "the dump names no columns for this table (no CREATE TABLE or column list), so \
                         `--skip-columns` cannot find them: the whole table is left as it was"
                    .into(),
            });
        }
        true
    }

    fn table_skipped(&self, table: &str) -> bool {
        self.options.skip_tables.iter().any(|t| t == table)
            || (!self.options.only_tables.is_empty() && !self.options.only_tables.iter().any(|t| t == table))
    }

    fn end_statement(&mut self) -> Result<(), DumpError> {
        self.insert = None;
        let head = std::mem::take(&mut self.head);
        if let Some((table, columns)) = head::create_table(&head) {
            self.columns.insert(table, columns);
        } else if self.dialect == Dialect::Postgres
            && let Some((table, columns)) = head::copy_target(&head)
        {
            self.copy_block(table, columns)?;
        }
        Ok(())
    }

    fn until_newline(&mut self) -> Result<(), DumpError> {
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Ok(());
            }
            let (n, done) = memchr::memchr(b'\n', chunk).map_or((chunk.len(), false), |i| (i + 1, true));
            self.out.put(&chunk[..n])?;
            self.input.advance(n);
            if done {
                return Ok(());
            }
        }
    }

    fn block_comment(&mut self) -> Result<(), DumpError> {
        let line = self.input.line();
        let mut prev_star = false;
        // The text of a short comment, however the input arrives: mysqldump's
        // `/*!40101 SET … SQL_MODE='…,ANSI' */` turns `"` into a name quote.
        let mut text: Vec<u8> = Vec::new();
        self.out.put(b"/*")?;
        self.input.advance(2);
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Err(DumpError::Truncated { line, what: "comment" });
            }
            let end =
                if prev_star && chunk[0] == b'/' { Some(0) } else { memchr::memmem::find(chunk, b"*/").map(|i| i + 1) };
            let n = end.map_or(chunk.len(), |e| e + 1);
            if text.len() < 4096 {
                text.extend_from_slice(&chunk[..n]);
            }
            prev_star = chunk[..n].last() == Some(&b'*');
            self.out.put(&chunk[..n])?;
            self.input.advance(n);
            if end.is_some() {
                break;
            }
        }
        if self.dialect == Dialect::Mysql && memchr::memmem::find(&text, b"SQL_MODE=").is_some() {
            self.ansi_quotes = memchr::memmem::find(&text, b"ANSI").is_some();
        }
        Ok(())
    }

    /// A quoted identifier (or an X'…' body): copied as it is, doubled quotes included.
    fn identifier(&mut self, quote: u8) -> Result<(), DumpError> {
        self.copy_quoted(quote)
    }

    fn copy_quoted(&mut self, quote: u8) -> Result<(), DumpError> {
        let line = self.input.line();
        let open = self.input.bump();
        self.out.put(&[open])?;
        self.keep_head(&[open]);
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Err(DumpError::Truncated { line, what: "quoted name" });
            }
            match memchr::memchr(quote, chunk) {
                Some(i) => {
                    let body = &chunk[..=i];
                    self.out.put(body)?;
                    if self.insert.is_none() && self.head.len() < MAX_HEAD {
                        self.head.extend_from_slice(body);
                    }
                    self.input.advance(i + 1);
                    if self.input.peek()? == Some(quote) {
                        let b = self.input.bump();
                        self.out.put(&[b])?;
                        self.keep_head(&[b]);
                        continue;
                    }
                    self.keep_tail(&[quote]);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.out.put(chunk)?;
                    if self.insert.is_none() && self.head.len() < MAX_HEAD {
                        self.head.extend_from_slice(chunk);
                    }
                    self.input.advance(n);
                }
            }
        }
    }

    /// PostgreSQL `$tag$ … $tag$` (function bodies): copied as it is.
    fn dollar(&mut self) -> Result<(), DumpError> {
        let mut k = 1;
        while let Some(b) = self.input.peek_at(k)? {
            if b == b'$' {
                break;
            }
            // Tags are short identifiers; anything longer is not a dollar quote.
            if k > 64 {
                return self.normal_byte();
            }
            if !(b.is_ascii_alphanumeric() || b == b'_') || (k == 1 && b.is_ascii_digit()) {
                return self.normal_byte();
            }
            k += 1;
        }
        if self.input.peek_at(k)? != Some(b'$') {
            return self.normal_byte();
        }
        let mut tag = Vec::new();
        for _ in 0..=k {
            tag.push(self.input.bump());
        }
        self.out.put(&tag)?;
        self.keep_head(b"''");
        let line = self.input.line();
        let finder = memchr::memmem::Finder::new(&tag);
        loop {
            self.input.head(tag.len() + 4096)?;
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Err(DumpError::Truncated { line, what: "dollar-quoted string" });
            }
            match finder.find(chunk) {
                Some(i) => {
                    let n = i + tag.len();
                    self.out.put(&chunk[..n])?;
                    self.input.advance(n);
                    return Ok(());
                }
                None => {
                    // Keep the last bytes: the tag may straddle the buffer's end.
                    let n = chunk.len().saturating_sub(tag.len());
                    if n == 0 {
                        let n = chunk.len();
                        self.out.put(chunk)?;
                        self.input.advance(n);
                    } else {
                        self.out.put(&chunk[..n])?;
                        self.input.advance(n);
                    }
                }
            }
        }
    }

    /// `0x…` in a MySQL INSERT (mysqldump --hex-blob).
    fn hex_literal(&mut self) -> Result<(), DumpError> {
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
    fn hex_string(&mut self) -> Result<(), DumpError> {
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

    /// A string literal: a value when inside INSERT … VALUES, otherwise copied as it is.
    fn literal(&mut self, quoting: Quoting) -> Result<(), DumpError> {
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

    /// After a literal inside `replace(`: the `,'TOKEN',char(N))` arguments that follow it
    /// (innermost first), read ahead without consuming them.
    fn sqlite_replace_tokens(&mut self) -> Result<Vec<(Vec<u8>, u8)>, DumpError> {
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

    fn count(&mut self, change: &Change) {
        let s = &mut self.stats;
        s.changed_plain += u64::from(change.plain);
        s.changed_serialized += u64::from(change.serialized);
        s.changed_json += u64::from(change.json);
        s.changed_url_encoded += u64::from(change.url_encoded);
        s.reencrypted += u64::from(change.reencrypted);
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

    /// Whether the current value is in a skipped table or column; counts it when it is.
    fn column_skipped(&mut self) -> bool {
        let skipped = self.is_skipped();
        if skipped {
            self.stats.skipped += 1;
        }
        skipped
    }

    fn is_skipped(&self) -> bool {
        let Some(ins) = &self.insert else { return false };
        ins.skip_table
            || !self.options.skip_columns.is_empty() && {
                let name = self.column_name(&ins.table, ins.columns.as_deref(), ins.column);
                self.options.skip_columns.iter().any(|(t, c)| *t == ins.table && Some(c.as_str()) == name.as_deref())
            }
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

    fn column_name(&self, table: &str, named: Option<&[String]>, index: usize) -> Option<String> {
        named.or_else(|| self.columns.get(table).map(Vec::as_slice)).and_then(|c| c.get(index)).cloned()
    }

    fn rewrite(&mut self, value: &[u8], at: At<'_>, binary: bool) -> Option<Vec<u8>> {
        if !self.rewriter.candidate(value) {
            return None;
        }
        let mut change = Change::default();
        let new = if binary {
            self.rewriter.rewrite_binary(value, &mut change)
        } else {
            self.rewriter.rewrite(value, &mut change)
        };
        if let Some(reason) = change.problem.take() {
            self.left_alone(at, reason);
        }
        if new.is_some() {
            self.count(&change);
        }
        new
    }

    /// Counts and reports a value left as it was.
    fn left_alone(&mut self, at: At<'_>, reason: String) {
        self.stats.reported += 1;
        let report = self.locate(at, reason);
        (self.report)(report);
    }

    fn locate(&self, at: At<'_>, reason: String) -> Report {
        let row = |table: &str| self.rows.get(table).copied().unwrap_or(0);
        let unnamed = |index: usize| format!("#{}", index + 1);
        match (at, &self.insert) {
            (At::Copy { table, column, index, line }, _) => Report {
                table: table.to_owned(),
                row: row(table),
                column: column.map_or_else(|| unnamed(index), str::to_owned),
                line,
                reason,
            },
            (At::Insert { line }, Some(ins)) => Report {
                table: ins.table.clone(),
                row: row(&ins.table),
                column: self
                    .column_name(&ins.table, ins.columns.as_deref(), ins.column)
                    .unwrap_or_else(|| unnamed(ins.column)),
                line,
                reason,
            },
            (At::Insert { line }, None) => Report { table: String::new(), row: 0, column: String::new(), line, reason },
        }
    }

    /// The rows of a PostgreSQL `COPY … FROM stdin;` block, up to its `\.` line.
    fn copy_block(&mut self, table: String, columns: Option<Vec<String>>) -> Result<(), DumpError> {
        self.until_newline()?;
        let skip_table = self.table_skipped(&table);
        if let Some(named) = &columns {
            self.columns.entry(table.clone()).or_insert_with(|| named.clone());
        }
        let columns = columns.or_else(|| self.columns.get(&table).cloned());
        let start = self.input.line();
        let mut line = Vec::new();
        loop {
            line.clear();
            let mut ended = false;
            let mut streamed = false;
            loop {
                let chunk = self.input.chunk()?;
                if chunk.is_empty() {
                    break;
                }
                match memchr::memchr(b'\n', chunk) {
                    Some(i) => {
                        line.extend_from_slice(&chunk[..i]);
                        self.input.advance(i + 1);
                        ended = true;
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        line.extend_from_slice(chunk);
                        self.input.advance(n);
                    }
                }
                if line.len() > MAX_VALUE {
                    // A row too large to hold: copied through as it comes, and reported.
                    let at = self.input.line();
                    self.out.put(&line)?;
                    line.clear();
                    self.until_newline()?;
                    *self.rows.entry(table.clone()).or_default() += 1;
                    self.left_alone(
                        At::Copy { table: &table, column: None, index: 0, line: at },
                        format!("row larger than {} MiB: copied as it is, not rewritten", MAX_VALUE >> 20),
                    );
                    streamed = true;
                    break;
                }
            }
            if streamed {
                continue;
            }
            if !ended && line.is_empty() {
                return Err(DumpError::Truncated { line: start, what: "COPY block (no `\\.` line)" });
            }
            if line == b"\\." {
                self.out.put(if ended { b"\\.\n" } else { b"\\." })?;
                return Ok(());
            }
            *self.rows.entry(table.clone()).or_default() += 1;
            self.copy_row(&line, &table, columns.as_deref(), skip_table)?;
            self.out.put(if ended { b"\n" } else { b"" })?;
            if !ended {
                return Err(DumpError::Truncated { line: start, what: "COPY block (no `\\.` line)" });
            }
        }
    }

    fn copy_row(
        &mut self,
        line: &[u8],
        table: &str,
        columns: Option<&[String]>,
        skip_table: bool,
    ) -> Result<(), DumpError> {
        let row_line = self.input.line().saturating_sub(1);
        for (i, field) in line.split(|&b| b == b'\t').enumerate() {
            if i > 0 {
                self.out.put(b"\t")?;
            }
            if field == b"\\N" {
                self.out.put(field)?;
                continue;
            }
            self.stats.values += 1;
            let name = columns.and_then(|c| c.get(i)).map(String::as_str);
            let skipped =
                skip_table || self.options.skip_columns.iter().any(|(t, c)| t == table && Some(c.as_str()) == name);
            if skipped {
                self.stats.skipped += 1;
            }
            let new = if skipped || self.rewriter.is_noop() {
                None
            } else {
                let decoded;
                let value = if memchr::memchr(b'\\', field).is_some() {
                    decoded = copy_decode(field);
                    &decoded[..]
                } else {
                    field
                };
                self.rewrite(value, At::Copy { table, column: name, index: i, line: row_line }, false)
            };
            match new {
                Some(value) => {
                    self.encoded.clear();
                    copy_encode(&value, &mut self.encoded);
                    let encoded = std::mem::take(&mut self.encoded);
                    self.out.put(&encoded)?;
                    self.encoded = encoded;
                }
                None => self.out.put(field)?,
            }
        }
        Ok(())
    }
}

fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
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

/// How many backslashes end `bytes`: an odd count escapes the byte that follows.
pub(crate) fn trailing_backslashes(bytes: &[u8]) -> usize {
    bytes.iter().rev().take_while(|&&b| b == b'\\').count()
}
