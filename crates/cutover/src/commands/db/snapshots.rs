//! `cutover db snapshots`: the snapshots kept on the environment's db host.

use clap::Args;
use cutover_config::Config;
use cutover_db::host::snapshot::snapshots;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct SnapshotsArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &SnapshotsArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let db = super::open(ctx, config, env)?;
    let list = snapshots(&db.host())?;
    if ctx.out.json {
        ctx.out.json(&list);
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                let release = s.release.clone().unwrap_or_else(|| "-".into());
                vec![
                    s.id.clone(),
                    if s.manual { format!("{release} (by hand)") } else { release },
                    s.time.clone(),
                    cutover_config::human::bytes(s.size),
                    s.tables.len().to_string(),
                ]
            })
            .collect();
        ctx.out.table(&["ID", "RELEASE", "TIME", "SIZE", "TABLES"], &rows);
    }
    Ok(format!("{} snapshot(s) of {env}'s database on `{}`", list.len(), db.target.name()))
}
