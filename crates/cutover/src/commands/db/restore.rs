//! `cutover db restore ID`: the environment's database put back to a snapshot, after saying
//! what that undoes (cutover_db::host::snapshot::restore).

use clap::Args;
use cutover_config::Config;
use cutover_db::host::snapshot::{SnapshotInfo, TableChange, changes, describe_change, restore};

use super::EnvDatabase;
use crate::CliError;
use crate::context::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot (`cutover db snapshots` lists them).
    pub id: String,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &RestoreArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    cutover_db::host::snapshot::valid_id(&args.id).map_err(CliError::Usage)?;
    let db = super::open(ctx, config, env)?;
    // A missing or corrupt snapshot is said before anything else.
    cutover_db::host::snapshot::check(&db.db, &db.host(), &args.id)?;
    let (info, lost) = losses(ctx, &db, &args.id)?;
    if config.is_gated(env)? && !ctx.global.yes {
        let question = format!("Replace {env}'s database with snapshot {} ({})?", info.id, info.time);
        if ctx.out.ask(&question) == Some(false) {
            return Err(CliError::Check(format!("not confirmed: {env}'s database was not touched")));
        }
    }
    let info = run(ctx.out, &db, &info.id)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "restored": info, "lost": lost }));
    }
    Ok(format!("restored {env}'s database from snapshot {} ({} table(s) changed since)", info.id, lost.len()))
}

/// Says what restoring snapshot `id` would undo (the tables changed since it, with their row
/// counts then and now), before anything is changed.
pub fn losses(ctx: &Ctx<'_>, db: &EnvDatabase, id: &str) -> Result<(SnapshotInfo, Vec<TableChange>), CliError> {
    let (info, lost) = changes(&db.db, &db.host(), id)?;
    if lost.is_empty() {
        ctx.out.say(&format!(
            "==> {}'s database is as snapshot {} ({}) holds it: nothing will be lost",
            db.env, id, info.time
        ));
    } else {
        ctx.out.say(&format!(
            "==> restoring snapshot {id} ({}) undoes what changed since in {} table(s) of {}'s database; lost:",
            info.time,
            lost.len(),
            db.env
        ));
        for change in &lost {
            ctx.out.say(&format!("    {}", describe_change(change)));
        }
    }
    Ok((info, lost))
}

/// Restores snapshot `id` into the environment's database, saying so.
pub fn run(out: &Output, db: &EnvDatabase, id: &str) -> Result<SnapshotInfo, CliError> {
    out.say(&format!("==> restoring {}'s {} on `{}` from snapshot {id}", db.env, db.db.describe(), db.target.name()));
    let info = restore(&db.db, &db.host(), id)?;
    super::snapshot::warn_unsettled(out, &info);
    out.say(&format!("  {} table(s) restored, their checksums as in the snapshot", info.tables.len()));
    Ok(info)
}
