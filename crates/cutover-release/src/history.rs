//! What a host's journal says about its releases: which are complete, which were live, which
//! failed, and so which one a rollback goes to.

use std::collections::{BTreeMap, BTreeSet};

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
    Removed,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every release the journal names, in order of first appearance, with its manifest hash.
    order: Vec<String>,
    manifests: BTreeMap<String, String>,
    prepared: BTreeSet<String>,
    failed: BTreeMap<String, Option<String>>,
    removed: BTreeSet<String>,
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
                Kind::Switched => h.activations.push(id.to_owned()),
                Kind::Failed => {
                    h.failed.insert(id.to_owned(), event.reason.clone());
                }
                Kind::Removed => {
                    h.removed.insert(id.to_owned());
                }
                _ => {}
            }
        }
        h
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

    pub fn state(&self, id: &str, current: Option<&str>) -> ReleaseState {
        if current == Some(id) {
            ReleaseState::Live
        } else if self.removed.contains(id) {
            ReleaseState::Removed
        } else if self.failed.contains_key(id) {
            ReleaseState::Failed
        } else if !self.prepared.contains(id) {
            ReleaseState::Incomplete
        } else if self.activations.iter().any(|a| a == id) {
            ReleaseState::Good
        } else {
            ReleaseState::Prepared
        }
    }

    /// Whether `id` may be switched to: complete, not failed, still on disk.
    pub fn usable(&self, id: &str, on_disk: &[String]) -> bool {
        self.prepared.contains(id)
            && !self.failed.contains_key(id)
            && !self.removed.contains(id)
            && on_disk.iter().any(|d| d == id)
    }

    /// The release that was live before `current` became live, skipping failed and missing ones.
    pub fn rollback_target(&self, current: Option<&str>, on_disk: &[String]) -> Option<String> {
        let upto = match current {
            Some(c) => self.activations.iter().rposition(|a| a == c).unwrap_or(self.activations.len()),
            None => self.activations.len(),
        };
        self.activations[..upto].iter().rev().find(|a| Some(a.as_str()) != current && self.usable(a, on_disk)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_remote::Identity;

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
