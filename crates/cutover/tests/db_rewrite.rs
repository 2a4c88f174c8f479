//! `cutover db rewrite` against real PHP and real databases: values made by PHP's `serialize()`,
//! `json_encode()`, `urlencode()` and Laravel's Encrypter are loaded into MariaDB, PostgreSQL and
//! SQLite, dumped with their own tools, rewritten, loaded into fresh databases, and checked by
//! PHP again (unserialize, json_decode, decrypt with the production key). Also: dumps are
//! reproduced byte for byte when there is nothing to do, broken values are left exactly and
//! reported, and bad input ends with an error, never a panic.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::db::{Db, Kind, Ran, hex_literal, lossy, run, unhex};
use support::php::{self, Keys, item_columns, verify};

const STAGING: &str = "https://staging.example.test";
const PRODUCTION: &str = "https://www.example.com";
/// In every form of the staging URL (as written, JSON-escaped, URL-encoded).
const STAGING_HOST: &[u8] = b"staging.example.test";

// ---------------------------------------------------------------------------------------------
// Running things
// ---------------------------------------------------------------------------------------------

/// `cutover db rewrite ARGS` with `input` on stdin.
fn rewrite(input: &[u8], args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.args(["db", "rewrite"]).args(args);
    for var in ["CUTOVER_CONFIG", "CUTOVER_ENV", "CUTOVER_OLD_APP_KEY", "CUTOVER_NEW_APP_KEY"] {
        cmd.env_remove(var);
    }
    let ran = run(&mut cmd, input);
    assert!(!ran.stderr.contains("panicked"), "cutover panicked (exit {}):\n{}", ran.code, ran.stderr);
    assert_ne!(ran.code, 101, "cutover panicked:\n{}", ran.stderr);
    ran
}

/// The `--json` summary: the last line of stderr.
#[track_caller]
fn summary(ran: &Ran) -> Value {
    let line = ran.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("no JSON summary on stderr ({e}):\n{}", ran.stderr))
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The 1-based line of byte `offset`.
fn line_of(text: &[u8], offset: usize) -> usize {
    count(&text[..offset], b"\n") + 1
}

// ---------------------------------------------------------------------------------------------
// 1–3: round trips with values made and checked by PHP
// ---------------------------------------------------------------------------------------------

/// Generates the values with PHP, loads them into `kind`, dumps them with each of `dumps`
/// (flags for the dump tool), rewrites, loads the result into a fresh database and has PHP check
/// every value. Done for AES-256 keys (AES-256-CBC and -GCM) and AES-128 keys (AES-128-CBC and
/// -GCM), each with one key in APP_PREVIOUS_KEYS.
fn round_trip(kind: Kind, dumps: &[&[&str]]) {
    // PostgreSQL TEXT cannot hold NUL, and sqlite3's .dump cuts TEXT at a NUL: values with NUL
    // bytes (objects with protected and private properties) only go through MariaDB.
    let nul = kind == Kind::Mariadb;
    for bits in [256, 128] {
        let keys = Keys::new(bits);
        let dir = tempfile::tempdir().unwrap();
        let (staging_env, production_env) = keys.write_env_files(dir.path());
        let mut args =
            vec!["--dialect".to_owned(), kind.dialect().into(), "--url".into(), STAGING.into(), "--nul".into()];
        args.push(if nul { "1" } else { "0" }.into());
        args.extend(keys.args());
        let sql = php::run_ok("generate.php", &args, b"");

        let source = Db::create(kind);
        source.load(&sql);
        // The checker is not vacuous: the values as PHP wrote them fail it against the production URL,
        // and pass it against the staging URL except where a key is concerned.
        let (code, report, _) = verify(&source, &keys, PRODUCTION, nul);
        assert_eq!(code, 1, "verify.php accepts the values before the rewrite: {report:#}");
        let (code, report, stderr) = verify(&source, &keys, STAGING, nul);
        let staging_failures = report["failures"].as_array().unwrap();
        assert!(
            code == 1
                && staging_failures.iter().all(|f| {
                    let f = f.as_str().unwrap();
                    f.contains("key still decrypts it") || f.contains("the production key does not decrypt it")
                }),
            "before the rewrite, only the old keys' decrypting should fail the check: {report:#}\n{stderr}"
        );

        for flags in dumps {
            let what = format!("{kind:?} AES-{bits} dump {flags:?}");
            let dump = source.dump(flags);
            assert!(count(&dump, STAGING_HOST) > 10, "{what}: the staging URL is not in the dump");
            let ran = rewrite(
                &dump,
                &[
                    "--json",
                    "--replace",
                    STAGING,
                    PRODUCTION,
                    "--reencrypt",
                    "--old-env",
                    staging_env.to_str().unwrap(),
                    "--new-env",
                    production_env.to_str().unwrap(),
                ],
            );
            assert_eq!(ran.code, 0, "{what}: rewrite failed:\n{}", ran.stderr);
            let summary = summary(&ran);
            let target = Db::create(kind);
            target.load(&ran.stdout);
            let (code, report, stderr) = verify(&target, &keys, PRODUCTION, nul);
            assert_eq!(code, 0, "{what}: PHP finds the rewritten values wrong: {report:#}\n{stderr}");
            assert!(report["failures"].as_array().unwrap().is_empty());
            assert!(
                find(&ran.stdout, STAGING_HOST).is_none(),
                "{what}: the staging host is still in the rewritten dump near {:?}",
                lossy(&ran.stdout[find(&ran.stdout, STAGING_HOST).unwrap().saturating_sub(200)..][..300])
            );

            let columns = item_columns(kind).len() as u64;
            let rows = report["rows"].as_u64().unwrap();
            assert_eq!(rows.to_string(), source.query("SELECT COUNT(*) FROM items").trim(), "{what}: {report}");
            assert_eq!(report["values"].as_u64().unwrap(), rows * columns, "{what}");

            assert_eq!(summary["dialect"], kind.dialect(), "{what}: {summary}");
            assert_eq!(summary["reencrypted"], report["encrypted"], "{what}: every encrypted value: {summary}");
            assert!(report["encrypted"].as_u64().unwrap() >= 8 * columns, "{what}: {report}");
            assert_eq!(summary["reported"], 0, "{what}: {summary}");
            assert!(summary["reports"].as_array().unwrap().is_empty(), "{what}: {summary}");
            for counter in ["changed_plain", "changed_serialized", "changed_json", "changed_url_encoded"] {
                assert!(summary[counter].as_u64().unwrap() >= columns, "{what}: {counter}: {summary}");
            }
            assert!(summary["values"].as_u64().unwrap() >= rows * columns, "{what}: {summary}");
            assert_eq!(summary["bytes_in"].as_u64().unwrap(), dump.len() as u64, "{what}: {summary}");
            assert_eq!(summary["bytes_out"].as_u64().unwrap(), ran.stdout.len() as u64, "{what}: {summary}");
        }
    }
}

#[test]
fn mariadb_round_trip_replaces_urls_and_reencrypts_values_php_reads_back() {
    if !support::require("php", php::available()) || !Kind::Mariadb.require() {
        return;
    }
    round_trip(Kind::Mariadb, &[&[], &["--skip-extended-insert"], &["--hex-blob"]]);
}

#[test]
fn postgres_round_trip_replaces_urls_and_reencrypts_values_php_reads_back() {
    if !support::require("php", php::available()) || !Kind::Postgres.require() {
        return;
    }
    round_trip(Kind::Postgres, &[&[], &["--inserts"], &["--column-inserts"]]);
}

#[test]
fn sqlite_round_trip_replaces_urls_and_reencrypts_values_php_reads_back() {
    if !support::require("php", php::available()) || !Kind::Sqlite.require() {
        return;
    }
    round_trip(Kind::Sqlite, &[&[]]);
}

// ---------------------------------------------------------------------------------------------
// 4: nothing to do, the dump comes out byte for byte
// ---------------------------------------------------------------------------------------------

/// Awkward text values for `kind`, each holding the staging URL: quotes, backslashes, control
/// characters, SQL and dump syntax inside strings, a value longer than the reader's buffer.
fn awkward_texts(kind: Kind) -> Vec<Vec<u8>> {
    let with_url = |text: &[u8]| [text, b" ", STAGING.as_bytes(), b"/tail"].concat();
    let mut texts: Vec<Vec<u8>> = vec![
        format!("plain {STAGING}/x and again {STAGING}").into_bytes(),
        with_url(b"it's \"quoted\" `ticked` back\\slash \\n \\0 \\' '' \\\\ end\\"),
        with_url(b"line\nnext\r\ncr\rtab\t bs \x08 ctrl-z \x1a ff \x0c vt \x0b bell \x07"),
        with_url("\u{e9} \u{fc} \u{1f600} \u{4e2d}\u{6587} \u{2028} \u{feff}".as_bytes()),
        format!("a:2:{{s:3:\"url\";s:28:\"{STAGING}\";s:1:\"f\";d:0.1;}}").into_bytes(),
        br#"{"u":"https:\/\/staging.example.test\/p","e":"\u00e9"}"#.to_vec(),
        b"eyJpdiI6IjEyMyIsInZhbHVlIjoiYWJjIiwibWFjIjoiIiwidGFnIjoiIn0=".to_vec(),
        with_url(b"'); DROP TABLE t; -- /* */ # INSERT INTO t VALUES ('a', \"b\"); $$ $tag$ E'x' X'00' 0x41 \\. COPY"),
        b"\\.".to_vec(),
        Vec::new(),
        // ~1.8 MB: crosses the reader's 1 MiB buffer.
        with_url("0123456789abcdef'\\\n\"\u{e9}".repeat(80_000).as_bytes()),
    ];
    if kind == Kind::Mariadb {
        texts.push(with_url(b"nul \0 byte \0"));
    }
    texts
}

/// What `--replace STAGING PRODUCTION` makes of an awkward text.
fn awkward_rewritten(text: &[u8]) -> Vec<u8> {
    let text = lossy(text);
    let text = text.replace("s:28:\"https://staging", "s:23:\"https://staging");
    text.replace(STAGING, PRODUCTION)
        .replace("https:\\/\\/staging.example.test", "https:\\/\\/www.example.com")
        .into_bytes()
}

/// SQL creating table `t (id, txt, bin)` with the awkward texts and binary values for `kind`.
fn awkward_table(kind: Kind) -> Vec<u8> {
    let texts = awkward_texts(kind);
    let binary: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    let create = match kind {
        Kind::Mariadb => "CREATE TABLE t (id INT PRIMARY KEY, txt LONGTEXT, bin LONGBLOB) DEFAULT CHARSET=utf8mb4",
        Kind::Postgres => "CREATE TABLE t (id INT PRIMARY KEY, txt TEXT, bin BYTEA)",
        Kind::Sqlite => "CREATE TABLE t (id INTEGER PRIMARY KEY, txt TEXT, bin BLOB)",
    };
    let mut sql = format!("{create};\n");
    for (i, text) in texts.iter().enumerate() {
        let bin = if i % 2 == 0 { binary.clone() } else { text.clone() };
        sql.push_str(&format!(
            "INSERT INTO t VALUES ({}, {}, {});\n",
            i + 1,
            hex_literal(kind, text, false),
            hex_literal(kind, &bin, true)
        ));
    }
    sql.push_str(&format!("INSERT INTO t VALUES ({}, NULL, NULL);\n", texts.len() + 1));
    sql.into_bytes()
}

/// Without rules (or with rules that match nothing, or skip the table) every dump comes out byte
/// for byte; with the rules, every awkward text loads back exactly with the URL replaced.
fn identity(kind: Kind, dumps: &[&[&str]]) {
    let db = Db::create(kind);
    db.load(&awkward_table(kind));
    for flags in dumps {
        let dump = db.dump(flags);
        assert!(dump.len() > 1_000_000, "{kind:?} {flags:?}: the long value is in the dump");
        for args in [
            &[][..],
            &["--json"],
            &["--replace", "https://nothing.invalid", "https://x.example"],
            &["--replace", STAGING, PRODUCTION, "--skip-tables", "t"],
            &["--replace", STAGING, PRODUCTION, "--only-tables", "other"],
        ] {
            let ran = rewrite(&dump, args);
            assert_eq!(ran.code, 0, "{kind:?} {flags:?} {args:?}:\n{}", ran.stderr);
            if ran.stdout != dump {
                let at = ran.stdout.iter().zip(&dump).position(|(a, b)| a != b).unwrap_or(dump.len());
                panic!(
                    "{kind:?} {flags:?} {args:?}: output differs from the dump at byte {at} (line {}): \
                     {:?} vs {:?}",
                    line_of(&dump, at.min(dump.len())),
                    lossy(&ran.stdout[at.saturating_sub(40)..(at + 40).min(ran.stdout.len())]),
                    lossy(&dump[at.saturating_sub(40)..(at + 40).min(dump.len())]),
                );
            }
            if args == ["--json"] {
                let s = summary(&ran);
                assert_eq!(s["dialect"], kind.dialect());
                assert_eq!(s["bytes_in"].as_u64().unwrap(), dump.len() as u64);
                assert_eq!(s["bytes_out"].as_u64().unwrap(), dump.len() as u64);
            }
        }

        let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION]);
        assert_eq!(ran.code, 0, "{kind:?} {flags:?}:\n{}", ran.stderr);
        assert!(!ran.stderr.contains("warning:"), "{kind:?} {flags:?}:\n{}", ran.stderr);
        let target = Db::create(kind);
        target.load(&ran.stdout);
        let rows = target.query(&format!("SELECT {} FROM t WHERE txt IS NOT NULL ORDER BY id", target.hex_of("txt")));
        let texts = awkward_texts(kind);
        assert_eq!(rows.lines().count(), texts.len(), "{kind:?} {flags:?}");
        for (i, (row, text)) in rows.lines().zip(&texts).enumerate() {
            let got = unhex(row);
            let want = awkward_rewritten(text);
            assert!(
                got == want,
                "{kind:?} {flags:?}: text {} came back as {:?}, expected {:?}",
                i + 1,
                lossy(&got[..got.len().min(300)]),
                lossy(&want[..want.len().min(300)])
            );
        }
    }
}

#[test]
fn identity_mariadb_dumps_come_out_byte_identical_and_awkward_values_rewrite_exactly() {
    if !Kind::Mariadb.require() {
        return;
    }
    identity(
        Kind::Mariadb,
        &[&[], &["--skip-extended-insert"], &["--hex-blob"], &["--complete-insert"], &["--compact", "--hex-blob"]],
    );
}

#[test]
fn identity_postgres_dumps_come_out_byte_identical_and_awkward_values_rewrite_exactly() {
    if !Kind::Postgres.require() {
        return;
    }
    identity(Kind::Postgres, &[&[], &["--inserts"], &["--column-inserts"], &["--inserts", "--rows-per-insert=4"]]);
}

#[test]
fn identity_sqlite_dump_comes_out_byte_identical_and_awkward_values_rewrite_exactly() {
    if !Kind::Sqlite.require() {
        return;
    }
    identity(Kind::Sqlite, &[&[]]);
}

// ---------------------------------------------------------------------------------------------
// 5: a broken serialized value is left exactly and reported; --skip-columns
// ---------------------------------------------------------------------------------------------

const GOOD_META: &str = "a:1:{s:3:\"url\";s:28:\"https://staging.example.test\";}";
const GOOD_META_NEW: &str = "a:1:{s:3:\"url\";s:23:\"https://www.example.com\";}";
/// `s:99` for a 30-byte string: looks serialized, does not parse.
const BROKEN_META: &str = "a:1:{s:3:\"url\";s:99:\"https://staging.example.test/x\";}";

/// `notes (id, meta, link, body)`: rows 1 and 3 well formed, row 2's meta broken.
fn notes_table(kind: Kind) -> Vec<u8> {
    let mut sql = String::from("CREATE TABLE notes (id INT PRIMARY KEY, meta TEXT, link TEXT, body TEXT);\n");
    for (id, meta) in [(1, GOOD_META), (2, BROKEN_META), (3, GOOD_META)] {
        sql.push_str(&format!(
            "INSERT INTO notes VALUES ({id}, {}, {}, {});\n",
            hex_literal(kind, meta.as_bytes(), false),
            hex_literal(kind, format!("{STAGING}/link/{id}").as_bytes(), false),
            hex_literal(kind, format!("Read {STAGING}/about ({id})").as_bytes(), false)
        ));
    }
    sql.into_bytes()
}

fn broken_and_skipped_columns(kind: Kind, dumps: &[&[&str]]) {
    let db = Db::create(kind);
    db.load(&notes_table(kind));
    for flags in dumps {
        let what = format!("{kind:?} {flags:?}");
        let dump = db.dump(flags);
        // The broken value as this tool wrote it, and the line it is on.
        let marker = find(&dump, b"s:99:").unwrap_or_else(|| panic!("{what}: broken value not in the dump"));
        let line = line_of(&dump, marker);
        let literal_start = dump[..marker].iter().rposition(|&b| b == b'\'' || b == b'\t').unwrap();
        let literal_end =
            marker + find(&dump[marker..], b"x\\\";}").or_else(|| find(&dump[marker..], b"x\";}")).unwrap();
        let broken_as_dumped = dump[literal_start..literal_end + 6].to_vec();
        let report = format!("warning: left as it was: table `notes` row 2 column `meta` (line {line}): ");

        for skip in [false, true] {
            let mut args = vec!["--replace", STAGING, PRODUCTION];
            if skip {
                args.extend(["--skip-columns", "notes.link"]);
            }
            let ran = rewrite(&dump, &args);
            assert_eq!(ran.code, 0, "{what}: {}", ran.stderr);
            let warnings: Vec<&str> = ran.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
            assert_eq!(warnings.len(), 1, "{what}: one value is left alone:\n{}", ran.stderr);
            assert!(
                warnings[0].starts_with(&report) && warnings[0].contains("looks PHP-serialized but does not parse"),
                "{what}: expected {report:?}…, got:\n{}",
                ran.stderr
            );
            assert!(
                find(&ran.stdout, &broken_as_dumped).is_some(),
                "{what}: the broken value is not in the output byte for byte: {:?}",
                lossy(&broken_as_dumped)
            );

            let json = rewrite(&dump, &[&["--json"][..], &args].concat());
            let s = summary(&json);
            assert_eq!(s["reported"], 1, "{what}: {s}");
            assert_eq!(s["reports"][0]["table"], "notes", "{what}: {s}");
            assert_eq!(s["reports"][0]["row"], 2, "{what}: {s}");
            assert_eq!(s["reports"][0]["column"], "meta", "{what}: {s}");
            assert_eq!(s["reports"][0]["line"], line as u64, "{what}: {s}");
            assert_eq!(s["skipped"], if skip { 3 } else { 0 }, "{what}: {s}");

            let target = Db::create(kind);
            target.load(&ran.stdout);
            let rows = target.rows("notes", "id", &["meta", "link", "body"]);
            assert_eq!(rows.len(), 3, "{what}");
            for (id, cells) in rows {
                let meta = if id == "2" { BROKEN_META } else { GOOD_META_NEW };
                let base = if skip { STAGING } else { PRODUCTION };
                assert_eq!(lossy(&cells[0]), meta, "{what}: row {id} meta");
                assert_eq!(lossy(&cells[1]), format!("{base}/link/{id}"), "{what}: row {id} link (skip {skip})");
                assert_eq!(lossy(&cells[2]), format!("Read {PRODUCTION}/about ({id})"), "{what}: row {id} body");
            }
        }
    }
}

#[test]
fn broken_serialized_value_is_kept_and_reported_and_skip_columns_works_mariadb() {
    if !Kind::Mariadb.require() {
        return;
    }
    broken_and_skipped_columns(
        Kind::Mariadb,
        &[&[], &["--skip-extended-insert"], &["--complete-insert"], &["--insert-ignore"], &["--replace"]],
    );
}

#[test]
fn broken_serialized_value_is_kept_and_reported_and_skip_columns_works_postgres() {
    if !Kind::Postgres.require() {
        return;
    }
    broken_and_skipped_columns(
        Kind::Postgres,
        &[&[], &["--inserts"], &["--column-inserts"], &["--inserts", "--rows-per-insert=2"]],
    );
}

#[test]
fn broken_serialized_value_is_kept_and_reported_and_skip_columns_works_sqlite() {
    if !Kind::Sqlite.require() {
        return;
    }
    broken_and_skipped_columns(Kind::Sqlite, &[&[]]);
}

/// Laravel's Encrypter on `text` (php crypt.php).
fn crypt(verb: &str, key: &[u8], cipher: &str, text: &[u8]) -> php::PhpRun {
    let args = ["--key".to_owned(), php::base64(key), "--cipher".into(), cipher.into(), verb.into()];
    php::run("crypt.php", &args, text)
}

#[test]
fn payload_no_configured_key_opens_is_kept_byte_identical_and_reported() {
    if !support::require("php", php::available()) || !Kind::Mariadb.require() {
        return;
    }
    let keys = Keys::new(256);
    let foreign = Keys::new(128).staging.repeat(2);
    let dir = tempfile::tempdir().unwrap();
    let (staging_env, production_env) = keys.write_env_files(dir.path());
    let secret = format!("{STAGING}/secret");
    let encrypt = |key: &[u8], cipher: &str| {
        let ran = crypt("encrypt", key, cipher, secret.as_bytes());
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        ran.stdout
    };
    let payloads =
        [encrypt(&foreign, "aes-256-cbc"), encrypt(&keys.staging, "aes-256-gcm"), encrypt(&foreign, "aes-256-gcm")];
    let db = Db::create(Kind::Mariadb);
    let mut sql = String::from("CREATE TABLE secrets (id INT PRIMARY KEY, payload TEXT);\n");
    for (i, payload) in payloads.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO secrets VALUES ({}, {});\n",
            i + 1,
            hex_literal(Kind::Mariadb, payload, false)
        ));
    }
    db.load(sql.as_bytes());
    let dump = db.dump(&["--skip-extended-insert"]);
    let args = [
        "--replace",
        STAGING,
        PRODUCTION,
        "--reencrypt",
        "--old-env",
        staging_env.to_str().unwrap(),
        "--new-env",
        production_env.to_str().unwrap(),
    ];
    let ran = rewrite(&dump, &args);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let warnings: Vec<&str> = ran.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 2, "{}", ran.stderr);
    for (warning, (row, payload)) in warnings.iter().zip([(1, &payloads[0]), (3, &payloads[2])]) {
        let line = line_of(&dump, find(&dump, payload).expect("payload in the dump"));
        assert!(
            warning.starts_with(&format!(
                "warning: left as it was: table `secrets` row {row} column `payload` (line {line}): "
            )) && warning.contains("no configured key opens this encrypted value"),
            "{warning}"
        );
        assert!(!warning.contains(&php::base64(&keys.staging)), "a key in a message: {warning}");
    }
    let target = Db::create(Kind::Mariadb);
    target.load(&ran.stdout);
    let rows = target.rows("secrets", "id", &["payload"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].1[0], payloads[0], "row 1 is kept byte for byte");
    assert_eq!(rows[2].1[0], payloads[2], "row 3 is kept byte for byte");
    let opened = crypt("decrypt", &keys.production, "aes-256-gcm", &rows[1].1[0]);
    assert_eq!(opened.code, 0, "row 2 does not open with the production key: {}", opened.stderr);
    assert_eq!(lossy(&opened.stdout), format!("{PRODUCTION}/secret"));
    assert_eq!(crypt("decrypt", &keys.staging, "aes-256-gcm", &rows[1].1[0]).code, 1, "staging still opens row 2");
}

#[test]
fn value_over_16_mib_is_copied_as_it_is_and_reported() {
    if !Kind::Sqlite.require() {
        return;
    }
    let db = Db::create(Kind::Sqlite);
    let big = format!("{STAGING} {} {STAGING}", "x".repeat(17 << 20));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.txt");
    std::fs::write(&file, &big).unwrap();
    db.load(
        format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, big TEXT, small TEXT);\n\
             INSERT INTO t VALUES (1, CAST(readfile('{}') AS TEXT), '{STAGING}/small');\n",
            file.display()
        )
        .as_bytes(),
    );
    let dump = db.dump(&[]);
    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "warning: left as it was: table `t` row 1 column `big` (line 4): value larger than 16 MiB: copied as it is"
        ),
        "{}",
        ran.stderr
    );
    let target = Db::create(Kind::Sqlite);
    target.load(&ran.stdout);
    let got = target.query("SELECT length(big), substr(big, 1, 40), substr(big, -40), small FROM t");
    assert_eq!(
        got.trim_end(),
        format!("{}\t{}\t{}\t{PRODUCTION}/small", big.len(), &big[..40], &big[big.len() - 40..]),
        "the big value is kept, the small one rewritten"
    );
}

// ---------------------------------------------------------------------------------------------
// Values and dumps from real applications
// ---------------------------------------------------------------------------------------------

/// `s:N:"…";` of PHP's serialize() for a string.
fn php_string(s: &str) -> String {
    format!("s:{}:\"{s}\";", s.len())
}

/// Serialized and JSON values holding newlines: sqlite3's .dump writes such a value as
/// `replace('…\n…','\n',char(10))`, which must not stop it from being rewritten.
#[test]
fn sqlite_serialized_and_json_values_with_newlines_are_rewritten() {
    if !Kind::Sqlite.require() {
        return;
    }
    let serialized = |url: &str| {
        format!(
            "a:2:{{{}{}{}i:2;}}",
            php_string("text"),
            php_string(&format!("Line one {url}/x\nLine two\r\nend")),
            php_string("n")
        )
    };
    let json = |url: &str| format!("{{\n    \"home\": \"{}\"\n}}", url.replace('/', "\\/"));
    let plain = |url: &str| format!("first {url}\nsecond {url}");
    let db = Db::create(Kind::Sqlite);
    let mut sql = String::from("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n");
    for (id, value) in [serialized(STAGING), json(STAGING), plain(STAGING)].iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO t VALUES ({}, {});\n",
            id + 1,
            hex_literal(Kind::Sqlite, value.as_bytes(), false)
        ));
    }
    db.load(sql.as_bytes());
    let dump = db.dump(&[]);
    assert!(find(&dump, b"char(10)").is_some(), "sqlite3 writes newlines with replace(): {}", lossy(&dump));
    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let target = Db::create(Kind::Sqlite);
    target.load(&ran.stdout);
    let rows = target.rows("t", "id", &["v"]);
    let expected = [serialized(PRODUCTION), json(PRODUCTION), plain(PRODUCTION)];
    for ((id, cells), want) in rows.iter().zip(&expected) {
        assert_eq!(lossy(&cells[0]), *want, "row {id}\n--- stderr\n{}", ran.stderr);
    }
    assert!(!ran.stderr.contains("warning:"), "{}", ran.stderr);
}

/// Laravel's `cache` table: columns `key`, `value`, `expiration`. pg_dump writes `key` unquoted
/// (it is not reserved), as a hand-written SQLite schema does; it is a column all the same.
fn column_named_key(kind: Kind, flags: &[&str]) {
    let db = Db::create(kind);
    let mut sql = String::from(
        "CREATE TABLE cache (key VARCHAR(255) PRIMARY KEY, value TEXT NOT NULL, expiration INT NOT NULL);\n",
    );
    for (i, value) in [format!("{STAGING}/v"), BROKEN_META.to_owned()].iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO cache VALUES ({}, {}, {});\n",
            hex_literal(kind, format!("page:{STAGING}/{i}").as_bytes(), false),
            hex_literal(kind, value.as_bytes(), false),
            i + 1
        ));
    }
    db.load(sql.as_bytes());
    let dump = db.dump(flags);
    let what = format!("{kind:?} {flags:?}");

    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("table `cache` row 2 column `value` ("),
        "{what}: the broken value is in column `value`:\n{}",
        ran.stderr
    );

    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION, "--skip-columns", "cache.value"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!ran.stderr.contains("warning:"), "{what}: the skipped column is not looked at:\n{}", ran.stderr);
    let target = Db::create(kind);
    target.load(&ran.stdout);
    let rows = target.query(&format!(
        "SELECT {}, {} FROM cache ORDER BY expiration",
        target.hex_of("key"),
        target.hex_of("value")
    ));
    let rows: Vec<(String, String)> = rows
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (lossy(&unhex(k)), lossy(&unhex(v)))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (format!("page:{PRODUCTION}/0"), format!("{STAGING}/v")),
            (format!("page:{PRODUCTION}/1"), BROKEN_META.to_owned())
        ],
        "{what}: `--skip-columns cache.value` keeps `value` and rewrites `key`"
    );
}

#[test]
fn column_named_key_counts_as_a_column_postgres_inserts() {
    if !Kind::Postgres.require() {
        return;
    }
    column_named_key(Kind::Postgres, &[]);
    column_named_key(Kind::Postgres, &["--inserts"]);
}

#[test]
fn column_named_key_counts_as_a_column_sqlite() {
    if !Kind::Sqlite.require() {
        return;
    }
    column_named_key(Kind::Sqlite, &[]);
}

/// Text that starts with `[` or `{` but is no JSON: WordPress shortcodes, Markdown links,
/// templates. Nothing in it has a length to keep, so its URLs are replaced like any text's.
#[test]
fn text_starting_with_a_bracket_is_rewritten_as_text() {
    if !Kind::Mariadb.require() {
        return;
    }
    let texts = |url: &str| {
        [
            format!(
                "[caption id=\"attachment_5\"]<img src=\"{url}/wp-content/uploads/a.jpg\" />[/caption] More at {url}"
            ),
            format!("[vc_row][vc_column]<a href=\"{url}/shop\">Shop</a>[/vc_column][/vc_row]"),
            format!("[Home]({url}/) is a Markdown link"),
            format!("{{{{ greeting }}}} from {url}"),
        ]
    };
    let db = Db::create(Kind::Mariadb);
    let mut sql = String::from("CREATE TABLE wp_posts (ID INT PRIMARY KEY, post_content LONGTEXT);\n");
    for (id, text) in texts(STAGING).iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO wp_posts VALUES ({}, {});\n",
            id + 1,
            hex_literal(Kind::Mariadb, text.as_bytes(), false)
        ));
    }
    db.load(sql.as_bytes());
    let ran = rewrite(&db.dump(&[]), &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let target = Db::create(Kind::Mariadb);
    target.load(&ran.stdout);
    let rows = target.rows("wp_posts", "ID", &["post_content"]);
    for ((id, cells), want) in rows.iter().zip(texts(PRODUCTION)) {
        assert_eq!(lossy(&cells[0]), want, "post {id}\n--- stderr\n{}", ran.stderr);
    }
}

/// mariadb-dump --compatible=ansi quotes names with `"` (and sets ANSI_QUOTES for the load).
#[test]
fn mariadb_ansi_quotes_dump_is_rewritten() {
    if !Kind::Mariadb.require() {
        return;
    }
    let db = Db::create(Kind::Mariadb);
    db.load(&notes_table(Kind::Mariadb));
    let dump = db.dump(&["--compatible=ansi"]);
    assert!(find(&dump, b"INSERT INTO \"notes\"").is_some(), "{}", lossy(&dump));
    let ran = rewrite(&dump, &["--json", "--replace", STAGING, PRODUCTION, "--skip-columns", "notes.link"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let s = summary(&ran);
    let target = Db::create(Kind::Mariadb);
    target.load(&ran.stdout);
    let rows = target.rows("notes", "id", &["meta", "link", "body"]);
    for (id, cells) in &rows {
        let meta = if id == "2" { BROKEN_META } else { GOOD_META_NEW };
        assert_eq!(lossy(&cells[0]), meta, "row {id} meta; summary {s}");
        assert_eq!(lossy(&cells[1]), format!("{STAGING}/link/{id}"), "row {id} link is skipped; summary {s}");
        assert_eq!(lossy(&cells[2]), format!("Read {PRODUCTION}/about ({id})"), "row {id} body; summary {s}");
    }
    assert_eq!(s["reported"], 1, "{s}");
}

/// A data-only dump (`--no-create-info`) names no columns anywhere: `--skip-columns` cannot know
/// which value is `notes.link`, and must not rewrite it silently.
#[test]
fn skip_columns_on_a_dump_without_column_names_is_not_silently_ignored() {
    if !Kind::Mariadb.require() {
        return;
    }
    let db = Db::create(Kind::Mariadb);
    db.load(&notes_table(Kind::Mariadb));
    let dump = db.dump(&["--no-create-info"]);
    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION, "--skip-columns", "notes.link"]);
    let link_kept = count(&ran.stdout, format!("{STAGING}/link/").as_bytes()) == 3;
    let said_so = ran.stderr.contains("notes.link") || ran.stderr.contains("--skip-columns");
    assert!(
        (ran.code == 0 && link_kept) || said_so,
        "exit {}: notes.link was rewritten without a word:\n{}\n--- output\n{}",
        ran.code,
        ran.stderr,
        lossy(&ran.stdout[find(&ran.stdout, b"INSERT").unwrap_or(0)..])
    );
}

/// A BLOB holding a PHP-serialized value with binary bytes and the URL: whatever the dump's flags,
/// the URL is replaced (the value parses) or the value is reported; never left alone silently.
#[test]
fn binary_blob_with_the_url_is_rewritten_or_reported_with_and_without_hex_blob() {
    if !Kind::Mariadb.require() {
        return;
    }
    let value = |url: &str| {
        let mut v = b"a:2:{s:4:\"hash\";s:4:\"\xff\xfe\x00\x01\";".to_vec();
        v.extend_from_slice(format!("{}{}}}", php_string("url"), php_string(&format!("{url}/x"))).as_bytes());
        v
    };
    let db = Db::create(Kind::Mariadb);
    db.load(
        format!(
            "CREATE TABLE b (id INT PRIMARY KEY, data BLOB);\nINSERT INTO b VALUES (1, {});\n",
            hex_literal(Kind::Mariadb, &value(STAGING), true)
        )
        .as_bytes(),
    );
    let mut outcomes = Vec::new();
    for flags in [&[][..], &["--hex-blob"]] {
        let ran = rewrite(&db.dump(flags), &["--replace", STAGING, PRODUCTION]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let target = Db::create(Kind::Mariadb);
        target.load(&ran.stdout);
        let data = target.rows("b", "id", &["data"]).remove(0).1.remove(0);
        let reported = ran.stderr.contains("table `b` row 1 column `data`");
        assert!(
            data == value(PRODUCTION) || (data == value(STAGING) && reported),
            "{flags:?}: the value came back as {:?}, {}",
            lossy(&data),
            if reported { "reported" } else { "not reported" }
        );
        outcomes.push(data);
    }
    assert_eq!(outcomes[0], outcomes[1], "--hex-blob changes the outcome");
}

// ---------------------------------------------------------------------------------------------
// 6: bad input
// ---------------------------------------------------------------------------------------------

/// Cuts a real dump inside the body of row 2 (a string, or a COPY row) and checks the rewriter
/// stops with exit 1 saying so, with rules and without.
fn truncated(kind: Kind, flags: &[&str], what_is_cut: &str) {
    let db = Db::create(kind);
    db.load(&notes_table(kind));
    let dump = db.dump(flags);
    let at = find(&dump, b"/about (2)").expect("row 2 in the dump");
    let cut = &dump[..at + 4];
    for args in [&[][..], &["--replace", STAGING, PRODUCTION]] {
        let ran = rewrite(cut, args);
        assert_eq!(ran.code, 1, "{kind:?} {flags:?} {args:?}: a truncated dump is an error:\n{}", ran.stderr);
        assert!(
            ran.stderr.contains("error:") && ran.stderr.contains("truncated") && ran.stderr.contains(what_is_cut),
            "{kind:?} {flags:?} {args:?}: {}",
            ran.stderr
        );
        if what_is_cut == "string" {
            let line = line_of(cut, cut.iter().rposition(|&b| b == b'\'').unwrap());
            assert!(ran.stderr.contains(&format!("starts on line {line}")), "{kind:?}: {}", ran.stderr);
        }
    }
}

#[test]
fn truncated_mariadb_dump_is_an_error_not_a_panic() {
    if !Kind::Mariadb.require() {
        return;
    }
    truncated(Kind::Mariadb, &[], "string");
    truncated(Kind::Mariadb, &["--skip-extended-insert"], "string");
}

#[test]
fn truncated_postgres_dump_is_an_error_not_a_panic() {
    if !Kind::Postgres.require() {
        return;
    }
    truncated(Kind::Postgres, &[], "COPY block");
    truncated(Kind::Postgres, &["--inserts"], "string");
}

#[test]
fn truncated_sqlite_dump_is_an_error_not_a_panic() {
    if !Kind::Sqlite.require() {
        return;
    }
    truncated(Kind::Sqlite, &[], "string");
}

/// xorshift64*: deterministic bytes without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn binary_garbage_never_panics() {
    let keys = Keys::new(256);
    let dir = tempfile::tempdir().unwrap();
    let (old_env, new_env) = keys.write_env_files(dir.path());
    let (old_env, new_env) = (old_env.to_str().unwrap(), new_env.to_str().unwrap());
    let tokens: &[&[u8]] = &[
        b"INSERT INTO `t` VALUES (",
        b"INSERT INTO t (a, b) VALUES (",
        b"CREATE TABLE `t` (`a` text, `b` blob);\n",
        b"COPY public.t (a, b) FROM stdin;\n",
        b"\\.\n",
        b"'",
        b"\"",
        b"`",
        b"\\",
        b"''",
        b"\\'",
        b"(",
        b")",
        b",",
        b";",
        b"\n",
        b"\t",
        b"\\N",
        b"--",
        b"#",
        b"/*",
        b"*/",
        b"$$",
        b"$tag$",
        b"E'",
        b"X'",
        b"0x",
        b"_binary ",
        b"a:1:{s:3:\"url\";s:28:\"",
        b"s:99:\"",
        b"O:8:\"stdClass\":1:{",
        b"i:0;",
        b"d:0.1;",
        b"}",
        b"{\"u\":\"",
        b"[\"",
        b"\\/",
        b"\\u00e9",
        b"\\ud800",
        b"eyJpdiI6",
        b"eyJpdiI6IjEyMyIsInZhbHVlIjoiYWJjIiwibWFjIjoiIiwidGFnIjoiIn0=",
        b"https://staging.example.test",
        b"https:\\/\\/staging.example.test",
        b"https%3A%2F%2Fstaging.example.test",
        b"\xff\xfe\x00\x80",
        b"\xc3\xa9",
    ];
    let headers: &[&[u8]] = &[
        b"-- MySQL dump 10.13  Distrib 8.0.36\n",
        b"-- MySQL dump 10.13\n",
        b"--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n",
        b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n",
    ];
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for case in 0..240 {
        let header = if case < 80 { headers[0] } else { headers[case % headers.len()] };
        let mut input = header.to_vec();
        let size = noise.below(if case % 7 == 0 { 200_000 } else { 4_000 });
        if case < 60 {
            // Pure random bytes after the first line.
            input.extend((0..size).map(|_| noise.next() as u8));
        } else {
            while input.len() < header.len() + size {
                match noise.below(4) {
                    0 => input.push(noise.next() as u8),
                    _ => input.extend_from_slice(tokens[noise.below(tokens.len())]),
                }
            }
        }
        let noop = rewrite(&input, &[]);
        assert!(matches!(noop.code, 0 | 1), "case {case}: exit {}:\n{}", noop.code, noop.stderr);
        if noop.code == 0 {
            accepted += 1;
            assert!(noop.stdout == input, "case {case}: with nothing to do, accepted input must come out unchanged");
        } else {
            assert!(
                noop.stderr.starts_with("error:") || noop.stderr.contains("\nerror:"),
                "case {case}: {}",
                noop.stderr
            );
        }
        let full = rewrite(
            &input,
            &["--json", "--replace", STAGING, PRODUCTION, "--reencrypt", "--old-env", old_env, "--new-env", new_env],
        );
        assert!(matches!(full.code, 0 | 1), "case {case}: exit {}:\n{}", full.code, full.stderr);
        assert_eq!(full.code, noop.code, "case {case}: rules change whether the input is accepted:\n{}", full.stderr);
    }
    // Both outcomes happen, so both paths were exercised.
    assert!((20..=220).contains(&accepted), "{accepted} of 240 garbage inputs accepted");
}

#[test]
fn unknown_statements_pass_through_unchanged() {
    if !Kind::Mariadb.require() {
        return;
    }
    let db = Db::create(Kind::Mariadb);
    db.load(&notes_table(Kind::Mariadb));
    // Real statements that are not INSERTs, holding the URL: a trigger and a procedure.
    db.load(
        format!(
            "CREATE TRIGGER notes_bi BEFORE INSERT ON notes FOR EACH ROW SET NEW.link = \
             COALESCE(NEW.link, '{STAGING}/default');\n\
             CREATE PROCEDURE home_url() SELECT '{STAGING}/procedure' AS url, \"{STAGING}/dq\" AS dq;\n\
             CREATE VIEW note_urls AS SELECT id, CONCAT('{STAGING}', '/view/', id) AS url FROM notes;\n"
        )
        .as_bytes(),
    );
    let real = db.dump(&["--routines", "--triggers"]);
    // And statements no dump tool writes, before the INSERT.
    let unknown = format!(
        "FROBNICATE `notes` WITH '{STAGING}/unknown', \"{STAGING}/dq\" (1, 'a', (2)) VALUES ('{STAGING}/v');\n\
         UPDATE `notes` SET body = '{STAGING}/update' WHERE id = 1;\n\
         SELECT 'unterminated( paren', 'x' ; /* {STAGING}/comment */ -- {STAGING}/line comment\n\
         # {STAGING}/hash comment\n"
    );
    let at =
        find(&real, b"LOCK TABLES `notes` WRITE;\n").expect("data of notes") + "LOCK TABLES `notes` WRITE;\n".len();
    let dump = [&real[..at], unknown.as_bytes(), &real[at..]].concat();

    let ran = rewrite(&dump, &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(find(&ran.stdout, unknown.as_bytes()).is_some(), "the unknown statements are not copied as they were");
    // Outside the INSERT's values, nothing changed: the trigger, procedure and view keep the URL.
    for kept in [
        format!("'{STAGING}/default'"),
        format!("'{STAGING}/procedure'"),
        format!("\\\"{STAGING}/dq\\\""),
        format!("'{STAGING}'"),
    ] {
        assert_eq!(
            count(&ran.stdout, kept.as_bytes()),
            count(&dump, kept.as_bytes()),
            "{kept} changed:\n{}",
            lossy(&ran.stdout)
        );
    }
    // The INSERT after them is still rewritten, value by value.
    assert_eq!(count(&ran.stdout, format!("{PRODUCTION}/link/").as_bytes()), 3, "{}", lossy(&ran.stdout));
    assert_eq!(count(&ran.stdout, GOOD_META_NEW.replace('"', "\\\"").as_bytes()), 2, "{}", lossy(&ran.stdout));
    // The real dump (without the made-up statements) loads, and its data is rewritten.
    let ran = rewrite(&real, &["--replace", STAGING, PRODUCTION]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let target = Db::create(Kind::Mariadb);
    target.load(&ran.stdout);
    let rows = target.rows("notes", "id", &["link"]);
    assert_eq!(rows.len(), 3);
    for (id, cells) in &rows {
        assert_eq!(lossy(&cells[0]), format!("{PRODUCTION}/link/{id}"));
    }
    let routine =
        target.query("SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_NAME = 'home_url'");
    assert!(routine.contains(&format!("{STAGING}/procedure")), "the procedure's body is kept: {routine}");
    let trigger =
        target.query("SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'notes_bi'");
    assert!(trigger.contains(&format!("{STAGING}/default")), "the trigger's body is kept: {trigger}");
}

#[test]
fn a_dump_whose_dialect_cannot_be_told_is_a_usage_error_exit_2() {
    // Not what any dump tool writes first: no header, no backquoted statement.
    let ran = rewrite(b"hello\nINSERT INTO notes VALUES ('https://staging.example.test');\n", &[]);
    assert_eq!(ran.code, 2, "an undetectable dialect is a usage error:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains("error: cannot tell which database wrote this dump")
            && ran.stderr.contains("--dialect mysql|postgres|sqlite"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.is_empty(), "nothing is written before the dialect is known");
    // With the dialect given, the same input is rewritten.
    let ran = rewrite(b"hello\n", &["--dialect", "mysql"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn the_same_replace_old_given_twice_is_a_usage_error_exit_2() {
    let dump = b"-- MySQL dump 10.13\nINSERT INTO `t` VALUES ('https://staging.example.test/a');\n";
    for args in [
        &["--replace", STAGING, PRODUCTION, "--replace", STAGING, "https://other.example.test"][..],
        // Even with the same NEW: it says the user's rules are not what they think.
        &["--replace", STAGING, PRODUCTION, "--replace", STAGING, PRODUCTION],
    ] {
        let ran = rewrite(dump, args);
        assert_eq!(ran.code, 2, "{args:?}: a repeated OLD is a usage error:\n{}", ran.stderr);
        assert!(ran.stderr.contains(&format!("`--replace {STAGING}` is given twice")), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?}: nothing is rewritten");
    }
    // Two different OLDs are fine.
    let ran = rewrite(dump, &["--replace", STAGING, PRODUCTION, "--replace", "/a", "/b"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}
