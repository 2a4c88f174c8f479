//! `cutover preflight` (stage 1): the seven items of DESIGN with their evidence, as a table or
//! `--json`; exit 1 when an item the launch path requires fails. Item 5 is judged here, where
//! the secrets provider and the scanner are: the environment's secrets audit and a scan of the
//! repository's working tree and history.

use clap::Args;
use cutover_config::Config;
use cutover_gates::preflight::{self, Finding, PreflightRequest};
use cutover_scan::{Progress, ScanOptions, scan_with_progress};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct PreflightArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &PreflightArgs) -> Result<String, CliError> {
    run(ctx, config, false)
}

/// Pre-flight as `cutover preflight` runs it; with `ready_next` (`launch`, whose next stage is
/// `ready`), item 6 without a passed `ready` is deferred to that stage instead of failing.
pub fn run(ctx: &Ctx<'_>, config: &Config, ready_next: bool) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    ctx.out.say("==> pre-flight 5: secrets audit and scan");
    let secrets = secrets(ctx, config, env);
    let request = PreflightRequest {
        config,
        env,
        state: ctx.state()?,
        ssh: &ctx.ssh_options(config),
        secrets,
        trust: ctx.trust(config)?,
        databases: &Opener { ctx, config },
        ready_next,
    };
    let show = |report: &preflight::PreflightReport| {
        if ctx.out.json {
            ctx.out.json(report);
            return;
        }
        let rows: Vec<Vec<String>> = report
            .items
            .iter()
            .map(|i| vec![format!("{} {}", i.number, i.name), i.result.as_str().to_owned(), i.detail.clone()])
            .collect();
        ctx.out.table(&["ITEM", "RESULT", "DETAIL"], &rows);
    };
    let report = preflight::preflight(request, ctx.out, &show)?;
    let deferred = |i: &&preflight::Item| i.result == preflight::Verdict::Deferred;
    // Item 6 deferred to `ready`, the next stage, is not one left for after go-live.
    let to_ready = ready_next && report.items.iter().filter(deferred).any(|i| i.number == 6);
    let later = report.items.iter().filter(deferred).count() - usize::from(to_ready);
    let mut notes = Vec::new();
    if later > 0 {
        notes.push(format!("{later} item(s) deferred: they must pass before the next redeploy"));
    }
    if to_ready {
        notes.push("item 6 (TLS) is judged by `cutover ready`, next".to_owned());
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    let summary = format!("pre-flight passed for {env} on the {} path{notes}", report.path);
    ctx.out.say(&summary);
    Ok(summary)
}

/// Opens an environment's database as `cutover db` does (its password from the secrets provider).
#[derive(Debug)]
struct Opener<'a> {
    ctx: &'a Ctx<'a>,
    config: &'a Config,
}

impl preflight::Databases for Opener<'_> {
    fn open(&self, env: &str) -> Result<Option<preflight::OpenDatabase>, String> {
        if self.config.env(env).map_err(|e| e.to_string())?.database.is_none() {
            return Ok(None);
        }
        let opened = super::db::open(self.ctx, self.config, env).map_err(|e| crate::output::error_text(&e))?;
        Ok(Some(preflight::OpenDatabase { db: opened.db, target: opened.target, root: opened.root }))
    }
}

/// Item 5: the audit of the environment's `.env` template and values, and the secret scan of
/// the repository beside the config (working tree and history).
pub(super) fn secrets(ctx: &Ctx<'_>, config: &Config, env: &str) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::new();
    match super::secrets::audit::findings(ctx, config, env) {
        Ok(Some(audit)) if audit.is_empty() => {
            findings.push(Finding { what: "secrets audit: no findings".into(), problem: false });
        }
        Ok(Some(audit)) => findings.extend(audit.into_iter().map(|f| Finding {
            what: format!("secrets audit: {} {}: {}", f.check, f.subject, f.detail),
            problem: true,
        })),
        Ok(None) => {
            findings.push(Finding { what: format!("{env} has no env_template: nothing to audit"), problem: false })
        }
        Err(e) => return Err(format!("the secrets audit could not run: {}", crate::output::error_text(&e))),
    }
    let root = ctx.config_dir();
    let progress = |_: Progress| {};
    match scan_with_progress(&root, &ScanOptions::default(), &progress) {
        Ok(report) if report.is_clean() => findings.push(Finding {
            what: format!(
                "secret scan: nothing found in {} file(s){}",
                report.stats.files,
                if report.stats.history { format!(" and {} commit(s)", report.stats.commits) } else { String::new() }
            ),
            problem: false,
        }),
        Ok(report) => findings.extend(report.findings.iter().map(|f| Finding {
            what: format!(
                "secret scan: {} at {}:{}{} (`cutover secrets scan` shows it)",
                f.rule,
                f.file,
                f.line,
                f.commit.as_deref().map(|c| format!(" in commit {}", &c[..c.len().min(12)])).unwrap_or_default()
            ),
            problem: true,
        })),
        Err(e) => return Err(format!("the secret scan could not run: {e}")),
    }
    Ok(findings)
}
