//! `cutover monitor` (stage 5): watch the live release for the window and, on a breach, roll back
//! once or only alert (`cutover_gates::monitor`). The arguments override `[monitor]`.

use clap::Args;
use cutover_config::{Config, HumanDuration, OnFail};
use cutover_gates::{MonitorRequest, Schedule};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// How long to watch (default `[monitor] window`, 48h).
    #[arg(long, value_parser = duration)]
    pub window: Option<HumanDuration>,
    /// Time between rounds of checks (default `[monitor] interval`, 60s).
    #[arg(long, value_parser = duration)]
    pub interval: Option<HumanDuration>,
    /// On a breach: roll back once, or only alert (default `[monitor] on_fail`).
    #[arg(long, value_parser = on_fail)]
    pub on_fail: Option<OnFail>,
}

fn duration(text: &str) -> Result<HumanDuration, String> {
    HumanDuration::parse(text)
}

fn on_fail(text: &str) -> Result<OnFail, String> {
    match text {
        "rollback" => Ok(OnFail::Rollback),
        "alert" => Ok(OnFail::Alert),
        _ => Err(format!("`{text}`: use rollback or alert")),
    }
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &MonitorArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let schedule = Schedule::new(
        args.window.map_or(config.monitor.window.0, |d| d.0),
        args.interval.map_or(config.monitor.interval.0, |d| d.0),
    )?;
    let plan = ctx
        .check_plan(config)?
        .ok_or_else(|| CliError::Usage("no `[[check]]` in the config: nothing to monitor".into()))?;
    let secret = |name: &str| super::secrets::provider(ctx, config)?.get(env, name);
    let report = |release: &str| attach_report(ctx, config, release).map_err(|e| e.to_string());
    let request = MonitorRequest {
        config,
        env,
        plan,
        schedule,
        on_fail: args.on_fail.unwrap_or(config.monitor.on_fail),
        ssh: &ctx.ssh_options(config),
        state: ctx.state()?,
        secret: &secret,
        report: if config.report.notify { Some(&report) } else { None },
    };
    let passed = cutover_gates::monitor(request, ctx.out)?;
    ctx.out.say(&format!("monitor: {} passed its window ({}): steady state", passed.release, passed.detail));
    Ok(format!("monitor passed: {}", passed.detail))
}

/// `[report] notify`: the environment's report, written to `[report] dir` as
/// `report-ENV-RELEASE.html` and attached to the "window passed" notification, linked through
/// `[report] url` when set (else by its path on this machine).
fn attach_report(ctx: &Ctx<'_>, config: &Config, release: &str) -> Result<cutover_notify::Attachment, CliError> {
    let report = super::report::build(ctx, config, None)?;
    let page = cutover_report::html(&report)?;
    let name = format!("report-{}-{release}.html", report.env);
    let path = config.report.dir.join(&name);
    cutover_report::write_atomically(&path, &page)?;
    ctx.out.say(&format!("wrote the {} report to {}", report.env, path.display()));
    let link = match &config.report.url {
        Some(url) => url.join(&name),
        None => path.display().to_string(),
    };
    Ok(cutover_notify::Attachment {
        name,
        content_type: "text/html; charset=utf-8".into(),
        bytes: page.into_bytes(),
        link,
    })
}
