//! `cutover secrets scan` as a user runs it: the real binary on real git repositories with no
//! cutover.toml; exit codes, the table, `--json`, and no secret value on either stream.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn code(self, expected: i32) -> Self {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// Neither stream holds any 8 characters of a value past its first 4.
    #[track_caller]
    fn redacted(self, values: &[String]) -> Self {
        for value in values {
            for window in value.as_bytes()[4..].windows(8) {
                let piece = std::str::from_utf8(window).unwrap();
                assert!(
                    !self.stdout.contains(piece) && !self.stderr.contains(piece),
                    "`{piece}` of a value is printed"
                );
            }
        }
        self
    }
}

fn cutover(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("cutover runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn write(dir: &Path, path: &str, content: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, content).unwrap();
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Random characters from `alphabet`, seeded by the clock: different on every run.
fn random(alphabet: &str, n: usize, salt: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut state =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 ^ salt;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chars[(state % chars.len() as u64) as usize]
        })
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A repository with three secrets: one only in history (deleted), two still in the tree.
struct Planted {
    dir: tempfile::TempDir,
    values: Vec<String>,
    first: String,
}

fn planted() -> Planted {
    let dir = tempfile::Builder::new().prefix("cutover-scan-cli-").tempdir().unwrap();
    let path = dir.path();
    git(path, &["init", "-q", "-b", "main"]);
    let stripe = format!("sk_live_{}", random(ALNUM, 24, 1));
    let github = format!("ghp_{}", random(ALNUM, 36, 2));
    let aws = format!("AKIA{}", random("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 3));
    write(path, "README.md", "# shop\n");
    write(path, "config/billing.php", &format!("<?php\nreturn ['stripe' => '{stripe}'];\n"));
    write(path, "deploy.sh", &format!("#!/bin/sh\nexport GITHUB_TOKEN={github}\n"));
    let first = commit(path, "first");
    git(path, &["rm", "-q", "deploy.sh"]);
    write(path, "aws.ini", &format!("[default]\naws_access_key_id = {aws}\n"));
    commit(path, "second");
    Planted { dir, values: vec![stripe, github, aws], first }
}

#[test]
fn secrets_in_the_tree_and_history_exit_1_with_a_table_and_no_values() {
    let repo = planted();
    let scratch = tempfile::tempdir().unwrap();
    let run =
        cutover(scratch.path(), &["secrets", "scan", repo.dir.path().to_str().unwrap()]).code(1).redacted(&repo.values);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("RULE") && lines[0].contains("LOCATION") && lines[0].contains("COMMIT"),
        "{}",
        run.stdout
    );
    assert_eq!(lines.len(), 1 + 5, "{}", run.stdout);
    let short = &repo.first[..10];
    for (rule, location, place) in [
        ("aws-access-key-id", "aws.ini:2", "working tree"),
        ("stripe-live-secret-key", "config/billing.php:2", "working tree"),
        ("stripe-live-secret-key", "config/billing.php:2", short),
        ("github-token", "deploy.sh:2", short),
        ("aws-access-key-id", "aws.ini:2", ""),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(rule) && l.contains(location) && l.contains(place) && l.contains('…')),
            "no row for {rule} at {location} {place}:\n{}",
            run.stdout
        );
    }
    assert!(run.stderr.contains("5 finding(s), 2 in the working tree and 3 in history"), "{}", run.stderr);
    assert!(run.stderr.contains("error: 5 secret(s) found"), "{}", run.stderr);
}

#[test]
fn json_lists_every_finding_with_its_place_and_redaction() {
    let repo = planted();
    let run = cutover(repo.dir.path(), &["--json", "secrets", "scan"]).code(1).redacted(&repo.values);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(json["clean"], false);
    assert_eq!(json["path"], ".");
    assert_eq!(json["stats"]["history"], true);
    assert_eq!(json["stats"]["commits"], 2);
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 5);
    for finding in findings {
        for key in ["rule", "description", "file", "redacted", "fingerprint"] {
            assert!(finding[key].is_string(), "{key} in {finding}");
        }
        assert!(finding["line"].as_u64().unwrap() >= 1);
        assert!(finding["commit"].is_null() || finding["commit"].as_str().unwrap().len() == 40, "{finding}");
    }
    let github = findings.iter().find(|f| f["rule"] == "github-token").unwrap();
    assert_eq!(github["commit"], repo.first.as_str());
    assert_eq!(github["file"], "deploy.sh");
    assert_eq!(github["redacted"], "ghp_… (40 chars)");
}

#[test]
fn a_clean_repository_exits_0_and_an_ignored_finding_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    git(path, &["init", "-q", "-b", "main"]);
    write(
        path,
        ".env.example",
        "APP_KEY=\nSTRIPE_SECRET=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nDB_PASSWORD=${DB_PASSWORD}\n",
    );
    write(path, "src/app.js", "const token = process.env.TOKEN;\n");
    commit(path, "clean");
    let run = cutover(path, &["secrets", "scan", "."]).code(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("0 finding(s)"), "{}", run.stderr);
    let run = cutover(path, &["--json", "secrets", "scan"]).code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["clean"], true);
    assert_eq!(json["findings"], serde_json::json!([]));

    // A real-looking key, accepted by its fingerprint.
    let key = format!("sk_live_{}", random(ALNUM, 24, 4));
    write(path, "src/pay.js", &format!("stripe('{key}');\n"));
    let run = cutover(path, &["--json", "secrets", "scan"]).code(1).redacted(std::slice::from_ref(&key));
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let fingerprint = json["findings"][0]["fingerprint"].as_str().unwrap().to_owned();
    write(path, ".cutoverignore", &format!("fingerprint:{fingerprint}\n"));
    cutover(path, &["secrets", "scan"]).code(0);
}

#[test]
fn a_missing_path_or_a_bad_cutoverignore_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = cutover(dir.path(), &["secrets", "scan", "no/such/dir"]).code(2);
    assert!(run.stderr.contains("error: `no/such/dir` does not exist"), "{}", run.stderr);
    write(dir.path(), ".cutoverignore", "rule:no-such-rule\n");
    let run = cutover(dir.path(), &["secrets", "scan"]).code(2);
    assert!(run.stderr.contains("`.cutoverignore` line 1: no rule is called `no-such-rule`"), "{}", run.stderr);
}

#[test]
fn the_history_or_the_working_tree_can_be_left_out() {
    let repo = planted();
    let path = repo.dir.path().to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let json = |args: &[&str]| {
        let mut all = vec!["--json", "secrets", "scan", path];
        all.extend_from_slice(args);
        let run = cutover(scratch.path(), &all).code(1).redacted(&repo.values);
        serde_json::from_str::<serde_json::Value>(&run.stdout).expect("stdout is JSON")
    };
    let tree = json(&["--no-history"]);
    let findings = tree["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{tree:#}");
    assert!(findings.iter().all(|f| f["commit"].is_null()), "{tree:#}");
    let history = json(&["--no-work-tree"]);
    let findings = history["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 3, "{history:#}");
    assert!(findings.iter().all(|f| f["commit"].is_string()), "{history:#}");
    // A size limit below every file's size leaves nothing to find.
    cutover(scratch.path(), &["secrets", "scan", path, "--max-size", "10"]).code(0);
}

/// Framework and CMS code as Debian ships it holds no secret, so a scan of it finds none: its
/// doc blocks' example salts, minified JavaScript, constant names and class-file paths only look
/// like secrets. WordPress (`wordpress`) is partly symlinks into /etc/wordpress and
/// /usr/share/javascript, so it is copied with links followed and committed, as a site's
/// repository holds it (a plain directory's scan would skip its `vendor/`); Laravel's Illuminate
/// (`php-laravel-framework`, with `php-illuminate-encryption`) is scanned where it is installed.
#[test]
fn wordpress_and_laravel_as_shipped_have_no_findings() {
    let wordpress = Path::new("/usr/share/wordpress");
    let illuminate = Path::new("/usr/share/php/Illuminate");
    let installed = wordpress.join("wp-includes/pluggable.php").is_file()
        && illuminate.join("Foundation/Application.php").is_file()
        && illuminate.join("Encryption/autoload.php").is_file();
    if !cutover_testkit::require("Debian's wordpress and php-laravel-framework packages", installed) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("cutover-scan-vendor-").tempdir().unwrap();
    let site = dir.path().join("site");
    let copied = Command::new("cp").arg("-rL").arg(wordpress).arg(&site).status().expect("cp runs");
    assert!(copied.success(), "cp -rL {} failed", wordpress.display());
    git(&site, &["init", "-q", "-b", "main"]);
    commit(&site, "WordPress as Debian ships it");

    for (name, path, min_files) in [("WordPress", site.as_path(), 2500), ("Illuminate", illuminate, 1000)] {
        let run = cutover(path, &["--json", "secrets", "scan"]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e})\n{}\n{}", run.stdout, run.stderr));
        let findings: Vec<String> = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}:{} {} {}", f["file"], f["line"], f["rule"], f["redacted"]))
            .collect();
        assert!(findings.is_empty(), "{name}: {} finding(s):\n{}", findings.len(), findings.join("\n"));
        assert_eq!(run.code, 0, "{name}: exit code\n{}", run.stderr);
        let files = json["stats"]["files"].as_u64().unwrap();
        assert!(files >= min_files, "{name}: only {files} files scanned");
    }
}
