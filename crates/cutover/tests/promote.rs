//! `cutover promote` through the binary against real sshd hosts (one staging, one production)
//! and a real HTTP server for staging's smoke check: it ships exactly the artifact live on
//! staging (same manifest hash, not the working tree), only once it passed smoke there.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use cutover_testkit::http_app::{App, Reply};
use support::cli::{Project, current};
use support::hosts::SshHosts;

fn manifest_of(project: &Project, env: &str, release: &str) -> String {
    let rows = project.cutover(&["--env", env, "--json", "releases"]).ok().json();
    let row = rows.as_array().unwrap().iter().find(|r| r["id"] == release).expect("the release");
    row["manifest"].as_str().expect("a manifest hash").to_owned()
}

#[test]
fn promote_ships_the_artifact_live_on_staging_once_it_passed_smoke_there() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    let hosts = SshHosts::start(2);
    let site = App::new().route("/", Reply::text(200, "ok\n")).start_on(hosts.addr(2).into()).unwrap();
    let aliases = hosts.aliases();
    let extra = format!(
        "[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n[[check]]\nname = \"home\"\nurl = \"{}\"\n[smoke]\nafter_deploy = false\n",
        hosts.config_path().display(),
        site.url("/")
    );
    let project = Project::new(&aliases[..1], SshHosts::DEPLOY_PATH, &extra, 5);
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let toml = format!("{toml}\n[env.staging]\nhosts = [\"{}\"]\npath = \"{}\"\n", aliases[1], SshHosts::DEPLOY_PATH);
    project.write("cutover.toml", &toml);
    let (prod, staging) = (hosts.deploy_dir(1), hosts.deploy_dir(2));

    project.cutover(&["promote"]).code(3).stderr_has("cannot promote from staging").stderr_has("not on one release");
    project.write("app/index.html", "v2 from staging\n");
    project.cutover(&["--env", "staging", "deploy"]).ok();
    let staged = current(&staging).unwrap();
    // Not smoked on staging yet: refused, production untouched.
    project
        .cutover(&["promote", "--from", "staging", "--to", "production"])
        .code(3)
        .stderr_has(&format!("{staged} has not passed smoke on staging: run `cutover --env staging smoke`"));
    assert!(current(&prod).is_none());
    project.cutover(&["--env", "staging", "smoke"]).ok();

    // The working tree moved on; promote still ships what staging runs.
    project.write("app/index.html", "v3 only in the working tree\n");
    project.write("app/extra.txt", "not on staging\n");
    let run = project.cutover(&["--json", "promote", "--from", "staging"]).ok();
    let promoted = run.json()["release"].as_str().unwrap().to_owned();
    assert_eq!(current(&prod).as_deref(), Some(promoted.as_str()));
    assert_eq!(std::fs::read_to_string(prod.join("current/index.html")).unwrap(), "v2 from staging\n");
    assert!(!prod.join("current/extra.txt").exists());
    assert_eq!(manifest_of(&project, "production", &promoted), manifest_of(&project, "staging", &staged));
    support::cli::assert_complete(&prod);
    let log = project.cutover(&["log"]).ok().stdout;
    assert!(log.contains(&format!("(promoted {staged} of staging")), "{log}");

    // A release that a hook changed on staging after its upload is not the artifact: refused.
    project.write(
        "cutover.toml",
        &toml.replacen(
            "[env.staging]",
            "[hooks]\nbefore_switch = [\"echo changed >> index.html\"]\n\n[env.staging]",
            1,
        ),
    );
    project.cutover(&["--env", "staging", "deploy"]).ok();
    project.cutover(&["--env", "staging", "smoke"]).ok();
    let run = project.cutover(&["promote"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("not what was uploaded") && run.stderr.contains("index.html"), "{}", run.stderr);
    assert_eq!(current(&prod).as_deref(), Some(promoted.as_str()), "production unchanged");
    // Usage errors.
    project.cutover(&["promote", "--from", "production"]).code(2);
    project.cutover(&["promote", "--to", "qa"]).code(2).stderr_has("disagree");
}
