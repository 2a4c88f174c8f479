//! Stage 1, pre-flight (DESIGN, "Pre-flight items"): seven items, each with its evidence, judged
//! by the environment's launch path — `hardened` requires every item, `fast` and `iterative` the
//! core ones (`[preflight] core`), recording the others as deferred. The verdict is the
//! `preflight` gate. Nothing on any host changes.
//!
//! Item 5 (secrets) is judged by the caller, which owns the secrets provider and the scanner's
//! progress, and handed in as [`Finding`]s; the caller also opens the environments' databases
//! ([`Databases`]: their passwords come from the secrets provider), for item 1's SQL schema
//! check, item 2's SQL checks and item 4.

pub mod server;

use std::path::Path;

use cutover_config::Config;
use cutover_release::Fleet;
use cutover_remote::{Reporter, SshOptions, Stdin, shell};
use cutover_state::State;
use serde::Serialize;

use crate::gate::{self, Standing};
use crate::{GateError, LaunchPath, attest};

pub const STAGE: &str = "preflight";

/// What `cutover ready --cert FILE --key FILE` records: item 6 accepts it in place of `ready`.
pub const CERT_FILE_STAGE: &str = "ready-cert-file";

/// An environment's database, resolved and its db host connected.
#[derive(Debug)]
pub struct OpenDatabase {
    pub db: cutover_db::host::Database,
    pub target: Box<dyn cutover_remote::Target>,
    /// The deploy path on the db host, as a shell expression.
    pub root: String,
}

impl OpenDatabase {
    fn host<'a>(&'a self, env: &'a str) -> cutover_db::host::DbHost<'a> {
        cutover_db::host::DbHost { env, target: self.target.as_ref(), root: &self.root }
    }
}

/// Opens an environment's database for pre-flight.
pub trait Databases: std::fmt::Debug {
    /// `Ok(None)` when the environment names no database; `Err` says why it cannot be opened.
    fn open(&self, env: &str) -> Result<Option<OpenDatabase>, String>;
}

/// The attestation that stands in for item 2 when it has no checks.
pub const SUPERADMIN_ATTESTATION: &str = "superadmin-setup";

/// How an item came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not required on this path now (or not checkable yet): it must pass later.
    Deferred,
    /// Vouched for by a person.
    Attested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Deferred => "deferred",
            Verdict::Attested => "attested",
        }
    }
}

/// One item of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub number: u8,
    pub name: &'static str,
    pub result: Verdict,
    /// Whether this path requires it before go-live.
    pub required: bool,
    pub detail: String,
    /// What was seen, for the gate's record.
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub env: String,
    pub path: LaunchPath,
    pub passed: bool,
    pub items: Vec<Item>,
}

/// A problem item 5 found (the secrets audit, the scan), or what it checked.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub what: String,
    pub problem: bool,
}

#[derive(Debug)]
pub struct PreflightRequest<'a> {
    pub config: &'a Config,
    pub env: &'a str,
    pub state: &'a State,
    pub ssh: &'a SshOptions,
    /// Item 5 as the caller judged it; `Err` when it could not be judged, and why.
    pub secrets: Result<Vec<Finding>, String>,
    /// The roots item 2's HTTP checks of staging judge certificates against.
    pub trust: cutover_http::Trust,
    pub databases: &'a dyn Databases,
    /// `ready` runs next, before anything is deployed (`cutover launch`'s stage 2): item 6,
    /// when neither `ready` nor a certificate file has passed, is deferred to it instead of
    /// failing, since the live endpoint it asks for is what that stage checks. The deploy gate
    /// still requires `ready`.
    pub ready_next: bool,
}

/// Runs every item, records the `preflight` gate and returns the report; a required item that
/// fails is [`GateError::PreflightFailed`] after the report has been handed to `show`.
pub fn preflight(
    req: PreflightRequest<'_>,
    reporter: &dyn Reporter,
    show: &dyn Fn(&PreflightReport),
) -> Result<PreflightReport, GateError> {
    let Some(path) = crate::path::path_state(req.state, req.env)?.path else {
        return Err(GateError::NoPath { env: req.env.to_owned() });
    };
    let core: Vec<u8> = req.config.preflight.core.iter().map(|i| i.number()).collect();
    let required = |n: u8| path == LaunchPath::Hardened || core.contains(&n);

    reporter.step(None, "pre-flight 1: staging");
    let staging = staging(&req, reporter);
    reporter.step(None, "pre-flight 2: superadmin setup on staging");
    let superadmin = superadmin(&req)?;
    reporter.step(None, "pre-flight 3: server setup on every production host");
    let server = server(&req, reporter);
    reporter.step(None, "pre-flight 4: the production database");
    let database = database(&req, reporter);
    let database_named = req.config.env(req.env).is_ok_and(|e| e.database.is_some());
    let secrets = secrets(&req.secrets);
    let tls = tls(&req)?;
    let attestations = attestations(&req)?;

    let items: Vec<Item> = [
        (1, "staging", staging),
        (2, "superadmin setup", superadmin),
        (3, "server setup", server),
        (4, "production database", database),
        (5, "secrets", secrets),
        (6, "TLS", tls),
        (7, "attestations", attestations),
    ]
    .into_iter()
    .map(|(number, name, (result, detail, evidence))| {
        // Item 4 cannot be checked without a database named: then it never holds a launch.
        let required = required(number) && (number != 4 || database_named);
        let result = if result == Verdict::Fail && !required { Verdict::Deferred } else { result };
        Item { number, name, result, required, detail, evidence }
    })
    .collect();
    let failed: Vec<String> =
        items.iter().filter(|i| i.required && i.result == Verdict::Fail).map(|i| i.number.to_string()).collect();
    let report = PreflightReport { env: req.env.to_owned(), path, passed: failed.is_empty(), items };
    let evidence = serde_json::to_string(&report).expect("the report serializes");
    req.state.record_gate(STAGE, req.env, &req.config.hash, None, report.passed, &evidence)?;
    show(&report);
    if failed.is_empty() {
        Ok(report)
    } else {
        Err(GateError::PreflightFailed { env: req.env.to_owned(), path, items: failed.join(", ") })
    }
}

type Outcome = (Verdict, String, serde_json::Value);

fn outcome(problems: Vec<String>, passed: String, evidence: serde_json::Value) -> Outcome {
    if problems.is_empty() { (Verdict::Pass, passed, evidence) } else { (Verdict::Fail, problems.join("; "), evidence) }
}

/// Item 1: staging's current release passed smoke, a monitor window of `staging_window`, and
/// the schema check, all on the release live on staging now.
fn staging(req: &PreflightRequest<'_>, reporter: &dyn Reporter) -> Outcome {
    let config = req.config;
    let Ok(environment) = config.env("staging") else {
        return (Verdict::Fail, "no `[env.staging]` in the config".into(), serde_json::Value::Null);
    };
    let fleet = match Fleet::connect("staging", environment.hosts(), environment.path.clone(), req.ssh, reporter) {
        Ok(fleet) => fleet,
        Err(e) => return (Verdict::Fail, format!("cannot reach staging: {e}"), serde_json::Value::Null),
    };
    let live = match cutover_release::live(&fleet) {
        Ok(Some(live)) => live,
        Ok(None) => {
            return (
                Verdict::Fail,
                "staging's hosts are not on one release (or none is deployed)".into(),
                serde_json::Value::Null,
            );
        }
        Err(e) => return (Verdict::Fail, format!("cannot read staging's release: {e}"), serde_json::Value::Null),
    };
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    match req.state.latest_gate("smoke", "staging") {
        Ok(Some(g)) if g.passed && g.artifact.is_some() && g.artifact == live.manifest => {
            seen.push(format!("smoke passed at {}", g.at));
        }
        Ok(Some(g)) if g.passed => problems.push(format!(
            "smoke last passed on staging at {} on another release than {} (run `cutover --env staging smoke`)",
            g.at, live.release
        )),
        Ok(_) => problems.push(format!(
            "smoke has not passed on staging's release {} (run `cutover --env staging smoke`)",
            live.release
        )),
        Err(e) => problems.push(format!("cannot read staging's smoke gate: {e}")),
    }
    let window = config.preflight.staging_window.0;
    let window_ms = window.as_millis() as i64;
    match req.state.latest_monitor("staging") {
        Ok(Some(m)) if m.state == "passed" && m.release == live.release && m.ends_ms - m.started_ms >= window_ms => {
            seen.push(format!(
                "monitor window of {} passed",
                cutover_config::human::whole_seconds(m.ends_ms - m.started_ms)
            ));
        }
        Ok(Some(m)) if m.release == live.release && m.state == "running" => {
            problems.push(format!("staging's monitor window on {} is still running", live.release))
        }
        Ok(_) => problems.push(format!(
            "no staging monitor window of {} passed on {} (run `cutover --env staging monitor --window {}`)",
            cutover_config::human::duration(window),
            live.release,
            cutover_config::human::duration(window)
        )),
        Err(e) => problems.push(format!("cannot read staging's monitor: {e}")),
    }
    match &config.preflight.schema_check {
        None => seen.push("no schema check configured".into()),
        Some(cutover_config::SchemaCheck::Sql(sql)) => match staging_query(req, sql) {
            Ok(rows) if !rows.is_empty() => seen.push(format!("the schema check returned {} row(s)", rows.len())),
            Ok(_) => problems.push(format!("the schema check `{}` returned no row", cutover_http::text::cut(sql, 200))),
            Err(e) => problems.push(format!("the schema check could not run: {e}")),
        },
        Some(cutover_config::SchemaCheck::Command(command)) => {
            let script = format!("cd {}/current\nsh -c {}\n", shell::path_expr(&fleet.root), shell::quote(command));
            let target = fleet.targets[0].as_ref();
            match target.exec("running the schema check", &script, Stdin::Null, cutover_remote::Sink::Answer) {
                Ok(out) if out.success() => seen.push(format!("`{command}` passed on {}", target.name())),
                Ok(out) => problems.push(format!(
                    "the schema check `{command}` failed on {} ({}): {}",
                    target.name(),
                    out.describe_status(),
                    cutover_http::text::cut(out.tail().trim(), 300)
                )),
                Err(e) => problems.push(format!("the schema check could not run: {e}")),
            }
        }
    }
    let evidence = serde_json::json!({ "release": live.release, "manifest": live.manifest, "seen": seen });
    outcome(problems, format!("{}: {}", live.release, seen.join(", ")), evidence)
}

/// Item 2: the `[[preflight.check]]` HTTP checks against staging; without any, the
/// `superadmin-setup` attestation (listed in `[preflight] attest`).
fn superadmin(req: &PreflightRequest<'_>) -> Result<Outcome, GateError> {
    let checks = &req.config.preflight.checks;
    if !checks.is_empty() {
        let Ok(staging) = req.config.env("staging") else {
            return Ok((Verdict::Fail, "no `[env.staging]` to check".into(), serde_json::Value::Null));
        };
        let mut failed = Vec::new();
        let mut rows = Vec::new();
        let http: Vec<cutover_config::CheckSpec> = checks
            .iter()
            .filter_map(|c| match c {
                cutover_config::PreflightCheck::Http(spec) => Some(spec.clone()),
                _ => None,
            })
            .collect();
        if !http.is_empty() {
            let plan = crate::Plan::of(&http, req.config, "staging", req.trust.clone(), Vec::new())?;
            let samples = plan.run();
            failed.extend(
                samples
                    .iter()
                    .filter(|s| !s.ok)
                    .map(|s| format!("{}: {}", s.check, s.reason.as_deref().unwrap_or("failed"))),
            );
            rows.push(serde_json::to_value(crate::rows(&samples)).unwrap_or_default());
        }
        for check in checks {
            let (name, result) = match check {
                cutover_config::PreflightCheck::Http(_) => continue,
                cutover_config::PreflightCheck::Sql { name, sql } => (
                    name,
                    staging_query(req, sql).and_then(|r| {
                        if r.is_empty() {
                            Err(format!("`{}` returned no row", cutover_http::text::cut(sql, 200)))
                        } else {
                            Ok(())
                        }
                    }),
                ),
                cutover_config::PreflightCheck::Command { name, command } => {
                    (name, staging_command(req, staging, command))
                }
            };
            rows.push(serde_json::json!({ "check": name, "ok": result.is_ok(), "reason": result.as_ref().err() }));
            if let Err(why) = result {
                failed.push(format!("{name}: {why}"));
            }
        }
        let passed = format!("{} check(s) of staging passed", checks.len());
        return Ok(outcome(failed, passed, serde_json::Value::Array(rows)));
    }
    let listed = req.config.preflight.attestations().contains(&SUPERADMIN_ATTESTATION);
    let done = attest::attestations(req.state, req.config, req.env)?
        .into_iter()
        .find(|s| s.item == SUPERADMIN_ATTESTATION)
        .and_then(|s| s.attestation);
    Ok(match done {
        Some(a) if listed => (
            Verdict::Attested,
            format!(
                "attested by {} at {}{}",
                a.by,
                a.at,
                a.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
            ),
            serde_json::to_value(&a).unwrap_or_default(),
        ),
        _ => (
            Verdict::Fail,
            format!(
                "no `[[preflight.check]]` of staging's superadmin setup (branding, SMTP, payments, legal pages): add \
                 HTTP checks, or add \"{SUPERADMIN_ATTESTATION}\" to `[preflight] attest` and `cutover attest \
                 {SUPERADMIN_ATTESTATION} --by NAME`"
            ),
            serde_json::Value::Null,
        ),
    })
}

/// Runs `sql` against staging's database: its rows, or why it could not.
fn staging_query(req: &PreflightRequest<'_>, sql: &str) -> Result<Vec<String>, String> {
    let opened = req.databases.open("staging")?.ok_or_else(|| {
        "staging names no database: add `database = \"…\"` to [env.staging] for SQL checks".to_owned()
    })?;
    cutover_db::host::query(&opened.db, &opened.host("staging"), sql).map_err(|e| e.to_string())
}

/// Runs `command` on staging's first host in its current release; exit 0 passes.
fn staging_command(
    req: &PreflightRequest<'_>,
    staging: &cutover_config::Environment,
    command: &str,
) -> Result<(), String> {
    let target = cutover_remote::connect(&staging.hosts()[0], req.ssh).map_err(|e| e.to_string())?;
    let script = format!("cd {}/current\nsh -c {}\n", shell::path_expr(&staging.path), shell::quote(command));
    match target.exec("running a pre-flight check", &script, Stdin::Null, cutover_remote::Sink::Answer) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{command}` failed on {} ({}): {}",
            target.name(),
            out.describe_status(),
            cutover_http::text::cut(out.tail().trim(), 300)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Item 4: the production database exists and is empty, or production is live already (then
/// it holds the app's data, as it should).
fn database(req: &PreflightRequest<'_>, reporter: &dyn Reporter) -> Outcome {
    let opened = match req.databases.open(req.env) {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            return (
                Verdict::Deferred,
                format!("[env.{}] names no database (`database = \"mysql://…\"`), so it cannot be checked", req.env),
                serde_json::Value::Null,
            );
        }
        Err(e) => return (Verdict::Fail, e, serde_json::Value::Null),
    };
    let tables = match cutover_db::host::tables(&opened.db, &opened.host(req.env)) {
        Ok(tables) => tables,
        Err(e) => {
            return (Verdict::Fail, format!("the production database cannot be read: {e}"), serde_json::Value::Null);
        }
    };
    let evidence =
        serde_json::json!({ "database": opened.db.describe(), "host": opened.target.name(), "tables": tables.len() });
    if tables.is_empty() {
        return (Verdict::Pass, format!("{} exists and is empty", opened.db.describe()), evidence);
    }
    let live = req.config.env(req.env).ok().and_then(|e| {
        let fleet = Fleet::connect(req.env, e.hosts(), e.path.clone(), req.ssh, reporter).ok()?;
        cutover_release::live(&fleet).ok().flatten()
    });
    match live {
        Some(live) => (
            Verdict::Pass,
            format!(
                "{} holds {} table(s), in use since go-live ({} is live)",
                opened.db.describe(),
                tables.len(),
                live.release
            ),
            evidence,
        ),
        None => (
            Verdict::Fail,
            format!(
                "{} on {} is not empty before the first release (it has table `{}`{}): seeding needs an empty \
                 database",
                opened.db.describe(),
                opened.target.name(),
                tables[0],
                if tables.len() > 1 { format!(" and {} more", tables.len() - 1) } else { String::new() }
            ),
            evidence,
        ),
    }
}

/// Item 3: every production host probed.
fn server(req: &PreflightRequest<'_>, reporter: &dyn Reporter) -> Outcome {
    server_setup(req.config, req.env, req.ssh, reporter)
}

/// Pre-flight item 3 on its own (also part of `cutover verify`): every host of `env` probed.
pub fn server_setup(
    config: &Config,
    env: &str,
    ssh: &SshOptions,
    reporter: &dyn Reporter,
) -> (Verdict, String, serde_json::Value) {
    let environment = match config.env(env) {
        Ok(e) => e,
        Err(e) => return (Verdict::Fail, e.to_string(), serde_json::Value::Null),
    };
    let fleet = match Fleet::connect(env, environment.hosts(), environment.path.clone(), ssh, reporter) {
        Ok(fleet) => fleet,
        Err(e) => return (Verdict::Fail, format!("cannot reach every host: {e}"), serde_json::Value::Null),
    };
    let probes = server::probe(&fleet, config, app_bytes(&config.app.source));
    let problems: Vec<String> =
        probes.iter().flat_map(|p| p.problems.iter().map(move |x| format!("{}: {x}", p.host))).collect();
    let passed = probes.iter().map(|p| format!("{}: {}", p.host, p.facts.join(", "))).collect::<Vec<_>>().join("; ");
    outcome(problems, passed, serde_json::to_value(&probes).unwrap_or_default())
}

/// Item 5, as the caller judged it (also part of `cutover verify`).
pub fn secrets(judged: &Result<Vec<Finding>, String>) -> (Verdict, String, serde_json::Value) {
    match judged {
        Err(why) => (Verdict::Fail, why.clone(), serde_json::Value::Null),
        Ok(findings) => {
            let problems: Vec<String> = findings.iter().filter(|f| f.problem).map(|f| f.what.clone()).collect();
            let checked: Vec<String> = findings.iter().filter(|f| !f.problem).map(|f| f.what.clone()).collect();
            outcome(problems, checked.join("; "), serde_json::to_value(findings).unwrap_or_default())
        }
    }
}

/// Item 6: `cutover ready` passed for this config within `[gates] max_age`, or else a
/// certificate file checked by `cutover ready --cert FILE --key FILE` (as fresh); deferred to
/// `ready` when it runs next ([`PreflightRequest::ready_next`]).
fn tls(req: &PreflightRequest<'_>) -> Result<Outcome, GateError> {
    let ready = gate::gate_statuses(req.state, req.config, req.env)?
        .into_iter()
        .find(|g| g.stage == "ready")
        .expect("ready is a gate");
    let file = req.state.latest_gate(CERT_FILE_STAGE, req.env)?;
    let file = gate::judge_record(CERT_FILE_STAGE, "cutover ready --cert FILE --key FILE", file.as_ref(), req.config);
    let evidence = serde_json::json!({ "ready": ready, "certificate_file": file });
    if ready.standing == Standing::Passed {
        return Ok((Verdict::Pass, format!("`cutover ready` passed at {}", ready.at.unwrap_or_default()), evidence));
    }
    if file.standing == Standing::Passed {
        return Ok((
            Verdict::Pass,
            format!(
                "the certificate file passed `cutover ready --cert` at {} (the live hosts are checked by `cutover \
                 ready` before the deploy)",
                file.at.unwrap_or_default()
            ),
            evidence,
        ));
    }
    if req.ready_next {
        return Ok((
            Verdict::Deferred,
            format!(
                "`cutover ready` {}: it runs next (stage 2) and must pass before anything is deployed",
                ready.standing.why_not().unwrap_or_default()
            ),
            evidence,
        ));
    }
    let (why, next) = match ready.standing {
        Standing::Missing => (String::new(), "run it (or `cutover ready --cert FILE --key FILE`)"),
        Standing::Failed => (String::new(), "fix what it found and run it again"),
        Standing::Expired => {
            (format!(" ({})", cutover_config::human::duration(req.config.gates.max_age.0)), "run it again")
        }
        Standing::OtherConfig | Standing::Passed => (String::new(), "run it again"),
    };
    let why = format!("`cutover ready` {}{why}: {next}", ready.standing.why_not().unwrap_or_default());
    Ok((Verdict::Fail, why, evidence))
}

/// Item 7: every item to attest is attested (but item 2's, which stands for item 2).
fn attestations(req: &PreflightRequest<'_>) -> Result<Outcome, GateError> {
    let mut all = attest::attestations(req.state, req.config, req.env)?;
    all.retain(|s| s.item != SUPERADMIN_ATTESTATION);
    let missing: Vec<&str> = all.iter().filter(|s| s.attestation.is_none()).map(|s| s.item.as_str()).collect();
    let evidence = serde_json::to_value(&all).unwrap_or_default();
    Ok(if missing.is_empty() {
        let by: Vec<String> =
            all.iter().filter_map(|s| s.attestation.as_ref().map(|a| format!("{} by {}", s.item, a.by))).collect();
        (Verdict::Attested, by.join(", "), evidence)
    } else {
        (
            Verdict::Fail,
            format!("not attested: {} (`cutover attest ITEM --by NAME [--note TEXT]`)", missing.join(", ")),
            evidence,
        )
    })
}

/// The app's size on disk, for the free-space check: every file under `source` but `.git`.
fn app_bytes(source: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![source.to_owned()];
    // Bounded: a directory is read once, and symlinks are not followed.
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && entry.file_name() != ".git" {
                dirs.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}
