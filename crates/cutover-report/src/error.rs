//! What can go wrong making a report.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    State(#[from] cutover_state::StateError),
    #[error("failed to draw the {chart} chart: {reason}")]
    Chart { chart: &'static str, reason: String },
    #[error("failed to write the report to `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}
