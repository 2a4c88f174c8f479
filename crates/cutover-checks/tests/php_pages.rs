//! The body conditions on pages real PHP serves (`php -S` with production's error settings):
//! a page cut short by a fatal error after 4 KB of output (a 200 with no error text) fails
//! `complete`, WordPress's own critical-error page fails `body_not_contains`, and a whole page
//! passes every condition. Each failure says which condition and why.

// Tests start the programs they need and say what they saw.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::net::IpAddr;
use std::time::Duration;

use cutover_checks::smoke::{self, Check, Regex, Sample};
use cutover_http::{Failure, Trust, Url, Via};
use cutover_testkit::php::{self, CUT_SHORT, PhpServer, WHOLE, WP_CRITICAL_ERROR};
use cutover_testkit::{loopback_addr, require};

/// `php -S` on a loopback address of its own, serving the three pages.
fn serve() -> PhpServer {
    let pages = [("/whole.php", WHOLE), ("/cut.php", CUT_SHORT), ("/critical.php", WP_CRITICAL_ERROR)];
    PhpServer::pages(IpAddr::V4(loopback_addr()), &pages).expect("start php -S")
}

fn check(server: &PhpServer, path: &str) -> Check {
    let mut check = Check::new(path, Url::parse(&server.url(path)).unwrap());
    check.timeout = Duration::from_secs(5);
    check
}

fn run(check: &Check) -> Sample {
    let sample = smoke::run(check, &Via::public(), &Trust::load(None).unwrap());
    eprintln!("{}: ok={} status={:?} {:?}", sample.check, sample.ok, sample.status, sample.reason);
    sample
}

/// Every condition the WordPress preset's home check has, and more.
fn strict(server: &PhpServer, path: &str) -> Check {
    let mut check = check(server, path);
    check.body_contains = vec!["<title>Shop</title>".into(), "Product 63:".into()];
    check.body_not_contains = vec![
        "There has been a critical error".into(),
        "Fatal error".into(),
        "Error establishing a database connection".into(),
    ];
    check.body_regex = Some(Regex::new(r"(?i)^<!doctype html>").unwrap());
    check.complete = true;
    check
}

#[test]
fn a_whole_php_page_passes_every_condition() {
    if !require("php", php::available()) {
        return;
    }
    let server = serve();
    let sample = run(&strict(&server, "/whole.php"));
    assert!(sample.ok, "{sample:?}\n{}", server.log());
    assert_eq!(sample.status, Some(200));
}

#[test]
fn a_php_fatal_after_4_kb_of_output_is_a_200_cut_short_that_fails_complete() {
    if !require("php", php::available()) {
        return;
    }
    let server = serve();
    // Status only, as the presets' home check was: the broken page passes.
    let status_only = check(&server, "/cut.php");
    assert!(run(&status_only).ok, "{}", server.log());

    let sample = run(&strict(&server, "/cut.php"));
    assert!(!sample.ok);
    assert_eq!((sample.status, sample.failure), (Some(200), Some(Failure::Body)));
    let reason = sample.reason.unwrap();
    // The page's length is where PHP stopped; no error text was sent.
    let ends =
        reason.strip_prefix("the page ends at byte ").and_then(|r| r.strip_suffix(" without </html>: cut short"));
    let at: u64 = ends.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{reason}"));
    assert!(at > 4096, "{reason}");
    // The fatal error went to PHP's log, not to the page.
    let log = std::fs::read_to_string(server.error_log()).unwrap_or_default();
    assert!(log.contains("Call to undefined function wp_footer_widgets_that_do_not_exist()"), "{log}");
}

#[test]
fn wordpress_s_critical_error_page_fails_body_not_contains() {
    if !require("Debian's wordpress package", php::wordpress_available()) {
        return;
    }
    let server = serve();
    let mut c = strict(&server, "/critical.php");
    // WordPress sends it with 500; here the body alone is judged.
    c.expect_status = "200-599".parse().unwrap();
    let sample = run(&c);
    assert_eq!((sample.ok, sample.status, sample.failure), (false, Some(500), Some(Failure::Body)), "{}", server.log());
    let reason = sample.reason.unwrap();
    let problems: Vec<&str> = reason.split("; ").collect();
    assert_eq!(problems.len(), 3, "{reason}");
    assert_eq!(problems[0], "body does not contain \"<title>Shop</title>\"");
    assert_eq!(problems[1], "body does not contain \"Product 63:\"");
    assert!(problems[2].starts_with("body contains \"There has been a critical error\" (at byte "), "{reason}");
    // The page is a whole document: `complete` alone would pass it.
    let mut complete = check(&server, "/critical.php");
    complete.expect_status = c.expect_status.clone();
    complete.complete = true;
    assert!(run(&complete).ok);
}
