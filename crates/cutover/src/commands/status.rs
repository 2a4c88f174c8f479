//! `cutover status`: the environment's launch path and gates, then each host's current release,
//! rollback target and lock, then the monitor. Exits 1 when a host's `current` is not a symlink
//! to a release (what it is is shown), 4 when the hosts are not all on the same release.

use std::collections::BTreeSet;

use clap::Args;
use cutover_config::Config;
use cutover_release::{ReleaseError, status};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &StatusArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let state = ctx.state()?;
    let gated = config.is_gated(env)?;
    let path = cutover_gates::path::path_state(state, env)?;
    let gates = cutover_gates::gate_statuses(state, config, env)?;
    let fleet = ctx.fleet(config)?;
    let hosts = status(&fleet)?;
    let monitor = state.latest_monitor(env)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "env": env,
            "gated": gated,
            "path": path.path,
            "path_history": path.history,
            "gates": gates,
            "hosts": hosts,
            "monitor": monitor,
        }));
    } else {
        let chosen =
            path.history.last().map_or(String::new(), |c| format!("\tsince {} by {}@{}", c.at, c.user, c.machine));
        let gating = if gated { "gated" } else { "not gated" };
        match path.path {
            Some(p) => ctx.out.data(&format!("path\t{p}\t{gating}{chosen}")),
            None => ctx.out.data(&format!("path\tnone\t{gating}\tpick one: `cutover path fast|hardened|iterative`")),
        }
        for g in &gates {
            let ago = g.age_secs.map_or(String::new(), |s| {
                format!(" {} ago", cutover_config::human::duration(std::time::Duration::from_secs(s)))
            });
            let next = match g.standing {
                cutover_gates::Standing::Passed => "for this config".to_owned(),
                cutover_gates::Standing::OtherConfig => format!("for another config: run `{}`", g.command),
                cutover_gates::Standing::Expired => {
                    format!(
                        "older than [gates] max_age ({}): run `{}`",
                        cutover_config::human::duration(config.gates.max_age.0),
                        g.command
                    )
                }
                _ => format!("run `{}`", g.command),
            };
            ctx.out.data(&format!("gate {}\t{}{ago}\t{next}", g.stage, g.standing.as_str()));
        }
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
            let interrupted = h.interrupted.as_ref().map_or(String::new(), |why| format!(" (interrupted: {why})"));
            let current = match (&h.current_problem, &h.current) {
                (Some(problem), _) => problem.clone(),
                (None, current) => format!("current {}{interrupted}", current.as_deref().unwrap_or("none")),
            };
            ctx.out.data(&format!(
                "{}\t{current}\trollback to {}\t{} release(s) on disk{rolled_back}{lock}",
                h.host,
                h.rollback_target.as_deref().unwrap_or("none"),
                h.releases_on_disk
            ));
        }
        if let Some(m) = &monitor {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            let when = if m.state == "interrupted" && m.ends_ms > now {
                format!("{}; `cutover monitor` resumes it ({} min left)", m.detail, (m.ends_ms - now) / 60_000)
            } else if m.state == "running" && now - m.updated_ms > 3 * m.interval_ms {
                format!("no round for {} min: not running? `cutover monitor` resumes it", (now - m.updated_ms) / 60_000)
            } else if m.state == "running" && m.ends_ms > now {
                format!("{} min left", (m.ends_ms - now) / 60_000)
            } else {
                format!("ended{}", if m.detail.is_empty() { String::new() } else { format!(": {}", m.detail) })
            };
            ctx.out.data(&format!("monitor\t{} of {}\t{when}", m.state, m.release));
        }
    }
    let bad_current: Vec<_> =
        hosts.iter().filter_map(|h| Some((h.host.as_str(), h.current_problem.as_deref()?))).collect();
    if !bad_current.is_empty() {
        return Err(ReleaseError::bad_current(&fleet.root, bad_current).into());
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
