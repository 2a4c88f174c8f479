//! `cutover db copy --from staging --to production` through the binary, with staging and
//! production on real sshd hosts and their databases in the real MariaDB, PostgreSQL and SQLite
//! (on the host): values made by PHP (serialized, JSON, URL-encoded, Laravel-encrypted) read back
//! by PHP at production's URL and with production's key; a WordPress-shaped database; a target
//! that is not empty refused; a copy killed with SIGKILL at several moments leaves the target as
//! it was or wholly copied, never in between; a password never in a process's arguments or
//! environment, the output or the local state; bad credentials said with env, host and step.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::Project;
use support::db::{Db, Kind, MariaUser, pg_user, run_ok, which};
use support::hosts::SshHosts;
use support::php::{self, Keys, verify};

const STAGING: &str = "https://staging.example.test";
const PRODUCTION: &str = "https://www.example.com";

/// Two hosts (staging on `h1`, production on `h2`), each environment's database of `kind`, and
/// a project whose `.env` templates hold APP_KEY from the `command` secrets provider (files in
/// `secrets/`), so no secret is in any process environment.
struct Setup {
    hosts: SshHosts,
    project: Project,
    staging: Db,
    production: Db,
}

fn url_of(kind: Kind, db: &Db) -> String {
    match kind {
        Kind::Mariadb => format!("mysql://root@127.0.0.1:3306/{}", db.name),
        Kind::Postgres => format!("postgres://{}@127.0.0.1:5432/{}", pg_user().expect("postgres"), db.name),
        Kind::Sqlite => "sqlite://shared/db.sqlite3".to_owned(),
    }
}

fn setup(kind: Kind, keys: Option<&Keys>, extra: &str) -> Option<Setup> {
    if !kind.require() {
        return None;
    }
    let hosts = support::ssh_hosts(2)?;
    let project = support::ssh_project(&hosts, "");
    let (staging, production) = match kind {
        Kind::Sqlite => {
            let file = |i: usize| {
                let dir = hosts.deploy_dir(i).join("shared");
                std::fs::create_dir_all(&dir).unwrap();
                dir.join("db.sqlite3")
            };
            (Db::sqlite_file(file(1)), Db::sqlite_file(file(2)))
        }
        _ => (Db::create(kind), Db::create(kind)),
    };
    let mut templates = String::new();
    if let Some(keys) = keys {
        let b64 = |k: &[u8]| format!("base64:{}", php::base64(k));
        project.write(
            ".env.staging.template",
            "APP_KEY=${secret:APP_KEY}\nAPP_PREVIOUS_KEYS=${secret:APP_PREVIOUS_KEYS}\n",
        );
        project.write(".env.production.template", "APP_KEY=${secret:APP_KEY}\n");
        project.write("secrets/staging-APP_KEY", &b64(&keys.staging));
        project.write("secrets/staging-APP_PREVIOUS_KEYS", &b64(&keys.previous));
        project.write("secrets/production-APP_KEY", &b64(&keys.production));
        templates = "env_template = \".env.{env}.template\"\n".into();
    }
    let env = |name: &str, host: &str, url: &str, db: &Db| {
        format!(
            "[env.{name}]\nurl = \"{url}\"\nhosts = [\"{host}\"]\npath = \"{}\"\ngated = false\ndatabase = \"{}\"\n{}",
            SshHosts::DEPLOY_PATH,
            url_of(kind, db),
            templates.replace("{env}", name)
        )
    };
    project.write(
        "cutover.toml",
        &format!(
            "version = 1\n[app]\nname = \"it\"\nsource = \"app\"\n[ssh]\nconfig = \"{}\"\n\
             [secrets]\nprovider = \"command\"\ncommand = \"cat secrets/{{env}}-{{name}}\"\n{extra}\n{}{}",
            hosts.config_path().display(),
            env("staging", &hosts.alias(1), STAGING, &staging),
            env("production", &hosts.alias(2), PRODUCTION, &production),
        ),
    );
    Some(Setup { hosts, project, staging, production })
}

/// What a database holds, to tell "as it was" from "wholly copied" from anything else: each
/// table with its rows and the database's checksum of them.
fn fingerprint(db: &Db) -> Vec<String> {
    let tables: Vec<String> = match db.kind {
        Kind::Mariadb => db.query("SHOW TABLES").lines().map(str::to_owned).collect(),
        Kind::Postgres => db
            .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .lines()
            .map(str::to_owned)
            .collect(),
        Kind::Sqlite if !db.sqlite_path().exists() => Vec::new(),
        Kind::Sqlite => db
            .query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
            .lines()
            .map(str::to_owned)
            .collect(),
    };
    let mut tables = tables;
    tables.sort();
    tables
        .iter()
        .map(|t| {
            let sum = match db.kind {
                Kind::Mariadb => db.query(&format!("CHECKSUM TABLE `{t}`")),
                Kind::Postgres => db.query(&format!(
                    "SELECT count(*), md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) FROM {t} r"
                )),
                Kind::Sqlite => String::from_utf8(run_ok(
                    Command::new("sqlite3").arg(db.sqlite_path()).arg(format!(".sha3sum {t}")),
                    b"",
                ))
                .unwrap(),
            };
            format!("{t}: {}", sum.trim().replace(&db.name, "DB"))
        })
        .collect()
}

/// The `--json` summary on stdout.
fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {stdout}"))
}

// ---------------------------------------------------------------------------------------------
// Values made by PHP, read back by PHP
// ---------------------------------------------------------------------------------------------

fn round_trip(kind: Kind) {
    let keys = Keys::new(256);
    let Some(s) = setup(kind, Some(&keys), "") else { return };
    // PostgreSQL TEXT cannot hold NUL, and sqlite3's .dump cuts TEXT at one.
    let nul = kind == Kind::Mariadb;
    let mut args = vec!["--dialect".to_owned(), kind.dialect().into(), "--url".into(), STAGING.into(), "--nul".into()];
    args.push(if nul { "1" } else { "0" }.into());
    args.extend(keys.args());
    s.staging.load(&php::run_ok("generate.php", &args, b""));
    let (code, report, _) = verify(&s.staging, &keys, PRODUCTION, nul);
    assert_eq!(code, 1, "the checker accepts staging's values at production's URL: {report:#}");
    let before = fingerprint(&s.staging);

    let run = s.project.cutover(&["--json", "db", "copy", "--from", "staging", "--to", "production"]).ok();
    let summary = json(&run.stdout);
    let (code, report, stderr) = verify(&s.production, &keys, PRODUCTION, nul);
    assert_eq!(code, 0, "{kind:?}: PHP finds the copied values wrong: {report:#}\n{stderr}\n{}", run.stderr);
    assert_eq!(summary["reencrypted"], report["encrypted"], "every encrypted value re-encrypted: {summary}");
    assert!(report["encrypted"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!((summary["tables"].as_u64(), summary["reported"].as_u64()), (Some(1), Some(0)), "{summary}");
    assert_eq!(summary["rows"], report["rows"], "{summary}");
    assert_eq!(summary["from"], "staging");
    let staging_host = "staging.example.test";
    assert!(!fingerprint(&s.production).is_empty());
    let left = match kind {
        Kind::Mariadb => s.production.query(&format!(
            "SELECT COUNT(*) FROM items WHERE CONCAT_WS('', txt, big, CONVERT(bin USING utf8mb4)) LIKE '%{staging_host}%'"
        )),
        Kind::Postgres => {
            s.production.query(&format!("SELECT COUNT(*) FROM items WHERE concat(txt, vc) LIKE '%{staging_host}%'"))
        }
        Kind::Sqlite => s
            .production
            .query(&format!("SELECT COUNT(*) FROM items WHERE (txt || ifnull(other, '')) LIKE '%{staging_host}%'")),
    };
    assert_eq!(left.trim(), "0", "staging's host is still in production's values");
    assert_eq!(fingerprint(&s.staging), before, "staging's database is not changed by a copy");
    assert!(run.stderr.contains("==> copying staging's"), "{}", run.stderr);
}

#[test]
fn mariadb_copy_rewrites_urls_and_reencrypts_and_php_reads_it_back_at_production() {
    round_trip(Kind::Mariadb);
}

#[test]
fn postgres_copy_rewrites_urls_and_reencrypts_and_php_reads_it_back_at_production() {
    round_trip(Kind::Postgres);
}

#[test]
fn sqlite_copy_rewrites_urls_and_reencrypts_and_php_reads_it_back_at_production() {
    round_trip(Kind::Sqlite);
}

/// A WordPress database as WordPress writes it: options with serialized widgets and theme mods,
/// a page builder's JSON in postmeta (slashes escaped), a URL-encoded value, and posts whose
/// `guid` must stay (`[seed] skip_columns`).
#[test]
fn a_wordpress_database_is_copied_and_wordpress_values_unserialize_at_the_production_url() {
    if !support::require("php", php::available()) {
        return;
    }
    let Some(s) = setup(Kind::Mariadb, None, "[seed]\nskip_columns = [\"wp_posts.guid\"]\n") else { return };
    let script = r#"
$u = 'https://staging.example.test';
$widgets = serialize([2 => ['title' => 'Visit', 'text' => "<a href=\"$u/shop/\">Shop</a>"], '_multiwidget' => 1]);
$mods = serialize(['header_image' => "$u/wp-content/uploads/2026/01/h.jpg", 'nested' => ['logo' => ['url' => "$u/logo.png", 'w' => 200]]]);
$json = json_encode([['id' => 'a1', 'settings' => ['link' => ['url' => "$u/contact/"]]]]);
$enc = 'redirect=' . urlencode("$u/checkout/?step=2");
$q = fn($v) => "'" . addslashes($v) . "'";
echo "CREATE TABLE wp_options (option_id INT AUTO_INCREMENT PRIMARY KEY, option_name VARCHAR(191) UNIQUE, option_value LONGTEXT, autoload VARCHAR(20)) DEFAULT CHARSET=utf8mb4;\n";
echo "CREATE TABLE wp_posts (ID INT AUTO_INCREMENT PRIMARY KEY, post_content LONGTEXT, guid VARCHAR(255)) DEFAULT CHARSET=utf8mb4;\n";
echo "CREATE TABLE wp_postmeta (meta_id INT AUTO_INCREMENT PRIMARY KEY, post_id INT, meta_key VARCHAR(255), meta_value LONGTEXT) DEFAULT CHARSET=utf8mb4;\n";
echo "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('siteurl', {$q($u)}, 'yes'), ('home', {$q($u)}, 'yes'), ('widget_text', {$q($widgets)}, 'yes'), ('theme_mods_x', {$q($mods)}, 'yes'), ('enc', {$q($enc)}, 'no');\n";
echo "INSERT INTO wp_posts (post_content, guid) VALUES ({$q("<p>See <a href=\"$u/about/\">us</a> — ünïcode</p>")}, {$q("$u/?p=1")});\n";
echo "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (1, '_elementor_data', {$q($json)});\n";
"#;
    let sql = run_ok(Command::new("php").args(["-r", script]), b"");
    s.staging.load(&sql);
    s.project.cutover(&["db", "copy", "--from", "staging"]).ok();

    let hex = |sql: &str| s.production.query(&format!("SELECT HEX(x) FROM ({sql}) t")).trim().to_owned();
    let option = |name: &str| hex(&format!("SELECT option_value AS x FROM wp_options WHERE option_name = '{name}'"));
    let check = r#"
$p = 'https://www.example.com';
[$site, $widgets, $mods, $enc, $content, $guid, $json] = array_map('hex2bin', array_slice($argv, 1));
$ok = fn($c, $what) => $c ? true : (fwrite(STDERR, "wrong: $what\n") && exit(1));
$ok($site === $p, "siteurl $site");
$w = unserialize($widgets); $ok($w !== false && str_contains($w[2]['text'], "$p/shop/"), "widget_text $widgets");
$m = unserialize($mods); $ok($m !== false && $m['nested']['logo']['url'] === "$p/logo.png" && $m['header_image'] === "$p/wp-content/uploads/2026/01/h.jpg", "theme mods $mods");
$ok(urldecode(substr($enc, 9)) === "$p/checkout/?step=2", "url-encoded $enc");
$ok(str_contains($content, "$p/about/") && str_contains($content, 'ünïcode'), "post_content $content");
$ok($guid === 'https://staging.example.test/?p=1', "guid must stay: $guid");
$j = json_decode($json, true); $ok($j[0]['settings']['link']['url'] === "$p/contact/" && str_contains($json, 'https:\/\/www.example.com'), "json $json");
echo "ok";
"#;
    let args = [
        option("siteurl"),
        option("widget_text"),
        option("theme_mods_x"),
        option("enc"),
        hex("SELECT post_content AS x FROM wp_posts"),
        hex("SELECT guid AS x FROM wp_posts"),
        hex("SELECT meta_value AS x FROM wp_postmeta"),
    ];
    let out = run_ok(Command::new("php").args(["-r", check, "--"]).args(&args), b"");
    assert_eq!(String::from_utf8_lossy(&out), "ok");
}

// ---------------------------------------------------------------------------------------------
// A target that is not empty, a copy killed at any moment
// ---------------------------------------------------------------------------------------------

fn a_table_with(db: &Db, table: &str, rows: usize, url: &str) {
    let create = match db.kind {
        Kind::Mariadb => format!("CREATE TABLE {table} (id INT PRIMARY KEY, v LONGTEXT);\n"),
        _ => format!("CREATE TABLE {table} (id INT PRIMARY KEY, v TEXT);\n"),
    };
    let mut sql = create;
    let filler = "lorem ipsum dolor sit amet ".repeat(40);
    for chunk in (0..rows).collect::<Vec<_>>().chunks(200) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i}, 'row {i} at {url}/p/{i} {filler}')")).collect();
        sql += &format!("INSERT INTO {table} VALUES {};\n", values.join(", "));
    }
    db.load(sql.as_bytes());
}

/// Names of what loads leave beside a target: staging databases, load files.
fn leftovers(s: &Setup) -> String {
    match s.production.kind {
        Kind::Mariadb => s
            .production
            .query(&format!("SHOW DATABASES LIKE '{}\\_\\_cutover\\_%'", s.production.name))
            .trim()
            .to_owned(),
        Kind::Postgres => String::new(),
        Kind::Sqlite => {
            let dir = s.production.sqlite_path().parent().unwrap().to_owned();
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("cutover-load"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

fn refused_when_not_empty(kind: Kind) {
    let Some(s) = setup(kind, None, "") else { return };
    a_table_with(&s.staging, "posts", 10, STAGING);
    a_table_with(&s.production, "keep_me", 3, PRODUCTION);
    let before = fingerprint(&s.production);
    let run = s.project.cutover(&["db", "copy", "--from", "staging"]).code(3);
    assert!(
        run.stderr.contains("keep_me") && run.stderr.contains("not empty") && run.stderr.contains("--overwrite"),
        "{}",
        run.stderr
    );
    assert_eq!(fingerprint(&s.production), before);
    assert_eq!(leftovers(&s), "");
    // With --overwrite, what was there is replaced whole.
    s.project.cutover(&["-y", "db", "copy", "--from", "staging", "--overwrite"]).ok();
    let after = fingerprint(&s.production);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].starts_with("posts: "), "{after:?}");
    assert_eq!(leftovers(&s), "");
}

#[test]
fn mariadb_target_with_a_table_is_refused_unless_overwrite() {
    refused_when_not_empty(Kind::Mariadb);
}

#[test]
fn postgres_target_with_a_table_is_refused_unless_overwrite() {
    refused_when_not_empty(Kind::Postgres);
}

#[test]
fn sqlite_target_with_a_table_is_refused_unless_overwrite() {
    refused_when_not_empty(Kind::Sqlite);
}

/// Whether any process on this machine (the hosts share its process table) has `text` in its
/// arguments.
fn process_with(text: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.windows(text.len()).any(|w| w == text.as_bytes()))
    })
}

/// The database's `fingerprint` once two reads a moment apart agree.
fn settled(db: &Db, fingerprint: &dyn Fn(&Db) -> Vec<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = fingerprint(db);
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = fingerprint(db);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Production's database reached with an account of `password` that has rights on that
/// database only (a WordPress site's on most hosts), in place of root; the account lives as
/// long as the value returned.
fn own_db_only_production(s: &Setup, password: &str) -> MariaUser {
    let account = account(&s.production, password, false);
    let config = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap().replace(
        &format!("mysql://root@127.0.0.1:3306/{}", s.production.name),
        &format!("mysql://{}:${{secret:DB_PASSWORD}}@127.0.0.1:3306/{}", account.name, s.production.name),
    );
    s.project.write("cutover.toml", &config);
    s.project.write("secrets/production-DB_PASSWORD", password);
    account
}

/// `own_db_only`: production's account has rights on its own database only (MariaDB), so the
/// load goes into prefixed tables inside it; what a killed load leaves there is prefixed
/// (`__co<suffix>n_…`, `__co<suffix>o_…`), never one of the target's own tables, and the next
/// load removes it.
fn killed_copies_leave_the_target_as_it_was_or_whole(kind: Kind, own_db_only: bool) {
    let Some(s) = setup(kind, None, "") else { return };
    let _account = own_db_only.then(|| own_db_only_production(&s, "own-db-only-kill-3b9d"));
    // The target's own tables (a killed load inside it leaves prefixed ones).
    let fingerprint = |db: &Db| -> Vec<String> {
        let side = |t: &str| {
            let b = t.as_bytes();
            b.len() > 14 && t.starts_with("__co") && b[4..12].iter().all(u8::is_ascii_hexdigit) && b[13] == b'_'
        };
        fingerprint(db).into_iter().filter(|t| !(own_db_only && side(t.split(':').next().unwrap()))).collect()
    };
    // ~8 MB: long enough to be caught in the middle.
    a_table_with(&s.staging, "posts", 6000, STAGING);
    a_table_with(&s.staging, "pages", 1500, STAGING);
    a_table_with(&s.production, "old_site", 5, PRODUCTION);
    let old = fingerprint(&s.production);
    let args = ["-y", "db", "copy", "--from", "staging", "--overwrite"];
    // The whole copy once, to know its result and how long it takes.
    let started = Instant::now();
    s.project.cutover(&args).ok();
    let took = started.elapsed();
    let whole = fingerprint(&s.production);
    assert_ne!(whole, old);
    // Back to the old content for the kills.
    let restore = |s: &Setup| {
        s.production.query(match kind {
            Kind::Mariadb => "DROP TABLE IF EXISTS posts, pages",
            _ => "DROP TABLE IF EXISTS posts; DROP TABLE IF EXISTS pages",
        });
        a_table_with(&s.production, "old_site", 5, PRODUCTION);
        assert_eq!(fingerprint(&s.production), old);
    };
    s.production.query("DROP TABLE IF EXISTS old_site");
    restore(&s);

    let mut outcomes = Vec::new();
    for moment in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95] {
        let mut child = s.project.spawn(&args, "killed");
        std::thread::sleep(took.mul_f64(moment));
        let _ = child.kill();
        let _ = child.wait();
        // What cutover had started on the hosts ends once its pipes close.
        support::wait_for("the killed copy's loader to end", Duration::from_secs(60), || {
            !process_with("__cutover_load_")
                && !process_with("cutover-load-")
                && (s.production.name.is_empty() || !process_with(&format!("\0{}\0", s.production.name)))
        });
        // A swap the killed copy had started on the host still finishes there (its script does
        // not need cutover any more): read the target once it holds still.
        let now = settled(&s.production, &fingerprint);
        assert!(
            now == old || now == whole,
            "{kind:?} killed at {moment}: the target is neither as it was nor whole: {now:?}"
        );
        outcomes.push(now == whole);
        if now == whole {
            restore(&s);
        }
    }
    assert!(outcomes.iter().any(|w| !w), "{kind:?}: no kill landed before the copy ended: {outcomes:?}");
    // The next copy cleans up what the killed ones left and succeeds.
    s.project.cutover(&args).ok();
    assert_eq!(fingerprint(&s.production), whole);
    assert_eq!(leftovers(&s), "", "{kind:?}: staging areas left behind");
    if own_db_only {
        assert_eq!(s.production.query("SHOW TABLES LIKE '\\_\\_co%'"), "", "prefixed tables left behind");
    }
}

#[test]
fn mariadb_copy_killed_at_any_moment_leaves_the_target_as_it_was_or_whole() {
    killed_copies_leave_the_target_as_it_was_or_whole(Kind::Mariadb, false);
}

#[test]
fn mariadb_copy_by_an_account_with_rights_on_its_own_database_only_killed_at_any_moment_leaves_its_tables_as_they_were_or_whole()
 {
    killed_copies_leave_the_target_as_it_was_or_whole(Kind::Mariadb, true);
}

#[test]
fn postgres_copy_killed_at_any_moment_leaves_the_target_as_it_was_or_whole() {
    killed_copies_leave_the_target_as_it_was_or_whole(Kind::Postgres, false);
}

#[test]
fn sqlite_copy_killed_at_any_moment_leaves_the_target_as_it_was_or_whole() {
    killed_copies_leave_the_target_as_it_was_or_whole(Kind::Sqlite, false);
}

// ---------------------------------------------------------------------------------------------
// Passwords, bad credentials
// ---------------------------------------------------------------------------------------------

/// A MariaDB account with `password` for `db` and, with `beside`, the staging databases a
/// load makes beside it (a hosting account, with rights on its own database only, lacks them).
fn account(db: &Db, password: &str, beside: bool) -> MariaUser {
    let name = format!("ct_{}", &db.name[db.name.len().saturating_sub(20)..]);
    let staging = format!("{}\\_\\_cutover\\_%", db.name);
    let databases: &[&str] = if beside { &[&db.name, &staging] } else { &[&db.name] };
    MariaUser::create(&name, &["127.0.0.1"], Some(password), databases)
}

#[test]
fn passwords_reach_the_tools_only_through_option_files_never_arguments_environment_output_or_state() {
    let Some(s) = setup(Kind::Mariadb, None, "") else { return };
    // Characters an option file, a shell and SQL would each get wrong if not quoted.
    let (pw_staging, pw_production) = ("st#g \"q\" 'x' $(id) \\n;", "pr0d-#%&*=?{}[]`~");
    let a = account(&s.staging, pw_staging, true);
    let b = account(&s.production, pw_production, true);
    let config = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    let config = config
        .replace(
            &format!("mysql://root@127.0.0.1:3306/{}", s.staging.name),
            &format!("mysql://{}:${{secret:DB_PASSWORD}}@127.0.0.1:3306/{}", a.name, s.staging.name),
        )
        .replace(
            &format!("mysql://root@127.0.0.1:3306/{}", s.production.name),
            &format!("mysql://{}:${{secret:DB_PASSWORD}}@127.0.0.1:3306/{}", b.name, s.production.name),
        );
    s.project.write("cutover.toml", &config);
    s.project.write("secrets/staging-DB_PASSWORD", pw_staging);
    s.project.write("secrets/production-DB_PASSWORD", pw_production);
    a_table_with(&s.staging, "posts", 6000, STAGING);

    let mut child = s.project.spawn(&["db", "copy", "--from", "staging"], "copy");
    let mut looked = 0;
    let leak = |pw: &str| {
        std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).find_map(|e| {
            ["cmdline", "environ"].into_iter().find_map(|f| {
                let bytes = std::fs::read(e.path().join(f)).ok()?;
                bytes.windows(pw.len()).any(|w| w == pw.as_bytes()).then(|| format!("{}/{f}", e.path().display()))
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the copy did not end");
        for pw in [pw_staging, pw_production] {
            assert_eq!(leak(pw), None, "a password is in a process's arguments or environment");
        }
        looked += 1;
    }
    assert!(child.wait().unwrap().success(), "{}", s.project.log("copy"));
    assert!(looked >= 3, "the copy ended before it could be watched ({looked} looks)");
    assert_eq!(fingerprint(&s.production).len(), 1);
    let out =
        format!("{}{}", std::fs::read_to_string(s.project.path().join("copy.out")).unwrap(), s.project.log("copy"));
    let state = std::fs::read(s.project.path().join(".cutover/state.db")).unwrap_or_default();
    for pw in [pw_staging, pw_production] {
        assert!(!out.contains(pw), "a password is in the output:\n{out}");
        assert!(!state.windows(pw.len()).any(|w| w == pw.as_bytes()), "a password is in state.db");
    }
    // No option file holding a password is left in the hosts' temporary directory (the hosts
    // share this machine's /tmp).
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().starts_with("cutover-db.") {
            continue;
        }
        for file in std::fs::read_dir(entry.path()).into_iter().flatten().filter_map(Result::ok) {
            let bytes = std::fs::read(file.path()).unwrap_or_default();
            for pw in [pw_staging, pw_production] {
                assert!(!bytes.windows(pw.len()).any(|w| w == pw.as_bytes()), "left: {}", file.path().display());
            }
        }
    }

    // A wrong password: the error names the environment, the host and the step; nothing changes.
    s.project.write("secrets/staging-DB_PASSWORD", "wrong");
    let before = fingerprint(&s.production);
    s.production.query("DROP TABLE posts");
    let run = s.project.cutover(&["db", "copy", "--from", "staging"]).code(1);
    assert!(
        run.stderr.contains("environment `staging`")
            && run.stderr.contains(&s.hosts.alias(1))
            && run.stderr.contains("dumping")
            && run.stderr.contains("Access denied"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong"), "{}", run.stderr);
    assert!(fingerprint(&s.production).is_empty(), "{before:?}");
}

#[test]
fn an_account_with_rights_on_its_own_database_only_loads_in_place_or_beside_its_tables_and_a_failed_load_changes_nothing()
 {
    // A WordPress site's account on most hosts: all rights on its database, none to create
    // another, so no staging database beside it.
    let Some(s) = setup(Kind::Mariadb, None, "") else { return };
    staging_local(&s);
    let _account = own_db_only_production(&s, "own-db-only-7c1e");
    a_table_with(&s.staging, "posts", 50, STAGING);
    a_table_with(&s.staging, "options", 5, STAGING);

    // Into the empty database: loaded in place, rewritten.
    s.project.cutover(&["db", "copy", "--from", "staging"]).ok();
    let copied = fingerprint(&s.production);
    assert_eq!(copied.len(), 2, "{copied:?}");
    assert_eq!(s.production.query("SELECT count(*) FROM posts WHERE v LIKE '%www.example.com/p/%'"), "50\n");
    assert_eq!(leftovers(&s), "");

    // Over its tables (--overwrite): loaded into prefixed tables beside them and swapped in by
    // one RENAME TABLE; a dump cut short on the way changes nothing and leaves nothing.
    let side = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '\\_\\_co%'";
    s.staging.query("DELETE FROM posts WHERE id > 20");
    let real = which("mariadb-dump").expect("mariadb-dump on PATH");
    let fake = format!("#!/bin/sh\n\"{real}\" \"$@\" | head -c 12000\n");
    let path = tools_without_dump(&s.project.path().join("cut"), Some(&fake));
    let run = s.project.cutover_with(
        &["-y", "db", "copy", "--from", "staging", "--overwrite"],
        &[("PATH", &format!("{path}:/nonexistent"))],
    );
    assert!(run.code(1).stderr.contains("cut short"));
    assert_eq!(fingerprint(&s.production), copied, "a cut dump changed nothing");
    assert_eq!(s.production.query(side), "0\n", "nothing prefixed is left");
    s.project.cutover(&["-y", "db", "copy", "--from", "staging", "--overwrite"]).ok();
    let rows = s.staging.query("SELECT count(*) FROM posts");
    assert!(rows.trim().parse::<u32>().unwrap() < 50, "{rows}");
    assert_eq!(s.production.query("SELECT count(*) FROM posts"), rows);
    assert_eq!(s.production.query("SELECT count(*) FROM posts WHERE v LIKE '%www.example.com/p/%'"), rows);
    assert_eq!(s.production.query(side), "0\n", "nothing prefixed is left");
    assert_eq!(leftovers(&s), "");

    // A dump cut short half way, loaded in place into the empty database:
    // what it made is dropped, the database is empty again.
    s.production.query("DROP TABLE posts, options");
    let fake = format!("#!/bin/sh\n\"{real}\" \"$@\" | head -c 12000\n");
    let path = tools_without_dump(&s.project.path().join("bin"), Some(&fake));
    let run =
        s.project.cutover_with(&["db", "copy", "--from", "staging"], &[("PATH", &format!("{path}:/nonexistent"))]);
    let run = run.code(1);
    assert!(run.stderr.contains("cut short"), "{}", run.stderr);
    assert!(fingerprint(&s.production).is_empty(), "a failed load in place left {:?}", fingerprint(&s.production));
}

#[test]
fn a_database_that_does_not_exist_and_a_missing_database_setting_are_said_plainly() {
    let Some(s) = setup(Kind::Mariadb, None, "") else { return };
    let config = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    s.project.write("cutover.toml", &config.replace(&s.staging.name, "cutover_it_no_such_db"));
    let run = s.project.cutover(&["db", "copy", "--from", "staging"]).code(1);
    assert!(
        run.stderr.contains("environment `staging`") && run.stderr.contains("cutover_it_no_such_db"),
        "{}",
        run.stderr
    );
    let without: String = config.lines().filter(|l| !l.starts_with("database")).map(|l| format!("{l}\n")).collect();
    s.project.write("cutover.toml", &without);
    let run = s.project.cutover(&["db", "copy", "--from", "staging"]).code(2);
    assert!(run.stderr.contains("names no database") && run.stderr.contains("[env.staging]"), "{}", run.stderr);
}

/// A directory of links to the programs the db scripts use on a host, without the dump tools;
/// `fake_dump`, when given, is put there as `mariadb-dump`.
fn tools_without_dump(dir: &std::path::Path, fake_dump: Option<&str>) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for tool in ["sh", "mktemp", "rm", "cat", "sed", "grep", "cut", "mariadb", "mysql", "head", "printf", "ssh"] {
        if let Some(path) = which(tool) {
            let _ = std::os::unix::fs::symlink(path, dir.join(tool));
        }
    }
    if let Some(script) = fake_dump {
        let path = dir.join("mariadb-dump");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    dir.display().to_string()
}

/// Staging's tools run on this machine (`db_host = "local"`) with `PATH` set to `path`.
fn staging_local(s: &Setup) {
    let config = std::fs::read_to_string(s.project.path().join("cutover.toml")).unwrap();
    let config = config.replacen("gated = false\ndatabase", "gated = false\ndb_host = \"local\"\ndatabase", 1);
    s.project.write("cutover.toml", &config);
}

#[test]
fn a_missing_dump_tool_and_a_dump_cut_short_are_said_with_env_host_and_step_and_change_nothing() {
    let Some(s) = setup(Kind::Mariadb, None, "") else { return };
    staging_local(&s);
    a_table_with(&s.staging, "posts", 50, STAGING);
    let bin = s.project.path().join("bin");
    let path = tools_without_dump(&bin, None);
    let run =
        s.project.cutover_with(&["db", "copy", "--from", "staging"], &[("PATH", &format!("{path}:/nonexistent"))]);
    let run = run.code(1);
    assert!(
        run.stderr.contains("environment `staging`")
            && run.stderr.contains("`local`")
            && run.stderr.contains("dumping")
            && run.stderr.contains("mariadb-dump or mysqldump not found on this host"),
        "{}",
        run.stderr
    );
    assert!(fingerprint(&s.production).is_empty());

    // A dump tool that stops half way and still exits 0: its dump does not end as dumps end.
    let real = which("mariadb-dump").expect("mariadb-dump on PATH");
    std::fs::remove_dir_all(&bin).unwrap();
    let fake = format!("#!/bin/sh\n\"{real}\" \"$@\" | head -c 4000\n");
    let path = tools_without_dump(&bin, Some(&fake));
    let run =
        s.project.cutover_with(&["db", "copy", "--from", "staging"], &[("PATH", &format!("{path}:/nonexistent"))]);
    let run = run.code(1);
    assert!(run.stderr.contains("environment `staging`") && run.stderr.contains("cut short"), "{}", run.stderr);
    assert!(fingerprint(&s.production).is_empty(), "a cut dump left something in production");
    assert_eq!(leftovers(&s), "", "a staging area is left");
}
