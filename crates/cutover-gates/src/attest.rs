//! Pre-flight item 7: attestations. What cannot be checked by a machine (a rollback plan, who
//! to call, stakeholders told) is vouched for by a named person, with a note, and recorded with
//! the time; `[preflight] attest` adds items of the team's own.

use cutover_config::Config;
use cutover_remote::Identity;
use cutover_state::{Attestation, State};
use serde::Serialize;

use crate::GateError;

/// Records that `by` vouches for `item` in `env`. An item that is neither built in nor listed in
/// `[preflight] attest` is refused, naming the known ones.
pub fn attest(
    state: &State,
    config: &Config,
    env: &str,
    item: &str,
    by: &str,
    note: Option<&str>,
    who: &Identity,
) -> Result<Attestation, GateError> {
    let known = config.preflight.attestations();
    if !known.contains(&item) {
        return Err(GateError::UnknownAttestation { item: item.to_owned(), known: known.join(", ") });
    }
    let by = by.trim();
    if by.is_empty() {
        return Err(GateError::Attester);
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    Ok(state.record_attestation(env, item, by, note, &who.user, &who.machine)?)
}

/// One item to attest and its latest attestation, if any.
#[derive(Debug, Clone, Serialize)]
pub struct AttestationStatus {
    pub item: String,
    pub attestation: Option<Attestation>,
}

/// Every item of `env` to attest, in the config's order, with its latest attestation.
pub fn attestations(state: &State, config: &Config, env: &str) -> Result<Vec<AttestationStatus>, GateError> {
    let recorded = state.latest_attestations(env)?;
    Ok(config
        .preflight
        .attestations()
        .into_iter()
        .map(|item| AttestationStatus {
            item: item.to_owned(),
            attestation: recorded.iter().find(|a| a.item == item).cloned(),
        })
        .collect())
}
