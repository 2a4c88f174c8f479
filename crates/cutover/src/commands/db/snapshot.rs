//! `cutover db snapshot [--id NAME]`: the environment's database dumped and compressed on its
//! db host, kept there until removed by hand (cutover_db::host::snapshot).

use clap::Args;
use cutover_config::Config;
use cutover_db::host::snapshot::{SnapshotInfo, snapshot};

use crate::CliError;
use crate::context::Ctx;
use crate::output::Output;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot's id (default: the release live now and the time, `RELEASE-at-TIME`, or
    /// `manual-TIME` when nothing is live).
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &SnapshotArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    if let Some(id) = &args.id {
        cutover_db::host::snapshot::valid_id(id).map_err(CliError::Usage)?;
    }
    // The release live now names a snapshot taken by hand; hosts that cannot say leave it out.
    let live = ctx.fleet(config).ok().and_then(|fleet| cutover_release::live(&fleet).ok().flatten());
    let release = live.map(|l| l.release);
    let time = cutover_db::host::snapshot::stamp();
    let id = args.id.clone().unwrap_or_else(|| match &release {
        Some(release) => format!("{release}-at-{time}"),
        None => format!("manual-{time}"),
    });
    let db = super::open(ctx, config, env)?;
    ctx.out.say(&format!("==> snapshotting {env}'s {} on `{}` as {id}", db.db.describe(), db.target.name()));
    let info = snapshot(&db.db, &db.host(), &id, release.as_deref(), true)?;
    if ctx.out.json {
        ctx.out.json(&info);
    } else {
        ctx.out.say(&format!(
            "  {} table(s), {} compressed, in {}/.cutover/snapshots/{id}.sql.zst on `{}`",
            info.tables.len(),
            cutover_config::human::bytes(info.size),
            config.env(env)?.path,
            info.host
        ));
        warn_unsettled(ctx.out, &info);
    }
    Ok(format!("snapshot {id} of {env}'s database ({})", cutover_config::human::bytes(info.size)))
}

/// Says which tables were written to while a snapshot was taken (a restore cannot check them).
pub fn warn_unsettled(out: &Output, info: &SnapshotInfo) {
    if !info.unsettled.is_empty() {
        out.warn_line(&format!(
            "table(s) {} changed while the snapshot was taken: it holds them as they were at one moment during it",
            info.unsettled.join(", ")
        ));
    }
}
