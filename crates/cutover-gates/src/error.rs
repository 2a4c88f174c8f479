//! Every way a stage ends other than passing. The binary maps each to an exit code.

use cutover_config::ConfigError;
use cutover_release::ReleaseError;
use cutover_secrets::SecretsError;
use cutover_state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The environment's `url` does not parse.
    #[error("environment `{env}`: url: {reason}")]
    Url { env: String, reason: String },
    /// A `[[check]]` that cannot be run as written.
    #[error("check `{check}`: {reason}")]
    Check { check: String, reason: String },
    #[error("[monitor] thresholds.{metric} = \"{expr}\": {reason}")]
    Threshold { metric: String, expr: String, reason: String },
    #[error("[monitor] notify: {reason}")]
    Channel { reason: String },
    #[error("a `mailto:` notification needs an `[smtp]` section")]
    MailWithoutSmtp,
    #[error("the interval must be above zero and within the window")]
    Interval,
    /// Refused before starting: another monitor samples the environment.
    #[error(
        "a monitor is already watching {env} ({release} on {machine}, pid {pid}, last round {ago} ago); stop it first"
    )]
    MonitorRunning { env: String, release: String, machine: String, pid: i64, ago: String },
    /// A change of the launch path without `--reason`.
    #[error(
        "{env}'s launch path is `{current}` (chosen {since}); changing it to `{wanted}` needs `--reason TEXT` \
         (pick one path, don't drift)"
    )]
    PathDrift { env: String, current: crate::LaunchPath, wanted: crate::LaunchPath, since: String },
    /// The recorded path is not one this cutover knows.
    #[error("{env}'s recorded launch path cannot be read: {reason}")]
    PathUnreadable { env: String, reason: String },
    #[error("{env}'s launch path changed while this command ran; run it again")]
    PathRace { env: String },
    #[error("`{item}` is not an item to attest (known: {known}; `[preflight] attest` adds more)")]
    UnknownAttestation { item: String, known: String },
    #[error("`--by` must name who vouches for it")]
    Attester,
    #[error(
        "{env} has no launch path yet: pick one with `cutover path fast|hardened|iterative` (it decides what pre-flight requires)"
    )]
    NoPath { env: String },
    #[error("pre-flight ({env}, path {path}): required item(s) {items} failed")]
    PreflightFailed { env: String, path: crate::LaunchPath, items: String },
    /// `cutover promote` found nothing it may take.
    #[error("cannot promote from {from}: {reason}")]
    NotPromotable { from: String, reason: String },
    /// A deploy to a gated environment before its gates passed.
    #[error("{env} is gated, and {}:\n  - {}\n(`--force --reason TEXT` deploys anyway, recorded in the audit log and on every host)", if missing.len() == 1 { "a gate is missing" } else { "gates are missing" }, missing.join("\n  - "))]
    Gated { env: String, missing: Vec<String> },
    #[error("nothing is deployed to watch")]
    NothingDeployed,
    /// Checks failed; nothing was changed.
    #[error("smoke: {summary}")]
    SmokeFailed { summary: String },
    /// Checks failed without reaching anything: this machine's network, so no rollback.
    #[error("smoke: {summary}; nothing could be reached from this machine (is its network down?): not rolling back")]
    SmokeUnreachable { summary: String },
    /// Checks failed and every host was rolled back.
    #[error("smoke: {summary}; rolled back from {from} to {to}")]
    SmokeRolledBack { summary: String, from: String, to: String },
    /// A breach, and every host was rolled back.
    #[error("monitor: {why}; rolled back to {to}")]
    MonitorRolledBack { why: String, to: String },
    /// The window ended without measurements at its end.
    #[error("monitor: the window ended without measurements at its end ({detail}): is this machine's network down?")]
    Blind { detail: String },
    /// The window ended with a breach seen in alert mode.
    #[error("monitor: the window ended with a breach ({detail})")]
    Breached { detail: String },
    /// Stopped by SIGINT or SIGTERM; the window is recorded as interrupted, not passed.
    #[error("monitor interrupted by {signal}: {detail}")]
    Interrupted { signal: String, detail: String },
}
