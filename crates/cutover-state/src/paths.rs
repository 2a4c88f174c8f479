//! Each environment's launch path: every choice and change, with who, when and why.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::store::now;
use crate::{State, StateError};

/// One choice (or change) of an environment's launch path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChoice {
    pub env: String,
    pub path: String,
    pub at: String,
    pub user: String,
    pub machine: String,
    /// Why it was changed; `None` for the first choice.
    pub reason: Option<String>,
}

fn choice(r: &rusqlite::Row<'_>) -> rusqlite::Result<PathChoice> {
    Ok(PathChoice {
        env: r.get(0)?,
        path: r.get(1)?,
        at: r.get(2)?,
        user: r.get(3)?,
        machine: r.get(4)?,
        reason: r.get(5)?,
    })
}

const COLUMNS: &str = "env, path, at, user, machine, reason";

impl State {
    /// The environment's path now: its latest choice.
    pub fn current_path(&self, env: &str) -> Result<Option<PathChoice>, StateError> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM paths WHERE env = ?1 ORDER BY id DESC LIMIT 1"), [env], choice)
            .optional()
            .map_err(self.sql())
    }

    /// Every choice and change of the environment's path, oldest first.
    pub fn path_history(&self, env: &str) -> Result<Vec<PathChoice>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM paths WHERE env = ?1 ORDER BY id"))
            .map_err(self.sql())?;
        let rows = stmt.query_map([env], choice).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Records `path` for `env` only if the current path is still `expected` (`None`: none
    /// chosen yet), in one write transaction, so two commands at once cannot both change it
    /// from what each saw. Returns the current path when it was not `expected` (nothing
    /// written).
    pub fn set_path_if(
        &self,
        env: &str,
        expected: Option<&str>,
        path: &str,
        user: &str,
        machine: &str,
        reason: Option<&str>,
    ) -> Result<Result<(), Option<PathChoice>>, StateError> {
        let tx =
            rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(self.sql())?;
        let current = tx
            .query_row(&format!("SELECT {COLUMNS} FROM paths WHERE env = ?1 ORDER BY id DESC LIMIT 1"), [env], choice)
            .optional()
            .map_err(self.sql())?;
        if current.as_ref().map(|c| c.path.as_str()) != expected {
            return Ok(Err(current));
        }
        tx.execute(
            "INSERT INTO paths (env, path, at, user, machine, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![env, path, now(), user, machine, reason],
        )
        .map_err(self.sql())?;
        tx.commit().map_err(self.sql())?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_set_only_from_what_the_caller_saw_and_every_change_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.current_path("production").unwrap(), None);
        state.set_path_if("production", None, "fast", "ana", "laptop", None).unwrap().unwrap();
        // Someone else saw no path either: refused, and told what it is now.
        let now = state.set_path_if("production", None, "hardened", "bo", "ci", None).unwrap().unwrap_err();
        assert_eq!(now.unwrap().path, "fast");
        state
            .set_path_if("production", Some("fast"), "hardened", "bo", "ci", Some("payments need it"))
            .unwrap()
            .unwrap();
        assert_eq!(state.current_path("production").unwrap().unwrap().path, "hardened");
        assert_eq!(state.current_path("staging").unwrap(), None);
        let history = state.path_history("production").unwrap();
        assert_eq!(history.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["fast", "hardened"]);
        assert_eq!(history[1].reason.as_deref(), Some("payments need it"));
        assert_eq!((history[1].user.as_str(), history[1].machine.as_str()), ("bo", "ci"));
        // Kept across opens.
        drop(state);
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.path_history("production").unwrap().len(), 2);
    }
}
