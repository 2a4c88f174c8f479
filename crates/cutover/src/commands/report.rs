//! `cutover report`: the launch as recorded in `state.db` and the hosts' journals: a terminal
//! summary, `--json`, or with `--html FILE` one self-contained page with charts
//! (`cutover_report`).

use std::path::{Path, PathBuf};

use clap::Args;
use cutover_config::Config;
use cutover_report::Report;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the report as one HTML page (inline CSS and SVG, no script) to FILE, atomically.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Only what happened from TIME on: an RFC 3339 time (2026-12-04T10:00:00Z) or a duration
    /// back from now (24h, 90m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &ReportArgs) -> Result<String, CliError> {
    let since = match &args.since {
        Some(text) => Some(cutover_report::parse_since(text, now_ms()).map_err(CliError::Usage)?),
        None => None,
    };
    let report = build(ctx, config, since)?;
    if let Some(path) = &args.html {
        write_html(&report, path)?;
        ctx.out.say(&format!("wrote the {} report to {}", report.env, path.display()));
    }
    if ctx.out.json {
        ctx.out.json(&report);
    } else if args.html.is_none() {
        for line in cutover_report::summary(&report) {
            ctx.out.data(&line);
        }
    }
    Ok(format!(
        "report of {}: {} gate run(s), {} monitor window(s)",
        report.env,
        report.gates.len(),
        report.monitors.len()
    ))
}

/// The selected environment's report, from the local state and every host's journal (and the
/// db host's snapshot records when the environment names a database).
pub fn build(ctx: &Ctx<'_>, config: &Config, since_ms: Option<i64>) -> Result<Report, CliError> {
    let env = ctx.global.env.as_str();
    let environment = config.env(env)?;
    // A host that cannot be reached or read is named in the report, which shows what the
    // others recorded: a report is most wanted when something went wrong.
    let options = ctx.ssh_options(config);
    let hosts = environment.hosts();
    let connected =
        cutover_release::bounded(hosts.len(), options.max_parallel, |i| cutover_remote::connect(&hosts[i], &options));
    let (mut targets, mut results) = (Vec::new(), Vec::new());
    for c in connected {
        match c {
            Ok(target) => targets.push(target),
            Err(e) => results.push(Err(e)),
        }
    }
    let fleet = cutover_release::Fleet {
        env_name: env.to_owned(),
        root: environment.path.clone(),
        targets,
        max_parallel: options.max_parallel,
    };
    results.extend(fleet.inspect());
    let (mut hosts, mut unreadable) = (Vec::new(), Vec::new());
    for result in results {
        match result {
            Ok(state) => hosts.push(state),
            Err(e) => {
                ctx.out.warn_line(&format!("host `{}` left out of the report: {e}", e.host()));
                unreadable.push((e.host().to_owned(), e.to_string()));
            }
        }
    }
    let snapshots = environment.database.as_ref().map(|_| {
        let target =
            cutover_remote::connect(environment.db_host(), &ctx.ssh_options(config)).map_err(|e| e.to_string())?;
        let root = cutover_remote::shell::path_expr(&environment.path);
        let host = cutover_db::host::DbHost { env, target: target.as_ref(), root: &root };
        cutover_db::host::snapshot::snapshots(&host).map_err(|e| e.to_string())
    });
    let thresholds: Vec<(String, String)> =
        config.monitor.thresholds.iter().map(|(m, e)| (m.clone(), e.clone())).collect();
    let sources = cutover_report::Sources {
        app: config.app.name.as_str(),
        env,
        config_hash: &config.hash,
        state: ctx.state()?,
        hosts: &hosts,
        unreadable,
        snapshots,
        thresholds: &thresholds,
        since_ms,
    };
    Ok(cutover_report::build(&sources)?)
}

pub fn write_html(report: &Report, path: &Path) -> Result<(), CliError> {
    let page = cutover_report::html(report)?;
    Ok(cutover_report::write_atomically(path, &page)?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
