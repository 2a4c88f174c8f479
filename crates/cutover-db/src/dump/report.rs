//! What became of the values: the counts of the summary, each value left alone with where it is,
//! and the one call that rewrites a value and records its outcome.

use std::io::{Read, Write};

use serde::Serialize;

use super::Scanner;
use crate::value::Change;

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
    /// What `Options::load_into` fixed in the statements.
    pub portability: super::Fixed,
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

/// Where a value is, for a report.
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    Insert { line: u64 },
    Copy { table: &'a str, column: Option<&'a str>, index: usize, line: u64 },
}

impl<R: Read, W: Write> Scanner<'_, R, W> {
    pub(super) fn rewrite(&mut self, value: &[u8], at: At<'_>, binary: bool) -> Option<Vec<u8>> {
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

    pub(super) fn count(&mut self, change: &Change) {
        let s = &mut self.stats;
        s.changed_plain += u64::from(change.plain);
        s.changed_serialized += u64::from(change.serialized);
        s.changed_json += u64::from(change.json);
        s.changed_url_encoded += u64::from(change.url_encoded);
        s.reencrypted += u64::from(change.reencrypted);
    }

    /// Counts and reports a value left as it was.
    pub(super) fn left_alone(&mut self, at: At<'_>, reason: String) {
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
}
