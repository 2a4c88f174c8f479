//! `cutover releases`: every release any host knows, with its state on each host.

use clap::Args;
use cutover_config::Config;
use cutover_release::releases;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct ReleasesArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &ReleasesArgs) -> Result<String, CliError> {
    let fleet = ctx.fleet(config)?;
    let rows = releases(&fleet)?;
    if ctx.out.json {
        ctx.out.json(&rows);
    } else {
        for row in &rows {
            let states: Vec<String> = row.hosts.iter().map(|(h, s)| format!("{h}={s}")).collect();
            let why = row.failure.as_deref().or(row.rolled_back.as_deref());
            let failure = why.map_or(String::new(), |f| format!("\t({f})"));
            let manifest = row.manifest.as_deref().map_or("-", |m| &m[..12.min(m.len())]);
            ctx.out.data(&format!("{}\t{manifest}\t{}{failure}", row.id, states.join(" ")));
        }
    }
    Ok(format!("{} release(s)", rows.len()))
}
