//! Walking the statement text: plain runs, comments, quoted names and dollar quotes are copied as
//! they are, while the head of each statement is kept to learn its table and columns and to see
//! where an INSERT's values, a CREATE TABLE or a COPY block begin.

use std::io::{Read, Write};

use super::{Insert, MAX_HEAD, Scanner};
use crate::dialect::{Dialect, Quoting};
use crate::{DumpError, head};

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
    pub(super) fn run(&mut self) -> Result<(), DumpError> {
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
                    self.open_paren()?;
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

    pub(super) fn in_values(&self) -> bool {
        self.insert.as_ref().is_some_and(|i| i.depth >= 1)
    }

    pub(super) fn keep_tail(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 32 {
            self.tail.drain(..self.tail.len() - 16);
        }
    }

    pub(super) fn keep_head(&mut self, bytes: &[u8]) {
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

    fn open_paren(&mut self) -> Result<(), DumpError> {
        if let Some(ins) = &mut self.insert {
            ins.depth += 1;
            if ins.depth == 1 {
                ins.column = 0;
                *self.rows.entry(ins.table.clone()).or_default() += 1;
            }
            return Ok(());
        }
        let trimmed = self.head.trim_ascii_end();
        if trimmed.len() >= 6
            && trimmed[trimmed.len() - 6..].eq_ignore_ascii_case(b"VALUES")
            && let Some((table, columns)) = head::insert_target(&self.head)
        {
            let skip_table = self.table_skipped(&table) || self.columns_unknown(&table, columns.is_some());
            *self.rows.entry(table.clone()).or_default() += 1;
            self.insert = Some(Insert { table, columns, depth: 1, column: 0, skip_table });
            // The values stream straight out; the statement's head is fixed now.
            self.release(false)?;
        }
        Ok(())
    }

    fn end_statement(&mut self) -> Result<(), DumpError> {
        self.insert = None;
        self.release(true)?;
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

    pub(super) fn until_newline(&mut self) -> Result<(), DumpError> {
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
}
