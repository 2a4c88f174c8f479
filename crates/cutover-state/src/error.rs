//! Errors of the local state database; each names the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("failed to create `{}`", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state database `{}`", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state database `{}` was written by a newer cutover (schema {found}, this one knows {known})", path.display())]
    TooNew { path: PathBuf, found: i64, known: usize },
}
