//! Attestations: a pre-flight item vouched for by a named person, with a note and a time.

use rusqlite::params;
use serde::Serialize;

use crate::store::now;
use crate::{State, StateError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    pub env: String,
    pub item: String,
    /// Who vouches for it (`--by`).
    pub by: String,
    pub note: Option<String>,
    pub at: String,
    /// The account and machine that recorded it.
    pub user: String,
    pub machine: String,
}

impl State {
    pub fn record_attestation(
        &self,
        env: &str,
        item: &str,
        by: &str,
        note: Option<&str>,
        user: &str,
        machine: &str,
    ) -> Result<Attestation, StateError> {
        let at = now();
        self.conn
            .execute(
                "INSERT INTO attestations (env, item, by_name, note, at, user, machine)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![env, item, by, note, at, user, machine],
            )
            .map_err(self.sql())?;
        Ok(Attestation {
            env: env.to_owned(),
            item: item.to_owned(),
            by: by.to_owned(),
            note: note.map(str::to_owned),
            at,
            user: user.to_owned(),
            machine: machine.to_owned(),
        })
    }

    /// The latest attestation of each item in `env`, by item name.
    pub fn latest_attestations(&self, env: &str) -> Result<Vec<Attestation>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT env, item, by_name, note, at, user, machine FROM attestations
                 WHERE id IN (SELECT MAX(id) FROM attestations WHERE env = ?1 GROUP BY item) ORDER BY item",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([env], |r| {
                Ok(Attestation {
                    env: r.get(0)?,
                    item: r.get(1)?,
                    by: r.get(2)?,
                    note: r.get(3)?,
                    at: r.get(4)?,
                    user: r.get(5)?,
                    machine: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_attestation_of_each_item_is_kept_per_environment() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        state.record_attestation("production", "contacts", "Ana", None, "ana", "laptop").unwrap();
        state.record_attestation("production", "contacts", "Bo", Some("on call: +1 555"), "bo", "ci").unwrap();
        state.record_attestation("production", "rollback-plan", "Ana", Some("runbook v2"), "ana", "laptop").unwrap();
        state.record_attestation("staging", "contacts", "Cy", None, "cy", "x").unwrap();
        let latest = state.latest_attestations("production").unwrap();
        assert_eq!(
            latest.iter().map(|a| (a.item.as_str(), a.by.as_str())).collect::<Vec<_>>(),
            [("contacts", "Bo"), ("rollback-plan", "Ana")]
        );
        assert_eq!(latest[0].note.as_deref(), Some("on call: +1 555"));
        assert_eq!(state.latest_attestations("staging").unwrap().len(), 1);
    }
}
