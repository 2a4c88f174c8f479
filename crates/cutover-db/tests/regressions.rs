//! Bugs found by the property tests (`properties.rs`), the fuzzer (`fuzz/`) and by reading the
//! rewriter, each with the smallest input that shows it, kept as guards now they are fixed.

use std::io::Read;

use cutover_db::{Change, Dialect, DumpError, Options, Report, Rewriter, Rules, Stats, json, rewrite_dump};

const OLD: &str = "https://old.test";
const NEW: &str = "https://new.example.org";

fn rewriter(rules: &[(&str, &str)]) -> Rewriter {
    let pairs: Vec<(String, String)> = rules.iter().map(|(o, n)| ((*o).to_owned(), (*n).to_owned())).collect();
    Rewriter::new(Rules::new(&pairs).expect("valid rules"), None)
}

fn rewrite(input: &[u8], rules: &[(&str, &str)]) -> (Result<Stats, DumpError>, Vec<u8>, Vec<Report>) {
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let result = rewrite_dump(input, &mut out, &rewriter(rules), &Options::default(), &mut |r| reports.push(r));
    (result, out, reports)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A COPY block whose `\.` ends the input without a newline gets a newline added, even with no
/// rules: the promise that a run with no rules reproduces the dump exactly is broken.
#[test]
fn copy_end_marker_at_the_end_of_the_input_is_copied_exactly() {
    let input = b"-- PostgreSQL database dump\nCOPY t (a) FROM stdin;\nx\n\\.";
    let (result, out, _) = rewrite(input, &[]);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(text(&out), text(input));
}

/// In a PostgreSQL dump, `$` followed by a run of letters longer than the input buffer (1 MiB)
/// makes the look-ahead ask for more than the buffer holds: the read into the full buffer
/// returns 0, which is taken for the end of the input, and everything after is silently lost —
/// with `Ok`.
#[test]
fn a_dollar_before_a_megabyte_of_letters_does_not_cut_the_dump() {
    let mut input = b"-- PostgreSQL database dump\nSELECT $".to_vec();
    input.extend(std::iter::repeat_n(b'a', 1 << 20));
    input.extend_from_slice(b";\nINSERT INTO t VALUES ('https://old.test');\n");
    let (result, out, _) = rewrite(&input, &[]);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(out.len(), input.len(), "the output lost {} bytes", input.len() - out.len());
    assert!(out == input);
}

/// pg_dump --inserts writes `OVERRIDING SYSTEM VALUE` for tables with a GENERATED ALWAYS
/// identity column; such INSERTs are not seen as INSERTs, and their values are silently left
/// as they were (not counted, not reported).
#[test]
fn inserts_overriding_system_value_are_rewritten() {
    let input = b"-- PostgreSQL database dump\n\
        INSERT INTO public.t (id, url) OVERRIDING SYSTEM VALUE VALUES (1, 'https://old.test/a');\n";
    let (result, out, _) = rewrite(input, &[(OLD, NEW)]);
    assert_eq!(result.expect("accepted").values, 1);
    assert_eq!(
        text(&out),
        "-- PostgreSQL database dump\n\
         INSERT INTO public.t (id, url) OVERRIDING SYSTEM VALUE VALUES (1, 'https://new.example.org/a');\n"
    );
}

/// (Fixed: guard.) A value that starts with `[` was taken for JSON and, as it did not parse,
/// left as it was and reported. WordPress post content very often starts with a shortcode
/// (`[vc_row]`, `[et_pb_section]`, `[caption]`: every page of a WPBakery or Divi site), so whole
/// sites kept their staging URLs. Text that is not JSON has no lengths to keep right: the plain
/// rules apply.
#[test]
fn post_content_starting_with_a_shortcode_is_rewritten() {
    let input = b"-- MySQL dump\nINSERT INTO `wp_posts` VALUES (1,'[vc_row]<a href=\\\"https://old.test/\\\">x</a>[/vc_row]');\n";
    let (result, out, reports) = rewrite(input, &[(OLD, NEW)]);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        text(&out),
        "-- MySQL dump\nINSERT INTO `wp_posts` VALUES (1,'[vc_row]<a href=\\\"https://new.example.org/\\\">x</a>[/vc_row]');\n"
    );
    assert!(reports.is_empty(), "{:?}", reports.iter().map(|r| &r.reason).collect::<Vec<_>>());
}

/// A JSON string that holds OLD JSON-escaped (`https:\/\/…`, as in JSON stored inside JSON, or
/// text holding an escaped URL) has it escaped twice in the document (`https:\\\/\\\/…`), where
/// no form of the rule matches: the value is not even parsed, and OLD silently stays.
#[test]
fn a_url_escaped_twice_in_nested_json_is_rewritten() {
    let rw = rewriter(&[(OLD, NEW)]);
    // PHP: json_encode(['x' => json_encode(['u' => 'https://old.test'])])
    let value = br#"{"x":"{\"u\":\"https:\\\/\\\/old.test\"}"}"#;
    let mut change = Change::default();
    let out = rw.rewrite(value, &mut change).expect("the nested URL is rewritten");
    let outer: serde_json::Value = serde_json::from_slice(&out).expect("still JSON");
    let inner: serde_json::Value = serde_json::from_str(outer["x"].as_str().expect("a string")).expect("still JSON");
    assert_eq!(inner["u"], NEW);

    // The smallest case: a JSON string holding the escaped URL as text.
    let value = br#"["https:\\/\\/old.test"]"#;
    let out = rw.rewrite(value, &mut Change::default()).expect("the escaped URL is rewritten");
    let array: serde_json::Value = serde_json::from_slice(&out).expect("still JSON");
    assert_eq!(array[0], r"https:\/\/new.example.org");
}

/// PostgreSQL's E'…' strings have `\uXXXX` (and `\UXXXXXXXX`) escapes and no `\v` (`\v` is a
/// `v`). The rewriter decodes `\u00e9` as `u00e9` and `\v` as a vertical tab, so a rewritten
/// value is silently changed: `café` becomes `cafu00e9`.
#[test]
fn postgres_escape_strings_decode_as_postgres_does() {
    let input = b"-- PostgreSQL database dump\nINSERT INTO t VALUES (1, E'caf\\u00e9 \\v https://old.test');\n";
    let (result, out, _) = rewrite(input, &[(OLD, NEW)]);
    assert!(result.is_ok(), "{result:?}");
    let out = text(&out);
    let start = out.find("E'").expect("the literal") + 2;
    let end = out.rfind('\'').expect("the literal's end");
    assert_eq!(pg_escape_decode(&out[start..end]), "café v https://new.example.org", "{out}");
}

/// PostgreSQL's decoding of an E'…' body (the escapes this test needs).
fn pg_escape_decode(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                chars.next();
                out.push('\'');
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("a char"));
                }
                Some(other) => out.push(other),
                None => {}
            },
            c => out.push(c),
        }
    }
    out
}

/// `\u+041` is not JSON (serde_json refuses it), but the JSON parser reads it as `\u0041`
/// (`u32::from_str_radix` takes a `+` sign): a value that is not JSON is rewritten (and
/// silently changed to `A`) instead of being left as it was and reported.
#[test]
fn an_invalid_unicode_escape_is_not_json() {
    let value = br#"["\u+041 http://old.test"]"#;
    assert!(serde_json::from_slice::<serde_json::Value>(value).is_err());
    let result = json::rewrite(value, &mut |s: &[u8]| Some(s.to_vec()));
    assert!(result.is_err(), "{:?}", result.map(|o| o.map(|o| text(&o))));
}

/// A reader that returns at most `n` bytes a call, as a pipe or an SSH channel may.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.1.min(buf.len()).min(self.0.len());
        buf[..k].copy_from_slice(&self.0[..k]);
        self.0 = &self.0[k..];
        Ok(k)
    }
}

/// mysqldump --compatible=ansi: the `SQL_MODE='…ANSI…'` comment makes `"` a name quote, but it is
/// only noticed when the whole comment is in one read: with `--dialect mysql` (no look-ahead
/// for detection) and input that arrives a few bytes at a time, `"t"` is taken for a string,
/// the INSERT is not seen, and its values are silently left as they were. The output depends
/// on how the input was read.
#[test]
fn ansi_quotes_are_noticed_however_the_input_arrives() {
    let input = b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,ANSI' */;\n\
        INSERT INTO \"t\" VALUES ('https://old.test');\n";
    let expected = "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,ANSI' */;\n\
        INSERT INTO \"t\" VALUES ('https://new.example.org');\n";
    let options = Options { dialect: Some(Dialect::Mysql), ..Options::default() };
    for chunk in [usize::MAX, 16] {
        let mut out = Vec::new();
        let stats = rewrite_dump(Trickle(input, chunk), &mut out, &rewriter(&[(OLD, NEW)]), &options, &mut |_| {})
            .expect("accepted");
        assert_eq!(text(&out), expected, "reads of {chunk} bytes");
        assert_eq!(stats.values, 1, "reads of {chunk} bytes");
    }
}

/// JSON after an escaped newline (`\n{…}`) looked like plain text to the escaped-text fast path,
/// so a serialized string inside it kept its old length.
#[test]
fn json_after_an_escaped_newline_is_parsed_not_replaced_as_text() {
    let dump = b"-- MySQL dump 10.13\nINSERT INTO `t` VALUES (1,'\\n{\\\"a\\\":\\\"s:16:\\\\\\\"https://old.test\\\\\\\";\\\"}');\n";
    let (result, out, reports) = rewrite(dump, &[(OLD, NEW)]);
    assert!(result.is_ok() && reports.is_empty(), "{result:?} {reports:?}");
    let out = text(&out);
    assert!(out.contains(&format!("s:{}:", NEW.len())), "{out}");
}

/// Dialect detection read "MySQL dump" anywhere in the first 64 KiB: a pg_dump quoting it in its
/// data was read as MySQL and its COPY rows were never rewritten.
#[test]
fn the_phrase_mysql_dump_in_data_does_not_decide_the_dialect() {
    let dump = b"--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n\
        COPY public.posts (id, body) FROM stdin;\n1\tHow to restore a MySQL dump\n2\tsee https://old.test/x\n\\.\n";
    let (result, out, _) = rewrite(dump, &[(OLD, NEW)]);
    assert_eq!(result.unwrap().dialect, Some("postgres"));
    assert!(text(&out).contains("2\tsee https://new.example.org/x\n"));
}

/// Hex literals had no size cap: a 40 MiB `0x…` was held whole (and rewritten) instead of being
/// copied through and reported like any value over 16 MiB.
#[test]
fn a_hex_literal_over_the_value_limit_is_copied_through_and_reported() {
    let blob: String = OLD.bytes().map(|b| format!("{b:02X}")).collect::<String>().repeat((20 << 20) / OLD.len());
    let dump = format!("-- MySQL dump\nINSERT INTO `t` VALUES (0x{blob});\n");
    let (result, out, reports) = rewrite(dump.as_bytes(), &[(OLD, NEW)]);
    assert!(result.is_ok());
    assert!(out == dump.as_bytes(), "copied exactly");
    assert_eq!(reports.len(), 1);
    assert!(reports[0].reason.contains("larger than 16 MiB"), "{:?}", reports[0]);
}

/// COPY rows had no size cap: a row over 16 MiB is copied through and reported.
#[test]
fn a_copy_row_over_the_value_limit_is_copied_through_and_reported() {
    let big = format!("{OLD} ").repeat((17 << 20) / (OLD.len() + 1));
    let dump = format!("-- PostgreSQL database dump\nCOPY t (a, b) FROM stdin;\n1\t{big}\n2\t{OLD}\n\\.\n");
    let (result, out, reports) = rewrite(dump.as_bytes(), &[(OLD, NEW)]);
    assert!(result.is_ok());
    let out = text(&out);
    assert!(out.starts_with(&format!("-- PostgreSQL database dump\nCOPY t (a, b) FROM stdin;\n1\t{big}\n")));
    assert!(out.ends_with(&format!("2\t{NEW}\n\\.\n")), "the next row is rewritten");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].row, 1);
}

/// OLD left in a key is reported (keys are not rewritten), not passed over in silence.
#[test]
fn old_left_in_a_key_is_reported() {
    let dump = b"-- MySQL dump\nINSERT INTO `t` VALUES ('{\\\"https://old.test/a\\\":1}'),('a:1:{s:18:\\\"https://old.test/a\\\";i:1;}');\n";
    let (result, out, reports) = rewrite(dump, &[(OLD, NEW)]);
    assert!(result.is_ok());
    assert_eq!(out, dump.to_vec());
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports.iter().all(|r| r.reason.contains("remains in a part that is not rewritten")));
}

/// Strings nested deeper than the limit were skipped without a word.
#[test]
fn nesting_past_the_limit_is_reported() {
    let mut value = format!("s:{}:\"{OLD}\";", OLD.len());
    for _ in 0..40 {
        value = format!("s:{}:\"{value}\";", value.len());
    }
    let mut change = Change::default();
    assert!(rewriter(&[(OLD, NEW)]).rewrite(value.as_bytes(), &mut change).is_none());
    assert!(change.problem.unwrap_or_default().contains("nested more than"));
}

/// Found by the fuzzer: `0X` was written back as `0x`, and an odd run of hex digits in `X'…'`
/// was dropped, in runs with no rules.
#[test]
fn hex_prefixes_and_odd_hex_runs_are_copied_exactly() {
    let dump = b"-- MySQL dump\nINSERT INTO `t` VALUES (0X414243,X'2');\n";
    let (result, out, _) = rewrite(dump, &[]);
    assert!(result.is_ok());
    assert_eq!(text(&out), text(dump));
}
