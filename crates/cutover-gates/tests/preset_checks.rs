//! The WordPress and Laravel presets' `[[check]]`s, as `cutover init` writes them, against pages
//! real PHP serves (`php -S`, `display_errors` off): a healthy site passes; a page cut short by a
//! fatal error, PHP's error text, WordPress's critical-error page, a login page without its
//! form, Laravel's and Symfony's error pages (rendered by Debian's php-laravel-framework) and a
//! missing or wrong health route each fail, saying the URL and why.

// Tests start the programs they need and say what they saw.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::net::IpAddr;
use std::path::Path;

use cutover_checks::smoke::Sample;
use cutover_config::{Config, Preset};
use cutover_gates::Plan;
use cutover_http::Trust;
use cutover_testkit::php::{
    self, CUT_SHORT, DISPLAYED_FATAL, LARAVEL_SERVER_ERROR, PhpServer, SYMFONY_EXCEPTION, WHOLE, WP_CRITICAL_ERROR,
};
use cutover_testkit::{loopback_addr, require};

/// A login page with WordPress's form (as wp-login.php renders it, shortened).
const LOGIN: &str = r#"<!DOCTYPE html>
<html lang="en-US"><head><title>Log In &lsaquo; Shop &#8212; WordPress</title></head>
<body class="login no-js login-action-login wp-core-ui">
<div id="login"><form name="loginform" id="loginform" action="/wp-login.php" method="post">
<p><label for="user_login">Username or Email Address</label>
<input type="text" name="log" id="user_login" class="input" value="" size="20" /></p>
</form></div>
</body>
</html>
"#;

/// A 200 where the login form should be, with no form (a plugin's fatal error before it).
const BLANK: &str = "<!DOCTYPE html>\n<html><head><title>Log In</title></head><body class=\"login\"></body></html>\n";

/// What Laravel's `/up` says when the application booted (the words of its health page).
const UP: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Shop</title></head>\n<body><h2>Application up</h2>\n\
                  <p>HTTP request received.</p></body>\n</html>\n";

/// The preset's checks for production, its url pointed at `server`; `edit` changes the template.
fn samples(preset: Preset, server: &PhpServer, edit: impl Fn(String) -> String) -> Vec<Sample> {
    let text = edit(preset.template("shop")).replacen(
        "url = \"https://example.com\"",
        &format!("url = \"{}\"", server.url("")),
        1,
    );
    let config = Config::parse(Path::new("/nonexistent/cutover.toml"), &text).expect("the preset parses");
    let plan = Plan::new(&config, "production", Trust::load(None).unwrap(), Vec::new()).expect("the plan");
    let samples = plan.run();
    for s in &samples {
        eprintln!("{} {}: ok={} status={:?} {:?}", s.check, s.url, s.ok, s.status, s.reason);
    }
    samples
}

fn serve(pages: &[(&str, &str)]) -> PhpServer {
    PhpServer::pages(IpAddr::V4(loopback_addr()), pages).expect("start php -S")
}

/// The sample of check `name`, which failed with a reason containing each of `says`.
#[track_caller]
fn failed<'a>(samples: &'a [Sample], name: &str, says: &[&str]) -> &'a Sample {
    let sample = samples.iter().find(|s| s.check == name).unwrap_or_else(|| panic!("no check {name}"));
    assert!(!sample.ok, "{sample:?}");
    let reason = sample.reason.as_deref().unwrap_or_default();
    for s in says {
        assert!(reason.contains(s), "{name}: {reason:?} lacks {s:?}");
    }
    sample
}

#[track_caller]
fn passed(samples: &[Sample], name: &str) {
    let sample = samples.iter().find(|s| s.check == name).unwrap_or_else(|| panic!("no check {name}"));
    assert!(sample.ok, "{sample:?}");
}

fn as_is(text: String) -> String {
    text
}

/// The home check's status widened, so the body conditions judge an error page sent with 500.
fn any_status(text: String) -> String {
    text.replacen("expect_status = \"200-399\"", "expect_status = \"200-599\"", 1)
}

#[test]
fn the_wordpress_presets_checks_pass_a_healthy_site_and_fail_each_broken_page() {
    if !require("php", php::available()) {
        return;
    }
    let healthy = serve(&[("/", WHOLE), ("/wp-login.php", LOGIN)]);
    let all = samples(Preset::Wordpress, &healthy, as_is);
    assert_eq!(all.len(), 2);
    passed(&all, "home");
    passed(&all, "login");

    // A theme's fatal error in the footer after 4 KB: a 200, cut short, no error text.
    let cut = serve(&[("/", CUT_SHORT), ("/wp-login.php", LOGIN)]);
    let all = samples(Preset::Wordpress, &cut, as_is);
    let home = failed(&all, "home", &["without </html>: cut short"]);
    assert_eq!(home.status, Some(200));
    passed(&all, "login");

    // The same with display_errors on: PHP's own words in a 200.
    let shown = serve(&[("/", DISPLAYED_FATAL), ("/wp-login.php", LOGIN)]);
    let all = samples(Preset::Wordpress, &shown, as_is);
    failed(&all, "home", &["body contains \"Fatal error\" (at byte ", "cut short"]);

    // The login page answers 200 without its form; then it is gone (404): the URL and the reason.
    let blank = serve(&[("/", WHOLE), ("/wp-login.php", BLANK)]);
    let all = samples(Preset::Wordpress, &blank, as_is);
    passed(&all, "home");
    failed(&all, "login", &[r#"body does not match /id="loginform"|name="log"/"#]);
    let gone = serve(&[("/", WHOLE)]);
    let all = samples(Preset::Wordpress, &gone, as_is);
    let login = failed(&all, "login", &["status 404, expected 200-399"]);
    assert_eq!(login.url, gone.url("/wp-login.php"));
}

#[test]
fn the_wordpress_presets_home_check_fails_wordpress_s_own_critical_error_page() {
    if !require("Debian's wordpress package", php::wordpress_available()) {
        return;
    }
    let critical = serve(&[("/", WP_CRITICAL_ERROR), ("/wp-login.php", LOGIN)]);
    let all = samples(Preset::Wordpress, &critical, as_is);
    failed(&all, "home", &["status 500"]);
    // Sent with a 200 (a plugin that catches the status), its words alone fail it.
    let all = samples(Preset::Wordpress, &critical, any_status);
    failed(&all, "home", &["body contains \"There has been a critical error\""]);
}

#[test]
fn the_laravel_presets_checks_pass_a_healthy_app_and_fail_its_error_pages_and_health_route() {
    if !require("php", php::available()) {
        return;
    }
    let healthy = serve(&[("/", WHOLE), ("/up", UP)]);
    let all = samples(Preset::Laravel, &healthy, as_is);
    assert_eq!(all.len(), 2);
    passed(&all, "home");
    passed(&all, "health");

    let cut = serve(&[("/", CUT_SHORT), ("/up", UP)]);
    failed(&samples(Preset::Laravel, &cut, as_is), "home", &["cut short"]);

    // `/up` missing, or answering without saying the application is up.
    let missing = serve(&[("/", WHOLE)]);
    failed(&samples(Preset::Laravel, &missing, as_is), "health", &["status 404, expected 200"]);
    let wrong = serve(&[("/", WHOLE), ("/up", WHOLE)]);
    failed(&samples(Preset::Laravel, &wrong, as_is), "health", &["body does not contain \"Application up\""]);
}

#[test]
fn the_laravel_presets_checks_fail_laravel_s_and_symfony_s_real_error_pages() {
    if !require("Debian's php-laravel-framework", php::laravel_available()) {
        return;
    }
    // Laravel's errors::500 view (APP_DEBUG=false), rendered by its Blade.
    let server_error = serve(&[("/", LARAVEL_SERVER_ERROR), ("/up", UP)]);
    failed(&samples(Preset::Laravel, &server_error, as_is), "home", &["status 500"]);
    let all = samples(Preset::Laravel, &server_error, any_status);
    failed(&all, "home", &["body contains \"Server Error\""]);
    // Symfony's exception page (APP_DEBUG=true without Whoops), as Laravel's handler renders it.
    let exception = serve(&[("/", SYMFONY_EXCEPTION), ("/up", UP)]);
    let all = samples(Preset::Laravel, &exception, any_status);
    failed(&all, "home", &["body contains \"exception-message-wrapper\""]);
}
