//! A check's body conditions (`body_contains`, `body_not_contains`, `body_regex`, `complete`),
//! judged on what the client kept of a body: its first [`KEEP_BODY`] bytes and its last
//! [`KEEP_TAIL`], the whole body having streamed by (up to `max_body`).
//!
//! `complete` judges how the body really ends, at any length: the client reads every body to its
//! end and keeps the last [`KEEP_TAIL`] bytes, so a page longer than [`KEEP_BODY`] is never called
//! cut short because cutover stopped keeping it. A PHP fatal after the headers went out (a theme
//! calling an undefined function in `wp_footer`, with `display_errors` off) leaves a 200 whose
//! page stops where the output stopped, with no error text: only its end tells.

use cutover_config::human;
use cutover_http::Body;
use cutover_http::text::cut;

use super::{Check, KEEP_BODY};

/// How much of a body's end is kept for `complete` (and searched by `body_contains` and
/// `body_not_contains` past [`KEEP_BODY`], where a PHP error printed at the end would be).
pub const KEEP_TAIL: usize = 64 << 10;

/// How much of a condition or of the server's text a problem quotes.
const QUOTE_MAX: usize = 60;

/// What the client must keep of a body for `check`: `(from its start, from its end)`.
pub(super) fn keep(check: &Check) -> (usize, usize) {
    let searches = !check.body_contains.is_empty() || !check.body_not_contains.is_empty();
    let start = if searches || check.body_regex.is_some() { KEEP_BODY } else { 0 };
    let end = if searches || check.complete { KEEP_TAIL } else { 0 };
    (start, end)
}

/// Every body condition of `check` that `body` fails, each saying which and why, in the order
/// they are written: `body_contains`, `body_not_contains`, `body_regex`, `complete`.
pub(super) fn problems(check: &Check, body: &Body) -> Vec<String> {
    let mut problems = Vec::new();
    let (tail_start, _) = body.end();
    let searched = if body.truncated() {
        let tail = if tail_start > body.kept.len() as u64 {
            format!(" and last {}", human::bytes(body.total - tail_start))
        } else {
            String::new()
        };
        format!(" (looked at its first {}{tail} of {})", human::bytes(body.kept.len() as u64), human::bytes(body.total))
    } else {
        String::new()
    };
    for needle in &check.body_contains {
        if find(body, needle).is_none() {
            problems.push(format!("body does not contain {:?}{searched}", cut(needle, QUOTE_MAX)));
        }
    }
    for needle in &check.body_not_contains {
        if let Some(at) = find(body, needle) {
            problems.push(format!("body contains {:?} (at byte {at})", cut(needle, QUOTE_MAX)));
        }
    }
    if let Some(re) = &check.body_regex
        && !re.is_match(&String::from_utf8_lossy(&body.kept))
    {
        let scope = if body.truncated() {
            format!(" (looked at its first {} of {})", human::bytes(body.kept.len() as u64), human::bytes(body.total))
        } else {
            String::new()
        };
        problems.push(format!("body does not match /{}/{scope}", cut(re.as_str(), QUOTE_MAX)));
    }
    if check.complete
        && let Some(problem) = incomplete(body)
    {
        problems.push(problem);
    }
    problems
}

/// Where `needle` first appears in the kept start of `body`, else in its kept end.
fn find(body: &Body, needle: &str) -> Option<u64> {
    let needle = needle.as_bytes();
    if let Some(at) = memchr::memmem::find(&body.kept, needle) {
        return Some(at as u64);
    }
    let (start, end) = body.end();
    if !body.truncated() {
        return None;
    }
    memchr::memmem::find(end, needle).map(|at| start + at as u64)
}

/// Why `body` is not a whole HTML document, or `None` when it is (or when its end cannot tell).
fn incomplete(body: &Body) -> Option<String> {
    let (start, end) = body.end();
    match ending(end, start > 0) {
        Ending::Whole | Ending::Unknown => None,
        Ending::Missing if body.total == 0 => Some("the page is empty: no </html>".into()),
        Ending::Missing => Some(format!("the page ends at byte {} without </html>: cut short", body.total)),
        Ending::After(at) => {
            let text = String::from_utf8_lossy(&end[at..end.len().min(at + 4 * QUOTE_MAX)]).into_owned();
            Some(format!("the page goes on after </html> (at byte {}): {:?}", start + at as u64, cut(text.trim(), 40)))
        }
    }
}

/// How a body's end ends, as an HTML document.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// `</html>`, then only whitespace and comments.
    Whole,
    /// No `</html>`.
    Missing,
    /// `</html>`, then something else than whitespace and comments, from this index on.
    After(usize),
    /// The end kept (a body's last bytes, `partial`) is whitespace and comments from its start
    /// on, or the end of a comment and then those: it may all come after a `</html>` before it.
    Unknown,
}

/// How `end` ends: the last `</html>` (any case, `</html >` too) and what follows it. `partial`:
/// `end` is the last part of a longer body.
fn ending(end: &[u8], partial: bool) -> Ending {
    let Some(close) = last_close_html(end) else {
        if partial {
            // Past a comment's end that the kept part starts inside of, or from its start.
            let from = match (memchr::memmem::find(end, b"-->"), memchr::memmem::find(end, b"<!--")) {
                (Some(close), open) if open.is_none_or(|open| close < open) => close + 3,
                _ => 0,
            };
            if trailer(&end[from..]).is_none() {
                return Ending::Unknown;
            }
        }
        return Ending::Missing;
    };
    match trailer(&end[close..]) {
        None => Ending::Whole,
        Some(at) => Ending::After(close + at),
    }
}

/// The index just past the last `</html>` in `text`.
fn last_close_html(text: &[u8]) -> Option<usize> {
    memchr::memrchr_iter(b'<', text).find_map(|at| {
        let rest = &text[at..];
        let named = rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"</html");
        let after = named.then(|| rest[6..].iter().position(|b| !b.is_ascii_whitespace()))??;
        (rest[6 + after] == b'>').then_some(at + 6 + after + 1)
    })
}

/// The index of the first byte in `text` that is neither whitespace nor in a comment (a comment
/// left open runs to the end), or `None`.
fn trailer(text: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += text[at..].iter().position(|b| !b.is_ascii_whitespace())?;
        if !text[at..].starts_with(b"<!--") {
            return Some(at);
        }
        at += 4 + memchr::memmem::find(&text[at + 4..], b"-->")? + 3;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cutover_http::Url;

    use super::*;
    use crate::smoke::Regex;

    /// A body as the client keeps it for `check`, pushed in pieces of 1000 bytes.
    fn body_of(check: &Check, data: &[u8]) -> Body {
        let (start, end) = keep(check);
        let mut body = Body::with_tail(start, end, u64::MAX);
        for piece in data.chunks(1000) {
            body.push(piece).unwrap();
        }
        body
    }

    fn check() -> Check {
        let mut check = Check::new("home", Url::parse("https://shop.example.com/").unwrap());
        check.timeout = Duration::from_secs(1);
        check
    }

    /// What WordPress 6.1's `WP_Fatal_Error_Handler` sends (rendered by Debian's `wordpress`
    /// package with `wp_die`'s default handler; the styles shortened).
    const WP_CRITICAL: &str = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n\t<meta http-equiv=\"Content-Type\" \
         content=\"text/html; charset=UTF-8\" />\n\t<meta name=\"viewport\" content=\"width=device-width\">\n\t\t\t\
         <title>WordPress &rsaquo; Error</title>\n\t<style type=\"text/css\">\n\t\thtml {\n\t\t\tbackground: #f1f1f1;\n\
         \t\t}\n\t\t\t</style>\n</head>\n<body id=\"error-page\">\n\t<div class=\"wp-die-message\"><p>There has been a \
         critical error on this website.</p><p><a href=\"https://wordpress.org/support/article/faq-troubleshooting/\">\
         Learn more about troubleshooting WordPress.</a></p></div></body>\n</html>\n\t";

    /// A page of `len` bytes or a little more that ends as a document should.
    fn page(len: usize) -> String {
        let mut page = String::from("<!DOCTYPE html>\n<html><head><title>Shop</title></head><body>\n");
        let mut i = 0;
        while page.len() < len {
            page.push_str(&format!("<p>Product {i}: lorem ipsum dolor sit amet</p>\n"));
            i += 1;
        }
        page + "</body>\n</HTML>\n<!-- generated in 0.12 s -->\n\n"
    }

    #[test]
    fn a_whole_page_passes_every_condition() {
        let mut check = check();
        check.body_contains = vec!["<title>Shop</title>".into(), "Product 3:".into()];
        check.body_not_contains = vec!["Fatal error".into(), "There has been a critical error".into()];
        check.body_regex = Some(Regex::new(r"(?i)<!doctype html>").unwrap());
        check.complete = true;
        assert_eq!(problems(&check, &body_of(&check, page(5000).as_bytes())), Vec::<String>::new());
    }

    #[test]
    fn a_page_cut_short_fails_complete_saying_where_it_ends() {
        let mut check = check();
        check.complete = true;
        let page = page(5000);
        let cut_at = page.find("</body>").unwrap();
        let problems = problems(&check, &body_of(&check, &page.as_bytes()[..cut_at]));
        assert_eq!(problems, [format!("the page ends at byte {cut_at} without </html>: cut short")]);
        let empty = super::problems(&check, &body_of(&check, b""));
        assert_eq!(empty, ["the page is empty: no </html>"]);
    }

    #[test]
    fn text_after_the_end_fails_complete_but_whitespace_and_comments_do_not() {
        let mut check = check();
        check.complete = true;
        let warned =
            "<html><body>ok</body></html>\n<br />\n<b>Warning</b>:  Undefined variable $x in <b>/srv/footer.php</b>";
        let problems = problems(&check, &body_of(&check, warned.as_bytes()));
        assert_eq!(
            problems,
            ["the page goes on after </html> (at byte 29): \"<br />\\n<b>Warning</b>:  Undefined varia…\""]
        );
        for fine in [
            "<html></html>",
            "<html></html >  \r\n",
            "<html></Html><!-- a --> <!-- b -->\n",
            "<html></html><!-- cache: stored at 12:00, a comment cut sh",
            WP_CRITICAL,
        ] {
            assert_eq!(super::problems(&check, &body_of(&check, fine.as_bytes())), Vec::<String>::new(), "{fine:?}");
        }
        for cut in ["<html><body></html", "<html><body></htm", "<html><body>", "</html>x"] {
            assert_eq!(super::problems(&check, &body_of(&check, cut.as_bytes())).len(), 1, "{cut:?}");
        }
    }

    #[test]
    fn a_page_longer_than_what_is_kept_is_judged_by_its_real_end() {
        let mut check = check();
        check.complete = true;
        check.body_not_contains = vec!["Fatal error".into()];
        // 3 MiB: far past the 1 MiB kept from the start.
        let whole = page(3 << 20);
        let body = body_of(&check, whole.as_bytes());
        assert!(body.truncated());
        assert_eq!(problems(&check, &body), Vec::<String>::new());
        // Cut short at 2 MiB: said with the real length, not where cutover stopped keeping it.
        let cut_short = &whole.as_bytes()[..2 << 20];
        assert_eq!(
            problems(&check, &body_of(&check, cut_short)),
            [format!("the page ends at byte {} without </html>: cut short", 2 << 20)]
        );
        // An error printed at the very end of a long page is found in its kept end.
        let fatal = format!("{}<br />\n<b>Fatal error</b>:  Uncaught Error", &whole[..2 << 20]);
        let problems = problems(&check, &body_of(&check, fatal.as_bytes()));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0], format!("body contains \"Fatal error\" (at byte {})", (2 << 20) + 10));
        // The last 64 KiB all whitespace and comments: the end cannot tell, so no failure.
        let padded = format!("{}\n<!--{}-->\n", &whole[..2 << 20], "x".repeat(KEEP_TAIL));
        assert_eq!(super::problems(&check, &body_of(&check, padded.as_bytes())), Vec::<String>::new());
    }

    #[test]
    fn a_critical_error_page_fails_body_not_contains_and_each_failure_is_said() {
        let mut check = check();
        check.body_contains = vec!["<title>Shop</title>".into()];
        check.body_not_contains = vec![
            "There has been a critical error".into(),
            "Fatal error".into(),
            "Error establishing a database connection".into(),
        ];
        check.body_regex = Some(Regex::new("Product [0-9]+").unwrap());
        check.complete = true;
        let problems = problems(&check, &body_of(&check, WP_CRITICAL.as_bytes()));
        let at = WP_CRITICAL.find("There has been").unwrap();
        assert_eq!(
            problems,
            [
                "body does not contain \"<title>Shop</title>\"".to_string(),
                format!("body contains \"There has been a critical error\" (at byte {at})"),
                "body does not match /Product [0-9]+/".to_string(),
            ]
        );
    }

    #[test]
    fn a_miss_past_what_is_kept_says_what_was_looked_at() {
        let mut check = check();
        check.body_contains = vec!["needle".into()];
        let problems = problems(&check, &body_of(&check, page(2 << 20).as_bytes()));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("body does not contain \"needle\" (looked at its first 1 MiB and last 64 KiB of 2"),
            "{problems:?}"
        );
    }

    #[test]
    fn what_is_kept_follows_the_conditions() {
        let mut check = check();
        assert_eq!(keep(&check), (0, 0));
        check.complete = true;
        assert_eq!(keep(&check), (0, KEEP_TAIL));
        check.body_not_contains = vec!["x".into()];
        assert_eq!(keep(&check), (KEEP_BODY, KEEP_TAIL));
        check.complete = false;
        check.body_not_contains.clear();
        check.body_regex = Some(Regex::new("x").unwrap());
        assert_eq!(keep(&check), (KEEP_BODY, 0));
    }
}
