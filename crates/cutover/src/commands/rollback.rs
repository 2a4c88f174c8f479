//! `cutover rollback [--to ID]`: every host back to the previous good release.

use clap::Args;
use cutover_config::Config;
use cutover_release::{Mark, RollbackRequest, rollback};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The release to go to instead of the previous good one.
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,
    /// Why: kept in each host's journal with the release this rollback leaves (`rolled back`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &RollbackArgs) -> Result<String, CliError> {
    let to = args.to.as_deref();
    if args.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(CliError::Usage("`--reason` must say why".into()));
    }
    let fleet = ctx.fleet(config)?;
    let command = format!("cutover rollback --env {}", ctx.global.env);
    let mark = Mark::ByHand(args.reason.as_deref());
    let request = RollbackRequest { to, hooks: &config.hooks, command: &command, only_from: None, mark };
    let report = rollback(&fleet, &request, ctx.out)?;
    let summary =
        format!("rolled back {} from {} to {}", report.env, report.from.as_deref().unwrap_or("nothing"), report.to);
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        ctx.out.say(&format!("{summary} on {} host(s)", report.hosts.len()));
    }
    Ok(summary)
}
