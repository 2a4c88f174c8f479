//! What can stop a scan. A finding is not an error: it is in the report.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is in a git repository but `git` is not installed", path.display())]
    GitMissing { path: PathBuf },
    #[error("failed to run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    Git { command: String, stderr: String },
    #[error("`.cutoverignore` line {line}: {message}")]
    Ignore { line: usize, message: String },
}

impl ScanError {
    pub(crate) fn git(command: &str, stderr: &[u8]) -> Self {
        Self::Git { command: command.to_owned(), stderr: String::from_utf8_lossy(stderr).trim().to_owned() }
    }
}
