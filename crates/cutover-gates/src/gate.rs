//! Where each gate of an environment stands: the latest run of each gated stage, judged
//! against the config in use now and `[gates] max_age`. A gate whose record cannot be read
//! (its time does not parse) counts as missing, never as passed.

use std::time::Duration;

use cutover_config::Config;
use cutover_state::{GateRecord, State};
use serde::Serialize;

use crate::GateError;

/// The gated stages, in the order of the cutover, with the command that passes each.
pub const STAGES: [(&str, &str); 4] = [
    ("preflight", "cutover preflight"),
    ("ready", "cutover ready"),
    ("smoke", "cutover smoke"),
    ("monitor", "cutover monitor"),
];

/// How a gate stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Passed for this config, within `max_age`.
    Passed,
    /// Its latest run failed.
    Failed,
    /// Passed for this config, longer ago than `max_age`.
    Expired,
    /// Passed, but for another version of the config.
    OtherConfig,
    /// Never run (or its record cannot be read).
    Missing,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Passed => "passed",
            Standing::Failed => "failed",
            Standing::Expired => "expired",
            Standing::OtherConfig => "other config",
            Standing::Missing => "missing",
        }
    }
}

/// One gate of an environment, as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct GateStatus {
    pub stage: &'static str,
    pub standing: Standing,
    /// When its latest run was, and how long ago.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// The command that passes it.
    pub command: &'static str,
}

/// Every gate of `env`, in the order of the cutover.
pub fn gate_statuses(state: &State, config: &Config, env: &str) -> Result<Vec<GateStatus>, GateError> {
    let max_age = config.gates.max_age.0;
    let now = time::OffsetDateTime::now_utc();
    STAGES
        .iter()
        .map(|&(stage, command)| {
            let record = state.latest_gate(stage, env)?;
            Ok(judge(stage, command, record.as_ref(), &config.hash, max_age, now))
        })
        .collect()
}

fn judge(
    stage: &'static str,
    command: &'static str,
    record: Option<&GateRecord>,
    config_hash: &str,
    max_age: Duration,
    now: time::OffsetDateTime,
) -> GateStatus {
    let missing = GateStatus {
        stage,
        standing: Standing::Missing,
        at: None,
        age_secs: None,
        config_hash: None,
        artifact: None,
        command,
    };
    let Some(r) = record else { return missing };
    let Ok(at) = time::OffsetDateTime::parse(&r.at, &time::format_description::well_known::Rfc3339) else {
        return missing;
    };
    let age = Duration::try_from(now - at).unwrap_or_default();
    let standing = if !r.passed {
        Standing::Failed
    } else if r.config_hash != config_hash {
        Standing::OtherConfig
    } else if age > max_age {
        Standing::Expired
    } else {
        Standing::Passed
    };
    GateStatus {
        stage,
        standing,
        at: Some(r.at.clone()),
        age_secs: Some(age.as_secs()),
        config_hash: Some(r.config_hash.clone()),
        artifact: r.artifact.clone(),
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(passed: bool, hash: &str, at: &str) -> GateRecord {
        GateRecord {
            stage: "ready".into(),
            env: "production".into(),
            config_hash: hash.into(),
            passed,
            at: at.into(),
            evidence: "[]".into(),
            artifact: None,
        }
    }

    #[test]
    fn a_gate_passes_only_for_this_config_within_max_age_and_an_unreadable_one_is_missing() {
        let now = time::macros::datetime!(2026-12-03 12:00 UTC);
        let day = Duration::from_secs(24 * 3600);
        let at = |r: &GateRecord| judge("ready", "cutover ready", Some(r), "h1", day, now).standing;
        assert_eq!(at(&record(true, "h1", "2026-12-03T10:00:00Z")), Standing::Passed);
        assert_eq!(at(&record(true, "h1", "2026-12-02T11:59:00Z")), Standing::Expired);
        assert_eq!(at(&record(true, "h0", "2026-12-03T10:00:00Z")), Standing::OtherConfig);
        assert_eq!(at(&record(false, "h1", "2026-12-03T10:00:00Z")), Standing::Failed);
        assert_eq!(at(&record(true, "h1", "yesterday")), Standing::Missing);
        assert_eq!(judge("ready", "cutover ready", None, "h1", day, now).standing, Standing::Missing);
        let passed = judge("ready", "cutover ready", Some(&record(true, "h1", "2026-12-03T10:00:00Z")), "h1", day, now);
        assert_eq!(passed.age_secs, Some(7200));
    }
}
