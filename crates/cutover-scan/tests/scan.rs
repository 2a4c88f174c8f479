//! The scanner against real git repositories: recall on secrets planted across commits (deleted,
//! renamed, on side branches, allowed, ignored), silence on a repository of look-alikes, and no
//! value ever printed. Secret values are generated at run time, so none is in this file.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use cutover_scan::{Finding, Report, ScanOptions, Scanner, scan};

// ---------------------------------------------------------------------------------------------
// A throwaway git repository.

struct Repo {
    dir: tempfile::TempDir,
    commits: usize,
}

impl Repo {
    fn new() -> Self {
        let repo = Self { dir: tempfile::Builder::new().prefix("cutover-scan-").tempdir().unwrap(), commits: 0 };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        // Commits a second apart, so `--date-order` is the order they were made in.
        let date = format!("2024-01-01T00:00:{:02}Z", self.commits);
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn write(&self, path: &str, content: &str) {
        self.write_bytes(path, content.as_bytes());
    }

    fn write_bytes(&self, path: &str, content: &[u8]) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// Commits everything and returns the commit's id.
    fn commit(&mut self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.commits += 1;
        self.git(&["rev-parse", "HEAD"])
    }
}

// ---------------------------------------------------------------------------------------------
// Values that look like the real thing, from a seeded generator.

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &str = "0123456789abcdef";
const DIGITS: &str = "0123456789";
const BECH32: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| chars[(self.next() % chars.len() as u64) as usize]).collect()
    }

    fn base64(&mut self, n: usize) -> String {
        self.pick(&format!("{ALNUM}+/"), n)
    }

    fn base64url(&mut self, n: usize) -> String {
        self.pick(&format!("{ALNUM}-_"), n)
    }

    /// A PEM block of `kind` ("RSA PRIVATE KEY", "PRIVATE KEY", …) with `sep` between lines.
    fn pem(&mut self, kind: &str, sep: &str) -> String {
        let mut lines = vec![format!("-----BEGIN {kind}-----"), format!("MIIEowIBAAKCAQEA{}", self.base64(48))];
        lines.extend((0..24).map(|_| self.base64(64)));
        lines.push(format!("{}==", self.base64(30)));
        lines.push(format!("-----END {kind}-----"));
        lines.join(sep) + sep
    }
}

/// A value planted in the repository, and where it must be reported.
#[derive(Debug)]
struct Plant {
    rule: &'static str,
    value: String,
}

type Place = (String, String, usize, Option<String>);

fn plant(plants: &mut Vec<Plant>, rule: &'static str, value: String) -> String {
    plants.push(Plant { rule, value: value.clone() });
    value
}

fn line_of(content: &str, needle: &str) -> usize {
    let at = content.find(needle).unwrap_or_else(|| panic!("{needle} is in the content"));
    content[..at].matches('\n').count() + 1
}

fn places(report: &Report) -> BTreeSet<Place> {
    report.findings.iter().map(|f| (f.rule.to_owned(), f.file.clone(), f.line, f.commit.clone())).collect()
}

/// Neither the value nor any 8 characters of it past its first 4 appear in `text`.
#[track_caller]
fn assert_redacted(text: &str, plants: &[Plant]) {
    for plant in plants {
        let value: Vec<char> = plant.value.chars().collect();
        for window in value[4.min(value.len())..].windows(8) {
            let piece: String = window.iter().collect();
            assert!(!text.contains(&piece), "{} leaks `{piece}` of a planted value", plant.rule);
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_planted_secret_is_found_with_its_rule_commit_and_line() {
    let mut rng = Rng(7);
    let mut repo = Repo::new();
    let mut plants = Vec::new();
    let mut expected: BTreeSet<Place> = BTreeSet::new();
    let mut expect = |rule: &str, file: &str, content: &str, needle: &str, commit: Option<&str>| {
        expected.insert((rule.to_owned(), file.to_owned(), line_of(content, needle), commit.map(str::to_owned)));
    };

    // Commit 1: AWS pair, a Stripe key in a file renamed later, an RSA key deleted later; an
    // ignored directory.
    let akid = plant(&mut plants, "aws-access-key-id", format!("AKIA{}", rng.pick(BASE32, 16)));
    let aws_secret = plant(&mut plants, "aws-secret-access-key", rng.base64(40));
    let stripe = plant(&mut plants, "stripe-live-secret-key", format!("sk_live_{}", rng.pick(ALNUM, 24)));
    let rsa = rng.pem("RSA PRIVATE KEY", "\n");
    let ignored = format!("AKIA{}", rng.pick(BASE32, 16));
    let aws_env = format!("# aws\nAWS_ACCESS_KEY_ID={akid}\nAWS_SECRET_ACCESS_KEY={aws_secret}\n");
    let billing = format!("<?php\n\n// billing\n$client = new \\Stripe\\StripeClient('{stripe}');\n");
    repo.write(".cutoverignore", "# test data\nfixtures/\n");
    repo.write(".gitignore", ".env\n");
    repo.write("README.md", "# shop\n");
    repo.write("config/aws.env", &aws_env);
    repo.write("app/billing.php", &billing);
    repo.write("deploy/id_rsa", &rsa);
    repo.write("fixtures/keys.env", &format!("AWS_ACCESS_KEY_ID={ignored}\n"));
    let c1 = repo.commit("initial");
    expect("aws-access-key-id", "config/aws.env", &aws_env, &akid, Some(&c1));
    expect("aws-secret-access-key", "config/aws.env", &aws_env, &aws_secret, Some(&c1));
    expect("stripe-live-secret-key", "app/billing.php", &billing, &stripe, Some(&c1));
    expect("private-key", "deploy/id_rsa", &rsa, "-----BEGIN", Some(&c1));
    plants.push(Plant { rule: "private-key", value: rsa.lines().nth(3).unwrap().to_owned() });
    plants.push(Plant { rule: "ignored", value: ignored });

    // Commit 2: Laravel key, GitHub token (file deleted later), GitLab token, an allowed token.
    let laravel = plant(&mut plants, "laravel-app-key", format!("{}=", rng.base64(43)));
    let ghp = plant(&mut plants, "github-token", format!("ghp_{}", rng.pick(ALNUM, 36)));
    let glpat = plant(&mut plants, "gitlab-token", format!("glpat-{}", rng.base64url(20)));
    let allowed = format!("ghp_{}", rng.pick(ALNUM, 36));
    let dotenv = format!("APP_NAME=shop\nAPP_ENV=production\nAPP_KEY=base64:{laravel}\n");
    let release = format!("#!/bin/sh\nexport GITHUB_TOKEN={ghp}\ngh release create \"$1\"\n");
    let gitlab = format!("deploy:\n  variables:\n    GITLAB_TOKEN: {glpat}\n");
    let allowed_py = format!("TOKEN = \"{allowed}\"  # cutover:allow, a revoked token kept for a test\n");
    repo.write(".env.production", &dotenv);
    repo.write("scripts/release.sh", &release);
    repo.write("ci/gitlab.yml", &gitlab);
    repo.write("src/allowed.py", &allowed_py);
    let c2 = repo.commit("production settings");
    expect("laravel-app-key", ".env.production", &dotenv, &laravel, Some(&c2));
    expect("github-token", "scripts/release.sh", &release, &ghp, Some(&c2));
    expect("gitlab-token", "ci/gitlab.yml", &gitlab, &glpat, Some(&c2));
    plants.push(Plant { rule: "allowed", value: allowed });

    // Commit 3: webhooks, a generic secret, a Slack token; the AWS file gains a line on top.
    let slack_hook = plant(
        &mut plants,
        "slack-webhook",
        format!("T{}/B{}/{}", rng.pick(UPPER, 8), rng.pick(UPPER, 8), rng.pick(ALNUM, 24)),
    );
    let discord = plant(&mut plants, "discord-webhook", format!("{}/{}", rng.pick(DIGITS, 18), rng.base64url(68)));
    let django = plant(
        &mut plants,
        "generic-secret",
        format!("{}!{}#{}", rng.pick(ALNUM, 20), rng.pick(ALNUM, 10), rng.pick(ALNUM, 9)),
    );
    let xoxb = plant(
        &mut plants,
        "slack-token",
        format!("xoxb-{}-{}-{}", rng.pick(DIGITS, 12), rng.pick(DIGITS, 13), rng.pick(ALNUM, 24)),
    );
    let notify = format!("const hook = \"https://hooks.slack.com/services/{slack_hook}\";\nfetch(hook);\n");
    let discord_py = format!("import requests\n\nWEBHOOK = \"https://discord.com/api/webhooks/{discord}\"\n");
    let settings = format!("DEBUG = False\nSECRET_KEY = \"{django}\"\nALLOWED_HOSTS = [\"shop.example.com\"]\n");
    let slack_py = format!("from slack_sdk import WebClient\nclient = WebClient(token='{xoxb}')\n");
    let aws_env2 = format!("# region eu-west-1\n{aws_env}");
    repo.write("notify.js", &notify);
    repo.write("bot/discord.py", &discord_py);
    repo.write("src/settings.py", &settings);
    repo.write("src/slack.py", &slack_py);
    repo.write("config/aws.env", &aws_env2);
    let c3 = repo.commit("notifications");
    expect("slack-webhook", "notify.js", &notify, &slack_hook, Some(&c3));
    expect("discord-webhook", "bot/discord.py", &discord_py, &discord, Some(&c3));
    expect("generic-secret", "src/settings.py", &settings, &django, Some(&c3));
    expect("slack-token", "src/slack.py", &slack_py, &xoxb, Some(&c3));

    // Commit 4: the RSA key and release script deleted, the Stripe file renamed.
    repo.git(&["rm", "-q", "deploy/id_rsa", "scripts/release.sh"]);
    repo.git(&["mv", "app/billing.php", "src/Billing.php"]);
    repo.commit("clean up");

    // Commit 5: more formats.
    let google = plant(&mut plants, "google-api-key", format!("AIza{}", rng.base64url(35)));
    let sendgrid = plant(&mut plants, "sendgrid-api-key", format!("SG.{}.{}", rng.base64url(22), rng.base64url(43)));
    let npm = plant(&mut plants, "npm-token", format!("npm_{}", rng.pick(ALNUM, 36)));
    let db_password = plant(&mut plants, "url-credentials", rng.pick(ALNUM, 16));
    let jwt = plant(
        &mut plants,
        "jwt",
        format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}", rng.base64url(40), rng.base64url(43)),
    );
    let twilio = plant(&mut plants, "twilio-api-key", format!("SK{}", rng.pick(HEX, 32)));
    let wp = plant(&mut plants, "generic-secret", format!("{}%{}", rng.pick(ALNUM, 12), rng.pick(ALNUM, 8)));
    let restricted = plant(&mut plants, "stripe-live-restricted-key", format!("rk_live_{}", rng.pick(ALNUM, 24)));
    let age = plant(&mut plants, "age-secret-key", format!("AGE-SECRET-KEY-1{}", rng.pick(BECH32, 58)));
    let service_key = rng.pem("PRIVATE KEY", "\\n");
    let maps = format!("window.initMap = () => {{}};\nconst key = '{google}';\n");
    let sendgrid_rb = format!("require 'sendgrid-ruby'\nsg = SendGrid::API.new(api_key: '{sendgrid}')\n");
    let npmrc = format!("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={npm}\n");
    let database =
        format!("production:\n  adapter: postgresql\n  url: postgres://app:{db_password}@db.internal:5432/shop\n");
    let jwt_txt = format!("Authorization: Bearer {jwt}\n");
    let twilio_php = format!("<?php\n$sid = '{twilio}';\n");
    let wp_config = format!("<?php\ndefine('DB_NAME', 'shop');\ndefine('DB_PASSWORD', '{wp}');\n");
    let stripe_rb = format!("Stripe.api_key = ENV['STRIPE']\nRESTRICTED = \"{restricted}\"\n");
    let age_txt = format!(
        "# created: 2024-01-01\n# public key: age1{}\n{age}\n",
        rng.pick("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)
    );
    let service = format!(
        "{{\"type\": \"service_account\", \"private_key_id\": \"{}\", \"private_key\": \"{service_key}\", \"client_email\": \"ci@shop.iam.gserviceaccount.com\"}}\n",
        rng.pick(HEX, 40)
    );
    repo.write("web/maps.js", &maps);
    repo.write("mail/sendgrid.rb", &sendgrid_rb);
    repo.write(".npmrc", &npmrc);
    repo.write("config/database.yml", &database);
    repo.write("docs/api.txt", &jwt_txt);
    repo.write("services/twilio.php", &twilio_php);
    repo.write("wp-config.php", &wp_config);
    repo.write("config/stripe.rb", &stripe_rb);
    repo.write("keys/age.txt", &age_txt);
    repo.write("gcp/service.json", &service);
    let c5 = repo.commit("integrations");
    expect("google-api-key", "web/maps.js", &maps, &google, Some(&c5));
    expect("sendgrid-api-key", "mail/sendgrid.rb", &sendgrid_rb, &sendgrid, Some(&c5));
    expect("npm-token", ".npmrc", &npmrc, &npm, Some(&c5));
    expect("url-credentials", "config/database.yml", &database, &db_password, Some(&c5));
    expect("jwt", "docs/api.txt", &jwt_txt, &jwt, Some(&c5));
    expect("twilio-api-key", "services/twilio.php", &twilio_php, &twilio, Some(&c5));
    expect("generic-secret", "wp-config.php", &wp_config, &wp, Some(&c5));
    expect("stripe-live-restricted-key", "config/stripe.rb", &stripe_rb, &restricted, Some(&c5));
    expect("age-secret-key", "keys/age.txt", &age_txt, &age, Some(&c5));
    expect("private-key", "gcp/service.json", &service, "-----BEGIN", Some(&c5));
    plants.push(Plant { rule: "private-key", value: service_key.split("\\n").nth(3).unwrap().to_owned() });

    // Commit 6: the age key deleted again.
    repo.git(&["rm", "-q", "keys/age.txt"]);
    repo.commit("remove age key");

    // A side branch never merged: only in history.
    repo.git(&["checkout", "-q", "-b", "experiment"]);
    let digitalocean = plant(&mut plants, "digitalocean-token", format!("dop_v1_{}", rng.pick(HEX, 64)));
    let terraform = format!("provider \"digitalocean\" {{\n  token = \"{digitalocean}\"\n}}\n");
    repo.write("infra/main.tf", &terraform);
    let c7 = repo.commit("try digitalocean");
    expect("digitalocean-token", "infra/main.tf", &terraform, &digitalocean, Some(&c7));
    repo.git(&["checkout", "-q", "main"]);

    // Not committed: an untracked file (scanned) and a git-ignored one (not scanned).
    let shopify = plant(&mut plants, "shopify-token", format!("shpat_{}", rng.pick(HEX, 32)));
    let untracked = format!("shop token for the import script:\n{shopify}\n");
    repo.write("notes/todo.txt", &untracked);
    let ignored_env = format!("sk_live_{}", rng.pick(ALNUM, 24));
    repo.write(".env", &format!("STRIPE_SECRET={ignored_env}\n"));
    plants.push(Plant { rule: "git-ignored", value: ignored_env });

    // The working tree as it is now.
    expect("aws-access-key-id", "config/aws.env", &aws_env2, &akid, None);
    expect("aws-secret-access-key", "config/aws.env", &aws_env2, &aws_secret, None);
    expect("stripe-live-secret-key", "src/Billing.php", &billing, &stripe, None);
    expect("laravel-app-key", ".env.production", &dotenv, &laravel, None);
    expect("gitlab-token", "ci/gitlab.yml", &gitlab, &glpat, None);
    expect("slack-webhook", "notify.js", &notify, &slack_hook, None);
    expect("discord-webhook", "bot/discord.py", &discord_py, &discord, None);
    expect("generic-secret", "src/settings.py", &settings, &django, None);
    expect("slack-token", "src/slack.py", &slack_py, &xoxb, None);
    expect("google-api-key", "web/maps.js", &maps, &google, None);
    expect("sendgrid-api-key", "mail/sendgrid.rb", &sendgrid_rb, &sendgrid, None);
    expect("npm-token", ".npmrc", &npmrc, &npm, None);
    expect("url-credentials", "config/database.yml", &database, &db_password, None);
    expect("jwt", "docs/api.txt", &jwt_txt, &jwt, None);
    expect("twilio-api-key", "services/twilio.php", &twilio_php, &twilio, None);
    expect("generic-secret", "wp-config.php", &wp_config, &wp, None);
    expect("stripe-live-restricted-key", "config/stripe.rb", &stripe_rb, &restricted, None);
    expect("private-key", "gcp/service.json", &service, "-----BEGIN", None);
    expect("shopify-token", "notes/todo.txt", &untracked, &shopify, None);

    let report = scan(repo.path(), &ScanOptions::default()).unwrap();
    let found = places(&report);
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(missed.is_empty() && extra.is_empty(), "missed: {missed:#?}\nextra: {extra:#?}");
    let rules: BTreeSet<&str> = report.findings.iter().map(|f| f.rule).collect();
    assert!(rules.len() >= 15, "{} rules: {rules:?}", rules.len());
    assert!(report.stats.history);
    assert_eq!(report.stats.commits, 7);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // Working tree first, then history oldest first.
    let first_history = report.findings.iter().position(|f| f.commit.is_some()).unwrap();
    assert!(report.findings[first_history..].iter().all(|f| f.commit.is_some()));
    assert_eq!(report.findings[first_history].commit.as_deref(), Some(c1.as_str()));

    // No value in any rendering of the report.
    assert_redacted(&format!("{report:?}"), &plants);
    assert_redacted(&serde_json::to_string(&report).unwrap(), &plants);
    let lines: Vec<String> = report.findings.iter().map(Finding::to_string).collect();
    assert_redacted(&lines.join("\n"), &plants);
    assert!(report.findings.iter().all(|f| f.redacted.contains('…') && f.fingerprint.len() == 16));

    // The same without history: the working tree only.
    let tree = scan(repo.path(), &ScanOptions { history: false, ..ScanOptions::default() }).unwrap();
    let tree_expected: BTreeSet<Place> = expected.iter().filter(|p| p.3.is_none()).cloned().collect();
    assert_eq!(places(&tree), tree_expected);
    assert!(!tree.stats.history);
    // And history only.
    let history = scan(repo.path(), &ScanOptions { work_tree: false, ..ScanOptions::default() }).unwrap();
    let history_expected: BTreeSet<Place> = expected.iter().filter(|p| p.3.is_some()).cloned().collect();
    assert_eq!(places(&history), history_expected);
}

#[test]
fn cutoverignore_accepts_a_fingerprint_or_a_rule() {
    let mut rng = Rng(11);
    let mut repo = Repo::new();
    let token = format!("ghp_{}", rng.pick(ALNUM, 36));
    let hook = format!("T{}/B{}/{}", rng.pick(UPPER, 8), rng.pick(UPPER, 8), rng.pick(ALNUM, 24));
    repo.write("deploy.sh", &format!("GH_TOKEN={token}\ncurl https://hooks.slack.com/services/{hook}\n"));
    repo.commit("deploy script");
    let report = scan(repo.path(), &ScanOptions::default()).unwrap();
    assert_eq!(report.findings.len(), 4, "{:#?}", report.findings);
    let github = report.findings.iter().find(|f| f.rule == "github-token").unwrap();

    repo.write(".cutoverignore", &format!("fingerprint:{}\n", github.fingerprint));
    let report = scan(repo.path(), &ScanOptions::default()).unwrap();
    assert!(report.findings.iter().all(|f| f.rule == "slack-webhook"), "{:#?}", report.findings);
    assert_eq!(report.findings.len(), 2);

    repo.write(".cutoverignore", &format!("fingerprint:{}\nrule:slack-webhook\n", github.fingerprint));
    assert!(scan(repo.path(), &ScanOptions::default()).unwrap().is_clean());

    repo.write(".cutoverignore", "deploy.*\n");
    assert!(scan(repo.path(), &ScanOptions::default()).unwrap().is_clean());

    repo.write(".cutoverignore", "fingerprint:nothex\n");
    let err = scan(repo.path(), &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn a_plain_directory_is_scanned_without_history_and_without_dependencies() {
    let mut rng = Rng(13);
    let dir = tempfile::tempdir().unwrap();
    let key = format!("sk_live_{}", rng.pick(ALNUM, 24));
    std::fs::write(dir.path().join(".env"), format!("STRIPE_SECRET={key}\n")).unwrap();
    std::fs::create_dir_all(dir.path().join("node_modules/stripe")).unwrap();
    std::fs::write(dir.path().join("node_modules/stripe/README.md"), format!("{key}\n")).unwrap();
    std::fs::write(dir.path().join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR sk_live_").unwrap();
    let report = scan(dir.path(), &ScanOptions::default()).unwrap();
    assert_eq!(places(&report), BTreeSet::from([("stripe-live-secret-key".into(), ".env".into(), 1, None)]));
    assert!(!report.stats.history);
    assert_eq!(report.stats.skipped_binary, 1);

    // One file on its own.
    let report = scan(&dir.path().join(".env"), &ScanOptions::default()).unwrap();
    assert_eq!(places(&report), BTreeSet::from([("stripe-live-secret-key".into(), ".env".into(), 1, None)]));
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let err = scan(Path::new("/nonexistent/cutover-scan"), &ScanOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "`/nonexistent/cutover-scan` does not exist");
}

#[test]
fn a_repository_without_commits_has_an_empty_history() {
    let repo = Repo::new();
    repo.write("a.txt", "hello\n");
    let report = scan(repo.path(), &ScanOptions::default()).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.stats.commits, 0);
    assert_eq!(report.stats.files, 1);
}

#[test]
fn blobs_over_the_size_limit_and_binaries_are_skipped() {
    let mut rng = Rng(17);
    let mut repo = Repo::new();
    let key = format!("sk_live_{}", rng.pick(ALNUM, 24));
    repo.write("big.sql", &format!("{}\n-- {key}\n", "x".repeat(2 << 20)));
    repo.write_bytes("image.png", &[&b"\x89PNG\0\0"[..], key.as_bytes()].concat());
    repo.commit("assets");
    let options = ScanOptions { max_file_size: 1 << 20, ..ScanOptions::default() };
    let report = scan(repo.path(), &options).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!((report.stats.skipped_large, report.stats.skipped_binary), (2, 2));
    assert_eq!(scan(repo.path(), &ScanOptions::default()).unwrap().findings.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// A clean repository full of look-alikes.

#[test]
fn a_repository_of_look_alikes_has_no_findings() {
    let mut rng = Rng(23);
    let mut repo = Repo::new();
    let sha512 = |rng: &mut Rng| format!("sha512-{}==", rng.base64(86));
    let package_lock = format!(
        r#"{{
  "name": "shop",
  "lockfileVersion": 3,
  "packages": {{
    "node_modules/js-tokens": {{
      "version": "4.0.0",
      "resolved": "https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz",
      "integrity": "{}"
    }},
    "node_modules/safe-buffer": {{
      "version": "5.2.1",
      "resolved": "https://registry.npmjs.org/safe-buffer/-/safe-buffer-5.2.1.tgz",
      "integrity": "{}",
      "funding": [{{ "type": "github", "url": "https://github.com/sponsors/feross" }}]
    }},
    "node_modules/@types/passport-http-bearer": {{ "version": "1.0.41", "integrity": "{}" }}
  }}
}}
"#,
        sha512(&mut rng),
        sha512(&mut rng),
        sha512(&mut rng)
    );
    let composer_lock = format!(
        r#"{{
    "content-hash": "{}",
    "packages": [
        {{
            "name": "laravel/sanctum",
            "version": "v3.3.3",
            "source": {{ "type": "git", "url": "https://github.com/laravel/sanctum.git", "reference": "{}" }},
            "dist": {{ "type": "zip", "url": "https://api.github.com/repos/laravel/sanctum/zipball/{}", "reference": "{}", "shasum": "" }},
            "keywords": ["auth", "laravel", "sanctum", "token"]
        }}
    ]
}}
"#,
        rng.pick(HEX, 32),
        rng.pick(HEX, 40),
        rng.pick(HEX, 40),
        rng.pick(HEX, 40)
    );
    let yarn_lock = format!(
        "js-tokens@^4.0.0:\n  version \"4.0.0\"\n  resolved \"https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#{}\"\n  integrity {}\n",
        rng.pick(HEX, 40),
        sha512(&mut rng)
    );
    let cargo_lock = format!(
        "[[package]]\nname = \"secrecy\"\nversion = \"0.8.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
        rng.pick(HEX, 64)
    );
    let go_sum = format!(
        "golang.org/x/oauth2 v0.15.0 h1:{}=\ngolang.org/x/oauth2 v0.15.0/go.mod h1:{}=\n",
        rng.base64(43),
        rng.base64(43)
    );
    let changelog = format!(
        "# Changes\n\n- token refresh fixed in {} (see {}).\n- password reset mail, commit {}\n",
        rng.pick(HEX, 40),
        rng.pick(HEX, 7),
        rng.pick(HEX, 40)
    );
    let uuid = |rng: &mut Rng| {
        format!(
            "{}-{}-4{}-a{}-{}",
            rng.pick(HEX, 8),
            rng.pick(HEX, 4),
            rng.pick(HEX, 3),
            rng.pick(HEX, 3),
            rng.pick(HEX, 12)
        )
    };
    let fixtures = format!(
        "[{{\"id\": \"{}\", \"user_uuid\": \"{}\", \"request_id\": \"{}\", \"sha256\": \"{}\", \"md5\": \"{}\", \"etag\": \"W/\\\"{}\\\"\"}}]\n",
        uuid(&mut rng),
        uuid(&mut rng),
        uuid(&mut rng),
        rng.pick(HEX, 64),
        rng.pick(HEX, 32),
        rng.pick(HEX, 32)
    );
    let css = format!(".logo {{ background: url(data:image/png;base64,{}==); }}\n", rng.base64(2000));
    let env_example = "APP_NAME=shop\nAPP_ENV=local\nAPP_KEY=\nAPP_DEBUG=true\nDB_PASSWORD=\nMAIL_PASSWORD=null\n\
STRIPE_SECRET=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nAWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=your-secret-access-key-here\n\
GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nAPI_TOKEN=${API_TOKEN}\nSESSION_SECRET=changeme\n\
SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n\
DATABASE_URL=postgres://user:password@localhost:5432/shop\nREDIS_URL=redis://:${REDIS_PASSWORD}@redis:6379\n\
JWT_SECRET=SomeRandomString\n";
    let docs = "# Deploying\n\nUse a Stripe key starting with `sk_live_` in production and `sk_test_` elsewhere.\n\
AWS's documentation uses AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY as examples:\n\n\
    aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n\
Put the key in `deploy/key.pem`:\n\n    -----BEGIN RSA PRIVATE KEY-----\n    ...\n    -----END RSA PRIVATE KEY-----\n\n\
A token looks like `ghp_` followed by 36 characters; a GitLab one starts with `glpat-`.\n\
Set `password: ${DB_PASSWORD}` and never `password: hunter2`.\n";
    let php = r#"<?php
return [
    'key' => env('APP_KEY'),
    'cipher' => 'AES-256-CBC',
    'password' => 'The provided password is incorrect.',
    'password_rules' => 'required|string|min:8|confirmed',
    'token_type' => 'bearer',
    'secret' => env('STRIPE_SECRET', ''),
    'api_key' => config('services.mailgun.secret'),
];
$password = $request->input('password');
$token = Str::random(60);
$hashed = Hash::make($password);
define('AUTH_KEY', 'put your unique phrase here');
define('SECURE_AUTH_SALT', 'put your unique phrase here');
"#;
    let js = r#"const token = process.env.API_TOKEN;
const password = req.body.password;
if (password === "") throw new Error("password required");
const config = { apiKey: process.env.FIREBASE_KEY, tokenUrl: "https://oauth2.googleapis.com/token" };
export const passwordField = "user_password_confirmation";
const monkey = { keyboard: "qwerty", tokenizer: new Tokenizer() };
headers["X-CSRF-Token"] = "{{ csrf_token() }}";
"#;
    let python = "import os\n\nSECRET_KEY = os.environ[\"SECRET_KEY\"]\nDATABASES = {\"default\": {\"PASSWORD\": os.getenv(\"DB_PASSWORD\")}}\n\
def login(username, password):\n    token = make_token(username)\n    return token\n";
    let workflow = "on: push\njobs:\n  deploy:\n    steps:\n      - run: ./deploy.sh\n        env:\n\
          API_TOKEN: ${{ secrets.API_TOKEN }}\n          SSH_PRIVATE_KEY: ${{ secrets.SSH_KEY }}\n";
    let compose = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n      POSTGRES_USER: shop\n";
    let erb =
        "production:\n  password: <%= ENV['DB_PASSWORD'] %>\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n";
    let ssh_pub = format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} deploy@shop\n", rng.base64(43));
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><path d=\"M{}\"/></svg>\n",
        rng.pick("0123456789 .,-MLCZ", 3000)
    );
    let minified = format!(
        "!function(){{var e={{key:\"a\",token:t,secret:n}};{}}}();\n",
        "e.key=e.key||function(t){return t.token};".repeat(200)
    );
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], rng.base64(500).as_bytes()].concat();

    repo.write("package-lock.json", &package_lock);
    repo.write("composer.lock", &composer_lock);
    repo.write("yarn.lock", &yarn_lock);
    repo.write("Cargo.lock", &cargo_lock);
    repo.write("go.sum", &go_sum);
    repo.write("CHANGELOG.md", &changelog);
    repo.write("tests/fixtures/users.json", &fixtures);
    repo.write("public/app.css", &css);
    repo.write(".env.example", env_example);
    repo.write("docs/deploy.md", docs);
    repo.commit("look-alikes, part one");
    repo.write("config/app.php", php);
    repo.write("resources/js/login.js", js);
    repo.write("app/settings.py", python);
    repo.write(".github/workflows/deploy.yml", workflow);
    repo.write("docker-compose.yml", compose);
    repo.write("config/database.yml.erb", erb);
    repo.write("deploy/key.pub", &ssh_pub);
    repo.write("public/logo.svg", &svg);
    repo.write("public/vendor.min.js", &minified);
    repo.write_bytes("public/logo.png", &png);
    repo.commit("look-alikes, part two");
    repo.write("docs/deploy.md", &format!("{docs}\nSee also CHANGELOG.md.\n"));
    repo.git(&["rm", "-q", "go.sum"]);
    repo.commit("edit docs");

    let report = scan(repo.path(), &ScanOptions::default()).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.stats.commits, 3);
    assert!(report.stats.files >= 19 && report.stats.blobs >= 21, "{:?}", report.stats);
}

// ---------------------------------------------------------------------------------------------
// Rules one line at a time.

fn rules_in(line: &str) -> Vec<&'static str> {
    Scanner::get().scan_text("src/app.txt", line.as_bytes()).into_iter().map(|h| h.rule).collect()
}

#[test]
fn each_rule_fires_on_its_format_and_not_on_its_placeholder() {
    let mut rng = Rng(29);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("key = AKIA{}", rng.pick(BASE32, 16)), vec!["aws-access-key-id"]),
        (format!("aws_secret_access_key = \"{}\"", rng.base64(40)), vec!["aws-secret-access-key"]),
        (format!("STRIPE_WEBHOOK=whsec_{}", rng.pick(ALNUM, 32)), vec!["stripe-webhook-secret"]),
        (
            format!("token: github_pat_{}_{}", rng.pick(ALNUM, 22), rng.pick(ALNUM, 59)),
            vec!["github-fine-grained-token"],
        ),
        (format!("PYPI=pypi-AgEIcHlwaS5vcmc{}", rng.base64url(60)), vec!["pypi-token"]),
        (format!("OPENAI_API_KEY=sk-proj-{}T3BlbkFJ{}", rng.base64url(40), rng.base64url(40)), vec!["openai-api-key"]),
        (format!("key: sk-ant-api03-{}", rng.base64url(90)), vec!["anthropic-api-key"]),
        (format!("VAULT_TOKEN=hvs.{}", rng.base64url(95)), vec!["vault-token"]),
        (format!("bot = \"{}:AA{}\"", rng.pick(DIGITS, 10), rng.base64url(33)), vec!["telegram-bot-token"]),
        (
            format!("DefaultEndpointsProtocol=https;AccountName=shop;AccountKey={}==;", rng.base64(86)),
            vec!["azure-storage-key"],
        ),
        (format!("MAILGUN=key-{}", rng.pick(HEX, 32)), vec!["mailgun-api-key"]),
        (format!("MAILCHIMP={}-us14", rng.pick(HEX, 32)), vec!["mailchimp-api-key"]),
        (format!("SQUARE=sq0csp-{}", rng.base64url(43)), vec!["square-token"]),
        (format!("x=glptt-{}", rng.pick(HEX, 40)), vec!["gitlab-token"]),
        (format!("//npm.pkg.github.com/:_authToken={}", rng.pick(ALNUM, 30)), vec!["npmrc-auth-token"]),
        (format!("client_secret: \"{}\"", rng.pick(ALNUM, 32)), vec!["generic-secret"]),
        (format!("'password' => '{}9!',", rng.pick(ALNUM, 14)), vec!["generic-secret"]),
        (format!("export API_TOKEN={}", rng.pick(ALNUM, 40)), vec!["generic-secret"]),
        (format!("STRIPE_SECRET=sk_live_{}", rng.pick(ALNUM, 24)), vec!["stripe-live-secret-key"]),
        (format!("role: AROA{}", rng.pick(UPPER, 16)), vec!["aws-access-key-id"]),
        (format!("HF_TOKEN=hf_{}", rng.pick(&ALNUM[..52], 34)), vec!["huggingface-token"]),
        (format!("GRAFANA=glsa_{}_{}", rng.pick(ALNUM, 32), rng.pick(HEX, 8)), vec!["grafana-token"]),
        (format!("LINEAR=lin_api_{}", rng.pick(ALNUM, 40)), vec!["linear-api-key"]),
        (format!("NOTION=ntn_{}{}", rng.pick(DIGITS, 11), rng.pick(ALNUM, 35)), vec!["notion-token"]),
        (format!("GROQ=gsk_{}", rng.pick(ALNUM, 52)), vec!["groq-api-key"]),
        (format!("DATABRICKS=dapi{}", rng.pick(HEX, 32)), vec!["databricks-token"]),
        (format!("FIGMA=figd_{}", rng.base64url(40)), vec!["figma-token"]),
        (format!("VERCEL=vcp_{}", rng.pick(ALNUM, 24)), vec!["vercel-token"]),
        (format!("OP_SERVICE_ACCOUNT_TOKEN=ops_ey{}", rng.base64(150)), vec!["1password-service-token"]),
        (format!("SHOPIFY=shpss_{}", rng.pick(ALNUM, 32)), vec!["shopify-token"]),
        ("key = AKIAIOSFODNN7EXAMPLE".into(), vec![]),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(), vec![]),
        ("token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into(), vec![]),
        ("xoxb-your-bot-token-here".into(), vec![]),
        ("client_secret: \"${CLIENT_SECRET}\"".into(), vec![]),
        ("password: \"changeme123\"".into(), vec![]),
        ("token_type: \"bearer_token_v2\"".into(), vec![]),
        ("APP_KEY=base64:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(), vec![]),
        // base64 of "a-test-key-made-by-hand-for-aes!": printable, so typed, not generated.
        ("APP_KEY=base64:YS10ZXN0LWtleS1tYWRlLWJ5LWhhbmQtZm9yLWFlcyE=".into(), vec![]),
        ("mysql://root:${MYSQL_ROOT_PASSWORD}@db/app".into(), vec![]),
        ("https://user:pass@example.com/".into(), vec![]),
    ];
    for (line, rules) in &cases {
        assert_eq!(&rules_in(line), rules, "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes of framework and CMS code as shipped that only look like secrets (WordPress, Laravel,
// React, sodium_compat, oauthlib), each next to a twin that is a secret and must be found.

/// The rules found in `text` as the file `path`, with their lines.
fn found(path: &str, text: &str) -> Vec<(&'static str, usize)> {
    Scanner::get().scan_text(path, text.as_bytes()).into_iter().map(|h| (h.rule, h.line)).collect()
}

/// A WordPress salt as api.wordpress.org makes them (no quotes or backslashes), starting with a
/// letter and without `{`, `}`, `%`, `$`: the placeholder check reads `{{`, `${`, `%s` anywhere, or
/// any of `$%{<[@&*#(` first, as a template's mark (a known gap for real salts, not this test's).
fn salt(rng: &mut Rng) -> String {
    let punctuation = "!@#^&*()-_=+[]|;:,.<>/?`~";
    format!("{}{}", rng.pick(UPPER, 1), rng.pick(&format!("{ALNUM}{punctuation}"), 63))
}

const SALT_NAMES: [&str; 8] = [
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
];

#[test]
fn salts_in_a_doc_block_that_shows_an_example_are_not_secrets_but_a_wp_config_s_are() {
    let mut rng = Rng(43);
    let defines: Vec<String> =
        SALT_NAMES.iter().map(|name| format!("define( '{name}', '{}' );", salt(&mut rng))).collect();
    // wp-includes/pluggable.php's wp_salt() doc block.
    let doc = format!(
        "<?php\n\t/**\n\t * Returns a salt to add to hashes.\n\t *\n\t * Below is an example of how the secret key constants are defined.\n\t * Do not paste this example directly into wp-config.php.\n\t *\n{}\t *\n\t * @return string Salt value\n\t */\n\tfunction wp_salt( $scheme = 'auth' ) {{}}\n",
        defines.iter().map(|d| format!("\t *     {d}\n")).collect::<String>()
    );
    assert_eq!(found("wp-includes/pluggable.php", &doc), []);
    // The same lines in a site's wp-config.php, under its usual header comment.
    let config = format!(
        "<?php\n/**\n * Authentication unique keys and salts.\n *\n * Change these to different unique phrases!\n */\n{}\n",
        defines.join("\n")
    );
    let lines: Vec<(&str, usize)> = (7..15).map(|line| ("generic-secret", line)).collect();
    assert_eq!(found("wp-config.php", &config), lines);
    // The same doc block without its example words: a comment, but not one that shows an example.
    let plain = doc.replace("Below is an example of how", "This is how").replace("this example", "these");
    assert_eq!(found("wp-includes/pluggable.php", &plain).len(), 8);
    // wp-config-sample.php's placeholders.
    assert_eq!(found("wp-config-sample.php", "define( 'AUTH_KEY', 'put your unique phrase here' );\n"), []);
}

#[test]
fn a_token_in_a_comment_that_shows_an_example_is_not_a_secret_but_one_in_another_comment_is() {
    let mut rng = Rng(47);
    let akid = format!("AKIA{}", rng.pick(BASE32, 16));
    let aws_secret = rng.base64(40);
    let ghp = format!("ghp_{}", rng.pick(ALNUM, 36));
    let example = format!(
        "# Credentials go in ~/.aws/credentials, for example:\n#\n#   aws_access_key_id = {akid}\n#   aws_secret_access_key = {aws_secret}\n"
    );
    assert_eq!(found("config/aws.ini", &example), []);
    let inline = format!("deploy(); // e.g. GITHUB_TOKEN={ghp}\n");
    assert_eq!(found("bin/deploy.js", &inline), []);
    // The same values commented out, or in a comment that is no example: still committed secrets.
    let commented =
        format!("# old account, revoke:\n# aws_access_key_id = {akid}\n# aws_secret_access_key = {aws_secret}\n");
    assert_eq!(found("config/aws.ini", &commented), [("aws-access-key-id", 2), ("aws-secret-access-key", 3)]);
    let php = format!("<?php\n/*\n * Key of the build user:\n * {akid}\n */\n");
    assert_eq!(found("src/Build.php", &php), [("aws-access-key-id", 4)]);
    assert_eq!(found("bin/deploy.js", &format!("deploy(); // GITHUB_TOKEN={ghp}\n")), [("github-token", 1)]);
    // An example's domain is not an example.
    let mail = format!("# mail ops@example.com when this rotates\n# GITHUB_TOKEN={ghp}\n");
    assert_eq!(found("ci.yml", &mail), [("github-token", 2)]);
}

#[test]
fn a_docstring_that_shows_an_example_holds_no_secrets_but_the_code_under_it_does() {
    let mut rng = Rng(53);
    let token = rng.pick(ALNUM, 22);
    // oauthlib's docstrings.
    let text = format!(
        "def parse_token_response(body):\n    \"\"\"For example::\n\n        {{\n            \"access_token\":\"{token}\",\n        }}\n    \"\"\"\n    refresh_token = \"{token}\"\n"
    );
    assert_eq!(found("oauthlib/parameters.py", &text), [("generic-secret", 8)]);
}

#[test]
fn minified_code_is_read_as_code_but_its_literals_are_still_values() {
    let mut rng = Rng(59);
    // wp-includes/js/wp-embed.min.js: the quote after `secret=` closes the string `secret` is in.
    let embed = "!function(d,c){t.src+=\"#?secret=\"+r,t.setAttribute(\"data-secret\",r)}(window,document);\n";
    assert_eq!(found("wp-includes/js/wp-embed.min.js", embed), []);
    let secret = rng.pick(ALNUM, 24);
    let literal = format!("!function(d,c){{var e={{secret:\"{secret}\",src:\"#?x=\"+r}};t(e)}}(window,document);\n");
    assert_eq!(found("dist/app.min.js", &literal), [("generic-secret", 1)]);
    let json = format!("{{\"client_secret\": \"{secret}\"}}\n");
    assert_eq!(found("config/oauth.json", &json), [("generic-secret", 1)]);
    // A name inside a string, then a value in the other quotes: `don't` opens no string.
    let message = format!("echo \"Don't lose it: api_key='{secret}'\";\n");
    assert_eq!(found("bin/setup.php", &message), [("generic-secret", 1)]);
}

#[test]
fn a_bare_name_in_code_is_no_value_but_a_bare_value_in_config_is() {
    let mut rng = Rng(61);
    // React's development build, sodium_compat's constants.
    let react = "  exports.__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED = ReactSharedInternals$1;\n";
    assert_eq!(found("wp-includes/js/dist/vendor/react.js", react), []);
    let sodium = "const CRYPTO_BOX_SECRETKEYBYTES = ParagonIE_Sodium_Compat::CRYPTO_BOX_SECRETKEYBYTES;\n";
    assert_eq!(found("wp-includes/sodium_compat/lib/constants.php", sodium), []);
    // The same shapes outside code: a constant's name and a class constant are still names.
    assert_eq!(found("docs/constants.txt", sodium), []);
    assert_eq!(found("config/crypto.yml", "box_secret_key: ParagonIE_Sodium_Compat::CRYPTO_BOX_KEY\n"), []);
    // A random value written bare in a config file is a value; quoted in code, too.
    let value = format!("{}9{}", rng.pick(ALNUM, 20), rng.pick(ALNUM, 3));
    assert_eq!(found(".env.production", &format!("APP_SECRET={value}\n")), [("generic-secret", 1)]);
    assert_eq!(found("config/crypto.yml", &format!("box_secret_key: {value}\n")), [("generic-secret", 1)]);
    assert_eq!(found("src/crypto.php", &format!("const BOX_SECRET_KEY = '{value}';\n")), [("generic-secret", 1)]);
    // Commented out in code, a bare value is a value again.
    assert_eq!(found("src/app.js", &format!("// SECRET_TOKEN={value}\n")), [("generic-secret", 1)]);
}

#[test]
fn file_and_class_paths_are_not_secrets_but_random_values_next_to_them_are() {
    let mut rng = Rng(67);
    // php-illuminate-encryption's autoload.php, Composer's and Rust's paths.
    let autoload = "<?php\n$classes = array(\n    'illuminate\\\\encryption\\\\encrypter' => '/Encrypter.php',\n    'illuminate\\\\encryption\\\\missingappkeyexception' => '/MissingAppKeyException.php'\n);\n";
    assert_eq!(found("Illuminate/Encryption/autoload.php", autoload), []);
    let paths = "<?php\nreturn [\n    'private_key' => __DIR__ . '/keys/OauthPrivate.key',\n    'public_key' => '/etc/Passport/oauth-public.key',\n    'encryption_key_path' => 'storage/app/Keys/JwtEncryption.pem',\n];\n";
    assert_eq!(found("config/passport.php", paths), []);
    assert_eq!(found("docs/scan.md", "use cutover_secrets::Template;\n"), []);
    assert_eq!(found("src/lib.rs", "use cutover_secrets::{Template, Values};\nuse a_secret::b::C;\n"), []);
    assert_eq!(found("config/app.yml", "app_key_class: Illuminate\\Encryption\\Encrypter.php\n"), []);
    // Random values in the same places are secrets.
    let key = rng.pick(ALNUM, 32);
    let config = format!("<?php\nreturn [\n    'app_key' => '{key}',\n    'private_key' => '/{key}',\n];\n");
    assert_eq!(found("config/app.php", &config), [("generic-secret", 3), ("generic-secret", 4)]);
    assert_eq!(found("config/app.yml", &format!("app_key: {key}:x9\n")), [("generic-secret", 1)]);
}

#[test]
fn allow_comments_silence_their_line_only() {
    let mut rng = Rng(31);
    let token = format!("ghp_{}", rng.pick(ALNUM, 36));
    for marker in ["# cutover:allow", "// cutover-allow: test token", "# pragma: allowlist secret"] {
        assert!(rules_in(&format!("T = \"{token}\" {marker}")).is_empty(), "{marker}");
    }
    let text = format!("# cutover:allow applies to this line only\nT = \"{token}\"\n");
    let hits = Scanner::get().scan_text("a.py", text.as_bytes());
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].line, 2);
}

#[test]
fn lines_are_counted_in_long_files_and_long_lines() {
    let mut rng = Rng(37);
    let token = format!("glpat-{}", rng.base64url(20));
    let mut text = "filler line\n".repeat(5000);
    text.push_str(&format!("{}\"{token}\"{}\n", "a".repeat(10_000), " key".repeat(3000)));
    let hits = Scanner::get().scan_text("bundle.js", text.as_bytes());
    assert_eq!(hits.iter().map(|h| (h.rule, h.line)).collect::<Vec<_>>(), [("gitlab-token", 5001)]);
}

#[test]
fn generic_rules_skip_lock_files_but_token_formats_do_not() {
    let mut rng = Rng(41);
    let line = format!("\"api_token\": \"{}\", \"npm\": \"npm_{}\"\n", rng.pick(ALNUM, 32), rng.pick(ALNUM, 36));
    let rules = |path: &str| -> Vec<&str> {
        Scanner::get().scan_text(path, line.as_bytes()).into_iter().map(|h| h.rule).collect()
    };
    assert_eq!(rules("package.json"), ["generic-secret", "npm-token"]);
    assert_eq!(rules("package-lock.json"), ["npm-token"]);
}

#[test]
fn a_broken_repository_is_an_error_not_a_scan_without_history() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".git"), "not a gitdir line\n").unwrap();
    let err = scan(dir.path(), &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("`git rev-parse` failed"), "{err}");
}
