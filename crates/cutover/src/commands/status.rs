//! `cutover status`: each host's current release, rollback target and lock. Exits 4 when the
//! hosts are not all on the same release.

use std::collections::BTreeSet;

use clap::Args;
use cutover_config::Config;
use cutover_release::{ReleaseError, status};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &StatusArgs) -> Result<String, CliError> {
    let fleet = ctx.fleet(config)?;
    let hosts = status(&fleet)?;
    let monitor = ctx.state()?.latest_monitor(&ctx.global.env)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "hosts": hosts, "monitor": monitor }));
    } else {
        for h in &hosts {
            let lock = match &h.lock {
                Some(l) if let Some(what) = &l.not_a_file => {
                    format!(
                        "; `.cutover/lock` is {what}, not a lock file: deploy and rollback refuse until it is removed"
                    )
                }
                Some(l) if l.stale == Some(true) => format!("; STALE lock held by {}", l.holder),
                Some(l) => format!("; locked by {}", l.holder),
                None => String::new(),
            };
            let rolled_back = h.rolled_back.as_ref().map_or(String::new(), |r| {
                format!(
                    "; {} rolled back{}",
                    r.release,
                    r.reason.as_deref().map_or(String::new(), |w| format!(" ({w})"))
                )
            });
            ctx.out.data(&format!(
                "{}\tcurrent {}\trollback to {}\t{} release(s) on disk{rolled_back}{lock}",
                h.host,
                h.current.as_deref().unwrap_or("none"),
                h.rollback_target.as_deref().unwrap_or("none"),
                h.releases_on_disk
            ));
        }
        if let Some(m) = &monitor {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            let when = if m.state == "running" && now - m.updated_ms > 3 * m.interval_ms {
                format!("no round for {} min: not running? `cutover monitor` resumes it", (now - m.updated_ms) / 60_000)
            } else if m.state == "running" && m.ends_ms > now {
                format!("{} min left", (m.ends_ms - now) / 60_000)
            } else {
                format!("ended{}", if m.detail.is_empty() { String::new() } else { format!(": {}", m.detail) })
            };
            ctx.out.data(&format!("monitor\t{} of {}\t{when}", m.state, m.release));
        }
    }
    let currents: BTreeSet<_> = hosts.iter().map(|h| h.current.as_deref()).collect();
    if currents.len() > 1 {
        let list: Vec<String> =
            hosts.iter().map(|h| format!("`{}` on {}", h.host, h.current.as_deref().unwrap_or("none"))).collect();
        return Err(
            ReleaseError::Partial { detail: format!("hosts are on different releases: {}", list.join(", ")) }.into()
        );
    }
    Ok(format!("{} host(s) on {}", hosts.len(), currents.into_iter().next().flatten().unwrap_or("nothing")))
}
