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

impl StateError {
    /// Whether the file is damaged (or is not a database at all), as opposed to busy or
    /// unreachable: moving it aside is then the way on.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            _ => false,
        }
    }

    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::CreateDir { path, .. } | Self::Sqlite { path, .. } | Self::TooNew { path, .. } => path,
        }
    }
}
