//! What `cutover promote` may take from staging: the release live on every staging host, by
//! its manifest hash, and only once it passed smoke there on that very artifact.

use cutover_release::Live;
use cutover_state::State;

use crate::GateError;

/// The release to promote from `from` and its manifest hash, or why there is none
/// ([`GateError::NotPromotable`], exit 3).
pub fn source(state: &State, from: &str, live: Option<Live>) -> Result<(String, String), GateError> {
    let refuse = |reason: String| GateError::NotPromotable { from: from.to_owned(), reason };
    let Some(live) = live else {
        return Err(refuse(format!("{from}'s hosts are not on one release (or nothing is deployed there)")));
    };
    let Some(manifest) = live.manifest else {
        return Err(refuse(format!(
            "{} on {from} has no manifest hash in its journal (deployed by an older cutover): deploy it again",
            live.release
        )));
    };
    match state.latest_gate("smoke", from)? {
        Some(g) if g.passed && g.artifact.as_deref() == Some(manifest.as_str()) => Ok((live.release, manifest)),
        Some(g) if g.artifact.as_deref() == Some(manifest.as_str()) => Err(refuse(format!(
            "{} failed smoke on {from} at {}: fix it there and run `cutover --env {from} smoke`",
            live.release, g.at
        ))),
        _ => Err(refuse(format!("{} has not passed smoke on {from}: run `cutover --env {from} smoke`", live.release))),
    }
}
