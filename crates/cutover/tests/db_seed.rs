//! `cutover deploy --seed` through the binary: real sshd hosts as production (`h1`) and staging
//! (`h2`), real MariaDB and PostgreSQL on 127.0.0.1 (reached from the hosts' client tools) and
//! sqlite3 on the hosts, real PHP to read serialized values back (and Laravel's Encrypter the
//! re-encrypted ones). Every test makes databases of its own and drops them at the end.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::process::Command;

use support::cli::{Project, current};
use support::db::{Db, Kind, MariaUser, pg_user, run_ok};
use support::hosts::SshHosts;
use support::php::{self, Keys, verify};

const STAGING_URL: &str = "https://staging.example.test";
const PROD_URL: &str = "https://www.example.test";

/// sshd and the database.
fn require(kind: Kind) -> bool {
    support::require("sshd", SshHosts::available()) && kind.require()
}

/// `database = "…"`. A SQLite file is in the test's directory, which the hosts see too (only
/// the deploy path is a host's own).
fn url(db: &Db) -> String {
    match db.kind {
        Kind::Mariadb => format!("mysql://root@127.0.0.1:3306/{}", db.name),
        Kind::Postgres => format!("postgres://{}@127.0.0.1:5432/{}", pg_user().expect("postgres"), db.name),
        Kind::Sqlite => format!("sqlite://{}", db.sqlite_path().display()),
    }
}

/// A shell command that runs the SQL on its stdin, on a host.
fn host_client(db: &Db) -> String {
    match db.kind {
        Kind::Mariadb => format!("mariadb -h 127.0.0.1 -u root {}", db.name),
        Kind::Postgres => {
            format!("psql -X -q -h 127.0.0.1 -U {} -v ON_ERROR_STOP=1 -d {}", pg_user().expect("postgres"), db.name)
        }
        Kind::Sqlite => format!("sqlite3 -bail {}", db.sqlite_path().display()),
    }
}

fn tables(db: &Db) -> Vec<String> {
    let sql = match db.kind {
        Kind::Mariadb => {
            format!("SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' ORDER BY 1", db.name)
        }
        Kind::Postgres => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1".into()
        }
        Kind::Sqlite if !db.sqlite_path().exists() => return Vec::new(),
        Kind::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1".into(),
    };
    db.query(&sql).lines().map(str::to_owned).collect()
}

#[track_caller]
fn php(code: &str, stdin: &str) -> String {
    String::from_utf8(run_ok(Command::new("php").args(["-r", code]), stdin.as_bytes())).expect("UTF-8")
}

/// What PHP's `serialize()` makes of `['home' => URL/, 'n' => 1]`.
fn serialized_home(url: &str) -> String {
    php(&format!("echo serialize(['home' => '{url}/', 'n' => 1]);"), "")
}

/// The `home` entry of a serialized value, as PHP's `unserialize()` reads it (`false` when it
/// does not unserialize).
fn unserialized_home(value: &str) -> String {
    let code = "$v = unserialize(stream_get_contents(STDIN)); echo $v === false ? 'false' : $v['home'];";
    php(code, value)
}

/// Production on `h1`, staging on `h2`; each with its database; `seed` is the `[seed]` section.
struct Setup {
    hosts: SshHosts,
    project: Project,
    prod: Db,
    staging: Db,
}

fn setup(kind: Kind, seed: &str) -> Option<Setup> {
    setup_on(kind, seed, 1)
}

/// Like [`setup`], with production on `h1` ..= `h{prod_hosts}` and staging on the next host.
fn setup_on(kind: Kind, seed: &str, prod_hosts: usize) -> Option<Setup> {
    if !require(kind) {
        return None;
    }
    let hosts = SshHosts::start(prod_hosts + 1);
    let (prod, staging) = (Db::create(kind), Db::create(kind));
    let aliases = hosts.aliases();
    let extra = format!(
        "[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n[smoke]\nafter_deploy = false\n[seed]\n{seed}\n",
        hosts.config_path().display()
    );
    let project = Project::new(&aliases[..prod_hosts], SshHosts::DEPLOY_PATH, &extra, 3);
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let toml = toml.replacen(
        "[env.production]\n",
        &format!("[env.production]\nurl = \"{PROD_URL}\"\ndatabase = \"{}\"\n", url(&prod)),
        1,
    );
    let toml = format!(
        "{toml}\n[env.staging]\nhosts = [\"{}\"]\npath = \"{}\"\nurl = \"{STAGING_URL}\"\ndatabase = \"{}\"\n",
        aliases[prod_hosts],
        SshHosts::DEPLOY_PATH,
        url(&staging)
    );
    project.write("cutover.toml", &toml);
    Some(Setup { hosts, project, prod, staging })
}

/// An installer script in the app: the SQL run through the db host's client, after checking
/// that nothing is live yet (it runs before the switch), then `tail` (`exit 1`: a failing one).
fn installer(setup: &Setup, sql: &str, tail: &str) {
    let script = format!(
        "set -e\n[ ! -e {}/current ] || {{ echo 'the release is live already' >&2; exit 1; }}\n{} <<'SQL'\n{sql}\nSQL\n{tail}\n",
        SshHosts::DEPLOY_PATH,
        host_client(&setup.prod)
    );
    setup.project.write("app/install.sh", &script);
}

const INSTALL_SQL: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(64));\n\
                           INSERT INTO users VALUES (1, 'admin');\n\
                           CREATE TABLE wp_options (option_id INTEGER PRIMARY KEY, option_name VARCHAR(64), option_value TEXT);\n\
                           INSERT INTO wp_options VALUES (1, 'installer', 'default');";

/// Staging's WordPress-shaped data: a serialized option holding its URL, and posts.
fn fill_staging(setup: &Setup) {
    let value = serialized_home(STAGING_URL).replace('\'', "''");
    setup.staging.load(
        format!(
            "CREATE TABLE wp_options (option_id INTEGER PRIMARY KEY, option_name VARCHAR(64), option_value TEXT);\n\
         INSERT INTO wp_options VALUES (1, 'siteurl', '{STAGING_URL}'), (2, 'theme_mods', '{value}');\n\
         CREATE TABLE wp_posts (id INTEGER PRIMARY KEY, guid VARCHAR(255));\n\
         INSERT INTO wp_posts VALUES (7, '{STAGING_URL}/?p=7');"
        )
        .as_bytes(),
    );
}

fn releases(deploy_dir: &std::path::Path) -> usize {
    std::fs::read_dir(deploy_dir.join("releases")).map_or(0, |d| d.count())
}

fn seed_fresh(kind: Kind) {
    let Some(s) = setup(kind, "installer = \"sh install.sh\"") else { return };
    installer(&s, INSTALL_SQL, "");
    let report = s.project.cutover(&["--json", "deploy", "--seed", "fresh"]).ok().json();
    assert_eq!(report["seed"]["strategy"], "fresh", "{report}");
    assert_eq!(report["seed"]["tables"], 2, "{report}");
    let live = current(&s.hosts.deploy_dir(1)).expect("the release is live");
    assert_eq!(report["release"], live.as_str());
    assert_eq!(tables(&s.prod), ["users", "wp_options"]);
    assert_eq!(s.prod.query("SELECT name FROM users"), "admin\n");

    // A later deploy never seeds: refused with --seed (nothing uploaded), and without it the
    // database is left alone.
    s.project.write("app/index.html", "v2\n");
    s.project
        .cutover(&["deploy", "--seed"])
        .code(3)
        .stderr_has("is for the first release only")
        .stderr_has(&format!("{live} was live on `h1`"));
    assert_eq!(releases(&s.hosts.deploy_dir(1)), 1, "nothing was uploaded");
    assert_eq!(current(&s.hosts.deploy_dir(1)).as_deref(), Some(live.as_str()));
    s.project.cutover(&["deploy"]).ok();
    assert_eq!(s.prod.query("SELECT count(*) FROM users"), "1\n");
}

#[test]
fn seed_fresh_runs_the_installer_before_the_switch_mariadb() {
    seed_fresh(Kind::Mariadb);
}

#[test]
fn seed_fresh_runs_the_installer_before_the_switch_postgres() {
    seed_fresh(Kind::Postgres);
}

#[test]
fn seed_fresh_runs_the_installer_before_the_switch_sqlite() {
    seed_fresh(Kind::Sqlite);
}

/// Production on two hosts: the uploads reach both.
fn seed_copy_staging(kind: Kind) {
    let seed = "strategy = \"copy-staging\"\ncopy_shared = [\"wp-content/uploads/\"]";
    let Some(s) = setup_on(kind, seed, 2) else { return };
    fill_staging(&s);
    let uploads = s.hosts.deploy_dir(3).join("shared/wp-content/uploads/2026");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("photo.txt"), "a photo\n").unwrap();

    // `--seed` alone takes `[seed] strategy`.
    let run = s.project.cutover(&["--json", "deploy", "--seed"]).ok();
    let report = run.json();
    assert_eq!(report["seed"]["strategy"], "copy-staging", "{report}");
    assert_eq!(report["seed"]["copy"]["from"], "staging");
    assert_eq!(report["seed"]["shared"][0]["path"], "wp-content/uploads");
    assert_eq!(report["seed"]["shared"][0]["to_hosts"], serde_json::json!(["h1", "h2"]));
    assert!(current(&s.hosts.deploy_dir(1)).is_some() && current(&s.hosts.deploy_dir(2)).is_some());
    assert_eq!(tables(&s.prod), ["wp_options", "wp_posts"]);
    assert_eq!(s.prod.query("SELECT option_value FROM wp_options WHERE option_id = 1"), format!("{PROD_URL}\n"));
    let value = s.prod.query("SELECT option_value FROM wp_options WHERE option_id = 2");
    assert_eq!(unserialized_home(value.trim_end()), format!("{PROD_URL}/"), "{value}");
    assert_eq!(s.prod.query("SELECT guid FROM wp_posts"), format!("{PROD_URL}/?p=7\n"));
    for host in [1, 2] {
        let copied = s.hosts.deploy_dir(host).join("shared/wp-content/uploads/2026/photo.txt");
        assert_eq!(std::fs::read_to_string(copied).unwrap(), "a photo\n", "on h{host}");
    }
}

#[test]
fn seed_copy_staging_copies_the_database_rewritten_and_the_uploads_mariadb() {
    seed_copy_staging(Kind::Mariadb);
}

#[test]
fn seed_copy_staging_copies_the_database_rewritten_and_the_uploads_postgres() {
    seed_copy_staging(Kind::Postgres);
}

#[test]
fn seed_copy_staging_copies_the_database_rewritten_and_the_uploads_sqlite() {
    seed_copy_staging(Kind::Sqlite);
}

fn seed_hybrid(kind: Kind) {
    let Some(s) = setup(kind, "installer = \"sh install.sh\"\nimport_tables = [\"wp_options\", \"wp_gone\"]") else {
        return;
    };
    installer(&s, INSTALL_SQL, "");
    fill_staging(&s);
    // A table staging does not have is refused before anything is uploaded.
    s.project
        .cutover(&["deploy", "--seed", "hybrid"])
        .code(2)
        .stderr_has("`[seed] import_tables` names `wp_gone`, which staging's");
    assert_eq!(releases(&s.hosts.deploy_dir(1)), 0);
    let toml = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    s.project.write("cutover.toml", &toml.replace(", \"wp_gone\"", ""));
    let report = s.project.cutover(&["--json", "deploy", "--seed", "hybrid"]).ok().json();
    assert_eq!(report["seed"]["strategy"], "hybrid", "{report}");
    // The installer's tables, with wp_options replaced by staging's and nothing else copied.
    assert_eq!(tables(&s.prod), ["users", "wp_options"]);
    assert_eq!(s.prod.query("SELECT name FROM users"), "admin\n");
    assert_eq!(
        s.prod.query("SELECT option_name FROM wp_options ORDER BY option_id"),
        "siteurl\ntheme_mods\n",
        "staging's rows, not the installer's"
    );
    let value = s.prod.query("SELECT option_value FROM wp_options WHERE option_id = 2");
    assert_eq!(unserialized_home(value.trim_end()), format!("{PROD_URL}/"));
}

#[test]
fn seed_copy_staging_reencrypts_laravel_values_that_php_reads_with_the_production_key() {
    if !support::require("php", php::available()) {
        return;
    }
    let keys = Keys::new(256);
    // APP_KEY reaches each environment's .env from the `command` secrets provider.
    let secrets =
        "strategy = \"copy-staging\"\n[secrets]\nprovider = \"command\"\ncommand = \"cat secrets/{env}-{name}\"";
    let Some(s) = setup(Kind::Mariadb, secrets) else { return };
    let b64 = |k: &[u8]| format!("base64:{}", php::base64(k));
    s.project
        .write(".env.staging.template", "APP_KEY=${secret:APP_KEY}\nAPP_PREVIOUS_KEYS=${secret:APP_PREVIOUS_KEYS}\n");
    s.project.write(".env.production.template", "APP_KEY=${secret:APP_KEY}\n");
    s.project.write("secrets/staging-APP_KEY", &b64(&keys.staging));
    s.project.write("secrets/staging-APP_PREVIOUS_KEYS", &b64(&keys.previous));
    s.project.write("secrets/production-APP_KEY", &b64(&keys.production));
    let toml = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    let toml =
        toml.replacen("[env.production]\n", "[env.production]\nenv_template = \".env.production.template\"\n", 1);
    s.project.write("cutover.toml", &format!("{toml}env_template = \".env.staging.template\"\n"));
    let mut args =
        vec!["--dialect".to_owned(), "mysql".into(), "--url".into(), STAGING_URL.into(), "--nul".into(), "1".into()];
    args.extend(keys.args());
    s.staging.load(&php::run_ok("generate.php", &args, b""));

    let report = s.project.cutover(&["--json", "deploy", "--seed"]).ok().json();
    let (code, checked, stderr) = verify(&s.prod, &keys, PROD_URL, true);
    assert_eq!(code, 0, "PHP finds the seeded values wrong: {checked:#}\n{stderr}");
    assert!(checked["encrypted"].as_u64().unwrap() >= 8, "{checked}");
    assert_eq!(report["seed"]["copy"]["reencrypted"], checked["encrypted"], "{report}");
}

#[test]
fn seed_hybrid_installs_then_copies_only_the_import_tables_mariadb() {
    seed_hybrid(Kind::Mariadb);
}

/// Production's account may not create the staging database a swap goes through: the
/// installer's import tables are dropped and staging's loaded in place (they are the seed's
/// own, on a database that was empty). Found by the Laravel launch (tests/laravel.rs), whose
/// hybrid seed failed with "replacing its tables goes through a staging database beside it,
/// which … may not create".
#[test]
fn seed_hybrid_with_an_account_limited_to_its_own_database_replaces_the_installer_tables_in_place() {
    let Some(s) = setup(Kind::Mariadb, "installer = \"sh install.sh\"\nimport_tables = [\"wp_options\"]") else {
        return;
    };
    // An account with rights on its own database only (a hosting account's), no password.
    let name = format!("ct_own_{}", &s.prod.name[s.prod.name.len().saturating_sub(16)..]);
    let user = MariaUser::create(&name, &["127.0.0.1"], None, &[&s.prod.name]);
    let toml = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    let toml = toml.replacen(
        &format!("mysql://root@127.0.0.1:3306/{}", s.prod.name),
        &format!("mysql://{}@127.0.0.1:3306/{}", user.name, s.prod.name),
        1,
    );
    s.project.write("cutover.toml", &toml);
    installer(&s, INSTALL_SQL, "");
    fill_staging(&s);
    let report = s.project.cutover(&["--json", "deploy", "--seed", "hybrid"]).ok().json();
    assert_eq!(report["seed"]["strategy"], "hybrid", "{report}");
    assert_eq!(tables(&s.prod), ["users", "wp_options"]);
    assert_eq!(s.prod.query("SELECT name FROM users"), "admin\n");
    assert_eq!(s.prod.query("SELECT option_name FROM wp_options ORDER BY option_id"), "siteurl\ntheme_mods\n");
    let value = s.prod.query("SELECT option_value FROM wp_options WHERE option_id = 2");
    assert_eq!(unserialized_home(value.trim_end()), format!("{PROD_URL}/"));
    assert!(current(&s.hosts.deploy_dir(1)).is_some(), "the seeded release is live");
}

#[test]
fn seed_hybrid_installs_then_copies_only_the_import_tables_postgres() {
    seed_hybrid(Kind::Postgres);
}

#[test]
fn seed_hybrid_installs_then_copies_only_the_import_tables_sqlite() {
    seed_hybrid(Kind::Sqlite);
}

#[test]
fn seed_into_a_database_with_a_table_is_refused_before_anything_is_uploaded() {
    let Some(s) = setup(Kind::Mariadb, "installer = \"sh install.sh\"") else { return };
    installer(&s, INSTALL_SQL, "");
    s.prod.load(b"CREATE TABLE legacy (id INTEGER);");
    s.project.cutover(&["deploy", "--dry-run", "--seed", "fresh"]).code(3).stderr_has("has table `legacy`");
    s.project.cutover(&["deploy", "--seed", "fresh"]).code(3).stderr_has("has table `legacy`").stderr_has("on `h1`");
    assert_eq!(releases(&s.hosts.deploy_dir(1)), 0, "nothing was uploaded");
    assert_eq!(tables(&s.prod), ["legacy"]);
}

#[test]
fn a_table_made_after_the_first_check_is_refused_before_the_switch() {
    // A before_switch hook runs while the release is prepared, after the check made before the
    // upload: the seed's own check, under the lock, still refuses.
    let seed = "installer = \"sh install.sh\"\n[hooks]\nbefore_switch = [\"sh sneak.sh\"]";
    let Some(s) = setup(Kind::Mariadb, seed) else { return };
    installer(&s, INSTALL_SQL, "");
    s.project.write("app/sneak.sh", &format!("echo 'CREATE TABLE sneaked (id INTEGER);' | {}\n", host_client(&s.prod)));
    s.project
        .cutover(&["deploy", "--seed", "fresh"])
        .code(3)
        .stderr_has("was prepared on every host but not switched to")
        .stderr_has("has table `sneaked`");
    assert_eq!(current(&s.hosts.deploy_dir(1)), None, "nothing switched");
    assert_eq!(tables(&s.prod), ["sneaked"], "the installer did not run, and nothing was emptied");
}

#[test]
fn a_failing_installer_stops_the_deploy_with_nothing_switched_and_the_database_empty() {
    let Some(s) = setup(Kind::Mariadb, "installer = \"sh install.sh\"") else { return };
    installer(&s, INSTALL_SQL, "echo 'the installer broke' >&2; exit 1");
    s.project
        .cutover(&["deploy", "--seed", "fresh"])
        .code(1)
        .stderr_has("environment `production`: seeding (--seed fresh) failed on `h1` at the installer `sh install.sh`")
        .stderr_has("the installer broke")
        .stderr_has("the database was emptied again");
    assert_eq!(current(&s.hosts.deploy_dir(1)), None, "nothing switched");
    assert!(tables(&s.prod).is_empty(), "what the installer wrote is gone: {:?}", tables(&s.prod));
    // The next try starts from the same place.
    installer(&s, INSTALL_SQL, "");
    s.project
        .cutover(&["deploy", "--seed", "fresh"])
        .ok()
        .stderr_has("seeded (fresh): installer `sh install.sh` ran on `h1`")
        .stderr_has("now holds 2 table(s), 2 row(s)");
    assert_eq!(tables(&s.prod), ["users", "wp_options"]);
}

#[test]
fn a_migrate_failing_after_the_seed_leaves_the_database_empty_as_before_the_deploy() {
    let seed = "installer = \"sh install.sh\"\n[hooks]\nmigrate = [\"sh migrate.sh\"]";
    let Some(s) = setup(Kind::Mariadb, seed) else { return };
    installer(&s, INSTALL_SQL, "");
    s.project.write("app/migrate.sh", "echo 'the migration broke' >&2; exit 1\n");
    s.project
        .cutover(&["deploy", "--seed", "fresh"])
        .code(1)
        .stderr_has("the migration broke")
        .stderr_has("the seeded database was emptied again, as it was before this deploy");
    assert_eq!(current(&s.hosts.deploy_dir(1)), None, "nothing switched");
    assert!(tables(&s.prod).is_empty(), "{:?}", tables(&s.prod));
}

#[test]
fn a_shared_directory_staging_lacks_fails_the_seed_with_the_database_emptied_again() {
    let Some(s) = setup(Kind::Mariadb, "copy_shared = [\"wp-content/uploads/\"]") else { return };
    fill_staging(&s);
    s.project
        .cutover(&["deploy", "--seed", "copy-staging"])
        .code(1)
        .stderr_has("failed on `h1` at copying shared/wp-content/uploads from staging")
        .stderr_has("environment `staging`: reading shared/wp-content/uploads failed on `h2`")
        .stderr_has("shared/wp-content/uploads does not exist on this host")
        .stderr_has("the database was emptied again");
    assert_eq!(current(&s.hosts.deploy_dir(1)), None, "nothing switched");
    assert!(tables(&s.prod).is_empty(), "{:?}", tables(&s.prod));
}

#[test]
fn a_signal_during_the_installer_lets_it_finish_copies_nothing_and_empties_the_database_again() {
    let Some(s) = setup(Kind::Mariadb, "installer = \"sh install.sh\"\nimport_tables = [\"wp_options\"]") else {
        return;
    };
    fill_staging(&s);
    let waits = "touch /srv/cutover-test/in-installer\n\
                 i=0; until [ -e /srv/cutover-test/go ]; do i=$((i+1)); [ $i -le 1500 ] || exit 1; sleep 0.02; done";
    installer(&s, INSTALL_SQL, waits);
    let mut child = s.project.spawn(&["deploy", "--seed", "hybrid"], "seed");
    support::wait_for("the installer", std::time::Duration::from_secs(30), || {
        s.hosts.root(1).join("in-installer").exists()
    });
    // Our child, not reaped yet: its pid is still its own.
    run_ok(Command::new("kill").args(["-INT", &child.id().to_string()]), b"");
    std::fs::write(s.hosts.root(1).join("go"), "").unwrap();
    let code = support::wait_exit(&mut child, std::time::Duration::from_secs(60));
    let log = s.project.log("seed");
    assert_eq!(code, 130, "{log}");
    assert!(log.contains("SIGINT while seeding") && log.contains("the seeded database was emptied again"), "{log}");
    assert!(!log.contains("copying staging's"), "the copy started after the signal: {log}");
    assert_eq!(current(&s.hosts.deploy_dir(1)), None, "nothing switched");
    assert!(tables(&s.prod).is_empty(), "{:?}", tables(&s.prod));
}

#[test]
fn seed_settings_that_cannot_work_are_usage_errors_before_anything_changes() {
    let Some(s) = setup(Kind::Sqlite, "") else { return };
    s.project.cutover(&["deploy", "--seed", "fresh"]).code(2).stderr_has("none is set");
    s.project.cutover(&["deploy", "--seed", "hybrid"]).code(2).stderr_has("none is set");
    s.project.cutover(&["deploy", "--seed", "sideways"]).code(2).stderr_has("use fresh, copy-staging or hybrid");
    assert_eq!(releases(&s.hosts.deploy_dir(1)), 0);
}

/// `db copy --only-tables wp_options --overwrite` (the copy a hybrid seed makes) replaces that
/// table alone, and a dump cut short leaves it as it was: staging's tools run here (`db_host =
/// "local"`) with a dump tool in front on `PATH` that stops half way and still exits 0.
fn table_scoped_replace(kind: Kind) {
    let Some(s) = setup(kind, "") else { return };
    let config = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    s.project.write("cutover.toml", &format!("{config}db_host = \"local\"\n"));
    fill_staging(&s);
    let rows: Vec<String> = (100..3100).map(|i| format!("({i}, 'o{i}', '{}')", "x".repeat(200))).collect();
    s.staging.load(format!("INSERT INTO wp_options VALUES {};", rows.join(", ")).as_bytes());
    s.prod.load(INSTALL_SQL.as_bytes());

    let (tool, dumps) = match kind {
        Kind::Mariadb => ("mariadb-dump", "*"),
        Kind::Postgres => ("pg_dump", "*"),
        Kind::Sqlite => ("sqlite3", "*.dump*"),
    };
    let real = String::from_utf8(run_ok(Command::new("sh").args(["-c", &format!("command -v {tool}")]), b"")).unwrap();
    let bin = s.project.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = format!(
        "#!/bin/sh\ncase \"$*\" in {dumps}) \"{real}\" \"$@\" | head -c 20000 ;; *) exec \"{real}\" \"$@\" ;; esac\n",
        real = real.trim()
    );
    std::fs::write(bin.join(tool), fake).unwrap();
    std::fs::set_permissions(bin.join(tool), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let args = ["db", "copy", "--from", "staging", "--only-tables", "wp_options", "--overwrite"];
    s.project.cutover_with(&args, &[("PATH", &path)]).code(1).stderr_has("cut short");
    assert_eq!(tables(&s.prod), ["users", "wp_options"]);
    assert_eq!(s.prod.query("SELECT option_name FROM wp_options"), "installer\n", "{kind:?}: wp_options changed");

    // A table that stays and refers to the one replaced: MySQL would take the reference along
    // to the old table, PostgreSQL cannot drop it; refused, nothing changed. (SQLite's foreign
    // keys name their table, so the new one serves.)
    if kind != Kind::Sqlite {
        let child = "CREATE TABLE wp_meta (id INTEGER PRIMARY KEY, option_id INTEGER, \
                     FOREIGN KEY (option_id) REFERENCES wp_options (option_id));";
        s.prod.load(child.as_bytes());
        let says = if kind == Kind::Mariadb { "`wp_meta` refers to `wp_options`" } else { "depend on" };
        s.project.cutover(&args).code(1).stderr_has(says);
        assert_eq!(s.prod.query("SELECT option_name FROM wp_options"), "installer\n");
        s.prod.load(b"DROP TABLE wp_meta;");
    }
    s.project.cutover(&args).ok();
    assert_eq!(tables(&s.prod), ["users", "wp_options"], "{kind:?}: only wp_options was copied");
    assert_eq!(s.prod.query("SELECT count(*) FROM wp_options"), "3002\n");
    assert_eq!(s.prod.query("SELECT name FROM users"), "admin\n", "{kind:?}: the other tables stay");
}

#[test]
fn a_table_scoped_copy_replaces_that_table_alone_and_a_cut_dump_changes_nothing_mariadb() {
    table_scoped_replace(Kind::Mariadb);
}

#[test]
fn a_table_scoped_copy_replaces_that_table_alone_and_a_cut_dump_changes_nothing_postgres() {
    table_scoped_replace(Kind::Postgres);
}

#[test]
fn a_table_scoped_copy_replaces_that_table_alone_and_a_cut_dump_changes_nothing_sqlite() {
    table_scoped_replace(Kind::Sqlite);
}
