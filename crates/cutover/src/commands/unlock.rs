//! `cutover unlock --reason TEXT`: break the deploy lock on every host, journaling why.

use clap::Args;
use cutover_config::Config;
use cutover_release::unlock;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[arg(long)]
    pub reason: String,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &UnlockArgs) -> Result<String, CliError> {
    let reason = args.reason.as_str();
    if reason.trim().is_empty() {
        return Err(CliError::Check("`--reason` must say why the lock is broken".into()));
    }
    let fleet = ctx.fleet(config)?;
    let report = unlock(&fleet, reason)?;
    if ctx.out.json {
        ctx.out.json(&report);
    } else if report.broken.is_empty() {
        ctx.out.say("no host had a deploy lock");
    } else {
        for (host, holder) in &report.broken {
            ctx.out.say(&format!("[{host}] broke the lock held by {holder}"));
        }
    }
    Ok(format!("unlocked {} host(s): {reason}", report.broken.len()))
}
