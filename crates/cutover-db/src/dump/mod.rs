//! The streaming dump rewriter. Bytes outside the values of INSERT statements and COPY blocks are
//! copied as they are; each value is decoded as its dialect wrote it, rewritten by kind, and
//! written back the same way. Unchanged values are copied from the input byte for byte, so a run
//! with no rules reproduces the dump exactly. Memory holds one value, never the dump.
//!
//! `statement.rs` walks the statement text, `literal.rs` (with `sqlite.rs`) and `hex.rs` read the
//! values of INSERT statements, `copy.rs` the rows of COPY blocks, `tables.rs` decides which values
//! the options skip, and `report.rs` counts and reports what became of each value. With
//! `Options::load_into`, `portable.rs` fixes the statement text outside values for the target
//! server: the text is held until its statement ends or its values begin, fixed, then written.

mod copy;
mod hex;
mod literal;
mod portable;
mod report;
mod sqlite;
mod statement;
mod tables;

use std::collections::HashMap;
use std::io::{self, Read, Write};

use crate::DumpError;
use crate::dialect::{Dialect, Quoting};
use crate::input::Input;
use crate::rules::Rules;
use crate::value::Rewriter;

pub use portable::{Fixed, Server};
pub use report::{Report, Stats};

use portable::Fixer;

/// A value longer than this is copied through unchanged (and reported) to keep memory bounded.
const MAX_VALUE: usize = 16 << 20;
/// How much of a statement's text is kept to learn its table and columns.
const MAX_HEAD: usize = 1 << 20;
/// How much of a statement's text outside values is held for the portability fixes; a longer
/// one is written as it is (and reported).
const MAX_HELD: usize = 4 << 20;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dialect: Option<Dialect>,
    pub skip_tables: Vec<String>,
    pub only_tables: Vec<String>,
    /// `(table, column)` pairs left as they are.
    pub skip_columns: Vec<(String, String)>,
    /// The server the dump will be loaded into: a MySQL-family dump's statements are fixed for
    /// it (`portable.rs`). `None`: statements are copied as they are.
    pub load_into: Option<Server>,
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
    let fixer = options.load_into.filter(|_| dialect == Dialect::Mysql).map(Fixer::new);
    let mut s = Scanner {
        input,
        out: Counting {
            inner: io::BufWriter::with_capacity(1 << 20, output),
            count: 0,
            hold: fixer.is_some(),
            held: Vec::new(),
            overlong: false,
        },
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
        fixer,
        fixed_text: Vec::new(),
    };
    s.run()?;
    s.release(false)?;
    if let Some(fixer) = s.fixer.take() {
        s.stats.portability = fixer.fixed;
    }
    s.out.inner.flush()?;
    s.stats.bytes_in = s.input.consumed;
    s.stats.bytes_out = s.out.count;
    Ok(s.stats)
}

struct Counting<W: Write> {
    inner: io::BufWriter<W>,
    count: u64,
    /// Whether statement text is held in `held` for the portability fixes (never an INSERT's
    /// values: holding stops when they begin).
    hold: bool,
    held: Vec<u8>,
    /// The statement held was longer than `MAX_HELD`: it went out as it was.
    overlong: bool,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.hold {
            if self.held.len() + bytes.len() <= MAX_HELD {
                self.held.extend_from_slice(bytes);
                return Ok(());
            }
            self.hold = false;
            self.overlong = true;
            let held = std::mem::take(&mut self.held);
            self.write(&held)?;
        }
        self.write(bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.count += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

/// A value's new text: decoded (to be escaped as the dump's tool would) or already escaped.
enum NewValue {
    Decoded(Vec<u8>),
    Encoded(Vec<u8>),
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
    /// The portability fixes, when `load_into` asks for them on a MySQL-family dump.
    fixer: Option<Fixer>,
    fixed_text: Vec<u8>,
}

impl<R: Read, W: Write> Scanner<'_, R, W> {
    /// Writes the statement text held so far, fixed for the target server; holding goes on
    /// (`hold`: a statement ended) or stops (an INSERT's values begin).
    fn release(&mut self, hold: bool) -> Result<(), DumpError> {
        let Some(fixer) = &mut self.fixer else { return Ok(()) };
        if std::mem::take(&mut self.out.overlong) {
            fixer.fixed.too_long += 1;
            let line = self.input.line();
            (self.report)(Report {
                table: String::new(),
                row: 0,
                column: String::new(),
                line,
                reason: format!(
                    "the statement ending here has over {} MiB of text outside values: copied as it is, \
                     without the portability fixes",
                    MAX_HELD >> 20
                ),
            });
        }
        if !self.out.held.is_empty() {
            let held = std::mem::take(&mut self.out.held);
            if fixer.fix(&held, self.ansi_quotes, &mut self.fixed_text) {
                self.out.write(&self.fixed_text)?;
            } else {
                self.out.write(&held)?;
            }
            self.out.held = held;
            self.out.held.clear();
        }
        self.out.hold = hold;
        Ok(())
    }
}
