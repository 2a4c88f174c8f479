//! `cutover path [fast|hardened|iterative] [--reason TEXT]`: show or pick the environment's
//! launch path; a change needs a reason, and every choice is kept with who, when and why.

use clap::Args;
use cutover_config::Config;
use cutover_gates::{LaunchPath, PathChange, PathState, path};
use cutover_remote::Identity;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct PathArgs {
    /// The path to take: fast, hardened or iterative. Without it, shows the current one.
    pub path: Option<LaunchPath>,
    /// Why the path changes (needed once a path is chosen).
    #[arg(long)]
    pub reason: Option<String>,
}

pub fn exec(ctx: &Ctx<'_>, _config: &Config, args: &PathArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let state = ctx.state()?;
    let Some(wanted) = args.path else {
        let now = path::path_state(state, env)?;
        show(ctx, &now, None);
        return Ok(now.path.map_or_else(|| "no launch path chosen".into(), |p| format!("launch path {p}")));
    };
    let (change, now) = path::choose(state, env, wanted, args.reason.as_deref(), &Identity::current())?;
    show(ctx, &now, Some(change));
    Ok(match change {
        PathChange::Chosen => format!("chose launch path {wanted}"),
        PathChange::Unchanged => format!("launch path already {wanted}"),
        PathChange::Changed => format!("changed launch path to {wanted}"),
    })
}

fn show(ctx: &Ctx<'_>, now: &PathState, change: Option<PathChange>) {
    if ctx.out.json {
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            state: &'a PathState,
            #[serde(skip_serializing_if = "Option::is_none")]
            change: Option<PathChange>,
        }
        ctx.out.json(&Shown { state: now, change });
        return;
    }
    let Some(current) = now.path else {
        ctx.out.say_always(&format!(
            "{} has no launch path yet: pick one with `cutover path fast|hardened|iterative`",
            now.env
        ));
        for p in LaunchPath::ALL {
            ctx.out.say_always(&format!("  {:<9}  {}", p.as_str(), p.summary()));
        }
        return;
    };
    let verb = match change {
        Some(PathChange::Chosen) => "is now",
        Some(PathChange::Changed) => "changed to",
        Some(PathChange::Unchanged) | None => "is",
    };
    ctx.out.say_always(&format!("{}'s launch path {verb} `{current}`: {}", now.env, current.summary()));
    for (i, c) in now.history.iter().enumerate() {
        let what = if i == 0 { "chosen" } else { "changed to" };
        let why = c.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        ctx.out.say_always(&format!("  {} {what} {} by {}@{}{why}", c.at, c.path, c.user, c.machine));
    }
}
