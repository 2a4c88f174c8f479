//! Cleanup after a deploy: keep `keep_releases` good releases, never `current`, never the
//! rollback target; remove failed and unfinished ones, but never one whose builder may still be
//! at work. Only releases the journal knows are touched.

use cutover_remote::journal::{Event, Kind};
use cutover_remote::{Identity, Inspect, RemoteError, Stdin, Target};

use crate::{Fleet, History, scripts};

/// The releases to remove, newest first.
pub fn plan(history: &History, on_disk: &[String], current: Option<&str>, keep: usize) -> Vec<String> {
    let target = history.rollback_target(current, on_disk);
    let mut kept = 0;
    let mut remove = Vec::new();
    for id in history.releases().iter().rev().filter(|id| on_disk.contains(id)) {
        if history.building(id) {
            continue;
        }
        let protected = Some(id.as_str()) == current || Some(id) == target.as_ref();
        if protected || (history.usable(id, on_disk) && kept < keep) {
            kept += 1;
        } else {
            remove.push(id.clone());
        }
    }
    remove
}

/// Reads the host's state again and removes what [`plan`] says; returns the removed ids.
pub fn clean(fleet: &Fleet, target: &dyn Target, keep: usize, who: &Identity) -> Result<Vec<String>, RemoteError> {
    let state = cutover_remote::inspect(target, Inspect { root: &fleet.root, acquire: None })?;
    let history = History::from_events(&state.journal);
    let remove = plan(&history, &state.on_disk, state.current.as_deref(), keep);
    if remove.is_empty() {
        return Ok(remove);
    }
    let before: Vec<Event> = remove.iter().map(|id| Event::new(Kind::Remove, Some(id), who)).collect();
    let after: Vec<Event> = remove.iter().map(|id| Event::new(Kind::Removed, Some(id), who)).collect();
    target.run("removing old releases", &scripts::remove(&fleet.root, &remove, &before, &after), Stdin::Null)?;
    Ok(remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity { user: "u".into(), machine: "m".into(), pid: 1 }
    }

    fn events(ids: &[(&str, bool)]) -> Vec<Event> {
        let mut out = Vec::new();
        for (id, ok) in ids {
            out.push(Event::new(Kind::Prepare, Some(id), &who()));
            out.push(Event::new(Kind::Prepared, Some(id), &who()));
            out.push(Event::new(Kind::Switched, Some(id), &who()));
            if !ok {
                out.push(Event::new(Kind::Failed, Some(id), &who()));
            }
        }
        out
    }

    #[test]
    fn keeps_the_newest_good_releases_and_always_current_and_the_rollback_target() {
        let ids = ["r1", "r2", "r3", "r4", "r5", "r6"];
        let h = History::from_events(&events(&ids.map(|i| (i, true))));
        let disk: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(plan(&h, &disk, Some("r6"), 3), ["r3", "r2", "r1"]);
        // After a rollback to r2 (r6..r3 are still good but current is r2), r2 and r1 are protected.
        let removed = plan(&h, &disk, Some("r2"), 2);
        assert!(!removed.contains(&"r2".to_string()) && !removed.contains(&"r1".to_string()), "{removed:?}");
    }

    #[test]
    fn failed_and_unfinished_releases_go_first() {
        let mut ev = events(&[("r1", true), ("r2", false), ("r3", true)]);
        // r4 was left by a process of this machine that is gone (pid 0 never runs).
        ev.push(Event::new(Kind::Prepare, Some("r4"), &Identity { pid: 0, ..Identity::current() }));
        let h = History::from_events(&ev);
        let disk: Vec<String> = ["r1", "r2", "r3", "r4", "manual"].iter().map(|s| s.to_string()).collect();
        assert_eq!(plan(&h, &disk, Some("r3"), 5), ["r4", "r2"], "`manual` is not in the journal and stays");
    }

    #[test]
    fn a_release_another_holder_is_building_is_never_removed() {
        let mut ev = events(&[("r1", true), ("r2", true)]);
        // This process (as a deploy whose lock was broken by `unlock`) and another machine's.
        ev.push(Event::new(Kind::Prepare, Some("r3"), &Identity::current()));
        ev.push(Event::new(Kind::Prepare, Some("r4"), &who()));
        let h = History::from_events(&ev);
        let disk: Vec<String> = ["r1", "r2", "r3", "r4"].iter().map(|s| s.to_string()).collect();
        assert_eq!(plan(&h, &disk, Some("r2"), 1), Vec::<String>::new());
    }
}
