//! Opening the state database and the audit log's reads and writes.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::migrations::MIGRATIONS;
use crate::{DIR, StateError};

#[derive(Debug)]
pub struct State {
    pub(crate) conn: Connection,
    path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub user: String,
    pub machine: String,
    /// The command line, with secrets already redacted by the caller.
    pub command: String,
    pub env: Option<String>,
    /// `None` while running, or when the process died before finishing.
    pub exit_code: Option<i32>,
    pub summary: Option<String>,
}

impl State {
    /// Opens (creating if needed) `<dir>/.cutover/state.db` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let state_dir = dir.join(DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&state_dir)
            .map_err(|source| StateError::CreateDir { path: state_dir.clone(), source })?;
        let path = state_dir.join("state.db");
        // The file may come to hold gate evidence: it is created 0600 here (not through the
        // umask, which is per process and would race with other threads), and SQLite gives its
        // -wal and -shm files the database file's mode.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StateError::CreateDir { path: path.clone(), source })?;
        let conn = Connection::open(&path);
        let sql = |source| StateError::Sqlite { path: path.clone(), source };
        let mut conn = conn.map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        migrate(&mut conn, &path)?;
        Ok(Self { conn, path })
    }

    pub(crate) fn sql(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        |source| StateError::Sqlite { path: self.path.clone(), source }
    }

    /// Records that a command started; returns its id for [`State::finish`].
    pub fn begin(&self, user: &str, machine: &str, command: &str, env: Option<&str>) -> Result<i64, StateError> {
        self.conn
            .execute(
                "INSERT INTO audit (started_at, user, machine, command, env) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now(), user, machine, command, env],
            )
            .map_err(self.sql())?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish(&self, id: i64, exit_code: i32, summary: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE audit SET finished_at = ?1, exit_code = ?2, summary = ?3 WHERE id = ?4",
                params![now(), exit_code, summary, id],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// The newest `limit` entries, oldest first.
    pub fn log(&self, limit: usize) -> Result<Vec<AuditEntry>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, started_at, finished_at, user, machine, command, env, exit_code, summary
                 FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    user: r.get(3)?,
                    machine: r.get(4)?,
                    command: r.get(5)?,
                    env: r.get(6)?,
                    exit_code: r.get(7)?,
                    summary: r.get(8)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

/// One recorded run of a gated stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateRecord {
    pub stage: String,
    pub env: String,
    pub config_hash: String,
    pub passed: bool,
    pub at: String,
    /// JSON: what the stage saw.
    pub evidence: String,
    /// The artifact (release manifest hash) the run was about, where there is one.
    pub artifact: Option<String>,
}

impl State {
    /// Records a run of `stage` for `env` under the config with `config_hash`, about `artifact`
    /// (a release's manifest hash) where there is one.
    pub fn record_gate(
        &self,
        stage: &str,
        env: &str,
        config_hash: &str,
        artifact: Option<&str>,
        passed: bool,
        evidence: &str,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO gates (stage, env, config_hash, passed, at, evidence, artifact)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![stage, env, config_hash, passed, now(), evidence, artifact],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// The latest run of `stage` for `env`, whatever its config.
    pub fn latest_gate(&self, stage: &str, env: &str) -> Result<Option<GateRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT stage, env, config_hash, passed, at, evidence, artifact FROM gates
                 WHERE stage = ?1 AND env = ?2 ORDER BY id DESC LIMIT 1",
            )
            .map_err(self.sql())?;
        let mut rows = stmt
            .query_map(params![stage, env], |r| {
                Ok(GateRecord {
                    stage: r.get(0)?,
                    env: r.get(1)?,
                    config_hash: r.get(2)?,
                    passed: r.get(3)?,
                    at: r.get(4)?,
                    evidence: r.get(5)?,
                    artifact: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.next().transpose().map_err(self.sql())
    }
}

impl State {
    /// Every run of every stage for `env`, oldest first: what a report shows.
    pub fn gate_runs(&self, env: &str) -> Result<Vec<GateRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT stage, env, config_hash, passed, at, evidence, artifact FROM gates
                 WHERE env = ?1 ORDER BY id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([env], |r| {
                Ok(GateRecord {
                    stage: r.get(0)?,
                    env: r.get(1)?,
                    config_hash: r.get(2)?,
                    passed: r.get(3)?,
                    at: r.get(4)?,
                    evidence: r.get(5)?,
                    artifact: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Every audit entry of `env`, oldest first.
    pub fn log_of(&self, env: &str) -> Result<Vec<AuditEntry>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, started_at, finished_at, user, machine, command, env, exit_code, summary
                 FROM audit WHERE env = ?1 ORDER BY id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([env], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    user: r.get(3)?,
                    machine: r.get(4)?,
                    command: r.get(5)?,
                    env: r.get(6)?,
                    exit_code: r.get(7)?,
                    summary: r.get(8)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

/// One rotated secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub env: String,
    pub name: String,
    pub at: String,
    pub user: String,
    pub machine: String,
}

impl State {
    pub fn record_rotation(&self, env: &str, name: &str, user: &str, machine: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO rotations (env, name, at, user, machine) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![env, name, now(), user, machine],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Every rotation in `env`, oldest first.
    pub fn rotations(&self, env: &str) -> Result<Vec<Rotation>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT env, name, at, user, machine FROM rotations WHERE env = ?1 ORDER BY id")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([env], |r| {
                Ok(Rotation { env: r.get(0)?, name: r.get(1)?, at: r.get(2)?, user: r.get(3)?, machine: r.get(4)? })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StateError> {
    let sql = |source| StateError::Sqlite { path: path.to_owned(), source };
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if version as usize > MIGRATIONS.len() {
        return Err(StateError::TooNew { path: path.to_owned(), found: version, known: MIGRATIONS.len() });
    }
    let tx = conn.transaction().map_err(sql)?;
    for migration in &MIGRATIONS[version as usize..] {
        tx.execute_batch(migration).map_err(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64).map_err(sql)?;
    tx.commit().map_err(sql)
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn audit_entries_round_trip_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let a = state.begin("ana", "laptop", "cutover deploy", Some("production")).unwrap();
        state.finish(a, 0, "deployed 20261126T101010Z").unwrap();
        let b = state.begin("ana", "laptop", "cutover rollback", Some("production")).unwrap();
        let log = state.log(10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].exit_code, Some(0));
        assert_eq!(log[0].summary.as_deref(), Some("deployed 20261126T101010Z"));
        assert_eq!(log[1].id, b);
        assert_eq!(log[1].exit_code, None, "unfinished command shows no exit code");
        assert_eq!(state.log(1).unwrap()[0].id, b, "limit keeps the newest");

        let mode = std::fs::metadata(dir.path().join(".cutover/state.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join(".cutover")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn reopening_keeps_data_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        State::open(dir.path()).unwrap().begin("u", "m", "c", None).unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.log(10).unwrap().len(), 1);
        state.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(state);
        assert!(matches!(State::open(dir.path()), Err(StateError::TooNew { found: 99, .. })));
    }

    #[test]
    fn the_latest_gate_run_is_kept_per_stage_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.latest_gate("ready", "production").unwrap(), None);
        state.record_gate("ready", "production", "h1", None, false, "[1]").unwrap();
        state.record_gate("ready", "production", "h2", None, true, "[2]").unwrap();
        state.record_gate("ready", "staging", "h1", None, false, "[3]").unwrap();
        state.record_gate("smoke", "staging", "h1", Some("m1"), true, "[4]").unwrap();
        let latest = state.latest_gate("ready", "production").unwrap().unwrap();
        assert_eq!((latest.config_hash.as_str(), latest.passed, latest.evidence.as_str()), ("h2", true, "[2]"));
        assert_eq!(latest.artifact, None);
        assert_eq!(state.latest_gate("smoke", "staging").unwrap().unwrap().artifact.as_deref(), Some("m1"));
        assert!(!state.latest_gate("ready", "staging").unwrap().unwrap().passed);
        let runs = state.gate_runs("production").unwrap();
        assert_eq!(
            runs.iter().map(|g| g.evidence.as_str()).collect::<Vec<_>>(),
            ["[1]", "[2]"],
            "every run, oldest first"
        );
        let a = state.begin("ana", "laptop", "cutover smoke", Some("staging")).unwrap();
        state.begin("ana", "laptop", "cutover ready", Some("production")).unwrap();
        assert_eq!(state.log_of("staging").unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [a]);
    }
}
