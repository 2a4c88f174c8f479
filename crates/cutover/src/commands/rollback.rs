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
    if config.is_gated(&ctx.global.env)? && !ctx.global.yes && ctx.out.can_ask() && !confirmed(ctx, &fleet, to) {
        return Err(CliError::Check(format!("not confirmed: {} was not rolled back; nothing changed", ctx.global.env)));
    }
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

/// Asks on the terminal before rolling back a gated environment, naming where it goes when the
/// hosts can tell (a host that cannot be read never keeps the question from being asked).
fn confirmed(ctx: &Ctx<'_>, fleet: &cutover_release::Fleet, to: Option<&str>) -> bool {
    let env = &ctx.global.env;
    let question = match cutover_release::status(fleet) {
        Ok(hosts) => {
            let from = hosts.first().and_then(|h| h.current.as_deref()).unwrap_or("nothing");
            let target = to.or_else(|| hosts.first().and_then(|h| h.rollback_target.as_deref())).unwrap_or("?");
            format!("Roll back {env} from {from} to {target} ({} host(s))?", hosts.len())
        }
        Err(_) => format!("Roll back {env} ({} host(s))?", fleet.targets.len()),
    };
    ctx.out.ask(&question).unwrap_or(true)
}
