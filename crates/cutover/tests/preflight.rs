//! Stage 1 through the binary against real sshd hosts: two production hosts and a staging host,
//! a real HTTP server for staging's checks. Each item's verdict and evidence, the path deciding
//! what is required (fast: the core items, the rest deferred; hardened: all), the gate recorded
//! and shown by `status`, and nothing on the hosts changed by it.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use cutover_testkit::http_app::{App, Reply};
use support::cli::{Project, Run};
use support::hosts::SshHosts;

fn item(report: &serde_json::Value, n: u64) -> &serde_json::Value {
    report["items"].as_array().unwrap().iter().find(|i| i["number"] == n).unwrap()
}

fn result(report: &serde_json::Value, n: u64) -> String {
    item(report, n)["result"].as_str().unwrap().to_owned()
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn preflight_checks_each_item_with_evidence_and_the_path_decides_what_is_required() {
    if !support::require("sshd", SshHosts::available()) {
        return;
    }
    let hosts = SshHosts::start(3);
    let site = App::new().route("/", Reply::text(200, "v1\n")).start_on(hosts.addr(3).into()).unwrap();
    let aliases = hosts.aliases();
    let extra = format!(
        "[ssh]\nconfig = \"{}\"\nconnect_timeout = \"3s\"\n\
         [[check]]\nname = \"home\"\nurl = \"{}\"\n\
         [preflight]\nrequire = [\"sh\", \"php>=5\", \"no-such-program-cutover\"]\nweb_test = \"exit 0\"\n\
         staging_window = \"2s\"\nschema_check = \"test -f index.html\"\nattest = [\"superadmin-setup\"]\n",
        hosts.config_path().display(),
        site.url("/")
    );
    let project = Project::new(&aliases[..2], SshHosts::DEPLOY_PATH, &extra, 3);
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let toml = format!("{toml}\n[env.staging]\nhosts = [\"{}\"]\npath = \"{}\"\n", aliases[2], SshHosts::DEPLOY_PATH);
    project.write("cutover.toml", &toml);
    let json = |run: Run| run.json();

    // No path yet: pre-flight does not guess what is required.
    project.cutover(&["preflight"]).code(3).stderr_has("pick one with `cutover path");
    project.cutover(&["path", "fast"]).ok();

    let before: Vec<Vec<String>> = (1..=2).map(|i| listing(&hosts.root(i))).collect();
    let run = project.cutover(&["--json", "preflight"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("required item(s) 3, 6, 7 failed"), "{}", run.stderr);
    let report = json(run);
    assert_eq!(report["path"], "fast");
    // Not core on the fast path: deferred, with why.
    for n in [1, 2, 4] {
        assert_eq!(result(&report, n), "deferred", "item {n}: {report:#}");
        assert_eq!(item(&report, n)["required"], false);
    }
    assert!(item(&report, 1)["detail"].as_str().unwrap().contains("staging"), "{report:#}");
    let server = item(&report, 3)["detail"].as_str().unwrap();
    for h in &aliases[..2] {
        assert!(server.contains(&format!("{h}: `no-such-program-cutover` is not installed")), "{server}");
    }
    let facts = item(&report, 3)["evidence"][0]["facts"].as_array().unwrap();
    assert!(facts.iter().any(|f| f.as_str().unwrap().starts_with("php ")), "{facts:?}");
    assert!(facts.iter().any(|f| f.as_str().unwrap().contains("free in")), "{facts:?}");
    assert_eq!(result(&report, 5), "pass", "{report:#}");
    assert!(item(&report, 6)["detail"].as_str().unwrap().contains("`cutover ready` has not passed"));
    assert!(item(&report, 7)["detail"].as_str().unwrap().contains("rollback-plan, contacts, stakeholders"));
    // Pre-flight changes nothing on the hosts (the deploy path is not even created).
    let after: Vec<Vec<String>> = (1..=2).map(|i| listing(&hosts.root(i))).collect();
    assert_eq!(before, after);

    // A failing web-server test names the host and what it said.
    project.write(
        "cutover.toml",
        &toml.replace("web_test = \"exit 0\"", "web_test = \"echo 'emerg: bad directive'; exit 1\""),
    );
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    assert!(
        item(&report, 3)["detail"].as_str().unwrap().contains("failed (exit 1): emerg: bad directive"),
        "{report:#}"
    );

    // Fixed: the program requirement dropped, the attestations made; TLS is not core here.
    let toml =
        toml.replace(", \"no-such-program-cutover\"", "").replace("[preflight]\n", "[preflight]\ncore = [3, 5, 7]\n");
    project.write("cutover.toml", &toml);
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        project.cutover(&["attest", item, "--by", "Ana", "--note", "in the runbook"]).ok();
    }
    let run = project.cutover(&["preflight"]).ok();
    assert!(run.stderr.contains("pre-flight passed for production on the fast path"), "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l.starts_with("7 attestations") && l.contains("attested")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("6 TLS") && l.contains("deferred")), "{}", run.stdout);
    let status = json(project.cutover(&["--json", "status"]).ok());
    let gate = status["gates"].as_array().unwrap().iter().find(|g| g["stage"] == "preflight").unwrap();
    assert_eq!(gate["standing"], "passed", "{status:#}");

    // Hardened requires every item: staging's too.
    project.cutover(&["path", "hardened", "--reason", "payments"]).ok();
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    for n in [1, 2, 6] {
        assert_eq!(result(&report, n), "fail", "item {n}: {report:#}");
    }
    assert!(
        item(&report, 1)["detail"].as_str().unwrap().contains("not on one release (or none is deployed)"),
        "{report:#}"
    );

    // Staging: deployed, smoked and watched for its window on the live release; item 1 passes.
    project.cutover(&["--env", "staging", "deploy"]).ok();
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    let staging = item(&report, 1)["detail"].as_str().unwrap().to_owned();
    assert!(staging.contains("smoke has not passed on staging's release"), "{staging}");
    project.cutover(&["--env", "staging", "smoke"]).ok();
    let run = project.cutover(&["--env", "staging", "monitor", "--window", "2s", "--interval", "500ms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    project.cutover(&["attest", "superadmin-setup", "--by", "Bo"]).ok();
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    assert_eq!(result(&report, 1), "pass", "{report:#}");
    assert!(item(&report, 1)["detail"].as_str().unwrap().contains("`test -f index.html` passed"), "{report:#}");
    assert_eq!(result(&report, 2), "attested");
    assert_eq!(result(&report, 6), "fail", "still no `cutover ready`");
    // A new staging release has not been smoked: item 1 fails again.
    project.write("app/index.html", "v2\n");
    project.cutover(&["--env", "staging", "deploy"]).ok();
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    assert!(item(&report, 1)["detail"].as_str().unwrap().contains("on another release"), "{report:#}");
    // A schema check that fails says where and what.
    project.write("cutover.toml", &toml.replace("test -f index.html", "echo 'pending migration 2026_12_01'; exit 3"));
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    let detail = item(&report, 1)["detail"].as_str().unwrap();
    assert!(detail.contains("failed on") && detail.contains("pending migration 2026_12_01"), "{detail}");

    // Item 2 by HTTP checks of staging, when there are any: they decide, not the attestation.
    let checked = format!(
        "{toml}\n[[preflight.check]]\nname = \"legal pages\"\nurl = \"{}\"\nbody_contains = \"Terms of service\"\n",
        site.url("/")
    );
    project.write("cutover.toml", &checked);
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    assert_eq!(result(&report, 2), "fail", "{report:#}");
    assert!(item(&report, 2)["detail"].as_str().unwrap().contains("legal pages:"), "{report:#}");
    project.write("cutover.toml", &checked.replace("Terms of service", "v1"));
    let report = json(project.cutover(&["--json", "preflight"]).code(1));
    assert_eq!(result(&report, 2), "pass", "{report:#}");

    // `cutover verify`: servers, secrets, ready and smoke against production, recorded as a gate.
    project.write("cutover.toml", &toml);
    let run = project.cutover(&["--json", "verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let check = |name: &str| {
        report["checks"].as_array().unwrap().iter().find(|c| c["check"] == name).unwrap()["result"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (check("server setup"), check("secrets"), check("smoke")),
        ("pass".into(), "pass".into(), "pass".into()),
        "{report:#}"
    );
    assert_eq!(check("DNS/TLS ready"), "fail", "this environment has no URL to be ready at");
    let status = json(project.cutover(&["--json", "status"]).ok());
    let gate = status["gates"].as_array().unwrap().iter().find(|g| g["stage"] == "verify").unwrap();
    assert_eq!(gate["standing"], "failed", "{status:#}");
}

/// Items 1, 2 and 4 against real databases: staging's schema check and superadmin checks as SQL
/// (and a command in staging's current release), production's database empty before go-live.
#[test]
fn sql_checks_and_the_production_database_item_read_the_real_databases() {
    use support::db::{Db, Kind};
    if !Kind::Mariadb.require() {
        return;
    }
    let Some(hosts) = support::ssh_hosts(2) else { return };
    let (staging, production) = (Db::create(Kind::Mariadb), Db::create(Kind::Mariadb));
    staging.load(
        b"CREATE TABLE wp_options (option_name VARCHAR(191) PRIMARY KEY, option_value LONGTEXT);\n\
          INSERT INTO wp_options VALUES ('blogname', 'My WordPress Website'), ('siteurl', 'https://staging.example.test');\n",
    );
    let url = |db: &Db| format!("mysql://root@127.0.0.1:3306/{}", db.name);
    let extra = "[preflight]\nschema_check = { sql = \"SELECT 1 FROM wp_options LIMIT 1\" }\n\
         [[preflight.check]]\nname = \"site title set on staging\"\n\
         sql = \"SELECT 1 FROM wp_options WHERE option_name = 'blogname' AND option_value <> 'My WordPress Website'\"\n\
         [[preflight.check]]\nname = \"app on staging\"\ncommand = \"test -f index.html\"\n";
    let project = support::ssh_project(&hosts, extra);
    let toml = std::fs::read_to_string(project.path().join("cutover.toml")).unwrap();
    let toml = toml.replace(
        &format!("hosts = [\"{}\", \"{}\"]", hosts.alias(1), hosts.alias(2)),
        &format!("hosts = [\"{}\"]", hosts.alias(1)),
    );
    let toml = format!(
        "{}database = \"{}\"\n[env.staging]\nhosts = [\"{}\"]\npath = \"{}\"\ndatabase = \"{}\"\n",
        toml,
        url(&production),
        hosts.alias(2),
        SshHosts::DEPLOY_PATH,
        url(&staging)
    );
    project.write("cutover.toml", &toml);
    project.cutover(&["--env", "staging", "deploy"]).ok();
    project.cutover(&["path", "hardened"]).ok();

    let report = project.cutover(&["--json", "preflight"]).code(1).json();
    let seen = item(&report, 1)["evidence"]["seen"].to_string();
    assert!(seen.contains("the schema check returned 1 row(s)"), "{report:#}");
    assert_eq!(result(&report, 2), "fail", "{report:#}");
    let detail = item(&report, 2)["detail"].as_str().unwrap();
    assert!(detail.contains("site title set on staging") && detail.contains("returned no row"), "{detail}");
    assert!(!detail.contains("app on staging"), "the command check passes in staging's release: {detail}");
    assert_eq!(result(&report, 4), "pass", "{report:#}");
    assert_eq!(item(&report, 4)["required"], true);
    assert!(item(&report, 4)["detail"].as_str().unwrap().contains("exists and is empty"), "{report:#}");

    // Staging set up, and a table in production before its first release: item 2 passes, item 4 fails.
    staging.query("UPDATE wp_options SET option_value = 'Shop' WHERE option_name = 'blogname'");
    production.load(b"CREATE TABLE leftover (id INT);\n");
    let report = project.cutover(&["--json", "preflight"]).code(1).json();
    assert_eq!(result(&report, 2), "pass", "{report:#}");
    assert_eq!(result(&report, 4), "fail", "{report:#}");
    let detail = item(&report, 4)["detail"].as_str().unwrap();
    assert!(detail.contains("`leftover`") && detail.contains("not empty before the first release"), "{detail}");

    // A schema check that returns nothing, and a command that fails, say so.
    project.write(
        "cutover.toml",
        &toml
            .replace("SELECT 1 FROM wp_options LIMIT 1", "SELECT 1 FROM wp_options WHERE 1 = 0")
            .replace("test -f index.html", "test -f missing.txt"),
    );
    let report = project.cutover(&["--json", "preflight"]).code(1).json();
    assert!(item(&report, 1)["detail"].as_str().unwrap().contains("returned no row"), "{report:#}");
    let detail = item(&report, 2)["detail"].as_str().unwrap();
    assert!(detail.contains("app on staging: `test -f missing.txt` failed on"), "{detail}");
}
