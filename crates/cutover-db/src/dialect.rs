//! Which database wrote the dump, and how that database writes a string.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// mysqldump and mariadb-dump.
    Mysql,
    /// pg_dump's plain format.
    Postgres,
    /// sqlite3's `.dump`.
    Sqlite,
}

impl Dialect {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mysql" | "mariadb" => Some(Self::Mysql),
            "postgres" | "postgresql" | "pg" => Some(Self::Postgres),
            "sqlite" | "sqlite3" => Some(Self::Sqlite),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }

    /// Tells the dialect from the header each tool writes in its first lines; the data further
    /// down (a post about "restoring a MySQL dump") never decides.
    pub fn detect(head: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(8).collect();
        let any = |f: &dyn Fn(&str) -> bool| lines.iter().any(|l| f(l));
        let first = lines.first().copied().unwrap_or("");
        if any(&|l| l.starts_with("--") && (l.contains("MySQL dump") || l.contains("MariaDB dump")))
            || first.starts_with("/*M!")
            || first.starts_with("/*!40")
        {
            Some(Self::Mysql)
        } else if any(&|l| l.starts_with("--") && l.contains("PostgreSQL database dump"))
            || any(&|l| l.starts_with("SET standard_conforming_strings") || l.starts_with("SET statement_timeout"))
        {
            Some(Self::Postgres)
        } else if first.starts_with("PRAGMA foreign_keys=OFF;") || first.starts_with("BEGIN TRANSACTION;") {
            Some(Self::Sqlite)
        } else if first.starts_with("CREATE TABLE `") || first.starts_with("INSERT INTO `") {
            // mysqldump --compact: no header, but backquoted names.
            Some(Self::Mysql)
        } else {
            None
        }
    }
}

/// How a string literal was written, which decides how it is decoded and written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// MySQL `'…'` or `"…"`: backslash escapes, doubled quotes.
    MysqlBackslash(u8),
    /// Standard SQL `'…'` (PostgreSQL, SQLite): only `''`.
    Standard,
    /// PostgreSQL `E'…'`: backslash escapes too.
    PgEscape,
}

impl Quoting {
    pub fn quote(self) -> u8 {
        match self {
            Self::MysqlBackslash(q) => q,
            Self::Standard | Self::PgEscape => b'\'',
        }
    }

    pub fn has_backslash(self) -> bool {
        !matches!(self, Self::Standard)
    }

    /// The value the raw literal body stands for.
    pub fn decode(self, raw: &[u8]) -> Vec<u8> {
        let q = self.quote();
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            // Copy the run up to the next quote or backslash at once.
            let next =
                if self.has_backslash() { memchr::memchr2(q, b'\\', &raw[i..]) } else { memchr::memchr(q, &raw[i..]) };
            let Some(k) = next else {
                out.extend_from_slice(&raw[i..]);
                break;
            };
            out.extend_from_slice(&raw[i..i + k]);
            i += k;
            let b = raw[i];
            i += 1;
            if b == q {
                // A doubled quote stands for one.
                out.push(q);
                if raw.get(i) == Some(&q) {
                    i += 1;
                }
                continue;
            }
            let Some(&e) = raw.get(i) else {
                out.push(b);
                break;
            };
            i += 1;
            match (self, e) {
                (_, b'n') => out.push(b'\n'),
                (_, b'r') => out.push(b'\r'),
                (_, b't') => out.push(b'\t'),
                (_, b'b') => out.push(8),
                (Self::MysqlBackslash(_), b'0') => out.push(0),
                (Self::MysqlBackslash(_), b'Z') => out.push(26),
                // MySQL keeps the backslash of `\%` and `\_` (they are LIKE escapes).
                (Self::MysqlBackslash(_), b'%' | b'_') => out.extend_from_slice(&[b'\\', e]),
                (Self::PgEscape, b'f') => out.push(12),
                (Self::PgEscape, b'u' | b'U') => {
                    let len = if e == b'u' { 4 } else { 8 };
                    let code = raw.get(i..i + len).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                    match code
                        .and_then(|h| u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
                        .and_then(char::from_u32)
                    {
                        Some(c) => {
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                            i += len;
                        }
                        None => out.push(e),
                    }
                }
                (Self::PgEscape, b'0'..=b'7' | b'x') => out.push(numeric_escape(e, raw, &mut i)),
                (_, other) => out.push(other),
            }
        }
        out
    }

    /// Writes `value` as a literal body the same way the dump's tool would.
    pub fn encode(self, value: &[u8], out: &mut Vec<u8>) {
        let table = match self {
            Self::Standard => &STANDARD_SPECIAL,
            Self::PgEscape => &PG_ESCAPE_SPECIAL,
            Self::MysqlBackslash(_) => &MYSQL_SPECIAL,
        };
        out.reserve(value.len() + 8);
        let mut rest = value;
        while let Some(k) = rest.iter().position(|&b| table[b as usize]) {
            out.extend_from_slice(&rest[..k]);
            let escaped: &[u8] = match (self, rest[k]) {
                (Self::Standard | Self::PgEscape, b'\'') => b"''",
                (_, b'\\') => b"\\\\",
                (_, b'\n') => b"\\n",
                (_, b'\r') => b"\\r",
                (_, 0) => b"\\0",
                (_, 26) => b"\\Z",
                (_, b'\'') => b"\\'",
                _ => b"\\\"",
            };
            out.extend_from_slice(escaped);
            rest = &rest[k + 1..];
        }
        out.extend_from_slice(rest);
    }
}

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Bytes each quoting writes as an escape.
static STANDARD_SPECIAL: [bool; 256] = byte_set(b"'");
static PG_ESCAPE_SPECIAL: [bool; 256] = byte_set(b"\\\n\r'");
static MYSQL_SPECIAL: [bool; 256] = byte_set(b"\\\n\r'\"\0\x1a");

/// PostgreSQL's `\ooo` (1–3 octal digits) and `\xhh` (1–2 hex digits), as in E'' strings and
/// COPY text. `e` is the byte after the backslash; `i` indexes the byte after `e` and is moved past
/// the digits. A `\x` without a hex digit stands for `x`.
fn numeric_escape(e: u8, bytes: &[u8], i: &mut usize) -> u8 {
    let (radix, first, more) = if e == b'x' { (16, 0, 2) } else { (8, u32::from(e - b'0'), 2) };
    let mut v = first;
    let mut n = 0;
    while n < more {
        match bytes.get(*i).and_then(|&d| (d as char).to_digit(radix)) {
            Some(d) => {
                v = v * radix + d;
                *i += 1;
                n += 1;
            }
            None => break,
        }
    }
    if e == b'x' && n == 0 { b'x' } else { v as u8 }
}

/// PostgreSQL COPY text format: one field's decoding and encoding.
pub fn copy_decode(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' || i >= field.len() {
            out.push(b);
            continue;
        }
        let e = field[i];
        i += 1;
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' | b'x' => out.push(numeric_escape(e, field, &mut i)),
            other => out.push(other),
        }
    }
    out
}

pub fn copy_encode(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            11 => out.extend_from_slice(b"\\v"),
            b => out.push(b),
        }
    }
}

/// How many backslashes end `bytes`: an odd count escapes the byte that follows.
pub fn trailing_backslashes(bytes: &[u8]) -> usize {
    bytes.iter().rev().take_while(|&&b| b == b'\\').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_escapes_round_trip() {
        let q = Quoting::MysqlBackslash(b'\'');
        let raw = br#"a\'b\"c\\d\ne\0f\Zg''h\%"#;
        let value = q.decode(raw);
        assert_eq!(value, b"a'b\"c\\d\ne\0f\x1ag'h\\%");
        let mut out = Vec::new();
        q.encode(b"a'b\"c\\d\ne\0f\x1ag", &mut out);
        assert_eq!(q.decode(&out), b"a'b\"c\\d\ne\0f\x1ag");
    }

    #[test]
    fn standard_strings_only_double_quotes() {
        assert_eq!(Quoting::Standard.decode(b"it''s a \\n"), b"it's a \\n");
        let mut out = Vec::new();
        Quoting::Standard.encode(b"it's", &mut out);
        assert_eq!(out, b"it''s");
    }

    #[test]
    fn copy_fields_round_trip() {
        assert_eq!(copy_decode(b"a\\tb\\nc\\\\d\\101\\x41"), b"a\tb\nc\\dAA");
        let mut out = Vec::new();
        copy_encode(b"a\tb\nc\\d", &mut out);
        assert_eq!(out, b"a\\tb\\nc\\\\d");
    }

    #[test]
    fn detects_each_tool() {
        assert_eq!(Dialect::detect(b"/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump"), Some(Dialect::Mysql));
        assert_eq!(Dialect::detect(b"-- MySQL dump 10.13"), Some(Dialect::Mysql));
        assert_eq!(Dialect::detect(b"--\n-- PostgreSQL database dump\n--"), Some(Dialect::Postgres));
        assert_eq!(Dialect::detect(b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::detect(b"hello"), None);
    }
}
