//! `cutover smoke` (stage 4): every `[[check]]` through the public URL, and on each host directly
//! where `every_host` is set, all at once; the verdict is the `smoke` gate (`cutover_gates::smoke`).

use clap::Args;
use cutover_config::Config;
use cutover_gates::SmokeRequest;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// On a failure, roll every host back to the previous good release (exit 5).
    #[arg(long)]
    pub rollback_on_fail: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &SmokeArgs) -> Result<String, CliError> {
    let plan = ctx
        .check_plan(config)?
        .ok_or_else(|| CliError::Usage("no `[[check]]` in the config: nothing to smoke-test".into()))?;
    let request = SmokeRequest {
        config,
        env: &ctx.global.env,
        plan: &plan,
        ssh: &ctx.ssh_options(config),
        state: ctx.state()?,
        rollback_on_fail: args.rollback_on_fail,
    };
    let passed = cutover_gates::smoke(&request, ctx.out)?;
    let summary = format!("smoke: all {passed} checks passed");
    ctx.out.say(&summary);
    Ok(summary)
}
