//! A real Laravel app taken live through the binary: the project's own small shop
//! (`tests/fixtures/laravel-app/`: a migration, a model with an `encrypted` cast, a settings
//! table of PHP-serialized values, a seeder, a home page rendered from the database and `/up`),
//! run on Debian's php-laravel-framework (8.83) through its autoloader, with no vendor/. The
//! config is what `cutover init --preset laravel` writes, pointed at a stack (dnsmasq; for the
//! launches, certificates from Pebble installed by `cutover tls issue`; nginx + PHP-FPM per host
//! serving `current/public`): production on `h1`
//! (gated), staging on `h2`, each with a MariaDB database and an account of its own whose
//! password, like each environment's APP_KEY, `cutover secrets rotate` generated. Staging is
//! seeded fresh by the preset's installer (`php artisan migrate --seed --force`); production is
//! launched with `--seed hybrid` (its own installer, then staging's customers and settings
//! copied, the notes re-encrypted with production's APP_KEY and the settings' URLs rewritten).
//! What production holds is read back by Laravel itself: its pages at the production URL and
//! `php artisan shop:show` in production's release.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::cli::{Run, current};
use support::db::{Db, Kind, MariaUser, run_ok};
use support::hosts::SshHosts;
use support::stack::{ALIAS, CERT_PATH, KEY_PATH, NAME, NGINX_CONF, Spec, Stack, Web};

/// Debian's php-laravel-framework's autoloader (on PHP's include path).
const LARAVEL_AUTOLOAD: &str = "/usr/share/php/Illuminate/autoload.php";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/laravel-app")
}

fn available() -> bool {
    support::require("php-laravel-framework", Path::new(LARAVEL_AUTOLOAD).is_file())
        && support::require(
            "php with pdo_mysql",
            support::db::succeeds("php", &["-r", "exit(extension_loaded('pdo_mysql') ? 0 : 1);"]),
        )
        && Kind::Mariadb.require()
}

/// The shop on its stack: the project (the fixture in `app/`, the preset's config), the
/// databases and accounts, and a scratch directory outside the release (the age key, scripts
/// run on the hosts). Fields drop in order: the accounts before their databases, the stack last.
struct Shop {
    _users: Vec<MariaUser>,
    staging_db: Db,
    prod_db: Db,
    scratch: tempfile::TempDir,
    stack: Stack,
    staging_host: usize,
    staging_url: String,
}

impl Shop {
    fn project(&self) -> &Path {
        self.stack.project.path()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.project().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.project().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn identity(&self) -> String {
        format!("CUTOVER_AGE_IDENTITY={}", self.scratch.path().join("age.key").display())
    }

    /// The binary with `args`, the public names resolved by the stack's DNS.
    fn cutover(&self, args: &[&str]) -> Run {
        let (identity, bin) = (self.identity(), support::cli::bin());
        let mut all: Vec<&str> = vec![&identity, bin.to_str().unwrap()];
        all.extend_from_slice(args);
        self.stack.resolved(Path::new("env"), &all)
    }

    /// Starts the binary with `args` as [`Shop::cutover`] runs it, its output discarded.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new("unshare")
            .args(["--mount", "sh", "-c", "mount --bind resolv.conf /etc/resolv.conf && exec \"$0\" \"$@\""])
            .arg(support::cli::bin())
            .args(args)
            .current_dir(self.project())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env("CUTOVER_AGE_IDENTITY", self.scratch.path().join("age.key"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run cutover")
    }

    /// `cutover --env ENV secrets set NAME` with `value` on stdin.
    fn set_secret(&self, env: &str, name: &str, value: &str) {
        let mut child = Command::new(support::cli::bin())
            .args(["--env", env, "secrets", "set", name])
            .current_dir(self.project())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env("CUTOVER_AGE_IDENTITY", self.scratch.path().join("age.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cutover");
        child.stdin.take().unwrap().write_all(format!("{value}\n").as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap()).ok();
    }

    fn secret(&self, env: &str, name: &str) -> String {
        let out = self.cutover(&["--env", env, "secrets", "get", name, "--reveal"]).ok().stdout;
        out.trim_end_matches('\n').to_owned()
    }

    /// Runs `script` with php-cli on host `i`, in its live release (`current`), over ssh; stdout.
    fn php_on(&self, i: usize, script: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let file = self.scratch.path().join(format!("script-{}.php", NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&file, script).unwrap();
        self.on_host(i, &format!("php {}", file.display()))
    }

    /// Runs `command` on host `i` in its live release, over ssh; its stdout.
    fn on_host(&self, i: usize, command: &str) -> String {
        let hosts = &self.stack.hosts;
        let remote = format!("cd {}/current && {command}", SshHosts::DEPLOY_PATH);
        let ran = support::db::run(
            Command::new("ssh").arg("-F").arg(hosts.config_path()).arg(hosts.alias(i)).arg(remote),
            b"",
        );
        let stdout = support::db::lossy(&ran.stdout);
        assert_eq!(ran.code, 0, "`{command}` on h{i} failed\n--- stdout\n{stdout}\n--- stderr\n{}", ran.stderr);
        stdout
    }

    /// What the shop holds as Laravel reads it in host `i`'s live release (`php artisan shop:show`).
    fn shown(&self, i: usize) -> serde_json::Value {
        let out = self.on_host(i, "php artisan shop:show");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("shop:show printed no JSON ({e}): {out}"))
    }

    /// Production's home page on `h1` (curl straight to its address, no DNS): its body.
    fn home_on_h1(&self) -> String {
        let stack = &self.stack;
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "--cacert"])
            .arg(self.project().join("ca.pem"))
            .arg("--resolve")
            .arg(format!("{NAME}:{}:{}", stack.https_port, stack.hosts.addr(1)))
            .arg(format!("{}/", stack.url))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Production's home page at its URL, through DNS.
    fn prod_home(&self) -> (u16, String) {
        self.stack.get(&format!("{}/", self.stack.url), None)
    }
}

/// Sets the shop up as an operator would: the app, `cutover init --preset laravel` over the
/// stack's config, the config's hosts, URLs, TLS and ssh edited in (composer left out of the
/// hooks and pre-flight's requirements: the app runs on Debian's framework, with no vendor/ to
/// install), secrets generated by `cutover secrets rotate` (APP_KEY and DB_PASSWORD per
/// environment) plus the mail password set by hand, and each environment's database and
/// account made with the generated password. With `pebble`, the hosts' certificates are issued
/// by Pebble through `cutover tls issue` with that config (else the stack's test CA's leaf).
fn setup(pebble: bool) -> Option<Shop> {
    if !available() {
        return None;
    }
    let spec = Spec {
        hosts: 1,
        gated: true,
        web: Web::Php { workers: 2 },
        staging: true,
        web_root: "public",
        pebble,
        ..Spec::default()
    };
    let stack = Stack::start(spec)?;
    let (staging_host, staging_url) = stack.staging.clone().expect("a staging host");
    let project = stack.project.path().to_path_buf();
    std::fs::remove_dir_all(project.join("app")).unwrap();
    run_ok(Command::new("cp").arg("-r").arg(fixture()).arg(project.join("app")), b"");
    let scratch = tempfile::Builder::new().prefix("cutover-laravel-scratch-").tempdir().unwrap();
    let (staging_db, prod_db) = (Db::create(Kind::Mariadb), Db::create(Kind::Mariadb));
    let mut shop = Shop { _users: Vec::new(), staging_db, prod_db, scratch, stack, staging_host, staging_url };

    shop.cutover(&["init", "--preset", "laravel", "--force"]).ok();
    let path = format!("path = \"{}\"", SshHosts::DEPLOY_PATH);
    let stack = &shop.stack;
    let toml = shop
        .read("cutover.toml")
        .replacen("source = \".\"", "source = \"app\"", 1)
        .replacen("url = \"https://staging.example.com\"", &format!("url = \"{}\"", shop.staging_url), 1)
        .replacen(
            "hosts = [\"deploy@staging.example.com\"]",
            &format!("hosts = [\"{}\"]", stack.hosts.alias(staging_host)),
            1,
        )
        .replacen("url = \"https://example.com\"", &format!("url = \"{}\"", stack.url), 1)
        .replacen("aliases = [\"www.example.com\"]", &format!("aliases = [\"{ALIAS}\"]"), 1)
        .replacen("hosts = [\"deploy@web1.example.com\"]", "hosts = [\"h1\"]", 1)
        .replacen("\"composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader\", ", "", 1)
        .replacen("require = [\"php>=8.1\", \"composer\"]", "require = [\"php>=8.1\"]", 1)
        .replacen("staging_window = \"24h\"", "staging_window = \"2s\"", 1)
        .replacen(
            "# schema_check = { sql = \"SELECT 1 FROM migrations LIMIT 1\" }",
            "schema_check = { sql = \"SELECT 1 FROM migrations LIMIT 1\" }",
            1,
        )
        .replacen("# import_tables = [\"plans\", \"settings\"]", "import_tables = [\"customers\", \"settings\"]", 1)
        .lines()
        .map(|line| {
            if line.starts_with("path = \"~/") {
                path.clone()
            } else if line.starts_with("# cert = ") {
                format!("cert = \"{CERT_PATH}\"")
            } else if line.starts_with("# key = ") {
                format!("key = \"{KEY_PATH}\"")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replacen("# config = \"ssh_config\"", &format!("config = \"{}\"", stack.hosts.config_path().display()), 1)
        .replacen("# resolvers = [\"10.0.0.53:53\"]", &format!("resolvers = [\"{}\"]", stack.dns.addr()), 1)
        .replacen("# extra_ca = \"ca.pem\"", "extra_ca = \"ca.pem\"", 1)
        .replacen("fail_days = 7\n", &format!("fail_days = 7\n{}", stack.tls_keys()), 1)
        .replacen("# web_test = \"sudo nginx -t\"", &format!("web_test = \"nginx -t -q -c {NGINX_CONF}\""), 1);
    assert!(!toml.contains("composer install"), "the composer hook is still there:\n{toml}");
    assert!(toml.contains("import_tables = [\"customers\", \"settings\"]"), "{toml}");
    shop.write("cutover.toml", &format!("{toml}\n"));
    shop.cutover(&["config", "check"]).ok();
    if pebble {
        // Both environments' certificates from Pebble, with the preset's config.
        shop.stack.issue_certificates();
    }

    for env in ["staging", "production"] {
        shop.cutover(&["--env", env, "secrets", "rotate"]).ok();
        shop.set_secret(env, "MAIL_PASSWORD", &format!("mail-password-of-{env}"));
        let db = if env == "staging" { &shop.staging_db } else { &shop.prod_db };
        let user = MariaUser::create(
            &MariaUser::unique_name("cutover_lv"),
            &["127.0.0.1"],
            Some(&shop.secret(env, "DB_PASSWORD")),
            &[&db.name],
        );
        let template = format!(".env.{env}.template");
        let text: Vec<String> = shop
            .read(&template)
            .lines()
            .map(|line| match line.split_once('=').map(|(k, _)| k) {
                Some("DB_DATABASE") => format!("DB_DATABASE={}", db.name),
                Some("DB_USERNAME") => format!("DB_USERNAME={}", user.name),
                _ => line.to_owned(),
            })
            .collect();
        shop.write(&template, &format!("{}\n", text.join("\n")));
        shop._users.push(user);
    }
    Some(shop)
}

/// Staging's own content, made by Laravel in staging's release: a customer whose note is
/// sealed with staging's APP_KEY, and a setting (serialized) linking staging's URL.
const STAGING_CONTENT: &str = r#"<?php
require getcwd() . '/bootstrap/autoload.php';
$app = require getcwd() . '/bootstrap/app.php';
$app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
App\Models\Customer::create(['name' => 'Grace', 'email' => 'grace@shop.example', 'note' => 'Pays by invoice, net 30']);
App\Models\Setting::put('promo', ['title' => 'Spring sale', 'links' => ['Spring sale' => url('/sale')]]);
echo json_encode(['promo' => url('/sale')], JSON_UNESCAPED_SLASHES);
"#;

/// Decrypts each of the JSON array of payloads on stdin with the key in argv[1] (`base64:…`)
/// by Laravel's own Encrypter (the `encrypted` cast's `decryptString`): per payload, the value
/// or the error.
const DECRYPT: &str = r#"<?php
require 'Illuminate/autoload.php';
$key = base64_decode(substr($argv[1], 7));
$crypt = new Illuminate\Encryption\Encrypter($key, 'AES-256-CBC');
$out = [];
foreach (json_decode(stream_get_contents(STDIN), true) as $payload) {
    try {
        $out[] = ['value' => $crypt->decryptString($payload)];
    } catch (Illuminate\Contracts\Encryption\DecryptException $e) {
        $out[] = ['error' => $e->getMessage()];
    }
}
echo json_encode($out);
"#;

/// What `payloads` decrypt to with `key`, by Laravel's Encrypter in php-cli here.
fn decrypt(scratch: &Path, key: &str, payloads: &[String]) -> Vec<serde_json::Value> {
    let script = scratch.join("decrypt.php");
    std::fs::write(&script, DECRYPT).unwrap();
    let out = run_ok(Command::new("php").arg(&script).arg(key), serde_json::to_string(payloads).unwrap().as_bytes());
    let read: serde_json::Value = serde_json::from_slice(&out).expect("decrypt.php prints JSON");
    read.as_array().unwrap().clone()
}

/// The stage verdicts of a `launch --json`.
fn verdicts(run: &Run) -> Vec<(String, String)> {
    run.json()["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap().to_owned(), s["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

/// A footer view of release 2's own.
const GOOD_FOOTER: &str =
    "<footer>{{ config('app.name') }} on Laravel {{ app()->version() }}, release 2 footer</footer>\n";

/// A footer view calling a function that does not exist: a PHP fatal error in the page.
const BROKEN_FOOTER: &str = "<footer>{{ cutover_undefined_footer_function() }}</footer>\n";

/// A migration that runs and loses data: it deletes every customer but the first and drops the
/// notes column. The pages still render (the notes are simply gone).
const BAD_MIGRATION: &str = r#"<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Support\Facades\DB;

class TrimCustomers extends Migration
{
    public function up()
    {
        DB::table('customers')->where('id', '>', 1)->delete();
        DB::statement('ALTER TABLE customers DROP COLUMN note');
        DB::table('settings')->where('name', 'promo')->delete();
    }
}
"#;

/// Staging made ready for production's launch: its first release seeded fresh by the preset's
/// installer, its own content added, smoked and watched; then the fast path and its
/// attestations, and pre-flight passing but for TLS. Staging's stored notes.
fn prepare(shop: &Shop) -> Vec<String> {
    let (stack, staging_host, staging_url) = (&shop.stack, shop.staging_host, &shop.staging_url);
    // Staging: its first release seeded fresh by the preset's installer, before its switch.
    let report = shop.cutover(&["--json", "--env", "staging", "deploy", "--seed", "fresh"]).ok().json();
    assert_eq!(report["seed"]["strategy"], "fresh", "{report}");
    let content = shop.php_on(staging_host, STAGING_CONTENT);
    assert_eq!(content.trim(), format!(r#"{{"promo":"{staging_url}/sale"}}"#));
    let (status, page) = stack.get(&format!("{staging_url}/"), None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Pays by invoice, net 30") && page.contains(&format!("href=\"{staging_url}/sale\"")),
        "{page}"
    );
    assert!(page.trim_end().ends_with("</html>"), "{page}");
    let (status, up) = stack.get(&format!("{staging_url}/up"), None);
    assert_eq!(status, 200, "{up}");
    assert!(up.contains("Application up"), "{up}");
    // Staging smoked and watched for its (test-sized) window on its live release: pre-flight's
    // item 1, so nothing is left deferred for production's later deploys.
    shop.cutover(&["--env", "staging", "smoke"]).ok();
    shop.cutover(&["--env", "staging", "monitor", "--window", "2s", "--interval", "1s"]).ok();
    let staging_notes: Vec<String> =
        shop.staging_db.query("SELECT note FROM customers ORDER BY id").lines().map(str::to_owned).collect();
    assert_eq!(staging_notes.len(), 2, "{staging_notes:?}");

    // The fast path and its attestations.
    shop.cutover(&["path", "fast"]).ok();
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        shop.cutover(&["attest", item, "--by", "Ana", "--note", "in the runbook"]).ok();
    }
    // Pre-flight on its own: every item passes (staging's smoke, monitor window and schema
    // check, its mail driver and `/up`; production's database empty) but TLS, which waits for
    // `ready`, launch's next stage.
    let preflight = shop.cutover(&["--json", "preflight"]).code(1).json();
    let items = preflight["items"].as_array().unwrap();
    for (n, result) in [(1, "pass"), (2, "pass"), (3, "pass"), (4, "pass"), (5, "pass"), (6, "fail"), (7, "attested")] {
        let item = items.iter().find(|i| i["number"] == n).unwrap();
        assert_eq!(item["result"], result, "item {n}: {preflight:#}");
    }
    staging_notes
}

/// `launch --seed SEED`: every stage passes, and the production URL serves Pebble's
/// certificate; production's live release.
fn launch(shop: &Shop, seed: &str) -> String {
    let run = shop.cutover(&["--json", "-y", "launch", "--seed", seed]);
    assert_eq!(run.code, 0, "launch failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    let stages = verdicts(&run);
    assert_eq!(stages.len(), 5, "{}", run.stdout);
    assert!(stages.iter().all(|(_, v)| v == "passed"), "{}", run.stdout);
    let issuer =
        shop.stack.served_issuer(&shop.stack.url, None).expect("the production URL's chain verifies to Pebble's root");
    assert!(issuer.contains("Pebble Intermediate"), "{issuer}");
    current(&shop.stack.hosts.deploy_dir(1)).expect("production is live")
}

#[test]
fn laravel_launched_hybrid_on_the_fast_path_a_fatal_rolled_back_and_a_bad_migration_undone_with_its_database() {
    let Some(shop) = setup(true) else { return };
    let stack = &shop.stack;
    let prod_url = stack.url.clone();

    let staging_notes = prepare(&shop);
    let first = launch(&shop, "hybrid");

    // Production at its URL: its own plans (its installer), staging's customers and settings
    // (the import), the notes decrypted by Laravel with production's key, the links production's.
    let (status, home) = shop.prod_home();
    assert_eq!(status, 200, "{home}");
    for text in ["Starter (production)", "VIP since the opening", "Pays by invoice, net 30", "The Laravel shop"] {
        assert!(home.contains(text), "production's home page lacks {text:?}:\n{home}");
    }
    assert!(home.contains(&format!("href=\"{prod_url}/sale\"")), "{home}");
    assert!(!home.contains("staging"), "production's home page names staging:\n{home}");
    assert!(home.trim_end().ends_with("</html>"), "{home}");
    shop.cutover(&["smoke"]).ok();
    let run = shop.cutover(&["monitor", "--window", "10s", "--interval", "2s"]);
    assert_eq!(run.code, 0, "the monitor failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);

    // A good second release (a footer of its own): every PHP-FPM worker serves it within a
    // second of `current` switching, Laravel's caches built in the release and OPcache never
    // revalidating (nginx passes PHP the release's own paths).
    shop.write("app/resources/views/footer.blade.php", GOOD_FOOTER);
    let before = current(&stack.hosts.deploy_dir(1));
    let mut deploy = shop.spawn(&["deploy"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut switched, mut served) = (None, None);
    while served.is_none() {
        assert!(Instant::now() < deadline, "release 2 was not served");
        if switched.is_none() && current(&stack.hosts.deploy_dir(1)) != before {
            switched = Some(Instant::now());
        }
        match switched {
            // A run of answers, all from release 2 (each worker has it): served from the time
            // the run began.
            Some(at) => {
                let began = at.elapsed();
                if (0..4).all(|_| shop.home_on_h1().contains("release 2 footer")) {
                    served = Some(began);
                }
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let served = served.unwrap();
    assert!(served < Duration::from_secs(1), "release 2 served {served:?} after the switch");
    assert_eq!(support::wait_exit(&mut deploy, Duration::from_secs(120)), 0, "the deploy of release 2");
    let live = current(&stack.hosts.deploy_dir(1)).expect("release 2 is live");
    assert_ne!(live, first);

    // A broken release: its footer calls an undefined function. Laravel answers 500 with its
    // error page, the preset's checks fail it, the deploy rolls itself back (exit 5).
    shop.write("app/resources/views/footer.blade.php", BROKEN_FOOTER);
    let run = shop.cutover(&["deploy"]);
    assert_eq!(run.code, 5, "the broken release was not rolled back\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("failed its checks after the switch"), "{}", run.stderr);
    let failed: Vec<&str> = run.stdout.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(!failed.is_empty() && failed.iter().all(|l| l.starts_with("home") && l.contains("500")), "{}", run.stdout);
    assert_eq!(current(&stack.hosts.deploy_dir(1)).as_deref(), Some(live.as_str()));
    let (status, home) = shop.prod_home();
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("Pays by invoice, net 30") && home.contains("release 2 footer"), "{home}");
    shop.write("app/resources/views/footer.blade.php", GOOD_FOOTER);

    // Another whose migration deletes customers and a column: it deploys (the pages render),
    // then `rollback --with-db` puts code and data back as they were before it.
    let rows = |db: &Db| {
        ["customers", "settings", "plans", "migrations"]
            .map(|t| db.query(&format!("SELECT * FROM {t} ORDER BY 1")))
            .join("--\n")
    };
    let before = rows(&shop.prod_db);
    shop.write("app/database/migrations/2024_02_01_000000_trim_customers.php", BAD_MIGRATION);
    let run = shop.cutover(&["--json", "deploy"]).ok();
    let third = run.json()["release"].as_str().expect("the release").to_owned();
    assert_eq!(current(&stack.hosts.deploy_dir(1)).as_deref(), Some(third.as_str()));
    assert_eq!(shop.prod_db.query("SELECT COUNT(*) FROM customers"), "1\n");
    let (status, home) = shop.prod_home();
    assert_eq!(status, 200, "{home}");
    assert!(!home.contains("Pays by invoice"), "{home}");
    // Production's account has rights on its own database only (a hosting account's): the
    // restore loads beside the live tables, under a prefix, and swaps them in.
    let run = shop.cutover(&["rollback", "--with-db", "-y"]);
    assert_eq!(run.code, 0, "rollback --with-db failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("customers"), "the rollback did not say what is lost:\n{said}");
    assert_eq!(current(&stack.hosts.deploy_dir(1)).as_deref(), Some(live.as_str()));
    assert_eq!(rows(&shop.prod_db), before, "the database is not as it was before the bad migration");

    // At the end, production read back by Laravel itself at the production URL: the notes open
    // with production's key, the settings unserialize and link production.
    let (status, home) = shop.prod_home();
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("Pays by invoice, net 30") && home.contains(&format!("href=\"{prod_url}/sale\"")), "{home}");
    let shown = shop.shown(1);
    assert_eq!(shown["url"], prod_url.as_str(), "{shown}");
    assert_eq!(shown["env"], "production", "{shown}");
    assert_eq!(shown["plans"], serde_json::json!(["Starter (production)", "Pro (production)"]), "{shown}");
    assert_eq!(
        shown["customers"],
        serde_json::json!([
            {"name": "Ada", "note": "VIP since the opening"},
            {"name": "Grace", "note": "Pays by invoice, net 30"},
        ]),
        "{shown}"
    );
    assert_eq!(shown["settings"]["promo"]["links"]["Spring sale"], format!("{prod_url}/sale").as_str(), "{shown}");
    assert_eq!(shown["settings"]["shop"]["home"], prod_url.as_str(), "{shown}");
    assert_eq!(shown["settings"]["footer"]["links"]["Plans"], format!("{prod_url}/plans").as_str(), "{shown}");

    // The stored notes are sealed anew: production's key opens them, staging's does not.
    let prod_notes: Vec<String> =
        shop.prod_db.query("SELECT note FROM customers ORDER BY id").lines().map(str::to_owned).collect();
    assert_eq!(prod_notes.len(), 2);
    for (p, s) in prod_notes.iter().zip(&staging_notes) {
        assert_ne!(p, s, "a note was copied as staging sealed it");
    }
    let (prod_key, staging_key) = (shop.secret("production", "APP_KEY"), shop.secret("staging", "APP_KEY"));
    assert_ne!(prod_key, staging_key);
    let opened = decrypt(shop.scratch.path(), &prod_key, &prod_notes);
    assert_eq!(opened[0]["value"], "VIP since the opening", "{opened:?}");
    assert_eq!(opened[1]["value"], "Pays by invoice, net 30", "{opened:?}");
    let refused = decrypt(shop.scratch.path(), &staging_key, &prod_notes);
    assert!(refused.iter().all(|r| r.get("error").is_some()), "staging's key opens production's notes: {refused:?}");
    assert!(
        decrypt(shop.scratch.path(), &staging_key, &staging_notes).iter().all(|r| r.get("value").is_some()),
        "staging's own notes do not open with staging's key"
    );
}

/// The other flow: production launched with `--seed fresh`, its installer alone. What it holds
/// is its own, made by its seeder with production's URL and sealed with production's key;
/// nothing of staging's (staging's customer and setting are not there).
#[test]
fn laravel_launched_with_a_fresh_seed_holds_its_own_data_sealed_with_the_production_key() {
    let Some(shop) = setup(true) else { return };
    let prod_url = shop.stack.url.clone();
    let staging_notes = prepare(&shop);
    launch(&shop, "fresh");

    let (status, home) = shop.prod_home();
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("Starter (production)") && home.contains("VIP since the opening"), "{home}");
    assert!(home.contains(&format!("href=\"{prod_url}/plans\"")) && home.trim_end().ends_with("</html>"), "{home}");
    assert!(!home.contains("Pays by invoice") && !home.contains("staging"), "staging's data in production:\n{home}");
    let shown = shop.shown(1);
    assert_eq!(shown["customers"], serde_json::json!([{"name": "Ada", "note": "VIP since the opening"}]), "{shown}");
    assert_eq!(shown["settings"]["shop"]["home"], prod_url.as_str(), "{shown}");
    assert!(shown["settings"].get("promo").is_none(), "{shown}");

    let prod_notes: Vec<String> =
        shop.prod_db.query("SELECT note FROM customers ORDER BY id").lines().map(str::to_owned).collect();
    let (prod_key, staging_key) = (shop.secret("production", "APP_KEY"), shop.secret("staging", "APP_KEY"));
    assert_eq!(decrypt(shop.scratch.path(), &prod_key, &prod_notes)[0]["value"], "VIP since the opening");
    assert!(decrypt(shop.scratch.path(), &staging_key, &prod_notes)[0].get("error").is_some());
    assert_ne!(prod_notes[0], staging_notes[0]);
}

/// The preset's first `before_switch` hook makes the directories Laravel writes in `storage/`:
/// shared and never uploaded, it is empty on a host's first deploy, and without them Laravel's
/// own `view:cache` fails (the skeleton's `view.compiled` is `realpath()` of a directory that
/// is not there). Without the hook, the first deploy stops before its switch.
#[test]
fn without_the_presets_storage_hook_a_first_deploy_stops_at_view_cache_with_nothing_switched() {
    // No launch, no certificate needed: the test CA's (no Pebble to start).
    let Some(shop) = setup(false) else { return };
    let hook = "\"mkdir -p storage/app/public storage/framework/cache/data storage/framework/sessions \
                storage/framework/views storage/logs\", ";
    let toml = shop.read("cutover.toml");
    assert!(toml.contains(hook), "{toml}");
    shop.write("cutover.toml", &toml.replacen(hook, "", 1));
    let run = shop.cutover(&["--env", "staging", "deploy"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("View path not found."), "{}", run.stderr);
    assert_eq!(current(&shop.stack.hosts.deploy_dir(shop.staging_host)), None);
}
