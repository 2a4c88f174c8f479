//! `cutover db rewrite --load-into mariadb` against the real MariaDB: a dump shaped as mysqldump
//! 8.0 writes it (DEFINERs of a user the target does not have on a view, a trigger and a
//! procedure; `utf8mb4_0900_*` collations; the GTID_PURGED and SQL_LOG_BIN lines; a tablespace
//! clause; and the sandbox line a mariadb-dump 11 client writes first) fails to load as it is,
//! and loads once rewritten: rows read back byte for byte (a post quoting `DEFINER=` and
//! `utf8mb4_0900_ai_ci` included), and the view, the trigger and the procedure work.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const DUMP: &str = include_str!("../../cutover-db/tests/fixtures/mysqldump-8.0.sql");

struct Ran {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Ran {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn mariadb() -> Command {
    let mut cmd = Command::new("mariadb");
    cmd.args(["-h", "127.0.0.1", "-u", "root", "--default-character-set=utf8mb4"]);
    cmd
}

fn mariadb_available() -> bool {
    mariadb()
        .args(["-N", "-e", "SELECT 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A database of its own, dropped at the end.
struct Db {
    name: String,
}

impl Db {
    fn create() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("cutover_port_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let ran = run(mariadb().arg("-e").arg(format!("CREATE DATABASE `{name}`")), b"");
        assert_eq!(ran.code, 0, "create database {name}: {}", ran.stderr);
        Self { name }
    }

    /// The rows of `sql`, tab-separated.
    #[track_caller]
    fn query(&self, sql: &str) -> String {
        let ran = run(mariadb().args(["-N", "-B", &self.name, "-e", sql]), b"");
        assert_eq!(ran.code, 0, "{sql}: {}", ran.stderr);
        String::from_utf8(ran.stdout).expect("UTF-8")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = mariadb()
            .arg("-e")
            .arg(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn rewrite(args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.args(["db", "rewrite"]).args(args);
    for var in ["CUTOVER_CONFIG", "CUTOVER_ENV", "CUTOVER_OLD_APP_KEY", "CUTOVER_NEW_APP_KEY"] {
        cmd.env_remove(var);
    }
    let ran = run(&mut cmd, DUMP.as_bytes());
    assert_eq!(ran.code, 0, "cutover db rewrite {args:?}:\n{}", ran.stderr);
    ran
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn mysql_8_dump_fails_raw_and_loads_into_mariadb_after_load_into() {
    if !support::require("mariadb", mariadb_available()) {
        return;
    }

    // As it is, MariaDB refuses it: what proves the dump shows the problems.
    let raw = Db::create();
    let ran = run(mariadb().arg(&raw.name), DUMP.as_bytes());
    assert_ne!(ran.code, 0, "the raw MySQL 8 dump loaded into MariaDB:\n{}", ran.stderr);
    assert!(ran.stderr.contains("Unknown system variable 'GTID_PURGED'"), "{}", ran.stderr);
    // Past that first error (`--force` goes on, and exits 0), the collations fail too.
    let ran = run(mariadb().args(["--force", &raw.name]), DUMP.as_bytes());
    assert!(ran.stderr.contains("Unknown collation: 'utf8mb4_0900_as_cs'"), "{}", ran.stderr);
    drop(raw);

    // The summary says what was fixed, in text and in JSON.
    let text = rewrite(&["--load-into", "mariadb"]);
    assert!(
        text.stderr.contains(
            "for mariadb: removed 3 DEFINER clauses, 1 sandbox-mode line, 1 TABLESPACE clause, \
             4 GTID/SQL_LOG_BIN statements; mapped 5 collations"
        ),
        "{}",
        text.stderr
    );
    let json = rewrite(&["--load-into", "mariadb", "--json"]);
    assert_eq!(json.stdout, text.stdout);
    let line = json.stderr.lines().rev().find(|l| !l.trim().is_empty()).expect("a summary");
    let summary: Value = serde_json::from_str(line).expect("JSON summary");
    assert_eq!(summary["load_into"], "mariadb");
    assert_eq!(
        summary["portability"],
        serde_json::json!({"definers": 3, "collations": 5, "sandbox_lines": 1, "tablespaces": 1,
                           "gtid_statements": 4, "too_long": 0})
    );

    let db = Db::create();
    let ran = run(mariadb().arg(&db.name), &text.stdout);
    assert_eq!(ran.code, 0, "the rewritten dump does not load:\n{}", ran.stderr);

    // Every value exactly as the dump had it (HEX: trailing spaces and newlines count).
    let rows = db.query("SELECT id, HEX(slug), HEX(title), HEX(status), HEX(body) FROM posts ORDER BY id");
    let expected: [(&str, &str, &str, &str); 3] = [
        (
            "moving-hosts",
            "Moving hosts",
            "publish",
            "Load it with: CREATE DEFINER=`app`@`%` VIEW v AS SELECT 1 COLLATE utf8mb4_0900_ai_ci;\nthen \
             /*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */ and SET @@GLOBAL.GTID_PURGED='+uuid:1-5'; \
             TABLESPACE `innodb_system` /*M!999999\\- enable the sandbox mode */",
        ),
        ("hello-world", "Hello world", "publish", "It's the first post."),
        ("hello-world ", "Hello world (draft)", "draft", "Same slug, one trailing space: NO PAD keeps them apart."),
    ];
    let expected: String = expected
        .iter()
        .enumerate()
        .map(|(i, (slug, title, status, body))| {
            format!(
                "{}\t{}\t{}\t{}\t{}\n",
                i + 1,
                hex(slug.as_bytes()),
                hex(title.as_bytes()),
                hex(status.as_bytes()),
                hex(body.as_bytes())
            )
        })
        .collect();
    assert_eq!(rows, expected);

    // The collations MariaDB got, and the objects work with the loading user as definer.
    assert_eq!(
        db.query(&format!(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'posts'",
            db.name
        )),
        "utf8mb4_unicode_520_ci\n"
    );
    assert_eq!(
        db.query(&format!(
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND COLUMN_NAME = 'slug' \
             AND TABLE_NAME = 'posts'",
            db.name
        )),
        "utf8mb4_nopad_bin\n"
    );
    assert_eq!(db.query("SELECT id FROM published ORDER BY id"), "1\n2\n");
    assert_eq!(db.query("CALL count_posts(2)"), "2\n");
    db.query("INSERT INTO posts (slug, title, body) VALUES ('New-Post', 'New', '')");
    assert_eq!(db.query("SELECT slug FROM posts WHERE id = 4"), "new-post\n", "the trigger ran");
    let definers = db.query(&format!(
        "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{0}' \
         UNION ALL SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{0}' \
         UNION ALL SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{0}'",
        db.name
    ));
    assert_eq!(definers.lines().count(), 3, "{definers}");
    assert!(definers.lines().all(|d| d.starts_with("root@")), "{definers}");
}
