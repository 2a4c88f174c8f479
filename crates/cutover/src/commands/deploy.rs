//! `cutover deploy`: upload a release to every host of the environment and switch them all.

use clap::Args;
use cutover_config::Config;
use cutover_release::{DeployRequest, deploy};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub force: ForceArgs,
    /// Say what would be sent to each host and switched, and change nothing (the build does
    /// not run; nothing is locked or written on any host).
    #[arg(long)]
    pub dry_run: bool,
    /// Seed the environment's empty database on its first release, before the switch: `fresh`
    /// runs `[seed] installer` in the new release, `copy-staging` copies `[seed] from`'s database,
    /// `hybrid` runs the installer then copies `[seed] import_tables` (default `[seed]
    /// strategy`). Refused (exit 3) once a release was live or while the database has a table;
    /// a deploy without `--seed` never seeds.
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, value_parser = super::db::seed::parse_strategy)]
    pub seed: Option<Option<cutover_config::SeedStrategy>>,
}

/// `--force --reason TEXT`, shared by the commands that deploy.
#[derive(Debug, Args)]
pub struct ForceArgs {
    /// Go ahead although the environment's gates have not passed (needs `--reason`): said
    /// loudly, kept in the audit log and in every host's journal.
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the gates are overridden.
    #[arg(long, requires = "force")]
    pub reason: Option<String>,
}

impl ForceArgs {
    /// The reason, when forced; a blank reason is none.
    pub fn reason(&self) -> Result<Option<&str>, CliError> {
        let reason = self.reason.as_deref().map(str::trim);
        if self.force && reason.is_none_or(str::is_empty) {
            return Err(CliError::Usage("`--force` needs `--reason TEXT`: why the gates are overridden".into()));
        }
        Ok(reason.filter(|_| self.force))
    }
}

/// The question a deploy to a gated environment asks on a terminal.
#[derive(Debug)]
struct Ask<'a> {
    out: &'a crate::output::Output,
}

impl cutover_release::Confirm for Ask<'_> {
    fn confirm(&self, p: &cutover_release::Preview) -> bool {
        let send: u64 = p.hosts.iter().map(|h| h.send_bytes).sum();
        let question = format!(
            "Deploy {} ({} host(s), {} to send) to {}?",
            p.release,
            p.hosts.len(),
            cutover_config::human::bytes(send),
            p.env
        );
        self.out.ask(&question).unwrap_or(true)
    }
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &DeployArgs) -> Result<String, CliError> {
    let reason = args.force.reason()?;
    let command = format!("cutover deploy --env {}", ctx.global.env);
    let seed = args.seed.map(|s| s.unwrap_or(config.seed.strategy));
    ship(ctx, config, &config.app, &command, Ship { reason, promote: false, dry_run: args.dry_run, seed })
}

/// How [`ship`] goes about it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ship<'a> {
    /// `--force --reason`: go past missing gates, loudly.
    pub reason: Option<&'a str>,
    /// A promotion: what the iterative path takes after go-live.
    pub promote: bool,
    pub dry_run: bool,
    /// `--seed`: the first release fills the empty database before the switch.
    pub seed: Option<cutover_config::SeedStrategy>,
}

/// Deploys `app` to the selected environment: the `.env` rendered first, the gates, the
/// confirmation, the engine's deploy with the after-deploy checks, and the report. `deploy`
/// ships the working tree, `promote` an artifact taken from staging.
pub(super) fn ship(
    ctx: &Ctx<'_>,
    config: &Config,
    app: &cutover_config::App,
    command: &str,
    how: Ship<'_>,
) -> Result<String, CliError> {
    let Ship { reason, promote, dry_run, seed } = how;
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
    if dry_run {
        if let Some(strategy) = seed {
            let plan = super::db::seed::check(ctx, config, strategy, &fleet.read_states()?, None)?;
            ctx.out.say(&format!("would seed {}'s empty database (--seed {})", plan.env, strategy.as_str()));
        }
        return self::dry_run(ctx, config, app, &fleet, rendered.as_ref().map(|r| r.text.expose().as_bytes()), promote);
    }
    let forced = gates(ctx, config, &fleet, reason, promote)?;
    // The database (migrate, and its snapshot) is opened before anything changes on a host.
    let mut db = super::db::release::DbRelease::for_deploy(ctx, config)?;
    // A seed that cannot go ahead is refused before anything is sent. It is the first of the
    // database's steps before the switch (a seed needs a database, so there is a `DbRelease`).
    if let Some(strategy) = seed {
        let opened = db.as_ref().and_then(|d| d.db.as_ref());
        let plan = super::db::seed::check(ctx, config, strategy, &fleet.read_states()?, opened)?;
        if let Some(d) = &mut db {
            d.seed = Some(super::db::seed::Seeder::new(ctx.global, ctx.out, config, plan));
        }
    }
    let ask = Ask { out: ctx.out };
    let confirm =
        (config.is_gated(&ctx.global.env)? && !ctx.global.yes).then_some(&ask as &dyn cutover_release::Confirm);
    let cache = ctx.config_dir().join(cutover_state::DIR).join("manifests");
    let req = DeployRequest {
        app,
        hooks: &config.hooks,
        command,
        cache: Some(&cache),
        env_file: rendered.as_ref().map(|r| r.text.expose().as_bytes()),
        verify: after.as_ref().map(|a| a as &dyn cutover_release::Verify),
        forced: forced.as_deref(),
        confirm,
        before_switch: db.as_ref().map(|d| d as &dyn cutover_release::BeforeSwitch),
    };
    let report = match deploy(&fleet, &req, ctx.out) {
        Ok(report) => report,
        Err(e) => {
            return Err(match db.as_ref().and_then(|d| d.seed.as_ref()) {
                Some(s) => s.deploy_error(e),
                None => e.into(),
            });
        }
    };
    let seeded = db.as_ref().and_then(|d| d.seed.as_ref()).and_then(super::db::seed::Seeder::summary);
    if let Some(db) = &db {
        db.prune(&fleet);
    }
    let sent: u64 = report.hosts.iter().map(|h| h.sent_bytes).sum();
    if ctx.out.json {
        ctx.out.json(&Shipped { report: &report, seed: seeded.as_ref() });
    } else {
        if let Some(seeded) = &seeded {
            ctx.out.say(&seeded.line());
        }
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
    // The audit entry keeps what the seed did: the launch report's database section reads it.
    let seeded =
        seeded.as_ref().map(|s| format!("; seeded ({}): {}", s.strategy.as_str(), s.line())).unwrap_or_default();
    Ok(format!("deployed {} ({sent} bytes sent){seeded}{forced}", report.release))
}

/// The `--json` report: the engine's, and what the seed did.
#[derive(serde::Serialize)]
struct Shipped<'a> {
    #[serde(flatten)]
    report: &'a cutover_release::DeployReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<&'a super::db::seed::SeedSummary>,
}

/// `--dry-run`: what would be sent and switched; the gates' verdict is said, not enforced.
fn dry_run(
    ctx: &Ctx<'_>,
    config: &Config,
    app: &cutover_config::App,
    fleet: &cutover_release::Fleet,
    env_file: Option<&[u8]>,
    promote: bool,
) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let command = format!("cutover deploy --dry-run --env {env}");
    let req = DeployRequest {
        app,
        hooks: &config.hooks,
        command: &command,
        cache: Some(&ctx.config_dir().join(cutover_state::DIR).join("manifests")),
        env_file,
        verify: None,
        forced: None,
        confirm: None,
        before_switch: None,
    };
    let preview = cutover_release::preview(fleet, &req, ctx.out)?;
    let gated = if config.is_gated(env)? {
        // The preview read every host already: what is live there is in it.
        let live = preview.hosts.iter().any(|h| h.current.is_some());
        match cutover_gates::check_deploy(ctx.state()?, config, env, live, promote) {
            Ok(()) => Some(Vec::new()),
            Err(cutover_gates::GateError::Gated { missing, .. }) => Some(missing),
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "dry_run": true, "preview": preview, "gates_missing": gated }));
    } else {
        let rows: Vec<Vec<String>> = preview
            .hosts
            .iter()
            .map(|h| {
                vec![
                    h.host.clone(),
                    format!("{} -> {}", h.current.as_deref().unwrap_or("nothing"), preview.release),
                    format!("{} file(s), {}", h.send_files, cutover_config::human::bytes(h.send_bytes)),
                    format!("{} from {}", h.linked_files, h.base.as_deref().unwrap_or("nothing")),
                ]
            })
            .collect();
        ctx.out.table(&["HOST", "SWITCH", "SEND", "LINK"], &rows);
        for m in gated.iter().flatten() {
            ctx.out.warn_line(&format!("the gates would refuse it: {m}"));
        }
    }
    let summary = format!(
        "dry run: {} ({} files, {}) to {} host(s) of {env}; nothing changed",
        preview.release,
        preview.files,
        cutover_config::human::bytes(preview.bytes),
        preview.hosts.len()
    );
    ctx.out.say(&summary);
    Ok(summary)
}

/// The gates of a gated environment (DESIGN, "Stages and paths"), checked before anything is
/// sent. With `--force --reason`, missing gates are said loudly and the deploy goes on;
/// returns what the journals and the audit log keep of that.
fn gates(
    ctx: &Ctx<'_>,
    config: &Config,
    fleet: &cutover_release::Fleet,
    reason: Option<&str>,
    promote: bool,
) -> Result<Option<String>, CliError> {
    let env = ctx.global.env.as_str();
    if !config.is_gated(env)? {
        return Ok(None);
    }
    // After go-live (something is live on a host), the path's rules for redeploys apply too.
    let live = fleet.read_states()?.iter().any(|s| s.current.is_some());
    match (cutover_gates::check_deploy(ctx.state()?, config, env, live, promote), reason) {
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
