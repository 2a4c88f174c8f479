//! `cutover rollback [--to ID] [--with-db]`: every host back to the previous good release, and
//! with `--with-db` the database back to the snapshot taken before the release left.

use clap::Args;
use cutover_config::Config;
use cutover_release::{Mark, RollbackRequest, rollback};

use super::db::EnvDatabase;
use super::db::release::DbRollback;
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
    /// Put the database back too, to the snapshot taken before the release this rollback leaves
    /// (before its migrate): what changed since is said first, and lost.
    #[arg(long)]
    pub with_db: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &RollbackArgs) -> Result<String, CliError> {
    let to = args.to.as_deref();
    if args.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(CliError::Usage("`--reason` must say why".into()));
    }
    let fleet = ctx.fleet(config)?;
    let env = &ctx.global.env;
    let with_db = if args.with_db { Some(with_db(ctx, config, &fleet, to)?) } else { None };
    let asked = with_db.is_some();
    if !asked && config.is_gated(env)? && !ctx.global.yes && ctx.out.can_ask() && !confirmed(ctx, &fleet, to) {
        return Err(CliError::Check(format!("not confirmed: {env} was not rolled back; nothing changed")));
    }
    let restore = with_db.as_ref().map(|(db, from)| DbRollback { db, from, out: ctx.out });
    let command = format!("cutover rollback --env {env}{}", if args.with_db { " --with-db" } else { "" });
    let mark = Mark::ByHand(args.reason.as_deref());
    let request = RollbackRequest {
        to,
        hooks: &config.hooks,
        command: &command,
        only_from: None,
        mark,
        before_switch: restore.as_ref().map(|r| r as &dyn cutover_release::BeforeSwitch),
    };
    let report = rollback(&fleet, &request, ctx.out)?;
    let restored = with_db.as_ref().map(|(_, from)| format!(", its database restored from snapshot {from}"));
    let summary = format!(
        "rolled back {} from {} to {}{}",
        report.env,
        report.from.as_deref().unwrap_or("nothing"),
        report.to,
        restored.unwrap_or_default()
    );
    if ctx.out.json {
        let mut json = serde_json::to_value(&report).expect("the report serializes");
        if let Some((_, from)) = &with_db {
            json["database_restored_from"] = serde_json::Value::from(from.as_str());
        }
        ctx.out.json(&json);
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

/// `--with-db`, before anything changes: the release left (every host on it), the snapshot
/// taken before it checked whole, what restoring it loses said, and the question asked on a
/// terminal (`-y` skips it; elsewhere the rollback goes on, as without `--with-db`).
fn with_db(
    ctx: &Ctx<'_>,
    config: &Config,
    fleet: &cutover_release::Fleet,
    to: Option<&str>,
) -> Result<(EnvDatabase, String), CliError> {
    let env = &ctx.global.env;
    let hosts = cutover_release::status(fleet)?;
    let from = match hosts.first().and_then(|h| h.current.clone()) {
        Some(from) if hosts.iter().all(|h| h.current.as_deref() == Some(&from)) => from,
        _ => {
            return Err(CliError::Check(format!(
                "--with-db: {env}'s hosts are not all on one release, so which snapshot to restore is not clear; \
                 nothing changed (`cutover status` shows them)"
            )));
        }
    };
    let Some(target) = to.or_else(|| hosts.first().and_then(|h| h.rollback_target.as_deref())) else {
        return Err(CliError::Check(format!(
            "--with-db: {env} has no earlier good release to roll back to from {from}; nothing changed"
        )));
    };
    let db = super::db::open(ctx, config, env)?;
    if let Err(e) = cutover_db::host::snapshot::check(&db.db, &db.host(), &from) {
        return Err(CliError::Check(format!(
            "--with-db: no usable snapshot of {env}'s database from before {from}: {e}; nothing changed \
             (`cutover rollback` without --with-db rolls back the code alone)"
        )));
    }
    super::db::restore::losses(ctx, &db, &from)?;
    if !ctx.global.yes {
        let question = format!(
            "Restore {env}'s database to snapshot {from}, losing the changes above, and roll back from {from} to {target}?"
        );
        if ctx.out.ask(&question) == Some(false) {
            return Err(CliError::Check(format!("not confirmed: {env} was not rolled back; nothing changed")));
        }
    }
    Ok((db, from))
}
