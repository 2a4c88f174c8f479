//! What a host's journal says about its releases: which are complete, which were live, which
//! failed, and so which one a rollback goes to.

use std::collections::{BTreeMap, BTreeSet};

use cutover_remote::Identity;
use cutover_remote::journal::{Event, Kind};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// `current` points at it.
    Live,
    /// Was live, did not fail: a rollback target.
    Good,
    /// Complete on the host, never live.
    Prepared,
    /// Upload or preparation started and did not finish.
    Incomplete,
    /// Never a rollback target again.
    Failed,
    /// Rolled back by hand: the default rollback target skips it, `rollback --to` may pick it.
    RolledBack,
    Removed,
    /// `current` points at it, but the deploy that made it live was interrupted before its
    /// checks ended: live, not verified.
    LiveInterrupted,
}

impl std::fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Live => "live",
            Self::Good => "good",
            Self::Prepared => "prepared",
            Self::Incomplete => "incomplete",
            Self::Failed => "failed",
            Self::RolledBack => "rolled back",
            Self::Removed => "removed",
            Self::LiveInterrupted => "live (interrupted)",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every release the journal names, in order of first appearance, with its manifest hash.
    order: Vec<String>,
    manifests: BTreeMap<String, String>,
    prepared: BTreeSet<String>,
    failed: BTreeMap<String, Option<String>>,
    /// Rolled back by hand, and not live again since: why.
    rolled_back: BTreeMap<String, Option<String>>,
    removed: BTreeSet<String>,
    /// Left unfinished or unverified by an interrupted command, and not switched to since: why.
    interrupted: BTreeMap<String, Option<String>>,
    /// Who last started preparing each release (its `prepare` event), where the journal says.
    builders: BTreeMap<String, Identity>,
    /// Releases in the order they became current.
    activations: Vec<String>,
}

impl History {
    pub fn from_events(events: &[Event]) -> Self {
        let mut h = Self::default();
        for event in events {
            let Some(id) = event.release.as_deref() else { continue };
            if !h.order.iter().any(|r| r == id) {
                h.order.push(id.to_owned());
            }
            match event.event {
                Kind::Prepared => {
                    h.prepared.insert(id.to_owned());
                    if let Some(m) = &event.manifest {
                        h.manifests.insert(id.to_owned(), m.clone());
                    }
                }
                // Older cutovers journaled no pid: their unfinished releases are left over, as before.
                Kind::Prepare => match event.pid {
                    Some(pid) => {
                        let (user, machine) = (event.user.clone(), event.machine.clone());
                        h.builders.insert(id.to_owned(), Identity { user, machine, pid });
                    }
                    None => {
                        h.builders.remove(id);
                    }
                },
                Kind::Switched => {
                    h.activations.push(id.to_owned());
                    h.rolled_back.remove(id);
                    h.interrupted.remove(id);
                }
                Kind::Interrupted => {
                    h.interrupted.insert(id.to_owned(), event.reason.clone());
                }
                Kind::Failed => {
                    h.failed.insert(id.to_owned(), event.reason.clone());
                }
                Kind::RolledBack => {
                    h.rolled_back.insert(id.to_owned(), event.reason.clone());
                }
                Kind::Removed => {
                    h.removed.insert(id.to_owned());
                }
                _ => {}
            }
        }
        h
    }

    /// Each host's history, where a release failed on any host is failed on every host: a
    /// release id is the fleet's, and a host cut off while its release failed never heard.
    pub fn of_fleet<'a>(journals: impl IntoIterator<Item = &'a [Event]>) -> Vec<Self> {
        let mut histories: Vec<Self> = journals.into_iter().map(Self::from_events).collect();
        let failed: BTreeMap<String, Option<String>> =
            histories.iter().flat_map(|h| h.failed.iter().map(|(id, why)| (id.clone(), why.clone()))).collect();
        for history in &mut histories {
            for (id, why) in &failed {
                history.failed.entry(id.clone()).or_insert_with(|| why.clone());
            }
        }
        histories
    }

    pub fn releases(&self) -> &[String] {
        &self.order
    }

    pub fn manifest(&self, id: &str) -> Option<&str> {
        self.manifests.get(id).map(String::as_str)
    }

    pub fn failure_reason(&self, id: &str) -> Option<&str> {
        self.failed.get(id).and_then(|r| r.as_deref())
    }

    pub fn is_failed(&self, id: &str) -> bool {
        self.failed.contains_key(id)
    }

    /// Why `id` was rolled back by hand, if it was and has not been live again since.
    pub fn rolled_back_reason(&self, id: &str) -> Option<&str> {
        self.rolled_back.get(id).and_then(|r| r.as_deref())
    }

    /// Why `id` was left unfinished or unverified by an interrupted command, if it was and has
    /// not been switched to since.
    pub fn interrupted_reason(&self, id: &str) -> Option<&str> {
        self.interrupted.get(id).and_then(|r| r.as_deref())
    }

    pub fn is_rolled_back(&self, id: &str) -> bool {
        self.rolled_back.contains_key(id)
    }

    /// Releases rolled back by hand, newest first.
    pub fn rolled_back(&self) -> Vec<&str> {
        self.order.iter().rev().filter(|id| self.rolled_back.contains_key(*id)).map(String::as_str).collect()
    }

    /// Whether `id` is unfinished and its builder may still be at work: the process that started
    /// it ran on another machine, or still runs on this one. Such a release is never removed by
    /// anybody else (its builder may have lost the lock to `unlock` and not know yet).
    pub fn building(&self, id: &str) -> bool {
        self.state(id, None) == ReleaseState::Incomplete
            && self.builders.get(id).is_some_and(|who| who.process_gone() != Some(true))
    }

    pub fn state(&self, id: &str, current: Option<&str>) -> ReleaseState {
        if current == Some(id) && self.interrupted.contains_key(id) {
            ReleaseState::LiveInterrupted
        } else if current == Some(id) {
            ReleaseState::Live
        } else if self.removed.contains(id) {
            ReleaseState::Removed
        } else if self.failed.contains_key(id) {
            ReleaseState::Failed
        } else if self.rolled_back.contains_key(id) {
            ReleaseState::RolledBack
        } else if !self.prepared.contains(id) {
            ReleaseState::Incomplete
        } else if self.activations.iter().any(|a| a == id) {
            ReleaseState::Good
        } else {
            ReleaseState::Prepared
        }
    }

    /// Whether `id` may be switched to: complete, not failed, still on disk (a release rolled
    /// back by hand may: `rollback --to` rolls forward to it).
    pub fn usable(&self, id: &str, on_disk: &[String]) -> bool {
        self.prepared.contains(id)
            && !self.failed.contains_key(id)
            && !self.removed.contains(id)
            && on_disk.iter().any(|d| d == id)
    }

    /// The release that was live before `current` became live, skipping failed, rolled back and
    /// missing ones.
    pub fn rollback_target(&self, current: Option<&str>, on_disk: &[String]) -> Option<String> {
        let upto = match current {
            Some(c) => self.activations.iter().rposition(|a| a == c).unwrap_or(self.activations.len()),
            None => self.activations.len(),
        };
        self.activations[..upto]
            .iter()
            .rev()
            .find(|a| Some(a.as_str()) != current && self.usable(a, on_disk) && !self.is_rolled_back(a))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity { user: "u".into(), machine: "m".into(), pid: 1 }
    }

    fn ev(kind: Kind, id: &str) -> Event {
        Event::new(kind, Some(id), &who())
    }

    fn deployed(id: &str) -> Vec<Event> {
        vec![ev(Kind::Prepare, id), ev(Kind::Prepared, id), ev(Kind::Switch, id), ev(Kind::Switched, id)]
    }

    fn disk(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rollback_goes_to_the_release_live_before_and_never_to_a_failed_one() {
        let mut events = [deployed("a"), deployed("b"), deployed("c")].concat();
        let h = History::from_events(&events);
        let on = disk(&["a", "b", "c"]);
        assert_eq!(h.rollback_target(Some("c"), &on).as_deref(), Some("b"));

        // Roll back c -> b: c is marked failed; the next rollback from b goes to a.
        events.push(ev(Kind::Failed, "c"));
        events.push(ev(Kind::Switched, "b"));
        let h = History::from_events(&events);
        assert_eq!(h.state("c", Some("b")), ReleaseState::Failed);
        assert_eq!(h.rollback_target(Some("b"), &on).as_deref(), Some("a"));
        assert_eq!(h.rollback_target(Some("a"), &on), None, "nothing before the first release");
    }

    #[test]
    fn a_release_failed_on_one_host_is_failed_on_every_host_of_the_fleet() {
        // Host 1 went back from c and marked it failed; host 2 was cut off and never heard.
        let mut one = [deployed("a"), deployed("b"), deployed("c")].concat();
        one.push(ev(Kind::Failed, "c").reason("after_switch hook failed on `web2`"));
        one.push(ev(Kind::Switched, "b"));
        let two = [deployed("a"), deployed("b"), deployed("c")].concat();
        let on = disk(&["a", "b", "c"]);
        assert_eq!(History::from_events(&two).state("c", Some("b")), ReleaseState::Good, "alone, it never heard");
        let fleet = History::of_fleet([one.as_slice(), two.as_slice()]);
        assert_eq!(fleet[1].state("c", Some("b")), ReleaseState::Failed);
        assert_eq!(fleet[1].failure_reason("c"), Some("after_switch hook failed on `web2`"));
        assert!(!fleet[1].usable("c", &on));
        assert_eq!(fleet[1].rollback_target(Some("c"), &on).as_deref(), Some("b"));
    }

    #[test]
    fn a_release_rolled_back_by_hand_is_skipped_by_default_until_it_is_live_again() {
        let mut events = [deployed("a"), deployed("b"), deployed("c")].concat();
        events.push(ev(Kind::RolledBack, "c").reason("by hand"));
        events.push(ev(Kind::Switched, "b"));
        let on = disk(&["a", "b", "c"]);
        let h = History::from_events(&events);
        assert_eq!(h.state("c", Some("b")), ReleaseState::RolledBack);
        assert_eq!(h.rolled_back_reason("c"), Some("by hand"));
        assert!(h.usable("c", &on), "`--to c` may go back to it");
        assert_eq!(h.rollback_target(Some("b"), &on).as_deref(), Some("a"), "c was live after b, and is skipped");
        // Rolled forward to c: live again, no longer marked.
        events.push(ev(Kind::RolledBack, "b"));
        events.push(ev(Kind::Switched, "c"));
        let h = History::from_events(&events);
        assert_eq!(h.state("c", Some("c")), ReleaseState::Live);
        assert!(!h.is_rolled_back("c"));
        assert_eq!(h.rolled_back(), ["b"]);
        assert_eq!(h.rollback_target(Some("c"), &on).as_deref(), Some("a"));
    }

    #[test]
    fn a_release_whose_checks_were_interrupted_is_not_plainly_live_until_switched_to_again() {
        let mut events = [deployed("a"), deployed("b")].concat();
        events.push(ev(Kind::Interrupted, "b").reason("its checks did not run"));
        let h = History::from_events(&events);
        assert_eq!(h.state("b", Some("b")), ReleaseState::LiveInterrupted);
        assert_eq!(h.state("b", Some("b")).to_string(), "live (interrupted)");
        assert_eq!(h.interrupted_reason("b"), Some("its checks did not run"));
        assert_eq!(h.rollback_target(Some("b"), &disk(&["a", "b"])).as_deref(), Some("a"));
        events.extend([ev(Kind::Switched, "a"), ev(Kind::Switched, "b")]);
        let h = History::from_events(&events);
        assert_eq!(h.state("b", Some("b")), ReleaseState::Live);
    }

    #[test]
    fn an_unfinished_release_is_being_built_while_its_builder_may_run() {
        let here = Identity::current();
        let gone = Identity { pid: 0, ..here.clone() };
        let elsewhere = Identity { machine: format!("{}-not", here.machine), ..here.clone() };
        let events = vec![
            Event::new(Kind::Prepare, Some("mine"), &here),
            Event::new(Kind::Prepare, Some("dead"), &gone),
            Event::new(Kind::Prepare, Some("far"), &elsewhere),
            Event::new(Kind::Prepare, Some("done"), &here),
            Event::new(Kind::Prepared, Some("done"), &here),
        ];
        let h = History::from_events(&events);
        assert!(h.building("mine"), "this process runs");
        assert!(!h.building("dead"), "its process is gone");
        assert!(h.building("far"), "another machine's process cannot be known gone");
        assert!(!h.building("done"), "complete");
    }

    #[test]
    fn incomplete_and_removed_releases_are_not_targets() {
        let mut events = [deployed("a"), deployed("b")].concat();
        events.push(ev(Kind::Prepare, "c"));
        events.push(ev(Kind::Removed, "a"));
        let h = History::from_events(&events);
        assert_eq!(h.state("c", Some("b")), ReleaseState::Incomplete);
        assert_eq!(h.state("a", Some("b")), ReleaseState::Removed);
        assert_eq!(h.rollback_target(Some("b"), &disk(&["a", "b", "c"])), None);
        // A release whose directory is gone is not a target either.
        let h = History::from_events(&[deployed("a"), deployed("b")].concat());
        assert_eq!(h.rollback_target(Some("b"), &disk(&["b"])), None);
    }
}
