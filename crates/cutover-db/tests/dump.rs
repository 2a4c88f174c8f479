//! The dump scanner on small hand-written dumps of each dialect: what is a value, what is copied,
//! how values are written back, and what a broken dump does.

use cutover_db::{Dialect, DumpError, Options, Report, Rewriter, Rules, Stats, rewrite_dump};

const OLD: &str = "https://staging.shop.test";
const NEW: &str = "https://shop.example";

fn run(dump: &str, options: &Options) -> Result<(String, Stats, Vec<Report>), DumpError> {
    let rewriter = Rewriter::new(Rules::new(&[(OLD.into(), NEW.into())]).unwrap(), None);
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let stats = rewrite_dump(dump.as_bytes(), &mut out, &rewriter, options, &mut |r| reports.push(r))?;
    Ok((String::from_utf8(out).unwrap(), stats, reports))
}

fn rewrite(dump: &str) -> String {
    run(dump, &Options::default()).unwrap().0
}

#[test]
fn mysql_values_are_rewritten_and_everything_else_is_copied() {
    let dump = "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n\
        CREATE TABLE `t` (\n  `id` int,\n  `note` text DEFAULT 'https://staging.shop.test',\n  `v` text\n);\n\
        INSERT INTO `t` VALUES (1,'it\\'s https://staging.shop.test/\\n','s:25:\\\"https://staging.shop.test\\\";'),\
        (2,_binary 'https://staging.shop.test',0x68747470733A2F2F73746167696E672E73686F702E74657374);\n";
    let out = rewrite(dump);
    assert!(out.contains("DEFAULT 'https://staging.shop.test'"), "schema defaults are not values: {out}");
    assert!(out.contains("(1,'it\\'s https://shop.example/\\n','s:20:\\\"https://shop.example\\\";')"), "{out}");
    assert!(out.contains("(2,_binary 'https://shop.example',0x68747470733A2F2F73686F702E6578616D706C65)"), "{out}");
}

#[test]
fn postgres_copy_blocks_and_inserts_are_rewritten() {
    let dump = "--\n-- PostgreSQL database dump\n--\nSET standard_conforming_strings = on;\n\
        CREATE FUNCTION f() RETURNS text AS $fn$ SELECT 'https://staging.shop.test' $fn$ LANGUAGE sql;\n\
        COPY public.posts (id, body, guid) FROM stdin;\n\
        1\tsee https://staging.shop.test\\tnow\\\\x\thttps://staging.shop.test/?p=1\n\
        2\ta:1:{i:0;s:25:\"https://staging.shop.test\";}\t\\N\n\
        \\.\n\
        INSERT INTO public.posts VALUES (3, E'it''s\\nhttps://staging.shop.test', 'https://staging.shop.test/?p=3');\n";
    let (out, stats, _) =
        run(dump, &Options { skip_columns: vec![("posts".into(), "guid".into())], ..Options::default() }).unwrap();
    assert!(out.contains("$fn$ SELECT 'https://staging.shop.test' $fn$"), "function bodies are not values: {out}");
    assert!(out.contains("1\tsee https://shop.example\\tnow\\\\x\thttps://staging.shop.test/?p=1\n"), "{out}");
    assert!(out.contains("2\ta:1:{i:0;s:20:\"https://shop.example\";}\t\\N\n\\.\n"), "{out}");
    assert!(out.contains("(3, E'it''s\\nhttps://shop.example', 'https://staging.shop.test/?p=3')"), "{out}");
    assert_eq!(stats.skipped, 2, "guid in the COPY row and in the INSERT");
    assert_eq!(stats.dialect, Some("postgres"));
}

#[test]
fn sqlite_dumps_are_read_with_standard_strings() {
    let dump = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(a TEXT, b BLOB);\n\
        INSERT INTO t VALUES('https://staging.shop.test/it''s',X'00FF');\nCOMMIT;\n";
    assert_eq!(rewrite(dump), dump.replace("'https://staging.shop.test/it''s'", "'https://shop.example/it''s'"));
}

#[test]
fn skip_and_only_tables() {
    let dump = "-- MySQL dump\nINSERT INTO `a` VALUES ('https://staging.shop.test');\nINSERT INTO `b` VALUES ('https://staging.shop.test');\n";
    let only = Options { only_tables: vec!["b".into()], ..Options::default() };
    let (out, _, _) = run(dump, &only).unwrap();
    assert!(
        out.contains("`a` VALUES ('https://staging.shop.test')") && out.contains("`b` VALUES ('https://shop.example')")
    );
    let skip = Options { skip_tables: vec!["b".into()], ..Options::default() };
    let (out, _, _) = run(dump, &skip).unwrap();
    assert!(
        out.contains("`a` VALUES ('https://shop.example')") && out.contains("`b` VALUES ('https://staging.shop.test')")
    );
}

#[test]
fn unparsable_serialized_value_is_left_exactly_and_reported_with_its_place() {
    let dump = "-- MySQL dump\nCREATE TABLE `wp_options` (`option_id` int, `option_value` longtext);\n\
        INSERT INTO `wp_options` VALUES (1,'ok https://staging.shop.test'),(2,'a:1:{i:0;s:99:\\\"https://staging.shop.test\\\";}');\n";
    let (out, stats, reports) = run(dump, &Options::default()).unwrap();
    assert!(out.contains("(2,'a:1:{i:0;s:99:\\\"https://staging.shop.test\\\";}')"));
    assert_eq!(stats.reported, 1);
    assert_eq!(
        (reports[0].table.as_str(), reports[0].row, reports[0].column.as_str()),
        ("wp_options", 2, "option_value")
    );
    assert!(reports[0].reason.contains("does not parse"));
}

#[test]
fn truncated_dumps_are_errors_naming_the_line() {
    let err = run("-- MySQL dump\nINSERT INTO `t` VALUES ('https://sta", &Options::default()).unwrap_err();
    assert_eq!(err.to_string(), "the dump ends inside a string that starts on line 2: it is truncated");
    let err = run("-- PostgreSQL database dump\nCOPY t (a) FROM stdin;\n1\n", &Options::default()).unwrap_err();
    assert!(err.to_string().contains("COPY block"), "{err}");
}

#[test]
fn unknown_dialect_needs_the_flag_and_the_flag_works() {
    let dump = "INSERT INTO t VALUES ('https://staging.shop.test');\n";
    assert!(matches!(run(dump, &Options::default()), Err(DumpError::UnknownDialect)));
    let (out, _, _) = run(dump, &Options { dialect: Some(Dialect::Sqlite), ..Options::default() }).unwrap();
    assert_eq!(out, "INSERT INTO t VALUES ('https://shop.example');\n");
}

#[test]
fn values_split_across_read_buffers_are_whole() {
    // Longer than the 1 MiB read buffer, with the URL straddling buffer ends.
    let filler = "x".repeat((1 << 20) - 40);
    let dump = format!(
        "-- MySQL dump\nINSERT INTO `t` VALUES ('{filler} https://staging.shop.test {filler} https://staging.shop.test');\n"
    );
    let out = rewrite(&dump);
    assert_eq!(out, dump.replace(OLD, NEW));
}

#[test]
fn sqlite_newline_tokens_are_decoded_for_rewriting_and_written_back() {
    let serialized = |url: &str| {
        let text = format!("Line one {url}\nx");
        format!("a:1:{{i:0;s:{}:\"{text}\";}}", text.len()).replace('\n', "\\n")
    };
    let dump = format!(
        "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(v TEXT);\n\
         INSERT INTO t VALUES(replace('{}','\\n',char(10)));\n\
         INSERT INTO t VALUES(replace(replace('{{\\r\\n \"u\": \"{OLD}\"}}','\\r',char(13)),'\\n',char(10)));\nCOMMIT;\n",
        serialized(OLD)
    );
    let (out, stats, reports) = run(&dump, &Options::default()).unwrap();
    assert!(reports.is_empty(), "{reports:?}");
    assert!(out.contains(&format!("replace('{}','\\n',char(10))", serialized(NEW))), "{out}");
    assert!(
        out.contains(&format!("replace(replace('{{\\r\\n \"u\": \"{NEW}\"}}','\\r',char(13)),'\\n',char(10))")),
        "{out}"
    );
    assert_eq!((stats.changed_serialized, stats.changed_json), (1, 1));
}

#[test]
fn mysql_ansi_quotes_dumps_read_double_quotes_as_names() {
    let dump = "-- MySQL dump\n/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,ANSI' */;\n\
        INSERT INTO \"notes\" VALUES (1,'https://staging.shop.test/x');\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n";
    assert_eq!(rewrite(dump), dump.replace(OLD, NEW));
}

#[test]
fn text_that_only_looks_like_json_gets_the_plain_rules() {
    let dump = "-- MySQL dump\nINSERT INTO `wp_posts` VALUES (1,'[caption id=\\\"a\\\"]<img src=\\\"https://staging.shop.test/a.jpg\\\" />[/caption]');\n";
    let (out, stats, reports) = run(dump, &Options::default()).unwrap();
    assert!(reports.is_empty(), "{reports:?}");
    assert_eq!(out, dump.replace(OLD, NEW));
    assert_eq!(stats.changed_plain, 1);
}

#[test]
fn skip_columns_without_known_column_names_leaves_the_table_and_says_so() {
    let dump = "-- MySQL dump\nINSERT INTO `notes` VALUES (1,'https://staging.shop.test/keep','https://staging.shop.test/change');\n\
        INSERT INTO `other` VALUES ('https://staging.shop.test');\n";
    let options = Options { skip_columns: vec![("notes".into(), "link".into())], ..Options::default() };
    let (out, _, reports) = run(dump, &options).unwrap();
    assert!(out.contains("(1,'https://staging.shop.test/keep','https://staging.shop.test/change')"), "{out}");
    assert!(out.contains("`other` VALUES ('https://shop.example')"), "{out}");
    assert_eq!(reports.len(), 1);
    assert!(reports[0].reason.contains("--skip-columns"), "{:?}", reports[0]);
}

#[test]
fn binary_values_are_rewritten_only_when_structured_or_text() {
    // Serialized data holding a binary hash: not UTF-8, but it parses, so it is rewritten.
    let serialized = b"a:2:{s:4:\"hash\";s:4:\"\xff\xfe\x00\x01\";s:3:\"url\";s:25:\"https://staging.shop.test\";}";
    let hex: String = serialized.iter().map(|b| format!("{b:02X}")).collect();
    let expected: Vec<u8> =
        b"a:2:{s:4:\"hash\";s:4:\"\xff\xfe\x00\x01\";s:3:\"url\";s:20:\"https://shop.example\";}".to_vec();
    let expected_hex: String = expected.iter().map(|b| format!("{b:02X}")).collect();
    let dump = format!("-- MySQL dump\nINSERT INTO `t` VALUES (0x{hex});\n");
    assert_eq!(rewrite(&dump), format!("-- MySQL dump\nINSERT INTO `t` VALUES (0x{expected_hex});\n"));
    // Raw binary holding the URL is left alone, and reported.
    let blob: Vec<u8> = [&b"\x89PNG\xff"[..], OLD.as_bytes(), b"\x00"].concat();
    let hex: String = blob.iter().map(|b| format!("{b:02X}")).collect();
    let dump = format!("PRAGMA foreign_keys=OFF;\nINSERT INTO t VALUES(X'{hex}');\n");
    let (out, stats, reports) = run(&dump, &Options::default()).unwrap();
    assert_eq!(out, dump);
    assert_eq!((stats.values, stats.reported), (1, 1));
    assert!(reports[0].reason.contains("binary"), "{:?}", reports[0]);
}
