//! The monitor's records: one row per monitor window, a verdict per round, every sample. A
//! restarted `cutover monitor` finds its window here and goes on; the sliding-window figures are
//! queries, so memory does not grow with the window.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{State, StateError};

/// A monitor window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitorRecord {
    pub id: i64,
    pub env: String,
    pub release: String,
    pub config_hash: String,
    pub started_ms: i64,
    pub ends_ms: i64,
    pub interval_ms: i64,
    /// `running`, `passed`, `rolled_back`, `breached` (alert only) or `stopped`.
    pub state: String,
    pub updated_ms: i64,
    pub detail: String,
    /// The process sampling it, and its machine (see [`State::claim_monitor`]).
    pub pid: i64,
    pub machine: String,
}

/// One sample as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRow {
    pub at_ms: i64,
    pub check: String,
    pub via: String,
    pub ok: bool,
    pub status: Option<u16>,
    /// Until the response was read; `None` when none came.
    pub latency_ms: Option<f64>,
    pub failure: Option<String>,
    pub reason: Option<String>,
}

/// How the rounds so far went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundStats {
    pub rounds: i64,
    pub failed: i64,
    pub inconclusive: i64,
    /// Inconclusive rounds at the end, in a row.
    pub inconclusive_streak: i64,
    pub last_round: i64,
}

const COLUMNS: &str =
    "id, env, release, config_hash, started_ms, ends_ms, interval_ms, state, updated_ms, detail, pid, machine";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<MonitorRecord> {
    Ok(MonitorRecord {
        id: r.get(0)?,
        env: r.get(1)?,
        release: r.get(2)?,
        config_hash: r.get(3)?,
        started_ms: r.get(4)?,
        ends_ms: r.get(5)?,
        interval_ms: r.get(6)?,
        state: r.get(7)?,
        updated_ms: r.get(8)?,
        detail: r.get(9)?,
        pid: r.get(10)?,
        machine: r.get(11)?,
    })
}

impl State {
    pub fn start_monitor(
        &self,
        env: &str,
        release: &str,
        config_hash: &str,
        started_ms: i64,
        ends_ms: i64,
        interval_ms: i64,
    ) -> Result<i64, StateError> {
        self.conn
            .execute(
                "INSERT INTO monitors (env, release, config_hash, started_ms, ends_ms, interval_ms, state, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?4)",
                params![env, release, config_hash, started_ms, ends_ms, interval_ms],
            )
            .map_err(self.sql())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records which process samples monitor `id` now (a started or resumed monitor).
    pub fn claim_monitor(&self, id: i64, pid: u32, machine: &str) -> Result<(), StateError> {
        self.conn
            .execute("UPDATE monitors SET pid = ?1, machine = ?2 WHERE id = ?3", params![pid, machine, id])
            .map_err(self.sql())?;
        Ok(())
    }

    /// The newest monitor of `env`, running or finished.
    pub fn latest_monitor(&self, env: &str) -> Result<Option<MonitorRecord>, StateError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM monitors WHERE env = ?1 ORDER BY id DESC LIMIT 1"),
                [env],
                record,
            )
            .optional()
            .map_err(self.sql())
    }

    /// Records a round: its verdict and samples, in one transaction.
    pub fn add_round(
        &self,
        monitor: i64,
        round: i64,
        at_ms: i64,
        verdict: &str,
        samples: &[SampleRow],
    ) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction().map_err(self.sql())?;
        tx.execute(
            "INSERT OR REPLACE INTO monitor_rounds (monitor_id, round, at_ms, verdict) VALUES (?1, ?2, ?3, ?4)",
            params![monitor, round, at_ms, verdict],
        )
        .map_err(self.sql())?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO monitor_samples
                     (monitor_id, round, at_ms, check_name, via, ok, status, latency_ms, failure, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(self.sql())?;
            for s in samples {
                insert
                    .execute(params![
                        monitor,
                        round,
                        s.at_ms,
                        s.check,
                        s.via,
                        s.ok,
                        s.status,
                        s.latency_ms,
                        s.failure,
                        s.reason
                    ])
                    .map_err(self.sql())?;
            }
        }
        tx.execute("UPDATE monitors SET updated_ms = ?1 WHERE id = ?2", params![at_ms, monitor]).map_err(self.sql())?;
        tx.commit().map_err(self.sql())
    }

    pub fn round_stats(&self, monitor: i64) -> Result<RoundStats, StateError> {
        let (rounds, failed, inconclusive, last_round): (i64, i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(verdict = 'failed'), 0), coalesce(sum(verdict = 'inconclusive'), 0),
                        coalesce(max(round), 0)
                 FROM monitor_rounds WHERE monitor_id = ?1",
                [monitor],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.sql())?;
        let last_conclusive: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(round), 0) FROM monitor_rounds WHERE monitor_id = ?1 AND verdict != 'inconclusive'",
                [monitor],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        let inconclusive_streak: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM monitor_rounds WHERE monitor_id = ?1 AND round > ?2",
                params![monitor, last_conclusive],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        Ok(RoundStats { rounds, failed, inconclusive, inconclusive_streak, last_round })
    }

    /// `(ok, latency_ms)` of every sample since `since_ms` in conclusive rounds: what the
    /// thresholds are judged on.
    pub fn samples_since(&self, monitor: i64, since_ms: i64) -> Result<Vec<(bool, Option<f64>)>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.ok, s.latency_ms FROM monitor_samples s
                 JOIN monitor_rounds r ON r.monitor_id = s.monitor_id AND r.round = s.round
                 WHERE s.monitor_id = ?1 AND s.at_ms >= ?2 AND r.verdict != 'inconclusive'",
            )
            .map_err(self.sql())?;
        let rows = stmt.query_map(params![monitor, since_ms], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    pub fn samples_count(&self, monitor: i64) -> Result<i64, StateError> {
        self.conn
            .query_row("SELECT count(*) FROM monitor_samples WHERE monitor_id = ?1", [monitor], |r| r.get(0))
            .map_err(self.sql())
    }

    pub fn finish_monitor(&self, monitor: i64, state: &str, detail: &str, at_ms: i64) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE monitors SET state = ?1, detail = ?2, updated_ms = ?3 WHERE id = ?4",
                params![state, detail, at_ms, monitor],
            )
            .map_err(self.sql())?;
        Ok(())
    }
}

/// One round as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundRow {
    pub round: i64,
    pub at_ms: i64,
    /// `ok`, `failed` or `inconclusive`.
    pub verdict: String,
}

impl State {
    /// Every monitor window of `env`, oldest first.
    pub fn monitors_of(&self, env: &str) -> Result<Vec<MonitorRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM monitors WHERE env = ?1 ORDER BY id"))
            .map_err(self.sql())?;
        let rows = stmt.query_map([env], record).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Every round of monitor `id`, in order.
    pub fn rounds_of(&self, monitor: i64) -> Result<Vec<RoundRow>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT round, at_ms, verdict FROM monitor_rounds WHERE monitor_id = ?1 ORDER BY round")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([monitor], |r| Ok(RoundRow { round: r.get(0)?, at_ms: r.get(1)?, verdict: r.get(2)? }))
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Every sample of monitor `id` with its round, in the order taken.
    pub fn samples_of(&self, monitor: i64) -> Result<Vec<(i64, SampleRow)>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT round, at_ms, check_name, via, ok, status, latency_ms, failure, reason
                 FROM monitor_samples WHERE monitor_id = ?1 ORDER BY round, rowid",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([monitor], |r| {
                Ok((
                    r.get(0)?,
                    SampleRow {
                        at_ms: r.get(1)?,
                        check: r.get(2)?,
                        via: r.get(3)?,
                        ok: r.get(4)?,
                        status: r.get(5)?,
                        latency_ms: r.get(6)?,
                        failure: r.get(7)?,
                        reason: r.get(8)?,
                    },
                ))
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, ok: bool, latency_ms: f64) -> SampleRow {
        SampleRow {
            at_ms,
            check: "home".into(),
            via: "public".into(),
            ok,
            status: Some(if ok { 200 } else { 500 }),
            latency_ms: Some(latency_ms),
            failure: (!ok).then(|| "status".into()),
            reason: None,
        }
    }

    #[test]
    fn rounds_and_samples_are_kept_and_counted_for_a_resumed_monitor() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let id = state.start_monitor("production", "r1", "h", 1_000, 61_000, 1_000).unwrap();
        state.add_round(id, 1, 1_000, "ok", &[sample(1_000, true, 10.0)]).unwrap();
        state.add_round(id, 2, 2_000, "failed", &[sample(2_000, false, 30.0)]).unwrap();
        state.add_round(id, 3, 3_000, "inconclusive", &[sample(3_000, false, 5.0)]).unwrap();
        state.add_round(id, 4, 4_000, "inconclusive", &[sample(4_000, false, 5.0)]).unwrap();
        drop(state);

        let state = State::open(dir.path()).unwrap();
        let m = state.latest_monitor("production").unwrap().unwrap();
        assert_eq!((m.id, m.state.as_str(), m.release.as_str(), m.updated_ms), (id, "running", "r1", 4_000));
        let stats = state.round_stats(id).unwrap();
        assert_eq!(stats, RoundStats { rounds: 4, failed: 1, inconclusive: 2, inconclusive_streak: 2, last_round: 4 });
        // Inconclusive rounds (the local network was down) are not judged.
        assert_eq!(state.samples_since(id, 0).unwrap(), [(true, Some(10.0)), (false, Some(30.0))]);
        assert_eq!(state.samples_since(id, 1_500).unwrap(), [(false, Some(30.0))]);
        state.claim_monitor(id, 4242, "laptop").unwrap();
        let m = state.latest_monitor("production").unwrap().unwrap();
        assert_eq!((m.pid, m.machine.as_str()), (4242, "laptop"));
        state.finish_monitor(id, "passed", "window passed", 61_000).unwrap();
        assert_eq!(state.latest_monitor("production").unwrap().unwrap().state, "passed");
        assert_eq!(state.samples_count(id).unwrap(), 4);
        // What a report reads: every window, round and sample, in order.
        assert_eq!(state.monitors_of("production").unwrap().iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
        assert!(state.monitors_of("staging").unwrap().is_empty());
        let rounds = state.rounds_of(id).unwrap();
        assert_eq!(
            rounds.iter().map(|r| (r.round, r.verdict.as_str())).collect::<Vec<_>>(),
            [(1, "ok"), (2, "failed"), (3, "inconclusive"), (4, "inconclusive")]
        );
        let samples = state.samples_of(id).unwrap();
        assert_eq!(
            samples.iter().map(|(round, s)| (*round, s.ok)).collect::<Vec<_>>(),
            [(1, true), (2, false), (3, false), (4, false)]
        );
        assert_eq!(samples[1].1.latency_ms, Some(30.0));
    }
}
