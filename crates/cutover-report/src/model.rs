//! What a report holds: the same content for the terminal, `--json` and the HTML page.

use cutover_state::{Attestation, PathChoice, Rotation};
use serde::Serialize;

/// One environment's launch, from `state.db` and the hosts' journals.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub app: String,
    pub env: String,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Only what happened from then on is shown (RFC 3339), when `--since` was given.
    pub since: Option<String>,
    /// The config in use now; gate runs say whether they were for it.
    pub config_hash: String,
    pub path: LaunchPath,
    /// Each stage's latest verdict, in the order of the launch.
    pub stages: Vec<Stage>,
    /// Every run of every gated stage, oldest first.
    pub gates: Vec<GateRun>,
    /// Pre-flight items deferred by the latest pre-flight (fast and iterative paths).
    pub deferred: Vec<PreflightItem>,
    /// The latest attestation of each item.
    pub attestations: Vec<Attestation>,
    /// Each host's release timeline.
    pub hosts: Vec<HostTimeline>,
    /// Hosts whose journal could not be read: left out, not guessed at.
    pub unreadable: Vec<Unreadable>,
    /// The monitor's thresholds, as configured now.
    pub thresholds: Vec<ThresholdLine>,
    /// Every monitor window, oldest first.
    pub monitors: Vec<MonitorWindow>,
    pub secrets: SecretsView,
    pub database: DatabaseView,
}

#[derive(Debug, Clone, Serialize)]
pub struct LaunchPath {
    /// `fast`, `hardened`, `iterative`, or none chosen yet.
    pub current: Option<String>,
    /// Every choice and change, with who, when and why.
    pub history: Vec<PathChoice>,
}

/// A stage of the launch and where it stands: `passed`, `failed`, `missing`.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub stage: String,
    pub verdict: String,
    pub at: Option<String>,
    /// One line: the release live, the monitor's window, …
    pub detail: String,
}

/// One recorded run of a gated stage (`preflight`, `ready`, `smoke`, `monitor`, `verify`).
#[derive(Debug, Clone, Serialize)]
pub struct GateRun {
    pub stage: String,
    pub passed: bool,
    pub at: String,
    /// `user@machine` of the command that recorded it (from the audit log), when known.
    pub by: Option<String>,
    /// That command line (secrets already redacted when it was logged).
    pub command: Option<String>,
    pub config_hash: String,
    /// Whether it was recorded for the config in use now.
    pub this_config: bool,
    /// The release's manifest hash, where the run was about one.
    pub artifact: Option<String>,
    /// One line: how many findings, how many failed.
    pub summary: String,
    /// The stage's evidence as recorded (findings, items); `null` when it cannot be read.
    pub findings: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightItem {
    pub number: u64,
    pub name: String,
    pub result: String,
    pub detail: String,
}

/// What happened on one host, from its journal.
#[derive(Debug, Clone, Serialize)]
pub struct HostTimeline {
    pub host: String,
    pub current: Option<String>,
    pub events: Vec<ReleaseEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub host: String,
    pub why: String,
}

/// One turn of a host's releases.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseEvent {
    pub at: String,
    /// Unix milliseconds of `at` (0 when it cannot be read).
    pub at_ms: i64,
    /// `deploy`, `rollback`, `revert` (another host failed), `failed`, `rolled_back` (by
    /// hand), `forced` (gates overridden), `interrupted`, `unlock`, `removed`.
    pub kind: String,
    pub release: Option<String>,
    pub from: Option<String>,
    pub reason: Option<String>,
    /// `user@machine`.
    pub by: String,
}

/// A configured threshold, where the charts draw it.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdLine {
    /// `http_req_failed` or `http_req_duration`.
    pub metric: String,
    /// As written: `p(95)<800`.
    pub expr: String,
    /// `rate`, `p(95)`, `max`, …
    pub aggregation: String,
    /// A rate (0 to 1) or milliseconds.
    pub limit: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitorWindow {
    pub id: i64,
    pub release: String,
    /// `running`, `passed`, `rolled_back`, `breached`, `interrupted`, `blind`.
    pub state: String,
    pub detail: String,
    pub started_at: String,
    pub ends_at: String,
    pub interval_ms: i64,
    pub samples: usize,
    pub failed_samples: usize,
    pub rounds: Vec<RoundPoint>,
    /// Where the breach was decided, when there was one.
    pub breach: Option<Breach>,
}

/// One round of the monitor: its samples' latency percentiles and error rate.
#[derive(Debug, Clone, Serialize)]
pub struct RoundPoint {
    pub round: i64,
    pub at_ms: i64,
    /// `ok`, `failed`, `inconclusive`.
    pub verdict: String,
    pub samples: usize,
    pub failed: usize,
    /// Failed samples / samples of the round.
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub round: i64,
    pub at_ms: i64,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretsView {
    /// The latest `cutover secrets audit`.
    pub audit: Option<CommandRun>,
    /// Pre-flight item 5 (the audit and the scan) of the latest pre-flight.
    pub preflight: Option<PreflightItem>,
    /// Every rotation: names and times, never values.
    pub rotations: Vec<Rotation>,
}

/// A command from the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRun {
    pub at: String,
    pub by: String,
    pub command: String,
    pub exit_code: Option<i32>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseView {
    /// Whether the environment names a database (`[env.X] database`).
    pub configured: bool,
    /// Every `deploy --seed` (and `launch`, which seeds while nothing is live).
    pub seeds: Vec<CommandRun>,
    /// The snapshots kept on the db host.
    pub snapshots: Vec<Snapshot>,
    /// Why the snapshots could not be listed.
    pub snapshots_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub release: Option<String>,
    pub manual: bool,
    pub time: String,
    pub database: String,
    pub host: String,
    pub size: u64,
    pub tables: usize,
    pub rows: u64,
}
