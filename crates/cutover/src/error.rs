//! Every error the binary reports, and the one place that maps them to DESIGN's exit codes.

use cutover_config::ConfigError;
use cutover_gates::GateError;
use cutover_release::{Outcome, ReleaseError};
use cutover_secrets::SecretsError;
use cutover_state::StateError;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_BLOCKED: i32 = 3;
pub const EXIT_PARTIAL: i32 = 4;
pub const EXIT_ROLLED_BACK: i32 = 5;
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A check the command ran did not pass; production is unchanged.
    #[error("{0}")]
    Check(String),
    #[error(transparent)]
    Dump(#[from] cutover_db::DumpError),
    #[error(transparent)]
    Db(#[from] cutover_db::host::DbError),
    #[error(transparent)]
    Tls(#[from] cutover_tls::TlsIssueError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Gates(#[from] GateError),
    #[error(transparent)]
    Report(#[from] cutover_report::ReportError),
    /// A change is live but could not be checked.
    #[error("{0}")]
    Unverified(String),
    /// Refused because of what is there (a database with tables, a release already live);
    /// nothing changed.
    #[error("{0}")]
    Blocked(String),
    /// Arguments that parse but do not fit together.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) | Self::Usage(_) | Self::Dump(cutover_db::DumpError::UnknownDialect) => EXIT_USAGE,
            Self::Release(e) => release_code(e),
            Self::Tls(e) if e.hosts_changed() => EXIT_PARTIAL,
            Self::Unverified(_) => EXIT_PARTIAL,
            Self::Tls(cutover_tls::TlsIssueError::Plan(_)) => EXIT_USAGE,
            Self::Secrets(e) => secrets_code(e),
            Self::Gates(e) => gate_code(e),
            Self::Db(cutover_db::host::DbError::NotEmpty { .. }) | Self::Blocked(_) => EXIT_BLOCKED,
            Self::Db(cutover_db::host::DbError::Config { .. }) => EXIT_USAGE,
            Self::State(_)
            | Self::Db(_)
            | Self::Io { .. }
            | Self::Check(_)
            | Self::Dump(_)
            | Self::Tls(_)
            | Self::Report(_) => EXIT_FAILED,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Release(e) | Self::Gates(GateError::Release(e)) => e.hint(),
            Self::Config(ConfigError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Some("create one with `cutover init`, or point at it with `-c FILE`".into())
            }
            Self::Config(ConfigError::Exists { .. }) => Some("pass `--force` to overwrite it".into()),
            Self::State(e) if e.is_corrupt() => Some(format!(
                "it holds only the audit log, gate results and monitor samples, never a secret: move it and its \
                 -wal and -shm files aside (`mkdir {1} && mv {0}* {1}/`) and the next command starts a new \
                 one (gates then pass again); `cutover rollback` works without it",
                e.path().display(),
                e.path().with_file_name("broken").display()
            )),
            _ => None,
        }
    }

    /// For config errors: the source line with a caret under the column.
    pub fn snippet(&self) -> Option<&str> {
        match self {
            Self::Config(ConfigError::Invalid { snippet, .. }) => snippet.as_deref(),
            _ => None,
        }
    }
}

fn release_code(e: &ReleaseError) -> i32 {
    match e.outcome() {
        Outcome::Unchanged => EXIT_FAILED,
        Outcome::Blocked => EXIT_BLOCKED,
        Outcome::Partial => EXIT_PARTIAL,
        Outcome::RolledBack => EXIT_ROLLED_BACK,
        Outcome::Interrupted => EXIT_INTERRUPTED,
    }
}

fn secrets_code(e: &SecretsError) -> i32 {
    match e {
        SecretsError::BadName(_) | SecretsError::ReadOnly { .. } => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

fn gate_code(e: &GateError) -> i32 {
    match e {
        GateError::Config(_)
        | GateError::Url { .. }
        | GateError::Check { .. }
        | GateError::Threshold { .. }
        | GateError::Channel { .. }
        | GateError::MailWithoutSmtp
        | GateError::UnknownAttestation { .. }
        | GateError::Attester
        | GateError::Interval => EXIT_USAGE,
        GateError::Release(e) => release_code(e),
        GateError::Secrets(e) => secrets_code(e),
        GateError::MonitorRunning { .. }
        | GateError::PathDrift { .. }
        | GateError::PathRace { .. }
        | GateError::NoPath { .. }
        | GateError::Gated { .. }
        | GateError::NotPromotable { .. } => EXIT_BLOCKED,
        GateError::SmokeRolledBack { .. } | GateError::MonitorRolledBack { .. } => EXIT_ROLLED_BACK,
        GateError::Interrupted { .. } => EXIT_INTERRUPTED,
        GateError::State(_)
        | GateError::PathUnreadable { .. }
        | GateError::PreflightFailed { .. }
        | GateError::NothingDeployed
        | GateError::SmokeFailed { .. }
        | GateError::SmokeUnreachable { .. }
        | GateError::Blind { .. }
        | GateError::Breached { .. } => EXIT_FAILED,
    }
}
