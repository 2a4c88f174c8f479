//! Real databases for the integration tests: MariaDB (127.0.0.1:3306, root), PostgreSQL
//! (127.0.0.1:5432, `postgres` or `root`, trust) and SQLite, each test with databases of its
//! own ([`Db`], dropped at the end), and running programs with their output as bytes.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One finished process, its output kept as bytes (dumps need not be UTF-8).
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `cmd` with `stdin` piped in (from a thread, so large dumps cannot deadlock).
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Ran {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // The child may stop reading early (an error); a broken pipe is not the test's concern.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    Ran {
        code: output.status.code().unwrap_or_else(|| 128 + output.status.signal().unwrap_or(0)),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[track_caller]
pub fn run_ok(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let ran = run(cmd, stdin);
    assert_eq!(ran.code, 0, "{cmd:?} failed\n--- stderr\n{}", ran.stderr);
    ran.stdout
}

/// Whether `program args…` runs and exits 0.
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
pub fn unhex(text: &str) -> Vec<u8> {
    let text = text.trim();
    assert!(text.len().is_multiple_of(2), "odd hex {text:?}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mariadb,
    Postgres,
    Sqlite,
}

impl Kind {
    /// The name `--dialect` and the summary use.
    pub fn dialect(self) -> &'static str {
        match self {
            Self::Mariadb => "mysql",
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }

    /// Whether the database and its client and dump tool answer; skips (or fails in CI) if not.
    pub fn require(self) -> bool {
        match self {
            Self::Mariadb => super::require("mariadb", mariadb_available()),
            Self::Postgres => super::require("postgres", pg_user().is_some()),
            Self::Sqlite => super::require("sqlite3", succeeds("sqlite3", &["-version"])),
        }
    }
}

pub fn mariadb_available() -> bool {
    succeeds("mariadb", &["-h", "127.0.0.1", "-u", "root", "-N", "-e", "SELECT 1"])
        && succeeds("mariadb-dump", &["--version"])
}

/// The PostgreSQL role to use (`postgres`, else `root`), if the server answers.
pub fn pg_user() -> Option<&'static str> {
    static USER: OnceLock<Option<&'static str>> = OnceLock::new();
    *USER.get_or_init(|| {
        if !succeeds("pg_dump", &["--version"]) {
            return None;
        }
        ["postgres", "root"]
            .into_iter()
            .find(|u| succeeds("psql", &["-h", "127.0.0.1", "-U", u, "-d", "postgres", "-Atc", "SELECT 1"]))
    })
}

/// A database of its own, dropped at the end.
#[derive(Debug)]
pub struct Db {
    pub kind: Kind,
    pub name: String,
    /// SQLite's file lives here.
    pub dir: Option<tempfile::TempDir>,
    /// Or here, a file somewhere else (on a test host).
    pub file: Option<PathBuf>,
}

impl Db {
    pub fn create(kind: Kind) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("cutover_it_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut db = Self { kind, name, dir: None, file: None };
        match kind {
            Kind::Mariadb => {
                run_ok(
                    Command::new("mariadb")
                        .args(["-h", "127.0.0.1", "-u", "root", "-e"])
                        .arg(format!("CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", db.name)),
                    b"",
                );
            }
            Kind::Postgres => {
                run_ok(
                    db.psql("postgres")
                        .arg("-c")
                        .arg(format!("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0", db.name)),
                    b"",
                );
            }
            Kind::Sqlite => db.dir = Some(tempfile::Builder::new().prefix("cutover-it-sqlite-").tempdir().unwrap()),
        }
        db
    }

    /// An SQLite database in `file` (which need not exist yet).
    pub fn sqlite_file(file: PathBuf) -> Self {
        Self { kind: Kind::Sqlite, name: String::new(), dir: None, file: Some(file) }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        if let Some(file) = &self.file {
            return file.clone();
        }
        self.dir.as_ref().expect("sqlite dir").path().join("db.sqlite3")
    }

    pub fn psql(&self, database: &str) -> Command {
        let mut cmd = Command::new("psql");
        cmd.args(["-h", "127.0.0.1", "-U", pg_user().expect("postgres"), "-d", database]).args([
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-X",
        ]);
        cmd
    }

    /// Runs an SQL script (a dump) in this database.
    #[track_caller]
    pub fn load(&self, sql: &[u8]) {
        match self.kind {
            // utf8mb4 for dumps without their SET NAMES header (--compact).
            Kind::Mariadb => run_ok(
                Command::new("mariadb").args([
                    "-h",
                    "127.0.0.1",
                    "-u",
                    "root",
                    "--default-character-set=utf8mb4",
                    &self.name,
                ]),
                sql,
            ),
            Kind::Postgres => run_ok(self.psql(&self.name).args(["-f", "-"]), sql),
            Kind::Sqlite => run_ok(Command::new("sqlite3").arg("-bail").arg(self.sqlite_path()), sql),
        };
    }

    /// The database's dump by its own tool (`flags` for mariadb-dump and pg_dump).
    #[track_caller]
    pub fn dump(&self, flags: &[&str]) -> Vec<u8> {
        match self.kind {
            Kind::Mariadb => run_ok(
                Command::new("mariadb-dump").args(["-h", "127.0.0.1", "-u", "root"]).args(flags).arg(&self.name),
                b"",
            ),
            Kind::Postgres => run_ok(
                Command::new("pg_dump")
                    .args(["-h", "127.0.0.1", "-U", pg_user().expect("postgres")])
                    .args(flags)
                    .arg(&self.name),
                b"",
            ),
            Kind::Sqlite => run_ok(Command::new("sqlite3").arg(self.sqlite_path()).arg(".dump"), b""),
        }
    }

    /// A query's rows, tab-separated, one per line.
    #[track_caller]
    pub fn query(&self, sql: &str) -> String {
        let out = match self.kind {
            Kind::Mariadb => run_ok(
                Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-N", "-B", &self.name, "-e", sql]),
                b"",
            ),
            Kind::Postgres => run_ok(self.psql(&self.name).args(["-A", "-t", "-F", "\t", "-c", sql]), b""),
            Kind::Sqlite => run_ok(
                Command::new("sqlite3").args(["-bail", "-separator", "\t"]).arg(self.sqlite_path()).arg(sql),
                b"",
            ),
        };
        String::from_utf8(out).expect("query output is UTF-8")
    }

    /// An SQL expression: `column`'s bytes as hex.
    pub fn hex_of(&self, column: &str) -> String {
        match self.kind {
            Kind::Mariadb => format!("HEX({column})"),
            Kind::Postgres => format!("encode(convert_to({column}, 'UTF8'), 'hex')"),
            Kind::Sqlite => format!("hex({column})"),
        }
    }

    /// `SELECT key, hex(col)… FROM table ORDER BY id` as rows of (key, bytes…).
    #[track_caller]
    pub fn rows(&self, table: &str, key: &str, columns: &[&str]) -> Vec<(String, Vec<Vec<u8>>)> {
        let select: Vec<String> = columns.iter().map(|c| self.hex_of(c)).collect();
        let sql = format!("SELECT {key}, {} FROM {table} ORDER BY id", select.join(", "));
        self.query(&sql)
            .lines()
            .map(|line| {
                let mut cells = line.split('\t');
                let key = cells.next().expect("key").to_owned();
                (key, cells.map(unhex).collect())
            })
            .collect()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let sql = match self.kind {
            Kind::Mariadb => format!("DROP DATABASE IF EXISTS `{}`", self.name),
            Kind::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Kind::Sqlite => return,
        };
        let mut cmd = match self.kind {
            Kind::Mariadb => {
                let mut cmd = Command::new("mariadb");
                cmd.args(["-h", "127.0.0.1", "-u", "root", "-e", &sql]);
                cmd
            }
            _ => {
                let mut cmd = self.psql("postgres");
                cmd.args(["-c", &sql]);
                cmd
            }
        };
        let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// The path `sh`'s `command -v` gives for `tool`, if it finds one.
pub fn which(tool: &str) -> Option<String> {
    let out = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !path.is_empty()).then_some(path)
}

/// A MariaDB account of one test, dropped with it: `name` at each of `at` (`127.0.0.1`, or
/// `%` and `localhost`), with `password` if any, and every right on each of `databases`
/// (names or `LIKE` patterns, as `GRANT … ON \`PATTERN\`.*` takes them).
pub struct MariaUser {
    pub name: String,
    at: &'static [&'static str],
}

impl MariaUser {
    pub fn create(name: &str, at: &'static [&'static str], password: Option<&str>, databases: &[&str]) -> Self {
        let mut sql = String::new();
        for host in at {
            sql += &format!("CREATE USER '{name}'@'{host}'");
            if let Some(password) = password {
                sql += &format!(" IDENTIFIED BY '{}'", password.replace('\\', "\\\\").replace('\'', "\\'"));
            }
            sql += ";";
            for db in databases {
                sql += &format!(" GRANT ALL ON `{db}`.* TO '{name}'@'{host}';");
            }
        }
        run_ok(Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-e", &sql]), b"");
        Self { name: name.to_owned(), at }
    }

    /// A name no other account of this test run has: `PREFIX_PID_N`.
    pub fn unique_name(prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Drop for MariaUser {
    fn drop(&mut self) {
        let sql: String = self.at.iter().map(|host| format!("DROP USER IF EXISTS '{}'@'{host}';", self.name)).collect();
        let _ = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "-e", &sql])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// An SQL expression for a string (`binary`: a byte string) written in hex, for `kind`.
pub fn hex_literal(kind: Kind, bytes: &[u8], binary: bool) -> String {
    let h = hex(bytes);
    match (kind, binary) {
        (Kind::Mariadb, false) => format!("CONVERT(UNHEX('{h}') USING utf8mb4)"),
        (Kind::Mariadb, true) => format!("UNHEX('{h}')"),
        (Kind::Postgres, false) => format!("convert_from(decode('{h}', 'hex'), 'UTF8')"),
        (Kind::Postgres, true) => format!("decode('{h}', 'hex')"),
        (Kind::Sqlite, false) => format!("CAST(X'{h}' AS TEXT)"),
        (Kind::Sqlite, true) => format!("X'{h}'"),
    }
}
