//! `cutover deploy`: upload a release to every host of the environment and switch them all.

use clap::Args;
use cutover_config::Config;
use cutover_release::{DeployRequest, deploy};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Deploy to a gated environment although its gates have not passed (needs `--reason`);
    /// said loudly, kept in the audit log and in every host's journal.
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the gates are overridden.
    #[arg(long, requires = "force")]
    pub reason: Option<String>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &DeployArgs) -> Result<String, CliError> {
    let reason = args.reason.as_deref().map(str::trim);
    if args.force && reason.is_none_or(str::is_empty) {
        return Err(CliError::Usage("`--force` needs `--reason TEXT`: why the gates are overridden".into()));
    }
    // The `.env` is rendered before any host is touched: a secret that cannot be had stops the
    // deploy with nothing changed.
    let rendered = if config.env(&ctx.global.env)?.env_template.is_some() {
        ctx.out.say("==> rendering the .env from its template");
        let provider = super::secrets::provider(ctx, config)?;
        super::secrets::render(config, &ctx.global.env, &provider)?
    } else {
        None
    };
    // The smoke checks run once every host is live; a failure rolls the deploy back (exit 5).
    let plan = if config.smoke.after_deploy { ctx.check_plan(config)? } else { None };
    let after = plan.as_ref().map(|plan| cutover_gates::AfterDeploy::new(plan, ctx.out));
    let fleet = ctx.fleet(config)?;
    let forced = gates(ctx, config, &fleet, reason)?;
    let command = format!("cutover deploy --env {}", ctx.global.env);
    let cache = ctx.config_dir().join(cutover_state::DIR).join("manifests");
    let req = DeployRequest {
        app: &config.app,
        hooks: &config.hooks,
        command: &command,
        cache: Some(&cache),
        env_file: rendered.as_ref().map(|r| r.text.expose().as_bytes()),
        verify: after.as_ref().map(|a| a as &dyn cutover_release::Verify),
        forced: forced.as_deref(),
    };
    let report = deploy(&fleet, &req, ctx.out)?;
    let sent: u64 = report.hosts.iter().map(|h| h.sent_bytes).sum();
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        for host in &report.hosts {
            ctx.out.say(&format!(
                "  [{}] {} file(s) sent ({} bytes), {} linked from {}{}",
                host.host,
                host.sent_files,
                host.sent_bytes,
                host.linked_files,
                host.base.as_deref().unwrap_or("nothing"),
                if host.removed.is_empty() { String::new() } else { format!(", removed {}", host.removed.join(" ")) }
            ));
        }
        ctx.out.say(&format!(
            "deployed {} to {} ({} host(s)); roll back with `cutover rollback --env {}`",
            report.release,
            report.env,
            report.hosts.len(),
            report.env
        ));
    }
    if let Some(why) = &report.unverified {
        return Err(CliError::Unverified(format!(
            "{} is live on {}, but its checks could not reach anything from this machine (is its network \
             down?), so it was neither verified nor rolled back: {why}; run `cutover smoke` once the network is back",
            report.release, report.env
        )));
    }
    let forced = forced.map(|f| format!("; {f}")).unwrap_or_default();
    Ok(format!("deployed {} ({sent} bytes sent){forced}", report.release))
}

/// The gates of a gated environment (DESIGN, "Stages and paths"), checked before anything is
/// sent. With `--force --reason`, missing gates are said loudly and the deploy goes on;
/// returns what the journals and the audit log keep of that.
fn gates(
    ctx: &Ctx<'_>,
    config: &Config,
    fleet: &cutover_release::Fleet,
    reason: Option<&str>,
) -> Result<Option<String>, CliError> {
    let env = ctx.global.env.as_str();
    if !config.is_gated(env)? {
        return Ok(None);
    }
    let live =
        cutover_release::live(fleet)?.is_some() || cutover_release::status(fleet)?.iter().any(|h| h.current.is_some());
    match (cutover_gates::check_deploy(ctx.state()?, config, env, live, false), reason) {
        (Ok(()), _) => Ok(None),
        (Err(cutover_gates::GateError::Gated { missing, .. }), Some(reason)) => {
            let who = cutover_remote::Identity::current();
            for m in &missing {
                ctx.out.warn_line(&format!("GATE FORCED ({env}): {m}"));
            }
            ctx.out.warn_line(&format!(
                "deploying to {env} past {} missing gate(s) by {}@{}: {reason}",
                missing.len(),
                who.user,
                who.machine
            ));
            Ok(Some(format!(
                "gates forced by {}@{}: {reason} (missing: {})",
                who.user,
                who.machine,
                missing.join("; ")
            )))
        }
        (Err(e), _) => Err(e.into()),
    }
}
