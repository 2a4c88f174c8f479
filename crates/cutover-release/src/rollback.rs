//! A rollback: every host back to the previous good release (or `--to ID`) in one switch per
//! host over the open connection. The release it leaves is marked failed.

use cutover_config::Hooks;
use cutover_remote::journal::{Cause, Event, Kind};
use cutover_remote::lock::LockInfo;
use cutover_remote::{HostState, Stdin};

use crate::deploy::run_hooks;
use crate::error::hosts_of;
use crate::fleet::split;
use crate::{Fleet, History, ReleaseError, Reporter, RollbackReport, scripts};

#[derive(Debug, Clone, Copy)]
pub struct RollbackRequest<'a> {
    pub to: Option<&'a str>,
    pub hooks: &'a Hooks,
    pub command: &'a str,
}

pub fn rollback(
    fleet: &Fleet,
    req: &RollbackRequest<'_>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, ReleaseError> {
    let lock = LockInfo::new(req.command);
    let states = fleet.lock(&lock)?;
    let result = run(fleet, req, &states, &lock, reporter);
    // On success the lock went with the switch (or the hooks); after a failure, give it back here.
    if result.is_err() || !req.hooks.after_rollback.is_empty() {
        fleet.release(&lock);
    }
    result
}

fn run(
    fleet: &Fleet,
    req: &RollbackRequest<'_>,
    states: &[HostState],
    lock: &LockInfo,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, ReleaseError> {
    let who = &lock.holder;
    let to = target(states, req.to)?;
    let from: Vec<Option<&str>> = states.iter().map(|s| s.current.as_deref()).collect();
    reporter.step(None, &format!("rolling back {} host(s) to {to}", states.len()));
    let reason = format!("rolled back by {}@{}", who.user, who.machine);
    let results = fleet.each(|i, t| {
        let mut before: Vec<Event> =
            from[i].map(|f| Event::new(Kind::Failed, Some(f), who).reason(&reason)).into_iter().collect();
        before.push(Event::new(Kind::Switch, Some(&to), who).from(from[i]).cause(Cause::Rollback));
        let after = Event::new(Kind::Switched, Some(&to), who).from(from[i]).cause(Cause::Rollback);
        let mut script = scripts::switch(&fleet.root, Some(&to), &before, &after);
        if req.hooks.after_rollback.is_empty() {
            // One round trip per host: the lock is given back in the same session.
            script += &lock.release_script();
        }
        t.run("switching `current`", &script, Stdin::Null)?;
        run_hooks(fleet, t, "after_rollback", &req.hooks.after_rollback, &to, from[i], reporter)
    });
    let (_, errors) = split(results);
    if !errors.is_empty() {
        return Err(ReleaseError::Partial {
            detail: format!(
                "rollback to {to} did not finish on {}:\n{}",
                hosts_of(&errors),
                errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
            ),
        });
    }
    Ok(RollbackReport {
        env: fleet.env_name.clone(),
        from: from.first().copied().flatten().map(str::to_owned),
        to,
        hosts: states.iter().map(|s| s.host.clone()).collect(),
    })
}

/// The one release every host goes to; refuses when a host has none or the hosts disagree.
fn target(states: &[HostState], to: Option<&str>) -> Result<String, ReleaseError> {
    let mut chosen: Vec<(String, &str)> = Vec::new();
    for state in states {
        let history = History::from_events(&state.journal);
        let current = state.current.as_deref();
        let host = &state.host;
        let target = match to {
            Some(to) if history.usable(to, &state.on_disk) => to.to_owned(),
            Some(to) => {
                let why = if history.is_failed(to) {
                    "it failed before, and a failed release is never a rollback target"
                } else if !state.on_disk.iter().any(|d| d == to) {
                    "it is not on the host"
                } else {
                    "it never finished preparing"
                };
                return Err(ReleaseError::Refused { detail: format!("cannot roll back to `{to}` on `{host}`: {why}") });
            }
            None => {
                history.rollback_target(current, &state.on_disk).ok_or_else(|| ReleaseError::NothingToRollBack {
                    host: host.clone(),
                    detail: match current {
                        Some(c) => format!("`current` is {c} and no earlier good release is on the host"),
                        None => "nothing is deployed".to_owned(),
                    },
                })?
            }
        };
        if current == Some(target.as_str()) {
            return Err(ReleaseError::Refused { detail: format!("`{host}` is already on {target}") });
        }
        chosen.push((target, host));
    }
    let first = chosen.first().map(|(t, _)| t.clone()).unwrap_or_default();
    if chosen.iter().any(|(t, _)| *t != first) {
        let list: Vec<String> = chosen.iter().map(|(t, h)| format!("`{h}` → {t}")).collect();
        return Err(ReleaseError::Refused {
            detail: format!("the hosts disagree on the previous release ({}); choose one with `--to`", list.join(", ")),
        });
    }
    Ok(first)
}
