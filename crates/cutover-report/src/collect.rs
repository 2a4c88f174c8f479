//! Putting a report together from what was recorded: `state.db` (gates, paths, attestations,
//! rotations, monitors, the audit log) and the hosts' journals (and the db host's snapshot
//! records). Nothing is asked of a live service: a report says what happened.

use cutover_checks::thresholds::{self, Threshold};
use cutover_db::host::snapshot::SnapshotInfo;
use cutover_remote::HostState;
use cutover_remote::journal::{Cause, Event, Kind};
use cutover_state::{AuditEntry, MonitorRecord, State};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ReportError;
use crate::model::*;

/// What a report is made of.
#[derive(Debug)]
pub struct Sources<'a> {
    pub app: &'a str,
    pub env: &'a str,
    /// The hash of the config in use now.
    pub config_hash: &'a str,
    pub state: &'a State,
    /// Each host's state as read (its journal above all).
    pub hosts: &'a [HostState],
    /// The hosts that could not be read, and why.
    pub unreadable: Vec<(String, String)>,
    /// The db host's snapshots; `None` when the environment names no database.
    pub snapshots: Option<Result<Vec<SnapshotInfo>, String>>,
    /// `[monitor] thresholds`, each as written (`http_req_duration`, `p(95)<800`).
    pub thresholds: &'a [(String, String)],
    /// Only what happened from then on (Unix milliseconds).
    pub since_ms: Option<i64>,
}

/// The stages in launch order, with the command that passes each.
const STAGES: [&str; 6] = ["path", "preflight", "ready", "deploy", "smoke", "monitor"];

pub fn build(src: &Sources<'_>) -> Result<Report, ReportError> {
    let state = src.state;
    let env = src.env;
    let since = src.since_ms.unwrap_or(i64::MIN);
    let after = |at: &str| ms(at).is_none_or(|m| m >= since);
    let log = state.log_of(env)?;

    let history = state.path_history(env)?;
    let path = LaunchPath { current: history.last().map(|c| c.path.clone()), history };

    let gates: Vec<GateRun> = state
        .gate_runs(env)?
        .into_iter()
        .filter(|g| after(&g.at))
        .map(|g| {
            let findings: serde_json::Value = serde_json::from_str(&g.evidence).unwrap_or(serde_json::Value::Null);
            let by = recorder(&log, &g.at);
            GateRun {
                summary: summarize(&g.stage, &findings),
                this_config: g.config_hash == src.config_hash,
                by: by.map(|e| format!("{}@{}", e.user, e.machine)),
                command: by.map(|e| e.command.clone()),
                stage: g.stage,
                passed: g.passed,
                at: g.at,
                config_hash: g.config_hash,
                artifact: g.artifact,
                findings,
            }
        })
        .collect();
    let latest_preflight = gates.iter().rev().find(|g| g.stage == "preflight");
    let items = latest_preflight.map(|g| preflight_items(&g.findings)).unwrap_or_default();
    let deferred = items.iter().filter(|i| i.result == "deferred").cloned().collect();

    let hosts: Vec<HostTimeline> = src
        .hosts
        .iter()
        .map(|h| HostTimeline {
            host: h.host.clone(),
            current: h.current.clone(),
            events: h.journal.iter().filter_map(release_event).filter(|e| e.at_ms >= since).collect(),
        })
        .collect();

    let mut monitors = Vec::new();
    for m in state.monitors_of(env)? {
        if m.started_ms.max(m.updated_ms) < since {
            continue;
        }
        monitors.push(window(state, m)?);
    }

    let thresholds = src
        .thresholds
        .iter()
        .filter_map(|(metric, expr)| {
            let t: Threshold = thresholds::parse(metric, expr).ok()?;
            Some(ThresholdLine {
                metric: metric.clone(),
                expr: expr.clone(),
                aggregation: t.aggregation.to_string(),
                limit: t.limit,
            })
        })
        .collect();

    let run = |e: &AuditEntry| CommandRun {
        at: e.started_at.clone(),
        by: format!("{}@{}", e.user, e.machine),
        command: e.command.clone(),
        exit_code: e.exit_code,
        summary: e.summary.clone(),
    };
    let secrets = SecretsView {
        audit: log.iter().rev().find(|e| e.command.contains(" secrets audit") && after(&e.started_at)).map(run),
        preflight: items.iter().find(|i| i.number == 5).cloned(),
        rotations: state.rotations(env)?.into_iter().filter(|r| after(&r.at)).collect(),
    };
    let seeds = log
        .iter()
        .filter(|e| after(&e.started_at))
        .filter(|e| e.command.contains(" --seed") || e.summary.as_deref().is_some_and(|s| s.contains("seeded")))
        .map(run)
        .collect();
    let (snapshots, snapshots_error) = match &src.snapshots {
        None => (Vec::new(), None),
        Some(Err(e)) => (Vec::new(), Some(e.clone())),
        Some(Ok(list)) => (
            list.iter()
                .filter(|s| after(&s.time))
                .map(|s| Snapshot {
                    id: s.id.clone(),
                    release: s.release.clone(),
                    manual: s.manual,
                    time: s.time.clone(),
                    database: s.database.clone(),
                    host: s.host.clone(),
                    size: s.size,
                    tables: s.tables.len(),
                    rows: s.tables.iter().map(|t| t.rows).sum(),
                })
                .collect(),
            None,
        ),
    };
    let database = DatabaseView { configured: src.snapshots.is_some(), seeds, snapshots, snapshots_error };

    let stages = stages(&path, &gates, &hosts, &monitors);
    Ok(Report {
        app: src.app.to_owned(),
        env: env.to_owned(),
        generated_at: now(),
        since: src.since_ms.map(rfc3339),
        config_hash: src.config_hash.to_owned(),
        path,
        stages,
        gates,
        deferred,
        attestations: state.latest_attestations(env)?,
        hosts,
        unreadable: src
            .unreadable
            .iter()
            .map(|(host, why)| Unreadable { host: host.clone(), why: why.clone() })
            .collect(),
        thresholds,
        monitors,
        secrets,
        database,
    })
}

/// Each stage's latest verdict.
fn stages(path: &LaunchPath, gates: &[GateRun], hosts: &[HostTimeline], monitors: &[MonitorWindow]) -> Vec<Stage> {
    STAGES
        .iter()
        .map(|&stage| {
            let (verdict, at, detail) = match stage {
                "path" => match path.history.last() {
                    Some(c) => ("passed".to_owned(), Some(c.at.clone()), c.path.clone()),
                    None => ("missing".to_owned(), None, "no path chosen".to_owned()),
                },
                "deploy" => {
                    let last =
                        hosts.iter().flat_map(|h| &h.events).filter(|e| e.kind == "deploy").max_by_key(|e| e.at_ms);
                    let live: std::collections::BTreeSet<_> = hosts.iter().map(|h| h.current.as_deref()).collect();
                    let live = match (live.len(), live.into_iter().next().flatten()) {
                        (1, Some(r)) => format!("{r} live on every host"),
                        (1, None) => "nothing live".to_owned(),
                        _ => "hosts on different releases".to_owned(),
                    };
                    match last {
                        Some(e) => ("passed".to_owned(), Some(e.at.clone()), live),
                        None => ("missing".to_owned(), None, live),
                    }
                }
                // The latest window, whatever an earlier one did: a later release's breach counts.
                "monitor" => match monitors.last() {
                    Some(m) => {
                        let verdict = match m.state.as_str() {
                            "passed" => "passed",
                            "running" => "running",
                            _ => "failed",
                        };
                        (
                            verdict.to_owned(),
                            Some(m.started_at.clone()),
                            format!("{} of {}: {}", m.state, m.release, m.detail),
                        )
                    }
                    None => ("missing".to_owned(), None, "no window watched".to_owned()),
                },
                _ => match gates.iter().rev().find(|g| g.stage == stage) {
                    Some(g) => {
                        (if g.passed { "passed" } else { "failed" }.to_owned(), Some(g.at.clone()), g.summary.clone())
                    }
                    None => ("missing".to_owned(), None, format!("never run: `cutover {stage}`")),
                },
            };
            Stage { stage: stage.to_owned(), verdict, at, detail }
        })
        .collect()
}

/// The audit entry of the command running when a gate was recorded: who ran it.
fn recorder<'l>(log: &'l [AuditEntry], at: &str) -> Option<&'l AuditEntry> {
    let at = ms(at)?;
    log.iter().rev().find(|e| {
        let started = ms(&e.started_at).unwrap_or(i64::MAX);
        let finished = e.finished_at.as_deref().and_then(ms).unwrap_or(i64::MAX);
        started <= at && at <= finished
    })
}

/// One line about a gate's evidence: `12 findings, 1 failed`, or pre-flight's items.
fn summarize(stage: &str, findings: &serde_json::Value) -> String {
    if stage == "preflight" {
        let items = preflight_items(findings);
        let count = |r: &str| items.iter().filter(|i| i.result == r).count();
        return format!(
            "{} items: {} pass, {} attested, {} deferred, {} fail",
            items.len(),
            count("pass"),
            count("attested"),
            count("deferred"),
            count("fail")
        );
    }
    let list = match findings {
        serde_json::Value::Array(list) => list.as_slice(),
        serde_json::Value::Object(o) => match o.get("findings").or_else(|| o.get("samples")) {
            Some(serde_json::Value::Array(list)) => list.as_slice(),
            _ => return describe_object(o),
        },
        serde_json::Value::Null => return "evidence not readable".to_owned(),
        _ => return String::new(),
    };
    let failed = list.iter().filter(|f| failed(f)).count();
    format!("{} finding(s), {failed} failed", list.len())
}

fn describe_object(o: &serde_json::Map<String, serde_json::Value>) -> String {
    o.iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some(format!("{k} {s}")),
            serde_json::Value::Bool(b) => Some(format!("{k} {b}")),
            serde_json::Value::Number(n) => Some(format!("{k} {n}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether one finding or sample of a gate's evidence failed.
fn failed(f: &serde_json::Value) -> bool {
    match f.get("status").and_then(|s| s.as_str()) {
        Some(s) => s == "fail",
        None => {
            f.get("ok").and_then(|ok| ok.as_bool()) == Some(false)
                || f.get("passed").and_then(|p| p.as_bool()) == Some(false)
        }
    }
}

fn preflight_items(findings: &serde_json::Value) -> Vec<PreflightItem> {
    let Some(items) = findings.get("items").and_then(|i| i.as_array()) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|i| PreflightItem {
            number: i.get("number").and_then(|n| n.as_u64()).unwrap_or(0),
            name: i.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned(),
            result: i.get("result").and_then(|n| n.as_str()).unwrap_or_default().to_owned(),
            detail: i.get("detail").and_then(|n| n.as_str()).unwrap_or_default().to_owned(),
        })
        .collect()
}

/// A journal event as a turn of the release timeline; the steps between (`prepare`, `switch`,
/// `remove`) are left out.
fn release_event(e: &Event) -> Option<ReleaseEvent> {
    let kind = match (e.event, e.cause) {
        (Kind::Switched, Some(Cause::Rollback)) => "rollback",
        (Kind::Switched, Some(Cause::Revert)) => "revert",
        (Kind::Switched, _) => "deploy",
        (Kind::Failed, _) => "failed",
        (Kind::RolledBack, _) => "rolled_back",
        // A deploy's `prepare` carries a reason only when its gates were forced.
        (Kind::Prepare, _) if e.reason.is_some() => "forced",
        (Kind::Interrupted, _) => "interrupted",
        (Kind::Unlock, _) => "unlock",
        (Kind::Removed, _) => "removed",
        _ => return None,
    };
    Some(ReleaseEvent {
        at: e.ts.clone(),
        at_ms: ms(&e.ts).unwrap_or(0),
        kind: kind.to_owned(),
        release: e.release.clone(),
        from: e.from.clone(),
        reason: e.reason.clone(),
        by: format!("{}@{}", e.user, e.machine),
    })
}

/// A monitor window with each round's figures.
fn window(state: &State, m: MonitorRecord) -> Result<MonitorWindow, ReportError> {
    let rounds = state.rounds_of(m.id)?;
    let samples = state.samples_of(m.id)?;
    let mut points = Vec::with_capacity(rounds.len());
    let mut at = 0;
    for r in rounds {
        // Samples are ordered by round: each round's are one run.
        while at < samples.len() && samples[at].0 < r.round {
            at += 1;
        }
        let start = at;
        while at < samples.len() && samples[at].0 == r.round {
            at += 1;
        }
        let these = &samples[start..at];
        let failed = these.iter().filter(|(_, s)| !s.ok).count();
        let mut latencies: Vec<f64> = these.iter().filter_map(|(_, s)| s.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        let pick = |p: f64| (!latencies.is_empty()).then(|| thresholds::percentile(&latencies, p));
        points.push(RoundPoint {
            round: r.round,
            at_ms: r.at_ms,
            verdict: r.verdict,
            samples: these.len(),
            failed,
            error_rate: if these.is_empty() { 0.0 } else { failed as f64 / these.len() as f64 },
            p50_ms: pick(50.0),
            p95_ms: pick(95.0),
            max_ms: latencies.last().copied(),
        });
    }
    let breach = breach(&m, &points);
    Ok(MonitorWindow {
        id: m.id,
        started_at: rfc3339(m.started_ms),
        ends_at: rfc3339(m.ends_ms),
        interval_ms: m.interval_ms,
        samples: samples.len(),
        failed_samples: samples.iter().filter(|(_, s)| !s.ok).count(),
        rounds: points,
        breach,
        release: m.release,
        state: m.state,
        detail: m.detail,
    })
}

/// Where the breach was decided: a rollback ends the rounds at it; an alert-only breach is
/// recorded in the detail (`breached: …`), at its first failed round.
fn breach(m: &MonitorRecord, rounds: &[RoundPoint]) -> Option<Breach> {
    let round = match m.state.as_str() {
        "rolled_back" | "breached" => rounds.last(),
        _ if m.detail.starts_with("breached") => rounds.iter().find(|r| r.verdict == "failed"),
        _ => None,
    }?;
    let why = m.detail.strip_prefix("breached: ").unwrap_or(&m.detail);
    Some(Breach { round: round.round, at_ms: round.at_ms, why: why.to_owned() })
}

/// Unix milliseconds of an RFC 3339 time.
pub(crate) fn ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Unix milliseconds as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn now() -> String {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// `--since`: an RFC 3339 time, or a duration back from now (`24h`, `90m`).
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    if let Some(at) = ms(text) {
        return Ok(at);
    }
    let back = cutover_config::HumanDuration::parse(text).map_err(|e| {
        format!("`{text}` is neither a time (2026-12-04T10:00:00Z) nor a duration back from now (24h): {e}")
    })?;
    Ok(now_ms - back.0.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_remote::LockState;
    use cutover_state::SampleRow;

    fn event(ts: &str, kind: Kind, cause: Option<Cause>, release: &str, reason: Option<&str>) -> Event {
        Event {
            ts: ts.into(),
            event: kind,
            release: Some(release.into()),
            from: None,
            cause,
            manifest: None,
            reason: reason.map(str::to_owned),
            user: "ana".into(),
            machine: "laptop".into(),
            pid: Some(1),
        }
    }

    fn host(journal: Vec<Event>) -> HostState {
        HostState {
            host: "web1".into(),
            exists: true,
            lock: LockState::Free,
            current: Some("r1".into()),
            current_problem: None,
            on_disk: vec!["r1".into(), "r2".into()],
            journal,
        }
    }

    fn sample(at_ms: i64, ok: bool, latency_ms: f64) -> SampleRow {
        SampleRow {
            at_ms,
            check: "home".into(),
            via: "public".into(),
            ok,
            status: Some(200),
            latency_ms: Some(latency_ms),
            failure: None,
            reason: None,
        }
    }

    #[test]
    fn a_report_holds_each_turn_of_the_hosts_and_each_round_of_the_monitor() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let run = state.begin("bo", "ci", "cutover smoke", Some("production")).unwrap();
        state
            .record_gate("smoke", "production", "h1", Some("m1"), true, "[{\"status\":\"pass\"},{\"status\":\"fail\"}]")
            .unwrap();
        state.finish(run, 0, "ok").unwrap();
        state.record_gate("ready", "production", "h0", None, false, "not json").unwrap();
        state.record_rotation("production", "APP_KEY", "ana", "laptop").unwrap();
        let id = state.start_monitor("production", "r2", "h1", 1_000, 10_000, 1_000).unwrap();
        state.add_round(id, 1, 1_000, "ok", &[sample(1_000, true, 10.0), sample(1_000, true, 30.0)]).unwrap();
        state.add_round(id, 2, 2_000, "failed", &[sample(2_000, false, 50.0), sample(2_000, true, 20.0)]).unwrap();
        state.finish_monitor(id, "rolled_back", "2 failed rounds > limit 1; rolled back to r1", 2_500).unwrap();
        let hosts = [host(vec![
            event("2026-12-04T10:00:00Z", Kind::Prepare, None, "r1", None),
            event("2026-12-04T10:00:01Z", Kind::Switched, Some(Cause::Deploy), "r1", None),
            event("2026-12-04T10:05:00Z", Kind::Prepare, None, "r2", Some("gates forced by ana@laptop: hotfix")),
            event("2026-12-04T10:05:01Z", Kind::Switched, Some(Cause::Deploy), "r2", None),
            event("2026-12-04T10:06:00Z", Kind::Switched, Some(Cause::Rollback), "r1", None),
            event("2026-12-04T10:06:00Z", Kind::Failed, None, "r2", Some("monitor breach: <b>2 failed</b>")),
        ])];
        let thresholds = [("http_req_duration".to_owned(), "p(95)<800".to_owned())];
        let src = Sources {
            app: "shop",
            env: "production",
            config_hash: "h1",
            state: &state,
            hosts: &hosts,
            unreadable: vec![("web2".into(), "connection refused".into())],
            snapshots: None,
            thresholds: &thresholds,
            since_ms: None,
        };
        let report = build(&src).unwrap();
        let kinds: Vec<&str> = report.hosts[0].events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["deploy", "forced", "deploy", "rollback", "failed"]);
        assert_eq!(report.gates.len(), 2);
        assert_eq!(report.gates[0].by.as_deref(), Some("bo@ci"), "who ran the command that recorded it");
        assert_eq!(report.gates[0].summary, "2 finding(s), 1 failed");
        assert!(report.gates[0].this_config && !report.gates[1].this_config);
        assert!(report.gates[1].findings.is_null(), "unreadable evidence is shown as such");
        let m = &report.monitors[0];
        assert_eq!((m.samples, m.failed_samples), (4, 1));
        assert_eq!(m.rounds[0].p50_ms, Some(20.0));
        assert_eq!(m.rounds[1].error_rate, 0.5);
        assert_eq!(m.rounds[1].max_ms, Some(50.0));
        let breach = m.breach.as_ref().expect("a rollback is a breach");
        assert_eq!((breach.round, breach.at_ms), (2, 2_000));
        assert_eq!(report.thresholds[0].limit, 800.0);
        assert_eq!(report.thresholds[0].aggregation, "p(95)");
        let stage = |s: &str| report.stages.iter().find(|x| x.stage == s).unwrap().clone();
        assert_eq!(stage("smoke").verdict, "passed");
        assert_eq!(stage("ready").verdict, "failed");
        assert_eq!(stage("monitor").verdict, "failed");
        assert_eq!(stage("path").verdict, "missing");
        assert_eq!(report.secrets.rotations[0].name, "APP_KEY");
        assert_eq!(report.unreadable[0].host, "web2");

        // The page: every chart drawn, every text escaped.
        let page = crate::html(&report).unwrap();
        assert!(page.contains("monitor breach: &lt;b&gt;2 failed&lt;/b&gt;") && !page.contains("<b>2 failed"));
        assert_eq!(page.matches("<svg").count(), 3, "timeline, latency, error rate");
        assert!(page.contains("gates forced by ana@laptop: hotfix"));
        assert!(page.contains("web2: not read (connection refused)"));
        let lines = crate::summary(&report);
        assert!(lines.iter().any(|l| l.starts_with("breach\t#1 round 2")), "{lines:#?}");

        // --since drops what came before.
        let later = build(&Sources { since_ms: ms("2026-12-04T10:05:30Z"), unreadable: Vec::new(), ..src }).unwrap();
        let kinds: Vec<&str> = later.hosts[0].events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["rollback", "failed"]);
    }

    #[test]
    fn since_is_a_time_or_a_duration_back_from_now() {
        assert_eq!(parse_since("1970-01-01T00:00:10Z", 0), Ok(10_000));
        assert_eq!(parse_since("2h", 7_200_000 + 5), Ok(5));
        assert!(parse_since("yesterday", 0).unwrap_err().contains("neither a time"));
    }
}
