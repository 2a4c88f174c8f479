//! MySQL and MariaDB through their own clients (`mariadb`/`mysql`, `mariadb-dump`/`mysqldump`).
//! The credentials go in an option file read with `--defaults-extra-file`. A load goes into a
//! database of its own next to the target, and one `RENAME TABLE` (atomic on both servers)
//! moves its tables in, and with `Replace` the target's old tables out to another; until that
//! statement runs, the target is as it was.

use cutover_remote::Stdin;
use cutover_remote::shell::quote;
use cutover_secrets::Secret;

use super::{
    Database, DbError, DbHost, DumpScope, Existing, Feed, Input, finder, load_suffix, not_empty, prelude, write_file,
};

/// The option file's lines: values double-quoted with `\` escapes, as the client reads them.
fn option_file(db: &Database) -> String {
    let q = |v: &str| {
        let escaped = v.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t");
        format!("\"{escaped}\"")
    };
    let mut text = String::from("[client]\n");
    if let Some(user) = &db.user {
        text += &format!("user={}\n", q(user));
    }
    if let Some(password) = &db.password {
        text += &format!("password={}\n", q(password.expose()));
    }
    if !db.host.is_empty() {
        text += &format!("host={}\n", q(&db.host));
    }
    if let Some(port) = db.port {
        text += &format!("port={port}\n");
    }
    if let Some(socket) = &db.socket {
        text += &format!("socket={}\n", q(socket));
    }
    text
}

/// The prelude, the option file, and `sql`/`dump` functions that run the clients with it.
fn start(db: &Database) -> String {
    let mut s = prelude();
    s += finder();
    s += &write_file("\"$cutover_tmp/my.cnf\"", &option_file(db));
    s += r#"client=$(need mariadb mysql) || exit 127
sql() { "$client" --defaults-extra-file="$cutover_tmp/my.cnf" --batch --skip-column-names --max-allowed-packet=1073741824 "$@"; }
"#;
    s
}

/// `'text'` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `` `name` `` as an identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn query(db: &Database, sql: &str) -> Secret {
    Secret::new(start(db) + &format!("sql -e {} {}\n", quote(sql), quote(&db.name)))
}

pub(super) fn version(db: &Database) -> Secret {
    Secret::new(start(db) + "sql -e 'SELECT VERSION()'\n")
}

pub(super) fn tables(db: &Database) -> Secret {
    let query = format!("SELECT table_name FROM information_schema.tables WHERE table_schema = {}", literal(&db.name));
    Secret::new(start(db) + &format!("sql -e {}\n", quote(&query)))
}

pub(super) fn stats(db: &Database, tables: &[String], checksum: bool) -> Secret {
    let mut s = start(db);
    for t in tables {
        s += &stat_line(db, t, checksum);
        s.push('\n');
    }
    Secret::new(s)
}

/// A shell command printing `table<TAB>rows<TAB>checksum` (`-` without `checksum`), failing if
/// either statement fails, with one client for both: COUNT(*) answers the rows, then
/// `CHECKSUM TABLE` `db.table<TAB>sum`.
fn stat_line(db: &Database, table: &str, checksum: bool) -> String {
    let count = format!("SELECT COUNT(*) FROM {}.{}", ident(&db.name), ident(table));
    let (statements, sum) = if checksum {
        (format!("{count}; CHECKSUM TABLE {}.{}", ident(&db.name), ident(table)), "${r##*\"\t\"}")
    } else {
        (count, "-")
    };
    format!(
        "r=$(sql -e {}) && printf '%s\\t%s\\t%s\\n' {} \"${{r%%[!0-9]*}}\" \"{sum}\"",
        quote(&statements),
        quote(table)
    )
}

/// For a snapshot: defines `dump_counted`, which runs `dump_db` with `--verbose` and counts and
/// checksums each of `tables` as the dump reaches it (it says `-- Retrieving table structure
/// for table NAME...` on stderr before it reads the table's rows), into `$cutover_tmp/stats`
/// as [`stats`] prints them, then (if the dump did not fail) any table it did not name. Read
/// together, the checksum finds many of the pages the dump just brought into the buffer pool;
/// read apart, a database larger than the pool (128 MB by default) is read from disk twice,
/// which made a snapshot a quarter slower than the dump. The dump's other stderr lines pass
/// through; a failed count leaves `$cutover_tmp/stats.rc`.
pub(super) fn counted_dump(db: &Database, tables: &[String]) -> String {
    let mut s = String::from("stat_table() {\n  case $1 in\n");
    for (i, t) in tables.iter().enumerate() {
        s += &format!(
            "    {}) [ -e \"$cutover_tmp/stat.{i}\" ] && return 0; : > \"$cutover_tmp/stat.{i}\"; {} >> \"$cutover_tmp/stats\" ;;\n",
            quote(t),
            stat_line(db, t, true)
        );
    }
    s += "  esac\n}\n";
    let all: Vec<String> = tables.iter().map(|t| quote(t)).collect();
    s += &format!(
        r#"dump_counted() {{
  : > "$cutover_tmp/stats"
  mkfifo "$cutover_tmp/progress"
  while IFS= read -r line; do
    case $line in
      "-- Retrieving table structure for table "*"...") t=${{line#-- Retrieving table structure for table }}; stat_table "${{t%...}}" || echo $? > "$cutover_tmp/stats.rc" ;;
      "-- "*) ;;
      *) printf '%s\n' "$line" >&2 ;;
    esac
  done < "$cutover_tmp/progress" > /dev/null &
  dump_db --verbose 2> "$cutover_tmp/progress" || echo $? > "$cutover_tmp/dump.rc"
  wait
  [ -e "$cutover_tmp/dump.rc" ] && return 0
  for t in {}; do stat_table "$t" || echo $? > "$cutover_tmp/stats.rc"; done
}}
"#,
        all.join(" ")
    );
    s
}

/// `SET` for a MySQL 8 session whose `information_schema.TABLES` would answer from a cache
/// up to a day old (`information_schema_stats_expiry`); MariaDB has no such variable.
const FRESH_STATS: &str = "pre=; if sql -e 'SELECT @@information_schema_stats_expiry' >/dev/null 2>&1; then pre='SET SESSION information_schema_stats_expiry = 0;'; fi\n";

/// The moment from which a write is taken to be during a snapshot, `YYYY-MM-DD HH:MM:SS` on
/// the server's clock: a second after the last write the tables show (`UPDATE_TIME` has whole
/// seconds, so a write just before could not be told from one just after), and no later than
/// the start of a transaction still open with rows written by a session in this database or in
/// none (`information_schema.INNODB_TRX`, which needs PROCESS; without it such a transaction is
/// not seen): `UPDATE_TIME` is when a statement wrote, not when its transaction commits.
/// `INNODB_TRX` is a cache InnoDB refreshes only when nobody read it in the last 100 ms, so a
/// tool polling it faster than that would keep this read stale.
pub(super) fn mark(db: &Database) -> Secret {
    let mut s = start(db);
    s += FRESH_STATS;
    let last = format!(
        "SELECT MAX(GREATEST(COALESCE(UPDATE_TIME, '1970-01-01'), COALESCE(CREATE_TIME, '1970-01-01'))) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
        literal(&db.name)
    );
    let settle = format!(
        "SET @last = ({last}); DO IF(@last >= CAST(NOW() AS DATETIME), SLEEP(1.02 - MICROSECOND(NOW(6)) / 1000000), 0)"
    );
    // Transactions of sessions in this database, or in none (they may name it in full):
    // another database's writers do not hold this one's snapshot back.
    let open = format!(
        "SELECT DATE_FORMAT(LEAST(NOW(), COALESCE((SELECT MIN(t.trx_started) FROM information_schema.INNODB_TRX t \
         LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE t.trx_rows_modified > 0 \
         AND (p.DB IS NULL OR p.DB = {})), NOW())), '%Y-%m-%d %H:%i:%s')",
        literal(&db.name)
    );
    let now = "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')";
    s += &format!(
        "sql -e \"$pre\"{settle}\nsql -e {open} 2>/dev/null || sql -e {now}\n",
        settle = quote(&settle),
        open = quote(&open),
        now = quote(now)
    );
    Secret::new(s)
}

/// Each table with `1` if it was written or made since `mark` (see [`mark`]), else `0`;
/// `None` for a mark that is not a time.
pub(super) fn written_since(db: &Database, mark: &str) -> Option<Secret> {
    let shape = mark.len() == 19
        && mark.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let since = literal(mark);
    let query = format!(
        "SELECT TABLE_NAME, IF(COALESCE(UPDATE_TIME, '1970-01-01') >= {since} OR COALESCE(CREATE_TIME, '1970-01-01') >= {since}, 1, 0) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
        literal(&db.name)
    );
    Some(Secret::new(start(db) + FRESH_STATS + &format!("sql -e \"$pre\"{}\n", quote(&query))))
}

/// Defines `dump_db`, which writes the dump to stdout (see [`super::dump_script`]).
pub(super) fn dump(db: &Database, scope: &DumpScope) -> Secret {
    let mut s = start(db);
    // MySQL's own mysqldump would write GTID lines and ask for column statistics a MariaDB
    // server lacks; MariaDB's takes neither option.
    s += r#"dumper=$(need mariadb-dump mysqldump) || exit 127
extra=
if "$dumper" --help 2>/dev/null | grep -q -- '--set-gtid-purged'; then extra="--set-gtid-purged=OFF --column-statistics=0"; fi
"#;
    let tables: Vec<String> = scope.tables.iter().map(|t| quote(t)).collect();
    s += &format!(
        "dump_db() {{ \"$dumper\" --defaults-extra-file=\"$cutover_tmp/my.cnf\" --single-transaction --quick \
         --skip-lock-tables --no-tablespaces --triggers --default-character-set=utf8mb4 \
         --max-allowed-packet=1073741824 $extra \"$@\" {} {}; }}\n",
        quote(&db.name),
        tables.join(" ")
    );
    Secret::new(s)
}

/// The staging area's name: the target's, cut to fit MySQL's 64 characters, and a suffix.
fn side_name(target: &str, what: &str, suffix: &str) -> String {
    let keep: String = target.chars().take(40).collect();
    format!("{keep}__cutover_{what}_{suffix}")
}

pub(super) fn load(db: &Database, host: &DbHost<'_>, existing: Existing, input: Input<'_>) -> Result<(), DbError> {
    load_into(db, host, existing, None, input, false)
}

/// Every table gone in one swap, as [`super::clear`] says; for an account that may not create
/// the staging database, dropped one by one (a seed's clean-up: nothing else uses the tables yet).
pub(super) fn clear(db: &Database, host: &DbHost<'_>) -> Result<(), DbError> {
    let empty: Input<'_> = Input::Feed(&mut |w: &mut dyn std::io::Write| w.write_all(b""));
    load_into(db, host, Existing::Replace, None, empty, true)
}

/// A dump of `tables` loaded in place of those tables only: the same staging database, and
/// the one `RENAME TABLE` moves just them out (the target's other tables stay). `existing` is
/// `Replace` or `Discard`.
pub(super) fn replace_tables(
    db: &Database,
    host: &DbHost<'_>,
    existing: Existing,
    tables: &[String],
    feed: Feed<'_>,
) -> Result<(), DbError> {
    load_into(db, host, existing, Some(tables), Input::Feed(feed), false)
}

/// With `only`, `Replace` moves out only those of the target's tables. `clearing`: the input is
/// empty, and without the staging database the tables are dropped instead.
fn load_into(
    db: &Database,
    host: &DbHost<'_>,
    existing: Existing,
    only: Option<&[String]>,
    input: Input<'_>,
    clearing: bool,
) -> Result<(), DbError> {
    if let Some(only) = only {
        refuse_referenced(db, host, only)?;
    }
    let suffix = load_suffix();
    let staging = side_name(&db.name, "load", &suffix);
    let old = side_name(&db.name, "old", &suffix);
    let pattern = format!("{}\\_\\_cutover\\_%", db.name.chars().take(40).collect::<String>().replace('_', "\\_"));
    // Step 1: a staging database (left over ones from loads that were stopped are removed
    // first), and the dump loaded into it. An account with rights on its own database only
    // (a WordPress site's, on most hosts) may not create one: an empty target is then loaded
    // in place.
    let step = format!("creating a staging database next to {}", db.describe());
    let mut s = start(db);
    s += &format!(
        "for d in $(sql -e {list}); do sql -e \"DROP DATABASE \\`$d\\`\"; done\n\
         if sql -e {create} 2> \"$cutover_tmp/create.err\"; then echo created\n\
         elif grep -q '^ERROR 1044' \"$cutover_tmp/create.err\"; then echo denied\n\
         else cat \"$cutover_tmp/create.err\" >&2; exit 1; fi\n",
        list = quote(&format!(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE {}",
            literal(&pattern)
        )),
        create = quote(&format!("CREATE DATABASE {}", ident(&staging))),
    );
    if host.run(&step, Secret::new(s), Stdin::Null)?.trim() == "denied" {
        if clearing {
            return drop_tables(db, host);
        }
        return load_in_place(db, host, existing, only, input);
    }
    let step = format!("loading the dump into a staging database next to {}", db.describe());
    let s = start(db) + &format!("{} || exit $?\n", input.pipe_into(&format!("sql {}", quote(&staging))));
    if let Err(e) = host.target.run(&step, &s, input.stdin()) {
        // A load that failed (its input cut, a statement refused) leaves no staging database;
        // one stopped by a kill is removed by the next load.
        let drop = start(db) + &format!("sql -e {}\n", quote(&format!("DROP DATABASE IF EXISTS {}", ident(&staging))));
        host.run("removing the staging database", Secret::new(drop), Stdin::Null).ok();
        return Err(host.remote(&step, e));
    }

    // Step 2: only once the whole dump is in. Views and triggers cannot move between
    // databases with RENAME TABLE: refused with the target untouched.
    let step = format!("swapping the loaded tables into {}", db.describe());
    let query = format!(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema IN ({}, {}) \
         UNION ALL SELECT event_object_schema, trigger_name, 'TRIGGER' FROM information_schema.triggers WHERE \
         event_object_schema = {}",
        literal(&db.name),
        literal(&staging),
        literal(&staging)
    );
    let listed = host.run(&step, Secret::new(start(db) + &format!("sql -e {}\n", quote(&query))), Stdin::Null)?;
    let (mut loaded, mut there, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for line in listed.lines() {
        let mut f = line.split('\t');
        let (Some(schema), Some(name), Some(kind)) = (f.next(), f.next(), f.next()) else { continue };
        match (schema == staging, kind) {
            (true, "BASE TABLE") => loaded.push(name.to_owned()),
            (true, kind) => others.push(format!("{} `{name}`", kind.to_lowercase())),
            (false, _) => there.push(name.to_owned()),
        }
    }
    let drop_staging = |host: &DbHost<'_>| {
        let s = start(db) + &format!("sql -e {}\n", quote(&format!("DROP DATABASE IF EXISTS {}", ident(&staging))));
        host.run("removing the staging database", Secret::new(s), Stdin::Null).ok();
    };
    if !others.is_empty() {
        drop_staging(host);
        return Err(DbError::Refused {
            env: host.env.to_owned(),
            host: host.name().to_owned(),
            step,
            detail: format!(
                "the dump holds {} , which cutover cannot swap in atomically yet; nothing was changed",
                others.join(", ")
            ),
        });
    }
    if existing == Existing::Refuse && !there.is_empty() {
        drop_staging(host);
        there.sort();
        return Err(not_empty(db, host, &there[0], there.len()));
    }
    let mut renames: Vec<String> = Vec::new();
    if let Some(only) = only {
        there.retain(|t| only.contains(t));
    }
    if existing.replaces() {
        renames
            .extend(there.iter().map(|t| format!("{}.{} TO {}.{}", ident(&db.name), ident(t), ident(&old), ident(t))));
    }
    renames
        .extend(loaded.iter().map(|t| format!("{}.{} TO {}.{}", ident(&staging), ident(t), ident(&db.name), ident(t))));
    let mut s = start(db);
    if existing.replaces() && !there.is_empty() {
        s += &format!("sql -e {}\n", quote(&format!("CREATE DATABASE {}", ident(&old))));
    }
    if !renames.is_empty() {
        s += &format!("sql -e {}\n", quote(&format!("RENAME TABLE {}", renames.join(", "))));
    }
    // After the swap, what remains is clean-up: a failure there leaves the target loaded.
    s += &format!(
        "sql -e {} || true\nsql -e {} || true\n",
        quote(&format!("DROP DATABASE IF EXISTS {}", ident(&staging))),
        quote(&format!("DROP DATABASE IF EXISTS {}", ident(&old)))
    );
    match host.run(&step, Secret::new(s), Stdin::Null) {
        Ok(_) => Ok(()),
        Err(e) => {
            drop_staging(host);
            Err(e)
        }
    }
}

/// [`load_into`] for an account that cannot create the staging database: only into a target
/// that has no table (a seed's, a clear's when it is empty already), loaded directly; a load
/// that fails drops every table it made, so the target is empty again. A target with tables
/// to replace goes through [`load_prefixed`], unless they are `only` tables to
/// [`Existing::Discard`] (a hybrid seed's): those are dropped and loaded in place, and a load
/// that fails drops them again (the seed then empties the database).
fn load_in_place(
    db: &Database,
    host: &DbHost<'_>,
    existing: Existing,
    only: Option<&[String]>,
    input: Input<'_>,
) -> Result<(), DbError> {
    let step = format!("loading the dump into {}", db.describe());
    let there: Vec<String> = super::tables(db, host)?.into_iter().filter(|t| !is_side_table(t)).collect();
    if let (Existing::Discard, Some(only)) = (existing, only) {
        let listed: Vec<String> = only.to_vec();
        drop_listed(db, host, &listed, "dropping the tables the dump replaces")?;
        let s = start(db) + &format!("{} || exit $?\n", input.pipe_into(&format!("sql {}", quote(&db.name))));
        if let Err(e) = host.target.run(&step, &s, input.stdin()) {
            drop_listed(db, host, &listed, "dropping the tables a failed load left").ok();
            return Err(host.remote(&step, e));
        }
        return Ok(());
    }
    if let Some(first) = there.first() {
        if existing == Existing::Refuse {
            return Err(super::not_empty(db, host, first, there.len()));
        }
        return load_prefixed(db, host, only, input, &there);
    }
    let s = start(db) + &format!("{} || exit $?\n", input.pipe_into(&format!("sql {}", quote(&db.name))));
    if let Err(e) = host.target.run(&step, &s, input.stdin()) {
        drop_tables(db, host).ok();
        return Err(host.remote(&step, e));
    }
    Ok(())
}

/// The staging area for an account that may not create a database: tables of the target's own
/// whose names start `__co<suffix>n_` (loaded) and `__co<suffix>o_` (moved out by the swap),
/// 14 characters, so a table's name may have 50 of MySQL's 64.
fn side_prefix(suffix: &str, what: char) -> String {
    format!("__co{suffix}{what}_")
}

/// Tables of earlier loads that were stopped (any suffix), as a `REGEXP`.
const SIDE_TABLES: &str = "^__co[0-9a-f]{8}[no]_";

/// Whether `table` is named as [`SIDE_TABLES`] matches: a staging area's, not the target's own.
fn is_side_table(table: &str) -> bool {
    let b = table.as_bytes();
    b.len() > 14
        && table.starts_with("__co")
        && b[4..12].iter().all(u8::is_ascii_hexdigit)
        && matches!(b[12], b'n' | b'o')
        && b[13] == b'_'
}

/// The sed program that loads a dump into prefixed tables: the statements that name a table
/// get `prefix`; a foreign key, a view, a trigger, a routine or any other statement that would
/// touch a table by its own name stops the load (exit 3) with the line on stderr, so the
/// target's own tables are never written to.
fn prefixing(prefix: &str) -> String {
    format!(
        "/^\\(CREATE TABLE\\|DROP TABLE IF EXISTS\\|INSERT INTO\\|REPLACE INTO\\|LOCK TABLES\\) `/{{ s//\\1 `{prefix}/; b; }}\n\
         /^\\/\\*!40000 ALTER TABLE `/{{ s//\\/*!40000 ALTER TABLE `{prefix}/; b; }}\n\
         /^  CONSTRAINT `[^`]*` FOREIGN KEY/{{ s/^  \\(.\\{{0,160\\}}\\).*$/cutover: the dump has a foreign key (\\1)/; w /dev/stderr\n\
         Q 3\n}}\n\
         /^\\(DROP\\|CREATE\\|ALTER\\|RENAME\\|TRUNCATE\\|DELETE\\|UPDATE\\|INSERT\\|REPLACE\\|USE\\|\\/\\*!500\\)/{{ s/^\\(.\\{{0,160\\}}\\).*$/cutover: a statement that cannot go into a staging area: \\1/; w /dev/stderr\n\
         Q 3\n}}\n"
    )
}

/// [`load_in_place`] where the target has tables to replace: the dump goes into tables of the
/// target's own under a prefix (its statements renamed on the way, by sed on the db host), and
/// one `RENAME TABLE` moves the target's tables out and the loaded ones in, so until that
/// statement the target is as it was (a load stopped before leaves only prefixed tables, which
/// the next load drops). Refused, with nothing changed, where prefixed tables cannot stand in:
/// foreign keys (their names are the database's, and they would follow the renames), or a
/// name too long for the prefix.
fn load_prefixed(
    db: &Database,
    host: &DbHost<'_>,
    only: Option<&[String]>,
    input: Input<'_>,
    there: &[String],
) -> Result<(), DbError> {
    let step = format!("loading the dump into {} beside its tables", db.describe());
    let refuse = |why: String| DbError::Refused {
        env: host.env.to_owned(),
        host: host.name().to_owned(),
        step: step.clone(),
        detail: format!(
            "{why}, and `{user}` may not create the staging database the swap would go through instead; nothing \
             was changed. Let it: GRANT ALL ON `{prefix}\\_\\_cutover\\_%`.* TO '{user}'@'…'",
            user = db.user.as_deref().unwrap_or("the account"),
            prefix = db.name.chars().take(40).collect::<String>().replace('_', "\\_"),
        ),
    };
    if let Some(long) = there.iter().find(|t| t.chars().count() > 50) {
        return Err(refuse(format!("table `{long}` has a name too long to load beside it under a prefix")));
    }
    let keys = format!(
        "SELECT table_name, constraint_name FROM information_schema.referential_constraints WHERE constraint_schema = {}",
        literal(&db.name)
    );
    let out = host.run(&step, Secret::new(start(db) + &format!("sql -e {}\n", quote(&keys))), Stdin::Null)?;
    if let Some((table, key)) = out.lines().find_map(|l| l.split_once('\t')) {
        return Err(refuse(format!(
            "table `{table}` has a foreign key (`{key}`), which a table loaded beside it cannot take"
        )));
    }

    let suffix = load_suffix();
    let (new, old) = (side_prefix(&suffix, 'n'), side_prefix(&suffix, 'o'));
    let like = |prefix: &str| literal(&format!("{}%", prefix.replace('_', "\\_")));
    let listing = |pattern: &str| {
        quote(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = {} AND table_name {pattern}",
            literal(&db.name)
        ))
    };
    let drop_all = |list: &str| {
        format!(
            "sql -e {list} | while read -r t; do sql -e \"SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS \\`$t\\`\" {name}; done\n",
            name = quote(&db.name)
        )
    };
    let mut s = start(db);
    // Left by loads that were stopped: the tables they loaded, and those a finished swap moved out.
    s += &drop_all(&listing(&format!("REGEXP {}", literal(SIDE_TABLES))));
    s += &write_file("\"$cutover_tmp/prefix.sed\"", &prefixing(&new));
    let into = format!(
        "{{ sed -f \"$cutover_tmp/prefix.sed\" || echo $? > \"$cutover_tmp/sed.rc\"; }} | sql {}",
        quote(&db.name)
    );
    s += &format!("{} || exit $?\n", input.pipe_into(&into));
    s += "if [ -e \"$cutover_tmp/sed.rc\" ]; then exit 3; fi\n";
    let cleanup = || {
        let s = start(db) + &drop_all(&listing(&format!("LIKE {}", like(&new))));
        host.run("dropping the tables a stopped load left", Secret::new(s), Stdin::Null).ok();
    };
    if let Err(e) = host.target.run(&step, &s, input.stdin()) {
        cleanup();
        return Err(host.remote(&step, e));
    }

    let step = format!("swapping the loaded tables into {}", db.describe());
    let loaded: Vec<String> = match host.run(
        &step,
        Secret::new(start(db) + &format!("sql -e {}\n", listing(&format!("LIKE {}", like(&new))))),
        Stdin::Null,
    ) {
        Ok(out) => out.lines().filter_map(|l| l.strip_prefix(new.as_str())).map(str::to_owned).collect(),
        Err(e) => {
            cleanup();
            return Err(e);
        }
    };
    let moved: Vec<&String> = there.iter().filter(|t| only.is_none_or(|only| only.contains(t))).collect();
    let mut renames: Vec<String> =
        moved.iter().map(|t| format!("{} TO {}", ident(t), ident(&format!("{old}{t}")))).collect();
    renames.extend(loaded.iter().map(|t| format!("{} TO {}", ident(&format!("{new}{t}")), ident(t))));
    let mut s = start(db);
    if !renames.is_empty() {
        s += &format!("sql -e {} {}\n", quote(&format!("RENAME TABLE {}", renames.join(", "))), quote(&db.name));
    }
    // After the swap, what remains is clean-up: a failure there leaves the target loaded.
    s += &format!("{{ {}; }} || true\n", drop_all(&listing(&format!("LIKE {}", like(&old)))).trim_end());
    if let Err(e) = host.run(&step, Secret::new(s), Stdin::Null) {
        cleanup();
        return Err(e);
    }
    Ok(())
}

/// Drops every table and view of `db` (what a failed in-place load made, or a seed's clean-up),
/// foreign keys off.
fn drop_tables(db: &Database, host: &DbHost<'_>) -> Result<(), DbError> {
    let step = format!("dropping the tables a failed load left in {}", db.describe());
    let list = format!(
        "SELECT table_type, table_name FROM information_schema.tables WHERE table_schema = {}",
        literal(&db.name)
    );
    let s = start(db)
        + &format!(
            "sql -e {list} | while IFS=\"$(printf '\\t')\" read -r kind name; do\n\
             \x20 case \"$kind\" in VIEW) what=VIEW;; *) what=TABLE;; esac\n\
             \x20 sql -e \"SET FOREIGN_KEY_CHECKS = 0; DROP $what IF EXISTS \\`$name\\`\" {name}\n\
             done\n",
            list = quote(&list),
            name = quote(&db.name),
        );
    host.run(&step, Secret::new(s), Stdin::Null).map(|_| ())
}

/// Drops `tables` of `db` where they exist, foreign keys off.
fn drop_listed(db: &Database, host: &DbHost<'_>, tables: &[String], what: &str) -> Result<(), DbError> {
    let step = format!("{what} in {}", db.describe());
    let drops: Vec<String> = tables.iter().map(|t| format!("DROP TABLE IF EXISTS {}", ident(t))).collect();
    let sql = format!("SET FOREIGN_KEY_CHECKS = 0; {}", drops.join("; "));
    let s = start(db) + &format!("sql -e {} {}\n", quote(&sql), quote(&db.name));
    host.run(&step, Secret::new(s), Stdin::Null).map(|_| ())
}

/// Refused when a table that stays has a foreign key to one of `tables`: `RENAME TABLE` would
/// take the key along to the old table (InnoDB follows a renamed parent), leaving the child
/// pointing into the database about to be dropped.
fn refuse_referenced(db: &Database, host: &DbHost<'_>, tables: &[String]) -> Result<(), DbError> {
    let step = format!("checking the foreign keys to the tables replaced in {}", db.describe());
    let list = tables.iter().map(|t| literal(t)).collect::<Vec<_>>().join(", ");
    let query = format!(
        "SELECT table_name, constraint_name, referenced_table_name FROM information_schema.referential_constraints \
         WHERE constraint_schema = {} AND referenced_table_name IN ({list}) AND table_name NOT IN ({list})",
        literal(&db.name)
    );
    let out = host.run(&step, Secret::new(start(db) + &format!("sql -e {}\n", quote(&query))), Stdin::Null)?;
    let keys: Vec<String> = out
        .lines()
        .filter_map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
            [child, key, parent] => Some(format!("`{child}` refers to `{parent}` (foreign key `{key}`)")),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    Err(DbError::Refused {
        env: host.env.to_owned(),
        host: host.name().to_owned(),
        step,
        detail: format!(
            "{}: a table others refer to cannot be replaced alone (add them to the tables copied); nothing was changed",
            keys.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_file_quotes_what_the_client_would_read_otherwise() {
        let db = Database {
            engine: cutover_config::Engine::Mysql,
            user: Some("shop".into()),
            password: Some(Secret::new("p#ss\"w\\rd")),
            host: "127.0.0.1".into(),
            port: Some(3306),
            socket: None,
            name: "shop".into(),
        };
        let text = option_file(&db);
        assert!(text.contains("password=\"p#ss\"w\\\\rd\"\n"), "{text}");
        assert!(text.contains("port=3306\n") && text.starts_with("[client]\n"));
        assert_eq!(side_name(&"x".repeat(70), "load", "0a1b2c3d").len(), 40 + "__cutover_load_0a1b2c3d".len());
    }

    /// The program as GNU sed runs it on the db host: `(status, stdout, stderr)`.
    #[allow(clippy::disallowed_methods)] // the test runs sed itself
    fn sed(dump: &str) -> (i32, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("prefix.sed");
        std::fs::write(&program, prefixing(&side_prefix("0a1b2c3d", 'n'))).unwrap();
        let mut child = std::process::Command::new("sed")
            .arg("-f")
            .arg(&program)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), dump.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
    }

    #[test]
    fn a_dump_goes_into_prefixed_tables_and_anything_naming_a_table_otherwise_stops_it() {
        let dump = "/*M!999999\\- enable the sandbox mode */ \n\
                    /*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\
                    -- Table structure for table `wp_posts`\n\
                    DROP TABLE IF EXISTS `wp_posts`;\n\
                    CREATE TABLE `wp_posts` (\n  `ID` bigint(20) NOT NULL,\n  `t` longtext,\n  PRIMARY KEY (`ID`)\n) ENGINE=InnoDB;\n\
                    LOCK TABLES `wp_posts` WRITE;\n\
                    /*!40000 ALTER TABLE `wp_posts` DISABLE KEYS */;\n\
                    INSERT INTO `wp_posts` VALUES (1,'INSERT INTO `wp_users` \\nDROP TABLE `x`');\n\
                    /*!40000 ALTER TABLE `wp_posts` ENABLE KEYS */;\n\
                    UNLOCK TABLES;\n";
        let (code, out, err) = sed(dump);
        assert_eq!((code, err.as_str()), (0, ""));
        let p = "__co0a1b2c3dn_";
        for line in [
            format!("DROP TABLE IF EXISTS `{p}wp_posts`;"),
            format!("CREATE TABLE `{p}wp_posts` ("),
            format!("LOCK TABLES `{p}wp_posts` WRITE;"),
            format!("/*!40000 ALTER TABLE `{p}wp_posts` DISABLE KEYS */;"),
            format!("INSERT INTO `{p}wp_posts` VALUES (1,'INSERT INTO `wp_users` \\nDROP TABLE `x`');"),
            format!("/*!40000 ALTER TABLE `{p}wp_posts` ENABLE KEYS */;"),
            "  PRIMARY KEY (`ID`)".to_owned(),
            "-- Table structure for table `wp_posts`".to_owned(),
        ] {
            assert!(out.lines().any(|l| l == line), "`{line}` not in:\n{out}");
        }
        assert_eq!(out.lines().count(), dump.lines().count());

        for (line, why) in [
            ("  CONSTRAINT `fk_1` FOREIGN KEY (`a`) REFERENCES `b` (`id`)", "foreign key"),
            ("/*!50001 DROP VIEW IF EXISTS `v`*/;", "cannot go into a staging area"),
            (
                "/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`%`*/ /*!50003 TRIGGER `t` BEFORE INSERT ON `a` FOR EACH ROW",
                "cannot",
            ),
            ("DROP TABLE `wp_users`;", "cannot go into a staging area"),
            ("USE `other`;", "cannot go into a staging area"),
            ("UPDATE `wp_options` SET option_value = 'x';", "cannot go into a staging area"),
        ] {
            let (code, out, err) = sed(&format!("CREATE TABLE `a` (\n{line}\nINSERT INTO `a` VALUES (1);\n"));
            assert_eq!(code, 3, "{line}: {out}");
            assert!(err.contains(why) && err.contains(&line.trim_start()[..12]), "{line}: {err}");
            assert_eq!(out, "CREATE TABLE `__co0a1b2c3dn_a` (\n", "{line}: nothing from it on goes to the client");
        }
    }
}
