//! Which values `--skip-tables`, `--only-tables` and `--skip-columns` leave alone, and the column
//! a value is in (from the INSERT's column list or the table's CREATE TABLE).

use std::io::{Read, Write};

use super::{Report, Scanner};

impl<R: Read, W: Write> Scanner<'_, R, W> {
    pub(super) fn table_skipped(&self, table: &str) -> bool {
        self.options.skip_tables.iter().any(|t| t == table)
            || (!self.options.only_tables.is_empty() && !self.options.only_tables.iter().any(|t| t == table))
    }

    /// `--skip-columns` names a column of `table`, but the dump names none of its columns (no
    /// CREATE TABLE, no column list): no value of the table is touched, and that is said once.
    pub(super) fn columns_unknown(&mut self, table: &str, named: bool) -> bool {
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

    /// Whether the current value is in a skipped table or column; counts it when it is.
    pub(super) fn column_skipped(&mut self) -> bool {
        let skipped = self.is_skipped();
        if skipped {
            self.stats.skipped += 1;
        }
        skipped
    }

    pub(super) fn is_skipped(&self) -> bool {
        let Some(ins) = &self.insert else { return false };
        ins.skip_table
            || !self.options.skip_columns.is_empty() && {
                let name = self.column_name(&ins.table, ins.columns.as_deref(), ins.column);
                self.options.skip_columns.iter().any(|(t, c)| *t == ins.table && Some(c.as_str()) == name.as_deref())
            }
    }

    pub(super) fn column_name(&self, table: &str, named: Option<&[String]>, index: usize) -> Option<String> {
        named.or_else(|| self.columns.get(table).map(Vec::as_slice)).and_then(|c| c.get(index)).cloned()
    }
}
