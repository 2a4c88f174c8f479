//! A rollback: every host back to the previous good release (or `--to ID`) in one switch per
//! host over the open connection. The release it leaves is marked rolled back (by hand) or
//! failed (automatic: its checks or the monitor failed it).

use std::collections::BTreeSet;

use cutover_config::Hooks;
use cutover_process::interrupt;
use cutover_remote::journal::{Cause, Event, Kind};
use cutover_remote::lock::LockInfo;
use cutover_remote::{HostState, RemoteError, Reporter, Stdin};

use crate::deploy::{run_hooks, stop_if_interrupted};
use crate::error::{hosts_of, list};
use crate::fleet::Switch;
use crate::{BeforeSwitch, Fleet, History, ReleaseError, RollbackReport};

#[derive(Debug, Clone, Copy)]
pub struct RollbackRequest<'a> {
    pub to: Option<&'a str>,
    pub hooks: &'a Hooks,
    pub command: &'a str,
    /// Roll back only if every host is still on this release (checked under the lock): an
    /// automatic rollback of a release that was judged must never take down a newer one.
    pub only_from: Option<&'a str>,
    /// How the release left is marked.
    pub mark: Mark<'a>,
    /// Run under the lock once the target is known, before any host switches (`rollback
    /// --with-db`: the database restored), with the target and the release left; an `Err`
    /// stops the rollback with nothing switched.
    pub before_switch: Option<&'a dyn BeforeSwitch>,
}

/// How a rollback marks the release it leaves.
#[derive(Debug, Clone, Copy)]
pub enum Mark<'a> {
    /// By hand (`cutover rollback`): `rolled back`, with who and, if given, why. The default
    /// rollback target skips it; `--to` may go back to it.
    ByHand(Option<&'a str>),
    /// Automatic (failed checks, a breach): `failed`, with why. Never a rollback target again.
    Failed(&'a str),
}

pub fn rollback(
    fleet: &Fleet,
    req: &RollbackRequest<'_>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, ReleaseError> {
    stop_if_interrupted("before any host was touched")?;
    let lock = LockInfo::new(req.command);
    let states = fleet.lock_breaking_stale(&lock, reporter)?;
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
    if let Some(expected) = req.only_from
        && let Some(other) = states.iter().find(|s| s.current.as_deref() != Some(expected))
    {
        return Err(ReleaseError::Refused {
            detail: format!(
                "not rolling back: `{}` is on {}, not on {expected}, the release that was checked",
                other.host,
                other.current.as_deref().unwrap_or("nothing")
            ),
        });
    }
    let to = target(states, req.to)?;
    let from: Vec<Option<&str>> = states.iter().map(|s| s.current.as_deref()).collect();
    // A signal before the switch: nothing moves (the caller gives the lock back).
    if let Some(signal) = interrupt::requested() {
        let reason = format!("{} interrupted by {signal} before switching to {to}; nothing changed", req.command);
        fleet.each(|_, t| fleet.record(t, &[Event::new(Kind::Interrupted, None, who).reason(&reason)]).ok());
        return Err(ReleaseError::Interrupted {
            signal: signal.to_string(),
            detail: format!("stopped before switching to {to}; nothing changed on any host"),
        });
    }
    if let Some(before) = req.before_switch
        && let Err(detail) = before.before_switch(fleet, &to, from[0])
    {
        return Err(ReleaseError::Refused { detail: format!("not rolled back to {to}: {detail}; no host switched") });
    }
    // With `--to`, hosts already there stay as they are: that is how diverged hosts are joined.
    let moving = from.iter().filter(|f| **f != Some(to.as_str())).count();
    reporter.step(None, &format!("rolling back {moving} host(s) to {to}"));
    let (kind, reason) = match req.mark {
        Mark::ByHand(why) => {
            let by = format!("rolled back by {}@{}", who.user, who.machine);
            (Kind::RolledBack, why.map_or(by.clone(), |why| format!("{by}: {why}")))
        }
        Mark::Failed(why) => (Kind::Failed, why.to_owned()),
    };
    let results = fleet.each(|i, t| {
        if from[i] == Some(to.as_str()) {
            let script = format!("cd {}\n{}", cutover_remote::shell::path_expr(&fleet.root), lock.release_script());
            return t.run("releasing the deploy lock", &script, Stdin::Null).map(|_| None);
        }
        let mut before: Vec<Event> =
            from[i].map(|f| Event::new(kind, Some(f), who).reason(&reason)).into_iter().collect();
        before.push(Event::new(Kind::Switch, Some(&to), who).from(from[i]).cause(Cause::Rollback));
        let after = Event::new(Kind::Switched, Some(&to), who).from(from[i]).cause(Cause::Rollback);
        // One round trip per host: the lock is given back in the same session.
        let give_back = if req.hooks.after_rollback.is_empty() { lock.release_script() } else { String::new() };
        if fleet.switch(t, Some(&to), (&before, &after), Some(lock), &give_back)? == Switch::LockLost {
            return Err(RemoteError::Failed {
                host: t.name().to_owned(),
                step: "switching `current`".into(),
                status: "refused".into(),
                detail: "this rollback no longer holds the deploy lock (it was broken while it ran); not switched"
                    .into(),
            });
        }
        // Switched: a failing hook is reported as such, not as an unfinished switch.
        // The hooks belong to the switch: a signal now lets them finish.
        let hooks = (req.hooks.after_rollback.as_slice(), req.hooks.timeout.0);
        Ok(run_hooks(fleet, t, "after_rollback", hooks, &to, from[i], false, reporter).err())
    });
    let mut switch_errors = Vec::new();
    let mut hook_errors = Vec::new();
    for result in results {
        match result {
            Err(e) => switch_errors.push(e),
            Ok(Some(e)) => hook_errors.push(e),
            Ok(None) => {}
        }
    }
    // A signal during the switch: it finished (or failed as it would have); say so and stop.
    if let Some(signal) = interrupt::requested()
        && switch_errors.is_empty()
    {
        let reason =
            format!("{} interrupted by {signal} once its switch had started; every host is on {to}", req.command);
        fleet.each(|_, t| fleet.record(t, &[Event::new(Kind::Interrupted, None, who).reason(&reason)]).ok());
        let hooks = if hook_errors.is_empty() {
            String::new()
        } else {
            format!("; after_rollback failed on {}:\n{}", hosts_of(&hook_errors), list(&hook_errors))
        };
        return Err(ReleaseError::Interrupted {
            signal: signal.to_string(),
            detail: format!("the switch in flight finished: every host is on {to}{hooks}"),
        });
    }
    if !switch_errors.is_empty() {
        return Err(ReleaseError::Partial {
            detail: format!(
                "rollback to {to} did not finish on {}:\n{}",
                hosts_of(&switch_errors),
                list(&switch_errors)
            ),
        });
    }
    if !hook_errors.is_empty() {
        return Err(ReleaseError::Partial {
            detail: format!(
                "every host is on {to}, but after_rollback failed on {}:\n{}",
                hosts_of(&hook_errors),
                list(&hook_errors)
            ),
        });
    }
    Ok(RollbackReport {
        env: fleet.env_name.clone(),
        // The release left (where hosts were apart, the one the first host that moved was on).
        from: from.iter().copied().flatten().find(|f| *f != to).map(str::to_owned),
        to,
        hosts: states.iter().map(|s| s.host.clone()).collect(),
    })
}

fn diverged(states: &[HostState]) -> bool {
    states.iter().any(|s| s.current != states[0].current)
}

/// Where hosts left apart by a failed release (one cut off while the others went back) join
/// again: when every host but those on a failed release is on one good release, and each of
/// those has it, that release. `None` when the hosts agree or it is not that clear.
fn rejoin(states: &[HostState], histories: &[History]) -> Option<String> {
    if !diverged(states) {
        return None;
    }
    let failed = |h: &History, s: &HostState| s.current.as_deref().is_some_and(|c| h.is_failed(c));
    let good: BTreeSet<&str> = states
        .iter()
        .zip(histories)
        .filter(|(s, h)| !failed(h, s))
        .map(|(s, _)| s.current.as_deref())
        .collect::<Option<_>>()?;
    let [join] = good.into_iter().collect::<Vec<_>>()[..] else { return None };
    states
        .iter()
        .zip(histories)
        .all(|(s, h)| s.current.as_deref() == Some(join) || h.usable(join, &s.on_disk))
        .then(|| join.to_owned())
}

/// The one release every host goes to; refuses when a host has none or the hosts disagree.
fn target(states: &[HostState], to: Option<&str>) -> Result<String, ReleaseError> {
    let histories = History::of_fleet(states.iter().map(|s| s.journal.as_slice()));
    if to.is_none()
        && let Some(join) = rejoin(states, &histories)
    {
        return Ok(join);
    }
    let mut chosen: Vec<(String, &str)> = Vec::new();
    for (state, history) in states.iter().zip(&histories) {
        let current = state.current.as_deref();
        let host = &state.host;
        let target = match to {
            Some(to) if current == Some(to) => {
                chosen.push((to.to_owned(), host));
                continue;
            }
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
            None if diverged(states) => {
                let list: Vec<String> = states
                    .iter()
                    .map(|s| format!("`{}` on {}", s.host, s.current.as_deref().unwrap_or("nothing")))
                    .collect();
                let join = states.iter().filter_map(|s| s.current.as_deref()).min().unwrap_or("RELEASE");
                return Err(ReleaseError::Refused {
                    detail: format!(
                        "hosts are on different releases ({}); bring them together with `cutover rollback --to {join}` \
                         (or another release every host has)",
                        list.join(", ")
                    ),
                });
            }
            None => {
                let by_hand: Vec<&str> =
                    history.rolled_back().into_iter().filter(|id| history.usable(id, &state.on_disk)).collect();
                history.rollback_target(current, &state.on_disk).ok_or_else(|| ReleaseError::NothingToRollBack {
                    host: host.clone(),
                    detail: match (current, by_hand.as_slice()) {
                        (Some(c), []) => format!("`current` is {c} and no earlier good release is on the host"),
                        (Some(c), by_hand) => format!(
                            "`current` is {c} and no earlier good release is on the host; rolled back by hand \
                             (never the default target): {}; `cutover rollback --to ID` goes back to one",
                            by_hand.join(", ")
                        ),
                        (None, _) => "nothing is deployed".to_owned(),
                    },
                })?
            }
        };
        if current == Some(target.as_str()) {
            return Err(ReleaseError::Refused { detail: format!("`{host}` is already on {target}") });
        }
        chosen.push((target, host));
    }
    if let Some(to) = to
        && states.iter().all(|s| s.current.as_deref() == Some(to))
    {
        return Err(ReleaseError::Refused { detail: format!("every host is already on {to}") });
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
