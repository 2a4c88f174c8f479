//! The cutover's own rules through the binary: the launch path (chosen once, changed only with
//! a reason, every choice in the audit log), which environments are gated, and `status`
//! opening with the path and each gate's standing.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use support::cli::Project;

fn project(extra: &str) -> (Project, std::path::PathBuf) {
    let dir = tempfile::Builder::new().prefix("cutover-gates-").tempdir().unwrap().keep();
    let deploy = dir.join("app");
    let project = Project::new(&["local".into()], &deploy.display().to_string(), extra, 3);
    // Production gated, as it is by default.
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap().replace("gated = false\n", "");
    let staging = dir.join("staging");
    project.write(
        "cutover.toml",
        &format!("{toml}\n[env.staging]\nhosts = [\"local\"]\npath = \"{}\"\n", staging.display()),
    );
    (project, deploy)
}

#[test]
fn a_launch_path_is_chosen_once_and_changed_only_with_a_reason_each_change_logged() {
    let (project, _) = project("");
    let shown = project.cutover(&["path"]).ok();
    assert!(shown.stderr.contains("production has no launch path yet"), "{}", shown.stderr);
    assert_eq!(project.cutover(&["--json", "path"]).ok().json()["path"], serde_json::Value::Null);

    let chosen = project.cutover(&["--json", "path", "fast"]).ok().json();
    assert_eq!((chosen["path"].as_str(), chosen["change"].as_str()), (Some("fast"), Some("chosen")));
    // The same path again changes nothing; another one without a reason is drift: exit 3.
    let again = project.cutover(&["--json", "path", "fast"]).ok().json();
    assert_eq!(again["change"], "unchanged");
    assert_eq!(again["history"].as_array().unwrap().len(), 1);
    project
        .cutover(&["path", "hardened"])
        .code(3)
        .stderr_has("production's launch path is `fast`")
        .stderr_has("needs `--reason TEXT`");
    project.cutover(&["path", "hardened", "--reason", " "]).code(3);
    assert_eq!(project.cutover(&["--json", "path"]).ok().json()["path"], "fast", "nothing changed");
    // Unknown names are usage errors.
    project.cutover(&["path", "slow"]).code(2).stderr_has("`slow` is not a launch path");

    let changed = project.cutover(&["--json", "path", "hardened", "--reason", "card payments"]).ok().json();
    assert_eq!((changed["path"].as_str(), changed["change"].as_str()), (Some("hardened"), Some("changed")));
    let history = changed["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["reason"], "card payments");
    assert!(history[1]["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(history[1]["at"].as_str().is_some_and(|t| t.starts_with("20")));
    // Per environment.
    assert_eq!(project.cutover(&["--env", "staging", "--json", "path"]).ok().json()["path"], serde_json::Value::Null);

    // Every choice, refusal and change is in the audit log, with who and why.
    let log = project.cutover(&["--json", "log"]).ok().json();
    let entries: Vec<(String, i64, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"].as_str().is_some_and(|c| c.contains(" path ")))
        .map(|e| {
            (
                e["command"].as_str().unwrap().to_owned(),
                e["exit_code"].as_i64().unwrap_or(-1),
                e["summary"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(entries.iter().any(|(_, code, s)| *code == 0 && s == "chose launch path fast"), "{entries:?}");
    assert!(entries.iter().any(|(_, code, s)| *code == 3 && s.contains("needs `--reason TEXT`")), "{entries:?}");
    assert!(
        entries
            .iter()
            .any(|(c, code, s)| *code == 0 && c.contains("card payments") && s == "changed launch path to hardened"),
        "{entries:?}"
    );
}

#[test]
fn status_opens_with_the_path_and_each_gate_and_production_alone_is_gated_by_default() {
    use cutover_testkit::http_app::{App, Reply};
    let site =
        App::new().route("/", Reply::text(200, "v1\n")).start_on(cutover_testkit::loopback_addr().into()).unwrap();
    let (project, _) = project(&format!("[[check]]\nname = \"home\"\nurl = \"{}\"\n", site.url("/")));
    project.cutover(&["deploy", "--force", "--reason", "the test's first release"]).ok();
    let status = project.cutover(&["status"]).ok();
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert!(lines[0].starts_with("path\tnone\tgated\t"), "{}", status.stdout);
    assert!(lines[1].starts_with("gate preflight\tmissing\trun `cutover preflight`"), "{}", status.stdout);
    assert!(lines[2].starts_with("gate ready\tmissing\trun `cutover ready`"), "{}", status.stdout);
    assert!(lines.iter().any(|l| l.starts_with("local\tcurrent ")), "{}", status.stdout);
    let staging = project.cutover(&["--env", "staging", "--json", "status"]).ok().json();
    assert_eq!(staging["gated"], false);

    project.cutover(&["path", "iterative"]).ok();
    // A smoke run passes and is recorded; the gate stands passed for this config.
    project.cutover(&["smoke"]).ok();
    let json = project.cutover(&["--json", "status"]).ok().json();
    assert_eq!((json["gated"].as_bool(), json["path"].as_str()), (Some(true), Some("iterative")));
    let gate = |json: &serde_json::Value, stage: &str| {
        json["gates"].as_array().unwrap().iter().find(|g| g["stage"] == stage).cloned().unwrap()
    };
    assert_eq!(gate(&json, "smoke")["standing"], "passed", "{json:#}");
    assert_eq!(gate(&json, "ready")["standing"], "missing");
    // Another config: the pass no longer counts for it.
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &format!("{toml}\n[gates]\nmax_age = \"1h\"\n"));
    let json = project.cutover(&["--json", "status"]).ok().json();
    assert_eq!(gate(&json, "smoke")["standing"], "other-config", "{json:#}");
    let text = project.cutover(&["status"]).ok().stdout;
    assert!(text.contains("gate smoke\tother config") && text.contains("run `cutover smoke`"), "{text}");

    // `gated` written out wins over the default, both ways.
    project.write(
        "cutover.toml",
        &toml.replacen("[env.production]\n", "[env.production]\ngated = false\n", 1).replacen(
            "[env.staging]\n",
            "[env.staging]\ngated = true\n",
            1,
        ),
    );
    assert_eq!(project.cutover(&["--json", "status"]).ok().json()["gated"], false);
    assert_eq!(project.cutover(&["--env", "staging", "--json", "status"]).ok().json()["gated"], true);
}

#[test]
fn bad_gate_settings_are_config_errors_with_their_place() {
    let (project, _) = project("");
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &format!("{toml}\n[gates]\nmax_age = \"soon\"\n"));
    project.cutover(&["config", "check"]).code(2).stderr_has("max_age").stderr_has("cutover.toml:");
    project.write("cutover.toml", &format!("{toml}\n[gates]\nmax_ages = \"1h\"\n"));
    project.cutover(&["config", "check"]).code(2).stderr_has("unknown key `max_ages`").stderr_has("cutover.toml:");
    project.write("cutover.toml", &toml.replacen("[env.production]\n", "[env.production]\ngated = \"yes\"\n", 1));
    project.cutover(&["config", "check"]).code(2).stderr_has("gated");
}

#[test]
fn attestations_are_recorded_with_who_when_and_a_note_and_unknown_items_are_refused() {
    let (project, _) = project("[preflight]\nattest = [\"payments-live\"]\n");
    let list = project.cutover(&["--json", "attest", "--list"]).ok().json();
    let items: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["item"].as_str().unwrap()).collect();
    assert_eq!(items, ["rollback-plan", "contacts", "stakeholders", "payments-live"]);
    assert!(list.as_array().unwrap().iter().all(|s| s["attestation"].is_null()));

    project.cutover(&["attest", "contacts"]).code(2).stderr_has("needs `--by NAME`");
    project
        .cutover(&["attest", "payments", "--by", "Ana"])
        .code(2)
        .stderr_has("`payments` is not an item to attest")
        .stderr_has("payments-live");
    project.cutover(&["attest", "contacts", "--by", " "]).code(2);
    let one = project.cutover(&["--json", "attest", "contacts", "--by", "Ana Ruiz", "--note", "on call +1 555 0100"]);
    let one = one.ok().json();
    assert_eq!((one["item"].as_str(), one["by"].as_str()), (Some("contacts"), Some("Ana Ruiz")));
    assert_eq!(one["note"], "on call +1 555 0100");
    assert!(one["at"].as_str().is_some_and(|t| t.starts_with("20")));
    project.cutover(&["attest", "payments-live", "--by", "Bo"]).ok();
    // The latest attestation of each item counts; others stay open; per environment.
    project.cutover(&["attest", "contacts", "--by", "Cy"]).ok();
    let text = project.cutover(&["attest", "--list"]).ok().stdout;
    let row = |item: &str| text.lines().find(|l| l.starts_with(item)).unwrap_or_default().to_owned();
    assert!(row("contacts").contains("Cy") && !row("contacts").contains("Ana"), "{text}");
    assert!(row("payments-live").contains("Bo"), "{text}");
    assert!(row("rollback-plan").contains("not attested"), "{text}");
    let staging = project.cutover(&["--env", "staging", "--json", "attest", "--list"]).ok().json();
    assert!(staging.as_array().unwrap().iter().all(|s| s["attestation"].is_null()));
    let log = project.cutover(&["log"]).ok().stdout;
    assert!(log.contains("attested contacts by Ana Ruiz"), "{log}");
}

#[test]
fn bad_preflight_settings_are_config_errors_with_their_place() {
    let (project, _) = project("");
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    for (body, says) in [
        ("core = [3, 8]", "numbered 1 to 7, not 8"),
        ("require = [\"php>=eight\"]", "not a version"),
        ("attest = [\"Payments Live\"]", "not an attestation name"),
        ("attest = [\"contacts\"]", "attested already"),
        ("schema_check = { sql = \"SELECT 1\", command = \"true\" }", "schema_check is a command"),
        ("web_tests = \"nginx -t\"", "unknown key `web_tests`"),
    ] {
        project.write("cutover.toml", &format!("{toml}\n[preflight]\n{body}\n"));
        project.cutover(&["config", "check"]).code(2).stderr_has(says).stderr_has("cutover.toml:");
    }
    project.write(
        "cutover.toml",
        &format!(
            "{toml}\n[preflight]\ncore = [3, 5]\nstaging_window = \"2h\"\nrequire = [\"php>=8.1\", \"composer\"]\n\
             web_test = \"nginx -t\"\nschema_check = \"php artisan migrate:status\"\n"
        ),
    );
    project.cutover(&["config", "check"]).ok();
}

#[test]
fn a_gated_deploy_is_refused_naming_each_missing_gate_and_force_with_a_reason_is_recorded_everywhere() {
    let (project, deploy) = project("");
    let run = project.cutover(&["deploy"]).code(3);
    for gate in [
        "no launch path is chosen: `cutover path fast|hardened|iterative`",
        "preflight has not passed: `cutover preflight`",
        "ready has not passed: `cutover ready`",
    ] {
        assert!(run.stderr.contains(gate), "{}", run.stderr);
    }
    assert!(!deploy.join("releases").exists(), "nothing was sent");
    // Staging is not gated.
    project.cutover(&["--env", "staging", "deploy"]).ok();

    // Forcing needs a reason; a blank one is none.
    project.cutover(&["deploy", "--force"]).code(2);
    project.cutover(&["deploy", "--force", "--reason", "  "]).code(2).stderr_has("needs `--reason TEXT`");
    let run = project.cutover(&["--json", "deploy", "--force", "--reason", "launch day: DNS is not ours yet"]).ok();
    assert!(run.stderr.contains("GATE FORCED (production): preflight has not passed"), "{}", run.stderr);
    assert!(run.stderr.contains("launch day: DNS is not ours yet"), "{}", run.stderr);
    let release = run.json()["release"].as_str().unwrap().to_owned();
    assert_eq!(support::cli::current(&deploy).as_deref(), Some(release.as_str()));
    let journal = std::fs::read_to_string(deploy.join(".cutover/journal.jsonl")).unwrap();
    let prepare = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "prepare" && e["release"] == release.as_str())
        .expect("the prepare event");
    let reason = prepare["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("gates forced by") && reason.contains("launch day: DNS is not ours yet"), "{prepare}");
    let log = project.cutover(&["--json", "log"]).ok().json();
    let entry =
        log.as_array().unwrap().iter().rev().find(|e| e["command"].as_str().unwrap().contains(" deploy ")).unwrap();
    assert!(entry["summary"].as_str().unwrap().contains("gates forced by"), "{entry}");
    assert!(entry["command"].as_str().unwrap().contains("--force --reason"), "{entry}");

    // After go-live on the iterative path a plain deploy is refused even once the rest is fine;
    // a rollback is never gated.
    project.cutover(&["path", "iterative"]).ok();
    project.write("app/index.html", "v2\n");
    project.cutover(&["deploy"]).code(3).stderr_has("only releases promoted from staging");
    project.cutover(&["deploy", "--force", "--reason", "hotfix"]).ok();
    let back = project.cutover(&["--json", "rollback"]).ok().json();
    assert_eq!(back["to"], release.as_str());
}

/// Runs `cutover ARGS` on a terminal, typing `input`.
fn on_a_terminal(project: &Project, args: &str, input: &str) -> support::cli::Run {
    project.on_a_terminal(args, &[], input)
}

#[test]
fn changes_to_a_gated_environment_ask_on_a_terminal_yes_answers_and_a_dry_run_changes_nothing() {
    if !support::require("script", std::process::Command::new("script").arg("--version").output().is_ok()) {
        return;
    }
    let (project, deploy) = project("");
    let force = "deploy --force --reason 'first release'";
    let run = on_a_terminal(&project, force, "n\n");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("to production? [y/N]") && run.stdout.contains("Deploy 20"), "{}", run.stdout);
    assert!(run.stdout.contains("not confirmed"), "{}", run.stdout);
    assert!(support::cli::current(&deploy).is_none(), "nothing deployed");
    let run = on_a_terminal(&project, force, "y\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    let r1 = support::cli::current(&deploy).expect("deployed");
    // `-y` answers yes; without a terminal nothing is asked (every other test); staging never asks.
    project.write("app/index.html", "v2\n");
    let run = on_a_terminal(&project, &format!("-y {force}"), "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("[y/N]"), "{}", run.stdout);
    let r2 = support::cli::current(&deploy).unwrap();
    assert_ne!(r1, r2);
    let run = on_a_terminal(&project, "--env staging deploy", "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("[y/N]"), "{}", run.stdout);

    // A rollback asks too, naming where it goes.
    let run = on_a_terminal(&project, "rollback", "no\n");
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("Roll back production from {r2} to {r1} (1 host(s))? [y/N]")),
        "{}",
        run.stdout
    );
    assert_eq!(support::cli::current(&deploy).as_deref(), Some(r2.as_str()));
    let run = on_a_terminal(&project, "rollback", "yes\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(support::cli::current(&deploy).as_deref(), Some(r1.as_str()));

    // A dry run says what would be sent and switched, and what the gates say, changing nothing.
    let journal = || std::fs::read_to_string(deploy.join(".cutover/journal.jsonl")).unwrap();
    let before = (journal(), std::fs::read_dir(deploy.join("releases")).unwrap().count());
    project.write("app/new.txt", "new\n");
    let run = project.cutover(&["--json", "deploy", "--dry-run"]).ok();
    let json = run.json();
    let host = &json["preview"]["hosts"][0];
    assert_eq!(host["current"], r1.as_str());
    assert_eq!(host["base"], r1.as_str());
    assert!(host["send_files"].as_u64().unwrap() >= 1 && host["linked_files"].as_u64().unwrap() >= 1, "{json:#}");
    assert!(json["gates_missing"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().contains("preflight")));
    let text = project.cutover(&["deploy", "--dry-run"]).ok();
    assert!(text.stdout.contains(&format!("{r1} -> ")), "{}", text.stdout);
    assert!(
        text.stderr.contains("the gates would refuse it") && text.stderr.contains("nothing changed"),
        "{}",
        text.stderr
    );
    assert_eq!((journal(), std::fs::read_dir(deploy.join("releases")).unwrap().count()), before);
    assert!(!deploy.join(".cutover/lock").exists());
}

#[test]
fn launch_runs_the_stages_in_order_stops_at_the_first_failure_and_skips_what_passed() {
    let (project, deploy) = project("");
    let run = project.cutover(&["launch"]).code(3);
    assert!(run.stderr.contains("==> launch: launch path: failed"), "{}", run.stderr);
    project.cutover(&["path", "fast"]).ok();

    // Pre-flight fails (nothing attested): launch stops there with its exit code; no host changed.
    let run = project.cutover(&["launch"]).code(1);
    assert!(run.stderr.contains("==> launch: 1 pre-flight: failed"), "{}", run.stderr);
    assert!(!run.stderr.contains("2 DNS/TLS ready"), "nothing after the failed stage: {}", run.stderr);
    assert!(!deploy.join("releases").exists());

    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    project.write("cutover.toml", &format!("{toml}\n[preflight]\ncore = [3, 5, 7]\n"));
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        project.cutover(&["attest", item, "--by", "Ana"]).ok();
    }
    // Pre-flight passes; DNS/TLS ready cannot (this environment has no URL): stop, nothing deployed.
    let run = project.cutover(&["--json", "launch"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let verdicts: Vec<(&str, &str)> = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("launch path", "passed"), ("1 pre-flight", "passed"), ("2 DNS/TLS ready", "failed")],
        "{json:#}"
    );
    assert_eq!(json["passed"], false);
    assert!(!deploy.join("releases").exists());
    // Run again: the pre-flight that passed for this config is skipped.
    let run = project.cutover(&["launch"]);
    assert!(run.stderr.contains("==> launch: 1 pre-flight: skipped (passed at"), "{}", run.stderr);
}
