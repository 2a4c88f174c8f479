//! Read-only views of an environment (`status`, `releases`) and breaking a lock by hand.

use std::collections::{BTreeMap, BTreeSet};

use cutover_remote::journal::{Event, Kind};
use cutover_remote::lock::LockInfo;
use cutover_remote::{HostState, Identity, LockState, Stdin};
use serde::Serialize;

use crate::error::hosts_of;
use crate::fleet::split;
use crate::{Fleet, History, Outcome, ReleaseError, ReleaseState, scripts};

#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub host: String,
    /// False when nothing was ever deployed to this path.
    pub deployed: bool,
    pub current: Option<String>,
    /// What `current` is when it is not a symlink to a release (`current is a directory, not a
    /// symlink`): deploy and rollback refuse until it is put right by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_problem: Option<String>,
    pub rollback_target: Option<String>,
    pub releases_on_disk: usize,
    pub lock: Option<LockView>,
    /// The newest release rolled back by hand that is still on the host (`rollback --to` goes
    /// back to it), and why.
    pub rolled_back: Option<RolledBack>,
    /// Why `current` is not plainly live: the deploy that made it live was interrupted before
    /// its checks ended (journal event `interrupted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolledBack {
    pub release: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockView {
    pub holder: String,
    /// `Some(true)`: held by a process on this machine that is gone.
    pub stale: Option<bool>,
    /// What the lock path is when it is not a regular file (`a directory`): nobody holds it, and
    /// deploy and rollback refuse until it is removed by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_a_file: Option<String>,
}

pub fn status(fleet: &Fleet) -> Result<Vec<HostStatus>, ReleaseError> {
    let states = fleet.read_states()?;
    let histories = History::of_fleet(states.iter().map(|s| s.journal.as_slice()));
    Ok(states
        .into_iter()
        .zip(histories)
        .map(|(s, history)| {
            let lock = match &s.lock {
                LockState::Held(info) => {
                    Some(LockView { holder: info.describe(), stale: info.stale(), not_a_file: None })
                }
                LockState::Unreadable(text) => Some(LockView {
                    holder: format!("unreadable lock: {}", text.trim()),
                    stale: None,
                    not_a_file: None,
                }),
                LockState::NotAFile(what) => {
                    Some(LockView { holder: "nobody".into(), stale: None, not_a_file: Some(what.clone()) })
                }
                LockState::Free | LockState::Acquired => None,
            };
            let rolled_back = history
                .rolled_back()
                .into_iter()
                .find(|id| history.usable(id, &s.on_disk) && s.current.as_deref() != Some(id))
                .map(|id| RolledBack {
                    release: id.to_owned(),
                    reason: history.rolled_back_reason(id).map(str::to_owned),
                });
            let interrupted = s.current.as_deref().and_then(|c| {
                (history.state(c, Some(c)) == ReleaseState::LiveInterrupted)
                    .then(|| history.interrupted_reason(c).unwrap_or("interrupted").to_owned())
            });
            HostStatus {
                interrupted,
                // Where `current` is not a release's, nobody knows what a rollback would leave.
                rollback_target: history
                    .rollback_target(s.current.as_deref(), &s.on_disk)
                    .filter(|_| s.current_problem.is_none()),
                host: s.host,
                deployed: s.exists && !s.journal.is_empty(),
                current: s.current,
                current_problem: s.current_problem.map(|p| p.to_string()),
                releases_on_disk: s.on_disk.len(),
                lock,
                rolled_back,
            }
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseRow {
    pub id: String,
    pub manifest: Option<String>,
    /// The release's state on each host.
    pub hosts: BTreeMap<String, ReleaseState>,
    pub failure: Option<String>,
    /// Why it was rolled back by hand (where it still is `rolled back`).
    pub rolled_back: Option<String>,
}

/// Every release any host's journal names, oldest first, with its state on each host.
pub fn releases(fleet: &Fleet) -> Result<Vec<ReleaseRow>, ReleaseError> {
    let (states, errors) = split(fleet.inspect());
    if !errors.is_empty() {
        return Err(ReleaseError::Hosts { step: "reading releases".into(), errors, outcome: Outcome::Unchanged });
    }
    let mut rows: Vec<ReleaseRow> = Vec::new();
    for state in &states {
        let history = History::from_events(&state.journal);
        for id in history.releases() {
            let row = match rows.iter_mut().position(|r| &r.id == id) {
                Some(i) => &mut rows[i],
                None => {
                    rows.push(ReleaseRow {
                        id: id.clone(),
                        manifest: None,
                        hosts: BTreeMap::new(),
                        failure: None,
                        rolled_back: None,
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            let mut st = history.state(id, state.current.as_deref());
            if matches!(st, ReleaseState::Good | ReleaseState::RolledBack) && !state.on_disk.contains(id) {
                st = ReleaseState::Removed;
            }
            row.hosts.insert(state.host.clone(), st);
            row.manifest = row.manifest.take().or_else(|| history.manifest(id).map(str::to_owned));
            row.failure = row.failure.take().or_else(|| history.failure_reason(id).map(str::to_owned));
            if st == ReleaseState::RolledBack {
                row.rolled_back = row.rolled_back.take().or_else(|| history.rolled_back_reason(id).map(str::to_owned));
            }
        }
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

#[derive(Debug, Clone, Serialize)]
pub struct UnlockReport {
    /// Host → the lock that was broken there (absent where there was none).
    pub broken: BTreeMap<String, String>,
}

/// Breaks the deploy lock on every host, journaling who did it and why.
pub fn unlock(fleet: &Fleet, reason: &str) -> Result<UnlockReport, ReleaseError> {
    let who = Identity::current();
    let results = fleet.each(|_, t| {
        let event = Event::new(Kind::Unlock, None, &who).reason(reason);
        let out = t.run("breaking the deploy lock", &scripts::unlock(&fleet.root, &event), Stdin::Null)?;
        let held = out.stdout.split_once("@@held\n").map(|(_, rest)| rest.trim().to_owned());
        Ok((t.name().to_owned(), held))
    });
    let (done, errors) = split(results);
    if !errors.is_empty() {
        return Err(ReleaseError::Hosts {
            step: format!("unlocking ({} could not be reached)", hosts_of(&errors)),
            errors,
            outcome: Outcome::Partial,
        });
    }
    let broken = done
        .into_iter()
        .filter_map(|(host, held)| {
            let held = held?;
            let text = serde_json::from_str::<LockInfo>(&held).map_or(held, |info| info.describe());
            Some((host, text))
        })
        .collect();
    Ok(UnlockReport { broken })
}

/// The release live on every host of the fleet and its manifest hash (the artifact's identity),
/// when the hosts agree on one; `None` when nothing is live or they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    pub release: String,
    pub manifest: Option<String>,
}

pub fn live(fleet: &Fleet) -> Result<Option<Live>, ReleaseError> {
    Ok(live_of(&fleet.read_states()?))
}

/// [`live`] of host states already read.
pub fn live_of(states: &[HostState]) -> Option<Live> {
    let currents: BTreeSet<Option<&str>> = states.iter().map(|s| s.current.as_deref()).collect();
    let [Some(release)] = currents.into_iter().collect::<Vec<_>>()[..] else { return None };
    let history = History::from_events(&states[0].journal);
    Some(Live { release: release.to_owned(), manifest: history.manifest(release).map(str::to_owned) })
}
