//! `cutover promote --from staging [--to production]`: deploys to production exactly the
//! artifact live on staging (the same manifest hash, copied back from a staging host; no build,
//! nothing from the working tree), and only once it passed smoke on staging.

use clap::Args;
use cutover_config::Config;
use cutover_release::Fleet;

use super::deploy::{ForceArgs, Ship, ship};
use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose live release is promoted.
    #[arg(long, default_value = "staging")]
    pub from: String,
    /// The environment it goes to (the same as `--env`, which it defaults to).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub force: ForceArgs,
    /// Say what would be sent and switched, and change nothing (the artifact is still copied
    /// from staging, to a temporary directory here, to be compared).
    #[arg(long)]
    pub dry_run: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &PromoteArgs) -> Result<String, CliError> {
    let to = ctx.global.env.as_str();
    if let Some(named) = &args.to
        && named != to
    {
        return Err(CliError::Usage(format!(
            "`--to {named}` and `--env {to}` disagree: pass `--env {named}` (the environment the command acts on)"
        )));
    }
    if args.from == to {
        return Err(CliError::Usage(format!("`--from {to}` is the environment it would go to")));
    }
    let reason = args.force.reason()?;
    let environment = config.env(&args.from)?;
    let from =
        Fleet::connect(&args.from, environment.hosts(), environment.path.clone(), &ctx.ssh_options(config), ctx.out)?;
    let live = cutover_release::live(&from)?;
    let (release, manifest) = cutover_gates::promote::source(ctx.state()?, &args.from, live)?;
    ctx.out.say(&format!("==> promoting {release} of {} (manifest {}) to {to}", args.from, &manifest[..12]));
    let dir = tempfile::Builder::new()
        .prefix("cutover-promote-")
        .tempdir()
        .map_err(|source| CliError::Io { what: "cannot make a temporary directory".into(), source })?;
    cutover_release::artifact::fetch(&from, &release, &manifest, dir.path(), ctx.out)?;
    // The artifact as staging ran it: no build, and excludes were applied when it was made.
    let mut app = config.app.clone();
    app.source = dir.path().to_owned();
    app.build = None;
    let command = format!("cutover promote --from {} --env {to}", args.from);
    let summary = ship(ctx, config, &app, &command, Ship { reason, promote: true, dry_run: args.dry_run, seed: None })?;
    Ok(format!("{summary} (promoted {release} of {}, manifest {})", args.from, &manifest[..12]))
}
