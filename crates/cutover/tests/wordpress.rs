//! A real WordPress (Debian's `wordpress` package) taken live through the binary: the project is
//! WordPress's files with the config, `.env` templates and `wp-config.php` that `cutover init
//! --preset wordpress` writes; staging on SSH host `h1`, production on `h2`, each with a MariaDB
//! database and a database user of its own whose password `cutover secrets rotate` generated;
//! both served by a real nginx (HTTPS with the test CA, on each host's own address) and a real
//! PHP-FPM with OPcache on and `opcache.validate_timestamps=0`, through each host's `current`.
//! Staging is installed by WordPress's own installer (`wp_install()` in php-cli, in the release
//! on the host); what production has is read back through WordPress itself: its pages over
//! nginx and its options in php-cli in production's release. The whole launch runs on a stack
//! whose DNS/TLS `ready` passes for real, and ends with a release whose migration destroys data
//! WordPress needs, undone by `rollback --with-db` (the production account has rights on its
//! own database only, as on most WordPress hosts).

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use cutover_testkit::certs::Ca;
use cutover_testkit::nginx::{Nginx, Site};
use cutover_testkit::php_fpm::{self, PhpFpm};
use support::cli::{Run, current};
use support::db::{Db, Kind, MariaUser, run_ok};
use support::hosts::SshHosts;

/// Where Debian's `wordpress` package puts WordPress (some entries are symlinks into
/// /etc/wordpress and /usr/share/javascript).
const WORDPRESS: &str = "/usr/share/wordpress";
const STAGING_NAME: &str = "staging.wp.test";
const PROD_NAME: &str = "www.wp.test";
const POST_TITLE: &str = "Opening day at the shop";

fn available() -> bool {
    support::require("wordpress", Path::new(WORDPRESS).join("wp-settings.php").is_file())
        // Without a theme WordPress renders no page.
        && support::require(
            "wordpress-theme-twentytwentythree",
            Path::new(WORDPRESS).join("wp-content/themes/twentytwentythree/theme.json").is_file(),
        )
        && support::require("sshd", SshHosts::available())
        && support::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
        && support::require("php-fpm", php_fpm::available())
        && support::require("php", support::db::succeeds("php", &["-r", "exit(extension_loaded('mysqli') ? 0 : 1);"]))
        && support::require("unshare", cutover_testkit::on_path("unshare"))
        && Kind::Mariadb.require()
}

/// The site: its project (WordPress + `cutover init --preset wordpress`), the hosts, the web
/// servers and the databases. Fields drop in order: the servers before the hosts' directories.
struct Wp {
    _nginx: Nginx,
    _fpm: PhpFpm,
    _users: Vec<MariaUser>,
    staging_db: Db,
    prod_db: Db,
    hosts: SshHosts,
    project: tempfile::TempDir,
    /// The CA, the names' `/etc/hosts`, the scripts run on the hosts: outside the release.
    aside: tempfile::TempDir,
    port: u16,
}

impl Wp {
    fn staging_url(&self) -> String {
        format!("https://{STAGING_NAME}")
    }

    fn prod_url(&self) -> String {
        format!("https://{PROD_NAME}")
    }

    fn path(&self) -> &Path {
        self.project.path()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The binary, in a mount namespace of its own whose `/etc/hosts` gives the site's names
    /// their hosts' addresses (as DNS would), with the project's age identity.
    fn cutover(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).stdin(Stdio::null()).output().expect("run cutover"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\""])
            .arg(self.aside.path().join("hosts"))
            .arg(support::cli::bin())
            .args(args)
            .current_dir(self.path())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .env("CUTOVER_AGE_IDENTITY", self.aside.path().join("age.key"));
        cmd
    }

    /// `path` of `name`'s site over HTTPS (the test CA, the name resolved to its host): status
    /// and body.
    fn get(&self, name: &str, path: &str) -> (u16, String) {
        let host = if name == STAGING_NAME { 1 } else { 2 };
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "-w", "\n%{http_code} %{redirect_url}", "--cacert"])
            .arg(self.aside.path().join("ca.pem"))
            .arg("--resolve")
            .arg(format!("{name}:{}:{}", self.port, self.hosts.addr(host)))
            .arg(format!("https://{name}{path}"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').expect("curl wrote the status");
        let (code, location) = status.split_once(' ').unwrap_or((status, ""));
        let body = if location.is_empty() { body.to_owned() } else { format!("{body}\n(redirected to {location})") };
        (code.parse().unwrap_or(0), body)
    }

    /// Runs `script` with php-cli on host `i`, in its live release (`current`), over ssh; stdout.
    fn php_on(&self, i: usize, script: &str) -> String {
        php_on(&self.hosts, self.aside.path(), i, script)
    }
}

/// Runs `script` (written to a file in `scratch`, which the hosts see too) with php-cli on host
/// `i`, in its live release (`current`), over ssh; its stdout.
fn php_on(hosts: &SshHosts, scratch: &Path, i: usize, script: &str) -> String {
    let file = scratch.join(format!("script-{}.php", NEXT_SCRIPT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&file, script).unwrap();
    let remote = format!("cd {}/current && php {}", SshHosts::DEPLOY_PATH, file.display());
    let ran =
        support::db::run(Command::new("ssh").arg("-F").arg(hosts.config_path()).arg(hosts.alias(i)).arg(remote), b"");
    let stdout = support::db::lossy(&ran.stdout);
    assert_eq!(ran.code, 0, "php on h{i} failed\n--- stdout\n{stdout}\n--- stderr\n{}", ran.stderr);
    stdout
}

static NEXT_SCRIPT: AtomicUsize = AtomicUsize::new(0);

/// Copies WordPress (without its 31 MB of translations, where installed) into `to`, symlinks
/// followed, and drops Debian's own wp-config.php (which reads /etc/wordpress) for the preset's.
/// Its default theme (Twenty Twenty-Three, Debian's `wordpress-theme-twentytwentythree`)
/// renders the pages.
fn copy_wordpress(to: &Path) {
    for entry in std::fs::read_dir(WORDPRESS).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "wp-config.php" || name == ".htaccess" {
            continue;
        }
        run_ok(Command::new("cp").arg("-rL").arg(entry.path()).arg(to), b"");
    }
    // Debian's translations come as a link to /var/lib/wordpress when installed at all.
    match std::fs::remove_dir_all(to.join("wp-content/languages")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("removing the translations: {e}"),
        _ => {}
    }
}

/// WordPress's own installer, run in the release: a site with one admin (user 1).
const INSTALL: &str = r#"<?php
define('WP_INSTALLING', true);
require getcwd() . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$installed = wp_install('Cutover WordPress shop', 'admin', 'owner@shop.wp.test', true, '', 'Admin-pass-93d1');
echo "installed WordPress, admin user {$installed['user_id']}\n";
"#;

/// Sets up the site as an operator would: WordPress's files, `cutover init --preset wordpress`,
/// the config's hosts, URLs and ssh edited in, secrets generated by `cutover secrets rotate`,
/// each environment's database and account (with the generated password) made, nginx and
/// PHP-FPM serving both hosts' `current`.
fn setup() -> Option<Wp> {
    if !available() {
        return None;
    }
    let hosts = SshHosts::start(2);
    let project = tempfile::Builder::new().prefix("cutover-wp-").tempdir().unwrap();
    let aside = tempfile::Builder::new().prefix("cutover-wp-aside-").tempdir().unwrap();
    copy_wordpress(project.path());

    let ca = Ca::new("wordpress test CA");
    let files = ca.issue(&[STAGING_NAME, PROD_NAME]).write(aside.path(), "site");
    std::fs::write(aside.path().join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(
        aside.path().join("hosts"),
        format!("127.0.0.1 localhost\n{} {STAGING_NAME}\n{} {PROD_NAME}\n", hosts.addr(1), hosts.addr(2)),
    )
    .unwrap();
    // 443 on each host's own address: URLs without a port, as WordPress behind Debian's nginx
    // needs (its fastcgi_params pass HTTP_HOST as `$host`, without the port).
    let port = 443;
    let fpm = PhpFpm::start(2).expect("start php-fpm");
    let sites: Vec<Site> = [(1, STAGING_NAME), (2, PROD_NAME)]
        .into_iter()
        .map(|(i, name)| {
            Site::new(IpAddr::V4(hosts.addr(i)), port, &[name], &files.chain, &files.key)
                .root(&hosts.deploy_dir(i).join("current"))
                .php(&fpm.socket(), true)
        })
        .collect();
    let nginx = Nginx::start(&sites).expect("start nginx");
    let (staging_db, prod_db) = (Db::create(Kind::Mariadb), Db::create(Kind::Mariadb));
    let mut wp = Wp { _nginx: nginx, _fpm: fpm, _users: Vec::new(), staging_db, prod_db, hosts, project, aside, port };

    wp.cutover(&["init", "--preset", "wordpress"]).ok();
    let toml = wp
        .read("cutover.toml")
        .replacen("url = \"https://staging.example.com\"", &format!("url = \"{}\"", wp.staging_url()), 1)
        .replacen("hosts = [\"deploy@staging.example.com\"]", "hosts = [\"h1\"]", 1)
        .replacen("url = \"https://example.com\"", &format!("gated = false\nurl = \"{}\"", wp.prod_url()), 1)
        .replacen("aliases = [\"www.example.com\"]\n", "", 1)
        .replacen("hosts = [\"deploy@web1.example.com\"]", "hosts = [\"h2\"]", 1)
        .replace("path = \"~/", "# was: path = \"~/")
        .replace("[env.staging]\n", &format!("[env.staging]\npath = \"{}\"\n", SshHosts::DEPLOY_PATH))
        .replace("[env.production]\n", &format!("[env.production]\npath = \"{}\"\n", SshHosts::DEPLOY_PATH))
        .replacen("# config = \"ssh_config\"", &format!("config = \"{}\"", wp.hosts.config_path().display()), 1)
        .replacen(
            "# extra_ca = \"ca.pem\"",
            &format!("extra_ca = \"{}\"", wp.aside.path().join("ca.pem").display()),
            1,
        );
    std::fs::write(wp.aside.path().join("install.php"), INSTALL).unwrap();
    let installer = format!("installer = \"php {}\"\n", wp.aside.path().join("install.php").display());
    let toml = toml.replacen("[seed]\n", &format!("[seed]\n{installer}"), 1);
    wp.write("cutover.toml", &toml);
    wp.cutover(&["config", "check"]).ok();

    for (env, db) in [("staging", &wp.staging_db), ("production", &wp.prod_db)] {
        wp.cutover(&["--env", env, "secrets", "rotate"]).ok();
        let password = wp.cutover(&["--env", env, "secrets", "get", "DB_PASSWORD", "--reveal"]).ok().stdout;
        let user = MariaUser::create(
            &MariaUser::unique_name("cutover_wp"),
            &["127.0.0.1"],
            Some(password.trim_end_matches('\n')),
            &[&db.name],
        );
        let template = format!(".env.{env}.template");
        let text = wp.read(&template);
        let text = text
            .lines()
            .map(|line| match line.split_once('=').map(|(k, _)| k) {
                Some("DB_NAME") => format!("DB_NAME={}", db.name),
                Some("DB_USER") => format!("DB_USER={}", user.name),
                Some("DB_HOST") => "DB_HOST=127.0.0.1".to_owned(),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        wp.write(&template, &format!("{text}\n"));
        wp._users.push(user);
    }
    Some(wp)
}

/// Staging's content, made by WordPress in php-cli in the release (the admin is user 1): an
/// upload, a post linking it and a page by the site's URL, a text widget naming the URL.
fn content() -> String {
    format!(
        r#"<?php
require getcwd() . '/wp-load.php';
$upload = wp_upload_bits('photo.txt', null, "a photo of the shop\n");
if ($upload['error']) {{ fwrite(STDERR, $upload['error']); exit(1); }}
$post = wp_insert_post([
    'post_title' => '{POST_TITLE}',
    'post_content' => '<p>Come and see <a href="' . $upload['url'] . '">the shop</a> and <a href="' . home_url('/?page_id=2') . '">our page</a>.</p>',
    'post_status' => 'publish',
    'post_author' => 1,
], true);
if (is_wp_error($post)) {{ fwrite(STDERR, $post->get_error_message()); exit(1); }}
update_option('widget_text', [2 => ['title' => 'Find us', 'text' => 'Visit ' . home_url('/') . ' today', 'filter' => false], '_multiwidget' => 1]);
echo json_encode(['post' => $post, 'upload' => $upload['url'], 'home' => get_option('home')]);
"#
    )
}

/// Staging deployed and installed by WordPress's own installer in its release on `h1`, then a
/// post linking an upload and the staging URL, a text widget (a serialized option) naming the
/// staging URL, and the upload in wp-content/uploads (shared).
fn install_staging(wp: &Wp) -> serde_json::Value {
    // The preset's checks need an installed site: staging's first deploy runs the installer
    // before its switch (`[seed] installer`, which only `--seed fresh` runs).
    let report = wp.cutover(&["--json", "--env", "staging", "deploy", "--seed", "fresh"]).ok().json();
    assert_eq!(report["seed"]["strategy"], "fresh", "{report}");
    let out = wp.php_on(1, &content());
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("the content script's output is not JSON ({e}): {out}"))
}

#[test]
fn staging_is_a_real_wordpress_installed_by_its_installer_and_served_by_nginx_and_php_fpm() {
    let Some(wp) = setup() else { return };
    let installed = install_staging(&wp);
    let staging = wp.staging_url();
    assert_eq!(installed["home"], staging.as_str(), "{installed}");
    let upload = installed["upload"].as_str().unwrap();
    assert!(upload.starts_with(&format!("{staging}/wp-content/uploads/")), "{upload}");

    // The home page over nginx + PHP-FPM lists the post; the post's page shows its content.
    let (status, home) = wp.get(STAGING_NAME, "/");
    assert_eq!(status, 200, "{home}");
    assert!(home.contains(POST_TITLE) && home.trim_end().ends_with("</html>"), "{home}");
    let (status, page) = wp.get(STAGING_NAME, &format!("/?p={}", installed["post"]));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("href=\"{upload}\"")), "{page}");
    // The upload is in the shared directory, served by nginx.
    let (status, photo) = wp.get(STAGING_NAME, upload.strip_prefix(&staging).unwrap());
    assert_eq!((status, photo.as_str()), (200, "a photo of the shop\n"));
    let shared = wp.hosts.deploy_dir(1).join("shared/wp-content/uploads");
    assert!(std::fs::symlink_metadata(wp.hosts.deploy_dir(1).join("current/wp-content/uploads")).unwrap().is_symlink());
    assert!(walk(&shared).iter().any(|p| p.ends_with("photo.txt")), "{}", shared.display());
    assert!(current(&wp.hosts.deploy_dir(2)).is_none(), "production has no release yet");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { todo.push(p) } else { out.push(p) }
        }
    }
    out
}

/// Production's first release, seeded from staging (`deploy --seed`: the preset's copy-staging,
/// `wp_posts.guid` left, uploads copied), read back through WordPress at the production URL.
fn launch_production(wp: &Wp, installed: &serde_json::Value) -> String {
    let run = wp.cutover(&["--json", "deploy", "--seed"]).ok();
    let report = run.json();
    assert_eq!(report["seed"]["strategy"], "copy-staging", "{report}");
    assert_eq!(report["seed"]["copy"]["from"], "staging", "{report}");
    assert_eq!(report["seed"]["shared"][0]["path"], "wp-content/uploads", "{report}");
    let release = report["release"].as_str().expect("the release").to_owned();
    assert_eq!(current(&wp.hosts.deploy_dir(2)).as_deref(), Some(release.as_str()));
    let (staging, prod) = (wp.staging_url(), wp.prod_url());

    // The database as WordPress stored it, rewritten; the posts' guids as WordPress wrote them.
    let option =
        |name: &str| wp.prod_db.query(&format!("SELECT option_value FROM wp_options WHERE option_name = '{name}'"));
    assert_eq!(option("home"), format!("{prod}\n"));
    assert_eq!(option("siteurl"), format!("{prod}\n"));
    let post = installed["post"].as_u64().unwrap();
    assert_eq!(
        wp.prod_db.query(&format!("SELECT guid FROM wp_posts WHERE ID = {post}")),
        format!("{staging}/?p={post}\n")
    );

    // The pages over nginx + PHP-FPM at the production URL: the post, its links to production.
    let (status, home) = wp.get(PROD_NAME, "/");
    assert_eq!(status, 200, "{home}");
    assert!(home.contains(POST_TITLE) && home.trim_end().ends_with("</html>"), "{home}");
    let (status, page) = wp.get(PROD_NAME, &format!("/?p={post}"));
    assert_eq!(status, 200, "{page}");
    let upload = installed["upload"].as_str().unwrap().replace(&staging, &prod);
    assert!(page.contains(&format!("href=\"{upload}\"")), "{page}");
    assert!(page.contains(&format!("href=\"{prod}/?page_id=2\"")), "{page}");
    assert!(!page.contains(STAGING_NAME), "production's page names staging:\n{page}");
    // The upload was copied into production's shared/ and is served there.
    let (status, photo) = wp.get(PROD_NAME, upload.strip_prefix(&prod).unwrap());
    assert_eq!((status, photo.as_str()), (200, "a photo of the shop\n"));

    // WordPress itself, in production's release on h2: the widget (a serialized option)
    // unserializes and names production; home and siteurl as stored.
    let script = r#"<?php
require getcwd() . '/wp-load.php';
global $wpdb;
$widget = get_option('widget_text');
echo json_encode([
    'widget' => is_array($widget) ? $widget[2]['text'] : null,
    'home' => $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = 'home'"),
    'siteurl' => $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = 'siteurl'"),
    'title' => get_the_title(%POST%),
]);
"#;
    let out = wp.php_on(2, &script.replace("%POST%", &post.to_string()));
    let read: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(read["widget"], format!("Visit {prod}/ today").as_str(), "{read}");
    assert_eq!(read["home"], prod.as_str(), "{read}");
    assert_eq!(read["siteurl"], prod.as_str(), "{read}");
    assert_eq!(read["title"], POST_TITLE, "{read}");
    release
}

#[test]
fn production_seeded_from_staging_is_read_back_by_wordpress_at_the_production_url() {
    let Some(wp) = setup() else { return };
    let installed = install_staging(&wp);
    launch_production(&wp, &installed);
}

/// A must-use plugin adding a line to the footer.
const GOOD_FOOTER: &str = r#"<?php
add_action('wp_footer', function () {
    echo "<p>release 2 footer</p>\n";
});
"#;

/// A must-use plugin whose footer prints 4 KB and then calls a function that does not exist: a
/// PHP fatal in `wp_footer`, after the page's headers and most of its body went out (200).
const BROKEN_FOOTER: &str = r#"<?php
add_action('wp_footer', function () {
    echo str_repeat("<!-- the shop's footer -->\n", 160);
    cutover_undefined_footer_function();
});
"#;

#[test]
fn a_new_release_is_served_within_a_second_and_one_with_a_php_fatal_in_the_footer_rolls_itself_back() {
    let Some(wp) = setup() else { return };
    let installed = install_staging(&wp);
    launch_production(&wp, &installed);

    // A good second release (a footer line of its own): served by every PHP-FPM worker within
    // a second of `current` switching (OPcache on, timestamps never revalidated).
    wp.write("wp-content/mu-plugins/footer.php", GOOD_FOOTER);
    let before = current(&wp.hosts.deploy_dir(2));
    let mut deploy =
        wp.command(&["deploy"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (mut switched, mut served) = (None, None);
    while served.is_none() {
        assert!(std::time::Instant::now() < deadline, "release 2 was not served");
        if switched.is_none() && current(&wp.hosts.deploy_dir(2)) != before {
            switched = Some(std::time::Instant::now());
        }
        match switched {
            // A run of answers, all from release 2 (each worker has it): served from the time
            // the run began.
            Some(at) => {
                let began = at.elapsed();
                if (0..4).all(|_| wp.get(PROD_NAME, "/").1.contains("release 2 footer")) {
                    served = Some(began);
                }
            }
            None => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    let served = served.unwrap();
    assert!(served < std::time::Duration::from_secs(1), "release 2 served {served:?} after the switch");
    assert_eq!(support::wait_exit(&mut deploy, std::time::Duration::from_secs(120)), 0, "the deploy of release 2");
    let live = current(&wp.hosts.deploy_dir(2)).expect("release 2 is live");

    wp.write("wp-content/mu-plugins/footer.php", BROKEN_FOOTER);
    let run = wp.cutover(&["deploy"]);
    assert_eq!(run.code, 5, "the broken release was not rolled back\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("failed its checks after the switch"), "{}", run.stderr);
    // The home page, publicly and on h2, is a 200 cut short with no error text: the preset's
    // `complete = true` is what fails it.
    let failed: Vec<&str> = run.stdout.lines().filter(|l| l.contains("FAIL")).collect();
    assert_eq!(failed.len(), 2, "{}", run.stdout);
    assert!(
        failed.iter().all(|l| l.starts_with("home") && l.contains(" 200 ") && l.contains("without </html>: cut short")),
        "{}",
        run.stdout
    );
    assert!(!failed.iter().any(|l| l.starts_with("login")), "the login page has no footer:\n{}", run.stdout);

    // Production is back on the release before, and serves it whole.
    assert_eq!(current(&wp.hosts.deploy_dir(2)).as_deref(), Some(live.as_str()));
    let (status, home) = wp.get(PROD_NAME, "/");
    assert_eq!(status, 200, "{home}");
    assert!(home.contains(POST_TITLE) && home.trim_end().ends_with("</html>"), "{home}");
    assert!(!home.contains("the shop's footer"), "the broken footer is still served:\n{home}");
    assert!(home.contains("release 2 footer"), "{home}");
}

/// The whole launch on a stack whose `ready` passes for real (DNS from dnsmasq, certificates
/// from Pebble by `cutover tls issue` over HTTP-01, HTTP redirecting to HTTPS, HSTS): production on `h1`
/// (gated), staging on `h2`, each host with its own nginx and PHP-FPM; the preset's config
/// pointed at them, with `[hooks] migrate` running the shop's migrations. Staging smoked and
/// watched, the fast path, its attestations, pre-flight (the preset's checks of staging's
/// WordPress settings), `launch --seed` (ready, the seeded first release, smoke; each stage's
/// time), a short `monitor`; then a release whose migration destroys data WordPress needs,
/// undone by `rollback --with-db` (see [`a_bad_migration_is_undone_by_rollback_with_db`]).
#[test]
fn wordpress_launched_on_the_fast_path_then_a_php_fatal_rolled_back_and_a_bad_migration_undone_by_rollback_with_db() {
    use support::stack::{ALIAS, CERT_PATH, KEY_PATH, NGINX_CONF, Spec, Stack, Web};
    if !available() {
        return;
    }
    let spec =
        Spec { hosts: 1, gated: true, web: Web::Php { workers: 2 }, staging: true, pebble: true, ..Spec::default() };
    let Some(stack) = Stack::start(spec) else { return };
    let (staging_host, staging_url) = stack.staging.clone().expect("a staging host");
    let project = stack.project.path();
    let scratch = tempfile::Builder::new().prefix("cutover-wp-scratch-").tempdir().unwrap();
    std::fs::remove_dir_all(project.join("app")).unwrap();
    std::fs::create_dir(project.join("app")).unwrap();
    copy_wordpress(&project.join("app"));
    std::fs::write(project.join("app/shop-migrate.php"), MIGRATE).unwrap();
    std::fs::create_dir_all(project.join("app/wp-content/mu-plugins")).unwrap();
    std::fs::write(project.join("app/wp-content/mu-plugins/find-us.php"), FIND_US).unwrap();
    let bin = support::cli::bin();
    let identity = format!("CUTOVER_AGE_IDENTITY={}", scratch.path().join("age.key").display());
    let cutover = |args: &[&str]| {
        let mut all: Vec<&str> = vec![&identity, bin.to_str().unwrap()];
        all.extend_from_slice(args);
        stack.resolved(Path::new("env"), &all)
    };
    let read = |rel: &str| std::fs::read_to_string(project.join(rel)).unwrap();
    let write = |rel: &str, text: &str| std::fs::write(project.join(rel), text).unwrap();

    // init over the stack's own config; its wp-config.php goes into the release's directory.
    cutover(&["init", "--preset", "wordpress", "--force"]).ok();
    std::fs::rename(project.join("wp-config.php"), project.join("app/wp-config.php")).unwrap();
    std::fs::write(scratch.path().join("install.php"), INSTALL).unwrap();
    let path = format!("path = \"{}\"", SshHosts::DEPLOY_PATH);
    let toml = read("cutover.toml")
        .replacen("source = \".\"", "source = \"app\"", 1)
        .replacen("url = \"https://staging.example.com\"", &format!("url = \"{staging_url}\""), 1)
        .replacen(
            "hosts = [\"deploy@staging.example.com\"]",
            &format!("hosts = [\"{}\"]", stack.hosts.alias(staging_host)),
            1,
        )
        .replacen("url = \"https://example.com\"", &format!("url = \"{}\"", stack.url), 1)
        .replacen("aliases = [\"www.example.com\"]", &format!("aliases = [\"{ALIAS}\"]"), 1)
        .replacen("hosts = [\"deploy@web1.example.com\"]", "hosts = [\"h1\"]", 1)
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
        .replacen("# web_test = \"sudo nginx -t\"", &format!("web_test = \"nginx -t -q -c {NGINX_CONF}\""), 1)
        // The shop's migrations, run by the release's own runner; staging's window shortened.
        .replacen("migrate = []", "migrate = [\"php shop-migrate.php\"]", 1)
        .replacen("staging_window = \"24h\"", "staging_window = \"6s\"", 1)
        .replacen(
            "[seed]\n",
            &format!("[seed]\ninstaller = \"php {}\"\n", scratch.path().join("install.php").display()),
            1,
        );
    write("cutover.toml", &format!("{toml}\n"));
    cutover(&["config", "check"]).ok();
    // Both environments' certificates from Pebble, with the preset's config.
    stack.issue_certificates();

    let (staging_db, prod_db) = (Db::create(Kind::Mariadb), Db::create(Kind::Mariadb));
    let mut users = Vec::new();
    for (env, db) in [("staging", &staging_db), ("production", &prod_db)] {
        cutover(&["--env", env, "secrets", "rotate"]).ok();
        let password = cutover(&["--env", env, "secrets", "get", "DB_PASSWORD", "--reveal"]).ok().stdout;
        let user = MariaUser::create(
            &MariaUser::unique_name("cutover_wp"),
            &["127.0.0.1"],
            Some(password.trim_end_matches('\n')),
            &[&db.name],
        );
        let template = format!(".env.{env}.template");
        let text: Vec<String> = read(&template)
            .lines()
            .map(|line| match line.split_once('=').map(|(k, _)| k) {
                Some("DB_NAME") => format!("DB_NAME={}", db.name),
                Some("DB_USER") => format!("DB_USER={}", user.name),
                Some("DB_HOST") => "DB_HOST=127.0.0.1".to_owned(),
                _ => line.to_owned(),
            })
            .collect();
        write(&template, &format!("{}\n", text.join("\n")));
        users.push(user);
    }

    // Staging: installed, its content made, and set up as its owner leaves it for launch (the
    // preset's pre-flight checks): a mail plugin's settings, the privacy policy published.
    cutover(&["--env", "staging", "deploy", "--seed", "fresh"]).ok();
    let out = php_on(&stack.hosts, scratch.path(), staging_host, &content());
    let installed: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let setup = r#"<?php
require getcwd() . '/wp-load.php';
update_option('wp_mail_smtp', ['mail' => ['mailer' => 'smtp', 'from_email' => 'owner@shop.wp.test']]);
$privacy = (int) get_option('wp_page_for_privacy_policy');
wp_publish_post($privacy);
echo get_post_status($privacy);
"#;
    assert_eq!(php_on(&stack.hosts, scratch.path(), staging_host, setup).trim(), "publish");
    // Staging's release smoked and watched for `staging_window` (pre-flight's item 1), so that
    // nothing is deferred at go-live and the next release may go straight to production.
    cutover(&["--env", "staging", "smoke"]).ok();
    cutover(&["--env", "staging", "monitor", "--window", "6s", "--interval", "2s"]).ok();

    cutover(&["path", "fast"]).ok();
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        cutover(&["attest", item, "--by", "Ana", "--note", "in the runbook"]).ok();
    }
    let started = std::time::Instant::now();
    let run = cutover(&["--json", "-y", "launch", "--seed"]);
    let wall = started.elapsed();
    assert_eq!(run.code, 0, "launch failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    let report = run.json();
    let verdicts: Vec<(String, String)> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap().to_owned(), s["verdict"].as_str().unwrap().to_owned()))
        .collect();
    assert!(verdicts.iter().all(|(_, v)| v == "passed"), "{report:#}");
    assert_eq!(verdicts.len(), 5, "{report:#}");
    let issuer = stack.served_issuer(&stack.url, None).expect("the production URL's chain verifies to Pebble's root");
    assert!(issuer.contains("Pebble Intermediate"), "{issuer}");
    // Each stage's time, which together fit in the command's.
    let took: Vec<u64> =
        report["stages"].as_array().unwrap().iter().map(|s| s["duration_ms"].as_u64().unwrap()).collect();
    assert!(took.iter().sum::<u64>() <= wall.as_millis() as u64, "{took:?} in {wall:?}");
    if let Some(file) = std::env::var_os("CUTOVER_BENCH_LAUNCH") {
        bench_line(Path::new(&file), &report, wall);
    }

    // Production, read back at its URL through DNS: the post's links rewritten, the upload there.
    let upload = installed["upload"].as_str().unwrap().replace(&staging_url, &stack.url);
    let (status, page) = stack.get(&format!("{}/?p={}", stack.url, installed["post"]), None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("href=\"{upload}\"")) && !page.contains("staging.shop.test"), "{page}");
    assert_eq!(stack.get(&upload, None), (200, "a photo of the shop\n".to_owned()));
    let widget = "<?php require getcwd() . '/wp-load.php'; echo get_option('widget_text')[2]['text'];";
    assert_eq!(php_on(&stack.hosts, scratch.path(), 1, widget), format!("Visit {}/ today", stack.url));
    let (status, home) = stack.get(&format!("{}/", stack.url), None);
    assert_eq!(status, 200, "{home}");
    assert!(home.contains(&find_us(&stack.url)) && home.trim_end().ends_with("</html>"), "{home}");

    // Stage 5, briefly: the monitor's window passes.
    let run = cutover(&["monitor", "--window", "10s", "--interval", "2s"]);
    assert_eq!(run.code, 0, "the monitor failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);

    // A second release with a PHP fatal in `wp_footer` after 4 KB of it: a 200 page cut short
    // with no error text. The preset's `complete = true` fails it, and the deploy rolls itself
    // back (exit 5) to the launched release, which serves the whole page again.
    let launched = current(&stack.hosts.deploy_dir(1)).expect("the launched release");
    let footer = project.join("app/wp-content/mu-plugins/footer.php");
    std::fs::write(&footer, BROKEN_FOOTER).unwrap();
    let run = cutover(&["-y", "deploy"]);
    assert_eq!(run.code, 5, "the broken release was not rolled back\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("failed its checks after the switch"), "{}", run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("home") && l.contains(" 200 ") && l.contains("without </html>: cut short")),
        "{}",
        run.stdout
    );
    assert_eq!(current(&stack.hosts.deploy_dir(1)).as_deref(), Some(launched.as_str()));
    let (status, home) = stack.get(&format!("{}/", stack.url), None);
    assert_eq!(status, 200, "{home}");
    assert!(home.contains(&find_us(&stack.url)) && home.trim_end().ends_with("</html>"), "{home}");
    assert!(!home.contains("the shop's footer"), "the broken footer is still served:\n{home}");
    std::fs::remove_file(&footer).unwrap();

    // A third release, whose migration goes wrong: undone by `rollback --with-db`.
    let site =
        Launched { stack: &stack, scratch: scratch.path(), db: &prod_db, post: installed["post"].as_u64().unwrap() };
    a_bad_migration_is_undone_by_rollback_with_db(&site, &cutover, &|rel, text| {
        let path = project.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    });
}

/// The shop's migration runner, `[hooks] migrate`: each `wp-content/shop-migrations/*.php` not
/// run yet, in name order, inside WordPress, recorded in the option `shop_migrations`.
const MIGRATE: &str = r#"<?php
require __DIR__ . '/wp-load.php';
$done = get_option('shop_migrations', []);
$files = glob(__DIR__ . '/wp-content/shop-migrations/*.php') ?: [];
sort($files);
$ran = 0;
foreach ($files as $file) {
    $name = basename($file);
    if (in_array($name, $done, true)) {
        continue;
    }
    require $file;
    $done[] = $name;
    update_option('shop_migrations', $done, false);
    echo "migrated: $name\n";
    $ran++;
}
if ($ran === 0) {
    echo "nothing to migrate\n";
}
"#;

/// A migration meant to tidy the demo content away before the shop opens, which destroys what
/// WordPress needs: every post deleted (not only the demo one), the site's URLs pointed at the
/// old domain, the "Find us" widget removed, the comments table dropped, a column added to the
/// posts. Every statement succeeds, and so does the deploy: the site still answers 200.
const BAD_MIGRATION: &str = r#"<?php
global $wpdb;
foreach ([
    "ALTER TABLE {$wpdb->posts} ADD COLUMN shop_sku VARCHAR(32) NULL",
    "DELETE FROM {$wpdb->posts} WHERE post_type IN ('post', 'revision')",
    "DROP TABLE {$wpdb->comments}",
] as $sql) {
    if ($wpdb->query($sql) === false) {
        fwrite(STDERR, "$sql: {$wpdb->last_error}\n");
        exit(1);
    }
}
update_option('home', 'https://old-shop.example');
update_option('siteurl', 'https://old-shop.example');
delete_option('widget_text');
"#;
const BAD_MIGRATION_NAME: &str = "2026-12-04-tidy-demo-content.php";

/// A must-use plugin: the "Find us" text widget at the foot of every page (the theme, a block
/// theme, has no widget areas).
const FIND_US: &str = r#"<?php
add_action('wp_footer', function () {
    $widget = get_option('widget_text');
    if (is_array($widget) && isset($widget[2]['text'])) {
        echo '<p class="find-us">' . esc_html($widget[2]['title'] . ': ' . $widget[2]['text']) . "</p>\n";
    }
});
"#;

/// The "Find us" line a page of the site at `url` ends with.
fn find_us(url: &str) -> String {
    format!("<p class=\"find-us\">Find us: Visit {url}/ today</p>")
}

/// What WordPress itself reads from production's database, in php-cli in the live release:
/// home and siteurl as stored, the widget, the posts' titles, the comments, the migrations run.
const READ_BACK: &str = r#"<?php
require getcwd() . '/wp-load.php';
global $wpdb;
$widget = get_option('widget_text');
echo json_encode([
    'home' => $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = 'home'"),
    'siteurl' => $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = 'siteurl'"),
    'widget' => is_array($widget) && isset($widget[2]['text']) ? $widget[2]['text'] : null,
    'posts' => array_map(fn ($p) => $p->post_title, get_posts(['numberposts' => -1, 'post_type' => 'post'])),
    'comments' => $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->comments}"),
    'migrations' => get_option('shop_migrations', []),
]);
"#;

/// A table as MariaDB has it: its rows, its `CHECKSUM TABLE` and its columns (name and type,
/// in order).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    rows: u64,
    checksum: String,
    columns: String,
}

/// Every table of `db`, read by the test as root (not through cutover).
fn tables(db: &Db) -> std::collections::BTreeMap<String, Table> {
    let names: Vec<String> = db.query("SHOW TABLES").lines().map(str::to_owned).collect();
    assert!(!names.is_empty(), "no tables in {}", db.name);
    let quoted: Vec<String> = names.iter().map(|t| format!("`{t}`")).collect();
    let sums = db.query(&format!("CHECKSUM TABLE {}", quoted.join(", ")));
    let counts = db.query(
        &names.iter().map(|t| format!("SELECT '{t}', COUNT(*) FROM `{t}`")).collect::<Vec<_>>().join(" UNION ALL "),
    );
    let columns = db.query(&format!(
        "SET SESSION group_concat_max_len = 65536; SELECT TABLE_NAME, GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', \
         COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = \
         '{}' GROUP BY TABLE_NAME",
        db.name
    ));
    let field = |text: &str, table: &str, strip: &str| -> String {
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(name, _)| name.strip_prefix(strip).unwrap_or(name) == table)
            .map(|(_, v)| v.to_owned())
            .unwrap_or_else(|| panic!("{table} not in:\n{text}"))
    };
    let prefix = format!("{}.", db.name);
    names
        .iter()
        .map(|t| {
            let table = Table {
                rows: field(&counts, t, "").parse().unwrap(),
                checksum: field(&sums, t, &prefix),
                columns: field(&columns, t, ""),
            };
            (t.clone(), table)
        })
        .collect()
}

/// The launched site, for what comes after the launch.
struct Launched<'a> {
    stack: &'a support::stack::Stack,
    scratch: &'a Path,
    /// Production's database.
    db: &'a Db,
    /// Staging's post, copied to production by the seed.
    post: u64,
}

impl Launched<'_> {
    /// [`READ_BACK`] on production's host.
    fn read_back(&self) -> serde_json::Value {
        let out = php_on(&self.stack.hosts, self.scratch, 1, READ_BACK);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// `path` at production's URL, through DNS: status and body.
    fn page(&self, path: &str) -> (u16, String) {
        self.stack.get(&format!("{}{path}", self.stack.url), None)
    }
}

/// Release 2 carries a bad migration: the deploy snapshots production's database before
/// `[hooks] migrate`, the migration destroys posts, options, a widget and a table, and the
/// deploy succeeds. `rollback --with-db -y` says first what will be lost (each table changed
/// since the snapshot, with its rows then and now: the same tables the test sees changed),
/// then restores the database and switches the code back. Afterwards every table has the rows,
/// checksum and columns it had before the deploy, and WordPress reads back what it read before:
/// in php-cli in the live release (home, siteurl, the widget, the posts) and over nginx at the
/// production URL (the post, its links, the widget in the footer).
fn a_bad_migration_is_undone_by_rollback_with_db(
    site: &Launched<'_>,
    cutover: &dyn Fn(&[&str]) -> Run,
    write: &dyn Fn(&str, &str),
) {
    let (url, post) = (site.stack.url.as_str(), site.post);
    let deploy_dir = site.stack.hosts.deploy_dir(1);
    let launched = current(&deploy_dir).expect("the launched release");
    let read = site.read_back();
    assert_eq!(read["home"], url, "{read}");
    assert_eq!(read["posts"].as_array().map(|p| p.iter().any(|t| t == POST_TITLE)), Some(true), "{read}");
    assert_eq!(read["migrations"], serde_json::json!([]), "{read}");
    // Read after WordPress ran (it may write its cron's transients): nothing runs it again
    // before the deploy's snapshot.
    let before = tables(site.db);

    write(&format!("app/wp-content/shop-migrations/{BAD_MIGRATION_NAME}"), BAD_MIGRATION);
    let run = cutover(&["-y", "deploy"]);
    assert_eq!(run.code, 0, "the deploy of the bad migration\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("before migrate (snapshot"), "{}", run.stderr);
    let bad = current(&deploy_dir).expect("release 2 is live");
    assert_ne!(bad, launched);

    // What it did, as WordPress shows it: no post, the old domain, no widget, no comments.
    let damaged = site.read_back();
    assert_eq!(
        damaged,
        serde_json::json!({
            "home": "https://old-shop.example", "siteurl": "https://old-shop.example", "widget": null,
            "posts": [], "comments": null, "migrations": [BAD_MIGRATION_NAME],
        })
    );
    assert_eq!(site.page(&format!("/?p={post}")).0, 404);
    let (status, home) = site.page("/");
    assert_eq!(status, 200, "{home}");
    assert!(!home.contains(POST_TITLE) && !home.contains("find-us"), "{home}");
    let now = tables(site.db);
    let mut changed: Vec<&String> = before.keys().chain(now.keys()).filter(|t| before.get(*t) != now.get(*t)).collect();
    changed.sort();
    changed.dedup();
    for table in ["wp_comments", "wp_options", "wp_posts"] {
        assert!(changed.iter().any(|t| *t == table), "{table} unchanged? {changed:?}");
    }

    let run = cutover(&["rollback", "--with-db", "-y"]);
    assert_eq!(run.code, 0, "rollback --with-db\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    // What will be lost, said before the restore: each table changed, with its rows then and now.
    let said = run.stderr.find("undoes what changed since in").unwrap_or_else(|| panic!("{}", run.stderr));
    let restoring = run.stderr.find("==> restoring production's").unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(said < restoring, "{}", run.stderr);
    let lost: Vec<&str> = run.stderr[said..restoring].lines().filter_map(|l| l.strip_prefix("    ")).collect();
    let expected: Vec<String> = changed
        .iter()
        .map(|t| match (before.get(*t), now.get(*t)) {
            (Some(b), None) => format!("`{t}` (dropped since, had {} rows)", b.rows),
            (None, Some(n)) => format!("`{t}` (added since, {} rows)", n.rows),
            (Some(b), Some(n)) if b.rows == n.rows => format!("`{t}` ({} rows, contents changed)", n.rows),
            (Some(b), Some(n)) => format!("`{t}` ({} → {} rows)", b.rows, n.rows),
            (None, None) => unreachable!(),
        })
        .collect();
    assert_eq!(lost, expected, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("its database restored from snapshot {bad}")), "{}", run.stderr);
    assert_eq!(current(&deploy_dir).as_deref(), Some(launched.as_str()), "the code is back");

    // The database as it was before the deploy, table by table: rows, checksum, columns.
    assert_eq!(tables(site.db), before);
    // WordPress reads back what it read before, in php-cli in the live release...
    let after = site.read_back();
    assert_eq!(after, read);
    assert_eq!((&after["home"], &after["siteurl"]), (&serde_json::json!(url), &serde_json::json!(url)), "{after}");
    assert_eq!(after["widget"], format!("Visit {url}/ today").as_str(), "{after}");
    // ...and over nginx at the production URL: the post, its links, the widget.
    let (status, home) = site.page("/");
    assert_eq!(status, 200, "{home}");
    assert!(
        home.contains(POST_TITLE) && home.contains(&find_us(url)) && home.trim_end().ends_with("</html>"),
        "{home}"
    );
    let (status, page) = site.page(&format!("/?p={post}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("href=\"{url}/?page_id=2\"")) && page.contains(&find_us(url)), "{page}");
}

/// For bench/wordpress_launch.sh: appends the launch's stages and times, and its wall time, to
/// `file` as one JSON line.
fn bench_line(file: &Path, report: &serde_json::Value, wall: std::time::Duration) {
    use std::io::Write;
    let stages: Vec<serde_json::Value> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::json!({ "stage": s["stage"], "verdict": s["verdict"], "duration_ms": s["duration_ms"] }))
        .collect();
    let line = serde_json::json!({ "wall_ms": wall.as_millis() as u64, "stages": stages });
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap();
    writeln!(out, "{line}").unwrap();
}
