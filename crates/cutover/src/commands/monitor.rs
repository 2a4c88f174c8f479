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
    let request = MonitorRequest {
        config,
        env,
        plan,
        schedule,
        on_fail: args.on_fail.unwrap_or(config.monitor.on_fail),
        ssh: &ctx.ssh_options(config),
        state: ctx.state()?,
        secret: &secret,
    };
    let passed = cutover_gates::monitor(request, ctx.out)?;
    ctx.out.say(&format!("monitor: {} passed its window ({}): steady state", passed.release, passed.detail));
    Ok(format!("monitor passed: {}", passed.detail))
}
