//! Where each gate of an environment stands: the latest run of each gated stage, judged
//! against the config in use now and `[gates] max_age`. A gate whose record cannot be read
//! (its time does not parse) counts as missing, never as passed.

use std::time::Duration;

use cutover_config::Config;
use cutover_state::{GateRecord, State};
use serde::Serialize;

use crate::GateError;

/// The gated stages, in the order of the cutover, with the command that passes each.
pub const STAGES: [(&str, &str); 5] = [
    ("preflight", "cutover preflight"),
    ("ready", "cutover ready"),
    ("smoke", "cutover smoke"),
    ("monitor", "cutover monitor"),
    ("verify", "cutover verify"),
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
    /// Why a gate standing so does not count (`None` when it passed), said after its name:
    /// "ready has not passed".
    pub fn why_not(self) -> Option<&'static str> {
        match self {
            Standing::Passed => None,
            Standing::Missing => Some("has not passed"),
            Standing::Failed => Some("failed last time"),
            Standing::Expired => Some("passed longer ago than [gates] max_age"),
            Standing::OtherConfig => Some("passed for another version of the config"),
        }
    }

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

/// Whether a deploy (or, with `promote`, a promotion) to `env` may go ahead: for a gated
/// environment, a launch path is chosen and pre-flight and DNS/TLS ready passed for this
/// config within `[gates] max_age`; after go-live (`live`), pre-flight's deferred items have
/// passed too, and under `iterative` production takes only promotions. The error names every
/// missing gate and the command that passes it. A gate whose record cannot be read is missing.
pub fn check_deploy(state: &State, config: &Config, env: &str, live: bool, promote: bool) -> Result<(), GateError> {
    if !config.is_gated(env)? {
        return Ok(());
    }
    let mut missing = Vec::new();
    let path = crate::path::path_state(state, env)?.path;
    if path.is_none() {
        missing.push("no launch path is chosen: `cutover path fast|hardened|iterative`".to_owned());
    }
    for g in gate_statuses(state, config, env)?.into_iter().filter(|g| matches!(g.stage, "preflight" | "ready")) {
        let Some(why) = g.standing.why_not() else { continue };
        missing.push(format!("{} {why}: `{}`", g.stage, g.command));
    }
    if live {
        if path == Some(crate::LaunchPath::Iterative) && !promote {
            missing.push(
                "the iterative path takes only releases promoted from staging after go-live: `cutover promote --from \
                 staging`"
                    .to_owned(),
            );
        }
        match deferred_items(state, config, env)? {
            Some(items) if items.is_empty() => {}
            Some(items) => missing.push(format!(
                "pre-flight item(s) {} were deferred at go-live and must pass before this redeploy: `cutover preflight`",
                items.join(", ")
            )),
            None => {}
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(GateError::Gated { env: env.to_owned(), missing }) }
}

/// The items the latest pre-flight deferred (but item 4, which cannot be checked yet, and item
/// 6 once `ready` stands passed: that is what it asks for); `None` when there is no pre-flight
/// record (reported as missing already). An unreadable record defers everything.
fn deferred_items(state: &State, config: &Config, env: &str) -> Result<Option<Vec<String>>, GateError> {
    let Some(record) = state.latest_gate("preflight", env)? else { return Ok(None) };
    let ready =
        gate_statuses(state, config, env)?.into_iter().any(|g| g.stage == "ready" && g.standing == Standing::Passed);
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&record.evidence) else {
        return Ok(Some(vec!["(its record cannot be read)".into()]));
    };
    let Some(items) = report["items"].as_array() else {
        return Ok(Some(vec!["(its record cannot be read)".into()]));
    };
    Ok(Some(
        items
            .iter()
            .filter(|i| i["result"] == "deferred" && i["number"] != 4 && !(ready && i["number"] == 6))
            .map(|i| i["number"].as_u64().map_or_else(|| "?".to_owned(), |n| n.to_string()))
            .collect(),
    ))
}

/// One record judged as a gate of its own (a stage not in [`STAGES`]).
pub fn judge_record(
    stage: &'static str,
    command: &'static str,
    record: Option<&GateRecord>,
    config: &Config,
) -> GateStatus {
    judge(stage, command, record, &config.hash, config.gates.max_age.0, time::OffsetDateTime::now_utc())
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

    fn config(extra: &str) -> Config {
        let text = format!(
            "version = 1\n[app]\nname = \"shop\"\n{extra}\n[env.production]\nhosts = [\"local\"]\npath = \"/srv/shop\"\n\
             [env.staging]\nhosts = [\"local\"]\npath = \"/srv/staging\"\n"
        );
        Config::parse(std::path::Path::new("/etc/shop/cutover.toml"), &text).unwrap()
    }

    fn report(deferred: &[u64]) -> String {
        let items: Vec<serde_json::Value> = (1..=7u64)
            .map(|n| serde_json::json!({ "number": n, "result": if deferred.contains(&n) { "deferred" } else { "pass" } }))
            .collect();
        serde_json::json!({ "items": items }).to_string()
    }

    #[test]
    fn a_deploy_to_a_gated_environment_needs_a_path_preflight_and_ready_for_this_config() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let config = config("");
        let missing = |live: bool, promote: bool| match check_deploy(&state, &config, "production", live, promote) {
            Ok(()) => Vec::new(),
            Err(GateError::Gated { missing, .. }) => missing,
            Err(e) => panic!("{e}"),
        };
        let all = missing(false, false);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(
            all[0].contains("no launch path") && all[1].starts_with("preflight has not passed: `cutover preflight`")
        );
        assert!(all[2].starts_with("ready has not passed: `cutover ready`"), "{all:?}");
        // Staging is not gated.
        check_deploy(&state, &config, "staging", true, false).unwrap();

        let who = cutover_remote::Identity { user: "ana".into(), machine: "m".into(), pid: 1 };
        crate::path::choose(&state, "production", crate::LaunchPath::Fast, None, &who).unwrap();
        state.record_gate("ready", "production", &config.hash, None, false, "[]").unwrap();
        state.record_gate("preflight", "production", &config.hash, None, true, &report(&[1, 2, 4])).unwrap();
        assert_eq!(missing(false, false), ["ready failed last time: `cutover ready`"]);
        state.record_gate("ready", "production", &config.hash, None, true, "[]").unwrap();
        assert!(missing(false, false).is_empty(), "the first release may go");
        // After go-live, the deferred items (but 4) must pass first.
        let after = missing(true, false);
        assert_eq!(after.len(), 1);
        assert!(after[0].contains("item(s) 1, 2 were deferred"), "{after:?}");
        state.record_gate("preflight", "production", &config.hash, None, true, &report(&[4])).unwrap();
        assert!(missing(true, false).is_empty());
        // Item 6 deferred to `ready` (as `launch` does) holds only while `ready` does not stand.
        state.record_gate("preflight", "production", &config.hash, None, true, &report(&[4, 6])).unwrap();
        assert!(missing(true, false).is_empty(), "ready passed: item 6 is what it asks for");
        state.record_gate("ready", "production", &config.hash, None, false, "[]").unwrap();
        let after = missing(true, false);
        assert!(after.iter().any(|m| m.contains("item(s) 6 were deferred")), "{after:?}");
        state.record_gate("ready", "production", &config.hash, None, true, "[]").unwrap();
        state.record_gate("preflight", "production", &config.hash, None, true, &report(&[4])).unwrap();
        // Another config: every gate must pass again for it.
        let edited = self::config("[gates]\nmax_age = \"2h\"\n");
        match check_deploy(&state, &edited, "production", true, false) {
            Err(GateError::Gated { missing, .. }) => {
                assert_eq!(missing.len(), 2, "{missing:?}");
                assert!(missing.iter().all(|m| m.contains("passed for another version of the config")));
            }
            other => panic!("{other:?}"),
        }
        // Iterative: after go-live only promotions.
        crate::path::choose(&state, "production", crate::LaunchPath::Iterative, Some("slower"), &who).unwrap();
        let after = missing(true, false);
        assert!(after.len() == 1 && after[0].contains("only releases promoted from staging"), "{after:?}");
        assert!(missing(true, true).is_empty());
        assert!(missing(false, false).is_empty(), "its first release may be a deploy");
        // A pre-flight record that cannot be read counts against the deploy.
        state.record_gate("preflight", "production", &config.hash, None, true, "not json").unwrap();
        assert!(missing(true, true)[0].contains("cannot be read"));
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
