//! `cutover deploy`: upload a release to every host of the environment and switch them all.

use clap::Args;
use cutover_config::Config;
use cutover_release::{DeployRequest, deploy};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct DeployArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &DeployArgs) -> Result<String, CliError> {
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
    let command = format!("cutover deploy --env {}", ctx.global.env);
    let cache = ctx.config_dir().join(cutover_state::DIR).join("manifests");
    let req = DeployRequest {
        app: &config.app,
        hooks: &config.hooks,
        command: &command,
        cache: Some(&cache),
        env_file: rendered.as_ref().map(|r| r.text.expose().as_bytes()),
        verify: after.as_ref().map(|a| a as &dyn cutover_release::Verify),
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
    Ok(format!("deployed {} ({sent} bytes sent)", report.release))
}
