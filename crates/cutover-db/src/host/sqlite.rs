//! SQLite through the `sqlite3` shell, on the file's host. A load builds a new file next to the
//! target and renames it over the target (rename(2): the target is the old file or the new one,
//! never a part).

use cutover_remote::Stdin;
use cutover_remote::shell::quote;
use cutover_secrets::Secret;

use super::{Database, DbError, DbHost, DumpScope, Existing, Feed, Input, finder, load_suffix, not_empty, prelude};

/// The prelude, `$p` (the file; a relative path starts at the deploy path) and `sqlite3`.
fn start(db: &Database, root: &str) -> String {
    let mut s = prelude();
    s += finder();
    let path = if db.name.starts_with('/') { quote(&db.name) } else { format!("{root}/{}", quote(&db.name)) };
    s += &format!("p={path}\nsqlite=$(need sqlite3) || exit 127\n");
    s
}

const TABLES: &str = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1";

pub(super) fn query(db: &Database, root: &str, sql: &str) -> Secret {
    Secret::new(
        start(db, root)
            + &format!(
                "[ -e \"$p\" ] || {{ echo \"cutover: $p does not exist\" >&2; exit 1; }}\n\"$sqlite\" -readonly -batch -noheader -separator \"$(printf '\\t')\" \"$p\" {}\n",
                quote(sql)
            ),
    )
}

pub(super) fn tables(db: &Database, root: &str) -> Secret {
    Secret::new(
        start(db, root)
            + &format!("[ -e \"$p\" ] || exit 0\n\"$sqlite\" -readonly -batch -noheader \"$p\" {}\n", quote(TABLES)),
    )
}

/// The database file's and its write-ahead log's size and modification time (to the
/// nanosecond): a write changes one of them.
pub(super) fn mark(db: &Database, root: &str) -> Secret {
    Secret::new(start(db, root) + "stat -c '%n %s %y' \"$p\" \"$p-wal\" 2>/dev/null || true\n")
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn stats(db: &Database, root: &str, tables: &[String], checksum: bool) -> Secret {
    let mut s = start(db, root);
    for t in tables {
        let sum = if checksum {
            format!("$(\"$sqlite\" -readonly -batch \"$p\" {})", quote(&format!(".sha3sum {}", t.replace('\'', ""))))
        } else {
            "-".to_owned()
        };
        s += &format!(
            "n=$(\"$sqlite\" -readonly -batch -noheader \"$p\" {count}); c={sum}; printf '%s\\t%s\\t%s\\n' {name} \"$n\" \"$c\"\n",
            count = quote(&format!("SELECT count(*) FROM {}", ident(t))),
            name = quote(t),
        );
    }
    Secret::new(s)
}

/// Defines `dump_db`, which writes the dump to stdout (see [`super::dump_script`]).
pub(super) fn dump(db: &Database, root: &str, scope: &DumpScope) -> Secret {
    let mut s = start(db, root);
    let tables: Vec<String> = scope.tables.iter().map(|t| quote(t)).collect();
    s += &format!(
        "[ -e \"$p\" ] || {{ echo \"cutover: $p does not exist\" >&2; exit 1; }}\ndump_db() {{ \"$sqlite\" -bail -readonly \"$p\" {}; }}\n",
        quote(format!(".dump {}", tables.join(" ")).trim_end())
    );
    Secret::new(s)
}

pub(super) fn load(db: &Database, host: &DbHost<'_>, existing: Existing, input: Input<'_>) -> Result<(), DbError> {
    let tmp_name = format!(".cutover-load-{}", load_suffix());
    // Step 1: the new file, next to the target (left over ones from stopped loads removed).
    let step = format!("loading the dump into a new file next to {}", db.describe());
    let mut s = start(db, host.root);
    s += &format!(
        "(umask 022; mkdir -p \"$(dirname \"$p\")\")\nrm -f \"$p\".cutover-load-*\ntmp=\"$p\"{tmp}\n{load} || {{ r=$?; rm -f \"$tmp\"; exit $r; }}\n",
        tmp = quote(&tmp_name),
        load = input.pipe_into("\"$sqlite\" -bail -batch \"$tmp\""),
    );
    if let Err(e) = host.target.run(&step, &s, input.stdin()) {
        // Input cut short: sqlite3 rolled its transaction back and left an empty file.
        let rm = start(db, host.root) + &format!("rm -f \"$p\"{}\n", quote(&tmp_name));
        host.target.run("removing the unfinished file", &rm, Stdin::Null).ok();
        return Err(host.remote(&step, e));
    }
    // Step 2: only once the whole dump is in.
    let step = format!("renaming the loaded file over {}", db.describe());
    let mut s = start(db, host.root);
    s += &format!("tmp=\"$p\"{}\n", quote(&tmp_name));
    if existing == Existing::Refuse {
        s += &format!(
            "if [ -e \"$p\" ]; then t=$(\"$sqlite\" -readonly -batch -noheader \"$p\" {}); if [ -n \"$t\" ]; then rm -f \"$tmp\"; echo \"$t\"; exit 3; fi; fi\n",
            quote(TABLES)
        );
    }
    // The old file's write-ahead log is folded in first, so no stale -wal is read as the new
    // file's; the new file keeps the old one's mode.
    s += "if [ -e \"$p\" ]; then\n  [ ! -e \"$p-wal\" ] || \"$sqlite\" \"$p\" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null\n  chmod --reference=\"$p\" \"$tmp\" 2>/dev/null || true\nfi\nmv -f \"$tmp\" \"$p\"\nrm -f \"$p-wal\" \"$p-shm\"\n";
    match host.target.exec(&step, &s, Stdin::Null, cutover_remote::Sink::Answer) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) if out.code() == Some(3) => {
            let tables: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
            Err(not_empty(db, host, tables.first().copied().unwrap_or("?"), tables.len()))
        }
        Ok(out) => Err(host.remote(&step, host.target.failure(&step, &out))),
        Err(e) => Err(host.remote(&step, e)),
    }
}

/// A dump of `tables` loaded in place of those tables only, into the file itself (a rename
/// would replace every table): the listed tables are dropped right after the dump's own
/// `BEGIN TRANSACTION;`, so the drops, the CREATEs and the INSERTs commit together at the
/// dump's `COMMIT;`, and a load stopped before it (or a statement failing: `-bail`) leaves the
/// file as it was. A dump without that line is refused before anything runs.
pub(super) fn replace_tables(
    db: &Database,
    host: &DbHost<'_>,
    tables: &[String],
    feed: Feed<'_>,
) -> Result<(), DbError> {
    let step = format!("loading {} table(s) into {} in one transaction", tables.len(), db.describe());
    let drops: String = tables.iter().map(|t| format!("DROP TABLE IF EXISTS {};\n", ident(t))).collect();
    let mut s = start(db, host.root);
    s += &format!(
        "[ -e \"$p\" ] || {{ echo \"cutover: $p does not exist\" >&2; exit 1; }}\nCUTOVER_DROPS={}; export CUTOVER_DROPS\n",
        quote(&drops)
    );
    // awk holds back everything before the transaction opens, so nothing runs outside it.
    s += r#"{ awk 'BEGIN { d = ENVIRON["CUTOVER_DROPS"] }
!open && $0 == "BEGIN TRANSACTION;" { printf "%s", held; print; printf "%s", d; open = 1; next }
!open { held = held $0 "\n"; if (length(held) > 65536) { exit 3 } next }
{ print }
END { if (!open) { print "cutover: the dump opens no transaction" > "/dev/stderr"; exit 3 } }' || echo $? > "$cutover_tmp/awk"; } | "$sqlite" -bail -batch "$p"
[ ! -e "$cutover_tmp/awk" ] || exit 3
"#;
    host.target.run(&step, &s, Stdin::Writer(feed)).map_err(|e| host.remote(&step, e))?;
    Ok(())
}
