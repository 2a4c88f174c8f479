//! `Options::load_into` through the whole scanner, on a dump shaped as mysqldump 8.0 writes it
//! (with the sandbox line a mariadb-dump 11 client writes first) and on one mariadb-dump 10.11
//! wrote: what is fixed, what is counted, and that the INSERT values come out byte for byte.

use cutover_db::{Fixed, Options, Report, Rewriter, Rules, Server, Stats, rewrite_dump};

const MYSQL8: &str = include_str!("fixtures/mysqldump-8.0.sql");
const MARIADB: &str = include_str!("fixtures/mariadb-dump-10.11.sql");

fn run(dump: &str, load_into: Option<Server>, rules: &[(&str, &str)]) -> (String, Stats, Vec<Report>) {
    let pairs: Vec<(String, String)> = rules.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    let rewriter = Rewriter::new(Rules::new(&pairs).unwrap(), None);
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let options = Options { load_into, ..Options::default() };
    let stats = rewrite_dump(dump.as_bytes(), &mut out, &rewriter, &options, &mut |r| reports.push(r)).unwrap();
    (String::from_utf8(out).unwrap(), stats, reports)
}

/// The dump's INSERT lines.
fn inserts(dump: &str) -> Vec<&str> {
    dump.lines().filter(|l| l.starts_with("INSERT INTO") || l.starts_with('(')).collect()
}

/// The dump without its INSERT lines: the statement text the fixes apply to.
fn statements(dump: &str) -> String {
    dump.lines().filter(|l| !l.starts_with("INSERT INTO") && !l.starts_with('(')).collect::<Vec<_>>().join("\n")
}

#[test]
fn mysql_8_dump_is_fixed_for_mariadb_and_its_values_are_byte_exact() {
    let (out, stats, reports) = run(MYSQL8, Some(Server::Mariadb), &[]);
    assert!(reports.is_empty(), "{reports:?}");
    assert_eq!(
        stats.portability,
        Fixed { definers: 3, collations: 5, sandbox_lines: 1, tablespaces: 1, gtid_statements: 4, too_long: 0 }
    );
    // The post that talks about all of it is exactly as it was.
    assert_eq!(inserts(&out), inserts(MYSQL8));
    assert!(inserts(&out)[0].contains(
        r"'Load it with: CREATE DEFINER=`app`@`%` VIEW v AS SELECT 1 COLLATE utf8mb4_0900_ai_ci;\nthen /*!50013 DEFINER="
    ));
    let text = statements(&out);
    for gone in ["DEFINER=", "0900_", "TABLESPACE", "GTID_PURGED", "SQL_LOG_BIN", "sandbox"] {
        assert!(!text.contains(gone), "{gone} is still in the statements:\n{text}");
    }
    assert!(out.starts_with("-- MySQL dump 10.13  Distrib 8.0.36"), "{out}");
    assert!(text.contains("`slug` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"));
    assert!(text.contains(") ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;"));
    assert!(text.contains("/*!50003 CREATE*/ /*!50003 TRIGGER `posts_slug` BEFORE INSERT ON `posts` FOR EACH ROW"));
    assert!(text.contains("\nCREATE PROCEDURE `count_posts`(IN min_id INT)\nBEGIN\n"));
    assert!(text.contains("/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50001 VIEW `published` AS select"));
    assert!(text.contains("/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n\n--\n-- GTID state"));
    assert!(text.contains("SET collation_connection  = utf8mb4_unicode_520_ci */ ;"));
    assert_eq!(stats.bytes_out, out.len() as u64);
    assert_eq!(stats.bytes_in, MYSQL8.len() as u64);
}

#[test]
fn mysql_keeps_its_collations_and_none_copies_everything() {
    let (out, stats, _) = run(MYSQL8, Some(Server::Mysql), &[]);
    assert_eq!(stats.portability.collations, 0);
    assert_eq!(stats.portability.definers, 3);
    assert_eq!(stats.portability.gtid_statements, 4);
    assert!(statements(&out).contains("COLLATE=utf8mb4_0900_ai_ci;"));
    let (out, stats, _) = run(MYSQL8, None, &[]);
    assert_eq!(out, MYSQL8, "without load_into the dump is copied byte for byte");
    assert_eq!(stats.portability, Fixed::default());
}

#[test]
fn mariadb_dump_loses_its_definers_and_sandbox_line_and_keeps_invoker() {
    let (out, stats, _) = run(MARIADB, Some(Server::Mysql), &[]);
    // A trigger, an event, a function, a procedure and two views.
    assert_eq!(stats.portability, Fixed { definers: 6, sandbox_lines: 1, ..Fixed::default() });
    assert!(out.starts_with("-- MariaDB dump 10.19"), "{out}");
    let text = statements(&out);
    assert!(!text.contains("DEFINER=`"), "{text}");
    assert!(
        text.contains("/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 SQL SECURITY INVOKER */\n/*!50001 VIEW `vi`")
    );
    assert!(text.contains("/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50001 VIEW `v` AS"));
    assert!(text.contains("/*!50106 CREATE*/ /*!50106 EVENT `e` ON SCHEDULE"));
    assert!(text.contains("\nCREATE FUNCTION `f`() RETURNS int(11)\n"));
    assert_eq!(inserts(&out), inserts(MARIADB));
    assert!(inserts(&out).concat().contains(r"(1,'DEFINER=`x`@`%` utf8mb4_0900_ai_ci');"));
}

#[test]
fn values_are_still_rewritten_alongside_the_fixes() {
    let dump = MYSQL8.replace("It\\'s the first post.", "See https://staging.shop.test/it\\'s");
    let (out, stats, _) = run(&dump, Some(Server::Mariadb), &[("https://staging.shop.test", "https://shop.example")]);
    assert!(out.contains("'See https://shop.example/it\\'s'"), "{out}");
    assert_eq!(stats.changed_plain, 1);
    assert_eq!(stats.portability.definers, 3);
}

#[test]
fn statement_text_too_long_to_hold_is_copied_unfixed_and_reported() {
    let comment = "x".repeat(5 << 20);
    let dump = format!(
        "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n\
         CREATE TABLE `big` (`a` int) ENGINE=InnoDB COMMENT='{comment}' COLLATE=utf8mb4_0900_ai_ci;\n\
         CREATE TABLE `small` (`a` int) COLLATE=utf8mb4_0900_ai_ci;\n"
    );
    let (out, stats, reports) = run(&dump, Some(Server::Mariadb), &[]);
    assert_eq!(stats.portability.too_long, 1);
    assert_eq!(stats.portability.collations, 1, "the statement after it is fixed again");
    assert!(out.contains(&format!("COMMENT='{comment}' COLLATE=utf8mb4_0900_ai_ci;\n")));
    assert!(out.ends_with("CREATE TABLE `small` (`a` int) COLLATE=utf8mb4_unicode_520_ci;\n"));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].line, 3);
    assert!(reports[0].reason.contains("without the portability fixes"), "{:?}", reports[0]);
}

#[test]
fn other_dialects_are_copied_as_they_are() {
    let pg = "--\n-- PostgreSQL database dump\n--\nSET standard_conforming_strings = on;\n\
              CREATE TABLE public.t (a text COLLATE \"utf8mb4_0900_ai_ci\");\n";
    let (out, stats, _) = run(pg, Some(Server::Mariadb), &[]);
    assert_eq!(out, pg);
    assert_eq!(stats.portability, Fixed::default());
}
