//! Secrets end to end with the real binary: the age vault (set, get, redaction), the `command`
//! provider with a stub password manager, the `.env` rendered from its template into real SSH
//! hosts (mode, content, never on a command line, pinned to the release so a rollback restores
//! it), rotation, the audit, and a deploy whose every output and local state is searched for the
//! secret values.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::cli::{Project, Run, current};
use support::hosts::SshHosts;

/// Values no other text in the run contains: found anywhere, they leaked.
const DB_PASSWORD: &str = "Pw-7f3a91c2e8-first";
const DB_PASSWORD_2: &str = "Pw-40b6d2aa17-second";
const SMTP: &str = "Smtp-9d1e5c7b3a";

const TEMPLATE: &str = "APP_NAME=Shop\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_URL=${env:url}\n\
                        DB_PASSWORD=\"${secret:DB_PASSWORD}\"\nMAIL_PASSWORD=${secret:SMTP_PASSWORD}\n";

/// A project deploying to `hosts`, whose production `.env` comes from a template, with the
/// vault and an age identity of its own.
struct Setup {
    project: Project,
    identity: PathBuf,
}

impl Setup {
    fn new(hosts: Option<&SshHosts>, extra: &str) -> Self {
        let names = hosts.map(|h| h.aliases()).unwrap_or_else(|| vec!["local".into()]);
        let ssh = hosts.map_or(String::new(), |h| {
            format!("[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n", h.config_path().display())
        });
        let path = if hosts.is_some() { SshHosts::DEPLOY_PATH.to_owned() } else { "/unused".into() };
        let project = Project::new(&names, &path, &format!("{ssh}{extra}"), 3);
        let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
        project.write(
            "cutover.toml",
            &format!(
                "{toml}url = \"https://shop.example\"\nenv_template = \".env.production.template\"\n\n\
                 [env.staging]\nhosts = [\"local\"]\npath = \"/unused-staging\"\nurl = \"https://staging.shop.example\"\n"
            ),
        );
        project.write(".env.production.template", TEMPLATE);
        let identity = project.path().join("keys/age.key");
        Setup { project, identity }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("CUTOVER_AGE_IDENTITY", self.identity.to_str().unwrap())]
    }

    fn run(&self, args: &[&str]) -> Run {
        self.project.cutover_with(args, &self.env())
    }

    fn set(&self, env: &str, name: &str, value: &str) -> Run {
        self.project.cutover_input(&["--env", env, "secrets", "set", name], &self.env(), &format!("{value}\n"))
    }
}

fn env_on(hosts: &SshHosts, i: usize) -> (String, u32, PathBuf) {
    let root = hosts.deploy_dir(i);
    let link = std::fs::read_link(root.join("current/.env")).expect(".env is a link in the release");
    let file = root.join("current").join(&link);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    (std::fs::read_to_string(&file).unwrap(), mode, link)
}

/// Every process's command line, sampled until `stop`: what `ps` shows other users. Returns
/// the lines that held a secret, and how many ssh command lines were seen (so the watch is
/// known to have seen the deploy's processes).
fn watch_process_list(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<String>, usize)> {
    std::thread::spawn(move || {
        let (mut leaked, mut ssh) = (Vec::new(), 0);
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if text.contains(DB_PASSWORD) || text.contains(SMTP) {
                        leaked.push(text.clone());
                    }
                    ssh += usize::from(text.starts_with("ssh "));
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        (leaked, ssh)
    })
}

fn assert_no_secret(what: &str, text: &str) {
    for value in [DB_PASSWORD, DB_PASSWORD_2, SMTP] {
        assert!(!text.contains(value), "{what} contains a secret value:\n{text}");
    }
}

#[test]
fn the_vault_stores_per_environment_values_and_shows_them_redacted() {
    let setup = Setup::new(None, "");
    // The first `set` makes the identity; the vault is encrypted, safe to commit.
    let run = setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    assert!(run.stderr.contains("created an age identity"), "{}", run.stderr);
    assert_eq!(std::fs::metadata(&setup.identity).unwrap().permissions().mode() & 0o777, 0o600);
    setup.set("staging", "DB_PASSWORD", "staging-value").ok();
    // Beside cutover.toml, not in `.cutover/` with the local state.
    assert!(!setup.project.path().join(".cutover/vault.age").exists());
    let vault = std::fs::read(setup.project.path().join("cutover.vault.age")).unwrap();
    assert!(vault.starts_with(b"age-encryption.org/v1"));
    assert_no_secret("the vault file", &String::from_utf8_lossy(&vault));

    let get = setup.run(&["secrets", "get", "DB_PASSWORD"]).ok();
    assert_eq!(get.stdout.trim(), format!("DB_PASSWORD=[redacted, {} chars]", DB_PASSWORD.len()));
    let reveal = setup.run(&["secrets", "get", "DB_PASSWORD", "--reveal"]).ok();
    assert_eq!(reveal.stdout, format!("{DB_PASSWORD}\n"));
    let staging = setup.run(&["--env", "staging", "secrets", "get", "DB_PASSWORD", "--reveal"]).ok();
    assert_eq!(staging.stdout, "staging-value\n");

    // Missing: the name and how to set it, never a value. Missing identity: the file named.
    let run = setup.run(&["secrets", "get", "NOPE"]).code(1);
    assert!(run.stderr.contains("secret `NOPE` (production) is not set"), "{}", run.stderr);
    let run = setup
        .project
        .cutover_with(&["secrets", "get", "DB_PASSWORD"], &[("CUTOVER_AGE_IDENTITY", "/nonexistent/age.key")]);
    let run = run.code(1);
    assert!(run.stderr.contains("/nonexistent/age.key") && run.stderr.contains("not found"), "{}", run.stderr);
    // The audit log has the commands, not the values.
    let log = setup.run(&["log", "--json"]).ok();
    assert!(log.stdout.contains("secrets set DB_PASSWORD"), "{}", log.stdout);
    assert_no_secret("the audit log", &log.stdout);
}

/// Issue 11, point 1: the vault and the local state do not share a directory, so a user who
/// removes a broken state database (or all of `.cutover/`) keeps every secret; a vault where
/// earlier versions kept it (`.cutover/vault.age`) moves out on first use, never over another.
#[test]
fn removing_a_broken_local_state_never_loses_a_secret_and_an_old_vault_moves_out() {
    let setup = Setup::new(None, "");
    let config = setup.project.path().join("cutover.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    // An earlier version's layout: the vault inside `.cutover/`.
    setup.project.write("cutover.toml", &format!("{toml}\n[secrets]\nvault = \".cutover/vault.age\"\n"));
    setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    let legacy = setup.project.path().join(".cutover/vault.age");
    assert!(legacy.is_file());
    setup.project.write("cutover.toml", &toml);

    let run = setup.run(&["secrets", "get", "DB_PASSWORD", "--reveal"]).ok();
    assert_eq!(run.stdout, format!("{DB_PASSWORD}\n"));
    assert!(run.stderr.contains("moved the vault from"), "{}", run.stderr);
    assert!(!legacy.exists());
    let vault = setup.project.path().join("cutover.vault.age");
    assert!(vault.is_file());
    let again = setup.run(&["secrets", "get", "DB_PASSWORD"]).ok();
    assert!(!again.stderr.contains("moved the vault"), "moved once: {}", again.stderr);

    // The state database breaks; the user removes `.cutover/` whole: the secrets stay.
    std::fs::write(setup.project.path().join(".cutover/state.db"), vec![0x5a; 8192]).unwrap();
    let _ = std::fs::remove_file(setup.project.path().join(".cutover/state.db-wal"));
    let run = setup.run(&["secrets", "get", "DB_PASSWORD"]).code(1);
    assert!(run.stderr.contains("never a secret: move it and its -wal and -shm files aside"), "{}", run.stderr);
    std::fs::remove_dir_all(setup.project.path().join(".cutover")).unwrap();
    let run = setup.run(&["secrets", "get", "DB_PASSWORD", "--reveal"]).ok();
    assert_eq!(run.stdout, format!("{DB_PASSWORD}\n"));

    // A vault at both places: nothing is moved or overwritten, and both are named.
    let before = std::fs::read(&vault).unwrap();
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::write(&legacy, b"an older vault").unwrap();
    let run = setup.run(&["secrets", "get", "DB_PASSWORD"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(".cutover/vault.age") && run.stderr.contains("cutover.vault.age"), "{}", run.stderr);
    assert_eq!(std::fs::read(&vault).unwrap(), before);
    assert_eq!(std::fs::read(&legacy).unwrap(), b"an older vault");
}

#[test]
fn a_password_manager_command_is_the_provider() {
    let setup = Setup::new(None, "[secrets]\nprovider = \"command\"\ncommand = \"./fake-pm read {env}/{name}\"\n");
    setup.project.write(
        "fake-pm",
        "#!/bin/sh\n# a stub password manager: `read ENV/NAME`\ncase \"$2\" in\n\
         production/DB_PASSWORD) echo 'from-the-manager' ;;\nproduction/SMTP_PASSWORD) echo 'smtp-from-manager' ;;\n\
         */SLOW) sleep 30 ;;\n*) echo \"item $2 not found\" >&2; exit 1 ;;\nesac\n",
    );
    std::fs::set_permissions(setup.project.path().join("fake-pm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let render = setup.run(&["secrets", "render"]).ok();
    assert!(render.stdout.contains("DB_PASSWORD=\"[redacted:DB_PASSWORD]\""), "{}", render.stdout);
    assert!(render.stdout.contains("APP_URL=https://shop.example"), "{}", render.stdout);
    assert!(!render.stdout.contains("from-the-manager") && !render.stderr.contains("from-the-manager"));
    let get = setup.run(&["secrets", "get", "DB_PASSWORD", "--reveal"]).ok();
    assert_eq!(get.stdout, "from-the-manager\n");
    // A failing command names the secret and what the manager said; `set` is refused (exit 2).
    let run = setup.run(&["--env", "staging", "secrets", "get", "DB_PASSWORD"]).code(1);
    assert!(
        run.stderr.contains("secret `DB_PASSWORD` (staging)") && run.stderr.contains("not found"),
        "{}",
        run.stderr
    );
    setup.set("production", "X", "v").code(2).stderr_has("store it in your password manager");
    // A hanging one is stopped after the timeout.
    let toml = std::fs::read_to_string(setup.project.path().join("cutover.toml")).unwrap();
    setup.project.write("cutover.toml", &toml.replace("[secrets]\n", "[secrets]\ntimeout = \"1s\"\n"));
    let start = std::time::Instant::now();
    setup.run(&["secrets", "get", "SLOW"]).code(1).stderr_has("did not finish within 1s");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn deploy_writes_the_rendered_env_to_every_host_pinned_to_the_release_and_nothing_leaks() {
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let setup = Setup::new(Some(&hosts), "");
    let mut outputs = Vec::new();
    outputs.push(setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok());
    outputs.push(setup.set("production", "SMTP_PASSWORD", SMTP).ok());

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_process_list(stop.clone());
    let run = setup.run(&["deploy", "--json"]).ok();
    stop.store(true, Ordering::Relaxed);
    let (leaked, ssh_seen) = watcher.join().unwrap();
    assert_eq!(leaked, Vec::<String>::new(), "a process list showed a secret");
    assert!(ssh_seen > 0, "the watch saw none of the deploy's ssh processes");
    let r1 = run.json()["release"].as_str().unwrap().to_owned();
    outputs.push(run);
    for i in 1..=2 {
        let (text, mode, link) = env_on(&hosts, i);
        assert_eq!(mode, 0o600, "host {i}");
        assert_eq!(link, Path::new(&format!("../../shared/.env.{r1}")));
        assert!(text.contains(&format!("DB_PASSWORD=\"{DB_PASSWORD}\"\n")) && text.contains(SMTP), "{text}");
        assert!(text.contains("APP_URL=https://shop.example\n"));
    }

    // A new value, a new release with it; rolling back brings back the .env r1 ran with.
    outputs.push(setup.set("production", "DB_PASSWORD", DB_PASSWORD_2).ok());
    outputs.push(setup.run(&["deploy"]).ok());
    assert!(env_on(&hosts, 1).0.contains(DB_PASSWORD_2));
    outputs.push(setup.run(&["rollback"]).ok());
    for i in 1..=2 {
        assert_eq!(current(&hosts.deploy_dir(i)).unwrap(), r1);
        assert!(env_on(&hosts, i).0.contains(DB_PASSWORD), "host {i} runs r1's .env again");
    }
    for args in [&["status"][..], &["releases", "--json"], &["log"], &["secrets", "render"], &["-v", "deploy"]] {
        outputs.push(setup.run(args));
    }
    for (i, out) in outputs.iter().enumerate() {
        assert_no_secret(&format!("output {i} (stdout)"), &out.stdout);
        assert_no_secret(&format!("output {i} (stderr)"), &out.stderr);
    }
    // Local state: the database (and its WAL) and the manifest cache hold no value.
    // (The vault is not among them: it lives beside cutover.toml.)
    for entry in walk(&setup.project.path().join(".cutover")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert_no_secret(&entry.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn a_secret_that_cannot_be_had_or_a_broken_template_stops_the_deploy_before_any_host_changes() {
    let Some(hosts) = support::ssh_hosts(1) else { return };
    let setup = Setup::new(Some(&hosts), "");
    setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    // SMTP_PASSWORD is not set.
    let run = setup.run(&["deploy"]).code(1);
    assert!(run.stderr.contains("secret `SMTP_PASSWORD` (production) is not set"), "{}", run.stderr);
    assert!(!hosts.root(1).join("app/releases").exists(), "nothing was written to the host");
    setup.project.write(".env.production.template", "A=1\nB=${secret:DB_PASSWORD\n");
    let run = setup.run(&["deploy"]).code(1);
    assert!(run.stderr.contains(".env.production.template:2:3"), "{}", run.stderr);
    assert!(!hosts.root(1).join("app/releases").exists());
    // A missing identity names the file; nothing is written either.
    setup.project.write(".env.production.template", TEMPLATE);
    let run = setup.project.cutover_with(&["deploy"], &[("CUTOVER_AGE_IDENTITY", "/nonexistent/id.key")]).code(1);
    assert!(run.stderr.contains("/nonexistent/id.key"), "{}", run.stderr);
    assert!(!hosts.root(1).join("app/releases").exists());
}

#[test]
fn rotation_makes_new_values_keeps_the_old_app_key_and_logs_no_value() {
    let setup = Setup::new(None, "[secrets]\ngenerate = { DB_PASSWORD = \"password:40\", APP_KEY = \"app-key\" }\n");
    setup.set("production", "APP_KEY", "base64:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTE=").ok();
    setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    let run = setup.run(&["secrets", "rotate"]).ok();
    assert!(run.stderr.contains("rotated `DB_PASSWORD`") && run.stderr.contains("rotated `APP_KEY`"), "{}", run.stderr);
    let reveal = |name: &str| setup.run(&["secrets", "get", name, "--reveal"]).ok().stdout.trim().to_owned();
    let password = reveal("DB_PASSWORD");
    assert_eq!(password.len(), 40);
    assert_ne!(password, DB_PASSWORD);
    let key = reveal("APP_KEY");
    assert!(key.starts_with("base64:") && key != "base64:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTE=");
    assert_eq!(reveal("APP_PREVIOUS_KEYS"), "base64:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTE=");
    // Again: the key rotated first is now the first previous key, the oldest kept.
    setup.run(&["secrets", "rotate", "APP_KEY"]).ok();
    assert_eq!(reveal("APP_PREVIOUS_KEYS"), format!("{key},base64:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTE="));
    let key_after_second_rotation =
        |setup: &Setup| setup.run(&["secrets", "get", "APP_KEY", "--reveal"]).ok().stdout.trim().to_owned();
    let second = key_after_second_rotation(&setup);
    // Logged: name, env, who; never the value.
    let state = cutover_state::State::open(setup.project.path()).unwrap();
    let rotations = state.rotations("production").unwrap();
    assert_eq!(rotations.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["APP_KEY", "DB_PASSWORD", "APP_KEY"]);
    let db = std::fs::read(setup.project.path().join(".cutover/state.db")).unwrap();
    let wal = std::fs::read(setup.project.path().join(".cutover/state.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&password) && !text.contains(&key), "state holds a rotated value");
    }
    // A template that uses APP_KEY but would not pass the old one on: the rotation is refused.
    setup.project.write(".env.production.template", &format!("{TEMPLATE}APP_KEY=${{secret:APP_KEY}}\n"));
    setup.run(&["secrets", "rotate", "APP_KEY"]).code(2).stderr_has("APP_PREVIOUS_KEYS=");
    assert_eq!(reveal("APP_KEY"), second);
    // A secret that cannot be generated is refused before anything changes.
    setup.run(&["secrets", "rotate", "SMTP_PASSWORD"]).code(2).stderr_has("cannot be generated");
    assert_eq!(reveal("DB_PASSWORD"), password);
}

#[test]
fn the_first_rotation_after_init_creates_the_age_identity_as_set_does() {
    // `cutover init --preset wordpress` leaves only generated secrets: rotate is the first
    // command that stores one, with no identity yet.
    let setup = Setup::new(None, "[secrets]\ngenerate = { DB_PASSWORD = \"password:40\" }\n");
    assert!(!setup.identity.exists());
    setup.run(&["secrets", "rotate"]).ok().stderr_has("created an age identity at");
    assert!(setup.identity.is_file());
    let password = setup.run(&["secrets", "get", "DB_PASSWORD", "--reveal"]).ok().stdout;
    assert_eq!(password.trim_end().len(), 40);
}

#[test]
fn rotate_warns_to_change_it_where_it_is_checked_only_for_passwords_not_for_salts_and_keys() {
    let setup = Setup::new(
        None,
        "[secrets]\ngenerate = { DB_PASSWORD = \"password:40\", REDIS_PASS = \"hex:24\", APP_KEY = \"app-key\", \
         AUTH_SALT = \"password:64\", LOGGED_IN_KEY = \"password:64\", SESSION_SECRET = \"hex:32\" }\n",
    );
    setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    let run = setup.run(&["secrets", "rotate"]).ok();
    let warned = |name: &str| {
        run.stderr
            .lines()
            .any(|l| l.starts_with(&format!("warning: `{name}` has a new value: change it where it is checked")))
    };
    for name in ["DB_PASSWORD", "REDIS_PASS"] {
        assert!(warned(name), "{name} is checked by another service: {}", run.stderr);
    }
    for name in ["APP_KEY", "AUTH_SALT", "LOGGED_IN_KEY", "SESSION_SECRET"] {
        assert!(run.stderr.contains(&format!("rotated `{name}`")), "{}", run.stderr);
        assert!(!warned(name), "{name} is the app's own: nothing else checks it: {}", run.stderr);
    }
}

#[test]
fn the_audit_lists_every_finding_and_passes_when_production_is_clean() {
    let setup = Setup::new(None, "");
    setup.set("production", "DB_PASSWORD", DB_PASSWORD).ok();
    setup.set("production", "SMTP_PASSWORD", SMTP).ok();
    setup.set("staging", "DB_PASSWORD", "another-staging-value").ok();
    setup.set("staging", "SMTP_PASSWORD", "stg-smtp").ok();
    setup.project.write(".env.staging.template", TEMPLATE);
    let toml = std::fs::read_to_string(setup.project.path().join("cutover.toml")).unwrap();
    setup.project.write(
        "cutover.toml",
        &toml.replace(
            "path = \"/unused-staging\"\n",
            "path = \"/unused-staging\"\nenv_template = \".env.staging.template\"\n",
        ),
    );
    git(setup.project.path(), &["init", "-q"]);
    git(setup.project.path(), &["add", "."]);
    git(setup.project.path(), &["commit", "-qm", "app"]);
    let clean = setup.run(&["secrets", "audit"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);

    // Now break every rule at once.
    setup.set("production", "SMTP_PASSWORD", "stg-smtp").ok();
    setup.project.write(
        ".env.production.template",
        "APP_ENV=production\nAPP_DEBUG=true\nAPP_URL=${env:url}\nDB_PASSWORD=\"${secret:DB_PASSWORD}\"\n\
         MAIL_PASSWORD=${secret:SMTP_PASSWORD}\nSTRIPE_SECRET=sk_test_literal_in_template\nAPI_TOKEN=${secret:API_TOKEN}\n",
    );
    setup.project.write(".env", "APP_KEY=local\n");
    git(setup.project.path(), &["add", "-f", ".env"]);
    let run = setup.run(&["--json", "secrets", "audit"]).code(1);
    let json = run.json();
    let findings: Vec<(String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["check"].as_str().unwrap().to_owned(), f["subject"].as_str().unwrap().to_owned()))
        .collect();
    for expected in [
        ("template", "STRIPE_SECRET"),
        ("git", ".env"),
        ("unresolved", "API_TOKEN"),
        ("parity", "APP_NAME"),
        ("rotation", "SMTP_PASSWORD"),
    ] {
        assert!(findings.iter().any(|(c, s)| c == expected.0 && s == expected.1), "{expected:?} in {json:#}");
    }
    assert_no_secret("the audit", &run.stdout);
    assert!(!run.stdout.contains("stg-smtp"), "{}", run.stdout);
    // The production-mode rule needs every secret resolved: with API_TOKEN set it shows, for a
    // gated environment only (the fixture's production is not gated).
    setup.set("production", "API_TOKEN", "tok-1234567890").ok();
    let debug = |json: &serde_json::Value| {
        json["findings"].as_array().unwrap().iter().any(|f| f["check"] == "production" && f["subject"] == "APP_DEBUG")
    };
    let json = setup.run(&["--json", "secrets", "audit"]).code(1).json();
    assert!(!debug(&json), "production rules for an environment that is not gated: {json:#}");
    let toml = std::fs::read_to_string(setup.project.path().join("cutover.toml")).unwrap();
    setup.project.write("cutover.toml", &toml.replacen("gated = false\n", "", 1));
    let json = setup.run(&["--json", "secrets", "audit"]).code(1).json();
    assert!(debug(&json), "{json:#}");
    // Staging's own rendered file runs in staging mode, as it should: no production rule applies.
    setup.project.write(".env.staging.template", &format!("{TEMPLATE}APP_DEBUG=true\nWP_ENVIRONMENT_TYPE=staging\n"));
    let staging = setup.run(&["--json", "--env", "staging", "secrets", "audit"]).json();
    assert!(!staging["findings"].as_array().unwrap().iter().any(|f| f["check"] == "production"), "{staging:#}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}
