//! Errors of reading and validating a config file; each names the file and, where it can, the line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `location` is `file:line:col`, or just `file` when the parser knew no span.
    #[error("{location}: {message}")]
    Invalid {
        location: String,
        message: String,
        /// The offending source line with a caret under the column, for the terminal.
        snippet: Option<String>,
    },
    #[error("environment `{name}` is not defined in `{}` (defined: {defined})", path.display())]
    UnknownEnv { name: String, path: PathBuf, defined: String },
    #[error("`{}` already exists", path.display())]
    Exists { path: PathBuf },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
