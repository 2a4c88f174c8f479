//! Errors of reading a dump; each says where.

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("i/o error while rewriting the dump")]
    Io(#[from] std::io::Error),
    #[error("cannot tell which database wrote this dump; pass `--dialect mysql|postgres|sqlite`")]
    UnknownDialect,
    #[error("the dump ends inside a {what} that starts on line {line}: it is truncated")]
    Truncated { line: u64, what: &'static str },
}
