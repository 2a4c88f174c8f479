//! PostgreSQL through `psql` and `pg_dump`. The password goes in a `PGPASSFILE`. A load runs in
//! one transaction: `BEGIN` first, and `COMMIT` written only after the whole dump went in, so a
//! load stopped anywhere (psql then reads the end of its input with the transaction open, or
//! the connection drops) is rolled back by the server.

use cutover_remote::Stdin;
use cutover_remote::shell::quote;
use cutover_secrets::Secret;

use super::{Database, DbError, DbHost, DumpScope, Existing, Feed, Input, finder, prelude, write_file};

/// The prelude, the password file, and `sql` (psql, no psqlrc, stop at the first error).
fn start(db: &Database) -> String {
    let mut s = prelude();
    s += finder();
    if let Some(password) = &db.password {
        let escaped = password.expose().replace('\\', "\\\\").replace(':', "\\:");
        s += &write_file("\"$cutover_tmp/pgpass\"", &format!("*:*:*:*:{escaped}"));
        s += "PGPASSFILE=\"$cutover_tmp/pgpass\"; export PGPASSFILE\n";
    }
    let mut args = Vec::new();
    if let Some(socket) = &db.socket {
        args.push(format!("-h {}", quote(socket)));
    } else if !db.host.is_empty() {
        args.push(format!("-h {}", quote(&db.host)));
    }
    if let Some(port) = db.port {
        args.push(format!("-p {port}"));
    }
    if let Some(user) = &db.user {
        args.push(format!("-U {}", quote(user)));
    }
    s += &format!(
        "conn={}\nPGCONNECT_TIMEOUT=${{PGCONNECT_TIMEOUT:-15}}; export PGCONNECT_TIMEOUT\n",
        quote(&args.join(" "))
    );
    s += "psql=$(need psql) || exit 127\n";
    s += &format!(
        "sql() {{ \"$psql\" -X -q -A -t -v ON_ERROR_STOP=1 -F \"$(printf '\\t')\" $conn -d {} \"$@\"; }}\n",
        quote(&db.name)
    );
    s
}

/// The user's tables, schema-qualified as identifiers (`public.users`).
const TABLES: &str = "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables \
                      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

pub(super) fn query(sql: &str, db: &Database) -> Secret {
    Secret::new(start(db) + &format!("sql -c {}\n", quote(sql)))
}

pub(super) fn tables(db: &Database) -> Secret {
    Secret::new(start(db) + &format!("sql -c {}\n", quote(TABLES)))
}

pub(super) fn stats(db: &Database, tables: &[String], checksum: bool) -> Secret {
    let mut s = start(db);
    for t in tables {
        // Order-free: an md5 of each row's text, sorted, hashed again.
        let sum =
            if checksum { "md5(coalesce(string_agg(md5(r::text), '' ORDER BY md5(r::text)), ''))" } else { "'-'" };
        let query = format!("SELECT {name}, count(*), {sum} FROM {t} r", name = literal(t));
        s += &format!("sql -c {}\n", quote(&query));
    }
    Secret::new(s)
}

/// The cluster's transaction snapshot (`xmin:xmax:xip`): the same text later means no
/// transaction that writes began or ended in between (reads take no transaction id).
pub(super) fn mark(db: &Database) -> Secret {
    Secret::new(start(db) + "sql -c 'SELECT txid_current_snapshot()'\n")
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Defines `dump_db`, which writes the dump to stdout (see [`super::dump_script`]).
pub(super) fn dump(db: &Database, scope: &DumpScope) -> Secret {
    let mut s = start(db);
    let tables: Vec<String> = scope.tables.iter().map(|t| format!("-t {}", quote(t))).collect();
    s += &format!(
        "dumper=$(need pg_dump) || exit 127\ndump_db() {{ \"$dumper\" --no-owner --no-privileges --format=plain {} $conn {}; }}\n",
        tables.join(" "),
        quote(&db.name)
    );
    Secret::new(s)
}

/// With `Replace`: every schema of the user's dropped, `public` made again, in the load's
/// transaction.
const CLEAR: &str = "DO $cutover$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE \
                     'pg\\_%' AND nspname <> 'information_schema' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END \
                     LOOP; END $cutover$;\nCREATE SCHEMA IF NOT EXISTS public;\n";

pub(super) fn load(db: &Database, host: &DbHost<'_>, existing: Existing, input: Input<'_>) -> Result<(), DbError> {
    let step = format!("loading the dump into {} in one transaction", db.describe());
    let mut s = start(db);
    let clear = if existing.replaces() { CLEAR } else { "" };
    match input {
        // `COMMIT` goes in after the feed's last byte, from here.
        Input::Feed(feed) => {
            s += &format!("{{ printf 'BEGIN;\\n'; printf '%s' {}; cat; }} | sql\n", quote(clear));
            let mut feed_then_commit = |w: &mut dyn std::io::Write| {
                feed(w)?;
                w.write_all(b"\nCOMMIT;\n")
            };
            host.target.run(&step, &s, Stdin::Writer(&mut feed_then_commit)).map_err(|e| host.remote(&step, e))?;
            Ok(())
        }
        Input::Host(_) => load_from_host(host, &step, s + &from_host_script(clear, &input)),
    }
}

/// The host's command feeds psql; once its whole dump went in, the script says `@@whole` and
/// waits for this process to answer `commit` on stdin before it writes `COMMIT`. Killed (or
/// cut off) before that answer, cutover never gives it: the script reads the end of stdin and
/// psql ends with the transaction open, which the server rolls back. The exit trap removes the
/// password file before it says `@@end`: to a closed pipe that echo ends the trap (SIGPIPE).
fn from_host_script(clear: &str, input: &Input<'_>) -> String {
    format!(
        r#"trap 'rm -rf "$cutover_tmp"; echo @@end' EXIT
exec 3>&1
{{ printf 'BEGIN;
'; printf '%s' {clear}; {source}
  if {ok}; then
    echo @@whole >&3
    while read -r go; do [ "$go" != commit ] || {{ printf '
COMMIT;
'; touch "$cutover_tmp/committed"; break; }}; done
  fi
}} | sql
{ok}
[ -e "$cutover_tmp/committed" ] || {{ echo "cutover: the load was not told to commit; rolled back" >&2; exit 1; }}
"#,
        clear = quote(clear),
        source = input.source(),
        ok = Input::HOST_OK,
    )
}

/// Runs the script of [`from_host_script`]: stdin gets a newline every second (so a host cut
/// off is noticed by a failing write) until the script says `@@whole`, then `commit`, or ends.
fn load_from_host(host: &DbHost<'_>, step: &str, script: String) -> Result<(), DbError> {
    use std::sync::{Condvar, Mutex, PoisonError};
    #[derive(Default)]
    struct Heard {
        whole: bool,
        ended: bool,
    }
    let heard = (Mutex::new(Heard::default()), Condvar::new());
    let on_line = |stream: cutover_remote::Stream, line: &str| {
        if matches!(stream, cutover_remote::Stream::Stdout) && matches!(line.trim_end(), "@@whole" | "@@end") {
            let mut h = heard.0.lock().unwrap_or_else(PoisonError::into_inner);
            if line.trim_end() == "@@whole" {
                h.whole = true;
            } else {
                h.ended = true;
            }
            heard.1.notify_all();
        }
    };
    let mut answer = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        let mut h = heard.0.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if h.whole {
                drop(h);
                w.write_all(b"commit\n")?;
                return w.flush();
            }
            if h.ended {
                return Ok(());
            }
            drop(h);
            w.write_all(b"\n")?;
            w.flush()?;
            h = heard.0.lock().unwrap_or_else(PoisonError::into_inner);
            h = heard.1.wait_timeout(h, std::time::Duration::from_secs(1)).unwrap_or_else(PoisonError::into_inner).0;
        }
    };
    let out = host
        .target
        .exec(step, &script, Stdin::Writer(&mut answer), cutover_remote::Sink::Lines(&on_line))
        .map_err(|e| host.remote(step, e))?;
    if out.success() { Ok(()) } else { Err(host.remote(step, host.target.failure(step, &out))) }
}

/// A dump of `tables` loaded in place of those tables only: each dropped (`DROP TABLE IF
/// EXISTS`, without CASCADE: a table others refer to is refused, not cut loose) in the load's
/// own transaction, so the old tables stay until it commits.
pub(super) fn replace_tables(
    db: &Database,
    host: &DbHost<'_>,
    tables: &[String],
    feed: Feed<'_>,
) -> Result<(), DbError> {
    let step = format!("loading {} table(s) into {} in one transaction", tables.len(), db.describe());
    let drops: String = tables.iter().map(|t| format!("DROP TABLE IF EXISTS {};\n", qualified(t))).collect();
    let s = start(db) + &format!("{{ printf 'BEGIN;\\n'; printf '%s' {}; cat; }} | sql\n", quote(&drops));
    let mut feed_then_commit = |w: &mut dyn std::io::Write| {
        feed(w)?;
        w.write_all(b"\nCOMMIT;\n")
    };
    host.target.run(&step, &s, Stdin::Writer(&mut feed_then_commit)).map_err(|e| host.remote(&step, e))?;
    Ok(())
}

/// `schema.table` or `table` as quoted identifiers (`"public"."wp_options"`).
fn qualified(name: &str) -> String {
    name.split('.').map(|part| format!("\"{}\"", part.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}
