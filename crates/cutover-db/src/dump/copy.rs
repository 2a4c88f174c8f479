//! PostgreSQL `COPY … FROM stdin;` blocks: one row a line, fields split at tabs, each decoded from
//! COPY's text format, rewritten and encoded again.

use std::io::{Read, Write};

use super::report::At;
use super::{MAX_VALUE, Scanner};
use crate::DumpError;
use crate::dialect::{copy_decode, copy_encode};

impl<R: Read, W: Write> Scanner<'_, R, W> {
    /// The rows of a PostgreSQL `COPY … FROM stdin;` block, up to its `\.` line.
    pub(super) fn copy_block(&mut self, table: String, columns: Option<Vec<String>>) -> Result<(), DumpError> {
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
