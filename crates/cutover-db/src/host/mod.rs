//! Databases reached through a host's own client tools: what the database is ([`Database`]),
//! the host that runs its tools ([`DbHost`]), and what can be done there: list its tables,
//! count and checksum them, stream a dump off it, and load a dump into it through a staging
//! area that is swapped in only once the whole dump is in.
//!
//! Every step is one script run over the host's [`Target`]. A password reaches the tools only
//! through an option file (MySQL's `--defaults-extra-file`, PostgreSQL's `PGPASSFILE`) that
//! the script writes, 0600 inside a 0700 directory of its own, from a here-document (so the
//! password is never in an argument or the process environment) and removes on exit.

pub mod copy;
mod mysql;
mod postgres;
pub mod snapshot;
mod sqlite;

use std::collections::BTreeMap;
use std::io::{self, Write};

use cutover_config::{DatabaseSpec, Engine};
use cutover_remote::{RemoteError, Stdin, Target};
use cutover_secrets::Secret;
use serde::Serialize;

/// An environment's database, resolved: the password read from its secret.
#[derive(Debug, Clone)]
pub struct Database {
    pub engine: Engine,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `localhost` (the server's socket) unless set; empty for SQLite.
    pub host: String,
    pub port: Option<u16>,
    /// A Unix socket (WordPress's `DB_HOST=localhost:/run/mysqld/mysqld.sock`).
    pub socket: Option<String>,
    /// The database's name, or the SQLite file's path on the db host (relative: to the
    /// environment's deploy path).
    pub name: String,
}

impl Database {
    /// `spec` resolved for environment `env`: a URL's `${secret:NAME}` through `secret`, or
    /// `"env"` from the environment's rendered `.env` (`dotenv`).
    pub fn resolve(
        spec: &DatabaseSpec,
        env: &str,
        secret: impl Fn(&str) -> Result<Secret, String>,
        dotenv: Option<&BTreeMap<String, String>>,
    ) -> Result<Self, DbError> {
        let bad = |detail: String| DbError::Config { env: env.to_owned(), detail };
        match spec {
            DatabaseSpec::Url(url) => Ok(Self {
                engine: url.engine,
                user: url.user.clone(),
                password: url
                    .password_secret
                    .as_deref()
                    .map(|name| secret(name).map_err(|e| bad(format!("the database password: {e}"))))
                    .transpose()?,
                host: url.host.clone(),
                port: url.port,
                socket: None,
                name: url.name.clone(),
            }),
            DatabaseSpec::FromEnvFile => {
                let Some(vars) = dotenv else {
                    return Err(bad(
                        "`database = \"env\"` reads the rendered .env, and this environment has no `env_template`"
                            .into(),
                    ));
                };
                Self::from_dotenv(vars).map_err(bad)
            }
        }
    }

    /// Laravel's `DB_CONNECTION`/`DB_HOST`/`DB_PORT`/`DB_DATABASE`/`DB_USERNAME`/`DB_PASSWORD`,
    /// or WordPress's `DB_NAME`/`DB_USER`/`DB_PASSWORD`/`DB_HOST` (`host`, `host:port` or
    /// `host:/path/to/socket`).
    pub fn from_dotenv(vars: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |k: &str| vars.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let laravel = get("DB_DATABASE").is_some() || get("DB_CONNECTION").is_some();
        let engine = match get("DB_CONNECTION") {
            None | Some("mysql" | "mariadb") => Engine::Mysql,
            Some("pgsql" | "postgres" | "postgresql") => Engine::Postgres,
            Some("sqlite") => Engine::Sqlite,
            Some(other) => {
                return Err(format!("DB_CONNECTION `{other}` is not supported (mysql, mariadb, pgsql, sqlite)"));
            }
        };
        let (name_key, user_key) = if laravel { ("DB_DATABASE", "DB_USERNAME") } else { ("DB_NAME", "DB_USER") };
        let name = get(name_key).ok_or_else(|| format!("the rendered .env sets no {name_key}"))?.to_owned();
        let mut host = get("DB_HOST").unwrap_or("localhost").to_owned();
        let mut port =
            get("DB_PORT").map(|p| p.parse::<u16>().map_err(|_| format!("DB_PORT `{p}` is not a port"))).transpose()?;
        let mut socket = get("DB_SOCKET").map(str::to_owned);
        if !host.starts_with('[')
            && let Some((h, rest)) = host.clone().split_once(':')
        {
            if rest.starts_with('/') {
                socket = Some(rest.to_owned());
            } else {
                port = Some(rest.parse().map_err(|_| format!("DB_HOST `{host}`: `{rest}` is not a port"))?);
            }
            host = h.to_owned();
        }
        Ok(Self {
            engine,
            user: get(user_key).map(str::to_owned),
            password: get("DB_PASSWORD").map(Secret::new),
            host: if engine == Engine::Sqlite { String::new() } else { host },
            port,
            socket,
            name,
        })
    }

    /// What may be shown: `mysql shop@db.internal:3307/shop_prod` (never the password).
    pub fn describe(&self) -> String {
        if self.engine == Engine::Sqlite {
            return format!("sqlite {}", self.name);
        }
        let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{} {user}{}{port}/{}", self.engine.as_str(), self.host, self.name)
    }
}

/// The host that runs an environment's database tools, and that environment's deploy path
/// there (a shell expression), where snapshots live and relative SQLite paths start.
#[derive(Debug, Clone, Copy)]
pub struct DbHost<'a> {
    pub env: &'a str,
    pub target: &'a dyn Target,
    pub root: &'a str,
}

impl DbHost<'_> {
    pub(crate) fn name(&self) -> &str {
        self.target.name()
    }

    /// Runs a script that holds a password: its text is wiped once sent.
    fn run(&self, step: &str, script: Secret, stdin: Stdin<'_>) -> Result<String, DbError> {
        self.target.run(step, script.expose(), stdin).map(|o| o.stdout).map_err(|e| self.remote(step, e))
    }

    fn remote(&self, step: &str, source: RemoteError) -> DbError {
        DbError::Remote { env: self.env.to_owned(), step: step.to_owned(), source: Box::new(source) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("environment `{env}`: {detail}")]
    Config { env: String, detail: String },
    #[error("environment `{env}`: {step}: {source}")]
    Remote { env: String, step: String, source: Box<RemoteError> },
    #[error(
        "environment `{env}`: the database {db} on `{host}` is not empty (it has table `{table}`{more}); \
         nothing was loaded (`--overwrite` replaces what is there)"
    )]
    NotEmpty { env: String, host: String, db: String, table: String, more: String },
    #[error("environment `{env}`: {step} on `{host}`: {detail}")]
    Refused { env: String, host: String, step: String, detail: String },
}

/// A table and what it holds, to tell later whether it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TableStat {
    pub name: String,
    pub rows: u64,
    /// The database's own checksum of the rows (MySQL's `CHECKSUM TABLE`, an md5 of the
    /// sorted rows on PostgreSQL, the sqlite3 shell's `.sha3sum`).
    pub checksum: String,
}

/// The tables of the database (views included), in name order.
pub fn tables(db: &Database, host: &DbHost<'_>) -> Result<Vec<String>, DbError> {
    let step = format!("listing the tables of {}", db.describe());
    let script = match db.engine {
        Engine::Mysql => mysql::tables(db),
        Engine::Postgres => postgres::tables(db),
        Engine::Sqlite => sqlite::tables(db, host.root),
    };
    let out = host.run(&step, script, Stdin::Null)?;
    let mut names: Vec<String> = out.lines().map(str::trim_end).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    names.sort();
    Ok(names)
}

/// The rows `sql` returns, one line each with tab-separated columns (a pre-flight check, a
/// schema check). An SQL error is an error naming the environment, host and step.
pub fn query(db: &Database, host: &DbHost<'_>, sql: &str) -> Result<Vec<String>, DbError> {
    let step = format!("querying {}", db.describe());
    let script = match db.engine {
        Engine::Mysql => mysql::query(db, sql),
        Engine::Postgres => postgres::query(sql, db),
        Engine::Sqlite => sqlite::query(db, host.root, sql),
    };
    let out = host.run(&step, script, Stdin::Null)?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Every table's rows and, with `checksum`, its checksum (else empty), in name order.
pub fn stats(db: &Database, host: &DbHost<'_>, checksum: bool) -> Result<Vec<TableStat>, DbError> {
    let tables = tables(db, host)?;
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let step = format!("counting{} the tables of {}", if checksum { " and checksumming" } else { "" }, db.describe());
    let script = match db.engine {
        Engine::Mysql => mysql::stats(db, &tables, checksum),
        Engine::Postgres => postgres::stats(db, &tables, checksum),
        Engine::Sqlite => sqlite::stats(db, host.root, &tables, checksum),
    };
    let out = host.run(&step, script, Stdin::Null)?;
    read_stats(host, &step, &tables, &out)
}

/// The stats of `tables` in `out`, a line `table<TAB>rows<TAB>checksum` each, in name order.
fn read_stats(host: &DbHost<'_>, step: &str, tables: &[String], out: &str) -> Result<Vec<TableStat>, DbError> {
    let mut stats: Vec<TableStat> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, rows, sum) = (f.next()?, f.next()?, f.next()?);
            Some(TableStat { name: name.to_owned(), rows: rows.trim().parse().ok()?, checksum: sum.trim().to_owned() })
        })
        .collect();
    stats.sort_by(|a, b| a.name.cmp(&b.name));
    if stats.len() != tables.len() {
        return Err(DbError::Refused {
            env: host.env.to_owned(),
            host: host.name().to_owned(),
            step: step.to_owned(),
            detail: format!("expected {} tables, read {}: {}", tables.len(), stats.len(), out.trim()),
        });
    }
    Ok(stats)
}

/// For a snapshot, where the engine can count and checksum each table as the dump reaches it
/// (see [`mysql::counted_dump`]) and there are tables: the tables, and the shell defining
/// `dump_counted`, which dumps as `dump_db` does and counts them on the way.
fn counted_dump(db: &Database, host: &DbHost<'_>) -> Result<Option<(Vec<String>, String)>, DbError> {
    match db.engine {
        Engine::Mysql => {
            let tables = tables(db, host)?;
            let script = mysql::counted_dump(db, &tables);
            Ok((!tables.is_empty()).then_some((tables, script)))
        }
        Engine::Postgres | Engine::Sqlite => Ok(None),
    }
}

/// What a snapshot notes before it starts, so that afterwards [`written_since`] can tell which
/// tables were written while it ran without reading every table a second time.
pub(super) fn mark(db: &Database, host: &DbHost<'_>) -> Result<String, DbError> {
    let step = format!("noting the state of {}", db.describe());
    let script = match db.engine {
        Engine::Mysql => mysql::mark(db),
        Engine::Postgres => postgres::mark(db),
        Engine::Sqlite => sqlite::mark(db, host.root),
    };
    Ok(host.run(&step, script, Stdin::Null)?.trim().to_owned())
}

/// The tables that may have been written since `mark` (of the `before` tables and any made
/// since), or `None` when the engine cannot tell which: then each table must be read again.
pub(super) fn written_since(
    db: &Database,
    host: &DbHost<'_>,
    mark: &str,
    before: &[String],
) -> Result<Option<Vec<String>>, DbError> {
    let written = match db.engine {
        Engine::Mysql => {
            let Some(script) = mysql::written_since(db, mark) else { return Ok(None) };
            let step = format!("asking {} what was written meanwhile", db.describe());
            let out = host.run(&step, script, Stdin::Null)?;
            let mut written = Vec::new();
            let mut now = Vec::new();
            for line in out.lines() {
                let Some((name, flag)) = line.split_once('\t') else { continue };
                if flag.trim() != "0" || !before.iter().any(|b| b == name) {
                    written.push(name.to_owned());
                }
                now.push(name);
            }
            written.extend(before.iter().filter(|b| !now.contains(&b.as_str())).cloned());
            written
        }
        // A mark that reads the same: no write committed anywhere since.
        Engine::Postgres | Engine::Sqlite if self::mark(db, host)? == mark => Vec::new(),
        Engine::Postgres | Engine::Sqlite => return Ok(None),
    };
    let mut written = written;
    written.sort();
    written.dedup();
    Ok(Some(written))
}

/// Which server a MySQL-family database runs on (its `VERSION()` names MariaDB or not), for the
/// portability fixes of a dump loaded into it; `None` for other engines.
pub fn mysql_server(db: &Database, host: &DbHost<'_>) -> Result<Option<crate::Server>, DbError> {
    if db.engine != Engine::Mysql {
        return Ok(None);
    }
    let step = format!("asking {} for its version", db.describe());
    let out = host.run(&step, mysql::version(db), Stdin::Null)?;
    Ok(Some(if out.to_ascii_lowercase().contains("mariadb") { crate::Server::Mariadb } else { crate::Server::Mysql }))
}

/// Which part of the database a dump holds.
#[derive(Debug, Clone, Default)]
pub struct DumpScope {
    /// Only these tables (all when empty).
    pub tables: Vec<String>,
}

/// Streams a dump of `db` off the host into `out`, as the engine's own tool writes it
/// (mariadb-dump/mysqldump in one transaction, pg_dump plain without owners and grants,
/// sqlite3's `.dump`). The dump is checked to have ended as the tool ends a whole dump: one cut
/// short is an error, whatever reached `out`.
pub fn dump(db: &Database, host: &DbHost<'_>, scope: &DumpScope, out: &mut (dyn Write + Send)) -> Result<(), DbError> {
    let step = format!("dumping {}", db.describe());
    let script = Secret::new(dump_script(db, host, scope).expose().to_owned() + "dump_db\n");
    let mut tail = Tail { out, last: Vec::new() };
    host.target.run_piped(&step, script.expose(), Stdin::Null, &mut tail).map_err(|e| host.remote(&step, e))?;
    if ends_whole(db, &String::from_utf8_lossy(&tail.last)) { Ok(()) } else { Err(cut_short(host, step)) }
}

/// The engine's dump script up to the dump itself: it defines a shell function `dump_db` that
/// writes the dump to stdout (streamed off the host by [`dump`], or compressed into a file on
/// the host by a snapshot).
fn dump_script(db: &Database, host: &DbHost<'_>, scope: &DumpScope) -> Secret {
    match db.engine {
        Engine::Mysql => mysql::dump(db, scope),
        Engine::Postgres => postgres::dump(db, scope),
        Engine::Sqlite => sqlite::dump(db, host.root, scope),
    }
}

/// Whether `tail`, the last bytes of a dump, ends as the engine's tool ends a whole dump.
fn ends_whole(db: &Database, tail: &str) -> bool {
    let has_line_starting = |start: &str| tail.lines().any(|l| l.starts_with(start));
    match db.engine {
        Engine::Mysql => has_line_starting("-- Dump completed"),
        // pg_dump may end with `\unrestrict KEY` after its last comment.
        Engine::Postgres => has_line_starting("-- PostgreSQL database dump complete"),
        Engine::Sqlite => {
            tail.trim_end().lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("COMMIT;"))
        }
    }
}

/// Whether the engine's dump tool exits non-zero whenever its dump is not whole
/// (mariadb-dump/mysqldump, pg_dump), so a snapshot need not read the dump's last bytes on
/// the way (a second copy of the stream): `sqlite3 .dump` exits 0 after writing
/// `ROLLBACK; -- due to errors`.
fn exit_tells_whole(engine: Engine) -> bool {
    !matches!(engine, Engine::Sqlite)
}

fn cut_short(host: &DbHost<'_>, step: String) -> DbError {
    DbError::Refused {
        env: host.env.to_owned(),
        host: host.name().to_owned(),
        step,
        detail: "the dump was cut short: it does not end as a whole dump ends".into(),
    }
}

/// Passes bytes on and keeps the last few, to see how a stream ended.
struct Tail<'a> {
    out: &'a mut (dyn Write + Send),
    last: Vec<u8>,
}

impl Write for Tail<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.last.extend_from_slice(&buf[..n]);
        if self.last.len() > 4096 {
            self.last.drain(..self.last.len() - 512);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// How a load treats what is in the target already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// The target must be empty ([`DbError::NotEmpty`] otherwise).
    Refuse,
    /// What is there is replaced, in the same swap that brings the new tables in.
    Replace,
    /// Replaced as with `Replace`; but where the account may not create the staging database
    /// the swap goes through (one database of its own, as on most hosts), the tables in the way
    /// are dropped and the dump loaded in place: a seed's, whose tables nothing uses yet and
    /// whose database is emptied again when anything fails (a hybrid seed's installer tables).
    Discard,
}

impl Existing {
    /// Whether what is in the target may go (`Replace` or `Discard`).
    pub fn replaces(self) -> bool {
        self != Self::Refuse
    }
}

/// Writes the dump into the load's stdin; an `Err` abandons the load (the target is left as
/// it was). Called once.
pub type Feed<'a> = &'a mut (dyn FnMut(&mut dyn Write) -> io::Result<()> + Send);

/// Where a load reads its dump from.
pub enum Input<'a> {
    /// Fed from this process, on the script's stdin (a copy's rewriter).
    Feed(Feed<'a>),
    /// A shell command run on the db host that writes the dump to its stdout (a snapshot
    /// decompressed, `zstd -dcq FILE`); its own failure abandons the load, even though it runs
    /// in a pipe (dash has no `pipefail`).
    Host(String),
}

impl std::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Feed(_) => f.write_str("Feed"),
            Self::Host(command) => f.debug_tuple("Host").field(command).finish(),
        }
    }
}

impl<'a> Input<'a> {
    /// A shell test, true unless the host's command failed (always true for a feed).
    const HOST_OK: &'static str = "[ ! -e \"$cutover_tmp/input.rc\" ]";

    /// A shell command writing the dump to stdout: stdin passed on, or the host's command with
    /// its failure noted for [`Self::HOST_OK`].
    fn source(&self) -> String {
        match self {
            Self::Feed(_) => "cat".to_owned(),
            Self::Host(command) => noted(command, "input"),
        }
    }

    /// `into` (a client reading a dump on stdin) given the dump: a feed is stdin already; a
    /// host command is piped in, and the whole fails when either part did.
    fn pipe_into(&self, into: &str) -> String {
        match self {
            Self::Feed(_) => into.to_owned(),
            Self::Host(_) => format!("{{ {} | {into} && {}; }}", self.source(), Self::HOST_OK),
        }
    }

    fn stdin(self) -> Stdin<'a> {
        match self {
            Self::Feed(feed) => Stdin::Writer(feed),
            Self::Host(_) => Stdin::Null,
        }
    }
}

/// `command` run so that its failure is noted in `$cutover_tmp/NAME.rc` (its exit status),
/// for a pipe whose status is only its last command's.
fn noted(command: &str, name: &str) -> String {
    format!("{{ {command} || echo $? > \"$cutover_tmp/{name}.rc\"; }}")
}

/// Loads the dump `input` holds into `db`, so that a load stopped at any moment (the command
/// killed, the connection lost, the dump cut short, a statement failing) leaves the target as
/// it was: MySQL/MariaDB load into a database of their own, swapped in by one `RENAME TABLE`;
/// PostgreSQL in one transaction, committed only after the whole dump went in; SQLite into a
/// new file, renamed over the target.
pub fn load(db: &Database, host: &DbHost<'_>, existing: Existing, input: Input<'_>) -> Result<(), DbError> {
    if existing == Existing::Refuse {
        refuse_unless_empty(db, host)?;
    }
    match db.engine {
        Engine::Mysql => mysql::load(db, host, existing, input),
        Engine::Postgres => postgres::load(db, host, existing, input),
        Engine::Sqlite => sqlite::load(db, host, existing, input),
    }
}

/// Loads a dump of `tables` (a [`DumpScope`] of them) into `db` in place of those tables
/// only; the database's other tables stay as they are. As with [`load`], a load stopped at any
/// moment leaves the target as it was: MySQL/MariaDB through the staging database, one `RENAME
/// TABLE` moving just those tables out and the loaded ones in; PostgreSQL the listed tables
/// dropped inside the load's transaction; SQLite in the file itself (a rename would replace
/// every table), the drops inside the dump's own transaction.
pub fn replace_tables(
    db: &Database,
    host: &DbHost<'_>,
    existing: Existing,
    tables: &[String],
    feed: Feed<'_>,
) -> Result<(), DbError> {
    match db.engine {
        Engine::Mysql => mysql::replace_tables(db, host, existing, tables, feed),
        Engine::Postgres => postgres::replace_tables(db, host, tables, feed),
        Engine::Sqlite => sqlite::replace_tables(db, host, tables, feed),
    }
}

/// Empties `db`: every table goes, in one step, as a [`load`] of an empty dump with
/// [`Existing::Replace`] swaps the old tables out (a database left half filled by a failed
/// install is empty again, never half emptied).
pub fn clear(db: &Database, host: &DbHost<'_>) -> Result<(), DbError> {
    if db.engine == Engine::Mysql {
        return mysql::clear(db, host);
    }
    // SQLite writes no file for an empty script: `VACUUM` makes an empty one.
    let empty: &[u8] = if db.engine == Engine::Sqlite { b"VACUUM;\n" } else { b"" };
    load(db, host, Existing::Replace, Input::Feed(&mut |w: &mut dyn Write| w.write_all(empty)))
}

/// [`DbError::NotEmpty`] naming a table when the database has one.
pub fn refuse_unless_empty(db: &Database, host: &DbHost<'_>) -> Result<(), DbError> {
    let tables = tables(db, host)?;
    match tables.first() {
        None => Ok(()),
        Some(first) => Err(not_empty(db, host, first, tables.len())),
    }
}

pub(super) fn not_empty(db: &Database, host: &DbHost<'_>, first: &str, count: usize) -> DbError {
    DbError::NotEmpty {
        env: host.env.to_owned(),
        host: host.name().to_owned(),
        db: db.describe(),
        table: first.to_owned(),
        more: if count > 1 { format!(" and {} more", count - 1) } else { String::new() },
    }
}

/// A suffix no other load has: the load's staging area is named with it.
fn load_suffix() -> String {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The start of every script: `set -e`, a 0700 directory for option files, removed on exit
/// (and on a signal), and `$2` of the heredoc writer is never an argument.
fn prelude() -> String {
    r#"set -e
umask 077
cutover_tmp=$(mktemp -d "${TMPDIR:-/tmp}/cutover-db.XXXXXX")
trap 'rm -rf "$cutover_tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE
"#
    .to_owned()
}

/// A here-document writing `text` (which may hold a password) to `file`: the text travels in
/// the script, on stdin, never in an argument or the environment.
fn write_file(file: &str, text: &str) -> String {
    let mut mark = format!("CUTOVER_EOF_{}", load_suffix());
    while text.contains(&mark) {
        mark.push('X');
    }
    format!("cat > {file} <<'{mark}'\n{text}\n{mark}\n")
}

/// A shell function `need NAME…`: the first of the programs found, or exit 127 saying which
/// package brings them.
fn finder() -> &'static str {
    r#"need() { for p in "$@"; do if command -v "$p" >/dev/null 2>&1; then command -v "$p"; return 0; fi; done; echo "cutover: $(echo "$@" | sed 's/ / or /g') not found on this host" >&2; return 127; }
"#
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laravel_and_wordpress_dotenvs_resolve() {
        let vars = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let l = Database::from_dotenv(&vars(&[
            ("DB_CONNECTION", "pgsql"),
            ("DB_HOST", "10.0.0.5"),
            ("DB_PORT", "5433"),
            ("DB_DATABASE", "saas"),
            ("DB_USERNAME", "app"),
            ("DB_PASSWORD", "s3cret"),
        ]))
        .unwrap();
        assert_eq!(
            (l.engine, l.host.as_str(), l.port, l.name.as_str()),
            (Engine::Postgres, "10.0.0.5", Some(5433), "saas")
        );
        assert_eq!(l.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(l.describe(), "postgres app@10.0.0.5:5433/saas");
        let w = Database::from_dotenv(&vars(&[
            ("DB_NAME", "wp"),
            ("DB_USER", "wp"),
            ("DB_PASSWORD", "x"),
            ("DB_HOST", "localhost:/run/mysqld/mysqld.sock"),
        ]))
        .unwrap();
        assert_eq!(
            (w.engine, w.host.as_str(), w.socket.as_deref()),
            (Engine::Mysql, "localhost", Some("/run/mysqld/mysqld.sock"))
        );
        let p = Database::from_dotenv(&vars(&[("DB_NAME", "wp"), ("DB_HOST", "db:3307")])).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("db", Some(3307)));
        assert!(Database::from_dotenv(&vars(&[("DB_HOST", "db")])).unwrap_err().contains("DB_NAME"));
        assert!(!format!("{l:?}").contains("s3cret"));
    }

    #[test]
    fn a_heredoc_never_ends_inside_the_text() {
        let text = "password=\"a\nCUTOVER_EOF_\"";
        let s = write_file("f", text);
        let mark = s.lines().next().unwrap().rsplit('\'').nth(1).unwrap().to_owned();
        assert!(!text.contains(&mark) && s.ends_with(&format!("\n{mark}\n")));
    }
}
