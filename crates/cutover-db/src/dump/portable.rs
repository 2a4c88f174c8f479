//! Portability fixed on the way (`Options::load_into`): the statement text of a MySQL-family dump,
//! outside INSERT values, loses what a load into another server would trip on. The scanner holds
//! each statement's text (with the comments before it) until the statement ends or its values
//! begin, and hands it here; values never pass through.
//!
//! Removed: DEFINER clauses (with `SQL SECURITY DEFINER`, the default, that goes with them;
//! `SQL SECURITY INVOKER` stays), as `mysqldump --skip-definer` would; mariadb-dump's sandbox
//! line; TABLESPACE clauses of CREATE TABLE; the GTID_PURGED and SQL_LOG_BIN statements (they
//! need SUPER, and MariaDB has no GTID_PURGED). Mapped, for MariaDB: MySQL 8's `utf8mb4_0900_*`
//! collations. Strings, quoted names and plain comments are never changed.

use aho_corasick::AhoCorasick;
use serde::Serialize;

/// The server a dump is to be loaded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Mysql,
    Mariadb,
}

impl Server {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mysql" => Some(Self::Mysql),
            "mariadb" => Some(Self::Mariadb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
        }
    }
}

/// What the portability fixes changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Fixed {
    /// DEFINER clauses removed.
    pub definers: u64,
    /// `utf8mb4_0900_*` collation names mapped to ones MariaDB knows.
    pub collations: u64,
    /// mariadb-dump's `/*M!999999\- enable the sandbox mode */` lines removed.
    pub sandbox_lines: u64,
    /// TABLESPACE clauses removed from CREATE TABLE statements.
    pub tablespaces: u64,
    /// `SET @@GLOBAL.GTID_PURGED=…` and the `SQL_LOG_BIN` statements around a dump removed.
    pub gtid_statements: u64,
    /// Statements whose text outside values was too long to hold: copied as they were, unfixed.
    pub too_long: u64,
}

impl Fixed {
    /// "removed 3 DEFINER clauses, mapped 12 collations, …", or "nothing to fix".
    pub fn describe(&self) -> String {
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut removed = Vec::new();
        if self.definers > 0 {
            removed.push(plural(self.definers, "DEFINER clause", "DEFINER clauses"));
        }
        if self.sandbox_lines > 0 {
            removed.push(plural(self.sandbox_lines, "sandbox-mode line", "sandbox-mode lines"));
        }
        if self.tablespaces > 0 {
            removed.push(plural(self.tablespaces, "TABLESPACE clause", "TABLESPACE clauses"));
        }
        if self.gtid_statements > 0 {
            removed.push(plural(self.gtid_statements, "GTID/SQL_LOG_BIN statement", "GTID/SQL_LOG_BIN statements"));
        }
        let mut parts = Vec::new();
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        if self.collations > 0 {
            parts.push(format!("mapped {}", plural(self.collations, "collation", "collations")));
        }
        if self.too_long > 0 {
            parts.push(format!("{} too long to check (reported)", plural(self.too_long, "statement", "statements")));
        }
        if parts.is_empty() { "nothing to fix".into() } else { parts.join("; ") }
    }
}

/// What is worth a closer look in a statement's text; anything else is copied at once.
const NEEDLES: &[&str] = &["definer", "0900_", "999999", "tablespace", "gtid_purged", "sql_log_bin", "delimiter"];

pub(super) struct Fixer {
    target: Server,
    needles: AhoCorasick,
    /// Between `DELIMITER ;;` and `DELIMITER ;` a `;` also ends statements inside routine bodies,
    /// so no whole statement is removed there.
    custom_delimiter: bool,
    /// The text of a DELIMITER line whose end is still to come (the scanner ends its text at `;`).
    delimiter_line: Option<Vec<u8>>,
    /// Whether the text handed in so far ended with a newline (DELIMITER starts a line).
    at_line_start: bool,
    /// A removed statement's line ended with the text: its newline, if the next text begins
    /// with one, goes with it.
    drop_newline: bool,
    pub fixed: Fixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Space,
    /// `-- …`, `# …` and plain `/* … */`.
    Comment,
    /// `/*M!999999\- enable the sandbox mode */`.
    Sandbox,
    Word,
    /// `@name` and `@@scope.name`.
    Var,
    Str,
    /// A quoted name.
    Ident,
    Punct(u8),
    /// `/*!50013` or `/*M!100100`: a versioned comment, whose text is statement text.
    Open,
    /// The `*/` that ends a versioned comment.
    Close,
    /// A client `DELIMITER …` line.
    Delimiter,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Where the `/* … */` comment whose body starts at `from` ends (all of `text` if it does not).
fn comment_end(text: &[u8], from: usize) -> usize {
    memchr::memmem::find(&text[from..], b"*/").map_or(text.len(), |k| from + k + 2)
}

/// Where the quoted string or name opening at `i` ends (after its closing quote).
fn quoted_end(text: &[u8], i: usize, quote: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < text.len() {
        let b = text[j];
        if backslash && b == b'\\' {
            j += 2;
        } else if b == quote {
            if text.get(j + 1) == Some(&quote) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    text.len()
}

/// `/*!` or `/*M!` and the version digits after it: the opener's length.
fn version_opener(rest: &[u8]) -> Option<usize> {
    let n = if rest.starts_with(b"/*!") {
        3
    } else if rest.starts_with(b"/*M!") {
        4
    } else {
        return None;
    };
    Some(n + rest[n..].iter().take_while(|b| b.is_ascii_digit()).count())
}

/// MySQL's lexical structure, as much as the fixes need: what is code, string, name or comment.
fn lex(text: &[u8], from: usize, ansi_quotes: bool, mut line_start: bool) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = from;
    let mut in_version = false;
    while i < text.len() {
        let b = text[i];
        let start = i;
        let rest = &text[i..];
        let kind = if b.is_ascii_whitespace() {
            while i < text.len() && text[i].is_ascii_whitespace() {
                line_start |= text[i] == b'\n';
                i += 1;
            }
            toks.push(Tok { kind: Kind::Space, start, end: i });
            continue;
        } else if line_start
            && !in_version
            && rest.len() >= 9
            && rest[..9].eq_ignore_ascii_case(b"DELIMITER")
            && rest.get(9).is_none_or(|b| b.is_ascii_whitespace())
        {
            i = memchr::memchr(b'\n', rest).map_or(text.len(), |k| i + k);
            Kind::Delimiter
        } else if rest.starts_with(b"/*!999999\\-") || rest.starts_with(b"/*M!999999\\-") {
            i = comment_end(text, i + 2);
            Kind::Sandbox
        } else if let Some(n) = version_opener(rest).filter(|_| !in_version) {
            i += n;
            in_version = true;
            Kind::Open
        } else if rest.starts_with(b"/*") {
            i = comment_end(text, i + 2);
            Kind::Comment
        } else if in_version && rest.starts_with(b"*/") {
            i += 2;
            in_version = false;
            Kind::Close
        } else if b == b'#' || rest.starts_with(b"--") {
            i = memchr::memchr(b'\n', rest).map_or(text.len(), |k| i + k);
            Kind::Comment
        } else if b == b'\'' || (b == b'"' && !ansi_quotes) {
            i = quoted_end(text, i, b, true);
            Kind::Str
        } else if b == b'`' || b == b'"' {
            i = quoted_end(text, i, b, false);
            Kind::Ident
        } else if b == b'@' {
            let at = if rest.get(1) == Some(&b'@') { 2 } else { 1 };
            let n = rest[at..].iter().take_while(|&&c| word_byte(c) || c == b'.').count();
            if n == 0 {
                i += 1;
                Kind::Punct(b'@')
            } else {
                i += at + n;
                Kind::Var
            }
        } else if (b == b'x' || b == b'X') && rest.get(1) == Some(&b'\'') {
            // `X'…'` has no backslash escapes (as the scanner reads it).
            i = quoted_end(text, i + 1, b'\'', false);
            Kind::Str
        } else if word_byte(b) {
            i += rest.iter().take_while(|&&c| word_byte(c)).count();
            Kind::Word
        } else {
            i += 1;
            Kind::Punct(b)
        };
        line_start = false;
        toks.push(Tok { kind, start, end: i });
    }
    toks
}

/// MySQL 8's UCA 9.0.0 collations (`utf8mb4_0900_ai_ci`, `utf8mb4_0900_as_cs`,
/// `utf8mb4_de_pb_0900_ai_ci`, …), which MariaDB before 11.4 does not know, as MariaDB collations
/// every version since 10.2 has:
/// - the case-insensitive ones (`_ai_ci`, `_as_ci`) become `utf8mb4_unicode_520_ci`, the newest
///   UCA collation MariaDB 10.x shares with MySQL (accent-insensitive; language tailorings and
///   `_as_ci`'s accent sensitivity are lost);
/// - the case-sensitive ones (`_as_cs`, `_as_cs_ks`, `_bin`) become `utf8mb4_nopad_bin`: exact
///   comparison, as they compare, and NO PAD, like every 0900 collation, so values that differ
///   only by trailing spaces (distinct under a unique key on MySQL) stay distinct. The PAD SPACE
///   `utf8mb4_bin` could refuse such rows with a duplicate key.
fn mariadb_collation(word: &[u8]) -> Option<&'static [u8]> {
    if word.len() < 13 || !word[..8].eq_ignore_ascii_case(b"utf8mb4_") {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let rest = &lower[8..];
    memchr::memmem::find(rest, b"0900_")?;
    if !rest.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return None;
    }
    Some(if lower.ends_with(b"_ci") { b"utf8mb4_unicode_520_ci" } else { b"utf8mb4_nopad_bin" })
}

struct Toks<'a> {
    text: &'a [u8],
    toks: Vec<Tok>,
}

impl Toks<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    fn is_word(&self, i: usize, kw: &str) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Word && self.text[t.start..t.end].eq_ignore_ascii_case(kw.as_bytes()))
    }

    /// The first token at or after `i` that is not space or a comment.
    fn code(&self, i: usize) -> Option<usize> {
        (i..self.toks.len()).find(|&k| !matches!(self.toks[k].kind, Kind::Space | Kind::Comment))
    }

    /// The index after `i`, past the space that follows it.
    fn after_space(&self, i: usize) -> usize {
        if self.kind(i + 1) == Some(Kind::Space) { i + 2 } else { i + 1 }
    }

    /// `DEFINER = user` (`` `u`@`h` ``, `'u'@'h'`, `u@h`, a role, `CURRENT_USER[()]`) with the
    /// DEFINER word at `i`, and `SQL SECURITY DEFINER` right after it: the last token's index.
    fn definer(&self, i: usize) -> Option<usize> {
        let eq = self.code(i + 1)?;
        if self.kind(eq) != Some(Kind::Punct(b'=')) {
            return None;
        }
        let user = self.code(eq + 1)?;
        let mut last = user;
        match self.kind(user)? {
            Kind::Word if self.is_word(user, "CURRENT_USER") => {
                if self.kind(user + 1) == Some(Kind::Punct(b'(')) && self.kind(user + 2) == Some(Kind::Punct(b')')) {
                    last = user + 2;
                }
            }
            Kind::Word | Kind::Ident | Kind::Str => match self.kind(user + 1) {
                Some(Kind::Punct(b'@')) => {
                    last = user + 2;
                    if !matches!(self.kind(last), Some(Kind::Word | Kind::Ident | Kind::Str)) {
                        return None;
                    }
                }
                // `root@localhost` reads as a name and a variable.
                Some(Kind::Var) if self.text[self.toks[user + 1].start + 1] != b'@' => last = user + 1,
                _ => {}
            },
            _ => return None,
        }
        if let Some(sql) = self.code(last + 1)
            && self.is_word(sql, "SQL")
            && let Some(security) = self.code(sql + 1)
            && self.is_word(security, "SECURITY")
            && let Some(definer) = self.code(security + 1)
            && self.is_word(definer, "DEFINER")
        {
            last = definer;
        }
        Some(last)
    }

    /// `TABLESPACE [=] name [STORAGE DISK|MEMORY]` with the TABLESPACE word at `i`: the last
    /// token's index.
    fn tablespace(&self, i: usize) -> Option<usize> {
        let mut name = self.code(i + 1)?;
        if self.kind(name) == Some(Kind::Punct(b'=')) {
            name = self.code(name + 1)?;
        }
        if !matches!(self.kind(name)?, Kind::Word | Kind::Ident) {
            return None;
        }
        if let Some(storage) = self.code(name + 1)
            && self.is_word(storage, "STORAGE")
            && let Some(kind) = self.code(storage + 1)
            && (self.is_word(kind, "DISK") || self.is_word(kind, "MEMORY"))
        {
            return Some(kind);
        }
        Some(name)
    }

    /// `i` is a versioned comment's opener whose code is only a clause `clause` reads: the index of
    /// its `*/`.
    fn whole_comment(&self, i: usize, clause: impl Fn(&Self, usize) -> Option<usize>) -> Option<usize> {
        let first = self.code(i + 1)?;
        let last = clause(self, first)?;
        let close = self.code(last + 1)?;
        (self.kind(close) == Some(Kind::Close)).then_some(close)
    }
}

impl Fixer {
    pub fn new(target: Server) -> Self {
        Self {
            target,
            needles: AhoCorasick::builder().ascii_case_insensitive(true).build(NEEDLES).expect("fixed needles build"),
            custom_delimiter: false,
            delimiter_line: None,
            at_line_start: true,
            drop_newline: false,
            fixed: Fixed::default(),
        }
    }

    /// Fixes one statement's text (and the comments before it). Returns false, leaving `out`
    /// alone, when nothing needed fixing; else `out` holds the fixed text.
    pub fn fix(&mut self, text: &[u8], ansi_quotes: bool, out: &mut Vec<u8>) -> bool {
        let line_start = std::mem::replace(&mut self.at_line_start, text.last().is_none_or(|&b| b == b'\n'));
        let drop_newline = std::mem::take(&mut self.drop_newline) && text.first() == Some(&b'\n');
        // The end of a DELIMITER line the last text began.
        let mut from = 0;
        if let Some(mut line) = self.delimiter_line.take() {
            match memchr::memchr(b'\n', text) {
                Some(k) => {
                    line.extend_from_slice(&text[..k]);
                    self.custom_delimiter = line.trim_ascii() != b";";
                    from = k;
                }
                None => {
                    line.extend_from_slice(text);
                    self.delimiter_line = Some(line);
                    return false;
                }
            }
        }
        if !self.needles.is_match(&text[from..]) {
            if drop_newline {
                out.clear();
                out.extend_from_slice(&text[1..]);
            }
            return drop_newline;
        }
        let t = Toks { text, toks: lex(text, from, ansi_quotes, line_start || from > 0) };
        let mut edits: Vec<(usize, usize, &'static [u8])> = Vec::new();
        if drop_newline {
            edits.push((0, 1, b""));
        }
        let create_table = t.code(0).is_some_and(|c| {
            let mut k = c;
            // `/*!50001 CREATE TABLE` and `CREATE TEMPORARY TABLE` too.
            while t.kind(k) == Some(Kind::Open) {
                k = t.code(k + 1).unwrap_or(t.toks.len());
            }
            let next = t.code(k + 1);
            t.is_word(k, "CREATE")
                && next.is_some_and(|n| {
                    t.is_word(n, "TABLE")
                        || (t.is_word(n, "TEMPORARY") && t.code(n + 1).is_some_and(|m| t.is_word(m, "TABLE")))
                })
        });
        let mut seen_code = false;
        let mut i = 0;
        while i < t.toks.len() {
            let tok = t.toks[i];
            match tok.kind {
                Kind::Delimiter => {
                    let line = &text[tok.start + 9..tok.end];
                    if tok.end == text.len() {
                        self.delimiter_line = Some(line.to_vec());
                    } else {
                        self.custom_delimiter = line.trim_ascii() != b";";
                    }
                }
                Kind::Sandbox => {
                    // The line goes, with the space mariadb-dump writes after the comment.
                    let mut end = tok.end;
                    while text.get(end).is_some_and(|&b| b == b' ' || b == b'\t') {
                        end += 1;
                    }
                    if text.get(end) == Some(&b'\n') {
                        end += 1;
                    }
                    edits.push((tok.start, end, b""));
                    self.fixed.sandbox_lines += 1;
                    while t.toks.get(i + 1).is_some_and(|n| n.end <= end) {
                        i += 1;
                    }
                }
                Kind::Word if !seen_code => {
                    seen_code = true;
                    if !self.custom_delimiter
                        && t.is_word(i, "SET")
                        && let Some(var) = t.code(i + 1)
                        && t.kind(var) == Some(Kind::Var)
                        && ["@@GLOBAL.GTID_PURGED", "@@SESSION.SQL_LOG_BIN", "@@SQL_LOG_BIN", "@MYSQLDUMP_TEMP_LOG_BIN"]
                            .iter()
                            .any(|v| text[t.toks[var].start..t.toks[var].end].eq_ignore_ascii_case(v.as_bytes()))
                        && let Some(semicolon) = (var..t.toks.len()).find(|&k| t.kind(k) == Some(Kind::Punct(b';')))
                        && t.code(semicolon + 1).is_none()
                    {
                        // From the start of its line to its `;`: the statement and its line go,
                        // the line's newline being the one after the `;` (here, or beginning the
                        // next text): what follows on that line keeps a line of its own, never
                        // joining the line before, which may end in a `#` comment.
                        let floor = edits.last().map_or(0, |e| e.1);
                        let mut start = tok.start;
                        while start > floor && matches!(text[start - 1], b' ' | b'\t') {
                            start -= 1;
                        }
                        let mut end = t.toks[semicolon].end;
                        // Its line's start: a newline here, or the one dropped from this text's
                        // beginning for a statement removed just before.
                        let line_begins = start > 0 && text[start - 1] == b'\n' && (start > floor || start == 1);
                        if line_begins {
                            match text.get(end) {
                                Some(b'\n') => end += 1,
                                None => self.drop_newline = true,
                                Some(_) => {}
                            }
                        }
                        edits.push((start, end, b""));
                        self.fixed.gtid_statements += 1;
                        i = semicolon + 1;
                        continue;
                    }
                    // The same word again, as any other word.
                    continue;
                }
                Kind::Open => {
                    seen_code = true;
                    let whole = t
                        .whole_comment(i, |t, k| t.is_word(k, "DEFINER").then(|| t.definer(k)).flatten())
                        .map(|close| (close, true))
                        .or_else(|| {
                            create_table
                                .then(|| {
                                    t.whole_comment(i, |t, k| {
                                        t.is_word(k, "TABLESPACE").then(|| t.tablespace(k)).flatten()
                                    })
                                })
                                .flatten()
                                .map(|close| (close, false))
                        });
                    if let Some((close, definer)) = whole {
                        // With the space after it when space comes before it, so one space is left.
                        let spaced = tok.start == 0 || text[tok.start - 1].is_ascii_whitespace();
                        let next = if spaced { t.after_space(close) } else { close + 1 };
                        let end = t.toks.get(next - 1).map_or(text.len(), |n| n.end);
                        edits.push((tok.start, end, b""));
                        if definer {
                            self.fixed.definers += 1;
                        } else {
                            self.fixed.tablespaces += 1;
                        }
                        i = next;
                        continue;
                    }
                }
                Kind::Word => {
                    let word = &text[tok.start..tok.end];
                    let prev = (0..i).rev().find(|&k| !matches!(t.toks[k].kind, Kind::Space | Kind::Comment));
                    let clause =
                        if word.eq_ignore_ascii_case(b"DEFINER") && !prev.is_some_and(|p| t.is_word(p, "SECURITY")) {
                            t.definer(i).map(|last| (last, true))
                        } else if create_table && word.eq_ignore_ascii_case(b"TABLESPACE") {
                            t.tablespace(i).map(|last| (last, false))
                        } else {
                            None
                        };
                    if let Some((last, definer)) = clause {
                        let next = t.after_space(last);
                        edits.push((tok.start, t.toks[next - 1].end, b""));
                        if definer {
                            self.fixed.definers += 1;
                        } else {
                            self.fixed.tablespaces += 1;
                        }
                        i = next;
                        continue;
                    }
                    if self.target == Server::Mariadb
                        && let Some(collation) = mariadb_collation(word)
                    {
                        edits.push((tok.start, tok.end, collation));
                        self.fixed.collations += 1;
                    }
                }
                Kind::Space | Kind::Comment => {}
                _ => seen_code = true,
            }
            i += 1;
        }
        if edits.is_empty() {
            return false;
        }
        out.clear();
        let mut last = 0;
        for (start, end, with) in edits {
            out.extend_from_slice(&text[last..start]);
            out.extend_from_slice(with);
            last = end;
        }
        out.extend_from_slice(&text[last..]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each piece through one fixer, in order, as the scanner hands them over; the joined output.
    fn fix_all(target: Server, pieces: &[&str]) -> (String, Fixed) {
        let mut fixer = Fixer::new(target);
        let mut joined = Vec::new();
        let mut out = Vec::new();
        for piece in pieces {
            if fixer.fix(piece.as_bytes(), false, &mut out) {
                joined.extend_from_slice(&out);
            } else {
                joined.extend_from_slice(piece.as_bytes());
            }
        }
        (String::from_utf8(joined).unwrap(), fixer.fixed)
    }

    #[test]
    fn collations_map_by_case_sensitivity() {
        assert_eq!(mariadb_collation(b"utf8mb4_0900_ai_ci"), Some(&b"utf8mb4_unicode_520_ci"[..]));
        assert_eq!(mariadb_collation(b"UTF8MB4_0900_AS_CI"), Some(&b"utf8mb4_unicode_520_ci"[..]));
        assert_eq!(mariadb_collation(b"utf8mb4_de_pb_0900_ai_ci"), Some(&b"utf8mb4_unicode_520_ci"[..]));
        assert_eq!(mariadb_collation(b"utf8mb4_0900_as_cs"), Some(&b"utf8mb4_nopad_bin"[..]));
        assert_eq!(mariadb_collation(b"utf8mb4_ja_0900_as_cs_ks"), Some(&b"utf8mb4_nopad_bin"[..]));
        assert_eq!(mariadb_collation(b"utf8mb4_0900_bin"), Some(&b"utf8mb4_nopad_bin"[..]));
        assert_eq!(mariadb_collation(b"utf8mb4_unicode_ci"), None);
        assert_eq!(mariadb_collation(b"utf8mb4_general_ci"), None);
    }

    #[test]
    fn definer_forms_in_code_and_versioned_comments() {
        let (out, fixed) = fix_all(
            Server::Mariadb,
            &[
                "\nCREATE DEFINER=`app`@`%` PROCEDURE `p`(IN n INT)\nBEGIN\n  SELECT COUNT(*) FROM t WHERE id > n;",
                "\n/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select 1 AS `a` */;",
                "\n/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`app`@`%` SQL SECURITY INVOKER */\n/*!50001 VIEW `vi` AS select 1 AS `a` */;",
                "\n/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 TRIGGER `t_bi` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.body = 'DEFINER=`x`@`y`' */;",
                "\n/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`127.0.0.1`*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO delete from t */ ;",
                "\nCREATE ALGORITHM=UNDEFINED DEFINER='app'@'localhost' SQL SECURITY DEFINER VIEW w AS SELECT 1;",
                "\nCREATE DEFINER=root@localhost FUNCTION f() RETURNS int RETURN 1;",
                "\nCREATE DEFINER = CURRENT_USER() TRIGGER t2 BEFORE UPDATE ON t FOR EACH ROW SET @x = 1;",
                "\n/*!50020 DEFINER=`admin`@`%`*/ /*!50003 FUNCTION g() RETURNS int RETURN 2 */;",
            ],
        );
        assert_eq!(
            out,
            "\nCREATE PROCEDURE `p`(IN n INT)\nBEGIN\n  SELECT COUNT(*) FROM t WHERE id > n;\
             \n/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50001 VIEW `v` AS select 1 AS `a` */;\
             \n/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 SQL SECURITY INVOKER */\n/*!50001 VIEW `vi` AS select 1 AS `a` */;\
             \n/*!50003 CREATE*/ /*!50003 TRIGGER `t_bi` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.body = 'DEFINER=`x`@`y`' */;\
             \n/*!50106 CREATE*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO delete from t */ ;\
             \nCREATE ALGORITHM=UNDEFINED VIEW w AS SELECT 1;\
             \nCREATE FUNCTION f() RETURNS int RETURN 1;\
             \nCREATE TRIGGER t2 BEFORE UPDATE ON t FOR EACH ROW SET @x = 1;\
             \n/*!50003 FUNCTION g() RETURNS int RETURN 2 */;"
        );
        assert_eq!(fixed.definers, 9);
        assert_eq!(fixed.collations, 0);
    }

    #[test]
    fn sql_security_alone_and_strings_and_comments_stay() {
        let text = "\nALTER SQL SECURITY DEFINER VIEW v AS SELECT 'DEFINER=`a`@`b`', \"utf8mb4_0900_ai_ci\" /* DEFINER=`c`@`d` */ -- utf8mb4_0900_ai_ci\n;";
        let (out, fixed) = fix_all(Server::Mariadb, &[text]);
        assert_eq!(out, text);
        assert_eq!(fixed, Fixed::default());
    }

    #[test]
    fn collations_in_mysql_8_statements() {
        let pieces = [
            "\n/*!50503 SET NAMES utf8mb4 */;",
            "\n/*!50001 SET collation_connection      = utf8mb4_0900_ai_ci */;",
            "\nSET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci;",
            "\nCREATE TABLE `t` (\n  `id` int NOT NULL,\n  `code` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs NOT NULL,\n  `b` text COLLATE utf8mb4_0900_bin,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;",
        ];
        let (out, fixed) = fix_all(Server::Mariadb, &pieces);
        assert_eq!(
            out,
            "\n/*!50503 SET NAMES utf8mb4 */;\
             \n/*!50001 SET collation_connection      = utf8mb4_unicode_520_ci */;\
             \nSET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci;\
             \nCREATE TABLE `t` (\n  `id` int NOT NULL,\n  `code` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,\n  `b` text COLLATE utf8mb4_nopad_bin,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;"
        );
        assert_eq!(fixed.collations, 5);
        // MySQL 8 knows its own collations.
        let (out, fixed) = fix_all(Server::Mysql, &pieces);
        assert_eq!(out, pieces.concat());
        assert_eq!(fixed.collations, 0);
    }

    #[test]
    fn sandbox_line_goes() {
        let text = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19-11.4.2-MariaDB, for Linux (x86_64)\n--\n\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;";
        let (out, fixed) = fix_all(Server::Mysql, &[text]);
        assert_eq!(out, &text["/*M!999999\\- enable the sandbox mode */ \n".len()..]);
        assert_eq!(fixed.sandbox_lines, 1);
        let (out, _) = fix_all(
            Server::Mariadb,
            &["/*!999999\\- enable the sandbox mode */\n-- x\n/*!40101 SET NAMES utf8mb4 */;"],
        );
        assert_eq!(out, "-- x\n/*!40101 SET NAMES utf8mb4 */;");
    }

    #[test]
    fn tablespace_clauses_of_create_table() {
        let pieces = [
            "\nCREATE TABLE `a` (\n  `id` int NOT NULL\n) /*!50100 TABLESPACE `innodb_system` */ ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
            "\nCREATE TABLE `b` (\n  `id` int NOT NULL\n) TABLESPACE `ts1` ENGINE=InnoDB;",
            "\nCREATE TABLE `c` (\n  `id` int NOT NULL\n) /*!50100 TABLESPACE `ts2` STORAGE DISK */ ENGINE=ndbcluster;",
            "\nCREATE TABLE `d` (\n  `id` int NOT NULL\n) ENGINE=InnoDB\n/*!50100 PARTITION BY RANGE (`id`)\n(PARTITION p0 VALUES LESS THAN (10) TABLESPACE = `ts3` ENGINE = InnoDB) */;",
            "\nCREATE TABLESPACE `ts4` ADD DATAFILE 'ts4.ibd' ENGINE=InnoDB;",
            "\nCREATE TABLE `e` (`tablespace` int COMMENT 'TABLESPACE `x`');",
        ];
        let (out, fixed) = fix_all(Server::Mariadb, &pieces);
        assert_eq!(
            out,
            "\nCREATE TABLE `a` (\n  `id` int NOT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\
             \nCREATE TABLE `b` (\n  `id` int NOT NULL\n) ENGINE=InnoDB;\
             \nCREATE TABLE `c` (\n  `id` int NOT NULL\n) ENGINE=ndbcluster;\
             \nCREATE TABLE `d` (\n  `id` int NOT NULL\n) ENGINE=InnoDB\n/*!50100 PARTITION BY RANGE (`id`)\n(PARTITION p0 VALUES LESS THAN (10) ENGINE = InnoDB) */;\
             \nCREATE TABLESPACE `ts4` ADD DATAFILE 'ts4.ibd' ENGINE=InnoDB;\
             \nCREATE TABLE `e` (`tablespace` int COMMENT 'TABLESPACE `x`');"
        );
        assert_eq!(fixed.tablespaces, 4);
    }

    /// Found by `properties::token_soup`: a removed statement followed on its line by the next
    /// one took the newline before it, so the next one joined a `#` comment line, and a second
    /// pass removed it. Its line's newline is now the one after it, and fixing twice is once.
    #[test]
    fn what_follows_a_removed_statement_on_its_line_keeps_a_line_of_its_own() {
        let pieces = [
            "\n#/*!50013 DEFINER=`a`@`%` SQL SECURITY INVOKER */\nSET @@SESSION.SQL_LOG_BIN= 0;",
            "'COPY t (a, b) FROM stdin;\n'",
        ];
        let (once, fixed) = fix_all(Server::Mysql, &pieces);
        assert_eq!(once, "\n#/*!50013 DEFINER=`a`@`%` SQL SECURITY INVOKER */\n'COPY t (a, b) FROM stdin;\n'");
        assert_eq!(fixed.gtid_statements, 1);
        let (twice, _) = fix_all(Server::Mysql, &[&once]);
        assert_eq!(twice, once);
    }

    #[test]
    fn gtid_and_sql_log_bin_statements_go_outside_routines() {
        let pieces = [
            "\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;",
            "\nSET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;",
            "\nSET @@SESSION.SQL_LOG_BIN= 0;",
            "\n\n--\n-- GTID state at the beginning of the backup \n--\n\nSET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n8d9a1c2e-0f1b-11ee-8c3a-0242ac120002:1-42';",
            "\n\n--\n-- Table structure for table `t`\n--\n\nDROP TABLE IF EXISTS `t`;",
            "\nDELIMITER ;",
            ";",
            "\nCREATE DEFINER=`app`@`%` PROCEDURE `quiet`()\nBEGIN\n  SET @@SESSION.SQL_LOG_BIN = 0;",
            "\n  DELETE FROM t;",
            "\n  SET @@SESSION.SQL_LOG_BIN = 1;",
            "\nEND ;",
            ";",
            "\nDELIMITER ;",
            "\nSET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;",
            "\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;",
        ];
        let (out, fixed) = fix_all(Server::Mariadb, &pieces);
        assert_eq!(
            out,
            "\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\
             \n\n--\n-- GTID state at the beginning of the backup \n--\n\
             \n\n--\n-- Table structure for table `t`\n--\n\nDROP TABLE IF EXISTS `t`;\
             \nDELIMITER ;;\
             \nCREATE PROCEDURE `quiet`()\nBEGIN\n  SET @@SESSION.SQL_LOG_BIN = 0;\
             \n  DELETE FROM t;\
             \n  SET @@SESSION.SQL_LOG_BIN = 1;\
             \nEND ;;\
             \nDELIMITER ;\
             \n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;"
        );
        assert_eq!(fixed.gtid_statements, 4);
        assert_eq!(fixed.definers, 1);
    }

    #[test]
    fn describe_says_what_was_fixed() {
        let fixed = Fixed { definers: 3, collations: 12, sandbox_lines: 1, gtid_statements: 4, ..Fixed::default() };
        assert_eq!(
            fixed.describe(),
            "removed 3 DEFINER clauses, 1 sandbox-mode line, 4 GTID/SQL_LOG_BIN statements; mapped 12 collations"
        );
        assert_eq!(Fixed::default().describe(), "nothing to fix");
    }
}
