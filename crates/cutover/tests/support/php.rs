//! Real PHP for the `cutover db rewrite` tests: the fixture scripts under
//! `tests/fixtures/db_rewrite/` generate values with `serialize()`, `json_encode()`, `urlencode()`
//! and Laravel's Encrypter (Debian's php-illuminate-encryption), and check them after the rewrite.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::db::{Db, Kind, hex};

/// The autoloader Debian's php-illuminate-encryption installs (on PHP's include path).
pub const ILLUMINATE_AUTOLOAD: &str = "/usr/share/php/Illuminate/Encryption/autoload.php";

/// Whether `php` runs and can load Laravel's Encrypter (with mbstring and openssl, which it uses).
pub fn available() -> bool {
    if !Path::new(ILLUMINATE_AUTOLOAD).is_file() {
        return false;
    }
    let check = format!(
        "require '{ILLUMINATE_AUTOLOAD}'; exit(class_exists('Illuminate\\Encryption\\Encrypter') \
         && function_exists('mb_strlen') && function_exists('openssl_encrypt') ? 0 : 1);"
    );
    Command::new("php")
        .args(["-r", &check])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A fixture under `tests/fixtures/db_rewrite/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db_rewrite").join(name)
}

/// The output of one PHP run.
#[derive(Debug)]
pub struct PhpRun {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs a fixture script with `args` and `stdin`.
pub fn run(script: &str, args: &[String], stdin: &[u8]) -> PhpRun {
    let mut child = Command::new("php")
        .arg(fixture(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run php");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let output = child.wait_with_output().expect("wait for php");
    writer.join().expect("stdin writer").expect("write php's stdin");
    PhpRun {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a fixture script that must succeed; its stdout.
#[track_caller]
pub fn run_ok(script: &str, args: &[String], stdin: &[u8]) -> Vec<u8> {
    let run = run(script, args, stdin);
    assert_eq!(run.code, 0, "php {script} failed\n--- stdout\n{}\n--- stderr\n{}", lossy(&run.stdout), run.stderr);
    run.stdout
}

/// The start of `bytes` as text, for messages.
fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4000)]).into_owned();
    if bytes.len() > 4000 { format!("{text}…") } else { text }
}

/// Application keys of one size: staging's APP_KEY, a key in staging's APP_PREVIOUS_KEYS, and
/// production's APP_KEY.
#[derive(Debug, Clone)]
pub struct Keys {
    pub bits: u32,
    pub staging: Vec<u8>,
    pub previous: Vec<u8>,
    pub production: Vec<u8>,
}

impl Keys {
    /// Fixed, distinct keys of `bits` (128 or 256) bits.
    pub fn new(bits: u32) -> Self {
        let len = bits as usize / 8;
        let key = |seed: u8| (0..len).map(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7)).collect::<Vec<u8>>();
        Self { bits, staging: key(1), previous: key(2), production: key(3) }
    }

    /// Writes `staging.env` (APP_KEY and APP_PREVIOUS_KEYS) and `production.env` in `dir`; their paths.
    pub fn write_env_files(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let staging = dir.join("staging.env");
        let production = dir.join("production.env");
        std::fs::write(
            &staging,
            format!(
                "APP_NAME=shop\nAPP_ENV=staging\nAPP_KEY=base64:{}\nAPP_PREVIOUS_KEYS=\"base64:{}\"\n\
                 APP_URL=https://staging.example.test\n",
                base64(&self.staging),
                base64(&self.previous)
            ),
        )
        .expect("write staging.env");
        std::fs::write(
            &production,
            format!(
                "APP_NAME=shop\nAPP_ENV=production\nAPP_KEY=base64:{}\nAPP_URL=https://www.example.com\n",
                base64(&self.production)
            ),
        )
        .expect("write production.env");
        (staging, production)
    }

    /// `--staging-key B64 --previous-key B64 --production-key B64` for the fixture scripts.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--staging-key".into(),
            base64(&self.staging),
            "--previous-key".into(),
            base64(&self.previous),
            "--production-key".into(),
            base64(&self.production),
            "--bits".into(),
            self.bits.to_string(),
        ]
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// The `items` table generate.php makes, read back and checked by verify.php.

/// The value columns of the `items` table generate.php creates.
pub fn item_columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Mariadb => &["txt", "big", "bin"],
        Kind::Postgres => &["txt", "vc"],
        Kind::Sqlite => &["txt", "other"],
    }
}

/// `items` read back as the `name<TAB>hex…` lines verify.php reads.
pub fn items_tsv(db: &Db) -> Vec<u8> {
    let mut tsv = String::new();
    for (name, cells) in db.rows("items", "name", item_columns(db.kind)) {
        tsv.push_str(&name);
        for cell in cells {
            tsv.push('\t');
            tsv.push_str(&hex(&cell));
        }
        tsv.push('\n');
    }
    tsv.into_bytes()
}

/// Runs verify.php on `db`'s items as they should be with `url`; its JSON report.
pub fn verify(db: &Db, keys: &Keys, url: &str, nul: bool) -> (i32, Value, String) {
    let mut args = vec!["--url".to_owned(), url.to_owned(), "--nul".into(), if nul { "1" } else { "0" }.into()];
    args.extend(keys.args());
    let ran = run("verify.php", &args, &items_tsv(db));
    let report = serde_json::from_slice(&ran.stdout)
        .unwrap_or_else(|e| panic!("verify.php printed no JSON ({e}):\n{}\n{}", lossy(&ran.stdout), ran.stderr));
    (ran.code, report, ran.stderr)
}
