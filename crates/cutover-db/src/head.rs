//! What a statement is about, read from its text before its values: the table of an INSERT or
//! COPY, and the column names a CREATE TABLE declares (so `--skip-columns` works on dumps whose
//! INSERTs name no columns, as mysqldump's do by default).

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A quoted identifier, unquoted.
    Ident(String),
    Punct(u8),
}

fn tokens(text: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'`' || b == b'"' || b == b'[' {
            let close = if b == b'[' { b']' } else { b };
            let mut name = Vec::new();
            i += 1;
            while i < text.len() {
                if text[i] == close {
                    if close != b']' && text.get(i + 1) == Some(&close) {
                        name.push(close);
                        i += 2;
                        continue;
                    }
                    break;
                }
                name.push(text[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Ident(String::from_utf8_lossy(&name).into_owned()));
        } else if b == b'\'' {
            // Strings reach the head as `''`; skip any literal whole.
            i += 1;
            while i < text.len() && text[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push(Tok::Punct(b'\''));
        } else if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
            let start = i;
            while i < text.len()
                && (text[i].is_ascii_alphanumeric() || text[i] == b'_' || text[i] == b'$' || text[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Tok::Word(String::from_utf8_lossy(&text[start..i]).into_owned()));
        } else {
            out.push(Tok::Punct(b));
            i += 1;
        }
    }
    out
}

fn is_kw(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn name_of(tok: Option<&Tok>) -> Option<String> {
    match tok {
        Some(Tok::Word(w) | Tok::Ident(w)) => Some(w.clone()),
        _ => None,
    }
}

/// A possibly qualified name (`schema.table`) at `i`; returns the last part and the index after.
fn qualified(toks: &[Tok], mut i: usize) -> Option<(String, usize)> {
    let mut name = name_of(toks.get(i))?;
    i += 1;
    while toks.get(i) == Some(&Tok::Punct(b'.')) {
        name = name_of(toks.get(i + 1))?;
        i += 2;
    }
    Some((name, i))
}

/// `( a, b, c )` at `i`: the names, and the index after the `)`.
fn name_list(toks: &[Tok], mut i: usize) -> Option<(Vec<String>, usize)> {
    if toks.get(i) != Some(&Tok::Punct(b'(')) {
        return None;
    }
    i += 1;
    let mut names = Vec::new();
    loop {
        names.push(name_of(toks.get(i))?);
        i += 1;
        match toks.get(i) {
            Some(Tok::Punct(b',')) => i += 1,
            Some(Tok::Punct(b')')) => return Some((names, i + 1)),
            _ => return None,
        }
    }
}

/// The statement's table and named columns, when it is `INSERT|REPLACE … INTO t [(cols)] VALUES`.
pub fn insert_target(head: &[u8]) -> Option<(String, Option<Vec<String>>)> {
    let toks = tokens(head);
    if !is_kw(toks.first(), "INSERT") && !is_kw(toks.first(), "REPLACE") {
        return None;
    }
    let mut i = 1;
    while ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "OR"].iter().any(|k| is_kw(toks.get(i), k))
        || (is_kw(toks.get(i - 1), "OR") && name_of(toks.get(i)).is_some() && !is_kw(toks.get(i), "INTO"))
    {
        i += 1;
    }
    if !is_kw(toks.get(i), "INTO") {
        return None;
    }
    let (table, mut i) = qualified(&toks, i + 1)?;
    let mut columns = None;
    if let Some((names, next)) = name_list(&toks, i) {
        columns = Some(names);
        i = next;
    }
    // pg_dump --inserts on a table with a GENERATED ALWAYS identity column.
    if is_kw(toks.get(i), "OVERRIDING") && is_kw(toks.get(i + 2), "VALUE") {
        i += 3;
    }
    is_kw(toks.get(i), "VALUES").then_some((table, columns))
}

/// `COPY t [(cols)] FROM stdin`.
pub fn copy_target(head: &[u8]) -> Option<(String, Option<Vec<String>>)> {
    let toks = tokens(head);
    if !is_kw(toks.first(), "COPY") {
        return None;
    }
    let (table, mut i) = qualified(&toks, 1)?;
    let mut columns = None;
    if let Some((names, next)) = name_list(&toks, i) {
        columns = Some(names);
        i = next;
    }
    (is_kw(toks.get(i), "FROM") && is_kw(toks.get(i + 1), "stdin")).then_some((table, columns))
}

/// `CREATE TABLE t (col type …, …, PRIMARY KEY …)`: the table and its column names in order.
pub fn create_table(head: &[u8]) -> Option<(String, Vec<String>)> {
    let toks = tokens(head);
    if !is_kw(toks.first(), "CREATE") {
        return None;
    }
    let mut i = 1;
    while !is_kw(toks.get(i), "TABLE") {
        // CREATE [TEMPORARY|UNLOGGED|…] TABLE
        name_of(toks.get(i))?;
        i += 1;
    }
    i += 1;
    if is_kw(toks.get(i), "IF") {
        i += 3;
    }
    let (table, mut i) = qualified(&toks, i)?;
    if toks.get(i) != Some(&Tok::Punct(b'(')) {
        return None;
    }
    i += 1;
    let mut columns = Vec::new();
    let mut depth = 0usize;
    let mut item_start = true;
    const NOT_COLUMNS: &[&str] = &[
        "PRIMARY",
        "KEY",
        "UNIQUE",
        "CONSTRAINT",
        "INDEX",
        "FULLTEXT",
        "SPATIAL",
        "FOREIGN",
        "CHECK",
        "EXCLUDE",
        "LIKE",
    ];
    // Words PostgreSQL does not reserve, so they may name a column unquoted.
    const CONTEXTUAL: &[&str] = &["KEY", "INDEX", "FULLTEXT", "SPATIAL", "EXCLUDE"];
    while let Some(tok) = toks.get(i) {
        match tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') if depth == 0 => break,
            Tok::Punct(b')') => depth -= 1,
            Tok::Punct(b',') if depth == 0 => {
                item_start = true;
                i += 1;
                continue;
            }
            // `KEY`, `INDEX`, … start a constraint only when no type follows: `KEY `k` (…)`,
            // `UNIQUE KEY …`; a PostgreSQL or SQLite column may well be called `key`.
            Tok::Word(w)
                if item_start && NOT_COLUMNS.iter().any(|k| w.eq_ignore_ascii_case(k)) && {
                    let next = toks.get(i + 1);
                    !CONTEXTUAL.iter().any(|k| w.eq_ignore_ascii_case(k))
                        || matches!(next, Some(Tok::Punct(b'(') | Tok::Ident(_)))
                        || ["KEY", "INDEX"].iter().any(|k| is_kw(next, k))
                } => {}
            Tok::Word(w) | Tok::Ident(w) if item_start => columns.push(w.clone()),
            _ => {}
        }
        item_start = false;
        i += 1;
    }
    Some((table, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_insert_copy_and_create_statements() {
        assert_eq!(insert_target(b"INSERT INTO `wp_options` VALUES"), Some(("wp_options".into(), None)));
        assert_eq!(
            insert_target(b"INSERT IGNORE INTO public.\"t\" (id, \"Url\") VALUES"),
            Some(("t".into(), Some(vec!["id".into(), "Url".into()])))
        );
        assert_eq!(insert_target(b"INSERT INTO t SELECT"), None);
        assert_eq!(
            copy_target(b"COPY public.posts (id, guid) FROM stdin"),
            Some(("posts".into(), Some(vec!["id".into(), "guid".into()])))
        );
        let create = b"CREATE TABLE `wp_posts` (\n  `ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n  `guid` varchar(255) NOT NULL DEFAULT '',\n  `x` decimal(10,2),\n  PRIMARY KEY (`ID`),\n  KEY `k` (`guid`)\n) ENGINE=InnoDB";
        assert_eq!(create_table(create), Some(("wp_posts".into(), vec!["ID".into(), "guid".into(), "x".into()])));
        let pg = b"CREATE TABLE public.cache (\n    key character varying(255) NOT NULL,\n    value text NOT NULL,\n    index integer\n)";
        assert_eq!(create_table(pg), Some(("cache".into(), vec!["key".into(), "value".into(), "index".into()])));
        let my = b"CREATE TABLE `t` (\n  `a` int,\n  UNIQUE KEY `u` (`a`),\n  KEY `k` (`a`),\n  FULLTEXT KEY `f` (`a`),\n  INDEX (`a`)\n)";
        assert_eq!(create_table(my), Some(("t".into(), vec!["a".into()])));
        assert_eq!(
            create_table(b"CREATE TABLE IF NOT EXISTS \"t\"(a TEXT, b INTEGER)"),
            Some(("t".into(), vec!["a".into(), "b".into()]))
        );
    }
}
