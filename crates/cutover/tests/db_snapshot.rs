//! Database snapshots through the binary, on real sshd hosts against real MariaDB, PostgreSQL
//! and SQLite: `[hooks] migrate` snapshots the database first and restores it when it fails
//! (the deploy exits 1 with nothing switched); `rollback --with-db` says what will be lost,
//! restores, and switches the code back; a missing or corrupt snapshot is refused with the
//! database as it was; passwords never show in `ps`, outputs or state; snapshots go with their
//! release's retention.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use support::cli::{Project, Run, current};
use support::db::{Db, Kind, MariaUser, run_ok, which};
use support::hosts::SshHosts;

/// The password of the databases' user, as the secrets provider hands it over.
const PASSWORD_VAR: &str = "CUTOVER_PRODUCTION_DB_PASSWORD";

const SEED: &str = "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
INSERT INTO users VALUES (1, 'ada'), (2, 'bob'), (3, 'cy'), (4, 'dee'), (5, 'eve');
CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(80));
INSERT INTO posts VALUES (1, 'hello'), (2, 'it''s'), (3, NULL);
";

/// Hosts, a project deploying to them, and a database of its own with the seed in it.
struct Case {
    kind: Kind,
    // Dropped in this order: the project and the hosts, then the database and its user.
    project: Project,
    hosts: SshHosts,
    db: Db,
    user: Option<MariaUser>,
    password: String,
    db_host: Option<String>,
}

impl Case {
    /// `None` (a skip) when sshd or the database is not there.
    fn new(kind: Kind, hosts: usize, db_host: Option<&str>) -> Option<Self> {
        if !kind.require() {
            return None;
        }
        let hosts = support::ssh_hosts(hosts)?;
        let db = Db::create(kind);
        db.load(SEED.as_bytes());
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let password = format!("Pw-{}-{}-q7Zr", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let user = (kind == Kind::Mariadb).then(|| {
            let name = MariaUser::unique_name("cutover_u");
            MariaUser::create(&name, &["%", "localhost"], Some(&password), &["cutover\\_it\\_%"])
        });
        let project = support::ssh_project(&hosts, "");
        let case = Self { kind, project, hosts, db, user, password, db_host: db_host.map(str::to_owned) };
        case.config(&[]);
        Some(case)
    }

    fn url(&self) -> String {
        match self.kind {
            Kind::Mariadb => format!(
                "mysql://{}:${{secret:DB_PASSWORD}}@127.0.0.1:3306/{}",
                self.user.as_ref().expect("a user").name,
                self.db.name
            ),
            Kind::Postgres => format!(
                "postgres://{}:${{secret:DB_PASSWORD}}@127.0.0.1:5432/{}",
                support::db::pg_user().expect("postgres"),
                self.db.name
            ),
            Kind::Sqlite => format!("sqlite://{}", self.db.sqlite_path().display()),
        }
    }

    /// Writes the config with `migrate` as `[hooks] migrate`.
    fn config(&self, migrate: &[String]) {
        let hosts: Vec<String> = self.hosts.aliases().iter().map(|h| format!("\"{h}\"")).collect();
        let migrate: Vec<String> = migrate.iter().map(|m| format!("'{m}'")).collect();
        let db_host = self.db_host.as_ref().map(|h| format!("db_host = \"{h}\"\n")).unwrap_or_default();
        self.project.write(
            "cutover.toml",
            &format!(
                "version = 1\n[app]\nname = \"it\"\nsource = \"app\"\nkeep_releases = 3\n[ssh]\nconfig = \"{}\"\n\
                 connect_timeout = \"3s\"\n[secrets]\nprovider = \"env\"\n[hooks]\nmigrate = [{}]\n\
                 [env.production]\ngated = false\nhosts = [{}]\npath = \"{}\"\ndatabase = \"{}\"\n{db_host}",
                self.hosts.config_path().display(),
                migrate.join(", "),
                hosts.join(", "),
                SshHosts::DEPLOY_PATH,
                self.url()
            ),
        );
    }

    fn cutover(&self, args: &[&str]) -> Run {
        self.project.cutover_with(args, &[(PASSWORD_VAR, &self.password)])
    }

    /// Starts the binary without waiting; its stdout and stderr go to `LOG.out` and `LOG.err`
    /// in the project directory.
    fn spawn(&self, args: &[&str], log: &str) -> Child {
        let file = |ext: &str| std::fs::File::create(self.project.path().join(format!("{log}.{ext}"))).unwrap();
        Command::new(support::cli::bin())
            .args(args)
            .current_dir(self.project.path())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env(PASSWORD_VAR, &self.password)
            .stdin(Stdio::null())
            .stdout(file("out"))
            .stderr(file("err"))
            .spawn()
            .unwrap()
    }

    fn log(&self, log: &str, ext: &str) -> String {
        std::fs::read_to_string(self.project.path().join(format!("{log}.{ext}"))).unwrap_or_default()
    }

    /// A shell command, run on a host, that runs `sql` in the database as its client does.
    fn sql_command(&self, sql: &str) -> String {
        match self.kind {
            Kind::Mariadb => format!("mariadb -h 127.0.0.1 -u root {} -e \"{sql}\"", self.db.name),
            Kind::Postgres => format!(
                "psql -X -q -h 127.0.0.1 -U {} -d {} -v ON_ERROR_STOP=1 -c \"{sql}\"",
                support::db::pg_user().expect("postgres"),
                self.db.name
            ),
            Kind::Sqlite => format!("sqlite3 -bail {} \"{sql}\"", self.db.sqlite_path().display()),
        }
    }

    /// The migration of these tests: a column added, rows deleted.
    fn alter_and_delete(&self) -> String {
        self.sql_command(match self.kind {
            Kind::Postgres => "ALTER TABLE users ADD COLUMN age INT; DELETE FROM users WHERE id > 2",
            _ => "ALTER TABLE users ADD COLUMN age INT; DELETE FROM users WHERE id > 2;",
        })
    }

    /// What the tables are: their columns, the engine's own checksums, and every row.
    fn fingerprint(&self) -> String {
        let db = &self.db;
        match self.kind {
            Kind::Mariadb => [
                db.query(
                    "SELECT table_name, column_name, column_type FROM information_schema.columns WHERE table_schema = \
                     DATABASE() ORDER BY 1, ordinal_position",
                ),
                db.query("CHECKSUM TABLE users, posts"),
                db.query("SELECT * FROM users ORDER BY id"),
                db.query("SELECT * FROM posts ORDER BY id"),
            ]
            .concat(),
            Kind::Postgres => [
                db.query(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = \
                     'public' ORDER BY 1, ordinal_position",
                ),
                db.query("SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u"),
                db.query("SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM posts p"),
                db.query("SELECT * FROM users ORDER BY id"),
            ]
            .concat(),
            Kind::Sqlite => [
                db.query("SELECT name, sql FROM sqlite_master ORDER BY name"),
                db.query(".sha3sum"),
                db.query("SELECT * FROM users ORDER BY id"),
                db.query("SELECT * FROM posts ORDER BY id"),
            ]
            .concat(),
        }
    }

    /// `users` as the loss report names it.
    fn users(&self) -> &'static str {
        if self.kind == Kind::Postgres { "`public.users`" } else { "`users`" }
    }

    fn snapshots_dir(&self, host: usize) -> PathBuf {
        self.hosts.deploy_dir(host).join(".cutover/snapshots")
    }

    /// Deploys the app saying `text`, expecting exit `code`.
    fn deploy(&self, text: &str, code: i32) -> Run {
        self.project.write("app/index.html", &format!("{text}\n"));
        self.cutover(&["deploy"]).code(code)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Deploy v1; a migrate that alters and deletes then fails: exit 1, nothing switched, the
/// database as before; the same migrate passing: it runs once, on the db host, in the new
/// release; `rollback --with-db` says what will be lost before it restores, and gives the
/// same tables and checksums as before the deploy, with the code back on v1.
fn migrate_restore_and_rollback_with_db(kind: Kind) {
    let Some(case) = Case::new(kind, 2, Some("h2")) else { return };
    case.deploy("v1", 0);
    let v1 = current(&case.hosts.deploy_dir(1)).expect("v1 is live");
    let before = case.fingerprint();

    // A migrate that alters, deletes and then fails: restored, nothing switched.
    case.config(&[format!("{}; exit 1", case.alter_and_delete())]);
    let failed = case.deploy("v2", 1);
    for text in ["environment `production`", "migrate on `h2`", "exit 1", "restored from snapshot"] {
        assert!(failed.stderr.contains(text), "`{text}` missing from:\n{}", failed.stderr);
    }
    for i in 1..=2 {
        assert_eq!(current(&case.hosts.deploy_dir(i)).as_deref(), Some(v1.as_str()), "host {i} did not switch");
    }
    assert_eq!(case.fingerprint(), before, "the failed migrate's changes were undone");

    // The same migrate, passing: once, on the db host, in the new release.
    case.config(&["touch migrated-here".into(), case.alter_and_delete()]);
    case.deploy("v3", 0);
    let v3 = current(&case.hosts.deploy_dir(1)).expect("v3 is live");
    assert_ne!(v3, v1);
    assert_eq!(current(&case.hosts.deploy_dir(2)).as_deref(), Some(v3.as_str()));
    assert!(case.hosts.deploy_dir(2).join("releases").join(&v3).join("migrated-here").exists());
    assert!(!case.hosts.deploy_dir(1).join("releases").join(&v3).join("migrated-here").exists());
    let migrated = case.fingerprint();
    assert_ne!(migrated, before, "the migrate altered and deleted");

    // The snapshot: 0600 in a 0700 directory, on the db host, listed with its release.
    let dir = case.snapshots_dir(2);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(format!("{v3}.sql.zst"))), 0o600);
    assert_eq!(mode(&dir.join(format!("{v3}.json"))), 0o600);
    assert!(!case.snapshots_dir(1).exists(), "snapshots stay on the db host");
    let list = case.cutover(&["--json", "db", "snapshots"]).ok().json();
    let v3_snapshot = list.as_array().unwrap().iter().find(|s| s["id"] == v3.as_str()).expect("v3's snapshot");
    assert_eq!(v3_snapshot["release"], v3.as_str());
    assert_eq!(v3_snapshot["manual"], false);
    let users =
        v3_snapshot["tables"].as_array().unwrap().iter().find(|t| t["name"].as_str().unwrap().ends_with("users"));
    assert_eq!(users.expect("users in the snapshot")["rows"], 5);

    let rolled = case.cutover(&["--json", "rollback", "--with-db", "-y"]).ok();
    let report = rolled.json();
    assert_eq!((&report["to"], &report["database_restored_from"]), (&v1.as_str().into(), &v3.as_str().into()));
    let lost = format!("{} (5 → 2 rows)", case.users());
    let said = rolled.stderr.find(&lost).unwrap_or_else(|| panic!("`{lost}` not said:\n{}", rolled.stderr));
    let restoring = rolled.stderr.find("==> restoring production's").expect("the restore is said");
    assert!(said < restoring, "what is lost is said before the restore:\n{}", rolled.stderr);
    assert!(!rolled.stderr.contains("posts`"), "an unchanged table is not lost:\n{}", rolled.stderr);
    assert_eq!(case.fingerprint(), before, "the database is as before the deploy");
    for i in 1..=2 {
        assert_eq!(current(&case.hosts.deploy_dir(i)).as_deref(), Some(v1.as_str()), "host {i}'s code is back");
    }
}

/// On a terminal, `rollback --with-db` says what will be lost and asks before it changes
/// anything: "n" leaves code and database as they are, "y" restores and switches back.
#[test]
fn rollback_with_db_asks_on_a_terminal_after_saying_what_will_be_lost() {
    if !support::require("script", Command::new("script").arg("--version").output().is_ok()) {
        return;
    }
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.deploy("v1", 0);
    let v1 = current(&case.hosts.deploy_dir(1)).expect("v1 is live");
    let before = case.fingerprint();
    case.config(&[case.alter_and_delete()]);
    case.deploy("v2", 0);
    let v2 = current(&case.hosts.deploy_dir(1)).expect("v2 is live");
    let migrated = case.fingerprint();
    let env = [(PASSWORD_VAR, case.password.as_str())];

    let refused = case.project.on_a_terminal("rollback --with-db", &env, "n\n");
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    let lost = format!("{} (5 → 2 rows)", case.users());
    let question = format!("Restore production's database to snapshot {v2}, losing the changes above, and roll back");
    for text in [lost.as_str(), question.as_str(), "[y/N]", "not confirmed"] {
        assert!(refused.stdout.contains(text), "`{text}` missing from:\n{}", refused.stdout);
    }
    assert!(refused.stdout.find(&lost) < refused.stdout.find(&question), "{}", refused.stdout);
    assert_eq!(case.fingerprint(), migrated, "nothing restored");
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v2.as_str()), "nothing switched");

    let confirmed = case.project.on_a_terminal("rollback --with-db", &env, "y\n");
    assert_eq!(confirmed.code, 0, "{}", confirmed.stdout);
    assert_eq!(case.fingerprint(), before, "the database is as before v2");
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v1.as_str()));
}

#[test]
fn migrate_restore_and_rollback_with_db_mariadb() {
    migrate_restore_and_rollback_with_db(Kind::Mariadb);
}

#[test]
fn migrate_restore_and_rollback_with_db_postgres() {
    migrate_restore_and_rollback_with_db(Kind::Postgres);
}

#[test]
fn migrate_restore_and_rollback_with_db_sqlite() {
    migrate_restore_and_rollback_with_db(Kind::Sqlite);
}

/// No snapshot for the release left, a snapshot file that is not zstd, one replaced by another
/// whole zstd file, an unreadable record: each refused naming environment, host and step, with
/// the database and the code as they were; the code rollback alone still works.
#[test]
fn a_missing_or_corrupt_snapshot_is_refused_and_nothing_changes() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.deploy("v1", 0);
    case.deploy("v2", 0);
    let v2 = current(&case.hosts.deploy_dir(1)).expect("v2 is live");
    let data = case.fingerprint();

    let missing = case.cutover(&["rollback", "--with-db", "-y"]).code(1);
    for text in ["no usable snapshot", "production", "`h1`", "reading snapshot", "without --with-db"] {
        assert!(missing.stderr.contains(text), "`{text}` missing from:\n{}", missing.stderr);
    }
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v2.as_str()));
    assert_eq!(case.fingerprint(), data);

    case.config(&["true".into()]);
    case.deploy("v3", 0);
    let v3 = current(&case.hosts.deploy_dir(1)).expect("v3 is live");
    // Another whole snapshot, of other data (one of the same data made in the same second
    // would be the same file).
    case.db.query("DELETE FROM posts WHERE id = 3");
    case.cutover(&["db", "snapshot", "--id", "other"]).ok();
    let data = case.fingerprint();
    let file = case.snapshots_dir(1).join(format!("{v3}.sql.zst"));
    let good = std::fs::read(&file).unwrap();
    let other = std::fs::read(case.snapshots_dir(1).join("other.sql.zst")).unwrap();
    let record = case.snapshots_dir(1).join(format!("{v3}.json"));
    let good_record = std::fs::read(&record).unwrap();

    type Damage<'a> = Box<dyn Fn() + 'a>;
    let damaged: [(&str, Damage<'_>); 3] = [
        ("unsupported format", Box::new(|| std::fs::write(&file, b"not zstd at all").unwrap())),
        ("SHA-256 differs", Box::new(|| std::fs::write(&file, &other).unwrap())),
        (
            "is not readable",
            Box::new(|| {
                std::fs::write(&file, &good).unwrap();
                std::fs::write(&record, b"{\"id\": ").unwrap();
            }),
        ),
    ];
    for (why, damage) in damaged {
        damage();
        for args in [&["rollback", "--with-db", "-y"][..], &["db", "restore", &v3, "-y"][..]] {
            let refused = case.cutover(args).code(1);
            for text in [why, "environment `production`", "`h1`", "snapshot"] {
                assert!(refused.stderr.contains(text), "{args:?}: `{text}` missing from:\n{}", refused.stderr);
            }
            assert_eq!(case.fingerprint(), data, "{args:?} ({why}): the database is unchanged");
            assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v3.as_str()), "{args:?}: not switched");
        }
    }
    std::fs::write(&record, &good_record).unwrap();
    // Whole again: the restore goes through.
    case.cutover(&["db", "restore", &v3, "-y"]).ok().stderr_has("`posts` (3 → 2 rows");
    assert_ne!(case.fingerprint(), data);
    case.cutover(&["rollback", "-y"]).ok();
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v2.as_str()));
}

/// A slow-ish snapshot (a few hundred thousand rows) polled with `ps -eo args` while it runs:
/// the password is in no process's arguments, nor in the commands' output, the snapshot's
/// record or `.cutover/state.db`.
#[test]
fn the_password_is_never_in_ps_outputs_or_state() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.db.query(
        "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(255)); INSERT INTO big SELECT seq, REPEAT(MD5(seq), 6) FROM \
         seq_1_to_300000",
    );
    let mut outputs = String::new();
    case.config(&["true".into()]);
    let deployed = case.deploy("v1", 0);
    outputs += &(deployed.stdout + &deployed.stderr);

    let mut child = case.spawn(&["db", "snapshot", "--id", "slow"], "snapshot");
    let (mut samples, mut saw_dump) = (0, false);
    let mut ended = None;
    support::wait_for("the snapshot to end", Duration::from_secs(120), || {
        let ps = Command::new("ps").args(["-eo", "args"]).output().expect("ps");
        let ps = String::from_utf8_lossy(&ps.stdout);
        samples += 1;
        assert!(!ps.contains(&case.password), "the password is in ps:\n{ps}");
        saw_dump |= ps.lines().any(|l| l.contains("mariadb-dump") && l.contains("defaults-extra-file"));
        ended = child.try_wait().unwrap();
        ended.is_some()
    });
    assert!(ended.expect("ended").success(), "{}", case.log("snapshot", "err"));
    assert!(saw_dump, "ps saw the dump running ({samples} samples)");
    outputs += &case.log("snapshot", "out");
    outputs += &case.log("snapshot", "err");
    let listed = case.cutover(&["--json", "db", "snapshots"]).ok();
    assert!(listed.json().as_array().unwrap().iter().any(|s| s["id"] == "slow"));
    outputs += &(listed.stdout + &listed.stderr);
    let restored = case.cutover(&["db", "restore", "slow", "-y"]).ok();
    outputs += &(restored.stdout + &restored.stderr);
    assert!(!outputs.contains(&case.password), "the password is in an output:\n{outputs}");
    let record = std::fs::read(case.snapshots_dir(1).join("slow.json")).unwrap();
    assert!(!contains(&record, case.password.as_bytes()), "the password is in the snapshot's record");
    let state = case.project.path().join(".cutover");
    let mut files = 0;
    for entry in std::fs::read_dir(&state).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("state.db") {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(!contains(&bytes, case.password.as_bytes()), "the password is in {}", path.display());
        }
    }
    assert!(files > 0, "state.db was written");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Snapshots go with their release: after five deploys with `keep_releases = 3`, the snapshots
/// of releases retention removed are gone, those of the kept ones stay, and one taken by hand
/// stays; `db snapshots` shows what is kept.
#[test]
fn snapshots_go_with_their_release() {
    let Some(case) = Case::new(Kind::Sqlite, 1, None) else { return };
    case.cutover(&["db", "snapshot", "--id", "by-hand"]).ok();
    case.config(&["true".into()]);
    for i in 1..=5 {
        case.deploy(&format!("v{i}"), 0);
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(case.hosts.deploy_dir(1).join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert!(on_disk.len() < 5, "retention removed releases: {on_disk:?}");
    let list = case.cutover(&["--json", "db", "snapshots"]).ok().json();
    let mut kept: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["manual"] == false)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, on_disk, "a snapshot for each release kept, none for those removed");
    assert!(list.as_array().unwrap().iter().any(|s| s["id"] == "by-hand" && s["manual"] == true));
    let mut files: Vec<String> = std::fs::read_dir(case.snapshots_dir(1))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql.zst"))
        .collect();
    files.sort();
    let mut expected: Vec<String> = on_disk.iter().map(|r| format!("{r}.sql.zst")).collect();
    expected.push("by-hand.sql.zst".into());
    expected.sort();
    assert_eq!(files, expected);
    let table = case.cutover(&["db", "snapshots"]).ok();
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains("by-hand") && table.stdout.contains("(by hand)"), "{}", table.stdout);
}

/// `[hooks] migrate` without a `database`: it runs, loudly unprotected.
#[test]
fn migrate_without_a_database_warns_that_no_snapshot_protects_it() {
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let project = support::ssh_project(&hosts, "[hooks]\nmigrate = [\"touch migrated\"]\n");
    let run = project.cutover(&["deploy"]).ok().stderr_has("MIGRATE UNPROTECTED");
    let live = current(&hosts.deploy_dir(1)).expect("live");
    assert!(hosts.deploy_dir(1).join("releases").join(live).join("migrated").exists(), "{}", run.stderr);
}

/// SIGINT while migrate runs (after it altered and deleted): it finishes, no host switches, the
/// database goes back to the snapshot, exit 130.
#[test]
fn sigint_during_migrate_switches_nothing_and_puts_the_database_back() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.deploy("v1", 0);
    let v1 = current(&case.hosts.deploy_dir(1)).expect("v1 is live");
    let before = case.fingerprint();
    let dir = case.project.path().display().to_string();
    // Waits (bounded) for the test to say go once it has signalled.
    let wait = format!(
        "touch {dir}/in-migrate; i=0; while [ ! -e {dir}/go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"
    );
    case.config(&[case.alter_and_delete(), wait]);
    case.project.write("app/index.html", "v2\n");
    let mut child = case.spawn(&["deploy"], "v2");
    support::wait_for("migrate to run", Duration::from_secs(60), || case.project.path().join("in-migrate").exists());
    assert_ne!(case.fingerprint(), before, "migrate altered and deleted before the signal");
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    std::fs::write(case.project.path().join("go"), "").unwrap();
    let code = support::wait_exit(&mut child, Duration::from_secs(60));
    let log = case.log("v2", "err");
    assert_eq!(code, 130, "{log}");
    assert!(log.contains("SIGINT during migrate") && log.contains("goes back to snapshot"), "{log}");
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v1.as_str()), "{log}");
    assert_eq!(case.fingerprint(), before, "the database is back: {log}");
}

/// A restore killed with SIGKILL while it loads (MariaDB: its staging database there;
/// PostgreSQL: its transaction open) leaves the database as it was; the next restore goes
/// through and leaves no staging area behind.
fn a_restore_killed_midway_leaves_the_database_as_it_was(kind: Kind) {
    let Some(case) = Case::new(kind, 1, None) else { return };
    let fill = match kind {
        Kind::Mariadb => {
            "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(255)); INSERT INTO big SELECT seq, \
                          REPEAT(MD5(seq), 6) FROM seq_1_to_300000"
        }
        _ => {
            "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(255)); INSERT INTO big SELECT g, repeat(md5(g::text), 6) \
              FROM generate_series(1, 300000) g"
        }
    };
    case.db.query(fill);
    case.cutover(&["db", "snapshot", "--id", "big"]).ok();
    case.db.query("DELETE FROM big WHERE id > 1000");
    case.db.query("DELETE FROM users WHERE id = 1");
    let state = || {
        let big = match kind {
            Kind::Mariadb => case.db.query("SELECT COUNT(*) FROM big; CHECKSUM TABLE big"),
            _ => case.db.query("SELECT count(*), md5(string_agg(b::text, ',' ORDER BY id)) FROM big b"),
        };
        case.fingerprint() + &big
    };
    let before = state();
    // MariaDB loads into a staging database; PostgreSQL in a transaction of another backend.
    let loading = match kind {
        Kind::Mariadb => format!(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE '{}\\_\\_cutover\\_%'",
            case.db.name.replace('_', "\\_")
        ),
        _ => "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
              AND xact_start IS NOT NULL"
            .to_owned(),
    };
    let mut child = case.spawn(&["db", "restore", "big", "-y"], "restore");
    support::wait_for("the restore to be loading", Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "the restore ended first: {}", case.log("restore", "err"));
        case.db.query(&loading).trim() != "0"
    });
    kill_process(Pid::from_child(&child), Signal::KILL).unwrap();
    support::wait_exit(&mut child, Duration::from_secs(30));
    if kind == Kind::Postgres {
        // The load on the host reads its whole dump, is never told to commit, and ends.
        support::wait_for("the abandoned load to end", Duration::from_secs(120), || {
            case.db.query(&loading).trim() == "0"
        });
    }
    // Whatever the kill cut off on the host, its password file goes with the script.
    support::wait_for("the killed restore's password file to be removed", Duration::from_secs(30), || {
        password_files_holding(&case.password).is_empty()
    });
    assert_eq!(state(), before, "the killed restore changed nothing");

    case.cutover(&["db", "restore", "big", "-y"]).ok();
    assert_eq!(case.db.query("SELECT COUNT(*) FROM big").trim(), "300000");
    assert_eq!(case.db.query(&loading).trim(), "0", "no staging area is left");
}

/// The option files (`my.cnf`, `pgpass`) in cutover's temporary directories on the hosts
/// (their `/tmp` is this machine's) that hold `password`.
fn password_files_holding(password: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        if !dir.file_name().to_string_lossy().starts_with("cutover-db.") {
            continue;
        }
        for name in ["my.cnf", "pgpass"] {
            let file = dir.path().join(name);
            if std::fs::read_to_string(&file).is_ok_and(|text| text.contains(password)) {
                found.push(file);
            }
        }
    }
    found
}

#[test]
fn a_restore_killed_midway_leaves_the_database_as_it_was_mariadb() {
    a_restore_killed_midway_leaves_the_database_as_it_was(Kind::Mariadb);
}

#[test]
fn a_restore_killed_midway_leaves_the_database_as_it_was_postgres() {
    a_restore_killed_midway_leaves_the_database_as_it_was(Kind::Postgres);
}

/// Wrong credentials: `db snapshot` fails naming environment, host and step and leaves no file;
/// a deploy whose migrate cannot be protected by a snapshot stops before migrate runs, with
/// nothing switched.
#[test]
fn a_snapshot_that_cannot_be_taken_stops_before_migrate() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.deploy("v1", 0);
    let v1 = current(&case.hosts.deploy_dir(1)).expect("v1 is live");
    let wrong = [(PASSWORD_VAR, "not-the-password")];
    let failed = case.project.cutover_with(&["db", "snapshot", "--id", "x"], &wrong).code(1);
    for text in ["environment `production`", "`h1`", "snapshotting", "Access denied"] {
        assert!(failed.stderr.contains(text), "`{text}` missing from:\n{}", failed.stderr);
    }
    let left: Vec<_> = std::fs::read_dir(case.snapshots_dir(1))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");

    case.config(&["touch migrated-here".into()]);
    case.project.write("app/index.html", "v2\n");
    let stopped = case.project.cutover_with(&["deploy"], &wrong).code(1);
    assert!(stopped.stderr.contains("migrate did not run"), "{}", stopped.stderr);
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v1.as_str()));
    let releases = case.hosts.deploy_dir(1).join("releases");
    for release in std::fs::read_dir(releases).unwrap() {
        assert!(!release.unwrap().path().join("migrated-here").exists(), "migrate ran");
    }
}

/// A dump that does not end whole is no snapshot, whichever way its tool tells it: a
/// `mariadb-dump` killed after 4 KB (its exit status), an `sqlite3 .dump` that exits 0 after
/// `ROLLBACK; -- due to errors` (its last line). The error names the step; nothing is listed
/// and no file is left; the real tool then snapshots the same database whole.
#[test]
fn a_dump_that_does_not_end_whole_is_no_snapshot() {
    for (kind, tool, cut) in [
        (Kind::Mariadb, "mariadb-dump", "\"$real\" \"$@\" | head -c 4096\nkill -9 $$\n"),
        (
            Kind::Sqlite,
            "sqlite3",
            "case \"$*\" in *.dump*) \"$real\" \"$@\" | head -c 200; echo; echo 'ROLLBACK; -- due to errors';; \
             *) exec \"$real\" \"$@\";; esac\n",
        ),
    ] {
        let Some(case) = Case::new(kind, 1, None) else { return };
        let program = std::fs::canonicalize(which(tool).expect("the tool on PATH")).unwrap();
        case.hosts.replace_program(1, program.to_str().unwrap(), cut);
        let failed = case.cutover(&["db", "snapshot", "--id", "cut"]).code(1);
        let why = if kind == Kind::Mariadb { "the dump failed (exit 137)" } else { "cut short" };
        for text in ["snapshotting", "`h1`", why] {
            assert!(failed.stderr.contains(text), "{kind:?}: `{text}` missing from:\n{}", failed.stderr);
        }
        let listed = case.cutover(&["--json", "db", "snapshots"]).ok();
        assert!(!listed.stdout.contains("\"cut\""), "{kind:?}: listed: {}", listed.stdout);
        let left: Vec<_> = std::fs::read_dir(case.snapshots_dir(1))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{kind:?}: nothing is left behind: {left:?}");
    }
}

/// zstd missing on the db host: a snapshot fails saying so, naming environment, host and
/// step, and leaves nothing; a restore of a snapshot taken before fails the same way before it
/// changes anything.
#[test]
fn zstd_missing_on_the_db_host_is_said_and_changes_nothing() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    case.cutover(&["db", "snapshot", "--id", "before"]).ok();
    case.db.query("DELETE FROM users WHERE id = 1");
    let now = case.fingerprint();
    let zstd = std::fs::canonicalize(which("zstd").expect("zstd on PATH")).unwrap();
    case.hosts.hide_program(1, zstd.to_str().unwrap());
    let failed = case.cutover(&["db", "snapshot", "--id", "after"]).code(1);
    for text in ["environment `production`", "`h1`", "snapshotting", "zstd not found on this host"] {
        assert!(failed.stderr.contains(text), "`{text}` missing from:\n{}", failed.stderr);
    }
    let mut left: Vec<_> = std::fs::read_dir(case.snapshots_dir(1)).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["before.json", "before.sql.zst"], "nothing else is left");
    let refused = case.cutover(&["db", "restore", "before", "-y"]).code(1);
    assert!(refused.stderr.contains("zstd not found on this host"), "{}", refused.stderr);
    assert_eq!(case.fingerprint(), now, "the restore changed nothing");
}

/// A `mariadb-dump` in `dir` that notes it started (`dir/dumping`) and waits for `dir/go`
/// (at most 30 s) before dumping: what a test does in between happens while the snapshot runs.
fn held_dump(dir: &Path) -> String {
    let real = which("mariadb-dump").expect("mariadb-dump on PATH");
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    let script = format!(
        "#!/bin/sh\ntouch {d}/dumping\ni=0\nwhile [ ! -e {d}/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         exec \"{real}\" \"$@\"\n"
    );
    let path = dir.join("mariadb-dump");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{d}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Polls for `path` to exist while `child` runs, for at most 30 s.
fn wait_for_file(path: &Path, child: &mut Child) {
    support::wait_for(format_args!("{} to appear", path.display()), Duration::from_secs(30), || {
        if child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("the command ended before {} appeared: {err}", path.display());
        }
        path.exists()
    });
}

/// Takes `cutover --json db snapshot --id ID` with the dump held until `during` ran; the
/// snapshot's record.
fn snapshot_while(case: &Case, id: &str, during: impl FnOnce()) -> serde_json::Value {
    let dir = case.project.path().join(format!("held-{id}"));
    let path = held_dump(&dir);
    let mut child = Command::new(support::cli::bin())
        .args(["--json", "db", "snapshot", "--id", id])
        .current_dir(case.project.path())
        .env_remove("CUTOVER_CONFIG")
        .env_remove("CUTOVER_ENV")
        .env(PASSWORD_VAR, &case.password)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&dir.join("dumping"), &mut child);
    during();
    std::fs::write(dir.join("go"), b"").unwrap();
    let stdout = child.stdout.take().unwrap();
    let out: serde_json::Value = serde_json::from_reader(stdout).unwrap_or(serde_json::Value::Null);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "db snapshot failed: {err}");
    out
}

fn unsettled(record: &serde_json::Value) -> Vec<&str> {
    record["unsettled"].as_array().expect("unsettled listed").iter().map(|t| t.as_str().unwrap()).collect()
}

/// MariaDB: the snapshot reads each table once; which were written while it ran comes from the
/// server's own record of writes. A quiet database: none. A row written while the dump runs: its
/// table, not the other. A transaction that wrote before the snapshot began and commits while it
/// runs (seen by an account with PROCESS): its table too. A restore checks the settled tables.
#[test]
fn a_snapshot_names_the_tables_written_while_it_ran_and_only_those() {
    let Some(case) = Case::new(Kind::Mariadb, 1, Some("local")) else { return };
    let quiet = snapshot_while(&case, "quiet", || {});
    assert_eq!(unsettled(&quiet), Vec::<&str>::new(), "{quiet:#}");

    let written = snapshot_while(&case, "written", || {
        case.db.query("INSERT INTO posts VALUES (10, 'during')");
    });
    assert_eq!(unsettled(&written), ["posts"], "{written:#}");

    let user = &case.user.as_ref().expect("a user").name;
    run_ok(
        Command::new("mariadb").args([
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-e",
            &format!("GRANT PROCESS ON *.* TO '{user}'@'%'; GRANT PROCESS ON *.* TO '{user}'@'localhost'"),
        ]),
        b"",
    );
    // The transaction's write is two seconds old when the snapshot starts, so only the open
    // transaction, not the time of the write alone, tells that it may land while the dump runs.
    let (fifo_dir, mut open) = {
        let dir = case.project.path().join("open-trx");
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("in");
        run_ok(Command::new("mkfifo").arg(&fifo), b"");
        let child = Command::new("sh")
            .args(["-c", &format!("mariadb -h 127.0.0.1 -u root {} < {}", case.db.name, fifo.display())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        (dir, child)
    };
    // Begun in a later second than the write to `posts` above (times have whole seconds).
    let later = "SELECT NOW() > UPDATE_TIME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND \
                 TABLE_NAME = 'posts'";
    support::wait_for("the clock to move on", Duration::from_secs(30), || case.db.query(later).trim() == "1");
    let mut feed = std::fs::OpenOptions::new().write(true).open(fifo_dir.join("in")).unwrap();
    std::io::Write::write_all(&mut feed, b"BEGIN; UPDATE users SET name = 'ADA' WHERE id = 1;\n").unwrap();
    // Its session's, among those of the other tests running at the same time. INNODB_TRX is a
    // cache InnoDB refreshes only after 100 ms without a reader: asked every 20 ms, it would
    // go on showing the moment before the UPDATE (as it did in CI).
    let writing = "FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = \
                t.trx_mysql_thread_id WHERE t.trx_rows_modified > 0 AND p.DB = DATABASE()";
    let every = Duration::from_millis(250);
    support::wait_for_every("the transaction to write", Duration::from_secs(30), every, || {
        case.db.query(&format!("SELECT COUNT(*) {writing}")).trim() == "1"
    });
    let old = format!("SELECT NOW() >= MIN(t.trx_started) + INTERVAL 2 SECOND {writing}");
    support::wait_for_every("the transaction to be 2 s old", Duration::from_secs(30), every, || {
        case.db.query(&old).trim() == "1"
    });
    let committed = snapshot_while(&case, "committed", || {
        std::io::Write::write_all(&mut feed, b"COMMIT;\n").unwrap();
        support::wait_for("the commit to land", Duration::from_secs(30), || {
            case.db.query("SELECT name FROM users WHERE id = 1").trim() == "ADA"
        });
    });
    drop(feed);
    open.wait().unwrap();
    assert_eq!(unsettled(&committed), ["users"], "{committed:#}");

    // The quiet snapshot restores with every table checked.
    case.cutover(&["db", "restore", "quiet", "-y"])
        .ok()
        .stderr_has("2 table(s) restored, their checksums as in the snapshot");
    assert_eq!(case.db.query("SELECT COUNT(*) FROM posts").trim(), "3");
}

/// An account with rights on its own database only (a WordPress site's on most hosts): no
/// staging database can be made beside it, so a restore loads into prefixed tables of the
/// database's own and swaps them in with one `RENAME TABLE`. A failing migrate is undone, a
/// passing one undone by `rollback --with-db`, nothing prefixed is left; a foreign key, which a
/// prefixed table cannot take, is refused with the grant that lets the swap go ahead instead.
#[test]
fn an_account_limited_to_its_own_database_restores_through_prefixed_tables() {
    let Some(case) = Case::new(Kind::Mariadb, 1, None) else { return };
    let user = &case.user.as_ref().expect("a user").name;
    let db = &case.db.name;
    let mut sql = String::new();
    for at in ["%", "localhost"] {
        sql += &format!(
            "REVOKE ALL ON `cutover\\_it\\_%`.* FROM '{user}'@'{at}'; GRANT ALL ON `{db}`.* TO '{user}'@'{at}'; "
        );
    }
    run_ok(Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-e", &sql]), b"");
    let side = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '\\_\\_co%'";
    case.deploy("v1", 0);
    let v1 = current(&case.hosts.deploy_dir(1)).expect("v1 is live");
    let before = case.fingerprint();

    case.config(&[format!("{}; exit 1", case.alter_and_delete())]);
    case.deploy("v2", 1).stderr_has("restored from snapshot");
    assert_eq!(case.fingerprint(), before, "the failed migrate's changes were undone");
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v1.as_str()));

    case.config(&[case.alter_and_delete()]);
    case.deploy("v3", 0);
    assert_ne!(case.fingerprint(), before);
    case.cutover(&["rollback", "--with-db", "-y"]).ok().stderr_has(&format!("{} (5 → 2 rows)", case.users()));
    assert_eq!(case.fingerprint(), before, "the database is as before the deploy");
    assert_eq!(current(&case.hosts.deploy_dir(1)).as_deref(), Some(v1.as_str()));
    assert_eq!(case.db.query(side).trim(), "0", "no prefixed table is left");

    // A foreign key: refused before anything is loaded, the database as it was.
    case.db.query("CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id)) ENGINE=InnoDB");
    case.deploy("v4", 0);
    case.db.query("DELETE FROM posts");
    let with_key = case.fingerprint();
    let refused = case.cutover(&["rollback", "--with-db", "-y"]).code(1);
    for text in
        ["foreign key (`orders_user`)", "nothing was changed", "GRANT ALL ON", "environment `production`", "`h1`"]
    {
        assert!(refused.stderr.contains(text), "`{text}` missing from:\n{}", refused.stderr);
    }
    assert_eq!(case.fingerprint(), with_key);
    assert_eq!(case.db.query(side).trim(), "0");
}
