//! The launch path (DESIGN, "Stages and paths"): fast, hardened or iterative, chosen once per
//! environment; a change needs a reason and is recorded with who, when and why, so a team cannot
//! drift from one path to another by accident.

use std::fmt;
use std::str::FromStr;

use cutover_remote::Identity;
use cutover_state::{PathChoice, State};
use serde::Serialize;

use crate::GateError;

/// What pre-flight requires and what a redeploy means after go-live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LaunchPath {
    /// Core pre-flight items before go-live, the rest deferred to before the next redeploy.
    Fast,
    /// Every pre-flight item before go-live; `cutover verify` after it.
    Hardened,
    /// Core items first; after go-live production takes only releases promoted from staging.
    Iterative,
}

impl LaunchPath {
    pub const ALL: [LaunchPath; 3] = [LaunchPath::Fast, LaunchPath::Hardened, LaunchPath::Iterative];

    pub fn as_str(self) -> &'static str {
        match self {
            LaunchPath::Fast => "fast",
            LaunchPath::Hardened => "hardened",
            LaunchPath::Iterative => "iterative",
        }
    }

    /// One line on what the path asks for.
    pub fn summary(self) -> &'static str {
        match self {
            LaunchPath::Fast => "core pre-flight items before go-live, the rest before the next redeploy",
            LaunchPath::Hardened => "every pre-flight item before go-live, then `cutover verify`",
            LaunchPath::Iterative => "core pre-flight items first; after go-live only `cutover promote` from staging",
        }
    }
}

impl fmt::Display for LaunchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LaunchPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        LaunchPath::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a launch path (fast, hardened or iterative)"))
    }
}

/// An environment's path as recorded, with its history.
#[derive(Debug, Clone, Serialize)]
pub struct PathState {
    pub env: String,
    /// `None` until one is chosen.
    pub path: Option<LaunchPath>,
    pub history: Vec<PathChoice>,
}

/// What [`choose`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathChange {
    /// The first choice.
    Chosen,
    /// Already on it: nothing written.
    Unchanged,
    /// Changed from another path, with a reason.
    Changed,
}

/// The environment's path and every choice of it.
pub fn path_state(state: &State, env: &str) -> Result<PathState, GateError> {
    let history = state.path_history(env)?;
    let path = match history.last() {
        Some(last) => Some(parse_recorded(env, &last.path)?),
        None => None,
    };
    Ok(PathState { env: env.to_owned(), path, history })
}

/// Picks `wanted` for `env`. The first choice needs no reason; choosing the path already set
/// changes nothing; a change needs `reason` (else [`GateError::PathDrift`], exit 3, naming the
/// current path). Written only if no one changed the path meanwhile.
pub fn choose(
    state: &State,
    env: &str,
    wanted: LaunchPath,
    reason: Option<&str>,
    who: &Identity,
) -> Result<(PathChange, PathState), GateError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let before = path_state(state, env)?;
    let change = match before.path {
        Some(current) if current == wanted => return Ok((PathChange::Unchanged, before)),
        Some(current) if reason.is_none() => {
            return Err(GateError::PathDrift { env: env.to_owned(), current, wanted, since: since(&before) });
        }
        Some(_) => PathChange::Changed,
        None => PathChange::Chosen,
    };
    let expected = before.path.map(LaunchPath::as_str);
    let reason = if change == PathChange::Changed { reason } else { None };
    match state.set_path_if(env, expected, wanted.as_str(), &who.user, &who.machine, reason)? {
        Ok(()) => Ok((change, path_state(state, env)?)),
        // Changed by someone else between the read and the write: judge again against theirs.
        Err(_) => {
            let now = path_state(state, env)?;
            match now.path {
                Some(current) if current == wanted => Ok((PathChange::Unchanged, now)),
                Some(current) => Err(GateError::PathDrift { env: env.to_owned(), current, wanted, since: since(&now) }),
                None => Err(GateError::PathRace { env: env.to_owned() }),
            }
        }
    }
}

fn since(state: &PathState) -> String {
    state.history.last().map(|c| format!("{} by {}@{}", c.at, c.user, c.machine)).unwrap_or_default()
}

/// A path read back from the state: a name this cutover does not know (a newer one wrote it) is
/// an error, never a guess.
fn parse_recorded(env: &str, text: &str) -> Result<LaunchPath, GateError> {
    text.parse().map_err(|reason| GateError::PathUnreadable { env: env.to_owned(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str) -> Identity {
        Identity { user: user.into(), machine: "m".into(), pid: 1 }
    }

    #[test]
    fn chosen_once_changed_only_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(path_state(&state, "production").unwrap().path, None);
        let (change, now) = choose(&state, "production", LaunchPath::Fast, None, &who("ana")).unwrap();
        assert_eq!((change, now.path), (PathChange::Chosen, Some(LaunchPath::Fast)));
        let (change, _) = choose(&state, "production", LaunchPath::Fast, None, &who("bo")).unwrap();
        assert_eq!(change, PathChange::Unchanged);
        let err = choose(&state, "production", LaunchPath::Hardened, None, &who("bo")).unwrap_err();
        assert!(matches!(err, GateError::PathDrift { current: LaunchPath::Fast, .. }), "{err}");
        assert!(err.to_string().contains("`fast`") && err.to_string().contains("--reason"), "{err}");
        let err = choose(&state, "production", LaunchPath::Hardened, Some("  "), &who("bo")).unwrap_err();
        assert!(matches!(err, GateError::PathDrift { .. }), "a blank reason is no reason");
        let (change, now) =
            choose(&state, "production", LaunchPath::Hardened, Some("card payments"), &who("bo")).unwrap();
        assert_eq!((change, now.path), (PathChange::Changed, Some(LaunchPath::Hardened)));
        assert_eq!(now.history.len(), 2);
        assert_eq!(now.history[1].reason.as_deref(), Some("card payments"));
        assert_eq!(path_state(&state, "staging").unwrap().path, None, "per environment");
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        assert_eq!("iterative".parse::<LaunchPath>(), Ok(LaunchPath::Iterative));
        assert!("slow".parse::<LaunchPath>().unwrap_err().contains("fast, hardened or iterative"));
    }
}
