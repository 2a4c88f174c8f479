//! Presets: the commented `cutover.toml` that `cutover init` writes for each kind of app.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Generic,
    Laravel,
    Wordpress,
}

impl Preset {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "generic" => Some(Self::Generic),
            "laravel" => Some(Self::Laravel),
            "wordpress" => Some(Self::Wordpress),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Laravel => "laravel",
            Self::Wordpress => "wordpress",
        }
    }

    /// A complete, valid config with a comment on every setting.
    pub fn template(self, app_name: &str) -> String {
        let (exclude, shared, build, before, after) = match self {
            Self::Generic => (
                r#"[".git/", "node_modules/", ".env", ".env.*"]"#,
                r#"[]"#,
                "# build = \"npm ci && npm run build\"",
                "[]",
                "[]",
            ),
            Self::Laravel => (
                r#"[".git/", "node_modules/", "vendor/", "storage/", "bootstrap/cache/*.php", ".env", ".env.*", "tests/"]"#,
                r#"["storage/", ".env"]"#,
                "# build = \"npm ci && npm run build\"",
                LARAVEL_BEFORE_SWITCH,
                r#"["php artisan queue:restart"]"#,
            ),
            Self::Wordpress => (
                r#"[".git/", ".env", ".env.*", "wp-content/uploads/", "wp-content/cache/"]"#,
                r#"["wp-content/uploads/"]"#,
                "# build = \"composer install --no-dev\"",
                "[]",
                "[]",
            ),
        };
        format!(
            r#"# cutover.toml: how `cutover` takes {app_name} from staging to production.
# Reference: `cutover config check` validates this file; errors point at line and column.
version = 1

[app]
name = "{app_name}"
preset = "{preset}"
# The directory that is released (relative to this file).
source = "."
# Runs here, before upload, in `source`.
{build}
# Never uploaded. A trailing `/` is a directory; a pattern without `/` matches at any depth.
# `.env` and `.env.*` (.env.production, .env.local, .env.example, the env template) hold or
# mirror secrets and are never read from a release: production's .env is rendered on the host.
exclude = {exclude}
# Outlive releases: kept in `shared/` on each host and linked into every release.
shared = {shared}
# Releases kept on each host. The current one and the rollback target are never removed.
keep_releases = 5
# Files unchanged since the host's current release: "link" (hard links, nothing copied; a file
# written in place then changes in every release sharing it) or "copy" (copied on the host).
unchanged = "link"

[hooks]
# Run on each host, in the new release's directory, before any host switches. A failure stops
# the deploy and nothing switches.
before_switch = {before}
# Run after every host switched. A failure rolls every host back (exit code 5).
after_switch = {after}
# Run after a rollback, in the release rolled back to.
after_rollback = []
# Run once per deploy on the db host, in the new release, after every host is prepared and before
# the switch; the database is snapshotted first and restored if one fails (`rollback --with-db`
# puts it back later too).
migrate = {migrate}
# How long one hook may run on a host: past it, the hook and what it started are stopped and
# the hook fails. A background child a hook leaves (`worker &`) does not hold the deploy.
timeout = "10m"

[env.staging]
url = "https://staging.example.com"
# `local`, an alias from your ssh config, `user@host`, or `ssh://user@host:port`.
hosts = ["deploy@staging.example.com"]
# Absolute, or `~/…` for the SSH user's home (shared hosting).
path = "~/{app_name}"
{staging_env}
[env.production]
url = "https://example.com"
# More names for this environment: checked by `cutover ready`, put on the certificate.
aliases = ["www.example.com"]
hosts = ["deploy@web1.example.com"]
path = "~/{app_name}"
# The names resolve to the hosts' own addresses (as `ssh -G` finds them), unless:
# expect_ips = ["203.0.113.10"]   # a load balancer or NAT in front of the hosts
# proxy = "cloudflare"            # proxied (orange cloud): the names resolve to Cloudflare
# The committed template of production's .env: placeholders only (`${{secret:NAME}}`, `${{env:url}}`).
# Rendered on deploy into each host's shared/.env.<release> (mode 0600) and linked as the
# release's .env, so a rollback brings back the .env that release ran with.
{production_env}# db_host = "deploy@web1.example.com"   # whose client tools dump, load and snapshot (default: the first host)

# How the first release fills production's empty database (`cutover deploy --seed …`):
# "fresh" runs the installer in the new release, "copy-staging" copies staging's database
# (its URLs rewritten, Laravel values re-encrypted with production's key), "hybrid" both, with
# only `import_tables` copied.
[seed]
{seed}
[ssh]
# config = "ssh_config"   # passed to ssh as `-F FILE`; by default your own ~/.ssh/config applies
connect_timeout = "10s"
# A connected host silent this long (a dropped link) is given up, and the command ends with every
# reachable host on one release, or exits 4 naming the hosts that differ.
timeout = "30s"
# Each host's connection stays open this long after a command, so a rollback starts on an open
# connection; "0s" closes connections when cutover exits.
persist = "5m"
# How many hosts a command works at once; a larger fleet goes through in waves.
max_parallel = 128

[secrets]
# Where `${{secret:NAME}}` values come from: "vault" (an age-encrypted file, safe to commit; your key
# is ~/.config/cutover/age.key or the file CUTOVER_AGE_IDENTITY names), "env" (variables named
# CUTOVER_<ENV>_<NAME>) or "command" (any password manager's CLI).
provider = "vault"
# The vault sits beside cutover.toml, not in .cutover/ (local state that is never committed).
vault = "cutover.vault.age"
# command = "op read op://{{env}}/{{name}}/password"   # {{env}} and {{name}} are replaced; stdout is the value
# What `cutover secrets rotate` generates: app-key, password, password:N, hex:N.
{generate}

[dns]
# `cutover ready` asks every authoritative server of each name and this machine's resolvers;
# list servers here to ask only them (split-horizon DNS).
# resolvers = ["10.0.0.53:53"]
timeout = "3s"

[tls]
# CAs trusted besides the system's (a private CA); PEM, relative to this file.
# extra_ca = "ca.pem"
# Where `cutover tls issue` puts the certificate chain and key on each host (key mode 0600),
# and the directory the web server serves at `/` (for the ACME http-01 challenge).
# cert = "/etc/ssl/{app_name}/fullchain.pem"
# key = "/etc/ssl/{app_name}/privkey.pem"
# webroot = "~/{app_name}/current/public"
# reload = "sudo systemctl reload nginx"
# dns_hook = "./publish-txt.sh"   # for --challenge dns-01: gets CUTOVER_ACME_ACTION/NAME/VALUE
# email = "ops@example.com"       # the ACME account's contact
# A certificate with fewer days left warns, then fails `cutover ready`.
warn_days = 30
fail_days = 7

# Smoke checks: run by `cutover smoke`, right after every deploy (a failure rolls it back), and
# by `cutover monitor`. `url` is relative to the environment's url, or absolute.
[[check]]
name = "home"
url = "/"
expect_status = "200-399"
max_latency = "2s"
every_host = true       # also each host directly, with the public name for TLS and Host
# What the page must say (body_contains), must not say (body_not_contains; a string or a list),
# body_regex, and complete = true: the page ends with </html>, as a page a PHP fatal error cut
# short after the headers went out (a 200 with no error text) does not.
{home}{check}

[smoke]
after_deploy = true

# Stage 1, `cutover preflight`: the launch path (`cutover path`) decides which items must pass.
[preflight]
core = [3, 5, 6, 7]         # fast and iterative: these before go-live, the rest deferred
staging_window = "24h"      # a staging `cutover monitor` window this long passed first
# schema_check = "…"        # run in staging's current release; exit 0 passes
# schema_check = {{ sql = "SELECT 1 FROM migrations LIMIT 1" }}   # or a query of staging's database
require = {require}
# web_test = "sudo nginx -t"
# attest = ["payments-live"] # more items for `cutover attest ITEM --by NAME`
{preflight_check}
[gates]
max_age = "24h"             # a passed pre-flight or ready counts this long, for this config

[monitor]
window = "48h"
interval = "60s"
# Judged over the last `sliding_window` (10m) once it holds `min_samples` (30) samples.
thresholds = {{ http_req_failed = "rate<0.05", http_req_duration = "p(95)<800" }}
failure_limit = 3       # failed rounds tolerated; one more rolls back (or alerts)
on_fail = "rollback"    # or "alert"
# notify = ["slack:https://hooks.slack.com/services/…", "mailto:ops@example.com"]

# [smtp]                # for mailto: notifications
# host = "smtp.example.com"
# port = 587
# from = "cutover@example.com"
# username = "cutover"
# password_secret = "SMTP_PASSWORD"   # the secret's name in [secrets], never the password
"#,
            preset = self.name(),
            migrate = match self {
                Self::Laravel => r#"["php artisan migrate --force"]"#,
                Self::Wordpress | Self::Generic => "[]",
            },
            staging_env = env_lines(self, "staging", app_name),
            production_env = env_lines(self, "production", app_name),
            seed = match self {
                Self::Laravel =>
                    "strategy = \"fresh\"\ninstaller = \"php artisan migrate --seed --force\"\n# import_tables = [\"plans\", \"settings\"]   # with strategy = \"hybrid\"\n",
                Self::Wordpress =>
                    "strategy = \"copy-staging\"\n# The posts' permanent ids stay as WordPress wrote them; the uploads follow the database.\nskip_columns = [\"wp_posts.guid\"]\ncopy_shared = [\"wp-content/uploads/\"]\n",
                Self::Generic => "strategy = \"fresh\"\n# installer = \"./bin/setup-database\"\n",
            },
            home = self.home_check(),
            check = self.more_checks().trim_end(),
            require = match self {
                Self::Laravel => r#"["php>=8.1", "composer"]"#,
                Self::Wordpress => r#"["php>=7.4"]"#,
                Self::Generic => "[]",
            },
            preflight_check = match self {
                // Item 2: staging's own pages, relative to staging's url.
                Self::Laravel => LARAVEL_PREFLIGHT,
                Self::Wordpress => WORDPRESS_PREFLIGHT,
                Self::Generic => "",
            },
            generate = match self {
                Self::Laravel => r#"generate = { APP_KEY = "app-key", DB_PASSWORD = "password" }"#,
                Self::Wordpress => concat!(
                    r#"generate = { DB_PASSWORD = "password", AUTH_KEY = "password:64", SECURE_AUTH_KEY = "password:64", "#,
                    r#"LOGGED_IN_KEY = "password:64", NONCE_KEY = "password:64", AUTH_SALT = "password:64", "#,
                    r#"SECURE_AUTH_SALT = "password:64", LOGGED_IN_SALT = "password:64", NONCE_SALT = "password:64" }"#
                ),
                Self::Generic => r#"# generate = { DB_PASSWORD = "password" }"#,
            },
        )
    }
}

/// An environment's `env_template` and `database` lines: the PHP presets render each
/// environment's `.env` from the template `cutover init` writes, and read the database from it.
fn env_lines(preset: Preset, env: &str, app: &str) -> String {
    match preset {
        Preset::Generic => format!(
            "# The committed template of {env}'s .env: placeholders only (`${{secret:NAME}}`, `${{env:url}}`).\n\
             # Rendered on deploy into each host's shared/.env.<release> (mode 0600) and linked as the\n\
             # release's .env, so a rollback brings back the .env that release ran with.\n\
             # env_template = \".env.{env}.template\"\n\
             # Its database, for `cutover db copy`, seeding, snapshots and pre-flight's SQL checks: read\n\
             # from the rendered .env, or a URL whose password is a secret's name:\n\
             # database = \"env\"\n\
             # database = \"mysql://{app}:${{secret:DB_PASSWORD}}@127.0.0.1:3306/{app}\"\n"
        ),
        Preset::Laravel | Preset::Wordpress => format!(
            "# {env}'s .env, rendered on deploy from this committed template of placeholders into each\n\
             # host's shared/.env.<release> (mode 0600) and linked as the release's .env.\n\
             env_template = \".env.{env}.template\"\n\
             # The database is the one the rendered .env names (or a URL: \"mysql://USER:${{secret:DB_PASSWORD}}@HOST/DB\").\n\
             database = \"env\"\n"
        ),
    }
}

impl Preset {
    /// The files `cutover init` writes beside the config (never over an existing one): each
    /// environment's `.env` template, and for WordPress a `wp-config.php` that reads the
    /// rendered `.env`, so nothing secret is in the release.
    pub fn files(self, app: &str) -> Vec<(&'static str, String)> {
        match self {
            Self::Generic => Vec::new(),
            Self::Laravel => vec![
                (".env.staging.template", laravel_env("staging", app)),
                (".env.production.template", laravel_env("production", app)),
            ],
            Self::Wordpress => vec![
                (".env.staging.template", wordpress_env("staging", app)),
                (".env.production.template", wordpress_env("production", app)),
                ("wp-config.php", WP_CONFIG.to_owned()),
            ],
        }
    }

    /// What `cutover init` says about the web server: the nginx lines that let PHP see each
    /// release at its own path, so a switch is served at once (OPcache and the realpath cache
    /// key on resolved paths), and the reset for where nginx cannot be changed.
    pub fn web_server_note(self) -> Option<String> {
        let root = match self {
            Self::Generic => return None,
            Self::Laravel => "current/public",
            Self::Wordpress => "current",
        };
        Some(format!(
            "PHP must see each release at its own path, or OPcache and PHP's realpath cache keep serving the old \
             release after a switch (for minutes, or until a restart with opcache.validate_timestamps=0). In the \
             site's nginx config (root …/{root}), pass PHP the resolved path of `current`:\n\n\
             \x20   fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;\n\
             \x20   fastcgi_param DOCUMENT_ROOT $realpath_root;\n\n\
             Where the web server cannot be changed, reset OPcache after each switch as the deploy user, through \
             PHP-FPM's socket (Debian's libfcgi-bin; edit the socket's path), in [hooks]:\n\n\
             \x20   after_switch = [\'\'\'{OPCACHE_RESET}\'\'\']\n\n\
             It empties OPcache for every worker, but PHP's realpath cache only in the worker that runs it: with \
             several workers, also set `php_admin_value[realpath_cache_ttl] = 2` in the pool.\n"
        ))
    }
}

/// An `after_switch` hook that resets PHP-FPM's OPcache and realpath cache as the deploy user:
/// a one-off script in the release run by FPM itself through its socket (edit the socket's
/// path), then removed.
pub const OPCACHE_RESET: &str = r#"f=$PWD/.cutover-opcache-reset.php; printf '%s' '<?php clearstatcache(true); echo opcache_reset() ? "reset" : "off";' > "$f" && SCRIPT_FILENAME="$f" REQUEST_METHOD=GET cgi-fcgi -bind -connect /run/php/php-fpm.sock; r=$?; rm -f "$f"; exit $r"#;

fn laravel_env(env: &str, app: &str) -> String {
    let (mode, debug, db) = if env == "production" {
        ("production", "false", app.to_owned())
    } else {
        (env, "true", format!("{app}_{env}"))
    };
    format!(
        "# {env}'s .env for {app}: placeholders only, rendered by `cutover deploy` on each host.\n\
         APP_NAME={app}\nAPP_ENV={mode}\nAPP_KEY=${{secret:APP_KEY}}\n\
         # The keys APP_KEY had before its last rotation: what they sealed still opens.\n\
         APP_PREVIOUS_KEYS=\"${{secret:APP_PREVIOUS_KEYS?}}\"\nAPP_DEBUG={debug}\nAPP_URL=${{env:url}}\n\
         LOG_CHANNEL=stack\nLOG_LEVEL={}\n\
         DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\nDB_DATABASE={db}\nDB_USERNAME={db}\nDB_PASSWORD=${{secret:DB_PASSWORD}}\n\
         CACHE_STORE=file\nSESSION_DRIVER=file\nQUEUE_CONNECTION=database\n\
         MAIL_MAILER=smtp\nMAIL_HOST=smtp.example.com\nMAIL_PORT=587\nMAIL_USERNAME={app}\nMAIL_PASSWORD=${{secret:MAIL_PASSWORD}}\n\
         MAIL_FROM_ADDRESS=hello@example.com\nMAIL_FROM_NAME={app}\n",
        if env == "production" { "warning" } else { "debug" }
    )
}

fn wordpress_env(env: &str, app: &str) -> String {
    let db = if env == "production" { app.to_owned() } else { format!("{app}_{env}") };
    let mut text = format!(
        "# {env}'s .env for {app}: placeholders only, rendered by `cutover deploy` on each host and\n\
         # read by wp-config.php.\n\
         DB_NAME={db}\nDB_USER={db}\nDB_PASSWORD=${{secret:DB_PASSWORD}}\nDB_HOST=localhost\n\
         WP_HOME=${{env:url}}\nWP_SITEURL=${{env:url}}\nWP_ENVIRONMENT_TYPE={env}\nWP_DEBUG={}\n",
        if env == "production" { "false" } else { "true" }
    );
    for key in WP_SALTS {
        text += &format!("{key}=${{secret:{key}}}\n");
    }
    text
}

/// The eight keys and salts of wp-config.php, generated by `cutover secrets rotate`.
const WP_SALTS: [&str; 8] = [
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
];

/// A wp-config.php with nothing secret in it: every value from the release's `.env`.
const WP_CONFIG: &str = include_str!("presets/wp-config.php");

/// Pre-flight item 2 for WordPress: staging's settings as an operator leaves them when the site
/// is ready (WordPress's own defaults fail), through `[env.staging] database`; the tables are
/// `wp_`-prefixed as WordPress installs them (edit the prefix if wp-config.php sets another).
const WORDPRESS_PREFLIGHT: &str = r#"# Item 2: staging's superadmin setup (SQL checks need `database` in [env.staging]).
[[preflight.check]]
name = "site title set on staging"
sql = "SELECT 1 FROM wp_options WHERE option_name = 'blogname' AND option_value NOT IN ('', 'My WordPress Website', 'My Blog')"
[[preflight.check]]
name = "site URL set on staging"
sql = "SELECT 1 FROM wp_options WHERE option_name = 'siteurl' AND option_value LIKE 'http%'"
[[preflight.check]]
name = "admin email set on staging"
sql = "SELECT 1 FROM wp_options WHERE option_name = 'admin_email' AND option_value LIKE '%_@_%' AND option_value NOT LIKE '%@example.%' AND option_value NOT LIKE '%@localhost%'"
[[preflight.check]]
name = "SMTP configured on staging"   # a mail plugin's settings (WP Mail SMTP, Post SMTP, FluentSMTP, Easy WP SMTP)
sql = "SELECT 1 FROM wp_options WHERE option_name IN ('wp_mail_smtp', 'postman_options', 'fluentmail-settings', 'swpsmtp_options') AND option_value <> ''"
[[preflight.check]]
name = "privacy policy published on staging"
sql = "SELECT 1 FROM wp_options o JOIN wp_posts p ON p.ID = o.option_value WHERE o.option_name = 'wp_page_for_privacy_policy' AND p.post_status = 'publish'"
"#;

/// Laravel's `before_switch`: the directories Laravel writes under `storage/` (shared, and empty
/// on a host's first deploy, since `storage/` is never uploaded: `view:cache` and the first
/// request fail without `framework/views`), the dependencies, then the caches.
const LARAVEL_BEFORE_SWITCH: &str = concat!(
    r#"["mkdir -p storage/app/public storage/framework/cache/data storage/framework/sessions storage/framework/views storage/logs", "#,
    r#""composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader", "#,
    r#""php artisan config:cache", "php artisan route:cache", "php artisan view:cache"]"#
);

/// Pre-flight item 2 for Laravel: mail really goes out, and the health route answers.
const LARAVEL_PREFLIGHT: &str = r#"# Item 2: staging's superadmin setup.
[[preflight.check]]
name = "mail driver on staging is not log"
command = "! grep -Eq '^MAIL_(MAILER|DRIVER)=.?(log|array).?[[:space:]]*$' .env"
[[preflight.check]]
name = "health on staging"
url = "/up"
expect_status = "200"
"#;

/// What WordPress says when it breaks: its fatal-error handler's page, PHP's own error text
/// (`display_errors` on) and `wp_die`'s when the database is unreachable.
const WORDPRESS_ERRORS: &str =
    r#"["There has been a critical error", "Fatal error", "Error establishing a database connection"]"#;

/// Laravel's error pages: Whoops (`APP_DEBUG=true` with Whoops), its `errors::500` view
/// ("Server Error", `APP_DEBUG=false`) and Symfony's exception page (`APP_DEBUG=true` without
/// Whoops), by its `exception-message-wrapper` block.
const LARAVEL_ERRORS: &str = r#"["Whoops", "Server Error", "exception-message-wrapper"]"#;

impl Preset {
    /// The body conditions of the template's `home` check.
    fn home_check(self) -> String {
        match self {
            Self::Laravel => format!("body_not_contains = {LARAVEL_ERRORS}\ncomplete = true"),
            Self::Wordpress => format!("body_not_contains = {WORDPRESS_ERRORS}\ncomplete = true"),
            Self::Generic => "# body_not_contains = [\"Internal Server Error\"]\n# complete = true".into(),
        }
    }

    /// The template's checks after `home`.
    fn more_checks(self) -> String {
        match self {
            Self::Laravel => format!(
                "\n\n# Laravel's health route (Laravel 11+, `withRouting(health: '/up')`; on older versions add a\n\
                 # route that answers the same): 200 once the app boots, its page saying \"Application up\".\n\
                 [[check]]\nname = \"health\"\nurl = \"/up\"\nexpect_status = \"200\"\n\
                 body_contains = \"Application up\"\nbody_not_contains = {LARAVEL_ERRORS}\nevery_host = true\n"
            ),
            Self::Wordpress => format!(
                "\n\n# The login page renders its form (a broken plugin or theme can leave it blank).\n\
                 [[check]]\nname = \"login\"\nurl = \"/wp-login.php\"\n\
                 body_regex = 'id=\"loginform\"|name=\"log\"'\nbody_not_contains = {WORDPRESS_ERRORS}\ncomplete = true\n"
            ),
            Self::Generic => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn every_preset_template_is_a_valid_config() {
        for preset in [Preset::Generic, Preset::Laravel, Preset::Wordpress] {
            let text = preset.template("shop");
            let config = Config::parse(std::path::Path::new("cutover.toml"), &text)
                .unwrap_or_else(|e| panic!("{} template: {e}", preset.name()));
            assert_eq!(config.app.preset, preset);
            assert!(config.env("production").is_ok());
        }
    }

    #[test]
    fn the_php_presets_checks_judge_the_page_itself() {
        let parse =
            |preset: Preset| Config::parse(std::path::Path::new("cutover.toml"), &preset.template("shop")).unwrap();
        let wp = parse(Preset::Wordpress);
        let [home, login] = &wp.checks[..] else { panic!("{:?}", wp.checks) };
        for check in [home, login] {
            assert!(check.complete, "{}", check.name);
            assert_eq!(
                check.body_not_contains.0,
                ["There has been a critical error", "Fatal error", "Error establishing a database connection"]
            );
        }
        assert_eq!(login.url.as_str(), "/wp-login.php");
        assert_eq!(login.body_regex.as_ref().unwrap().as_str(), r#"id="loginform"|name="log""#);
        let laravel = parse(Preset::Laravel);
        // storage/ is shared and never uploaded: the first hook makes what Laravel writes in it.
        assert!(laravel.hooks.before_switch[0].starts_with("mkdir -p storage/app/public storage/framework/cache/data"));
        assert!(laravel.app.exclude.iter().any(|p| p.as_str() == "bootstrap/cache/*.php"));
        let [home, health] = &laravel.checks[..] else { panic!("{:?}", laravel.checks) };
        assert!(home.complete);
        assert_eq!(home.body_not_contains.0, ["Whoops", "Server Error", "exception-message-wrapper"]);
        assert_eq!((health.url.as_str(), health.expect_status.as_str()), ("/up", "200"));
        assert_eq!(health.body_contains.0, ["Application up"]);
        let generic = parse(Preset::Generic);
        assert!(!generic.checks[0].complete && generic.checks[0].body_not_contains.0.is_empty());
    }
}
